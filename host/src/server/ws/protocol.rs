//! What a stream client may send (`ping`, `subscribe`, `get_history`) and
//! what a subscription lets through. Pure: no socket, no state.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::hub::Published;
use crate::model::{Labels, canonical_metric_name};
use crate::snapshot::SECTIONS;
use crate::store::Aggregation;

/// The section of `metrics_update` that holds every other metric.
const CUSTOM: &str = "custom";

/// One message from a client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Answered with `pong`.
    Ping,
    /// Replaces the client's subscription; with no member, everything.
    Subscribe(SubscribeRequest),
    /// Answered with `history`, as `/api/v1/query_range` would answer.
    GetHistory(HistoryRequest),
}

/// `{"type":"subscribe","sections":[…],"metrics":[…],"labels":{…}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    sections: Option<Vec<String>>,
    metrics: Option<Vec<String>>,
    labels: Option<BTreeMap<String, String>>,
}

/// `{"type":"get_history","metric":…,"start":…,"end":…,"step":…}`; `step`
/// in ms or as a duration (`"60s"`), `labels` and `agg` as in
/// `/api/v1/query_range`, and an `id` the answer carries back.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryRequest {
    pub metric: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub step: Option<Step>,
    pub agg: Option<Aggregation>,
    pub id: Option<Value>,
}

/// A step as a number of ms or a duration text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Step {
    Ms(i64),
    Text(String),
}

/// Label pairs as a selector, or why not.
pub fn labels(map: Option<BTreeMap<String, String>>) -> Result<Labels, String> {
    Labels::try_from_pairs(map.unwrap_or_default()).map_err(|e| format!("`labels`: {e}"))
}

/// What a client receives: everything, or the parts it subscribed to.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Subscription {
    #[serde(skip_serializing_if = "Option::is_none")]
    sections: Option<BTreeSet<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<BTreeSet<String>>,
    #[serde(skip_serializing_if = "Labels::is_empty")]
    labels: Labels,
}

/// What a subscription makes of one published message.
pub enum Delivery<'a> {
    /// The shared bytes, untouched.
    Whole(&'a Published),
    /// A filtered copy.
    Filtered(String),
    /// Nothing for this client.
    Skip,
}

impl Subscription {
    /// Checks a request: known sections, valid metric names (aliases
    /// mapped) and labels.
    pub fn from_request(request: SubscribeRequest) -> Result<Self, String> {
        let sections = request
            .sections
            .map(|names| {
                names
                    .into_iter()
                    .map(|name| {
                        let known = name == CUSTOM || SECTIONS.iter().any(|(s, _)| *s == name);
                        if known {
                            Ok(name)
                        } else {
                            Err(format!(
                                "`sections`: {name:?} is not a section; the sections are {}, {CUSTOM}",
                                SECTIONS.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(", ")
                            ))
                        }
                    })
                    .collect::<Result<BTreeSet<_>, _>>()
            })
            .transpose()?;
        let metrics = request
            .metrics
            .map(|names| {
                names
                    .iter()
                    .map(|name| canonical_metric_name(name).map_err(|e| format!("`metrics`: {e}")))
                    .collect::<Result<BTreeSet<_>, _>>()
            })
            .transpose()?;
        Ok(Self {
            sections,
            metrics,
            labels: labels(request.labels)?,
        })
    }

    /// Whether this client takes the whole stream.
    pub fn is_everything(&self) -> bool {
        self.sections.is_none() && self.metrics.is_none() && self.labels.is_empty()
    }

    fn picks_by_name(&self) -> bool {
        self.sections.is_some() || self.metrics.is_some()
    }

    /// Whether `metric` (in section `section`) is subscribed to by name.
    fn wants(&self, section: &str, metric: &str) -> bool {
        !self.picks_by_name()
            || self.sections.as_ref().is_some_and(|s| s.contains(section))
            || self.metrics.as_ref().is_some_and(|m| m.contains(metric))
    }

