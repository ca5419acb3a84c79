//! `/ws`: `initial_data` on connect, then whatever the hub publishes
//! (`metrics_update`, `alert_triggered`, `alert_resolved`, …), as the
//! original protocol; clients may also `ping`, `subscribe` and
//! `get_history` (protocol.rs).
//!
//! Each client is one task that owns its socket. It never holds up the
//! tick or another client: the hub's queue per client is bounded, and a
//! client that falls behind is told (`lagged`), resynced with a fresh
//! `initial_data`, and closed if it keeps falling behind or stops reading.

mod protocol;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use self::protocol::{ClientMessage, Delivery, HistoryRequest, Step, Subscription};
use super::auth::{SUBPROTOCOL, origin_allowed};
use super::error::ApiError;
use super::query::{RangeRequest, parse_step, range};
use crate::app::AppState;
use crate::hub::{ClientSlot, StreamLimits, message};

/// Largest message a client may send, 64 KiB: a subscription to a few
/// hundred metrics fits; anything larger is not a dashboard's request.
const MAX_INBOUND_BYTES: usize = 64 << 10;

/// Close codes (RFC 6455, 7.4.1).
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TRY_AGAIN_LATER: u16 = 1013;

pub async fn upgrade(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Response {
    if !origin_allowed(&headers, &state.config.server) {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(json!({
                "error": "this page's origin may not open the stream; list it in `[server] allowed_origins`"
            })),
        )
            .into_response();
    }
    let slot = state.hub.admit();
    ws.protocols([SUBPROTOCOL])
        .max_message_size(MAX_INBOUND_BYTES)
        .max_frame_size(MAX_INBOUND_BYTES)
        .on_upgrade(move |socket| async move {
            match slot {
                Some(slot) => client(socket, state, slot).await,
                None => refuse_full(socket, &state).await,
            }
        })
}

/// Over the cap: the upgrade completes so that the client reads why.
async fn refuse_full(mut socket: WebSocket, state: &AppState) {
    let limits = state.hub.limits();
    tracing::warn!(
        max = limits.max_clients,
        "a WebSocket client was refused: the stream is full"
    );
    let reason = format!(
        "the host serves at most {} stream clients; try again later",
        limits.max_clients
    );
    let _ = send(
        &mut socket,
        close(CLOSE_TRY_AGAIN_LATER, &reason),
        limits.send_timeout,
    )
    .await;
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

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// The client is gone, or must be dropped.
struct Gone;

/// Sends within `timeout`: a client whose socket takes no more for that
/// long has stopped reading.
async fn send(socket: &mut WebSocket, message: Message, timeout: Duration) -> Result<(), Gone> {
    match tokio::time::timeout(timeout, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Gone),
        Err(_) => {
            tracing::info!("a WebSocket client stopped reading; dropping it");
            Err(Gone)
        }
    }
}

/// One client's session.
struct Session {
    socket: WebSocket,
    state: AppState,
    limits: StreamLimits,
    subscription: Subscription,
    /// When it last fell behind, within `lag_window`.
    lags: VecDeque<Instant>,
    last_heard: Instant,
}

async fn client(socket: WebSocket, state: AppState, slot: ClientSlot) {
    // Subscribe before building initial_data so no update falls in between.
    let mut updates = state.hub.subscribe();
    // Declared after `updates`, so dropped before it: once the hub counts
    // one client fewer, its place is free.
    let _slot = slot;
    let limits = state.hub.limits().clone();
    let mut session = Session {
        socket,
        limits: limits.clone(),
        state,
        subscription: Subscription::default(),
        lags: VecDeque::new(),
        last_heard: Instant::now(),
    };
    if session.text(initial_data(&session.state)).await.is_err() {
        return;
    }
    let mut heartbeat =
        tokio::time::interval_at(Instant::now() + limits.ping_interval, limits.ping_interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let step = tokio::select! {
            update = updates.recv() => match update {
                Ok(published) => match session.subscription.deliver(&published) {
                    // The hub publishes serialised JSON, so this never fails;
                    // checking costs a pass over the bytes, no copy.
                    Delivery::Whole(m) => match Utf8Bytes::try_from(m.bytes.clone()) {
                        Ok(text) => session.send(Message::Text(text)).await,
                        Err(_) => Ok(()),
                    },
                    Delivery::Filtered(text) => session.text(text).await,
                    Delivery::Skip => Ok(()),
                },
                Err(RecvError::Lagged(skipped)) => session.lagged(skipped).await,
                Err(RecvError::Closed) => Err(Gone),
            },
            incoming = session.socket.recv() => match incoming {
                Some(Ok(frame)) => {
                    session.last_heard = Instant::now();
                    session.incoming(frame).await
                }
                Some(Err(e)) => {
                    tracing::debug!("a WebSocket client sent a bad frame: {e}");
                    Err(Gone)
                }
                None => Err(Gone),
            },
            _ = heartbeat.tick() => session.heartbeat().await,
        };
        if step.is_err() {
            break;
        }
    }
}

