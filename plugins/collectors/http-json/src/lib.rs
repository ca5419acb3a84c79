//! The http-json collector: polls an application's JSON status endpoint and turns the numbers at configured paths into samples.
//!
//! # Config
//!
//! ```toml
//! [[plugins]]
//! name = "http-json"
//! allow_http = ["http://127.0.0.1:8080"]
//!
//! [plugins.config]
//! url = "http://127.0.0.1:8080/status"
//! headers = { accept = "application/json" }
//! timeout_ms = 800
//! metrics = [
//!   { path = "$.agents.total", metric = "agents.totalAgents", unit = "agents" },
//!   { path = "$.agents.list[*].responseMs", metric = "agents.avgResponseTime", unit = "ms", labels = { agent = "$.name" } },
//!   { path = "$.queries['served.total']", metric = "queries.served", kind = "counter" },
//! ]
//! ```
//!
//! - `url`: the `http://` or `https://` endpoint, fetched with `GET` once per tick.
//! - `headers`: extra request headers. Their values are secret keys
//!   (`headers.*`), which the host redacts wherever it shows the config.
//! - `timeout_ms`: request timeout; by default whatever is left of the
//!   call's deadline (`limits.call_timeout_ms`, 1000 ms unless raised).
//! - `metrics`: what to report. `path` is an RFC 9535 JSONPath query:
//!   `$.a.b` for object keys, `$['a.b']` for a key containing `.`, `[` or
//!   anything else `.name` cannot spell, `[n]` for one array element, and
//!   at most one segment that selects several values (`[*]`, `.*`, `..`,
//!   a filter such as `[?@.up]` or a slice such as `[0:3]`). A path that
//!   does not start with `$` is the older dotted form (`agents.list[*].ms`,
//!   `[0].up`), read as it always was: keys separated by `.`, each
//!   optionally followed by `[n]` or `[*]`, so its keys cannot contain `.`,
//!   `[` or `]` (but `responses.2xx` works). `metric` is the perfwatch
//!   metric name, `unit` its unit (default none), `kind` `gauge` (default)
//!   or `counter`. `labels` maps label names to fields of each element the
//!   wildcard selects (themselves paths, relative to the element, each
//!   selecting one value), so it requires a wildcard and a wildcard
//!   requires it: elements without labels would be indistinguishable
//!   series. An invalid path fails the config with the key and the path.
//!
//! Numbers become values as they are, booleans 1 and 0. A path that
//! matches nothing (or `null`) is skipped and logged at DEBUG: optional
//! fields are normal. A value that is a string, array or object is a
//! config mistake, logged at WARN once per path and then at DEBUG. A
//! failed request, a status other than 2xx, or a body that is not JSON
//! fails the whole call with a message saying which.

mod path;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use perfwatch_sdk::http::{self, Request, Response};
use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::serde_json::Value;
use perfwatch_sdk::{
    Collection, Collector, ConfigError, ConfigInfo, MetricKind, Sample, export_collector,
};

use path::JsonPath;

/// The plugin's `config` table, as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct RawOptions {
    /// Endpoint to `GET`.
    url: String,
    /// Extra request headers, name to value.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Request timeout in milliseconds; `None` leaves it to the host's deadline.
    #[serde(default)]
    timeout_ms: Option<u32>,
    /// Paths to report.
    metrics: Vec<RawMapping>,
}

/// One `metrics` entry, as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct RawMapping {
    /// Where the value is: JSONPath such as `$.agents.list[*].responseMs`,
    /// or the dotted form `agents.list[*].responseMs`.
    path: String,
    /// Metric name to report it as.
    metric: String,
    /// Unit of the value; empty for none.
    #[serde(default)]
    unit: String,
    /// Gauge or counter.
    #[serde(default)]
    kind: Kind,
    /// Label name to a path within each element the wildcard selects.
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// `kind` in a `metrics` entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", rename_all = "lowercase")]
enum Kind {
    /// A value that goes up and down.
    #[default]
    Gauge,
    /// A total that only grows.
    Counter,
}

