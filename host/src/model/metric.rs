//! Metric names: validation and the original system's aliases.

use serde::{Deserialize, Serialize};

/// Longest metric name accepted; longer names are almost always a bug
/// (an ID or a message pasted into the name) and would bloat the series table.
pub const MAX_METRIC_NAME_LEN: usize = 200;

/// Whether a metric's values go up and down or only grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// A value that can go up and down.
    #[default]
    Gauge,
    /// A monotonically growing total.
    Counter,
}

impl MetricKind {
    /// The lowercase name used in storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Gauge => "gauge",
            MetricKind::Counter => "counter",
        }
    }
}

/// Why a metric name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricNameError {
    #[error("metric name is empty")]
    Empty,
    #[error("metric name is {len} characters long; at most {MAX_METRIC_NAME_LEN} are allowed")]
    TooLong { len: usize },
    #[error(
        "metric name `{name}` contains {ch:?}; use letters, digits, `_` and `.` (like `agents.avgResponseTime`)"
    )]
    InvalidChar { name: String, ch: char },
    #[error("metric name `{name}` has an empty segment; segments are separated by single dots")]
    EmptySegment { name: String },
}

/// Names the original system wrote or read, mapped to the series that
/// `metrics_update` reports. The original's recording helpers wrote names no
/// reader looked at (defect B4); accepting them as aliases means an
/// application instrumented for the old system lands in the right series.
const ALIASES: &[(&str, &str)] = &[
    ("tracing.collection_overhead", "tracing.collectionOverhead"),
    ("memory.tracing_mb", "tracing.memoryUsage"),
    ("storage.growth_rate", "tracing.storageGrowth"),
    ("tracing.events_per_second", "tracing.eventThroughput"),
    ("tracing.error_rate", "tracing.errorRate"),
    ("system.cpu_usage", "system.cpuUsage"),
    ("system.memory_usage", "system.memoryUsage"),
    ("system.disk_usage", "system.diskUsage"),
    ("network.latency", "system.networkLatency"),
    ("system.network_latency", "system.networkLatency"),
    ("agents.total", "agents.totalAgents"),
    ("agents.active", "agents.activeAgents"),
    ("agents.busy", "agents.busyAgents"),
    ("agents.avg_response_time", "agents.avgResponseTime"),
    ("agents.task_throughput", "agents.taskThroughput"),
    ("query.avg_duration", "queries.avgResponseTime"),
    ("query.slow_count", "queries.slowQueries"),
    ("query.throughput", "queries.queryThroughput"),
    ("cache.hit_rate", "queries.cacheHitRate"),
    ("ui.frame_rate", "ui.frameRate"),
    ("ui.render_time", "ui.renderTime"),
    ("websocket.latency", "ui.webSocketLatency"),
    ("ui.response_time", "ui.uiResponseTime"),
];

/// Validates a metric name and maps the original system's aliases to their
/// canonical series name.
pub fn canonical_metric_name(name: &str) -> Result<String, MetricNameError> {
    if name.is_empty() {
        return Err(MetricNameError::Empty);
    }
    if name.len() > MAX_METRIC_NAME_LEN {
        return Err(MetricNameError::TooLong { len: name.len() });
    }
    if let Some(ch) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
    {
        return Err(MetricNameError::InvalidChar {
            name: name.to_owned(),
            ch,
        });
    }
    if name.split('.').any(str::is_empty) {
        return Err(MetricNameError::EmptySegment {
            name: name.to_owned(),
        });
    }
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canonical)| canonical);
    Ok(canonical.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_snake_case_names_are_the_same_series() {
        assert_eq!(
            canonical_metric_name("system.cpu_usage").unwrap(),
            "system.cpuUsage"
        );
        assert_eq!(
            canonical_metric_name("system.cpuUsage").unwrap(),
            "system.cpuUsage"
        );
        assert_eq!(
            canonical_metric_name("websocket.latency").unwrap(),
            "ui.webSocketLatency"
        );
    }

    #[test]
    fn custom_names_pass_through_unchanged() {
        assert_eq!(
            canonical_metric_name("myapp.queue_depth").unwrap(),
            "myapp.queue_depth"
        );
    }

    #[test]
    fn bad_names_are_refused_with_the_reason() {
        assert_eq!(canonical_metric_name(""), Err(MetricNameError::Empty));
        assert!(matches!(
            canonical_metric_name("cpu usage"),
            Err(MetricNameError::InvalidChar { ch: ' ', .. })
        ));
        assert!(matches!(
            canonical_metric_name("a..b"),
            Err(MetricNameError::EmptySegment { .. })
        ));
        assert!(matches!(
            canonical_metric_name(&"x".repeat(201)),
            Err(MetricNameError::TooLong { len: 201 })
        ));
    }

    #[test]
    fn every_alias_target_has_a_known_unit() {
        for (_, canonical) in ALIASES {
            assert!(
                crate::model::known_unit(canonical).is_some(),
                "{canonical} has no unit"
            );
        }
    }
}
