//! Raw reads: every point of a range, one series' points of a range (what
//! an export streams), and every sample since a time (what primes the
//! window). Both stage the archived chunks their range touches
//! first (`archive.rs`), so they read closed days like any other.

use duckdb::params;

use super::archive::{self, ArchiveRange};
use super::db::{Database, MAX_QUERY_POINTS, kind_of, labels_of};
use super::schema::{RAW, VALUE};
use super::{QueryResult, SeriesPoints, StoreError};
use crate::model::{Labels, Sample};

impl Database {
    /// Raw points of every series of `metric` in `[start_ms, end_ms)`.
    pub fn query(
        &self,
        metric: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<QueryResult, StoreError> {
        if !self.has_metric(metric) {
            return Err(StoreError::UnknownMetric(metric.to_owned()));
        }
        let ids = self.series_ids(metric, &Labels::default());
        let archived = ArchiveRange {
            series: Some(&ids),
            start_ms,
            end_ms,
        };
        let series = self.with_archive(archived, || self.raw_points(metric, start_ms, end_ms))?;
        Ok(QueryResult {
            metric: metric.to_owned(),
            series,
        })
    }

    /// Raw points of the one series of `metric` labelled exactly `labels`
    /// in `[start_ms, end_ms)`; `None` when there is no such series.
    pub fn query_series(
        &self,
        metric: &str,
        labels: &Labels,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Option<SeriesPoints>, StoreError> {
        let Some((id, meta)) = self
            .matching_series(metric, labels)
            .into_iter()
            .find(|(_, meta)| meta.labels == labels)
        else {
            return Ok(None);
        };
        let (unit, kind) = (meta.unit.to_owned(), meta.kind);
        let ids = [id];
        let archived = ArchiveRange {
            series: Some(&ids),
            start_ms,
            end_ms,
        };
        let points = self.with_archive(archived, || {
            let mut stmt = self.conn().prepare_cached(&format!(
                "SELECT x.ts, {VALUE} FROM {RAW} x JOIN series s ON x.series_id = s.id
                 WHERE x.series_id = ? AND x.ts >= ? AND x.ts < ? ORDER BY x.ts"
            ))?;
            let mut rows = stmt.query(params![id, start_ms, end_ms])?;
            let mut points = Vec::new();
            while let Some(row) = rows.next()? {
                points.push((row.get::<_, i64>(0)?, row.get::<_, f64>(1)?));
                if points.len() > MAX_QUERY_POINTS {
                    return Err(StoreError::TooManyPoints {
                        points: points.len(),
                        max: MAX_QUERY_POINTS,
                    });
                }
            }
            Ok(points)
        })?;
        Ok(Some(SeriesPoints {
            labels: labels.clone(),
            unit,
            kind,
            points,
        }))
    }

    /// The first and last timestamps of the series of `metric` labelled
    /// exactly `labels` within `[start_ms, end_ms)`, from the head, the
    /// sorted rows and the archive's chunk bounds (no chunk is decoded):
    /// where a reader of the range needs to look. `None` when it has none.
    pub fn series_extent(
        &self,
        metric: &str,
        labels: &Labels,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let Some(id) = self
            .matching_series(metric, labels)
            .into_iter()
            .find_map(|(id, meta)| (meta.labels == labels).then_some(id))
        else {
            return Ok(None);
        };
        let last = end_ms.saturating_sub(1);
        let extent: (Option<i64>, Option<i64>) = self.conn().query_row(
            "SELECT min(lo), max(hi) FROM (
                 SELECT min(ts) AS lo, max(ts) AS hi FROM samples_head
                  WHERE series_id = ? AND ts >= ? AND ts < ?
                 UNION ALL SELECT min(ts), max(ts) FROM samples_compact
                  WHERE series_id = ? AND ts >= ? AND ts < ?
                 UNION ALL SELECT min(greatest(first_ms, ?)), max(least(last_ms, ?)) FROM archive
                  WHERE tier = 0 AND series_id = ? AND last_ms >= ? AND first_ms < ?)",
            params![
                id, start_ms, end_ms, id, start_ms, end_ms, start_ms, last, id, start_ms, end_ms
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(extent.0.zip(extent.1))
    }

    /// [`Database::query`]'s points, with the archive staged.
    fn raw_points(
        &self,
        metric: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SeriesPoints>, StoreError> {
        let count: i64 = self.conn().query_row(
            &format!(
                "SELECT count(*) FROM {RAW} x JOIN series s ON x.series_id = s.id
                 WHERE s.metric = ? AND x.ts >= ? AND x.ts < ?"
            ),
            params![metric, start_ms, end_ms],
            |r| r.get(0),
        )?;
        if count as usize > MAX_QUERY_POINTS {
            return Err(StoreError::TooManyPoints {
                points: count as usize,
                max: MAX_QUERY_POINTS,
            });
        }
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT s.id, s.labels, s.unit, s.kind, x.ts, {VALUE}
             FROM {RAW} x JOIN series s ON x.series_id = s.id
             WHERE s.metric = ? AND x.ts >= ? AND x.ts < ?
             ORDER BY s.id, x.ts"
        ))?;
        let mut rows = stmt.query(params![metric, start_ms, end_ms])?;
        let mut result: Vec<SeriesPoints> = Vec::new();
        let mut current_id = None;
        while let Some(row) = rows.next()? {
            let id: i32 = row.get(0)?;
            if current_id != Some(id) {
                current_id = Some(id);
                result.push(SeriesPoints {
                    labels: labels_of(&row.get::<_, String>(1)?)?,
                    unit: row.get(2)?,
                    kind: kind_of(&row.get::<_, String>(3)?),
                    points: Vec::new(),
                });
            }
            let point = (row.get::<_, i64>(4)?, row.get::<_, f64>(5)?);
            result.last_mut().expect("pushed above").points.push(point);
        }
        Ok(result)
    }

    /// Every sample at or after `since_ms`, oldest first: what primes the
    /// in-memory window after a restart.
    pub fn since(&self, since_ms: i64) -> Result<Vec<Sample>, StoreError> {
        let archived = ArchiveRange {
            series: None,
            start_ms: since_ms,
            end_ms: i64::MAX,
        };
        self.with_archive(archived, || self.samples_since(since_ms))
    }

    /// [`Database::since`]'s samples, with the archive staged.
    fn samples_since(&self, since_ms: i64) -> Result<Vec<Sample>, StoreError> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT s.metric, s.labels, s.unit, s.kind, x.ts, {VALUE}
             FROM {RAW} x JOIN series s ON x.series_id = s.id
             WHERE x.ts >= ? ORDER BY x.ts"
        ))?;
        let mut rows = stmt.query(params![since_ms])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(Sample {
                metric: row.get(0)?,
                labels: labels_of(&row.get::<_, String>(1)?)?,
                unit: row.get(2)?,
                kind: kind_of(&row.get::<_, String>(3)?),
                timestamp_ms: row.get(4)?,
                value: row.get(5)?,
            });
            if out.len() > MAX_QUERY_POINTS {
                return Err(StoreError::TooManyPoints {
                    points: out.len(),
                    max: MAX_QUERY_POINTS,
                });
            }
        }
        Ok(out)
    }

    /// Number of raw samples stored (for tests and diagnostics).
    pub fn sample_count(&self) -> Result<u64, StoreError> {
        // Two statements: the epoch redoes them if a merge step moved
        // samples between them.
        self.epoch().read(|| {
            let n: i64 =
                self.conn()
                    .query_row(&format!("SELECT count(*) FROM {RAW}"), [], |r| r.get(0))?;
            Ok(n as u64 + archive::sample_count(self.conn())?)
        })
    }
}
