//! OTLP/HTTP metrics: an `ExportMetricsServiceRequest` in protobuf or in
//! OTLP's JSON mapping (camelCase names, 64-bit integers as strings),
//! decoded with `opentelemetry-proto`'s generated types, becomes samples;
//! the answers (`ExportMetricsServiceResponse`, `google.rpc.Status`) are
//! encoded here too, in the request's encoding.
//!
//! How OTLP maps onto perfwatch's model (the README says the same):
//! - the metric name is the instrument name, dots kept, other characters
//!   outside `[A-Za-z0-9_.]` replaced by `_`;
//! - labels are the resource's attributes plus the point's (the point's
//!   value wins when both have a key), keys sanitised (`service.name` →
//!   `service_name`), values as text (arrays and maps as JSON, bytes as
//!   hex); two keys that sanitise to one label refuse the point; the
//!   instrumentation scope is not a label;
//! - Gauge → gauge; Sum → counter when monotonic, gauge otherwise; delta
//!   temporality is accumulated into a running total per series
//!   (`delta.rs`), so delta and cumulative SDKs produce the same series;
//! - Histogram → Prometheus' classic layout, all counters:
//!   `<name>_bucket{le="…"}` (cumulative counts, `le="+Inf"` last),
//!   `<name>_count` and, when sent, `<name>_sum`; min, max and exemplars
//!   are not kept;
//! - Summary → `<name>{quantile="…"}` gauges, `<name>_count`, `<name>_sum`;
//! - exponential histograms and points that fail validation are refused and
//!   counted in `partial_success`; a point flagged "no recorded value"
//!   (OTLP's staleness marker) is skipped: neither stored nor refused.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, DataPointFlags, HistogramDataPoint, Metric, NumberDataPoint,
    SummaryDataPoint, metric::Data, number_data_point,
};
use prost::Message;
use serde_json::json;

use super::checks;
use super::delta::DeltaPoint;
use super::entries::{self, EntryError, Field, MAX_DECODED_ENTRIES, Shape};
use super::json::MAX_BATCH_SAMPLES;
use crate::model::{Labels, MetricKind, Sample, known_unit};

/// `google.rpc.Code` INVALID_ARGUMENT, for answers to requests that cannot
/// be used as sent.
pub const CODE_INVALID_ARGUMENT: i32 = 3;
/// `google.rpc.Code` INTERNAL.
pub const CODE_INTERNAL: i32 = 13;

/// The two encodings of OTLP/HTTP; answers use the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpEncoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`, OTLP's JSON mapping of the same messages.
    Json,
}

impl OtlpEncoding {
    /// The encoding a `Content-Type` names (parameters such as `charset`
    /// are ignored), or `None` for any other media type.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if media_type.eq_ignore_ascii_case("application/x-protobuf") {
            Some(Self::Protobuf)
        } else if media_type.eq_ignore_ascii_case("application/json") {
            Some(Self::Json)
        } else {
            None
        }
    }

    /// The `Content-Type` of answers in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

/// Why a whole request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OtlpError {
    #[error("the body is not a protobuf ExportMetricsServiceRequest: {0}")]
    Protobuf(String),
    #[error("the body is not an OTLP/JSON ExportMetricsServiceRequest: {0}")]
    Json(String),
    #[error(
        "the request holds more than {MAX_BATCH_SAMPLES} samples (histogram buckets count one each); split the batch"
    )]
    TooMany,
    #[error(
        "the body holds more than {MAX_DECODED_ENTRIES} list entries (resources, scopes, metrics, points, attributes, buckets) and is not decoded; split the batch"
    )]
    TooManyEntries,
}

/// A decoded request: samples to store as they are, delta points to
/// accumulate first, and what was refused.
#[derive(Debug, Default)]
pub struct OtlpBatch {
    /// Gauges and cumulative sums, histograms and summaries.
    pub samples: Vec<Sample>,
    /// Delta sums and histograms, for [`super::DeltaSums`].
    pub deltas: Vec<DeltaPoint>,
    /// Data points refused, as OTLP counts them (a histogram point is one).
    pub rejected_points: usize,
    /// Why the first refused point was refused.
    pub first_error: Option<String>,
    /// Samples produced so far, bounded by [`MAX_BATCH_SAMPLES`].
    produced: usize,
}

impl OtlpBatch {
    fn reject(&mut self, points: usize, error: String) {
        if points == 0 {
            return;
        }
        self.rejected_points += points;
        self.first_error.get_or_insert(error);
    }

    fn keep(&mut self, samples: Vec<Sample>, delta: bool) -> Result<(), OtlpError> {
        self.produced += samples.len();
        if self.produced > MAX_BATCH_SAMPLES {
            return Err(OtlpError::TooMany);
        }
        if delta {
            self.deltas.push(DeltaPoint {
                increments: samples,
            });
        } else {
            self.samples.extend(samples);
        }
        Ok(())
    }
}

