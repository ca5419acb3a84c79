//! The prometheus collector: scrapes one Prometheus text-format endpoint per tick and reports what it serves as samples.
//!
//! # Config
//!
//! ```toml
//! [[plugins]]
//! name = "prometheus"
//! allow_http = ["http://127.0.0.1:9100"]
//!
//! [plugins.config]
//! url = "http://127.0.0.1:9100/metrics"
//! timeout_ms = 800
//! prefix = "node."
//! include = ["node_load", "node_filesystem_avail_bytes", "node_network_"]
//! max_samples = 5000
//! ```
//!
//! - `url`: the `http://` or `https://` endpoint, fetched with `GET`.
//! - `timeout_ms`: request timeout; by default whatever is left of the
//!   call's deadline (`limits.call_timeout_ms`, 1000 ms unless raised).
//! - `prefix`: put before every metric name (default none); `node.` turns
//!   `node_load1` into `node.node_load1`.
//! - `include`: keep only samples whose Prometheus name starts with one of
//!   these (default: keep everything).
//! - `max_samples`: report at most this many samples per scrape (default
//!   5000, at most 10,000, the host's limit per call); the rest are dropped
//!   with a warning that suggests `include`.
//!
//! # Mapping
//!
//! Each sample line becomes one sample: its name (`:` replaced by `_`,
//! which perfwatch names do not allow) with the prefix, its labels, its
//! value and its timestamp when it has one. `# TYPE` decides the kind:
//! counters, histogram `_bucket`/`_sum`/`_count` and summary `_sum`/`_count`
//! are counters; gauges, untyped samples and summary quantiles are gauges.
//! `le` and `quantile` stay labels. NaN and infinite values (a summary with
//! no observations yet) are skipped, since a perfwatch sample must be finite.

mod text;

use std::sync::atomic::{AtomicBool, Ordering};

use perfwatch_sdk::http::{self, Request, Response};
use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{Collection, Collector, ConfigError, ConfigInfo, Sample, export_collector};

use text::{Exposition, TimestampUnit};

/// Default `max_samples`: a full node_exporter serves 1,000–3,000 series,
/// so this keeps a whole one with room to spare, and stays well under the
/// host's per-call cap.
const DEFAULT_MAX_SAMPLES: usize = 5_000;

/// The host's limit on samples per `collect` call; a scrape capped above it
/// would have the whole call rejected instead of being cut.
const HOST_MAX_SAMPLES: usize = 10_000;

/// Asks for the classic text format, which every exporter serves; an
/// OpenMetrics answer is understood too, but never needed.
const ACCEPT: &str = "text/plain;version=0.0.4;q=1.0, */*;q=0.1";

/// The plugin's `config` table.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    /// Endpoint to scrape.
    url: String,
    /// Request timeout in milliseconds; `None` leaves it to the host's deadline.
    #[serde(default)]
    timeout_ms: Option<u32>,
    /// Put before every metric name.
    #[serde(default)]
    prefix: String,
    /// Prometheus name prefixes to keep; empty keeps everything.
    #[serde(default)]
    include: Vec<String>,
    /// Most samples reported per scrape.
    #[serde(default = "default_max_samples")]
    max_samples: usize,
}

fn default_max_samples() -> usize {
    DEFAULT_MAX_SAMPLES
}

