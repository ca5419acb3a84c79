//! Prometheus remote write 1.0: a snappy-compressed (block format) protobuf
//! `prometheus.WriteRequest` becomes samples. No official Rust crate has
//! these messages, so the few needed are derived here with prost; field
//! numbers are those of prometheus/prompb `remote.proto` and `types.proto`.
//!
//! How a series maps onto perfwatch's model (the README says the same):
//! - `__name__` is the metric name; `:` (recording rules) and any other
//!   character outside `[A-Za-z0-9_.]` becomes `_`;
//! - the other labels are labels; one with an empty value is left out, as
//!   Prometheus treats an empty value as no label at all;
//! - names ending in `_total` are counters, and so are `_bucket` series with
//!   an `le` label (remote write 1.0 sends no types); the rest are gauges;
//! - NaN is Prometheus' "no value": stale markers (the NaN with bits
//!   `0x7ff0000000000002` written when a series disappears) and summary
//!   quantiles with no observations yet. Both are skipped and counted,
//!   neither stored nor refused: refusing them would fail every batch of a
//!   stock Prometheus, which logs a 400 as a non-recoverable error;
//! - infinities, and timestamps before 2000 or over an hour ahead, are
//!   refused like every sample's;
//! - exemplars and metadata are ignored; native histograms are refused.

use prost::Message;

use super::checks;
use super::compression::{DecompressError, unsnappy};
use super::entries::{self, EntryError, Field, MAX_DECODED_ENTRIES, Shape};
use super::json::MAX_BATCH_SAMPLES;
use crate::model::{Labels, MetricKind, Sample, known_unit};

/// The value Prometheus writes to mark a series stale (`value.StaleNaN` in
/// prometheus/model/value): a NaN told apart from others by its bits.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// `message WriteRequest` (remote.proto). Field 2 is reserved; field 3,
/// `repeated MetricMetadata metadata`, is skipped when decoding.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

// The lists of the structs above, for counting entries before decoding.
static WRITE_REQUEST: Shape = Shape(&[(1, Field::Messages(&TIME_SERIES))]);
static TIME_SERIES: Shape = Shape(&[
    (1, Field::Messages(&Shape::LEAF)),
    (2, Field::Messages(&Shape::LEAF)),
    (4, Field::Strings),
]);

/// `message TimeSeries` (types.proto). Field 3, `repeated Exemplar
/// exemplars`, is skipped when decoding.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<PromSample>,
    /// `repeated Histogram histograms = 4`: native histograms, kept
    /// undecoded, only to count them as refused.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub histograms: Vec<Vec<u8>>,
}

/// `message Label` (types.proto).
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `message Sample` (types.proto): a value at epoch milliseconds.
#[derive(Clone, PartialEq, Message)]
pub struct PromSample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// Why a whole request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RemoteWriteError {
    #[error(transparent)]
    Decompress(#[from] DecompressError),
    #[error("the body is not a protobuf prometheus.WriteRequest: {0}")]
    Protobuf(String),
    #[error(
        "the request holds {count} samples; at most {MAX_BATCH_SAMPLES} are accepted per request (lower queue_config.max_samples_per_send)"
    )]
    TooMany { count: usize },
    #[error(
        "the body holds more than {MAX_DECODED_ENTRIES} list entries (series, labels, samples) and is not decoded; lower queue_config.max_samples_per_send"
    )]
    TooManyEntries,
}

/// A decoded request.
#[derive(Debug, Default)]
pub struct RemoteWriteBatch {
    /// Samples to store.
    pub samples: Vec<Sample>,
    /// Samples refused (native histogram samples included).
    pub rejected: usize,
    /// NaN samples (stale markers and other "no value"s) skipped.
    pub no_value: usize,
    /// Why the first refused sample was refused.
    pub first_error: Option<String>,
}

impl RemoteWriteBatch {
    fn reject(&mut self, count: usize, error: String) {
        if count > 0 {
            self.rejected += count;
            self.first_error.get_or_insert(error);
        }
    }
}

