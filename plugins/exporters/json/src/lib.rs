//! The json exporter: streams the series, alerts and bottlenecks of a time range as one pretty-printed JSON document.
//!
//! # Config
//!
//! None: the plugin takes no `config` table (an empty one is fine), no
//! format options, and needs no grants.
//!
//! # Document
//!
//! ```json
//! {
//!   "exportTime": 1700000060000,
//!   "format": "json",
//!   "range": { "start": 1700000000000, "end": 1700000060000 },
//!   "series": [
//!     {
//!       "metric": "agents.avgResponseTime",
//!       "unit": "ms",
//!       "labels": { "agent": "coder-1" },
//!       "points": [[1700000000000, 120.5], [1700000030000, 98.0]]
//!     }
//!   ],
//!   "recordCount": 2,
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
//! `exportTime` is when the document was begun and `recordCount` the number
//! of points in all series, in the shape the original system's JSON export
//! had. `recordCount` follows the series because it is known only once they
//! are written. An alert's `timestamp` is when it changed to its current
//! status: when it resolved, else when it started firing. Label objects are
//! sorted by name, so equal data renders to equal bytes.
//!
//! # Streaming
//!
//! Every call returns only the bytes of its own batch: the document's head
//! before the first series, each series' points as they come (a long series
//! arrives in several entries, `continued` after the first), and each
//! section's closing bracket when the next section starts. The writer keeps
//! which section it is in and how far the open series got, never the data.

use std::collections::BTreeMap;

use perfwatch_sdk::serde::{Deserialize, Serialize};
use perfwatch_sdk::serde_json::{self, Map, Value};
use perfwatch_sdk::{
    Alert, AlertStatus, Bottleneck, BottleneckKind, ConfigError, ConfigInfo, DocumentType,
    DocumentWriter, ExportInfo, Exporter, Label, Series, Severity, export_exporter,
};

/// The plugin's `config` table: empty, and typos in it are errors rather
/// than options silently ignored.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {}

/// What a series entry opens with; its points follow.
#[derive(Serialize)]
#[serde(crate = "perfwatch_sdk::serde")]
struct SeriesHead<'a> {
    metric: &'a str,
    unit: &'a str,
    labels: BTreeMap<&'a str, &'a str>,
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
    type Document = JsonDocument;

    fn begin(info: ExportInfo) -> Result<JsonDocument, String> {
        let _: Options = perfwatch_sdk::config()?;
        check_no_options(&info.options)?;
        Ok(JsonDocument::new(&info, perfwatch_sdk::now_ms()))
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Options>(config, &[])
    }
}

export_exporter!(Json);

/// The format takes no options; naming one is a mistake worth reporting.
fn check_no_options(options: &str) -> Result<(), String> {
    let options: Map<String, Value> = serde_json::from_str(options)
        .map_err(|err| format!("format options are not a JSON object: {err}"))?;
    if options.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = options.keys().map(String::as_str).collect();
    Err(format!(
        "the json format takes no options, but the request set {}",
        names.join(", ")
    ))
}

/// The document's parts, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    /// Nothing written yet.
    Start,
    /// Inside `"series": [`.
    Series,
    /// Inside `"alerts": [`.
    Alerts,
    /// Inside `"bottlenecks": [`.
    Bottlenecks,
    /// The closing brace is written.
    Done,
}

/// The series whose points are being written.
struct OpenSeries {
    /// `metric{labels}`, for error messages about its later entries.
    name: String,
    /// Points written so far.
    points: usize,
}

/// One document being written; see "Streaming" in the crate docs.
struct JsonDocument {
    export_time_ms: i64,
    start_ms: i64,
    end_ms: i64,
    section: Section,
    /// Items written in the current section's array, for the commas.
    items: usize,
    open: Option<OpenSeries>,
    /// Points in all series so far: `recordCount`.
    record_count: usize,
}

impl JsonDocument {
    fn new(info: &ExportInfo, export_time_ms: i64) -> Self {
        Self {
            export_time_ms,
            start_ms: info.start_ms,
            end_ms: info.end_ms,
            section: Section::Start,
            items: 0,
            open: None,
            record_count: 0,
        }
    }

