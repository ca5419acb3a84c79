//! The window as scripts see it: the latest value, and aggregates over a
//! duration, of one series or of every series whose labels match.
//!
//! Without a selector a function reads the metric's unlabelled series; with
//! a map `#{agent: "coder-1"}` it reads every series whose labels include
//! those pairs (`#{}` matches every series of the metric) and pools them.

use rhai::{Array, Dynamic, Map};

use crate::model::{Labels, canonical_metric_name};
use crate::window::{SampleWindow, SeriesWindow};

/// Which series of a metric a function reads.
pub enum Selector {
    /// The unlabelled series.
    Unlabelled,
    /// Series whose labels include all these pairs.
    Matching(Vec<(String, String)>),
}

impl Selector {
    /// From a script map; values are compared as text.
    pub fn from_map(map: &Map) -> Self {
        Selector::Matching(
            map.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn matches(&self, labels: &Labels) -> bool {
        match self {
            Selector::Unlabelled => labels.is_empty(),
            Selector::Matching(pairs) => {
                pairs.iter().all(|(k, v)| labels.get(k) == Some(v.as_str()))
            }
        }
    }
}

/// The series of `metric` that `selector` picks.
pub fn select<'a>(
    window: &'a SampleWindow,
    metric: &str,
    selector: &Selector,
) -> Vec<(&'a Labels, &'a SeriesWindow)> {
    let metric = canonical_metric_name(metric).unwrap_or_else(|_| metric.to_owned());
    window
        .series_of(&metric)
        .filter(|(key, _)| selector.matches(&key.labels))
        .map(|(key, series)| (&key.labels, series))
        .collect()
}

/// The mean of the selected series' latest values; NaN when there are none.
pub fn latest(window: &SampleWindow, metric: &str, selector: &Selector) -> f64 {
    let values: Vec<f64> = select(window, metric, selector)
        .iter()
        .filter_map(|(_, s)| s.latest())
        .map(|(_, v)| v)
        .collect();
    mean(&values)
}

/// Every value of the selected series since `since_ms`, pooled.
pub fn pooled(window: &SampleWindow, metric: &str, selector: &Selector, since_ms: i64) -> Vec<f64> {
    select(window, metric, selector)
        .iter()
        .flat_map(|(_, s)| s.since(since_ms).map(|(_, v)| v))
        .collect()
}

/// The per-second increase of the selected counters since `since_ms`,
/// summed over series; a counter that went down was reset and counts from
/// zero. NaN when no series has two points.
pub fn rate(window: &SampleWindow, metric: &str, selector: &Selector, since_ms: i64) -> f64 {
    let mut total = 0.0;
    let mut any = false;
    for (_, series) in select(window, metric, selector) {
        let points: Vec<(i64, f64)> = series.since(since_ms).collect();
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            continue;
        };
        let seconds = (last.0 - first.0) as f64 / 1000.0;
        if points.len() < 2 || seconds <= 0.0 {
            continue;
        }
        let increase: f64 = points
            .windows(2)
            .map(|w| {
                if w[1].1 >= w[0].1 {
                    w[1].1 - w[0].1
                } else {
                    w[1].1
                }
            })
            .sum();
        total += increase / seconds;
        any = true;
    }
    if any { total } else { f64::NAN }
}

/// The `q`-th percentile (0–100, nearest rank) of `values`; NaN when empty.
pub fn percentile(mut values: Vec<f64>, q: f64) -> f64 {
    if values.is_empty() || !(0.0..=100.0).contains(&q) {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q / 100.0) * values.len() as f64).ceil().max(1.0) as usize;
    values[rank.min(values.len()) - 1]
}

/// Arithmetic mean; NaN when empty.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// `[#{labels: #{...}, value: latest}, ...]` for per-series rules.
pub fn series_list(window: &SampleWindow, metric: &str, selector: &Selector) -> Array {
    let mut list: Vec<(&Labels, f64)> = select(window, metric, selector)
        .into_iter()
        .filter_map(|(l, s)| s.latest().map(|(_, v)| (l, v)))
        .collect();
    list.sort_by(|a, b| a.0.cmp(b.0));
    list.into_iter()
        .map(|(labels, value)| {
            let mut labels_map = Map::new();
            for (k, v) in labels.iter() {
                labels_map.insert(k.into(), Dynamic::from(v.to_owned()));
            }
            let mut item = Map::new();
            item.insert("labels".into(), Dynamic::from_map(labels_map));
            item.insert("value".into(), Dynamic::from_float(value));
            Dynamic::from_map(item)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;

    fn sample(metric: &str, agent: Option<&str>, v: f64, t: i64) -> Sample {
        let mut s = Sample::gauge(metric, v, t);
        if let Some(a) = agent {
            s.labels = Labels::try_from_pairs([("agent".into(), a.into())]).unwrap();
        }
        s
    }

    #[test]
    fn selectors_pick_unlabelled_or_matching_series() {
        let mut w = SampleWindow::new();
        w.insert_all(&[
            sample("a.rt", None, 1.0, 0),
            sample("a.rt", Some("x"), 10.0, 0),
            sample("a.rt", Some("y"), 30.0, 0),
        ]);
        assert_eq!(latest(&w, "a.rt", &Selector::Unlabelled), 1.0);
        assert_eq!(
            latest(
                &w,
                "a.rt",
                &Selector::Matching(vec![("agent".into(), "y".into())])
            ),
            30.0
        );
        assert_eq!(
            latest(&w, "a.rt", &Selector::Matching(vec![])),
            41.0 / 3.0,
            "all series"
        );
        assert!(latest(&w, "a.none", &Selector::Unlabelled).is_nan());
    }

    #[test]
    fn rate_is_per_second_and_survives_a_counter_reset() {
        let mut w = SampleWindow::new();
        // 0 → 100 → 200, reset, 50: increases 100 + 100 + 50 over 30 s.
        w.insert_all(&[
            sample("c.total", None, 0.0, 0),
            sample("c.total", None, 100.0, 10_000),
            sample("c.total", None, 200.0, 20_000),
            sample("c.total", None, 50.0, 30_000),
        ]);
        assert_eq!(rate(&w, "c.total", &Selector::Unlabelled, 0), 250.0 / 30.0);
        assert!(
            rate(&w, "c.total", &Selector::Unlabelled, 30_000).is_nan(),
            "one point has no rate"
        );
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(values.clone(), 95.0), 95.0);
        assert_eq!(percentile(values.clone(), 50.0), 50.0);
        assert_eq!(percentile(values, 100.0), 100.0);
        assert!(percentile(vec![], 95.0).is_nan());
    }
}
