//! Delta sums made cumulative. An OpenTelemetry SDK set to delta
//! temporality sends each interval's increment; perfwatch stores running
//! totals (what `rate()`, counters and the dashboard expect, and what a
//! cumulative SDK sends), so the OTLP receiver keeps one total per series
//! here and stores the total.
//!
//! The totals live in memory only: after a restart a series starts again
//! from its next increment, which readers see as a counter reset (`rate()`
//! handles those). A request's new totals are committed only after its
//! samples are stored, so a failed commit does not count twice when the
//! client sends the request again.

use std::collections::HashMap;

use crate::model::{Sample, SeriesKey};

/// Most series with a running total. Each costs its key and two numbers;
/// beyond this many, delta points of new series are refused (after series
/// idle for [`IDLE_MS`] are forgotten) rather than growing without bound.
pub const MAX_DELTA_SERIES: usize = 100_000;
/// A total not updated for an hour may be forgotten when the table is full;
/// its series restarts from zero, a counter reset to readers.
const IDLE_MS: i64 = 3_600_000;

/// One delta data point: the increments of every series it feeds (one for
/// a sum; buckets, count and sum for a histogram), kept or refused together.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaPoint {
    /// Samples whose value is this interval's increment.
    pub increments: Vec<Sample>,
}

#[derive(Debug, Clone, Copy)]
struct Total {
    value: f64,
    updated_ms: i64,
}

/// Running totals per series.
#[derive(Debug, Default)]
pub struct DeltaSums {
    totals: HashMap<SeriesKey, Total>,
}

/// Totals computed for one request, not yet committed.
#[derive(Debug, Default)]
pub struct PendingTotals(HashMap<SeriesKey, Total>);

/// The outcome of [`DeltaSums::accumulate`].
#[derive(Debug, Default)]
pub struct Accumulated {
    /// Samples carrying running totals, ready to store.
    pub samples: Vec<Sample>,
    /// Why each refused point was refused.
    pub rejected: Vec<String>,
    /// The totals to commit once `samples` are stored.
    pub pending: PendingTotals,
}

impl DeltaSums {
    /// Series with a running total.
    pub fn len(&self) -> usize {
        self.totals.len()
    }

    /// Whether no series has a running total.
    pub fn is_empty(&self) -> bool {
        self.totals.is_empty()
    }

    /// Turns increments into running totals, in order (two increments of
    /// one series in a request both count). Nothing changes until
    /// [`commit`](Self::commit).
    pub fn accumulate(&mut self, points: Vec<DeltaPoint>, now_ms: i64) -> Accumulated {
        let mut out = Accumulated::default();
        let mut pending_new = 0;
        for point in points {
            let keys: Vec<SeriesKey> = point.increments.iter().map(Sample::series_key).collect();
            let new_series = keys
                .iter()
                .filter(|k| !self.totals.contains_key(*k) && !out.pending.0.contains_key(*k))
                .count();
            if self.totals.len() + pending_new + new_series > MAX_DELTA_SERIES {
                self.forget_idle(now_ms);
            }
            if self.totals.len() + pending_new + new_series > MAX_DELTA_SERIES {
                out.rejected.push(format!(
                    "`{}` would be delta series number {}; at most {MAX_DELTA_SERIES} are accumulated, send cumulative temporality instead",
                    keys[0],
                    self.totals.len() + pending_new + 1
                ));
                continue;
            }
            pending_new += new_series;
            for (mut sample, key) in point.increments.into_iter().zip(keys) {
                let base = out
                    .pending
                    .0
                    .get(&key)
                    .or_else(|| self.totals.get(&key))
                    .map_or(0.0, |t| t.value);
                sample.value += base;
                out.pending.0.insert(
                    key,
                    Total {
                        value: sample.value,
                        updated_ms: now_ms,
                    },
                );
                out.samples.push(sample);
            }
        }
        out
    }

    /// Makes a stored request's totals the new base.
    pub fn commit(&mut self, pending: PendingTotals) {
        self.totals.extend(pending.0);
    }

    fn forget_idle(&mut self, now_ms: i64) {
        self.totals.retain(|_, t| now_ms - t.updated_ms < IDLE_MS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, MetricKind};

    fn increment(metric: &str, labels: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            metric: metric.to_owned(),
            value,
            unit: String::new(),
            kind: MetricKind::Counter,
            labels: Labels::try_from_pairs(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            )
            .unwrap(),
            timestamp_ms: 0,
        }
    }

    fn point(samples: &[Sample]) -> DeltaPoint {
        DeltaPoint {
            increments: samples.to_vec(),
        }
    }

    fn values(acc: &Accumulated) -> Vec<f64> {
        acc.samples.iter().map(|s| s.value).collect()
    }

    #[test]
    fn increments_add_up_per_series_once_committed() {
        let mut sums = DeltaSums::default();
        let a = increment("orders", &[("shop", "a")], 2.0);
        let b = increment("orders", &[("shop", "b")], 5.0);
        let acc = sums.accumulate(
            vec![
                point(std::slice::from_ref(&a)),
                point(&[b]),
                point(std::slice::from_ref(&a)),
            ],
            0,
        );
        assert_eq!(
            values(&acc),
            [2.0, 5.0, 4.0],
            "a request's own increments add up"
        );
        sums.commit(acc.pending);
        assert_eq!(values(&sums.accumulate(vec![point(&[a])], 0)), [6.0]);
    }

    #[test]
    fn totals_of_a_request_that_was_not_stored_are_not_kept() {
        let mut sums = DeltaSums::default();
        let a = increment("orders", &[], 3.0);
        let lost = sums.accumulate(vec![point(std::slice::from_ref(&a))], 0);
        assert_eq!(values(&lost), [3.0]);
        drop(lost);
        let retried = sums.accumulate(vec![point(&[a])], 0);
        assert_eq!(values(&retried), [3.0], "the retry is not counted twice");
        assert!(sums.is_empty());
    }

    #[test]
    fn a_full_table_forgets_idle_series_then_refuses_new_ones() {
        let mut sums = DeltaSums::default();
        let many: Vec<DeltaPoint> = (0..MAX_DELTA_SERIES)
            .map(|i| point(&[increment("orders", &[("id", &i.to_string())], 1.0)]))
            .collect();
        let acc = sums.accumulate(many, 0);
        assert!(acc.rejected.is_empty());
        sums.commit(acc.pending);
        let newcomer = increment("orders", &[("id", "new")], 1.0);
        let refused = sums.accumulate(vec![point(std::slice::from_ref(&newcomer))], IDLE_MS - 1);
        assert_eq!(refused.samples.len(), 0);
        assert!(
            refused.rejected[0].contains("at most 100000"),
            "{:?}",
            refused.rejected
        );
        let accepted = sums.accumulate(vec![point(&[newcomer])], IDLE_MS);
        assert_eq!(values(&accepted), [1.0], "idle series were forgotten");
        sums.commit(accepted.pending);
        assert_eq!(sums.len(), 1);
    }
}
