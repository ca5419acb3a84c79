//! The http-probe collector: requests each configured URL once per tick and reports whether it answered, with what status, and how fast.
//!
//! # Config
//!
//! ```toml
//! [[plugins]]
//! name = "http-probe"
//! allow_http = ["http://127.0.0.1:8080", "https://status.example.com"]
//! # Probes run one after another: leave room for every target's timeout.
//! limits = { call_timeout_ms = 2500 }
//!
//! [plugins.config]
//! timeout_ms = 1000
//! targets = [
//!   { name = "api", url = "http://127.0.0.1:8080/health" },
//!   { name = "status-page", url = "https://status.example.com/", method = "HEAD", expect_status = 200 },
//! ]
//! ```
//!
//! - `targets`: what to probe. `name` labels the target's samples and must
//!   be unique; `url` is an `http://` or `https://` URL; `method` is `GET`
//!   (default), `HEAD`, `POST`, `PUT`, `PATCH` or `DELETE`; `expect_status`
//!   is the one status that counts as up (default: any 2xx or 3xx).
//! - `timeout_ms`: how long one probe may take (default 500). The probes of
//!   a tick share one call deadline (`limits.call_timeout_ms`, 1000 ms
//!   unless raised), so keep it above targets × `timeout_ms`: a probe that
//!   starts after the deadline is spent times out at once and reads as down.
//!
//! # Metrics
//!
//! Per target, labelled `target`: `probe.up` (1 when the expected status
//! came back, else 0), and when any response came back
//! `system.networkLatency` (ms from request to the end of the body) and
//! `probe.status` (the HTTP status). A failed probe is data, not an error:
//! only a config mistake fails the call. A target going down is logged at
//! WARN with the reason, and coming back at INFO.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use perfwatch_sdk::http::{self, HttpError, Request, Response};
use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{Collector, Sample, export_collector};

/// Default `timeout_ms`: two slow targets fit in the host's default
/// 1000 ms call deadline, and a local service slower than this is worth
/// reporting as down.
const DEFAULT_TIMEOUT_MS: u32 = 500;

/// Methods the host's `http` interface accepts.
const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// The plugin's `config` table.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    /// Endpoints to probe, in order.
    targets: Vec<Target>,
    /// Timeout of one probe, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u32,
}

fn default_timeout_ms() -> u32 {
    DEFAULT_TIMEOUT_MS
}

/// One `targets` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Target {
    /// Value of the `target` label.
    name: String,
    /// What to request.
    url: String,
    /// HTTP method.
    #[serde(default = "default_method")]
    method: String,
    /// The status that counts as up; `None` accepts any 2xx or 3xx.
    #[serde(default)]
    expect_status: Option<u16>,
}

fn default_method() -> String {
    "GET".to_owned()
}

impl Options {
    /// Checks what serde cannot; errors name the config key.
    fn check(&self) -> Result<(), String> {
        if self.targets.is_empty() {
            return Err(
                "invalid plugin config key `targets`: empty, so there is nothing to probe"
                    .to_owned(),
            );
        }
        let mut names = BTreeSet::new();
        for (index, target) in self.targets.iter().enumerate() {
            let at = |key: &str, problem: String| {
                format!("invalid plugin config key `targets[{index}].{key}`: {problem}")
            };
            if target.name.is_empty() {
                return Err(at("name", "empty name".to_owned()));
            }
            if !names.insert(target.name.as_str()) {
                return Err(at(
                    "name",
                    format!(
                        "{:?} names another target too; names label the series, so they must differ",
                        target.name
                    ),
                ));
            }
            if !(target.url.starts_with("http://") || target.url.starts_with("https://")) {
                return Err(at(
                    "url",
                    format!("{:?} is not an http:// or https:// URL", target.url),
                ));
            }
            if !METHODS.contains(&target.method.as_str()) {
                return Err(at(
                    "method",
                    format!("{:?} is not one of {}", target.method, METHODS.join(", ")),
                ));
            }
            if let Some(status) = target.expect_status
                && !(100..=599).contains(&status)
            {
                return Err(at(
                    "expect_status",
                    format!("{status} is not an HTTP status (100 to 599)"),
                ));
            }
        }
        Ok(())
    }
}

