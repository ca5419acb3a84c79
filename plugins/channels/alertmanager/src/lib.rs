//! The Alertmanager alert channel: pushes each notification's alerts to a Prometheus Alertmanager's `POST /api/v2/alerts`, the way Prometheus itself does, so Alertmanager routes, groups, silences and inhibits them.
//!
//! # Config
//!
//! ```toml
//! [[alerting.channels]]
//! type = "alertmanager"
//! config = { url = "http://127.0.0.1:9093", resend_interval_ms = 60000, timeout_ms = 5000 }
//! secrets = { headers = { Authorization = "Bearer …" } }   # optional
//! ```
//!
//! - `url` (required): Alertmanager's base URL, `http://` or `https://`,
//!   with its `--web.route-prefix` if it has one; alerts go to
//!   `<url>/api/v2/alerts`. Credentials do not belong in it (they would be
//!   shown by the API): put them in `headers`. The host grants the plugin
//!   this URL's origin because the channel's config names it.
//! - `resend_interval_ms` (optional, 1000 to 86400000, default 60000 as in
//!   Prometheus): the host re-delivers the channel's firing alerts this often,
//!   and each firing alert is pushed with `endsAt` four intervals ahead. So
//!   Alertmanager keeps an alert firing while perfwatch re-sends it, and
//!   resolves it by itself about four intervals after perfwatch stops (a
//!   crash, a lost network) rather than showing it firing forever. The
//!   host and the plugin must agree on it: the host re-sends a channel's
//!   alerts only when its config sets the key, or, with the same 60000
//!   default, when its type is `alertmanager`.
//! - `timeout_ms` (optional): how long one push may take; unset, whatever
//!   is left of the plugin call's deadline.
//! - `headers` (optional, secret): extra request headers, for an
//!   Alertmanager behind an authenticating proxy. Every value is redacted
//!   wherever the host shows the config; write them under `secrets`.
//!
//! # Payload
//!
//! One JSON array of Alertmanager `postableAlert`s per notification, one
//! per alert:
//!
//! ```json
//! [{
//!   "labels": {"alertname": "rule:latency", "severity": "critical", "component": "queries",
//!              "metric": "queries.avgResponseTime", "agent": "coder-1"},
//!   "annotations": {"summary": "Query Response Time: 2500 ms (threshold: 2000 ms)",
//!                   "description": "…", "runbook_url": "https://wiki.example.com/latency"},
//!   "startsAt": "2023-11-14T22:13:20.000Z",
//!   "endsAt": "2023-11-14T22:17:20.000Z",
//!   "generatorURL": "http://127.0.0.1:8080/api/v1/alerts/history?rule=rule%3Alatency&start=1700000000000"
//! }]
//! ```
//!
//! - `labels`: the series' labels, then the alert's own, which win on a
//!   clash: `alertname` (the perfwatch rule, as silences and the API name
//!   it: `rule:<id>`, `threshold:<metric>`, `<script>/<alert>`),
//!   `severity` (`warning` or `critical`), `component`, and `metric` (left
//!   out when empty). Labels with empty values are left out, as
//!   Alertmanager treats them as absent.
//! - `annotations`: `summary` (the alert's sentence), and `description`
//!   and `runbook_url` when the rule gives them.
//! - `startsAt`: when the alert started firing. `endsAt`: when it resolved;
//!   while firing, now plus four `resend_interval_ms` (see above).
//! - `generatorURL`: the alert's history in the perfwatch API.
//!
//! Alertmanager identifies an alert by its labels, so pushing the same
//! alert again (a retry, a re-send) only refreshes it.
//!
//! # Errors
//!
//! A 2xx answer is delivered. A 4xx answer (Alertmanager's 400 for an alert
//! it refuses) is permanent; a 5xx, a timeout or a failed connection is
//! transient, retried by the host with backoff; a 429 or a 503 with
//! `Retry-After` is retried after the time asked for.

use std::collections::BTreeMap;

use perfwatch_sdk::http::Request;
use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::serde_json::{Map, Value, json};
use perfwatch_sdk::{
    Alert, AlertStatus, Channel, ConfigError, ConfigInfo, DeliveryError, Notification, Severity,
    export_channel,
};

/// Alertmanager's endpoint for pushed alerts, under its base URL.
const ALERTS_PATH: &str = "/api/v2/alerts";

