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
//! WARN with the reason, and coming back at INFO. The series are declared
//! once per instance and reported as readings.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use perfwatch_sdk::http::{self, HttpError, Request, Response};
use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{
    Collection, Collector, ConfigError, ConfigInfo, Handles, SeriesDescription, export_collector,
};

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
    /// What serde cannot check; every problem, each naming its key.
    fn problems(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        if self.targets.is_empty() {
            problems.push(ConfigError::new(
                "targets",
                "empty, so there is nothing to probe",
                "at least one target",
            ));
        }
        let mut names = BTreeSet::new();
        for (index, target) in self.targets.iter().enumerate() {
            let mut problem = |key: &str, problem: String, expected: &str| {
                problems.push(ConfigError::new(
                    format!("targets[{index}].{key}"),
                    problem,
                    expected,
                ));
            };
            if target.name.is_empty() {
                problem(
                    "name",
                    "empty name".to_owned(),
                    "a name for the `target` label",
                );
            } else if !names.insert(target.name.as_str()) {
                problem(
                    "name",
                    format!(
                        "{:?} names another target too; names label the series, so they must differ",
                        target.name
                    ),
                    "a name no other target has",
                );
            }
            if !(target.url.starts_with("http://") || target.url.starts_with("https://")) {
                problem(
                    "url",
                    format!("{:?} is not an http:// or https:// URL", target.url),
                    "an http:// or https:// URL",
                );
            }
            if !METHODS.contains(&target.method.as_str()) {
                problem(
                    "method",
                    format!("{:?} is not a method the host sends", target.method),
                    &format!("one of {}", METHODS.join(", ")),
                );
            }
            if let Some(status) = target.expect_status
                && !(100..=599).contains(&status)
            {
                problem(
                    "expect_status",
                    format!("{status} is not an HTTP status"),
                    "an integer from 100 to 599",
                );
            }
        }
        problems
    }

    /// The first problem as the sentence `collect` fails with.
    fn check(&self) -> Result<(), String> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem.to_string()),
            None => Ok(()),
        }
    }
}

/// One series of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Metric {
    /// `system.networkLatency`: ms from request to the end of the body.
    Latency,
    /// `probe.up`: 1 when the expected status came back, else 0.
    Up,
    /// `probe.status`: the HTTP status.
    Status,
}

impl Metric {
    fn description(self, target: &str) -> SeriesDescription {
        let description = match self {
            Metric::Latency => SeriesDescription::gauge("system.networkLatency")
                .unit("ms")
                .help("Milliseconds from request to the end of the response body"),
            Metric::Up => SeriesDescription::gauge("probe.up")
                .help("1 when the target answered with the expected status, else 0"),
            Metric::Status => {
                SeriesDescription::gauge("probe.status").help("The HTTP status the target answered")
            }
        };
        description.label("target", target)
    }
}

/// What one probe found.
#[derive(Debug, PartialEq)]
struct Probe {
    values: Vec<(Metric, f64)>,
    /// Why the target counts as down; `None` when it is up.
    down_because: Option<String>,
}

/// Whether each target was up at its last probe, so that only changes are
/// logged above DEBUG. Bounded by the configured targets.
static LAST_UP: Mutex<BTreeMap<String, bool>> = Mutex::new(BTreeMap::new());

/// The handles of each target's series; bounded by the configured targets.
static SERIES: Handles<(String, Metric)> = Handles::new();

struct HttpProbe;

impl Collector for HttpProbe {
    fn collect() -> Result<Collection, String> {
        let options: Options = perfwatch_sdk::config()?;
        options.check()?;
        let mut last_up = LAST_UP.lock().unwrap_or_else(|err| err.into_inner());
        let mut collection = Collection::new();
        for target in &options.targets {
            let request = Request::new(target.method.as_str(), target.url.as_str())
                .timeout_ms(options.timeout_ms);
            let probe = evaluate(target, http::send(&request));
            log_change(
                target,
                &probe,
                last_up.insert(target.name.clone(), probe.down_because.is_none()),
            );
            for (metric, value) in probe.values {
                let handle = SERIES.get_or_declare((target.name.clone(), metric), || {
                    metric.description(&target.name)
                })?;
                collection.reading(handle, value);
            }
        }
        Ok(collection)
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config_with::<Options>(config, &[], Options::problems)
    }
}

export_collector!(HttpProbe);

