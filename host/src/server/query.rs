//! Reading stored data: `GET /api/v1/query` (raw points, or latest values
//! with `at`), `GET /api/v1/query_range` and `GET /api/v1/series`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Deserializer, Serialize};

use super::error::ApiError;
use super::params::{Params, epoch_ms, time_range};
use crate::app::AppState;
use crate::model::{Labels, canonical_metric_name};
use crate::rules::parse_duration_ms;
use crate::store::{
    Aggregation, LatestValue, RangeQuery, RangeSeries, SeriesInfo, SeriesPoints, Tier,
};

/// Range of a raw or range query when none is given.
const DEFAULT_QUERY_SPAN_MS: i64 = 3_600_000;
/// Step of a range query when none is given.
const DEFAULT_STEP_MS: i64 = 60_000;

pub(super) fn metric(name: &str) -> Result<String, ApiError> {
    canonical_metric_name(name).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// `labels` as a JSON object (`{"host":"a"}`) or `name=value` pairs
/// separated by commas (`host=a,cpu=0`); series whose labels include them match.
pub(super) fn selector(text: Option<&str>) -> Result<Labels, ApiError> {
    let Some(text) = text.map(str::trim) else {
        return Ok(Labels::new());
    };
    let bad = |why: String| ApiError::BadRequest(format!("`labels` {why}"));
    let pairs: Vec<(String, String)> = if text.starts_with('{') {
        let map: HashMap<String, String> = serde_json::from_str(text)
            .map_err(|e| bad(format!("is not a JSON object of strings: {e}")))?;
        map.into_iter().collect()
    } else {
        text.split(',')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                pair.split_once('=')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .ok_or_else(|| bad(format!("pair {pair:?} has no `=`; use host=a,cpu=0")))
            })
            .collect::<Result<_, _>>()?
    };
    Labels::try_from_pairs(pairs).map_err(|e| bad(e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryParams {
    metric: String,
    labels: Option<String>,
    #[serde(default, deserialize_with = "epoch_ms")]
    start: Option<i64>,
    #[serde(default, deserialize_with = "epoch_ms")]
    end: Option<i64>,
    /// Latest values at this time instead of raw points.
    #[serde(default, deserialize_with = "epoch_ms")]
    at: Option<i64>,
}

/// Raw points of a range, or each series' latest value at a time.
#[derive(Serialize)]
#[serde(untagged)]
pub enum QueryAnswer {
    Points {
        metric: String,
        start: i64,
        end: i64,
        series: Vec<SeriesPoints>,
    },
    Latest {
        metric: String,
        at: i64,
        series: Vec<LatestValue>,
    },
}

/// `GET /api/v1/query?metric=NAME[&labels=…]&start=MS&end=MS`: raw stored
/// points of every series of a metric (the last hour by default);
/// `&at=MS` instead gives each series' latest value at that time.
pub async fn query(
    State(state): State<AppState>,
    Params(params): Params<QueryParams>,
) -> Result<Json<QueryAnswer>, ApiError> {
    let metric = metric(&params.metric)?;
    let selector = selector(params.labels.as_deref())?;
    if let Some(at) = params.at {
        if params.start.is_some() || params.end.is_some() {
            return Err(ApiError::BadRequest(
                "give either `at` (latest values) or `start`/`end` (raw points), not both".into(),
            ));
        }
        let series = state.store.latest(&metric, selector, at).await?;
        return Ok(Json(QueryAnswer::Latest { metric, at, series }));
    }
    let (start, end) = time_range(params.start, params.end, DEFAULT_QUERY_SPAN_MS)?;
    let mut result = state.store.query(&metric, start, end).await?;
    result.series.retain(|s| s.labels.includes(&selector));
    Ok(Json(QueryAnswer::Points {
        metric: result.metric,
        start,
        end,
        series: result.series,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeParams {
    metric: String,
    labels: Option<String>,
    #[serde(default, deserialize_with = "epoch_ms")]
    start: Option<i64>,
    #[serde(default, deserialize_with = "epoch_ms")]
    end: Option<i64>,
    #[serde(default, deserialize_with = "step_ms")]
    step: Option<i64>,
    agg: Option<Aggregation>,
}

/// `step` as milliseconds (`60000`) or a duration (`60s`, `5m`, `1h`).
fn step_ms<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_step(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A step in milliseconds (`60000`) or as a duration (`60s`, `5m`, `1h`).
pub(super) fn parse_step(text: &str) -> Result<i64, String> {
    let step = text
        .parse::<i64>()
        .or_else(|_| parse_duration_ms(text))
        .map_err(|_| format!("must be milliseconds or a duration like \"60s\", got {text:?}"))?;
    if step <= 0 {
        return Err("must be positive".to_owned());
    }
    Ok(step)
}

/// One range query, from the query string or from the stream's
/// `get_history`: both are answered here.
pub(super) struct RangeRequest {
    pub metric: String,
    pub selector: Labels,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub step: Option<i64>,
    pub agg: Option<Aggregation>,
}

#[derive(Serialize)]
pub struct RangeAnswer {
    metric: String,
    start: i64,
    end: i64,
    step: i64,
    agg: Aggregation,
    tier: Tier,
    series: Vec<RangeSeries>,
}

/// `GET /api/v1/query_range?metric=&labels=&start=&end=&step=&agg=`: one
/// point per series and step. `step` is milliseconds or a duration (`60s`,
/// `5m`, `1h`; default 60 s); `agg` is avg (default), min, max, sum, last
/// or p95. The answer names the tier it was read from.
pub async fn query_range(
    State(state): State<AppState>,
    Params(params): Params<RangeParams>,
) -> Result<Json<RangeAnswer>, ApiError> {
    let request = RangeRequest {
        metric: params.metric,
        selector: selector(params.labels.as_deref())?,
        start: params.start,
        end: params.end,
        step: params.step,
        agg: params.agg,
    };
    range(&state, request).await.map(Json)
}

/// A range query's answer, whoever asked.
pub(super) async fn range(
    state: &AppState,
    request: RangeRequest,
) -> Result<RangeAnswer, ApiError> {
    let metric = metric(&request.metric)?;
    let (start, end) = time_range(request.start, request.end, DEFAULT_QUERY_SPAN_MS)?;
    let query = RangeQuery {
        metric,
        selector: request.selector,
        start_ms: start,
        end_ms: end,
        step_ms: request.step.unwrap_or(DEFAULT_STEP_MS),
        agg: request.agg.unwrap_or(Aggregation::Avg),
    };
    let result = state.store.query_range(query).await?;
    Ok(RangeAnswer {
        metric: result.metric,
        start,
        end,
        step: result.step,
        agg: result.agg,
        tier: result.tier,
        series: result.series,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesParams {
    metric: Option<String>,
}

#[derive(Serialize)]
pub struct SeriesAnswer {
    series: Vec<SeriesInfo>,
}

/// `GET /api/v1/series[?metric=NAME]`: stored series with unit, kind,
/// help and stored precision.
pub async fn series(
    State(state): State<AppState>,
    Params(params): Params<SeriesParams>,
) -> Result<Json<SeriesAnswer>, ApiError> {
    let metric = params.metric.as_deref().map(metric).transpose()?;
    let series = state.store.series(metric).await?;
    Ok(Json(SeriesAnswer { series }))
}