/// The validated config.
#[derive(Debug)]
struct Options {
    url: String,
    headers: BTreeMap<String, String>,
    timeout_ms: Option<u32>,
    mappings: Vec<Mapping>,
}

/// One validated `metrics` entry.
#[derive(Debug)]
struct Mapping {
    /// The path as written, for messages.
    text: String,
    path: JsonPath,
    metric: String,
    unit: String,
    kind: MetricKind,
    labels: Vec<(String, JsonPath)>,
}

impl RawOptions {
    /// Checks what serde cannot: URL scheme, paths, names and the
    /// wildcard/labels pairing. Errors name the config key.
    fn validate(self) -> Result<Options, ConfigError> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(ConfigError::new(
                "url",
                format!("{:?} is not an http:// or https:// URL", self.url),
                "",
            ));
        }
        if self.metrics.is_empty() {
            return Err(ConfigError::new(
                "metrics",
                "empty, so there is nothing to report",
                "",
            ));
        }
        let mut mappings = Vec::with_capacity(self.metrics.len());
        for (index, raw) in self.metrics.into_iter().enumerate() {
            // The problems say what would be accepted, so no expected form.
            let at = |key: &str, problem: String| {
                ConfigError::new(format!("metrics[{index}].{key}"), problem, "")
            };
            let path =
                JsonPath::parse(&raw.path).map_err(|problem| at("path", problem.to_string()))?;
            perfwatch_sdk::check_metric_name(&raw.metric)
                .map_err(|problem| at("metric", problem))?;
            match (path.wildcards(), raw.labels.is_empty()) {
                (0, true) | (1, false) => {}
                (0, false) => {
                    return Err(at(
                        "labels",
                        format!(
                            "labels name fields of each element a wildcard such as `[*]` selects, but path `{}` has none",
                            raw.path
                        ),
                    ));
                }
                (1, true) => {
                    return Err(at(
                        "labels",
                        format!(
                            "path `{}` selects several values, so it needs labels (for example `labels = {{ name = \"$.name\" }}`) to tell their series apart",
                            raw.path
                        ),
                    ));
                }
                _ => {
                    return Err(at(
                        "path",
                        format!(
                            "path `{}` has more than one wildcard (`[*]`, `.*`, `..`, a filter or a slice); labels tell apart the elements of one",
                            raw.path
                        ),
                    ));
                }
            }
            let mut labels = Vec::with_capacity(raw.labels.len());
            for (name, field) in raw.labels {
                perfwatch_sdk::check_label_name(&name)
                    .map_err(|problem| at(&format!("labels.{name}"), problem))?;
                let field_path = JsonPath::parse(&field)
                    .map_err(|problem| at(&format!("labels.{name}"), problem.to_string()))?;
                if field_path.wildcards() > 0 {
                    return Err(at(
                        &format!("labels.{name}"),
                        format!(
                            "label field `{field}` must select one value, so it cannot contain a wildcard"
                        ),
                    ));
                }
                labels.push((name, field_path));
            }
            mappings.push(Mapping {
                text: raw.path,
                path,
                metric: raw.metric,
                unit: raw.unit,
                kind: match raw.kind {
                    Kind::Gauge => MetricKind::Gauge,
                    Kind::Counter => MetricKind::Counter,
                },
                labels,
            });
        }
        Ok(Options {
            url: self.url,
            headers: self.headers,
            timeout_ms: self.timeout_ms,
            mappings,
        })
    }
}

/// Something about one mapping that did not yield a sample this tick.
#[derive(Debug, Clone, PartialEq)]
enum Problem {
    /// The path matched nothing, or `null`: optional data, logged at DEBUG.
    Absent { path: String },
    /// The path matched a value that is not a number or boolean: a config
    /// mistake, logged at WARN (once per path).
    NotNumeric {
        path: String,
        location: String,
        found: &'static str,
    },
    /// A label field of a `[*]` element is missing or not a scalar, so the
    /// sample would join another series: skipped, logged at WARN (once per path).
    NoLabel {
        path: String,
        location: String,
        label: String,
    },
}

