//! The datadog exporter: the points of a range as the body of Datadog's metrics intake, `POST /api/v2/series` (`{"series": [{metric, type, points[{timestamp, value}], resources[{name, type: host}], tags, unit}]}`).
//!
//! # Config
//!
//! ```toml
//! [[plugins]]
//! name = "datadog"
//! [plugins.config]
//! host = "web-1"                 # resources: [{name = host, type = "host"}]; none when absent
//! env = "production"             # tag env:<env>; none when absent
//! tags = ["service:checkout"]    # added to every series
//! ```
//!
//! Nothing is hard-coded: the original sent `host:claude-flow-instance`
//! and `env:production` whatever the machine. Metric names stay dotted, as
//! Datadog names them; labels become `key:value` tags; points carry epoch
//! seconds; every series is a gauge (type 3), since the export world does
//! not carry a series' kind. Units Datadog knows (`percent`,
//! `millisecond`, `byte`, …) are named; others are left out.
//!
//! The exporter world has no HTTP import, so the plugin writes the body
//! into `export_path`; sending it is `curl -H "DD-API-KEY: …" --data @file`.
//!
//! # Streaming
//!
//! Each entry of a series becomes one series object with its points (a
//! long series is several objects with the same metric and tags, which
//! the intake accepts); the writer keeps the open series' head, never the
//! points.

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::serde_json::{self, Value, json};
use perfwatch_sdk::{
    ConfigError, ConfigInfo, DocumentType, DocumentWriter, ExportInfo, Exporter, Series,
    export_exporter,
};

/// The plugin's `config` table.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Config {
    /// The host resource every series is attributed to.
    #[serde(default)]
    host: Option<String>,
    /// `env:<env>` on every series.
    #[serde(default)]
    env: Option<String>,
    /// Tags added to every series, `key:value`.
    #[serde(default)]
    tags: Vec<String>,
}

/// Datadog's series type for a gauge (0 unspecified, 1 count, 2 rate).
const GAUGE: u8 = 3;

struct Datadog;

impl Exporter for Datadog {
    type Document = DatadogDocument;

    fn begin(info: ExportInfo) -> Result<DatadogDocument, String> {
        let config: Config = perfwatch_sdk::config()?;
        let options: serde_json::Map<String, Value> =
            serde_json::from_str(if info.options.trim().is_empty() {
                "{}"
            } else {
                &info.options
            })
            .map_err(|err| format!("format options are not a JSON object: {err}"))?;
        if let Some(name) = options.keys().next() {
            return Err(format!(
                "the datadog format takes no options, but the request set {name}"
            ));
        }
        Ok(DatadogDocument::new(config))
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Config>(config, &[])
    }
}

export_exporter!(Datadog);

/// The open series: everything of its object but the points.
struct Head {
    metric: String,
    tags: Vec<String>,
    unit: Option<&'static str>,
}

struct DatadogDocument {
    config: Config,
    started: bool,
    items: usize,
    head: Option<Head>,
}

impl DatadogDocument {
    fn new(config: Config) -> Self {
        Self {
            config,
            started: false,
            items: 0,
            head: None,
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            out.extend_from_slice(b"{\"series\":[");
        }
    }
}

/// Datadog's name for a perfwatch unit, when it has one.
fn datadog_unit(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "%" | "percent" => "percent",
        "ms" => "millisecond",
        "s" => "second",
        "us" | "µs" => "microsecond",
        "ns" => "nanosecond",
        "B" | "bytes" | "byte" => "byte",
        "KiB" => "kibibyte",
        "MiB" => "mebibyte",
        "GiB" => "gibibyte",
        "ratio" => "fraction",
        _ => return None,
    })
}

impl DocumentWriter for DatadogDocument {
    fn document_type(&self) -> DocumentType {
        DocumentType::new("json", "application/json")
    }

    fn write_series(&mut self, batch: Vec<Series>) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        self.start(&mut out);
        for entry in &batch {
            if entry.timestamps_ms.len() != entry.values.len() {
                return Err(format!("series {} has uneven points", entry.metric));
            }
            if !entry.continued {
                let mut tags: Vec<String> = entry
                    .labels
                    .iter()
                    .map(|l| format!("{}:{}", l.key, l.value))
                    .collect();
                if let Some(env) = &self.config.env {
                    tags.push(format!("env:{env}"));
                }
                tags.extend(self.config.tags.iter().cloned());
                self.head = Some(Head {
                    metric: entry.metric.clone(),
                    tags,
                    unit: datadog_unit(&entry.unit),
                });
            }
            let Some(head) = &self.head else {
                return Err(format!("an entry of {} continues no series", entry.metric));
            };
            if entry.values.is_empty() {
                continue;
            }
            let points: Vec<Value> = entry
                .timestamps_ms
                .iter()
                .zip(&entry.values)
                .map(|(ms, value)| json!({ "timestamp": ms.div_euclid(1000), "value": value }))
                .collect();
            let mut series = json!({
                "metric": head.metric,
                "type": GAUGE,
                "points": points,
                "tags": head.tags,
            });
            if let Some(host) = &self.config.host {
                series["resources"] = json!([{ "name": host, "type": "host" }]);
            }
            if let Some(unit) = head.unit {
                series["unit"] = json!(unit);
            }
            if self.items > 0 {
                out.push(b',');
            }
            self.items += 1;
            serde_json::to_writer(&mut out, &series).map_err(|err| err.to_string())?;
        }
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        self.start(&mut out);
        out.extend_from_slice(b"]}\n");
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::Label;

    #[test]
    fn series_carry_tags_host_unit_and_seconds() {
        let mut doc = DatadogDocument::new(Config {
            host: Some("web-1".to_owned()),
            env: Some("staging".to_owned()),
            tags: vec!["service:checkout".to_owned()],
        });
        let entry = Series {
            metric: "system.cpuUsage".to_owned(),
            unit: "%".to_owned(),
            labels: vec![Label {
                key: "core".to_owned(),
                value: "0".to_owned(),
            }],
            continued: false,
            timestamps_ms: vec![1_700_000_000_500],
            values: vec![12.5],
        };
        let mut out = doc.write_series(vec![entry]).unwrap();
        out.extend(doc.finish().unwrap());
        let body: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            body,
            json!({"series": [{
                "metric": "system.cpuUsage", "type": 3,
                "points": [{"timestamp": 1_700_000_000, "value": 12.5}],
                "tags": ["core:0", "env:staging", "service:checkout"],
                "resources": [{"name": "web-1", "type": "host"}],
                "unit": "percent"
            }]})
        );
    }

    #[test]
    fn an_empty_range_is_an_empty_series_list() {
        let mut doc = DatadogDocument::new(Config::default());
        let out = doc.finish().unwrap();
        assert_eq!(out, b"{\"series\":[]}\n");
    }
}
