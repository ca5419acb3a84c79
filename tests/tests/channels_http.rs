//! The HTTP alert channels end to end: the shipped webhook, slack and
//! discord plugins deliver real alerts to a real loopback receiver, which
//! checks what arrives (the Alertmanager v4 body field by field, snapshots
//! of every payload, the HMAC signature), answers 429, 400 and 503 to see
//! them retried as they should be, and no secret of theirs reaches the API
//! or the log (issue 15).

use hmac::{Hmac, KeyInit, Mac};
use perfwatch_tests::{
    HostDir, HttpPeer, PerfwatchProcess, Received, Route, eventually, get, post_json,
};
use serde_json::{Value, json};
use sha2::Sha256;

/// Ticks of the hosts here: short, so alerts fire and resolve quickly.
const TICK_MS: u64 = 250;
/// Stands for a webhook URL's token; it must appear nowhere the host shows.
const PATH_SECRET: &str = "PATHTOKEN7f3a";
/// Stands for an `Authorization` header's token.
const HEADER_SECRET: &str = "HEADERTOKEN9b2c";
/// The key webhook bodies are signed with.
const SIGNING_SECRET: &str = "SIGNINGKEY5d1e";
/// The group every notification here belongs to (`group_by = ["rule"]`).
const GROUP: &str = r#"{rule="rule:latency"}"#;
/// What Alertmanager writes for the end of an alert still firing.
const NOT_ENDED: &str = "0001-01-01T00:00:00Z";

/// A host with one `plugin` channel, whose entry goes on with `channel`
/// (`name`, then its `config` and `secrets` tables, see [`config`]), a
/// rule on `e2e.latency` above 100, and `group_wait_ms` to gather alerts
/// of one rule into one notification (a non-zero `group_interval` keeps
/// grouping on, so every notification is of [`GROUP`]). The channel takes
/// only that rule's alerts, not the host's own thresholds that a busy
/// machine may cross.
fn start(plugin: &str, group_wait_ms: u64, channel: &str) -> (HostDir, PerfwatchProcess) {
    let dir = HostDir::new().shipped(&[plugin]).config(
        TICK_MS,
        &format!(
            r#"
external_url = "http://perfwatch.test"

[alerting]
group_by = ["rule"]
group_wait = {group_wait_ms}
group_interval = 100

[[alerting.channels]]
type = "{plugin}"
filters = {{ metrics = ["e2e.latency"] }}
{channel}

[[alert_rules]]
id = "latency"
metric = "e2e.latency"
condition = "greater_than"
threshold = 100.0
severity = "critical"
description = "Agent latency is above 100 ms"
runbook_url = "https://wiki.example.com/latency?team=ops&lang=en"
"#
        ),
    );
    let host = dir.start();
    (dir, host)
}

/// A channel's `config` table holding `lines`.
fn config(lines: &str) -> String {
    format!("[alerting.channels.config]\n{lines}\n")
}

