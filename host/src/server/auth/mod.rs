//! Access control: which token each route needs ([`Access`]), where a
//! request's token is read from, the WebSocket `Origin` check and CORS.
//!
//! With no token configured every route is open (the host binds loopback
//! unless told otherwise, and config validation refuses a wider bind
//! without a token). With any token set, every route but the public ones
//! needs `Authorization: Bearer <token>`: a read token may call `Read`
//! routes, an admin token (`auth_token` or `admin_tokens`) every route.
//! A WebSocket upgrade may carry its token as a `bearer.<token>`
//! subprotocol (what a browser can send) or a `token` query parameter.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::{Role, ServerConfig};

/// Who may call a route when tokens are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health and the static page, which carry no data.
    Public,
    /// A read or an admin token.
    Read,
    /// An admin token: the route changes state or reaches out.
    Admin,
}

/// The subprotocol a WebSocket client offers beside its token, which the
/// server selects: `new WebSocket(url, ["perfwatch", "bearer." + token])`.
pub const SUBPROTOCOL: &str = "perfwatch";
/// Prefix of the subprotocol that carries a token.
const BEARER_PROTOCOL: &str = "bearer.";

/// Refuses a request whose token does not grant `access`.
pub async fn require(
    State((server, access)): State<(Arc<ServerConfig>, Access)>,
    request: Request,
    next: Next,
) -> Response {
    if access == Access::Public || !server.requires_token() {
        return next.run(request).await;
    }
    let Some(token) = token_of(&request) else {
        return unauthorized("this route needs a token: send `Authorization: Bearer <token>`");
    };
    match (server.role_of(&token), access) {
        (None, _) => unauthorized("the token is not valid"),
        (Some(Role::Read), Access::Admin) => (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "this route changes state: it needs an admin token, not a read token"})),
        )
            .into_response(),
        (Some(_), _) => next.run(request).await,
    }
}

fn unauthorized(message: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
        Json(json!({ "error": message })),
    )
        .into_response()
}

/// The token a request carries: the `Authorization` header, or on a
/// WebSocket upgrade a `bearer.` subprotocol or the `token` parameter.
fn token_of(request: &Request) -> Option<String> {
    let headers = request.headers();
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    if !is_websocket_upgrade(headers) {
        return None;
    }
    let from_protocol = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix(BEARER_PROTOCOL).map(str::to_owned));
    from_protocol.or_else(|| {
        request.uri().query()?.split('&').find_map(|pair| {
            let value = pair.strip_prefix("token=")?;
            // Tokens hold no character a query would escape except these.
            Some(
                value
                    .replace("%2B", "+")
                    .replace("%2F", "/")
                    .replace("%3D", "="),
            )
        })
    })
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Whether a WebSocket upgrade may proceed from its `Origin`: absent (not
/// a browser), the host's own (`Origin`'s host:port is the `Host` header),
/// or listed in `allowed_origins`. Anything else is a page of another site
/// trying to use the visitor's access (cross-site WebSocket hijacking).
pub fn origin_allowed(headers: &HeaderMap, server: &ServerConfig) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let authority = origin.split_once("://").map(|(_, rest)| rest);
    if let (Some(host), Some(authority)) = (host, authority)
        && authority.eq_ignore_ascii_case(host)
    {
        return true;
    }
    server.allows_origin(origin)
}

/// CORS for `allowed_origins`, or none when that list is empty.
pub fn cors(server: &Arc<ServerConfig>) -> Option<CorsLayer> {
    if server.allowed_origins.is_empty() {
        return None;
    }
    let server = server.clone();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(move |origin, _| {
                origin.to_str().is_ok_and(|o| server.allows_origin(o))
            }))
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
    )
}

#[cfg(test)]
mod tests;
