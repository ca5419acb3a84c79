//! Builders for [`Sample`] and [`Label`], so collectors state a measurement in one expression.

use crate::{Label, MetricKind, Sample};

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
