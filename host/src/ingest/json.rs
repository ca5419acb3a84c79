//! The JSON batch format of `POST /api/v1/metrics`:
//! `[{"metric": "agents.avgResponseTime", "value": 250, "unit": "ms",
//!    "labels": {"agent": "coder-1"}, "timestamp": 1764200000000}]`.
//!
//! Each sample is validated on its own: one bad sample is reported by its
//! index and never costs the valid samples of the same batch.
//!
//! Two paths read a sample. The fast one deserializes a well-formed sample
//! straight into typed fields. Building a `serde_json::Value` tree for every
//! sample made the allocator the largest cost of ingestion. Anything the
//! fast path cannot take (a wrong type, an unknown field, an unknown kind)
//! goes through the `Value` path, which names the problem. So the answers
//! are the same either way, and only their speed differs.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::checks;
use crate::model::{Labels, MetricKind, Sample, canonical_metric_name, known_unit};

/// Most samples one request may carry; larger batches should be split
/// (the body limit stops them earlier in practice).
pub const MAX_BATCH_SAMPLES: usize = 100_000;

const FIELDS: &[&str] = &["metric", "value", "unit", "labels", "timestamp", "kind"];

/// Why the whole body was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    #[error("malformed JSON: {0}")]
    Malformed(String),
    #[error("the body must be a JSON array of samples, got {0}")]
    NotAnArray(&'static str),
    #[error(
        "the batch holds {count} samples; at most {MAX_BATCH_SAMPLES} are accepted per request"
    )]
    TooMany { count: usize },
}

/// One refused sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    /// Position in the array.
    pub index: usize,
    /// What is wrong with it.
    pub error: String,
}

/// The valid samples and the refused ones.
#[derive(Debug, Default)]
pub struct ParsedBatch {
    pub samples: Vec<Sample>,
    pub rejected: Vec<Rejection>,
}

impl ParsedBatch {
    /// An empty batch with room for `count` items, or the error when a
    /// request holds more than [`MAX_BATCH_SAMPLES`].
    fn for_items(count: usize) -> Result<Self, BatchError> {
        if count > MAX_BATCH_SAMPLES {
            return Err(BatchError::TooMany { count });
        }
        Ok(Self {
            samples: Vec::with_capacity(count),
            rejected: Vec::new(),
        })
    }
}

/// Parses a request body. `now_ms` stamps samples without a timestamp and
/// bounds how far ahead a timestamp may be.
pub fn parse_json_batch(body: &[u8], now_ms: i64) -> Result<ParsedBatch, BatchError> {
    let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(body) else {
        // Not an array of JSON values: the tree path says what it is.
        return parse_as_tree(body, now_ms);
    };
    let mut batch = ParsedBatch::for_items(items.len())?;
    for (index, item) in items.into_iter().enumerate() {
        let typed = serde_json::from_str::<TypedSample>(item.get()).ok();
        let parsed = match typed.and_then(|typed| typed_sample(typed, now_ms)) {
            Some(parsed) => parsed,
            None => match serde_json::from_str::<Value>(item.get()) {
                Ok(value) => parse_sample(value, now_ms),
                // Splitting does not check numbers (`1e999`); the tree path
                // refuses the body as it always has.
                Err(_) => return parse_as_tree(body, now_ms),
            },
        };
        match parsed {
            Ok(s) => batch.samples.push(s),
            Err(error) => batch.rejected.push(Rejection { index, error }),
        }
    }
    Ok(batch)
}

/// A well-formed sample, as the fast path reads it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypedSample<'a> {
    #[serde(borrow)]
    metric: Cow<'a, str>,
    value: f64,
    #[serde(default, borrow)]
    unit: Option<Cow<'a, str>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default, borrow)]
    kind: Option<Cow<'a, str>>,
}

