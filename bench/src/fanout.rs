//! The live stream's fan-out: the real binary at a 1 s tick with 1,000
//! WebSocket clients, all run by this process (the load generator shares
//! the machine's two cores with the host). Measured against the same host
//! in the same run: idle (no client) for its CPU and RSS, and with a
//! single client for the delivery delay.
//!
//! A message's delay is its arrival at a client minus its tick's
//! timestamp, so it includes the tick's own work (collect, commit, rules)
//! before the publish; the single-client baseline has that work alone.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use crate::host_process::HostProcess;
use crate::memory::rss_mib;

const TICK_MS: u64 = 1000;
const CLIENTS: usize = 1000;
/// Seconds each phase is measured for.
const MEASURE_S: u64 = 30;
const AIM_CPU_PERCENT: f64 = 2.0;
const AIM_P99_MS: f64 = 50.0;

/// CPU seconds (user + system) `pid` has used.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; fields count from after its `)`.
    let rest = stat.rsplit_once(')').context("a /proc stat line")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok(ticks / per_second)
}

/// Share of one core `pid` uses over `seconds`, in percent.
async fn cpu_percent(pid: u32, seconds: u64) -> anyhow::Result<f64> {
    let before = cpu_seconds(pid)?;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    Ok((cpu_seconds(pid)? - before) / seconds as f64 * 100.0)
}

fn now_ms_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
        * 1000.0
}

/// The tick timestamp of a `metrics_update`, found without parsing the
/// whole message (the load generator must stay cheap).
fn tick_of(text: &str) -> Option<i64> {
    if !text.contains("\"type\":\"metrics_update\"") {
        return None;
    }
    let at = text.find("\"timestamp\":")? + "\"timestamp\":".len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Delays (ms) of `metrics_update` messages received while recording.
#[derive(Clone, Default)]
struct Delays {
    recording: Arc<AtomicBool>,
    values: Arc<Mutex<Vec<f64>>>,
}

impl Delays {
    fn take(&self) -> Vec<f64> {
        std::mem::take(&mut *self.values.lock().expect("delays lock"))
    }
}

/// Connects one client, reads its `initial_data`, then records delays in
/// a task of its own.
async fn client(addr: &str, delays: Delays) -> anyhow::Result<()> {
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await?;
    let first = socket
        .next()
        .await
        .context("closed before initial_data")??;
    anyhow::ensure!(
        first.to_text()?.contains("\"initial_data\""),
        "the first message is not initial_data"
    );
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            if !delays.recording.load(Ordering::Relaxed) {
                continue;
            }
            if let Some(tick) = tick_of(&text) {
                let delay = now_ms_f64() - tick as f64;
                delays.values.lock().expect("delays lock").push(delay);
            }
        }
    });
    Ok(())
}

fn percentile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

pub async fn run() -> anyhow::Result<String> {
    let host = HostProcess::start(&format!("update_interval = {TICK_MS}\n"))?;
    let pid = host.pid();
    let addr = host.addr().to_owned();
    // Let start-up work (plugin compilation, priming) settle.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let idle_cpu = cpu_percent(pid, MEASURE_S).await?;
    let idle_rss = rss_mib(pid)?;

    let delays = Delays::default();
    client(&addr, delays.clone()).await?;
    delays.recording.store(true, Ordering::Relaxed);
    let one_cpu = cpu_percent(pid, MEASURE_S).await?;
    delays.recording.store(false, Ordering::Relaxed);
    let mut one = delays.take();
    anyhow::ensure!(!one.is_empty(), "the single client received no update");

    let connected = std::time::Instant::now();
    for batch in 0..(CLIENTS - 1).div_ceil(50) {
        let count = 50.min(CLIENTS - 1 - batch * 50);
        let connects = (0..count).map(|_| client(&addr, delays.clone()));
        for result in futures_util::future::join_all(connects).await {
            result?;
        }
    }
    let connect_s = connected.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let self_before = cpu_seconds(std::process::id())?;
    delays.recording.store(true, Ordering::Relaxed);
    let many_cpu = cpu_percent(pid, MEASURE_S).await?;
    delays.recording.store(false, Ordering::Relaxed);
    let generator_cpu = (cpu_seconds(std::process::id())? - self_before) / MEASURE_S as f64 * 100.0;
    let many_rss = rss_mib(pid)?;
    let mut many = delays.take();
    host.ensure_no_errors()?;
    let expected = CLIENTS as f64 * MEASURE_S as f64 * 1000.0 / TICK_MS as f64;
    let received = many.len();
    drop(host);

    let beyond_idle = many_cpu - idle_cpu;
    let mut out = String::new();
    writeln!(out, "## Live stream fan-out\n")?;
    writeln!(
        out,
        "Command: `cargo xtask bench fanout` (bench/src/fanout.rs): the real binary at a {TICK_MS} ms tick; \
         {CLIENTS} WebSocket clients on loopback, run by the bench process on the same two cores, each reading \
         every message; {MEASURE_S} s per phase. A message's delay is its arrival minus its tick's timestamp, \
         so it includes the tick's own work before the publish.\n"
    )?;
    writeln!(
        out,
        "| measure | {CLIENTS} clients | baseline (same run) | aim |"
    )?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    writeln!(
        out,
        "| host CPU, % of one core | {many_cpu:.2} % ({beyond_idle:+.2} % over idle) | idle host: {idle_cpu:.2} %; one client: {one_cpu:.2} % | ≤ {AIM_CPU_PERCENT} % over idle |"
    )?;
    writeln!(
        out,
        "| `metrics_update` delay, p50 | {:.1} ms | one client: {:.1} ms | — |",
        percentile(&mut many, 0.5),
        percentile(&mut one, 0.5)
    )?;
    writeln!(
        out,
        "| `metrics_update` delay, p99 | {:.1} ms | one client: {:.1} ms | ≤ {AIM_P99_MS} ms |",
        percentile(&mut many, 0.99),
        percentile(&mut one, 0.99)
    )?;
    writeln!(
        out,
        "| messages received | {received} of {expected:.0} | — | all |"
    )?;
    writeln!(
        out,
        "| host RSS | {many_rss:.1} MiB ({:+.1} MiB, {:.1} KiB per client) | idle host: {idle_rss:.1} MiB | — |",
        many_rss - idle_rss,
        (many_rss - idle_rss) * 1024.0 / CLIENTS as f64
    )?;
    writeln!(
        out,
        "| load generator CPU (this process), % of one core | {generator_cpu:.1} % | — | — |"
    )?;
    writeln!(
        out,
        "| connecting {CLIENTS} clients | {connect_s:.2} s | — | — |"
    )?;
    writeln!(out)?;
    Ok(out)
}
