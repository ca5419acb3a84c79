//! Alerts as users see them: in the API, on the WebSocket and in channels.

use serde::{Deserialize, Serialize};

use super::Labels;

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Someone should look soon.
    Warning,
    /// Service is or will shortly be impaired.
    Critical,
}

impl Severity {
    /// Lowercase name, as in config and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// The condition holds.
    Firing,
    /// The condition cleared.
    Resolved,
}

/// One alert instance, in the original `PerformanceAlert` shape (camelCase).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Unique id of this instance, derived from rule, series and start time.
    pub id: String,
    /// Rule or threshold that raised it.
    pub rule: String,
    /// When it started firing, epoch ms.
    pub timestamp: i64,
    /// Warning or critical.
    pub severity: Severity,
    /// The metric the condition is about (may be empty for script alerts).
    pub metric: String,
    /// Labels of the series.
    pub labels: Labels,
    /// Latest value seen while firing.
    pub value: f64,
    /// The threshold crossed (NaN-free; 0 for script alerts without one).
    pub threshold: f64,
    /// One human sentence.
    pub message: String,
    /// Component the alert is attributed to (`system`, `agents`, …).
    pub component: String,
    /// Whether the condition has cleared.
    pub resolved: bool,
    /// When it cleared, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<i64>,
    /// Whether it is changing state too often to notify about each change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flapping: bool,
    /// Who acknowledged it, when and why; repeats stop until it resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledgement>,
}

/// An acknowledgement of a firing alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// Why (what is being done about it).
    pub comment: String,
    /// Who.
    pub by: String,
    /// When, epoch ms.
    pub at: i64,
}

impl Alert {
    /// Firing or resolved.
    pub fn status(&self) -> AlertStatus {
        if self.resolved {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        }
    }
}
