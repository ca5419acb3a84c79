//! Streaming export: 100 series × 24 h at 1 s (8.64 M points, a closed and
//! merged day) through a CSV exporter plugin, as a user asks for it over
//! HTTP; the host's resident set while exporting, against the same host
//! idle just before, and the rate.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use perfwatch::model::{Labels, Sample};
use perfwatch::store::Store;

use crate::host_process::HostProcess;
use crate::memory::rss_mib;

const SERIES: usize = 100;
const SECONDS: i64 = 86_400;
const DAY_MS: i64 = 86_400_000;
/// Samples per append while filling the store.
const APPEND_BATCH: usize = 200_000;
/// The aim: resident growth over idle while a day is exported.
const AIM_MIB: f64 = 64.0;

/// Fills `data_dir` with the day and merges it, as the host's maintenance
/// would have done by now.
async fn fill(data_dir: &Path, day_start: i64) -> anyhow::Result<()> {
    let store = Store::open(data_dir)?;
    let labels: Vec<Labels> = (0..SERIES)
        .map(|s| Labels::try_from_pairs([("worker".to_owned(), format!("w{s:03}"))]))
        .collect::<Result<_, _>>()?;
    let mut batch = Vec::with_capacity(APPEND_BATCH);
    for second in 0..SECONDS {
        let ts = day_start + second * 1000;
        for (s, labels) in labels.iter().enumerate() {
            // A slow wave per series, with two decimals: a latency-like gauge.
            let value = ((second as f64 / 600.0 + s as f64).sin() * 40.0 + 100.0).round() / 100.0;
            let mut sample = Sample::gauge("export.latency", value, ts);
            sample.unit = "s".to_owned();
            sample.labels = labels.clone();
            batch.push(sample);
        }
        if batch.len() >= APPEND_BATCH {
            store.append(std::mem::take(&mut batch)).await?;
        }
    }
    store.append(batch).await?;
    store.compact(day_start + DAY_MS).await?;
    store.merge(day_start, day_start + DAY_MS).await?;
    store.close().await?;
    Ok(())
}

pub async fn run(csv_component: &Path) -> anyhow::Result<String> {
    let day_start = (crate::memory::now_ms() / DAY_MS - 2) * DAY_MS;
    let filled = Instant::now();
    let host = HostProcess::start_prepared(
        |dir| {
            std::fs::create_dir_all(dir.join("plugins"))?;
            std::fs::copy(csv_component, dir.join("plugins/csv.wasm"))?;
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(fill(&dir.join("data"), day_start))
            })
        },
        // Thresholds and rules would only add their own noise to RSS.
        "",
    )?;
    let fill_time = filled.elapsed();
    // Let start-up settle (window priming, first ticks) before the baseline.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = rss_mib(host.pid())?;

    let peak = Arc::new(std::sync::Mutex::new(idle));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done, pid) = (peak.clone(), done.clone(), host.pid());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Ok(rss) = rss_mib(pid) {
                    let mut peak = peak.lock().expect("peak lock");
                    *peak = peak.max(rss);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let started = Instant::now();
    let answer = client
        .post(format!(
            "http://{}/api/v1/export?format=csv&start={day_start}&end={}",
            host.addr(),
            day_start + DAY_MS
        ))
        .send()
        .await?;
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("the sampler ends");
    let status = answer.status();
    let body: serde_json::Value =
        serde_json::from_slice(&answer.bytes().await?).context("the export's answer")?;
    anyhow::ensure!(status.is_success(), "export failed: {status} {body}");
    let points = body["recordCount"].as_u64().context("recordCount")?;
    anyhow::ensure!(
        points == SERIES as u64 * SECONDS as u64,
        "exported {points} points, expected {}",
        SERIES as i64 * SECONDS
    );
    let file_mib = body["fileSize"].as_f64().unwrap_or(0.0) / 1_048_576.0;
    host.ensure_no_errors()?;
    let growth = *peak.lock().expect("peak lock") - idle;

    let mut out = String::new();
    writeln!(out, "## Streaming export\n")?;
    writeln!(
        out,
        "Command: `cargo xtask bench export` (bench/src/export_stream.rs); {SERIES} series × 24 h at 1 s ({} points, one merged day; filling the store took {:.0} s) exported as CSV through the exporter `cargo xtask new-plugin exporter` generates (`fixture-csv`), over `POST /api/v1/export`; RSS of the real host sampled every 5 ms.\n",
        SERIES as i64 * SECONDS,
        fill_time.as_secs_f64()
    )?;
    writeln!(out, "| measure | value | baseline (same run) | aim |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    writeln!(
        out,
        "| host RSS growth while exporting | {growth:.1} MiB (peak {:.1} MiB) | idle host, {idle:.1} MiB | ≤ {AIM_MIB} MiB |",
        idle + growth
    )?;
    writeln!(
        out,
        "| export rate | {:.0} samples/s ({:.1} s, {file_mib:.0} MiB of CSV) | — | — |",
        points as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    )?;
    writeln!(out)?;
    Ok(out)
}
