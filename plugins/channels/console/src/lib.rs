//! The console alert channel: prints one line per alert of each notification to stdout, which the host captures into its log under the plugin's name.
//!
//! # Config
//!
//! None: the plugin takes no `config` table (an empty one is fine). It
//! needs no grants either.
//!
//! # Output
//!
//! ```text
//! [CRITICAL] firing  Query Response Time: 2500 ms (threshold: 2000 ms)  rule=threshold:queries.avgResponseTime component=queries labels={agent="coder-1"}
//! [WARNING] resolved  Disk Usage: 81% (threshold: 80%)  rule=threshold:system.diskUsage component=system
//! ```
//!
//! One line per alert of the notification, in order: severity, status, the
//! alert's own sentence, then where it came from; `labels=` only when the
//! series has labels. Line breaks in the message are written as `\n`, so
//! one alert is always one log line.

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{
    Alert, AlertStatus, Channel, ConfigError, ConfigInfo, DeliveryError, Notification, Severity,
    export_channel,
};

/// The plugin's `config` table: empty, and typos in it are errors rather
/// than options silently ignored.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {}

struct Console;

impl Channel for Console {
    fn deliver(notification: Notification) -> Result<(), DeliveryError> {
        let _: Options = perfwatch_sdk::config().map_err(DeliveryError::permanent)?;
        // `println!` flushes at each newline, so the host sees every line
        // before `deliver` returns.
        for alert in &notification.alerts {
            println!("{}", render(alert));
        }
        Ok(())
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Options>(config, &[])
    }
}

export_channel!(Console);

/// The one line printed for `alert`.
fn render(alert: &Alert) -> String {
    let severity = match alert.severity {
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
    };
    let status = match alert.status {
        AlertStatus::Firing => "firing",
        AlertStatus::Resolved => "resolved",
    };
    let message = one_line(&alert.message);
    let mut line = format!(
        "[{severity}] {status}  {message}  rule={} component={}",
        one_line(&alert.rule),
        one_line(&alert.component)
    );
    if !alert.labels.is_empty() {
        let labels: Vec<String> = alert
            .labels
            .iter()
            // `{:?}` quotes the value and escapes quotes and line breaks in it.
            .map(|label| format!("{}={:?}", label.key, label.value))
            .collect();
        line.push_str(&format!(" labels={{{}}}", labels.join(",")));
    }
    line
}

/// `text` with line breaks escaped, so it cannot split the log line.
fn one_line(text: &str) -> String {
    text.replace('\r', "\\r").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::Label;

    fn alert() -> Alert {
        Alert {
            id: "threshold:queries.avgResponseTime/{agent=\"coder-1\"}@1700000000000".into(),
            rule: "threshold:queries.avgResponseTime".into(),
            severity: Severity::Critical,
            status: AlertStatus::Firing,
            metric: "queries.avgResponseTime".into(),
            value: 2500.0,
            threshold: 2000.0,
            message: "Query Response Time: 2500 ms (threshold: 2000 ms)".into(),
            component: "queries".into(),
            labels: vec![Label::new("agent", "coder-1")],
            annotations: vec![],
            starts_at_ms: 1_700_000_000_000,
            ends_at_ms: None,
            fingerprint: "threshold:queries.avgResponseTime/{agent=\"coder-1\"}".into(),
            generator_url: String::new(),
        }
    }

    fn notification(alerts: Vec<Alert>) -> Notification {
        Notification {
            receiver: "console#0".into(),
            status: AlertStatus::Firing,
            group_key: "{}".into(),
            group_labels: vec![],
            common_labels: vec![],
            common_annotations: vec![],
            external_url: String::new(),
            alerts,
        }
    }

    #[test]
    fn firing_alert() {
        assert_eq!(
            render(&alert()),
            r#"[CRITICAL] firing  Query Response Time: 2500 ms (threshold: 2000 ms)  rule=threshold:queries.avgResponseTime component=queries labels={agent="coder-1"}"#
        );
    }

    #[test]
    fn resolved_warning_without_labels() {
        let alert = Alert {
            severity: Severity::Warning,
            status: AlertStatus::Resolved,
            rule: "threshold:system.diskUsage".into(),
            message: "Disk Usage: 81% (threshold: 80%)".into(),
            component: "system".into(),
            labels: vec![],
            ..alert()
        };
        assert_eq!(
            render(&alert),
            "[WARNING] resolved  Disk Usage: 81% (threshold: 80%)  rule=threshold:system.diskUsage component=system"
        );
    }

    #[test]
    fn several_labels_in_order_with_escapes() {
        let alert = Alert {
            labels: vec![
                Label::new("agent", "coder-1"),
                Label::new("host", "web \"blue\""),
            ],
            ..alert()
        };
        assert!(
            render(&alert).ends_with(r#" labels={agent="coder-1",host="web \"blue\""}"#),
            "{}",
            render(&alert)
        );
    }

    #[test]
    fn script_alert_message_stays_on_one_line() {
        let alert = Alert {
            rule: "script:agents".into(),
            message: "2 agents stalled:\ncoder-1\r\ncoder-2".into(),
            labels: vec![Label::new("agents", "coder-1\ncoder-2")],
            ..alert()
        };
        let line = render(&alert);
        assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
        assert_eq!(
            line,
            r#"[CRITICAL] firing  2 agents stalled:\ncoder-1\r\ncoder-2  rule=script:agents component=queries labels={agents="coder-1\ncoder-2"}"#
        );
    }

    #[test]
    fn deliver_prints_and_succeeds() {
        assert_eq!(
            Console::deliver(notification(vec![alert(), alert()])),
            Ok(())
        );
    }

    #[test]
    fn config_is_empty() {
        assert_eq!(perfwatch_sdk::parse_config("{}"), Ok(Options {}));
        assert_eq!(
            Console::validate_config(r#"{"color": true}"#),
            Err(vec![ConfigError::new(
                "color",
                "unknown field `color`",
                "no keys at all: the table takes none"
            )])
        );
        assert_eq!(
            Console::validate_config("{}"),
            Ok(ConfigInfo::with_secret_keys(&[]))
        );
    }
}