    /// Writes whatever closes the sections before `target` and opens it.
    fn enter(&mut self, target: Section, out: &mut Vec<u8>) -> Result<(), String> {
        if target < self.section {
            return Err(format!(
                "{target:?} written after {:?}; the host sends series, then alerts, then bottlenecks",
                self.section
            ));
        }
        while self.section < target {
            match self.section {
                Section::Start => {
                    let head = format!(
                        "{{\n  \"exportTime\": {},\n  \"format\": \"json\",\n  \"range\": {{\n    \"start\": {},\n    \"end\": {}\n  }},\n  \"series\": [",
                        self.export_time_ms, self.start_ms, self.end_ms
                    );
                    out.extend_from_slice(head.as_bytes());
                    self.section = Section::Series;
                }
                Section::Series => {
                    self.close_series(out);
                    self.close_array(out);
                    let next = format!(
                        ",\n  \"recordCount\": {},\n  \"alerts\": [",
                        self.record_count
                    );
                    out.extend_from_slice(next.as_bytes());
                    self.section = Section::Alerts;
                }
                Section::Alerts => {
                    self.close_array(out);
                    out.extend_from_slice(b",\n  \"bottlenecks\": [");
                    self.section = Section::Bottlenecks;
                }
                Section::Bottlenecks => {
                    self.close_array(out);
                    out.extend_from_slice(b"\n}\n");
                    self.section = Section::Done;
                }
                Section::Done => unreachable!("nothing comes after the end"),
            }
        }
        Ok(())
    }

    /// Starts the next item of the current array.
    fn next_item(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.items == 0 { b"\n" } else { b",\n" });
        self.items += 1;
    }

    /// Closes the current array: `[]` when it stayed empty, as serde_json
    /// pretty-prints it.
    fn close_array(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.items == 0 { b"]" } else { b"\n  ]" });
        self.items = 0;
    }

    fn close_series(&mut self, out: &mut Vec<u8>) {
        if let Some(open) = self.open.take() {
            out.extend_from_slice(if open.points == 0 { b"]" } else { b"\n      ]" });
            out.extend_from_slice(b"\n    }");
        }
    }

    fn write_entry(&mut self, entry: &Series, out: &mut Vec<u8>) -> Result<(), String> {
        if !entry.continued {
            self.close_series(out);
            self.next_item(out);
            let head = SeriesHead {
                metric: &entry.metric,
                unit: &entry.unit,
                labels: label_map(&entry.labels),
            };
            let head = pretty(&head)?;
            let head = head.strip_suffix("\n}").unwrap_or(&head);
            indent(&format!("{head},\n  \"points\": ["), out);
            self.open = Some(OpenSeries {
                name: format!("{}{}", entry.metric, describe_labels(&entry.labels)),
                points: 0,
            });
        }
        let Some(open) = self.open.as_mut() else {
            return Err(format!(
                "an entry of series {}{} continues no series; the first entry of a series has continued = false",
                entry.metric,
                describe_labels(&entry.labels)
            ));
        };
        if entry.timestamps_ms.len() != entry.values.len() {
            return Err(format!(
                "series {} has an entry with {} timestamps but {} values",
                open.name,
                entry.timestamps_ms.len(),
                entry.values.len()
            ));
        }
        for (timestamp, value) in entry.timestamps_ms.iter().zip(&entry.values) {
            out.extend_from_slice(if open.points == 0 { b"\n" } else { b",\n" });
            out.extend_from_slice(
                format!("        [\n          {timestamp},\n          ").as_bytes(),
            );
            // serde_json's number formatting, so a value renders as it did
            // when the whole document went through serde_json.
            serde_json::to_writer(&mut *out, value)
                .map_err(|err| format!("cannot render a value of {}: {err}", open.name))?;
            out.extend_from_slice(b"\n        ]");
            open.points += 1;
        }
        self.record_count += entry.values.len();
        Ok(())
    }

    /// Writes one pretty-printed item of the current array.
    fn write_item(&mut self, item: &impl Serialize, out: &mut Vec<u8>) -> Result<(), String> {
        self.next_item(out);
        indent(&pretty(item)?, out);
        Ok(())
    }
}

impl DocumentWriter for JsonDocument {
    fn document_type(&self) -> DocumentType {
        DocumentType::new("json", "application/json")
    }

    fn write_series(&mut self, batch: Vec<Series>) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        self.enter(Section::Series, &mut out)?;
        for entry in &batch {
            self.write_entry(entry, &mut out)?;
        }
        Ok(out)
    }

    fn write_alerts(&mut self, batch: Vec<Alert>) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        self.enter(Section::Alerts, &mut out)?;
        for alert in &batch {
            self.write_item(&alert_out(alert), &mut out)?;
        }
        Ok(out)
    }

    fn write_bottlenecks(&mut self, batch: Vec<Bottleneck>) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        self.enter(Section::Bottlenecks, &mut out)?;
        for bottleneck in &batch {
            self.write_item(&bottleneck_out(bottleneck), &mut out)?;
        }
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        self.enter(Section::Done, &mut out)?;
        Ok(out)
    }
}

