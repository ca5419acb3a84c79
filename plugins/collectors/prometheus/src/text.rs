//! A parser for the Prometheus text exposition format (0.0.4, and the OpenMetrics text that shares its syntax): pure functions over the scraped body.

use std::collections::HashMap;

use perfwatch_sdk::MetricKind;

/// How the exposition states sample timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimestampUnit {
    /// `text/plain; version=0.0.4`: integer milliseconds.
    Millis,
    /// `application/openmetrics-text`: seconds, possibly fractional.
    Seconds,
}

/// One sample line, its family's type applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scraped {
    /// The name on the line, for example `http_request_duration_seconds_bucket`.
    pub(crate) name: String,
    /// Labels in the order written, escapes resolved.
    pub(crate) labels: Vec<(String, String)>,
    /// A finite value.
    pub(crate) value: f64,
    /// Epoch milliseconds, when the line has a timestamp.
    pub(crate) timestamp_ms: Option<i64>,
    /// Counter or gauge, from the family's `# TYPE`.
    pub(crate) kind: MetricKind,
}

/// Everything one body held.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Exposition {
    /// Usable samples, in the order written.
    pub(crate) samples: Vec<Scraped>,
    /// Samples left out because their value is NaN or infinite, which a
    /// perfwatch sample cannot hold (summaries without observations, for one).
    pub(crate) non_finite: usize,
    /// Lines that could not be parsed: line number (from 1) and why.
    pub(crate) bad_lines: Vec<(usize, String)>,
}

/// The `# TYPE` of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FamilyType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    /// `untyped`, `unknown`, `info`, `stateset`, or anything newer.
    Other,
}

/// Parses a whole body.
pub(crate) fn parse(body: &str, timestamps: TimestampUnit) -> Exposition {
    let mut types: HashMap<String, FamilyType> = HashMap::new();
    let mut exposition = Exposition::default();
    for (index, line) in body.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.split_whitespace();
            match words.next() {
                Some("TYPE") => {
                    if let (Some(name), Some(kind)) = (words.next(), words.next()) {
                        types.insert(name.to_owned(), family_type(kind));
                    }
                }
                // OpenMetrics ends the exposition explicitly.
                Some("EOF") => break,
                // HELP, UNIT and free comments carry nothing a sample needs.
                _ => {}
            }
            continue;
        }
        match parse_sample(line, timestamps) {
            Ok(Some((name, labels, value, timestamp_ms))) => {
                let kind = kind_of(&name, &types);
                exposition.samples.push(Scraped {
                    name,
                    labels,
                    value,
                    timestamp_ms,
                    kind,
                });
            }
            Ok(None) => exposition.non_finite += 1,
            Err(why) => exposition.bad_lines.push((index + 1, why)),
        }
    }
    exposition
}

fn family_type(word: &str) -> FamilyType {
    match word {
        "counter" => FamilyType::Counter,
        "gauge" => FamilyType::Gauge,
        "histogram" => FamilyType::Histogram,
        "gaugehistogram" => FamilyType::GaugeHistogram,
        "summary" => FamilyType::Summary,
        _ => FamilyType::Other,
    }
}

/// The kind of a sample named `name`, found through its family's type.
///
/// Histogram buckets, sums and counts (and a summary's sum and count) are
/// cumulative, so counters; summary quantiles go up and down, so gauges.
/// A name without a `# TYPE`, or of any other type, is a gauge.
fn kind_of(name: &str, types: &HashMap<String, FamilyType>) -> MetricKind {
    let family = |suffix: &str| {
        name.strip_suffix(suffix)
            .and_then(|stem| types.get(stem).copied())
    };
    let counter = match types.get(name) {
        Some(FamilyType::Counter) => true,
        // A summary's own name carries its quantiles.
        Some(_) => false,
        None => match (
            family("_bucket"),
            family("_sum").or(family("_count")),
            family("_total"),
        ) {
            (Some(FamilyType::Histogram), _, _) => true,
            (_, Some(FamilyType::Histogram | FamilyType::Summary), _) => true,
            // OpenMetrics names a counter family without the `_total`
            // its samples carry.
            (_, _, Some(FamilyType::Counter)) => true,
            _ => false,
        },
    };
    if counter {
        MetricKind::Counter
    } else {
        MetricKind::Gauge
    }
}

/// A parsed sample line: name, labels, value and timestamp; `None` when the
/// value is not finite.
type SampleLine = Option<(String, Vec<(String, String)>, f64, Option<i64>)>;

