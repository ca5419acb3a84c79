//! The prometheus-text exporter: the points of a time range as Prometheus text exposition 0.0.4 (timestamps in ms), or OpenMetrics 1.0 with `layout = "openmetrics"` (timestamps in s, `# EOF`).
//!
//! # Config
//!
//! None: the plugin takes no `config` table and needs no grants. The
//! layout is a format option of each export (`?layout=openmetrics` on
//! `POST /api/v1/export`). The plugin is not called `prometheus` because
//! that is the name of the collector that scrapes Prometheus endpoints.
//!
//! # Document
//!
//! ```text
//! # HELP system_cpu_usage_percent system.cpuUsage (%)
//! # TYPE system_cpu_usage_percent gauge
//! system_cpu_usage_percent 12.5 1700000000000
//! # HELP queries_avg_response_time_seconds queries.avgResponseTime (ms)
//! # TYPE queries_avg_response_time_seconds gauge
//! queries_avg_response_time_seconds{db="main"} 0.1205 1700000000000
//! ```
//!
//! Names and lines come from `perfwatch-exposition`, the writer the
//! host's `/metrics` uses too: camelCase split, dots to `_`, the base unit as a
//! suffix with values scaled to it (`ms` → seconds). HELP keeps the
//! perfwatch name and unit. Two metrics that map to one name end the
//! export with an error naming both, rather than merging two families.
//! The export world does not tell a series' kind, so every family is a
//! gauge: a counter exported here keeps its values but not `_total`.
//!
//! # Streaming
//!
//! The writer keeps the open family's name, the open series' label text,
//! and the names given so far (one per metric, for collisions), never
//! the points.

use perfwatch_exposition::{Exposition, Format, Kind};
use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{
    ConfigError, ConfigInfo, DocumentType, DocumentWriter, ExportInfo, Exporter, Series,
    export_exporter,
};

/// The plugin's `config` table: empty, and typos in it are errors.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Config {}

/// The format options of one export.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    #[serde(default)]
    layout: Layout,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", rename_all = "lowercase")]
enum Layout {
    /// Text exposition 0.0.4.
    #[default]
    Text,
    /// OpenMetrics 1.0.
    OpenMetrics,
}

struct PrometheusText;

impl Exporter for PrometheusText {
    type Document = PromDocument;

    fn begin(info: ExportInfo) -> Result<PromDocument, String> {
        let _: Config = perfwatch_sdk::config()?;
        Ok(PromDocument::new(parse_options(&info.options)?.layout))
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Config>(config, &[])
    }
}

export_exporter!(PrometheusText);

fn parse_options(options: &str) -> Result<Options, String> {
    let options = if options.trim().is_empty() {
        "{}"
    } else {
        options
    };
    perfwatch_sdk::serde_json::from_str(options).map_err(|err| {
        format!(
            "prometheus-text format options: {err} (it takes layout = \"text\" or \"openmetrics\")"
        )
    })
}

/// One document being written: the shared writer, which keeps the open
/// family and series and the names given so far, never the points.
struct PromDocument(Exposition);

impl PromDocument {
    fn new(layout: Layout) -> Self {
        Self(Exposition::new(match layout {
            Layout::Text => Format::Text,
            Layout::OpenMetrics => Format::OpenMetrics,
        }))
    }
}

impl DocumentWriter for PromDocument {
    fn document_type(&self) -> DocumentType {
        let extension = match self.0.format() {
            Format::Text => "prom",
            Format::OpenMetrics => "om",
        };
        DocumentType::new(extension, self.0.format().media_type())
    }

