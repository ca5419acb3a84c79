//! `POST /api/v1/metrics`: perfwatch's own JSON batch. OTLP and remote
//! write have their own receivers (`receivers.rs`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::{ApiError, body_or_error};
use crate::app::AppState;
use crate::ingest::{BatchError, Rejection, parse_json_batch};

/// The answer: how many samples were stored and why each refused one was.
#[derive(Serialize)]
pub struct MetricsAnswer {
    accepted: usize,
    rejected: Vec<Rejection>,
    /// A one-line summary when anything was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Valid samples are stored even when others are refused; the answer is
/// 400 when any was.
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
    let error = batch.rejected.first().map(|first| {
        format!(
            "{} of {} samples rejected; first: sample {}: {}",
            batch.rejected.len(),
            accepted + batch.rejected.len(),
            first.index,
            first.error
        )
    });
    let status = if error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let answer = MetricsAnswer {
        accepted,
        rejected: batch.rejected,
        error,
    };
    Ok((status, Json(answer)).into_response())
}
