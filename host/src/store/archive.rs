//! Closed days as coded chunks: the daily merge writes them
//! (`archive_range`), and a query reads the ones its range touches
//! (`Database::with_archive`).
//!
//! DuckDB's bit-packing stores every value of a group at the width of the
//! group's largest delta; an entropy coder per series (`codec/chunk.rs`)
//! spends about what each value carries. So once a UTC day is over its
//! compacted rows are moved into the `archive` table, one BLOB per series
//! and up to 32,768 samples. The day's 1-minute rollups go the same way (a
//! day of one series per BLOB, tier [`MINUTES`]): as rows, their epoch-ms
//! buckets cost bit-packing a new width at every series boundary. Hourly
//! rollups stay rows: an hour-step query never decodes anything.
//! docs/storage.md has the figures.
//!
//! SQL cannot read a chunk, so a raw query first decodes the chunks that
//! overlap its range into the connection's temporary `staged_chunks`
//! table, which the `RAW` relation includes, then runs as before. Both
//! happen in one transaction, so a merge committing in between cannot hide
//! samples (moved out of `samples_compact` but not yet seen in
//! `archive`), and rolling it back empties the staged table.
//! Minute-step queries are the common case (every dashboard panel), and
//! staging their minutes cost more than the query itself, so
//! `range_rollups.rs` folds the decoded minutes into its answer in Rust
//! instead (`for_each_archived_minute`).

use duckdb::{Connection, params};

use super::StoreError;
use super::db::Database;
use super::epoch::ArchiveEpoch;
use super::schema::id_list;
use crate::codec::chunk::{self, MAX_CHUNK_POINTS, Value};

/// Most archived samples one query stages (those inside its range): 20
/// series' week at 1 s, some seconds' work (a p95 over archived days). DuckDB spills
/// staged rows beyond its memory limit to its temporary directory, so this
/// bounds time, not memory.
pub const MAX_STAGED_POINTS: usize = 20_000_000;
/// Most archived samples or minutes one query decodes, inside its range or
/// not (a chunk is decoded whole): several seconds' work. Priming the
/// window or a latest-value query just after the daily merge decodes each
/// series' last chunk of the day for its last minutes: 2,000 series at 1 s
/// are 42 M.
const MAX_DECODED_POINTS: usize = 100_000_000;

/// Compacted rows one archiving step reads into memory: about 14 MB.
const ROWS_PER_STEP: i64 = 500_000;

/// `archive.tier` of raw sample chunks.
const SAMPLES: u8 = 0;
/// `archive.tier` of 1-minute rollup chunks.
const MINUTES: u8 = 1;

/// Rollup columns in a minute chunk, in this order.
const ROLLUP_COLUMNS: usize = 6;

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
        stage_samples(self.conn(), &range)?;
        query()
    }
}

/// `series_id IN (...)`, or true for every series.
fn series_filter(series: Option<&[i32]>) -> String {
    match series {
        None => "TRUE".to_owned(),
        Some([]) => "FALSE".to_owned(),
        Some(ids) => format!("series_id IN ({})", id_list(ids)),
    }
}

/// `FROM archive WHERE` the chunks of `range`'s series overlapping its
/// times, or `None` when there are none; refuses to decode more than
/// [`MAX_DECODED_POINTS`].
fn overlapping(
    conn: &Connection,
    tier: u8,
    range: &ArchiveRange<'_>,
) -> Result<Option<String>, StoreError> {
    let from = format!(
        "FROM archive c WHERE c.tier = {tier} AND {} AND c.last_ms >= {} AND c.first_ms < {}",
        series_filter(range.series),
        range.start_ms,
        range.end_ms
    );
    let points: i64 = conn.query_row(
        &format!("SELECT coalesce(sum(c.count), 0)::BIGINT {from}"),
        [],
        |r| r.get(0),
    )?;
    if points as usize > MAX_DECODED_POINTS {
        return Err(StoreError::TooManyPoints {
            points: points as usize,
            max: MAX_DECODED_POINTS,
        });
    }
    Ok((points > 0).then_some(from))
}