/// Parses `name{label="value",...} value [timestamp] [# exemplar]`.
fn parse_sample(line: &str, timestamps: TimestampUnit) -> Result<SampleLine, String> {
    let mut cursor = Cursor::new(line);
    cursor.skip_blanks();
    let name = cursor.take_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("expected a metric name".to_owned());
    }
    let name = name.to_owned();
    cursor.skip_blanks();
    let labels = if cursor.eat('{') {
        parse_labels(&mut cursor)?
    } else {
        Vec::new()
    };
    cursor.skip_blanks();
    let value_text = cursor.take_while(|c| !c.is_ascii_whitespace());
    if value_text.is_empty() {
        return Err(format!("`{name}` has no value"));
    }
    let value = parse_value(value_text)
        .ok_or_else(|| format!("`{name}` has the value {value_text:?}, which is not a number"))?;
    cursor.skip_blanks();
    let timestamp_ms = match cursor.take_while(|c| !c.is_ascii_whitespace()) {
        "" => None,
        text => Some(parse_timestamp(text, timestamps).ok_or_else(|| {
            format!("`{name}` has the timestamp {text:?}, which is not a number")
        })?),
    };
    cursor.skip_blanks();
    // Whatever follows ` # ` is an OpenMetrics exemplar, which says which
    // trace produced the value; perfwatch has no place for it.
    if !cursor.rest().is_empty() && !cursor.rest().starts_with('#') {
        return Err(format!(
            "`{name}` has unexpected text after its value: {:?}",
            cursor.rest()
        ));
    }
    Ok(value
        .is_finite()
        .then_some((name, labels, value, timestamp_ms)))
}

/// Parses the labels after `{`, up to and including `}`.
fn parse_labels(cursor: &mut Cursor<'_>) -> Result<Vec<(String, String)>, String> {
    let mut labels = Vec::new();
    loop {
        cursor.skip_blanks();
        if cursor.eat('}') {
            return Ok(labels);
        }
        let at = cursor.rest();
        let name = cursor.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("expected a label name at {at:?}"));
        }
        cursor.skip_blanks();
        if !cursor.eat('=') {
            return Err(format!("label `{name}` has no `=`"));
        }
        cursor.skip_blanks();
        if !cursor.eat('"') {
            return Err(format!("label `{name}` has no quoted value"));
        }
        let value = cursor
            .quoted_rest()
            .ok_or_else(|| format!("label `{name}` has an unterminated value"))?;
        labels.push((name.to_owned(), value));
        cursor.skip_blanks();
        // A trailing comma before `}` is allowed.
        if !cursor.eat(',') && !cursor.peek_is('}') {
            return Err(format!("expected `,` or `}}` after label `{name}`"));
        }
    }
}

/// A sample value: a float, or `NaN`, `+Inf`, `-Inf` (Go's spellings).
fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        // Rust would also read `inf`, `infinity` and `nan` in any case,
        // which the format does not allow; they are still not finite, so
        // accepting them changes nothing downstream.
        _ => text.parse().ok(),
    }
}

fn parse_timestamp(text: &str, unit: TimestampUnit) -> Option<i64> {
    match unit {
        TimestampUnit::Millis => text.parse().ok(),
        TimestampUnit::Seconds => {
            let seconds: f64 = text.parse().ok()?;
            let millis = (seconds * 1000.0).round();
            // Within i64 and finite, or not a timestamp at all.
            (millis.is_finite() && millis.abs() < 9.0e18).then_some(millis as i64)
        }
    }
}

/// A position in one line.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn new(line: &'a str) -> Self {
        Self { rest: line }
    }

    fn rest(&self) -> &'a str {
        self.rest
    }

    fn skip_blanks(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }

    fn eat(&mut self, expected: char) -> bool {
        match self.rest.strip_prefix(expected) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn peek_is(&self, expected: char) -> bool {
        self.rest.starts_with(expected)
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let end = self
            .rest
            .find(|c: char| !keep(c))
            .unwrap_or(self.rest.len());
        let (taken, rest) = self.rest.split_at(end);
        self.rest = rest;
        taken
    }

    /// The rest of a quoted label value, after its opening `"`, with `\\`,
    /// `\"` and `\n` resolved; `None` when the closing quote is missing.
    fn quoted_rest(&mut self) -> Option<String> {
        let mut value = String::new();
        let mut chars = self.rest.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[at + 1..];
                    return Some(value);
                }
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    escaped @ ('\\' | '"') => value.push(escaped),
                    // Prometheus' own parser keeps any other escape as
                    // written, backslash included.
                    other => {
                        value.push('\\');
                        value.push(other);
                    }
                },
                c => value.push(c),
            }
        }
        None
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A slice of what node_exporter 1.8 serves on `/metrics`, with its Go
    /// runtime summary, plus lines from other exporters for what node_exporter
    /// itself does not show: a histogram, escapes, colons, timestamps, NaN
    /// and infinities.
    pub(crate) const NODE_EXPORTER: &str = r##"# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.1371e-05
