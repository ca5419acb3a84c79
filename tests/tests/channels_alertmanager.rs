//! The alertmanager channel plugin against Debian's real Alertmanager: an
//! alert raised in perfwatch shows in Alertmanager's own API with its
//! labels, stays firing there while perfwatch re-sends it, reaches
//! Alertmanager's webhook receiver as a version 4 payload, and resolves in
//! both.

use std::time::{SystemTime, UNIX_EPOCH};

use perfwatch_tests::{
    AlertmanagerProcess, HostDir, HttpPeer, PerfwatchProcess, Route, WAIT, eventually, get,
    post_json, wait_for,
};
use serde_json::Value;

/// The channel's `resend_interval_ms`: short, so that a firing alert
/// outlives the `endsAt` of its first push (four intervals) within the test.
const RESEND_INTERVAL_MS: u64 = 1000;

/// The rule the test raises, and the channel pointing at `url`.
fn config(url: &str) -> String {
    format!(
        r#"
[[alerting.channels]]
type = "alertmanager"
config = {{ url = "{url}", resend_interval_ms = {RESEND_INTERVAL_MS}, timeout_ms = 5000 }}

[[alert_rules]]
id = "queue"
metric = "e2e.queue"
condition = "greater_than"
threshold = 10.0
severity = "critical"
description = "Jobs wait in the queue"
runbook_url = "https://wiki.example.com/queue"
"#
    )
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// RFC 3339 from Alertmanager (`2026-12-03T14:27:21.123Z`, any fraction)
/// as epoch milliseconds.
fn epoch_ms(rfc3339: &str) -> i64 {
    let (date, time) = rfc3339.split_once('T').expect("a date and a time");
    let mut ymd = date.split('-').map(|p| p.parse::<i64>().unwrap());
    let (y, m, d) = (
        ymd.next().unwrap(),
        ymd.next().unwrap(),
        ymd.next().unwrap(),
    );
    let time = time.trim_end_matches('Z');
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut hms = hms.split(':').map(|p| p.parse::<i64>().unwrap());
    let seconds = hms.next().unwrap() * 3600 + hms.next().unwrap() * 60 + hms.next().unwrap();
    let millis: i64 = format!("{fraction:0<3}")[..3].parse().unwrap();
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    (days * 86_400 + seconds) * 1000 + millis
}

/// Alertmanager's alerts of the test's rule (the host's own CPU and memory
/// thresholds may fire on a busy machine too).
fn queue_alerts(alertmanager: &AlertmanagerProcess) -> Vec<Value> {
    alertmanager
        .alerts()
        .into_iter()
        .filter(|a| a["labels"]["alertname"] == "rule:queue")
        .collect()
}

/// The webhook payloads Alertmanager posted about the test's rule, oldest first.
fn webhooks(peer: &HttpPeer) -> Vec<Value> {
    peer.received()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/hook")
        .map(|r| serde_json::from_str::<Value>(&r.body).expect("a JSON webhook body"))
        .filter(|body| body["groupLabels"]["alertname"] == "rule:queue")
        .collect()
}

/// The records of the channel's deliveries.
fn deliveries(host: &PerfwatchProcess) -> Vec<Value> {
    let answer = get(
        host.addr,
        "/api/v1/deliveries?channel=alertmanager&limit=1000",
    )
    .json();
    answer["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of deliveries: {answer}"))
        .clone()
}

