//! The in-memory window: recent points of every series. Rules, analysis
//! and the dashboard read this, never DuckDB, on the tick's hot path.

mod block;
mod points;

use std::collections::{HashMap, HashSet};

use crate::model::{Sample, SeriesKey};
use points::Points;

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
    points: Points,
}

impl SeriesWindow {
    /// The newest point.
    pub fn latest(&self) -> Option<(i64, f64)> {
        self.points.latest()
    }

    /// Points with a timestamp in `[since_ms, ∞)`.
    pub fn since(&self, since_ms: i64) -> impl Iterator<Item = (i64, f64)> + '_ {
        self.points.since(since_ms)
    }
}

/// Every series' recent points.
#[derive(Debug)]
pub struct SampleWindow {
    series: HashMap<SeriesKey, SeriesWindow>,
    /// The series of each metric: rules ask by metric, and scanning every
    /// series for each of a thousand rules would cost milliseconds a tick.
    by_metric: HashMap<String, Vec<SeriesKey>>,
    /// Points before this were evicted by the last [`SampleWindow::evict`];
    /// older ones arriving later (history posted with past timestamps) go
    /// to the store only, or a backlog would fill every series to the cap.
    floor_ms: i64,
}

impl Default for SampleWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl SampleWindow {
    /// An empty window.
    pub fn new() -> Self {
        Self {
            series: HashMap::new(),
            by_metric: HashMap::new(),
            floor_ms: i64::MIN,
        }
    }

    /// Adds samples.
    pub fn insert_all<'a>(&mut self, samples: impl IntoIterator<Item = &'a Sample>) {
        for s in samples
            .into_iter()
            .filter(|s| s.timestamp_ms >= self.floor_ms)
        {
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
            w.points
                .insert(s.timestamp_ms, s.value, MAX_POINTS_PER_SERIES);
        }
    }

    /// Drops points older than the window span before `now_ms`, and series
    /// left with no points (they stopped reporting).
    pub fn evict(&mut self, now_ms: i64) {
        let cutoff = now_ms - WINDOW_SPAN_MS;
        self.floor_ms = self.floor_ms.max(cutoff);
        let mut emptied = HashSet::new();
        self.series.retain(|key, w| {
            w.points.evict_before(cutoff);
            let keep = !w.points.is_empty();
            if !keep && !emptied.contains(&key.metric) {
                emptied.insert(key.metric.clone());
            }
            keep
        });
        // One pass over each affected metric's list, not one per evicted
        // series: 100,000 series of one metric going silent at once would
        // otherwise cost 10^10 comparisons under the window's write lock,
        // freezing the tick and every push.
        for metric in emptied {
            if let Some(keys) = self.by_metric.get_mut(&metric) {
                keys.retain(|k| self.series.contains_key(k));
                if keys.is_empty() {
                    self.by_metric.remove(&metric);
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

    /// Evicting removed each silent series from its metric's list with a
    /// scan of that list: quadratic, minutes for one POST of 100,000 fresh
    /// series timestamped just under ten minutes old.
    #[test]
    fn evicting_100k_series_of_one_metric_is_linear_not_quadratic() {
        let mut w = SampleWindow::new();
        let old: Vec<_> = (0..100_000)
            .map(|i| {
                let mut s = Sample::gauge("flood.x", 1.0, 0);
                s.labels =
                    crate::model::Labels::try_from_pairs([("i".into(), i.to_string())]).unwrap();
                s
            })
            .collect();
        w.insert_all(&old);
        w.insert_all(&[Sample::gauge("flood.x", 1.0, WINDOW_SPAN_MS)]);
        assert_eq!(w.series_of("flood.x").count(), 100_001);
        w.evict(WINDOW_SPAN_MS + 1);
        assert_eq!(w.len(), 1);
        assert_eq!(w.series_of("flood.x").count(), 1);
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

    #[test]
    fn points_older_than_the_last_eviction_are_not_held() {
        let mut w = SampleWindow::new();
        w.evict(WINDOW_SPAN_MS + 5000);
        w.insert_all(&[
            Sample::gauge("a.b", 1.0, 4999),
            Sample::gauge("a.b", 2.0, 5000),
        ]);
        let s = w.get(&key("a.b")).unwrap();
        assert_eq!(s.since(0).collect::<Vec<_>>(), vec![(5000, 2.0)]);
    }

    #[test]
    fn a_burst_gives_its_memory_back_once_evicted() {
        let mut w = SampleWindow::new();
        let burst: Vec<_> = (0..2000).map(|t| Sample::gauge("a.b", 0.0, t)).collect();
        w.insert_all(&burst);
        w.evict(WINDOW_SPAN_MS + 1990);
        let s = w.get(&key("a.b")).unwrap();
        assert_eq!(s.since(0).count(), 10);
        assert!(s.points.heap_bytes() < 3000, "{}", s.points.heap_bytes());
    }

    #[test]
    fn a_steady_series_is_not_rounded_up_to_a_power_of_two() {
        let mut w = SampleWindow::new();
        for t in 0..600 {
            w.insert_all(&[Sample::gauge("a.b", 0.0, t * 1000)]);
        }
        let s = w.get(&key("a.b")).unwrap();
        assert!(s.points.heap_bytes() < 600 * 6, "{}", s.points.heap_bytes());
        assert_eq!(s.since(0).count(), 600);
    }
}