/// What one probe found.
#[derive(Debug, PartialEq)]
struct Probe {
    samples: Vec<Sample>,
    /// Why the target counts as down; `None` when it is up.
    down_because: Option<String>,
}

/// Whether each target was up at its last probe, so that only changes are
/// logged above DEBUG. Bounded by the configured targets.
static LAST_UP: Mutex<BTreeMap<String, bool>> = Mutex::new(BTreeMap::new());

struct HttpProbe;

impl Collector for HttpProbe {
    fn collect() -> Result<Vec<Sample>, String> {
        let options: Options = perfwatch_sdk::config()?;
        options.check()?;
        let mut last_up = LAST_UP.lock().unwrap_or_else(|err| err.into_inner());
        let mut samples = Vec::new();
        for target in &options.targets {
            let request = Request::new(target.method.as_str(), target.url.as_str())
                .timeout_ms(options.timeout_ms);
            let probe = evaluate(target, http::send(&request));
            log_change(
                target,
                &probe,
                last_up.insert(target.name.clone(), probe.down_because.is_none()),
            );
            samples.extend(probe.samples);
        }
        Ok(samples)
    }
}

export_collector!(HttpProbe);

/// Turns one probe's outcome into samples.
fn evaluate(target: &Target, outcome: Result<Response, HttpError>) -> Probe {
    let label = |sample: Sample| sample.label("target", target.name.as_str());
    let response = match outcome {
        Ok(response) => response,
        Err(error) => {
            return Probe {
                samples: vec![label(Sample::gauge("probe.up", 0.0))],
                down_because: Some(error.to_string()),
            };
        }
    };
    let up = match target.expect_status {
        Some(expected) => response.status == expected,
        None => (200..400).contains(&response.status),
    };
    let down_because = (!up).then(|| {
        let expected = target
            .expect_status
            .map_or_else(|| "2xx or 3xx".to_owned(), |status| status.to_string());
        format!("answered {} (expected {expected})", response.summary())
    });
    Probe {
        samples: vec![
            label(
                Sample::gauge("system.networkLatency", f64::from(response.elapsed_ms)).unit("ms"),
            ),
            label(Sample::gauge("probe.up", if up { 1.0 } else { 0.0 })),
            label(Sample::gauge("probe.status", f64::from(response.status))),
        ],
        down_because,
    }
}

