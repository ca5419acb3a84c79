//! The foundation end to end: the real binary collects, stores, streams,
//! ingests, survives SIGKILL and answers queries about the time before it.

use std::time::Duration;

use perfwatch_tests::{HostDir, Stream, WAIT, get, post_json, repo_root};
use serde_json::Value;

const SLACK_SECRET: &str = "https://hooks.slack.com/services/T0/B0/e2e-secret-token";

/// A host as shipped: the repository's rules, the loadavg plugin, and a
/// Slack channel whose webhook is a secret that must never leak.
fn host_dir() -> HostDir {
    HostDir::new()
        .shipped(&["loadavg", "slack"])
        .rules(&repo_root().join("rules"))
        .config(
            250,
            &format!(
                r#"
[[alerting.channels]]
type = "slack"
config = {{ webhook_url = "{SLACK_SECRET}" }}

[[plugins]]
name = "loadavg"
read_paths = ["/proc"]
"#
            ),
        )
}

#[tokio::test(flavor = "multi_thread")]
async fn collects_streams_ingests_and_survives_sigkill() {
    let dir = host_dir();
    let mut host = dir.start();
    assert_eq!(get(host.addr, "/healthz").json()["status"], "ok");

    let mut stream = Stream::connect(host.addr).await;
    let initial = stream.next(WAIT).await;
    assert_eq!(initial["type"], "initial_data");
    for key in ["current", "alerts", "bottlenecks", "config"] {
        assert!(
            !initial["data"][key].is_null(),
            "initial_data lacks {key}: {initial}"
        );
    }
    let initial_text = initial.to_string();
    assert!(
        !initial_text.contains("e2e-secret-token"),
        "a secret leaked: {initial_text}"
    );
    assert_eq!(
        initial["data"]["config"]["alerting"]["channels"][0]["config"]["webhook_url"],
        "[redacted]"
    );

    let first = stream.next_of("metrics_update", WAIT).await;
    let second = stream.next_of("metrics_update", WAIT).await;
    let (t1, t2) = (
        first["data"]["timestamp"].as_i64().unwrap(),
        second["data"]["timestamp"].as_i64().unwrap(),
    );
    assert!(t2 > t1, "timestamps advance: {t1} then {t2}");
    let data = &second["data"];
    let cpu = data["system"]["cpuUsage"]
        .as_f64()
        .expect("cpuUsage is a number");
    assert!((0.0..=100.0).contains(&cpu), "cpuUsage {cpu}");
    let memory = data["system"]["memoryUsage"]
        .as_f64()
        .expect("memoryUsage is a number");
    assert!(memory > 0.0 && memory < 100.0, "memoryUsage {memory}");
    assert!(data["system"]["diskUsage"].as_f64().is_some(), "{data}");
    assert!(
        data["system"]["networkRxBytesPerSecond"].as_f64().is_some(),
        "{data}"
    );
    assert!(
        data["system"]["load1"].as_f64().is_some(),
        "the loadavg plugin's samples stream: {data}"
    );
    assert!(
        data["tracing"]["collectionOverhead"].as_f64().is_some(),
        "{data}"
    );
    assert!(
        data["tracing"]["memoryUsage"].as_f64().unwrap() > 1.0,
        "host RSS in MB: {data}"
    );
    assert_eq!(
        data["tracing"]["errorRate"], 0.0,
        "the loadavg plugin works: {data}"
    );
    assert!(
        data["tracing"]["eventThroughput"].as_f64().unwrap() > 0.0,
        "{data}"
    );
    for section in ["agents", "queries", "ui"] {
        assert!(
            data[section].is_object(),
            "{section} section present: {data}"
        );
    }

    let posted = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "agents.avgResponseTime", "value": 250, "unit": "ms", "labels": {"agent": "coder-1"}},
            {"metric": "e2e.marker", "value": 42}]"#,
    );
    assert_eq!(posted.status, 200, "{}", posted.body);
    assert_eq!(posted.json()["accepted"], 2);
    let update = stream.next_of("metrics_update", WAIT).await;
    assert_eq!(
        update["data"]["agents"]["avgResponseTime"], 250.0,
        "{update}"
    );
    assert_eq!(update["data"]["custom"]["e2e.marker"], 42.0, "{update}");

    // Crossing a configured threshold fires one alert_triggered.
    let hot = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "queries.avgResponseTime", "value": 2500}]"#,
    );
    assert_eq!(hot.status, 200, "{}", hot.body);
    let alert = stream
        .next_for_rule("alert_triggered", "threshold:queries.avgResponseTime", WAIT)
        .await;
    assert_eq!(alert["data"]["severity"], "critical", "{alert}");
    assert_eq!(
        alert["data"]["metric"], "queries.avgResponseTime",
        "{alert}"
    );
    assert_eq!(alert["data"]["component"], "queries", "{alert}");
    assert_eq!(
        alert["data"]["message"], "Query Response Time: 2500 ms (threshold: 2000 ms)",
        "{alert}"
    );
    stream.next_of("metrics_update", WAIT).await;
    stream.next_of("metrics_update", WAIT).await;
    let alerts = get(host.addr, "/api/v1/alerts").json();
    let same_rule = alerts["firing"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["rule"] == "threshold:queries.avgResponseTime")
        .count();
    assert_eq!(same_rule, 1, "one alert, not one per tick: {alerts}");

    let partly_bad = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "e2e.kept", "value": 1}, {"metric": "e2e.bad", "value": "x"}]"#,
    );
    assert_eq!(partly_bad.status, 400);
    assert_eq!(partly_bad.json()["accepted"], 1, "{}", partly_bad.body);
    assert!(
        partly_bad.json()["rejected"][0]["error"]
            .as_str()
            .unwrap()
            .contains("must be a number")
    );

    let before_kill = get(host.addr, "/api/v1/query?metric=system.cpuUsage&start=0").json();
    let points_before = before_kill["series"][0]["points"].as_array().unwrap().len();
    assert!(points_before >= 2, "{before_kill}");
    let api_text = get(host.addr, "/api/v1/config").body;
    assert!(!api_text.contains("e2e-secret-token"), "{api_text}");
    assert!(
        !host.log().join("\n").contains("e2e-secret-token"),
        "a secret reached the log"
    );
    host.kill();

    let host = dir.start();
    let after = get(
        host.addr,
        "/api/v1/query?metric=agents.avgResponseTime&start=0",
    )
    .json();
    let series = &after["series"][0];
    assert_eq!(series["labels"]["agent"], "coder-1", "{after}");
    assert_eq!(series["points"][0][1], 250.0, "{after}");
    assert_eq!(series["unit"], "ms");
    let cpu_after = get(host.addr, "/api/v1/query?metric=system.cpuUsage&start=0").json();
    assert!(
        cpu_after["series"][0]["points"].as_array().unwrap().len() >= points_before,
        "{cpu_after}"
    );
    let kept = get(host.addr, "/api/v1/query?metric=e2e.kept&start=0").json();
    assert_eq!(
        kept["series"][0]["points"][0][1], 1.0,
        "the valid half of a rejected batch was kept: {kept}"
    );

    let unknown = get(host.addr, "/api/v1/query?metric=no.such.metric");
    assert_eq!(unknown.status, 404);
    assert!(
        unknown.json()["error"]
            .as_str()
            .unwrap()
            .contains("no.such.metric")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_ingest_bodies_get_clear_400s() {
    let dir = host_dir();
    let host = dir.start();
    let cases: &[(&str, &str)] = &[
        ("[{", "malformed JSON"),
        (r#"{"metric": "a.b", "value": 1}"#, "must be a JSON array"),
        (r#"[{"value": 1}]"#, "missing field `metric`"),
        (r#"[{"metric": "a.b"}]"#, "missing field `value`"),
        (r#"[{"metric": "a.b", "value": "NaN"}]"#, "must be a number"),
        (r#"[{"metric": "a.b", "value": 1e999}]"#, "malformed JSON"),
    ];
    for (body, expected) in cases {
        let answer = post_json(host.addr, "/api/v1/metrics", body);
        assert_eq!(answer.status, 400, "{body} -> {}", answer.body);
        assert!(
            answer.json()["error"].as_str().unwrap().contains(expected),
            "{body} -> {}",
            answer.body
        );
    }
    let huge = format!(
        "[{}]",
        vec![r#"{"metric":"a.b","value":1}"#; 700_000].join(",")
    );
    let answer = post_json(host.addr, "/api/v1/metrics", &huge);
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert_eq!(
        get(host.addr, "/healthz").status,
        200,
        "the host is still up"
    );
    let _: Value = get(host.addr, "/api/v1/alerts").json();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_firing_alert_survives_sigkill_without_a_second_notification() {
    let dir = host_dir();
    let host = dir.start();
    let mut stream = Stream::connect(host.addr).await;
    let hot = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "queries.avgResponseTime", "value": 2500}]"#,
    );
    assert_eq!(hot.status, 200);
    let alert = stream
        .next_for_rule("alert_triggered", "threshold:queries.avgResponseTime", WAIT)
        .await;
    let id = alert["data"]["id"].as_str().unwrap().to_owned();
    stream.next_of("metrics_update", WAIT).await;
    host.kill();

    let host = dir.start();
    let mut stream = Stream::connect(host.addr).await;
    let initial = stream.next(WAIT).await;
    let firing: Vec<&str> = initial["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert!(
        firing.contains(&id.as_str()),
        "still firing after the restart: {initial}"
    );
    // Several ticks pass: the alert neither fires again nor resolves.
    let mut updates = 0;
    while updates < 4 {
        let message = stream.next(WAIT).await;
        match message["type"].as_str() {
            Some("metrics_update") => updates += 1,
            Some("alert_triggered" | "alert_resolved") => {
                assert_ne!(
                    message["data"]["rule"], "threshold:queries.avgResponseTime",
                    "{message}"
                );
            }
            _ => {}
        }
    }
    let alerts = get(host.addr, "/api/v1/alerts").json();
    assert!(
        alerts["firing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == id.as_str()),
        "{alerts}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rule_scripts_reload_and_a_broken_edit_keeps_the_last_good_version() {
    let dir = HostDir::new();
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let script = |limit: u32| {
        format!(
            "let x = value(\"e2e.x\");\nif x > {limit}.0 {{\n    alert(\"over\", \"warning\", `x is ${{x}}`, #{{ metric: \"e2e.x\", value: x }});\n}}\n"
        )
    };
    let rule_file = rules.join("hot.rhai");
    std::fs::write(&rule_file, script(10)).unwrap();
    // Ticks of 3 s: a script must still reload within a second.
    let dir = dir.rules(&rules).config(3000, "");
    let host = dir.start();
    let mut stream = Stream::connect(host.addr).await;
    assert_eq!(
        post_json(
            host.addr,
            "/api/v1/metrics",
            r#"[{"metric": "e2e.x", "value": 20}]"#
        )
        .status,
        200
    );
    stream
        .next_for_rule("alert_triggered", "hot/over", WAIT)
        .await;

    // A syntax error: reported with file, line and column; the old version keeps running.
    let partial = rules.join("hot.rhai.partial");
    std::fs::write(&partial, "let x = value(\"e2e.x\");\nif x > { broken\n").unwrap();
    std::fs::rename(&partial, &rule_file).unwrap();
    let saved = std::time::Instant::now();
    let status = stream.next_of("rules_status", WAIT).await;
    assert!(
        saved.elapsed() < Duration::from_secs(2),
        "reloaded {:?} after the save",
        saved.elapsed()
    );
    let error = &status["data"]["compile_errors"][0];
    assert!(
        error["file"].as_str().unwrap().ends_with("hot.rhai"),
        "{status}"
    );
    assert_eq!(error["line"], 2, "{status}");
    assert!(error["column"].is_number(), "{status}");
    let api = get(host.addr, "/api/v1/rules").json();
    assert_eq!(api["compile_errors"][0]["line"], 2, "{api}");
    for _ in 0..3 {
        let message = stream.next(WAIT).await;
        assert_ne!(
            message["type"], "alert_resolved",
            "the last good version still holds the alert: {message}"
        );
    }

    // A fixed version with a higher limit replaces it: the alert resolves.
    std::fs::write(&partial, script(50)).unwrap();
    std::fs::rename(&partial, &rule_file).unwrap();
    stream
        .next_for_rule("alert_resolved", "hot/over", WAIT)
        .await;
    assert_eq!(
        get(host.addr, "/api/v1/rules").json()["compile_errors"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bottleneck_is_detected_once_and_listed() {
    let dir = host_dir();
    let host = dir.start();
    let mut stream = Stream::connect(host.addr).await;
    let slow = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "agents.avgResponseTime", "value": 4000, "labels": {"agent": "planner"}}]"#,
    );
    assert_eq!(slow.status, 200);
    let detected = loop {
        let message = stream.next_of("bottleneck_detected", WAIT).await;
        if message["data"]["id"] == "coordination/agents" {
            break message;
        }
    };
    let b = &detected["data"];
    assert_eq!(b["type"], "coordination", "{detected}");
    assert_eq!(b["component"], "agents");
    assert_eq!(b["impact"], 80.0, "4000 ms / 50: {detected}");
    assert_eq!(b["severity"], "high");
    assert!(!b["suggestions"].as_array().unwrap().is_empty());
    // Two more ticks: still one bottleneck, seen more often, not detected again.
    let mut ticks = 0;
    while ticks < 2 {
        let message = stream.next(WAIT).await;
        let again = message["type"] == "bottleneck_detected"
            && message["data"]["id"] == "coordination/agents";
        assert!(!again, "detected once: {message}");
        ticks += usize::from(message["type"] == "metrics_update");
    }
    let listed = get(host.addr, "/api/v1/bottlenecks").json();
    let current = listed["current"].as_array().unwrap();
    let ours: Vec<_> = current
        .iter()
        .filter(|b| b["id"] == "coordination/agents")
        .collect();
    assert_eq!(ours.len(), 1, "{listed}");
    assert!(ours[0]["occurrences"].as_u64().unwrap() >= 2, "{listed}");
}
