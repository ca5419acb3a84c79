//! The push receivers end to end against real senders: a real Prometheus
//! remote-writing its own scrapes to `/api/v1/write`, and the OpenTelemetry
//! Rust SDK exporting over OTLP/HTTP (protobuf, gzip, JSON, delta
//! temporality) to `/v1/metrics`; then the documented wire formats by hand,
//! and what each receiver answers to bad input.

use std::io::Write;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider;
use opentelemetry_otlp::{Compression, MetricExporter, Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{SdkMeterProvider, Temporality};
use perfwatch_tests::{
    HostDir, HttpResponse, PerfwatchProcess, PrometheusProcess, get, post_bytes, wait_for,
};
use prost::Message;
use serde_json::{Value, json};

/// Prometheus scrapes and remote-writes on its own schedule (seconds
/// apart), so waits on it get longer than the shared `WAIT`.
const PEER_WAIT: Duration = Duration::from_secs(60);

fn start() -> (HostDir, PerfwatchProcess) {
    let dir = HostDir::new().config(500, "");
    let host = dir.start();
    (dir, host)
}

/// Every stored series of `metric`, or `None` before the first sample.
fn series_of(host: &PerfwatchProcess, metric: &str) -> Option<Vec<Value>> {
    let answer = get(host.addr, &format!("/api/v1/query?metric={metric}&start=0"));
    (answer.status == 200).then(|| answer.json()["series"].as_array().unwrap().clone())
}

/// The series of `metric` whose labels include `labels`.
fn series_with(host: &PerfwatchProcess, metric: &str, labels: &Value) -> Option<Value> {
    series_of(host, metric)?.into_iter().find(|s| {
        labels
            .as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| s["labels"][k] == *v)
    })
}

/// The values of a series, oldest first.
fn values(series: &Value) -> Vec<f64> {
    series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .collect()
}

#[test]
fn prometheus_remote_writes_its_scrapes_with_their_labels() {
    let (_dir, host) = start();
    let prometheus = PrometheusProcess::start(&host.url("/api/v1/write"));
    let instance = prometheus.addr.to_string();
    let target = json!({"job": "prometheus", "instance": instance});

    let up = wait_for(
        "`up` from Prometheus",
        PEER_WAIT,
        || prometheus.log(),
        || series_with(&host, "up", &target),
    );
    assert_eq!(up["labels"], target, "exactly the scrape's labels: {up}");
    assert_eq!(up["kind"], "gauge");
    assert!(values(&up).iter().all(|v| *v == 1.0), "{up}");

    let info = wait_for(
        "prometheus_build_info",
        PEER_WAIT,
        || prometheus.log(),
        || series_with(&host, "prometheus_build_info", &target),
    );
    assert!(
        info["labels"]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "{info}"
    );

    let requests = wait_for(
        "prometheus_http_requests_total",
        PEER_WAIT,
        || prometheus.log(),
        || {
            series_with(
                &host,
                "prometheus_http_requests_total",
                &json!({"handler": "/metrics", "code": "200"}),
            )
        },
    );
    assert_eq!(
        requests["kind"], "counter",
        "`_total` is a counter: {requests}"
    );

    // Prometheus' own histograms arrive in the classic layout.
    let bucket = wait_for(
        "a histogram bucket",
        PEER_WAIT,
        || prometheus.log(),
        || {
            series_with(
                &host,
                "prometheus_http_request_duration_seconds_bucket",
                &json!({"handler": "/metrics", "le": "+Inf"}),
            )
        },
    );
    assert_eq!(bucket["kind"], "counter", "{bucket}");
}

/// Records a gauge, a counter and a histogram with the SDK and exports
/// them once to the host, as `service`.
fn export_with_sdk(
    host: &PerfwatchProcess,
    service: &str,
    protocol: Protocol,
    compression: Option<Compression>,
) {
    let mut exporter = MetricExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_endpoint(host.url("/v1/metrics"))
        .with_timeout(Duration::from_secs(10));
    if let Some(compression) = compression {
        exporter = exporter.with_compression(compression);
    }
    let provider = SdkMeterProvider::builder()
        .with_periodic_exporter(exporter.build().unwrap())
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build();
    let meter = provider.meter("perfwatch-tests");
    let orders = [KeyValue::new("queue", "orders")];
    meter
        .f64_gauge("queue.depth")
        .with_unit("{item}")
        .build()
        .record(7.0, &orders);
    let placed = meter.u64_counter("orders.placed").build();
    placed.add(2, &orders);
    placed.add(3, &orders);
    let duration = meter
        .f64_histogram("checkout.duration")
        .with_unit("ms")
        .with_boundaries(vec![10.0, 100.0])
        .build();
    for ms in [5.0, 50.0, 70.0, 500.0] {
        duration.record(ms, &[]);
    }
    provider.force_flush().expect("the host accepts the export");
    provider.shutdown().unwrap();
}

