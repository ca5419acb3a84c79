//! Fixture plugins that loop forever, trap, and eat memory run beside a
//! well-behaved one: each is contained and reported, the host keeps
//! ticking, and the good plugin keeps its instance across ticks.

use std::time::{Duration, Instant};

use perfwatch_tests::{HostDir, Stream, get};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn misbehaving_plugins_are_contained_and_reported() {
    let dir = HostDir::new()
        .fixtures(&[
            "fixture-loop",
            "fixture-trap",
            "fixture-memory-hog",
            "fixture-counter",
        ])
        .config(
            250,
            r#"
[[plugins]]
name = "fixture-trap"

[[plugins]]
name = "fixture-loop"
limits = { call_timeout_ms = 100 }

[[plugins]]
name = "fixture-memory-hog"
limits = { memory_mib = 16 }

[[plugins]]
name = "fixture-counter"
config = { value = 7 }
"#,
        );
    let mut host = dir.start();
    let mut stream = Stream::connect(host.addr).await;
    let initial = stream.next(Duration::from_secs(10)).await;
    let listed: Vec<&str> = initial["data"]["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        listed,
        [
            "fixture-counter",
            "fixture-loop",
            "fixture-memory-hog",
            "fixture-trap"
        ],
        "{initial}"
    );

    // Ticks keep coming while the bad plugins fail: 250 ms ticks plus at
    // most a 100 ms deadline; allow a wide margin for a loaded machine.
    let started = Instant::now();
    let mut calls = Vec::new();
    let mut error_rates = Vec::new();
    for _ in 0..8 {
        let update = stream
            .next_of("metrics_update", Duration::from_secs(10))
            .await;
        // The good plugin answers on every tick: a tick without its
        // sample is a failure, not something to skip.
        calls.push(
            update["data"]["custom"]["fixture.calls"]
                .as_f64()
                .unwrap_or_else(|| panic!("fixture.calls on every tick: {update}")),
        );
        assert_eq!(
            update["data"]["custom"]["fixture.configValue"], 7.0,
            "{update}"
        );
        error_rates.push(
            update["data"]["tracing"]["errorRate"]
                .as_f64()
                .unwrap_or_else(|| panic!("tracing.errorRate on every tick: {update}")),
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "8 ticks took {:?}",
        started.elapsed()
    );
    assert!(
        calls.windows(2).all(|w| w[1] == w[0] + 1.0),
        "one instance, called once per tick: {calls:?}"
    );
    // Crashed plugins are retried after a backoff, so failures show up on
    // some ticks, not all.
    assert!(
        error_rates.iter().any(|r| *r > 0.0),
        "failed calls count in tracing.errorRate: {error_rates:?}"
    );

    let plugins: Value = get(host.addr, "/api/v1/plugins").json();
    let find = |name: &str| {
        plugins["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed: {plugins}"))
            .clone()
    };
    let error_of = |name: &str| {
        find(name)["stats"]["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        error_of("fixture-loop").contains("exceeded its 100 ms CPU deadline"),
        "{plugins}"
    );
    assert!(
        error_of("fixture-memory-hog").contains("exceeded its 16 MiB memory limit"),
        "{plugins}"
    );
    assert!(error_of("fixture-trap").contains("crashed"), "{plugins}");
    assert_eq!(
        find("fixture-counter")["stats"]["status"],
        "healthy",
        "{plugins}"
    );
    assert_eq!(
        find("fixture-loop")["stats"]["status"],
        "degraded",
        "{plugins}"
    );

    let failures = get(host.addr, "/api/v1/query?metric=plugins.failures&start=0").json();
    let trap_failures = failures["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["labels"]["plugin"] == "fixture-trap")
        .and_then(|s| s["points"].as_array()?.last()?[1].as_f64());
    assert!(
        trap_failures >= Some(1.0),
        "per-plugin self-metrics are stored: {failures}"
    );

    let log = host.log().join("\n");
    assert!(
        log.contains("fixture-trap: deliberate panic"),
        "the guest's panic message reaches the log"
    );
    assert!(host.is_running());
}
