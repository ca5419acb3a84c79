//! Access control through the router, driven by its own route list: every
//! route with no token, a read token and an admin token, so a route added
//! to [`super::super::routes`] is covered the day it is added.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

use super::Access;
use crate::app::AppState;
use crate::config::Config;
use crate::store::Store;

const TOKENS: &str = "[server]\nauth_token = \"admin-t0ken\"\nadmin_tokens = [\"admin-2\"]\nread_tokens = [\"read-t0ken\"]\nallowed_origins = [\"https://dash.example.com\"]\n";

fn router(config_toml: &str) -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::from_toml_str(config_toml, "test.toml").expect("valid config");
    config.data_dir = dir.path().to_owned();
    config.export_path = dir.path().join("exports");
    let store = Store::open(dir.path()).expect("store opens");
    (super::super::app(AppState::new(config, store)), dir)
}

/// Status, `WWW-Authenticate` and body of one call.
async fn call(
    app: &axum::Router,
    method: &axum::http::Method,
    path: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, Option<String>, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let request = request
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let response = app.clone().oneshot(request).await.expect("router answers");
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, challenge, body)
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "no-such-id")
        .replace("{name}", "no-such-channel")
}

#[tokio::test]
async fn every_route_needs_the_token_its_access_names() {
    let (app, _dir) = router(TOKENS);
    for route in super::super::routes() {
        let path = concrete(route.path);
        let as_who = |token: Option<&'static str>| {
            let headers: Vec<(header::HeaderName, String)> = token
                .map(|t| (header::AUTHORIZATION, format!("Bearer {t}")))
                .into_iter()
                .collect();
            let app = app.clone();
            let method = route.method.clone();
            let path = path.clone();
            async move {
                let headers: Vec<(header::HeaderName, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.clone(), v.as_str()))
                    .collect();
                call(&app, &method, &path, &headers).await
            }
        };
        let what = format!("{} {}", route.method, route.path);

        let (status, challenge, body) = as_who(None).await;
        if route.access == Access::Public {
            assert!(
                status != StatusCode::UNAUTHORIZED,
                "{what}: public, got {status}"
            );
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what} with no token");
            assert_eq!(challenge.as_deref(), Some("Bearer"), "{what}");
            let json: Value = serde_json::from_slice(&body).expect("a JSON error");
            assert!(json["error"].is_string(), "{what}: {json}");
        }

        let (status, _, _) = as_who(Some("wrong-token")).await;
        if route.access != Access::Public {
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{what} with a wrong token"
            );
        }

        let (status, _, body) = as_who(Some("read-t0ken")).await;
        match route.access {
            Access::Admin => {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what} with a read token");
                let json: Value = serde_json::from_slice(&body).expect("a JSON error");
                assert!(json["error"].as_str().unwrap().contains("admin"), "{json}");
            }
            _ => assert!(
                status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                "{what} with a read token: {status}"
            ),
        }

        for admin in ["admin-t0ken", "admin-2"] {
            let (status, _, _) = as_who(Some(admin)).await;
            assert!(
                status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                "{what} with an admin token: {status}"
            );
        }
    }
}

#[tokio::test]
async fn with_no_token_configured_every_route_is_open() {
    let (app, _dir) = router("");
    for route in super::super::routes() {
        let (status, _, _) = call(&app, &route.method, &concrete(route.path), &[]).await;
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "{} {}: {status}",
            route.method,
            route.path
        );
    }
}

#[tokio::test]
async fn the_config_endpoint_shows_no_token() {
    let (app, _dir) = router(TOKENS);
    let (status, _, body) = call(
        &app,
        &axum::http::Method::GET,
        "/api/v1/config",
        &[(header::AUTHORIZATION, "Bearer read-t0ken")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(
        !text.contains("t0ken") && !text.contains("admin-2"),
        "{text}"
    );
    let json: Value = serde_json::from_str(&text).unwrap();
    insta::assert_json_snapshot!(json["server"], @r#"
    {
      "admin_tokens": [
        "[redacted]"
      ],
      "allow_unauthenticated": false,
      "allowed_origins": [
        "https://dash.example.com"
      ],
      "auth_token": "[redacted]",
      "max_ws_clients": 1000,
      "read_tokens": [
        "[redacted]"
      ],
      "tls_cert": null,
      "tls_key": null
    }
    "#);
}

#[tokio::test]
async fn cors_answers_only_the_allowed_origins() {
    let preflight = |origin: &'static str| {
        [
            (header::ORIGIN, origin),
            (header::ACCESS_CONTROL_REQUEST_METHOD, "GET"),
            (header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization"),
        ]
    };
    let allow_origin = |app: axum::Router, origin: &'static str| async move {
        let mut request = Request::builder()
            .method(axum::http::Method::OPTIONS)
            .uri("/api/v1/alerts");
        for (name, value) in preflight(origin) {
            request = request.header(name, value);
        }
        let response = app
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (app, _dir) = router(TOKENS);
    assert_eq!(
        allow_origin(app.clone(), "https://dash.example.com")
            .await
            .as_deref(),
        Some("https://dash.example.com")
    );
    assert_eq!(allow_origin(app, "https://evil.example.net").await, None);
    let (app, _dir) = router("");
    assert_eq!(
        allow_origin(app, "https://dash.example.com").await,
        None,
        "no CORS by default"
    );
}
