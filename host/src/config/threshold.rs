//! `[[thresholds]]`: warning and critical levels with a direction.

use serde::{Deserialize, Serialize};

use crate::model::canonical_metric_name;

/// Which side of a threshold is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Higher values are worse (CPU %, latency).
    #[default]
    Above,
    /// Lower values are worse (frame rate, cache hit rate). The original had
    /// no direction and fired "UI Frame Rate" critical at 60 fps (defect B1).
    Below,
}

impl Direction {
    /// Whether `value` is on the bad side of `level`. Reaching the level
    /// counts, as in the original's `>=`.
    pub fn breached(self, value: f64, level: f64) -> bool {
        match self {
            Direction::Above => value >= level,
            Direction::Below => value <= level,
        }
    }
}

/// A warning and a critical level for one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// Metric the levels apply to (aliases are mapped to the canonical name).
    pub metric: String,
    /// Level that raises a warning.
    pub warning: f64,
    /// Level that raises a critical alert.
    pub critical: f64,
    /// Unit shown in messages.
    #[serde(default)]
    pub unit: String,
    /// Human name shown in messages; defaults to the metric name.
    #[serde(default)]
    pub description: String,
    /// Which side is bad.
    #[serde(default)]
    pub direction: Direction,
}

/// The original system's seven default thresholds, with directions fixed.
pub(super) fn default_thresholds() -> Vec<Threshold> {
    let t = |metric: &str, warning, critical, unit: &str, description: &str, direction| Threshold {
        metric: metric.to_owned(),
        warning,
        critical,
        unit: unit.to_owned(),
        description: description.to_owned(),
        direction,
    };
    use Direction::{Above, Below};
    vec![
        t("system.cpuUsage", 70.0, 90.0, "%", "CPU Usage", Above),
        t("system.memoryUsage", 80.0, 95.0, "%", "Memory Usage", Above),
        t(
            "agents.avgResponseTime",
            1000.0,
            3000.0,
            "ms",
            "Agent Response Time",
            Above,
        ),
        t(
            "queries.avgResponseTime",
            500.0,
            2000.0,
            "ms",
            "Query Response Time",
            Above,
        ),
        t("ui.frameRate", 30.0, 15.0, "fps", "UI Frame Rate", Below),
        t(
            "tracing.errorRate",
            0.01,
            0.05,
            "ratio",
            "Tracing Error Rate",
            Above,
        ),
        t(
            "ui.webSocketLatency",
            100.0,
            500.0,
            "ms",
            "WebSocket Latency",
            Above,
        ),
    ]
}

pub(super) fn validate_thresholds(list: Vec<Threshold>) -> Result<Vec<Threshold>, String> {
    let mut seen = std::collections::HashSet::new();
    list.into_iter()
        .enumerate()
        .map(|(i, mut t)| {
            let at = format!("thresholds[{i}]");
            t.metric = canonical_metric_name(&t.metric).map_err(|e| format!("{at}.metric: {e}"))?;
            if !t.warning.is_finite() || !t.critical.is_finite() {
                return Err(format!(
                    "{at} ({}): warning and critical must be finite numbers",
                    t.metric
                ));
            }
            let ordered = match t.direction {
                Direction::Above => t.warning <= t.critical,
                Direction::Below => t.warning >= t.critical,
            };
            if !ordered {
                let (want, other) = match t.direction {
                    Direction::Above => ("warning <= critical", "below"),
                    Direction::Below => ("warning >= critical", "above"),
                };
                return Err(format!(
                    "{at} ({}): direction `{}` needs {want}, got warning {} and critical {}; \
                     did you mean direction = \"{other}\"?",
                    t.metric,
                    serde_json::to_value(t.direction)
                        .unwrap()
                        .as_str()
                        .unwrap_or_default(),
                    t.warning,
                    t.critical
                ));
            }
            if !seen.insert(t.metric.clone()) {
                return Err(format!(
                    "{at}: metric `{}` already has a threshold",
                    t.metric
                ));
            }
            if t.description.is_empty() {
                t.description = t.metric.clone();
            }
            Ok(t)
        })
        .collect()
}
