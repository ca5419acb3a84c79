//! `GET /healthz` and `GET /api/v1/config`: whether the host answers, and
//! what it runs with.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;

use crate::app::AppState;

#[derive(Serialize)]
pub struct Health {
    status: &'static str,
}

pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// `GET /api/v1/config`: the running config, secrets redacted.
pub async fn config(State(state): State<AppState>) -> Json<Value> {
    Json(state.plugins.redacted_config(&state.config))
}
