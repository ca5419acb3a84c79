//! The store end to end: nothing acknowledged is lost to SIGKILL, and the
//! query API answers ranges, latest values and the series list.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use perfwatch_tests::{PerfwatchProcess, get, perfwatch_binary, post_json, try_post_json};
use serde_json::{Value, json};

fn write_config(dir: &Path) -> std::path::PathBuf {
    let config = format!(
        "port = 0\nupdate_interval = 1000\ndata_dir = \"{}\"\nrules_dir = \"{}\"\n",
        dir.join("data").display(),
        dir.join("no-rules").display(),
    );
    let path = dir.join("perfwatch.toml");
    std::fs::write(&path, config).unwrap();
    path
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

/// Posts batches until told to stop; returns how many samples were acknowledged
/// (they are always a prefix: a writer stops at its first failure).
fn write_until_stopped(addr: SocketAddr, base: i64, writer: usize, stop: Arc<AtomicBool>) -> i64 {
    let mut acknowledged = 0;
    while !stop.load(Ordering::Relaxed) {
        match try_post_json(addr, "/api/v1/metrics", &batch(base, writer, acknowledged)) {
            Ok(answer) if answer.status == 200 => {
                assert_eq!(answer.json()["accepted"], BATCH, "{}", answer.body);
                acknowledged += BATCH;
            }
            _ => break,
        }
    }
    acknowledged
}

#[test]
fn every_acknowledged_sample_survives_sigkill_mid_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let host = PerfwatchProcess::start(&config);
    let addr = host.addr;
    let base = base_ts();
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
            std::thread::spawn(move || {
                let n = write_until_stopped(addr, base, writer, stop);
                acknowledged.lock().unwrap().push((writer, n));
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2500));
    // Killed while both writers have requests in flight.
    host.kill();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.iter().all(|(_, n)| *n >= BATCH),
        "each writer got some batches in before the kill: {acknowledged:?}"
    );

    let host = PerfwatchProcess::start(&config);
    for (writer, n) in acknowledged {
        let path = format!(
            "/api/v1/query?metric=ingest.load&labels=writer={writer}&start=0&end={}",
            base * 2
        );
        // Seen once in a full-suite run and not reproduced since: an answer
        // without this writer's series right after the restart. Ask again for
        // a few seconds, saying what came back, so a transient answer shows
        // in the log while lost data still fails below.
        let mut answer = get(host.addr, &path).json();
        for _ in 0..20 {
            if answer["series"][0]["points"].is_array() {
                break;
            }
            eprintln!("writer {writer}: no points yet after restart: {answer}");
            std::thread::sleep(Duration::from_millis(500));
            answer = get(host.addr, &path).json();
        }
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
    let dir = tempfile::tempdir().unwrap();
    let host = PerfwatchProcess::start(&write_config(dir.path()));
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

    // The host's own metrics are registered: unit, kind and help come with them.
    std::thread::sleep(Duration::from_millis(1500));
    let series = get(host.addr, "/api/v1/series").json();
    let cpu = series["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"] == "system.cpuUsage")
        .unwrap_or_else(|| panic!("no cpu series: {series}"));
    assert_eq!(cpu["unit"], "%");
    assert_eq!(cpu["kind"], "gauge");
    assert!(cpu["help"].as_str().unwrap().contains("CPU"), "{cpu}");
    let mine = get(host.addr, "/api/v1/series?metric=app.queue_depth").json();
    assert_eq!(mine["series"].as_array().unwrap().len(), 2, "{mine}");

    // The same through `perfwatch query`, pointed at this host by a config.
    let cli_config = dir.path().join("cli.toml");
    std::fs::write(&cli_config, format!("port = {}\n", host.addr.port())).unwrap();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(perfwatch_binary())
            .arg("query")
            .args(args)
            .arg("--config")
            .arg(&cli_config)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (
            out.status.success(),
            text,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
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
