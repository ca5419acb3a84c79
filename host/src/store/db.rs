//! Synchronous access to the database; only the store thread calls this.

use std::collections::HashMap;
use std::path::Path;

use duckdb::{Connection, params};

use super::StoreError;
use super::encode::{Stored, encode};
use super::epoch::ArchiveEpoch;
use crate::model::{Labels, MetricKind, Sample, registered_metric};

/// Most points one raw query may return; larger ranges must be narrowed
/// (or, later, downsampled) rather than allowed to exhaust memory.
pub const MAX_QUERY_POINTS: usize = 2_000_000;

/// DuckDB's memory budget. Left alone it takes 80 % of RAM; a monitor must
/// stay small next to what it monitors.
const DUCKDB_MEMORY_LIMIT: &str = "48MB";
/// WAL size that triggers a checkpoint. Appended rows stay in pinned memory
/// until a checkpoint writes them to the file; at DuckDB's default (16 MB
/// of WAL) a burst of ingest outgrew the memory budget above and appends
/// failed with "could not allocate block".
const WAL_AUTOCHECKPOINT: &str = "4MB";
/// Room left above DuckDB's uncached memory when its cache is dropped:
/// running the statement takes a block or two, and without the room DuckDB
/// would spill rows that live only in memory to a temporary file for it.
pub(super) const CACHE_RELEASE_MARGIN: u64 = 512 << 10;
/// DuckDB worker threads: the machine has two cores and the monitor must
/// not compete with the workload for both.
const DUCKDB_THREADS: i64 = 1;

struct SeriesInfo {
    id: i32,
    /// Decimals kept, or `None` for exact storage; see `encode.rs`.
    precision: Option<u8>,
    unit: String,
    kind: MetricKind,
}

/// A stored series as range queries describe it.
pub(super) struct SeriesMeta<'a> {
    pub labels: &'a Labels,
    pub unit: &'a str,
    pub kind: MetricKind,
    /// Decimals kept, or `None` for exact storage.
    pub precision: Option<u8>,
}

/// An open database plus the in-memory series dictionary.
pub struct Database {
    conn: Connection,
    /// By metric, then labels: looked up with borrowed keys, so appending a
    /// sample of a known series allocates nothing.
    series: HashMap<String, HashMap<Labels, SeriesInfo>>,
    next_series_id: i32,
    /// Shared with the maintenance thread's daily merge.
    archive_epoch: ArchiveEpoch,
}

