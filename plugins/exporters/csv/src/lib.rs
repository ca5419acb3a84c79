//! The csv exporter: the points of a time range as RFC 4180 CSV, one row per point (long) or one row per timestamp in the original system's 11 columns (wide).
//!
//! # Config
//!
//! None: the plugin takes no `config` table and needs no grants. The
//! layout is a format option of each export (`?layout=wide` on
//! `POST /api/v1/export`).
//!
//! # Long layout (the default)
//!
//! ```text
//! timestamp,metric,labels,value,unit
//! 1700000000000,agents.avgResponseTime,agent=coder-1;team=a,120.5,ms
//! ```
//!
//! `timestamp` is epoch milliseconds, `labels` is `k=v` pairs sorted by key
//! and joined by `;` (a `\`, `;` or `=` inside a key or value is escaped
//! with `\`), `value` the shortest decimal that reads back as the stored
//! double. Fields holding `,`, `"`, CR or LF are quoted, with `"` doubled,
//! and rows end in CRLF, as RFC 4180 says.
//!
//! # Wide layout (`layout = "wide"`)
//!
//! The original's header, `timestamp,cpu_usage_percent,…,trace_collection_overhead_ms`,
//! one row per timestamp of the unlabelled series of those ten metrics,
//! values with two decimals and the error rate as a percentage with four,
//! as the original wrote them; an empty cell where a metric has no point.
//! Other metrics and labelled series have no column and are left out.
//!
//! Both layouts write their header even when the range has no data.
//!
//! # Streaming
//!
//! The long layout keeps only the open series' `metric,labels` prefix. The
//! wide layout must see every column of a row before writing it, and the
//! host sends one series at a time, so it holds ten values per timestamp
//! (80 bytes: a day at 1 s is about 7 MiB of the instance's memory) and
//! writes the rows at the end.

use std::collections::BTreeMap;

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{
    ConfigError, ConfigInfo, DocumentType, DocumentWriter, ExportInfo, Exporter, Label, Series,
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
    /// `timestamp,metric,labels,value,unit`.
    #[default]
    Long,
    /// The original's 11 columns.
    Wide,
}

/// The long layout's header.
const LONG_HEADER: &str = "timestamp,metric,labels,value,unit\r\n";

/// The original's wide columns after `timestamp`: the metric each holds,
/// and the factor and decimals it was written with.
const WIDE_COLUMNS: [(&str, &str, f64, usize); 10] = [
    ("cpu_usage_percent", "system.cpuUsage", 1.0, 2),
    ("memory_usage_percent", "system.memoryUsage", 1.0, 2),
    ("disk_usage_percent", "system.diskUsage", 1.0, 2),
    ("network_latency_ms", "system.networkLatency", 1.0, 2),
    ("agent_response_time_ms", "agents.avgResponseTime", 1.0, 2),
    ("task_throughput", "agents.taskThroughput", 1.0, 2),
    ("ui_frame_rate", "ui.frameRate", 1.0, 2),
    ("query_response_time_ms", "queries.avgResponseTime", 1.0, 2),
    // Stored as a fraction; the original wrote it ×100 with 4 decimals.
    ("error_rate_percent", "tracing.errorRate", 100.0, 4),
    (
        "trace_collection_overhead_ms",
        "tracing.collectionOverhead",
        1.0,
        2,
    ),
];

struct CsvExporter;

impl Exporter for CsvExporter {
    type Document = CsvDocument;

    fn begin(info: ExportInfo) -> Result<CsvDocument, String> {
        let _: Config = perfwatch_sdk::config()?;
        let options = parse_options(&info.options)?;
        Ok(CsvDocument::new(options.layout))
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Config>(config, &[])
    }
}

export_exporter!(CsvExporter);

fn parse_options(options: &str) -> Result<Options, String> {
    let options = if options.trim().is_empty() {
        "{}"
    } else {
        options
    };
    perfwatch_sdk::serde_json::from_str(options).map_err(|err| {
        format!("csv format options: {err} (the csv format takes layout = \"long\" or \"wide\")")
    })
}

/// One CSV document being written.
struct CsvDocument {
    layout: Layout,
    header_written: bool,
    /// Long: `metric,labels,` of the open series, already quoted.
    prefix: String,
    /// Long: the open series' unit field, already quoted.
    unit: String,
    /// Wide: the column of the open series, if it has one.
    column: Option<usize>,
    /// Wide: the values of each timestamp, NaN where missing.
    rows: BTreeMap<i64, [f64; 10]>,
}

impl CsvDocument {
    fn new(layout: Layout) -> Self {
        Self {
            layout,
            header_written: false,
            prefix: String::new(),
            unit: String::new(),
            column: None,
            rows: BTreeMap::new(),
        }
    }

    fn header(&mut self, out: &mut String) {
        if self.header_written {
            return;
        }
        self.header_written = true;
        match self.layout {
            Layout::Long => out.push_str(LONG_HEADER),
            Layout::Wide => {
                out.push_str("timestamp");
                for (name, ..) in WIDE_COLUMNS {
                    out.push(',');
                    out.push_str(name);
                }
                out.push_str("\r\n");
            }
        }
    }

    fn start_series(&mut self, entry: &Series) {
        match self.layout {
            Layout::Long => {
                self.prefix.clear();
                field(&entry.metric, &mut self.prefix);
                self.prefix.push(',');
                field(&labels_text(&entry.labels), &mut self.prefix);
                self.prefix.push(',');
                self.unit.clear();
                field(&entry.unit, &mut self.unit);
            }
            Layout::Wide => {
                self.column = if entry.labels.is_empty() {
                    WIDE_COLUMNS.iter().position(|c| c.1 == entry.metric)
                } else {
                    None
                };
            }
        }
    }

