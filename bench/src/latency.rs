//! From a sample crossing a zero-duration threshold, posted through
//! `POST /api/v1/metrics`, to `alert_triggered` on a WebSocket client of
//! the real binary. The aim is one tick plus 100 ms; the tick is 1 s.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;

use crate::host_process::HostProcess;
use crate::stats::{Timing, human};

const TICK_MS: u64 = 1000;
const RUNS: usize = 10;

/// Posts a JSON batch to `POST /api/v1/metrics` of the host at `addr`.
pub fn post(addr: &str, body: &str) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    write!(
        stream,
        "POST /api/v1/metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    anyhow::ensure!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    Ok(())
}

/// A WebSocket client of the host's `/ws`.
pub type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Waits (up to 10 s) for `alert_triggered` of an alert whose label
/// `label` is `value`.
pub async fn wait_for_alert(ws: &mut Stream, label: &str, value: &str) -> anyhow::Result<()> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .context("no alert within 10 s")?
            .context("stream closed")??;
        let json: serde_json::Value = serde_json::from_str(&message.into_text()?)?;
        if json["type"] == "alert_triggered" && json["data"]["labels"][label] == value {
            return Ok(());
        }
    }
}

pub async fn run() -> anyhow::Result<String> {
    let host = HostProcess::start(&format!(
        "update_interval = {TICK_MS}\n\
         [[alert_rules]]\nid = \"latency-probe\"\nmetric = \"bench.latency\"\ncondition = \"greater_than\"\nthreshold = 10.0\n"
    ))?;
    let addr = host.addr().to_owned();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await?;

    let mut latencies = Vec::new();
    for run in 0..RUNS {
        // Post at a random point of the tick, as an application would.
        tokio::time::sleep(Duration::from_millis(137 * run as u64 % TICK_MS)).await;
        let series = format!("run{run}");
        let started = Instant::now();
        post(
            &addr,
            &format!(
                r#"[{{"metric": "bench.latency", "value": 50, "labels": {{"run": "{series}"}}}}]"#
            ),
        )?;
        wait_for_alert(&mut ws, "run", &series).await?;
        latencies.push(started.elapsed());
    }
    drop(host);
    let timing = Timing::of(latencies);
    let mut out = String::new();
    writeln!(out, "## Alert latency\n")?;
    writeln!(
        out,
        "Command: `cargo xtask bench` (bench/src/latency.rs): the real binary at a {TICK_MS} ms tick; a sample above a \
         zero-duration rule is posted at a varying point of the tick and the time to `alert_triggered` on a WebSocket \
         client is measured, {RUNS} times.\n"
    )?;
    writeln!(out, "| measure | median | p99 (max) | runs | aim |")?;
    writeln!(out, "| --- | --- | --- | --- | --- |")?;
    writeln!(
        out,
        "| `POST /api/v1/metrics` → `alert_triggered` | {} | {} | {} | ≤ one tick + 100 ms = {} ms |",
        human(timing.median),
        human(timing.p99),
        timing.runs,
        TICK_MS + 100
    )?;
    writeln!(out)?;
    Ok(out)
}
