//! The host's own overhead, reported under the original `tracing.*` names.

use std::collections::VecDeque;

use crate::model::Sample;

/// Window over which database growth is averaged. DuckDB grows its file in
/// 256 KiB blocks and its log shrinks at checkpoints, so a tick-to-tick
/// difference is mostly noise; an hour smooths that out.
const GROWTH_WINDOW_MS: i64 = 3_600_000;

/// Window over which `tracing.errorRate` counts plugin calls. Crashed
/// plugins are retried with backoff, so a per-tick ratio would swing
/// between 0 and 1 and make any threshold on it flap.
const ERROR_RATE_WINDOW_MS: i64 = 60_000;

/// What one tick cost, measured by the tick itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct TickCost {
    /// Time spent collecting (core collector and collector plugins).
    pub collection_ms: f64,
    /// Plugin calls made this tick.
    pub plugin_calls: u32,
    /// Plugin calls that failed (trap, timeout, error) this tick.
    pub plugin_failures: u32,
}

/// Turns per-tick measurements into the `tracing.*` self-metrics.
#[derive(Debug, Default)]
pub struct OverheadTracker {
    db_sizes: VecDeque<(i64, u64)>,
    plugin_calls: VecDeque<(i64, u32, u32)>,
    last_stored: Option<(i64, u64)>,
}

impl OverheadTracker {
    /// A tracker with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// The self-metrics for the tick at `now_ms`.
    ///
    /// `stored_total` is the running count of samples the store has
    /// committed (from every source); `db_bytes` is the database's size on
    /// disk and `rss_bytes` the host's resident memory.
    pub fn samples(
        &mut self,
        now_ms: i64,
        cost: TickCost,
        stored_total: u64,
        db_bytes: u64,
        rss_bytes: Option<u64>,
    ) -> Vec<Sample> {
        let mut out = Vec::with_capacity(5);
        out.push(Sample::gauge(
            "tracing.collectionOverhead",
            round3(cost.collection_ms),
            now_ms,
        ));
        if let Some(rss) = rss_bytes {
            out.push(Sample::gauge(
                "tracing.memoryUsage",
                round3(rss as f64 / 1_048_576.0),
                now_ms,
            ));
        }

        self.db_sizes.push_back((now_ms, db_bytes));
        while self
            .db_sizes
            .front()
            .is_some_and(|(t, _)| now_ms - t > GROWTH_WINDOW_MS)
        {
            self.db_sizes.pop_front();
        }
        if let Some(&(t0, size0)) = self.db_sizes.front() {
            let hours = (now_ms - t0) as f64 / 3_600_000.0;
            if hours > 0.0 {
                let growth = (db_bytes as f64 - size0 as f64) / hours;
                out.push(Sample::gauge(
                    "tracing.storageGrowth",
                    growth.round(),
                    now_ms,
                ));
            }
        }

        if let Some((t0, stored0)) = self.last_stored {
            let secs = (now_ms - t0) as f64 / 1000.0;
            if secs > 0.0 {
                let rate = stored_total.saturating_sub(stored0) as f64 / secs;
                out.push(Sample::gauge(
                    "tracing.eventThroughput",
                    round3(rate),
                    now_ms,
                ));
            }
        }
        self.last_stored = Some((now_ms, stored_total));

        self.plugin_calls
            .push_back((now_ms, cost.plugin_calls, cost.plugin_failures));
        while self
            .plugin_calls
            .front()
            .is_some_and(|(t, _, _)| now_ms - t >= ERROR_RATE_WINDOW_MS)
        {
            self.plugin_calls.pop_front();
        }
        let (calls, failures) = self
            .plugin_calls
            .iter()
            .fold((0u64, 0u64), |(c, f), (_, dc, df)| {
                (c + u64::from(*dc), f + u64::from(*df))
            });
        let error_rate = if calls == 0 {
            0.0
        } else {
            failures as f64 / calls as f64
        };
        out.push(Sample::gauge("tracing.errorRate", error_rate, now_ms));
        out
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(samples: &[Sample], metric: &str) -> Option<f64> {
        samples.iter().find(|s| s.metric == metric).map(|s| s.value)
    }

    #[test]
    fn rates_need_two_ticks_and_use_elapsed_time() {
        let mut t = OverheadTracker::new();
        let cost = TickCost {
            collection_ms: 1.5,
            plugin_calls: 4,
            plugin_failures: 1,
        };
        let first = t.samples(0, cost, 100, 1_000_000, Some(50 * 1_048_576));
        assert_eq!(value(&first, "tracing.collectionOverhead"), Some(1.5));
        assert_eq!(value(&first, "tracing.memoryUsage"), Some(50.0));
        assert_eq!(value(&first, "tracing.errorRate"), Some(0.25));
        assert_eq!(value(&first, "tracing.eventThroughput"), None);
        assert_eq!(value(&first, "tracing.storageGrowth"), None);

        let quiet = TickCost {
            collection_ms: 1.0,
            plugin_calls: 4,
            plugin_failures: 0,
        };
        let second = t.samples(2000, quiet, 300, 1_001_000, None);
        assert_eq!(value(&second, "tracing.eventThroughput"), Some(100.0));
        // 1000 bytes in 2 s is 1.8 MB an hour.
        assert_eq!(value(&second, "tracing.storageGrowth"), Some(1_800_000.0));
        assert_eq!(
            value(&second, "tracing.errorRate"),
            Some(0.125),
            "1 failure in 8 calls over the last minute"
        );
        let later = t.samples(62_000, quiet, 300, 1_001_000, None);
        assert_eq!(
            value(&later, "tracing.errorRate"),
            Some(0.0),
            "the failure aged out of the window"
        );
    }
}
