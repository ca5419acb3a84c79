//! Streaming export of 8.64 M points (a closed and merged day) through a
//! CSV exporter plugin, as a user asks for it over HTTP; the host's
//! resident set while exporting, against the same host idle just before,
//! and the rate. Two datasets: the one the exporter was built around (100
//! long series of a smooth wave) and one it was not (2,000 short series of
//! a noisy random walk with three labels each).

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

const DAY_MS: i64 = 86_400_000;
/// Samples per append while filling the store.
const APPEND_BATCH: usize = 200_000;
/// The aim: resident growth over idle while a day is exported.
const AIM_MIB: f64 = 64.0;

/// The points one export carries.
struct Dataset {
    name: &'static str,
    series: usize,
    seconds: i64,
    /// Labels of series `s`.
    labels: fn(usize) -> Vec<(String, String)>,
    /// Value of series `s` at `second`, given its previous value.
    value: fn(usize, i64, f64) -> f64,
}

impl Dataset {
    fn points(&self) -> u64 {
        self.series as u64 * self.seconds as u64
    }
}

const DATASETS: [Dataset; 2] = [
    Dataset {
        name: "100 series × 24 h, a smooth wave (the tuned-for one)",
        series: 100,
        seconds: 86_400,
        labels: |s| vec![("worker".to_owned(), format!("w{s:03}"))],
        // A slow wave per series, with two decimals: a latency-like gauge.
        value: |s, second, _| {
            ((second as f64 / 600.0 + s as f64).sin() * 40.0 + 100.0).round() / 100.0
        },
    },
    Dataset {
        name: "2,000 series × 72 min, a noisy random walk, 3 labels",
        series: 2000,
        seconds: 4320,
        labels: |s| {
            vec![
                ("service".to_owned(), format!("svc-{}", s % 37)),
                (
                    "region".to_owned(),
                    ["eu-west", "us-east", "ap-south"][s % 3].to_owned(),
                ),
                (
                    "instance".to_owned(),
                    format!("10.{}.{}.{}:9100", s / 250, s % 250, s % 7),
                ),
            ]
        },
        value: |s, second, previous| {
            // xorshift of (series, second): noise no codec was tuned for.
            let mut x = (s as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ second as u64;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let step = (x % 2001) as f64 / 1000.0 - 1.0;
            ((previous + step).abs() * 1000.0).round() / 1000.0
        },
    },
];

/// Fills `data_dir` with `data` from `day_start` and merges the day, as
/// the host's maintenance would have done by now.
async fn fill(data_dir: &Path, day_start: i64, data: &Dataset) -> anyhow::Result<()> {
    let store = Store::open(data_dir)?;
    let labels: Vec<Labels> = (0..data.series)
        .map(|s| Labels::try_from_pairs((data.labels)(s)))
        .collect::<Result<_, _>>()?;
    let mut values = vec![100.0; data.series];
    let mut batch = Vec::with_capacity(APPEND_BATCH);
    for second in 0..data.seconds {
        let ts = day_start + second * 1000;
        for (s, labels) in labels.iter().enumerate() {
            values[s] = (data.value)(s, second, values[s]);
            let mut sample = Sample::gauge("export.latency", values[s], ts);
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

/// What one export of `data` cost.
struct Measured {
    fill: Duration,
    idle: f64,
    growth: f64,
    elapsed: Duration,
    file_mib: f64,
}

async fn measure(component: &Path, format: &str, data: &Dataset) -> anyhow::Result<Measured> {
    let day_start = (crate::memory::now_ms() / DAY_MS - 2) * DAY_MS;
    let filled = Instant::now();
    let host = HostProcess::start_prepared(
        |dir| {
            std::fs::create_dir_all(dir.join("plugins"))?;
            std::fs::copy(component, dir.join(format!("plugins/{format}.wasm")))?;
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(fill(&dir.join("data"), day_start, data))
            })
        },
        // Thresholds and rules would only add their own noise to RSS.
        "",
    )?;
    let fill = filled.elapsed();
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
            "http://{}/api/v1/export?format={format}&start={day_start}&end={}",
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
        points == data.points(),
        "exported {points} points, expected {}",
        data.points()
    );
    let file_mib = body["fileSize"].as_f64().unwrap_or(0.0) / 1_048_576.0;
    host.ensure_no_errors()?;
    let growth = *peak.lock().expect("peak lock") - idle;
    Ok(Measured {
        fill,
        idle,
        growth,
        elapsed,
        file_mib,
    })
}

/// An exporter to measure: its component, and whether it gets the second
/// dataset too.
pub struct Format {
    /// What the table calls it.
    pub name: &'static str,
    /// Its component.
    pub component: std::path::PathBuf,
    /// Also measured on the 2,000-series dataset.
    pub both_datasets: bool,
}

pub async fn run(formats: &[Format]) -> anyhow::Result<String> {
    let mut out = String::new();
    writeln!(out, "## Streaming export\n")?;
    writeln!(
        out,
        "Command: `cargo xtask bench export` (bench/src/export_stream.rs); a merged day of {} points per dataset \
         exported through the exporter `cargo xtask new-plugin exporter` generates (`fixture-csv`) and the shipped \
         `csv` and `prometheus-text` exporters, over `POST /api/v1/export`; RSS of the real host sampled every 5 ms, \
         against the same host idle just before.\n",
        DATASETS[0].points()
    )?;
    writeln!(
        out,
        "| exporter | dataset | host RSS growth while exporting (aim ≤ {AIM_MIB} MiB) | idle host (baseline) | export rate | store filled in |"
    )?;
    writeln!(out, "| --- | --- | --- | --- | --- | --- |")?;
    for format in formats {
        let datasets = if format.both_datasets {
            &DATASETS[..]
        } else {
            &DATASETS[..1]
        };
        for data in datasets {
            let plugin = format
                .component
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("x");
            let plugin = plugin.replace('_', "-");
            let m = measure(&format.component, &plugin, data).await?;
            writeln!(
                out,
                "| {} | {} | {:.1} MiB (peak {:.1} MiB) | {:.1} MiB | {:.0} samples/s ({:.1} s, {:.0} MiB written) | {:.0} s |",
                format.name,
                data.name,
                m.growth,
                m.idle + m.growth,
                m.idle,
                data.points() as f64 / m.elapsed.as_secs_f64(),
                m.elapsed.as_secs_f64(),
                m.file_mib,
                m.fill.as_secs_f64()
            )?;
        }
    }
    writeln!(out)?;
    Ok(out)
}
