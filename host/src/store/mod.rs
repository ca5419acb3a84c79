//! The embedded DuckDB store. Nothing else in the host opens DuckDB.
//!
//! One dedicated thread owns the main connection and serves commands from a
//! channel, so appends are serialised (one transaction each) and async code
//! never blocks on DuckDB. A second thread with its own connection does the
//! maintenance (compaction, the daily merge, retention), so appends and
//! queries never wait for it.

mod alert_events;
mod archive;
mod compact;
mod db;
mod deliveries;
mod encode;
mod epoch;
mod range;
mod range_rollups;
mod raw;
mod schema;

use std::path::{Path, PathBuf};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

pub use compact::{Compaction, RetentionCutoffs};
use db::Database;
pub use db::MAX_QUERY_POINTS;
pub use deliveries::DeliveryQuery;
pub use range::{
    Aggregation, LatestValue, MAX_POINTS_PER_SERIES, RangeQuery, RangeResult, RangeSeries,
    SeriesInfo, Tier,
};

use crate::model::{DeliveryRecord, Labels, MetricKind, Sample};

/// The database file inside `data_dir`.
pub const DATABASE_FILE: &str = "perfwatch.duckdb";

/// Commands waiting for the store thread; appends beyond this wait (which
/// is back-pressure on the API) rather than pile up in memory.
const COMMAND_QUEUE: usize = 256;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: duckdb::Error,
    },
    #[error("cannot create data directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database error")]
    Database(#[from] duckdb::Error),
    #[error("database content is unreadable: {0}")]
    Corrupt(String),
    #[error("no series named `{0}` has been stored")]
    UnknownMetric(String),
    #[error("the range holds {points} points; at most {max} can be returned, narrow the range")]
    TooManyPoints { points: usize, max: usize },
    #[error(
        "the query asks for {steps} steps per series; at most {max} are answered, use a larger step"
    )]
    TooManySteps { steps: i64, max: i64 },
    #[error("`start` ({start}) is too far in the past for a step of {step} ms")]
    StartOutOfRange { start: i64, step: i64 },
    #[error("the store has shut down")]
    Closed,
}

impl StoreError {
    fn open(path: &Path, source: duckdb::Error) -> Self {
        StoreError::Open {
            path: path.to_owned(),
            source,
        }
    }
}

/// One series' raw points.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesPoints {
    /// The series' labels.
    pub labels: Labels,
    /// Unit of the values.
    pub unit: String,
    /// Gauge or counter.
    pub kind: MetricKind,
    /// `[epoch ms, value]` pairs in time order.
    pub points: Vec<(i64, f64)>,
}

/// Every series of one metric over a range.
#[derive(Debug, Clone, Serialize)]
pub struct QueryResult {
    /// The metric asked for.
    pub metric: String,
    /// Its series.
    pub series: Vec<SeriesPoints>,
}

/// One alert transition to store.
#[derive(Debug, Clone)]
pub struct AlertRecord {
    /// When, epoch ms.
    pub at: i64,
    /// `pending`, `triggered`, `repeated`, `flapping`, `resolved`, `acknowledged`.
    pub event: &'static str,
    /// The alert as it was then.
    pub alert: crate::model::Alert,
}

