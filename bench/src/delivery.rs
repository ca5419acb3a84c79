//! Notifications as a receiver sees them, through the shipped `webhook`
//! channel plugin of the real binary to an HTTP receiver in this process:
//! breach → webhook received at a 1 s tick (baseline: breach →
//! `alert_triggered` on the WebSocket, in the same run), and a burst of
//! 1,000 alerts on one rule with grouping on (how many calls reach the
//! receiver, and when the last one does).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::host_process::HostProcess;
use crate::latency::{post, wait_for_alert};
use crate::stats::{Timing, human};

const TICK_MS: u64 = 1000;
const RUNS: usize = 20;
const BURST: usize = 1000;
const GROUP_WAIT_MS: u64 = 1000;
const GROUP_INTERVAL_MS: u64 = 5000;

/// Every request body the receiver got, with when it arrived.
type Received = Arc<Mutex<Vec<(Instant, String)>>>;

/// A loopback HTTP receiver answering `200` to every request.
fn receiver() -> anyhow::Result<(String, Received)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let received = Received::default();
    let log = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let log = log.clone();
            std::thread::spawn(move || serve(stream, &log));
        }
    });
    Ok((url, received))
}

fn serve(stream: TcpStream, log: &Received) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        // Request line and headers.
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        log.lock()
            .expect("received lock")
            .push((Instant::now(), String::from_utf8_lossy(&body).into_owned()));
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        if reader.get_mut().write_all(answer).is_err() {
            return;
        }
    }
}

/// A host with the webhook plugin posting to `url`, a zero-duration rule
/// on `bench.breach`, and `alerting` as given.
fn host(url: &str, alerting: &str) -> anyhow::Result<HostProcess> {
    let webhook = crate::plugins::fixture("webhook")?;
    HostProcess::start_prepared(
        |dir| {
            std::fs::create_dir_all(dir.join("plugins"))?;
            std::fs::copy(&webhook, dir.join("plugins/webhook.wasm"))?;
            Ok(())
        },
        &format!(
            "update_interval = {TICK_MS}\n{alerting}\n\
             [[alerting.channels]]\ntype = \"webhook\"\nconfig = {{ url = \"{url}\" }}\n\
             filters = {{ labels = [\"rule=rule:breach\"] }}\n\
             [[alert_rules]]\nid = \"breach\"\nmetric = \"bench.breach\"\ncondition = \"greater_than\"\nthreshold = 10.0\n"
        ),
    )
}

async fn breach_latency() -> anyhow::Result<(Timing, Timing)> {
    let (url, received) = receiver()?;
    let host = host(&url, "")?;
    let addr = host.addr().to_owned();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await?;
    let mut to_stream = Vec::new();
    let mut to_webhook = Vec::new();
    for run in 0..RUNS {
        // Post at a varying point of the tick, as an application would.
        tokio::time::sleep(Duration::from_millis(137 * run as u64 % TICK_MS)).await;
        let series = format!("r{run:02}");
        let started = Instant::now();
        post(
            &addr,
            &format!(
                r#"[{{"metric": "bench.breach", "value": 50, "labels": {{"run": "{series}"}}}}]"#
            ),
        )?;
        wait_for_alert(&mut ws, "run", &series).await?;
        to_stream.push(started.elapsed());
        let needle = format!("\"{series}\"");
        let deadline = Instant::now() + Duration::from_secs(10);
        let arrived = loop {
            let found = received
                .lock()
                .expect("received lock")
                .iter()
                .find(|(_, body)| body.contains(&needle))
                .map(|(at, _)| *at);
            if let Some(at) = found {
                break at;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "no webhook for {series} within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        to_webhook.push(arrived - started);
    }
    host.ensure_no_errors()?;
    Ok((Timing::of(to_stream), Timing::of(to_webhook)))
}

/// Calls received, alerts they carried, and when the last call arrived
/// after the burst was posted.
async fn burst() -> anyhow::Result<(usize, usize, Duration)> {
    let (url, received) = receiver()?;
    let host = host(
        &url,
        &format!(
            "[alerting]\ngroup_by = [\"rule\"]\ngroup_wait = {GROUP_WAIT_MS}\ngroup_interval = {GROUP_INTERVAL_MS}\n"
        ),
    )?;
    let batch: Vec<String> = (0..BURST)
        .map(|i| {
            format!(
                r#"{{"metric": "bench.breach", "value": 50, "labels": {{"agent": "a{i:04}"}}}}"#
            )
        })
        .collect();
    let started = Instant::now();
    post(host.addr(), &format!("[{}]", batch.join(",")))?;
    // Everything fires on the next tick; the group waits, then sends; a
    // group interval later anything that came after goes too.
    tokio::time::sleep(Duration::from_millis(
        TICK_MS + GROUP_WAIT_MS + 2 * GROUP_INTERVAL_MS,
    ))
    .await;
    host.ensure_no_errors()?;
    let received = received.lock().expect("received lock");
    let alerts: usize = received
        .iter()
        .filter_map(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
        .map(|json| {
            json["alerts"].as_array().map_or(0, Vec::len)
                + json["truncatedAlerts"].as_u64().unwrap_or(0) as usize
        })
        .sum();
    let last = received
        .iter()
        .map(|(at, _)| *at - started)
        .max()
        .context("the receiver got nothing")?;
    Ok((received.len(), alerts, last))
}

pub async fn run() -> anyhow::Result<String> {
    let (stream, webhook) = breach_latency().await?;
    let (calls, alerts, last) = burst().await?;
    let mut out = String::new();
    writeln!(out, "## Notification delivery\n")?;
    writeln!(
        out,
        "Command: `cargo xtask bench channels` (bench/src/delivery.rs): the real binary at a {TICK_MS} ms tick with the \
         shipped `webhook` channel plugin posting to an HTTP receiver in the bench process. A sample above a \
         zero-duration rule is posted at a varying point of the tick, {RUNS} times; the baseline is the same breach \
         reaching a WebSocket client as `alert_triggered`, in the same run.\n"
    )?;
    writeln!(out, "| measure | median | p99 (max) | runs | aim |")?;
    writeln!(out, "| --- | --- | --- | --- | --- |")?;
    writeln!(
        out,
        "| breach → `alert_triggered` on `/ws` (baseline) | {} | {} | {} | |",
        human(stream.median),
        human(stream.p99),
        stream.runs
    )?;
    writeln!(
        out,
        "| breach → webhook received | {} | {} | {} | ≤ one tick + 200 ms = {} ms |",
        human(webhook.median),
        human(webhook.p99),
        webhook.runs,
        TICK_MS + 200
    )?;
    writeln!(
        out,
        "\nA burst of {BURST} alerts on one rule (one POST of {BURST} series above the threshold), grouped by `rule` \
         with `group_wait` {GROUP_WAIT_MS} ms and `group_interval` {GROUP_INTERVAL_MS} ms: **{calls} HTTP call(s)** \
         reached the receiver, carrying {alerts} alerts (sent or counted in `truncatedAlerts`); the last arrived \
         {} after the POST (aim: one call per group interval).\n",
        human(last)
    )?;
    Ok(out)
}
