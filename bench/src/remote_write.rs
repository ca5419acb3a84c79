//! Prometheus remote-write 1.0 bodies: the `WriteRequest` protobuf,
//! block-snappy compressed. Only what a sender of plain float samples uses.

use crate::dataset::{Block, Dataset, SeriesSpec};

/// `Content-Type` of a remote-write 1.0 body.
pub const CONTENT_TYPE: &str = "application/x-protobuf";
/// `X-Prometheus-Remote-Write-Version` of a 1.0 sender.
pub const VERSION: &str = "0.1.0";

// The messages are the host's own (perfwatch::ingest), which decodes them:
// one definition of the wire format for both ends.
pub use perfwatch::ingest::{Label, PromSample as Sample, TimeSeries, WriteRequest};

/// The Prometheus metric name of a perfwatch series: `.` becomes `_`, and a
/// counter's samples end in `_total` (the OpenMetrics family name is this
/// without `_total`).
pub fn prometheus_name(spec: &SeriesSpec) -> String {
    let name = spec.metric.replace('.', "_");
    match spec.kind {
        perfwatch::model::MetricKind::Counter if !name.ends_with("_total") => {
            format!("{name}_total")
        }
        _ => name,
    }
}

/// The sorted label set of a series, `__name__` first.
pub fn labels(spec: &SeriesSpec) -> Vec<Label> {
    let mut labels: Vec<Label> = std::iter::once(Label {
        name: "__name__".to_owned(),
        value: prometheus_name(spec),
    })
    .chain(spec.labels.iter().map(|(name, value)| Label {
        name: name.to_owned(),
        value: value.to_owned(),
    }))
    .collect();
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

/// One request for a block: a `TimeSeries` per series.
pub fn write_request(dataset: &Dataset, block: &Block) -> WriteRequest {
    WriteRequest {
        timeseries: block
            .series
            .iter()
            .zip(&block.values)
            .map(|(&s, values)| TimeSeries {
                labels: labels(&dataset.series()[s]),
                samples: values
                    .iter()
                    .enumerate()
                    .map(|(t, &value)| Sample {
                        value,
                        timestamp: block.timestamp_ms(t),
                    })
                    .collect(),
                histograms: Vec::new(),
            })
            .collect(),
    }
}

/// The HTTP body for a block: the protobuf, block-snappy compressed.
pub fn encode(dataset: &Dataset, block: &Block) -> Vec<u8> {
    let proto = prost::Message::encode_to_vec(&write_request(dataset, block));
    snap::raw::Encoder::new()
        .compress_vec(&proto)
        .expect("snappy compresses any input below 4 GiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised_and_counters_end_in_total() {
        let d = Dataset::with_points(1);
        let names: Vec<String> = d.series().iter().map(prometheus_name).collect();
        assert_eq!(names[0], "system_cpuUsage");
        assert!(names.contains(&"app_bytes_total".to_owned()));
        assert!(names.contains(&"agents_avgResponseTime".to_owned()));
    }

    #[test]
    fn a_body_decodes_to_the_block() {
        let d = Dataset::with_points(300);
        let block = d.cursor(vec![0, 45]).next_block(100).unwrap();
        let body = encode(&d, &block);
        let proto = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let request: WriteRequest = prost::Message::decode(proto.as_slice()).unwrap();
        assert_eq!(request.timeseries.len(), 2);
        let ts = &request.timeseries[1];
        assert_eq!(
            ts.labels,
            vec![
                Label {
                    name: "__name__".into(),
                    value: "app_bytes_total".into()
                },
                Label {
                    name: "host".into(),
                    value: "h05".into()
                },
            ]
        );
        assert_eq!(ts.samples.len(), 100);
        assert_eq!(ts.samples[0].timestamp, crate::dataset::START_MS);
        assert_eq!(ts.samples[99].value, block.values[1][99]);
    }

    /// The wire bytes of one sample, against the field numbers of
    /// `prompb/types.proto` (1: value as fixed64, 2: timestamp as varint).
    #[test]
    fn field_numbers_are_the_official_ones() {
        let bytes = prost::Message::encode_to_vec(&Sample {
            value: 1.0,
            timestamp: 1,
        });
        assert_eq!(bytes, [0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x10, 0x01]);
    }
}
