//! The in-memory window: recent points of every series. Rules, analysis
//! and the dashboard read this, never DuckDB, on the tick's hot path.

use std::collections::{HashMap, VecDeque};

use crate::model::{Sample, SeriesKey};

/// How far back the window reaches. Rules look at minutes, not hours; the
/// store answers anything older.
pub const WINDOW_SPAN_MS: i64 = 10 * 60 * 1000;
/// Points kept per series at most, whatever the span: a client posting the
/// same series thousands of times a second must not grow host memory.
pub const MAX_POINTS_PER_SERIES: usize = 2048;

/// Recent points of one series, in time order.
#[derive(Debug, Default)]
pub struct SeriesWindow {
    /// Unit of the values.
    pub unit: String,
    points: VecDeque<(i64, f64)>,
}

impl SeriesWindow {
    /// The newest point.
    pub fn latest(&self) -> Option<(i64, f64)> {
        self.points.back().copied()
    }

    /// Points with a timestamp in `[since_ms, ∞)`.
    pub fn since(&self, since_ms: i64) -> impl Iterator<Item = (i64, f64)> + '_ {
        let start = self.points.partition_point(|(t, _)| *t < since_ms);
        self.points.range(start..).copied()
    }

    fn insert(&mut self, ts: i64, value: f64) {
        match self.points.back() {
            Some(&(last, _)) if ts < last => {
                let at = self.points.partition_point(|(t, _)| *t <= ts);
                self.points.insert(at, (ts, value));
            }
            Some(&(last, _)) if ts == last => {
                // A second value for the same instant replaces the first.
                *self.points.back_mut().expect("non-empty") = (ts, value);
            }
            _ => self.points.push_back((ts, value)),
        }
        while self.points.len() > MAX_POINTS_PER_SERIES {
            self.points.pop_front();
        }
    }

    fn evict_before(&mut self, cutoff_ms: i64) {
        while self.points.front().is_some_and(|(t, _)| *t < cutoff_ms) {
            self.points.pop_front();
        }
    }
}

/// Every series' recent points.
#[derive(Debug, Default)]
pub struct SampleWindow {
    series: HashMap<SeriesKey, SeriesWindow>,
    /// The series of each metric: rules ask by metric, and scanning every
    /// series for each of a thousand rules would cost milliseconds a tick.
    by_metric: HashMap<String, Vec<SeriesKey>>,
}

impl SampleWindow {
    /// An empty window.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds samples.
    pub fn insert_all<'a>(&mut self, samples: impl IntoIterator<Item = &'a Sample>) {
        for s in samples {
            let key = s.series_key();
            let w = match self.series.get_mut(&key) {
                Some(w) => w,
                None => {
                    self.by_metric
                        .entry(key.metric.clone())
                        .or_default()
                        .push(key.clone());
                    self.series.entry(key).or_default()
                }
            };
            if w.unit.is_empty() {
                w.unit.clone_from(&s.unit);
            }
            w.insert(s.timestamp_ms, s.value);
        }
    }

    /// Drops points older than the window span before `now_ms`, and series
    /// left with no points (they stopped reporting).
    pub fn evict(&mut self, now_ms: i64) {
        let cutoff = now_ms - WINDOW_SPAN_MS;
        let mut gone = Vec::new();
        self.series.retain(|key, w| {
            w.evict_before(cutoff);
            let keep = !w.points.is_empty();
            if !keep {
                gone.push(key.clone());
            }
            keep
        });
        for key in gone {
            if let Some(keys) = self.by_metric.get_mut(&key.metric) {
                keys.retain(|k| *k != key);
                if keys.is_empty() {
                    self.by_metric.remove(&key.metric);
                }
            }
        }
    }

    /// One series.
    pub fn get(&self, key: &SeriesKey) -> Option<&SeriesWindow> {
        self.series.get(key)
    }

    /// Every series of a metric, with any labels.
    pub fn series_of<'a>(
        &'a self,
        metric: &str,
    ) -> impl Iterator<Item = (&'a SeriesKey, &'a SeriesWindow)> + 'a {
        self.by_metric
            .get(metric)
            .into_iter()
            .flatten()
            .filter_map(|key| self.series.get_key_value(key))
    }

    /// Every series.
    pub fn iter(&self) -> impl Iterator<Item = (&SeriesKey, &SeriesWindow)> {
        self.series.iter()
    }

    /// Number of series held.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether no series is held.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(metric: &str) -> SeriesKey {
        SeriesKey {
            metric: metric.into(),
            labels: Default::default(),
        }
    }

    #[test]
    fn points_stay_in_time_order_whatever_the_arrival_order() {
        let mut w = SampleWindow::new();
        w.insert_all(&[
            Sample::gauge("a.b", 2.0, 2000),
            Sample::gauge("a.b", 1.0, 1000),
            Sample::gauge("a.b", 3.0, 3000),
        ]);
        let s = w.get(&key("a.b")).unwrap();
        assert_eq!(
            s.since(0).collect::<Vec<_>>(),
            vec![(1000, 1.0), (2000, 2.0), (3000, 3.0)]
        );
        assert_eq!(s.latest(), Some((3000, 3.0)));
        assert_eq!(s.since(2000).count(), 2);
    }

    #[test]
    fn old_points_and_silent_series_are_evicted() {
        let mut w = SampleWindow::new();
        w.insert_all(&[
            Sample::gauge("old.x", 1.0, 0),
            Sample::gauge("new.x", 1.0, WINDOW_SPAN_MS),
        ]);
        w.evict(WINDOW_SPAN_MS + 1);
        assert!(w.get(&key("old.x")).is_none());
        assert!(w.get(&key("new.x")).is_some());
    }

    #[test]
    fn the_metric_index_follows_inserts_and_evictions() {
        let mut w = SampleWindow::new();
        let mut labelled = Sample::gauge("a.b", 1.0, 0);
        labelled.labels = crate::model::Labels::try_from_pairs([("k".into(), "v".into())]).unwrap();
        w.insert_all(&[
            Sample::gauge("a.b", 1.0, 0),
            labelled,
            Sample::gauge("c.d", 1.0, WINDOW_SPAN_MS),
        ]);
        assert_eq!(w.series_of("a.b").count(), 2);
        w.evict(WINDOW_SPAN_MS + 1);
        assert_eq!(w.series_of("a.b").count(), 0);
        assert_eq!(w.series_of("c.d").count(), 1);
    }

    #[test]
    fn a_series_never_holds_more_than_the_cap() {
        let mut w = SampleWindow::new();
        let burst: Vec<_> = (0..MAX_POINTS_PER_SERIES as i64 + 10)
            .map(|t| Sample::gauge("a.b", 0.0, t))
            .collect();
        w.insert_all(&burst);
        assert_eq!(
            w.get(&key("a.b")).unwrap().since(0).count(),
            MAX_POINTS_PER_SERIES
        );
    }
}