enum Command {
    Append(
        Vec<Sample>,
        oneshot::Sender<Result<Vec<Sample>, StoreError>>,
    ),
    Query {
        metric: String,
        start_ms: i64,
        end_ms: i64,
        reply: oneshot::Sender<Result<QueryResult, StoreError>>,
    },
    QuerySeries {
        metric: String,
        labels: Labels,
        start_ms: i64,
        end_ms: i64,
        reply: oneshot::Sender<Result<Option<SeriesPoints>, StoreError>>,
    },
    SeriesExtent {
        metric: String,
        labels: Labels,
        start_ms: i64,
        end_ms: i64,
        reply: oneshot::Sender<Result<Option<(i64, i64)>, StoreError>>,
    },
    QueryRange(RangeQuery, oneshot::Sender<Result<RangeResult, StoreError>>),
    Latest {
        metric: String,
        selector: Labels,
        at_ms: i64,
        reply: oneshot::Sender<Result<Vec<LatestValue>, StoreError>>,
    },
    SeriesList(
        Option<String>,
        oneshot::Sender<Result<Vec<SeriesInfo>, StoreError>>,
    ),
    Checkpoint(oneshot::Sender<Result<(), StoreError>>),
    ReleaseCache(oneshot::Sender<Result<(), StoreError>>),
    UsedBytes(oneshot::Sender<Result<u64, StoreError>>),
    Count(oneshot::Sender<Result<u64, StoreError>>),
    Metrics(oneshot::Sender<Result<Vec<String>, StoreError>>),
    Since(i64, oneshot::Sender<Result<Vec<Sample>, StoreError>>),
    RecordAlerts(Vec<AlertRecord>, oneshot::Sender<Result<(), StoreError>>),
    AlertHistory {
        start_ms: i64,
        end_ms: i64,
        rule: Option<String>,
        reply: oneshot::Sender<Result<Vec<serde_json::Value>, StoreError>>,
    },
    RecordDeliveries(Vec<DeliveryRecord>, oneshot::Sender<Result<(), StoreError>>),
    Deliveries(
        DeliveryQuery,
        oneshot::Sender<Result<Vec<DeliveryRecord>, StoreError>>,
    ),
    Close(oneshot::Sender<Result<(), StoreError>>),
}

/// Work for the maintenance thread, which has its own connection so that
/// appends and queries never wait for it.
enum Maintenance {
    Compact(i64, oneshot::Sender<Result<Compaction, StoreError>>),
    Merge(i64, i64, oneshot::Sender<Result<u64, StoreError>>),
    Retention(RetentionCutoffs, oneshot::Sender<Result<usize, StoreError>>),
    /// Drop the connection (the database closes only when every connection has).
    Stop(oneshot::Sender<()>),
}

/// Handle to the store thread; cheap to clone.
#[derive(Clone)]
pub struct Store {
    commands: mpsc::Sender<Command>,
    maintenance: mpsc::Sender<Maintenance>,
    path: PathBuf,
}

