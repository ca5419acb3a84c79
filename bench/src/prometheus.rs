//! Prometheus as the storage benchmarks' baseline, run from Debian's
//! `prometheus` package (`cargo xtask bench` installs it): a TSDB built
//! from the dataset with `promtool tsdb create-blocks-from openmetrics`,
//! its size on disk, `query_range` timings on it, and a remote-write
//! receiver. Each server is a child process on a free loopback port,
//! killed on drop.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::dataset::{Dataset, SeriesSpec};
use crate::remote_write::prometheus_name;
use crate::stats::{Timing, time_async};

/// promtool's `--max-block-duration`. promtool rounds it down to one of
/// the compactor's ranges (2 h × 3ⁿ: 2, 6, 18, 54 h …), so this gives 54 h
/// blocks: what a long-retention Prometheus compacts a day into, where the
/// default 2 h blocks are only its first level. Blocks are aligned to
/// multiples of their range since the epoch, so the day may span two.
pub const MAX_BLOCK_DURATION: &str = "54h";

/// How long a server may take to answer `/-/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

const MISSING: &str = "Prometheus is missing: `cargo xtask bench` installs Debian's `prometheus` \
                       package (or `apt-get install prometheus`)";

/// `prometheus, version 2.42.0+ds (…)`.
pub fn version() -> anyhow::Result<String> {
    let output = Command::new("prometheus")
        .arg("--version")
        .output()
        .context(MISSING)?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + String::from_utf8_lossy(&output.stderr).as_ref();
    Ok(text
        .lines()
        .next()
        .context("`prometheus --version` printed nothing")?
        .trim()
        .to_owned())
}

/// The OpenMetrics selector of a series, `system_cpuUsage{host="h07"}`.
pub fn selector(spec: &SeriesSpec) -> String {
    let labels: Vec<String> = spec
        .labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{}{{{}}}", prometheus_name(spec), labels.join(","))
}

fn escape(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// Writes the dataset as OpenMetrics text, series after series (each
/// metric family is contiguous, as the format requires), timestamps in
/// seconds; returns the bytes written.
pub fn write_openmetrics(dataset: &Dataset, out: impl Write) -> anyhow::Result<u64> {
    let mut out = CountingWriter {
        inner: BufWriter::with_capacity(1 << 20, out),
        bytes: 0,
    };
    let mut family = String::new();
    for (s, spec) in dataset.series().iter().enumerate() {
        let name = prometheus_name(spec);
        let (this_family, kind) = match spec.kind {
            perfwatch::model::MetricKind::Counter => (
                name.strip_suffix("_total").unwrap_or(&name).to_owned(),
                "counter",
            ),
            perfwatch::model::MetricKind::Gauge => (name.clone(), "gauge"),
        };
        if this_family != family {
            writeln!(out, "# TYPE {this_family} {kind}")?;
            family = this_family;
        }
        let series = selector(spec);
        for (t, v) in dataset.values(s).enumerate() {
            let ms = Dataset::timestamp_ms(t);
            // Whole seconds print without a fraction; anything else keeps
            // its milliseconds.
            if ms % 1000 == 0 {
                writeln!(out, "{series} {v} {}", ms / 1000)?;
            } else {
                writeln!(out, "{series} {v} {}.{:03}", ms / 1000, ms % 1000)?;
            }
        }
    }
    writeln!(out, "# EOF")?;
    out.inner.flush()?;
    Ok(out.bytes)
}

struct CountingWriter<W: Write> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A TSDB directory made by promtool from a dataset.
pub struct Tsdb {
    dir: tempfile::TempDir,
    /// Bytes of the blocks: chunks, index, meta.json, tombstones.
    pub bytes: u64,
    pub blocks: usize,
    pub samples: usize,
    /// Size of the OpenMetrics text promtool read.
    pub openmetrics_bytes: u64,
    /// Writing the OpenMetrics file.
    pub write_time: Duration,
    /// `promtool tsdb create-blocks-from openmetrics`.
    pub promtool_time: Duration,
}

impl Tsdb {
    /// Writes the dataset as OpenMetrics and runs promtool on it.
    pub fn build(dataset: &Dataset) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let input = dir.path().join("dataset.om");
        let started = Instant::now();
        let openmetrics_bytes = write_openmetrics(
            dataset,
            std::fs::File::create(&input)
                .with_context(|| format!("creating {}", input.display()))?,
        )?;
        let write_time = started.elapsed();

        let blocks_dir = dir.path().join("data");
        let started = Instant::now();
        let output = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
            .arg(format!("--max-block-duration={MAX_BLOCK_DURATION}"))
            .arg(&input)
            .arg(&blocks_dir)
            .output()
            .context(MISSING)?;
        let promtool_time = started.elapsed();
        if !output.status.success() {
            bail!(
                "promtool failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        // The input is not part of the TSDB; free the disk now.
        std::fs::remove_file(&input)?;
        let (bytes, blocks) = blocks_size(&blocks_dir)?;
        anyhow::ensure!(blocks > 0, "promtool wrote no block");
        Ok(Self {
            dir,
            bytes,
            blocks,
            samples: dataset.samples(),
            openmetrics_bytes,
            write_time,
            promtool_time,
        })
    }

    /// Where Prometheus finds the blocks (`--storage.tsdb.path`).
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn bytes_per_sample(&self) -> f64 {
        self.bytes as f64 / self.samples as f64
    }
}

/// Bytes of a TSDB built from `dataset` and the samples in it: the figure
/// to put beside perfwatch's own store size.
#[allow(dead_code, reason = "for the store-side benchmarks")]
pub fn tsdb_bytes_per_sample(dataset: &Dataset) -> anyhow::Result<(u64, usize)> {
    let tsdb = Tsdb::build(dataset)?;
    Ok((tsdb.bytes, tsdb.samples))
}

/// Sums every file under each block directory (a ULID with `meta.json`)
/// and counts the blocks.
fn blocks_size(dir: &Path) -> anyhow::Result<(u64, usize)> {
    fn walk(path: &Path) -> std::io::Result<u64> {
        let mut bytes = 0;
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            bytes += if meta.is_dir() {
                walk(&entry.path())?
            } else {
                meta.len()
            };
        }
        Ok(bytes)
    }
    let mut bytes = 0;
    let mut blocks = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.join("meta.json").is_file() {
            bytes += walk(&path)?;
            blocks += 1;
        }
    }
    Ok((bytes, blocks))
}

