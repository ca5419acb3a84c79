//! The HTTP surface driven through [`super::app`], without a socket: every
//! answer's status and body, the bodies pinned as snapshots (insta) so a
//! change to a wire format shows up in review.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use crate::app::AppState;
use crate::config::Config;
use crate::model::{DeliveryRecord, DeliveryStatus};
use crate::store::Store;

/// A router over a fresh store in a temporary directory.
fn router() -> (axum::Router, AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::defaults();
    config.data_dir = dir.path().to_owned();
    config.export_path = dir.path().join("exports");
    let store = Store::open(dir.path()).expect("store opens");
    let state = AppState::new(config, store);
    (super::app(state.clone()), state, dir)
}

/// Sends one request and returns the status and the body as JSON.
async fn call(app: &axum::Router, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request builds");
    let response = app.clone().oneshot(request).await.expect("router answers");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body reads");
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{uri} answered non-JSON ({e}): {bytes:?}"));
    (status, json)
}

/// Three samples of one series and one of another, at fixed times.
const BATCH: &str = r#"[
    {"metric": "agents.avgResponseTime", "value": 250, "labels": {"agent": "coder-1"}, "timestamp": 1764200000000},
    {"metric": "agents.avgResponseTime", "value": 310.5, "labels": {"agent": "coder-1"}, "timestamp": 1764200010000},
    {"metric": "agents.avgResponseTime", "value": 120, "labels": {"agent": "coder-2"}, "timestamp": 1764200010000},
    {"metric": "app.queueDepth", "value": 7, "unit": "jobs", "timestamp": 1764200005000}
]"#;