    /// `message` as this client receives it.
    pub fn deliver<'a>(&self, message: &'a Published) -> Delivery<'a> {
        if self.is_everything() {
            return Delivery::Whole(message);
        }
        match message.kind {
            "metrics_update" if self.picks_by_name() => Delivery::Filtered(crate::hub::message(
                message.kind,
                &self.update(&message.data),
            )),
            "alert_triggered" | "alert_resolved" | "alert_acknowledged" => {
                let metric = message.data["metric"].as_str().unwrap_or_default();
                let labels_match = self
                    .labels
                    .iter()
                    .all(|(k, v)| message.data["labels"].get(k).and_then(Value::as_str) == Some(v));
                if labels_match && self.wants(section_of(metric), metric) {
                    Delivery::Whole(message)
                } else {
                    Delivery::Skip
                }
            }
            _ => Delivery::Whole(message),
        }
    }

    /// A `metrics_update`'s data cut to the subscribed sections and metrics;
    /// the timestamp always stays, so a client still sees every tick.
    fn update(&self, data: &Value) -> Value {
        let Some(all) = data.as_object() else {
            return data.clone();
        };
        let mut kept = Map::new();
        for (section, fields) in all {
            let Some(fields) = fields.as_object() else {
                kept.insert(section.clone(), fields.clone());
                continue;
            };
            if self.sections.as_ref().is_some_and(|s| s.contains(section)) {
                kept.insert(section.clone(), Value::Object(fields.clone()));
                continue;
            }
            let Some(metrics) = &self.metrics else {
                continue;
            };
            let picked: Map<String, Value> = fields
                .iter()
                .filter(|(field, _)| {
                    if section == CUSTOM {
                        metrics.contains(field.as_str())
                    } else {
                        metrics.contains(&format!("{section}.{field}"))
                    }
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !picked.is_empty() {
                kept.insert(section.clone(), Value::Object(picked));
            }
        }
        Value::Object(kept)
    }
}

/// The `metrics_update` section a metric appears in.
fn section_of(metric: &str) -> &str {
    match metric.split_once('.') {
        Some((section, field))
            if !field.contains('.') && SECTIONS.iter().any(|(s, _)| *s == section) =>
        {
            section
        }
        _ => CUSTOM,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn published(kind: &'static str, data: Value) -> Published {
        Published {
            kind,
            bytes: crate::hub::message(kind, &data).into(),
            data: Arc::new(data),
        }
    }

    fn check(subscribe: Value, kind: &'static str, data: Value) -> Option<Value> {
        let request = serde_json::from_value(subscribe).unwrap();
        let subscription = Subscription::from_request(request).unwrap();
        let message = published(kind, data);
        match subscription.deliver(&message) {
            Delivery::Whole(m) => Some(serde_json::from_slice(&m.bytes).unwrap()),
            Delivery::Filtered(text) => Some(serde_json::from_str(&text).unwrap()),
            Delivery::Skip => None,
        }
    }

    fn update() -> Value {
        json!({
            "timestamp": 1,
            "system": {"cpuUsage": 5.0, "memoryUsage": 40.0},
            "agents": {"avgResponseTime": 250.0, "totalAgents": 3.0},
            "custom": {"app.queueDepth": 7.0, "app.other": 1.0}
        })
    }

    #[test]
    fn sections_and_metrics_add_up_and_the_timestamp_stays() {
        let got = check(
            json!({"sections": ["system"], "metrics": ["agents.avgResponseTime", "app.queueDepth"]}),
            "metrics_update",
            update(),
        );
        assert_eq!(
            got.unwrap()["data"],
            json!({
                "timestamp": 1,
                "system": {"cpuUsage": 5.0, "memoryUsage": 40.0},
                "agents": {"avgResponseTime": 250.0},
                "custom": {"app.queueDepth": 7.0}
            })
        );
    }

    #[test]
    fn an_empty_subscription_is_everything() {
        let got = check(json!({}), "metrics_update", update()).unwrap();
        assert_eq!(got["data"], update());
    }

    #[test]
    fn alerts_pass_by_metric_or_section_and_labels() {
        let alert = json!({"metric": "agents.avgResponseTime", "labels": {"agent": "a"}});
        let sub = |s: Value| check(s, "alert_triggered", alert.clone()).is_some();
        assert!(sub(json!({"sections": ["agents"]})));
        assert!(sub(json!({"metrics": ["agents.avgResponseTime"]})));
        assert!(!sub(json!({"sections": ["system"]})));
        assert!(sub(json!({"labels": {"agent": "a"}})));
        assert!(!sub(json!({"labels": {"agent": "b"}})));
        assert!(!sub(
            json!({"sections": ["agents"], "labels": {"agent": "b"}})
        ));
    }

    #[test]
    fn bad_subscriptions_are_refused_with_the_reason() {
        let refuse =
            |s: Value| Subscription::from_request(serde_json::from_value(s).unwrap()).unwrap_err();
        assert!(refuse(json!({"sections": ["sytem"]})).contains("sytem"));
        assert!(refuse(json!({"metrics": ["a..b"]})).contains("metrics"));
        assert!(refuse(json!({"labels": {"1x": "v"}})).contains("labels"));
    }
}