impl Store {
    /// Opens the database in `data_dir` (creating both when missing) and
    /// starts the store thread. Data committed before a crash is replayed
    /// from DuckDB's write-ahead log here.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let db = Database::open(&path)?;
        let maintenance_conn = db.second_connection()?;
        let epoch = db.archive_epoch();
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        std::thread::Builder::new()
            .name("perfwatch-store".into())
            .spawn(move || serve(db, receiver))
            .expect("spawning the store thread");
        let (maintenance, requests) = mpsc::channel::<Maintenance>(4);
        std::thread::Builder::new()
            .name("perfwatch-store-maintenance".into())
            .spawn(move || maintain(maintenance_conn, &epoch, requests))
            .expect("spawning the maintenance thread");
        Ok(Self {
            commands,
            maintenance,
            path,
        })
    }

    /// Stores samples in one transaction; `Ok` means they are durable.
    pub async fn append(&self, samples: Vec<Sample>) -> Result<usize, StoreError> {
        Ok(self.commit(samples).await?.len())
    }

    /// Like [`Store::append`], and hands the samples back once they are
    /// durable, so the caller can use them without having cloned them.
    pub async fn commit(&self, samples: Vec<Sample>) -> Result<Vec<Sample>, StoreError> {
        self.request(|reply| Command::Append(samples, reply)).await
    }

    /// Raw points of `metric` in `[start_ms, end_ms)`.
    pub async fn query(
        &self,
        metric: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<QueryResult, StoreError> {
        let metric = metric.to_owned();
        self.request(|reply| Command::Query {
            metric,
            start_ms,
            end_ms,
            reply,
        })
        .await
    }

    /// Raw points of the series of `metric` labelled exactly `labels` in
    /// `[start_ms, end_ms)`; `None` when there is none.
    pub async fn query_series(
        &self,
        metric: &str,
        labels: Labels,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Option<SeriesPoints>, StoreError> {
        let metric = metric.to_owned();
        self.request(|reply| Command::QuerySeries {
            metric,
            labels,
            start_ms,
            end_ms,
            reply,
        })
        .await
    }

    /// Where the series of `metric` labelled exactly `labels` has points in
    /// `[start_ms, end_ms)`: its first and last timestamps there.
    pub async fn series_extent(
        &self,
        metric: &str,
        labels: Labels,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let metric = metric.to_owned();
        self.request(|reply| Command::SeriesExtent {
            metric,
            labels,
            start_ms,
            end_ms,
            reply,
        })
        .await
    }

    /// One point per series and step; see [`RangeQuery`].
    pub async fn query_range(&self, query: RangeQuery) -> Result<RangeResult, StoreError> {
        self.request(|reply| Command::QueryRange(query, reply))
            .await
    }

    /// Each matching series' last value at or before `at_ms`.
    pub async fn latest(
        &self,
        metric: &str,
        selector: Labels,
        at_ms: i64,
    ) -> Result<Vec<LatestValue>, StoreError> {
        let metric = metric.to_owned();
        self.request(|reply| Command::Latest {
            metric,
            selector,
            at_ms,
            reply,
        })
        .await
    }

    /// Every stored series, or those of one metric.
    pub async fn series(&self, metric: Option<String>) -> Result<Vec<SeriesInfo>, StoreError> {
        self.request(|reply| Command::SeriesList(metric, reply))
            .await
    }

    /// Moves head samples older than `cutoff_ms` into sorted chunks and the rollups.
    pub async fn compact(&self, cutoff_ms: i64) -> Result<Compaction, StoreError> {
        self.maintain(|reply| Maintenance::Compact(cutoff_ms, reply))
            .await
    }

    /// Rewrites the compacted samples of `[start_ms, end_ms)` (a closed
    /// day) as one series-sorted chunk, on the merge thread; appends and
    /// queries go on meanwhile. Returns the samples rewritten.
    pub async fn merge(&self, start_ms: i64, end_ms: i64) -> Result<u64, StoreError> {
        self.maintain(|reply| Maintenance::Merge(start_ms, end_ms, reply))
            .await
    }

    /// Deletes each tier's data past its cut-off; returns raw samples deleted.
    pub async fn apply_retention(&self, cutoffs: RetentionCutoffs) -> Result<usize, StoreError> {
        self.maintain(|reply| Maintenance::Retention(cutoffs, reply))
            .await
    }

    /// Bytes of the database's blocks that hold data (see [`Store::size_bytes`]
    /// for the files, free blocks included).
    pub async fn used_bytes(&self) -> Result<u64, StoreError> {
        self.request(Command::UsedBytes).await
    }

    /// Writes the log into the database file (what a clean shutdown does).
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        self.request(Command::Checkpoint).await
    }

    /// Drops DuckDB's cache of blocks read from the file (maintenance has
    /// just read and rewritten many); see `Database::release_cache`.
    pub async fn release_cache(&self) -> Result<(), StoreError> {
        self.request(Command::ReleaseCache).await
    }

    /// Number of stored samples.
    pub async fn sample_count(&self) -> Result<u64, StoreError> {
        self.request(Command::Count).await
    }

    /// Every sample at or after `since_ms`, oldest first.
    pub async fn since(&self, since_ms: i64) -> Result<Vec<Sample>, StoreError> {
        self.request(|reply| Command::Since(since_ms, reply)).await
    }

    /// Appends alert transitions to the history.
    pub async fn record_alert_events(&self, events: Vec<AlertRecord>) -> Result<(), StoreError> {
        self.request(|reply| Command::RecordAlerts(events, reply))
            .await
    }

    /// Alert transitions in `[start_ms, end_ms)`, oldest first.
    pub async fn alert_history(
        &self,
        start_ms: i64,
        end_ms: i64,
        rule: Option<String>,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        self.request(|reply| Command::AlertHistory {
            start_ms,
            end_ms,
            rule,
            reply,
        })
        .await
    }

    /// Appends delivery records (see [`DeliveryRecord`]).
    pub async fn record_deliveries(&self, records: Vec<DeliveryRecord>) -> Result<(), StoreError> {
        self.request(|reply| Command::RecordDeliveries(records, reply))
            .await
    }

    /// The newest delivery records `query` selects, newest first.
    pub async fn deliveries(
        &self,
        query: DeliveryQuery,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.request(|reply| Command::Deliveries(query, reply))
            .await
    }

    /// Every metric with stored series, sorted.
    pub async fn metrics(&self) -> Result<Vec<String>, StoreError> {
        self.request(Command::Metrics).await
    }

    /// Closes the database (checkpointing the log) and stops the thread;
    /// later requests on any clone fail with [`StoreError::Closed`].
    pub async fn close(&self) -> Result<(), StoreError> {
        let (done, stopped) = oneshot::channel();
        if self.maintenance.send(Maintenance::Stop(done)).await.is_ok() {
            let _ = stopped.await;
        }
        self.request(Command::Close).await
    }

    /// Bytes on disk: the database file plus its write-ahead log.
    pub fn size_bytes(&self) -> u64 {
        let wal = self.path.with_extension("duckdb.wal");
        [&self.path, &wal]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    async fn maintain<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Maintenance,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.maintenance
            .send(request(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn request<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

fn maintain(
    mut conn: duckdb::Connection,
    epoch: &epoch::ArchiveEpoch,
    mut requests: mpsc::Receiver<Maintenance>,
) {
    while let Some(request) = requests.blocking_recv() {
        // A dropped reply means the caller gave up; the work is done anyway.
        match request {
            Maintenance::Compact(cutoff, reply) => {
                let _ = reply.send(compact::compact(&mut conn, cutoff));
            }
            Maintenance::Merge(start, end, reply) => {
                let _ = reply.send(compact::merge_range(&mut conn, epoch, start, end));
            }
            Maintenance::Retention(cutoffs, reply) => {
                let _ = reply.send(compact::apply_retention(&conn, cutoffs));
            }
            Maintenance::Stop(done) => {
                drop(conn);
                let _ = done.send(());
                return;
            }
        }
    }
}

fn serve(mut db: Database, mut commands: mpsc::Receiver<Command>) {
    while let Some(command) = commands.blocking_recv() {
        // A dropped reply means the caller gave up; the work is done anyway.
        match command {
            Command::Append(samples, reply) => {
                let _ = reply.send(db.append(&samples).map(|_| samples));
            }
            Command::Query {
                metric,
                start_ms,
                end_ms,
                reply,
            } => {
                let _ = reply.send(db.query(&metric, start_ms, end_ms));
            }
            Command::QuerySeries {
                metric,
                labels,
                start_ms,
                end_ms,
                reply,
            } => {
                let _ = reply.send(db.query_series(&metric, &labels, start_ms, end_ms));
            }
            Command::SeriesExtent {
                metric,
                labels,
                start_ms,
                end_ms,
                reply,
            } => {
                let _ = reply.send(db.series_extent(&metric, &labels, start_ms, end_ms));
            }
            Command::QueryRange(query, reply) => {
                let _ = reply.send(db.query_range(&query));
            }
            Command::Latest {
                metric,
                selector,
                at_ms,
                reply,
            } => {
                let _ = reply.send(db.latest(&metric, &selector, at_ms));
            }
            Command::SeriesList(metric, reply) => {
                let _ = reply.send(db.series_list(metric.as_deref()));
            }
            Command::Checkpoint(reply) => {
                let _ = reply.send(db.checkpoint());
            }
            Command::ReleaseCache(reply) => {
                let _ = reply.send(db.release_cache());
            }
            Command::UsedBytes(reply) => {
                let _ = reply.send(db.used_bytes());
            }
            Command::Count(reply) => {
                let _ = reply.send(db.sample_count());
            }
            Command::Metrics(reply) => {
                let _ = reply.send(Ok(db.metrics()));
            }
            Command::Since(since, reply) => {
                let _ = reply.send(db.since(since));
            }
            Command::RecordAlerts(events, reply) => {
                let _ = reply.send(db.record_alert_events(&events));
            }
            Command::AlertHistory {
                start_ms,
                end_ms,
                rule,
                reply,
            } => {
                let _ = reply.send(db.alert_history(start_ms, end_ms, rule.as_deref()));
            }
            Command::RecordDeliveries(records, reply) => {
                let _ = reply.send(db.record_deliveries(&records));
            }
            Command::Deliveries(query, reply) => {
                let _ = reply.send(db.deliveries(&query));
            }
            Command::Close(reply) => {
                drop(db);
                let _ = reply.send(Ok(()));
                return;
            }
        }
    }
    tracing::debug!("store thread stopping: every handle was dropped");
}

#[cfg(test)]
mod tests;
