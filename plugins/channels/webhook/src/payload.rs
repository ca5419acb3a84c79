//! The request body: a notification as Alertmanager's webhook payload (version 4) or as the original system's `PerformanceAlert`s.

use std::collections::BTreeMap;

use perfwatch_sdk::serde::Serialize;
use perfwatch_sdk::{Alert, AlertStatus, Label, Notification, Severity};

use crate::config::Format;

/// What Alertmanager writes for the end of an alert that has not ended:
/// Go's zero `time.Time`.
const NOT_ENDED: &str = "0001-01-01T00:00:00Z";

/// The body for `notification` in `format`, with at most `max_alerts`
/// alerts (0: all).
pub fn render(notification: &Notification, format: Format, max_alerts: u32) -> Vec<u8> {
    let limit = match max_alerts {
        0 => notification.alerts.len(),
        n => (n as usize).min(notification.alerts.len()),
    };
    let (kept, truncated) = (
        &notification.alerts[..limit],
        notification.alerts.len() - limit,
    );
    let body = match format {
        Format::Alertmanager => {
            perfwatch_sdk::serde_json::to_vec(&alertmanager(notification, kept, truncated))
        }
        Format::Perfwatch => {
            perfwatch_sdk::serde_json::to_vec(&perfwatch(notification, kept, truncated))
        }
    };
    // Strings, numbers and maps with string keys always serialise.
    body.expect("the payload serialises")
}

/// Alertmanager's webhook payload, version 4.
#[derive(Serialize)]
#[serde(crate = "perfwatch_sdk::serde", rename_all = "camelCase")]
struct AlertmanagerBody<'a> {
    version: &'static str,
    group_key: &'a str,
    truncated_alerts: usize,
    status: &'static str,
    receiver: &'a str,
    group_labels: BTreeMap<&'a str, &'a str>,
    common_labels: BTreeMap<&'a str, &'a str>,
    common_annotations: BTreeMap<&'a str, &'a str>,
    #[serde(rename = "externalURL")]
    external_url: &'a str,
    alerts: Vec<AlertmanagerAlert<'a>>,
}

/// One alert of [`AlertmanagerBody`].
#[derive(Serialize)]
#[serde(crate = "perfwatch_sdk::serde", rename_all = "camelCase")]
struct AlertmanagerAlert<'a> {
    status: &'static str,
    labels: BTreeMap<&'a str, &'a str>,
    annotations: BTreeMap<&'a str, &'a str>,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL")]
    generator_url: &'a str,
    fingerprint: &'a str,
}

fn alertmanager<'a>(
    notification: &'a Notification,
    alerts: &'a [Alert],
    truncated: usize,
) -> AlertmanagerBody<'a> {
    let mut common_labels = map(&notification.common_labels);
    // The host's common labels include `rule` when every alert shares one;
    // `alertname` is the same value under Alertmanager's name.
    if let Some(rule) = common_labels.get("rule").copied() {
        common_labels.insert("alertname", rule);
    }
    AlertmanagerBody {
        version: "4",
        group_key: &notification.group_key,
        truncated_alerts: truncated,
        status: status(notification.status),
        receiver: &notification.receiver,
        group_labels: map(&notification.group_labels),
        common_labels,
        common_annotations: map(&notification.common_annotations),
        external_url: &notification.external_url,
        alerts: alerts
            .iter()
            .map(|alert| AlertmanagerAlert {
                status: status(alert.status),
                labels: labels(alert),
                annotations: map(&alert.annotations),
                starts_at: perfwatch_sdk::rfc3339(alert.starts_at_ms),
                ends_at: alert
                    .ends_at_ms
                    .map_or_else(|| NOT_ENDED.to_owned(), perfwatch_sdk::rfc3339),
                generator_url: &alert.generator_url,
                fingerprint: &alert.fingerprint,
            })
            .collect(),
    }
}

/// An alert's labels as Alertmanager receivers expect them: the series
/// labels, then the alert's own (`alertname` and `rule` for its rule,
/// `severity`, and `component` and `metric` when not empty), which win over
/// series labels of the same name, as the host's grouping has them.
pub fn labels(alert: &Alert) -> BTreeMap<&str, &str> {
    let mut labels = map(&alert.labels);
    let own = [
        ("alertname", alert.rule.as_str()),
        ("rule", alert.rule.as_str()),
        ("severity", severity(alert.severity)),
        ("component", alert.component.as_str()),
        ("metric", alert.metric.as_str()),
    ];
    for (name, value) in own {
        if value.is_empty() {
            labels.remove(name);
        } else {
            labels.insert(name, value);
        }
    }
    labels
}