impl Problem {
    fn path(&self) -> &str {
        match self {
            Problem::Absent { path }
            | Problem::NotNumeric { path, .. }
            | Problem::NoLabel { path, .. } => path,
        }
    }

    fn describe(&self) -> String {
        match self {
            Problem::Absent { path } => format!("path `{path}` matched nothing this time"),
            Problem::NotNumeric {
                path,
                location,
                found,
            } => format!(
                "path `{path}` points at {found} at `{location}`, not a number or boolean; skipped"
            ),
            Problem::NoLabel {
                path,
                location,
                label,
            } => format!(
                "path `{path}`: the element of `{location}` has no usable value for label `{label}`; skipped"
            ),
        }
    }
}

/// Paths already warned about by this instance: a mistake that holds every
/// tick is worth one WARN, not one per tick. Bounded by the config's mappings.
static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

struct HttpJson;

impl Collector for HttpJson {
    fn collect() -> Result<Collection, String> {
        let raw: RawOptions = perfwatch_sdk::config()?;
        let options = raw.validate()?;
        let mut request = Request::get(options.url.as_str());
        for (name, value) in &options.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(timeout_ms) = options.timeout_ms {
            request = request.timeout_ms(timeout_ms);
        }
        let response = http::send(&request).map_err(|err| format!("GET {}: {err}", options.url))?;
        let (samples, problems) = interpret(&options, &response)?;
        let mut warned = WARNED.lock().unwrap_or_else(|err| err.into_inner());
        for problem in problems {
            let first = !matches!(problem, Problem::Absent { .. })
                && warned.insert(problem.path().to_owned());
            if first {
                perfwatch_sdk::warn!("{}", problem.describe());
            } else {
                perfwatch_sdk::debug!("{}", problem.describe());
            }
        }
        // Which series exist depends on the document, so full samples.
        Ok(samples.into())
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config_with::<RawOptions>(config, &["headers.*"], |raw| {
            raw.clone().validate().err().into_iter().collect()
        })
    }
}

export_collector!(HttpJson);

/// Checks the response and maps its JSON to samples.
fn interpret(
    options: &Options,
    response: &Response,
) -> Result<(Vec<Sample>, Vec<Problem>), String> {
    let url = &options.url;
    if !response.is_success() {
        return Err(format!("GET {url} answered {}", response.summary()));
    }
    let document: Value = response.json().map_err(|err| format!("GET {url}: {err}"))?;
    Ok(map_document(&options.mappings, &document))
}

/// The samples the mappings find in `document`, and why others were not found.
fn map_document(mappings: &[Mapping], document: &Value) -> (Vec<Sample>, Vec<Problem>) {
    let mut samples = Vec::new();
    let mut problems = Vec::new();
    for mapping in mappings {
        let found = mapping.path.find(document);
        if found.iter().all(|found| found.value.is_null()) {
            problems.push(Problem::Absent {
                path: mapping.text.clone(),
            });
            continue;
        }
        'found: for found in found {
            let value = match found.value {
                Value::Number(number) => match number.as_f64() {
                    Some(value) if value.is_finite() => value,
                    _ => {
                        problems.push(not_numeric(
                            mapping,
                            &found.location,
                            "a number out of range",
                        ));
                        continue;
                    }
                },
                Value::Bool(flag) => f64::from(u8::from(*flag)),
                // One element without a value among others with one.
                Value::Null => continue,
                Value::String(_) => {
                    problems.push(not_numeric(mapping, &found.location, "a string"));
                    continue;
                }
                Value::Array(_) => {
                    problems.push(not_numeric(mapping, &found.location, "an array"));
                    continue;
                }
                Value::Object(_) => {
                    problems.push(not_numeric(mapping, &found.location, "an object"));
                    continue;
                }
            };
            let mut sample =
                Sample::gauge(mapping.metric.as_str(), value).unit(mapping.unit.as_str());
            sample.kind = mapping.kind;
            for (label, field) in &mapping.labels {
                let label_value = found
                    .element
                    .and_then(|element| field.get(element))
                    .and_then(label_text);
                let Some(label_value) = label_value else {
                    problems.push(Problem::NoLabel {
                        path: mapping.text.clone(),
                        location: found.location.clone(),
                        label: label.clone(),
                    });
                    continue 'found;
                };
                sample = sample.label(label.as_str(), label_value);
            }
            samples.push(sample);
        }
    }
    (samples, problems)
}

