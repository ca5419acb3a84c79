//! Range queries over the rollup tiers: DuckDB aggregates the rollup rows
//! and the head of each step into partial aggregates, the archived minutes
//! of closed days (`archive.rs`) are folded into those in Rust, and each
//! step's answer is computed from the total.
//!
//! Series are described from the store's in-memory dictionary, not a
//! query. Folding decoded minutes in Rust is far cheaper than staging them
//! in a temporary table for SQL as raw queries do (an appender row per
//! minute, then planning a union; docs/storage.md has the figures). The
//! two reads are made consistent by `ArchiveEpoch` rather than a
//! transaction, which would cost more than the read.

use std::collections::BTreeMap;

use super::StoreError;
use super::archive::{ArchivedMinute, for_each_archived_minute};
use super::db::{Database, SeriesMeta};
use super::range::{Aggregation, RangeQuery, RangeSeries, Tier};
use super::schema::id_list;
use super::schema::{EXACT_SUM, VALUE, rollup_rows};

/// What the samples of one step come to, before the aggregation asked for.
#[derive(Debug, Clone, Copy)]
struct Partial {
    min: f64,
    max: f64,
    sum: f64,
    count: i64,
    last: f64,
    last_ts: i64,
}

impl Partial {
    /// Folds an archived minute into a partial from rows. On a tie in
    /// time the rows' `last` stays: a late sample's row is newer than the
    /// archived minute, as compaction lets the newer partial win a tie.
    fn add(&mut self, other: Partial) {
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum += other.sum;
        self.count += other.count;
        if other.last_ts > self.last_ts {
            self.last = other.last;
            self.last_ts = other.last_ts;
        }
    }

    fn value(&self, agg: Aggregation) -> f64 {
        match agg {
            Aggregation::Avg => self.sum / self.count as f64,
            Aggregation::Min => self.min,
            Aggregation::Max => self.max,
            Aggregation::Sum => self.sum,
            Aggregation::Last => self.last,
            Aggregation::P95 => unreachable!("p95 is always answered from raw samples"),
        }
    }
}

impl From<ArchivedMinute> for Partial {
    fn from(m: ArchivedMinute) -> Self {
        Self {
            min: m.min,
            max: m.max,
            sum: m.sum,
            count: m.count,
            last: m.last,
            last_ts: m.last_ts,
        }
    }
}

impl Database {
    /// Answers a query on a rollup tier (its step is whole buckets).
    pub(super) fn rollup_range(
        &self,
        q: &RangeQuery,
        series: &BTreeMap<i32, SeriesMeta<'_>>,
        tier: Tier,
        (step, start, end): (i64, i64, i64),
    ) -> Result<Vec<RangeSeries>, StoreError> {
        let (table, bucket) = tier.table_and_bucket().expect("rollup tiers have a table");
        let ids: Vec<i32> = series.keys().copied().collect();
        let ids_text = id_list(&ids);
        let precisions: Vec<(i32, u8)> = series
            .iter()
            .map(|(&id, meta)| (id, meta.precision.unwrap_or(0)))
            .collect();
        // The times are parameters ($1 step, $2 start, $3 end), so a panel
        // refreshed over a moving range reuses the prepared plan.
        let sql = format!(
            "SELECT series_id, bucket // $1::BIGINT * $1::BIGINT AS t, min(min), max(max),
                    sum(sum), sum(count)::BIGINT, arg_max(last, last_ts), max(last_ts)
             FROM (
               SELECT * FROM {rows}
               WHERE series_id IN ({ids_text}) AND bucket >= $2::BIGINT AND bucket < $3::BIGINT
               UNION ALL
               SELECT x.series_id, x.ts // {bucket} * {bucket} AS bucket, min({VALUE}),
                      max({VALUE}), {EXACT_SUM}, count(*), arg_max({VALUE}, x.ts), max(x.ts)
               FROM samples_head x JOIN series s ON s.id = x.series_id
               WHERE x.series_id IN ({ids_text}) AND x.ts >= $2::BIGINT AND x.ts < $3::BIGINT
               GROUP BY x.series_id, 2)
             GROUP BY series_id, t",
            rows = rollup_rows(table)
        );
        let read = || -> Result<BTreeMap<(i32, i64), Partial>, StoreError> {
            let mut steps = BTreeMap::new();
            let mut stmt = self.conn().prepare_cached(&sql)?;
            let mut rows = stmt.query(duckdb::params![step, start, end])?;
            while let Some(row) = rows.next()? {
                let partial = Partial {
                    min: row.get(2)?,
                    max: row.get(3)?,
                    sum: row.get(4)?,
                    count: row.get(5)?,
                    last: row.get(6)?,
                    last_ts: row.get(7)?,
                };
                steps.insert((row.get(0)?, row.get(1)?), partial);
            }
            if tier == Tier::Minute {
                for_each_archived_minute(self.conn(), &precisions, (start, end), |id, minute| {
                    let t = minute.bucket.div_euclid(step) * step;
                    steps
                        .entry((id, t))
                        .and_modify(|p: &mut Partial| p.add(minute.into()))
                        .or_insert(minute.into());
                })?;
            }
            Ok(steps)
        };
        // A merge committing between the two reads would hide its minutes
        // from both or show them twice; the epoch tells, and the read is redone.
        let steps = self.archive_epoch().read(read)?;
        let mut out: Vec<RangeSeries> = Vec::new();
        let mut current = None;
        for ((id, t), partial) in steps {
            if current != Some(id) {
                current = Some(id);
                let meta = series.get(&id).ok_or_else(|| {
                    StoreError::Corrupt(format!("series {id} has rollups but no entry"))
                })?;
                out.push(RangeSeries {
                    labels: meta.labels.clone(),
                    unit: meta.unit.to_owned(),
                    kind: meta.kind,
                    points: Vec::new(),
                });
            }
            let point = (t, partial.value(q.agg));
            out.last_mut().expect("pushed above").points.push(point);
        }
        Ok(out)
    }
}
