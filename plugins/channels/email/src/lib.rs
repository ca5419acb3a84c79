//! The email alert channel: one message per notification, with a plain-text part and an HTML part, sent through the SMTP relay the host holds for the channel (the WIT `email` import).
//!
//! # Config
//!
//! ```toml
//! [[alerting.channels]]
//! type = "email"
//! config = { recipients = ["ops@example.com"], from = "perfwatch@example.com", subject_prefix = "[perfwatch] ",
//!            smtp = { host = "smtp.example.com", port = 587, tls = "starttls" } }
//! secrets = { smtp = { auth = { user = "alerts", pass = "…" } } }
//!
//! [[plugins]]
//! name = "email"
//! allow_email = true
//! ```
//!
//! The plugin's own keys:
//!
//! - `subject_prefix` (optional, default none): put before every subject,
//!   as written (end it with a space to keep it apart).
//! - `max_alerts` (optional, 1 to 1000, default 100): alerts written out
//!   in one message; the rest are counted ("… and 3 more alerts").
//!
//! The host reads the others, which the plugin never uses (it neither sees
//! the relay nor chooses recipients): `recipients` (a list) or `recipient`
//! (one address), `from` (default `perfwatch@<smtp host>`), and `smtp`:
//! `host`, `port` (default 587), `tls` (`tls`, implicit TLS, the default
//! on port 465; `starttls`, required, the default elsewhere; `none`),
//! `allow_insecure` (`tls = "none"` is refused unless the relay is on
//! loopback or this is `true`), `ca_file` (a PEM file of certificates to
//! trust besides the system's, for a relay with its own CA), `timeout_ms`
//! (default 30000), and `auth = { user, pass }`, both secret: write them
//! under `secrets`. The channel's `[[plugins]]` entry must say
//! `allow_email = true`.
//!
//! # Message
//!
//! Subject: `[FIRING:2] CRITICAL rule:cpu-high (+1 more)`: the status and
//! how many alerts fire (or how many resolved), the highest severity, the
//! first alert's rule, and how many others the message carries; one line,
//! at most 200 characters.
//!
//! The text part has the subject as its first line, then one block per
//! alert:
//!
//! ```text
//! [CRITICAL] firing: CPU above 90% for 5 minutes
//!   rule:        rule:cpu-high
//!   value:       system.cpuUsage = 97.5 (threshold 90)
//!   component:   system
//!   labels:      host="web-1"
//!   started:     2023-11-14 22:13:20 UTC
//!   description: The CPU has been busy for a while
//!   runbook:     https://wiki.example.com/cpu
//!   details:     http://127.0.0.1:8080/api/v1/alerts/history?rule=rule%3Acpu-high&start=1700000000000
//! ```
//!
//! (`resolved:` follows `started:` for a resolved alert; empty fields are
//! left out). The HTML part shows the same as a heading and a table per
//! alert. Every value in it is HTML-escaped, and only `http://` and
//! `https://` URLs become links.
//!
//! # Errors
//!
//! The host's answer is returned as it is: a relay's 5xx reply or a
//! refused recipient is permanent, a 4xx reply, a timeout or a lost
//! connection transient.

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::serde::de::IgnoredAny;
use perfwatch_sdk::{
    Alert, AlertStatus, Channel, ConfigError, ConfigInfo, DeliveryError, Notification, Severity,
    export_channel,
};

/// Longest subject, in characters: mail clients show far less, and the
/// host refuses a subject line above SMTP's 998 bytes.
const MAX_SUBJECT_CHARS: usize = 200;

/// Alerts written out in one message unless `max_alerts` says otherwise.
const DEFAULT_MAX_ALERTS: usize = 100;

/// Most alerts `max_alerts` may ask for: at about a kilobyte of HTML each,
/// a message stays far below the host's 1 MiB body limit.
const MAX_MAX_ALERTS: usize = 1000;

