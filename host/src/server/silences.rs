//! Silences: `GET|POST /api/v1/silences`, `DELETE /api/v1/silences/{id}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;

use super::error::{ApiError, json_body};
use crate::alert::{Silence, SilenceError};
use crate::app::AppState;

/// A silence with whether it is in force now.
#[derive(Serialize)]
pub struct SilenceView {
    #[serde(flatten)]
    silence: Silence,
    active: bool,
}

#[derive(Serialize)]
pub struct SilencesAnswer {
    silences: Vec<SilenceView>,
}

/// Every silence, with whether it is in force now.
pub async fn list(State(state): State<AppState>) -> Json<SilencesAnswer> {
    let now = crate::clock::now_ms();
    let silences = state
        .silences
        .lock()
        .expect("silences lock")
        .all(now)
        .into_iter()
        .map(|(silence, active)| SilenceView { silence, active })
        .collect();
    Json(SilencesAnswer { silences })
}

/// Creates a silence.
pub async fn create(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Silence>), ApiError> {
    let silence: Silence = json_body(&body)?;
    let created = state
        .silences
        .lock()
        .expect("silences lock")
        .add(silence, crate::clock::now_ms())
        .map_err(silence_error)?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Serialize)]
pub struct Deleted {
    deleted: String,
}

/// Deletes a silence.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Deleted>, ApiError> {
    let removed = state
        .silences
        .lock()
        .expect("silences lock")
        .remove(&id)
        .map_err(silence_error)?;
    if removed {
        Ok(Json(Deleted { deleted: id }))
    } else {
        Err(ApiError::NotFound(format!("no silence has the id `{id}`")))
    }
}

/// A malformed silence is the client's error; one that cannot be saved is
/// the host's, logged in full.
fn silence_error(e: SilenceError) -> ApiError {
    match e {
        SilenceError::Invalid(why) => ApiError::BadRequest(why),
        save @ SilenceError::Save(_) => {
            ApiError::Internal(format!("{:#}", anyhow::Error::from(save)))
        }
    }
}