/// The checks of [`parse_sample`], in its order and with its messages, on
/// typed fields; `None` sends the sample to the tree path (an unknown kind,
/// whose message quotes the JSON value).
fn typed_sample(typed: TypedSample<'_>, now_ms: i64) -> Option<Result<Sample, String>> {
    let kind = match typed.kind.as_deref() {
        None | Some("gauge") => MetricKind::Gauge,
        Some("counter") => MetricKind::Counter,
        Some(_) => return None,
    };
    Some((|| {
        let metric = canonical_metric_name(&typed.metric).map_err(|e| e.to_string())?;
        if !typed.value.is_finite() {
            return Err(format!("`value` of `{metric}` is not a finite number"));
        }
        let unit = match typed.unit {
            None => known_unit(&metric).unwrap_or_default().to_owned(),
            Some(u) => checks::unit(&metric, u.into_owned())?,
        };
        let labels = match typed.labels {
            None => Labels::new(),
            Some(map) => {
                Labels::try_from_pairs(map).map_err(|e| format!("`labels` of `{metric}`: {e}"))?
            }
        };
        let timestamp_ms = match typed.timestamp {
            None => now_ms,
            Some(ts) => checks::timestamp(&metric, ts, now_ms)?,
        };
        Ok(Sample {
            metric,
            value: typed.value,
            unit,
            kind,
            labels,
            timestamp_ms,
        })
    })())
}

/// The whole body through `serde_json::Value`: for bodies that are not an
/// array, so the error names what they are.
fn parse_as_tree(body: &[u8], now_ms: i64) -> Result<ParsedBatch, BatchError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| BatchError::Malformed(e.to_string()))?;
    let items = match value {
        Value::Array(items) => items,
        other => return Err(BatchError::NotAnArray(json_type(&other))),
    };
    let mut batch = ParsedBatch::for_items(items.len())?;
    for (index, item) in items.into_iter().enumerate() {
        match parse_sample(item, now_ms) {
            Ok(s) => batch.samples.push(s),
            Err(error) => batch.rejected.push(Rejection { index, error }),
        }
    }
    Ok(batch)
}

fn parse_sample(item: Value, now_ms: i64) -> Result<Sample, String> {
    let Value::Object(mut obj) = item else {
        return Err(format!(
            "a sample must be an object, got {}",
            json_type(&item)
        ));
    };
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "unknown field `{unknown}`; a sample has {}",
            FIELDS.join(", ")
        ));
    }
    let metric = match obj.remove("metric") {
        Some(Value::String(m)) => canonical_metric_name(&m).map_err(|e| e.to_string())?,
        Some(other) => {
            return Err(format!(
                "`metric` must be a string, got {}",
                json_type(&other)
            ));
        }
        None => return Err("missing field `metric`".to_owned()),
    };
    let value = match obj.remove("value") {
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("`value` of `{metric}` is not a finite number"))?,
        Some(other) => {
            return Err(format!(
                "`value` of `{metric}` must be a number, got {}",
                json_type(&other)
            ));
        }
        None => return Err(format!("missing field `value` for `{metric}`")),
    };
    let unit = match obj.remove("unit") {
        None | Some(Value::Null) => known_unit(&metric).unwrap_or_default().to_owned(),
        Some(Value::String(u)) => checks::unit(&metric, u)?,
        Some(other) => {
            return Err(format!(
                "`unit` of `{metric}` must be a string, got {}",
                json_type(&other)
            ));
        }
    };
    let kind = match obj.remove("kind") {
        None | Some(Value::Null) => MetricKind::Gauge,
        Some(Value::String(k)) if k == "gauge" => MetricKind::Gauge,
        Some(Value::String(k)) if k == "counter" => MetricKind::Counter,
        Some(other) => {
            return Err(format!(
                "`kind` of `{metric}` must be \"gauge\" or \"counter\", got {other}"
            ));
        }
    };
    let labels = match obj.remove("labels") {
        None | Some(Value::Null) => Labels::new(),
        Some(Value::Object(map)) => {
            parse_labels(map).map_err(|e| format!("`labels` of `{metric}`: {e}"))?
        }
        Some(other) => {
            return Err(format!(
                "`labels` of `{metric}` must be an object, got {}",
                json_type(&other)
            ));
        }
    };
    let timestamp_ms = match obj.remove("timestamp") {
        None | Some(Value::Null) => now_ms,
        Some(Value::Number(n)) => {
            let ts = n.as_i64().ok_or_else(|| {
                format!("`timestamp` of `{metric}` must be an integer count of milliseconds since the epoch")
            })?;
            checks::timestamp(&metric, ts, now_ms)?
        }
        Some(other) => {
            return Err(format!(
                "`timestamp` of `{metric}` must be a number, got {}",
                json_type(&other)
            ));
        }
    };
    Ok(Sample {
        metric,
        value,
        unit,
        kind,
        labels,
        timestamp_ms,
    })
}