/// The channel's `config` table. The host's keys are accepted here and
/// left to the host; the plugin's own are checked.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    /// Put before every subject.
    #[serde(default)]
    subject_prefix: String,
    /// Alerts written out per message.
    #[serde(default = "default_max_alerts")]
    max_alerts: usize,
    /// Read by the host.
    #[serde(default)]
    recipient: Option<IgnoredAny>,
    /// Read by the host.
    #[serde(default)]
    recipients: Option<IgnoredAny>,
    /// Read by the host.
    #[serde(default)]
    from: Option<IgnoredAny>,
    /// Read by the host.
    #[serde(default)]
    smtp: Option<IgnoredAny>,
}

fn default_max_alerts() -> usize {
    DEFAULT_MAX_ALERTS
}

struct Email;

impl Channel for Email {
    fn deliver(notification: Notification) -> Result<(), DeliveryError> {
        let options: Options = perfwatch_sdk::config().map_err(DeliveryError::permanent)?;
        let subject = subject(&notification, &options.subject_prefix);
        let text = text(&notification, &subject, options.max_alerts);
        let html = html(&notification, &subject, options.max_alerts);
        perfwatch_sdk::email::send(&subject, &text, Some(&html))
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config_with::<Options>(
            config,
            &["smtp.auth.user", "smtp.auth.pass"],
            check,
        )
    }
}

export_channel!(Email);

/// What serde cannot check.
fn check(options: &Options) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    if !(1..=MAX_MAX_ALERTS).contains(&options.max_alerts) {
        problems.push(ConfigError::new(
            "max_alerts",
            format!("{} is out of range", options.max_alerts),
            format!("an integer from 1 to {MAX_MAX_ALERTS}"),
        ));
    }
    if options.subject_prefix.contains(['\r', '\n']) {
        problems.push(ConfigError::new(
            "subject_prefix",
            "it holds a line break",
            "text on one line",
        ));
    }
    if options.subject_prefix.chars().count() > MAX_SUBJECT_CHARS / 2 {
        problems.push(ConfigError::new(
            "subject_prefix",
            "it is too long",
            format!("at most {} characters", MAX_SUBJECT_CHARS / 2),
        ));
    }
    problems
}

/// `[FIRING:2] CRITICAL rule:cpu-high (+1 more)`, after `prefix`.
fn subject(notification: &Notification, prefix: &str) -> String {
    let firing = notification.status == AlertStatus::Firing;
    let (status, counted): (&str, Vec<&Alert>) = if firing {
        let firing = notification
            .alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Firing)
            .collect();
        ("FIRING", firing)
    } else {
        ("RESOLVED", notification.alerts.iter().collect())
    };
    let severity = counted
        .iter()
        .map(|a| a.severity)
        .max_by_key(|s| matches!(s, Severity::Critical))
        .map_or("", |s| severity_name(s).0);
    let mut subject = format!("{prefix}[{status}:{}] {severity}", counted.len());
    if let Some(first) = notification.alerts.first() {
        subject.push(' ');
        subject.push_str(&first.rule);
    }
    if notification.alerts.len() > 1 {
        subject.push_str(&format!(" (+{} more)", notification.alerts.len() - 1));
    }
    one_line(&subject, MAX_SUBJECT_CHARS)
}

/// `CRITICAL` and a colour for it.
fn severity_name(severity: Severity) -> (&'static str, &'static str) {
    match severity {
        Severity::Warning => ("WARNING", "#b26a00"),
        Severity::Critical => ("CRITICAL", "#b00020"),
    }
}

fn status_name(status: AlertStatus) -> &'static str {
    match status {
        AlertStatus::Firing => "firing",
        AlertStatus::Resolved => "resolved",
    }
}

