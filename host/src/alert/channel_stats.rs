//! Per-channel delivery counters since start: what `GET /api/v1/channels`,
//! `perfwatch channels list` and the `alerting.*` self-metrics report.
//! Each channel's task and the dispatcher update them without locks; the
//! durable record of every attempt is the `deliveries` table.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use serde::Serialize;

use crate::model::{Labels, MetricKind, Sample};

/// One channel's live counters.
#[derive(Debug, Default)]
pub struct ChannelCounters {
    delivered: AtomicU64,
    failed: AtomicU64,
    gave_up: AtomicU64,
    dropped: AtomicU64,
    queued: AtomicU64,
    latency_ms_total: AtomicU64,
    last_latency_ms: AtomicU64,
    last_delivered_at: AtomicI64,
    last_error: Mutex<Option<String>>,
}

impl ChannelCounters {
    pub(super) fn queued(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// A notification left the channel's queue (delivered, given up or
    /// nothing left to send).
    pub(super) fn done(&self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }

    pub(super) fn delivered(&self, latency_ms: u64, at: i64) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.latency_ms_total
            .fetch_add(latency_ms, Ordering::Relaxed);
        self.last_latency_ms.store(latency_ms, Ordering::Relaxed);
        self.last_delivered_at.store(at, Ordering::Relaxed);
    }

    /// An attempt failed; `final_attempt` when it is given up.
    pub(super) fn failed(&self, error: &str, final_attempt: bool) {
        let counter = if final_attempt {
            &self.gave_up
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().expect("last error lock") = Some(error.to_owned());
    }

    pub(super) fn dropped(&self, why: &str) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().expect("last error lock") = Some(why.to_owned());
    }

    /// The counters now, under the channel's `name`.
    pub fn snapshot(&self, name: &str) -> ChannelStats {
        let delivered = self.delivered.load(Ordering::Relaxed);
        let last_delivered_at = self.last_delivered_at.load(Ordering::Relaxed);
        ChannelStats {
            channel: name.to_owned(),
            delivered,
            failed_attempts: self.failed.load(Ordering::Relaxed),
            gave_up: self.gave_up.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
            avg_latency_ms: (delivered > 0)
                .then(|| self.latency_ms_total.load(Ordering::Relaxed) as f64 / delivered as f64),
            last_latency_ms: (delivered > 0).then(|| self.last_latency_ms.load(Ordering::Relaxed)),
            last_delivered_at: (last_delivered_at > 0).then_some(last_delivered_at),
            last_error: self.last_error.lock().expect("last error lock").clone(),
        }
    }
}

/// One channel's counters since the host started.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelStats {
    /// Channel name.
    pub channel: String,
    /// Notifications delivered.
    pub delivered: u64,
    /// Attempts that failed and were retried.
    pub failed_attempts: u64,
    /// Notifications given up (a permanent error, or out of attempts).
    pub gave_up: u64,
    /// Notifications dropped because the channel's queue was full.
    pub dropped: u64,
    /// Notifications waiting or being tried now.
    pub queued: u64,
    /// Mean time of a successful delivery call, ms.
    pub avg_latency_ms: Option<f64>,
    /// Time of the latest successful delivery call, ms.
    pub last_latency_ms: Option<u64>,
    /// When the latest notification was delivered, epoch ms.
    pub last_delivered_at: Option<i64>,
    /// The latest failure or drop, in words (URLs cut to their origin).
    pub last_error: Option<String>,
}

impl ChannelStats {
    /// The self-metrics of these counters at `now_ms`:
    /// `alerting.deliveries{channel,outcome}` (counters),
    /// `alerting.deliveryLatency{channel}` and `alerting.queued{channel}`.
    pub fn samples(&self, now_ms: i64) -> Vec<Sample> {
        let sample = |metric: &str, value: f64, unit: &str, kind, extra: Option<(&str, &str)>| {
            let mut pairs = vec![("channel".to_owned(), self.channel.clone())];
            pairs.extend(extra.map(|(k, v)| (k.to_owned(), v.to_owned())));
            Labels::try_from_pairs(pairs).ok().map(|labels| Sample {
                metric: metric.to_owned(),
                value,
                unit: unit.to_owned(),
                kind,
                labels,
                timestamp_ms: now_ms,
            })
        };
        let mut out = Vec::with_capacity(6);
        for (outcome, count) in [
            ("delivered", self.delivered),
            ("failed", self.failed_attempts),
            ("gave_up", self.gave_up),
            ("dropped", self.dropped),
        ] {
            out.extend(sample(
                "alerting.deliveries",
                count as f64,
                "notifications",
                MetricKind::Counter,
                Some(("outcome", outcome)),
            ));
        }
        if let Some(latency) = self.last_latency_ms {
            out.extend(sample(
                "alerting.deliveryLatency",
                latency as f64,
                "ms",
                MetricKind::Gauge,
                None,
            ));
        }
        out.extend(sample(
            "alerting.queued",
            self.queued as f64,
            "notifications",
            MetricKind::Gauge,
            None,
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_become_labelled_self_metrics() {
        let counters = ChannelCounters::default();
        counters.queued();
        counters.queued();
        counters.failed("503 from the receiver", false);
        counters.delivered(40, 1_000);
        counters.done();
        counters.dropped("queue full");
        let stats = counters.snapshot("ops");
        assert_eq!(
            (
                stats.delivered,
                stats.failed_attempts,
                stats.dropped,
                stats.queued
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(stats.last_error.as_deref(), Some("queue full"));
        let samples = stats.samples(2_000);
        let find = |metric: &str, outcome: Option<&str>| {
            samples
                .iter()
                .find(|s| s.metric == metric && s.labels.get("outcome") == outcome)
                .map(|s| (s.value, s.labels.get("channel").map(str::to_owned)))
        };
        assert_eq!(
            find("alerting.deliveries", Some("delivered")),
            Some((1.0, Some("ops".into())))
        );
        assert_eq!(find("alerting.deliveries", Some("dropped")).unwrap().0, 1.0);
        assert_eq!(find("alerting.deliveryLatency", None).unwrap().0, 40.0);
        assert_eq!(find("alerting.queued", None).unwrap().0, 1.0);
    }
}
