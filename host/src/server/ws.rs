//! `/ws`: `initial_data` on connect, then whatever the hub publishes
//! (`metrics_update`, `alert_triggered`, `alert_resolved`).

use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::app::AppState;
use crate::hub::message;

pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    ws.on_upgrade(move |socket| client(socket, state))
}

/// The `initial_data` message: current snapshot, firing alerts, current
/// bottlenecks, the config with every secret redacted, and plugin status.
fn initial_data(state: &AppState) -> String {
    let mut current = state.current.read().expect("current lock").clone();
    if current.is_null() {
        // Before the first tick: whatever the window already holds.
        let window = state.window.read().expect("window lock");
        current = crate::snapshot::build(&window, crate::clock::now_ms());
    }
    let alerts = state.alerts.lock().expect("alerts lock").firing();
    message(
        "initial_data",
        &json!({
            "current": current,
            "alerts": alerts,
            "bottlenecks": state.bottlenecks.lock().expect("bottlenecks lock").current(),
            "config": state.plugins.redacted_config(&state.config),
            "plugins": state.plugins.all(),
        }),
    )
}

async fn client(mut socket: WebSocket, state: AppState) {
    // Subscribe before building initial_data so no update falls in between.
    let mut updates = state.hub.subscribe();
    if socket
        .send(Message::Text(initial_data(&state).into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            update = updates.recv() => match update {
                Ok(bytes) => {
                    // The hub publishes serialised JSON, so this never fails;
                    // checking costs a pass over the bytes, no copy.
                    let Ok(text) = Utf8Bytes::try_from(bytes) else {
                        continue;
                    };
                    if socket.send(Message::Text(text)).await.is_err() {
                        break;
                    }
                }
                Err(RecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "a WebSocket client fell behind; skipping messages");
                }
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                // The protocol is server-to-client; pings are answered by
                // the library, anything else is ignored.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
}