/// Decompresses (at most `max_decoded` bytes) and decodes a request body.
/// `now_ms` bounds how far ahead a timestamp may be.
pub fn parse_remote_write(
    body: &[u8],
    max_decoded: usize,
    now_ms: i64,
) -> Result<RemoteWriteBatch, RemoteWriteError> {
    let decoded = unsnappy(body, max_decoded)?;
    // Counted first: the decoded structs are many times the body's size
    // when it is made of small messages (see `MAX_DECODED_ENTRIES`).
    entries::count_protobuf(&decoded, &WRITE_REQUEST).map_err(|e| match e {
        EntryError::TooMany => RemoteWriteError::TooManyEntries,
        EntryError::Malformed(why) => RemoteWriteError::Protobuf(why.to_owned()),
    })?;
    let request = WriteRequest::decode(decoded.as_slice())
        .map_err(|e| RemoteWriteError::Protobuf(e.to_string()))?;
    let count: usize = request
        .timeseries
        .iter()
        .map(|ts| ts.samples.len() + ts.histograms.len())
        .sum();
    if count > MAX_BATCH_SAMPLES {
        return Err(RemoteWriteError::TooMany { count });
    }
    let mut batch = RemoteWriteBatch {
        samples: Vec::with_capacity(count),
        ..Default::default()
    };
    for ts in request.timeseries {
        let live: Vec<&PromSample> = ts.samples.iter().filter(|s| !s.value.is_nan()).collect();
        batch.no_value += ts.samples.len() - live.len();
        let series = series(&ts.labels);
        if !ts.histograms.is_empty() {
            let name = series.as_ref().map_or("?", |(name, ..)| name.as_str());
            batch.reject(
                ts.histograms.len(),
                format!(
                    "`{name}`: native histograms are not supported; send classic histograms (send_native_histograms: false)"
                ),
            );
        }
        let (metric, kind, labels) = match series {
            Ok(series) => series,
            Err(e) => {
                batch.reject(live.len(), e);
                continue;
            }
        };
        let unit = known_unit(&metric).unwrap_or_default();
        for s in live {
            let checked = checks::finite(&metric, s.value)
                .and_then(|value| Ok((value, checks::timestamp(&metric, s.timestamp, now_ms)?)));
            match checked {
                Ok((value, timestamp_ms)) => batch.samples.push(Sample {
                    metric: metric.clone(),
                    value,
                    unit: unit.to_owned(),
                    kind,
                    labels: labels.clone(),
                    timestamp_ms,
                }),
                Err(e) => batch.reject(1, e),
            }
        }
    }
    Ok(batch)
}

