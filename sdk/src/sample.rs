//! Builders for [`Sample`] and [`Label`], so collectors state a measurement in one expression, and the host's naming rules.

use crate::{Label, MetricKind, Sample};

/// Longest metric name the host accepts; the same limit as the host's.
pub const MAX_METRIC_NAME_LEN: usize = 200;

/// Longest label name the host accepts; the same limit as the host's.
pub const MAX_LABEL_NAME_LEN: usize = 100;

/// Checks `name` against the host's rule for metric names: 1 to
/// [`MAX_METRIC_NAME_LEN`] ASCII letters, digits, `_` and `.`, with no empty
/// dot-separated segment.
///
/// The host drops a sample whose name breaks the rule, with a warning per
/// sample; a plugin that builds names from config or scraped data checks
/// them first, and can say which config entry is wrong.
///
/// ```
/// assert_eq!(perfwatch_sdk::check_metric_name("agents.avgResponseTime"), Ok(()));
/// assert_eq!(
///     perfwatch_sdk::check_metric_name("http:requests"),
///     Err("metric name `http:requests` contains ':'; use letters, digits, `_` and `.` (like `agents.avgResponseTime`)".to_owned())
/// );
/// ```
pub fn check_metric_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("metric name is empty".to_owned());
    }
    if name.len() > MAX_METRIC_NAME_LEN {
        return Err(format!(
            "metric name is {} characters long; at most {MAX_METRIC_NAME_LEN} are allowed",
            name.len()
        ));
    }
    if let Some(ch) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
    {
        return Err(format!(
            "metric name `{name}` contains {ch:?}; use letters, digits, `_` and `.` (like `agents.avgResponseTime`)"
        ));
    }
    if name.split('.').any(str::is_empty) {
        return Err(format!(
            "metric name `{name}` has an empty segment; segments are separated by single dots"
        ));
    }
    Ok(())
}

/// Checks `name` against the host's rule for label names: 1 to
/// [`MAX_LABEL_NAME_LEN`] ASCII letters, digits and `_`, not starting with a
/// digit.
///
/// ```
/// assert_eq!(perfwatch_sdk::check_label_name("agent"), Ok(()));
/// assert!(perfwatch_sdk::check_label_name("2xx").is_err());
/// ```
pub fn check_label_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_LABEL_NAME_LEN
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "label name {name:?} is invalid; use 1 to {MAX_LABEL_NAME_LEN} letters, digits or `_`, not starting with a digit"
        ))
    }
}

impl Sample {
    /// A gauge: a value that can go up and down (a load average, a queue
    /// length now). Unitless, unlabelled and stamped "now" until the builder
    /// methods say otherwise.
    pub fn gauge(metric: impl Into<String>, value: f64) -> Self {
        Self::new(metric.into(), value, MetricKind::Gauge)
    }

    /// A counter: a total that only grows until a restart (bytes sent,
    /// requests served). Unitless, unlabelled and stamped "now" until the
    /// builder methods say otherwise.
    pub fn counter(metric: impl Into<String>, value: f64) -> Self {
        Self::new(metric.into(), value, MetricKind::Counter)
    }

    fn new(metric: String, value: f64, kind: MetricKind) -> Self {
        Self {
            metric,
            value,
            unit: String::new(),
            kind,
            labels: Vec::new(),
            timestamp_ms: None,
        }
    }

    /// Sets the unit, for example `%`, `ms` or `bytes`; `""` means unitless.
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = unit.into();
        self
    }

    /// Adds one label that tells this series apart from others of the same metric.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push(Label::new(key, value));
        self
    }

    /// Stamps the sample with the time it was measured, in epoch
    /// milliseconds. Without it the host uses the current tick, which is right
    /// for anything measured during `collect`.
    pub fn at(mut self, timestamp_ms: i64) -> Self {
        self.timestamp_ms = Some(timestamp_ms);
        self
    }
}

impl Label {
    /// A `key = value` label.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_defaults_to_unitless_unlabelled_now() {
        assert_eq!(
            Sample::gauge("system.load1", 0.5),
            Sample {
                metric: "system.load1".into(),
                value: 0.5,
                unit: String::new(),
                kind: MetricKind::Gauge,
                labels: vec![],
                timestamp_ms: None,
            }
        );
    }

    #[test]
    fn metric_names_follow_the_host_rule() {
        for good in ["system.load1", "node_cpu_seconds_total", "a", "x.y_z.W9"] {
            assert_eq!(check_metric_name(good), Ok(()), "{good}");
        }
        assert_eq!(
            check_metric_name(""),
            Err("metric name is empty".to_owned())
        );
        assert_eq!(
            check_metric_name(&"a".repeat(201)),
            Err("metric name is 201 characters long; at most 200 are allowed".to_owned())
        );
        assert_eq!(check_metric_name(&"a".repeat(200)), Ok(()));
        assert_eq!(
            check_metric_name("agents..total"),
            Err(
                "metric name `agents..total` has an empty segment; segments are separated by single dots"
                    .to_owned()
            )
        );
        assert!(check_metric_name(".load1").is_err());
        assert!(check_metric_name("load1.").is_err());
        assert!(check_metric_name("disk-usage").is_err());
        assert!(check_metric_name("température").is_err());
    }

    #[test]
    fn label_names_follow_the_host_rule() {
        for good in ["agent", "le", "_private", "a1", &"x".repeat(100)] {
            assert_eq!(check_label_name(good), Ok(()), "{good}");
        }
        for bad in ["", "1st", "a.b", "a-b", &"x".repeat(101)] {
            assert!(check_label_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_label_name("a-b"),
            Err(r#"label name "a-b" is invalid; use 1 to 100 letters, digits or `_`, not starting with a digit"#.to_owned())
        );
    }

    #[test]
    fn builder_sets_every_field_and_keeps_label_order() {
        let sample = Sample::counter("net.bytesSent", 42.0)
            .unit("bytes")
            .label("iface", "eth0")
            .label("dir", "tx")
            .at(1_700_000_000_000);
        assert_eq!(sample.kind, MetricKind::Counter);
        assert_eq!(sample.unit, "bytes");
        assert_eq!(
            sample.labels,
            vec![Label::new("iface", "eth0"), Label::new("dir", "tx")]
        );
        assert_eq!(sample.timestamp_ms, Some(1_700_000_000_000));
    }
}