fn parse_labels(map: Map<String, Value>) -> Result<Labels, String> {
    let mut pairs = Vec::with_capacity(map.len());
    for (k, v) in map {
        match v {
            Value::String(s) => pairs.push((k, s)),
            other => {
                return Err(format!(
                    "label `{k}` must be a string, got {}",
                    json_type(&other)
                ));
            }
        }
    }
    Labels::try_from_pairs(pairs).map_err(|e| e.to_string())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_200_000_000;

    /// Parses `body` and renders the outcome as `ok:<metric>=<value>` and
    /// `err[i]:<message>` lines.
    fn check(body: &str) -> Vec<String> {
        match parse_json_batch(body.as_bytes(), NOW) {
            Err(e) => vec![format!("batch:{e}")],
            Ok(b) => b
                .samples
                .iter()
                .map(|s| format!("ok:{}={}", s.metric, s.value))
                .chain(
                    b.rejected
                        .iter()
                        .map(|r| format!("err[{}]:{}", r.index, r.error)),
                )
                .collect(),
        }
    }

    #[test]
    fn the_documented_sample_is_accepted_with_all_fields() {
        let body = r#"[{"metric": "agents.avgResponseTime", "value": 250, "unit": "ms",
                        "labels": {"agent": "coder-1"}, "timestamp": 1764200000000}]"#;
        let batch = parse_json_batch(body.as_bytes(), NOW).unwrap();
        let s = &batch.samples[0];
        assert_eq!(
            (s.metric.as_str(), s.value, s.unit.as_str()),
            ("agents.avgResponseTime", 250.0, "ms")
        );
        assert_eq!(s.labels.get("agent"), Some("coder-1"));
        assert_eq!(s.timestamp_ms, 1_764_200_000_000);
    }

    #[test]
    fn optional_fields_default_sensibly() {
        let batch =
            parse_json_batch(br#"[{"metric": "system.cpu_usage", "value": 1.5}]"#, NOW).unwrap();
        let s = &batch.samples[0];
        assert_eq!(
            s.metric, "system.cpuUsage",
            "aliases map to the canonical series"
        );
        assert_eq!(s.unit, "%", "known metrics get their documented unit");
        assert_eq!(s.timestamp_ms, NOW);
    }

    #[test]
    fn a_bad_sample_is_reported_by_index_and_spares_the_rest() {
        let out = check(
            r#"[{"metric":"a.b","value":1},{"metric":"a.b","value":"high"},{"value":2},{"metric":"c.d","value":3}]"#,
        );
        assert_eq!(
            out,
            [
                "ok:a.b=1",
                "ok:c.d=3",
                "err[1]:`value` of `a.b` must be a number, got a string",
                "err[2]:missing field `metric`",
            ]
        );
    }

    #[test]
    fn whole_body_problems_are_named() {
        assert!(check("[{").concat().starts_with("batch:malformed JSON"));
        assert_eq!(
            check(r#"{"metric":"a.b"}"#),
            ["batch:the body must be a JSON array of samples, got an object"]
        );
        // JSON has no NaN or Infinity; a number too large for f64 is refused too.
        assert!(check(r#"[{"metric":"a.b","value":NaN}]"#)[0].starts_with("batch:malformed JSON"));
        assert!(
            check(r#"[{"metric":"a.b","value":1e999}]"#)[0].starts_with("batch:malformed JSON")
        );
    }

    #[test]
    fn timestamps_in_seconds_or_far_future_are_refused() {
        let out = check(r#"[{"metric":"a.b","value":1,"timestamp":1764200000}]"#);
        assert!(out[0].contains("not seconds"), "{out:?}");
        let out = check(&format!(
            r#"[{{"metric":"a.b","value":1,"timestamp":{}}}]"#,
            NOW + 2 * 3_600_000
        ));
        assert!(out[0].contains("future"), "{out:?}");
    }

    #[test]
    fn typos_and_bad_labels_are_refused() {
        let out = check(r#"[{"metric":"a.b","vlaue":1}]"#);
        assert!(out[0].contains("unknown field `vlaue`"), "{out:?}");
        let out = check(r#"[{"metric":"a.b","value":1,"labels":{"agent":7}}]"#);
        assert!(out[0].contains("label `agent` must be a string"), "{out:?}");
        let out = check(r#"[{"metric":"bad name","value":1}]"#);
        assert!(out[0].contains("contains ' '"), "{out:?}");
    }
}

/// Property test: the fast path and the tree path give the same answers,
/// the one check that keeps two parsers written by hand in step.
#[cfg(test)]
mod properties {
    use std::cell::Cell;

    use proptest::prelude::*;
    use proptest::sample::select;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;

    const NOW: i64 = 1_764_200_000_000;

    /// JSON texts a field of any kind may wrongly hold.
    fn wrong_type() -> impl Strategy<Value = String> {
        select(vec![
            "null",
            "true",
            "[]",
            "[1]",
            "{}",
            "{\"a\":1}",
            "\"\"",
            "\"1\"",
            "1",
            "-1.5",
        ])
        .prop_map(str::to_owned)
    }

    fn quoted(s: &str) -> String {
        serde_json::to_string(s).expect("a string serializes")
    }

    fn metric() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => select(vec![
                "\"a.b\"",
                "\"agents.avgResponseTime\"",
                "\"system.cpu_usage\"",
                "\"app.queue_depth\"",
                "\"a\\u002eb\"",
                "\"bad name\"",
                "\"\"",
                "\".a\"",
                "\"a..b\"",
            ])
            .prop_map(str::to_owned),
            1 => "[a-zA-Z0-9._ é-]{0,12}".prop_map(|s| quoted(&s)),
            1 => (1usize..300).prop_map(|n| quoted(&"a.".repeat(n))),
            1 => wrong_type(),
        ]
    }

    /// Numbers in every form JSON allows: integers past i64 and u64,
    /// exponents, negative zero, subnormals, underflow to zero.
    fn number() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => select(vec![
                "0", "-0", "1", "-1", "250", "1.5", "-2.5e3", "1E2", "0.1", "1e308", "-1e308",
                "1.7976931348623157e308", "4.9e-324", "1e-320", "1e-400", "-1e-400",
                "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                "-9223372036854775809", "18446744073709551615", "18446744073709551616",
                "123456789012345678901234567890", "1764200000000", "1764200000000.0",
                "1.7642e12", "1764200000",
            ])
            .prop_map(str::to_owned),
            1 => any::<i64>().prop_map(|i| i.to_string()),
            1 => any::<u64>().prop_map(|i| i.to_string()),
            1 => any::<u64>()
                .prop_map(f64::from_bits)
                .prop_filter("JSON has no NaN or infinity", |v| v.is_finite())
                .prop_map(|v| format!("{v:?}")),
            1 => (NOW - 10_000_000..NOW + 10_000_000).prop_map(|t| t.to_string()),
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            24 => number(),
            8 => wrong_type(),
            // Too large for a double, or not JSON: the whole body is refused.
            1 => select(vec!["1e999", "-1e999", "00", "1.", "+1", "NaN"]).prop_map(str::to_owned),
        ]
    }

    fn unit() -> impl Strategy<Value = String> {
        prop_oneof![
            select(vec!["\"ms\"", "\"%\"", "\"\"", "\"By\"", "\"{request}\""])
                .prop_map(str::to_owned),
            (30usize..=34).prop_map(|n| quoted(&"u".repeat(n))),
            Just(quoted("ééééééééééééééééé")), // 17 characters, 34 bytes
            wrong_type(),
        ]
    }

    fn labels() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            select(vec![
                "agent", "host", "a_b", "_", "x", "1bad", "bad-name", "", "agent"
            ])
            .prop_map(str::to_owned),
            (99usize..=101).prop_map(|n| "n".repeat(n)),
        ];
        let label_value = prop_oneof![
            4 => select(vec!["\"coder-1\"", "\"\"", "\"a\\nb\""]).prop_map(str::to_owned),
            1 => (1023usize..=1025).prop_map(|n| quoted(&"v".repeat(n))),
            1 => wrong_type(),
        ];
        prop_oneof![
            4 => prop::collection::vec((name, label_value), 0..5).prop_map(|pairs| {
                let pairs: Vec<String> =
                    pairs.iter().map(|(k, v)| format!("{}:{v}", quoted(k))).collect();
                format!("{{{}}}", pairs.join(","))
            }),
            // Around the limit on the number of labels.
            1 => (31usize..=34).prop_map(|n| {
                let pairs: Vec<String> = (0..n).map(|i| format!("\"l{i}\":\"v\"")).collect();
                format!("{{{}}}", pairs.join(","))
            }),
            1 => wrong_type(),
        ]
    }

    fn kind() -> impl Strategy<Value = String> {
        prop_oneof![
            select(vec![
                "\"gauge\"",
                "\"counter\"",
                "\"Gauge\"",
                "\"histogram\"",
                "\"\"",
                "\"gau\\u0067e\"",
            ])
            .prop_map(str::to_owned),
            wrong_type(),
        ]
    }

    /// One item of a batch: mostly a sample object whose fields may be
    /// missing, repeated, unknown or of the wrong type, in any order.
    fn item() -> impl Strategy<Value = String> {
        let field = |name: &'static str, weight: f64, text: BoxedStrategy<String>| {
            prop::option::weighted(weight, text.prop_map(move |t| (name.to_owned(), t)))
        };
        let extra = prop::collection::vec(
            (
                select(vec![
                    "vlaue", "Metric", "", "metric", "value", "labels", "kind",
                ]),
                prop_oneof![number(), wrong_type()],
            )
                .prop_map(|(k, v)| (k.to_owned(), v)),
            0..=1,
        );
        let object = (
            field("metric", 0.95, metric().boxed()),
            field("value", 0.95, value().boxed()),
            field("unit", 0.3, unit().boxed()),
            field("labels", 0.4, labels().boxed()),
            field("timestamp", 0.4, number().boxed()),
            field("kind", 0.2, kind().boxed()),
            prop::option::weighted(0.15, extra),
        )
            .prop_flat_map(|(m, v, u, l, t, k, extra)| {
                let mut fields: Vec<(String, String)> =
                    [m, v, u, l, t, k].into_iter().flatten().collect();
                fields.extend(extra.into_iter().flatten());
                Just(fields).prop_shuffle()
            })
            .prop_map(|fields| {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{}:{v}", quoted(k)))
                    .collect();
                format!("{{{}}}", fields.join(", "))
            });
        prop_oneof![
            12 => object,
            1 => wrong_type(),
        ]
    }

    fn batch() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(item(), 0..=6)
    }

    /// A sample with its value as bits, so -0.0 and 0.0 differ.
    fn render(s: &Sample) -> String {
        format!(
            "{} {:#018x} {:?} {:?} {} {}",
            s.metric,
            s.value.to_bits(),
            s.unit,
            s.kind,
            s.labels,
            s.timestamp_ms
        )
    }

    type Outcome = Result<(Vec<String>, Vec<Rejection>), BatchError>;

    fn outcome(parsed: Result<ParsedBatch, BatchError>) -> Outcome {
        parsed.map(|b| (b.samples.iter().map(render).collect(), b.rejected))
    }

    #[test]
    fn the_fast_path_and_the_tree_path_agree_on_any_batch() {
        // 5,000 batches of up to six samples: well under a second in release.
        let mut runner = TestRunner::new(Config::with_cases(5000));
        let (items, fast) = (Cell::new(0usize), Cell::new(0usize));
        runner
            .run(&batch(), |items_text| {
                let body = format!("[{}]", items_text.join(",\n"));
                prop_assert_eq!(
                    outcome(parse_json_batch(body.as_bytes(), NOW)),
                    outcome(parse_as_tree(body.as_bytes(), NOW)),
                    "body: {}",
                    body
                );
                // Sample by sample, wherever the fast path answers at all.
                for text in &items_text {
                    items.set(items.get() + 1);
                    let typed = serde_json::from_str::<TypedSample>(text).ok();
                    let Some(fast_answer) = typed.and_then(|t| typed_sample(t, NOW)) else {
                        continue;
                    };
                    fast.set(fast.get() + 1);
                    let tree: Value = serde_json::from_str(text)
                        .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
                    prop_assert_eq!(
                        fast_answer.map(|s| render(&s)),
                        parse_sample(tree, NOW).map(|s| render(&s)),
                        "sample: {}",
                        text
                    );
                }
                Ok(())
            })
            .unwrap();
        // The generator must reach the fast path often, or the property
        // says little about it.
        assert!(
            fast.get() * 5 > items.get(),
            "the fast path answered {} of {} samples",
            fast.get(),
            items.get()
        );
    }
}
