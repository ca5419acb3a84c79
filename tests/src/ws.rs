//! A WebSocket client that reads the host's JSON messages.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A connection to `/ws`.
pub struct Stream {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Stream {
    /// Connects to `ws://<addr>/ws`.
    pub async fn connect(addr: SocketAddr) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .expect("WebSocket connects");
        Self { socket }
    }

    /// The next JSON message, within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Value {
        loop {
            let message = tokio::time::timeout(timeout, self.socket.next())
                .await
                .expect("a message before the timeout")
                .expect("the stream is open")
                .expect("a valid frame");
            if let Message::Text(text) = message {
                return serde_json::from_str(&text).expect("messages are JSON");
            }
        }
    }

    /// The next message of type `kind`, skipping others, within `timeout`.
    pub async fn next_of(&mut self, kind: &str, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = self.next(left).await;
            if message["type"] == kind {
                return message;
            }
        }
    }

    /// The next `metrics_update` of a tick at or after `tick_ms` (host
    /// clock, epoch ms). The host evaluates alerts before it publishes a
    /// tick's update, so once this returns, every decision of the ticks up
    /// to it has been made: a test waits for host time to pass, not for
    /// wall time.
    pub async fn until_tick(&mut self, tick_ms: i64, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let update = self.next_of("metrics_update", left).await;
            let at = update["data"]["timestamp"]
                .as_i64()
                .unwrap_or_else(|| panic!("a tick's timestamp: {update}"));
            if at >= tick_ms {
                return update;
            }
        }
    }

    /// The next message of type `kind` whose `data.rule` is `rule`: on a
    /// busy machine other alerts (CPU, say) come and go meanwhile.
    pub async fn next_for_rule(&mut self, kind: &str, rule: &str, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = self.next_of(kind, left).await;
            if message["data"]["rule"] == rule {
                return message;
            }
        }
    }
}