go_gc_duration_seconds{quantile="0.25"} 3.4862e-05
go_gc_duration_seconds{quantile="0.5"} 4.2191e-05
go_gc_duration_seconds{quantile="0.75"} 5.6219e-05
go_gc_duration_seconds{quantile="1"} 0.000812334
go_gc_duration_seconds_sum 0.217873019
go_gc_duration_seconds_count 3918
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 8
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 2.13508535e+06
node_cpu_seconds_total{cpu="0",mode="iowait"} 1046.07
node_cpu_seconds_total{cpu="0",mode="user"} 19418.13
# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/nvme0n1p2",fstype="ext4",mountpoint="/"} 1.86733185024e+11
node_filesystem_avail_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 3.3337344e+09
# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.53
# HELP node_network_receive_bytes_total Network device statistic receive_bytes.
# TYPE node_network_receive_bytes_total counter
node_network_receive_bytes_total{device="eth0"} 8.4471336939e+10
node_network_receive_bytes_total{device="lo"} 1.2203469e+07
# HELP node_uname_info Labeled system information as provided by the uname system call.
# TYPE node_uname_info gauge
node_uname_info{domainname="(none)",machine="x86_64",nodename="web-1",release="6.8.0-45-generic",sysname="Linux",version="#45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024"} 1
# HELP node_systemd_unit_state Systemd unit\nstate, with a "quoted" \\ help.
# TYPE node_systemd_unit_state gauge
node_systemd_unit_state{name="weird\"unit\\x2d.service",state="active",type="simple"} 1
node_textfile_mtime_seconds{file="/var/lib/node_exporter/line\nbreak.prom"} 1.7e+09
# HELP http_request_duration_seconds Histogram of latencies for HTTP requests.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{handler="/metrics",le="0.1"} 8
http_request_duration_seconds_bucket{handler="/metrics",le="0.5"} 9
http_request_duration_seconds_bucket{handler="/metrics",le="+Inf"} 10
http_request_duration_seconds_sum{handler="/metrics"} 0.33
http_request_duration_seconds_count{handler="/metrics"} 10
# HELP rpc_duration_seconds RPC latency summary without observations yet.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.99"} NaN
rpc_duration_seconds_sum 0
rpc_duration_seconds_count 0
# TYPE job:http_requests:rate5m gauge
job:http_requests:rate5m{job="api" , } 12.5 1700000000000
node_hwmon_temp_max_celsius{chip="acpitz",sensor="temp1"} +Inf
node_hwmon_temp_min_celsius{chip="acpitz",sensor="temp1"} -Inf
"##;

    /// Samples as `name{labels} value kind [@ts]` lines.
    fn lines(exposition: &Exposition) -> Vec<String> {
        exposition
            .samples
            .iter()
            .map(|s| {
                let labels: Vec<String> =
                    s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                let kind = match s.kind {
                    MetricKind::Gauge => "gauge",
                    MetricKind::Counter => "counter",
                };
                let at = s
                    .timestamp_ms
                    .map(|ts| format!(" @{ts}"))
                    .unwrap_or_default();
                format!("{}{{{}}} {} {kind}{at}", s.name, labels.join(","), s.value)
            })
            .collect()
    }

    #[test]
    fn node_exporter_output() {
        let exposition = parse(NODE_EXPORTER, TimestampUnit::Millis);
        assert_eq!(exposition.bad_lines, vec![]);
        assert_eq!(exposition.non_finite, 3, "NaN, +Inf and -Inf are left out");
        assert_eq!(
            lines(&exposition),
            [
                r#"go_gc_duration_seconds{quantile="0"} 0.000021371 gauge"#,
                r#"go_gc_duration_seconds{quantile="0.25"} 0.000034862 gauge"#,
                r#"go_gc_duration_seconds{quantile="0.5"} 0.000042191 gauge"#,
                r#"go_gc_duration_seconds{quantile="0.75"} 0.000056219 gauge"#,
                r#"go_gc_duration_seconds{quantile="1"} 0.000812334 gauge"#,
                r#"go_gc_duration_seconds_sum{} 0.217873019 counter"#,
                r#"go_gc_duration_seconds_count{} 3918 counter"#,
                r#"go_goroutines{} 8 gauge"#,
                r#"node_cpu_seconds_total{cpu="0",mode="idle"} 2135085.35 counter"#,
                r#"node_cpu_seconds_total{cpu="0",mode="iowait"} 1046.07 counter"#,
                r#"node_cpu_seconds_total{cpu="0",mode="user"} 19418.13 counter"#,
                r#"node_filesystem_avail_bytes{device="/dev/nvme0n1p2",fstype="ext4",mountpoint="/"} 186733185024 gauge"#,
                r#"node_filesystem_avail_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 3333734400 gauge"#,
                r#"node_load1{} 0.53 gauge"#,
                r#"node_network_receive_bytes_total{device="eth0"} 84471336939 counter"#,
                r#"node_network_receive_bytes_total{device="lo"} 12203469 counter"#,
                r##"node_uname_info{domainname="(none)",machine="x86_64",nodename="web-1",release="6.8.0-45-generic",sysname="Linux",version="#45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024"} 1 gauge"##,
                r#"node_systemd_unit_state{name="weird\"unit\\x2d.service",state="active",type="simple"} 1 gauge"#,
                r#"node_textfile_mtime_seconds{file="/var/lib/node_exporter/line\nbreak.prom"} 1700000000 gauge"#,
                r#"http_request_duration_seconds_bucket{handler="/metrics",le="0.1"} 8 counter"#,
                r#"http_request_duration_seconds_bucket{handler="/metrics",le="0.5"} 9 counter"#,
                r#"http_request_duration_seconds_bucket{handler="/metrics",le="+Inf"} 10 counter"#,
                r#"http_request_duration_seconds_sum{handler="/metrics"} 0.33 counter"#,
                r#"http_request_duration_seconds_count{handler="/metrics"} 10 counter"#,
                r#"rpc_duration_seconds_sum{} 0 counter"#,
                r#"rpc_duration_seconds_count{} 0 counter"#,
                r#"job:http_requests:rate5m{job="api"} 12.5 gauge @1700000000000"#,
            ]
        );
    }

    #[test]
    fn escapes_resolve_to_the_real_characters() {
        let exposition = parse(
            r#"m{a="back\\slash",b="quote\"d",c="new\nline",d="tab\tstays",e="\x"} 1"#,
            TimestampUnit::Millis,
        );
        let labels: Vec<(&str, &str)> = exposition.samples[0]
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                ("a", r"back\slash"),
                ("b", "quote\"d"),
                ("c", "new\nline"),
                ("d", r"tab\tstays"),
                ("e", r"\x"),
            ]
        );
    }

    #[test]
    fn openmetrics_timestamps_are_seconds_and_exemplars_are_ignored() {
        let body = "# TYPE requests counter\n\
                    requests_total{path=\"/\"} 1027 1700000000.123 # {trace_id=\"3f2a\"} 0.5 1700000000.1\n\
                    requests_created{path=\"/\"} 1.6e9\n\
                    # EOF\n\
                    after_eof 1\n";
        let exposition = parse(body, TimestampUnit::Seconds);
        assert_eq!(exposition.bad_lines, vec![]);
        assert_eq!(
            lines(&exposition),
            [
                r#"requests_total{path="/"} 1027 counter @1700000000123"#,
                r#"requests_created{path="/"} 1600000000 gauge"#,
            ]
        );
    }

    #[test]
    fn types_declared_for_one_family_do_not_leak_to_similar_names() {
        let body = "# TYPE a counter\na 1\na_sum 2\n# TYPE b gauge\nb_count 3\nc_bucket 4\n";
        assert_eq!(
            lines(&parse(body, TimestampUnit::Millis)),
            [
                "a{} 1 counter",
                "a_sum{} 2 gauge",
                "b_count{} 3 gauge",
                "c_bucket{} 4 gauge"
            ]
        );
    }

    #[test]
    fn whitespace_is_tolerated_where_prometheus_tolerates_it() {
        let body = "  spaced { a = \"1\" ,b=\"2\"}\t7  \r\n\n\t\nplain 1e3\n";
        assert_eq!(
            lines(&parse(body, TimestampUnit::Millis)),
            [r#"spaced{a="1",b="2"} 7 gauge"#, "plain{} 1000 gauge"]
        );
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let body = "<html>\n\
                    ok 1\n\
                    m{a=\"1\" 2\n\
                    m{a=1} 2\n\
                    m{a=\"open} 2\n\
                    m{9a=\"x\"} 2\n\
                    m\n\
                    m{a=\"1\"} twelve\n\
                    m 1 later\n\
                    m 1 2 3\n\
                    {\"utf8.name\"} 1\n";
        let exposition = parse(body, TimestampUnit::Millis);
        assert_eq!(lines(&exposition), ["ok{} 1 gauge"]);
        let bad: Vec<String> = exposition
            .bad_lines
            .iter()
            .map(|(line, why)| format!("{line}: {why}"))
            .collect();
        assert_eq!(
            bad,
            [
                "1: expected a metric name",
                "3: expected `,` or `}` after label `a`",
                "4: label `a` has no quoted value",
                "5: label `a` has an unterminated value",
                r#"6: expected a label name at "9a=\"x\"} 2""#,
                "7: `m` has no value",
                r#"8: `m` has the value "twelve", which is not a number"#,
                r#"9: `m` has the timestamp "later", which is not a number"#,
                r#"10: `m` has unexpected text after its value: "3""#,
                "11: expected a metric name",
            ]
        );
    }
}