/// Decodes a request body (already decompressed) and maps it to samples.
/// `now_ms` stands in for a missing point time and bounds future ones.
pub fn parse_otlp_metrics(
    body: &[u8],
    encoding: OtlpEncoding,
    now_ms: i64,
) -> Result<OtlpBatch, OtlpError> {
    // Counted first: the decoded structs are many times the body's size
    // when it is made of small messages (see `MAX_DECODED_ENTRIES`).
    let request = match encoding {
        OtlpEncoding::Protobuf => {
            entries::count_protobuf(body, &EXPORT_REQUEST).map_err(|e| match e {
                EntryError::TooMany => OtlpError::TooManyEntries,
                EntryError::Malformed(why) => OtlpError::Protobuf(why.to_owned()),
            })?;
            ExportMetricsServiceRequest::decode(body)
                .map_err(|e| OtlpError::Protobuf(e.to_string()))?
        }
        OtlpEncoding::Json => {
            entries::count_json(body).map_err(|e| match e {
                EntryError::TooMany => OtlpError::TooManyEntries,
                EntryError::Malformed(why) => OtlpError::Json(why.to_owned()),
            })?;
            serde_json::from_slice(body).map_err(|e| OtlpError::Json(e.to_string()))?
        }
    };
    let mut batch = OtlpBatch::default();
    for resource_metrics in request.resource_metrics {
        let resource = attribute_labels(
            BTreeMap::new(),
            resource_metrics
                .resource
                .as_ref()
                .map_or(&[][..], |r| &r.attributes),
        );
        for metric in resource_metrics
            .scope_metrics
            .into_iter()
            .flat_map(|s| s.metrics)
        {
            match &resource {
                Ok(resource) => convert_metric(&mut batch, &metric, resource, now_ms)?,
                Err(e) => batch.reject(
                    point_count(&metric),
                    format!("metric `{}`: resource {e}", metric.name),
                ),
            }
        }
    }
    Ok(batch)
}

// The lists of `ExportMetricsServiceRequest` as `opentelemetry-proto`
// decodes them (field numbers from its generated structs), for counting
// entries before decoding. A test checks the count against the JSON scan,
// which needs no schema.
static EXPORT_REQUEST: Shape = Shape(&[(1, Field::Messages(&RESOURCE_METRICS))]);
static RESOURCE_METRICS: Shape = Shape(&[
    (1, Field::Message(&RESOURCE)),
    (2, Field::Messages(&SCOPE_METRICS)),
]);
static RESOURCE: Shape = Shape(&[
    (1, Field::Messages(&KEY_VALUE)),
    (3, Field::Messages(&ENTITY_REF)),
]);
static ENTITY_REF: Shape = Shape(&[(3, Field::Strings), (4, Field::Strings)]);
static SCOPE_METRICS: Shape = Shape(&[(1, Field::Message(&SCOPE)), (2, Field::Messages(&METRIC))]);
static SCOPE: Shape = Shape(&[(3, Field::Messages(&KEY_VALUE))]);
static METRIC: Shape = Shape(&[
    (5, Field::Message(&NUMBER_POINTS)),
    (7, Field::Message(&NUMBER_POINTS)),
    (9, Field::Message(&HISTOGRAM)),
    (10, Field::Message(&EXPONENTIAL_HISTOGRAM)),
    (11, Field::Message(&SUMMARY)),
    (12, Field::Messages(&KEY_VALUE)),
]);
/// Gauge and Sum.
static NUMBER_POINTS: Shape = Shape(&[(1, Field::Messages(&NUMBER_POINT))]);
static NUMBER_POINT: Shape = Shape(&[
    (5, Field::Messages(&EXEMPLAR)),
    (7, Field::Messages(&KEY_VALUE)),
]);
static HISTOGRAM: Shape = Shape(&[(1, Field::Messages(&HISTOGRAM_POINT))]);
static HISTOGRAM_POINT: Shape = Shape(&[
    (6, Field::Fixed64s),
    (7, Field::Fixed64s),
    (8, Field::Messages(&EXEMPLAR)),
    (9, Field::Messages(&KEY_VALUE)),
]);
static EXPONENTIAL_HISTOGRAM: Shape = Shape(&[(1, Field::Messages(&EXPONENTIAL_HISTOGRAM_POINT))]);
static EXPONENTIAL_HISTOGRAM_POINT: Shape = Shape(&[
    (1, Field::Messages(&KEY_VALUE)),
    (8, Field::Message(&BUCKETS)),
    (9, Field::Message(&BUCKETS)),
    (11, Field::Messages(&EXEMPLAR)),
]);
static BUCKETS: Shape = Shape(&[(2, Field::Varints)]);
static SUMMARY: Shape = Shape(&[(1, Field::Messages(&SUMMARY_POINT))]);
static SUMMARY_POINT: Shape = Shape(&[
    (6, Field::Messages(&Shape::LEAF)),
    (7, Field::Messages(&KEY_VALUE)),
]);
static EXEMPLAR: Shape = Shape(&[(7, Field::Messages(&KEY_VALUE))]);
static KEY_VALUE: Shape = Shape(&[(2, Field::Message(&ANY_VALUE))]);
static ANY_VALUE: Shape = Shape(&[
    (5, Field::Message(&ARRAY_VALUE)),
    (6, Field::Message(&KEY_VALUE_LIST)),
]);
static ARRAY_VALUE: Shape = Shape(&[(1, Field::Messages(&ANY_VALUE))]);
static KEY_VALUE_LIST: Shape = Shape(&[(1, Field::Messages(&KEY_VALUE))]);

