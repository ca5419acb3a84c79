//! The live stream's fan-out: each message is serialised once and the same
//! bytes are shared by every client that takes the whole stream, so a tick
//! costs one serialisation whatever the number of dashboards; clients with
//! a subscription filter the shared tree instead. It carries plain `Bytes`
//! (always UTF-8 JSON) and `serde_json` values; the server turns them into
//! WebSocket frames. The hub also holds the stream's limits and admits
//! clients up to its cap.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// Messages buffered per client. A client that falls further behind skips
/// messages (it is told how many, then resynced) instead of slowing the
/// others down; at a 5 s tick this is five minutes of updates.
const CLIENT_BACKLOG: usize = 64;

/// How the stream treats its clients. The defaults are the protocol's; tests
/// shorten them.
#[derive(Debug, Clone)]
pub struct StreamLimits {
    /// Clients served at once (`[server] max_ws_clients`); one more is
    /// closed with 1013, "try again later".
    pub max_clients: usize,
    /// Between two pings from the server: 30 s, well inside the idle
    /// timeouts of common proxies (60 s for nginx).
    pub ping_interval: Duration,
    /// A client heard from (any frame, pongs included) less recently is
    /// dropped: three missed pings, so one lost packet is not a disconnect.
    pub idle_timeout: Duration,
    /// Longest wait for one message to enter the socket. Past it the client
    /// has stopped reading and its kernel buffers are full: it is dropped,
    /// since nothing, not even a close frame, can reach it.
    pub send_timeout: Duration,
    /// A client that falls behind more than this many times within
    /// `lag_window` is closed (1008): each resync costs an `initial_data`,
    /// so a client that can never keep up would cost more than it gets.
    pub max_lags: usize,
    /// See `max_lags`.
    pub lag_window: Duration,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            max_clients: 1000,
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            send_timeout: Duration::from_secs(10),
            max_lags: 3,
            lag_window: Duration::from_secs(60),
        }
    }
}

/// One message as published: its type, its data as a tree (for clients
/// that filter) and its wire form `{"type": …, "data": …}`, serialised once.
#[derive(Debug, Clone)]
pub struct Published {
    /// `metrics_update`, `alert_triggered`, …
    pub kind: &'static str,
    /// The `data` member.
    pub data: Arc<Value>,
    /// The whole message as JSON text.
    pub bytes: Bytes,
}

/// The broadcast side of the stream; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<Published>,
    limits: Arc<StreamLimits>,
    admitted: Arc<AtomicUsize>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new(StreamLimits::default())
    }
}

/// A client's place under the cap, given back when dropped.
pub struct ClientSlot(Arc<AtomicUsize>);

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Hub {
    /// A hub with no clients.
    pub fn new(limits: StreamLimits) -> Self {
        Self {
            sender: broadcast::channel(CLIENT_BACKLOG).0,
            limits: Arc::new(limits),
            admitted: Default::default(),
        }
    }

    /// Sends `{"type": kind, "data": data}` to every connected client.
    pub fn publish(&self, kind: &'static str, data: &impl Serialize) {
        if self.sender.receiver_count() == 0 {
            // No dashboard open: nothing to serialise.
            return;
        }
        let data = serde_json::to_value(data).unwrap_or_else(|e| {
            tracing::error!(kind, "a stream message does not serialise: {e}");
            Value::Null
        });
        let bytes = Bytes::from(message(kind, &data));
        let _ = self.sender.send(Published {
            kind,
            data: Arc::new(data),
            bytes,
        });
    }

    /// Number of clients receiving the stream.
    pub fn clients(&self) -> usize {
        self.sender.receiver_count()
    }

    /// The stream's limits.
    pub fn limits(&self) -> &StreamLimits {
        &self.limits
    }

    /// A place for one more client, unless `max_clients` are served.
    pub fn admit(&self) -> Option<ClientSlot> {
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limits.max_clients).then_some(n + 1)
            })
            .ok()
            .map(|_| ClientSlot(self.admitted.clone()))
    }

    /// A new client's stream of every message published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.sender.subscribe()
    }
}

/// The wire form of one message.
pub fn message(kind: &str, data: &impl Serialize) -> String {
    json!({ "type": kind, "data": data }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_admitted_up_to_the_cap_and_their_places_come_back() {
        let hub = Hub::new(StreamLimits {
            max_clients: 2,
            ..Default::default()
        });
        let a = hub.admit().expect("first");
        let _b = hub.admit().expect("second");
        assert!(hub.admit().is_none(), "a third is over the cap");
        drop(a);
        assert!(hub.admit().is_some(), "a freed place is reused");
    }
}
