//! The delivery queue: notifications leave the tick here and are sent by
//! one task per channel, with retry and backoff, so a slow or dead receiver
//! never delays a tick or another channel.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;
use tokio::sync::mpsc;

use super::grouping::Grouping;
use crate::config::ChannelFilters;
use crate::model::Alert;

/// Attempts per notification before it is given up (and recorded so).
pub const MAX_ATTEMPTS: u32 = 5;
/// Wait before the first retry; doubled for each further one (1, 2, 4, 8 s).
pub const RETRY_BASE: Duration = Duration::from_secs(1);
/// Notifications waiting per channel. A channel whose receiver is down for
/// long drops the oldest-arriving excess rather than growing without bound.
pub const CHANNEL_QUEUE: usize = 1000;
/// Delivery records kept for the API.
pub const MAX_RECORDS: usize = 1000;

/// Something that can deliver a notification: a channel plugin instance.
pub trait AlertSink: Send + 'static {
    /// Sends one notification; the error says why it failed.
    fn deliver<'a>(&'a mut self, alert: &'a Alert) -> BoxFuture<'a, Result<(), String>>;
}

/// One delivery attempt, as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    /// Channel name, `slack#2`.
    pub channel: String,
    /// The alert delivered.
    pub alert_id: String,
    /// Whether the alert was firing or resolved.
    pub resolved: bool,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Whether the attempt succeeded.
    pub success: bool,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the attempt ended, epoch ms.
    pub timestamp: i64,
}

/// One channel as the queue sees it.
pub struct ChannelSink {
    /// Channel name, for records and logs.
    pub name: String,
    /// Which alerts it receives.
    pub filters: ChannelFilters,
    /// What delivers them.
    pub sink: Box<dyn AlertSink>,
}

struct Route {
    name: String,
    filters: ChannelFilters,
    queue: mpsc::Sender<Alert>,
    /// A replacement sink (a reloaded plugin) for the channel's task.
    replace: mpsc::UnboundedSender<Box<dyn AlertSink>>,
}

/// Handle to the per-channel delivery tasks; cheap to clone.
#[derive(Clone)]
pub struct DeliveryQueue {
    routes: Arc<std::sync::RwLock<Vec<Route>>>,
    records: Arc<Mutex<VecDeque<DeliveryRecord>>>,
    /// Where notifications go first when grouping is on.
    grouper: Option<mpsc::UnboundedSender<Alert>>,
}

impl DeliveryQueue {
    /// Starts one task per channel.
    pub fn start(channels: Vec<ChannelSink>) -> Self {
        let queue = Self {
            routes: Default::default(),
            records: Default::default(),
            grouper: None,
        };
        for channel in channels {
            queue.install(channel);
        }
        queue
    }

    /// Starts delivering to a new channel, or hands an existing channel's
    /// task a new sink (a reloaded plugin) for its next attempt; queued
    /// notifications are kept.
    pub fn install(&self, channel: ChannelSink) {
        let ChannelSink {
            name,
            filters,
            mut sink,
        } = channel;
        let mut routes = self.routes.write().expect("routes lock");
        if let Some(route) = routes.iter_mut().find(|r| r.name == name) {
            route.filters = filters.clone();
            match route.replace.send(sink) {
                Ok(()) => return,
                // The task is gone (it cannot be, short of a panic): start anew.
                Err(returned) => sink = returned.0,
            }
        }
        routes.retain(|r| r.name != name);
        let (queue, receiver) = mpsc::channel(CHANNEL_QUEUE);
        let (replace, replacements) = mpsc::unbounded_channel();
        tokio::spawn(run_channel(
            name.clone(),
            sink,
            receiver,
            replacements,
            self.records.clone(),
        ));
        routes.push(Route {
            name,
            filters,
            queue,
            replace,
        });
    }

    /// A queue with no channels.
    pub fn empty() -> Self {
        Self::start(Vec::new())
    }

    /// Groups notifications from now on (see [`super::grouping`]).
    pub fn with_grouping(mut self, grouping: Grouping) -> Self {
        if !grouping.is_passthrough() {
            let direct = self.clone();
            self.grouper = Some(super::grouping::spawn(grouping, move |alert| {
                direct.dispatch(alert)
            }));
        }
        self
    }

