//! The plugin platform end to end: collectors reaching real HTTP servers
//! only where granted, a channel delivering, an exporter writing a file,
//! and the compile cache serving a warm start.

use std::path::{Path, PathBuf};

use perfwatch_tests::{
    HostDir, HttpPeer, PerfwatchProcess, Route, Stream, WAIT, eventually, get, post_json,
    shipped_plugin,
};
use serde_json::Value;

/// Ticks of the hosts here: short, so collectors run often while a test
/// waits for their samples.
const TICK_MS: u64 = 300;

fn plugin_error(host: &PerfwatchProcess, name: &str) -> String {
    let plugins: Value = get(host.addr, "/api/v1/plugins").json();
    plugins["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["stats"]["last_error"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn http_collectors_reach_granted_origins_only() {
    let outside = HttpPeer::start(&[("/status", Route::json("{}"))]);
    let app = HttpPeer::start(&[
        (
            "/status",
            Route::json(
                r#"{"agents": {"total": 3, "list": [{"name": "a", "responseMs": 120}, {"name": "b", "responseMs": 80}]}}"#,
            ),
        ),
        ("/escape", Route::redirect(&outside.url("/status"))),
    ]);
    let origin = format!("http://{}", app.addr);
    let dir = HostDir::new()
        .shipped(&["http-json", "http-probe"])
        .fixtures(&["fixture-http-denied", "fixture-huge-output"])
        .config(
            TICK_MS,
            &format!(
                r#"
[[plugins]]
name = "http-json"
allow_http = ["{origin}"]
[plugins.config]
url = "{origin}/status"
metrics = [
  {{ path = "agents.total", metric = "agents.totalAgents", unit = "agents" }},
  {{ path = "agents.list[*].responseMs", metric = "agents.avgResponseTime", unit = "ms", labels = {{ agent = "name" }} }},
]

[[plugins]]
name = "http-probe"
allow_http = ["{origin}"]
limits = {{ call_timeout_ms = 3000 }}
[plugins.config]
timeout_ms = 800
targets = [{{ name = "ok", url = "{origin}/status" }}, {{ name = "escape", url = "{origin}/escape" }}]

[[plugins]]
name = "fixture-http-denied"

[[plugins]]
name = "fixture-huge-output"
"#
            ),
        );
    let host = dir.start();
    let mut stream = Stream::connect(host.addr).await;
    let update = loop {
        let update = stream.next_of("metrics_update", WAIT).await;
        if update["data"]["agents"]["totalAgents"].is_number() {
            break update;
        }
    };
    assert_eq!(update["data"]["agents"]["totalAgents"], 3.0, "{update}");
    assert_eq!(
        update["data"]["agents"]["avgResponseTime"], 100.0,
        "the mean over agents: {update}"
    );
    assert_eq!(
        host.latest_by_label("agents.avgResponseTime", "agent", "a"),
        Some(120.0)
    );

    let up = |target: &str| {
        eventually(&format!("probe.up of {target}"), || {
            host.latest_by_label("probe.up", "target", target)
        })
    };
    assert_eq!(up("ok"), 1.0);
    assert_eq!(
        up("escape"),
        0.0,
        "a redirect out of the grant is not followed"
    );
    assert_eq!(
        outside.hits(),
        0,
        "the ungranted server was never contacted"
    );
    assert!(
        host.latest_by_label("system.networkLatency", "target", "ok")
            .is_some()
    );

    let denied = eventually("the denial", || {
        Some(plugin_error(&host, "fixture-http-denied")).filter(|e| !e.is_empty())
    });
    assert!(
        denied.contains("may not call http://127.0.0.1:9"),
        "{denied}"
    );
    assert!(
        denied.contains(r#"allow_http = ["http://127.0.0.1:9"]"#),
        "the denial quotes the granting line: {denied}"
    );
    let huge = eventually("the size refusal", || {
        Some(plugin_error(&host, "fixture-huge-output")).filter(|e| !e.is_empty())
    });
    assert!(
        huge.contains("returned 50000 samples; at most 10000"),
        "{huge}"
    );
}

/// A free loopback port for a peer that picks its own listening address.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_prometheus_collector_scrapes_a_real_node_exporter() {
    let port = free_port();
    let exporter = Path::new("/usr/bin/prometheus-node-exporter");
    assert!(
        exporter.is_file(),
        "prometheus-node-exporter is missing: `cargo xtask test` installs it"
    );
    let mut node = std::process::Command::new(exporter)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let dir = HostDir::new().shipped(&["prometheus"]).config(
        TICK_MS,
        &format!(
            r#"
[[plugins]]
name = "prometheus"
allow_http = ["http://127.0.0.1:{port}"]
[plugins.config]
url = "http://127.0.0.1:{port}/metrics"
prefix = "node."
include = ["node_load1", "node_memory_MemAvailable_bytes", "node_cpu_seconds_total"]
"#
        ),
    );
    let host = dir.start();
    let load = eventually("node.node_load1", || {
        let answer = get(host.addr, "/api/v1/query?metric=node.node_load1&start=0");
        (answer.status == 200).then(|| answer.json())
    });
    assert!(
        load["series"][0]["points"][0][1].as_f64().unwrap() >= 0.0,
        "{load}"
    );
    let cpu = eventually("node.node_cpu_seconds_total", || {
        let answer = get(
            host.addr,
            "/api/v1/query?metric=node.node_cpu_seconds_total&start=0",
        );
        (answer.status == 200).then(|| answer.json())
    });
    let series = cpu["series"].as_array().unwrap();
    assert!(
        series.iter().any(|s| s["labels"]["mode"] == "idle"),
        "labels survive: {cpu}"
    );
    assert!(
        series.iter().all(|s| s["kind"] == "counter"),
        "TYPE counter is kept: {cpu}"
    );
    let _ = node.kill();
    let _ = node.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_reach_the_console_channel_and_exports_are_written() {
    let dir = HostDir::new()
        .shipped(&["console", "json"])
        .config(TICK_MS, "");
    let mut host = dir.start();
    let mut stream = Stream::connect(host.addr).await;
    let hot = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "queries.avgResponseTime", "value": 2500}]"#,
    );
    assert_eq!(hot.status, 200, "{}", hot.body);
    let alert = stream
        .next_for_rule("alert_triggered", "threshold:queries.avgResponseTime", WAIT)
        .await;
    let id = alert["data"]["id"].as_str().unwrap().to_owned();

    let delivery = eventually("a delivery record", || {
        let deliveries = get(host.addr, "/api/v1/deliveries").json();
        deliveries["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["alertIds"] == serde_json::json!([id]))
            .cloned()
    });
    assert_eq!(delivery["channel"], "console", "{delivery}");
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    let log = eventually("the console line", || {
        let log = host.log().join("\n");
        log.contains("[CRITICAL]").then_some(log)
    });
    assert!(log.contains("Query Response Time: 2500 ms"), "{log}");

    let export = post_json(host.addr, "/api/v1/export?format=json&start=0", "");
    assert_eq!(export.status, 200, "{}", export.body);
    let answer = export.json();
    let file = PathBuf::from(answer["filePath"].as_str().unwrap());
    assert!(file.starts_with(dir.path().join("exports")), "{answer}");
    let document: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let metrics: Vec<&str> = document["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["metric"].as_str())
        .collect();
    assert!(metrics.contains(&"queries.avgResponseTime"), "{metrics:?}");
    assert!(metrics.contains(&"system.cpuUsage"), "{metrics:?}");
    let exported_alerts = document["alerts"].as_array().unwrap();
    assert!(
        exported_alerts.iter().any(|a| a["id"] == id.as_str()),
        "{exported_alerts:?}"
    );

    let unknown = post_json(host.addr, "/api/v1/export?format=xlsx", "");
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.json()["error"]
            .as_str()
            .unwrap()
            .contains("available: json"),
        "{}",
        unknown.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_warm_start_loads_compiled_plugins_from_the_cache() {
    let dir = HostDir::new()
        .shipped(&["console", "json", "loadavg"])
        .config(
            TICK_MS,
            "[[plugins]]\nname = \"loadavg\"\nread_paths = [\"/proc\"]\n",
        );
    let mut cold = dir.start();
    eventually("three compiles", || {
        (cold.log().join("\n").matches("compiled now").count() == 3).then_some(())
    });
    cold.kill();
    let cached = std::fs::read_dir(dir.path().join("data/plugin-cache"))
        .unwrap()
        .count();
    assert_eq!(cached, 3);
    let mut warm = dir.start();
    let warm_log = eventually("three cache hits", || {
        let log = warm.log().join("\n");
        (log.matches("compile cache").count() == 3).then_some(log)
    });
    assert!(!warm_log.contains("compiled now"), "{warm_log}");
}

/// Replaces `path` the way editors and build tools do: write, then rename.
fn replace_file(path: &Path, bytes: &[u8]) {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes).unwrap();
    std::fs::rename(&partial, path).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn plugins_reload_on_change_and_a_bad_version_leaves_the_old_one_running() {
    let dir = HostDir::new().fixtures(&["fixture-counter"]);
    let entry = |value: u32| {
        format!("[[plugins]]\nname = \"fixture-counter\"\nconfig = {{ value = {value} }}\n")
    };
    let dir = dir.config(TICK_MS, &entry(7));
    let (config, plugins) = (dir.config_file(), dir.plugins());
    let host = dir.start();
    let mut stream = Stream::connect(host.addr).await;
    let value_of = |update: &Value| update["data"]["custom"]["fixture.configValue"].as_f64();
    assert_eq!(
        value_of(&stream.next_of("metrics_update", WAIT).await),
        Some(7.0)
    );

    // Editing the plugin's config entry reloads it: new config, new instance.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&entry(7), &entry(9));
    replace_file(&config, text.as_bytes());
    let reloaded = loop {
        let update = stream.next_of("metrics_update", WAIT).await;
        if value_of(&update) == Some(9.0) {
            break update;
        }
    };
    assert_eq!(
        reloaded["data"]["custom"]["fixture.calls"], 1.0,
        "a fresh instance: {reloaded}"
    );

    // A component that does not compile is refused; the running one stays.
    replace_file(
        &plugins.join("fixture-counter.wasm"),
        b"\0asm but not really",
    );
    let refusal = eventually("the refused reload", || {
        get(host.addr, "/api/v1/plugins").json()["reload_errors"]["fixture-counter"]
            .as_str()
            .map(str::to_owned)
    });
    assert!(refusal.contains("is not a valid component"), "{refusal}");
    let before = stream.next_of("metrics_update", WAIT).await["data"]["custom"]["fixture.calls"]
        .as_f64()
        .unwrap();
    let after = stream.next_of("metrics_update", WAIT).await["data"]["custom"]["fixture.calls"]
        .as_f64()
        .unwrap();
    assert_eq!(after, before + 1.0, "the previous version keeps running");

    // A new channel component in plugins_dir starts delivering.
    replace_file(
        &plugins.join("console.wasm"),
        &std::fs::read(shipped_plugin("console")).unwrap(),
    );
    eventually("the console channel", || {
        let plugins = get(host.addr, "/api/v1/plugins").json();
        plugins["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["channel"] == "console")
            .then_some(())
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn the_process_collector_reports_the_host_itself_through_its_proc_grant() {
    let dir = HostDir::new().shipped(&["process"]).config(
        TICK_MS,
        "[[plugins]]\nname = \"process\"\nread_paths = [\"/proc\"]\nconfig = { names = [\"perfwatch\"] }\n",
    );
    let host = dir.start();
    let rss = eventually("process.memoryRss", || {
        host.latest_by_label("process.memoryRss", "name", "perfwatch")
    });
    assert!(
        rss > 1_000_000.0,
        "the host's resident memory, in bytes: {rss}"
    );
    let threads = eventually("process.threads", || {
        host.latest_by_label("process.threads", "name", "perfwatch")
    });
    assert!(threads >= 2.0, "{threads}");
    // Other tests run perfwatch processes at the same time: at least this one.
    let count = eventually("process.count", || {
        host.latest_by_label("process.count", "name", "perfwatch")
    });
    assert!(count >= 1.0, "{count}");
    let cpu = eventually("process.cpuUsage", || {
        host.latest_by_label("process.cpuUsage", "name", "perfwatch")
    });
    assert!((0.0..=200.0).contains(&cpu), "{cpu}");
}
