//! The store end to end: nothing acknowledged is lost to SIGKILL, and the
//! query API answers ranges, latest values and the series list.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use perfwatch_tests::{HostDir, eventually, get, post_json, run_cli, try_post_json};
use serde_json::{Value, json};

/// A host with no plugins and no rules; ticks every second.
fn host_dir() -> HostDir {
    HostDir::new().config(1000, "")
}

/// Samples 0.. of one writer: `ingest.load{writer}` at ts = base + i, value i.
const BATCH: i64 = 500;

/// Three hours ago, on a whole hour: recent enough for raw retention (which
/// runs at start-up and would delete older samples, as it should).
fn base_ts() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    (now / 3_600_000 - 3) * 3_600_000
}

fn batch(base: i64, writer: usize, first: i64) -> String {
    let samples: Vec<Value> = (first..first + BATCH)
        .map(|i| {
            json!({"metric": "ingest.load", "value": i, "timestamp": base + i,
                   "labels": {"writer": writer.to_string()}})
        })
        .collect();
    Value::Array(samples).to_string()
}

/// Batches each writer has acknowledged before the kill: several committed
/// transactions from both connections lie behind the one the kill cuts off.
const BATCHES_BEFORE_KILL: i64 = 10;

/// Posts batches until told to stop, keeping `acknowledged` at the number
/// of samples acknowledged so far (always a prefix: a writer stops at its
/// first failure).
fn write_until_stopped(
    addr: SocketAddr,
    base: i64,
    writer: usize,
    stop: &AtomicBool,
    acknowledged: &AtomicI64,
) {
    let mut done = 0;
    while !stop.load(Ordering::Relaxed) {
        match try_post_json(addr, "/api/v1/metrics", &batch(base, writer, done)) {
            Ok(answer) if answer.status == 200 => {
                assert_eq!(answer.json()["accepted"], BATCH, "{}", answer.body);
                done += BATCH;
                acknowledged.store(done, Ordering::SeqCst);
            }
            _ => break,
        }
    }
}

#[test]
fn every_acknowledged_sample_survives_sigkill_mid_ingest() {
    let dir = host_dir();
    let host = dir.start();
    let addr = host.addr;
    let base = base_ts();
    let stop = Arc::new(AtomicBool::new(false));
    let progress: Arc<[AtomicI64; 2]> = Arc::new([AtomicI64::new(0), AtomicI64::new(0)]);
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let (stop, progress) = (stop.clone(), progress.clone());
            std::thread::spawn(move || {
                write_until_stopped(addr, base, writer, &stop, &progress[writer]);
            })
        })
        .collect();
    eventually(
        "BATCHES_BEFORE_KILL acknowledged batches from each writer",
        || {
            progress
                .iter()
                .all(|n| n.load(Ordering::SeqCst) >= BATCHES_BEFORE_KILL * BATCH)
                .then_some(())
        },
    );
    // Killed while both writers have requests in flight.
    host.kill();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged: Vec<(usize, i64)> = progress
        .iter()
        .map(|n| n.load(Ordering::SeqCst))
        .enumerate()
        .collect();
    assert!(
        acknowledged.iter().all(|(_, n)| *n >= BATCH),
        "each writer got some batches in before the kill: {acknowledged:?}"
    );

    // The host listens only once its store is open: the first answer after
    // the restart already holds everything acknowledged before the kill.
    let host = dir.start();
    for (writer, n) in acknowledged {
        let answer = get(
            host.addr,
            &format!(
                "/api/v1/query?metric=ingest.load&labels=writer={writer}&start=0&end={}",
                base * 2
            ),
        )
        .json();
        let points = answer["series"][0]["points"]
            .as_array()
            .unwrap_or_else(|| panic!("writer {writer}: no points after restart: {answer}"))
            .clone();
        assert!(
            points.len() as i64 >= n,
            "writer {writer}: {n} acknowledged, {} stored after SIGKILL",
            points.len()
        );
        for (i, point) in points.iter().take(n as usize).enumerate() {
            let i = i as i64;
            assert_eq!(
                point,
                &json!([base + i, i as f64]),
                "writer {writer} sample {i}"
            );
        }
    }
}