fn not_numeric(mapping: &Mapping, location: &str, found: &'static str) -> Problem {
    Problem::NotNumeric {
        path: mapping.text.clone(),
        location: location.to_owned(),
        found,
    }
}

/// A label value from a JSON scalar; `None` for null, arrays and objects.
fn label_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::http::Header;

    /// A status document like the one an agent orchestrator serves.
    const STATUS: &str = r#"{
        "version": "2.4.1",
        "healthy": true,
        "uptimeSeconds": 86400,
        "agents": {
            "total": 3,
            "active": 2,
            "list": [
                {"name": "coder-1", "status": "busy", "responseMs": 2500, "tasks": {"done": 41}},
                {"name": "coder-2", "status": "idle", "responseMs": 180.5, "tasks": {"done": 7}},
                {"name": "reviewer", "status": "idle", "responseMs": null, "tasks": {"done": 12}}
            ]
        },
        "queries": {"served": 123456, "cache": {"hitRate": 0.93}, "slow": null},
        "build": {"commit": "9f1c2e7"}
    }"#;

    fn options(metrics: &str) -> Result<Options, String> {
        let json = format!(r#"{{"url": "http://127.0.0.1:8080/status", "metrics": {metrics}}}"#);
        Ok(perfwatch_sdk::parse_config::<RawOptions>(&json)?.validate()?)
    }

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![Header {
                name: "content-type".into(),
                value: "application/json".into(),
            }],
            body: body.as_bytes().to_vec(),
            elapsed_ms: 3,
        }
    }

    /// Samples as `metric{labels} value unit kind` lines.
    fn lines(samples: &[Sample]) -> Vec<String> {
        samples
            .iter()
            .map(|s| {
                let labels: Vec<String> = s
                    .labels
                    .iter()
                    .map(|l| format!("{}={:?}", l.key, l.value))
                    .collect();
                let kind = match s.kind {
                    MetricKind::Gauge => "Gauge",
                    MetricKind::Counter => "Counter",
                };
                format!(
                    "{}{{{}}} {} {:?} {kind}",
                    s.metric,
                    labels.join(","),
                    s.value,
                    s.unit,
                )
            })
            .collect()
    }

    fn check(metrics: &str, expected_samples: &[&str], expected_problems: &[&str]) {
        let options = options(metrics).unwrap();
        let (samples, problems) = interpret(&options, &response(200, STATUS)).unwrap();
        assert_eq!(lines(&samples), expected_samples);
        let problems: Vec<String> = problems.iter().map(Problem::describe).collect();
        assert_eq!(problems, expected_problems);
    }

    #[test]
    fn the_documented_example() {
        check(
            r#"[
                {"path": "$.agents.total", "metric": "agents.totalAgents", "unit": "agents"},
                {"path": "$.agents.list[*].responseMs", "metric": "agents.avgResponseTime", "unit": "ms", "labels": {"agent": "$.name"}}
            ]"#,
            &[
                r#"agents.totalAgents{} 3 "agents" Gauge"#,
                r#"agents.avgResponseTime{agent="coder-1"} 2500 "ms" Gauge"#,
                r#"agents.avgResponseTime{agent="coder-2"} 180.5 "ms" Gauge"#,
            ],
            &[],
        );
    }

    #[test]
    fn booleans_counters_indexes_and_nested_label_fields() {
        check(
            r#"[
                {"path": "healthy", "metric": "app.healthy"},
                {"path": "queries.served", "metric": "queries.served", "kind": "counter"},
                {"path": "queries.cache.hitRate", "metric": "queries.cacheHitRate", "unit": "ratio"},
                {"path": "agents.list[0].tasks.done", "metric": "agents.firstDone"},
                {"path": "agents.list[*].tasks.done", "metric": "agents.tasksDone", "kind": "counter",
                 "labels": {"agent": "name", "state": "status"}}
            ]"#,
            &[
                r#"app.healthy{} 1 "" Gauge"#,
                r#"queries.served{} 123456 "" Counter"#,
                r#"queries.cacheHitRate{} 0.93 "ratio" Gauge"#,
                r#"agents.firstDone{} 41 "" Gauge"#,
                r#"agents.tasksDone{agent="coder-1",state="busy"} 41 "" Counter"#,
                r#"agents.tasksDone{agent="coder-2",state="idle"} 7 "" Counter"#,
                r#"agents.tasksDone{agent="reviewer",state="idle"} 12 "" Counter"#,
            ],
            &[],
        );
    }

    #[test]
    fn json_path_reaches_keys_containing_dots_and_brackets() {
        let options = options(
            r#"[
                {"path": "$['cache.hits']", "metric": "cache.hits", "kind": "counter"},
                {"path": "$['queue[0]'].depth", "metric": "queue.depth"},
                {"path": "$.pools[?@.enabled == true]['conn.active']", "metric": "pool.active", "labels": {"pool": "$['pool.name']"}},
                {"path": "cache.hits", "metric": "cache.nestedHits"}
            ]"#,
        )
        .unwrap();
        let body = r#"{
            "cache.hits": 17,
            "cache": {"hits": 2},
            "queue[0]": {"depth": 4},
            "queue": [{"depth": 99}],
            "pools": [
                {"pool.name": "main", "enabled": true, "conn.active": 5},
                {"pool.name": "spare", "enabled": false, "conn.active": 0}
            ]
        }"#;
        let (samples, problems) = interpret(&options, &response(200, body)).unwrap();
        assert_eq!(
            lines(&samples),
            [
                r#"cache.hits{} 17 "" Counter"#,
                r#"queue.depth{} 4 "" Gauge"#,
                r#"pool.active{pool="main"} 5 "" Gauge"#,
                r#"cache.nestedHits{} 2 "" Gauge"#,
            ]
        );
        assert_eq!(problems, []);
    }

    #[test]
    fn absent_and_non_numeric_values_are_problems_not_errors() {
        check(
            r#"[
                {"path": "agents.idle", "metric": "agents.idle"},
                {"path": "queries.slow", "metric": "queries.slowQueries"},
                {"path": "version", "metric": "app.version"},
                {"path": "agents.list", "metric": "agents.list"},
                {"path": "build", "metric": "app.build"},
                {"path": "agents.active", "metric": "agents.activeAgents"}
            ]"#,
            &[r#"agents.activeAgents{} 2 "" Gauge"#],
            &[
                "path `agents.idle` matched nothing this time",
                "path `queries.slow` matched nothing this time",
                "path `version` points at a string at `$['version']`, not a number or boolean; skipped",
                "path `agents.list` points at an array at `$['agents']['list']`, not a number or boolean; skipped",
                "path `build` points at an object at `$['build']`, not a number or boolean; skipped",
            ],
        );
    }

    #[test]
    fn element_without_its_label_is_skipped() {
        check(
            r#"[{"path": "agents.list[*].tasks.done", "metric": "agents.tasksDone", "labels": {"agent": "name", "team": "team"}}]"#,
            &[],
            &[
                "path `agents.list[*].tasks.done`: the element of `$['agents']['list'][0]['tasks']['done']` has no usable value for label `team`; skipped",
                "path `agents.list[*].tasks.done`: the element of `$['agents']['list'][1]['tasks']['done']` has no usable value for label `team`; skipped",
                "path `agents.list[*].tasks.done`: the element of `$['agents']['list'][2]['tasks']['done']` has no usable value for label `team`; skipped",
            ],
        );
    }

    #[test]
    fn numeric_label_values_are_their_json_text() {
        let options = options(
            r#"[{"path": "shards[*].docs", "metric": "search.docs", "labels": {"shard": "id", "primary": "primary"}}]"#,
        )
        .unwrap();
        let body = r#"{"shards": [{"id": 0, "primary": true, "docs": 10}, {"id": 1, "primary": false, "docs": 12}]}"#;
        let (samples, _) = interpret(&options, &response(200, body)).unwrap();
        assert_eq!(
            lines(&samples),
            [
                r#"search.docs{primary="true",shard="0"} 10 "" Gauge"#,
                r#"search.docs{primary="false",shard="1"} 12 "" Gauge"#,
            ]
        );
    }

    #[test]
    fn error_statuses_name_status_reason_and_body() {
        let options = options(r#"[{"path": "a", "metric": "a.b"}]"#).unwrap();
        assert_eq!(
            interpret(&options, &response(503, r#"{"error": "warming up"}"#)).unwrap_err(),
            r#"GET http://127.0.0.1:8080/status answered HTTP 503 Service Unavailable: {"error": "warming up"}"#
        );
        assert_eq!(
            interpret(&options, &response(418, "")).unwrap_err(),
            "GET http://127.0.0.1:8080/status answered HTTP 418"
        );
        let page = format!("<html>\n<body>{}</body></html>", "x".repeat(300));
        let err = interpret(&options, &response(302, &page)).unwrap_err();
        assert!(
            err.starts_with(
                "GET http://127.0.0.1:8080/status answered HTTP 302 Found: <html> <body>xxx"
            ),
            "{err}"
        );
        assert!(err.ends_with("x…"), "{err}");
    }

    #[test]
    fn invalid_json_is_an_error() {
        let options = options(r#"[{"path": "a", "metric": "a.b"}]"#).unwrap();
        assert_eq!(
            interpret(&options, &response(200, "<html>login</html>")).unwrap_err(),
            "GET http://127.0.0.1:8080/status: response body is not the expected JSON: \
             expected value at line 1 column 1"
        );
        assert_eq!(
            interpret(&options, &response(200, "")).unwrap_err(),
            "GET http://127.0.0.1:8080/status: response body is not the expected JSON: \
             EOF while parsing a value at line 1 column 0"
        );
    }

    #[test]
    fn config_mistakes_name_the_key() {
        let cases = [
            (
                r#"[]"#,
                "invalid plugin config key `metrics`: empty, so there is nothing to report",
            ),
            (
                r#"[{"path": "a..b", "metric": "a.b"}]"#,
                "invalid plugin config key `metrics[0].path`: path `a..b` has an empty key",
            ),
            (
                r#"[{"path": "a", "metric": "a-b"}]"#,
                "invalid plugin config key `metrics[0].metric`: metric name `a-b` contains '-'; use letters, digits, `_` and `.` (like `agents.avgResponseTime`)",
            ),
            (
                r#"[{"path": "a", "metric": "a.b", "labels": {"x": "y"}}]"#,
                "invalid plugin config key `metrics[0].labels`: labels name fields of each element a wildcard such as `[*]` selects, but path `a` has none",
            ),
            (
                r#"[{"path": "a[*].v", "metric": "a.b"}]"#,
                "invalid plugin config key `metrics[0].labels`: path `a[*].v` selects several values, so it needs labels (for example `labels = { name = \"$.name\" }`) to tell their series apart",
            ),
            (
                r#"[{"path": "a[*].b[*]", "metric": "a.b", "labels": {"x": "y"}}]"#,
                "invalid plugin config key `metrics[0].path`: path `a[*].b[*]` has more than one wildcard (`[*]`, `.*`, `..`, a filter or a slice); labels tell apart the elements of one",
            ),
            (
                r#"[{"path": "a[*]", "metric": "a.b", "labels": {"agent-name": "name"}}]"#,
                r#"invalid plugin config key `metrics[0].labels.agent-name`: label name "agent-name" is invalid; use 1 to 100 letters, digits or `_`, not starting with a digit"#,
            ),
            (
                r#"[{"path": "a[*]", "metric": "a.b", "labels": {"x": "tags[*]"}}]"#,
                "invalid plugin config key `metrics[0].labels.x`: label field `tags[*]` must select one value, so it cannot contain a wildcard",
            ),
            (
                r#"[{"path": "$.a[", "metric": "a.b"}]"#,
                "invalid plugin config key `metrics[0].path`: path `$.a[` is not valid JSONPath: at position 3, parser error (for example `$.agents.list[*].responseMs`, or `$['key.with.dots']` for a key containing `.` or `[`)",
            ),
            (
                r#"[{"path": "$.a[*]", "metric": "a.b", "labels": {"x": "$.name.."}}]"#,
                "invalid plugin config key `metrics[0].labels.x`: path `$.name..` is not valid JSONPath: at position 8, must start with lowercase alpha or '_' (for example `$.agents.list[*].responseMs`, or `$['key.with.dots']` for a key containing `.` or `[`)",
            ),
            (
                r#"[{"path": "a", "metric": "a.b", "kind": "histogram"}]"#,
                "invalid plugin config key `metrics[0].kind`: unknown variant `histogram`, expected `gauge` or `counter`",
            ),
            (
                r#"[{"path": "a", "metric": "a.b", "units": "ms"}]"#,
                "invalid plugin config key `metrics[0].units`: unknown field `units`, expected one of `path`, `metric`, `unit`, `kind`, `labels`",
            ),
        ];
        for (metrics, error) in cases {
            assert_eq!(options(metrics).unwrap_err(), error, "{metrics}");
        }
        assert_eq!(
            perfwatch_sdk::parse_config::<RawOptions>(
                r#"{"url": "127.0.0.1:8080", "metrics": []}"#
            )
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string(),
            r#"invalid plugin config key `url`: "127.0.0.1:8080" is not an http:// or https:// URL"#
        );
        assert_eq!(
            perfwatch_sdk::parse_config::<RawOptions>("{}").unwrap_err(),
            "invalid plugin config key `url`: required key is missing"
        );
        assert_eq!(
            HttpJson::validate_config(r#"{"url": "http://a/", "metrics": []}"#),
            Err(vec![ConfigError::new(
                "metrics",
                "empty, so there is nothing to report",
                ""
            )])
        );
        assert_eq!(
            HttpJson::validate_config(
                r#"{"url": "http://a/", "headers": {"authorization": "Bearer x"}, "metrics": [{"path": "a", "metric": "a.b"}]}"#
            ),
            Ok(ConfigInfo::with_secret_keys(&["headers.*"]))
        );
    }

    #[test]
    fn full_config_parses() {
        let raw: RawOptions = perfwatch_sdk::parse_config(
            r#"{"url": "https://app.internal/status", "headers": {"authorization": "Bearer t0ken"},
                "timeout_ms": 800, "metrics": [{"path": "a", "metric": "a.b"}]}"#,
        )
        .unwrap();
        let options = raw.validate().unwrap();
        assert_eq!(options.timeout_ms, Some(800));
        assert_eq!(options.headers["authorization"], "Bearer t0ken");
        assert_eq!(options.mappings[0].kind, MetricKind::Gauge);
    }

    #[test]
    fn natively_collect_fails_on_config_first() {
        // The native stand-in config is `{}`, which has no url.
        assert_eq!(
            HttpJson::collect(),
            Err("invalid plugin config key `url`: required key is missing".to_owned())
        );
    }
}
