//! Ingest throughput: a load generator that sends the dataset's points to
//! a receiver over a few concurrent keep-alive HTTP/1.1 connections, as
//! perfwatch's JSON batches (`POST /api/v1/metrics`) or as remote-write
//! 1.0 requests (Prometheus's receiver, or perfwatch's if it has one), and
//! counts only what the receiver accepted.
//!
//! Every body is encoded before the clock starts, so the figure is the
//! receiver's rate, not the encoder's. Each connection owns a fixed share
//! of the series and walks it forward in time, as remote-write shards do:
//! a series' samples never race each other, which Prometheus would refuse
//! as out of order.

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use tokio::sync::watch;

use crate::dataset::{Block, Dataset, STEP_MS};
use crate::remote_write;

/// How much is sent, and how.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Samples in all; rounded down to whole requests.
    pub samples: usize,
    /// Concurrent connections.
    pub connections: usize,
    /// Samples per request.
    pub batch_samples: usize,
}

/// The issue's load: 2 M samples in 10,000-sample batches over 2 connections
/// (with 100 series that is 50 series × 200 s per request).
pub const DEFAULT_LOAD: Load = Load {
    samples: 2_000_000,
    connections: 2,
    batch_samples: 10_000,
};

/// How far (in data time) one connection may run ahead of another.
/// Prometheus's head accepts a sample only if it is at most half a 2 h
/// chunk range older than the newest one it has, so a lagging connection
/// would see its samples refused as out of bounds.
const MAX_LEAD_MS: i64 = 30 * 60 * 1000;

/// Gives up on a request after this long: a stuck receiver must not stall
/// the benchmark run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What a run achieved.
#[derive(Debug, Clone)]
pub struct Rate {
    pub sent: usize,
    /// Samples the receiver said it stored (JSON `accepted`; all of a 2xx
    /// remote-write request).
    pub accepted: usize,
    pub requests: usize,
    /// Requests answered with an error status or not at all.
    pub failed_requests: usize,
    pub first_error: Option<String>,
    /// From the first request sent to the last answer.
    pub elapsed: Duration,
}

impl Rate {
    /// Accepted samples a second.
    pub fn per_second(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64()
    }
}

/// Several runs of the same load, each on a fresh receiver: one run of
/// a few seconds is at the mercy of whatever else the shared VM does.
#[derive(Debug, Clone)]
pub struct Rates(Vec<Rate>);

impl Rates {
    /// At least one run.
    pub fn new(mut runs: Vec<Rate>) -> Self {
        assert!(!runs.is_empty(), "no run");
        runs.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
        Self(runs)
    }

    /// The median run (the slower middle one of an even count).
    pub fn median(&self) -> &Rate {
        &self.0[(self.0.len() - 1) / 2]
    }

    pub fn slowest(&self) -> &Rate {
        &self.0[0]
    }

    pub fn fastest(&self) -> &Rate {
        &self.0[self.0.len() - 1]
    }

    pub fn runs(&self) -> usize {
        self.0.len()
    }

    /// Requests that failed over all runs, and the first error.
    pub fn failures(&self) -> (usize, Option<&str>) {
        let failed = self.0.iter().map(|r| r.failed_requests).sum();
        let first = self.0.iter().find_map(|r| r.first_error.as_deref());
        (failed, first)
    }
}

/// How the bodies are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Json,
    RemoteWrite,
}

/// perfwatch's `POST /api/v1/metrics` at `addr` (`127.0.0.1:PORT`).
pub async fn json_rate(addr: &str, dataset: &Dataset, load: Load) -> anyhow::Result<Rate> {
    drive(
        &format!("http://{addr}/api/v1/metrics"),
        dataset,
        load,
        Wire::Json,
    )
    .await
}

/// A remote-write 1.0 receiver at `url` (Prometheus's `/api/v1/write`).
pub async fn remote_write_rate(url: &str, dataset: &Dataset, load: Load) -> anyhow::Result<Rate> {
    drive(url, dataset, load, Wire::RemoteWrite).await
}