/// A series' metric name, kind and labels.
fn series(labels: &[Label]) -> Result<(String, MetricKind, Labels), String> {
    let name = labels
        .iter()
        .find(|l| l.name == "__name__")
        .map(|l| l.value.as_str())
        .ok_or_else(|| "a series has no `__name__` label".to_owned())?;
    let metric = checks::foreign_metric_name(name)?;
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(labels.len());
    for label in labels {
        if label.name == "__name__" || label.value.is_empty() {
            continue;
        }
        let label_name = checks::foreign_label_name(&label.name)?;
        if pairs.iter().any(|(n, _)| *n == label_name) {
            return Err(format!(
                "`{name}`: two labels become `{label_name}` (one is `{}`)",
                label.name
            ));
        }
        pairs.push((label_name, label.value.clone()));
    }
    let is_bucket = name.ends_with("_bucket") && pairs.iter().any(|(n, _)| n == "le");
    let kind = if name.ends_with("_total") || is_bucket {
        MetricKind::Counter
    } else {
        MetricKind::Gauge
    };
    let labels = Labels::try_from_pairs(pairs).map_err(|e| format!("`{name}`: {e}"))?;
    Ok((metric, kind, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_201_600_000;
    const LIMIT: usize = 1 << 20;

    fn series(labels: &[(&str, &str)], samples: &[f64]) -> TimeSeries {
        TimeSeries {
            labels: labels
                .iter()
                .map(|(name, value)| Label {
                    name: (*name).to_owned(),
                    value: (*value).to_owned(),
                })
                .collect(),
            samples: samples
                .iter()
                .map(|value| PromSample {
                    value: *value,
                    timestamp: NOW,
                })
                .collect(),
            histograms: Vec::new(),
        }
    }

    fn encode(timeseries: Vec<TimeSeries>) -> Vec<u8> {
        let request = WriteRequest { timeseries };
        snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .unwrap()
    }

    /// Decodes a request and renders `<series> <kind> <value>` lines, then
    /// `no value <n>` and `rejected <n>: <first reason>` when there are any.
    fn check(timeseries: Vec<TimeSeries>) -> Vec<String> {
        let batch = parse_remote_write(&encode(timeseries), LIMIT, NOW).unwrap();
        let mut lines: Vec<String> = batch
            .samples
            .iter()
            .map(|s| format!("{} {} {}", s.series_key(), s.kind.as_str(), s.value))
            .collect();
        if batch.no_value > 0 {
            lines.push(format!("no value {}", batch.no_value));
        }
        if let Some(e) = batch.first_error {
            lines.push(format!("rejected {}: {e}", batch.rejected));
        }
        lines
    }

    #[test]
    fn names_labels_and_kinds_follow_prometheus_conventions() {
        let out = check(vec![
            series(
                &[("__name__", "up"), ("job", "node"), ("instance", "h:9100")],
                &[1.0],
            ),
            series(
                &[
                    ("__name__", "http_requests_total"),
                    ("code", "200"),
                    ("path", ""),
                ],
                &[7.0],
            ),
            series(
                &[("__name__", "job:requests:rate5m"), ("job", "api")],
                &[0.5],
            ),
            series(&[("__name__", "latency_bucket"), ("le", "0.5")], &[3.0]),
            series(&[("__name__", "free_bucket")], &[2.0]),
        ]);
        assert_eq!(
            out,
            [
                r#"up{instance="h:9100",job="node"} gauge 1"#,
                r#"http_requests_total{code="200"} counter 7"#,
                r#"job_requests_rate5m{job="api"} gauge 0.5"#,
                r#"latency_bucket{le="0.5"} counter 3"#,
                "free_bucket gauge 2",
            ]
        );
    }

    #[test]
    fn nans_are_skipped_and_infinities_refused() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let out = check(vec![
            series(&[("__name__", "up")], &[1.0, stale]),
            series(&[("__name__", "gone")], &[stale]),
            series(
                &[("__name__", "rpc_duration_seconds"), ("quantile", "0.5")],
                &[f64::NAN],
            ),
            series(&[("__name__", "inf")], &[f64::INFINITY]),
        ]);
        assert_eq!(
            out,
            [
                "up gauge 1",
                "no value 3",
                "rejected 1: value inf of `inf` is not a finite number",
            ]
        );
    }

    #[test]
    fn unusable_series_are_refused_with_their_samples() {
        let mut native = series(&[("__name__", "native")], &[]);
        native.histograms = vec![vec![1, 2, 3], vec![4]];
        let mut old = series(&[("__name__", "old")], &[1.0]);
        old.samples[0].timestamp = NOW / 1000;
        let out = check(vec![
            series(&[("job", "x")], &[1.0, 2.0]),
            native,
            old,
            series(&[("__name__", "fine")], &[1.0]),
        ]);
        assert_eq!(
            out,
            [
                "fine gauge 1",
                "rejected 5: a series has no `__name__` label"
            ]
        );
        let out = check(
            vec![series(&[("__name__", "native")], &[])]
                .into_iter()
                .map(|mut s| {
                    s.histograms = vec![vec![]];
                    s
                })
                .collect(),
        );
        assert!(
            out[0].contains("native histograms are not supported"),
            "{out:?}"
        );
        let out = check(vec![series(
            &[("__name__", "a"), ("a.b", "1"), ("a_b", "2")],
            &[1.0],
        )]);
        assert!(out[0].contains("two labels become `a_b`"), "{out:?}");
    }

    #[test]
    fn bad_bodies_are_named() {
        let err = parse_remote_write(b"\xff\xff\xff\xff\xff", LIMIT, NOW).unwrap_err();
        assert!(
            err.to_string().starts_with("the body is not valid snappy"),
            "{err}"
        );
        let not_proto = snap::raw::Encoder::new()
            .compress_vec(b"\xff\xff\xff")
            .unwrap();
        let err = parse_remote_write(&not_proto, LIMIT, NOW).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the body is not a protobuf prometheus.WriteRequest"),
            "{err}"
        );
        let big = encode(vec![series(&[("__name__", "x")], &vec![1.0; 1000])]);
        assert!(matches!(
            parse_remote_write(&big, 100, NOW),
            Err(RemoteWriteError::Decompress(DecompressError::TooLarge {
                limit: 100
            }))
        ));
        let many = encode(vec![series(
            &[("__name__", "x")],
            &vec![1.0; MAX_BATCH_SAMPLES + 1],
        )]);
        assert!(matches!(
            parse_remote_write(&many, 16 << 20, NOW),
            Err(RemoteWriteError::TooMany { .. })
        ));
    }

    #[test]
    fn every_list_of_a_series_is_counted() {
        let mut s = series(&[("__name__", "a"), ("job", "b")], &[1.0, 2.0, 3.0]);
        s.histograms = vec![vec![1], vec![]];
        let request = WriteRequest {
            timeseries: vec![s, series(&[], &[])],
        };
        assert_eq!(
            entries::count_protobuf(&request.encode_to_vec(), &WRITE_REQUEST),
            Ok(9)
        );
    }

    /// Empty `TimeSeries` (`0a 00`) filling the body limit: under a
    /// megabyte of snappy that prost would turn into eight million structs.
    #[test]
    fn remote_write_snappy_bomb_of_empty_time_series_is_refused_before_decoding() {
        let body_limit = 16 << 20;
        let bomb = snap::raw::Encoder::new()
            .compress_vec(&[0x0a, 0x00].repeat(body_limit / 2))
            .unwrap();
        assert!(bomb.len() < 1 << 20, "{} bytes of snappy", bomb.len());
        let err = parse_remote_write(&bomb, body_limit, NOW).unwrap_err();
        assert_eq!(err, RemoteWriteError::TooManyEntries);
        assert_eq!(
            err.to_string(),
            "the body holds more than 1000000 list entries (series, labels, samples) and is not decoded; lower queue_config.max_samples_per_send"
        );
    }

    /// One series with a million empty labels: the series count is small,
    /// the labels are not.
    #[test]
    fn remote_write_bomb_of_empty_labels_is_refused_before_decoding() {
        let labels = [0x0a, 0x00].repeat(MAX_DECODED_ENTRIES);
        let mut body = vec![0x0a];
        let mut len = labels.len();
        while len >= 0x80 {
            body.push((len as u8) | 0x80);
            len >>= 7;
        }
        body.push(len as u8);
        body.extend(labels);
        let bomb = snap::raw::Encoder::new().compress_vec(&body).unwrap();
        assert_eq!(
            parse_remote_write(&bomb, 16 << 20, NOW).unwrap_err(),
            RemoteWriteError::TooManyEntries
        );
    }
}
