//! Plugin platform 0.2 end to end: components built against 0.1 keep
//! working through the host's adapter (and say they are deprecated), a
//! plugin that refuses its config is named with the key while everything
//! else runs, and an export that fails halfway leaves no file.

use perfwatch_tests::{HostDir, HttpPeer, Route, eventually, fixture_plugin, get, post_json};
use serde_json::Value;

/// Ticks of the hosts here: short, so collectors run often.
const TICK_MS: u64 = 300;

#[tokio::test(flavor = "multi_thread")]
async fn components_built_against_0_1_collect_deliver_and_export_through_the_adapter() {
    let hook = HttpPeer::start(&[("/hook", Route::json("{}"))]);
    let dir = HostDir::new().fixtures(&["fixture-v01-collector"]);
    // A 0.1 channel serving the `webhook` type, and a 0.1 exporter as format `v01`.
    std::fs::copy(
        fixture_plugin("fixture-v01-channel"),
        dir.plugins().join("webhook.wasm"),
    )
    .unwrap();
    std::fs::copy(
        fixture_plugin("fixture-v01-exporter"),
        dir.plugins().join("v01.wasm"),
    )
    .unwrap();
    let dir = dir.config(
        TICK_MS,
        &format!(
            "[[plugins]]\nname = \"fixture-v01-collector\"\n\n\
             [[alerting.channels]]\ntype = \"webhook\"\nconfig = {{ url = \"{}\" }}\n",
            hook.url("/hook")
        ),
    );
    let mut host = dir.start();

    let value = eventually("the 0.1 collector's samples", || {
        host.latest_by_label("fixture.v01", "n", "2")
    });
    assert_eq!(value, 2.0);
    let log = host.log().join("\n");
    for plugin in ["fixture-v01-collector", "webhook", "v01"] {
        assert!(
            log.lines()
                .any(|l| l.contains(plugin)
                    && l.contains("perfwatch:plugin@0.1, which is deprecated")),
            "no deprecation line for {plugin}:\n{log}"
        );
    }

    let hot = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "queries.avgResponseTime", "value": 2500}]"#,
    );
    assert_eq!(hot.status, 200, "{}", hot.body);
    let alert = eventually("the 0.1 channel's POST of the alert", || {
        hook.received()
            .into_iter()
            .filter(|r| r.path == "/hook")
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .find(|a| a["rule"] == "threshold:queries.avgResponseTime")
    });
    assert_eq!(
        alert["rule"], "threshold:queries.avgResponseTime",
        "{alert}"
    );
    assert_eq!(alert["status"], "firing", "{alert}");
    assert_eq!(alert["value"], 2500.0, "{alert}");

    let export = post_json(host.addr, "/api/v1/export?format=v01&start=0", "");
    assert_eq!(export.status, 200, "{}", export.body);
    let answer = export.json();
    let file = std::path::PathBuf::from(answer["filePath"].as_str().unwrap());
    let document: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(document["fixture"], "v01", "{document}");
    assert!(
        document["series"].as_u64().unwrap() >= 4,
        "the buffered request held every series: {document}"
    );
    assert!(document["points"].as_u64().unwrap() > 0, "{document}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_config_names_the_plugin_and_the_key_and_nothing_else_stops() {
    let dir = HostDir::new()
        .shipped(&["loadavg"])
        .fixtures(&["fixture-counter"])
        .config(
            TICK_MS,
            "[[plugins]]\nname = \"loadavg\"\nread_paths = [\"/proc\"]\nconfig = { pressure = \"yes\" }\n\n\
             [[plugins]]\nname = \"fixture-counter\"\n",
        );
    let mut host = dir.start();
    let calls = eventually("the other collector's samples", || {
        let answer = get(host.addr, "/api/v1/query?metric=fixture.calls&start=0");
        (answer.status == 200).then(|| answer.json())
    });
    assert!(!calls["series"].as_array().unwrap().is_empty(), "{calls}");
    let log = host.log().join("\n");
    let refusal = log
        .lines()
        .find(|l| l.contains("plugin `loadavg` refuses its config"))
        .unwrap_or_else(|| panic!("no refusal line:\n{log}"));
    assert!(refusal.contains("`pressure`"), "{refusal}");
    assert!(refusal.contains("expected"), "{refusal}");
    let loaded: Value = get(host.addr, "/api/v1/plugins").json();
    let names: Vec<&str> = loaded["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(!names.contains(&"loadavg"), "{names:?}");
    assert_eq!(get(host.addr, "/healthz").status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_that_fails_halfway_leaves_no_file() {
    let dir = HostDir::new()
        .fixtures(&["fixture-export-fail"])
        .config(TICK_MS, "");
    let host = dir.start();
    let stored = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "queries.avgResponseTime", "value": 20}]"#,
    );
    assert_eq!(stored.status, 200, "{}", stored.body);
    let export = post_json(
        host.addr,
        "/api/v1/export?format=fixture-export-fail&start=0",
        "",
    );
    assert_eq!(export.status, 502, "{}", export.body);
    let error = export.json()["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("fixture-export-fail") && error.contains("fails halfway"),
        "{error}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path().join("exports"))
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "files left behind: {left:?}");
}
