//! The grafana exporter: an importable Grafana dashboard (classic JSON model, `__inputs` for a Prometheus datasource) with a row per section and a panel per metric of the range, querying the names perfwatch's `/metrics` serves.
//!
//! # Config
//!
//! None: the plugin takes no `config` table, no format options, and needs
//! no grants.
//!
//! # Dashboard
//!
//! Import it in Grafana (Dashboards → Import) and pick the Prometheus that
//! scrapes perfwatch's `/metrics` for `DS_PROMETHEUS`. Each metric of the
//! range gets a time-series panel whose query is its `/metrics` name (from
//! `perfwatch-exposition`, so the two cannot drift), with one legend entry
//! per label set and Grafana's unit for its base unit (the export world
//! does not carry a series' kind, so the query matches the name with or
//! without the `_total` that `/metrics` gives counters); metrics are grouped
//! in a row per section (`system`, `agents`, …). Alert annotations mark
//! when `perfwatch_alerts_firing` changes.
//!
//! # Streaming
//!
//! The dashboard describes metrics, not points: the writer keeps each
//! metric's name, unit and label keys (one entry per metric), and writes
//! the dashboard at the end.

use std::collections::{BTreeMap, BTreeSet};

use perfwatch_exposition::{Kind, family};
use perfwatch_sdk::serde_json::{self, Value, json};
use perfwatch_sdk::{
    ConfigError, ConfigInfo, DocumentType, DocumentWriter, ExportInfo, Exporter, Series,
    export_exporter,
};

/// The plugin's `config` table: empty, and typos in it are errors.
#[derive(Debug, PartialEq, perfwatch_sdk::serde::Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Config {}

/// The datasource input the dashboard asks for on import.
const DATASOURCE: &str = "${DS_PROMETHEUS}";

struct Grafana;

impl Exporter for Grafana {
    type Document = Dashboard;

    fn begin(info: ExportInfo) -> Result<Dashboard, String> {
        let _: Config = perfwatch_sdk::config()?;
        let options: serde_json::Map<String, Value> =
            serde_json::from_str(if info.options.trim().is_empty() {
                "{}"
            } else {
                &info.options
            })
            .map_err(|err| format!("format options are not a JSON object: {err}"))?;
        if let Some(name) = options.keys().next() {
            return Err(format!(
                "the grafana format takes no options, but the request set {name}"
            ));
        }
        Ok(Dashboard::default())
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Config>(config, &[])
    }
}

export_exporter!(Grafana);

/// What a panel needs of one metric.
#[derive(Debug, Default)]
struct MetricInfo {
    unit: String,
    label_keys: BTreeSet<String>,
}

/// The metrics seen so far, by name.
#[derive(Debug, Default)]
struct Dashboard {
    metrics: BTreeMap<String, MetricInfo>,
}

impl DocumentWriter for Dashboard {
    fn document_type(&self) -> DocumentType {
        DocumentType::new("json", "application/json")
    }

    fn write_series(&mut self, batch: Vec<Series>) -> Result<Vec<u8>, String> {
        for entry in batch.iter().filter(|e| !e.continued) {
            let info = self.metrics.entry(entry.metric.clone()).or_default();
            info.unit.clone_from(&entry.unit);
            info.label_keys
                .extend(entry.labels.iter().map(|l| l.key.clone()));
        }
        Ok(Vec::new())
    }

    fn finish(&mut self) -> Result<Vec<u8>, String> {
        let dashboard = render(&self.metrics);
        serde_json::to_vec_pretty(&dashboard).map_err(|err| format!("cannot render JSON: {err}"))
    }
}

/// Grafana's unit for a base-unit suffix.
fn grafana_unit(name: &str) -> &'static str {
    if name.ends_with("_percent") {
        "percent"
    } else if name.ends_with("_ratio") {
        "percentunit"
    } else if name.ends_with("_bytes_per_second") {
        "Bps"
    } else if name.ends_with("_seconds") {
        "s"
    } else if name.ends_with("_bytes") {
        "bytes"
    } else {
        "short"
    }
}