/// `text` with line breaks as spaces, cut to `max_chars` characters.
fn one_line(text: &str, max_chars: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max_chars {
        return flat;
    }
    let kept: String = flat.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// The fields of an alert, as `(name, value, is a link)`, empty ones left out.
fn fields(alert: &Alert) -> Vec<(&'static str, String, bool)> {
    let subject = if alert.metric.is_empty() {
        "value".to_owned()
    } else {
        alert.metric.clone()
    };
    let labels: Vec<String> = alert
        .labels
        .iter()
        .map(|l| format!("{}={:?}", l.key, l.value))
        .collect();
    let mut fields = vec![
        ("rule", alert.rule.clone(), false),
        (
            "value",
            format!(
                "{subject} = {} (threshold {})",
                alert.value, alert.threshold
            ),
            false,
        ),
        ("component", alert.component.clone(), false),
        ("labels", labels.join(" "), false),
        ("started", utc(alert.starts_at_ms), false),
    ];
    if let Some(ends_at_ms) = alert.ends_at_ms {
        fields.push(("resolved", utc(ends_at_ms), false));
    }
    for (name, key) in [("description", "description"), ("runbook", "runbook_url")] {
        if let Some(value) = alert.annotation(key) {
            fields.push((name, value.to_owned(), key == "runbook_url"));
        }
    }
    fields.push(("details", alert.generator_url.clone(), true));
    fields.retain(|(_, value, _)| !value.is_empty());
    fields
}

/// The plain-text part.
fn text(notification: &Notification, subject: &str, max_alerts: usize) -> String {
    let mut out = format!("{subject}\n");
    for alert in notification.alerts.iter().take(max_alerts) {
        let (severity, _) = severity_name(alert.severity);
        out.push_str(&format!(
            "\n[{severity}] {}: {}\n",
            status_name(alert.status),
            alert.message.replace(['\r', '\n'], " ")
        ));
        for (name, value, _) in fields(alert) {
            let label = format!("{name}:");
            out.push_str(&format!(
                "  {label:<12} {}\n",
                value.replace(['\r', '\n'], " ")
            ));
        }
    }
    if let Some(left) = notification
        .alerts
        .len()
        .checked_sub(max_alerts)
        .filter(|n| *n > 0)
    {
        out.push_str(&format!("\n… and {left} more alerts\n"));
    }
    out
}

/// The HTML part: every value escaped, only http(s) URLs as links.
fn html(notification: &Notification, subject: &str, max_alerts: usize) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title></head>\n\
         <body style=\"font-family: sans-serif\">\n<h2>{0}</h2>\n",
        escape(subject)
    );
    for alert in notification.alerts.iter().take(max_alerts) {
        let (severity, colour) = severity_name(alert.severity);
        out.push_str(&format!(
            "<h3 style=\"color: {colour}\">[{severity}] {}: {}</h3>\n<table>\n",
            status_name(alert.status),
            escape(&alert.message)
        ));
        for (name, value, is_link) in fields(alert) {
            let shown = if is_link && is_web_url(&value) {
                format!("<a href=\"{0}\">{0}</a>", escape(&value))
            } else {
                escape(&value)
            };
            out.push_str(&format!(
                "<tr><th style=\"text-align: left; padding-right: 1em\">{name}</th><td>{shown}</td></tr>\n"
            ));
        }
        out.push_str("</table>\n");
    }
    if let Some(left) = notification
        .alerts
        .len()
        .checked_sub(max_alerts)
        .filter(|n| *n > 0)
    {
        out.push_str(&format!("<p>… and {left} more alerts</p>\n"));
    }
    out.push_str("</body></html>\n");
    out
}

fn is_web_url(text: &str) -> bool {
    text.starts_with("http://") || text.starts_with("https://")
}