/// Turns one probe's outcome into values of the target's series.
fn evaluate(target: &Target, outcome: Result<Response, HttpError>) -> Probe {
    let response = match outcome {
        Ok(response) => response,
        Err(error) => {
            return Probe {
                values: vec![(Metric::Up, 0.0)],
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
        values: vec![
            (Metric::Latency, f64::from(response.elapsed_ms)),
            (Metric::Up, if up { 1.0 } else { 0.0 }),
            (Metric::Status, f64::from(response.status)),
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

    #[test]
    fn series_keep_their_names_units_and_target_label() {
        let described = |metric: Metric| {
            let description = metric.description("api");
            let labels: Vec<String> = description
                .labels
                .iter()
                .map(|l| format!("{}={}", l.key, l.value))
                .collect();
            format!(
                "{} {:?} {}",
                description.metric,
                description.unit,
                labels.join(",")
            )
        };
        assert_eq!(
            described(Metric::Latency),
            r#"system.networkLatency "ms" target=api"#
        );
        assert_eq!(described(Metric::Up), r#"probe.up "" target=api"#);
        assert_eq!(described(Metric::Status), r#"probe.status "" target=api"#);
    }

    #[test]
    fn healthy_target() {
        assert_eq!(
            evaluate(&target(None), Ok(response(200, 37))),
            Probe {
                values: vec![
                    (Metric::Latency, 37.0),
                    (Metric::Up, 1.0),
                    (Metric::Status, 200.0)
                ],
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
            probe.values,
            vec![
                (Metric::Latency, 12.0),
                (Metric::Up, 0.0),
                (Metric::Status, 204.0)
            ]
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
                    values: vec![(Metric::Up, 0.0)],
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
                "invalid plugin config key `targets`: empty, so there is nothing to probe, expected at least one target",
            ),
            (
                "{}",
                "invalid plugin config key `targets`: required key is missing",
            ),
            (
                r#"{"targets": [{"name": "", "url": "http://a/"}]}"#,
                "invalid plugin config key `targets[0].name`: empty name, expected a name for the `target` label",
            ),
            (
                r#"{"targets": [{"name": "a", "url": "http://a/"}, {"name": "a", "url": "http://b/"}]}"#,
                r#"invalid plugin config key `targets[1].name`: "a" names another target too; names label the series, so they must differ, expected a name no other target has"#,
            ),
            (
                r#"{"targets": [{"name": "a", "url": "ftp://a/"}]}"#,
                r#"invalid plugin config key `targets[0].url`: "ftp://a/" is not an http:// or https:// URL, expected an http:// or https:// URL"#,
            ),
            (
                r#"{"targets": [{"name": "a", "url": "http://a/", "method": "get"}]}"#,
                r#"invalid plugin config key `targets[0].method`: "get" is not a method the host sends, expected one of GET, HEAD, POST, PUT, PATCH, DELETE"#,
            ),
            (
                r#"{"targets": [{"name": "a", "url": "http://a/", "expect_status": 42}]}"#,
                "invalid plugin config key `targets[0].expect_status`: 42 is not an HTTP status, expected an integer from 100 to 599",
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
    fn validation_reports_every_mistake() {
        assert_eq!(
            HttpProbe::validate_config(
                r#"{"targets": [{"name": "", "url": "ftp://a/"}, {"name": "b", "url": "http://b/", "method": "get"}]}"#
            ),
            Err(vec![
                ConfigError::new(
                    "targets[0].name",
                    "empty name",
                    "a name for the `target` label"
                ),
                ConfigError::new(
                    "targets[0].url",
                    r#""ftp://a/" is not an http:// or https:// URL"#,
                    "an http:// or https:// URL"
                ),
                ConfigError::new(
                    "targets[1].method",
                    r#""get" is not a method the host sends"#,
                    "one of GET, HEAD, POST, PUT, PATCH, DELETE"
                ),
            ])
        );
        assert_eq!(
            HttpProbe::validate_config(r#"{"targets": [{"name": "a", "url": "http://a/"}]}"#),
            Ok(ConfigInfo::with_secret_keys(&[]))
        );
    }

    #[test]
    fn natively_every_probe_fails_as_data() {
        let probe = evaluate(
            &target(None),
            http::send(&Request::get("http://127.0.0.1:8080/")),
        );
        assert_eq!(probe.values, vec![(Metric::Up, 0.0)]);
    }
}