#[tokio::test]
async fn healthz_answers_ok() {
    let (app, _state, _dir) = router();
    let (status, body) = call(&app, "GET", "/healthz", "").await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!(body, @r#"
    {
      "status": "ok"
    }
    "#);
}

#[tokio::test]
async fn a_batch_is_stored_and_read_back_raw_latest_and_by_step() {
    let (app, _state, _dir) = router();
    let (status, body) = call(&app, "POST", "/api/v1/metrics", BATCH).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_json_snapshot!("post_metrics_accepted", body);

    let (status, body) = call(
        &app,
        "GET",
        "/api/v1/query?metric=agents.avgResponseTime&labels=agent=coder-1&start=1764199990000&end=1764200020000",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_json_snapshot!("query_raw", body);

    let (status, body) = call(
        &app,
        "GET",
        "/api/v1/query?metric=agents.avgResponseTime&at=1764200015000",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_json_snapshot!("query_latest", body);

    let (status, body) = call(
        &app,
        "GET",
        "/api/v1/query_range?metric=agents.avgResponseTime&start=1764199980000&end=1764200040000&step=30s&agg=max",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_json_snapshot!("query_range_raw_tier", body);

    let (status, body) = call(&app, "GET", "/api/v1/series", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_json_snapshot!("series", body);
}

#[tokio::test]
async fn refused_samples_are_named_and_the_valid_ones_kept() {
    let (app, _state, _dir) = router();
    let batch = r#"[
        {"metric": "app.ok", "value": 1, "timestamp": 1764200000000},
        {"metric": "app..bad", "value": 1, "timestamp": 1764200000000},
        {"metric": "app.nan", "value": "NaN", "timestamp": 1764200000000}
    ]"#;
    let (status, body) = call(&app, "POST", "/api/v1/metrics", batch).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    insta::assert_json_snapshot!("post_metrics_partly_refused", body);
    let (status, body) = call(&app, "GET", "/api/v1/query?metric=app.ok&start=0", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["series"][0]["points"][0][1], 1.0);
}

#[tokio::test]
async fn query_parameters_are_typed_and_unknown_ones_refused() {
    let (app, _state, _dir) = router();
    call(&app, "POST", "/api/v1/metrics", BATCH).await;
    let cases = [
        "/api/v1/query?metric=agents.avgResponseTime&strat=0",
        "/api/v1/query?metric=agents.avgResponseTime&start=yesterday",
        "/api/v1/query_range?metric=agents.avgResponseTime&step=0",
        "/api/v1/query_range?metric=agents.avgResponseTime&step=fast",
        "/api/v1/query_range?metric=agents.avgResponseTime&agg=median",
        "/api/v1/query?metric=agents.avgResponseTime&at=0&start=0",
        "/api/v1/query?labels=agent=coder-1",
        "/api/v1/alerts/history?rules=x",
        "/api/v1/export?fromat=csv",
        "/api/v1/deliveries?chanel=console%230",
        "/api/v1/deliveries?status=lost",
        "/api/v1/deliveries?limit=0",
        "/api/v1/deliveries?limit=1001",
        "/api/v1/deliveries?limit=ten",
    ];
    let mut answers = Vec::new();
    for uri in cases {
        let method = if uri.contains("export") {
            "POST"
        } else {
            "GET"
        };
        let (status, body) = call(&app, method, uri, "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        answers.push(serde_json::json!({ "uri": uri, "error": body["error"] }));
    }
    insta::assert_json_snapshot!("refused_parameters", answers);
}

/// `end - start` of the extreme i64s wrapped past the step limit in
/// release and panicked the store thread in debug; through the router,
/// the answer is a 400 and the store still answers afterwards.
#[tokio::test]
async fn query_range_over_the_whole_i64_range_answers_400_and_the_store_lives_on() {
    let (app, _state, _dir) = router();
    call(&app, "POST", "/api/v1/metrics", BATCH).await;
    for uri in [
        "/api/v1/query_range?metric=agents.avgResponseTime&start=-9223372036854775808&end=9223372036854775807&step=1",
        "/api/v1/query_range?metric=agents.avgResponseTime&start=-9223372036854775808&end=-9223372036854775800&step=7",
        "/api/v1/query_range?metric=agents.avgResponseTime&end=-9223372036854775808",
        "/api/v1/query?metric=agents.avgResponseTime&end=-9223372036854775808",
    ] {
        let (status, body) = call(&app, "GET", uri, "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
    }
    let (status, body) = call(
        &app,
        "GET",
        "/api/v1/query_range?metric=agents.avgResponseTime&start=1764199980000&end=1764200040000&step=30s",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["series"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn alerts_silences_and_acks_through_the_router() {
    let (app, _state, _dir) = router();
    let (status, body) = call(&app, "GET", "/api/v1/alerts", "").await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!(body, @r#"
    {
      "firing": [],
      "pending": [],
      "resolved": []
    }
    "#);

    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/alerts/nope/ack",
        r#"{"comment": "rolling back", "by": "ana"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!(body, @r#"
    {
      "error": "no firing alert has the id `nope`"
    }
    "#);

    let silence = r#"{"matchers": [{"name": "component", "value": "db"}],
        "startsAt": 1764200000000, "endsAt": 4102444800000, "comment": "maintenance", "createdBy": "ana"}"#;
    let (status, created) = call(&app, "POST", "/api/v1/silences", silence).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("an id").to_owned();
    let (status, listed) = call(&app, "GET", "/api/v1/silences", "").await;
    assert_eq!(status, StatusCode::OK);
    let listed = &listed["silences"];
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["active"], true);
    assert_eq!(listed[0]["comment"], "maintenance");

    let (status, body) = call(&app, "DELETE", &format!("/api/v1/silences/{id}"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["deleted"], id.as_str());
    let (status, _) = call(&app, "DELETE", &format!("/api/v1/silences/{id}"), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A silence that cannot be saved was answered 400, as if the client had
/// sent it wrong; it is the host's failure, and says so.
#[tokio::test]
async fn a_silence_that_cannot_be_saved_is_a_server_error_not_a_bad_request() {
    let (app, _state, dir) = router();
    std::fs::create_dir(dir.path().join("silences.json")).expect("a directory in the way");
    let silence = r#"{"matchers": [{"name": "component", "value": "db"}],
        "endsAt": 4102444800000, "comment": "maintenance"}"#;
    let (status, body) = call(&app, "POST", "/api/v1/silences", silence).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/silences",
        r#"{"matchers": [], "endsAt": 1, "comment": "c"}"#,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a malformed silence is still the client's: {body}"
    );
    let (_, listed) = call(&app, "GET", "/api/v1/silences", "").await;
    assert_eq!(listed["silences"], serde_json::json!([]));
}

/// Records as the delivery queue writes them: a group delivered to the
/// console after one transient failure, a skip, and a webhook that gave up.
fn delivery_records() -> Vec<DeliveryRecord> {
    use DeliveryStatus::{Delivered, Failed, GaveUp, Skipped};
    let record = |ts, channel: &str, status, attempt, class: Option<&str>, error: Option<&str>| {
        DeliveryRecord {
            timestamp: ts,
            channel: channel.to_owned(),
            status,
            attempt,
            group_key: "{component=\"agents\"}".to_owned(),
            alert_ids: vec!["alert-1".to_owned(), "alert-2".to_owned()],
            resolved: false,
            error_class: class.map(str::to_owned),
            error: error.map(str::to_owned),
            latency_ms: (attempt > 0).then_some(4),
        }
    };
    let backing_off = "plugin `console` is backing off after crashing and was not called";
    let refused = "POST https://hooks.example.com/… answered 400";
    vec![
        record(
            1764200000000,
            "console#0",
            Failed,
            1,
            Some("transient"),
            Some(backing_off),
        ),
        record(1764200001000, "console#0", Delivered, 2, None, None),
        DeliveryRecord {
            group_key: String::new(),
            alert_ids: vec!["alert-3".to_owned()],
            ..record(
                1764200001500,
                "*",
                Skipped,
                0,
                None,
                Some("silenced by s-1 (backup)"),
            )
        },
        record(
            1764200002000,
            "webhook#1",
            GaveUp,
            1,
            Some("permanent"),
            Some(refused),
        ),
    ]
}

#[tokio::test]
async fn deliveries_come_from_the_store_newest_first_filtered_and_limited() {
    let (app, state, _dir) = router();
    state
        .store
        .record_deliveries(delivery_records())
        .await
        .expect("records stored");
    let (status, body) = call(&app, "GET", "/api/v1/deliveries", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_json_snapshot!("deliveries", body);

    let (status, body) = call(&app, "GET", "/api/v1/deliveries?channel=console%230", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let attempts: Vec<(&str, i64)> = body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["status"].as_str().unwrap(),
                d["attempt"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(attempts, [("delivered", 2), ("failed", 1)]);

    let (_, body) = call(&app, "GET", "/api/v1/deliveries?status=gave_up", "").await;
    assert_eq!(
        body["deliveries"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    assert_eq!(body["deliveries"][0]["channel"], "webhook#1");

    let (_, body) = call(
        &app,
        "GET",
        "/api/v1/deliveries?status=skipped&channel=*",
        "",
    )
    .await;
    assert_eq!(
        body["deliveries"][0]["alertIds"],
        serde_json::json!(["alert-3"])
    );

    let (_, body) = call(&app, "GET", "/api/v1/deliveries?limit=1", "").await;
    assert_eq!(
        body["deliveries"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    assert_eq!(body["deliveries"][0]["status"], "gave_up", "the newest");
}

#[tokio::test]
async fn status_endpoints_answer_with_their_shapes() {
    let (app, _state, _dir) = router();
    for (uri, expected_keys) in [
        ("/api/v1/bottlenecks", &["current", "resolved"][..]),
        ("/api/v1/plugins", &["plugins", "reload_errors"][..]),
        ("/api/v1/deliveries", &["deliveries"][..]),
        (
            "/api/v1/rules",
            &["compile_errors", "runtime_errors", "scripts"][..],
        ),
    ] {
        let (status, body) = call(&app, "GET", uri, "").await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        let keys: Vec<&str> = body
            .as_object()
            .unwrap_or_else(|| panic!("{uri}: {body}"))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, expected_keys, "{uri}");
    }
}

#[test]
fn hub_messages_keep_the_original_envelope() {
    let message = crate::hub::message("alert_resolved", &serde_json::json!({ "id": "a1" }));
    insta::assert_snapshot!(message, @r#"{"data":{"id":"a1"},"type":"alert_resolved"}"#);
}

#[tokio::test]
async fn the_health_score_is_served_once_a_tick_has_made_one() {
    let (app, state, _dir) = router();
    let (status, body) = call(&app, "GET", "/api/v1/health", "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");

    // As the tick leaves it (analysis/health.rs makes the value).
    *state.current.write().unwrap() = serde_json::json!({
        "timestamp": 1764200000000_i64,
        "system": {"cpuUsage": 90.0},
        "health": {
            "score": 94.0,
            "parts": [
                {"name": "alerts", "penalty": 0.0, "detail": "no alert firing"},
                {"name": "headroom", "penalty": 6.0, "detail": "over 75 % use: CPU 90 %"}
            ]
        },
    });
    let (status, body) = call(&app, "GET", "/api/v1/health", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_json_snapshot!(body, @r#"
    {
      "parts": [
        {
          "detail": "no alert firing",
          "name": "alerts",
          "penalty": 0.0
        },
        {
          "detail": "over 75 % use: CPU 90 %",
          "name": "headroom",
          "penalty": 6.0
        }
      ],
      "score": 94.0,
      "timestamp": 1764200000000
    }
    "#);
}