/// Logs a target going down at WARN and coming back at INFO; the same
/// state again is DEBUG. `was_up` is `None` at the first probe.
fn log_change(target: &Target, probe: &Probe, was_up: Option<bool>) {
    let name = &target.name;
    let url = &target.url;
    match (&probe.down_because, was_up) {
        (Some(reason), Some(true) | None) => {
            perfwatch_sdk::warn!("target {name} ({url}) is down: {reason}");
        }
        (Some(reason), Some(false)) => {
            perfwatch_sdk::debug!("target {name} ({url}) is still down: {reason}");
        }
        (None, Some(false)) => perfwatch_sdk::info!("target {name} ({url}) is up again"),
        (None, _) => perfwatch_sdk::debug!("target {name} ({url}) is up"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(expect_status: Option<u16>) -> Target {
        Target {
            name: "api".into(),
            url: "http://127.0.0.1:8080/health".into(),
            method: "GET".into(),
            expect_status,
        }
    }

    fn response(status: u16, elapsed_ms: u32) -> Response {
        Response {
            status,
            headers: vec![],
            body: b"{\"status\": \"degraded\"}".to_vec(),
            elapsed_ms,
        }
    }

    fn with_target(samples: Vec<Sample>) -> Vec<Sample> {
        samples
            .into_iter()
            .map(|sample| sample.label("target", "api"))
            .collect()
    }

    #[test]
    fn healthy_target() {
        assert_eq!(
            evaluate(&target(None), Ok(response(200, 37))),
            Probe {
                samples: with_target(vec![
                    Sample::gauge("system.networkLatency", 37.0).unit("ms"),
                    Sample::gauge("probe.up", 1.0),
                    Sample::gauge("probe.status", 200.0),
                ]),
                down_because: None,
            }
        );
    }

    #[test]
    fn any_2xx_or_3xx_is_up_by_default() {
        for (status, up) in [
            (204, true),
            (301, true),
            (399, true),
            (404, false),
            (500, false),
        ] {
            let probe = evaluate(&target(None), Ok(response(status, 5)));
            assert_eq!(probe.down_because.is_none(), up, "{status}");
        }
    }

    #[test]
    fn unexpected_status_is_down_with_status_and_latency() {
        let probe = evaluate(&target(Some(200)), Ok(response(204, 12)));
        assert_eq!(
            probe.samples,
            with_target(vec![
                Sample::gauge("system.networkLatency", 12.0).unit("ms"),
                Sample::gauge("probe.up", 0.0),
                Sample::gauge("probe.status", 204.0),
            ])
        );
        assert_eq!(
            probe.down_because.as_deref(),
            Some(r#"answered HTTP 204 No Content: {"status": "degraded"} (expected 200)"#)
        );
        let probe = evaluate(&target(None), Ok(response(503, 900)));
        assert_eq!(
            probe.down_because.as_deref(),
            Some(
                r#"answered HTTP 503 Service Unavailable: {"status": "degraded"} (expected 2xx or 3xx)"#
            )
        );
    }

    #[test]
    fn failed_probe_is_data_without_status_or_latency() {
        for (error, reason) in [
            (HttpError::Timeout, "timed out"),
            (
                HttpError::Connection("connection refused".into()),
                "connection failed: connection refused",
            ),
            (
                HttpError::Denied("http://127.0.0.1:8080 is not in allow_http".into()),
                "denied: http://127.0.0.1:8080 is not in allow_http",
            ),
        ] {
            assert_eq!(
                evaluate(&target(None), Err(error)),
                Probe {
                    samples: with_target(vec![Sample::gauge("probe.up", 0.0)]),
                    down_because: Some(reason.to_owned()),
                }
            );
        }
    }

    #[test]
    fn config_defaults() {
        let options: Options = perfwatch_sdk::parse_config(
            r#"{"targets": [{"name": "api", "url": "http://127.0.0.1:8080/health"}]}"#,
        )
        .unwrap();
        assert_eq!(
            options,
            Options {
                targets: vec![target(None)],
                timeout_ms: 500,
            }
        );
        assert_eq!(options.check(), Ok(()));
    }

    #[test]
    fn config_mistakes_name_the_key() {
        let check = |json: &str| {
            perfwatch_sdk::parse_config::<Options>(json).and_then(|options| options.check())
        };
        let cases = [
            (
                r#"{"targets": []}"#,
                "invalid plugin config key `targets`: empty, so there is nothing to probe",
            ),
            ("{}", "invalid plugin config: missing field `targets`"),
            (
                r#"{"targets": [{"name": "", "url": "http://a/"}]}"#,
                "invalid plugin config key `targets[0].name`: empty name",
            ),
            (
                r#"{"targets": [{"name": "a", "url": "http://a/"}, {"name": "a", "url": "http://b/"}]}"#,
                r#"invalid plugin config key `targets[1].name`: "a" names another target too; names label the series, so they must differ"#,
            ),
            (
                r#"{"targets": [{"name": "a", "url": "ftp://a/"}]}"#,
                r#"invalid plugin config key `targets[0].url`: "ftp://a/" is not an http:// or https:// URL"#,
            ),
            (
                r#"{"targets": [{"name": "a", "url": "http://a/", "method": "get"}]}"#,
                r#"invalid plugin config key `targets[0].method`: "get" is not one of GET, HEAD, POST, PUT, PATCH, DELETE"#,
            ),
            (
                r#"{"targets": [{"name": "a", "url": "http://a/", "expect_status": 42}]}"#,
                "invalid plugin config key `targets[0].expect_status`: 42 is not an HTTP status (100 to 599)",
            ),
            (
                r#"{"targets": [{"name": "a", "url": "http://a/", "expect": 200}]}"#,
                "invalid plugin config key `targets[0].expect`: unknown field `expect`, expected one of `name`, `url`, `method`, `expect_status`",
            ),
        ];
        for (json, error) in cases {
            assert_eq!(check(json), Err(error.to_owned()), "{json}");
        }
    }

    #[test]
    fn natively_every_probe_fails_as_data() {
        let probe = evaluate(
            &target(None),
            http::send(&Request::get("http://127.0.0.1:8080/")),
        );
        assert_eq!(
            probe.samples,
            with_target(vec![Sample::gauge("probe.up", 0.0)])
        );
    }
}
