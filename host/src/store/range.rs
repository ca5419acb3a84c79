//! Range queries over the tiers, latest values, and the series list.
//!
//! A range query answers one point per series per `step`, at multiples of
//! `step` since the epoch, each aggregating `[t, t + step)`. The tier comes
//! from the step: whole hours read the 1-hour rollups, whole minutes the
//! 1-minute rollups, anything finer (and `p95`, which rollups cannot give)
//! reads raw samples. Rollups cover exactly what compaction has moved; the
//! head, which it has not, is aggregated on the fly to the same bucket size,
//! so every answer includes the newest samples.

use serde::{Deserialize, Serialize};

use super::StoreError;
use super::archive::ArchiveRange;
use super::db::{Database, kind_of, labels_of};
use super::schema::{RAW, VALUE, id_list};
use crate::model::{Labels, MetricKind, registered_metric};

/// Most points one range query may return per series, as in Prometheus.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;
/// How far back `latest` looks for a series' last value.
pub const LATEST_LOOKBACK_MS: i64 = 5 * 60_000;

/// How the samples of one step are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    Avg,
    Min,
    Max,
    Sum,
    Last,
    P95,
}

impl Aggregation {
    /// Over raw values `v` with timestamps `ts`.
    fn over_raw(self) -> String {
        match self {
            Self::Avg => "avg(v)",
            Self::Min => "min(v)",
            Self::Max => "max(v)",
            Self::Sum => "sum(v)",
            Self::Last => "arg_max(v, ts)",
            Self::P95 => "quantile_cont(v, 0.95)",
        }
        .to_owned()
    }
}

/// Where a range query reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Raw,
    #[serde(rename = "1m")]
    Minute,
    #[serde(rename = "1h")]
    Hour,
}

impl Tier {
    /// The coarsest tier whose buckets divide `step`.
    pub fn for_query(step_ms: i64, agg: Aggregation) -> Self {
        if agg == Aggregation::P95 {
            Tier::Raw
        } else if step_ms % 3_600_000 == 0 {
            Tier::Hour
        } else if step_ms % 60_000 == 0 {
            Tier::Minute
        } else {
            Tier::Raw
        }
    }

    pub(super) fn table_and_bucket(self) -> Option<(&'static str, i64)> {
        match self {
            Tier::Raw => None,
            Tier::Minute => Some(("rollup_1m", 60_000)),
            Tier::Hour => Some(("rollup_1h", 3_600_000)),
        }
    }
}

/// A range query.
#[derive(Debug, Clone)]
pub struct RangeQuery {
    pub metric: String,
    /// Series whose labels include these.
    pub selector: Labels,
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
    pub agg: Aggregation,
}

impl RangeQuery {
    /// Steps per series the query asks for. Computed in `i128`: the
    /// parameters come from a URL, and `end - start` of two extreme `i64`s
    /// does not fit in one.
    fn steps(&self) -> i128 {
        let step = i128::from(self.step_ms.max(1));
        (i128::from(self.end_ms) - i128::from(self.start_ms) + step - 1) / step
    }

    /// The start of the step holding `start_ms` (whole steps: the first
    /// point's bucket starts at or before `start`); `None` when that lies
    /// before `i64::MIN`.
    fn step_start(&self) -> Option<i64> {
        let step = self.step_ms.max(1);
        self.start_ms.div_euclid(step).checked_mul(step)
    }
}

/// One series' answer.
#[derive(Debug, Clone, Serialize)]
pub struct RangeSeries {
    pub labels: Labels,
    pub unit: String,
    pub kind: MetricKind,
    /// `[t, value]`, t at multiples of the step.
    pub points: Vec<(i64, f64)>,
}

/// The answer to a range query.
#[derive(Debug, Clone, Serialize)]
pub struct RangeResult {
    pub metric: String,
    pub tier: Tier,
    pub step: i64,
    pub agg: Aggregation,
    pub series: Vec<RangeSeries>,
}

/// One stored series, as `GET /api/v1/series` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesInfo {
    pub metric: String,
    pub labels: Labels,
    pub unit: String,
    pub kind: MetricKind,
    pub help: String,
    /// Decimals kept in storage; absent when values are stored exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<u8>,
}

/// One series' latest value.
#[derive(Debug, Clone, Serialize)]
pub struct LatestValue {
    pub labels: Labels,
    pub unit: String,
    pub timestamp: i64,
    pub value: f64,
}

impl Database {
    /// Answers a range query; see the module comment.
    pub fn query_range(&self, q: &RangeQuery) -> Result<RangeResult, StoreError> {
        if !self.has_metric(&q.metric) {
            return Err(StoreError::UnknownMetric(q.metric.clone()));
        }
        let start = q.step_start().ok_or(StoreError::StartOutOfRange {
            start: q.start_ms,
            step: q.step_ms,
        })?;
        let points = q.steps();
        if points > i128::from(MAX_POINTS_PER_SERIES) {
            return Err(StoreError::TooManySteps {
                steps: i64::try_from(points).unwrap_or(i64::MAX),
                max: MAX_POINTS_PER_SERIES,
            });
        }
        let tier = Tier::for_query(q.step_ms, q.agg);
        let series = self.matching_series(&q.metric, &q.selector);
        let mut result = RangeResult {
            metric: q.metric.clone(),
            tier,
            step: q.step_ms,
            agg: q.agg,
            series: Vec::new(),
        };
        if series.is_empty() {
            return Ok(result);
        }
        let (step, end) = (q.step_ms, q.end_ms);
        result.series = if tier == Tier::Raw {
            let ids: Vec<i32> = series.keys().copied().collect();
            self.raw_range(q, &ids, (step, start, end))?
        } else {
            self.rollup_range(q, &series, tier, (step, start, end))?
        };
        Ok(result)
    }

