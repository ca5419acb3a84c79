//! The json exporter: renders the series, alerts and bottlenecks of a time range as one pretty-printed JSON document.
//!
//! # Config
//!
//! None: the plugin takes no `config` table (an empty one is fine) and
//! needs no grants.
//!
//! # Document
//!
//! ```json
//! {
//!   "exportTime": 1700000060000,
//!   "format": "json",
//!   "range": { "start": 1700000000000, "end": 1700000060000 },
//!   "recordCount": 2,
//!   "series": [
//!     {
//!       "metric": "agents.avgResponseTime",
//!       "unit": "ms",
//!       "labels": { "agent": "coder-1" },
//!       "points": [[1700000000000, 120.5], [1700000030000, 98.0]]
//!     }
//!   ],
//!   "alerts": [
//!     {
//!       "id": "…", "rule": "…", "severity": "critical", "status": "firing",
//!       "metric": "…", "value": 2500.0, "threshold": 2000.0, "message": "…",
//!       "component": "…", "labels": {}, "timestamp": 1700000030000
//!     }
//!   ],
//!   "bottlenecks": [
//!     {
//!       "id": "…", "type": "coordination", "component": "agents", "impact": 40.0,
//!       "description": "…", "suggestions": ["…"], "firstSeen": 1700000000000,
//!       "lastSeen": 1700000030000, "resolved": false
//!     }
//!   ]
//! }
//! ```
//!
//! `exportTime` is when the document was rendered and `recordCount` the
//! number of points in all series, both in the shape the original
//! system's JSON export had. Label objects are sorted by name, so equal
//! data renders to equal bytes.

use std::collections::BTreeMap;

use perfwatch_sdk::serde::{Deserialize, Serialize};
use perfwatch_sdk::{
    Alert, AlertStatus, Artifact, Bottleneck, BottleneckKind, ExportRequest, Exporter, Label,
    Series, Severity, export_exporter,
};

/// The plugin's `config` table: empty, and typos in it are errors rather
/// than options silently ignored.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {}

/// The whole document.
#[derive(Serialize)]
#[serde(crate = "perfwatch_sdk::serde", rename_all = "camelCase")]
struct Document<'a> {
    export_time: i64,
    format: &'static str,
    range: Range,
    record_count: usize,
    series: Vec<SeriesOut<'a>>,
    alerts: Vec<AlertOut<'a>>,
    bottlenecks: Vec<BottleneckOut<'a>>,
}

#[derive(Serialize)]
#[serde(crate = "perfwatch_sdk::serde")]
struct Range {
    start: i64,
    end: i64,
}

#[derive(Serialize)]
#[serde(crate = "perfwatch_sdk::serde")]
struct SeriesOut<'a> {
    metric: &'a str,
    unit: &'a str,
    labels: BTreeMap<&'a str, &'a str>,
    /// `[timestamp, value]` pairs: a tuple serialises as a two-element array.
    points: Vec<(i64, f64)>,
}

#[derive(Serialize)]
#[serde(crate = "perfwatch_sdk::serde")]
struct AlertOut<'a> {
    id: &'a str,
    rule: &'a str,
    severity: &'static str,
    status: &'static str,
    metric: &'a str,
    value: f64,
    threshold: f64,
    message: &'a str,
    component: &'a str,
    labels: BTreeMap<&'a str, &'a str>,
    timestamp: i64,
}

#[derive(Serialize)]
#[serde(crate = "perfwatch_sdk::serde", rename_all = "camelCase")]
struct BottleneckOut<'a> {
    id: &'a str,
    /// The original `BottleneckAnalysis` called the kind `type`.
    #[serde(rename = "type")]
    kind: &'static str,
    component: &'a str,
    impact: f64,
    description: &'a str,
    suggestions: &'a [String],
    first_seen: i64,
    last_seen: i64,
    resolved: bool,
}

struct Json;

impl Exporter for Json {
    fn export(request: ExportRequest) -> Result<Artifact, String> {
        let _: Options = perfwatch_sdk::config()?;
        Ok(Artifact {
            extension: "json".into(),
            media_type: "application/json".into(),
            bytes: render(&request, perfwatch_sdk::now_ms())?,
        })
    }
}

