//! REST handlers under `/api/v1` and `/healthz`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use crate::app::AppState;
use crate::ingest::{BatchError, parse_json_batch};

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `POST /api/v1/metrics`: a JSON array of samples. Valid samples are
/// stored even when others are refused; the answer says how many were
/// accepted and why each refused one was.
pub async fn post_metrics(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_error(body)?;
    let batch = parse_json_batch(&body, crate::clock::now_ms()).map_err(|e| match e {
        BatchError::TooMany { .. } => ApiError::TooLarge(e.to_string()),
        other => ApiError::BadRequest(other.to_string()),
    })?;
    let accepted = state.record(batch.samples).await?;
    let status = if batch.rejected.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut answer = json!({ "accepted": accepted, "rejected": batch.rejected });
    if let Some(first) = batch.rejected.first() {
        answer["error"] = json!(format!(
            "{} of {} samples rejected; first: sample {}: {}",
            batch.rejected.len(),
            accepted + batch.rejected.len(),
            first.index,
            first.error
        ));
    }
    Ok((status, Json(answer)).into_response())
}

/// A request body, or the answer to one that could not be read: 413 over
/// [`super::MAX_BODY_BYTES`], 400 otherwise.
pub(super) fn body_or_error(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!(
            "the body is larger than {} bytes; split the batch",
            super::MAX_BODY_BYTES
        )),
        _ => ApiError::BadRequest(e.body_text()),
    })
}

/// `GET /api/v1/alerts`: firing and pending alerts, and recent resolutions.
pub async fn alerts(State(state): State<AppState>) -> Json<Value> {
    let engine = state.alerts.lock().expect("alerts lock");
    let resolved: Vec<_> = engine.recently_resolved().cloned().collect();
    Json(json!({ "firing": engine.firing(), "pending": engine.pending(), "resolved": resolved }))
}

/// `GET /api/v1/bottlenecks`: current bottlenecks (highest impact first)
/// and recent resolutions.
pub async fn bottlenecks(State(state): State<AppState>) -> Json<Value> {
    let tracker = state.bottlenecks.lock().expect("bottlenecks lock");
    let resolved: Vec<_> = tracker.recently_resolved().cloned().collect();
    Json(json!({ "current": tracker.current(), "resolved": resolved }))
}

/// `GET /api/v1/plugins`: loaded plugin instances and their health.
pub async fn plugins(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "plugins": state.plugins.all(), "reload_errors": state.plugins.reload_errors() }))
}

/// `GET /api/v1/deliveries`: recent notification attempts, newest first.
pub async fn deliveries(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "deliveries": state.deliveries.recent() }))
}

/// `GET /api/v1/rules`: scripts, compile errors and run-time errors.
pub async fn rules(State(state): State<AppState>) -> Json<Value> {
    Json(json!(*state.rules.read().expect("rules lock")))
}

/// `GET /api/v1/config`: the running config, secrets redacted.
pub async fn config(State(state): State<AppState>) -> Json<Value> {
    Json(state.config.redacted_json())
}
