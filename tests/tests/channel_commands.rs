//! The channel commands of a running host: `GET /api/v1/channels`, a test
//! notification through `POST /api/v1/channels/{name}/test` and
//! `perfwatch channels test`, `perfwatch channels list`, and the
//! `alerting.*` self-metrics each channel reports.

use perfwatch_tests::{HostDir, HttpPeer, Route, eventually, get, post_json, run_cli};
use serde_json::Value;

/// The path of the receiver's URL, a token as in a Slack webhook's.
const TOKEN_PATH: &str = "/hooks/T0K3N-render";

#[test]
fn channels_are_listed_tested_and_measured() {
    let dir = HostDir::new().shipped(&["console"]).config(
        300,
        "[[alerting.channels]]\ntype = \"console\"\n\n\
         [[alerting.channels]]\ntype = \"console\"\nname = \"ops\"\n\
         filters = { severity = [\"critical\"], labels = [\"env=prod\"] }\n",
    );
    let mut host = dir.start();

    let channels = get(host.addr, "/api/v1/channels").json();
    let list = channels["channels"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["console", "ops"], "{channels}");
    assert!(
        list.iter()
            .all(|c| c["type"] == "console" && c["delivering"] == true)
    );
    assert_eq!(list[1]["filters"]["labels"][0], "env=prod");

    // No alert of this host has `env=prod`, so `ops` gets only tests; and a
    // warning test passes its "critical only" filter: a test goes past
    // filters, so an operator can check any channel at any time.
    let sent = post_json(
        host.addr,
        "/api/v1/channels/ops/test",
        r#"{"severity": "warning"}"#,
    );
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.json()["delivered"], true);
    let line = eventually("the console channel's test line", || {
        host.log()
            .into_iter()
            .find(|l| l.contains("Test notification from perfwatch"))
    });
    assert!(line.contains("[WARNING] firing"), "{line}");

    let missing = post_json(host.addr, "/api/v1/channels/nobody/test", "");
    assert_eq!(missing.status, 404, "{}", missing.body);
    let bad = post_json(
        host.addr,
        "/api/v1/channels/ops/test",
        r#"{"severty": "x"}"#,
    );
    assert_eq!(bad.status, 400, "{}", bad.body);

    // The CLI finds the host through a config naming its port.
    let config = dir.path().join("cli.toml");
    std::fs::write(&config, format!("port = {}\n", host.addr.port())).unwrap();
    let config = config.to_str().unwrap();
    let test = run_cli([
        "channels",
        "test",
        "console",
        "--resolved",
        "--config",
        config,
    ]);
    assert!(test.success, "{}", test.text());
    assert!(
        test.stdout
            .contains("delivered a critical resolved test notification"),
        "{}",
        test.text()
    );
    let listed = run_cli(["channels", "list", "--config", config]);
    assert!(listed.success, "{}", listed.text());
    let ops = listed
        .stdout
        .lines()
        .find(|l| l.starts_with("ops "))
        .unwrap_or_else(|| panic!("no ops line: {}", listed.stdout));
    let columns: Vec<&str> = ops.split_whitespace().collect();
    assert_eq!(&columns[..4], ["ops", "console", "healthy", "1"], "{ops}");
    assert!(ops.contains("severity=critical labels=env=prod"), "{ops}");

    // Each channel's counters become self-metrics on the next tick.
    let delivered = eventually("alerting.deliveries of ops", || {
        let answer = get(
            host.addr,
            "/api/v1/query?metric=alerting.deliveries&start=0",
        );
        (answer.status == 200)
            .then(|| answer.json())
            .and_then(|body| latest(&body, "ops", Some("delivered")))
            .filter(|v| *v >= 1.0)
    });
    assert_eq!(delivered, 1.0);
    let latency = get(
        host.addr,
        "/api/v1/query?metric=alerting.deliveryLatency&start=0",
    );
    assert_eq!(latency.status, 200, "{}", latency.body);
}

/// The latest value of the series of `channel` (and `outcome`) in a query answer.
fn latest(body: &Value, channel: &str, outcome: Option<&str>) -> Option<f64> {
    body["series"].as_array()?.iter().find(|s| {
        s["labels"]["channel"] == channel && outcome.is_none_or(|o| s["labels"]["outcome"] == o)
    })?["points"]
        .as_array()?
        .last()?[1]
        .as_f64()
}

#[test]
fn a_rendered_test_shows_the_payload_and_sends_nothing() {
    let receiver = HttpPeer::start(&[(TOKEN_PATH, Route::json("{}"))]);
    let dir = HostDir::new().fixtures(&["fixture-v01-channel"]).config(
        300,
        &format!(
            // Only tests reach it (they go past filters); this machine's
            // own alerts, a busy CPU say, do not.
            "[[alerting.channels]]\ntype = \"fixture-v01-channel\"\nname = \"relay\"\n\
             filters = {{ labels = [\"test=true\"] }}\n\
             secrets = {{ url = \"{}\", headers = {{ x-token = \"T0K3N-header\" }} }}\n",
            receiver.url(TOKEN_PATH)
        ),
    );
    let host = dir.start();
    let config = dir.path().join("cli.toml");
    std::fs::write(&config, format!("port = {}\n", host.addr.port())).unwrap();
    let rendered = run_cli([
        "channels",
        "test",
        "relay",
        "--render",
        "--severity",
        "warning",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(rendered.success, "{}", rendered.text());
    let out = &rendered.stdout;
    assert!(
        out.starts_with(&format!("POST {}/…\n", receiver.url(""))),
        "the request line names the origin only: {out}"
    );
    assert!(
        out.contains("\"rule\": \"perfwatch-test\""),
        "the body, pretty: {out}"
    );
    assert!(out.contains("\"severity\": \"warning\""), "{out}");
    assert!(!out.contains("T0K3N"), "a secret leaked: {out}");
    assert_eq!(receiver.hits(), 0, "rendering sends nothing");

    // Without --render the same test reaches the receiver.
    let sent = post_json(host.addr, "/api/v1/channels/relay/test", "{}");
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(receiver.hits(), 1);
}
