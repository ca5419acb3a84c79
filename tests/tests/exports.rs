//! Export formats read back by their real consumers: CSV by Python's `csv`
//! module and DuckDB's `read_csv`, Prometheus text by `promtool check
//! metrics`, OpenMetrics by `promtool tsdb create-blocks-from` and a real
//! Prometheus answering queries over the blocks it made, the Datadog body by
//! `datadog-api-client`'s `MetricPayload`, the New Relic body by
//! `newrelic-telemetry-sdk`'s metric models.

use std::path::{Path, PathBuf};
use std::process::Command;

use perfwatch_tests::{
    HostDir, PROMTOOL_BINARY, PerfwatchProcess, PrometheusProcess, eventually, post_json, run_cli,
    run_python,
};
use serde_json::{Value, json};

/// Long ticks: the host's own samples land after the range the tests
/// export, which lies two hours back.
const TICK_MS: u64 = 5_000;

/// A label value with everything CSV and Prometheus text must escape.
const AWKWARD: &str = "coder,1 \"x\";=y\\z";

/// Pushes a known set of samples two hours back, on whole seconds, and
/// returns their first timestamp.
fn push_known_samples(host: &PerfwatchProcess) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let base = (now - 2 * 3_600_000) / 1000 * 1000;
    let samples = json!([
        {"metric": "agents.avgResponseTime", "value": 42.0, "timestamp": base, "labels": {"agent": AWKWARD}},
        {"metric": "queries.avgResponseTime", "value": 120.5, "timestamp": base},
        {"metric": "queries.avgResponseTime", "value": 250.0, "timestamp": base + 1000},
        {"metric": "queries.avgResponseTime", "value": 99.25, "timestamp": base + 2000},
        {"metric": "system.cpuUsage", "value": 12.34, "timestamp": base},
        {"metric": "tracing.errorRate", "value": 0.0123, "timestamp": base + 1000},
    ]);
    let pushed = post_json(host.addr, "/api/v1/metrics", &samples.to_string());
    assert_eq!(pushed.status, 200, "{}", pushed.body);
    assert_eq!(pushed.json()["accepted"], 6, "{}", pushed.body);
    base
}

/// Runs an export and returns the file it wrote.
fn export(host: &PerfwatchProcess, query: &str) -> PathBuf {
    let answer = post_json(host.addr, &format!("/api/v1/export?{query}"), "");
    assert_eq!(answer.status, 200, "{query}: {}", answer.body);
    PathBuf::from(answer.json()["filePath"].as_str().unwrap())
}