/// The answer to a stored request: empty, or a `partial_success` with the
/// refused point count and the first reason.
pub fn encode_response(
    encoding: OtlpEncoding,
    rejected_points: usize,
    error_message: Option<String>,
) -> Vec<u8> {
    if rejected_points == 0 {
        return match encoding {
            OtlpEncoding::Protobuf => Vec::new(),
            OtlpEncoding::Json => b"{}".to_vec(),
        };
    }
    let response = ExportMetricsServiceResponse {
        partial_success: Some(ExportMetricsPartialSuccess {
            rejected_data_points: i64::try_from(rejected_points).unwrap_or(i64::MAX),
            error_message: error_message.unwrap_or_default(),
        }),
    };
    match encoding {
        OtlpEncoding::Protobuf => response.encode_to_vec(),
        OtlpEncoding::Json => serde_json::to_vec(&response).expect("responses serialise"),
    }
}

/// `google.rpc.Status` (google/rpc/status.proto: `int32 code = 1; string
/// message = 2;`, `details` left out), the body OTLP/HTTP prescribes for
/// 4xx and 5xx answers.
#[derive(Clone, PartialEq, Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// An error answer's body.
pub fn encode_status(encoding: OtlpEncoding, code: i32, message: &str) -> Vec<u8> {
    match encoding {
        OtlpEncoding::Protobuf => Status {
            code,
            message: message.to_owned(),
        }
        .encode_to_vec(),
        OtlpEncoding::Json => json!({ "code": code, "message": message })
            .to_string()
            .into_bytes(),
    }
}

/// Label name → (attribute key it came from, value).
type AttributeLabels = BTreeMap<String, (String, String)>;

/// Adds `attributes` to `labels`; a key equal to an earlier one replaces
/// it, a different key with the same label name is an error.
fn attribute_labels(
    mut labels: AttributeLabels,
    attributes: &[KeyValue],
) -> Result<AttributeLabels, String> {
    for kv in attributes {
        let name = checks::foreign_label_name(&kv.key)?;
        if let Some((key, _)) = labels.get(&name)
            && *key != kv.key
        {
            return Err(format!(
                "attributes `{key}` and `{}` both become label `{name}`",
                kv.key
            ));
        }
        labels.insert(name, (kv.key.clone(), any_value_text(kv.value.as_ref())?));
    }
    Ok(labels)
}

fn any_value_text(value: Option<&AnyValue>) -> Result<String, String> {
    Ok(match value.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => hex(b),
        Some(any_value::Value::StringValueStrindex(_)) => {
            return Err("an attribute refers to a string table, which metrics do not have".into());
        }
        Some(other) => any_value_json(other)?.to_string(),
    })
}

