//! The writer: families and their samples as text 0.0.4 or OpenMetrics 1.0 lines, streamed one series at a time.

use std::collections::HashSet;
use std::fmt::Write;

use crate::names::{self, Collision, Family, FamilyNames, Kind};

/// Which exposition format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text exposition 0.0.4: timestamps in milliseconds.
    Text,
    /// OpenMetrics 1.0: timestamps in seconds, counters' families named
    /// without `_total`, `# EOF` at the end.
    OpenMetrics,
}

impl Format {
    /// The media type a scrape answer or a document carries.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format a scrape's `Accept` header asks for: OpenMetrics when it
    /// names `application/openmetrics-text` (as Prometheus does since
    /// 2.5), text 0.0.4 otherwise.
    pub fn from_accept(accept: &str) -> Self {
        let asks = accept.split(',').any(|part| {
            let media = part.split(';').next().unwrap_or_default().trim();
            media.eq_ignore_ascii_case("application/openmetrics-text")
        });
        if asks {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }
}

/// Why a series cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpositionError {
    /// Two metrics map to one family name.
    Collision(Collision),
    /// A family came back after another one started: a second `# TYPE`
    /// line for it would be rejected by parsers.
    NotContiguous {
        /// The perfwatch metric.
        metric: String,
        /// Its family's name.
        name: String,
    },
}

impl std::fmt::Display for ExpositionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpositionError::Collision(c) => c.fmt(f),
            ExpositionError::NotContiguous { metric, name } => write!(
                f,
                "the series of `{metric}` are not contiguous (do their units differ?); family `{name}` is already written"
            ),
        }
    }
}

impl std::error::Error for ExpositionError {}

/// The series being written.
struct OpenSeries {
    family: Family,
    /// `name{labels} `: each sample line's start.
    prefix: String,
}

/// One exposition being written, series by series. It keeps the open
/// family and series and the names given so far, never the samples.
pub struct Exposition {
    format: Format,
    names: FamilyNames,
    closed: HashSet<String>,
    open: Option<OpenSeries>,
}

impl Exposition {
    /// An empty exposition in `format`.
    pub fn new(format: Format) -> Self {
        Self {
            format,
            names: FamilyNames::default(),
            closed: HashSet::new(),
            open: None,
        }
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Starts a series of `metric`; writes its family's `# HELP` (the
    /// perfwatch name, unit and `help`) and `# TYPE` lines when it is the
    /// first series of that family. Series of one family must come one
    /// after another. The family's name, for the caller's records.
    pub fn start_series<'a>(
        &mut self,
        metric: &str,
        unit: &str,
        kind: Kind,
        help: &str,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
        out: &mut String,
    ) -> Result<&str, ExpositionError> {
        let family = names::family(metric, unit, kind);
        self.names
            .claim(&family, metric)
            .map_err(ExpositionError::Collision)?;
        let same_family = self
            .open
            .as_ref()
            .is_some_and(|open| open.family.name == family.name);
        if !same_family {
            if let Some(open) = self.open.take() {
                self.closed.insert(open.family.name);
            }
            if self.closed.contains(&family.name) {
                return Err(ExpositionError::NotContiguous {
                    metric: metric.to_owned(),
                    name: family.name,
                });
            }
            self.family_header(&family, metric, unit, help, out);
        }
        let mut prefix = family.name.clone();
        let mut labels: Vec<(&str, &str)> = labels.into_iter().collect();
        labels.sort_unstable();
        if !labels.is_empty() {
            prefix.push('{');
            for (i, (key, value)) in labels.into_iter().enumerate() {
                if i > 0 {
                    prefix.push(',');
                }
                prefix.push_str(&names::label_name(key));
                prefix.push_str("=\"");
                names::escape_label_value(value, &mut prefix);
                prefix.push('"');
            }
            prefix.push('}');
        }
        prefix.push(' ');
        let open = self.open.insert(OpenSeries { family, prefix });
        Ok(&open.family.name)
    }

    fn family_header(
        &self,
        family: &Family,
        metric: &str,
        unit: &str,
        help: &str,
        out: &mut String,
    ) {
        let name = match self.format {
            Format::Text => family.name.as_str(),
            Format::OpenMetrics => family.openmetrics_name(),
        };
        let mut text = metric.to_owned();
        if !unit.is_empty() {
            let _ = write!(text, " ({unit})");
        }
        if !help.is_empty() {
            let _ = write!(text, ": {help}");
        }
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        match self.format {
            Format::Text => names::escape_help(&text, out),
            Format::OpenMetrics => names::escape_label_value(&text, out),
        }
        out.push_str("\n# TYPE ");
        out.push_str(name);
        out.push(' ');
        out.push_str(family.type_name());
        out.push('\n');
    }

    /// Writes one sample of the open series: its value in perfwatch's unit,
    /// scaled here to the base unit, and its time if it is to carry one (a
    /// document does; a live scrape leaves it to the scraper). Nothing
    /// when no series is open.
    pub fn sample(&self, value: f64, timestamp_ms: Option<i64>, out: &mut String) {
        let Some(open) = &self.open else { return };
        out.push_str(&open.prefix);
        names::format_value(value * open.family.scale, out);
        if let Some(ms) = timestamp_ms {
            out.push(' ');
            match self.format {
                Format::Text => {
                    let _ = write!(out, "{ms}");
                }
                Format::OpenMetrics => names::seconds(ms, out),
            }
        }
        out.push('\n');
    }

    /// Whether a series is open, so [`Exposition::sample`] writes.
    pub fn has_open_series(&self) -> bool {
        self.open.is_some()
    }

    /// Ends the exposition: `# EOF` for OpenMetrics, nothing for text.
    pub fn finish(&mut self, out: &mut String) {
        self.open = None;
        if self.format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_carry_total_on_samples_and_openmetrics_names_the_family_without_it() {
        for (format, expected) in [
            (
                Format::Text,
                "# HELP http_requests_total http.requests: served\n# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 7 1500\n",
            ),
            (
                Format::OpenMetrics,
                "# HELP http_requests http.requests: served\n# TYPE http_requests counter\nhttp_requests_total{code=\"200\"} 7 1.5\n# EOF\n",
            ),
        ] {
            let mut out = String::new();
            let mut e = Exposition::new(format);
            e.start_series(
                "http.requests",
                "",
                Kind::Counter,
                "served",
                [("code", "200")],
                &mut out,
            )
            .unwrap();
            e.sample(7.0, Some(1500), &mut out);
            e.finish(&mut out);
            assert_eq!(out, expected);
        }
    }

    #[test]
    fn a_family_that_comes_back_is_refused() {
        let mut out = String::new();
        let mut e = Exposition::new(Format::Text);
        e.start_series("a.x", "", Kind::Gauge, "", [], &mut out)
            .unwrap();
        e.start_series("a.y", "", Kind::Gauge, "", [], &mut out)
            .unwrap();
        let err = e
            .start_series("a.x", "", Kind::Gauge, "", [], &mut out)
            .unwrap_err();
        assert!(
            matches!(err, ExpositionError::NotContiguous { .. }),
            "{err}"
        );
    }

    #[test]
    fn scrapes_ask_for_openmetrics_by_accept() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(prometheus), Format::OpenMetrics);
        assert_eq!(Format::from_accept("text/plain"), Format::Text);
        assert_eq!(Format::from_accept(""), Format::Text);
    }
}