/// `text` safe inside HTML elements and quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Epoch milliseconds as `2023-11-14 22:13:20 UTC`.
fn utc(ms: i64) -> String {
    let rfc3339 = perfwatch_sdk::rfc3339(ms);
    // `2023-11-14T22:13:20.000Z`: the date, the time to the second.
    format!("{} {} UTC", &rfc3339[..10], &rfc3339[11..19])
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::Label;

    fn alert(rule: &str, severity: Severity, status: AlertStatus) -> Alert {
        Alert {
            id: "alert-1".into(),
            rule: rule.into(),
            severity,
            status,
            metric: "system.cpuUsage".into(),
            value: 97.5,
            threshold: 90.0,
            message: "CPU above 90% for 5 minutes".into(),
            component: "system".into(),
            labels: vec![Label::new("host", "web-1")],
            annotations: vec![
                Label::new("description", "The CPU has been busy for a while"),
                Label::new("runbook_url", "https://wiki.example.com/cpu"),
                Label::new("summary", "CPU above 90% for 5 minutes"),
            ],
            starts_at_ms: 1_700_000_000_000,
            ends_at_ms: None,
            fingerprint: "f00d".into(),
            generator_url: "http://127.0.0.1:8080/api/v1/alerts/history?rule=rule%3Acpu-high&start=1700000000000".into(),
        }
    }

    fn notification(status: AlertStatus, alerts: Vec<Alert>) -> Notification {
        Notification {
            receiver: "email".into(),
            status,
            group_key: "{}".into(),
            group_labels: vec![],
            common_labels: vec![],
            common_annotations: vec![],
            external_url: "http://127.0.0.1:8080".into(),
            alerts,
        }
    }

    #[test]
    fn the_subject_says_status_count_severity_and_the_first_rule() {
        use AlertStatus::{Firing, Resolved};
        let two = notification(
            Firing,
            vec![
                alert("rule:cpu-high", Severity::Warning, Firing),
                alert("rule:cpu-critical", Severity::Critical, Firing),
                alert("rule:disk", Severity::Critical, Resolved),
            ],
        );
        assert_eq!(
            subject(&two, ""),
            "[FIRING:2] CRITICAL rule:cpu-high (+2 more)"
        );
        let resolved = notification(
            Resolved,
            vec![alert("rule:disk", Severity::Warning, Resolved)],
        );
        assert_eq!(
            subject(&resolved, "[perfwatch] "),
            "[perfwatch] [RESOLVED:1] WARNING rule:disk"
        );
    }

    #[test]
    fn the_subject_is_one_bounded_line() {
        let long = alert(
            &format!("script/{}\nx", "é".repeat(300)),
            Severity::Warning,
            AlertStatus::Firing,
        );
        let subject = subject(&notification(AlertStatus::Firing, vec![long]), "");
        assert!(!subject.contains('\n'), "{subject}");
        assert_eq!(subject.chars().count(), MAX_SUBJECT_CHARS, "{subject}");
        assert!(subject.ends_with('…'));
    }

    #[test]
    fn the_text_part_has_a_block_per_alert() {
        let mut resolved = alert("rule:cpu-high", Severity::Warning, AlertStatus::Resolved);
        resolved.ends_at_ms = Some(1_700_000_300_000);
        resolved.labels.clear();
        resolved.annotations.clear();
        let n = notification(
            AlertStatus::Firing,
            vec![
                alert("rule:cpu-high", Severity::Critical, AlertStatus::Firing),
                resolved,
            ],
        );
        let subject = subject(&n, "");
        assert_eq!(
            text(&n, &subject, 100),
            "[FIRING:1] CRITICAL rule:cpu-high (+1 more)\n\
             \n\
             [CRITICAL] firing: CPU above 90% for 5 minutes\n  \
             rule:        rule:cpu-high\n  \
             value:       system.cpuUsage = 97.5 (threshold 90)\n  \
             component:   system\n  \
             labels:      host=\"web-1\"\n  \
             started:     2023-11-14 22:13:20 UTC\n  \
             description: The CPU has been busy for a while\n  \
             runbook:     https://wiki.example.com/cpu\n  \
             details:     http://127.0.0.1:8080/api/v1/alerts/history?rule=rule%3Acpu-high&start=1700000000000\n\
             \n\
             [WARNING] resolved: CPU above 90% for 5 minutes\n  \
             rule:        rule:cpu-high\n  \
             value:       system.cpuUsage = 97.5 (threshold 90)\n  \
             component:   system\n  \
             started:     2023-11-14 22:13:20 UTC\n  \
             resolved:    2023-11-14 22:18:20 UTC\n  \
             details:     http://127.0.0.1:8080/api/v1/alerts/history?rule=rule%3Acpu-high&start=1700000000000\n"
        );
    }

    #[test]
    fn every_field_of_the_html_part_is_escaped() {
        let mut hostile = alert("script/<b>x</b>", Severity::Critical, AlertStatus::Firing);
        hostile.message = "<script>alert('x')</script> & \"more\"".into();
        hostile.labels = vec![Label::new("path", "</td><img src=x onerror=alert(1)>")];
        hostile.component = "<i>ui</i>".into();
        hostile.annotations = vec![
            Label::new("description", "a < b > c"),
            Label::new("runbook_url", "javascript:alert(1)"),
        ];
        hostile.generator_url = "http://h/x?a=1&b=\"2\"".into();
        let n = notification(AlertStatus::Firing, vec![hostile]);
        let html = html(&n, &subject(&n, "<prefix> "), 100);
        for raw in [
            "<script>",
            "<b>x</b>",
            "<img",
            "<i>ui",
            "a < b",
            "href=\"javascript:",
            "\"2\"",
        ] {
            assert!(!html.contains(raw), "{raw} unescaped in {html}");
        }
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;"),
            "{html}"
        );
        assert!(
            html.contains(
                "<title>&lt;prefix&gt; [FIRING:1] CRITICAL script/&lt;b&gt;x&lt;/b&gt;</title>"
            ),
            "{html}"
        );
        assert!(
            html.contains("<td>javascript:alert(1)</td>"),
            "not a link: {html}"
        );
        assert!(
            html.contains("<a href=\"http://h/x?a=1&amp;b=&quot;2&quot;\">"),
            "{html}"
        );
    }

    #[test]
    fn a_long_notification_counts_what_it_leaves_out() {
        let alerts = vec![alert("rule:cpu-high", Severity::Warning, AlertStatus::Firing); 5];
        let n = notification(AlertStatus::Firing, alerts);
        let text = text(&n, "s", 2);
        assert_eq!(text.matches("[WARNING] firing").count(), 2);
        assert!(text.ends_with("\n… and 3 more alerts\n"), "{text}");
        let html = html(&n, "s", 2);
        assert_eq!(html.matches("<table>").count(), 2);
        assert!(html.contains("<p>… and 3 more alerts</p>"), "{html}");
    }

    #[test]
    fn config_takes_the_hosts_keys_and_checks_its_own() {
        let config = r#"{"recipients": ["ops@example.com"], "from": "pw@example.com",
            "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "none", "auth": {"user": "u", "pass": "p"}},
            "subject_prefix": "[pw] ", "max_alerts": 10}"#;
        assert_eq!(
            Email::validate_config(config),
            Ok(ConfigInfo::with_secret_keys(&[
                "smtp.auth.user",
                "smtp.auth.pass"
            ]))
        );
        let options: Options = perfwatch_sdk::parse_config(config).unwrap();
        assert_eq!(
            (options.subject_prefix.as_str(), options.max_alerts),
            ("[pw] ", 10)
        );
        let problems = |json: &str| -> Vec<String> {
            Email::validate_config(json)
                .unwrap_err()
                .into_iter()
                .map(|e| e.key)
                .collect()
        };
        assert_eq!(
            problems(r#"{"max_alerts": 0, "subject_prefix": "a\nb"}"#),
            ["max_alerts", "subject_prefix"]
        );
        assert_eq!(problems(r#"{"recipent": "ops@example.com"}"#), ["recipent"]);
    }

    #[test]
    fn natively_there_is_no_host_to_send_through() {
        let n = notification(
            AlertStatus::Firing,
            vec![alert(
                "rule:cpu-high",
                Severity::Warning,
                AlertStatus::Firing,
            )],
        );
        assert_eq!(
            Email::deliver(n),
            Err(DeliveryError::permanent(perfwatch_sdk::email::NO_HOST))
        );
    }
}
