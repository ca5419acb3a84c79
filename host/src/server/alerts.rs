//! Acknowledgements and silences: `POST /api/v1/alerts/{id}/ack`,
//! `GET|POST /api/v1/silences`, `DELETE /api/v1/silences/{id}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use crate::alert::Silence;
use crate::app::AppState;
use crate::model::Acknowledgement;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckRequest {
    comment: String,
    #[serde(default)]
    by: String,
}

fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))
}

/// Acknowledges a firing alert: its repeats stop until it resolves.
pub async fn ack(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
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
    let alert = state
        .alerts
        .lock()
        .expect("alerts lock")
        .acknowledge(&id, ack)
        .ok_or_else(|| ApiError::NotFound(format!("no firing alert has the id `{id}`")))?;
    state.hub.publish("alert_acknowledged", &alert);
    let record = crate::store::AlertRecord {
        at: crate::clock::now_ms(),
        event: "acknowledged",
        alert: alert.clone(),
    };
    state.store.record_alert_events(vec![record]).await?;
    Ok(Json(json!(alert)))
}

/// Every silence, with whether it is in force now.
pub async fn list_silences(State(state): State<AppState>) -> Json<Value> {
    let now = crate::clock::now_ms();
    let silences: Vec<Value> = state
        .silences
        .lock()
        .expect("silences lock")
        .all(now)
        .into_iter()
        .map(|(s, active)| {
            let mut v = json!(s);
            v["active"] = json!(active);
            v
        })
        .collect();
    Json(json!({ "silences": silences }))
}

/// Creates a silence.
pub async fn create_silence(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let silence: Silence = json_body(&body)?;
    let created = state
        .silences
        .lock()
        .expect("silences lock")
        .add(silence, crate::clock::now_ms())
        .map_err(ApiError::BadRequest)?;
    Ok((StatusCode::CREATED, Json(json!(created))).into_response())
}

/// Deletes a silence.
pub async fn delete_silence(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let removed = state
        .silences
        .lock()
        .expect("silences lock")
        .remove(&id)
        .map_err(ApiError::Internal)?;
    if removed {
        Ok(Json(json!({ "deleted": id })))
    } else {
        Err(ApiError::NotFound(format!("no silence has the id `{id}`")))
    }
}

/// `GET /api/v1/alerts/history?start=&end=&rule=`: stored transitions,
/// oldest first; the last 24 hours by default.
pub async fn history(
    State(state): State<AppState>,
    axum::extract::Query(params): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    super::params::only_known(&params, &["start", "end", "rule"])?;
    let (start, end) = super::params::time_range(&params, 86_400_000)?;
    let events = state
        .store
        .alert_history(start, end, params.get("rule").cloned())
        .await?;
    Ok(Json(
        json!({ "start": start, "end": end, "events": events }),
    ))
}
