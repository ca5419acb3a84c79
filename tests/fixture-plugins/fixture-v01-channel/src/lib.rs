//! Test fixture: an alert channel built against the frozen `perfwatch:plugin@0.1.0` with wit-bindgen directly (no SDK), so host tests can check that 0.1 channels still deliver through the adapter: it POSTs every alert it gets, as JSON, to the `url` of its config.
//!
//! Config, as a `webhook` channel's: `{ url = "http://127.0.0.1:PORT/alerts", headers = { … } }`;
//! `headers` is optional and sent with every request.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

wit_bindgen::generate!({
    path: "../../../wit/deps/perfwatch-plugin@0.1.0",
    world: "perfwatch:plugin/channel@0.1.0",
});

use exports::perfwatch::plugin::channel_api::Guest;
use perfwatch::plugin::http::{Header, Request};
use perfwatch::plugin::types::{Alert, AlertStatus, Severity};

/// The fixture's config table.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// Where each alert is POSTed.
    url: String,
    /// Extra request headers.
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// The JSON body: the 0.1 alert record, field for field.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    id: &'a str,
    rule: &'a str,
    severity: &'static str,
    status: &'static str,
    metric: &'a str,
    value: f64,
    threshold: f64,
    message: &'a str,
    component: &'a str,
    labels: BTreeMap<&'a str, &'a str>,
    timestamp_ms: i64,
}

struct V01Channel;

impl Guest for V01Channel {
    fn deliver(alert: Alert) -> Result<(), String> {
        let options: Options = serde_json::from_str(&perfwatch::plugin::host::config())
            .map_err(|err| format!("invalid fixture-v01-channel config: {err}"))?;
        let response = perfwatch::plugin::http::send(&request(&options, &alert)?)
            .map_err(|err| format!("POST to the fixture's url failed: {err:?}"))?;
        if (200..300).contains(&response.status) {
            Ok(())
        } else {
            Err(format!(
                "the fixture's url answered HTTP {}",
                response.status
            ))
        }
    }
}

// Wasm only, as in fixture-v01-collector.
#[cfg(target_arch = "wasm32")]
export!(V01Channel);

/// The POST that delivers `alert`.
fn request(options: &Options, alert: &Alert) -> Result<Request, String> {
    let body = Body {
        id: &alert.id,
        rule: &alert.rule,
        severity: match alert.severity {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        },
        status: match alert.status {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        },
        metric: &alert.metric,
        value: alert.value,
        threshold: alert.threshold,
        message: &alert.message,
        component: &alert.component,
        labels: alert
            .labels
            .iter()
            .map(|label| (label.key.as_str(), label.value.as_str()))
            .collect(),
        timestamp_ms: alert.timestamp_ms,
    };
    let mut headers = vec![Header {
        name: "content-type".into(),
        value: "application/json".into(),
    }];
    headers.extend(options.headers.iter().map(|(name, value)| Header {
        name: name.clone(),
        value: value.clone(),
    }));
    Ok(Request {
        method: "POST".into(),
        url: options.url.clone(),
        headers,
        body: serde_json::to_vec(&body).map_err(|err| err.to_string())?,
        timeout_ms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch::plugin::types::Label;

    #[test]
    fn posts_the_alert_as_json_with_the_configured_headers() {
        let options: Options = serde_json::from_str(
            r#"{"url": "http://127.0.0.1:9000/alerts", "headers": {"x-token": "t"}}"#,
        )
        .unwrap();
        let alert = Alert {
            id: "cpu/1".into(),
            rule: "cpu-high".into(),
            severity: Severity::Critical,
            status: AlertStatus::Firing,
            metric: "system.cpuUsage".into(),
            value: 97.5,
            threshold: 90.0,
            message: "CPU above 90%".into(),
            component: "system".into(),
            labels: vec![Label {
                key: "host".into(),
                value: "web-1".into(),
            }],
            timestamp_ms: 1_700_000_000_000,
        };
        let request = request(&options, &alert).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.url, "http://127.0.0.1:9000/alerts");
        assert_eq!(request.headers.len(), 2);
        assert_eq!(request.headers[1].name, "x-token");
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "id": "cpu/1", "rule": "cpu-high", "severity": "critical", "status": "firing",
                "metric": "system.cpuUsage", "value": 97.5, "threshold": 90.0,
                "message": "CPU above 90%", "component": "system", "labels": {"host": "web-1"},
                "timestampMs": 1_700_000_000_000_i64
            })
        );
    }

    #[test]
    fn config_needs_a_url() {
        assert!(serde_json::from_str::<Options>("{}").is_err());
    }
}
