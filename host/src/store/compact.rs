//! Compaction: the head (arrival order, one commit per batch) is moved into
//! series-sorted rows, and the moved samples are folded into the 1-minute
//! and 1-hour rollups, all in one transaction.
//!
//! Sorting is what makes the data small: DuckDB's codecs then see one
//! series' smooth values and constant timestamp deltas instead of ticks
//! interleaved (docs/storage.md). Rollups are updated from the moved rows
//! only (never recomputed from the raw tables); a late sample whose minute
//! was already rolled up is merged into that minute's row.
//!
//! Once a UTC day is over, the daily merge moves its compacted samples and
//! its 1-minute rollups into coded chunks (`archive.rs`).
//!
//! All of this runs on the maintenance thread's own connection, so appends
//! and queries go on meanwhile: compaction moves only head rows its snapshot
//! sees, and the merge touches only rows of a closed day.

use duckdb::{Connection, params};

use super::StoreError;
use super::archive;
use super::schema::{EXACT_SUM, VALUE, rollup_rows};

/// What one compaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compaction {
    /// Raw samples moved from the head into sorted chunks.
    pub moved: u64,
}

/// How long each tier keeps data, as cut-off times (epoch ms).
#[derive(Debug, Clone, Copy)]
pub struct RetentionCutoffs {
    /// Raw samples before this are deleted.
    pub raw: i64,
    /// 1-minute rollups before this are deleted.
    pub minute: i64,
    /// 1-hour rollups before this are deleted.
    pub hour: i64,
    /// Delivery records before this are deleted.
    pub deliveries: i64,
}

/// Most head rows one compaction transaction moves. Sorting and folding a
/// slice happens in DuckDB's memory budget (see db.rs); a backlog, such as
/// an hour of history posted at once, is moved in several slices.
const MAX_ROWS_PER_SLICE: i64 = 250_000;

/// Moves every head sample older than `cutoff_ms` into sorted chunks and
/// into the rollups, on the maintenance connection, oldest first in slices
/// of at most [`MAX_ROWS_PER_SLICE`] rows, each slice all or nothing.
pub fn compact(conn: &mut Connection, cutoff_ms: i64) -> Result<Compaction, StoreError> {
    let mut moved = 0;
    loop {
        let first: Option<i64> = conn.query_row(
            "SELECT min(ts) FROM samples_head WHERE ts < ?",
            params![cutoff_ms],
            |r| r.get(0),
        )?;
        let Some(first) = first else {
            break;
        };
        let mut end = cutoff_ms;
        loop {
            let rows: i64 = conn.query_row(
                "SELECT count(*) FROM samples_head WHERE ts < ?",
                params![end],
                |r| r.get(0),
            )?;
            // Halving stops at one millisecond's worth, however many rows.
            if rows <= MAX_ROWS_PER_SLICE || end - first <= 1 {
                break;
            }
            end = first + (end - first) / 2;
        }
        moved += compact_slice(conn, end)?;
    }
    Ok(Compaction { moved })
}

/// Moves every head sample older than `end_ms` in one transaction.
/// Appends go on meanwhile on the store's own connection: they add head
/// rows this transaction's snapshot does not see, so it neither moves nor
/// deletes them (they wait for the next compaction).
fn compact_slice(conn: &mut Connection, end_ms: i64) -> Result<u64, StoreError> {
    let tx = conn.transaction()?;
    let moved = tx.execute(
        "INSERT INTO samples_compact
         SELECT series_id, ts, ivalue, fvalue FROM samples_head WHERE ts < ?
         ORDER BY series_id, ts",
        params![end_ms],
    )?;
    if moved > 0 {
        tx.execute(
            &format!(
                "CREATE TEMP TABLE partial_1m AS
                 SELECT x.series_id, x.ts // 60000 * 60000 AS bucket, min({VALUE}) AS min,
                        max({VALUE}) AS max, {EXACT_SUM} AS sum, count(*)::INTEGER AS count,
                        arg_max({VALUE}, x.ts) AS last, max(x.ts) AS last_ts
                 FROM samples_head x JOIN series s ON s.id = x.series_id
                 WHERE x.ts < ? GROUP BY x.series_id, 2"
            ),
            params![end_ms],
        )?;
        tx.execute_batch(
            "CREATE TEMP TABLE partial_1h AS
               SELECT series_id, bucket // 3600000 * 3600000 AS bucket, min(min) AS min,
                      max(max) AS max, sum(sum) AS sum, sum(count)::INTEGER AS count,
                      arg_max(last, last_ts) AS last, max(last_ts) AS last_ts
               FROM partial_1m GROUP BY series_id, 2;",
        )?;
        merge(&tx, "partial_1m", "rollup_1m")?;
        merge(&tx, "partial_1h", "rollup_1h")?;
        tx.execute("DELETE FROM samples_head WHERE ts < ?", params![end_ms])?;
        tx.execute_batch("DROP TABLE partial_1m; DROP TABLE partial_1h;")?;
    }
    tx.commit()?;
    Ok(moved as u64)
}

