//! Reading stored data: `GET /api/v1/query` (raw points, or latest values
//! with `at`), `GET /api/v1/query_range` and `GET /api/v1/series`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use super::error::ApiError;
use super::params::{only_known, time_range};
use crate::app::AppState;
use crate::model::{Labels, canonical_metric_name};
use crate::rules::parse_duration_ms;
use crate::store::{Aggregation, RangeQuery};

/// Range of a raw query when none is given.
const DEFAULT_QUERY_SPAN_MS: i64 = 3_600_000;

fn metric(params: &HashMap<String, String>) -> Result<String, ApiError> {
    let name = params
        .get("metric")
        .ok_or_else(|| ApiError::BadRequest("missing parameter `metric`".into()))?;
    canonical_metric_name(name).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// `labels` as a JSON object (`{"host":"a"}`) or `name=value` pairs
/// separated by commas (`host=a,cpu=0`); series whose labels include them match.
fn selector(params: &HashMap<String, String>) -> Result<Labels, ApiError> {
    let Some(text) = params.get("labels").map(|t| t.trim()) else {
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
    Labels::try_from_pairs(pairs).map_err(bad)
}

fn epoch_or_now(params: &HashMap<String, String>, key: &str) -> Result<i64, ApiError> {
    match params.get(key) {
        None => Ok(crate::clock::now_ms()),
        Some(v) => v.parse().map_err(|_| {
            ApiError::BadRequest(format!("`{key}` must be epoch milliseconds, got {v:?}"))
        }),
    }
}

/// `GET /api/v1/query?metric=NAME[&labels=…]&start=MS&end=MS`: raw stored
/// points of every series of a metric (the last hour by default);
/// `&at=MS` instead gives each series' latest value at that time.
pub async fn query(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    only_known(&params, &["metric", "labels", "start", "end", "at"])?;
    let metric = metric(&params)?;
    let selector = selector(&params)?;
    if params.contains_key("at") {
        if params.contains_key("start") || params.contains_key("end") {
            return Err(ApiError::BadRequest(
                "give either `at` (latest values) or `start`/`end` (raw points), not both".into(),
            ));
        }
        let at = epoch_or_now(&params, "at")?;
        let values = state.store.latest(&metric, selector, at).await?;
        return Ok(Json(
            json!({ "metric": metric, "at": at, "series": values }),
        ));
    }
    let (start, end) = time_range(&params, DEFAULT_QUERY_SPAN_MS)?;
    let mut result = state.store.query(&metric, start, end).await?;
    result.series.retain(|s| s.labels.includes(&selector));
    Ok(Json(
        json!({ "metric": result.metric, "start": start, "end": end, "series": result.series }),
    ))
}

/// `GET /api/v1/query_range?metric=&labels=&start=&end=&step=&agg=`: one
/// point per series and step. `step` is milliseconds or a duration (`60s`,
/// `5m`, `1h`; default 60 s); `agg` is avg (default), min, max, sum, last
/// or p95. The answer names the tier it was read from.
pub async fn query_range(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    only_known(
        &params,
        &["metric", "labels", "start", "end", "step", "agg"],
    )?;
    let metric = metric(&params)?;
    let selector = selector(&params)?;
    let (start, end) = time_range(&params, DEFAULT_QUERY_SPAN_MS)?;
    let step = match params.get("step").map(String::as_str) {
        None => 60_000,
        Some(text) => text
            .parse::<i64>()
            .or_else(|_| parse_duration_ms(text))
            .map_err(|_| {
                ApiError::BadRequest(format!(
                    "`step` must be milliseconds or a duration like \"60s\", got {text:?}"
                ))
            })?,
    };
    if step <= 0 {
        return Err(ApiError::BadRequest("`step` must be positive".into()));
    }
    let agg = match params.get("agg") {
        None => Aggregation::Avg,
        Some(text) => Aggregation::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`agg` {text:?} is not one of avg, min, max, sum, last, p95"
            ))
        })?,
    };
    let query = RangeQuery {
        metric,
        selector,
        start_ms: start,
        end_ms: end,
        step_ms: step,
        agg,
    };
    let result = state.store.query_range(query).await?;
    Ok(Json(json!({
        "metric": result.metric,
        "start": start,
        "end": end,
        "step": result.step,
        "agg": result.agg,
        "tier": result.tier,
        "series": result.series,
    })))
}

/// `GET /api/v1/series[?metric=NAME]`: stored series with unit, kind,
/// help and stored precision.
pub async fn series(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    only_known(&params, &["metric"])?;
    let metric = params
        .contains_key("metric")
        .then(|| metric(&params))
        .transpose()?;
    let series = state.store.series(metric).await?;
    Ok(Json(json!({ "series": series })))
}
