//! Host memory with 2,000 active series at a 1 s tick: the real binary is
//! given an hour of history for them (posted with past timestamps), then
//! fed live every second while its resident set is sampled. Compaction runs
//! every 20 s here instead of 10 minutes, so the minute measured includes
//! several, as an hour at the default would.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::host_process::HostProcess;

const SERIES: usize = 2000;
const HISTORY_S: i64 = 3600;
const LIVE_S: u64 = 60;
/// Ticks of history per request: 5 × 2,000 = 10,000 samples.
const TICKS_PER_REQUEST: i64 = 5;
const AIM_MIB: f64 = 64.0;

/// One `/proc/{pid}/status` field in MiB (`VmRSS`, `RssAnon`, `RssFile`).
fn status_mib(pid: u32, field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no {field} in /proc/{pid}/status"))?;
    Ok(kb / 1024.0)
}

/// Resident set of `pid` in MiB.
fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    status_mib(pid, "VmRSS")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// `ticks` consecutive seconds from `first_ms` of every series, as a JSON batch.
fn batch(first_ms: i64, ticks: i64, tick_index: i64) -> String {
    let mut out = String::with_capacity(SERIES * ticks as usize * 80);
    out.push('[');
    for t in 0..ticks {
        for s in 0..SERIES {
            if out.len() > 1 {
                out.push(',');
            }
            // A slow walk per series, 2 decimals, like a real gauge.
            let value = ((tick_index + t) as f64 / 60.0 + s as f64).sin() * 40.0 + 50.0;
            write!(
                out,
                r#"{{"metric":"app.load","value":{value:.2},"timestamp":{},"labels":{{"series":"s{s:04}"}}}}"#,
                first_ms + t * 1000
            )
            .expect("writing to a String");
        }
    }
    out.push(']');
    out
}

async fn post(client: &reqwest::Client, url: &str, body: String) -> anyhow::Result<()> {
    let answer = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await?;
    anyhow::ensure!(answer.status().is_success(), "{}", answer.text().await?);
    Ok(())
}

/// The report section.
pub async fn run() -> anyhow::Result<String> {
    let host = HostProcess::start("update_interval = 1000\ncompaction_interval = 20000\n")?;
    let pid = host.pid();
    let url = format!("http://{}/api/v1/metrics", host.addr());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_mib(pid)?;
    let idle_file = status_mib(pid, "RssFile")?;

    let started = Instant::now();
    let history_start = (now_ms() / 1000 - HISTORY_S) * 1000;
    let mut t = 0;
    while t < HISTORY_S {
        let ticks = TICKS_PER_REQUEST.min(HISTORY_S - t);
        post(&client, &url, batch(history_start + t * 1000, ticks, t)).await?;
        t += ticks;
    }
    let backfill = started.elapsed();
    let after_backfill = rss_mib(pid)?;

    let mut peak = after_backfill;
    let mut readings = Vec::new();
    for i in 0..LIVE_S {
        let tick = (now_ms() / 1000) * 1000;
        post(&client, &url, batch(tick, 1, HISTORY_S + i as i64)).await?;
        let rss = rss_mib(pid)?;
        peak = peak.max(rss);
        readings.push(rss);
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    let end = *readings.last().expect("live readings");
    host.ensure_no_errors()?;
    let end_anon = status_mib(pid, "RssAnon")?;
    let end_file = status_mib(pid, "RssFile")?;
    let mut out = String::new();
    writeln!(out, "## Memory\n")?;
    writeln!(
        out,
        "Command: `cargo xtask bench` (bench/src/memory.rs; `perfwatch-bench memory` alone): the real binary at a \
         1 s tick, {SERIES} series (`app.load{{series}}`) given {HISTORY_S} s of history through `POST /api/v1/metrics` \
         ({:.1} s), then fed every second for {LIVE_S} s with compaction every 20 s; resident set from /proc.\n",
        backfill.as_secs_f64()
    )?;
    writeln!(out, "| measure | value | baseline (same run) | aim |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    writeln!(
        out,
        "| host RSS after the hour of history and {LIVE_S} s live, {SERIES} series | {end:.1} MiB (peak {peak:.1} MiB): {end_anon:.1} MiB anonymous, {end_file:.1} MiB file-backed (the binary's pages) | idle host, no series: {idle:.1} MiB ({idle_file:.1} MiB file-backed) | ≤ {AIM_MIB:.0} MiB |"
    )?;
    writeln!(
        out,
        "| host RSS right after the history was posted | {after_backfill:.1} MiB | — | — |\n"
    )?;
    Ok(out)
}
