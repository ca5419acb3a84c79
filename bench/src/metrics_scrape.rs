//! `GET /metrics` of a host holding 2,000 pushed series (three labels each) besides its own: the scrape's time as Prometheus would see it, text 0.0.4 and OpenMetrics, against `GET /healthz` on the same host as the baseline of one HTTP round trip.

use std::fmt::Write as _;
use std::time::Duration;

use crate::host_process::HostProcess;
use crate::stats::{human, time_async};

/// Series pushed before scraping.
const SERIES: usize = 2000;
/// Untimed scrapes first, then timed ones.
const WARMUP: usize = 5;
const RUNS: usize = 100;

/// What Prometheus 2.42 sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

pub async fn run() -> anyhow::Result<String> {
    let host = HostProcess::start("")?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let samples: Vec<serde_json::Value> = (0..SERIES)
        .map(|s| {
            let region = ["eu-west", "us-east", "ap-south"][s % 3];
            serde_json::json!({
                "metric": "app.requestLatency",
                "unit": "ms",
                "value": (s % 97) as f64 + 0.5,
                "labels": {
                    "service": format!("svc-{}", s % 37),
                    "region": region,
                    "instance": format!("10.{}.{}.{}:9100", s / 250, s % 250, s % 7),
                }
            })
        })
        .collect();
    let pushed = client
        .post(format!("http://{}/api/v1/metrics", host.addr()))
        .header("content-type", "application/json")
        .body(serde_json::Value::Array(samples).to_string())
        .send()
        .await?;
    anyhow::ensure!(
        pushed.status().is_success(),
        "push failed: {}",
        pushed.status()
    );

    let url = |path: &str| format!("http://{}{path}", host.addr());
    let mut sizes = (0, 0);
    let text = time_async(WARMUP, RUNS, async || {
        let body = client.get(url("/metrics")).send().await.expect("scrape");
        sizes.0 = body.bytes().await.expect("body").len();
    })
    .await;
    let openmetrics = time_async(WARMUP, RUNS, async || {
        let body = client
            .get(url("/metrics"))
            .header("accept", PROMETHEUS_ACCEPT)
            .send()
            .await
            .expect("scrape");
        sizes.1 = body.bytes().await.expect("body").len();
    })
    .await;
    let health = time_async(WARMUP, RUNS, async || {
        let body = client.get(url("/healthz")).send().await.expect("healthz");
        body.bytes().await.expect("body");
    })
    .await;
    host.ensure_no_errors()?;

    let mut out = String::new();
    writeln!(out, "## Live /metrics\n")?;
    writeln!(
        out,
        "Command: `cargo xtask bench metrics` (bench/src/metrics_scrape.rs); a host holding {SERIES} pushed series \
         of three labels besides its own, scraped {RUNS} times after {WARMUP} untimed scrapes; `GET /healthz` on the \
         same host is the cost of one HTTP round trip.\n"
    )?;
    writeln!(out, "| request | median | p99 | body |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    for (name, timing, size) in [
        ("`/metrics`, text 0.0.4", text, Some(sizes.0)),
        (
            "`/metrics`, OpenMetrics (Prometheus' `Accept`)",
            openmetrics,
            Some(sizes.1),
        ),
        ("`/healthz` (baseline)", health, None),
    ] {
        writeln!(
            out,
            "| {name} | {} | {} | {} |",
            human(timing.median),
            human(timing.p99),
            size.map_or("–".to_owned(), |s| format!(
                "{:.0} KiB",
                s as f64 / 1024.0
            ))
        )?;
    }
    writeln!(out)?;
    Ok(out)
}