fn assert_sdk_metrics(host: &PerfwatchProcess, service: &str) {
    let service_labels = json!({"service_name": service});
    let gauge = series_with(
        host,
        "queue.depth",
        &json!({"service_name": service, "queue": "orders"}),
    )
    .unwrap_or_else(|| {
        panic!(
            "queue.depth of {service}: {:?}",
            series_of(host, "queue.depth")
        )
    });
    assert_eq!(values(&gauge)[0], 7.0);
    assert_eq!(
        (&gauge["kind"], &gauge["unit"]),
        (&json!("gauge"), &json!("{item}"))
    );
    assert_eq!(
        gauge["labels"]["telemetry_sdk_language"], "rust",
        "every resource attribute is a label: {gauge}"
    );

    let counter = series_with(host, "orders.placed", &service_labels).unwrap();
    assert_eq!(counter["kind"], "counter");
    assert_eq!(values(&counter)[0], 5.0);

    for (le, count) in [("10", 1.0), ("100", 3.0), ("+Inf", 4.0)] {
        let bucket = series_with(
            host,
            "checkout.duration_bucket",
            &json!({"service_name": service, "le": le}),
        )
        .unwrap_or_else(|| panic!("bucket le={le}"));
        assert_eq!(values(&bucket)[0], count, "le={le}: {bucket}");
        assert_eq!(bucket["kind"], "counter");
    }
    let count = series_with(host, "checkout.duration_count", &service_labels).unwrap();
    assert_eq!(values(&count)[0], 4.0);
    let sum = series_with(host, "checkout.duration_sum", &service_labels).unwrap();
    assert_eq!(values(&sum)[0], 625.0);
    assert_eq!(sum["unit"], "ms");
}

#[test]
fn the_opentelemetry_sdk_exports_protobuf_gzip_and_json() {
    let (_dir, host) = start();
    export_with_sdk(&host, "checkout-proto", Protocol::HttpBinary, None);
    assert_sdk_metrics(&host, "checkout-proto");
    export_with_sdk(
        &host,
        "checkout-gzip",
        Protocol::HttpBinary,
        Some(Compression::Gzip),
    );
    assert_sdk_metrics(&host, "checkout-gzip");
    export_with_sdk(&host, "checkout-json", Protocol::HttpJson, None);
    assert_sdk_metrics(&host, "checkout-json");
}

#[test]
fn delta_temporality_is_stored_as_a_running_total() {
    let (_dir, host) = start();
    let exporter = MetricExporter::builder()
        .with_http()
        .with_temporality(Temporality::Delta)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(host.url("/v1/metrics"))
        .build()
        .unwrap();
    let provider = SdkMeterProvider::builder()
        .with_periodic_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("billing").build())
        .build();
    let invoices = provider
        .meter("perfwatch-tests")
        .u64_counter("invoices.sent")
        .build();
    invoices.add(2, &[]);
    provider.force_flush().unwrap();
    std::thread::sleep(Duration::from_millis(5));
    invoices.add(3, &[]);
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
    let series = series_with(&host, "invoices.sent", &json!({"service_name": "billing"})).unwrap();
    assert_eq!(series["kind"], "counter");
    let totals = values(&series);
    assert!(
        totals.starts_with(&[2.0, 5.0]) && totals.iter().all(|v| *v <= 5.0),
        "increments 2 and 3: {series}"
    );
}