/// How many re-send intervals a firing alert stays valid in Alertmanager
/// without being pushed again: Prometheus' factor, which lets three
/// re-sends in a row be lost before Alertmanager resolves the alert.
const VALID_FOR_RESENDS: i64 = 4;

/// Shortest re-send interval: faster re-sends only load Alertmanager.
const MIN_RESEND_INTERVAL_MS: u64 = 1_000;

/// Longest re-send interval: an alert of a perfwatch that stopped then stays
/// firing in Alertmanager for at most four days.
const MAX_RESEND_INTERVAL_MS: u64 = 86_400_000;

/// The channel's `config` table (`[[alerting.channels]] config`, with its
/// `secrets` merged in).
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    /// Alertmanager's base URL.
    url: String,
    /// Milliseconds between two re-sends of a firing alert by the host;
    /// the host's default for this channel type when unset.
    #[serde(default = "default_resend_interval_ms")]
    resend_interval_ms: u64,
    /// Timeout of one push, in milliseconds.
    #[serde(default)]
    timeout_ms: Option<u32>,
    /// Extra request headers; secret.
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// The host re-sends an `alertmanager` channel's firing alerts every
/// minute when its config says nothing, as Prometheus does; the two must
/// agree, so `endsAt` stays ahead of the next re-send.
fn default_resend_interval_ms() -> u64 {
    60_000
}

struct Alertmanager;

impl Channel for Alertmanager {
    fn deliver(notification: Notification) -> Result<(), DeliveryError> {
        let options: Options = perfwatch_sdk::config().map_err(DeliveryError::permanent)?;
        let alerts = postable_alerts(
            &notification,
            perfwatch_sdk::now_ms(),
            options.resend_interval_ms,
        );
        let mut request = Request::post(endpoint(&options.url)).json(&alerts)?;
        if let Some(timeout_ms) = options.timeout_ms {
            request = request.timeout_ms(timeout_ms);
        }
        for (name, value) in &options.headers {
            request = request.header(name, value);
        }
        let response = request.send()?;
        DeliveryError::check_response(&response)?;
        perfwatch_sdk::debug!(
            "pushed {} alerts of {} to Alertmanager",
            notification.alerts.len(),
            notification.group_key
        );
        Ok(())
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config_with::<Options>(config, &["headers.*"], check)
    }
}

export_channel!(Alertmanager);

/// What serde cannot check: the URL's form and the interval's range.
fn check(options: &Options) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    let url = perfwatch_sdk::http::check_url("url", &options.url).and_then(|()| {
        check_base_url(&options.url).map_err(|problem| {
            ConfigError::new(
                "url",
                problem,
                "Alertmanager's base URL, such as http://127.0.0.1:9093",
            )
        })
    });
    problems.extend(url.err());
    if !(MIN_RESEND_INTERVAL_MS..=MAX_RESEND_INTERVAL_MS).contains(&options.resend_interval_ms) {
        problems.push(ConfigError::new(
            "resend_interval_ms",
            format!("{} is out of range", options.resend_interval_ms),
            format!(
                "milliseconds from {MIN_RESEND_INTERVAL_MS} to {MAX_RESEND_INTERVAL_MS} (Prometheus re-sends every 60000)"
            ),
        ));
    }
    if options.headers.keys().any(|name| name.trim().is_empty()) {
        problems.push(ConfigError::new(
            "headers",
            "a header name is empty",
            "header names such as Authorization",
        ));
    }
    problems
}

/// Why an http(s) URL with a host cannot be Alertmanager's base URL. The
/// URL is not quoted: a mistaken one may hold a token.
fn check_base_url(url: &str) -> Result<(), &'static str> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("it holds credentials; put them in `headers` (under `secrets`)");
    }
    if rest.contains(['?', '#']) {
        return Err("it has a query or a fragment");
    }
    Ok(())
}

/// `<url>/api/v2/alerts`, with one slash between the two.
fn endpoint(url: &str) -> String {
    format!("{}{ALERTS_PATH}", url.trim_end_matches('/'))
}

/// The request body: one `postableAlert` per alert of `notification`.
fn postable_alerts(notification: &Notification, now_ms: i64, resend_interval_ms: u64) -> Value {
    let valid_for_ms = VALID_FOR_RESENDS.saturating_mul(resend_interval_ms as i64);
    let alerts: Vec<Value> = notification
        .alerts
        .iter()
        .map(|alert| postable_alert(alert, now_ms.saturating_add(valid_for_ms)))
        .collect();
    Value::Array(alerts)
}