/// Posts `value` for one series of `e2e.latency` per agent.
fn post_latency(host: &PerfwatchProcess, value: f64, agents: &[&str]) {
    let samples: Vec<Value> = agents
        .iter()
        .map(|agent| json!({"metric": "e2e.latency", "value": value, "labels": {"agent": agent}}))
        .collect();
    let answer = post_json(
        host.addr,
        "/api/v1/metrics",
        &Value::from(samples).to_string(),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// `count` agent names.
fn agents(count: usize) -> Vec<String> {
    (1..=count).map(|n| format!("coder-{n:02}")).collect()
}

/// The first `count` requests `peer` received, once it has.
fn requests(peer: &HttpPeer, count: usize) -> Vec<Received> {
    eventually(&format!("{count} requests at the receiver"), || {
        let received = peer.received();
        (received.len() >= count).then(|| received[..count].to_vec())
    })
}

/// The delivery records of the rule's group, oldest first.
fn deliveries(host: &PerfwatchProcess) -> Vec<Value> {
    let answer = get(host.addr, "/api/v1/deliveries?limit=1000").json();
    let mut records: Vec<Value> = answer["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of deliveries: {answer}"))
        .iter()
        .filter(|d| d["groupKey"] == GROUP)
        .cloned()
        .collect();
    records.sort_by_key(|d| (d["timestamp"].as_i64(), d["attempt"].as_u64()));
    records
}

/// The records, once `done` says they are complete.
fn deliveries_until(
    host: &PerfwatchProcess,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    eventually(what, || Some(deliveries(host)).filter(|r| done(r)))
}

/// `(attempt, status, errorClass)` of each record.
fn outcomes(records: &[Value]) -> Vec<(u64, String, String)> {
    records
        .iter()
        .map(|r| {
            (
                r["attempt"].as_u64().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default().to_owned(),
                r["errorClass"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn outcome(attempt: u64, status: &str, class: &str) -> (u64, String, String) {
    (attempt, status.to_owned(), class.to_owned())
}

/// Seconds between two requests' arrivals.
fn gap(earlier: &Received, later: &Received) -> f64 {
    later.at.duration_since(earlier.at).as_secs_f64()
}

/// None of `secrets` in the config, deliveries and channels the API
/// shows, nor in the host's log.
fn assert_no_secrets(host: &mut PerfwatchProcess, secrets: &[&str]) {
    let config = get(host.addr, "/api/v1/config");
    assert_eq!(config.status, 200, "{}", config.body);
    let deliveries = get(host.addr, "/api/v1/deliveries?limit=1000");
    assert_eq!(deliveries.status, 200, "{}", deliveries.body);
    let channels = get(host.addr, "/api/v1/channels");
    assert_eq!(channels.status, 200, "{}", channels.body);
    let log = host.log().join("\n");
    for (place, text) in [
        ("/api/v1/config", &config.body),
        ("/api/v1/deliveries", &deliveries.body),
        ("/api/v1/channels", &channels.body),
        ("the log", &log),
    ] {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} reached {place}:\n{text}");
        }
    }
}

/// `value` with what changes from run to run (times, alert ids) replaced
/// by placeholders, for snapshots.
fn redacted(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = match key.as_str() {
                        "timestamp" | "resolvedAt" if value.is_number() => json!("[epoch ms]"),
                        "id" => json!("[alert id]"),
                        _ => redacted(value),
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()),
        Value::String(text) => Value::String(redact_text(text)),
        other => other.clone(),
    }
}

/// RFC 3339 times (except Alertmanager's zero time) and `start=<ms>` in
/// links.
fn redact_text(text: &str) -> String {
    let times = regex::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z").unwrap();
    let text = times.replace_all(text, |found: &regex::Captures| {
        if &found[0] == NOT_ENDED {
            NOT_ENDED.to_owned()
        } else {
            "[time]".to_owned()
        }
    });
    let starts = regex::Regex::new(r"start=\d+").unwrap();
    starts.replace_all(&text, "start=[epoch ms]").into_owned()
}

fn webhook_url(peer: &HttpPeer) -> String {
    peer.url(&format!("/hooks/{PATH_SECRET}"))
}

#[test]
fn webhook_sends_alertmanager_v4_then_the_resolution_once() {
    let peer = HttpPeer::scripted(&[(&format!("/hooks/{PATH_SECRET}"), vec![Route::status(200)])]);
    let (_dir, mut host) = start(
        "webhook",
        0,
        &format!(
            r#"name = "ops-hook"
{}
[alerting.channels.secrets]
headers = {{ Authorization = "Bearer {HEADER_SECRET}" }}"#,
            config(&format!(r#"url = "{}""#, webhook_url(&peer)))
        ),
    );
    post_latency(&host, 500.0, &["coder-1"]);
    let firing = requests(&peer, 1).remove(0);
    assert_eq!(firing.method, "POST");
    assert_eq!(firing.header("content-type"), Some("application/json"));
    assert_eq!(
        firing.header("authorization"),
        Some(format!("Bearer {HEADER_SECRET}").as_str())
    );
    assert_eq!(firing.header("x-perfwatch-signature"), None);

    let body = firing.json();
    assert_eq!(body["version"], "4", "{body}");
    assert_eq!(body["groupKey"], GROUP);
    assert_eq!(body["truncatedAlerts"], 0);
    assert_eq!(body["status"], "firing");
    assert_eq!(body["receiver"], "ops-hook", "the channel's name");
    assert_eq!(body["groupLabels"], json!({"rule": "rule:latency"}));
    let common = &body["commonLabels"];
    for (name, value) in [
        ("alertname", "rule:latency"),
        ("rule", "rule:latency"),
        ("severity", "critical"),
        ("metric", "e2e.latency"),
        ("agent", "coder-1"),
    ] {
        assert_eq!(common[name], value, "commonLabels.{name}: {body}");
    }
    assert_eq!(
        body["commonAnnotations"]["description"],
        "Agent latency is above 100 ms"
    );
    assert_eq!(body["externalURL"], "http://perfwatch.test");
    let alerts = body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{body}");
    let alert = &alerts[0];
    assert_eq!(alert["status"], "firing");
    assert_eq!(
        alert["labels"], *common,
        "one alert: its labels are the common ones"
    );
    assert_eq!(
        alert["annotations"]["runbook_url"],
        "https://wiki.example.com/latency?team=ops&lang=en"
    );
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("500"),
        "{alert}"
    );
    let starts_at = alert["startsAt"].as_str().unwrap();
    assert!(redact_text(starts_at) == "[time]", "RFC 3339: {starts_at}");
    assert_eq!(alert["endsAt"], NOT_ENDED);
    let generator = alert["generatorURL"].as_str().unwrap();
    assert!(
        generator
            .starts_with("http://perfwatch.test/api/v1/alerts/history?rule=rule%3Alatency&start="),
        "{generator}"
    );
    let fingerprint = alert["fingerprint"].as_str().unwrap();
    assert!(
        fingerprint.len() == 16 && fingerprint.chars().all(|c| c.is_ascii_hexdigit()),
        "{fingerprint}"
    );
    insta::assert_json_snapshot!("webhook_alertmanager_firing", redacted(&body));

    post_latency(&host, 0.0, &["coder-1"]);
    let resolved = requests(&peer, 2).remove(1).json();
    assert_eq!(resolved["status"], "resolved", "{resolved}");
    let alert = &resolved["alerts"][0];
    assert_eq!(alert["status"], "resolved");
    assert_eq!(alert["fingerprint"], fingerprint, "the same (rule, series)");
    assert_eq!(alert["startsAt"], starts_at);
    let ends_at = alert["endsAt"].as_str().unwrap();
    assert!(ends_at != NOT_ENDED && ends_at >= starts_at, "{ends_at}");
    insta::assert_json_snapshot!("webhook_alertmanager_resolved", redacted(&resolved));

    let records = deliveries_until(&host, "the delivered resolution", |r| {
        r.iter().any(|d| d["resolved"] == true)
    });
    assert_eq!(
        outcomes(&records),
        [outcome(1, "delivered", ""), outcome(1, "delivered", "")],
        "{records:?}"
    );
    assert_eq!(records[1]["resolved"], true);
    assert!(
        records.iter().all(|r| r["channel"] == "ops-hook"),
        "{records:?}"
    );
    assert_eq!(
        peer.received().len(),
        2,
        "one request for the firing, one for the resolution"
    );
    assert_no_secrets(&mut host, &[PATH_SECRET, HEADER_SECRET]);
}

#[test]
fn a_signed_webhook_body_verifies_and_max_alerts_truncates() {
    let peer = HttpPeer::scripted(&[(&format!("/hooks/{PATH_SECRET}"), vec![Route::status(202)])]);
    // The signing key in `secrets`, merged into the plugin's config.
    let (_dir, mut host) = start(
        "webhook",
        1000,
        &format!(
            r#"{}
[alerting.channels.secrets]
signing_secret = "{SIGNING_SECRET}""#,
            config(&format!(
                "url = \"{}\"\nmax_alerts = 2\ntimeout_ms = 5000",
                webhook_url(&peer)
            ))
        ),
    );
    post_latency(&host, 500.0, &["coder-1", "coder-2", "coder-3"]);
    let request = requests(&peer, 1).remove(0);
    let signature = request
        .header("x-perfwatch-signature")
        .unwrap_or_else(|| panic!("a signature header: {:?}", request.headers));
    let mut mac = Hmac::<Sha256>::new_from_slice(SIGNING_SECRET.as_bytes()).unwrap();
    mac.update(&request.bytes);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(signature, format!("sha256={expected}"));

    let body = request.json();
    assert_eq!(body["truncatedAlerts"], 1, "{body}");
    assert_eq!(body["alerts"].as_array().unwrap().len(), 2, "{body}");
    deliveries_until(&host, "the delivery record", |r| {
        r.iter().any(|d| d["status"] == "delivered")
    });
    assert_no_secrets(&mut host, &[PATH_SECRET, SIGNING_SECRET]);
}

#[test]
fn the_perfwatch_format_carries_performance_alerts() {
    let peer = HttpPeer::scripted(&[(&format!("/hooks/{PATH_SECRET}"), vec![Route::status(200)])]);
    let (_dir, host) = start(
        "webhook",
        0,
        &config(&format!(
            "url = \"{}\"\nformat = \"perfwatch\"\nmethod = \"PUT\"",
            webhook_url(&peer)
        )),
    );
    post_latency(&host, 500.0, &["coder-1"]);
    let firing = requests(&peer, 1).remove(0);
    assert_eq!(firing.method, "PUT");
    let body = firing.json();
    let alert = &body["alerts"][0];
    assert_eq!(alert["severity"], "critical", "{body}");
    assert_eq!(alert["metric"], "e2e.latency");
    assert_eq!(alert["value"], 500.0);
    assert_eq!(alert["threshold"], 100.0);
    assert_eq!(alert["component"], "e2e");
    assert_eq!(alert["resolved"], false);
    assert!(alert["timestamp"].is_i64() && alert.get("resolvedAt").is_none());
    insta::assert_json_snapshot!("webhook_perfwatch_firing", redacted(&body));

    post_latency(&host, 0.0, &["coder-1"]);
    let resolved = requests(&peer, 2).remove(1).json();
    let alert = &resolved["alerts"][0];
    assert_eq!(alert["resolved"], true, "{resolved}");
    assert!(alert["resolvedAt"].as_i64() >= alert["timestamp"].as_i64());
    insta::assert_json_snapshot!("webhook_perfwatch_resolved", redacted(&resolved));
}

#[test]
fn a_429_is_retried_after_the_time_retry_after_asks() {
    let peer = HttpPeer::scripted(&[(
        &format!("/hooks/{PATH_SECRET}"),
        vec![
            Route::status(429)
                .header("Retry-After", "3")
                .body("slow down"),
            Route::status(200),
        ],
    )]);
    let (_dir, host) = start(
        "webhook",
        0,
        &config(&format!(r#"url = "{}""#, webhook_url(&peer))),
    );
    post_latency(&host, 500.0, &["coder-1"]);
    let tries = requests(&peer, 2);
    let waited = gap(&tries[0], &tries[1]);
    // Backoff alone would have waited at most a second.
    assert!(
        (2.9..8.0).contains(&waited),
        "the retry came {waited:.2} s later"
    );
    assert_eq!(tries[0].bytes, tries[1].bytes, "the same notification");
    let records = deliveries_until(&host, "the delivered retry", |r| {
        r.iter().any(|d| d["status"] == "delivered")
    });
    assert_eq!(
        outcomes(&records),
        [
            outcome(1, "failed", "retry_after"),
            outcome(2, "delivered", "")
        ],
        "{records:?}"
    );
    assert_eq!(records[0]["error"], "HTTP 429 Too Many Requests: slow down");
}

#[test]
fn a_400_is_given_up_at_once() {
    let peer = HttpPeer::scripted(&[(
        &format!("/hooks/{PATH_SECRET}"),
        vec![Route::status(400).body("unknown field")],
    )]);
    let (_dir, host) = start(
        "webhook",
        0,
        &config(&format!(r#"url = "{}""#, webhook_url(&peer))),
    );
    post_latency(&host, 500.0, &["coder-1"]);
    deliveries_until(&host, "the given-up firing", |r| !r.is_empty());
    // The resolution queues behind the firing on the channel's one queue,
    // so once it has arrived, any retry of the firing would have too.
    post_latency(&host, 0.0, &["coder-1"]);
    let records = deliveries_until(&host, "the given-up resolution", |r| r.len() >= 2);
    assert_eq!(
        outcomes(&records),
        [
            outcome(1, "gave_up", "permanent"),
            outcome(1, "gave_up", "permanent")
        ],
        "{records:?}"
    );
    assert_eq!(records[0]["error"], "HTTP 400 Bad Request: unknown field");
    let statuses: Vec<Value> = peer
        .received()
        .iter()
        .map(|r| r.json()["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [json!("firing"), json!("resolved")],
        "one request each"
    );
}

#[test]
fn a_503_is_retried_with_backoff() {
    let peer = HttpPeer::scripted(&[(
        &format!("/hooks/{PATH_SECRET}"),
        vec![Route::status(503), Route::status(503), Route::status(200)],
    )]);
    let (_dir, host) = start(
        "webhook",
        0,
        &config(&format!(r#"url = "{}""#, webhook_url(&peer))),
    );
    post_latency(&host, 500.0, &["coder-1"]);
    let tries = requests(&peer, 3);
    // Equal jitter: the n-th wait is between half and all of 2^(n-1) s.
    let (first, second) = (gap(&tries[0], &tries[1]), gap(&tries[1], &tries[2]));
    assert!(
        (0.45..2.5).contains(&first),
        "first retry after {first:.2} s"
    );
    assert!(
        (0.95..3.5).contains(&second),
        "second retry after {second:.2} s"
    );
    let records = deliveries_until(&host, "the third attempt", |r| {
        r.iter().any(|d| d["status"] == "delivered")
    });
    assert_eq!(
        outcomes(&records),
        [
            outcome(1, "failed", "transient"),
            outcome(2, "failed", "transient"),
            outcome(3, "delivered", "")
        ],
        "{records:?}"
    );
}

fn slack_path() -> String {
    format!("/services/T000/B000/{PATH_SECRET}")
}

#[test]
fn slack_gets_a_block_kit_message_per_notification() {
    let peer = HttpPeer::scripted(&[(&slack_path(), vec![Route::text("ok")])]);
    let (_dir, mut host) = start(
        "slack",
        0,
        &config(&format!(r#"webhook_url = "{}""#, peer.url(&slack_path()))),
    );
    post_latency(&host, 500.0, &["coder-<1>&co"]);
    let firing = requests(&peer, 1).remove(0).json();
    assert_eq!(firing["text"], "[FIRING:1] rule:latency (e2e)", "{firing}");
    let attachment = &firing["attachments"][0];
    assert_eq!(attachment["color"], "#E01E5A");
    let blocks = attachment["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let section = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(
        section.contains("agent=coder-&lt;1&gt;&amp;co"),
        "escaped: {section}"
    );
    assert!(
        blocks[1]["accessory"]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://perfwatch.test/api/v1/alerts/history?rule=rule%3Alatency"),
        "{firing}"
    );
    insta::assert_json_snapshot!("slack_firing", redacted(&firing));

    post_latency(&host, 0.0, &["coder-<1>&co"]);
    let resolved = requests(&peer, 2).remove(1).json();
    assert_eq!(resolved["text"], "[RESOLVED] rule:latency (e2e)");
    assert_eq!(resolved["attachments"][0]["color"], "#2EB67D");
    insta::assert_json_snapshot!("slack_resolved", redacted(&resolved));
    deliveries_until(&host, "both deliveries", |r| {
        r.iter().filter(|d| d["status"] == "delivered").count() == 2
    });
    assert_no_secrets(&mut host, &[PATH_SECRET]);
}

#[test]
fn slack_cuts_a_large_group_at_fifty_blocks_and_waits_out_a_429() {
    let peer = HttpPeer::scripted(&[(
        &slack_path(),
        vec![
            Route::status(429)
                .header("Retry-After", "2")
                .body("rate_limited"),
            Route::text("ok"),
        ],
    )]);
    let (_dir, host) = start(
        "slack",
        1000,
        &config(&format!(r#"webhook_url = "{}""#, peer.url(&slack_path()))),
    );
    let names = agents(60);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    post_latency(&host, 500.0, &names);
    let tries = requests(&peer, 2);
    let waited = gap(&tries[0], &tries[1]);
    assert!(
        (1.9..7.0).contains(&waited),
        "the retry came {waited:.2} s later"
    );
    let message = tries[1].json();
    assert_eq!(
        message["text"], "[FIRING:60] rule:latency (e2e)",
        "one notification for the group"
    );
    let blocks = message["attachments"][0]["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 50, "{message}");
    assert_eq!(blocks.iter().filter(|b| b["type"] == "section").count(), 48);
    assert_eq!(
        blocks[49]["elements"][0]["text"],
        "…and 12 more alerts not shown"
    );
    for block in blocks {
        let text = block["text"]["text"].as_str().unwrap_or_default();
        assert!(text.chars().count() <= 3000);
    }
}

fn discord_path() -> String {
    format!("/api/webhooks/123/{PATH_SECRET}")
}

#[test]
fn discord_gets_embeds_with_mentions_disabled() {
    let peer = HttpPeer::scripted(&[(&discord_path(), vec![Route::status(204)])]);
    let (_dir, mut host) = start(
        "discord",
        0,
        &config(&format!(r#"webhook_url = "{}""#, peer.url(&discord_path()))),
    );
    post_latency(&host, 500.0, &["@everyone"]);
    let firing = requests(&peer, 1).remove(0).json();
    assert_eq!(firing["allowed_mentions"], json!({"parse": []}), "{firing}");
    assert_eq!(firing["content"], "[FIRING:1] rule:latency (e2e)");
    let embed = &firing["embeds"][0];
    assert_eq!(embed["title"], "CRITICAL · firing: rule:latency");
    assert_eq!(embed["color"], 0xE0_1E_5A);
    insta::assert_json_snapshot!("discord_firing", redacted(&firing));

    post_latency(&host, 0.0, &["@everyone"]);
    let resolved = requests(&peer, 2).remove(1).json();
    assert_eq!(resolved["embeds"][0]["color"], 0x2E_B6_7D, "{resolved}");
    assert_eq!(resolved["allowed_mentions"], json!({"parse": []}));
    insta::assert_json_snapshot!("discord_resolved", redacted(&resolved));
    deliveries_until(&host, "both deliveries", |r| {
        r.iter().filter(|d| d["status"] == "delivered").count() == 2
    });
    assert_no_secrets(&mut host, &[PATH_SECRET]);
}

#[test]
fn discord_keeps_to_its_limits_and_waits_as_its_429_body_says() {
    let rate_limited = Route {
        status: 429,
        ..Route::json(
            r#"{"message": "You are being rate limited.", "retry_after": 2.5, "global": false}"#,
        )
    };
    let peer = HttpPeer::scripted(&[(
        &discord_path(),
        vec![rate_limited.header("Retry-After", "1"), Route::status(204)],
    )]);
    let (_dir, host) = start(
        "discord",
        1000,
        &config(&format!(r#"webhook_url = "{}""#, peer.url(&discord_path()))),
    );
    // Labels of 900 characters make each embed over 900 long: the 6,000
    // characters across embeds run out before the 10 embeds do.
    let long = "x".repeat(900);
    let names: Vec<String> = agents(15).iter().map(|a| format!("{a}-{long}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    post_latency(&host, 500.0, &names);
    let tries = requests(&peer, 2);
    let waited = gap(&tries[0], &tries[1]);
    // The header said 1 s; the body's 2.5 s wins.
    assert!(
        (2.4..7.0).contains(&waited),
        "the retry came {waited:.2} s later"
    );

    let message = tries[1].json();
    let embeds = message["embeds"].as_array().unwrap();
    assert!(
        (1..10).contains(&embeds.len()),
        "cut by characters before the embed limit: {} embeds",
        embeds.len()
    );
    let count = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let total: usize = embeds
        .iter()
        .map(|e| {
            count(&e["title"])
                + count(&e["description"])
                + e["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| count(&f["name"]) + count(&f["value"]))
                    .sum::<usize>()
        })
        .sum();
    assert!(total <= 6000, "{total} characters across embeds");
    assert_eq!(
        message["content"],
        format!(
            "[FIRING:15] rule:latency (e2e)\n…and {} more alerts not shown",
            15 - embeds.len()
        )
    );
    let records = deliveries_until(&host, "the delivered retry", |r| {
        r.iter().any(|d| d["status"] == "delivered")
    });
    assert_eq!(
        outcomes(&records),
        [
            outcome(1, "failed", "retry_after"),
            outcome(2, "delivered", "")
        ],
        "{records:?}"
    );
}

#[test]
fn each_http_channel_takes_a_test_notification() {
    let peer = HttpPeer::scripted(&[
        (&format!("/hooks/{PATH_SECRET}"), vec![Route::status(200)]),
        (&slack_path(), vec![Route::text("ok")]),
        (&discord_path(), vec![Route::status(204)]),
        (
            &format!("/refused/{PATH_SECRET}"),
            vec![Route::status(400).body("no such hook")],
        ),
    ]);
    let dir = HostDir::new()
        .shipped(&["webhook", "slack", "discord"])
        .config(
            TICK_MS,
            &format!(
                r#"
[[alerting.channels]]
type = "webhook"
secrets = {{ url = "{}" }}

[[alerting.channels]]
type = "slack"
secrets = {{ webhook_url = "{}" }}

[[alerting.channels]]
type = "discord"
secrets = {{ webhook_url = "{}" }}

[[alerting.channels]]
type = "webhook"
name = "refused"
secrets = {{ url = "{}" }}
"#,
                webhook_url(&peer),
                peer.url(&slack_path()),
                peer.url(&discord_path()),
                peer.url(&format!("/refused/{PATH_SECRET}")),
            ),
        );
    let mut host = dir.start();
    for (channel, path) in [
        ("webhook", format!("/hooks/{PATH_SECRET}")),
        ("slack", slack_path()),
        ("discord", discord_path()),
    ] {
        let answer = post_json(host.addr, &format!("/api/v1/channels/{channel}/test"), "");
        assert_eq!(answer.status, 200, "{channel}: {}", answer.body);
        assert_eq!(answer.json()["delivered"], true, "{channel}");
        let received = peer.received();
        let last = received.last().expect("a request");
        assert_eq!(last.path, path, "{channel} posts to its own URL");
        let body = last.json();
        let shape = match channel {
            "webhook" => body["version"] == "4" && body["receiver"] == "webhook",
            "slack" => body["attachments"][0]["blocks"].is_array(),
            _ => body["embeds"].is_array() && body["allowed_mentions"] == json!({"parse": []}),
        };
        assert!(shape, "{channel}: {body}");
    }

    let refused = post_json(host.addr, "/api/v1/channels/refused/test", "");
    assert_eq!(refused.status, 502, "{}", refused.body);
    let error = refused.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("permanent") && error.contains("HTTP 400 Bad Request: no such hook"),
        "{error}"
    );
    assert_no_secrets(&mut host, &[PATH_SECRET]);
}

#[test]
fn a_rendered_test_shows_each_payload_and_sends_nothing() {
    let peer = HttpPeer::scripted(&[
        (&format!("/hooks/{PATH_SECRET}"), vec![Route::status(200)]),
        (&slack_path(), vec![Route::text("ok")]),
    ]);
    let dir = HostDir::new().shipped(&["webhook", "slack"]).config(
        TICK_MS,
        &format!(
            r#"
[[alerting.channels]]
type = "webhook"
config = {{ format = "perfwatch" }}
secrets = {{ url = "{}", signing_secret = "{SIGNING_SECRET}", headers = {{ Authorization = "Bearer {HEADER_SECRET}" }} }}

[[alerting.channels]]
type = "slack"
secrets = {{ webhook_url = "{}" }}
"#,
            webhook_url(&peer),
            peer.url(&slack_path()),
        ),
    );
    let mut host = dir.start();
    let rendered = |channel: &str| {
        let answer = post_json(
            host.addr,
            &format!("/api/v1/channels/{channel}/test"),
            r#"{"render": true}"#,
        );
        assert_eq!(answer.status, 200, "{channel}: {}", answer.body);
        let answer = answer.json();
        let requests = answer["rendered"].as_array().cloned().unwrap_or_default();
        assert_eq!(requests.len(), 1, "one request: {answer}");
        requests[0].clone()
    };

    let hook = rendered("webhook");
    assert_eq!(hook["method"], "POST");
    let body: Value = serde_json::from_str(hook["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["receiver"], "webhook", "{body}");
    assert!(
        body["alerts"][0]["timestamp"].is_i64(),
        "the perfwatch format: {body}"
    );
    let headers = hook["headers"].to_string();
    assert!(headers.contains("X-Perfwatch-Signature"), "{headers}");

    let slack = rendered("slack");
    let body: Value = serde_json::from_str(slack["body"].as_str().unwrap()).unwrap();
    assert!(body["attachments"][0]["blocks"].is_array(), "{body}");

    assert_eq!(peer.hits(), 0, "rendering sends nothing");
    let shown = format!("{hook}{slack}");
    for secret in [PATH_SECRET, HEADER_SECRET, SIGNING_SECRET] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
    assert_no_secrets(&mut host, &[PATH_SECRET, HEADER_SECRET, SIGNING_SECRET]);
}