#[test]
fn an_alert_fires_stays_firing_and_resolves_in_a_real_alertmanager() {
    let receiver = HttpPeer::start(&[("/hook", Route::json("{}"))]);
    let alertmanager = AlertmanagerProcess::start(&receiver.url("/hook"));
    let dir = HostDir::new()
        .shipped(&["alertmanager"])
        .config(250, &config(&alertmanager.url()));
    let mut host = dir.start();

    let posted = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "e2e.queue", "value": 50, "labels": {"queue": "a"}}]"#,
    );
    assert_eq!(posted.status, 200, "{}", posted.body);
    let pushed = wait_for(
        "the alert in Alertmanager",
        WAIT,
        || {
            format!(
                "perfwatch:\n{}\nalertmanager:\n{}",
                host.log().join("\n"),
                alertmanager.log()
            )
        },
        || queue_alerts(&alertmanager).into_iter().next(),
    );
    let labels = &pushed["labels"];
    assert_eq!(labels["severity"], "critical", "{pushed}");
    assert_eq!(labels["metric"], "e2e.queue", "{pushed}");
    assert_eq!(labels["queue"], "a", "{pushed}");
    assert!(labels["component"].is_string(), "{pushed}");
    let annotations = &pushed["annotations"];
    assert_eq!(
        annotations["description"], "Jobs wait in the queue",
        "{pushed}"
    );
    assert_eq!(
        annotations["runbook_url"], "https://wiki.example.com/queue",
        "{pushed}"
    );
    assert!(
        annotations["summary"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{pushed}"
    );
    assert_eq!(pushed["status"]["state"], "active", "{pushed}");
    let generator = pushed["generatorURL"].as_str().unwrap_or_default();
    assert!(
        generator.starts_with(&format!(
            "http://{}/api/v1/alerts/history?rule=rule%3Aqueue",
            host.addr
        )),
        "{pushed}"
    );
    let starts_at = epoch_ms(pushed["startsAt"].as_str().unwrap());
    let first_ends_at = epoch_ms(pushed["endsAt"].as_str().unwrap());
    assert!(
        first_ends_at > now_ms()
            && first_ends_at <= now_ms() + 4 * RESEND_INTERVAL_MS as i64 + 1000,
        "a firing alert is valid for four re-send intervals: {pushed}"
    );

    // Alertmanager's own notification: its webhook receiver gets version 4.
    let firing = eventually("Alertmanager's firing webhook", || {
        webhooks(&receiver)
            .into_iter()
            .find(|w| w["status"] == "firing")
    });
    assert_eq!(firing["version"], "4", "{firing}");
    assert_eq!(firing["receiver"], "test-webhook", "{firing}");
    assert_eq!(
        firing["commonLabels"]["alertname"], "rule:queue",
        "{firing}"
    );
    let alert = &firing["alerts"][0];
    assert_eq!(alert["status"], "firing", "{firing}");
    assert_eq!(alert["labels"]["alertname"], "rule:queue", "{firing}");
    assert_eq!(alert["labels"]["queue"], "a", "{firing}");
    assert_eq!(
        alert["annotations"]["runbook_url"], "https://wiki.example.com/queue",
        "{firing}"
    );
    assert_eq!(alert["generatorURL"].as_str(), Some(generator), "{firing}");

    // Re-sends keep it firing past the end its first push gave it.
    wait_for("the first push's endsAt to pass", WAIT, String::new, || {
        (now_ms() > first_ends_at + 1000).then_some(())
    });
    let still = queue_alerts(&alertmanager);
    assert_eq!(still.len(), 1, "{still:?}");
    assert_eq!(still[0]["status"]["state"], "active", "{still:?}");
    assert_eq!(
        epoch_ms(still[0]["startsAt"].as_str().unwrap()),
        starts_at,
        "the same alert"
    );
    assert!(
        epoch_ms(still[0]["endsAt"].as_str().unwrap()) > first_ends_at,
        "re-sent with a later endsAt: {still:?}"
    );
    let resends = deliveries(&host)
        .into_iter()
        .filter(|d| d["status"] == "delivered")
        .count();
    assert!(
        resends >= 3,
        "the first push and re-sends are recorded: {resends}"
    );

    // Resolved in perfwatch: resolved in Alertmanager, and told to its receiver.
    post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "e2e.queue", "value": 0, "labels": {"queue": "a"}}]"#,
    );
    eventually("the alert to leave Alertmanager's list", || {
        queue_alerts(&alertmanager).is_empty().then_some(())
    });
    let resolved = eventually("Alertmanager's resolved webhook", || {
        webhooks(&receiver)
            .into_iter()
            .find(|w| w["status"] == "resolved")
    });
    assert_eq!(resolved["version"], "4", "{resolved}");
    let alert = &resolved["alerts"][0];
    assert_eq!(alert["status"], "resolved", "{resolved}");
    assert_eq!(alert["labels"]["alertname"], "rule:queue", "{resolved}");
    let ends_at = epoch_ms(alert["endsAt"].as_str().unwrap());
    assert!(ends_at > starts_at && ends_at <= now_ms(), "{resolved}");

    // Re-sends go on for what still fires, never again for what resolved:
    // once another alert has been re-sent twice, nothing after the
    // resolution carried the first.
    let first = alert_id(&host, "a");
    post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "e2e.queue", "value": 60, "labels": {"queue": "b"}}]"#,
    );
    let second = alert_id(&host, "b");
    let carrying = |records: &[Value], id: &str| -> Vec<Value> {
        records
            .iter()
            .filter(|d| {
                d["alertIds"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|i| i == id))
            })
            .cloned()
            .collect()
    };
    let records = eventually("two re-sends of the second alert", || {
        let records = deliveries(&host);
        (carrying(&records, &second).len() >= 3).then_some(records)
    });
    let of_first = carrying(&records, &first);
    let resolution = of_first
        .iter()
        .filter(|d| d["resolved"] == true)
        .map(|d| d["timestamp"].as_i64().unwrap())
        .min()
        .unwrap_or_else(|| panic!("the resolution was delivered: {of_first:?}"));
    let later: Vec<&Value> = of_first
        .iter()
        .filter(|d| d["timestamp"].as_i64().unwrap() > resolution)
        .collect();
    assert!(later.is_empty(), "re-sent after it resolved: {later:?}");
    assert!(
        queue_alerts(&alertmanager)
            .iter()
            .all(|a| a["labels"]["queue"] == "b"),
        "{:?}",
        queue_alerts(&alertmanager)
    );
}

