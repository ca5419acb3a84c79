//! Alert delivery policy end to end: silences, inhibition,
//! acknowledgement and grouping, through the API, with the console channel
//! delivering and `/api/v1/deliveries` telling what became of each
//! notification.

use perfwatch_tests::{HostDir, PerfwatchProcess, Stream, WAIT, eventually, get, post_json};
use serde_json::{Value, json};

/// The `latency` rule's `repeat_interval`.
const REPEAT_INTERVAL_MS: i64 = 1000;

/// One silenced rule, and two on one series: a critical level that
/// repeats, and an earlier warning that the critical inhibits.
fn alert_rules() -> String {
    format!(
        r#"
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
repeat_interval = {REPEAT_INTERVAL_MS}

[[alert_rules]]
id = "latency-early"
metric = "e2e.latency"
condition = "greater_than"
threshold = 50.0
severity = "warning"
"#
    )
}

/// The delivery records of notifications that carried `alert_id`, newest first.
fn deliveries_of(host: &PerfwatchProcess, alert_id: &str) -> Vec<Value> {
    let all = get(host.addr, "/api/v1/deliveries?limit=1000").json();
    all["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of deliveries: {all}"))
        .iter()
        .filter(|d| {
            d["alertIds"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|id| id == alert_id))
        })
        .cloned()
        .collect()
}

/// The stored transitions of `alert_id`, oldest first.
fn history_of(host: &PerfwatchProcess, rule: &str, alert_id: &str) -> Vec<Value> {
    let answer = get(
        host.addr,
        &format!("/api/v1/alerts/history?start=0&rule={rule}"),
    )
    .json();
    answer["events"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of events: {answer}"))
        .iter()
        .filter(|e| e["alertId"] == alert_id)
        .cloned()
        .collect()
}

fn events(history: &[Value]) -> Vec<&str> {
    history
        .iter()
        .map(|e| e["event"].as_str().expect("an event name"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn silences_inhibition_and_acknowledgement_decide_what_is_delivered() {
    let dir = HostDir::new()
        .shipped(&["console"])
        .config(250, &alert_rules());
    let host = dir.start();
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
    assert_eq!(records[0]["status"], "skipped", "{records:?}");
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
            .filter(|d| d["status"] == "delivered")
            .count();
        (ok >= 2).then_some(())
    });
    let acked = post_json(
        host.addr,
        &format!("/api/v1/alerts/{critical_id}/ack"),
        r#"{"comment": "rolling back", "by": "ana"}"#,
    );
    assert_eq!(acked.status, 200, "{}", acked.body);
    let acked = acked.json();
    assert_eq!(acked["acknowledged"]["by"], "ana");
    let acked_at = acked["acknowledged"]["at"]
        .as_i64()
        .unwrap_or_else(|| panic!("the acknowledgement's time: {acked}"));

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

    // No repeats once acknowledged. The last notification came before the
    // ack, so a repeat would be due at the latest one interval after it;
    // two intervals of ticks give the host two chances to repeat.
    stream
        .until_tick(acked_at + 2 * REPEAT_INTERVAL_MS, WAIT)
        .await;
    // Then the alert resolves, and the console is told after every earlier
    // notification of it (one queue per channel): once the resolution is
    // recorded, so is any repeat those ticks sent.
    let calm = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "e2e.latency", "value": 0}]"#,
    );
    assert_eq!(calm.status, 200, "{}", calm.body);
    eventually("the delivered resolution of the critical alert", || {
        deliveries_of(&host, &critical_id)
            .iter()
            .any(|d| d["resolved"] == true && d["status"] == "delivered")
            .then_some(())
    });
    let history = eventually("the stored resolution", || {
        let history = history_of(&host, "rule:latency", &critical_id);
        events(&history).contains(&"resolved").then_some(history)
    });
    let kinds = events(&history);
    assert_eq!(kinds[0], "triggered", "{history:?}");
    assert!(kinds.contains(&"repeated"), "{history:?}");
    assert!(kinds.contains(&"acknowledged"), "{history:?}");
    let repeated_after_ack: Vec<&Value> = history
        .iter()
        .filter(|e| {
            e["event"] == "repeated" && e["timestamp"].as_i64().expect("an event time") > acked_at
        })
        .collect();
    assert!(
        repeated_after_ack.is_empty(),
        "no repeats once acknowledged at {acked_at}: {repeated_after_ack:?}"
    );
    let notified = kinds
        .iter()
        .filter(|k| matches!(**k, "triggered" | "repeated"))
        .count();
    let delivered = deliveries_of(&host, &critical_id)
        .iter()
        .filter(|d| d["resolved"] == false && d["status"] == "delivered")
        .count();
    assert_eq!(
        delivered, notified,
        "one delivery per notification, none after the ack: {history:?}"
    );

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
}

/// Two series of one rule fire in one tick; with `group_by = ["rule"]`
/// the console gets them as one notification, recorded once with both
/// alerts, and prints a line for each.
#[tokio::test(flavor = "multi_thread")]
async fn a_group_of_alerts_is_one_delivery_to_a_channel() {
    let dir = HostDir::new().shipped(&["console"]).config(
        250,
        r#"
[alerting]
group_by = ["rule"]
group_wait = 500
group_interval = 60000

[[alert_rules]]
id = "queue"
metric = "e2e.queue"
condition = "greater_than"
threshold = 10.0
runbook_url = "https://wiki.example.com/queue"
"#,
    );
    let mut host = dir.start();
    let mut stream = Stream::connect(host.addr).await;
    let posted = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "e2e.queue", "value": 50, "labels": {"queue": "a"}},
            {"metric": "e2e.queue", "value": 70, "labels": {"queue": "b"}}]"#,
    );
    assert_eq!(posted.status, 200, "{}", posted.body);
    let mut fired = Vec::new();
    for _ in 0..2 {
        let message = stream
            .next_for_rule("alert_triggered", "rule:queue", WAIT)
            .await;
        assert_eq!(
            message["data"]["runbookUrl"], "https://wiki.example.com/queue",
            "{message}"
        );
        fired.push(message["data"]["id"].as_str().unwrap().to_owned());
    }
    fired.sort();

    // The host's own thresholds (CPU, memory) may fire on a busy machine
    // and are delivered to the console too; only this rule's group counts.
    let group = r#"{rule="rule:queue"}"#;
    let of_group = |answer: Value| -> Vec<Value> {
        answer["deliveries"]
            .as_array()
            .unwrap_or_else(|| panic!("a list of deliveries: {answer}"))
            .iter()
            .filter(|d| d["groupKey"] == group)
            .cloned()
            .collect()
    };
    let console = "/api/v1/deliveries?channel=console";
    let record = eventually("the group's delivery record", || {
        let answer = get(host.addr, &format!("{console}&status=delivered")).json();
        of_group(answer).into_iter().next()
    });
    let mut carried: Vec<String> = record["alertIds"]
        .as_array()
        .unwrap_or_else(|| panic!("alert ids: {record}"))
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    carried.sort();
    assert_eq!(carried, fired, "{record}");
    assert_eq!(record["attempt"], 1, "{record}");
    assert!(record["latencyMs"].is_u64(), "{record}");
    let all = of_group(get(host.addr, console).json());
    assert_eq!(all.len(), 1, "one notification for the group: {all:?}");
    eventually("a console line per alert", || {
        let log = host.log().join("\n");
        let printed = |queue: &str| log.contains(&format!(r#"labels={{queue="{queue}"}}"#));
        (printed("a") && printed("b")).then_some(())
    });
}

fn perfwatch_tests_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