/// The CSV file as Python's `csv` module and DuckDB's `read_csv` read it:
/// `{"python": [[field…]…], "duckdb": {"columns": [[name, type]…], "rows": [[…]…]}}`.
fn read_csv_back(path: &Path) -> Value {
    const SCRIPT: &str = r#"
import csv, json, sys
import duckdb
path = sys.argv[1]
with open(path, newline="") as f:
    rows = list(csv.reader(f, strict=True))
con = duckdb.connect()
rel = f"read_csv('{path}', header = true, auto_detect = true)"
columns = [[c[0], c[1]] for c in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
found = [list(r) for r in con.execute(f"SELECT * FROM {rel}").fetchall()]
print(json.dumps({"python": rows, "duckdb": {"columns": columns, "rows": found}}))
"#;
    let out = run_python(SCRIPT, &[path.to_str().unwrap()]);
    serde_json::from_str(&out).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_exports_read_back_by_python_and_duckdb() {
    let dir = HostDir::new().shipped(&["csv"]).config(TICK_MS, "");
    let host = dir.start();
    let base = push_known_samples(&host);
    let range = format!("format=csv&start={}&end={}", base - 1000, base + 10_000);

    let long = read_csv_back(&export(&host, &range));
    let expected = json!([
        ["timestamp", "metric", "labels", "value", "unit"],
        [
            base.to_string(),
            "agents.avgResponseTime",
            "agent=coder,1 \"x\"\\;\\=y\\\\z",
            "42",
            "ms"
        ],
        [
            base.to_string(),
            "queries.avgResponseTime",
            "",
            "120.5",
            "ms"
        ],
        [
            (base + 1000).to_string(),
            "queries.avgResponseTime",
            "",
            "250",
            "ms"
        ],
        [
            (base + 2000).to_string(),
            "queries.avgResponseTime",
            "",
            "99.25",
            "ms"
        ],
        [base.to_string(), "system.cpuUsage", "", "12.34", "%"],
        [
            (base + 1000).to_string(),
            "tracing.errorRate",
            "",
            "0.0123",
            "ratio"
        ],
    ]);
    assert_eq!(long["python"], expected, "{long}");
    assert_eq!(
        long["duckdb"]["columns"],
        json!([
            ["timestamp", "BIGINT"],
            ["metric", "VARCHAR"],
            ["labels", "VARCHAR"],
            ["value", "DOUBLE"],
            ["unit", "VARCHAR"]
        ]),
        "{long}"
    );
    let duck_rows = long["duckdb"]["rows"].as_array().unwrap();
    assert_eq!(duck_rows.len(), 6, "{long}");
    assert_eq!(duck_rows[0][2], "agent=coder,1 \"x\"\\;\\=y\\\\z", "{long}");
    let values: Vec<f64> = duck_rows.iter().map(|r| r[3].as_f64().unwrap()).collect();
    assert_eq!(values, [42.0, 120.5, 250.0, 99.25, 12.34, 0.0123], "{long}");

    let wide = read_csv_back(&export(&host, &format!("{range}&layout=wide")));
    let header = "timestamp,cpu_usage_percent,memory_usage_percent,disk_usage_percent,network_latency_ms,agent_response_time_ms,task_throughput,ui_frame_rate,query_response_time_ms,error_rate_percent,trace_collection_overhead_ms";
    let header: Vec<&str> = header.split(',').collect();
    let row = |cells: &[(usize, &str)], ts: i64| {
        let mut r = vec![String::new(); 11];
        r[0] = ts.to_string();
        for (i, v) in cells {
            r[*i] = (*v).to_owned();
        }
        r
    };
    assert_eq!(
        wide["python"],
        json!([
            header,
            row(&[(1, "12.34"), (8, "120.50")], base),
            row(&[(8, "250.00"), (9, "1.2300")], base + 1000),
            row(&[(8, "99.25")], base + 2000),
        ]),
        "{wide}"
    );
    let columns = wide["duckdb"]["columns"].as_array().unwrap();
    let names: Vec<&str> = columns.iter().map(|c| c[0].as_str().unwrap()).collect();
    assert_eq!(names, header, "{wide}");
    assert_eq!(
        wide["duckdb"]["rows"].as_array().unwrap().len(),
        3,
        "{wide}"
    );

    // No data: the same header, in both layouts, and still valid CSV.
    let empty = format!(
        "format=csv&start={}&end={}",
        base - 864_000_000,
        base - 863_000_000
    );
    let long_empty = read_csv_back(&export(&host, &empty));
    assert_eq!(long_empty["python"], json!([expected[0]]), "{long_empty}");
    assert_eq!(long_empty["duckdb"]["rows"], json!([]), "{long_empty}");
    let wide_empty = read_csv_back(&export(&host, &format!("{empty}&layout=wide")));
    assert_eq!(wide_empty["python"], json!([header]), "{wide_empty}");

    // The CLI: one metric of the range to standard output, the original's
    // file name in export_path, and the loaded formats for an unknown one.
    let cli_config = dir.path().join("cli.toml");
    std::fs::write(&cli_config, format!("port = {}\n", host.addr.port())).unwrap();
    let cli_config = cli_config.to_str().unwrap();
    let (start, end) = ((base - 1000).to_string(), (base + 10_000).to_string());
    let cli = run_cli([
        "export",
        "--format",
        "csv",
        "--start",
        &start,
        "--end",
        &end,
        "--metric",
        "queries.avgResponseTime",
        "--out",
        "-",
        "--config",
        cli_config,
    ]);
    assert!(cli.success, "{}", cli.text());
    assert_eq!(
        cli.stdout,
        format!(
            "timestamp,metric,labels,value,unit\r\n{base},queries.avgResponseTime,,120.5,ms\r\n{},queries.avgResponseTime,,250,ms\r\n{},queries.avgResponseTime,,99.25,ms\r\n",
            base + 1000,
            base + 2000
        )
    );
    assert!(cli.stderr.contains("3 records"), "{}", cli.stderr);
    let written = cli.stderr.trim().rsplit(" in ").next().unwrap().to_owned();
    let name = Path::new(&written).file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("performance-metrics-20")
            && name.ends_with("Z.csv")
            && !name.contains(':'),
        "{name}"
    );
    let unknown = run_cli(["export", "--format", "xlsx", "--config", cli_config]);
    assert!(!unknown.success, "{}", unknown.text());
    assert!(
        unknown.text().contains("available: csv"),
        "{}",
        unknown.text()
    );

    let bad = post_json(
        host.addr,
        &format!("/api/v1/export?{range}&layout=tall"),
        "",
    );
    assert_ne!(bad.status, 200, "{}", bad.body);
    assert!(bad.body.contains("layout"), "{}", bad.body);
}

fn promtool(args: &[&str], stdin: Option<&Path>) -> (bool, String) {
    assert!(
        Path::new(PROMTOOL_BINARY).is_file(),
        "{PROMTOOL_BINARY} is missing: `cargo xtask test` installs Debian's prometheus"
    );
    let mut command = Command::new(PROMTOOL_BINARY);
    command.args(args);
    if let Some(file) = stdin {
        command.stdin(std::fs::File::open(file).unwrap());
    }
    let output = command.output().expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_text_passes_promtool_and_openmetrics_loads_into_prometheus() {
    let dir = HostDir::new()
        .shipped(&["prometheus-text"])
        .config(TICK_MS, "");
    let host = dir.start();
    let base = push_known_samples(&host);
    let range = format!(
        "format=prometheus-text&start={}&end={}",
        base - 1000,
        base + 10_000
    );

    let text = export(&host, &range);
    let body = std::fs::read_to_string(&text).unwrap();
    // 120.5 ms in seconds, at its time in ms.
    let line = body
        .lines()
        .find(|l| {
            l.starts_with("queries_avg_response_time_seconds ") && l.ends_with(&format!(" {base}"))
        })
        .unwrap_or_else(|| panic!("no latency line at {base}:\n{body}"));
    let seconds: f64 = line.split(' ').nth(1).unwrap().parse().unwrap();
    assert!((seconds - 0.1205).abs() < 1e-12, "{line}");
    assert!(
        body.contains("# HELP system_cpu_usage_percent system.cpuUsage (%)\n"),
        "{body}"
    );
    let (ok, out) = promtool(&["check", "metrics"], Some(&text));
    assert!(ok, "promtool check metrics:\n{out}\n{body}");
    // The check can fail: the original's names, in non-base units, do.
    let original = dir.path().join("original.prom");
    std::fs::write(
        &original,
        "# HELP agent_response_time_milliseconds Agent response time\n# TYPE agent_response_time_milliseconds gauge\nagent_response_time_milliseconds 120\n",
    )
    .unwrap();
    let (ok, out) = promtool(&["check", "metrics"], Some(&original));
    assert!(!ok, "promtool accepted non-base units:\n{out}");

    let om = export(&host, &format!("{range}&layout=openmetrics"));
    let tsdb = dir.path().join("tsdb");
    let (ok, out) = promtool(
        &[
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            om.to_str().unwrap(),
            tsdb.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        ok,
        "create-blocks-from:\n{out}\n{}",
        std::fs::read_to_string(&om).unwrap()
    );

    let prometheus = PrometheusProcess::on_tsdb(&tsdb);
    let at = (base + 2500) as f64 / 1000.0;
    let value = |promql: &str| -> Option<f64> {
        let result = prometheus.query(promql, Some(at))?;
        result.first()?["value"][1].as_str()?.parse().ok()
    };
    let latency = eventually("Prometheus answering from the imported blocks", || {
        value("queries_avg_response_time_seconds")
    });
    assert!((latency - 0.09925).abs() < 1e-12, "{latency}");
    let selector = format!(
        "agents_avg_response_time_seconds{{agent={}}}",
        serde_json::to_string(AWKWARD).unwrap()
    );
    let agent = value(&selector).unwrap_or_else(|| panic!("{selector}: {}", prometheus.log()));
    assert!((agent - 0.042).abs() < 1e-12, "{agent}");
    assert_eq!(value("system_cpu_usage_percent"), Some(12.34));
    assert_eq!(value("tracing_error_rate_ratio"), Some(0.0123));
}

#[tokio::test(flavor = "multi_thread")]
async fn datadog_and_newrelic_bodies_match_the_vendors_models() {
    let dir = HostDir::new().shipped(&["datadog", "newrelic"]).config(
        TICK_MS,
        r#"
[[plugins]]
name = "datadog"
[plugins.config]
host = "web-1"
env = "staging"
tags = ["service:checkout"]

[[plugins]]
name = "newrelic"
[plugins.config]
host = "web-1"
attributes = { service = "checkout" }
"#,
    );
    let host = dir.start();
    let base = push_known_samples(&host);
    let range = format!("start={}&end={}", base - 1000, base + 10_000);
    let datadog = export(&host, &format!("format=datadog&{range}"));
    let newrelic = export(&host, &format!("format=newrelic&{range}"));
    let original = dir.path().join("original-datadog.json");
    std::fs::write(
        &original,
        r#"[{"metric": "claude_flow.performance", "points": [[1700000000, 12.5]], "tags": ["env:production"], "host": "claude-flow-instance"}]"#,
    )
    .unwrap();

    const SCRIPT: &str = r#"
import json, sys
from datadog_api_client.configuration import Configuration
from datadog_api_client.model_utils import validate_and_convert_types
from datadog_api_client.v2.model.metric_payload import MetricPayload
from newrelic_telemetry_sdk import GaugeMetric

def datadog(path):
    data = json.load(open(path))
    payload = validate_and_convert_types(data, (MetricPayload,), ["body"], True, True, Configuration())
    series = []
    for s in payload.series:
        assert not s._unparsed, s
        series.append({
            "metric": s.metric,
            "type": s.type.value,
            "points": [[p.timestamp, p.value] for p in s.points],
            "tags": list(s.tags),
            "resources": [[r.name, r.type] for r in s.resources],
            "unit": s.get("unit"),
        })
    return series

def rejected(path):
    try:
        datadog(path)
        return False
    except Exception:
        return True

body = json.load(open(sys.argv[2]))
assert isinstance(body, list) and len(body) == 1, body
batch = body[0]
same = []
for m in batch["metrics"]:
    assert m["type"] == "gauge", m
    sdk = GaugeMetric(m["name"], m["value"], tags=m.get("attributes"), end_time_ms=m["timestamp"])
    mine = {k: v for k, v in m.items() if k != "type"}
    same.append(dict(sdk) == mine)
print(json.dumps({
    "datadog": datadog(sys.argv[1]),
    "original_rejected": rejected(sys.argv[3]),
    "newrelic_common": batch["common"],
    "newrelic_metrics": len(batch["metrics"]),
    "newrelic_as_sdk": all(same),
}))
"#;
    let out = run_python(
        SCRIPT,
        &[
            datadog.to_str().unwrap(),
            newrelic.to_str().unwrap(),
            original.to_str().unwrap(),
        ],
    );
    let checked: Value = serde_json::from_str(&out).unwrap();
    let series = checked["datadog"].as_array().unwrap();
    assert_eq!(series.len(), 4, "{checked}");
    let agent = &series[0];
    assert_eq!(agent["metric"], "agents.avgResponseTime", "{checked}");
    assert_eq!(agent["type"], 3, "{checked}");
    assert_eq!(agent["points"], json!([[base / 1000, 42.0]]), "{checked}");
    assert_eq!(
        agent["tags"],
        json!([
            format!("agent:{AWKWARD}"),
            "env:staging",
            "service:checkout"
        ]),
        "{checked}"
    );
    assert_eq!(agent["resources"], json!([["web-1", "host"]]), "{checked}");
    assert_eq!(agent["unit"], "millisecond", "{checked}");
    assert_eq!(
        series[1]["points"].as_array().unwrap().len(),
        3,
        "{checked}"
    );
    assert_eq!(series[2]["unit"], "percent", "{checked}");
    assert_eq!(checked["original_rejected"], true, "{checked}");

    assert_eq!(checked["newrelic_as_sdk"], true, "{checked}");
    assert_eq!(checked["newrelic_metrics"], 6, "{checked}");
    assert_eq!(
        checked["newrelic_common"],
        json!({
            "timestamp": base - 1000,
            "interval.ms": 11_000,
            "attributes": {"host.name": "web-1", "service": "checkout"}
        }),
        "{checked}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_recommends_from_the_figures_as_json_and_rendered_markdown() {
    let dir = HostDir::new().shipped(&["summary"]).config(TICK_MS, "");
    let host = dir.start();
    let base = push_known_samples(&host);
    let hot = json!([
        {"metric": "system.cpuUsage", "value": 95.5, "timestamp": base + 1000},
        {"metric": "system.cpuUsage", "value": 88.5, "timestamp": base + 2000},
        {"metric": "agents.avgResponseTime", "value": 1500.0, "timestamp": base + 1000},
    ]);
    let pushed = post_json(host.addr, "/api/v1/metrics", &hot.to_string());
    assert_eq!(pushed.status, 200, "{}", pushed.body);
    let range = format!("format=summary&start={}&end={}", base - 1000, base + 10_000);

    let report: Value =
        serde_json::from_slice(&std::fs::read(export(&host, &range)).unwrap()).unwrap();
    let overview = &report["overview"];
    assert_eq!(overview["snapshots"], 3, "{report}");
    let cpu = overview["averages"]["cpuUsage"].as_f64().unwrap();
    assert!((cpu - (12.34 + 95.5 + 88.5) / 3.0).abs() < 1e-9, "{report}");
    assert_eq!(overview["averages"]["responseTime"], 1500.0, "{report}");
    let rules: Vec<&str> = report["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    // CPU averages 65.45 (< 80) and the error rate 1.23 % (< 5 %): only the
    // response time is past its threshold. (Whether the hot CPU points
    // raised an alert or a bottleneck depends on the window's timing.)
    assert!(rules.contains(&"responseTime"), "{report}");
    assert!(
        !rules.contains(&"cpu") && !rules.contains(&"errorRate"),
        "{report}"
    );
    let response = report["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "responseTime")
        .unwrap();
    assert_eq!(response["value"], 1500.0, "{report}");

    let markdown = export(&host, &format!("{range}&layout=markdown"));
    assert_eq!(markdown.extension().unwrap(), "md");
    const RENDER: &str = r#"
import json, sys
import markdown
html = markdown.markdown(open(sys.argv[1]).read(), extensions=["tables"])
print(json.dumps(html))
"#;
    let html: String =
        serde_json::from_str(&run_python(RENDER, &[markdown.to_str().unwrap()])).unwrap();
    assert!(html.contains("<h2>Recommendations</h2>"), "{html}");
    assert!(html.contains("<td>average responseTime</td>"), "{html}");
    assert!(html.contains("(1500.00 &gt; 1000)"), "{html}");
}