#[test]
fn query_range_latest_values_and_series_over_http() {
    let dir = host_dir();
    let host = dir.start();
    let hour = 3_600_000;
    let start = base_ts();
    // Two hours at 10 s: value i for sample i, on two hosts.
    let samples: Vec<Value> = (0..720)
        .flat_map(|i| {
            ["a", "b"].map(|h| {
                json!({"metric": "app.queue_depth", "value": i, "timestamp": start + i * 10_000,
                       "labels": {"host": h}})
            })
        })
        .collect();
    let answer = post_json(
        host.addr,
        "/api/v1/metrics",
        &Value::Array(samples).to_string(),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let range = |query: &str| {
        get(
            host.addr,
            &format!(
                "/api/v1/query_range?metric=app.queue_depth&start={start}&end={}&{query}",
                start + 2 * hour
            ),
        )
    };

    let max = range("labels=host=a&step=60s&agg=max");
    assert_eq!(max.status, 200, "{}", max.body);
    let max = max.json();
    assert_eq!(max["tier"], "1m");
    assert_eq!(max["series"].as_array().unwrap().len(), 1);
    let points = max["series"][0]["points"].as_array().unwrap();
    assert_eq!(points.len(), 120);
    assert_eq!(points[1], json!([start + 60_000, 11.0]));

    let hourly = range("step=1h&agg=avg").json();
    assert_eq!(hourly["tier"], "1h");
    assert_eq!(
        hourly["series"][1]["points"],
        json!([[start, 179.5], [start + hour, 539.5]])
    );
    let p95 = range("step=1h&agg=p95").json();
    assert_eq!(p95["tier"], "raw");

    for (query, status) in [
        ("agg=median", 400),
        ("step=0", 400),
        ("step=fast", 400),
        ("labels=host", 400),
        ("colour=red", 400),
    ] {
        let answer = range(query);
        assert_eq!(answer.status, status, "{query}: {}", answer.body);
        assert!(
            answer.json()["error"].as_str().is_some(),
            "{query}: {}",
            answer.body
        );
    }
    let unknown = get(host.addr, "/api/v1/query_range?metric=no.such&step=60s");
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    let latest = get(
        host.addr,
        &format!(
            "/api/v1/query?metric=app.queue_depth&labels=%7B%22host%22:%22b%22%7D&at={}",
            start + 65_000
        ),
    )
    .json();
    assert_eq!(latest["series"][0]["value"], 6.0, "{latest}");
    assert_eq!(latest["series"][0]["timestamp"], start + 60_000);

    // The host's own metrics are registered with their first tick: unit,
    // kind and help come with them.
    let cpu = eventually("the system.cpuUsage series", || {
        get(host.addr, "/api/v1/series").json()["series"]
            .as_array()
            .expect("a list of series")
            .iter()
            .find(|s| s["metric"] == "system.cpuUsage")
            .cloned()
    });
    assert_eq!(cpu["unit"], "%");
    assert_eq!(cpu["kind"], "gauge");
    assert!(cpu["help"].as_str().unwrap().contains("CPU"), "{cpu}");
    let mine = get(host.addr, "/api/v1/series?metric=app.queue_depth").json();
    assert_eq!(mine["series"].as_array().unwrap().len(), 2, "{mine}");

    // The same through `perfwatch query`, pointed at this host by a config.
    let cli_config = dir.path().join("cli.toml");
    std::fs::write(&cli_config, format!("port = {}\n", host.addr.port())).unwrap();
    let cli = |args: &[&str]| {
        let out = run_cli(
            ["query"]
                .iter()
                .chain(args)
                .chain(&["--config", cli_config.to_str().unwrap()]),
        );
        (out.success, out.stdout, out.stderr)
    };
    let (start_s, end_s) = (start.to_string(), (start + 2 * hour).to_string());
    let (ok, out, err) = cli(&[
        "app.queue_depth",
        "--labels",
        "host=a",
        "--start",
        &start_s,
        "--end",
        &end_s,
        "--step",
        "1h",
        "--agg",
        "max",
    ]);
    assert!(ok, "{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        answer["series"][0]["points"],
        json!([[start, 359.0], [start + hour, 719.0]])
    );
    let (ok, _, err) = cli(&["app.queue_depth", "--step", "1h", "--agg", "median"]);
    assert!(!ok && err.contains("median"), "{err}");
    let (ok, out, err) = cli(&["--series"]);
    assert!(ok && out.contains("system.cpuUsage"), "{err}");
}
