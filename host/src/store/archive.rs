//! Closed days as coded chunks: the daily merge writes them (`archive_day`),
//! and a raw query reads the ones its range touches (`Database::with_archive`).
//!
//! DuckDB's codecs left the benchmark's day at about 2.1 bytes a sample,
//! most of it in values that bit-packing stores at the width of each group's
//! largest delta. Coded per series with the range coder (`chunk.rs`), the
//! same samples take about 1.15, so once a UTC day is over its compacted
//! rows are moved into `samples_chunk`, one BLOB per series and up to
//! 32,768 samples. Rollups are not archived: range queries at a step of a
//! minute or more never decode a chunk.
//!
//! SQL cannot read a chunk, so a raw query first decodes the chunks that
//! overlap its range into the connection's temporary `staged_chunks` table,
//! which the `RAW` relation includes, then runs as before. Both happen in
//! one transaction, so a merge committing in between cannot hide samples
//! (moved out of `samples_compact` but not yet seen in `samples_chunk`),
//! and rolling it back empties the staged table.

use duckdb::{Connection, params};

use super::StoreError;
use super::chunk::{self, MAX_CHUNK_POINTS, Value};
use super::db::Database;

/// Most archived samples one query decodes: about a month of one series at
/// 1 s. DuckDB spills staged rows beyond its memory limit to its temporary
/// directory, so this bounds time, not memory.
pub const MAX_STAGED_POINTS: usize = 3_000_000;

/// Compacted rows one archiving step reads into memory: about 14 MB.
const ROWS_PER_STEP: i64 = 500_000;

/// Which archived samples a query needs.
pub struct ArchiveRange<'a> {
    /// Series ids; `None` is every series.
    pub series: Option<&'a [i32]>,
    /// `[start_ms, end_ms)`.
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Database {
    /// Runs `query` with the archived samples of `range` staged where `RAW`
    /// reads them; see the module comment.
    pub(super) fn with_archive<T>(
        &self,
        range: ArchiveRange<'_>,
        query: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // Dropped unfinished, the transaction rolls back: the staged rows go.
        let _tx = self.conn().unchecked_transaction()?;
        stage(self.conn(), &range)?;
        query()
    }
}

/// `series_id IN (...)`, or true for every series.
fn series_filter(series: Option<&[i32]>) -> String {
    match series {
        None => "TRUE".to_owned(),
        Some([]) => "FALSE".to_owned(),
        Some(ids) => {
            let ids: Vec<String> = ids.iter().map(i32::to_string).collect();
            format!("series_id IN ({})", ids.join(","))
        }
    }
}

/// Decodes the chunks overlapping `range` into `staged_chunks`, keeping
/// only the samples inside it.
fn stage(conn: &Connection, range: &ArchiveRange<'_>) -> Result<(), StoreError> {
    let overlapping = format!(
        "FROM samples_chunk WHERE {} AND end_ts >= ? AND start_ts < ?",
        series_filter(range.series)
    );
    let points: i64 = conn.query_row(
        &format!("SELECT coalesce(sum(count), 0)::BIGINT {overlapping}"),
        params![range.start_ms, range.end_ms],
        |r| r.get(0),
    )?;
    if points == 0 {
        return Ok(());
    }
    if points as usize > MAX_STAGED_POINTS {
        return Err(StoreError::TooManyPoints {
            points: points as usize,
            max: MAX_STAGED_POINTS,
        });
    }
    let mut stmt = conn.prepare(&format!("SELECT series_id, data {overlapping}"))?;
    let mut rows = stmt.query(params![range.start_ms, range.end_ms])?;
    let mut appender = conn.appender_to_catalog_and_db("staged_chunks", "temp", "main")?;
    while let Some(row) = rows.next()? {
        let series: i32 = row.get(0)?;
        let data: Vec<u8> = row.get(1)?;
        let mut failed = None;
        chunk::decode(&data, |ts, value| {
            if failed.is_some() || ts < range.start_ms || ts >= range.end_ms {
                return;
            }
            let appended = match value {
                Value::Scaled(i) => appender.append_row(params![series, ts, i, None::<f64>]),
                Value::Double(v) => appender.append_row(params![series, ts, None::<i64>, v]),
            };
            if let Err(e) = appended {
                failed = Some(e);
            }
        })
        .map_err(|e| StoreError::Corrupt(format!("series {series}: {e}")))?;
        if let Some(e) = failed {
            return Err(e.into());
        }
    }
    appender.flush()?;
    Ok(())
}