/// `format = "perfwatch"`: one object whatever the number of alerts.
#[derive(Serialize)]
#[serde(crate = "perfwatch_sdk::serde", rename_all = "camelCase")]
struct PerfwatchBody<'a> {
    receiver: &'a str,
    status: &'static str,
    group_key: &'a str,
    truncated_alerts: usize,
    alerts: Vec<PerformanceAlert<'a>>,
}

/// The original system's `PerformanceAlert`, plus the series' `labels`.
#[derive(Serialize)]
#[serde(crate = "perfwatch_sdk::serde", rename_all = "camelCase")]
struct PerformanceAlert<'a> {
    id: &'a str,
    /// When it started firing, epoch milliseconds.
    timestamp: i64,
    severity: &'static str,
    metric: &'a str,
    value: f64,
    threshold: f64,
    message: &'a str,
    component: &'a str,
    resolved: bool,
    /// When it resolved, epoch milliseconds; absent while firing.
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved_at: Option<i64>,
    labels: BTreeMap<&'a str, &'a str>,
}

fn perfwatch<'a>(
    notification: &'a Notification,
    alerts: &'a [Alert],
    truncated: usize,
) -> PerfwatchBody<'a> {
    PerfwatchBody {
        receiver: &notification.receiver,
        status: status(notification.status),
        group_key: &notification.group_key,
        truncated_alerts: truncated,
        alerts: alerts
            .iter()
            .map(|alert| {
                let resolved = alert.status == AlertStatus::Resolved;
                PerformanceAlert {
                    id: &alert.id,
                    timestamp: alert.starts_at_ms,
                    severity: severity(alert.severity),
                    metric: &alert.metric,
                    value: alert.value,
                    threshold: alert.threshold,
                    message: &alert.message,
                    component: &alert.component,
                    resolved,
                    resolved_at: alert.ends_at_ms.filter(|_| resolved),
                    labels: map(&alert.labels),
                }
            })
            .collect(),
    }
}

fn map(labels: &[Label]) -> BTreeMap<&str, &str> {
    labels
        .iter()
        .map(|label| (label.key.as_str(), label.value.as_str()))
        .collect()
}