fn render(metrics: &BTreeMap<String, MetricInfo>) -> Value {
    let datasource = json!({ "type": "prometheus", "uid": DATASOURCE });
    let mut panels = Vec::new();
    let mut id = 1;
    let mut y = 0;
    let mut section = None;
    let mut column = 0;
    for (metric, info) in metrics {
        let this_section = metric.split('.').next().unwrap_or(metric).to_owned();
        if section.as_ref() != Some(&this_section) {
            if column != 0 {
                y += 8;
                column = 0;
            }
            panels.push(json!({
                "type": "row", "id": id, "title": this_section, "collapsed": false,
                "gridPos": { "h": 1, "w": 24, "x": 0, "y": y }, "panels": []
            }));
            id += 1;
            y += 1;
            section = Some(this_section);
        }
        let name = family(metric, &info.unit, Kind::Gauge).name;
        // The export world does not say whether a series is a counter, which
        // /metrics serves with `_total`: the query matches either name.
        let expr = format!("{{__name__=~\"{name}(_total)?\"}}");
        let legend = if info.label_keys.is_empty() {
            metric.clone()
        } else {
            info.label_keys
                .iter()
                .map(|k| format!("{{{{{}}}}}", perfwatch_exposition::label_name(k)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        panels.push(json!({
            "type": "timeseries", "id": id, "title": metric,
            "description": format!("perfwatch metric {metric} ({}) as {name}", info.unit),
            "datasource": datasource,
            "gridPos": { "h": 8, "w": 12, "x": column * 12, "y": y },
            "fieldConfig": { "defaults": { "unit": grafana_unit(&name) }, "overrides": [] },
            "options": { "legend": { "displayMode": "list", "placement": "bottom" } },
            "targets": [{ "datasource": datasource, "expr": expr, "legendFormat": legend, "refId": "A" }]
        }));
        id += 1;
        column += 1;
        if column == 2 {
            column = 0;
            y += 8;
        }
    }
    json!({
        "__inputs": [{
            "name": "DS_PROMETHEUS", "label": "Prometheus", "description": "the Prometheus that scrapes perfwatch's /metrics",
            "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"
        }],
        "__requires": [
            { "type": "grafana", "id": "grafana", "name": "Grafana", "version": "9.0.0" },
            { "type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0" },
            { "type": "panel", "id": "timeseries", "name": "Time series", "version": "" }
        ],
        "annotations": { "list": [
            {
                "builtIn": 1, "datasource": { "type": "grafana", "uid": "-- Grafana --" },
                "enable": true, "hide": true, "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts", "type": "dashboard"
            },
            {
                "datasource": datasource, "enable": true, "iconColor": "red",
                "name": "perfwatch alerts", "expr": "changes(perfwatch_alerts_firing[1m]) > 0",
                "step": "30s", "titleFormat": "firing alerts changed", "useValueForTime": false
            }
        ]},
        "editable": true,
        "graphTooltip": 1,
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": 36,
        "tags": ["perfwatch"],
        "templating": { "list": [] },
        "time": { "from": "now-6h", "to": "now" },
        "timezone": "utc",
        "title": "perfwatch",
        "uid": "perfwatch",
        "version": 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_query_the_metrics_names_in_a_row_per_section() {
        let mut metrics = BTreeMap::new();
        metrics.insert(
            "agents.avgResponseTime".to_owned(),
            MetricInfo {
                unit: "ms".to_owned(),
                label_keys: ["agent".to_owned()].into(),
            },
        );
        metrics.insert(
            "system.cpuUsage".to_owned(),
            MetricInfo {
                unit: "%".to_owned(),
                ..Default::default()
            },
        );
        let dashboard = render(&metrics);
        let panels = dashboard["panels"].as_array().unwrap();
        let kinds: Vec<(&str, &str)> = panels
            .iter()
            .map(|p| (p["type"].as_str().unwrap(), p["title"].as_str().unwrap()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("row", "agents"),
                ("timeseries", "agents.avgResponseTime"),
                ("row", "system"),
                ("timeseries", "system.cpuUsage"),
            ]
        );
        assert_eq!(
            panels[1]["targets"][0]["expr"],
            r#"{__name__=~"agents_avg_response_time_seconds(_total)?"}"#
        );
        assert_eq!(panels[1]["targets"][0]["legendFormat"], "{{agent}}");
        assert_eq!(panels[1]["fieldConfig"]["defaults"]["unit"], "s");
        assert_eq!(
            panels[3]["targets"][0]["expr"],
            r#"{__name__=~"system_cpu_usage_percent(_total)?"}"#
        );
        assert_eq!(dashboard["__inputs"][0]["name"], "DS_PROMETHEUS");
    }
}