    /// The raw tier: the samples of each step aggregated by DuckDB, the
    /// archived ones staged first.
    fn raw_range(
        &self,
        q: &RangeQuery,
        ids: &[i32],
        (step, start, end): (i64, i64, i64),
    ) -> Result<Vec<RangeSeries>, StoreError> {
        // The times are parameters ($1 step, $2 start, $3 end), so a panel
        // refreshed over a moving range reuses the prepared plan; planning
        // was half of a one-series day's query time. DuckDB binds the
        // values before pruning row groups by their zone maps.
        let sql = format!(
            "SELECT s.labels, s.unit, s.kind, r.t, r.value
             FROM (SELECT series_id, ts // $1::BIGINT * $1::BIGINT AS t, {agg}
                   FROM (SELECT x.series_id, x.ts, {VALUE} AS v FROM {RAW} x
                         JOIN series s ON s.id = x.series_id
                         WHERE x.series_id IN ({ids}) AND x.ts >= $2::BIGINT AND x.ts < $3::BIGINT)
                   GROUP BY series_id, t) AS r(series_id, t, value)
             JOIN series s ON s.id = r.series_id
             ORDER BY r.series_id, r.t",
            agg = q.agg.over_raw(),
            ids = id_list(ids)
        );
        let archived = ArchiveRange {
            series: Some(ids),
            start_ms: start,
            end_ms: end,
        };
        self.with_archive(archived, || self.range_rows(&sql, [step, start, end]))
    }

    /// Runs a range query's SQL: one row per series and step, in order.
    fn range_rows(&self, sql: &str, params: [i64; 3]) -> Result<Vec<RangeSeries>, StoreError> {
        let mut stmt = self.conn().prepare_cached(sql)?;
        let mut rows = stmt.query(duckdb::params_from_iter(params))?;
        let mut series: Vec<RangeSeries> = Vec::new();
        let mut last_labels = String::new();
        while let Some(row) = rows.next()? {
            let labels: String = row.get(0)?;
            if series.is_empty() || labels != last_labels {
                series.push(RangeSeries {
                    labels: labels_of(&labels)?,
                    unit: row.get(1)?,
                    kind: kind_of(&row.get::<_, String>(2)?),
                    points: Vec::new(),
                });
                last_labels = labels;
            }
            let point = (row.get::<_, i64>(3)?, row.get::<_, f64>(4)?);
            series.last_mut().expect("pushed").points.push(point);
        }
        Ok(series)
    }

    /// Each matching series' last value at or before `at_ms`, looking back
    /// at most [`LATEST_LOOKBACK_MS`].
    pub fn latest(
        &self,
        metric: &str,
        selector: &Labels,
        at_ms: i64,
    ) -> Result<Vec<LatestValue>, StoreError> {
        if !self.has_metric(metric) {
            return Err(StoreError::UnknownMetric(metric.to_owned()));
        }
        let ids = self.series_ids(metric, selector);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT s.labels, s.unit, max(x.ts), arg_max({VALUE}, x.ts)
             FROM {RAW} x JOIN series s ON s.id = x.series_id
             WHERE x.series_id IN ({ids}) AND x.ts <= {at_ms} AND x.ts > {from}
             GROUP BY s.id, s.labels, s.unit ORDER BY s.id",
            ids = id_list(&ids),
            from = at_ms.saturating_sub(LATEST_LOOKBACK_MS)
        );
        let archived = ArchiveRange {
            series: Some(&ids),
            start_ms: at_ms.saturating_sub(LATEST_LOOKBACK_MS - 1),
            end_ms: at_ms.saturating_add(1),
        };
        self.with_archive(archived, || {
            let mut stmt = self.conn().prepare(&sql)?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(LatestValue {
                    labels: labels_of(&row.get::<_, String>(0)?)?,
                    unit: row.get(1)?,
                    timestamp: row.get(2)?,
                    value: row.get(3)?,
                });
            }
            Ok(out)
        })
    }

    /// Every stored series (of one metric, if given), with unit, kind and help.
    pub fn series_list(&self, metric: Option<&str>) -> Result<Vec<SeriesInfo>, StoreError> {
        let mut stmt = self.conn().prepare(
            "SELECT metric, labels, unit, kind, precision FROM series
             WHERE ? IS NULL OR metric = ? ORDER BY metric, labels",
        )?;
        let mut rows = stmt.query(duckdb::params![metric, metric])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let metric: String = row.get(0)?;
            let help = registered_metric(&metric).map_or("", |info| info.help);
            out.push(SeriesInfo {
                help: help.to_owned(),
                labels: labels_of(&row.get::<_, String>(1)?)?,
                unit: row.get(2)?,
                kind: kind_of(&row.get::<_, String>(3)?),
                precision: row.get(4)?,
                metric,
            });
        }
        Ok(out)
    }
}