export_exporter!(Json);

/// The document for `request`, stamped `export_time_ms`.
fn render(request: &ExportRequest, export_time_ms: i64) -> Result<Vec<u8>, String> {
    let series = request
        .series
        .iter()
        .map(series_out)
        .collect::<Result<Vec<_>, _>>()?;
    let document = Document {
        export_time: export_time_ms,
        format: "json",
        range: Range {
            start: request.start_ms,
            end: request.end_ms,
        },
        record_count: series.iter().map(|one| one.points.len()).sum(),
        series,
        alerts: request.alerts.iter().map(alert_out).collect(),
        bottlenecks: request.bottlenecks.iter().map(bottleneck_out).collect(),
    };
    let mut bytes = perfwatch_sdk::serde_json::to_vec_pretty(&document)
        .map_err(|err| format!("cannot render the JSON document: {err}"))?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn series_out(series: &Series) -> Result<SeriesOut<'_>, String> {
    if series.timestamps_ms.len() != series.values.len() {
        return Err(format!(
            "series {}{} has {} timestamps but {} values",
            series.metric,
            describe_labels(&series.labels),
            series.timestamps_ms.len(),
            series.values.len()
        ));
    }
    Ok(SeriesOut {
        metric: &series.metric,
        unit: &series.unit,
        labels: label_map(&series.labels),
        points: series
            .timestamps_ms
            .iter()
            .copied()
            .zip(series.values.iter().copied())
            .collect(),
    })
}

fn alert_out(alert: &Alert) -> AlertOut<'_> {
    AlertOut {
        id: &alert.id,
        rule: &alert.rule,
        severity: match alert.severity {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        },
        status: match alert.status {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        },
        metric: &alert.metric,
        value: alert.value,
        threshold: alert.threshold,
        message: &alert.message,
        component: &alert.component,
        labels: label_map(&alert.labels),
        timestamp: alert.timestamp_ms,
    }
}

fn bottleneck_out(b: &Bottleneck) -> BottleneckOut<'_> {
    BottleneckOut {
        id: &b.id,
        kind: match b.kind {
            BottleneckKind::Cpu => "cpu",
            BottleneckKind::Memory => "memory",
            BottleneckKind::Io => "io",
            BottleneckKind::Network => "network",
            BottleneckKind::Coordination => "coordination",
            BottleneckKind::Ui => "ui",
        },
        component: &b.component,
        impact: b.impact,
        description: &b.description,
        suggestions: &b.suggestions,
        first_seen: b.first_seen_ms,
        last_seen: b.last_seen_ms,
        resolved: b.resolved,
    }
}

fn label_map(labels: &[Label]) -> BTreeMap<&str, &str> {
    labels
        .iter()
        .map(|label| (label.key.as_str(), label.value.as_str()))
        .collect()
}