impl Options {
    /// What serde cannot check; every problem, each naming its key. The
    /// problems say what would be accepted, so no expected form.
    fn problems(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            problems.push(ConfigError::new(
                "url",
                format!("{:?} is not an http:// or https:// URL", self.url),
                "",
            ));
        }
        // Any Prometheus name is letters, digits and `_` once `:` is
        // replaced, so the prefix is what can make a name invalid.
        if !self.prefix.is_empty()
            && perfwatch_sdk::check_metric_name(&format!("{}x", self.prefix)).is_err()
        {
            problems.push(ConfigError::new(
                "prefix",
                format!(
                    "{:?} cannot start a metric name; use letters, digits, `_` and single dots",
                    self.prefix
                ),
                "",
            ));
        }
        if !(1..=HOST_MAX_SAMPLES).contains(&self.max_samples) {
            problems.push(ConfigError::new(
                "max_samples",
                format!(
                    "{} is outside 1..={HOST_MAX_SAMPLES} (the host accepts at most {HOST_MAX_SAMPLES} samples per call)",
                    self.max_samples
                ),
                "",
            ));
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

/// What one scrape reports, and what it had to leave out.
#[derive(Debug, PartialEq)]
struct Scrape {
    samples: Vec<Sample>,
    /// Samples over `max_samples`.
    dropped: usize,
    /// Samples whose name is still invalid after the prefix (too long).
    bad_names: usize,
    /// NaN and infinite values.
    non_finite: usize,
    /// The first unparseable line and how many there were.
    bad_lines: Option<(usize, String, usize)>,
}

/// Whether this instance already warned about dropped samples or bad lines;
/// a scrape target does not change shape between ticks, so once is enough.
static WARNED_DROPPED: AtomicBool = AtomicBool::new(false);
static WARNED_BAD_LINES: AtomicBool = AtomicBool::new(false);

struct Prometheus;

impl Collector for Prometheus {
    fn collect() -> Result<Collection, String> {
        let options: Options = perfwatch_sdk::config()?;
        options.check()?;
        let mut request = Request::get(options.url.as_str()).header("accept", ACCEPT);
        if let Some(timeout_ms) = options.timeout_ms {
            request = request.timeout_ms(timeout_ms);
        }
        let response = http::send(&request).map_err(|err| format!("GET {}: {err}", options.url))?;
        let scrape = scrape(&options, &response)?;
        if scrape.dropped > 0 {
            let message = format!(
                "{} served more than max_samples = {}; dropped {} samples (narrow it down with `include`)",
                options.url, options.max_samples, scrape.dropped
            );
            warn_once(&WARNED_DROPPED, &message);
        }
        if let Some((line, why, count)) = &scrape.bad_lines {
            let message = format!(
                "{} served {count} unparseable line(s), skipped; the first, line {line}: {why}",
                options.url
            );
            warn_once(&WARNED_BAD_LINES, &message);
        }
        if scrape.bad_names + scrape.non_finite > 0 {
            perfwatch_sdk::debug!(
                "skipped {} samples with names too long for perfwatch and {} with NaN or infinite values",
                scrape.bad_names,
                scrape.non_finite
            );
        }
        // Which series exist is up to the scraped target, so full samples.
        Ok(scrape.samples.into())
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config_with::<Options>(config, &[], Options::problems)
    }
}

export_collector!(Prometheus);

fn warn_once(warned: &AtomicBool, message: &str) {
    if warned.swap(true, Ordering::Relaxed) {
        perfwatch_sdk::debug!("{message}");
    } else {
        perfwatch_sdk::warn!("{message}");
    }
}

/// Checks the response and turns its body into samples.
fn scrape(options: &Options, response: &Response) -> Result<Scrape, String> {
    let url = &options.url;
    if !response.is_success() {
        return Err(format!("GET {url} answered {}", response.summary()));
    }
    let body = response.text().map_err(|err| format!("GET {url}: {err}"))?;
    let openmetrics = response
        .header("content-type")
        .is_some_and(|value| value.starts_with("application/openmetrics-text"));
    let unit = if openmetrics {
        TimestampUnit::Seconds
    } else {
        TimestampUnit::Millis
    };
    let exposition = text::parse(body, unit);
    // Nothing usable but lines that did not parse: an HTML login page or
    // a JSON API, not an exposition with a few odd lines.
    if exposition.samples.is_empty()
        && exposition.non_finite == 0
        && let Some((line, why)) = exposition.bad_lines.first()
    {
        return Err(format!(
            "GET {url}: the body is not Prometheus text format (line {line}: {why})"
        ));
    }
    Ok(to_samples(options, exposition))
}

/// Filters, renames, caps and converts scraped samples.
fn to_samples(options: &Options, exposition: Exposition) -> Scrape {
    let mut samples = Vec::new();
    let mut dropped = 0;
    let mut bad_names = 0;
    for scraped in exposition.samples {
        let included = options.include.is_empty()
            || options
                .include
                .iter()
                .any(|prefix| scraped.name.starts_with(prefix.as_str()));
        if !included {
            continue;
        }
        let metric = format!("{}{}", options.prefix, scraped.name.replace(':', "_"));
        if perfwatch_sdk::check_metric_name(&metric).is_err() {
            bad_names += 1;
            continue;
        }
        if samples.len() == options.max_samples {
            dropped += 1;
            continue;
        }
        let mut sample = Sample::gauge(metric, scraped.value);
        sample.kind = scraped.kind;
        for (key, value) in scraped.labels {
            sample = sample.label(key, value);
        }
        if let Some(timestamp_ms) = scraped.timestamp_ms {
            sample = sample.at(timestamp_ms);
        }
        samples.push(sample);
    }
    let bad_lines = exposition
        .bad_lines
        .first()
        .map(|(line, why)| (*line, why.clone(), exposition.bad_lines.len()));
    Scrape {
        samples,
        dropped,
        bad_names,
        non_finite: exposition.non_finite,
        bad_lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::MetricKind;
    use perfwatch_sdk::http::Header;

    fn options(json: &str) -> Options {
        let options: Options = perfwatch_sdk::parse_config(json).unwrap();
        options.check().unwrap();
        options
    }

    fn response(status: u16, content_type: &str, body: &str) -> Response {
        Response {
            status,
            headers: vec![Header {
                name: "Content-Type".into(),
                value: content_type.into(),
            }],
            body: body.as_bytes().to_vec(),
            elapsed_ms: 4,
        }
    }

    const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

    #[test]
    fn node_exporter_scrape_with_prefix_and_include() {
        let options = options(
            r#"{"url": "http://127.0.0.1:9100/metrics", "prefix": "node.",
                "include": ["node_load", "http_request_duration_seconds_bucket", "job:"]}"#,
        );
        let scrape = scrape(&options, &response(200, TEXT, text::tests::NODE_EXPORTER)).unwrap();
        assert_eq!(
            scrape.samples,
            vec![
                Sample::gauge("node.node_load1", 0.53),
                Sample::counter("node.http_request_duration_seconds_bucket", 8.0)
                    .label("handler", "/metrics")
                    .label("le", "0.1"),
                Sample::counter("node.http_request_duration_seconds_bucket", 9.0)
                    .label("handler", "/metrics")
                    .label("le", "0.5"),
                Sample::counter("node.http_request_duration_seconds_bucket", 10.0)
                    .label("handler", "/metrics")
                    .label("le", "+Inf"),
                Sample::gauge("node.job_http_requests_rate5m", 12.5)
                    .label("job", "api")
                    .at(1_700_000_000_000),
            ]
        );
        assert_eq!(
            (scrape.dropped, scrape.bad_names, scrape.non_finite),
            (0, 0, 3)
        );
        assert_eq!(scrape.bad_lines, None);
    }

    #[test]
    fn everything_by_default() {
        let options = options(r#"{"url": "http://127.0.0.1:9100/metrics"}"#);
        let scrape = scrape(&options, &response(200, TEXT, text::tests::NODE_EXPORTER)).unwrap();
        assert_eq!(scrape.samples.len(), 27);
        assert!(
            scrape
                .samples
                .iter()
                .all(|s| perfwatch_sdk::check_metric_name(&s.metric).is_ok())
        );
        let counters = scrape
            .samples
            .iter()
            .filter(|s| s.kind == MetricKind::Counter)
            .count();
        assert_eq!(counters, 14);
    }

    #[test]
    fn max_samples_keeps_the_first_ones() {
        let options = options(r#"{"url": "http://h/metrics", "max_samples": 2}"#);
        let scrape = scrape(&options, &response(200, TEXT, "a 1\nb 2\nc 3\nd 4\n")).unwrap();
        assert_eq!(
            scrape.samples,
            vec![Sample::gauge("a", 1.0), Sample::gauge("b", 2.0)]
        );
        assert_eq!(scrape.dropped, 2);
    }

    #[test]
    fn names_too_long_after_the_prefix_are_skipped() {
        let options = options(r#"{"url": "http://h/metrics", "prefix": "app."}"#);
        let body = format!("{} 1\nok 2\n", "x".repeat(197));
        let scrape = scrape(&options, &response(200, TEXT, &body)).unwrap();
        assert_eq!(scrape.samples, vec![Sample::gauge("app.ok", 2.0)]);
        assert_eq!(scrape.bad_names, 1);
    }

    #[test]
    fn openmetrics_answer_uses_seconds() {
        let options = options(r#"{"url": "http://h/metrics"}"#);
        let body = "# TYPE jobs counter\njobs_total 3 1700000000.5\n# EOF\n";
        let scrape = scrape(
            &options,
            &response(
                200,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                body,
            ),
        )
        .unwrap();
        assert_eq!(
            scrape.samples,
            vec![Sample::counter("jobs_total", 3.0).at(1_700_000_000_500)]
        );
    }

    #[test]
    fn some_bad_lines_are_skipped_and_reported() {
        let options = options(r#"{"url": "http://h/metrics"}"#);
        let scrape = scrape(&options, &response(200, TEXT, "good 1\nbad{ 2\nworse\n")).unwrap();
        assert_eq!(scrape.samples, vec![Sample::gauge("good", 1.0)]);
        assert_eq!(
            scrape.bad_lines,
            Some((2, r#"expected a label name at "2""#.to_owned(), 2))
        );
    }

    #[test]
    fn failures_say_what_came_back() {
        let options = options(r#"{"url": "http://127.0.0.1:9100/metrics"}"#);
        assert_eq!(
            scrape(
                &options,
                &response(404, "text/plain", "404 page not found\n")
            )
            .unwrap_err(),
            "GET http://127.0.0.1:9100/metrics answered HTTP 404 Not Found: 404 page not found"
        );
        assert_eq!(
            scrape(
                &options,
                &response(200, "text/html", "<!doctype html>\n<title>Login</title>\n")
            )
            .unwrap_err(),
            "GET http://127.0.0.1:9100/metrics: the body is not Prometheus text format (line 1: expected a metric name)"
        );
        assert_eq!(
            scrape(
                &options,
                &Response {
                    body: vec![0xff, 0xfe],
                    ..response(200, TEXT, "")
                }
            )
            .unwrap_err(),
            "GET http://127.0.0.1:9100/metrics: response body is not UTF-8 (bad byte at offset 0)"
        );
        // An empty exposition is a target with nothing to say, not an error.
        assert_eq!(
            scrape(&options, &response(200, TEXT, "")).unwrap().samples,
            vec![]
        );
    }

    #[test]
    fn config_defaults_and_mistakes() {
        assert_eq!(
            options(r#"{"url": "http://h/metrics"}"#),
            Options {
                url: "http://h/metrics".into(),
                timeout_ms: None,
                prefix: String::new(),
                include: vec![],
                max_samples: 5_000,
            }
        );
        let check = |json: &str| {
            perfwatch_sdk::parse_config::<Options>(json).and_then(|options| options.check())
        };
        assert_eq!(
            check(r#"{"url": "h:9100/metrics"}"#),
            Err(r#"invalid plugin config key `url`: "h:9100/metrics" is not an http:// or https:// URL"#.to_owned())
        );
        assert_eq!(
            check(r#"{"url": "http://h/", "prefix": "node-"}"#),
            Err(r#"invalid plugin config key `prefix`: "node-" cannot start a metric name; use letters, digits, `_` and single dots"#.to_owned())
        );
        assert_eq!(
            check(r#"{"url": "http://h/", "prefix": "a.."}"#).map_err(|e| e.contains("`prefix`")),
            Err(true)
        );
        assert_eq!(
            check(r#"{"url": "http://h/", "max_samples": 20000}"#),
            Err("invalid plugin config key `max_samples`: 20000 is outside 1..=10000 (the host accepts at most 10000 samples per call)".to_owned())
        );
        assert_eq!(
            Prometheus::validate_config(r#"{"url": "h/", "prefix": "node-", "max_samples": 0}"#)
                .unwrap_err()
                .iter()
                .map(|problem| problem.key.as_str())
                .collect::<Vec<_>>(),
            ["url", "prefix", "max_samples"]
        );
        assert_eq!(
            Prometheus::validate_config(r#"{"url": "http://h/metrics"}"#),
            Ok(ConfigInfo::with_secret_keys(&[]))
        );
        assert_eq!(
            check(r#"{"url": "http://h/", "includes": []}"#),
            Err("invalid plugin config key `includes`: unknown field `includes`, expected one of `url`, `timeout_ms`, `prefix`, `include`, `max_samples`".to_owned())
        );
    }
}
