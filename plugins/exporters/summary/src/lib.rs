//! The summary exporter: the original `generateSummaryReport()` over a range (overview, top bottlenecks, critical alerts, recommendations with the figures behind them), as JSON, or Markdown with `layout = "markdown"`.
//!
//! # Config
//!
//! None: the plugin takes no `config` table and needs no grants. The
//! layout is a format option of each export (`?layout=markdown`).
//!
//! # Report
//!
//! ```json
//! {
//!   "range": {"start": 1700000000000, "end": 1700003600000},
//!   "overview": {
//!     "rangeMs": 3600000, "snapshots": 720,
//!     "alerts": {"total": 3, "active": 1},
//!     "bottlenecks": {"total": 2, "current": 1},
//!     "averages": {"cpuUsage": 41.2, "memoryUsage": 63.0, "responseTime": 180.5, "throughput": 12.0, "errorRate": 0.01}
//!   },
//!   "topBottlenecks": [ … up to 5, highest impact first … ],
//!   "criticalAlerts": [ … critical alerts still firing … ],
//!   "recommendations": [{"rule": "cpu", "message": "…", "value": 86.1, "threshold": 80}]
//! }
//! ```
//!
//! Averages are over every point of the range's unlabelled series
//! (`system.cpuUsage`, `system.memoryUsage`, `agents.avgResponseTime`,
//! `agents.taskThroughput`, `tracing.errorRate`); `snapshots` counts the
//! CPU points, one per tick. The recommendations are the original's rules
//! (CPU > 80 %, memory > 85 %, response > 1000 ms, error rate > 5 %, active
//! bottlenecks), each with the figure that triggered it; "healthy" when
//! none did. The original's rule on degrading trends is left out: exports
//! carry no trends. `topBottlenecks` is a sorted copy: the original sorted
//! its history in place.
//!
//! # Streaming
//!
//! The writer keeps a sum and a count per averaged metric, the five
//! highest-impact bottlenecks and the critical firing alerts, never the
//! points.

use perfwatch_sdk::serde::{Deserialize, Serialize};
use perfwatch_sdk::serde_json::{self, Value, json};
use perfwatch_sdk::{
    Alert, AlertStatus, Bottleneck, ConfigError, ConfigInfo, DocumentType, DocumentWriter,
    ExportInfo, Exporter, Series, Severity, export_exporter,
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
    #[default]
    Json,
    Markdown,
}

/// The averaged metrics: report key, perfwatch metric.
const AVERAGED: [(&str, &str); 5] = [
    ("cpuUsage", "system.cpuUsage"),
    ("memoryUsage", "system.memoryUsage"),
    ("responseTime", "agents.avgResponseTime"),
    ("throughput", "agents.taskThroughput"),
    ("errorRate", "tracing.errorRate"),
];

/// How many bottlenecks `topBottlenecks` lists, as the original.
const TOP_BOTTLENECKS: usize = 5;

struct Summary;

impl Exporter for Summary {
    type Document = Report;

    fn begin(info: ExportInfo) -> Result<Report, String> {
        let _: Config = perfwatch_sdk::config()?;
        let options: Options = serde_json::from_str(if info.options.trim().is_empty() {
            "{}"
        } else {
            &info.options
        })
        .map_err(|err| {
            format!("summary format options: {err} (it takes layout = \"json\" or \"markdown\")")
        })?;
        Ok(Report::new(options.layout, info.start_ms, info.end_ms))
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Config>(config, &[])
    }
}

export_exporter!(Summary);

#[derive(Serialize)]
#[serde(crate = "perfwatch_sdk::serde", rename_all = "camelCase")]
struct BottleneckOut {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    component: String,
    impact: f64,
    description: String,
    suggestions: Vec<String>,
    resolved: bool,
}

#[derive(Serialize)]
#[serde(crate = "perfwatch_sdk::serde", rename_all = "camelCase")]
struct AlertOut {
    id: String,
    rule: String,
    metric: String,
    value: f64,
    threshold: f64,
    message: String,
    component: String,
    timestamp: i64,
}

/// One report being gathered; see "Streaming" in the crate docs.
struct Report {
    layout: Layout,
    start_ms: i64,
    end_ms: i64,
    /// Sum and count per [`AVERAGED`] metric.
    sums: [(f64, u64); 5],
    /// The [`AVERAGED`] index of the open series, if it is one.
    open: Option<usize>,
    alerts_total: usize,
    alerts_active: usize,
    critical: Vec<AlertOut>,
    bottlenecks_total: usize,
    bottlenecks_current: usize,
    top: Vec<BottleneckOut>,
}

