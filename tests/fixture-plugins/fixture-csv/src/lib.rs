//! The fixture-csv exporter: streams the exported series as CSV, one row per point, the starting point for a real format.
//!
//! # Config
//!
//! ```toml
//! [[plugins]]
//! name = "fixture-csv"
//! config = { header = true }
//! ```
//!
//! - `header`: whether the first row names the columns (default true).
//!
//! Alerts and bottlenecks are not part of this format, so the writer keeps
//! the SDK's default for them, which writes nothing.

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{
    ConfigError, ConfigInfo, DocumentType, DocumentWriter, ExportInfo, Exporter, Series,
    export_exporter,
};

/// The plugin's `config` table.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    /// Whether the first row names the columns.
    #[serde(default = "default_header")]
    header: bool,
}

fn default_header() -> bool {
    true
}

struct FixtureCsvExporter;

impl Exporter for FixtureCsvExporter {
    type Document = Csv;

    fn begin(_info: ExportInfo) -> Result<Csv, String> {
        let options: Options = perfwatch_sdk::config()?;
        Ok(Csv::new(&options))
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Options>(config, &[])
    }
}

export_exporter!(FixtureCsvExporter);

/// One CSV document being written. It keeps only what the next call
/// needs, never the data: the host sends a range in batches.
struct Csv {
    /// The header row, until it is written.
    header: Option<&'static str>,
    /// `metric,labels,unit` of the open series: a long series arrives in
    /// several entries, and only the first (`continued == false`) names it.
    current: String,
}

impl Csv {
    fn new(options: &Options) -> Self {
        let header = "metric,labels,unit,timestamp_ms,value\n";
        Self {
            header: options.header.then_some(header),
            current: String::new(),
        }
    }
}

impl DocumentWriter for Csv {
    fn document_type(&self) -> DocumentType {
        DocumentType::new("csv", "text/csv")
    }

    fn write_series(&mut self, batch: Vec<Series>) -> Result<Vec<u8>, String> {
        let mut out = self.header.take().unwrap_or_default().to_owned();
        for entry in &batch {
            if !entry.continued {
                let labels: Vec<String> = entry
                    .labels
                    .iter()
                    .map(|label| format!("{}={}", label.key, label.value))
                    .collect();
                let fields = [entry.metric.as_str(), &labels.join(";"), &entry.unit];
                self.current = fields.map(field).join(",");
            }
            if entry.timestamps_ms.len() != entry.values.len() {
                return Err(format!("series {} has uneven points", self.current));
            }
            for (timestamp, value) in entry.timestamps_ms.iter().zip(&entry.values) {
                out.push_str(&format!("{},{timestamp},{value}\n", self.current));
            }
        }
        Ok(out.into_bytes())
    }

    fn finish(&mut self) -> Result<Vec<u8>, String> {
        // A range without series still gets its header row.
        Ok(self.header.take().unwrap_or_default().as_bytes().to_vec())
    }
}

/// Quotes a CSV field when it holds a separator, a quote or a line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::FixtureCsvExporter as Plugin;
    use super::*;
    use perfwatch_sdk::Label;

    fn info() -> ExportInfo {
        ExportInfo {
            start_ms: 0,
            end_ms: 3_000,
            series_count: 1,
            alert_count: 0,
            bottleneck_count: 0,
            options: "{}".into(),
        }
    }

    fn entry(continued: bool, timestamp_ms: i64, value: f64) -> Series {
        Series {
            metric: "system.load1".into(),
            unit: String::new(),
            labels: vec![Label::new("host", "a,b")],
            continued,
            timestamps_ms: vec![timestamp_ms],
            values: vec![value],
        }
    }

    #[test]
    fn streams_rows_across_continued_entries() {
        // Natively the config is `{}`: a header row.
        let mut csv = Plugin::begin(info()).unwrap();
        let mut bytes = csv.write_series(vec![entry(false, 1_000, 0.5)]).unwrap();
        bytes.extend(csv.write_series(vec![entry(true, 2_000, 0.75)]).unwrap());
        bytes.extend(csv.finish().unwrap());
        let expected = "metric,labels,unit,timestamp_ms,value\n\
                        system.load1,\"host=a,b\",,1000,0.5\n\
                        system.load1,\"host=a,b\",,2000,0.75\n";
        assert_eq!(String::from_utf8(bytes).unwrap(), expected);
    }

    #[test]
    fn an_empty_range_is_the_header_alone() {
        let mut csv = Csv::new(&Options { header: true });
        let header = b"metric,labels,unit,timestamp_ms,value\n";
        assert_eq!(csv.finish().unwrap(), header);
        let mut bare = Csv::new(&Options { header: false });
        assert_eq!(bare.finish().unwrap(), b"");
    }

    #[test]
    fn config_mistakes_are_named() {
        assert!(Plugin::validate_config(r#"{"header": "yes"}"#).is_err());
        assert_eq!(Plugin::validate_config("{}"), Ok(ConfigInfo::default()));
    }
}