/// `value` as serde_json pretty-prints it at the top level.
fn pretty(value: &impl Serialize) -> Result<String, String> {
    serde_json::to_string_pretty(value).map_err(|err| format!("cannot render JSON: {err}"))
}

/// Appends `text` with every line indented by two levels, as serde_json
/// indents an object inside an array inside the document. JSON text holds
/// no raw line breaks inside strings, so every line break is structure.
fn indent(text: &str, out: &mut Vec<u8>) {
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(b"    ");
        out.extend_from_slice(line.as_bytes());
    }
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
        timestamp: match alert.status {
            AlertStatus::Firing => alert.starts_at_ms,
            AlertStatus::Resolved => alert.ends_at_ms.unwrap_or(alert.starts_at_ms),
        },
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

    fn info() -> ExportInfo {
        ExportInfo {
            start_ms: 1_700_000_000_000,
            end_ms: 1_700_000_060_000,
            series_count: 2,
            alert_count: 1,
            bottleneck_count: 1,
            options: "{}".into(),
        }
    }

    fn series(
        metric: &str,
        unit: &str,
        labels: &[(&str, &str)],
        continued: bool,
        points: &[(i64, f64)],
    ) -> Series {
        Series {
            metric: metric.into(),
            unit: unit.into(),
            labels: labels.iter().map(|(k, v)| Label::new(*k, *v)).collect(),
            continued,
            timestamps_ms: points.iter().map(|(t, _)| *t).collect(),
            values: points.iter().map(|(_, v)| *v).collect(),
        }
    }

    fn response_time(continued: bool, points: &[(i64, f64)]) -> Series {
        series(
            "agents.avgResponseTime",
            "ms",
            &[("team", "a"), ("agent", "coder-1")],
            continued,
            points,
        )
    }

    fn load1() -> Series {
        series("system.load1", "", &[], false, &[(1_700_000_000_000, 0.25)])
    }

    fn alert() -> Alert {
        Alert {
            id: "threshold:agents.avgResponseTime/{agent=\"coder-1\"}@1700000030000".into(),
            rule: "threshold:agents.avgResponseTime".into(),
            severity: Severity::Critical,
            status: AlertStatus::Resolved,
            metric: "agents.avgResponseTime".into(),
            value: 3100.0,
            threshold: 3000.0,
            message: "Agent Response Time {agent=\"coder-1\"}: 3100 ms (threshold: 3000 ms)".into(),
            component: "agents".into(),
            labels: vec![Label::new("agent", "coder-1")],
            annotations: vec![],
            starts_at_ms: 1_700_000_030_000,
            ends_at_ms: Some(1_700_000_045_000),
            fingerprint: "threshold:agents.avgResponseTime/{agent=\"coder-1\"}".into(),
            generator_url: String::new(),
        }
    }

    fn bottleneck() -> Bottleneck {
        Bottleneck {
            id: "coordination/agents".into(),
            kind: BottleneckKind::Coordination,
            component: "agents".into(),
            impact: 62.0,
            description: "Agent response time 3100 ms".into(),
            suggestions: vec!["Reduce message passing".into()],
            first_seen_ms: 1_700_000_030_000,
            last_seen_ms: 1_700_000_045_000,
            resolved: false,
        }
    }

    /// The document written through `calls`, each a batch for one method,
    /// then `finish`; every call's bytes appended as the host does.
    fn document(calls: Vec<Call>) -> Result<String, String> {
        let mut document = JsonDocument::new(&info(), 1_700_000_061_234);
        assert_eq!(
            document.document_type(),
            DocumentType::new("json", "application/json")
        );
        let mut bytes = Vec::new();
        for call in calls {
            bytes.extend(match call {
                Call::Series(batch) => document.write_series(batch)?,
                Call::Alerts(batch) => document.write_alerts(batch)?,
                Call::Bottlenecks(batch) => document.write_bottlenecks(batch)?,
            });
        }
        bytes.extend(document.finish()?);
        Ok(String::from_utf8(bytes).unwrap())
    }

    enum Call {
        Series(Vec<Series>),
        Alerts(Vec<Alert>),
        Bottlenecks(Vec<Bottleneck>),
    }

    const WHOLE: &str = r#"{
  "exportTime": 1700000061234,
  "format": "json",
  "range": {
    "start": 1700000000000,
    "end": 1700000060000
  },
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
  "recordCount": 3,
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

    #[test]
    fn renders_the_whole_document() {
        let written = document(vec![
            Call::Series(vec![
                response_time(
                    false,
                    &[(1_700_000_000_000, 120.5), (1_700_000_030_000, 98.0)],
                ),
                load1(),
            ]),
            Call::Alerts(vec![alert()]),
            Call::Bottlenecks(vec![bottleneck()]),
        ]);
        assert_eq!(written.as_deref(), Ok(WHOLE));
    }

    #[test]
    fn a_series_split_across_entries_and_batches_renders_the_same() {
        // Continuations carry whatever metadata; only the first entry's counts.
        let mut continuation = response_time(true, &[(1_700_000_030_000, 98.0)]);
        continuation.metric = String::new();
        continuation.labels.clear();
        let written = document(vec![
            Call::Series(vec![response_time(false, &[])]),
            Call::Series(vec![
                response_time(true, &[(1_700_000_000_000, 120.5)]),
                response_time(true, &[]),
            ]),
            Call::Series(vec![continuation, load1()]),
            Call::Series(vec![]),
            Call::Alerts(vec![]),
            Call::Alerts(vec![alert()]),
            Call::Bottlenecks(vec![bottleneck()]),
        ]);
        assert_eq!(written.as_deref(), Ok(WHOLE));
    }

    #[test]
    fn sections_without_calls_are_still_written() {
        let text = document(vec![]).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "exportTime": 1_700_000_061_234_i64, "format": "json",
                "range": {"start": 1_700_000_000_000_i64, "end": 1_700_000_060_000_i64},
                "series": [], "recordCount": 0, "alerts": [], "bottlenecks": []
            })
        );
        assert!(text.contains("\"series\": [],\n"), "{text}");
        let only_alerts = document(vec![Call::Alerts(vec![alert()])]).unwrap();
        let value: Value = serde_json::from_str(&only_alerts).unwrap();
        assert_eq!(value["alerts"][0]["status"], "resolved");
        assert_eq!(value["bottlenecks"], serde_json::json!([]));
    }

    #[test]
    fn a_series_without_points_is_an_empty_array() {
        let text = document(vec![Call::Series(vec![series(
            "system.load1",
            "",
            &[],
            false,
            &[],
        )])])
        .unwrap();
        assert!(text.contains("\"points\": []\n    }"), "{text}");
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["recordCount"], 0);
    }

    #[test]
    fn firing_alerts_are_stamped_with_their_start() {
        let firing = Alert {
            status: AlertStatus::Firing,
            ends_at_ms: None,
            ..alert()
        };
        assert_eq!(alert_out(&firing).timestamp, 1_700_000_030_000);
        assert_eq!(alert_out(&alert()).timestamp, 1_700_000_045_000);
    }

    #[test]
    fn malformed_input_is_an_error_naming_the_series() {
        let mut uneven = response_time(false, &[(1, 1.0), (2, 2.0)]);
        uneven.values.pop();
        assert_eq!(
            document(vec![Call::Series(vec![uneven])]),
            Err(r#"series agents.avgResponseTime{team="a",agent="coder-1"} has an entry with 2 timestamps but 1 values"#.to_owned())
        );
        assert_eq!(
            document(vec![Call::Series(vec![response_time(true, &[(1, 1.0)])])]),
            Err(r#"an entry of series agents.avgResponseTime{team="a",agent="coder-1"} continues no series; the first entry of a series has continued = false"#.to_owned())
        );
        assert_eq!(
            document(vec![Call::Alerts(vec![]), Call::Series(vec![load1()])]),
            Err(
                "Series written after Alerts; the host sends series, then alerts, then bottlenecks"
                    .to_owned()
            )
        );
    }

    #[test]
    fn begin_refuses_format_options() {
        assert!(Json::begin(info()).is_ok());
        let with = |options: &str| {
            Json::begin(ExportInfo {
                options: options.into(),
                ..info()
            })
            .err()
        };
        assert_eq!(
            with(r#"{"pretty": false, "indent": 4}"#),
            Some("the json format takes no options, but the request set indent, pretty".to_owned())
        );
        assert!(
            with("[]")
                .unwrap()
                .starts_with("format options are not a JSON object")
        );
    }

    #[test]
    fn config_is_empty() {
        assert_eq!(
            Json::validate_config("{}"),
            Ok(ConfigInfo::with_secret_keys(&[]))
        );
        assert!(Json::validate_config(r#"{"pretty": false}"#).is_err());
    }
}