impl Report {
    fn new(layout: Layout, start_ms: i64, end_ms: i64) -> Self {
        Self {
            layout,
            start_ms,
            end_ms,
            sums: [(0.0, 0); 5],
            open: None,
            alerts_total: 0,
            alerts_active: 0,
            critical: Vec::new(),
            bottlenecks_total: 0,
            bottlenecks_current: 0,
            top: Vec::new(),
        }
    }

    fn average(&self, i: usize) -> Option<f64> {
        let (sum, n) = self.sums[i];
        (n > 0).then(|| sum / n as f64)
    }

    /// The original's rules, each with the figure that triggered it.
    fn recommendations(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let rules = [
            (
                0,
                80.0,
                "cpu",
                "High CPU usage: profile the hottest agents or scale out",
            ),
            (
                1,
                85.0,
                "memory",
                "High memory usage: look for leaks and unbounded caches",
            ),
            (
                2,
                1000.0,
                "responseTime",
                "Slow responses: check slow queries and agent coordination",
            ),
            (
                4,
                0.05,
                "errorRate",
                "Error rate above 5 %: look at the failing operations",
            ),
        ];
        for (i, threshold, rule, message) in rules {
            if let Some(value) = self.average(i).filter(|v| *v > threshold) {
                out.push(json!({ "rule": rule, "message": message, "value": value, "threshold": threshold }));
            }
        }
        if self.bottlenecks_current > 0 {
            out.push(json!({
                "rule": "bottlenecks",
                "message": format!("{} active bottlenecks need attention", self.bottlenecks_current),
                "value": self.bottlenecks_current,
                "threshold": 0
            }));
        }
        if out.is_empty() {
            out.push(json!({
                "rule": "healthy",
                "message": "System performance appears healthy: no rule was triggered"
            }));
        }
        out
    }

    fn to_json(&self) -> Value {
        let mut averages = serde_json::Map::new();
        for (i, (key, _)) in AVERAGED.iter().enumerate() {
            averages.insert((*key).to_owned(), json!(self.average(i)));
        }
        json!({
            "range": { "start": self.start_ms, "end": self.end_ms },
            "overview": {
                "rangeMs": self.end_ms.saturating_sub(self.start_ms),
                "snapshots": self.sums[0].1,
                "alerts": { "total": self.alerts_total, "active": self.alerts_active },
                "bottlenecks": { "total": self.bottlenecks_total, "current": self.bottlenecks_current },
                "averages": averages,
            },
            "topBottlenecks": self.top,
            "criticalAlerts": self.critical,
            "recommendations": self.recommendations(),
        })
    }

    fn to_markdown(&self) -> String {
        use std::fmt::Write;
        let report = self.to_json();
        let mut md = String::from("# perfwatch summary\n\n");
        let _ = writeln!(
            md,
            "Range: {} – {} (epoch ms)\n",
            self.start_ms, self.end_ms
        );
        md.push_str("## Overview\n\n| figure | value |\n| --- | --- |\n");
        let overview = &report["overview"];
        let _ = writeln!(md, "| snapshots | {} |", overview["snapshots"]);
        let _ = writeln!(
            md,
            "| alerts (total / active) | {} / {} |",
            self.alerts_total, self.alerts_active
        );
        let _ = writeln!(
            md,
            "| bottlenecks (total / current) | {} / {} |",
            self.bottlenecks_total, self.bottlenecks_current
        );
        for (i, (key, _)) in AVERAGED.iter().enumerate() {
            let value = self
                .average(i)
                .map_or("–".to_owned(), |v| format!("{v:.2}"));
            let _ = writeln!(md, "| average {key} | {value} |");
        }
        md.push_str("\n## Top bottlenecks\n\n");
        if self.top.is_empty() {
            md.push_str("None.\n");
        }
        for b in &self.top {
            let _ = writeln!(
                md,
                "- **{}** ({}, impact {:.0}/100): {}",
                escape(&b.kind),
                escape(&b.component),
                b.impact,
                escape(&b.description)
            );
        }
        md.push_str("\n## Critical alerts\n\n");
        if self.critical.is_empty() {
            md.push_str("None.\n");
        }
        for a in &self.critical {
            let _ = writeln!(md, "- {}: {}", escape(&a.metric), escape(&a.message));
        }
        md.push_str("\n## Recommendations\n\n");
        for r in report["recommendations"].as_array().into_iter().flatten() {
            let _ = write!(
                md,
                "- {}",
                escape(r["message"].as_str().unwrap_or_default())
            );
            if let (Some(v), Some(t)) = (r["value"].as_f64(), r["threshold"].as_f64()) {
                let _ = write!(md, " ({v:.2} > {t})");
            }
            md.push('\n');
        }
        md
    }
}

