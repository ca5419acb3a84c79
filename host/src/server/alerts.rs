//! Alerts: `GET /api/v1/alerts`, `GET /api/v1/alerts/history` and
//! `POST /api/v1/alerts/{id}/ack`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiError, json_body};
use super::params::{Params, epoch_ms, time_range};
use crate::app::{AckError, AppState};
use crate::model::{Acknowledgement, Alert};

/// Range of the history when none is given: the last 24 hours.
const DEFAULT_HISTORY_SPAN_MS: i64 = 86_400_000;

#[derive(Serialize)]
pub struct AlertsAnswer {
    firing: Vec<Alert>,
    pending: Vec<Alert>,
    resolved: Vec<Alert>,
}

/// `GET /api/v1/alerts`: firing and pending alerts, and recent resolutions.
pub async fn list(State(state): State<AppState>) -> Json<AlertsAnswer> {
    let engine = state.alerts.lock().expect("alerts lock");
    Json(AlertsAnswer {
        firing: engine.firing(),
        pending: engine.pending(),
        resolved: engine.recently_resolved().cloned().collect(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckRequest {
    comment: String,
    #[serde(default)]
    by: String,
}

/// `POST /api/v1/alerts/{id}/ack`: acknowledges a firing alert; its
/// repeats stop until it resolves.
pub async fn ack(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Alert>, ApiError> {
    let request: AckRequest = json_body(&body)?;
    if request.comment.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "an acknowledgement needs a comment saying what is being done".into(),
        ));
    }
    let ack = Acknowledgement {
        comment: request.comment,
        by: request.by,
        at: crate::clock::now_ms(),
    };
    match state.acknowledge(&id, ack).await {
        Ok(alert) => Ok(Json(alert)),
        Err(e @ AckError::NotFiring(_)) => Err(ApiError::NotFound(e.to_string())),
        Err(AckError::Store(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    #[serde(default, deserialize_with = "epoch_ms")]
    start: Option<i64>,
    #[serde(default, deserialize_with = "epoch_ms")]
    end: Option<i64>,
    rule: Option<String>,
}

#[derive(Serialize)]
pub struct HistoryAnswer {
    start: i64,
    end: i64,
    events: Vec<Value>,
}

/// `GET /api/v1/alerts/history?start=&end=&rule=`: stored transitions,
/// oldest first; the last 24 hours by default.
pub async fn history(
    State(state): State<AppState>,
    Params(params): Params<HistoryParams>,
) -> Result<Json<HistoryAnswer>, ApiError> {
    let (start, end) = time_range(params.start, params.end, DEFAULT_HISTORY_SPAN_MS)?;
    let events = state.store.alert_history(start, end, params.rule).await?;
    Ok(Json(HistoryAnswer { start, end, events }))
}
