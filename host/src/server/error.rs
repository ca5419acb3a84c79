//! API errors as JSON `{"error": "..."}` with the right status. Server
//! errors are logged in full and answered without internals.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// An error answer.
#[derive(Debug)]
pub enum ApiError {
    /// The request is wrong; the message says how.
    BadRequest(String),
    /// The thing asked for does not exist.
    NotFound(String),
    /// The request is too big.
    TooLarge(String),
    /// The body's media type or content coding is not one this endpoint reads.
    UnsupportedMediaType(String),
    /// A dependency (a plugin) failed; the message says which and why.
    Unavailable(String),
    /// The host has nothing to answer yet (before its first tick).
    NotReady(String),
    /// The host failed; details go to the log only.
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownMetric(_) => ApiError::NotFound(e.to_string()),
            StoreError::TooManyPoints { .. }
            | StoreError::TooManySteps { .. }
            | StoreError::StartOutOfRange { .. } => ApiError::BadRequest(e.to_string()),
            other => ApiError::Internal(format!("{:#}", anyhow::Error::from(other))),
        }
    }
}

impl ApiError {
    /// The status and the message a client may see; a server error's
    /// details are logged here and replaced by a pointer to the log.
    pub fn into_status_and_message(self) -> (StatusCode, String) {
        match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            ApiError::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m),
            ApiError::Unavailable(m) => (StatusCode::BAD_GATEWAY, m),
            ApiError::NotReady(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; the host log has the details".to_owned(),
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = self.into_status_and_message();
        (status, Json(json!({ "error": message }))).into_response()
    }
}

/// A request body, or the answer to one that could not be read: 413 over
/// [`super::MAX_BODY_BYTES`], 400 otherwise.
pub fn body_or_error(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!(
            "the body is larger than {} bytes; split the batch",
            super::MAX_BODY_BYTES
        )),
        _ => ApiError::BadRequest(e.body_text()),
    })
}

/// A JSON request body as `T`, or a 400 saying what is malformed.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))
}