impl Database {
    /// Opens (or creates) the database file and loads the series dictionary.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let config = duckdb::Config::default()
            .max_memory(DUCKDB_MEMORY_LIMIT)
            .and_then(|c| c.threads(DUCKDB_THREADS))
            .and_then(|c| c.enable_autoload_extension(false))
            .map_err(|e| StoreError::open(path, e))?;
        let conn =
            Connection::open_with_flags(path, config).map_err(|e| StoreError::open(path, e))?;
        conn.execute_batch(&format!("SET wal_autocheckpoint = '{WAL_AUTOCHECKPOINT}';"))
            .and_then(|()| create_tables(&conn))
            .and_then(|()| migrate(&conn))
            .and_then(|()| conn.execute_batch(super::schema::CREATE_STAGED))
            .map_err(|e| StoreError::open(path, e))?;
        let mut db = Self {
            conn,
            series: HashMap::new(),
            next_series_id: 1,
            archive_epoch: ArchiveEpoch::default(),
        };
        db.load_series()?;
        Ok(db)
    }

    fn load_series(&mut self) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, metric, labels, precision, unit, kind FROM series")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i32>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<u8>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        for row in rows {
            let (id, metric, labels, precision, unit, kind) = row?;
            let labels: Labels = serde_json::from_str(&labels).map_err(|e| {
                StoreError::Corrupt(format!("series {id} has unreadable labels: {e}"))
            })?;
            self.series.entry(metric).or_default().insert(
                labels,
                SeriesInfo {
                    id,
                    precision,
                    unit,
                    kind: kind_of(&kind),
                },
            );
            self.next_series_id = self.next_series_id.max(id + 1);
        }
        Ok(())
    }

    /// Appends all samples to the head in one transaction: either every
    /// sample is durable when this returns `Ok`, or none is.
    pub fn append(&mut self, samples: &[Sample]) -> Result<usize, StoreError> {
        if samples.is_empty() {
            return Ok(0);
        }
        let mut added = Vec::new();
        let result = self.append_in_transaction(samples, &mut added);
        if result.is_err() {
            // The transaction rolled back: forget the series it would have
            // created, or later appends would use ids the database lacks.
            for (metric, labels) in added {
                if let Some(by_labels) = self.series.get_mut(&metric) {
                    by_labels.remove(&labels);
                    if by_labels.is_empty() {
                        self.series.remove(&metric);
                    }
                }
            }
        } else {
            self.next_series_id += added.len() as i32;
        }
        result
    }

    fn append_in_transaction(
        &mut self,
        samples: &[Sample],
        added: &mut Vec<(String, Labels)>,
    ) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let mut rows = Vec::with_capacity(samples.len());
        {
            let mut insert_series = tx.prepare_cached(
                "INSERT INTO series (id, metric, labels, unit, kind, precision) VALUES (?, ?, ?, ?, ?, ?)",
            )?;
            for s in samples {
                let known = self.series.get(&s.metric).and_then(|m| m.get(&s.labels));
                let (id, precision) = match known {
                    Some(info) => (info.id, info.precision),
                    None => {
                        let id = self.next_series_id + added.len() as i32;
                        let precision = registered_metric(&s.metric).map(|info| info.decimals);
                        let labels = serde_json::to_string(&s.labels).expect("labels serialise");
                        insert_series.execute(params![
                            id,
                            s.metric,
                            labels,
                            s.unit,
                            s.kind.as_str(),
                            precision
                        ])?;
                        self.series.entry(s.metric.clone()).or_default().insert(
                            s.labels.clone(),
                            SeriesInfo {
                                id,
                                precision,
                                unit: s.unit.clone(),
                                kind: s.kind,
                            },
                        );
                        added.push((s.metric.clone(), s.labels.clone()));
                        (id, precision)
                    }
                };
                let stored = encode(s.value, precision.unwrap_or(0), precision.is_some());
                rows.push((id, s.timestamp_ms, stored));
            }
        }
        {
            let mut appender = tx.appender("samples_head")?;
            for (id, ts, stored) in rows {
                match stored {
                    Stored::Scaled(i) => appender.append_row(params![id, ts, i, None::<f64>])?,
                    Stored::Double(v) => appender.append_row(params![id, ts, None::<i64>, v])?,
                }
            }
            appender.flush()?;
        }
        tx.commit()?;
        Ok(samples.len())
    }

    /// Every metric with at least one stored series, sorted.
    pub fn metrics(&self) -> Vec<String> {
        let mut names: Vec<String> = self.series.keys().cloned().collect();
        names.sort();
        names
    }

    /// Whether any series of this metric was ever stored.
    pub fn has_metric(&self, metric: &str) -> bool {
        self.series.contains_key(metric)
    }

    /// What the maintenance thread's merge brackets its commits with.
    pub fn archive_epoch(&self) -> ArchiveEpoch {
        self.archive_epoch.clone()
    }

    /// A second connection to the same database, for the maintenance thread.
    pub fn second_connection(&self) -> Result<Connection, StoreError> {
        Ok(self.conn.try_clone()?)
    }

    /// Bytes of the database file's blocks that hold data. Blocks freed
    /// by compaction and merges stay in the file and are reused by later
    /// data, so the file is larger than this by at most about a day of chunks.
    pub fn used_bytes(&self) -> Result<u64, StoreError> {
        let (block_size, used): (i64, i64) = self.conn.query_row(
            "SELECT block_size, used_blocks FROM pragma_database_size()",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((block_size * used) as u64)
    }

    /// Writes the write-ahead log into the database file.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("CHECKPOINT")?;
        Ok(())
    }

    /// Drops DuckDB's cache of table blocks read from the file, keeping
    /// what only memory holds (rows not yet checkpointed, indexes).
    ///
    /// DuckDB keeps every block it has read until its memory limit is
    /// reached, so after compaction has read and rewritten a few minutes of
    /// every series it sits on megabytes that the next query rarely needs;
    /// the kernel's page cache keeps the file anyway, and that is not the
    /// monitor's memory. Lowering the limit to what is not cache makes
    /// DuckDB evict the cached blocks (they go first), and restoring it
    /// keeps the budget for the next burst. It runs on the store thread,
    /// between appends, so no append meets the lowered limit.
    pub fn release_cache(&self) -> Result<(), StoreError> {
        let not_cache = self.memory_bytes("tag <> 'BASE_TABLE'")?;
        // A failure to evict (everything pinned) leaves the limit unchanged.
        let lowered = self.conn.execute_batch(&format!(
            "SET memory_limit = '{}KiB'",
            (not_cache + CACHE_RELEASE_MARGIN).div_ceil(1024)
        ));
        self.conn
            .execute_batch(&format!("SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'"))?;
        if let Err(e) = lowered {
            tracing::debug!(error = %e, "DuckDB could not drop its block cache");
        }
        Ok(())
    }

    /// Bytes of DuckDB's buffer memory whose `duckdb_memory()` row matches `filter`.
    pub(super) fn memory_bytes(&self, filter: &str) -> Result<u64, StoreError> {
        let bytes: i64 = self.conn.query_row(
            &format!(
                "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory() WHERE {filter}"
            ),
            [],
            |r| r.get(0),
        )?;
        Ok(bytes as u64)
    }

    /// The seqlock the merge brackets its commits with, for readers.
    pub(super) fn epoch(&self) -> &ArchiveEpoch {
        &self.archive_epoch
    }

    /// The connection, for the other store modules.
    pub(super) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The connection, for the other store modules' transactions.
    pub(super) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Every stored series of `metric` whose labels include `selector`, by id.
    pub(super) fn matching_series(
        &self,
        metric: &str,
        selector: &Labels,
    ) -> std::collections::BTreeMap<i32, SeriesMeta<'_>> {
        self.series
            .get(metric)
            .into_iter()
            .flatten()
            .filter(|(labels, _)| labels.includes(selector))
            .map(|(labels, info)| {
                let meta = SeriesMeta {
                    labels,
                    unit: &info.unit,
                    kind: info.kind,
                    precision: info.precision,
                };
                (info.id, meta)
            })
            .collect()
    }

    /// The id of every stored series of `metric` whose labels include `selector`.
    pub(super) fn series_ids(&self, metric: &str, selector: &Labels) -> Vec<i32> {
        self.matching_series(metric, selector).into_keys().collect()
    }
}