fn post_otlp_json(host: &PerfwatchProcess, body: &str) -> HttpResponse {
    post_bytes(
        host.addr,
        "/v1/metrics",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

fn now_ns() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    now.as_nanos().to_string()
}

#[test]
fn otlp_json_as_documented_and_a_partly_bad_batch() {
    let (_dir, host) = start();
    // OTLP/JSON: camelCase fields, 64-bit integers as strings, enums as numbers.
    let body = format!(
        r#"{{"resourceMetrics": [{{
            "resource": {{"attributes": [{{"key": "service.name", "value": {{"stringValue": "inventory"}}}}]}},
            "scopeMetrics": [{{"scope": {{"name": "manual"}}, "metrics": [
                {{"name": "stock.level", "unit": "{{item}}", "gauge": {{"dataPoints": [
                    {{"timeUnixNano": "{now}", "asInt": "42",
                      "attributes": [{{"key": "sku", "value": {{"stringValue": "A-1"}}}}]}}]}}}},
                {{"name": "stock.moves", "sum": {{"aggregationTemporality": 2, "isMonotonic": true,
                    "dataPoints": [{{"startTimeUnixNano": "{now}", "timeUnixNano": "{now}", "asDouble": 3.5}}]}}}}
            ]}}]
        }}]}}"#,
        now = now_ns()
    );
    let answer = post_otlp_json(&host, &body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    assert_eq!(answer.json(), json!({}), "nothing refused");
    let level = series_with(&host, "stock.level", &json!({"sku": "A-1"})).unwrap();
    assert_eq!(
        level["labels"],
        json!({"service_name": "inventory", "sku": "A-1"})
    );
    assert_eq!(values(&level), [42.0]);
    let moves = series_with(&host, "stock.moves", &json!({"service_name": "inventory"})).unwrap();
    assert_eq!(
        (values(&moves), &moves["kind"]),
        (vec![3.5], &json!("counter"))
    );

    // One good point, one timestamp in seconds, one exponential histogram.
    let body = format!(
        r#"{{"resourceMetrics": [{{"scopeMetrics": [{{"metrics": [
            {{"name": "partly.good", "gauge": {{"dataPoints": [
                {{"timeUnixNano": "{now}", "asDouble": 1}},
                {{"timeUnixNano": "1764201600", "asDouble": 2}}]}}}},
            {{"name": "partly.exp", "exponentialHistogram": {{"aggregationTemporality": 2, "dataPoints": [{{"count": "1"}}]}}}}
        ]}}]}}]}}"#,
        now = now_ns()
    );
    let answer = post_otlp_json(&host, &body);
    assert_eq!(
        answer.status, 200,
        "partial success is a success: {}",
        answer.body
    );
    let partial = &answer.json()["partialSuccess"];
    assert_eq!(partial["rejectedDataPoints"], 2, "{partial}");
    assert!(
        partial["errorMessage"]
            .as_str()
            .unwrap()
            .contains("before the year 2000"),
        "{partial}"
    );
    let good = series_of(&host, "partly.good").unwrap();
    assert_eq!(values(&good[0]), [1.0], "the good point is stored");
    assert_eq!(
        get(host.addr, "/api/v1/query?metric=partly.exp&start=0").status,
        404
    );

    // The same partial answer in protobuf, for a protobuf request.
    let request: opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest =
        serde_json::from_str(&body).unwrap();
    let answer = post_bytes(
        host.addr,
        "/v1/metrics",
        &[("Content-Type", "application/x-protobuf")],
        &request.encode_to_vec(),
    );
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.content_type.as_deref(),
        Some("application/x-protobuf")
    );
    let response = ExportMetricsServiceResponse::decode(answer.bytes.as_slice()).unwrap();
    assert_eq!(response.partial_success.unwrap().rejected_data_points, 2);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// `google.rpc.Status`, the body of OTLP/HTTP error answers.
#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

#[test]
fn otlp_refuses_what_it_cannot_read_with_the_right_status() {
    let (_dir, host) = start();
    let protobuf = [("Content-Type", "application/x-protobuf")];

    let answer = post_bytes(host.addr, "/v1/metrics", &protobuf, b"\xff\xff\xff\xff");
    assert_eq!(answer.status, 400);
    let status = Status::decode(answer.bytes.as_slice()).expect("a protobuf Status");
    assert!(
        status
            .message
            .contains("not a protobuf ExportMetricsServiceRequest"),
        "{status:?}"
    );

    let answer = post_otlp_json(&host, "{\"resourceMetrics\": 7}");
    assert_eq!(answer.status, 400);
    assert!(
        answer.json()["message"]
            .as_str()
            .unwrap()
            .contains("OTLP/JSON")
    );

    let answer = post_bytes(
        host.addr,
        "/v1/metrics",
        &[("Content-Type", "text/plain")],
        b"cpu 1",
    );
    assert_eq!(answer.status, 415);
    assert!(
        answer
            .body
            .contains("application/x-protobuf or application/json")
    );

    let answer = post_bytes(
        host.addr,
        "/v1/metrics",
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "br"),
        ],
        b"{}",
    );
    assert_eq!(answer.status, 415, "{}", answer.body);

    // A small gzip body that expands beyond the body limit.
    let bomb = gzip(&vec![b' '; 17 << 20]);
    let answer = post_bytes(
        host.addr,
        "/v1/metrics",
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        &bomb,
    );
    assert_eq!(answer.status, 413, "{}", answer.body);

    let answer = post_bytes(
        host.addr,
        "/v1/metrics",
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        b"not gzip",
    );
    assert_eq!(answer.status, 400, "{}", answer.body);
}

/// One series of a hand-made remote-write body: its labels and values.
type Series<'a> = (&'a [(&'a str, &'a str)], &'a [f64]);

