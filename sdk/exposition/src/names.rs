//! Names: a perfwatch metric, unit and kind as a Prometheus family name and scale; collisions; escaping of label values, HELP and values.

use std::collections::HashMap;

/// Whether a metric's values can go down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any value.
    Gauge,
    /// A total that only grows.
    Counter,
}

/// A perfwatch metric as a Prometheus metric family.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The family's name, as the `# TYPE` line gives it. For a counter it
    /// ends in `_total`, which is also the sample name in text 0.0.4;
    /// OpenMetrics names the family without it ([`Family::openmetrics_name`]).
    pub name: String,
    /// What every value is multiplied by to be in the base unit.
    pub scale: f64,
    /// Gauge or counter.
    pub kind: Kind,
}

impl Family {
    /// The name OpenMetrics gives the family: without `_total`, which only
    /// its samples carry.
    pub fn openmetrics_name(&self) -> &str {
        match self.kind {
            Kind::Counter => self.name.strip_suffix("_total").unwrap_or(&self.name),
            Kind::Gauge => &self.name,
        }
    }

    /// `gauge` or `counter`, as `# TYPE` says it.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

/// Maps a perfwatch metric, its unit and kind to a Prometheus family.
pub fn family(metric: &str, unit: &str, kind: Kind) -> Family {
    let mut name = snake_case(metric);
    let (suffix, scale) = base_unit(unit);
    if !suffix.is_empty() && !name.ends_with(&format!("_{suffix}")) && name != suffix {
        name.push('_');
        name.push_str(&suffix);
    }
    if kind == Kind::Counter && !name.ends_with("_total") {
        name.push_str("_total");
    }
    Family { name, scale, kind }
}

/// `system.cpuUsage` → `system_cpu_usage`: camelCase split, everything
/// outside `[a-z0-9_:]` to `_`, runs of `_` collapsed, never empty and
/// never starting with a digit.
pub fn snake_case(metric: &str) -> String {
    let chars: Vec<char> = metric.chars().collect();
    let mut out = String::with_capacity(metric.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            // A word starts at an upper-case letter after a lower-case
            // letter or digit (`cpuUsage`), and at the last capital of an
            // acronym followed by lower case (`HTTPRequests`).
            let starts_word = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(|p| p.is_ascii_uppercase())
                    && next.is_some_and(char::is_ascii_lowercase));
            if starts_word {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() || c == ':' {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    let mut collapsed = String::with_capacity(out.len());
    for c in out.chars() {
        if c == '_' && collapsed.ends_with('_') {
            continue;
        }
        collapsed.push(c);
    }
    let trimmed = collapsed.trim_matches('_');
    let mut name = if trimmed.is_empty() {
        "metric".to_owned()
    } else {
        trimmed.to_owned()
    };
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

/// A unit's base-unit suffix and the factor to it; `("", 1.0)` for no unit.
pub fn base_unit(unit: &str) -> (String, f64) {
    let unit = unit.trim();
    if let Some((numerator, denominator)) = unit.split_once('/') {
        let (num, num_scale) = base_unit(numerator);
        let (per, per_seconds) = match denominator.trim() {
            "s" | "sec" | "second" | "seconds" => ("second", 1.0),
            "min" | "minute" => ("second", 60.0),
            "h" | "hour" => ("second", 3600.0),
            other => return (join(&num, &format!("per_{}", snake_case(other))), num_scale),
        };
        let num = if num.is_empty() {
            "ops".to_owned()
        } else {
            num
        };
        return (format!("{num}_per_{per}"), num_scale / per_seconds);
    }
    let (suffix, scale) = match unit {
        "" | "count" | "1" => ("", 1.0),
        "%" | "percent" => ("percent", 1.0),
        "ratio" => ("ratio", 1.0),
        "s" | "sec" | "second" | "seconds" => ("seconds", 1.0),
        "ms" | "millisecond" | "milliseconds" => ("seconds", 1e-3),
        "us" | "µs" | "microseconds" => ("seconds", 1e-6),
        "ns" | "nanoseconds" => ("seconds", 1e-9),
        "min" | "minutes" => ("seconds", 60.0),
        "h" | "hours" => ("seconds", 3600.0),
        "B" | "byte" | "bytes" => ("bytes", 1.0),
        "kB" | "KB" => ("bytes", 1e3),
        "MB" => ("bytes", 1e6),
        "GB" => ("bytes", 1e9),
        "KiB" => ("bytes", 1024.0),
        "MiB" => ("bytes", 1_048_576.0),
        "GiB" => ("bytes", 1_073_741_824.0),
        other => return (snake_case(other), 1.0),
    };
    (suffix.to_owned(), scale)
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_owned()
    } else {
        format!("{a}_{b}")
    }
}

/// The family names given so far, to detect two metrics mapped to one.
#[derive(Debug, Default)]
pub struct FamilyNames {
    /// Family name → the perfwatch metric it was given to.
    given: HashMap<String, String>,
}

/// Two perfwatch metrics mapped to one Prometheus name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    /// The Prometheus name.
    pub name: String,
    /// The metric that has it.
    pub first: String,
    /// The metric that would have it too.
    pub second: String,
}

impl std::fmt::Display for Collision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` and `{}` both map to the Prometheus name `{}`",
            self.first, self.second, self.name
        )
    }
}

impl FamilyNames {
    /// Records that `family` is `metric`'s; an error when another metric has it.
    pub fn claim(&mut self, family: &Family, metric: &str) -> Result<(), Collision> {
        let key = family.openmetrics_name().to_owned();
        match self.given.get(&key) {
            Some(first) if first != metric => Err(Collision {
                name: family.name.clone(),
                first: first.clone(),
                second: metric.to_owned(),
            }),
            Some(_) => Ok(()),
            None => {
                self.given.insert(key, metric.to_owned());
                Ok(())
            }
        }
    }
}

/// A label value between double quotes: `\`, `"` and line feeds escaped.
pub fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// HELP text: `\` and line feeds escaped (text 0.0.4; OpenMetrics also
/// escapes `"`, which [`escape_label_value`] does).
pub fn escape_help(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A label name made valid: `[a-zA-Z_][a-zA-Z0-9_]*`, never `__`-prefixed
/// (reserved by Prometheus).
pub fn label_name(key: &str) -> String {
    let mut name: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    while name.starts_with("__") {
        name.remove(0);
    }
    name
}

/// A sample value as both formats write it: `NaN`, `+Inf`, `-Inf`, or the
/// shortest decimal that reads back as the same double.
pub fn format_value(value: f64, out: &mut String) {
    use std::fmt::Write;
    if value.is_nan() {
        out.push_str("NaN");
    } else if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Epoch milliseconds as OpenMetrics seconds: `1700000000.25`, exact.
pub fn seconds(ms: i64, out: &mut String) {
    use std::fmt::Write;
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    if millis == 0 {
        let _ = write!(out, "{secs}");
    } else {
        let fraction = format!("{millis:03}");
        let _ = write!(out, "{secs}.{}", fraction.trim_end_matches('0'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(metric: &str, unit: &str, kind: Kind, name: &str, scale: f64) {
        let got = family(metric, unit, kind);
        assert_eq!(
            (got.name.as_str(), got.scale),
            (name, scale),
            "{metric} in {unit}"
        );
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        check(
            "system.cpuUsage",
            "%",
            Kind::Gauge,
            "system_cpu_usage_percent",
            1.0,
        );
        check(
            "queries.avgResponseTime",
            "ms",
            Kind::Gauge,
            "queries_avg_response_time_seconds",
            1e-3,
        );
        check(
            "system.networkRxBytesPerSecond",
            "bytes/s",
            Kind::Gauge,
            "system_network_rx_bytes_per_second",
            1.0,
        );
        check(
            "tracing.storageGrowth",
            "bytes/h",
            Kind::Gauge,
            "tracing_storage_growth_bytes_per_second",
            1.0 / 3600.0,
        );
        check(
            "tracing.memoryUsage",
            "MB",
            Kind::Gauge,
            "tracing_memory_usage_bytes",
            1e6,
        );
        check(
            "agents.totalAgents",
            "agents",
            Kind::Gauge,
            "agents_total_agents",
            1.0,
        );
        check(
            "agents.taskThroughput",
            "tasks/s",
            Kind::Gauge,
            "agents_task_throughput_tasks_per_second",
            1.0,
        );
        check(
            "tracing.errorRate",
            "ratio",
            Kind::Gauge,
            "tracing_error_rate_ratio",
            1.0,
        );
        check(
            "http.requests",
            "",
            Kind::Counter,
            "http_requests_total",
            1.0,
        );
        check(
            "net.sentBytes",
            "bytes",
            Kind::Counter,
            "net_sent_bytes_total",
            1.0,
        );
        check(
            "app.HTTPRequests",
            "",
            Kind::Gauge,
            "app_http_requests",
            1.0,
        );
        check("9lives.x-y", "", Kind::Gauge, "_9lives_x_y", 1.0);
    }

    #[test]
    fn openmetrics_counters_are_named_without_total() {
        let f = family("http.requests", "", Kind::Counter);
        assert_eq!(f.openmetrics_name(), "http_requests");
        assert_eq!(f.type_name(), "counter");
    }

    #[test]
    fn two_metrics_with_one_name_collide() {
        let mut names = FamilyNames::default();
        let a = family("a.bC", "", Kind::Gauge);
        names.claim(&a, "a.bC").unwrap();
        names.claim(&a, "a.bC").unwrap();
        let err = names
            .claim(&family("a.b_c", "", Kind::Gauge), "a.b_c")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`a.bC` and `a.b_c` both map to the Prometheus name `a_b_c`"
        );
    }

    #[test]
    fn values_labels_and_times_render_as_both_formats_read_them() {
        let mut out = String::new();
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.5, 2.0, 1e-7] {
            format_value(v, &mut out);
            out.push(' ');
        }
        assert_eq!(out, "NaN +Inf -Inf 0.5 2 0.0000001 ");
        let mut s = String::new();
        escape_label_value("a\"b\\c\nd", &mut s);
        assert_eq!(s, r#"a\"b\\c\nd"#);
        let mut t = String::new();
        seconds(1_700_000_000_250, &mut t);
        t.push(' ');
        seconds(1_700_000_000_000, &mut t);
        assert_eq!(t, "1700000000.25 1700000000");
        assert_eq!(label_name("__x"), "_x");
        assert_eq!(label_name("1a"), "_1a");
    }
}
