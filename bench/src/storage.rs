//! Storage and ingestion against Prometheus, measured in the same run on
//! the same data (bench/src/dataset.rs): bytes per sample on disk, ingest
//! rate, and a one-day range query. This file runs the Prometheus side and
//! perfwatch's ingest API; store.rs measures perfwatch's store itself.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::dataset::{Dataset, SERIES_PER_SHAPE, Shape};
use crate::host_process::HostProcess;
use crate::ingest::{self, DEFAULT_LOAD, Load, Rate, Rates};
use crate::prometheus::{self, MAX_BLOCK_DURATION, Server, Tsdb};
use crate::stats::{Timing, human};

/// The range query's step, as the issue sets it.
pub const STEP_S: u32 = 60;
/// Timed runs of each range query.
const QUERY_RUNS: usize = 30;
/// Ingest runs per receiver, each on a fresh one; the median is reported.
const INGEST_RUNS: usize = 3;
/// The ingest aim of the issue.
const INGEST_AIM_PER_S: f64 = 300_000.0;
/// The queried series: `system.cpuUsage{host="h07"}`, the least
/// compressible shape.
const QUERIED_SERIES: usize = 7;

/// What Prometheus did with the dataset.
pub struct PrometheusFigures {
    pub version: String,
    pub tsdb: Tsdb,
    /// Bytes per sample of a TSDB holding only one shape's 20 series.
    pub by_shape: Vec<(Shape, f64)>,
    /// `avg_over_time(series[60s])`, step 60 s, over the day.
    pub avg_query: Timing,
    /// The plain selector, step 60 s, over the day.
    pub plain_query: Timing,
    pub avg_query_text: String,
    pub plain_query_text: String,
    pub remote_write: Rates,
    /// Wall time of the steps, for the report.
    pub steps: Vec<(&'static str, Duration)>,
}

/// perfwatch's figures beside Prometheus's. The store's size and range
/// query are measured with the store itself (not in this file); `None`
/// prints as not measured.
#[derive(Default)]
pub struct PerfwatchFigures {
    /// Bytes on disk and the samples in them, for the same dataset.
    pub store_bytes: Option<(u64, usize)>,
    /// One series, the day, 60 s buckets.
    pub query_range: Option<Timing>,
    /// `POST /api/v1/metrics` with the same load as Prometheus's receiver.
    pub json_ingest: Option<Rates>,
    /// perfwatch's own `POST /api/v1/write`, when this build has it.
    pub remote_write: Option<Rates>,
    /// Samples/s through the store's append + compaction, and the slowest compaction.
    pub bulk_ingest: Option<(f64, Duration)>,
    /// Bytes per sample of a store holding one shape's series alone.
    pub store_by_shape: Vec<(Shape, f64)>,
    /// The end-of-day merge: the day's compacted samples into coded chunks.
    pub merge_time: Option<Duration>,
    /// Samples/s through `Store::append` alone.
    pub append_rate: Option<f64>,
    /// The whole file, free blocks included.
    pub store_file_bytes: Option<u64>,
}

/// Everything this section measures: Prometheus, then perfwatch's ingest.
pub async fn run() -> anyhow::Result<String> {
    let dataset = Dataset::realistic();
    let prometheus = measure_prometheus(&dataset).await?;
    let mut perfwatch = PerfwatchFigures::default();
    let mut steps = prometheus.steps.clone();

    let started = Instant::now();
    let store = crate::store::measure(&dataset, QUERIED_SERIES, STEP_S).await?;
    perfwatch.store_bytes = Some((store.live_bytes, store.samples));
    perfwatch.store_file_bytes = Some(store.bytes);
    perfwatch.query_range = Some(store.query_range);
    perfwatch.bulk_ingest = Some((store.bulk_per_second, store.slowest_compaction));
    perfwatch.append_rate = Some(store.append_per_second);
    perfwatch.merge_time = Some(store.merge_time);
    perfwatch.store_by_shape = store.by_shape;
    steps.push((
        "perfwatch store: load, compact, query, per shape",
        started.elapsed(),
    ));

    let started = Instant::now();
    let mut runs = Vec::with_capacity(INGEST_RUNS);
    for _ in 0..INGEST_RUNS {
        runs.push(perfwatch_json_rate(&dataset, DEFAULT_LOAD).await?);
    }
    perfwatch.json_ingest = Some(Rates::new(runs));
    steps.push((
        "perfwatch JSON ingest runs (start, encode, send)",
        started.elapsed(),
    ));

    let started = Instant::now();
    let mut runs = Vec::with_capacity(INGEST_RUNS);
    for _ in 0..INGEST_RUNS {
        match perfwatch_remote_write_rate(&dataset, DEFAULT_LOAD).await? {
            Some(rate) => runs.push(rate),
            None => break,
        }
    }
    if !runs.is_empty() {
        perfwatch.remote_write = Some(Rates::new(runs));
        steps.push(("perfwatch remote-write runs", started.elapsed()));
    }
    render(&dataset, &prometheus, &perfwatch, &steps)
}

/// The Prometheus side: build the TSDB, time the queries on it, then a
/// fresh server's remote-write receive rate.
pub async fn measure_prometheus(dataset: &Dataset) -> anyhow::Result<PrometheusFigures> {
    let version = prometheus::version()?;
    let mut steps = Vec::new();
    let tsdb = Tsdb::build(dataset)?;
    steps.push(("OpenMetrics text written", tsdb.write_time));
    steps.push((
        "promtool create-blocks-from openmetrics",
        tsdb.promtool_time,
    ));

    let started = Instant::now();
    let mut by_shape = Vec::new();
    for shape in Shape::ALL {
        let part = Tsdb::build(&dataset.of_shape(shape))?;
        by_shape.push((shape, part.bytes_per_sample()));
    }
    steps.push(("the same per shape (5 TSDBs)", started.elapsed()));

    let started = Instant::now();
    let (avg_query, plain_query, avg_query_text, plain_query_text) = {
        let server = Server::start(&tsdb.path(), &[]).await?;
        let selector = prometheus::selector(&dataset.series()[QUERIED_SERIES]);
        let range = (crate::dataset::START_MS, dataset.end_ms());
        let points = ((range.1 - range.0) / (i64::from(STEP_S) * 1000) + 1) as usize;
        let avg_text = format!("avg_over_time({selector}[{STEP_S}s])");
        let avg =
            prometheus::query_range_timing(&server, &avg_text, range, STEP_S, points, QUERY_RUNS)
                .await?;
        let plain =
            prometheus::query_range_timing(&server, &selector, range, STEP_S, points, QUERY_RUNS)
                .await?;
        (avg, plain, avg_text, selector)
    };
    steps.push(("Prometheus start and query_range runs", started.elapsed()));

    let started = Instant::now();
    let mut runs = Vec::with_capacity(INGEST_RUNS);
    for _ in 0..INGEST_RUNS {
        runs.push(prometheus_remote_write_rate(dataset, DEFAULT_LOAD).await?);
    }
    let remote_write = Rates::new(runs);
    steps.push((
        "Prometheus remote-write runs (start, encode, send)",
        started.elapsed(),
    ));

    Ok(PrometheusFigures {
        version,
        tsdb,
        by_shape,
        avg_query,
        plain_query,
        avg_query_text,
        plain_query_text,
        remote_write,
        steps,
    })
}

/// A fresh Prometheus's remote-write receive rate. What it accepted is
/// checked against its own count of appended samples.
pub async fn prometheus_remote_write_rate(dataset: &Dataset, load: Load) -> anyhow::Result<Rate> {
    let empty = tempfile::tempdir()?;
    let server = Server::start(empty.path(), &["--web.enable-remote-write-receiver"]).await?;
    let rate = ingest::remote_write_rate(&server.remote_write_url(), dataset, load).await?;
    let appended = server.samples_appended().await?;
    anyhow::ensure!(
        rate.accepted > 0 && appended == rate.accepted as u64,
        "Prometheus answered 2xx for {} samples and appended {appended} (first error: {:?}); its log ends:\n{}",
        rate.accepted,
        rate.first_error,
        server.log_tail()
    );
    Ok(rate)
}

/// A perfwatch that keeps the dataset's old timestamps: the day starts
/// 2026-11-01, and the hourly retention sweep must not race the run.
fn start_perfwatch() -> anyhow::Result<HostProcess> {
    HostProcess::start(
        "retention_days = 36500\nrollup_1m_retention_days = 36500\nrollup_1h_retention_days = 36500\n",
    )
}

/// `POST /api/v1/metrics` of the real binary, fresh data dir.
pub async fn perfwatch_json_rate(dataset: &Dataset, load: Load) -> anyhow::Result<Rate> {
    let host = start_perfwatch()?;
    let rate = ingest::json_rate(host.addr(), dataset, load).await?;
    host.ensure_no_errors()?;
    Ok(rate)
}

/// perfwatch's `POST /api/v1/write`, fresh data dir; `None` when this
/// build does not answer it.
pub async fn perfwatch_remote_write_rate(
    dataset: &Dataset,
    load: Load,
) -> anyhow::Result<Option<Rate>> {
    let host = start_perfwatch()?;
    let url = format!("http://{}/api/v1/write", host.addr());
    if !ingest::accepts_remote_write(&url).await? {
        return Ok(None);
    }
    let rate = ingest::remote_write_rate(&url, dataset, load).await?;
    host.ensure_no_errors()?;
    Ok(Some(rate))
}

/// The median rate, and the failures of all runs if any.
fn rate_text(rates: &Rates) -> String {
    let mut text = format!("{} samples/s", thousands(rates.median().per_second()));
    if let (failed, first) = rates.failures()
        && failed > 0
    {
        let requests: usize = rates.median().requests * rates.runs();
        write!(
            text,
            " ({failed} of {requests} requests failed: {})",
            first.unwrap_or("?")
        )
        .expect("writing to a String");
    }
    text
}

/// `slowest … fastest` of the runs.
fn rate_range(rates: &Rates) -> String {
    format!(
        "{} … {} samples/s",
        thousands(rates.slowest().per_second()),
        thousands(rates.fastest().per_second())
    )
}

/// `1,234,567`.
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// The report section.
pub fn render(
    dataset: &Dataset,
    prom: &PrometheusFigures,
    pw: &PerfwatchFigures,
    steps: &[(&str, Duration)],
) -> anyhow::Result<String> {
    let load = DEFAULT_LOAD;
    let tsdb = &prom.tsdb;
    let mut out = String::new();
    writeln!(out, "## Storage and ingestion\n")?;
    writeln!(
        out,
        "Command: `cargo xtask bench` (bench/src/storage.rs; `perfwatch-bench storage` runs this section \
         alone), against {}. Data (bench/src/dataset.rs): {} series × {} points at 1 s, {} samples, \
         {SERIES_PER_SHAPE} each of CPU % (walk + sine, 2 decimals), memory % (slow walk), byte counters, \
         near-constant integer gauges and latencies (log-normal, 2 decimals). Prometheus's TSDB is built \
         from the same points with `promtool tsdb create-blocks-from openmetrics \
         --max-block-duration={MAX_BLOCK_DURATION}` (promtool rounds to the compactor's 2 h × 3ⁿ \
         ranges; the default would be 2 h blocks, only the compactor's first level). Ingest: {} \
         samples in {}-sample batches over {} keep-alive connections, each connection owning half of \
         the series and walking it forward in time; bodies are encoded before the clock starts.\n",
        prom.version,
        dataset.series().len(),
        thousands(dataset.points() as f64),
        thousands(dataset.samples() as f64),
        thousands(load.samples as f64),
        thousands(load.batch_samples as f64),
        load.connections,
    )?;
    writeln!(
        out,
        "| measure | median | p99 | runs | baseline (same run) | ratio | aim |"
    )?;
    writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |")?;

    let prom_bps = tsdb.bytes_per_sample();
    let file = match (pw.store_file_bytes, pw.store_bytes) {
        (Some(file), Some((_, samples))) => format!(
            "; the file, with the blocks the day's merge freed for the next day's data: {} = {:.2} B/sample",
            mb(file),
            file as f64 / samples as f64
        ),
        _ => String::new(),
    };
    let (size, size_ratio) = match pw.store_bytes {
        Some((bytes, samples)) => {
            let bps = bytes as f64 / samples as f64;
            (
                format!("{bps:.2} B/sample ({})", mb(bytes)),
                format!("{:.2}×", bps / prom_bps),
            )
        }
        None => ("not measured in this run".to_owned(), "—".to_owned()),
    };
    writeln!(
        out,
        "| perfwatch store: bytes per sample on disk after checkpoint, blocks in use (rollups and series dictionary included){file} | {size} | — | 1 | Prometheus TSDB: {prom_bps:.2} B/sample ({}, {} block{}) | {size_ratio} | ≤ 1.5 B/sample |",
        mb(tsdb.bytes),
        tsdb.blocks,
        if tsdb.blocks == 1 { "" } else { "s" }
    )?;

    let prom_rw = prom.remote_write.median().per_second();
    if let Some(per_second) = pw.append_rate {
        writeln!(
            out,
            "| perfwatch store: bulk path, `Store::append` of 60,000 samples per transaction (durable on return), samples a second | {} samples/s | — | 144 | Prometheus remote-write receiver: {} | {:.2}× | ≥ 1,000,000 samples/s |",
            thousands(per_second),
            rate_text(&prom.remote_write),
            per_second / prom_rw
        )?;
    }
    if let Some((per_second, slowest)) = pw.bulk_ingest {
        writeln!(
            out,
            "| perfwatch store: the same with the compaction the host runs every 10 minutes after each append (on the maintenance thread, which appends do not wait for), samples a second | {} samples/s | — | 1 | Prometheus remote-write receiver: {} | {:.2}× | — |",
            thousands(per_second),
            rate_text(&prom.remote_write),
            per_second / prom_rw
        )?;
        writeln!(
            out,
            "| perfwatch store: slowest compaction (60,000 samples into sorted chunks and rollups) | {} | — | 144 | — | — | — |",
            human(slowest)
        )?;
        if let Some(merge) = pw.merge_time {
            writeln!(
                out,
                "| perfwatch store: end-of-day merge: the day's 8.64 M compacted samples coded into chunks and its 1-minute rollups rewritten sorted (on its own thread; appends go on) | {} | — | 1 | — | — | — |",
                human(merge)
            )?;
        }
    }
    let receivers = [
        (
            "`POST /api/v1/metrics` (JSON)",
            pw.json_ingest.as_ref(),
            true,
        ),
        (
            "`POST /api/v1/write` (remote-write 1.0)",
            pw.remote_write.as_ref(),
            false,
        ),
    ];
    for (what, rates, always) in receivers {
        let (median, runs, ratio) = match rates {
            Some(r) => (
                rate_text(r),
                r.runs().to_string(),
                format!("{:.2}×", r.median().per_second() / prom_rw),
            ),
            None if always => (
                "not measured in this run".to_owned(),
                "—".to_owned(),
                "—".to_owned(),
            ),
            None => continue,
        };
        writeln!(
            out,
            "| perfwatch ingest: {what}, samples accepted a second | {median} | — | {runs} | Prometheus remote-write receiver: {} | {ratio} | ≥ {} samples/s |",
            rate_text(&prom.remote_write),
            thousands(INGEST_AIM_PER_S)
        )?;
    }

    let (query, query_p99, query_runs, query_ratio) = match &pw.query_range {
        Some(t) => (
            human(t.median),
            human(t.p99),
            t.runs.to_string(),
            format!(
                "{:.2}×",
                t.median.as_secs_f64() / prom.avg_query.median.as_secs_f64()
            ),
        ),
        None => (
            "not measured in this run".to_owned(),
            "—".to_owned(),
            "—".to_owned(),
            "—".to_owned(),
        ),
    };
    writeln!(
        out,
        "| perfwatch store: one series, 24 h at 1 s, {STEP_S} s averages | {query} | {query_p99} | {query_runs} | Prometheus `query_range` of `{}`, step {STEP_S} s: {} (p99 {}) | {query_ratio} | ≤ 10 ms |",
        prom.avg_query_text,
        human(prom.avg_query.median),
        human(prom.avg_query.p99)
    )?;
    writeln!(out)?;

    writeln!(out, "Prometheus in detail:\n")?;
    writeln!(out, "| measure | median | p99 | runs |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    for (text, t) in [
        (&prom.avg_query_text, &prom.avg_query),
        (&prom.plain_query_text, &prom.plain_query),
    ] {
        writeln!(
            out,
            "| `query_range` `{text}`, 24 h, step {STEP_S} s | {} | {} | {} |",
            human(t.median),
            human(t.p99),
            t.runs
        )?;
    }
    writeln!(
        out,
        "| remote-write receive, {} samples, empty TSDB, a fresh server each run | {} | — | {} |",
        thousands(prom.remote_write.median().sent as f64),
        rate_text(&prom.remote_write),
        prom.remote_write.runs()
    )?;
    writeln!(
        out,
        "| TSDB on disk (chunks, index, meta.json, tombstones) | {} = {prom_bps:.3} B/sample, {} block{} | — | 1 |",
        mb(tsdb.bytes),
        tsdb.blocks,
        if tsdb.blocks == 1 { "" } else { "s" }
    )?;
    let by_shape: Vec<String> = prom
        .by_shape
        .iter()
        .map(|(shape, bps)| format!("{} {bps:.2}", shape.describe()))
        .collect();
    writeln!(
        out,
        "| TSDB of one shape's {SERIES_PER_SHAPE} series alone, B/sample | {} | — | 1 |",
        by_shape.join(", ")
    )?;
    if !pw.store_by_shape.is_empty() {
        let ours: Vec<String> = pw
            .store_by_shape
            .iter()
            .map(|(shape, bps)| format!("{} {bps:.2}", shape.describe()))
            .collect();
        writeln!(
            out,
            "| perfwatch store of one shape's {SERIES_PER_SHAPE} series alone, B/sample (blocks in use; 256 KiB blocks make a small database coarse) | {} | — | 1 |",
            ours.join(", ")
        )?;
    }
    writeln!(out)?;
    let mut ranges = vec![format!(
        "Prometheus remote-write {}",
        rate_range(&prom.remote_write)
    )];
    if let Some(r) = &pw.json_ingest {
        ranges.push(format!("perfwatch JSON {}", rate_range(r)));
    }
    if let Some(r) = &pw.remote_write {
        ranges.push(format!("perfwatch remote-write {}", rate_range(r)));
    }
    writeln!(
        out,
        "Ingest runs, slowest … fastest: {}.\n",
        ranges.join("; ")
    )?;
    let steps: Vec<String> = steps
        .iter()
        .map(|(what, d)| format!("{what} {:.1} s", d.as_secs_f64()))
        .collect();
    writeln!(
        out,
        "Wall time of this section's steps: {} (OpenMetrics text: {}).\n",
        steps.join(", "),
        mb(tsdb.openmetrics_bytes)
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(2_345_678.0), "2,345,678");
    }
}
