//! Compaction: the head (arrival order, one commit per batch) is moved into
//! series-sorted chunks, and the moved samples are folded into the 1-minute
//! and 1-hour rollups, all in one transaction.
//!
//! Sorting is what makes the data small: measured here, tick-interleaved
//! rows cost about 8 bytes per sample and series-sorted rows about 3 before
//! value typing, because DuckDB's codecs then see one series' smooth values
//! and constant timestamp deltas. Rollups are updated from the moved rows
//! only (never recomputed from the raw tables); a late sample whose minute
//! was already rolled up is merged into that minute's row.

use duckdb::params;

use super::StoreError;
use super::db::Database;
use super::schema::VALUE;

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
}

impl Database {
    /// Moves every head sample older than `cutoff_ms` into a sorted chunk
    /// and into the rollups. Either all of it happens or none does.
    pub fn compact(&mut self, cutoff_ms: i64) -> Result<Compaction, StoreError> {
        let tx = self.conn_mut().transaction()?;
        let moved = tx.execute(
            &format!(
                "CREATE TEMP TABLE moving AS
                 SELECT x.series_id, x.ts, x.ivalue, x.fvalue, {VALUE} AS v
                 FROM samples_head x JOIN series s ON s.id = x.series_id
                 WHERE x.ts < ?"
            ),
            params![cutoff_ms],
        )?;
        if moved > 0 {
            tx.execute_batch(
                "INSERT INTO samples_compact
                   SELECT series_id, ts, ivalue, fvalue FROM moving ORDER BY series_id, ts;
                 CREATE TEMP TABLE partial_1m AS
                   SELECT series_id, ts // 60000 * 60000 AS bucket, min(v) AS min, max(v) AS max,
                          sum(v) AS sum, count(*)::INTEGER AS count, arg_max(v, ts) AS last,
                          max(ts) AS last_ts
                   FROM moving GROUP BY series_id, bucket;
                 CREATE TEMP TABLE partial_1h AS
                   SELECT series_id, bucket // 3600000 * 3600000 AS hour, min(min) AS min,
                          max(max) AS max, sum(sum) AS sum, sum(count)::INTEGER AS count,
                          arg_max(last, last_ts) AS last, max(last_ts) AS last_ts
                   FROM partial_1m GROUP BY series_id, hour;",
            )?;
            merge(&tx, "partial_1m", "rollup_1m")?;
            tx.execute_batch("ALTER TABLE partial_1h RENAME COLUMN hour TO bucket;")?;
            merge(&tx, "partial_1h", "rollup_1h")?;
            tx.execute("DELETE FROM samples_head WHERE ts < ?", params![cutoff_ms])?;
            tx.execute_batch("DROP TABLE partial_1m; DROP TABLE partial_1h;")?;
        }
        tx.execute_batch("DROP TABLE moving;")?;
        tx.commit()?;
        Ok(Compaction {
            moved: moved as u64,
        })
    }

    /// Deletes what each tier keeps no longer; returns the raw samples deleted.
    /// Compact first, or expired head samples wait for the next sweep.
    pub fn apply_retention(&self, cutoffs: RetentionCutoffs) -> Result<usize, StoreError> {
        let conn = self.conn();
        // Only compacted samples: a head sample is deleted after compaction
        // has folded it into the rollups, never before.
        let raw = conn.execute(
            "DELETE FROM samples_compact WHERE ts < ?",
            params![cutoffs.raw],
        )?;
        conn.execute(
            "DELETE FROM rollup_1m WHERE bucket < ?",
            params![cutoffs.minute],
        )?;
        conn.execute(
            "DELETE FROM rollup_1h WHERE bucket < ?",
            params![cutoffs.hour],
        )?;
        Ok(raw)
    }
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
    tx.execute_batch(&format!(
        "CREATE TEMP TABLE merged AS
           SELECT p.series_id, p.bucket, least(p.min, r.min) AS min, greatest(p.max, r.max) AS max,
                  p.sum + r.sum AS sum, p.count + r.count AS count,
                  CASE WHEN p.last_ts >= r.last_ts THEN p.last ELSE r.last END AS last,
                  greatest(p.last_ts, r.last_ts) AS last_ts
           FROM {partial} p JOIN {rollup} r ON r.series_id = p.series_id AND r.bucket = p.bucket
           WHERE r.bucket BETWEEN {lo} AND {hi};
         DELETE FROM {rollup} r WHERE r.bucket BETWEEN {lo} AND {hi} AND EXISTS
           (SELECT 1 FROM merged m WHERE m.series_id = r.series_id AND m.bucket = r.bucket);
         INSERT INTO {rollup}
           SELECT series_id, bucket, min, max, sum, count, last, last_ts FROM (
             SELECT * FROM merged
             UNION ALL
             SELECT p.series_id, p.bucket, p.min, p.max, p.sum, p.count, p.last, p.last_ts
             FROM {partial} p ANTI JOIN merged m ON m.series_id = p.series_id AND m.bucket = p.bucket
           ) ORDER BY series_id, bucket;
         DROP TABLE merged;"
    ))?;
    Ok(())
}
