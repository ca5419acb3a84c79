//! The stream's protocol against real WebSocket clients on a bound
//! loopback listener, with the hub's limits shortened: what the page and
//! other dashboards rely on (ping, subscriptions, history, errors), and
//! what protects everyone from one client (lag, a client that never reads,
//! a silent peer, the connection cap, foreign origins).

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tower::ServiceExt;

use crate::app::AppState;
use crate::config::Config;
use crate::hub::{Hub, StreamLimits};
use crate::model::Sample;
use crate::store::Store;

/// How long a test waits for one message.
const WAIT: Duration = Duration::from_secs(10);

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A host serving the router on a loopback port, over a fresh store.
struct Host {
    state: AppState,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

async fn host(limits: StreamLimits, config_toml: &str) -> Host {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::from_toml_str(config_toml, "test.toml").expect("a valid config");
    config.data_dir = dir.path().to_owned();
    let store = Store::open(dir.path()).expect("store opens");
    let mut state = AppState::new(config, store);
    state.hub = Hub::new(limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(super::super::serve(
        listener,
        state.clone(),
        None,
        std::future::pending(),
    ));
    Host {
        state,
        addr,
        _dir: dir,
    }
}

fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/ws")
}

/// Connects and reads `initial_data`.
async fn connect(addr: SocketAddr) -> Client {
    let (mut client, _) = tokio_tungstenite::connect_async(url(addr))
        .await
        .expect("WebSocket connects");
    assert_eq!(next(&mut client).await["type"], "initial_data");
    client
}

/// The next JSON message (pings are answered by reading).
async fn next(client: &mut Client) -> Value {
    loop {
        match frame(client).await {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
            Message::Close(close) => panic!("closed: {close:?}"),
            _ => {}
        }
    }
}

async fn frame(client: &mut Client) -> Message {
    tokio::time::timeout(WAIT, client.next())
        .await
        .expect("a frame in time")
        .expect("the stream is open")
        .expect("a valid frame")
}

/// Reads until the server's close frame, skipping messages.
async fn close_frame(client: &mut Client) -> CloseFrame {
    loop {
        match tokio::time::timeout(WAIT, client.next())
            .await
            .expect("in time")
        {
            Some(Ok(Message::Close(Some(close)))) => return close,
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => {
                panic!("closed without a reason")
            }
            Some(Ok(_)) => {}
        }
    }
}

async fn send(client: &mut Client, message: Value) {
    client
        .send(Message::text(message.to_string()))
        .await
        .expect("sent");
}

/// Polls until `check` holds, for at most [`WAIT`].
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_ping_gets_a_pong() {
    let host = host(StreamLimits::default(), "").await;
    let mut client = connect(host.addr).await;
    send(&mut client, json!({"type": "ping"})).await;
    assert_eq!(next(&mut client).await["type"], "pong");
}

#[tokio::test]
async fn a_subscription_filters_updates_and_alerts() {
    let host = host(StreamLimits::default(), "").await;
    let mut client = connect(host.addr).await;
    send(
        &mut client,
        json!({"type": "subscribe", "sections": ["system"], "metrics": ["app.depth"]}),
    )
    .await;
    let ack = next(&mut client).await;
    assert_eq!(ack["type"], "subscribed", "{ack}");
    let hub = &host.state.hub;
    hub.publish(
        "alert_triggered",
        &json!({"metric": "agents.avgResponseTime", "labels": {}}),
    );
    hub.publish(
        "alert_triggered",
        &json!({"metric": "system.cpuUsage", "labels": {}}),
    );
    hub.publish(
        "metrics_update",
        &json!({"timestamp": 1, "system": {"cpuUsage": 5.0}, "agents": {"totalAgents": 2.0},
                "custom": {"app.depth": 3.0, "app.other": 4.0}}),
    );
    let alert = next(&mut client).await;
    assert_eq!(alert["data"]["metric"], "system.cpuUsage", "{alert}");
    let update = next(&mut client).await;
    assert_eq!(
        update["data"],
        json!({"timestamp": 1, "system": {"cpuUsage": 5.0}, "custom": {"app.depth": 3.0}})
    );
    // An empty subscription is everything again.
    send(&mut client, json!({"type": "subscribe"})).await;
    assert_eq!(next(&mut client).await["type"], "subscribed");
    hub.publish("metrics_update", &json!({"timestamp": 2, "agents": {}}));
    assert_eq!(
        next(&mut client).await["data"],
        json!({"timestamp": 2, "agents": {}})
    );
}

#[tokio::test]
async fn bad_requests_get_an_error_and_the_socket_stays_open() {
    let host = host(StreamLimits::default(), "").await;
    let mut client = connect(host.addr).await;
    for bad in [
        "not json",
        r#"{"type": "dance"}"#,
        r#"{"type": "subscribe", "sections": ["sytem"]}"#,
        r#"{"type": "subscribe", "section": ["system"]}"#,
        r#"{"type": "get_history", "metric": "a..b"}"#,
        r#"{"type": "get_history", "metric": "system.cpuUsage", "step": 0}"#,
        r#"{"type": "get_history", "metric": "system.cpuUsage", "start": 5, "end": 1}"#,
    ] {
        client.send(Message::text(bad)).await.expect("sent");
        let answer = next(&mut client).await;
        assert_eq!(answer["type"], "error", "{bad}: {answer}");
        assert!(answer["data"]["message"].is_string(), "{answer}");
    }
    client
        .send(Message::binary(vec![1, 2, 3]))
        .await
        .expect("sent");
    assert_eq!(next(&mut client).await["type"], "error");
    send(&mut client, json!({"type": "ping"})).await;
    assert_eq!(next(&mut client).await["type"], "pong");
}

#[tokio::test]
async fn an_oversized_message_closes_with_a_reason() {
    let host = host(StreamLimits::default(), "").await;
    let mut client = connect(host.addr).await;
    let huge = format!(r#"{{"type": "ping", "pad": "{}"}}"#, "x".repeat(100 << 10));
    let _ = client.send(Message::text(huge)).await;
    // The connection ends; the well-behaved client next to it is unaffected.
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match client.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "an oversized message must end the connection"
    );
}

#[tokio::test]
async fn get_history_answers_what_query_range_answers() {
    let host = host(StreamLimits::default(), "").await;
    let samples = (0..6)
        .map(|i| {
            Sample::gauge(
                "app.depth",
                f64::from(i),
                1_764_200_000_000 + i64::from(i) * 10_000,
            )
        })
        .collect();
    host.state.record(samples).await.expect("stored");
    let mut client = connect(host.addr).await;
    send(
        &mut client,
        json!({"type": "get_history", "metric": "app.depth", "start": 1_764_199_980_000_i64,
               "end": 1_764_200_060_000_i64, "step": "30s", "agg": "max", "id": 7}),
    )
    .await;
    let mut history = next(&mut client).await;
    assert_eq!(history["type"], "history", "{history}");
    assert_eq!(history["data"]["id"], 7);
    history["data"].as_object_mut().unwrap().remove("id");

    let request = axum::http::Request::get(
        "/api/v1/query_range?metric=app.depth&start=1764199980000&end=1764200060000&step=30s&agg=max",
    )
    .body(axum::body::Body::empty())
    .unwrap();
    let response = super::super::app(host.state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let rest: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(history["data"], rest);
    assert!(!rest["series"].as_array().unwrap().is_empty(), "{rest}");
}

/// A current-thread runtime: the test publishes without yielding, so the
/// client's task cannot keep up and lags for certain.
#[tokio::test(flavor = "current_thread")]
async fn a_client_that_falls_behind_is_told_resynced_then_closed_if_it_keeps_lagging() {
    let limits = StreamLimits {
        max_lags: 1,
        ..Default::default()
    };
    let host = host(limits, "").await;
    let mut client = connect(host.addr).await;
    for i in 0..100 {
        host.state
            .hub
            .publish("metrics_update", &json!({"timestamp": i}));
    }
    let lagged = next(&mut client).await;
    assert_eq!(
        lagged,
        json!({"type": "lagged", "skipped": 36, "data": {"skipped": 36}})
    );
    assert_eq!(next(&mut client).await["type"], "initial_data");
    for i in 36..100 {
        assert_eq!(next(&mut client).await["data"]["timestamp"], i);
    }
    // Again within the window: one lag too many.
    for i in 0..100 {
        host.state
            .hub
            .publish("metrics_update", &json!({"timestamp": i}));
    }
    let close = close_frame(&mut client).await;
    assert_eq!(u16::from(close.code), 1008);
    assert!(close.reason.contains("fell behind"), "{}", close.reason);
}

/// A client whose receive buffer is small and never read.
async fn never_reading_client(addr: SocketAddr) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let (client, _) = tokio_tungstenite::client_async(url(addr), MaybeTlsStream::Plain(tcp))
        .await
        .expect("WebSocket connects");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_while_another_gets_every_message() {
    let limits = StreamLimits {
        send_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let host = host(limits, "").await;
    let stalled = never_reading_client(host.addr).await;
    let mut reader = connect(host.addr).await;
    until("both clients subscribed", || host.state.hub.clients() == 2).await;
    let received = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            let message = next(&mut reader).await;
            assert_eq!(message["type"], "metrics_update", "{message}");
            let i = message["data"]["timestamp"].as_i64().unwrap();
            if i < 0 {
                return seen;
            }
            seen.push(i);
        }
    });
    // 32 KiB updates every 5 ms until the stalled client's buffers are full
    // and it is dropped.
    let pad = "x".repeat(32 << 10);
    let mut published = 0;
    while host.state.hub.clients() == 2 {
        assert!(published < 5000, "the stalled client was never dropped");
        host.state.hub.publish(
            "metrics_update",
            &json!({"timestamp": published, "custom": {"pad": pad}}),
        );
        published += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    host.state
        .hub
        .publish("metrics_update", &json!({"timestamp": -1}));
    let seen = received.await.expect("the reader finished");
    assert_eq!(
        seen,
        (0..published).collect::<Vec<_>>(),
        "every update, in order"
    );
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_drops_a_silent_peer_and_keeps_a_live_one() {
    let limits = StreamLimits {
        ping_interval: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let host = host(limits, "").await;
    let mut silent = never_reading_client(host.addr).await;
    let mut live = connect(host.addr).await;
    until("both clients subscribed", || host.state.hub.clients() == 2).await;
    // The live client answers pings as it reads; the silent one never reads.
    let live_task = tokio::spawn(async move {
        let mut pings = 0;
        loop {
            match frame(&mut live).await {
                Message::Ping(_) => pings += 1,
                Message::Text(text) if text.contains("\"done\"") => return pings,
                other => panic!("unexpected {other:?}"),
            }
        }
    });
    until("the silent peer is dropped", || {
        host.state.hub.clients() == 1
    })
    .await;
    host.state.hub.publish("done", &json!({}));
    let pings = live_task.await.expect("the live client is still served");
    assert!(pings >= 3, "{pings} pings");
    // Reading now, the silent client answers the queued pings on a
    // connection the server has left, so it may see a reset before the
    // close frame; if the frame arrives, it says why.
    loop {
        match tokio::time::timeout(WAIT, silent.next())
            .await
            .expect("in time")
        {
            Some(Ok(Message::Close(Some(close)))) => {
                assert_eq!(u16::from(close.code), 1001);
                assert!(close.reason.contains("nothing heard"), "{}", close.reason);
                break;
            }
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn the_connection_cap_holds_with_a_reason() {
    let limits = StreamLimits {
        max_clients: 2,
        ..Default::default()
    };
    let host = host(limits, "").await;
    let first = connect(host.addr).await;
    let _second = connect(host.addr).await;
    let (mut third, _) = tokio_tungstenite::connect_async(url(host.addr))
        .await
        .expect("the upgrade itself succeeds");
    let close = close_frame(&mut third).await;
    assert_eq!(u16::from(close.code), 1013);
    assert!(close.reason.contains("at most 2"), "{}", close.reason);
    drop(first);
    until("the first client's place is freed", || {
        host.state.hub.clients() == 1
    })
    .await;
    connect(host.addr).await;
}

/// An upgrade request for `/ws{query}` with extra headers.
fn request(
    addr: SocketAddr,
    query: &str,
    headers: &[(&str, &str)],
) -> tungstenite::handshake::client::Request {
    let mut request = format!("ws://{addr}/ws{query}")
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    request
}

/// The HTTP status of a refused upgrade, or 101.
async fn upgrade_status(
    addr: SocketAddr,
    query: &str,
    headers: &[(&str, &str)],
) -> (u16, Option<String>) {
    match tokio_tungstenite::connect_async(request(addr, query, headers)).await {
        Ok((_, response)) => (
            response.status().as_u16(),
            response
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.to_str().unwrap().to_owned()),
        ),
        Err(tungstenite::Error::Http(response)) => (response.status().as_u16(), None),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn a_foreign_origin_is_refused_unless_allowed() {
    let host = host(
        StreamLimits::default(),
        "[server]\nallowed_origins = [\"https://dash.example.com\"]\n",
    )
    .await;
    let own = format!("http://{}", host.addr);
    for (origin, status) in [
        (own.as_str(), 101),
        ("https://dash.example.com", 101),
        ("https://evil.example.net", 403),
        ("http://127.0.0.1:1", 403),
        ("null", 403),
    ] {
        let got = upgrade_status(host.addr, "", &[("Origin", origin)]).await.0;
        assert_eq!(got, status, "Origin: {origin}");
    }
    assert_eq!(upgrade_status(host.addr, "", &[]).await.0, 101, "no Origin");
}

/// A query string, request headers, and the status the upgrade gets.
type UpgradeCase<'a> = (&'a str, &'a [(&'a str, &'a str)], u16);

#[tokio::test]
async fn the_token_travels_as_a_subprotocol_or_a_query_parameter() {
    let host = host(
        StreamLimits::default(),
        "[server]\nauth_token = \"adm1n\"\nread_tokens = [\"r3ad+/=\"]\n",
    )
    .await;
    let cases: &[UpgradeCase] = &[
        ("", &[], 401),
        ("?token=wrong", &[], 401),
        ("?token=adm1n", &[], 101),
        ("?token=r3ad%2B%2F%3D", &[], 101),
        ("", &[("Authorization", "Bearer r3ad+/=")], 101),
        (
            "",
            &[("Sec-WebSocket-Protocol", "perfwatch, bearer.adm1n")],
            101,
        ),
        (
            "",
            &[("Sec-WebSocket-Protocol", "perfwatch, bearer.nope")],
            401,
        ),
    ];
    for (query, headers, status) in cases {
        let (got, protocol) = upgrade_status(host.addr, query, headers).await;
        assert_eq!(got, *status, "{query} {headers:?}");
        if headers.iter().any(|(h, _)| *h == "Sec-WebSocket-Protocol") && got == 101 {
            assert_eq!(protocol.as_deref(), Some("perfwatch"));
        }
    }
}

#[tokio::test]
async fn initial_data_shows_no_token() {
    let host = host(
        StreamLimits::default(),
        "[server]\nauth_token = \"s3cr3t-admin\"\nread_tokens = [\"s3cr3t-read\"]\n",
    )
    .await;
    let (mut client, _) =
        tokio_tungstenite::connect_async(request(host.addr, "?token=s3cr3t-admin", &[]))
            .await
            .expect("connects");
    let initial = next(&mut client).await;
    assert_eq!(initial["type"], "initial_data");
    let text = initial.to_string();
    assert!(!text.contains("s3cr3t"), "{text}");
    assert_eq!(
        initial["data"]["config"]["server"]["auth_token"],
        "[redacted]"
    );
}