fn remote_write_body(timeseries: &[Series<'_>], timestamp: i64) -> Vec<u8> {
    // remote.proto / types.proto, encoded by hand with prost's primitives.
    #[derive(Clone, PartialEq, prost::Message)]
    struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        timeseries: Vec<TimeSeries>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        samples: Vec<Sample>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Label {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(string, tag = "2")]
        value: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Sample {
        #[prost(double, tag = "1")]
        value: f64,
        #[prost(int64, tag = "2")]
        timestamp: i64,
    }
    let request = WriteRequest {
        timeseries: timeseries
            .iter()
            .map(|(labels, samples)| TimeSeries {
                labels: labels
                    .iter()
                    .map(|(name, value)| Label {
                        name: (*name).into(),
                        value: (*value).into(),
                    })
                    .collect(),
                samples: samples
                    .iter()
                    .enumerate()
                    .map(|(i, value)| Sample {
                        value: *value,
                        timestamp: timestamp + i as i64,
                    })
                    .collect(),
            })
            .collect(),
    };
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .unwrap()
}

const REMOTE_WRITE_HEADERS: &[(&str, &str)] = &[
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

#[test]
fn remote_write_skips_nans_and_names_what_it_refuses() {
    let (_dir, host) = start();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let body = remote_write_body(
        &[
            (
                &[("__name__", "jobs:queued:sum"), ("queue", "mail")],
                &[4.0, stale],
            ),
            (
                &[("__name__", "rpc_seconds"), ("quantile", "0.5")],
                &[f64::NAN],
            ),
            (&[("__name__", "overflow")], &[f64::INFINITY]),
        ],
        now,
    );
    let answer = post_bytes(host.addr, "/api/v1/write", REMOTE_WRITE_HEADERS, &body);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("1 of 2 samples refused (1 stored); first: value inf of `overflow`"),
        "{}",
        answer.body
    );
    let queued = series_of(&host, "jobs_queued_sum").unwrap();
    assert_eq!(queued[0]["labels"], json!({"queue": "mail"}));
    assert_eq!(values(&queued[0]), [4.0], "the stale marker is not stored");
    assert!(
        series_of(&host, "rpc_seconds").is_none(),
        "a NaN quantile is not stored"
    );

    let body = remote_write_body(&[(&[("__name__", "ok_total")], &[1.0])], now);
    let answer = post_bytes(host.addr, "/api/v1/write", REMOTE_WRITE_HEADERS, &body);
    assert_eq!(answer.status, 204, "{}", answer.body);

    let answer = post_bytes(
        host.addr,
        "/api/v1/write",
        REMOTE_WRITE_HEADERS,
        b"\xff\xff\xff\xff",
    );
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("not valid snappy"), "{}", answer.body);

    let not_protobuf = snap::raw::Encoder::new()
        .compress_vec(b"\xff\xff\xff")
        .unwrap();
    let answer = post_bytes(
        host.addr,
        "/api/v1/write",
        REMOTE_WRITE_HEADERS,
        &not_protobuf,
    );
    assert_eq!(answer.status, 400);
    assert!(
        answer
            .body
            .contains("not a protobuf prometheus.WriteRequest"),
        "{}",
        answer.body
    );

    let answer = post_bytes(
        host.addr,
        "/api/v1/write",
        &[
            (
                "Content-Type",
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            ),
            ("Content-Encoding", "snappy"),
        ],
        &body,
    );
    assert_eq!(answer.status, 415, "{}", answer.body);
    assert!(answer.body.contains("remote write 1.0"), "{}", answer.body);
}

/// A body that fits every byte limit but is made of empty messages (`0a 00`:
/// field 1, length 0), each of which would become a struct of its own:
/// empty `ResourceMetrics` in 16 KB of gzip, empty `TimeSeries` in under a
/// megabyte of snappy. Both are refused with 413 before decoding, and the
/// host keeps serving.
#[test]
fn gzip_and_snappy_bombs_of_empty_messages_are_refused_before_decoding() {
    let (_dir, host) = start();
    let empty_messages = [0x0a, 0x00].repeat(8 << 20);

    let answer = post_bytes(
        host.addr,
        "/v1/metrics",
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "gzip"),
        ],
        &gzip(&empty_messages),
    );
    assert_eq!(answer.status, 413, "{}", answer.body);
    let status = Status::decode(answer.bytes.as_slice()).expect("a protobuf Status");
    assert!(
        status
            .message
            .starts_with("the body holds more than 1000000 list entries"),
        "{status:?}"
    );

    let bomb = snap::raw::Encoder::new()
        .compress_vec(&empty_messages)
        .unwrap();
    let answer = post_bytes(host.addr, "/api/v1/write", REMOTE_WRITE_HEADERS, &bomb);
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap()
            .contains("more than 1000000 list entries (series, labels, samples)"),
        "{}",
        answer.body
    );

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let body = remote_write_body(&[(&[("__name__", "after_bombs")], &[1.0])], now);
    let answer = post_bytes(host.addr, "/api/v1/write", REMOTE_WRITE_HEADERS, &body);
    assert_eq!(answer.status, 204, "{}", answer.body);
}
