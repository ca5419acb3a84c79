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
/// Hosts measured; the median is reported.
const RUNS: usize = 3;

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
pub fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    status_mib(pid, "VmRSS")
}

pub fn now_ms() -> i64 {
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

/// What one run of the host measured, in MiB.
struct Reading {
    idle: f64,
    idle_file: f64,
    after_backfill: f64,
    peak: f64,
    end: f64,
    end_anon: f64,
    end_file: f64,
    backfill_s: f64,
}

/// One host: an hour of history, a minute live.
async fn measure() -> anyhow::Result<Reading> {
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
    let backfill_s = started.elapsed().as_secs_f64();
    let after_backfill = rss_mib(pid)?;

    let mut peak = after_backfill;
    let mut end = after_backfill;
    for i in 0..LIVE_S {
        let tick = (now_ms() / 1000) * 1000;
        post(&client, &url, batch(tick, 1, HISTORY_S + i as i64)).await?;
        end = rss_mib(pid)?;
        peak = peak.max(end);
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    host.ensure_no_errors()?;
    Ok(Reading {
        idle,
        idle_file,
        after_backfill,
        peak,
        end,
        end_anon: status_mib(pid, "RssAnon")?,
        end_file: status_mib(pid, "RssFile")?,
        backfill_s,
    })
}

/// The report section: [`RUNS`] hosts, one after another; the run with the
/// median final RSS is reported, with the others' range, because the
/// binary's resident pages vary with which code ran last.
pub async fn run() -> anyhow::Result<String> {
    let mut runs = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        runs.push(measure().await?);
    }
    runs.sort_by(|a, b| a.end.total_cmp(&b.end));
    let m = &runs[RUNS / 2];
    let ends: Vec<String> = runs.iter().map(|r| format!("{:.1}", r.end)).collect();
    let files: Vec<String> = runs.iter().map(|r| format!("{:.1}", r.end_file)).collect();
    let mut out = String::new();
    writeln!(out, "## Memory\n")?;
    writeln!(
        out,
        "Command: `cargo xtask bench` (bench/src/memory.rs; `perfwatch-bench memory` alone): the real binary at a \
         1 s tick, {SERIES} series (`app.load{{series}}`) given {HISTORY_S} s of history through `POST /api/v1/metrics` \
         ({:.1} s), then fed every second for {LIVE_S} s with compaction every 20 s; resident set from /proc. \
         {RUNS} hosts one after another; the median run is shown.\n",
        m.backfill_s
    )?;
    writeln!(out, "| measure | value | baseline (same run) | aim |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    writeln!(
        out,
        "| host RSS after the hour of history and {LIVE_S} s live, {SERIES} series | {:.1} MiB (peak {:.1} MiB): {:.1} MiB anonymous, {:.1} MiB file-backed (the binary's pages); all runs: {} MiB, of which file-backed {} MiB | idle host, no series: {:.1} MiB ({:.1} MiB file-backed) | ≤ {AIM_MIB:.0} MiB |",
        m.end,
        m.peak,
        m.end_anon,
        m.end_file,
        ends.join(", "),
        files.join(", "),
        m.idle,
        m.idle_file,
    )?;
    writeln!(
        out,
        "| host RSS right after the history was posted | {:.1} MiB | — | — |\n",
        m.after_backfill
    )?;
    Ok(out)
}
