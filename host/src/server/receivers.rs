//! The push receivers: OTLP/HTTP metrics at `POST /v1/metrics` and
//! Prometheus remote write 1.0 at `POST /api/v1/write`. Decoding and
//! mapping live in `ingest`; here are the HTTP rules of each protocol:
//! media types, content codings, status codes and answer bodies. Samples
//! are stored through `AppState::record`, so an acknowledged request is
//! durable. Request bodies are never logged.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::MAX_BODY_BYTES;
use super::error::{ApiError, body_or_error};
use crate::app::AppState;
use crate::ingest::{
    CODE_INTERNAL, CODE_INVALID_ARGUMENT, DecompressError, OtlpBatch, OtlpEncoding, OtlpError,
    RemoteWriteError, encode_response, encode_status, gunzip, parse_otlp_metrics,
    parse_remote_write,
};

/// Most request bodies decompressed and decoded at once, across both
/// receivers.
///
/// Why: one decode holds the decompressed body (up to [`MAX_BODY_BYTES`])
/// and the decoded structs (at most `MAX_DECODED_ENTRIES` of them, see
/// `ingest/entries.rs`: a couple of hundred megabytes at worst) at once. That limit bounds
/// one request; this bounds how many are in memory together, so a burst
/// of large pushes queues instead of exhausting memory, and the decodes'
/// CPU time cannot take every async worker. Two rather than one so that a
/// small push is not always queued behind a large one. Waiting requests
/// hold only their compressed body, which the body limit bounds.
const MAX_CONCURRENT_DECODES: usize = 2;

static DECODES: Semaphore = Semaphore::const_new(MAX_CONCURRENT_DECODES);

/// Waits for a turn to decompress and decode; the turn ends when the
/// permit is dropped, before the samples are stored.
async fn decode_turn() -> SemaphorePermit<'static> {
    DECODES
        .acquire()
        .await
        .expect("the decode semaphore is never closed")
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap_or("(not text)"))
}

/// `POST /v1/metrics`: OTLP/HTTP, protobuf or JSON, optionally gzip.
/// 200 with an `ExportMetricsServiceResponse` (its `partial_success` counts
/// refused points) once the rest is stored; 400, 413 and 415 with a
/// `google.rpc.Status`, in the request's encoding.
pub async fn otlp_metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let content_type = header_text(&headers, header::CONTENT_TYPE);
    let Some(encoding) = content_type.and_then(OtlpEncoding::from_content_type) else {
        // The request's encoding is unknown, so the answer uses JSON.
        return otlp_error(
            OtlpEncoding::Json,
            ApiError::UnsupportedMediaType(format!(
                "Content-Type must be application/x-protobuf or application/json, got {}",
                content_type.unwrap_or("none")
            )),
        );
    };
    match store_otlp(&state, &headers, encoding, body).await {
        Ok(response) => response,
        Err(e) => otlp_error(encoding, e),
    }
}

async fn store_otlp(
    state: &AppState,
    headers: &HeaderMap,
    encoding: OtlpEncoding,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_error(body)?;
    let turn = decode_turn().await;
    let body = match header_text(headers, header::CONTENT_ENCODING).map(str::trim) {
        None | Some("identity") => body.to_vec(),
        Some(coding) if coding.eq_ignore_ascii_case("gzip") => {
            gunzip(&body, MAX_BODY_BYTES).map_err(decompress_error)?
        }
        Some(other) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Content-Encoding {other} is not supported; send gzip or no encoding"
            )));
        }
    };
    let now_ms = crate::clock::now_ms();
    let batch = parse_otlp_metrics(&body, encoding, now_ms).map_err(|e| match e {
        OtlpError::TooMany | OtlpError::TooManyEntries => ApiError::TooLarge(e.to_string()),
        other => ApiError::BadRequest(other.to_string()),
    })?;
    drop((turn, body));
    let OtlpBatch {
        mut samples,
        deltas,
        mut rejected_points,
        mut first_error,
        ..
    } = batch;
    let stored = if deltas.is_empty() {
        state.record(samples).await?
    } else {
        // Held until the commit: two requests must not both add their
        // increments to the same old total.
        let mut sums = state.delta_sums.lock().await;
        let accumulated = sums.accumulate(deltas, now_ms);
        rejected_points += accumulated.rejected.len();
        if first_error.is_none() {
            first_error = accumulated.rejected.into_iter().next();
        }
        samples.extend(accumulated.samples);
        let stored = state.record(samples).await?;
        sums.commit(accumulated.pending);
        stored
    };
    tracing::debug!(?encoding, stored, rejected_points, "OTLP metrics stored");
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, encoding.content_type())],
        encode_response(encoding, rejected_points, first_error),
    )
        .into_response())
}

fn otlp_error(encoding: OtlpEncoding, error: ApiError) -> Response {
    let (status, message) = error.into_status_and_message();
    let code = if status.is_server_error() {
        CODE_INTERNAL
    } else {
        CODE_INVALID_ARGUMENT
    };
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(encoding.content_type()),
        )],
        encode_status(encoding, code, &message),
    )
        .into_response()
}

fn decompress_error(e: DecompressError) -> ApiError {
    match e {
        DecompressError::TooLarge { .. } => ApiError::TooLarge(e.to_string()),
        DecompressError::Invalid { .. } => ApiError::BadRequest(e.to_string()),
    }
}

/// `POST /api/v1/write`: Prometheus remote write 1.0 (snappy-compressed
/// protobuf). 204 once stored; 400 naming what is wrong with the body, or
/// with refused samples after the others are stored (Prometheus does not
/// resend a batch answered with 4xx); 413 over the limits; 415 for other
/// media types, content codings, or remote write 2.0.
pub async fn remote_write(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if let Some(content_type) = header_text(&headers, header::CONTENT_TYPE) {
        let mut parts = content_type.split(';').map(str::trim);
        let media_type = parts.next().unwrap_or_default();
        if !media_type.eq_ignore_ascii_case("application/x-protobuf") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Content-Type must be application/x-protobuf, got {content_type}"
            )));
        }
        if let Some(proto) = parts.find_map(|p| p.strip_prefix("proto="))
            && proto != "prometheus.WriteRequest"
        {
            return Err(ApiError::UnsupportedMediaType(format!(
                "only remote write 1.0 (prometheus.WriteRequest) is supported, got {proto}"
            )));
        }
    }
    if let Some(coding) = header_text(&headers, header::CONTENT_ENCODING)
        && !coding.trim().eq_ignore_ascii_case("snappy")
    {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Encoding must be snappy, got {coding}"
        )));
    }
    let body = body_or_error(body)?;
    let turn = decode_turn().await;
    let batch =
        parse_remote_write(&body, MAX_BODY_BYTES, crate::clock::now_ms()).map_err(|e| match e {
            RemoteWriteError::TooMany { .. } | RemoteWriteError::TooManyEntries => {
                ApiError::TooLarge(e.to_string())
            }
            RemoteWriteError::Decompress(d) => decompress_error(d),
            other => ApiError::BadRequest(other.to_string()),
        })?;
    drop((turn, body));
    let stored = state.record(batch.samples).await?;
    tracing::debug!(
        stored,
        rejected = batch.rejected,
        no_value = batch.no_value,
        "remote write stored"
    );
    if let Some(first) = batch.first_error {
        return Err(ApiError::BadRequest(format!(
            "{} of {} samples refused ({stored} stored); first: {first}",
            batch.rejected,
            batch.rejected + stored
        )));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
