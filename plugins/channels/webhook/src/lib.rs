//! The webhook alert channel: sends each notification as one JSON request, in Alertmanager's webhook format (version 4) or perfwatch's own, optionally signed with HMAC-SHA256.
//!
//! # Config
//!
//! ```toml
//! [[alerting.channels]]
//! type = "webhook"
//! name = "ops-hook"             # optional; the `receiver`; default "webhook"
//! [alerting.channels.config]
//! url = "https://hooks.example.com/perfwatch/T0KEN"   # required; secret
//! format = "alertmanager"       # or "perfwatch"; default "alertmanager"
//! method = "POST"               # "POST", "PUT" or "PATCH"; default "POST"
//! timeout_ms = 5000             # 1 to 60000; default and ceiling: the call's deadline
//! max_alerts = 0                # alerts per request, 0 for all; default 0
//! [alerting.channels.secrets]   # merged into config, for this channel alone
//! headers = { Authorization = "Bearer T0KEN" }          # optional; values secret
//! signing_secret = "s3cret"     # optional; secret
//! ```
//!
//! Any key may be written in `config` or `secrets`. `url`, every header
//! value and `signing_secret` are secrets: the plugin names them in
//! `validate-config`, so the host redacts them wherever it shows the
//! config, and no error of this plugin quotes them. The host lets the
//! channel reach its URL's origin only. Every request must finish within the plugin call's
//! deadline, `limits.call_timeout_ms` of a `[[plugins]] name = "webhook"`
//! entry (10 s by default for channels); a longer `timeout_ms` is cut to it.
//!
//! # Request
//!
//! `<method> <url>` with `content-type: application/json` (unless
//! `headers` sets one), the configured headers, and, with
//! `signing_secret`, `X-Perfwatch-Signature: sha256=<hex>`: HMAC-SHA256 of
//! the exact body bytes under the secret, as GitHub signs its webhooks. A
//! receiver recomputes it over the raw body before parsing and compares in
//! constant time.
//!
//! ## `format = "alertmanager"`
//!
//! Alertmanager's webhook payload, version 4, so anything that takes
//! Alertmanager webhooks takes perfwatch's:
//!
//! ```json
//! {"version": "4", "groupKey": "{rule=\"rule:latency\"}", "truncatedAlerts": 0,
//!  "status": "firing", "receiver": "ops-hook",
//!  "groupLabels": {"rule": "rule:latency"},
//!  "commonLabels": {"alertname": "rule:latency", "component": "agents", "rule": "rule:latency", ...},
//!  "commonAnnotations": {"summary": "..."}, "externalURL": "http://perfwatch.local:8080",
//!  "alerts": [{"status": "firing",
//!              "labels": {"agent": "coder-1", "alertname": "rule:latency", "component": "agents",
//!                         "metric": "agents.avgResponseTime", "rule": "rule:latency", "severity": "critical"},
//!              "annotations": {"summary": "Agent latency: 2500 ms (threshold: 2000 ms)"},
//!              "startsAt": "2023-11-14T22:13:20.000Z", "endsAt": "0001-01-01T00:00:00Z",
//!              "generatorURL": "http://perfwatch.local:8080/api/v1/alerts/history?rule=rule%3Alatency&start=1700000000000",
//!              "fingerprint": "5c4c0f5d3d2b1a09"}]}
//! ```
//!
//! - `receiver` is the channel's name, `groupKey` and `groupLabels` the
//!   host's grouping (`[alerting] group_by`).
//! - An alert's `labels` are its series' labels plus its own: `alertname`
//!   and `rule` (both the rule's id, such as `rule:latency` or
//!   `threshold:system.cpuUsage`: the id is what is unique, and
//!   Alertmanager consumers key on `alertname`), `severity` (`warning` or
//!   `critical`), and `component` and `metric` when not empty. The alert's
//!   own win over series labels of the same name, as in the host's
//!   grouping. `commonLabels` are the labels every alert shares, with
//!   `alertname` beside `rule`.
//! - `annotations` are `summary` (the alert's sentence) and, when the rule
//!   has them, `description` and `runbook_url`.
//! - `startsAt` and `endsAt` are RFC 3339 UTC with milliseconds; `endsAt`
//!   is `0001-01-01T00:00:00Z` while the alert fires, as Alertmanager
//!   writes it.
//! - `fingerprint` identifies the (rule, series) across firings and
//!   restarts; deduplicate on it.
//!
//! ## `format = "perfwatch"`
//!
//! Always one object, whatever the number of alerts, whose `alerts` are the
//! original system's `PerformanceAlert`s with the series' labels added:
//!
//! ```json
//! {"receiver": "ops-hook", "status": "resolved", "groupKey": "{}", "truncatedAlerts": 0,
//!  "alerts": [{"id": "alert-…", "timestamp": 1700000000000, "severity": "critical",
//!              "metric": "agents.avgResponseTime", "value": 2500.0, "threshold": 2000.0,
//!              "message": "Agent latency: 2500 ms (threshold: 2000 ms)", "component": "agents",
//!              "resolved": true, "resolvedAt": 1700000060000, "labels": {"agent": "coder-1"}}]}
//! ```
//!
//! `timestamp` (when it started firing) and `resolvedAt` are epoch
//! milliseconds, as in the original; `resolvedAt` is absent while firing.
//!
//! # Limits and retries
//!
//! `max_alerts` keeps the first alerts of a notification and counts the
//! rest in `truncatedAlerts` (both formats). Any 2xx answer is delivered.
//! 429 (and 503 with `Retry-After`) is retried after the time
//! `Retry-After` asks for; other 4xx answers are permanent (never
//! retried); 5xx answers, timeouts and failed connections are transient
//! (retried with backoff by the host). The same notification may arrive
//! twice after a timeout: deduplicate on `groupKey` and the alerts'
//! `fingerprint` and `status`.