/// Decodes the sample chunks overlapping `range` into `staged_chunks`,
/// keeping only the samples inside it.
fn stage_samples(conn: &Connection, range: &ArchiveRange<'_>) -> Result<(), StoreError> {
    let Some(from) = overlapping(conn, SAMPLES, range)? else {
        return Ok(());
    };
    let mut stmt = conn.prepare(&format!("SELECT c.series_id, c.data {from}"))?;
    let mut rows = stmt.query([])?;
    let mut appender = conn.appender_to_catalog_and_db("staged_chunks", "temp", "main")?;
    let mut staged = 0;
    while let Some(row) = rows.next()? {
        let series: i32 = row.get(0)?;
        let data: Vec<u8> = row.get(1)?;
        let mut failed = None;
        chunk::decode(&data, |ts, value| {
            if failed.is_some() || ts < range.start_ms || ts >= range.end_ms {
                return;
            }
            staged += 1;
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
        if staged > MAX_STAGED_POINTS {
            return Err(StoreError::TooManyPoints {
                points: staged,
                max: MAX_STAGED_POINTS,
            });
        }
    }
    appender.flush()?;
    Ok(())
}

/// One archived minute of a series, as `rollup_1m` holds it.
#[derive(Debug, Clone, Copy)]
pub struct ArchivedMinute {
    pub bucket: i64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub count: i64,
    pub last: f64,
    /// The last sample's time, epoch ms.
    pub last_ts: i64,
}

/// Calls `each` with every archived minute of the series in `precisions`
/// (ids, sorted, with their precision) whose bucket is in `[start_ms,
/// end_ms)`. Read it and
/// `rollup_1m` within one [`ArchiveEpoch::read`], so a merge cannot move a
/// minute between the two reads.
pub fn for_each_archived_minute(
    conn: &Connection,
    precisions: &[(i32, u8)],
    (start_ms, end_ms): (i64, i64),
    mut each: impl FnMut(i32, ArchivedMinute),
) -> Result<(), StoreError> {
    let ids: Vec<i32> = precisions.iter().map(|&(id, _)| id).collect();
    // The bounds are parameters, so a panel refreshed over a moving range
    // reuses the plan instead of planning again.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT c.series_id, c.count, c.data FROM archive c
         WHERE c.tier = {MINUTES} AND {} AND c.last_ms >= $1::BIGINT AND c.first_ms < $2::BIGINT",
        series_filter(Some(&ids))
    ))?;
    let mut rows = stmt.query(params![start_ms, end_ms])?;
    let mut decoded = 0;
    while let Some(row) = rows.next()? {
        let (series, count): (i32, i64) = (row.get(0)?, row.get(1)?);
        let precision = precisions
            .binary_search_by_key(&series, |&(id, _)| id)
            .map_or(0, |i| precisions[i].1);
        decoded += count as usize;
        if decoded > MAX_DECODED_POINTS {
            return Err(StoreError::TooManyPoints {
                points: decoded,
                max: MAX_DECODED_POINTS,
            });
        }
        let data: Vec<u8> = row.get(2)?;
        let corrupt = |e: String| StoreError::Corrupt(format!("series {series} minutes: {e}"));
        let (buckets, columns) =
            chunk::decode_columns(&data, ROLLUP_COLUMNS).map_err(|e| corrupt(e.to_string()))?;
        let [min, max, sum, counts, last, offsets] = &columns[..] else {
            unreachable!("decode_columns returns the columns asked for");
        };
        let double = |v: &[Value], i: usize| chunk::to_double(v[i], precision);
        for (i, &bucket) in buckets.iter().enumerate() {
            if bucket < start_ms || bucket >= end_ms {
                continue;
            }
            let (Value::Scaled(count), Value::Scaled(offset)) = (counts[i], offsets[i]) else {
                return Err(corrupt("a count or offset is not an integer".to_owned()));
            };
            each(
                series,
                ArchivedMinute {
                    bucket,
                    min: double(min, i),
                    max: double(max, i),
                    sum: double(sum, i),
                    count,
                    last: double(last, i),
                    last_ts: bucket.wrapping_add(offset),
                },
            );
        }
    }
    Ok(())
}