/// The id of the alert of the test's rule on queue `queue`, once it fired.
fn alert_id(host: &PerfwatchProcess, queue: &str) -> String {
    eventually("the alert's id in the history", || {
        let answer = get(host.addr, "/api/v1/alerts/history?start=0&rule=rule:queue").json();
        answer["events"].as_array()?.iter().find_map(|e| {
            (e["event"] == "triggered" && e["labels"]["queue"] == queue)
                .then(|| e["alertId"].as_str().unwrap().to_owned())
        })
    })
}

#[test]
fn alertmanager_refusing_an_alert_is_a_permanent_failure() {
    let refusing = HttpPeer::start(&[(
        "/api/v2/alerts",
        Route {
            status: 400,
            headers: Vec::new(),
            body: "{\"code\":400,\"message\":\"start time must be before end time\"}".into(),
        },
    )]);
    let dir = HostDir::new()
        .shipped(&["alertmanager"])
        .config(250, &config(&format!("http://{}", refusing.addr)));
    let host = dir.start();
    post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "e2e.queue", "value": 50}]"#,
    );
    let record = eventually("the refused delivery's record", || {
        deliveries(&host)
            .into_iter()
            .find(|d| d["status"] == "gave_up")
    });
    assert_eq!(record["attempt"], 1, "never retried: {record}");
    assert_eq!(record["errorClass"], "permanent", "{record}");
    let error = record["error"].as_str().unwrap();
    assert!(
        error.starts_with("HTTP 400 Bad Request")
            && error.contains("start time must be before end time"),
        "{record}"
    );
}

/// Re-sends come from what the engine has firing, not from what was sent
/// before: an alert firing when perfwatch is killed is re-sent by the next
/// perfwatch, which restores it without notifying it anew, so
/// Alertmanager never sees it end.
#[test]
fn a_restarted_host_keeps_re_sending_what_still_fires() {
    let receiver = HttpPeer::start(&[("/hook", Route::json("{}"))]);
    let alertmanager = AlertmanagerProcess::start(&receiver.url("/hook"));
    let dir = HostDir::new()
        .shipped(&["alertmanager"])
        .config(250, &config(&alertmanager.url()));
    let host = dir.start();
    post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "e2e.queue", "value": 50, "labels": {"queue": "a"}}]"#,
    );
    let pushed = eventually("the alert in Alertmanager", || {
        queue_alerts(&alertmanager).into_iter().next()
    });
    let starts_at = pushed["startsAt"].as_str().unwrap().to_owned();
    host.kill();
    let last_ends_at = epoch_ms(queue_alerts(&alertmanager)[0]["endsAt"].as_str().unwrap());

    let mut restarted = dir.start();
    wait_for(
        "the last push's endsAt to pass",
        WAIT,
        || restarted.log().join("\n"),
        || (now_ms() > last_ends_at + 1000).then_some(()),
    );
    let still = queue_alerts(&alertmanager);
    assert_eq!(still.len(), 1, "{still:?}");
    assert_eq!(still[0]["status"]["state"], "active", "{still:?}");
    assert_eq!(
        still[0]["startsAt"],
        starts_at.as_str(),
        "the same alert: {still:?}"
    );
    let raised_again: Vec<String> = restarted
        .log()
        .into_iter()
        .filter(|l| l.contains("perfwatch::runtime::tick: alert: ") && l.contains(r#"queue="a""#))
        .collect();
    assert!(
        raised_again.is_empty(),
        "restored, not raised again: {raised_again:?}"
    );
}