/// Deletes what each tier keeps no longer; returns the raw samples deleted.
/// Only compacted samples are deleted: a head sample leaves after
/// compaction has folded it into the rollups, never before.
pub fn apply_retention(conn: &Connection, cutoffs: RetentionCutoffs) -> Result<usize, StoreError> {
    let raw = conn.execute(
        "DELETE FROM samples_compact WHERE ts < ?",
        params![cutoffs.raw],
    )? + archive::apply_retention(conn, cutoffs.raw)? as usize;
    conn.execute(
        "DELETE FROM rollup_1m WHERE bucket < ?",
        params![cutoffs.minute],
    )?;
    archive::apply_minute_retention(conn, cutoffs.minute)?;
    conn.execute(
        "DELETE FROM rollup_1h WHERE bucket < ?",
        params![cutoffs.hour],
    )?;
    let records = conn.execute(
        "DELETE FROM deliveries WHERE ts < ?",
        params![cutoffs.deliveries],
    )?;
    if records > 0 {
        tracing::debug!(records, "retention: delivery records deleted");
    }
    Ok(raw)
}

/// Adds the partial aggregates in `partial` to `rollup`: buckets the rollup
/// already has (late samples, or an hour compacted in several parts) are
/// combined with the new partials; the rest are appended in series order.
fn merge(tx: &duckdb::Transaction<'_>, partial: &str, rollup: &str) -> Result<(), StoreError> {
    // Only buckets inside the partials' time span can collide; the bounds
    // let zone maps skip every older row group of the rollup.
    let (lo, hi): (Option<i64>, Option<i64>) = tx.query_row(
        &format!("SELECT min(bucket), max(bucket) FROM {partial}"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(());
    };
    let rows = rollup_rows(rollup);
    tx.execute_batch(&format!(
        "CREATE TEMP TABLE merged AS
           SELECT p.series_id, p.bucket, least(p.min, r.min) AS min, greatest(p.max, r.max) AS max,
                  p.sum + r.sum AS sum, p.count + r.count AS count,
                  CASE WHEN p.last_ts >= r.last_ts THEN p.last ELSE r.last END AS last,
                  greatest(p.last_ts, r.last_ts) AS last_ts
           FROM {partial} p JOIN {rows} r ON r.series_id = p.series_id AND r.bucket = p.bucket
           WHERE r.bucket BETWEEN {lo} AND {hi};
         DELETE FROM {rollup} r WHERE r.bucket BETWEEN {lo} AND {hi} AND EXISTS
           (SELECT 1 FROM merged m WHERE m.series_id = r.series_id AND m.bucket = r.bucket);
         INSERT INTO {rollup}
           SELECT series_id, bucket, min, max, sum, count, last, (last_ts - bucket)::INTEGER FROM (
             SELECT * FROM merged
             UNION ALL
             SELECT p.series_id, p.bucket, p.min, p.max, p.sum, p.count, p.last, p.last_ts
             FROM {partial} p ANTI JOIN merged m ON m.series_id = p.series_id AND m.bucket = p.bucket
           ) ORDER BY series_id, bucket;
         DROP TABLE merged;"
    ))?;
    Ok(())
}

/// Rewrites the hourly rollups of `[start_ms, end_ms)` sorted by series,
/// in one transaction (a day is 24 rows a series). Compaction replaced each
/// hour's row six times (once per 10-minute part), and the replaced rows
/// stay in their row groups as deleted rows until rewritten. Copies are
/// appended above every row id found, which is how the old rows are told
/// apart and deleted.
fn rewrite_hours(conn: &mut Connection, (start_ms, end_ms): (i64, i64)) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let before: Option<i64> = tx.query_row("SELECT max(rowid) FROM rollup_1h", [], |r| r.get(0))?;
    tx.execute(
        "INSERT INTO rollup_1h SELECT * FROM rollup_1h WHERE bucket >= ? AND bucket < ?
         ORDER BY series_id, bucket",
        params![start_ms, end_ms],
    )?;
    tx.execute(
        "DELETE FROM rollup_1h WHERE rowid <= ? AND bucket >= ? AND bucket < ?",
        params![before.unwrap_or(-1), start_ms, end_ms],
    )?;
    tx.commit()?;
    Ok(())
}

/// Archives the compacted samples and the 1-minute rollups of `[start_ms,
/// end_ms)` (a closed UTC day) into coded chunks (`archive.rs`), on the
/// maintenance connection, a few series at a time (each step its own
/// transaction, so a day of thousands of series never has to fit in memory
/// at once). A range merged before is
/// left alone (a restart asks for yesterday again). Returns the samples
/// archived.
pub fn merge_range(
    conn: &mut Connection,
    epoch: &super::epoch::ArchiveEpoch,
    start_ms: i64,
    end_ms: i64,
) -> Result<u64, StoreError> {
    let done: i64 = conn.query_row(
        "SELECT count(*) FROM merged_ranges WHERE start_ms = ? AND end_ms = ?",
        params![start_ms, end_ms],
        |r| r.get(0),
    )?;
    if done > 0 {
        return Ok(0);
    }
    let archived = archive::archive_range(conn, epoch, (start_ms, end_ms))?;
    rewrite_hours(conn, (start_ms, end_ms))?;
    conn.execute(
        "INSERT INTO merged_ranges VALUES (?, ?)",
        params![start_ms, end_ms],
    )?;
    // Reclaims the old chunks' blocks now rather than at the next automatic
    // checkpoint; if an append is in flight DuckDB declines, and the
    // automatic checkpoint does it later.
    if let Err(e) = conn.execute_batch("CHECKPOINT") {
        tracing::debug!("checkpoint after the day merge deferred: {e}");
    }
    Ok(archived)
}