/// Moves the compacted samples of `[start_ms, end_ms)` into chunks, on the
/// maintenance connection, a few series at a time (each step its own
/// transaction, reading at most about [`ROWS_PER_STEP`] rows). `each_step`
/// runs inside every step's transaction with its range of series, for the
/// rollups the merge rewrites alongside. Returns the samples archived.
pub fn archive_range(
    conn: &mut Connection,
    (start_ms, end_ms): (i64, i64),
    mut each_step: impl FnMut(&duckdb::Transaction<'_>, (i64, i64)) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let mut archived = 0;
    for (first, last) in steps(conn, start_ms, end_ms)? {
        let tx = conn.transaction()?;
        archived += archive_series(&tx, (start_ms, end_ms), (first, last))?;
        each_step(&tx, (first, last))?;
        tx.commit()?;
    }
    Ok(archived)
}

/// Ranges of series ids whose compacted rows in the range number about
/// [`ROWS_PER_STEP`] together (a series with more is a step of its own).
fn steps(conn: &Connection, start_ms: i64, end_ms: i64) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT series_id, count(*) FROM samples_compact WHERE ts >= ? AND ts < ?
         GROUP BY series_id ORDER BY series_id",
    )?;
    let counts = stmt
        .query_map(params![start_ms, end_ms], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut steps: Vec<(i64, i64)> = Vec::new();
    let mut rows_in_step = 0;
    for (series, rows) in counts {
        match steps.last_mut() {
            Some(step) if rows_in_step + rows <= ROWS_PER_STEP => step.1 = series,
            _ => {
                steps.push((series, series));
                rows_in_step = 0;
            }
        }
        rows_in_step += rows;
    }
    Ok(steps)
}

/// Codes the compacted rows of series `[first, last]` in the time range
/// into chunks and deletes the rows. The delete sees the same snapshot as
/// the read, so a late sample compacted meanwhile stays a row.
fn archive_series(
    tx: &duckdb::Transaction<'_>,
    (start_ms, end_ms): (i64, i64),
    (first, last): (i64, i64),
) -> Result<u64, StoreError> {
    let mut read = tx.prepare(
        "SELECT series_id, ts, ivalue, fvalue FROM samples_compact
         WHERE ts >= ? AND ts < ? AND series_id BETWEEN ? AND ?
         ORDER BY series_id, ts",
    )?;
    let mut rows = read.query(params![start_ms, end_ms, first, last])?;
    let mut appender = tx.appender("samples_chunk")?;
    let mut points: Vec<(i64, Value)> = Vec::with_capacity(MAX_CHUNK_POINTS);
    let mut series = None;
    let mut archived = 0;
    let mut write = |series: i32, points: &mut Vec<(i64, Value)>| -> Result<(), StoreError> {
        if let (Some(first), Some(last)) = (points.first(), points.last()) {
            appender.append_row(params![
                series,
                first.0,
                last.0,
                points.len() as i32,
                chunk::encode(points)
            ])?;
            archived += points.len() as u64;
            points.clear();
        }
        Ok(())
    };
    while let Some(row) = rows.next()? {
        let id: i32 = row.get(0)?;
        if series != Some(id) || points.len() == MAX_CHUNK_POINTS {
            if let Some(previous) = series {
                write(previous, &mut points)?;
            }
            series = Some(id);
        }
        let value = match (row.get::<_, Option<i64>>(2)?, row.get::<_, Option<f64>>(3)?) {
            (Some(i), _) => Value::Scaled(i),
            (None, Some(v)) => Value::Double(v),
            (None, None) => {
                return Err(StoreError::Corrupt(format!(
                    "series {id} has a sample without a value"
                )));
            }
        };
        points.push((row.get(1)?, value));
    }
    if let Some(previous) = series {
        write(previous, &mut points)?;
    }
    drop(write);
    appender.flush()?;
    drop(appender);
    tx.execute(
        "DELETE FROM samples_compact WHERE ts >= ? AND ts < ? AND series_id BETWEEN ? AND ?",
        params![start_ms, end_ms, first, last],
    )?;
    Ok(archived)
}

/// Deletes chunks whose last sample is before `cutoff_ms`; returns the
/// samples they held. A chunk straddling the cut-off is kept whole.
pub fn apply_retention(conn: &Connection, cutoff_ms: i64) -> Result<u64, StoreError> {
    let samples: i64 = conn.query_row(
        "SELECT coalesce(sum(count), 0)::BIGINT FROM samples_chunk WHERE end_ts < ?",
        params![cutoff_ms],
        |r| r.get(0),
    )?;
    conn.execute(
        "DELETE FROM samples_chunk WHERE end_ts < ?",
        params![cutoff_ms],
    )?;
    Ok(samples as u64)
}

/// Samples held in chunks.
pub fn sample_count(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT coalesce(sum(count), 0)::BIGINT FROM samples_chunk",
        [],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}
