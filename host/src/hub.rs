//! The live stream's fan-out: each message is serialised once and the same
//! bytes are shared by every client, so a tick costs one serialisation
//! whatever the number of dashboards. It carries plain `Bytes` (always
//! UTF-8 JSON); the server turns them into WebSocket frames.

use bytes::Bytes;
use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast;

/// Messages buffered per client. A client that falls further behind skips
/// messages (it is told how many) instead of slowing the others down.
const CLIENT_BACKLOG: usize = 64;

/// The broadcast side of the stream; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<Bytes>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    /// A hub with no clients.
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(CLIENT_BACKLOG).0,
        }
    }

    /// Sends `{"type": kind, "data": data}` to every connected client.
    pub fn publish(&self, kind: &str, data: &impl Serialize) {
        // No receivers is normal (no dashboard open); nothing to do then.
        let _ = self.sender.send(Bytes::from(message(kind, data)));
    }

    /// Number of connected clients.
    pub fn clients(&self) -> usize {
        self.sender.receiver_count()
    }

    /// A new client's stream of every message published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Bytes> {
        self.sender.subscribe()
    }
}

/// The wire form of one message.
pub fn message(kind: &str, data: &impl Serialize) -> String {
    json!({ "type": kind, "data": data }).to_string()
}