fn any_value_json(value: &any_value::Value) -> Result<serde_json::Value, String> {
    let of = |v: &AnyValue| match &v.value {
        Some(inner) => any_value_json(inner),
        None => Ok(serde_json::Value::Null),
    };
    Ok(match value {
        any_value::Value::StringValue(s) => json!(s),
        any_value::Value::BoolValue(b) => json!(b),
        any_value::Value::IntValue(i) => json!(i),
        any_value::Value::DoubleValue(d) => json!(d),
        any_value::Value::BytesValue(b) => json!(hex(b)),
        any_value::Value::ArrayValue(a) => {
            serde_json::Value::Array(a.values.iter().map(of).collect::<Result<_, _>>()?)
        }
        any_value::Value::KvlistValue(kv) => serde_json::Value::Object(
            kv.values
                .iter()
                .map(|kv| {
                    let v = kv.value.as_ref().map_or(Ok(serde_json::Value::Null), of)?;
                    Ok((kv.key.clone(), v))
                })
                .collect::<Result<_, String>>()?,
        ),
        any_value::Value::StringValueStrindex(_) => {
            return Err("an attribute refers to a string table, which metrics do not have".into());
        }
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn point_count(metric: &Metric) -> usize {
    match &metric.data {
        None => 0,
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
    }
}

/// Whether a point carries OTLP's "no recorded value" flag.
fn no_recorded_value(flags: u32) -> bool {
    flags & DataPointFlags::NoRecordedValueMask as u32 != 0
}

/// What one metric's points share.
struct MetricContext<'a> {
    /// The instrument name as sent, for messages and suffixed names.
    sent_name: &'a str,
    /// The perfwatch name.
    name: String,
    unit: String,
    resource: &'a AttributeLabels,
    now_ms: i64,
}

impl MetricContext<'_> {
    /// The perfwatch name of `<name><suffix>` (`_bucket`, `_count`, `_sum`).
    fn suffixed(&self, suffix: &str) -> Result<String, String> {
        checks::foreign_metric_name(&format!("{}{suffix}", self.sent_name))
    }

    fn labels(
        &self,
        attributes: &[KeyValue],
        extra: Option<(&str, String)>,
    ) -> Result<Labels, String> {
        let mut labels = attribute_labels(self.resource.clone(), attributes)?;
        if let Some((name, value)) = extra {
            if let Some((key, _)) = labels.get(name) {
                return Err(format!(
                    "attribute `{key}` would hide the `{name}` label perfwatch adds"
                ));
            }
            labels.insert(name.to_owned(), (String::new(), value));
        }
        Labels::try_from_pairs(labels.into_iter().map(|(name, (_, value))| (name, value)))
            .map_err(|e| e.to_string())
    }

    fn timestamp(&self, time_unix_nano: u64) -> Result<i64, String> {
        if time_unix_nano == 0 {
            return Ok(self.now_ms);
        }
        let ms = i64::try_from(time_unix_nano / 1_000_000).unwrap_or(i64::MAX);
        checks::timestamp(&self.name, ms, self.now_ms)
    }

    fn sample(
        &self,
        metric: String,
        value: f64,
        unit: &str,
        kind: MetricKind,
        labels: Labels,
        timestamp_ms: i64,
    ) -> Result<Sample, String> {
        Ok(Sample {
            value: checks::finite(&metric, value)?,
            metric,
            unit: unit.to_owned(),
            kind,
            labels,
            timestamp_ms,
        })
    }
}

fn convert_metric(
    batch: &mut OtlpBatch,
    metric: &Metric,
    resource: &AttributeLabels,
    now_ms: i64,
) -> Result<(), OtlpError> {
    let points = point_count(metric);
    let name = match checks::foreign_metric_name(&metric.name) {
        Ok(name) => name,
        Err(e) => {
            batch.reject(points, e);
            return Ok(());
        }
    };
    let unit = if metric.unit.is_empty() {
        known_unit(&name).unwrap_or_default().to_owned()
    } else {
        metric.unit.clone()
    };
    let unit = match checks::unit(&name, unit) {
        Ok(unit) => unit,
        Err(e) => {
            batch.reject(points, e);
            return Ok(());
        }
    };
    let cx = MetricContext {
        sent_name: &metric.name,
        name,
        unit,
        resource,
        now_ms,
    };
    let located = |e: String| format!("metric `{}`: {e}", cx.sent_name);
    match &metric.data {
        None => {}
        Some(Data::Gauge(gauge)) => {
            for p in gauge.data_points.iter().filter(|p| !no_recorded_value(p.flags)) {
                match number_sample(&cx, p, MetricKind::Gauge) {
                    Ok(s) => batch.keep(vec![s], false)?,
                    Err(e) => batch.reject(1, located(e)),
                }
            }
        }
        Some(Data::Sum(sum)) => {
            let kind = if sum.is_monotonic {
                MetricKind::Counter
            } else {
                MetricKind::Gauge
            };
            let delta = match temporality(sum.aggregation_temporality) {
                Ok(delta) => delta,
                Err(e) => {
                    batch.reject(sum.data_points.len(), located(e));
                    return Ok(());
                }
            };
            for p in sum.data_points.iter().filter(|p| !no_recorded_value(p.flags)) {
                match number_sample(&cx, p, kind) {
                    Ok(s) => batch.keep(vec![s], delta)?,
                    Err(e) => batch.reject(1, located(e)),
                }
            }
        }
        Some(Data::Histogram(histogram)) => {
            let delta = match temporality(histogram.aggregation_temporality) {
                Ok(delta) => delta,
                Err(e) => {
                    batch.reject(histogram.data_points.len(), located(e));
                    return Ok(());
                }
            };
            for p in histogram
                .data_points
                .iter()
                .filter(|p| !no_recorded_value(p.flags))
            {
                match histogram_samples(&cx, p) {
                    Ok(samples) => batch.keep(samples, delta)?,
                    Err(e) => batch.reject(1, located(e)),
                }
            }
        }
        Some(Data::Summary(summary)) => {
            for p in summary.data_points.iter().filter(|p| !no_recorded_value(p.flags)) {
                match summary_samples(&cx, p) {
                    Ok(samples) => batch.keep(samples, false)?,
                    Err(e) => batch.reject(1, located(e)),
                }
            }
        }
        Some(Data::ExponentialHistogram(h)) => batch.reject(
            h.data_points.len(),
            located(
                "exponential histograms are not supported; use the SDK's explicit bucket histogram aggregation"
                    .into(),
            ),
        ),
    }
    Ok(())
}

/// Whether points of this temporality are deltas.
fn temporality(value: i32) -> Result<bool, String> {
    match AggregationTemporality::try_from(value) {
        Ok(AggregationTemporality::Delta) => Ok(true),
        Ok(AggregationTemporality::Cumulative) => Ok(false),
        _ => Err(format!(
            "aggregation temporality {value} is neither delta (1) nor cumulative (2)"
        )),
    }
}

fn number_sample(
    cx: &MetricContext<'_>,
    p: &NumberDataPoint,
    kind: MetricKind,
) -> Result<Sample, String> {
    let value = match p.value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => return Err("a data point has no value".into()),
    };
    cx.sample(
        cx.name.clone(),
        value,
        &cx.unit,
        kind,
        cx.labels(&p.attributes, None)?,
        cx.timestamp(p.time_unix_nano)?,
    )
}

/// A bucket bound as Prometheus writes `le`: shortest form, `+Inf` last.
fn bound_text(bound: Option<f64>) -> String {
    bound.map_or_else(|| "+Inf".to_owned(), |b| b.to_string())
}