    /// Hands a notification on: to its group when grouping is on, else to
    /// the channels at once. Never waits.
    pub fn enqueue(&self, alert: &Alert) {
        match &self.grouper {
            Some(grouper) => {
                let _ = grouper.send(alert.clone());
            }
            None => self.dispatch(alert),
        }
    }

    /// Hands a notification to every channel whose filters match. Never
    /// waits: a full channel queue drops the notification and records why.
    fn dispatch(&self, alert: &Alert) {
        for route in self.routes.read().expect("routes lock").iter() {
            if !route
                .filters
                .matches(alert.severity, &alert.component, &alert.metric)
            {
                continue;
            }
            if route.queue.try_send(alert.clone()).is_err() {
                tracing::error!(channel = %route.name, alert = %alert.id, "delivery queue full; notification dropped");
                record(
                    &self.records,
                    DeliveryRecord {
                        channel: route.name.clone(),
                        alert_id: alert.id.clone(),
                        resolved: alert.resolved,
                        attempt: 0,
                        success: false,
                        error: Some(format!(
                            "dropped: more than {CHANNEL_QUEUE} notifications waiting"
                        )),
                        timestamp: crate::clock::now_ms(),
                    },
                );
            }
        }
    }

    /// Records a notification that was deliberately not sent (silenced,
    /// inhibited), so the record shows why nobody was told.
    pub fn record_skipped(&self, alert: &Alert, reason: String) {
        tracing::info!(alert = %alert.id, "not delivered: {reason}");
        record(
            &self.records,
            DeliveryRecord {
                channel: "*".to_owned(),
                alert_id: alert.id.clone(),
                resolved: alert.resolved,
                attempt: 0,
                success: false,
                error: Some(reason),
                timestamp: crate::clock::now_ms(),
            },
        );
    }

    /// Delivery attempts, newest first.
    pub fn recent(&self) -> Vec<DeliveryRecord> {
        self.records
            .lock()
            .expect("records lock")
            .iter()
            .rev()
            .cloned()
            .collect()
    }
}

fn record(records: &Mutex<VecDeque<DeliveryRecord>>, r: DeliveryRecord) {
    let mut records = records.lock().expect("records lock");
    records.push_back(r);
    while records.len() > MAX_RECORDS {
        records.pop_front();
    }
}