/// A running `prometheus`, killed on drop.
pub struct Server {
    child: Child,
    base_url: String,
    dir: tempfile::TempDir,
}

impl Server {
    /// Serves the TSDB at `tsdb` (created if missing) with no scrape
    /// targets, a retention that keeps any old data, and `extra` flags;
    /// returns once `/-/ready` answers.
    pub async fn start(tsdb: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
        )?;
        let port = free_port()?;
        let log = std::fs::File::create(dir.path().join("prometheus.log"))?;
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context(MISSING)?;
        let server = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < READY_TIMEOUT {
            let ready = client
                .get(format!("{}/-/ready", self.base_url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "prometheus was not ready within {READY_TIMEOUT:?}; its log ends:\n{}",
            self.log_tail()
        )
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }

    /// Samples the head has appended, from the server's own
    /// `prometheus_tsdb_head_samples_appended_total`: what a receive rate
    /// is checked against.
    pub async fn samples_appended(&self) -> anyhow::Result<u64> {
        let text = reqwest::get(format!("{}/metrics", self.base_url))
            .await?
            .error_for_status()?
            .text()
            .await?;
        let mut total = 0.0;
        for line in text.lines() {
            if line.starts_with("prometheus_tsdb_head_samples_appended_total") {
                let value = line.rsplit(' ').next().unwrap_or_default();
                total += value
                    .parse::<f64>()
                    .with_context(|| format!("reading {line:?}"))?;
            }
        }
        Ok(total as u64)
    }

    /// The remote-write receiver (needs `--web.enable-remote-write-receiver`).
    pub fn remote_write_url(&self) -> String {
        format!("{}/api/v1/write", self.base_url)
    }

    /// One `GET /api/v1/query_range`; returns the points of the one series
    /// it must yield.
    pub async fn query_range(
        &self,
        client: &reqwest::Client,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_s: u32,
    ) -> anyhow::Result<usize> {
        let answer = client
            .get(format!("{}/api/v1/query_range", self.base_url))
            .query(&[
                ("query", query.to_owned()),
                ("start", seconds(start_ms)),
                ("end", seconds(end_ms)),
                ("step", step_s.to_string()),
            ])
            .send()
            .await?;
        let status = answer.status();
        let body = answer.bytes().await?;
        anyhow::ensure!(
            status.is_success(),
            "query_range {query}: {status}: {}",
            String::from_utf8_lossy(&body)
        );
        let json: serde_json::Value = serde_json::from_slice(&body)?;
        let result = json["data"]["result"]
            .as_array()
            .with_context(|| format!("query_range {query}: no result in {json}"))?;
        anyhow::ensure!(
            result.len() == 1,
            "query_range {query}: {} series",
            result.len()
        );
        Ok(result[0]["values"].as_array().map_or(0, Vec::len))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Times `query` over `[start_ms, end_ms]` at `step_s`: a few untimed
/// runs first (the first one maps the block's files), then `runs` timed
/// ones; each must return `points` points.
pub async fn query_range_timing(
    server: &Server,
    query: &str,
    (start_ms, end_ms): (i64, i64),
    step_s: u32,
    points: usize,
    runs: usize,
) -> anyhow::Result<Timing> {
    let client = reqwest::Client::new();
    let got = server
        .query_range(&client, query, start_ms, end_ms, step_s)
        .await?;
    anyhow::ensure!(
        got == points,
        "query_range {query}: {got} points, expected {points}"
    );
    let mut failure = None;
    let timing = time_async(3, runs, async || {
        if let Err(e) = server
            .query_range(&client, query, start_ms, end_ms, step_s)
            .await
        {
            failure.get_or_insert(e);
        }
    })
    .await;
    match failure {
        Some(e) => Err(e),
        None => Ok(timing),
    }
}

/// `1793491200.000`: Prometheus's API takes seconds.
fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// A port nothing listens on now. The listener is closed before the
/// server binds it; on a quiet loopback the race does not happen.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_groups_families_types_counters_and_ends_with_eof() {
        let d = Dataset::with_points(2);
        let mut out = Vec::new();
        let bytes = write_openmetrics(&d, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(bytes as usize, text.len());
        let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE")).collect();
        assert_eq!(
            types,
            [
                "# TYPE system_cpuUsage gauge",
                "# TYPE system_memoryUsage gauge",
                "# TYPE app_bytes counter",
                "# TYPE agents_totalAgents gauge",
                "# TYPE agents_avgResponseTime gauge",
            ]
        );
        let first_counter = text
            .lines()
            .find(|l| l.starts_with("app_bytes_total"))
            .unwrap();
        assert!(
            first_counter.starts_with(r#"app_bytes_total{host="h00"} "#),
            "{first_counter}"
        );
        assert!(first_counter.ends_with(" 1793491200"), "{first_counter}");
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 200);
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn seconds_keep_milliseconds() {
        assert_eq!(seconds(1_793_491_200_000), "1793491200.000");
        assert_eq!(seconds(1_793_491_200_250), "1793491200.250");
    }
}
