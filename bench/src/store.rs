//! perfwatch's store on the storage dataset, through the library API the
//! host uses: ingest the day as the tick would (10-minute batches, each
//! followed by the compaction the host runs every 10 minutes, then the
//! end-of-day merge), checkpoint, measure the file, and time the one-day
//! range query.

use std::path::Path;
use std::time::{Duration, Instant};

use perfwatch::store::{Aggregation, RangeQuery, Store};

use crate::dataset::{Dataset, Shape};
use crate::stats::{Timing, time_async};

/// Ticks per append and compaction: the host compacts every 10 minutes.
const TICKS_PER_COMPACTION: usize = 600;

/// What the store did with the dataset.
pub struct StoreFigures {
    /// The database file after checkpoint, and the samples in it.
    pub bytes: u64,
    /// The file's blocks that hold data (the rest is free space left by the
    /// merge, which the next day's chunks reuse).
    pub live_bytes: u64,
    pub samples: usize,
    /// Bytes per sample of a store holding only one shape's series.
    pub by_shape: Vec<(Shape, f64)>,
    /// Samples per second through `Store::append` alone (the bulk path).
    pub append_per_second: f64,
    /// Samples per second through append and compaction together.
    pub bulk_per_second: f64,
    /// Longest single compaction of 10 minutes of the 100 series.
    pub slowest_compaction: Duration,
    /// The end-of-day merge: the day's compacted samples into coded chunks.
    pub merge_time: Duration,
    /// One series, the day, 60 s averages.
    pub query_range: Timing,
}

struct Loaded {
    bytes: u64,
    elapsed: Duration,
    slowest_compaction: Duration,
    merge_time: Duration,
    live_bytes: u64,
    appending: Duration,
}

/// Loads `dataset` into a fresh store in `dir`, closes it, and measures the file.
async fn load(dataset: &Dataset, dir: &Path) -> anyhow::Result<Loaded> {
    let store = Store::open(dir)?;
    let series = dataset.series();
    let started = Instant::now();
    let mut appending = Duration::ZERO;
    let mut slowest_compaction = Duration::ZERO;
    let mut batch = Vec::with_capacity(series.len() * TICKS_PER_COMPACTION);
    let mut ticks = dataset.by_tick().peekable();
    while let Some((ts, values)) = ticks.next() {
        batch.extend(
            series
                .iter()
                .zip(values)
                .map(|(spec, value)| spec.sample(ts, value)),
        );
        let chunk_full = batch.len() >= series.len() * TICKS_PER_COMPACTION;
        if chunk_full || ticks.peek().is_none() {
            let append_started = Instant::now();
            store.append(std::mem::take(&mut batch)).await?;
            appending += append_started.elapsed();
            let compacting = Instant::now();
            store.compact(ts + 1).await?;
            slowest_compaction = slowest_compaction.max(compacting.elapsed());
        }
    }
    let elapsed = started.elapsed();
    // What the host does once the day is over.
    let merging = Instant::now();
    store
        .merge(crate::dataset::START_MS, dataset.end_ms() + 1)
        .await?;
    let merge_time = merging.elapsed();
    store.checkpoint().await?;
    let live_bytes = store.used_bytes().await?;
    store.close().await?;
    let bytes = store.size_bytes();
    Ok(Loaded {
        bytes,
        elapsed,
        slowest_compaction,
        merge_time,
        live_bytes,
        appending,
    })
}

/// The measurements, on the whole dataset and shape by shape.
pub async fn measure(
    dataset: &Dataset,
    queried_series: usize,
    step_s: u32,
) -> anyhow::Result<StoreFigures> {
    let dir = tempfile::tempdir()?;
    let loaded = load(dataset, dir.path()).await?;

    let store = Store::open(dir.path())?;
    let spec = &dataset.series()[queried_series];
    let query = RangeQuery {
        metric: spec.metric.clone(),
        selector: spec.labels.clone(),
        start_ms: crate::dataset::START_MS,
        end_ms: dataset.end_ms() + 1,
        step_ms: i64::from(step_s) * 1000,
        agg: Aggregation::Avg,
    };
    let answer = store.query_range(query.clone()).await?;
    anyhow::ensure!(
        answer.series.len() == 1
            && answer.series[0].points.len() == dataset.points().div_ceil(step_s as usize),
        "the range query answered {} series, {:?} points",
        answer.series.len(),
        answer.series.first().map(|s| s.points.len())
    );
    let query_range = time_async(3, 30, async || {
        store.query_range(query.clone()).await.expect("range query");
    })
    .await;
    store.close().await?;

    let mut by_shape = Vec::new();
    for shape in Shape::ALL {
        let part = dataset.of_shape(shape);
        let dir = tempfile::tempdir()?;
        let loaded = load(&part, dir.path()).await?;
        by_shape.push((shape, loaded.live_bytes as f64 / part.samples() as f64));
    }
    Ok(StoreFigures {
        bytes: loaded.bytes,
        live_bytes: loaded.live_bytes,
        samples: dataset.samples(),
        by_shape,
        append_per_second: dataset.samples() as f64 / loaded.appending.as_secs_f64(),
        bulk_per_second: dataset.samples() as f64 / loaded.elapsed.as_secs_f64(),
        slowest_compaction: loaded.slowest_compaction,
        merge_time: loaded.merge_time,
        query_range,
    })
}