/// A series' kind as stored (`counter` or `gauge`).
pub(super) fn kind_of(text: &str) -> MetricKind {
    if text == "counter" {
        MetricKind::Counter
    } else {
        MetricKind::Gauge
    }
}

/// A series' labels as stored (canonical JSON).
pub(super) fn labels_of(text: &str) -> Result<Labels, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("series labels: {e}")))
}

/// Creates whatever tables do not exist yet.
fn create_tables(conn: &Connection) -> duckdb::Result<()> {
    conn.execute_batch(super::schema::CREATE)?;
    for (table, span) in super::schema::ROLLUPS {
        conn.execute_batch(&super::schema::create_rollup(table, span))?;
    }
    Ok(())
}

/// Brings an older database to the current schema; see `schema::MIGRATE`.
fn migrate(conn: &Connection) -> duckdb::Result<()> {
    for (check, change) in super::schema::MIGRATE {
        let present: i64 = conn.query_row(check, [], |r| r.get(0))?;
        if present == 0 {
            conn.execute_batch(change)?;
        }
    }
    for (table, _) in super::schema::ROLLUPS {
        let old: i64 = conn.query_row(&super::schema::has_last_ts(table), [], |r| r.get(0))?;
        if old > 0 {
            conn.execute_batch(&super::schema::migrate_last_ts(table))?;
        }
    }
    let legacy: i64 = conn.query_row(super::schema::HAS_LEGACY_SAMPLES, [], |r| r.get(0))?;
    if legacy > 0 {
        tracing::info!("moving samples of an older schema into the head for compaction");
        conn.execute_batch(&format!(
            "BEGIN; {} COMMIT;",
            super::schema::MIGRATE_LEGACY_SAMPLES
        ))?;
    }
    Ok(())
}
