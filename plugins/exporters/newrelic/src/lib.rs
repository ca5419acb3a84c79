//! The newrelic exporter: the points of a range as the body of New Relic's Metric API (`POST /metric/v1`): `[{common: {timestamp, interval.ms, attributes}, metrics: [{name, type, value, timestamp, attributes}]}]`.
//!
//! # Config
//!
//! ```toml
//! [[plugins]]
//! name = "newrelic"
//! [plugins.config]
//! host = "web-1"                          # common attribute host.name; none when absent
//! env = "production"                      # common attribute env; none when absent
//! attributes = { service = "checkout" }   # more common attributes
//! ```
//!
//! The original posted Event API objects (`eventType: ClaudeFlowPerformance`)
//! with CPU, memory and two more fields. Here every point is a metric:
//! names stay dotted, as New Relic names them; labels become the metric's
//! attributes, with its unit as `unit`; timestamps are epoch milliseconds;
//! `common` spans the exported range. Every metric is a `gauge`, since the
//! export world does not carry a series' kind.
//!
//! The exporter world has no HTTP import, so the plugin writes the body
//! into `export_path`; sending it is `curl -H "Api-Key: …" --data @file`.
//!
//! # Streaming
//!
//! The writer keeps the open series' name and attributes, never the
//! points.

use std::collections::BTreeMap;

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::serde_json::{self, Map, Value, json};
use perfwatch_sdk::{
    ConfigError, ConfigInfo, DocumentType, DocumentWriter, ExportInfo, Exporter, Series,
    export_exporter,
};

/// The plugin's `config` table.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Config {
    /// `host.name` on every metric.
    #[serde(default)]
    host: Option<String>,
    /// `env` on every metric.
    #[serde(default)]
    env: Option<String>,
    /// More attributes on every metric.
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

struct NewRelic;

impl Exporter for NewRelic {
    type Document = NewRelicDocument;

    fn begin(info: ExportInfo) -> Result<NewRelicDocument, String> {
        let config: Config = perfwatch_sdk::config()?;
        let options: Map<String, Value> = serde_json::from_str(if info.options.trim().is_empty() {
            "{}"
        } else {
            &info.options
        })
        .map_err(|err| format!("format options are not a JSON object: {err}"))?;
        if let Some(name) = options.keys().next() {
            return Err(format!(
                "the newrelic format takes no options, but the request set {name}"
            ));
        }
        Ok(NewRelicDocument::new(&config, info.start_ms, info.end_ms))
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Config>(config, &[])
    }
}

export_exporter!(NewRelic);

struct NewRelicDocument {
    /// The document's head, until it is written.
    head: Option<String>,
    items: usize,
    /// The open series: its name and attributes.
    open: Option<(String, Map<String, Value>)>,
}

impl NewRelicDocument {
    fn new(config: &Config, start_ms: i64, end_ms: i64) -> Self {
        let mut attributes = Map::new();
        if let Some(host) = &config.host {
            attributes.insert("host.name".to_owned(), json!(host));
        }
        if let Some(env) = &config.env {
            attributes.insert("env".to_owned(), json!(env));
        }
        for (key, value) in &config.attributes {
            attributes.insert(key.clone(), json!(value));
        }
        let common = json!({
            "timestamp": start_ms,
            "interval.ms": end_ms.saturating_sub(start_ms).max(0),
            "attributes": attributes,
        });
        let head = format!("[{{\"common\":{common},\"metrics\":[");
        Self {
            head: Some(head),
            items: 0,
            open: None,
        }
    }
}

impl DocumentWriter for NewRelicDocument {
    fn document_type(&self) -> DocumentType {
        DocumentType::new("json", "application/json")
    }

    fn write_series(&mut self, batch: Vec<Series>) -> Result<Vec<u8>, String> {
        let mut out = self.head.take().unwrap_or_default().into_bytes();
        for entry in &batch {
            if entry.timestamps_ms.len() != entry.values.len() {
                return Err(format!("series {} has uneven points", entry.metric));
            }
            if !entry.continued {
                let mut attributes: Map<String, Value> = entry
                    .labels
                    .iter()
                    .map(|l| (l.key.clone(), json!(l.value)))
                    .collect();
                if !entry.unit.is_empty() {
                    attributes.insert("unit".to_owned(), json!(entry.unit));
                }
                self.open = Some((entry.metric.clone(), attributes));
            }
            let Some((name, attributes)) = &self.open else {
                return Err(format!("an entry of {} continues no series", entry.metric));
            };
            for (ms, value) in entry.timestamps_ms.iter().zip(&entry.values) {
                let mut metric =
                    json!({ "name": name, "type": "gauge", "value": value, "timestamp": ms });
                if !attributes.is_empty() {
                    metric["attributes"] = Value::Object(attributes.clone());
                }
                if self.items > 0 {
                    out.push(b',');
                }
                self.items += 1;
                serde_json::to_writer(&mut out, &metric).map_err(|err| err.to_string())?;
            }
        }
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<u8>, String> {
        let mut out = self.head.take().unwrap_or_default().into_bytes();
        out.extend_from_slice(b"]}]\n");
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::Label;

    #[test]
    fn every_point_is_a_gauge_with_the_series_attributes() {
        let config = Config {
            host: Some("web-1".to_owned()),
            ..Config::default()
        };
        let mut doc = NewRelicDocument::new(&config, 1000, 61_000);
        let entry = Series {
            metric: "queries.avgResponseTime".to_owned(),
            unit: "ms".to_owned(),
            labels: vec![Label {
                key: "db".to_owned(),
                value: "main".to_owned(),
            }],
            continued: false,
            timestamps_ms: vec![2000, 3000],
            values: vec![120.5, 99.0],
        };
        let mut out = doc.write_series(vec![entry]).unwrap();
        out.extend(doc.finish().unwrap());
        let body: Value = serde_json::from_slice(&out).unwrap();
        let attributes = json!({"db": "main", "unit": "ms"});
        assert_eq!(
            body,
            json!([{
                "common": {"timestamp": 1000, "interval.ms": 60_000, "attributes": {"host.name": "web-1"}},
                "metrics": [
                    {"name": "queries.avgResponseTime", "type": "gauge", "value": 120.5, "timestamp": 2000, "attributes": attributes},
                    {"name": "queries.avgResponseTime", "type": "gauge", "value": 99.0, "timestamp": 3000, "attributes": attributes}
                ]
            }])
        );
    }

    #[test]
    fn an_empty_range_is_one_empty_batch() {
        let mut doc = NewRelicDocument::new(&Config::default(), 0, 10);
        let body: Value = serde_json::from_slice(&doc.finish().unwrap()).unwrap();
        assert_eq!(body[0]["metrics"], json!([]));
    }
}
