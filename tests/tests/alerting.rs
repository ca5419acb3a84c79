//! Alert delivery policy end to end: silences, inhibition and
//! acknowledgement, through the API, with the console channel delivering.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use perfwatch_tests::{PerfwatchProcess, Stream, get, post_json, shipped_plugin};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn start() -> (tempfile::TempDir, PerfwatchProcess) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(shipped_plugin("console"), plugins.join("console.wasm")).unwrap();
    let config: PathBuf = dir.path().join("perfwatch.toml");
    std::fs::write(
        &config,
        format!(
            r#"
port = 0
update_interval = 250
data_dir = "{data}"
plugins_dir = "{plugins}"
rules_dir = "{rules}"

[[alert_rules]]
id = "quiet"
metric = "e2e.quiet"
condition = "greater_than"
threshold = 1.0

[[alert_rules]]
id = "latency"
metric = "e2e.latency"
condition = "greater_than"
warning = 100.0
critical = 500.0
repeat_interval = 1000

[[alert_rules]]
id = "latency-early"
metric = "e2e.latency"
condition = "greater_than"
threshold = 50.0
severity = "warning"
"#,
            data = dir.path().join("data").display(),
            plugins = plugins.display(),
            rules = dir.path().join("no-rules").display(),
        ),
    )
    .unwrap();
    let host = PerfwatchProcess::start(&config);
    (dir, host)
}

fn deliveries_of(host: &PerfwatchProcess, alert_id: &str) -> Vec<Value> {
    let all = get(host.addr, "/api/v1/deliveries").json();
    all["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["alertId"] == alert_id)
        .cloned()
        .collect()
}

fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn silences_inhibition_and_acknowledgement_decide_what_is_delivered() {
    let (_dir, host) = start();
    let mut stream = Stream::connect(host.addr).await;

    // A silence on one rule: its alert fires and streams, but is not delivered.
    let in_an_hour = json!(perfwatch_tests_now() + 3_600_000);
    let created = post_json(
        host.addr,
        "/api/v1/silences",
        &json!({"matchers": [{"name": "rule", "value": "rule:quiet"}], "endsAt": in_an_hour, "comment": "planned maintenance", "createdBy": "ops"}).to_string(),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let silence_id = created.json()["id"].as_str().unwrap().to_owned();
    let listed = get(host.addr, "/api/v1/silences").json();
    assert_eq!(listed["silences"][0]["active"], true, "{listed}");
    post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "e2e.quiet", "value": 5}]"#,
    );
    let quiet = stream
        .next_for_rule("alert_triggered", "rule:quiet", WAIT)
        .await;
    let quiet_id = quiet["data"]["id"].as_str().unwrap().to_owned();
    let records = eventually("the silenced record", || {
        Some(deliveries_of(&host, &quiet_id)).filter(|r| !r.is_empty())
    });
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(
        records[0]["error"]
            .as_str()
            .unwrap()
            .contains(&format!("silenced by {silence_id} (planned maintenance)"))
    );

    // A critical alert inhibits another rule's warning on the same series.
    post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "e2e.latency", "value": 600}]"#,
    );
    // Both fire in one tick, in either order.
    let (mut critical, mut early) = (Value::Null, Value::Null);
    while critical.is_null() || early.is_null() {
        let message = stream.next_of("alert_triggered", WAIT).await;
        match message["data"]["rule"].as_str() {
            Some("rule:latency") => critical = message,
            Some("rule:latency-early") => early = message,
            _ => {}
        }
    }
    assert_eq!(critical["data"]["severity"], "critical");
    let early_id = early["data"]["id"].as_str().unwrap().to_owned();
    let early_records = eventually("the inhibited record", || {
        Some(deliveries_of(&host, &early_id)).filter(|r| !r.is_empty())
    });
    assert!(
        early_records[0]["error"]
            .as_str()
            .unwrap()
            .contains("inhibited by the critical alert of rule:latency"),
        "{early_records:?}"
    );

    // The critical alert is delivered, then repeats every second until acknowledged.
    let critical_id = critical["data"]["id"].as_str().unwrap().to_owned();
    eventually("two deliveries of the critical alert", || {
        let ok = deliveries_of(&host, &critical_id)
            .iter()
            .filter(|d| d["success"] == true)
            .count();
        (ok >= 2).then_some(())
    });
    let acked = post_json(
        host.addr,
        &format!("/api/v1/alerts/{critical_id}/ack"),
        r#"{"comment": "rolling back", "by": "ana"}"#,
    );
    assert_eq!(acked.status, 200, "{}", acked.body);
    assert_eq!(acked.json()["acknowledged"]["by"], "ana");
    let after_ack = deliveries_of(&host, &critical_id).len();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        deliveries_of(&host, &critical_id).len(),
        after_ack,
        "no repeats once acknowledged"
    );

    let missing = post_json(
        host.addr,
        "/api/v1/alerts/alert-0000000000000000/ack",
        r#"{"comment": "x"}"#,
    );
    assert_eq!(missing.status, 404);
    let no_comment = post_json(
        host.addr,
        &format!("/api/v1/alerts/{critical_id}/ack"),
        r#"{"comment": " "}"#,
    );
    assert_eq!(no_comment.status, 400);

    let deleted = perfwatch_tests::delete(host.addr, &format!("/api/v1/silences/{silence_id}"));
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert!(
        get(host.addr, "/api/v1/silences").json()["silences"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        perfwatch_tests::delete(host.addr, &format!("/api/v1/silences/{silence_id}")).status,
        404
    );

    // The transitions are stored and queryable.
    let history = eventually("the stored history", || {
        let h = get(
            host.addr,
            "/api/v1/alerts/history?start=0&rule=rule:latency",
        )
        .json();
        let events: Vec<String> = h["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["event"].as_str().map(str::to_owned))
            .collect();
        events
            .contains(&"acknowledged".to_owned())
            .then_some(events)
    });
    assert_eq!(history[0], "triggered", "{history:?}");
    assert!(history.contains(&"repeated".to_owned()), "{history:?}");
}

fn perfwatch_tests_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
