//! Every shipped channel at once, from a breach: one sample above an
//! `[[alert_rules]]` threshold makes each configured channel deliver once
//! to its real receiver (an HTTP server for webhook, Slack and Discord,
//! aiosmtpd for email, Debian's Alertmanager for alertmanager), and the
//! resolution delivers once more.

use perfwatch_tests::{
    AlertmanagerProcess, HostDir, HttpPeer, Received, Route, SmtpRelay, SmtpSecurity, eventually,
    get, post_json,
};
use serde_json::Value;

const RULE: &str = "e2e-breach";

fn post(host: std::net::SocketAddr, value: f64) {
    let answer = post_json(
        host,
        "/api/v1/metrics",
        &format!(r#"[{{"metric": "e2e.breach", "value": {value}}}]"#),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// The bodies `peer` got on `path` that mention the rule, in order.
fn bodies(peer: &HttpPeer, path: &str) -> Vec<String> {
    peer.received()
        .into_iter()
        .filter(|r| r.path == path && r.body.contains(RULE))
        .map(|r| r.body)
        .collect()
}

#[test]
fn a_breach_and_its_resolution_reach_every_channel_once_each() {
    let hooks = HttpPeer::start(&[
        ("/webhook", Route::json("{}")),
        ("/slack", Route::text("ok")),
        ("/discord", Route::status(204)),
        ("/am-receiver", Route::json("{}")),
    ]);
    let relay = SmtpRelay::start(SmtpSecurity::Plain, None);
    let alertmanager = AlertmanagerProcess::start(&hooks.url("/am-receiver"));
    let dir = HostDir::new()
        .shipped(&["webhook", "slack", "discord", "email", "alertmanager"])
        .config(
            250,
            &format!(
                r#"
[[alerting.channels]]
type = "webhook"
secrets = {{ url = "{webhook}" }}
filters = {{ labels = ["rule=rule:{RULE}"] }}

[[alerting.channels]]
type = "slack"
secrets = {{ webhook_url = "{slack}" }}
filters = {{ labels = ["rule=rule:{RULE}"] }}

[[alerting.channels]]
type = "discord"
secrets = {{ webhook_url = "{discord}" }}
filters = {{ labels = ["rule=rule:{RULE}"] }}

[[alerting.channels]]
type = "email"
config = {{ recipients = ["ops@example.com"], smtp = {{ host = "127.0.0.1", port = {smtp_port}, tls = "none" }} }}
filters = {{ labels = ["rule=rule:{RULE}"] }}

[[alerting.channels]]
type = "alertmanager"
config = {{ url = "{am}" }}
filters = {{ labels = ["rule=rule:{RULE}"] }}

[[plugins]]
name = "email"
allow_email = true

[[alert_rules]]
id = "{RULE}"
metric = "e2e.breach"
condition = "greater_than"
threshold = 10.0
severity = "critical"
"#,
                webhook = hooks.url("/webhook"),
                slack = hooks.url("/slack"),
                discord = hooks.url("/discord"),
                smtp_port = relay.addr.port(),
                am = alertmanager.url(),
            ),
        );
    let host = dir.start();

    post(host.addr, 50.0);
    eventually("the breach at every channel", || {
        let alert_manager_has_it = alertmanager
            .alerts()
            .iter()
            .any(|a| a["labels"]["alertname"].as_str() == Some(&format!("rule:{RULE}")));
        (bodies(&hooks, "/webhook").len() == 1
            && bodies(&hooks, "/slack").len() == 1
            && bodies(&hooks, "/discord").len() == 1
            && relay.messages().len() == 1
            && alert_manager_has_it)
            .then_some(())
    });
    let firing: Value = serde_json::from_str(&bodies(&hooks, "/webhook")[0]).unwrap();
    assert_eq!(firing["status"], "firing", "{firing}");

    post(host.addr, 1.0);
    eventually("the resolution at every channel", || {
        let resolved_in_alertmanager = alertmanager.alerts().iter().all(|a| {
            a["labels"]["alertname"].as_str() != Some(&format!("rule:{RULE}"))
                || a["status"]["state"] == "resolved"
        });
        (bodies(&hooks, "/webhook").len() == 2
            && bodies(&hooks, "/slack").len() == 2
            && bodies(&hooks, "/discord").len() == 2
            && relay.messages().len() == 2
            && resolved_in_alertmanager)
            .then_some(())
    });
    let resolved: Value = serde_json::from_str(&bodies(&hooks, "/webhook")[1]).unwrap();
    assert_eq!(resolved["status"], "resolved", "{resolved}");
    let subject = relay.messages()[1].parsed["subject"].to_string();
    assert!(
        subject.to_ascii_lowercase().contains("resolved"),
        "{subject}"
    );

    // Once each: nothing more arrives (re-sends go only to Alertmanager,
    // and only while the alert fires).
    std::thread::sleep(std::time::Duration::from_secs(2));
    for path in ["/webhook", "/slack", "/discord"] {
        assert_eq!(bodies(&hooks, path).len(), 2, "{path}");
    }
    assert_eq!(relay.messages().len(), 2);
    let records = get(host.addr, "/api/v1/deliveries?status=delivered&limit=100").json();
    let delivered = records["deliveries"].as_array().unwrap();
    for channel in ["webhook", "slack", "discord", "email", "alertmanager"] {
        let count = delivered.iter().filter(|r| r["channel"] == channel).count();
        assert_eq!(count, 2, "{channel}: {records}");
    }
}

#[test]
fn a_receiver_that_is_down_then_up_gets_everything_in_order() {
    // Down (503) for the first four requests, about seven seconds of
    // backoff, then up.
    let mut answers = vec![Route::status(503); 4];
    answers.push(Route::json("{}"));
    let hook = HttpPeer::scripted(&[("/hook", answers)]);
    let dir = HostDir::new().shipped(&["webhook"]).config(
        250,
        &format!(
            r#"
[[alerting.channels]]
type = "webhook"
secrets = {{ url = "{}" }}
filters = {{ labels = ["rule=rule:{RULE}"] }}

[[alert_rules]]
id = "{RULE}"
metric = "e2e.breach"
condition = "greater_than"
threshold = 10.0
"#,
            hook.url("/hook")
        ),
    );
    let host = dir.start();
    for agent in ["a1", "a2", "a3"] {
        let answer = post_json(
            host.addr,
            "/api/v1/metrics",
            &format!(
                r#"[{{"metric": "e2e.breach", "value": 50, "labels": {{"agent": "{agent}"}}}}]"#
            ),
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
        // One tick each, so they are three notifications in this order.
        std::thread::sleep(std::time::Duration::from_millis(400));
    }
    // The agent of each request's first alert, in the order they came.
    let agents = || -> Vec<String> {
        let first_agent = |r: &Received| r.json()["alerts"][0]["labels"]["agent"].to_string();
        hook.received().iter().map(first_agent).collect()
    };
    let agents = eventually("every notification after the outage", || {
        Some(agents()).filter(|a| a.len() == 7)
    });
    let quoted = |names: &[&str]| names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>();
    assert_eq!(
        agents[..4],
        quoted(&["a1"; 4]),
        "the first waited, the others behind it"
    );
    assert_eq!(
        agents[4..],
        quoted(&["a1", "a2", "a3"]),
        "nothing lost, order kept"
    );
    let channels = get(host.addr, "/api/v1/channels").json();
    let stats = &channels["channels"][0]["deliveries"];
    assert_eq!(stats["delivered"], 3, "{stats}");
    assert_eq!(stats["failedAttempts"], 4, "{stats}");
    assert_eq!(stats["gaveUp"], 0, "{stats}");
}