async fn run_channel(
    name: String,
    mut sink: Box<dyn AlertSink>,
    mut queue: mpsc::Receiver<Alert>,
    mut replacements: mpsc::UnboundedReceiver<Box<dyn AlertSink>>,
    records: Arc<Mutex<VecDeque<DeliveryRecord>>>,
) {
    while let Some(alert) = queue.recv().await {
        for attempt in 1..=MAX_ATTEMPTS {
            // A plugin reloaded while this notification waited delivers it.
            while let Ok(newer) = replacements.try_recv() {
                sink = newer;
            }
            let result = sink.deliver(&alert).await;
            let success = result.is_ok();
            if let Err(error) = &result {
                tracing::warn!(channel = %name, alert = %alert.id, attempt, "delivery failed: {error}");
            }
            record(
                &records,
                DeliveryRecord {
                    channel: name.clone(),
                    alert_id: alert.id.clone(),
                    resolved: alert.resolved,
                    attempt,
                    success,
                    error: result.err(),
                    timestamp: crate::clock::now_ms(),
                },
            );
            if success {
                break;
            }
            if attempt == MAX_ATTEMPTS {
                tracing::error!(channel = %name, alert = %alert.id, "giving up after {MAX_ATTEMPTS} attempts");
            } else {
                tokio::time::sleep(RETRY_BASE * (1 << (attempt - 1))).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, Severity};

    struct Flaky {
        failures_left: u32,
        delivered: Arc<Mutex<Vec<String>>>,
    }

    impl AlertSink for Flaky {
        fn deliver<'a>(&'a mut self, alert: &'a Alert) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async move {
                if self.failures_left > 0 {
                    self.failures_left -= 1;
                    return Err("receiver down".to_owned());
                }
                self.delivered.lock().unwrap().push(alert.id.clone());
                Ok(())
            })
        }
    }

    fn alert(id: &str, severity: Severity) -> Alert {
        Alert {
            id: id.into(),
            rule: "r".into(),
            timestamp: 0,
            severity,
            metric: "system.cpuUsage".into(),
            labels: Labels::new(),
            value: 1.0,
            threshold: 0.0,
            message: "m".into(),
            component: "system".into(),
            resolved: false,
            resolved_at: None,
            flapping: false,
            acknowledged: None,
            description: None,
            runbook_url: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_retried_with_backoff_and_recorded() {
        let delivered = Arc::new(Mutex::new(Vec::new()));
        let queue = DeliveryQueue::start(vec![ChannelSink {
            name: "flaky#0".into(),
            filters: ChannelFilters::default(),
            sink: Box::new(Flaky {
                failures_left: 2,
                delivered: delivered.clone(),
            }),
        }]);
        queue.enqueue(&alert("a1", Severity::Warning));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(*delivered.lock().unwrap(), ["a1"]);
        let attempts: Vec<(u32, bool)> = queue
            .recent()
            .iter()
            .rev()
            .map(|r| (r.attempt, r.success))
            .collect();
        assert_eq!(attempts, [(1, false), (2, false), (3, true)]);
        assert_eq!(queue.recent()[2].error.as_deref(), Some("receiver down"));
    }

    #[tokio::test(start_paused = true)]
    async fn filters_decide_which_channels_receive_an_alert() {
        let critical_only = Arc::new(Mutex::new(Vec::new()));
        let everything = Arc::new(Mutex::new(Vec::new()));
        let queue = DeliveryQueue::start(vec![
            ChannelSink {
                name: "pager#0".into(),
                filters: ChannelFilters {
                    severity: vec![Severity::Critical],
                    ..Default::default()
                },
                sink: Box::new(Flaky {
                    failures_left: 0,
                    delivered: critical_only.clone(),
                }),
            },
            ChannelSink {
                name: "log#1".into(),
                filters: ChannelFilters::default(),
                sink: Box::new(Flaky {
                    failures_left: 0,
                    delivered: everything.clone(),
                }),
            },
        ]);
        queue.enqueue(&alert("w", Severity::Warning));
        queue.enqueue(&alert("c", Severity::Critical));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(*critical_only.lock().unwrap(), ["c"]);
        assert_eq!(*everything.lock().unwrap(), ["w", "c"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_replaced_sink_delivers_the_retries() {
        let old = Arc::new(Mutex::new(Vec::new()));
        let new = Arc::new(Mutex::new(Vec::new()));
        let queue = DeliveryQueue::start(vec![ChannelSink {
            name: "c#0".into(),
            filters: ChannelFilters::default(),
            sink: Box::new(Flaky {
                failures_left: u32::MAX,
                delivered: old.clone(),
            }),
        }]);
        queue.enqueue(&alert("a", Severity::Warning));
        tokio::time::sleep(Duration::from_millis(10)).await;
        queue.install(ChannelSink {
            name: "c#0".into(),
            filters: ChannelFilters::default(),
            sink: Box::new(Flaky {
                failures_left: 0,
                delivered: new.clone(),
            }),
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(old.lock().unwrap().is_empty());
        assert_eq!(
            *new.lock().unwrap(),
            ["a"],
            "the retry went to the new sink"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_dead_channel_does_not_hold_up_another() {
        let delivered = Arc::new(Mutex::new(Vec::new()));
        let queue = DeliveryQueue::start(vec![
            ChannelSink {
                name: "dead#0".into(),
                filters: ChannelFilters::default(),
                sink: Box::new(Flaky {
                    failures_left: u32::MAX,
                    delivered: Arc::default(),
                }),
            },
            ChannelSink {
                name: "ok#1".into(),
                filters: ChannelFilters::default(),
                sink: Box::new(Flaky {
                    failures_left: 0,
                    delivered: delivered.clone(),
                }),
            },
        ]);
        queue.enqueue(&alert("a", Severity::Warning));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(*delivered.lock().unwrap(), ["a"]);
        tokio::time::sleep(Duration::from_secs(60)).await;
        let dead_attempts = queue
            .recent()
            .iter()
            .filter(|r| r.channel == "dead#0")
            .count();
        assert_eq!(dead_attempts as u32, MAX_ATTEMPTS);
    }
}