/// Whether `url` takes remote-write requests: sends one with no series.
pub async fn accepts_remote_write(url: &str) -> anyhow::Result<bool> {
    let empty = prost::Message::encode_to_vec(&remote_write::WriteRequest::default());
    let body = snap::raw::Encoder::new().compress_vec(&empty)?;
    let answer = request(&client()?, url, Wire::RemoteWrite, Bytes::from(body)).await?;
    Ok(answer.status().is_success())
}

/// One JSON batch of `POST /api/v1/metrics`, every field given.
pub fn json_body(dataset: &Dataset, block: &Block) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.samples() * 120);
    out.push(b'[');
    for (&s, values) in block.series.iter().zip(&block.values) {
        let spec = &dataset.series()[s];
        let head = format!(
            r#"{{"metric":{},"unit":{},"kind":"{}","labels":{},"timestamp":"#,
            serde_json::to_string(&spec.metric).expect("a string serialises"),
            serde_json::to_string(&spec.unit).expect("a string serialises"),
            spec.kind.as_str(),
            serde_json::to_string(&spec.labels).expect("labels serialise"),
        );
        for (t, v) in values.iter().enumerate() {
            if out.len() > 1 {
                out.push(b',');
            }
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(format!("{},\"value\":{v}}}", block.timestamp_ms(t)).as_bytes());
        }
    }
    out.push(b']');
    out
}

/// Request bodies per connection, each connection's in time order, and
/// the samples in each.
fn plan(dataset: &Dataset, load: Load, wire: Wire) -> anyhow::Result<Vec<Vec<(Bytes, usize)>>> {
    let series = dataset.series().len();
    anyhow::ensure!(
        load.connections > 0 && load.connections <= series,
        "{} connections for {series} series",
        load.connections
    );
    let per_connection = load.samples / load.connections;
    let mut plans = Vec::with_capacity(load.connections);
    for c in 0..load.connections {
        let owned: Vec<usize> = (c..series).step_by(load.connections).collect();
        let ticks_per_request = (load.batch_samples / owned.len()).max(1);
        let requests = per_connection / (ticks_per_request * owned.len());
        anyhow::ensure!(
            requests * ticks_per_request <= dataset.points(),
            "the dataset has {} points per series; {requests} requests of {ticks_per_request} need more",
            dataset.points()
        );
        let mut cursor = dataset.cursor(owned);
        let mut bodies = Vec::with_capacity(requests);
        for _ in 0..requests {
            let block = cursor
                .next_block(ticks_per_request)
                .context("checked above")?;
            let body = match wire {
                Wire::Json => json_body(dataset, &block),
                Wire::RemoteWrite => remote_write::encode(dataset, &block),
            };
            bodies.push((Bytes::from(body), block.samples()));
        }
        plans.push(bodies);
    }
    Ok(plans)
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(REQUEST_TIMEOUT)
        .build()?)
}

async fn request(
    client: &reqwest::Client,
    url: &str,
    wire: Wire,
    body: Bytes,
) -> reqwest::Result<reqwest::Response> {
    let request = client.post(url).body(body);
    let request = match wire {
        Wire::Json => request.header("Content-Type", "application/json"),
        Wire::RemoteWrite => request
            .header("Content-Type", remote_write::CONTENT_TYPE)
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", remote_write::VERSION),
    };
    request.send().await
}

/// What one connection achieved.
#[derive(Debug, Default)]
struct Tally {
    sent: usize,
    accepted: usize,
    requests: usize,
    failed: usize,
    first_error: Option<String>,
}

