//! What a channel is handed: one notification per group and channel,
//! carrying every alert of the group that the channel takes, and the ways
//! a delivery can fail.

use std::fmt;

use super::{Alert, AlertStatus};

/// One message to one channel, Alertmanager-style: the alerts a group
/// flushed at once that pass the channel's filters, or a single alert when
/// grouping is off.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The channel it is for (`console#0`).
    pub receiver: String,
    /// Firing if any of its alerts fires, else resolved.
    pub status: AlertStatus,
    /// Names the group, stable across flushes and restarts: its labels
    /// rendered `{component="agents"}` when grouping is on, the alert's
    /// fingerprint when it is off (each alert is then its own group).
    pub group_key: String,
    /// The `group_by` labels and the group's values of them, sorted by
    /// name (none when grouping is off, or for labels the alerts lack).
    pub group_labels: Vec<(String, String)>,
    /// Labels (see [`Alert::all_labels`]) every alert has with the same value.
    pub common_labels: Vec<(String, String)>,
    /// Annotations (see [`Alert::annotations`]) every alert has alike.
    pub common_annotations: Vec<(String, String)>,
    /// Where the host's API is reached (the `external_url` setting, else
    /// the address it serves on), for links back to it.
    pub external_url: String,
    /// The alerts, in the order they were raised; never empty.
    pub alerts: Vec<Alert>,
}

impl Notification {
    /// A notification of `alerts` (not empty) for `receiver`, with the
    /// status and the common labels and annotations worked out.
    pub fn new(
        receiver: &str,
        group_key: String,
        group_labels: Vec<(String, String)>,
        external_url: &str,
        alerts: Vec<Alert>,
    ) -> Self {
        debug_assert!(!alerts.is_empty(), "a notification carries alerts");
        let status = if alerts.iter().any(|a| !a.resolved) {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        };
        Self {
            receiver: receiver.to_owned(),
            status,
            group_key,
            group_labels,
            common_labels: common(alerts.iter().map(Alert::all_labels)),
            common_annotations: common(alerts.iter().map(Alert::annotations)),
            external_url: external_url.to_owned(),
            alerts,
        }
    }

    /// A channel test's notification: `alert` alone, in a group of its
    /// own named `test/<fingerprint>`, so a receiver never folds it into a
    /// real group.
    pub fn test(receiver: &str, external_url: &str, alert: Alert) -> Self {
        let group_key = format!("test/{}", alert.fingerprint());
        Self::new(receiver, group_key, Vec::new(), external_url, vec![alert])
    }

    /// The ids of its alerts, in order.
    pub fn alert_ids(&self) -> Vec<String> {
        self.alerts.iter().map(|a| a.id.clone()).collect()
    }

    /// Whether every alert in it has resolved.
    pub fn is_resolved(&self) -> bool {
        self.status == AlertStatus::Resolved
    }
}

/// The pairs present, with the same value, in every one of `lists` (each
/// sorted by name); the result keeps that order.
fn common(mut lists: impl Iterator<Item = Vec<(String, String)>>) -> Vec<(String, String)> {
    let Some(mut shared) = lists.next() else {
        return Vec::new();
    };
    for list in lists {
        shared.retain(|pair| list.binary_search(pair).is_ok());
    }
    shared
}

/// Why a delivery failed, which decides whether and when it is tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// Trying again cannot help (a refused request, a bad address): the
    /// notification is given up at once.
    Permanent(String),
    /// It may work later (a timeout, a 5xx, a crashed plugin): retried
    /// with backoff.
    Transient(String),
    /// The receiver said when to come back (HTTP 429 or 503 with
    /// `Retry-After`): retried after that long.
    RetryAfter {
        /// How long the receiver asked to wait.
        after_ms: u64,
        /// What it said.
        reason: String,
    },
}

impl DeliveryError {
    /// `permanent`, `transient` or `retry_after`, as delivery records store it.
    pub fn class(&self) -> &'static str {
        match self {
            DeliveryError::Permanent(_) => "permanent",
            DeliveryError::Transient(_) => "transient",
            DeliveryError::RetryAfter { .. } => "retry_after",
        }
    }

    /// What went wrong, without the class.
    pub fn reason(&self) -> &str {
        match self {
            DeliveryError::Permanent(reason)
            | DeliveryError::Transient(reason)
            | DeliveryError::RetryAfter { reason, .. } => reason,
        }
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Permanent(reason) => write!(f, "{reason} (permanent)"),
            DeliveryError::Transient(reason) => write!(f, "{reason}"),
            DeliveryError::RetryAfter { after_ms, reason } => {
                write!(f, "{reason} (retry after {after_ms} ms)")
            }
        }
    }
}

impl std::error::Error for DeliveryError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, Severity};

    fn alert(id: &str, severity: Severity, agent: &str, resolved: bool) -> Alert {
        Alert {
            id: id.into(),
            rule: "rule:latency".into(),
            timestamp: 0,
            severity,
            metric: "agents.avgResponseTime".into(),
            labels: Labels::try_from_pairs([("agent".to_owned(), agent.to_owned())]).unwrap(),
            value: 1.0,
            threshold: 0.0,
            message: format!("{agent} is slow"),
            component: "agents".into(),
            resolved,
            resolved_at: resolved.then_some(1),
            flapping: false,
            acknowledged: None,
            description: Some("Agent latency".into()),
            runbook_url: None,
        }
    }

    fn names(pairs: &[(String, String)]) -> Vec<&str> {
        pairs.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn common_labels_and_annotations_are_those_every_alert_shares() {
        let n = Notification::new(
            "console#0",
            "{rule=\"rule:latency\"}".into(),
            vec![("rule".into(), "rule:latency".into())],
            "http://127.0.0.1:8080",
            vec![
                alert("a1", Severity::Warning, "coder-1", false),
                alert("a2", Severity::Critical, "coder-2", true),
            ],
        );
        assert_eq!(names(&n.common_labels), ["component", "metric", "rule"]);
        assert_eq!(
            n.common_annotations,
            [("description".to_owned(), "Agent latency".to_owned())]
        );
        assert_eq!(n.status, AlertStatus::Firing, "one of them still fires");
        assert_eq!(n.alert_ids(), ["a1", "a2"]);
    }

    #[test]
    fn a_notification_of_resolved_alerts_is_resolved_and_one_alert_shares_everything() {
        let one = alert("a1", Severity::Warning, "coder-1", true);
        let n = Notification::new("c#0", one.fingerprint(), vec![], "", vec![one.clone()]);
        assert!(n.is_resolved());
        assert_eq!(n.common_labels, one.all_labels());
        assert_eq!(n.common_annotations, one.annotations());
    }

    #[test]
    fn errors_name_their_class_and_say_what_went_wrong() {
        let cases = [
            (
                DeliveryError::Permanent("HTTP 400".into()),
                "permanent",
                "HTTP 400 (permanent)",
            ),
            (
                DeliveryError::Transient("timed out".into()),
                "transient",
                "timed out",
            ),
            (
                DeliveryError::RetryAfter {
                    after_ms: 3000,
                    reason: "HTTP 429".into(),
                },
                "retry_after",
                "HTTP 429 (retry after 3000 ms)",
            ),
        ];
        for (error, class, text) in cases {
            assert_eq!(error.class(), class);
            assert_eq!(error.to_string(), text);
        }
    }
}
