//! The `MetricsSnapshot` of the original WebSocket protocol, built from the
//! window: `{timestamp, system, tracing, agents, queries, ui, custom}`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::window::SampleWindow;

/// The fields the original snapshot always carried, by section. They are
/// present in every update (as `null` until something reports them: the
/// original reported 0, or 60 fps, for metrics nobody measured).
pub const SECTIONS: &[(&str, &[&str])] = &[
    (
        "system",
        &["cpuUsage", "memoryUsage", "diskUsage", "networkLatency"],
    ),
    (
        "tracing",
        &[
            "collectionOverhead",
            "memoryUsage",
            "storageGrowth",
            "eventThroughput",
            "errorRate",
        ],
    ),
    (
        "agents",
        &[
            "totalAgents",
            "activeAgents",
            "busyAgents",
            "avgResponseTime",
            "taskThroughput",
        ],
    ),
    (
        "queries",
        &[
            "avgResponseTime",
            "slowQueries",
            "queryThroughput",
            "cacheHitRate",
        ],
    ),
    (
        "ui",
        &[
            "frameRate",
            "renderTime",
            "webSocketLatency",
            "uiResponseTime",
        ],
    ),
];

/// Builds the snapshot for the tick at `timestamp_ms`.
///
/// A field's value is the latest point of its unlabelled series; a metric
/// reported only with labels (per agent, say) shows the mean of its series'
/// latest points. Metrics `section.field` of the five original sections go
/// in that section; every other metric goes in `custom` under its full name.
pub fn build(window: &SampleWindow, timestamp_ms: i64) -> Value {
    let mut sections: BTreeMap<&str, Map<String, Value>> = SECTIONS
        .iter()
        .map(|(name, fields)| {
            (
                *name,
                fields
                    .iter()
                    .map(|f| ((*f).to_owned(), Value::Null))
                    .collect(),
            )
        })
        .collect();
    let mut custom = Map::new();

    let mut by_metric: BTreeMap<&str, (Option<f64>, f64, u32)> = BTreeMap::new();
    for (key, series) in window.iter() {
        let Some((_, value)) = series.latest() else {
            continue;
        };
        let entry = by_metric
            .entry(key.metric.as_str())
            .or_insert((None, 0.0, 0));
        if key.labels.is_empty() {
            entry.0 = Some(value);
        } else {
            entry.1 += value;
            entry.2 += 1;
        }
    }
    for (metric, (unlabelled, sum, count)) in by_metric {
        let value = unlabelled.unwrap_or(sum / f64::from(count.max(1)));
        let json_value = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
        match metric.split_once('.') {
            Some((section, field)) if sections.contains_key(section) && !field.contains('.') => {
                sections
                    .get_mut(section)
                    .expect("checked")
                    .insert(field.to_owned(), json_value);
            }
            _ => {
                custom.insert(metric.to_owned(), json_value);
            }
        }
    }

    let mut snapshot = Map::new();
    snapshot.insert("timestamp".into(), json!(timestamp_ms));
    for (name, fields) in sections {
        snapshot.insert(name.into(), Value::Object(fields));
    }
    snapshot.insert("custom".into(), Value::Object(custom));
    Value::Object(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, Sample};

    #[test]
    fn fields_land_in_their_original_sections() {
        let mut w = SampleWindow::new();
        let per_agent = |agent: &str, v: f64| {
            let mut s = Sample::gauge("agents.avgResponseTime", v, 1000);
            s.labels = Labels::try_from_pairs([("agent".into(), agent.into())]).unwrap();
            s
        };
        let samples = vec![
            Sample::gauge("system.cpuUsage", 12.5, 1000),
            per_agent("a", 100.0),
            per_agent("b", 300.0),
            Sample::gauge("myapp.queueDepth", 7.0, 1000),
        ];
        w.insert_all(&samples);
        let snap = build(&w, 1000);
        assert_eq!(snap["timestamp"], 1000);
        assert_eq!(snap["system"]["cpuUsage"], 12.5);
        assert_eq!(snap["system"]["diskUsage"], Value::Null);
        assert_eq!(snap["agents"]["avgResponseTime"], 200.0);
        assert_eq!(snap["ui"]["frameRate"], Value::Null, "no invented 60 fps");
        assert_eq!(snap["custom"]["myapp.queueDepth"], 7.0);
    }
}
