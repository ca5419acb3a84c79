//! What the engines report: `GET /api/v1/bottlenecks`, `/plugins`,
//! `/deliveries` and `/rules`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::alert::DeliveryRecord;
use crate::app::{AppState, PluginView, RulesView};
use crate::model::Bottleneck;

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

#[derive(Serialize)]
pub struct DeliveriesAnswer {
    deliveries: Vec<DeliveryRecord>,
}

/// `GET /api/v1/deliveries`: recent notification attempts, newest first.
pub async fn deliveries(State(state): State<AppState>) -> Json<DeliveriesAnswer> {
    Json(DeliveriesAnswer {
        deliveries: state.deliveries.recent(),
    })
}

/// `GET /api/v1/rules`: scripts, compile errors and run-time errors.
pub async fn rules(State(state): State<AppState>) -> Json<RulesView> {
    Json(state.rules.read().expect("rules lock").clone())
}