    fn write_points(&mut self, entry: &Series, out: &mut String) {
        use std::fmt::Write;
        match self.layout {
            Layout::Long => {
                for (timestamp, value) in entry.timestamps_ms.iter().zip(&entry.values) {
                    let _ = write!(out, "{timestamp},{}{value},{}\r\n", self.prefix, self.unit);
                }
            }
            Layout::Wide => {
                let Some(column) = self.column else { return };
                for (timestamp, value) in entry.timestamps_ms.iter().zip(&entry.values) {
                    self.rows.entry(*timestamp).or_insert([f64::NAN; 10])[column] = *value;
                }
            }
        }
    }
}

impl DocumentWriter for CsvDocument {
    fn document_type(&self) -> DocumentType {
        DocumentType::new("csv", "text/csv")
    }

    fn write_series(&mut self, batch: Vec<Series>) -> Result<Vec<u8>, String> {
        let mut out = String::new();
        self.header(&mut out);
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
                self.start_series(entry);
            }
            self.write_points(entry, &mut out);
        }
        Ok(out.into_bytes())
    }

    fn finish(&mut self) -> Result<Vec<u8>, String> {
        use std::fmt::Write;
        let mut out = String::new();
        self.header(&mut out);
        for (timestamp, values) in std::mem::take(&mut self.rows) {
            let _ = write!(out, "{timestamp}");
            for (value, (_, _, factor, decimals)) in values.iter().zip(WIDE_COLUMNS) {
                out.push(',');
                if !value.is_nan() {
                    let _ = write!(out, "{:.*}", decimals, value * factor);
                }
            }
            out.push_str("\r\n");
        }
        Ok(out.into_bytes())
    }
}

/// `k=v;k=v`, sorted by key, with `\`, `;` and `=` escaped by `\`.
fn labels_text(labels: &[Label]) -> String {
    let mut sorted: Vec<&Label> = labels.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut out = String::new();
    for (i, label) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        escape_label_part(&label.key, &mut out);
        out.push('=');
        escape_label_part(&label.value, &mut out);
    }
    out
}

fn escape_label_part(text: &str, out: &mut String) {
    for c in text.chars() {
        if matches!(c, '\\' | ';' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Appends `text` as an RFC 4180 field: quoted, with `"` doubled, when it
/// holds a comma, a quote, CR or LF.
fn field(text: &str, out: &mut String) {
    if text.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(
        metric: &str,
        labels: &[(&str, &str)],
        continued: bool,
        points: &[(i64, f64)],
    ) -> Series {
        Series {
            metric: metric.to_owned(),
            unit: "ms".to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| Label {
                    key: (*k).to_owned(),
                    value: (*v).to_owned(),
                })
                .collect(),
            continued,
            timestamps_ms: points.iter().map(|p| p.0).collect(),
            values: points.iter().map(|p| p.1).collect(),
        }
    }

    fn render(layout: Layout, batches: Vec<Vec<Series>>) -> String {
        let mut doc = CsvDocument::new(layout);
        let mut out = Vec::new();
        for batch in batches {
            out.extend(doc.write_series(batch).unwrap());
        }
        out.extend(doc.write_alerts(Vec::new()).unwrap());
        out.extend(doc.finish().unwrap());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn long_rows_quote_what_rfc_4180_says_and_continue_long_series() {
        let text = render(
            Layout::Long,
            vec![
                vec![series(
                    "a.b",
                    &[("z", "1"), ("k", "x,\"y\";=")],
                    false,
                    &[(1, 0.5)],
                )],
                vec![
                    series("", &[], true, &[(2, 2.0)]),
                    series("c.d", &[], false, &[(3, -1e-7)]),
                ],
            ],
        );
        assert_eq!(
            text,
            "timestamp,metric,labels,value,unit\r\n\
             1,a.b,\"k=x,\"\"y\"\"\\;\\=;z=1\",0.5,ms\r\n\
             2,a.b,\"k=x,\"\"y\"\"\\;\\=;z=1\",2,ms\r\n\
             3,c.d,,-0.0000001,ms\r\n"
        );
    }

    #[test]
    fn the_header_is_the_same_without_data() {
        assert_eq!(render(Layout::Long, vec![]), LONG_HEADER);
        let wide = render(Layout::Wide, vec![]);
        assert_eq!(
            wide,
            "timestamp,cpu_usage_percent,memory_usage_percent,disk_usage_percent,network_latency_ms,agent_response_time_ms,task_throughput,ui_frame_rate,query_response_time_ms,error_rate_percent,trace_collection_overhead_ms\r\n"
        );
    }

    #[test]
    fn wide_rows_join_the_unlabelled_series_by_timestamp() {
        let text = render(
            Layout::Wide,
            vec![vec![
                series(
                    "system.cpuUsage",
                    &[],
                    false,
                    &[(1000, 12.346), (2000, 50.0)],
                ),
                series("system.cpuUsage", &[("core", "0")], false, &[(1000, 99.0)]),
                series("tracing.errorRate", &[], false, &[(2000, 0.012_34)]),
                series("other.metric", &[], false, &[(3000, 1.0)]),
            ]],
        );
        let rows: Vec<&str> = text.split("\r\n").skip(1).collect();
        assert_eq!(
            rows,
            ["1000,12.35,,,,,,,,,", "2000,50.00,,,,,,,,1.2340,", ""]
        );
    }

    #[test]
    fn options_name_the_layout_and_nothing_else() {
        assert_eq!(parse_options("{}").unwrap().layout, Layout::Long);
        assert_eq!(
            parse_options(r#"{"layout":"wide"}"#).unwrap().layout,
            Layout::Wide
        );
        assert!(parse_options(r#"{"layout":"tall"}"#).is_err());
        assert!(parse_options(r#"{"sep":";"}"#).is_err());
    }
}
