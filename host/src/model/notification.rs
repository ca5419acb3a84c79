//! What a channel is asked to deliver: a group of alerts as one
//! notification, and how a delivery can fail.

use std::fmt;

use super::Alert;

/// Whether a notification reports trouble or its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationStatus {
    /// At least one alert in it fires.
    Firing,
    /// Every alert in it has resolved.
    Resolved,
}

/// A group of alerts delivered together.
#[derive(Debug, Clone)]
pub struct Notification {
    /// The channel's name.
    pub receiver: String,
    /// Firing or resolved.
    pub status: NotificationStatus,
    /// Identifies the group.
    pub group_key: String,
    /// The `group_by` labels and their values.
    pub group_labels: Vec<(String, String)>,
    /// Labels all alerts share.
    pub common_labels: Vec<(String, String)>,
    /// Annotations all alerts share.
    pub common_annotations: Vec<(String, String)>,
    /// The host's base URL.
    pub external_url: String,
    /// The alerts, at least one.
    pub alerts: Vec<Alert>,
}

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// Never retried.
    Permanent(String),
    /// Retried with backoff.
    Transient(String),
    /// Retried after the receiver's wait.
    RetryAfter {
        /// Milliseconds to wait.
        after_ms: u64,
        /// What the receiver said.
        reason: String,
    },
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Permanent(r) | DeliveryError::Transient(r) => f.write_str(r),
            DeliveryError::RetryAfter { after_ms, reason } => {
                write!(f, "{reason} (retry after {after_ms} ms)")
            }
        }
    }
}

impl Alert {
    /// `summary` (the message) and the rule's other annotations.
    pub fn annotations(&self) -> Vec<(String, String)> {
        vec![("summary".to_owned(), self.message.clone())]
    }

    /// A stable identity of the (rule, series) pair: FNV-1a over the rule
    /// and the sorted labels, 16 hex digits.
    pub fn fingerprint(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for b in bytes {
                hash ^= u64::from(*b);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
            hash ^= 0xff;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        };
        feed(self.rule.as_bytes());
        for (k, v) in self.labels.iter() {
            feed(k.as_bytes());
            feed(v.as_bytes());
        }
        format!("{hash:016x}")
    }

    /// Where the host's API shows this alert.
    pub fn generator_url(&self, external_url: &str) -> String {
        format!(
            "{}/api/v1/alerts?id={}",
            external_url.trim_end_matches('/'),
            self.id
        )
    }
}