fn status(status: AlertStatus) -> &'static str {
    match status {
        AlertStatus::Firing => "firing",
        AlertStatus::Resolved => "resolved",
    }
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::serde_json::{Value, json};

    fn alert(agent: &str, status: AlertStatus) -> Alert {
        Alert {
            id: format!("alert-{agent}"),
            rule: "rule:latency".into(),
            severity: Severity::Critical,
            status,
            metric: "agents.avgResponseTime".into(),
            value: 2500.0,
            threshold: 2000.0,
            message: "Agent latency: 2500 ms (threshold: 2000 ms)".into(),
            component: "agents".into(),
            labels: vec![
                Label::new("agent", agent),
                Label::new("severity", "spoofed"),
            ],
            annotations: vec![Label::new("summary", "Agent latency: 2500 ms")],
            starts_at_ms: 1_700_000_000_000,
            ends_at_ms: (status == AlertStatus::Resolved).then_some(1_700_000_060_500),
            fingerprint: format!("f-{agent}"),
            generator_url: "http://perfwatch.local/api/v1/alerts/history?rule=rule%3Alatency&start=1700000000000".into(),
        }
    }

    fn notification(alerts: Vec<Alert>) -> Notification {
        let status = if alerts.iter().any(|a| a.status == AlertStatus::Firing) {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        };
        Notification {
            receiver: "ops-hook".into(),
            status,
            group_key: "{rule=\"rule:latency\"}".into(),
            group_labels: vec![Label::new("rule", "rule:latency")],
            common_labels: vec![
                Label::new("component", "agents"),
                Label::new("rule", "rule:latency"),
            ],
            common_annotations: vec![],
            external_url: "http://perfwatch.local".into(),
            alerts,
        }
    }

    fn json_of(notification: &Notification, format: Format, max_alerts: u32) -> Value {
        perfwatch_sdk::serde_json::from_slice(&render(notification, format, max_alerts)).unwrap()
    }

    #[test]
    fn alertmanager_v4_field_by_field() {
        let body = json_of(
            &notification(vec![
                alert("coder-1", AlertStatus::Firing),
                alert("coder-2", AlertStatus::Resolved),
            ]),
            Format::Alertmanager,
            0,
        );
        assert_eq!(
            body,
            json!({
                "version": "4",
                "groupKey": "{rule=\"rule:latency\"}",
                "truncatedAlerts": 0,
                "status": "firing",
                "receiver": "ops-hook",
                "groupLabels": {"rule": "rule:latency"},
                "commonLabels": {"alertname": "rule:latency", "component": "agents", "rule": "rule:latency"},
                "commonAnnotations": {},
                "externalURL": "http://perfwatch.local",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {
                            "agent": "coder-1",
                            "alertname": "rule:latency",
                            "component": "agents",
                            "metric": "agents.avgResponseTime",
                            "rule": "rule:latency",
                            "severity": "critical"
                        },
                        "annotations": {"summary": "Agent latency: 2500 ms"},
                        "startsAt": "2023-11-14T22:13:20.000Z",
                        "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://perfwatch.local/api/v1/alerts/history?rule=rule%3Alatency&start=1700000000000",
                        "fingerprint": "f-coder-1"
                    },
                    {
                        "status": "resolved",
                        "labels": {
                            "agent": "coder-2",
                            "alertname": "rule:latency",
                            "component": "agents",
                            "metric": "agents.avgResponseTime",
                            "rule": "rule:latency",
                            "severity": "critical"
                        },
                        "annotations": {"summary": "Agent latency: 2500 ms"},
                        "startsAt": "2023-11-14T22:13:20.000Z",
                        "endsAt": "2023-11-14T22:14:20.500Z",
                        "generatorURL": "http://perfwatch.local/api/v1/alerts/history?rule=rule%3Alatency&start=1700000000000",
                        "fingerprint": "f-coder-2"
                    }
                ]
            })
        );
    }

    #[test]
    fn keys_come_in_alertmanagers_order() {
        let body = String::from_utf8(render(
            &notification(vec![alert("a", AlertStatus::Firing)]),
            Format::Alertmanager,
            0,
        ))
        .unwrap();
        let positions: Vec<usize> = [
            "\"version\"",
            "\"groupKey\"",
            "\"truncatedAlerts\"",
            "\"status\"",
            "\"receiver\"",
            "\"groupLabels\"",
            "\"commonLabels\"",
            "\"commonAnnotations\"",
            "\"externalURL\"",
            "\"alerts\"",
        ]
        .iter()
        .map(|key| body.find(key).unwrap())
        .collect();
        assert!(positions.is_sorted(), "{body}");
    }

    #[test]
    fn a_script_alert_without_metric_or_component_has_no_empty_labels() {
        let mut bare = alert("a", AlertStatus::Firing);
        bare.metric.clear();
        bare.component.clear();
        bare.labels = vec![Label::new("metric", "spoofed")];
        let labels = labels(&bare);
        assert_eq!(
            labels.into_iter().collect::<Vec<_>>(),
            [
                ("alertname", "rule:latency"),
                ("rule", "rule:latency"),
                ("severity", "critical")
            ]
        );
    }

    #[test]
    fn max_alerts_keeps_the_first_and_counts_the_rest() {
        let n = notification(vec![
            alert("a", AlertStatus::Firing),
            alert("b", AlertStatus::Firing),
            alert("c", AlertStatus::Firing),
        ]);
        for format in [Format::Alertmanager, Format::Perfwatch] {
            let body = json_of(&n, format, 2);
            assert_eq!(body["truncatedAlerts"], 1);
            assert_eq!(body["alerts"].as_array().unwrap().len(), 2);
            assert_eq!(json_of(&n, format, 5)["truncatedAlerts"], 0);
            assert_eq!(
                json_of(&n, format, 0)["alerts"].as_array().unwrap().len(),
                3
            );
        }
    }

    #[test]
    fn perfwatch_format_carries_performance_alerts() {
        let body = json_of(
            &notification(vec![
                alert("coder-1", AlertStatus::Resolved),
                alert("coder-2", AlertStatus::Firing),
            ]),
            Format::Perfwatch,
            0,
        );
        assert_eq!(
            body,
            json!({
                "receiver": "ops-hook",
                "status": "firing",
                "groupKey": "{rule=\"rule:latency\"}",
                "truncatedAlerts": 0,
                "alerts": [
                    {
                        "id": "alert-coder-1",
                        "timestamp": 1_700_000_000_000_i64,
                        "severity": "critical",
                        "metric": "agents.avgResponseTime",
                        "value": 2500.0,
                        "threshold": 2000.0,
                        "message": "Agent latency: 2500 ms (threshold: 2000 ms)",
                        "component": "agents",
                        "resolved": true,
                        "resolvedAt": 1_700_000_060_500_i64,
                        "labels": {"agent": "coder-1", "severity": "spoofed"}
                    },
                    {
                        "id": "alert-coder-2",
                        "timestamp": 1_700_000_000_000_i64,
                        "severity": "critical",
                        "metric": "agents.avgResponseTime",
                        "value": 2500.0,
                        "threshold": 2000.0,
                        "message": "Agent latency: 2500 ms (threshold: 2000 ms)",
                        "component": "agents",
                        "resolved": false,
                        "labels": {"agent": "coder-2", "severity": "spoofed"}
                    }
                ]
            })
        );
    }
}