/// Text with Markdown's punctuation escaped, so a metric name or message
/// cannot turn into markup or a link.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_{}[]()#+-.!|<>".contains(c) {
            out.push('\\');
        }
        if c == '\n' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

impl DocumentWriter for Report {
    fn document_type(&self) -> DocumentType {
        match self.layout {
            Layout::Json => DocumentType::new("json", "application/json"),
            Layout::Markdown => DocumentType::new("md", "text/markdown; charset=utf-8"),
        }
    }

    fn write_series(&mut self, batch: Vec<Series>) -> Result<Vec<u8>, String> {
        for entry in &batch {
            if !entry.continued {
                self.open = if entry.labels.is_empty() {
                    AVERAGED.iter().position(|(_, m)| *m == entry.metric)
                } else {
                    None
                };
            }
            if let Some(i) = self.open {
                self.sums[i].0 += entry.values.iter().sum::<f64>();
                self.sums[i].1 += entry.values.len() as u64;
            }
        }
        Ok(Vec::new())
    }

    fn write_alerts(&mut self, batch: Vec<Alert>) -> Result<Vec<u8>, String> {
        for alert in batch {
            self.alerts_total += 1;
            let firing = alert.status == AlertStatus::Firing;
            if firing {
                self.alerts_active += 1;
            }
            if firing && alert.severity == Severity::Critical {
                self.critical.push(AlertOut {
                    id: alert.id,
                    rule: alert.rule,
                    metric: alert.metric,
                    value: alert.value,
                    threshold: alert.threshold,
                    message: alert.message,
                    component: alert.component,
                    timestamp: alert.starts_at_ms,
                });
            }
        }
        Ok(Vec::new())
    }

    fn write_bottlenecks(&mut self, batch: Vec<Bottleneck>) -> Result<Vec<u8>, String> {
        for b in batch {
            self.bottlenecks_total += 1;
            if !b.resolved {
                self.bottlenecks_current += 1;
            }
            self.top.push(BottleneckOut {
                id: b.id,
                kind: format!("{:?}", b.kind).to_lowercase(),
                component: b.component,
                impact: b.impact,
                description: b.description,
                suggestions: b.suggestions,
                resolved: b.resolved,
            });
            self.top.sort_by(|a, b| b.impact.total_cmp(&a.impact));
            self.top.truncate(TOP_BOTTLENECKS);
        }
        Ok(Vec::new())
    }

    fn finish(&mut self) -> Result<Vec<u8>, String> {
        Ok(match self.layout {
            Layout::Json => {
                let mut out =
                    serde_json::to_vec_pretty(&self.to_json()).map_err(|e| e.to_string())?;
                out.push(b'\n');
                out
            }
            Layout::Markdown => self.to_markdown().into_bytes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(metric: &str, values: &[f64]) -> Series {
        Series {
            metric: metric.to_owned(),
            unit: String::new(),
            labels: Vec::new(),
            continued: false,
            timestamps_ms: (0..values.len() as i64).collect(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn recommendations_name_the_figures_that_triggered_them() {
        let mut report = Report::new(Layout::Json, 0, 60_000);
        report
            .write_series(vec![
                series("system.cpuUsage", &[90.0, 82.0]),
                series("system.memoryUsage", &[50.0]),
                series("tracing.errorRate", &[0.1]),
            ])
            .unwrap();
        let json: Value = serde_json::from_slice(&report.finish().unwrap()).unwrap();
        assert_eq!(json["overview"]["snapshots"], 2);
        assert_eq!(json["overview"]["averages"]["cpuUsage"], 86.0);
        assert_eq!(json["overview"]["averages"]["responseTime"], Value::Null);
        let rules: Vec<&str> = json["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["rule"].as_str().unwrap())
            .collect();
        assert_eq!(rules, ["cpu", "errorRate"]);
        assert_eq!(json["recommendations"][0]["value"], 86.0);
    }

    #[test]
    fn an_empty_range_is_healthy_and_markdown_escapes_text() {
        let mut report = Report::new(Layout::Markdown, 0, 1);
        let md = String::from_utf8(report.finish().unwrap()).unwrap();
        assert!(md.contains("System performance appears healthy"), "{md}");
        assert_eq!(escape("<script>[x](y)"), "\\<script\\>\\[x\\]\\(y\\)");
    }
}