    fn write_series(&mut self, batch: Vec<Series>) -> Result<Vec<u8>, String> {
        let mut out = String::new();
        for entry in &batch {
            if entry.timestamps_ms.len() != entry.values.len() {
                return Err(format!(
                    "series {} has an entry with {} timestamps but {} values",
                    entry.metric,
                    entry.timestamps_ms.len(),
                    entry.values.len()
                ));
            }
            if !entry.continued {
                let labels = entry
                    .labels
                    .iter()
                    .map(|l| (l.key.as_str(), l.value.as_str()));
                self.0
                    .start_series(
                        &entry.metric,
                        &entry.unit,
                        Kind::Gauge,
                        "",
                        labels,
                        &mut out,
                    )
                    .map_err(|err| err.to_string())?;
            } else if !self.0.has_open_series() {
                return Err(format!(
                    "an entry of series {} continues no series",
                    entry.metric
                ));
            }
            for (&timestamp, &value) in entry.timestamps_ms.iter().zip(&entry.values) {
                self.0.sample(value, Some(timestamp), &mut out);
            }
        }
        Ok(out.into_bytes())
    }

    fn finish(&mut self) -> Result<Vec<u8>, String> {
        let mut out = String::new();
        self.0.finish(&mut out);
        Ok(out.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use perfwatch_sdk::Label;

    fn series(metric: &str, unit: &str, labels: &[(&str, &str)], points: &[(i64, f64)]) -> Series {
        Series {
            metric: metric.to_owned(),
            unit: unit.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| Label {
                    key: (*k).to_owned(),
                    value: (*v).to_owned(),
                })
                .collect(),
            continued: false,
            timestamps_ms: points.iter().map(|p| p.0).collect(),
            values: points.iter().map(|p| p.1).collect(),
        }
    }

    fn render(layout: Layout, batch: Vec<Series>) -> Result<String, String> {
        let mut doc = PromDocument::new(layout);
        let mut out = doc.write_series(batch)?;
        out.extend(doc.finish()?);
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn text_timestamps_are_milliseconds_and_openmetrics_seconds() {
        let batch = || {
            vec![
                series("system.cpuUsage", "%", &[], &[(1_700_000_000_000, 12.5)]),
                series(
                    "system.cpuUsage",
                    "%",
                    &[("core", "a\"b")],
                    &[(1_700_000_000_500, 1.0)],
                ),
                series(
                    "queries.avgResponseTime",
                    "ms",
                    &[],
                    &[(1_700_000_001_000, 250.0)],
                ),
            ]
        };
        assert_eq!(
            render(Layout::Text, batch()).unwrap(),
            "# HELP system_cpu_usage_percent system.cpuUsage (%)\n\
             # TYPE system_cpu_usage_percent gauge\n\
             system_cpu_usage_percent 12.5 1700000000000\n\
             system_cpu_usage_percent{core=\"a\\\"b\"} 1 1700000000500\n\
             # HELP queries_avg_response_time_seconds queries.avgResponseTime (ms)\n\
             # TYPE queries_avg_response_time_seconds gauge\n\
             queries_avg_response_time_seconds 0.25 1700000001000\n"
        );
        let om = render(Layout::OpenMetrics, batch()).unwrap();
        assert!(
            om.contains("system_cpu_usage_percent 12.5 1700000000\n"),
            "{om}"
        );
        assert!(om.contains("{core=\"a\\\"b\"} 1 1700000000.5\n"), "{om}");
        assert!(om.ends_with("0.25 1700000001\n# EOF\n"), "{om}");
    }

    #[test]
    fn an_empty_range_is_a_valid_empty_document() {
        assert_eq!(render(Layout::Text, vec![]).unwrap(), "");
        assert_eq!(render(Layout::OpenMetrics, vec![]).unwrap(), "# EOF\n");
    }

    #[test]
    fn two_metrics_with_one_name_end_the_export() {
        let err = render(
            Layout::Text,
            vec![
                series("a.bC", "", &[], &[(1, 1.0)]),
                series("a.b_c", "", &[], &[(1, 1.0)]),
            ],
        )
        .unwrap_err();
        assert!(err.contains("`a.bC` and `a.b_c`"), "{err}");
    }
}