fn histogram_samples(
    cx: &MetricContext<'_>,
    p: &HistogramDataPoint,
) -> Result<Vec<Sample>, String> {
    let bounds = &p.explicit_bounds;
    if !p.bucket_counts.is_empty() && p.bucket_counts.len() != bounds.len() + 1 {
        return Err(format!(
            "a histogram point has {} bucket counts for {} bounds; OTLP sends one count more than bounds",
            p.bucket_counts.len(),
            bounds.len()
        ));
    }
    if bounds.iter().any(|b| !b.is_finite()) || bounds.windows(2).any(|w| w[0] >= w[1]) {
        return Err("histogram bounds must be finite and increasing".into());
    }
    let ts = cx.timestamp(p.time_unix_nano)?;
    let bucket = cx.suffixed("_bucket")?;
    let mut samples = Vec::with_capacity(p.bucket_counts.len() + 2);
    let mut cumulative = 0u64;
    for (i, count) in p.bucket_counts.iter().enumerate() {
        cumulative = cumulative.saturating_add(*count);
        let le = bound_text(bounds.get(i).copied());
        samples.push(cx.sample(
            bucket.clone(),
            cumulative as f64,
            "",
            MetricKind::Counter,
            cx.labels(&p.attributes, Some(("le", le)))?,
            ts,
        )?);
    }
    let labels = cx.labels(&p.attributes, None)?;
    count_and_sum(cx, labels, p.count, p.sum, ts, &mut samples)?;
    Ok(samples)
}

/// The `<name>_count` and (when there is one) `<name>_sum` counters of a
/// histogram or summary point.
fn count_and_sum(
    cx: &MetricContext<'_>,
    labels: Labels,
    count: u64,
    sum: Option<f64>,
    ts: i64,
    samples: &mut Vec<Sample>,
) -> Result<(), String> {
    samples.push(cx.sample(
        cx.suffixed("_count")?,
        count as f64,
        "",
        MetricKind::Counter,
        labels.clone(),
        ts,
    )?);
    if let Some(sum) = sum {
        samples.push(cx.sample(
            cx.suffixed("_sum")?,
            sum,
            &cx.unit,
            MetricKind::Counter,
            labels,
            ts,
        )?);
    }
    Ok(())
}