async fn drive(url: &str, dataset: &Dataset, load: Load, wire: Wire) -> anyhow::Result<Rate> {
    let plans = plan(dataset, load, wire)?;
    let ticks_per_request = load.batch_samples / dataset.series().len().div_ceil(load.connections);
    let max_lead = (MAX_LEAD_MS / (ticks_per_request.max(1) as i64 * STEP_MS)).max(1) as usize;
    let (progress_tx, progress_rx): (Vec<_>, Vec<_>) =
        (0..plans.len()).map(|_| watch::channel(0usize)).unzip();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for (bodies, done) in plans.into_iter().zip(progress_tx) {
        let others = progress_rx.clone();
        let url = url.to_owned();
        let client = client()?;
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            for (i, (body, samples)) in bodies.into_iter().enumerate() {
                for other in &others {
                    let mut other = other.clone();
                    // A finished connection stops sending updates; its
                    // closed channel means it is no longer behind.
                    let _ = other.wait_for(|&d| d + max_lead >= i).await;
                }
                tally.sent += samples;
                tally.requests += 1;
                let outcome = match request(&client, &url, wire, body).await {
                    Ok(answer) => {
                        let status = answer.status();
                        let text = answer.text().await.unwrap_or_default();
                        match wire {
                            Wire::Json => {
                                let accepted = serde_json::from_str::<serde_json::Value>(&text)
                                    .ok()
                                    .and_then(|v| v["accepted"].as_u64())
                                    .unwrap_or(0)
                                    as usize;
                                tally.accepted += accepted;
                                if status.is_success() && accepted == samples {
                                    Ok(())
                                } else {
                                    Err(format!("{status}: {text}"))
                                }
                            }
                            Wire::RemoteWrite if status.is_success() => {
                                tally.accepted += samples;
                                Ok(())
                            }
                            Wire::RemoteWrite => Err(format!("{status}: {text}")),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = outcome {
                    tally.failed += 1;
                    tally.first_error.get_or_insert(e);
                }
                done.send_replace(i + 1);
            }
            tally
        }));
    }
    let mut rate = Rate {
        sent: 0,
        accepted: 0,
        requests: 0,
        failed_requests: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let tally = task.await?;
        rate.sent += tally.sent;
        rate.accepted += tally.accepted;
        rate.requests += tally.requests;
        rate.failed_requests += tally.failed;
        if rate.first_error.is_none() {
            rate.first_error = tally.first_error;
        }
    }
    rate.elapsed = started.elapsed();
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The load generator's JSON is what perfwatch's parser accepts, every
    /// sample of it, with the dataset's fields.
    #[test]
    fn json_batches_parse_as_perfwatch_samples() {
        let d = Dataset::with_points(10);
        let block = d.cursor(vec![0, 41, 99]).next_block(10).unwrap();
        let body = json_body(&d, &block);
        let now = crate::dataset::START_MS + 86_400_000;
        let parsed = perfwatch::ingest::parse_json_batch(&body, now).unwrap();
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        assert_eq!(parsed.samples.len(), 30);
        let counter = &parsed.samples[10];
        assert_eq!(
            counter,
            &d.series()[41].sample(crate::dataset::START_MS, block.values[1][0])
        );
    }

    #[test]
    fn connections_share_the_series_and_walk_them_in_time() {
        let d = Dataset::with_points(1000);
        let load = Load {
            samples: 40_000,
            connections: 2,
            batch_samples: 10_000,
        };
        let plans = plan(&d, load, Wire::RemoteWrite).unwrap();
        assert_eq!(plans.len(), 2);
        for bodies in &plans {
            assert_eq!(bodies.len(), 2);
            assert!(bodies.iter().all(|(_, n)| *n == 10_000));
        }
        let first = snap::raw::Decoder::new()
            .decompress_vec(&plans[1][1].0)
            .unwrap();
        let request: remote_write::WriteRequest = prost::Message::decode(&first[..]).unwrap();
        assert_eq!(request.timeseries.len(), 50);
        assert_eq!(request.timeseries[0].labels[1].value, "h01");
        assert_eq!(
            request.timeseries[0].samples[0].timestamp,
            crate::dataset::START_MS + 200 * STEP_MS
        );
    }

    #[test]
    fn too_much_load_for_the_dataset_is_refused() {
        let d = Dataset::with_points(10);
        assert!(plan(&d, DEFAULT_LOAD, Wire::Json).is_err());
    }
}