/// One alert as Alertmanager takes it; a firing alert ends at `valid_until_ms`
/// unless pushed again.
fn postable_alert(alert: &Alert, valid_until_ms: i64) -> Value {
    let ends_at_ms = match alert.status {
        AlertStatus::Firing => valid_until_ms,
        AlertStatus::Resolved => alert.ends_at_ms.unwrap_or(valid_until_ms),
    };
    let annotations: Map<String, Value> = alert
        .annotations
        .iter()
        .filter(|annotation| !annotation.value.is_empty())
        .map(|annotation| {
            (
                annotation.key.clone(),
                Value::from(annotation.value.as_str()),
            )
        })
        .collect();
    let mut postable = json!({
        "labels": labels(alert),
        "annotations": annotations,
        "startsAt": perfwatch_sdk::rfc3339(alert.starts_at_ms),
        "endsAt": perfwatch_sdk::rfc3339(ends_at_ms),
    });
    // Alertmanager refuses a generatorURL that is not an absolute URI.
    if alert.generator_url.starts_with("http://") || alert.generator_url.starts_with("https://") {
        postable["generatorURL"] = Value::from(alert.generator_url.as_str());
    }
    postable
}

/// The series' labels, then the alert's own over them; empty values left out.
fn labels(alert: &Alert) -> Map<String, Value> {
    let severity = match alert.severity {
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    };
    let mut labels: BTreeMap<&str, &str> = alert
        .labels
        .iter()
        .map(|label| (label.key.as_str(), label.value.as_str()))
        .collect();
    labels.insert("alertname", &alert.rule);
    labels.insert("severity", severity);
    labels.insert("component", &alert.component);
    labels.insert("metric", &alert.metric);
    labels
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| (name.to_owned(), Value::from(value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::Label;

    const NOW: i64 = 1_700_000_060_000;

    fn alert() -> Alert {
        Alert {
            id: "alert-0123456789abcdef".into(),
            rule: "rule:latency".into(),
            severity: Severity::Critical,
            status: AlertStatus::Firing,
            metric: "queries.avgResponseTime".into(),
            value: 2500.0,
            threshold: 2000.0,
            message: "Query Response Time: 2500 ms (threshold: 2000 ms)".into(),
            component: "queries".into(),
            labels: vec![Label::new("agent", "coder-1")],
            annotations: vec![
                Label::new("runbook_url", "https://wiki.example.com/latency"),
                Label::new(
                    "summary",
                    "Query Response Time: 2500 ms (threshold: 2000 ms)",
                ),
            ],
            starts_at_ms: 1_700_000_000_000,
            ends_at_ms: None,
            fingerprint: "77e8644d529b507f".into(),
            generator_url: "http://127.0.0.1:8080/api/v1/alerts/history?rule=rule%3Alatency&start=1700000000000".into(),
        }
    }

    fn notification(alerts: Vec<Alert>) -> Notification {
        Notification {
            receiver: "alertmanager".into(),
            status: AlertStatus::Firing,
            group_key: "{}".into(),
            group_labels: vec![],
            common_labels: vec![],
            common_annotations: vec![],
            external_url: "http://127.0.0.1:8080".into(),
            alerts,
        }
    }

    #[test]
    fn a_firing_alert_is_valid_for_four_resend_intervals() {
        assert_eq!(
            postable_alerts(&notification(vec![alert()]), NOW, 60_000),
            json!([{
                "labels": {
                    "agent": "coder-1",
                    "alertname": "rule:latency",
                    "component": "queries",
                    "metric": "queries.avgResponseTime",
                    "severity": "critical",
                },
                "annotations": {
                    "runbook_url": "https://wiki.example.com/latency",
                    "summary": "Query Response Time: 2500 ms (threshold: 2000 ms)",
                },
                "startsAt": "2023-11-14T22:13:20.000Z",
                "endsAt": "2023-11-14T22:18:20.000Z",
                "generatorURL": "http://127.0.0.1:8080/api/v1/alerts/history?rule=rule%3Alatency&start=1700000000000",
            }])
        );
    }

    #[test]
    fn a_resolved_alert_ends_when_it_resolved() {
        let resolved = Alert {
            status: AlertStatus::Resolved,
            ends_at_ms: Some(1_700_000_030_500),
            ..alert()
        };
        let body = postable_alerts(&notification(vec![alert(), resolved]), NOW, 60_000);
        assert_eq!(body[1]["endsAt"], "2023-11-14T22:13:50.500Z");
        assert_eq!(body[0]["endsAt"], "2023-11-14T22:18:20.000Z");
    }

    #[test]
    fn the_alerts_own_labels_win_and_empty_ones_are_left_out() {
        let script = Alert {
            rule: "agents/stalled".into(),
            severity: Severity::Warning,
            metric: String::new(),
            labels: vec![
                Label::new("severity", "info"),
                Label::new("alertname", "mine"),
                Label::new("team", ""),
            ],
            annotations: vec![
                Label::new("summary", "2 agents stalled"),
                Label::new("description", ""),
            ],
            generator_url: String::new(),
            ..alert()
        };
        let body = postable_alert(&script, NOW);
        assert_eq!(
            body,
            json!({
                "labels": {"alertname": "agents/stalled", "component": "queries", "severity": "warning"},
                "annotations": {"summary": "2 agents stalled"},
                "startsAt": "2023-11-14T22:13:20.000Z",
                "endsAt": "2023-11-14T22:14:20.000Z",
            }),
            "no generatorURL without an absolute link"
        );
    }

    #[test]
    fn the_endpoint_keeps_a_route_prefix() {
        assert_eq!(
            endpoint("http://127.0.0.1:9093"),
            "http://127.0.0.1:9093/api/v2/alerts"
        );
        assert_eq!(
            endpoint("https://am.example.com/alertmanager/"),
            "https://am.example.com/alertmanager/api/v2/alerts"
        );
    }

    #[test]
    fn config_names_headers_secret() {
        assert_eq!(
            perfwatch_sdk::parse_config(
                r#"{"url": "http://127.0.0.1:9093", "resend_interval_ms": 60000}"#
            ),
            Ok(Options {
                url: "http://127.0.0.1:9093".into(),
                resend_interval_ms: 60_000,
                timeout_ms: None,
                headers: BTreeMap::new(),
            })
        );
        assert_eq!(
            Alertmanager::validate_config(
                r#"{"url": "https://am.example.com", "resend_interval_ms": 30000, "timeout_ms": 5000, "headers": {"Authorization": "Bearer t"}}"#
            ),
            Ok(ConfigInfo::with_secret_keys(&["headers.*"]))
        );
    }

    #[test]
    fn config_mistakes_are_named() {
        let problems = |json: &str| -> Vec<(String, String)> {
            Alertmanager::validate_config(json)
                .unwrap_err()
                .into_iter()
                .map(|e| (e.key, e.problem))
                .collect()
        };
        assert!(
            Alertmanager::validate_config(r#"{"url": "http://127.0.0.1:9093"}"#).is_ok(),
            "the re-send interval defaults to the host's minute"
        );
        assert_eq!(
            perfwatch_sdk::parse_config::<Options>(r#"{"url": "http://127.0.0.1:9093"}"#)
                .map(|o| o.resend_interval_ms),
            Ok(60_000)
        );
        assert_eq!(
            problems(r#"{"url": "127.0.0.1:9093", "resend_interval_ms": 100}"#),
            [
                (
                    "url".to_owned(),
                    "the URL does not start with http:// or https://".to_owned()
                ),
                (
                    "resend_interval_ms".to_owned(),
                    "100 is out of range".to_owned()
                ),
            ]
        );
        assert_eq!(
            problems(r#"{"url": "http://am:secret@10.0.0.1:9093", "resend_interval_ms": 60000}"#),
            [(
                "url".to_owned(),
                "it holds credentials; put them in `headers` (under `secrets`)".to_owned()
            )]
        );
        assert_eq!(
            problems(r#"{"url": "http://10.0.0.1:9093/?x=1", "resend_interval_ms": 60000}"#),
            [("url".to_owned(), "it has a query or a fragment".to_owned())]
        );
        assert_eq!(
            problems(r#"{"url": "http:///api", "resend_interval_ms": 60000}"#),
            [("url".to_owned(), "the URL has no host".to_owned())]
        );
        assert_eq!(
            problems(r#"{"url": "http://a", "resend_interval_ms": 60000, "resend": 1}"#)[0].0,
            "resend"
        );
    }

    #[test]
    fn natively_there_is_no_host_to_push_through() {
        let error = Alertmanager::deliver(notification(vec![alert()])).unwrap_err();
        assert!(!error.is_retried(), "{error:?}");
    }
}