fn summary_samples(cx: &MetricContext<'_>, p: &SummaryDataPoint) -> Result<Vec<Sample>, String> {
    let ts = cx.timestamp(p.time_unix_nano)?;
    let mut samples = Vec::with_capacity(p.quantile_values.len() + 2);
    for q in &p.quantile_values {
        samples.push(cx.sample(
            cx.name.clone(),
            q.value,
            &cx.unit,
            MetricKind::Gauge,
            cx.labels(&p.attributes, Some(("quantile", q.quantile.to_string())))?,
            ts,
        )?);
    }
    let labels = cx.labels(&p.attributes, None)?;
    count_and_sum(cx, labels, p.count, Some(p.sum), ts, &mut samples)?;
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-11-27T00:00:00Z
    const NOW: i64 = 1_764_201_600_000;
    const NOW_NS: &str = "1764201600000000000";

    /// Decodes `request` from protobuf and renders the outcome as lines:
    /// `<series> <kind> <value>`, `delta <series> <kind> <increment>` and
    /// `rejected <n>: <first reason>`.
    fn render(batch: &OtlpBatch) -> Vec<String> {
        let line = |s: &Sample| {
            assert_eq!(s.timestamp_ms, NOW, "{s:?}");
            format!("{} {} {}", s.series_key(), s.kind.as_str(), s.value)
        };
        let mut lines: Vec<String> = batch.samples.iter().map(line).collect();
        for d in &batch.deltas {
            lines.extend(d.increments.iter().map(|s| format!("delta {}", line(s))));
        }
        if let Some(e) = &batch.first_error {
            lines.push(format!("rejected {}: {e}", batch.rejected_points));
        }
        lines
    }

    fn check_request(request: &ExportMetricsServiceRequest) -> Vec<String> {
        let batch =
            parse_otlp_metrics(&request.encode_to_vec(), OtlpEncoding::Protobuf, NOW).unwrap();
        render(&batch)
    }

    /// Parses an OTLP/JSON body, checks that its protobuf encoding maps to
    /// the same samples, and renders the outcome.
    fn check(json: &str) -> Vec<String> {
        let json = json.replace("NOW_NS", NOW_NS);
        let from_json =
            render(&parse_otlp_metrics(json.as_bytes(), OtlpEncoding::Json, NOW).unwrap());
        let request: ExportMetricsServiceRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(
            check_request(&request),
            from_json,
            "protobuf and JSON agree"
        );
        assert_eq!(
            entries::count_protobuf(&request.encode_to_vec(), &EXPORT_REQUEST),
            entries::count_json(json.as_bytes()),
            "protobuf and JSON count the same entries"
        );
        from_json
    }

    /// One resource (`service.name` = checkout) with `metrics`.
    fn body(metrics: &str) -> String {
        format!(
            r#"{{"resourceMetrics": [{{
                "resource": {{"attributes": [{{"key": "service.name", "value": {{"stringValue": "checkout"}}}}]}},
                "scopeMetrics": [{{"scope": {{"name": "shop"}}, "metrics": [{metrics}]}}]
            }}]}}"#
        )
    }

    #[test]
    fn gauges_and_sums_keep_their_names_and_gain_resource_labels() {
        let out = check(&body(
            r#"{"name": "queue.depth", "unit": "{item}", "gauge": {"dataPoints": [
                   {"timeUnixNano": "NOW_NS", "asDouble": 7.5,
                    "attributes": [{"key": "queue", "value": {"stringValue": "orders"}}]}]}},
               {"name": "orders.placed", "sum": {"aggregationTemporality": 2, "isMonotonic": true,
                   "dataPoints": [{"timeUnixNano": "NOW_NS", "asInt": "3"}]}},
               {"name": "carts.open", "sum": {"aggregationTemporality": 2, "isMonotonic": false,
                   "dataPoints": [{"timeUnixNano": "NOW_NS", "asInt": "-2"}]}}"#,
        ));
        assert_eq!(
            out,
            [
                r#"queue.depth{queue="orders",service_name="checkout"} gauge 7.5"#,
                r#"orders.placed{service_name="checkout"} counter 3"#,
                r#"carts.open{service_name="checkout"} gauge -2"#,
            ]
        );
    }

    #[test]
    fn histograms_take_prometheus_classic_layout() {
        let out = check(&body(
            r#"{"name": "checkout.duration", "unit": "ms", "histogram": {"aggregationTemporality": 2,
                "dataPoints": [{"timeUnixNano": "NOW_NS", "count": "6", "sum": 420.5,
                    "explicitBounds": [10, 100.5], "bucketCounts": ["1", "3", "2"], "min": 2, "max": 300}]}}"#,
        ));
        assert_eq!(
            out,
            [
                r#"checkout.duration_bucket{le="10",service_name="checkout"} counter 1"#,
                r#"checkout.duration_bucket{le="100.5",service_name="checkout"} counter 4"#,
                r#"checkout.duration_bucket{le="+Inf",service_name="checkout"} counter 6"#,
                r#"checkout.duration_count{service_name="checkout"} counter 6"#,
                r#"checkout.duration_sum{service_name="checkout"} counter 420.5"#,
            ]
        );
    }

    #[test]
    fn summaries_become_quantile_gauges_count_and_sum() {
        let out = check(&body(
            r#"{"name": "rpc.latency", "summary": {"dataPoints": [{"timeUnixNano": "NOW_NS",
                "count": "4", "sum": 10, "quantileValues": [{"quantile": 0.5, "value": 2}, {"quantile": 0.99, "value": 5}]}]}}"#,
        ));
        assert_eq!(
            out,
            [
                r#"rpc.latency{quantile="0.5",service_name="checkout"} gauge 2"#,
                r#"rpc.latency{quantile="0.99",service_name="checkout"} gauge 5"#,
                r#"rpc.latency_count{service_name="checkout"} counter 4"#,
                r#"rpc.latency_sum{service_name="checkout"} counter 10"#,
            ]
        );
    }

    #[test]
    fn delta_points_go_to_accumulation_whole() {
        let out = check(&body(
            r#"{"name": "orders.placed", "sum": {"aggregationTemporality": 1, "isMonotonic": true,
                   "dataPoints": [{"timeUnixNano": "NOW_NS", "asInt": "3"}]}},
               {"name": "lat", "histogram": {"aggregationTemporality": 1,
                   "dataPoints": [{"timeUnixNano": "NOW_NS", "count": "2", "explicitBounds": [1], "bucketCounts": ["1", "1"]}]}}"#,
        ));
        assert_eq!(
            out,
            [
                r#"delta orders.placed{service_name="checkout"} counter 3"#,
                r#"delta lat_bucket{le="1",service_name="checkout"} counter 1"#,
                r#"delta lat_bucket{le="+Inf",service_name="checkout"} counter 2"#,
                r#"delta lat_count{service_name="checkout"} counter 2"#,
            ]
        );
    }

    #[test]
    fn attributes_become_labels_with_the_point_winning() {
        let json = r#"{"resourceMetrics": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "checkout"}},
                {"key": "host.cores", "value": {"intValue": "8"}},
                {"key": "region", "value": {"stringValue": "eu"}}]},
            "scopeMetrics": [{"metrics": [{"name": "up", "gauge": {"dataPoints": [{"asInt": "1", "timeUnixNano": "NOW_NS",
                "attributes": [
                    {"key": "region", "value": {"stringValue": "us"}},
                    {"key": "debug", "value": {"boolValue": true}},
                    {"key": "ratio", "value": {"doubleValue": 0.25}},
                    {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "2"}]}}},
                    {"key": "id", "value": {"bytesValue": "AQL/"}},
                    {"key": "2fa", "value": {"stringValue": "on"}}]}]}}]}]
        }]}"#;
        assert_eq!(
            check(json),
            [
                r#"up{debug="true",host_cores="8",id="0102ff",key_2fa="on",ratio="0.25",region="us",service_name="checkout",tags="[\"a\",2]"} gauge 1"#
            ]
        );
    }

    #[test]
    fn refused_points_are_counted_and_the_rest_kept() {
        let out = check(&body(
            r#"{"name": "ok", "gauge": {"dataPoints": [{"timeUnixNano": "NOW_NS", "asInt": "1"}]}},
               {"name": "old", "gauge": {"dataPoints": [{"timeUnixNano": "1764201600000000", "asInt": "1"}]}},
               {"name": "novalue", "gauge": {"dataPoints": [{"timeUnixNano": "NOW_NS"}]}},
               {"name": "exp", "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [{"count": "1"}, {"count": "2"}]}},
               {"name": "unspecified", "sum": {"dataPoints": [{"asInt": "1"}]}},
               {"name": "bad..name", "gauge": {"dataPoints": [{"asInt": "1"}]}},
               {"name": "buckets", "histogram": {"aggregationTemporality": 2, "dataPoints": [{"count": "1", "explicitBounds": [1], "bucketCounts": ["1"]}]}},
               {"name": "clash", "gauge": {"dataPoints": [{"asInt": "1", "timeUnixNano": "NOW_NS",
                   "attributes": [{"key": "service_name", "value": {"stringValue": "x"}}]}]}},
               {"name": "le", "histogram": {"aggregationTemporality": 2, "dataPoints": [{"count": "1", "timeUnixNano": "NOW_NS", "explicitBounds": [1], "bucketCounts": ["1", "0"],
                   "attributes": [{"key": "le", "value": {"stringValue": "x"}}]}]}},
               {"name": "gap", "gauge": {"dataPoints": [{"flags": 1}]}}"#,
        ));
        assert_eq!(out.len(), 2, "{out:#?}");
        assert_eq!(out[0], r#"ok{service_name="checkout"} gauge 1"#);
        assert_eq!(
            out[1],
            "rejected 9: metric `old`: `timestamp` 1764201600 of `old` is before the year 2000; timestamps are epoch milliseconds, not seconds"
        );
        let one = |metrics: &str| check(&body(metrics)).pop().unwrap();
        assert!(one(r#"{"name": "n", "gauge": {"dataPoints": [{}]}}"#).ends_with("has no value"));
        assert!(
            one(r#"{"name": "e", "exponentialHistogram": {"dataPoints": [{}]}}"#)
                .contains("exponential histograms are not supported")
        );
        assert!(
            one(r#"{"name": "u", "sum": {"dataPoints": [{"asInt": "1"}]}}"#)
                .contains("aggregation temporality 0")
        );
        assert!(
            one(r#"{"name": "a..b", "gauge": {"dataPoints": [{"asInt": "1"}]}}"#)
                .contains("empty segment")
        );
        assert!(
            one(r#"{"name": "h", "histogram": {"aggregationTemporality": 2, "dataPoints": [{"explicitBounds": [1], "bucketCounts": ["1"]}]}}"#)
                .contains("1 bucket counts for 1 bounds")
        );
        assert!(
            one(r#"{"name": "c", "gauge": {"dataPoints": [{"asInt": "1", "attributes": [{"key": "service_name", "value": {"stringValue": "x"}}]}]}}"#)
                .contains("attributes `service.name` and `service_name` both become label `service_name`")
        );
        assert!(
            one(r#"{"name": "h", "histogram": {"aggregationTemporality": 2, "dataPoints": [{"explicitBounds": [1], "bucketCounts": ["1", "0"], "attributes": [{"key": "le", "value": {"stringValue": "x"}}]}]}}"#)
                .contains("would hide the `le` label")
        );
    }

    #[test]
    fn non_finite_values_are_refused() {
        let mut request: ExportMetricsServiceRequest = serde_json::from_str(&body(
            r#"{"name": "g", "gauge": {"dataPoints": [{"asDouble": 1}, {"asDouble": 2}]}}"#,
        ))
        .unwrap();
        let Some(Data::Gauge(gauge)) =
            &mut request.resource_metrics[0].scope_metrics[0].metrics[0].data
        else {
            unreachable!()
        };
        gauge.data_points[0].value = Some(number_data_point::Value::AsDouble(f64::NAN));
        gauge.data_points[1].value = Some(number_data_point::Value::AsDouble(f64::INFINITY));
        assert_eq!(
            check_request(&request),
            ["rejected 2: metric `g`: value NaN of `g` is not a finite number"]
        );
    }

    #[test]
    fn undecodable_bodies_are_refused_whole() {
        let err = parse_otlp_metrics(b"\xff\xff\xff", OtlpEncoding::Protobuf, NOW).unwrap_err();
        assert!(matches!(err, OtlpError::Protobuf(_)), "{err}");
        let err =
            parse_otlp_metrics(b"{\"resourceMetrics\": 5}", OtlpEncoding::Json, NOW).unwrap_err();
        assert!(
            err.to_string().starts_with("the body is not an OTLP/JSON"),
            "{err}"
        );
        let empty = parse_otlp_metrics(b"", OtlpEncoding::Protobuf, NOW).unwrap();
        assert!(empty.samples.is_empty() && empty.rejected_points == 0);
    }

    #[test]
    fn too_many_samples_refuse_the_request() {
        let points = format!(
            r#"{{"name": "h", "histogram": {{"aggregationTemporality": 2, "dataPoints": [{{"explicitBounds": [{}], "bucketCounts": [{}]}}]}}}}"#,
            (0..MAX_BATCH_SAMPLES)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(","),
            vec!["\"0\""; MAX_BATCH_SAMPLES + 1].join(",")
        );
        let err =
            parse_otlp_metrics(body(&points).as_bytes(), OtlpEncoding::Json, NOW).unwrap_err();
        assert_eq!(err, OtlpError::TooMany);
    }

    #[test]
    fn entries_are_counted_alike_in_every_list_of_both_encodings() {
        // Every repeated field of the request, so that a wrong field number
        // in the shapes shows as a difference from the schema-free JSON scan.
        let json = r#"{"resourceMetrics": [{
            "resource": {"attributes": [{"key": "a", "value": {"arrayValue": {"values": [
                    {"intValue": "1"}, {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": true}}]}}]}}}],
                "entityRefs": [{"schemaUrl": "", "type": "service", "idKeys": ["a", "b"], "descriptionKeys": ["c"]}]},
            "scopeMetrics": [{"scope": {"name": "s", "attributes": [{"key": "b", "value": {"stringValue": "x"}}]},
                "metrics": [
                {"name": "g", "metadata": [{"key": "m", "value": {"stringValue": "y"}}],
                 "gauge": {"dataPoints": [{"asDouble": 1, "attributes": [{"key": "p", "value": {"stringValue": "q"}}],
                     "exemplars": [{"asDouble": 2, "filteredAttributes": [{"key": "f", "value": {"stringValue": "z"}}]}]}]}},
                {"name": "s", "sum": {"aggregationTemporality": 2, "dataPoints": [{"asInt": "1"}, {"asInt": "2"}]}},
                {"name": "h", "histogram": {"aggregationTemporality": 2, "dataPoints": [{"count": "3",
                     "explicitBounds": [1, 2], "bucketCounts": ["1", "1", "1"],
                     "attributes": [{"key": "p", "value": {"stringValue": "q"}}], "exemplars": [{"asInt": "1"}]}]}},
                {"name": "e", "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [{"count": "1",
                     "positive": {"offset": 1, "bucketCounts": ["1", "300", "0"]}, "negative": {"bucketCounts": ["2"]},
                     "attributes": [{"key": "p", "value": {"stringValue": "q"}}], "exemplars": [{"asDouble": 1}]}]}},
                {"name": "q", "summary": {"dataPoints": [{"count": "1", "sum": 1,
                     "quantileValues": [{"quantile": 0.5, "value": 1}, {"quantile": 1, "value": 2}],
                     "attributes": [{"key": "p", "value": {"stringValue": "q"}}]}]}}]}]
        }, {}]}"#;
        let request: ExportMetricsServiceRequest = serde_json::from_str(json).unwrap();
        let protobuf = request.encode_to_vec();
        assert_eq!(
            entries::count_protobuf(&protobuf, &EXPORT_REQUEST),
            entries::count_json(json.as_bytes())
        );
        assert_eq!(entries::count_json(json.as_bytes()), Ok(43));
    }

    /// Empty `ResourceMetrics` (`0a 00`, field 1 of length 0) filling the
    /// body limit: 16 KB of gzip that prost would turn into eight million
    /// structs, over a gigabyte.
    #[test]
    fn otlp_gzip_bomb_of_empty_resource_metrics_is_refused_before_decoding() {
        use std::io::Write;

        let body_limit = 16 << 20;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder
            .write_all(&[0x0a, 0x00].repeat(body_limit / 2))
            .unwrap();
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 32 << 10, "{} bytes of gzip", bomb.len());

        let body = super::super::gunzip(&bomb, body_limit).unwrap();
        let err = parse_otlp_metrics(&body, OtlpEncoding::Protobuf, NOW).unwrap_err();
        assert_eq!(err, OtlpError::TooManyEntries);
        assert_eq!(
            err.to_string(),
            "the body holds more than 1000000 list entries (resources, scopes, metrics, points, attributes, buckets) and is not decoded; split the batch"
        );
    }

    /// The same in OTLP/JSON: `{},` is three bytes per `ResourceMetrics`.
    #[test]
    fn otlp_json_bomb_of_empty_resource_metrics_is_refused_before_decoding() {
        let body = format!(
            r#"{{"resourceMetrics": [{}{{}}]}}"#,
            "{},".repeat(MAX_DECODED_ENTRIES)
        );
        let err = parse_otlp_metrics(body.as_bytes(), OtlpEncoding::Json, NOW).unwrap_err();
        assert_eq!(err, OtlpError::TooManyEntries);
    }

    #[test]
    fn answers_use_the_request_encoding() {
        assert_eq!(encode_response(OtlpEncoding::Json, 0, None), b"{}");
        assert!(encode_response(OtlpEncoding::Protobuf, 0, None).is_empty());
        let json: serde_json::Value =
            serde_json::from_slice(&encode_response(OtlpEncoding::Json, 2, Some("why".into())))
                .unwrap();
        assert_eq!(
            json,
            json!({"partialSuccess": {"rejectedDataPoints": 2, "errorMessage": "why"}})
        );
        let proto = ExportMetricsServiceResponse::decode(
            encode_response(OtlpEncoding::Protobuf, 2, Some("why".into())).as_slice(),
        )
        .unwrap();
        assert_eq!(proto.partial_success.unwrap().rejected_data_points, 2);
        let status =
            Status::decode(encode_status(OtlpEncoding::Protobuf, 3, "bad").as_slice()).unwrap();
        assert_eq!((status.code, status.message.as_str()), (3, "bad"));
        assert_eq!(
            encode_status(OtlpEncoding::Json, 3, "bad"),
            br#"{"code":3,"message":"bad"}"#
        );
    }

    #[test]
    fn content_types_are_matched_without_parameters() {
        assert_eq!(
            OtlpEncoding::from_content_type("application/x-protobuf"),
            Some(OtlpEncoding::Protobuf)
        );
        assert_eq!(
            OtlpEncoding::from_content_type("Application/JSON; charset=utf-8"),
            Some(OtlpEncoding::Json)
        );
        assert_eq!(OtlpEncoding::from_content_type("text/plain"), None);
    }
}