/// `{a="b",c="d"}` for an error message; empty when there are no labels.
fn describe_labels(labels: &[Label]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = labels
        .iter()
        .map(|label| format!("{}={:?}", label.key, label.value))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ExportRequest {
        ExportRequest {
            start_ms: 1_700_000_000_000,
            end_ms: 1_700_000_060_000,
            series: vec![
                Series {
                    metric: "agents.avgResponseTime".into(),
                    unit: "ms".into(),
                    labels: vec![Label::new("team", "a"), Label::new("agent", "coder-1")],
                    timestamps_ms: vec![1_700_000_000_000, 1_700_000_030_000],
                    values: vec![120.5, 98.0],
                },
                Series {
                    metric: "system.load1".into(),
                    unit: String::new(),
                    labels: vec![],
                    timestamps_ms: vec![1_700_000_000_000],
                    values: vec![0.25],
                },
            ],
            alerts: vec![Alert {
                id: "threshold:agents.avgResponseTime/{agent=\"coder-1\"}@1700000030000".into(),
                rule: "threshold:agents.avgResponseTime".into(),
                severity: Severity::Critical,
                status: AlertStatus::Resolved,
                metric: "agents.avgResponseTime".into(),
                value: 3100.0,
                threshold: 3000.0,
                message: "Agent Response Time {agent=\"coder-1\"}: 3100 ms (threshold: 3000 ms)"
                    .into(),
                component: "agents".into(),
                labels: vec![Label::new("agent", "coder-1")],
                timestamp_ms: 1_700_000_045_000,
            }],
            bottlenecks: vec![Bottleneck {
                id: "coordination/agents".into(),
                kind: BottleneckKind::Coordination,
                component: "agents".into(),
                impact: 62.0,
                description: "Agent response time 3100 ms".into(),
                suggestions: vec!["Reduce message passing".into()],
                first_seen_ms: 1_700_000_030_000,
                last_seen_ms: 1_700_000_045_000,
                resolved: false,
            }],
        }
    }

    #[test]
    fn renders_the_whole_document() {
        let bytes = render(&request(), 1_700_000_061_234).unwrap();
        let expected = r#"{
  "exportTime": 1700000061234,
  "format": "json",
  "range": {
    "start": 1700000000000,
    "end": 1700000060000
  },
  "recordCount": 3,
  "series": [
    {
      "metric": "agents.avgResponseTime",
      "unit": "ms",
      "labels": {
        "agent": "coder-1",
        "team": "a"
      },
      "points": [
        [
          1700000000000,
          120.5
        ],
        [
          1700000030000,
          98.0
        ]
      ]
    },
    {
      "metric": "system.load1",
      "unit": "",
      "labels": {},
      "points": [
        [
          1700000000000,
          0.25
        ]
      ]
    }
  ],
  "alerts": [
    {
      "id": "threshold:agents.avgResponseTime/{agent=\"coder-1\"}@1700000030000",
      "rule": "threshold:agents.avgResponseTime",
      "severity": "critical",
      "status": "resolved",
      "metric": "agents.avgResponseTime",
      "value": 3100.0,
      "threshold": 3000.0,
      "message": "Agent Response Time {agent=\"coder-1\"}: 3100 ms (threshold: 3000 ms)",
      "component": "agents",
      "labels": {
        "agent": "coder-1"
      },
      "timestamp": 1700000045000
    }
  ],
  "bottlenecks": [
    {
      "id": "coordination/agents",
      "type": "coordination",
      "component": "agents",
      "impact": 62.0,
      "description": "Agent response time 3100 ms",
      "suggestions": [
        "Reduce message passing"
      ],
      "firstSeen": 1700000030000,
      "lastSeen": 1700000045000,
      "resolved": false
    }
  ]
}
"#;
        assert_eq!(String::from_utf8(bytes).unwrap(), expected);
    }

    #[test]
    fn empty_range() {
        let request = ExportRequest {
            start_ms: 0,
            end_ms: 1,
            series: vec![],
            alerts: vec![],
            bottlenecks: vec![],
        };
        let text = String::from_utf8(render(&request, 5).unwrap()).unwrap();
        let value: perfwatch_sdk::serde_json::Value =
            perfwatch_sdk::serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            perfwatch_sdk::serde_json::json!({
                "exportTime": 5, "format": "json", "range": {"start": 0, "end": 1},
                "recordCount": 0, "series": [], "alerts": [], "bottlenecks": []
            })
        );
    }

    #[test]
    fn mismatched_series_is_an_error_naming_it() {
        let mut request = request();
        request.series[0].values.pop();
        assert_eq!(
            render(&request, 0).unwrap_err(),
            r#"series agents.avgResponseTime{team="a",agent="coder-1"} has 2 timestamps but 1 values"#
        );
    }

    #[test]
    fn export_returns_a_json_artifact() {
        let artifact = Json::export(request()).unwrap();
        assert_eq!(artifact.extension, "json");
        assert_eq!(artifact.media_type, "application/json");
        let value: perfwatch_sdk::serde_json::Value =
            perfwatch_sdk::serde_json::from_slice(&artifact.bytes).unwrap();
        assert_eq!(value["recordCount"], 3);
        assert!(value["exportTime"].as_i64().unwrap() > 1_700_000_000_000);
    }

    #[test]
    fn config_is_empty() {
        assert_eq!(perfwatch_sdk::parse_config("{}"), Ok(Options {}));
        assert!(perfwatch_sdk::parse_config::<Options>(r#"{"pretty": false}"#).is_err());
    }
}