/// Moves the compacted samples and the 1-minute rollups of `[start_ms,
/// end_ms)` into chunks, on the maintenance connection, a few series at a
/// time (each step its own transaction, reading at most about
/// [`ROWS_PER_STEP`] samples). Returns the samples archived.
pub fn archive_range(
    conn: &mut Connection,
    epoch: &ArchiveEpoch,
    (start_ms, end_ms): (i64, i64),
) -> Result<u64, StoreError> {
    let mut archived = 0;
    for series in steps(conn, start_ms, end_ms)? {
        let tx = conn.transaction()?;
        archived += archive_samples(&tx, (start_ms, end_ms), series)?;
        archive_minutes(&tx, (start_ms, end_ms), series)?;
        epoch.commit(tx)?;
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
/// into chunks and deletes the rows, in the caller's transaction: the
/// delete removes exactly the rows the read saw.
fn archive_samples(
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
    let mut appender = tx.appender("archive")?;
    let mut points: Vec<(i64, Value)> = Vec::with_capacity(MAX_CHUNK_POINTS);
    let mut series = None;
    let mut archived = 0;
    let mut write = |series: i32, points: &mut Vec<(i64, Value)>| -> Result<(), StoreError> {
        if let (Some(first), Some(last)) = (points.first(), points.last()) {
            appender.append_row(params![
                series,
                SAMPLES,
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
    appender.flush()?;
    drop(appender);
    tx.execute(
        "DELETE FROM samples_compact WHERE ts >= ? AND ts < ? AND series_id BETWEEN ? AND ?",
        params![start_ms, end_ms, first, last],
    )?;
    Ok(archived)
}

/// Codes the 1-minute rollups of series `[first, last]` whose buckets are
/// in the time range into one chunk per series and deletes the rows. A
/// late sample's minute compacted afterwards becomes a row of its own
/// beside the chunk; queries aggregate rollup rows per step, so the two
/// combine as one minute.
fn archive_minutes(
    tx: &duckdb::Transaction<'_>,
    (start_ms, end_ms): (i64, i64),
    (first, last): (i64, i64),
) -> Result<(), StoreError> {
    let mut read = tx.prepare(
        "SELECT r.series_id, coalesce(s.precision, 0), r.bucket, r.min, r.max, r.sum, r.count,
                r.last, r.last_offset
         FROM rollup_1m r JOIN series s ON s.id = r.series_id
         WHERE r.bucket >= ? AND r.bucket < ? AND r.series_id BETWEEN ? AND ?
         ORDER BY r.series_id, r.bucket",
    )?;
    let mut rows = read.query(params![start_ms, end_ms, first, last])?;
    let mut appender = tx.appender("archive")?;
    let mut minutes = Minutes::default();
    while let Some(row) = rows.next()? {
        let (id, precision): (i32, u8) = (row.get(0)?, row.get(1)?);
        if minutes.series != Some(id) || minutes.buckets.len() == MAX_CHUNK_POINTS {
            minutes.write(&mut appender)?;
            minutes.series = Some(id);
        }
        minutes.buckets.push(row.get(2)?);
        for (column, index) in minutes.columns.iter_mut().zip(3..) {
            let value = if matches!(index, 6 | 8) {
                Value::Scaled(row.get::<_, i64>(index)?)
            } else {
                chunk::from_double(row.get(index)?, precision)
            };
            column.push(value);
        }
    }
    minutes.write(&mut appender)?;
    appender.flush()?;
    drop(appender);
    tx.execute(
        "DELETE FROM rollup_1m WHERE bucket >= ? AND bucket < ? AND series_id BETWEEN ? AND ?",
        params![start_ms, end_ms, first, last],
    )?;
    Ok(())
}

/// One series' minutes being gathered into a chunk.
#[derive(Default)]
struct Minutes {
    series: Option<i32>,
    buckets: Vec<i64>,
    /// min, max, sum, count, last, last_offset.
    columns: [Vec<Value>; ROLLUP_COLUMNS],
}

impl Minutes {
    /// Appends the gathered minutes as a chunk, if any, and starts afresh.
    fn write(&mut self, appender: &mut duckdb::Appender<'_>) -> Result<(), StoreError> {
        if let (Some(series), Some(&first), Some(&last)) =
            (self.series, self.buckets.first(), self.buckets.last())
        {
            let data = chunk::encode_columns(&self.buckets, &self.columns);
            appender.append_row(params![
                series,
                MINUTES,
                first,
                last,
                self.buckets.len() as i32,
                data
            ])?;
        }
        self.buckets.clear();
        self.columns.iter_mut().for_each(Vec::clear);
        Ok(())
    }
}

/// Deletes minute chunks whose last bucket is before `cutoff_ms`. A chunk
/// straddling the cut-off is kept whole.
pub fn apply_minute_retention(conn: &Connection, cutoff_ms: i64) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM archive WHERE tier = ? AND last_ms < ?",
        params![MINUTES, cutoff_ms],
    )?;
    Ok(())
}

/// Deletes sample chunks whose last sample is before `cutoff_ms`; returns
/// the samples they held. A chunk straddling the cut-off is kept whole.
pub fn apply_retention(conn: &Connection, cutoff_ms: i64) -> Result<u64, StoreError> {
    let samples: i64 = conn.query_row(
        "SELECT coalesce(sum(count), 0)::BIGINT FROM archive WHERE tier = ? AND last_ms < ?",
        params![SAMPLES, cutoff_ms],
        |r| r.get(0),
    )?;
    conn.execute(
        "DELETE FROM archive WHERE tier = ? AND last_ms < ?",
        params![SAMPLES, cutoff_ms],
    )?;
    Ok(samples as u64)
}

/// Samples held in chunks.
pub fn sample_count(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT coalesce(sum(count), 0)::BIGINT FROM archive WHERE tier = ?",
        params![SAMPLES],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}
