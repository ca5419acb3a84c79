//! HTTP API and WebSocket stream. This module owns axum.
//!
//! Handlers never block on DuckDB or Rhai: they await the store thread or
//! read shared state under short locks.

mod alerts;
mod auth;
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
mod tls;
mod ui;
mod ws;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::app::AppState;
pub use auth::Access;
pub use tls::TlsError;

/// Largest request body accepted, 16 MiB: about 100,000 samples of JSON.
/// Compressed bodies (OTLP gzip, remote-write snappy) are held to the same
/// limit once decompressed.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// One route of the HTTP surface and who may call it.
pub struct Route {
    /// Its method.
    pub method: Method,
    /// Its path, with `{parameters}`.
    pub path: &'static str,
    /// The token it needs when tokens are set.
    pub access: Access,
    handler: MethodRouter<AppState>,
}

fn route<H: Handler<T, AppState>, T: 'static>(
    method: Method,
    path: &'static str,
    access: Access,
    handler: H,
) -> Route {
    let filter = MethodFilter::try_from(method.clone()).expect("a routable method");
    Route {
        method,
        path,
        access,
        handler: on(filter, handler),
    }
}

/// Every route, with its access: the one list that builds the router and
/// drives the access test, so a route cannot be added without deciding
/// who may call it.
pub fn routes() -> Vec<Route> {
    use Access::{Admin, Public, Read};
    use Method as M;
    vec![
        route(M::GET, "/", Public, ui::page),
        route(M::GET, "/assets/{file}", Public, ui::asset),
        route(M::GET, "/favicon.ico", Public, ui::icon),
        route(M::GET, "/healthz", Public, health::healthz),
        route(M::GET, "/metrics", Read, metrics::metrics),
        route(M::GET, "/ws", Read, ws::upgrade),
        route(M::POST, "/api/v1/metrics", Admin, ingest::post_metrics),
        route(M::POST, "/v1/metrics", Admin, receivers::otlp_metrics),
        route(M::POST, "/api/v1/write", Admin, receivers::remote_write),
        route(M::GET, "/api/v1/query", Read, query::query),
        route(M::GET, "/api/v1/query_range", Read, query::query_range),
        route(M::GET, "/api/v1/series", Read, query::series),
        route(M::GET, "/api/v1/alerts", Read, alerts::list),
        route(M::GET, "/api/v1/alerts/history", Read, alerts::history),
        route(M::POST, "/api/v1/alerts/{id}/ack", Admin, alerts::ack),
        route(M::GET, "/api/v1/silences", Read, silences::list),
        route(M::POST, "/api/v1/silences", Admin, silences::create),
        route(M::DELETE, "/api/v1/silences/{id}", Admin, silences::delete),
        route(M::GET, "/api/v1/bottlenecks", Read, status::bottlenecks),
        route(M::GET, "/api/v1/health", Read, status::health),
        route(M::GET, "/api/v1/plugins", Read, status::plugins),
        route(M::GET, "/api/v1/deliveries", Read, status::deliveries),
        route(M::GET, "/api/v1/channels", Read, channels::list),
        route(
            M::POST,
            "/api/v1/channels/{name}/test",
            Admin,
            channels::test,
        ),
        route(M::POST, "/api/v1/export", Admin, export::export),
        route(M::GET, "/api/v1/rules", Read, status::rules),
        route(M::GET, "/api/v1/config", Read, health::config),
    ]
}

/// The whole HTTP surface, with no socket bound: tests drive it directly.
pub fn app(state: AppState) -> Router {
    let server = Arc::new(state.config.server.clone());
    let mut router = Router::new();
    for route in routes() {
        let guard =
            axum::middleware::from_fn_with_state((server.clone(), route.access), auth::require);
        router = router.route(route.path, route.handler.route_layer(guard));
    }
    let router = router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    match auth::cors(&server) {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// Serves `app` on `listener` until `shutdown` resolves: over TLS when the
/// config names a certificate (see [`tls_acceptor`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    tls: Option<TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(state);
    match tls {
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(TlsAcceptor(acceptor)) => {
            axum::serve(tls::TlsListener::new(listener, acceptor), app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}

/// The TLS side of [`serve`], loaded before binding so that a bad
/// certificate stops start-up.
pub struct TlsAcceptor(tokio_rustls::TlsAcceptor);

/// The acceptor for `[server] tls_cert`/`tls_key`, if set.
pub fn tls_acceptor(config: &crate::config::ServerConfig) -> Result<Option<TlsAcceptor>, TlsError> {
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Ok(Some(TlsAcceptor(tls::acceptor(cert, key)?))),
        _ => Ok(None),
    }
}
