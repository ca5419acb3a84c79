//! What became of a notification: one record per delivery attempt, and
//! per notification dropped or deliberately not sent. The store keeps them
//! for `GET /api/v1/deliveries`.

use serde::{Deserialize, Serialize};

/// The outcome a delivery record states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The channel took the notification.
    Delivered,
    /// This attempt failed; another follows.
    Failed,
    /// This attempt failed and was the last: the error was permanent or
    /// the attempts ran out.
    GaveUp,
    /// Never attempted: the channel's queue was full.
    Dropped,
    /// Deliberately not sent: silenced or inhibited.
    Skipped,
}

impl DeliveryStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [DeliveryStatus; 5] = [
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
        DeliveryStatus::GaveUp,
        DeliveryStatus::Dropped,
        DeliveryStatus::Skipped,
    ];

    /// The name records and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::GaveUp => "gave_up",
            DeliveryStatus::Dropped => "dropped",
            DeliveryStatus::Skipped => "skipped",
        }
    }

    /// The status named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One delivery attempt, drop or skip, as the API shows it. Its `error`
/// is the channel's own text, which `plugins/` has already cut every URL
/// of to its origin; nothing here adds an address or a secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    /// When the attempt ended (or the notification was dropped or
    /// skipped), epoch ms.
    pub timestamp: i64,
    /// Channel name, `slack#2`; `*` for a skip, which concerns them all.
    pub channel: String,
    /// What happened.
    pub status: DeliveryStatus,
    /// 1 for the first attempt; 0 when none was made.
    pub attempt: u32,
    /// The notification's group (see `Notification::group_key`); empty for
    /// a skip, which happens before grouping.
    pub group_key: String,
    /// The alerts the notification carried.
    pub alert_ids: Vec<String>,
    /// Whether every one of them had resolved.
    pub resolved: bool,
    /// `permanent`, `transient` or `retry_after`, for a failed attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_class: Option<String>,
    /// Why it failed, was dropped or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long the attempt took, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_name() {
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::from_name(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        assert_eq!(DeliveryStatus::from_name("success"), None);
    }
}