mod config;
mod payload;
mod signature;

use perfwatch_sdk::http::Request;
use perfwatch_sdk::{
    Channel, ConfigError, ConfigInfo, DeliveryError, Notification, export_channel,
};

use config::{Options, SIGNATURE_HEADER};

struct Webhook;

impl Channel for Webhook {
    fn deliver(notification: Notification) -> Result<(), DeliveryError> {
        let options: Options = perfwatch_sdk::config().map_err(DeliveryError::permanent)?;
        let response = request(&options, &notification).send()?;
        DeliveryError::check_response(&response)
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        config::validate(config)
    }
}

export_channel!(Webhook);

/// The request that delivers `notification` as `options` say.
fn request(options: &Options, notification: &Notification) -> Request {
    let body = payload::render(notification, options.format, options.max_alerts);
    let mut request = Request::new(options.method.as_str(), options.url.as_str());
    if !options
        .headers
        .keys()
        .any(|name| name.eq_ignore_ascii_case("content-type"))
    {
        request = request.header("content-type", "application/json");
    }
    for (name, value) in &options.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(secret) = &options.signing_secret {
        request = request.header(SIGNATURE_HEADER, signature::sign(secret, &body));
    }
    if let Some(timeout_ms) = options.timeout_ms {
        request = request.timeout_ms(timeout_ms);
    }
    request.body(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::{Alert, AlertStatus, Severity};

    fn notification() -> Notification {
        Notification {
            receiver: "webhook".into(),
            status: AlertStatus::Firing,
            group_key: "{}".into(),
            group_labels: vec![],
            common_labels: vec![],
            common_annotations: vec![],
            external_url: "http://perfwatch.local".into(),
            alerts: vec![Alert {
                id: "alert-1".into(),
                rule: "rule:latency".into(),
                severity: Severity::Warning,
                status: AlertStatus::Firing,
                metric: "e2e.latency".into(),
                value: 500.0,
                threshold: 100.0,
                message: "latency".into(),
                component: "e2e".into(),
                labels: vec![],
                annotations: vec![],
                starts_at_ms: 1_700_000_000_000,
                ends_at_ms: None,
                fingerprint: "f".into(),
                generator_url: String::new(),
            }],
        }
    }

    fn header<'a>(request: &'a Request, name: &str) -> Vec<&'a str> {
        request
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
            .collect()
    }

    #[test]
    fn a_default_request_is_an_unsigned_json_post() {
        let options: Options =
            perfwatch_sdk::parse_config(r#"{"url": "http://127.0.0.1:9/hook"}"#).unwrap();
        let request = request(&options, &notification());
        assert_eq!(request.method, "POST");
        assert_eq!(request.url, "http://127.0.0.1:9/hook");
        assert_eq!(header(&request, "content-type"), ["application/json"]);
        assert!(header(&request, SIGNATURE_HEADER).is_empty());
        assert_eq!(request.timeout_ms, None);
        assert_eq!(
            request.body,
            payload::render(&notification(), config::Format::Alertmanager, 0)
        );
    }

    #[test]
    fn options_shape_the_request_and_the_signature_covers_the_body_sent() {
        let options: Options = perfwatch_sdk::parse_config(
            r#"{"url": "http://127.0.0.1:9/hook", "method": "PUT", "timeout_ms": 1500,
                "headers": {"Authorization": "Bearer t", "Content-Type": "application/vnd.alerts+json"},
                "signing_secret": "k", "format": "perfwatch"}"#,
        )
        .unwrap();
        let request = request(&options, &notification());
        assert_eq!(request.method, "PUT");
        assert_eq!(request.timeout_ms, Some(1500));
        assert_eq!(
            header(&request, "content-type"),
            ["application/vnd.alerts+json"]
        );
        assert_eq!(header(&request, "authorization"), ["Bearer t"]);
        assert_eq!(
            header(&request, SIGNATURE_HEADER),
            [signature::sign("k", &request.body).as_str()]
        );
        assert!(String::from_utf8_lossy(&request.body).contains("\"resolved\":false"));
    }

    #[test]
    fn natively_delivery_fails_permanently_without_a_host() {
        // `config()` sees `{}` natively, which lacks `url`.
        assert!(matches!(
            Webhook::deliver(notification()),
            Err(DeliveryError::Permanent(_))
        ));
    }
}
