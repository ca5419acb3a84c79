//! What the engines report: `GET /api/v1/bottlenecks`, `/health`,
//! `/plugins`, `/deliveries` and `/rules`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ApiError;
use super::params::Params;
use crate::app::{AppState, PluginView, RulesView};
use crate::model::{Bottleneck, DeliveryRecord, DeliveryStatus};
use crate::store::DeliveryQuery;

#[derive(Serialize)]
pub struct BottlenecksAnswer {
    current: Vec<Bottleneck>,
    resolved: Vec<Bottleneck>,
}

/// `GET /api/v1/bottlenecks`: current bottlenecks (highest impact first)
/// and recent resolutions.
pub async fn bottlenecks(State(state): State<AppState>) -> Json<BottlenecksAnswer> {
    let tracker = state.bottlenecks.lock().expect("bottlenecks lock");
    Json(BottlenecksAnswer {
        current: tracker.current(),
        resolved: tracker.recently_resolved().cloned().collect(),
    })
}

#[derive(Serialize)]
pub struct HealthAnswer {
    /// The tick the score is of, epoch ms.
    timestamp: i64,
    #[serde(flatten)]
    health: Value,
}

/// `GET /api/v1/health`: the latest tick's health score and the parts that
/// took points off (`analysis/health.rs`); 503 before the first tick.
pub async fn health(State(state): State<AppState>) -> Result<Json<HealthAnswer>, ApiError> {
    let current = state.current.read().expect("current lock");
    match (current["timestamp"].as_i64(), current.get("health")) {
        (Some(timestamp), Some(health)) => Ok(Json(HealthAnswer {
            timestamp,
            health: health.clone(),
        })),
        _ => Err(ApiError::NotReady(
            "no tick has run yet; the first health score comes with it".to_owned(),
        )),
    }
}

#[derive(Serialize)]
pub struct PluginsAnswer {
    plugins: Vec<PluginView>,
    reload_errors: BTreeMap<String, String>,
}

/// `GET /api/v1/plugins`: loaded plugin instances and their health.
pub async fn plugins(State(state): State<AppState>) -> Json<PluginsAnswer> {
    Json(PluginsAnswer {
        plugins: state.plugins.all(),
        reload_errors: state.plugins.reload_errors(),
    })
}

/// Delivery records answered when `limit` is not given.
const DEFAULT_DELIVERIES_LIMIT: usize = 100;
/// Most delivery records one answer holds; older ones are for narrower
/// filters, not a bigger page.
const MAX_DELIVERIES_LIMIT: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesParams {
    channel: Option<String>,
    status: Option<DeliveryStatus>,
    limit: Option<usize>,
}

#[derive(Serialize)]
pub struct DeliveriesAnswer {
    deliveries: Vec<DeliveryRecord>,
}

/// `GET /api/v1/deliveries?channel=&status=&limit=`: notification
/// attempts, drops and skips from the store, newest first.
pub async fn deliveries(
    State(state): State<AppState>,
    Params(params): Params<DeliveriesParams>,
) -> Result<Json<DeliveriesAnswer>, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_DELIVERIES_LIMIT);
    if !(1..=MAX_DELIVERIES_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "`limit` is {limit}; it must be between 1 and {MAX_DELIVERIES_LIMIT}"
        )));
    }
    let query = DeliveryQuery {
        channel: params.channel,
        status: params.status,
        limit,
    };
    let deliveries = state.store.deliveries(query).await?;
    Ok(Json(DeliveriesAnswer { deliveries }))
}

/// `GET /api/v1/rules`: scripts, compile errors and run-time errors.
pub async fn rules(State(state): State<AppState>) -> Json<RulesView> {
    Json(state.rules.read().expect("rules lock").clone())
}