impl Session {
    async fn send(&mut self, message: Message) -> Result<(), Gone> {
        send(&mut self.socket, message, self.limits.send_timeout).await
    }

    async fn text(&mut self, text: String) -> Result<(), Gone> {
        self.send(Message::Text(text.into())).await
    }

    async fn close(&mut self, code: u16, reason: &str) -> Result<(), Gone> {
        let _ = self.send(close(code, reason)).await;
        Err(Gone)
    }

    /// Pings, or closes a client not heard from within `idle_timeout`.
    async fn heartbeat(&mut self) -> Result<(), Gone> {
        if self.last_heard.elapsed() >= self.limits.idle_timeout {
            tracing::info!("a WebSocket client went silent; closing it");
            let reason = format!(
                "nothing heard for {} s",
                self.limits.idle_timeout.as_secs_f64()
            );
            return self.close(CLOSE_GOING_AWAY, &reason).await;
        }
        self.send(Message::Ping(Default::default())).await
    }

    /// Fell behind by `skipped` messages: told so and resynced, or closed
    /// when it keeps falling behind.
    async fn lagged(&mut self, skipped: u64) -> Result<(), Gone> {
        let now = Instant::now();
        while self
            .lags
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.limits.lag_window)
        {
            self.lags.pop_front();
        }
        self.lags.push_back(now);
        if self.lags.len() > self.limits.max_lags {
            tracing::info!(
                skipped,
                "a WebSocket client keeps falling behind; closing it"
            );
            let reason = format!(
                "fell behind {} times within {} s; read faster or subscribe to less",
                self.lags.len(),
                self.limits.lag_window.as_secs()
            );
            return self.close(CLOSE_POLICY, &reason).await;
        }
        tracing::debug!(skipped, "a WebSocket client fell behind; resyncing it");
        // `skipped` at the top level too, where the clients read it;
        // `data` like every other message.
        let lagged =
            json!({ "type": "lagged", "skipped": skipped, "data": { "skipped": skipped } });
        self.text(lagged.to_string()).await?;
        self.text(initial_data(&self.state)).await
    }

    /// A client's frame: requests are answered, bad ones with `error`.
    async fn incoming(&mut self, frame: Message) -> Result<(), Gone> {
        let text = match frame {
            Message::Text(text) => text,
            Message::Binary(_) => {
                return self.error("messages are JSON text frames", None).await;
            }
            // Pings are answered by the library; a pong just counts as heard.
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
            Message::Close(_) => return Err(Gone),
        };
        let request: ClientMessage = match serde_json::from_str(text.as_str()) {
            Ok(request) => request,
            Err(e) => {
                let reason = format!(
                    "not a request ({e}); send {{\"type\": \"ping\" | \"subscribe\" | \"get_history\", …}}"
                );
                return self.error(&reason, None).await;
            }
        };
        match request {
            ClientMessage::Ping => self.text(message("pong", &json!({}))).await,
            ClientMessage::Subscribe(request) => match Subscription::from_request(request) {
                Ok(subscription) => {
                    self.subscription = subscription;
                    let ack = message("subscribed", &self.subscription);
                    self.text(ack).await
                }
                Err(reason) => self.error(&reason, None).await,
            },
            ClientMessage::GetHistory(request) => {
                let id = request.id.clone();
                match history(&self.state, request).await {
                    Ok(mut answer) => {
                        if let Some(id) = id {
                            answer["id"] = id;
                        }
                        self.text(message("history", &answer)).await
                    }
                    Err(e) => {
                        let (_, reason) = e.into_status_and_message();
                        self.error(&reason, id).await
                    }
                }
            }
        }
    }

    async fn error(&mut self, reason: &str, id: Option<serde_json::Value>) -> Result<(), Gone> {
        let mut data = json!({ "message": reason });
        if let Some(id) = id {
            data["id"] = id;
        }
        self.text(message("error", &data)).await
    }
}

/// `get_history`, answered by the same code as `/api/v1/query_range`.
async fn history(state: &AppState, request: HistoryRequest) -> Result<serde_json::Value, ApiError> {
    let step = match request.step {
        None => None,
        Some(Step::Ms(ms)) if ms > 0 => Some(ms),
        Some(Step::Ms(_)) => {
            return Err(ApiError::BadRequest("`step` must be positive".into()));
        }
        Some(Step::Text(text)) => {
            Some(parse_step(&text).map_err(|e| ApiError::BadRequest(format!("`step` {e}")))?)
        }
    };
    let request = RangeRequest {
        metric: request.metric,
        selector: protocol::labels(request.labels).map_err(ApiError::BadRequest)?,
        start: request.start,
        end: request.end,
        step,
        agg: request.agg,
    };
    let answer = range(state, request).await?;
    Ok(serde_json::to_value(answer).expect("an answer serialises"))
}
