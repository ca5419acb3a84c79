//! The metric registry: unit, kind, help and stored precision of every
//! metric perfwatch itself collects or the original README documents.
//!
//! `decimals` is the precision a metric carries. The store keeps values of
//! a registered metric rounded to it, as scaled integers that compress to
//! a fraction of a raw double: sysinfo reports CPU % as an `f32` whose
//! noise digits would otherwise cost about 7 bytes per sample.

use super::MetricKind;

/// What is known about one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricInfo {
    /// Canonical name.
    pub name: &'static str,
    /// Unit of its values.
    pub unit: &'static str,
    /// Gauge or counter.
    pub kind: MetricKind,
    /// One line on what it measures.
    pub help: &'static str,
    /// Decimal digits kept in storage.
    pub decimals: u8,
}

const fn gauge(
    name: &'static str,
    unit: &'static str,
    decimals: u8,
    help: &'static str,
) -> MetricInfo {
    MetricInfo {
        name,
        unit,
        kind: MetricKind::Gauge,
        help,
        decimals,
    }
}

/// Every registered metric, by name.
pub const REGISTRY: &[MetricInfo] = &[
    gauge(
        "system.cpuUsage",
        "%",
        2,
        "CPU busy over the last tick, all cores",
    ),
    gauge(
        "system.memoryUsage",
        "%",
        2,
        "memory in use (total minus available)",
    ),
    gauge(
        "system.diskUsage",
        "%",
        2,
        "space used on the filesystem holding data_dir",
    ),
    gauge(
        "system.networkLatency",
        "ms",
        3,
        "round-trip time of the configured probes",
    ),
    gauge(
        "system.networkRxBytesPerSecond",
        "bytes/s",
        0,
        "bytes received per second, non-loopback interfaces",
    ),
    gauge(
        "system.networkTxBytesPerSecond",
        "bytes/s",
        0,
        "bytes sent per second, non-loopback interfaces",
    ),
    gauge(
        "tracing.collectionOverhead",
        "ms",
        3,
        "time the last tick spent collecting",
    ),
    gauge(
        "tracing.memoryUsage",
        "MB",
        3,
        "resident memory of the perfwatch process",
    ),
    gauge(
        "tracing.storageGrowth",
        "bytes/h",
        0,
        "growth of the database over the last hour",
    ),
    gauge(
        "tracing.eventThroughput",
        "samples/s",
        2,
        "samples stored per second",
    ),
    gauge(
        "tracing.errorRate",
        "ratio",
        4,
        "share of failed plugin calls over the last minute",
    ),
    gauge(
        "perfwatch.healthScore",
        "score",
        1,
        "health score 0-100 of the tick before (analysis/health.rs has the formula)",
    ),
    gauge(
        "agents.totalAgents",
        "agents",
        0,
        "agents known to the application",
    ),
    gauge(
        "agents.activeAgents",
        "agents",
        0,
        "agents currently active",
    ),
    gauge(
        "agents.busyAgents",
        "agents",
        0,
        "agents currently working on a task",
    ),
    gauge(
        "agents.avgResponseTime",
        "ms",
        3,
        "mean agent response time",
    ),
    gauge(
        "agents.taskThroughput",
        "tasks/s",
        3,
        "tasks completed per second",
    ),
    gauge(
        "queries.avgResponseTime",
        "ms",
        3,
        "mean database query time",
    ),
    gauge(
        "queries.slowQueries",
        "queries",
        0,
        "queries slower than the application's limit",
    ),
    gauge(
        "queries.queryThroughput",
        "queries/s",
        3,
        "queries per second",
    ),
    gauge(
        "queries.cacheHitRate",
        "ratio",
        4,
        "share of queries answered from cache",
    ),
    gauge("ui.frameRate", "fps", 2, "frames rendered per second"),
    gauge("ui.renderTime", "ms", 3, "time to render a frame"),
    gauge(
        "ui.webSocketLatency",
        "ms",
        3,
        "dashboard WebSocket round trip",
    ),
    gauge(
        "ui.uiResponseTime",
        "ms",
        3,
        "time from input to visible response",
    ),
];

/// The registry entry of a canonical metric name.
pub fn lookup(canonical_name: &str) -> Option<&'static MetricInfo> {
    REGISTRY.iter().find(|info| info.name == canonical_name)
}

/// The documented unit of a well-known metric.
pub fn known_unit(canonical_name: &str) -> Option<&'static str> {
    lookup(canonical_name).map(|info| info.unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_canonical() {
        for (i, info) in REGISTRY.iter().enumerate() {
            assert!(
                REGISTRY[i + 1..]
                    .iter()
                    .all(|other| other.name != info.name),
                "{} registered twice",
                info.name
            );
            assert_eq!(
                super::super::canonical_metric_name(info.name).as_deref(),
                Ok(info.name)
            );
            assert!(
                info.decimals <= 6,
                "{}: more decimals than a scaled integer keeps exactly",
                info.name
            );
        }
    }
}
