//! `GET /metrics` against its real consumers: `promtool check metrics`
//! accepts what a running host serves, and a real Prometheus scrapes it
//! (negotiating OpenMetrics, as it does) and answers queries with the
//! values perfwatch holds, for every query of the exported Grafana
//! dashboard.

use std::io::Write;
use std::process::{Command, Stdio};

use perfwatch_tests::{
    HostDir, PROMTOOL_BINARY, PrometheusProcess, eventually, get_with, post_json,
};

const TICK_MS: u64 = 500;

/// What `promtool check metrics` says of `text`: whether it passed, and
/// its output.
fn promtool_check(text: &str) -> (bool, String) {
    let mut child = Command::new(PROMTOOL_BINARY)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{PROMTOOL_BINARY}: {e} (`cargo xtask test` installs Debian's prometheus)")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_pass_promtool_and_a_real_prometheus_scrapes_them() {
    let dir = HostDir::new()
        .shipped(&["loadavg", "grafana"])
        .config(TICK_MS, "[[plugins]]\nname = \"loadavg\"\n");
    let host = dir.start();
    let pushed = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[
            {"metric": "queries.avgResponseTime", "value": 250, "labels": {"db": "main \"eu\""}},
            {"metric": "app.jobsDone", "value": 41, "kind": "counter"}
        ]"#,
    );
    assert_eq!(pushed.status, 200, "{}", pushed.body);

    // Wait for a tick with the plugin's self-metrics, then lint the lot.
    let text = eventually("plugins.* in /metrics", || {
        let answer = get_with(host.addr, "/metrics", &[]);
        (answer.status == 200 && answer.body.contains("plugins_calls_total{")).then_some(answer)
    });
    assert_eq!(
        text.content_type.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = &text.body;
    assert!(
        body.contains("queries_avg_response_time_seconds{db=\"main \\\"eu\\\"\"} 0.25\n"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE app_jobs_done_total counter\napp_jobs_done_total 41\n"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE system_cpu_usage_percent gauge\n"),
        "{body}"
    );
    let (ok, out) = promtool_check(body);
    assert!(ok, "promtool check metrics:\n{out}\n{body}");
    // The check can fail: a camelCase name is refused.
    let (ok, _) = promtool_check("# HELP cpuUsage x\n# TYPE cpuUsage gauge\ncpuUsage 1\n");
    assert!(!ok, "promtool accepted a camelCase name");

    let om = get_with(
        host.addr,
        "/metrics",
        &[("Accept", "application/openmetrics-text;version=1.0.0")],
    );
    assert_eq!(
        om.content_type.as_deref(),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);
    assert!(
        om.body
            .contains("# TYPE app_jobs_done counter\napp_jobs_done_total 41\n"),
        "{}",
        om.body
    );

    let prometheus = PrometheusProcess::scraping(host.addr);
    let value = |promql: &str| -> Option<f64> {
        let result = prometheus.query(promql, None)?;
        result.first()?["value"][1].as_str()?.parse().ok()
    };
    eventually("Prometheus scraping perfwatch", || {
        value("up{job=\"perfwatch\"}").filter(|up| *up == 1.0)
    });
    let latency = eventually("the pushed latency in Prometheus", || {
        value("queries_avg_response_time_seconds{db=\"main \\\"eu\\\"\"}")
    });
    assert_eq!(latency, 0.25);
    assert_eq!(
        eventually("the counter", || value("app_jobs_done_total")),
        41.0
    );
    let cpu = eventually("system_cpu_usage_percent", || {
        value("system_cpu_usage_percent")
    });
    assert!((0.0..=100.0).contains(&cpu), "{cpu}");
    assert!(
        eventually("a plugin call count", || value("sum(plugins_calls_total)")) >= 1.0,
        "{}",
        prometheus.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_panel_of_the_grafana_dashboard_has_data_in_a_prometheus_scraping_metrics() {
    let dir = HostDir::new()
        .shipped(&["loadavg", "grafana"])
        .config(TICK_MS, "[[plugins]]\nname = \"loadavg\"\n");
    let host = dir.start();
    let pushed = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "agents.avgResponseTime", "value": 120, "labels": {"agent": "coder-1"}}]"#,
    );
    assert_eq!(pushed.status, 200, "{}", pushed.body);
    eventually("plugins.* in /metrics", || {
        let answer = get_with(host.addr, "/metrics", &[]);
        answer.body.contains("plugins_calls_total{").then_some(())
    });
    let prometheus = PrometheusProcess::scraping(host.addr);
    eventually("Prometheus scraping perfwatch", || {
        let up = prometheus.query("up{job=\"perfwatch\"}", None)?;
        (up.first()?["value"][1] == "1").then_some(())
    });

    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 600_000;
    let answer = post_json(
        host.addr,
        &format!("/api/v1/export?format=grafana&start={start}"),
        "",
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let file = answer.json()["filePath"].as_str().unwrap().to_owned();
    let dashboard: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(dashboard["__inputs"][0]["pluginId"], "prometheus");
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "timeseries")
        .map(|p| p["targets"][0]["expr"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "system_cpu_usage_percent",
        "agents_avg_response_time_seconds",
        "plugins_calls",
    ] {
        assert!(
            exprs
                .iter()
                .any(|e| e.contains(&format!("\"{expected}(_total)?\""))),
            "{expected} not among {exprs:?}"
        );
    }
    for expr in &exprs {
        let result = eventually(&format!("data for the panel query {expr}"), || {
            prometheus
                .query(expr, None)
                .filter(|result| !result.is_empty())
        });
        assert!(result[0]["value"][1].is_string(), "{expr}: {result:?}");
    }
}
