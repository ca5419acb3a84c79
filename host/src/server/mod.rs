//! HTTP API and WebSocket stream. This module owns axum.
//!
//! Handlers never block on DuckDB or Rhai: they await the store thread or
//! read shared state under short locks.

mod alerts;
mod channels;
mod error;
mod export;
mod health;
mod ingest;
mod metrics;
mod params;
mod query;
mod receivers;
mod silences;
mod status;
#[cfg(test)]
mod tests;
mod ui;
mod ws;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};

use crate::app::AppState;

/// Largest request body accepted, 16 MiB: about 100,000 samples of JSON.
/// Compressed bodies (OTLP gzip, remote-write snappy) are held to the same
/// limit once decompressed.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// The whole HTTP surface, with no socket bound: tests drive it directly.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(ui::page))
        .route("/assets/{file}", get(ui::asset))
        .route("/favicon.ico", get(ui::icon))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/ws", get(ws::upgrade))
        .route("/api/v1/metrics", post(ingest::post_metrics))
        .route("/v1/metrics", post(receivers::otlp_metrics))
        .route("/api/v1/write", post(receivers::remote_write))
        .route("/api/v1/query", get(query::query))
        .route("/api/v1/query_range", get(query::query_range))
        .route("/api/v1/series", get(query::series))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/history", get(alerts::history))
        .route("/api/v1/alerts/{id}/ack", post(alerts::ack))
        .route(
            "/api/v1/silences",
            get(silences::list).post(silences::create),
        )
        .route("/api/v1/silences/{id}", delete(silences::delete))
        .route("/api/v1/bottlenecks", get(status::bottlenecks))
        .route("/api/v1/plugins", get(status::plugins))
        .route("/api/v1/deliveries", get(status::deliveries))
        .route("/api/v1/channels", get(channels::list))
        .route("/api/v1/channels/{name}/test", post(channels::test))
        .route("/api/v1/export", post(export::export))
        .route("/api/v1/rules", get(status::rules))
        .route("/api/v1/config", get(health::config))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
