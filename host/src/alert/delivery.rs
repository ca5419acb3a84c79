//! The delivery queue: notifications leave the tick here and are sent by
//! one task per channel, with retry and backoff (`retry.rs`), so a slow or
//! dead receiver never delays a tick or another channel. With grouping on,
//! each group's burst is one notification per channel. A channel that asks
//! for it also gets its firing alerts again every `resend_interval_ms`
//! (`resend.rs`). What became of every notification goes to a
//! [`DeliveryLog`], which the store keeps.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::channel_stats::{ChannelCounters, ChannelStats};
use super::grouping::{Flush, Grouping, group_key, group_labels};
use super::resend::FiringSource;
use super::retry::{Jitter, next_wait};
use crate::config::ChannelFilters;
use crate::model::{Alert, DeliveryError, DeliveryRecord, DeliveryStatus, Notification};

/// Notifications waiting per channel. A channel whose receiver is down for
/// long drops the excess (and records each drop) rather than growing
/// without bound.
pub const CHANNEL_QUEUE: usize = 1000;
/// Delivery records waiting to be stored. The store writes a batch in
/// milliseconds, so this fills only when the store is stuck; beyond it a
/// record is written to the log (ERROR) instead of piling up in memory.
pub const RECORD_QUEUE: usize = 10_000;

/// Something that can deliver a notification: a channel plugin instance.
pub trait AlertSink: Send + 'static {
    /// Sends one notification; the error says why it failed and whether
    /// trying again can help.
    fn deliver<'a>(
        &'a mut self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<(), DeliveryError>>;
}

/// Where the queue reports every attempt, drop and skip. Reporting never
/// waits: records go into a bounded channel whose other end (see
/// [`DeliveryLog::channel`]) writes them in batches, so neither a delivery
/// task nor the tick waits on the store.
#[derive(Clone)]
pub struct DeliveryLog {
    records: Option<mpsc::Sender<DeliveryRecord>>,
}

impl DeliveryLog {
    /// A log, and the receiving end its records arrive at.
    pub fn channel() -> (Self, mpsc::Receiver<DeliveryRecord>) {
        let (records, receiver) = mpsc::channel(RECORD_QUEUE);
        let log = Self {
            records: Some(records),
        };
        (log, receiver)
    }

    /// A log that keeps nothing: for a queue without channels.
    pub fn discard() -> Self {
        Self { records: None }
    }

    fn record(&self, record: DeliveryRecord) {
        let Some(records) = &self.records else {
            return;
        };
        match records.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(r)) => tracing::error!(
                channel = %r.channel,
                status = r.status.as_str(),
                attempt = r.attempt,
                alerts = ?r.alert_ids,
                error = r.error.as_deref().unwrap_or_default(),
                "more than {RECORD_QUEUE} delivery records wait for the store; this one is only logged"
            ),
            // The writer stopped: the host is shutting down.
            Err(TrySendError::Closed(_)) => {}
        }
    }
}

/// One channel as the queue sees it.
pub struct ChannelSink {
    /// Channel name, for records and logs.
    pub name: String,
    /// Which alerts it receives.
    pub filters: ChannelFilters,
    /// What delivers them.
    pub sink: Box<dyn AlertSink>,
    /// Re-send the channel's firing alerts this often (see `resend.rs`);
    /// `None` tells each change once.
    pub resend: Option<Duration>,
}

struct Route {
    name: String,
    filters: ChannelFilters,
    queue: mpsc::Sender<Queued>,
    /// A replacement (a reloaded plugin, new filters or re-send interval)
    /// for the channel's task.
    replace: mpsc::UnboundedSender<ChannelSink>,
    counters: Arc<ChannelCounters>,
}

/// What re-sends are made of: the alerts firing now, grouped as `group_by` says.
struct Resends {
    source: FiringSource,
    group_by: Vec<String>,
}

/// A notification waiting in a channel's queue; a test notification
/// carries where its one attempt's outcome goes.
struct Queued {
    notification: Notification,
    test_reply: Option<oneshot::Sender<Result<u64, DeliveryError>>>,
}

/// The latest state of every alert handed to the queue, by alert id: what a
/// notification that waited (for grouping, or for its receiver to come
/// back) is brought up to date with before it is sent.
#[derive(Clone, Default)]
struct LatestStates(Arc<RwLock<States>>);

#[derive(Default)]
struct States {
    by_id: HashMap<String, Alert>,
    /// Size past which resolved alerts are pruned next; doubled after a
    /// prune that leaves many, so a flood of firing alerts costs one scan
    /// per doubling, not one per update (the tick enqueues through here).
    prune_at: usize,
}

/// Resolved alerts are forgotten this long after they resolved, once there
/// are more than [`KEEP_STATES`]: by then nothing that names them waits.
const FORGET_RESOLVED_MS: i64 = 24 * 3_600_000;
const KEEP_STATES: usize = 10_000;

impl LatestStates {
    fn update(&self, alert: &Alert) {
        let mut states = self.0.write().expect("alert states lock");
        states.by_id.insert(alert.id.clone(), alert.clone());
        if states.by_id.len() > states.prune_at.max(KEEP_STATES) {
            let cutoff = crate::clock::now_ms() - FORGET_RESOLVED_MS;
            states
                .by_id
                .retain(|_, a| a.resolved_at.is_none_or(|at| at > cutoff));
            states.prune_at = 2 * states.by_id.len();
        }
    }

    /// The alert as it is now: its resolution when it resolved since.
    fn current(&self, alert: &Alert) -> Option<Alert> {
        let states = self.0.read().expect("alert states lock");
        states
            .by_id
            .get(&alert.id)
            .filter(|latest| latest.resolved && !alert.resolved)
            .cloned()
    }
}

/// Handle to the per-channel delivery tasks; cheap to clone.
#[derive(Clone)]
pub struct DeliveryQueue {
    routes: Arc<RwLock<Vec<Route>>>,
    log: DeliveryLog,
    /// What notifications link back to (see `Notification::external_url`).
    external_url: Arc<str>,
    /// Where notifications go first when grouping is on.
    grouper: Option<mpsc::UnboundedSender<Alert>>,
    latest: LatestStates,
    /// The `group_by` labels, which re-sends are grouped by too.
    group_by: Vec<String>,
    /// Set once by [`DeliveryQueue::with_resends`]; every channel's task
    /// reads it at each re-send, so channels installed before it re-send too.
    resends: Arc<OnceLock<Resends>>,
}

/// Why a test notification was not sent.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// No channel of that name delivers.
    #[error("no channel named `{0}` is delivering (see GET /api/v1/channels)")]
    NoSuchChannel(String),
    /// The channel's queue is full.
    #[error("channel `{0}` has {CHANNEL_QUEUE} notifications waiting; try again later")]
    Busy(String),
    /// The channel's task stopped, or the host is stopping.
    #[error("channel `{0}` stopped before the test notification was tried")]
    Stopped(String),
    /// The channel was called and failed.
    #[error("{}", .0.reason())]
    Failed(DeliveryError),
}

impl DeliveryQueue {
    /// The base URL notifications link back to.
    pub fn external_url(&self) -> &str {
        &self.external_url
    }

    /// Starts one task per channel; records go to `log`, and notifications
    /// link to `external_url`.
    pub fn start(channels: Vec<ChannelSink>, log: DeliveryLog, external_url: &str) -> Self {
        let queue = Self {
            routes: Default::default(),
            log,
            external_url: external_url.into(),
            grouper: None,
            latest: LatestStates::default(),
            group_by: Vec::new(),
            resends: Default::default(),
        };
        for channel in channels {
            queue.install(channel);
        }
        queue
    }

    /// Starts delivering to a new channel, or hands an existing channel's
    /// task its new sink (a reloaded plugin), filters and re-send interval
    /// for its next attempt; queued notifications and counters are kept.
    pub fn install(&self, mut channel: ChannelSink) {
        let mut routes = self.routes.write().expect("routes lock");
        let mut counters = None;
        if let Some(route) = routes.iter_mut().find(|r| r.name == channel.name) {
            route.filters = channel.filters.clone();
            match route.replace.send(channel) {
                Ok(()) => return,
                // The task is gone (it cannot be, short of a panic): start anew.
                Err(returned) => channel = returned.0,
            }
            counters = Some(route.counters.clone());
        }
        routes.retain(|r| r.name != channel.name);
        let (queue, receiver) = mpsc::channel(CHANNEL_QUEUE);
        let (replace, replacements) = mpsc::unbounded_channel();
        let counters = counters.unwrap_or_default();
        routes.push(Route {
            name: channel.name.clone(),
            filters: channel.filters.clone(),
            queue,
            replace,
            counters: counters.clone(),
        });
        let task = ChannelTask {
            channel,
            queue: receiver,
            replacements,
            log: self.log.clone(),
            external_url: self.external_url.clone(),
            resends: self.resends.clone(),
            latest: self.latest.clone(),
            counters,
            resolutions_sent: HashMap::new(),
        };
        tokio::spawn(task.run());
    }

    /// A queue with no channels, which records nothing.
    pub fn empty() -> Self {
        Self::start(Vec::new(), DeliveryLog::discard(), "")
    }

    /// Groups notifications from now on (see [`super::grouping`]).
    pub fn with_grouping(mut self, grouping: Grouping) -> Self {
        self.group_by = grouping.by.clone();
        if !grouping.is_passthrough() {
            let direct = self.clone();
            self.grouper = Some(super::grouping::spawn(grouping, move |flush| {
                direct.dispatch(flush)
            }));
        }
        self
    }

    /// Lets channels with a re-send interval re-send what `source` says
    /// fires, grouped by the `group_by` of [`with_grouping`](Self::with_grouping)
    /// (call that first). Only the first source given counts.
    pub fn with_resends(self, source: FiringSource) -> Self {
        let resends = Resends {
            source,
            group_by: self.group_by.clone(),
        };
        if self.resends.set(resends).is_err() {
            tracing::warn!(
                "the delivery queue already has a source of firing alerts; this one is ignored"
            );
        }
        self
    }

    /// Hands an alert's notification on: to its group when grouping is on,
    /// else to the channels at once, alone. Never waits.
    pub fn enqueue(&self, alert: &Alert) {
        self.latest.update(alert);
        match &self.grouper {
            Some(grouper) => {
                let _ = grouper.send(alert.clone());
            }
            None => self.dispatch(Flush::single(alert.clone())),
        }
    }

    /// Each channel's counters since start, in configuration order.
    pub fn stats(&self) -> Vec<ChannelStats> {
        self.routes
            .read()
            .expect("routes lock")
            .iter()
            .map(|r| r.counters.snapshot(&r.name))
            .collect()
    }

    /// Sends `alert` alone through channel `name`, past its filters and
    /// grouping, and tries it once: the delivery call's latency in ms, or
    /// why it failed. It waits its turn in the channel's queue and is
    /// recorded like any notification.
    pub async fn send_test(&self, name: &str, alert: Alert) -> Result<u64, TestError> {
        let (reply, outcome) = oneshot::channel();
        let notification = Notification::test(name, &self.external_url, alert);
        {
            let routes = self.routes.read().expect("routes lock");
            let route = routes
                .iter()
                .find(|r| r.name == name)
                .ok_or_else(|| TestError::NoSuchChannel(name.to_owned()))?;
            let queued = Queued {
                notification,
                test_reply: Some(reply),
            };
            match route.queue.try_send(queued) {
                Ok(()) => route.counters.queued(),
                Err(TrySendError::Full(_)) => return Err(TestError::Busy(name.to_owned())),
                Err(TrySendError::Closed(_)) => return Err(TestError::Stopped(name.to_owned())),
            }
        }
        match outcome.await {
            Ok(Ok(latency_ms)) => Ok(latency_ms),
            Ok(Err(error)) => Err(TestError::Failed(error)),
            Err(_) => Err(TestError::Stopped(name.to_owned())),
        }
    }

    /// Hands each channel one notification of the alerts of `flush` that
    /// pass its filters (none when no alert does). Never waits: a full
    /// channel queue drops the notification and records why.
    fn dispatch(&self, flush: Flush) {
        for route in self.routes.read().expect("routes lock").iter() {
            let alerts: Vec<Alert> = flush
                .alerts
                .iter()
                .filter(|a| route.filters.matches(a))
                .cloned()
                .collect();
            if alerts.is_empty() {
                continue;
            }
            let notification = Notification::new(
                &route.name,
                flush.key.clone(),
                flush.labels.clone(),
                &self.external_url,
                alerts,
            );
            let queued = Queued {
                notification,
                test_reply: None,
            };
            let (notification, why) = match route.queue.try_send(queued) {
                Ok(()) => {
                    route.counters.queued();
                    continue;
                }
                Err(TrySendError::Full(q)) => (
                    q.notification,
                    format!("more than {CHANNEL_QUEUE} notifications waiting"),
                ),
                Err(TrySendError::Closed(q)) => {
                    (q.notification, "the channel's task has stopped".to_owned())
                }
            };
            tracing::error!(channel = %route.name, group = %notification.group_key, alerts = ?notification.alert_ids(), "notification dropped: {why}");
            route.counters.dropped(&format!("dropped: {why}"));
            self.log.record(DeliveryRecord {
                error: Some(format!("dropped: {why}")),
                ..record_of(&notification, DeliveryStatus::Dropped, 0)
            });
        }
    }

    /// Records a notification that was deliberately not sent (silenced,
    /// inhibited), so the record shows why nobody was told.
    pub fn record_skipped(&self, alert: &Alert, reason: String) {
        tracing::info!(alert = %alert.id, "not delivered: {reason}");
        self.log.record(DeliveryRecord {
            timestamp: crate::clock::now_ms(),
            channel: "*".to_owned(),
            status: DeliveryStatus::Skipped,
            attempt: 0,
            group_key: String::new(),
            alert_ids: vec![alert.id.clone()],
            resolved: alert.resolved,
            error_class: None,
            error: Some(reason),
            latency_ms: None,
        });
    }
}

/// A record of `notification` with `status`, stamped now.
fn record_of(notification: &Notification, status: DeliveryStatus, attempt: u32) -> DeliveryRecord {
    DeliveryRecord {
        timestamp: crate::clock::now_ms(),
        channel: notification.receiver.clone(),
        status,
        attempt,
        group_key: notification.group_key.clone(),
        alert_ids: notification.alert_ids(),
        resolved: notification.is_resolved(),
        error_class: None,
        error: None,
        latency_ms: None,
    }
}

/// `alerts` in groups of equal `group_by` labels, by group key; each group
/// keeps the alerts' order.
fn groups(alerts: Vec<Alert>, by: &[String]) -> Vec<Flush> {
    let mut groups: BTreeMap<String, Flush> = BTreeMap::new();
    for alert in alerts {
        let labels = group_labels(by, &alert);
        let key = group_key(&labels);
        groups
            .entry(key.clone())
            .or_insert_with(|| Flush {
                key,
                labels,
                alerts: Vec::new(),
            })
            .alerts
            .push(alert);
    }
    groups.into_values().collect()
}

/// One channel's task: its notifications in order, each tried until it is
/// delivered or given up (see `retry.rs`), and between them, when the
/// channel asks for it, a re-send of its firing alerts every interval.
struct ChannelTask {
    channel: ChannelSink,
    queue: mpsc::Receiver<Queued>,
    replacements: mpsc::UnboundedReceiver<ChannelSink>,
    log: DeliveryLog,
    external_url: Arc<str>,
    resends: Arc<OnceLock<Resends>>,
    latest: LatestStates,
    counters: Arc<ChannelCounters>,
    /// Alerts whose resolution this channel delivered, with its time: a
    /// notification that waited and was brought up to date may already
    /// have told it.
    resolutions_sent: HashMap<String, i64>,
}

impl ChannelTask {
    async fn run(mut self) {
        let mut jitter = Jitter::from_clock();
        let mut next_resend = self.channel.resend.map(|every| Instant::now() + every);
        loop {
            tokio::select! {
                Some(newer) = self.replacements.recv() => self.replace(newer, &mut next_resend),
                received = self.queue.recv() => {
                    let Some(queued) = received else { break };
                    self.deliver(queued, &mut jitter, &mut next_resend).await;
                    self.counters.done();
                }
                () = sleep_until(next_resend) => {
                    self.resend().await;
                    next_resend = self.channel.resend.map(|every| Instant::now() + every);
                }
            }
        }
    }

    /// Takes a reloaded channel's sink, filters and re-send interval; a
    /// changed interval starts over from now.
    fn replace(&mut self, newer: ChannelSink, next_resend: &mut Option<Instant>) {
        if newer.resend != self.channel.resend {
            *next_resend = newer.resend.map(|every| Instant::now() + every);
        }
        self.channel = newer;
    }

    /// Tries a queued notification until it is delivered or given up; a
    /// test is tried once and its outcome answered.
    async fn deliver(
        &mut self,
        queued: Queued,
        jitter: &mut Jitter,
        next_resend: &mut Option<Instant>,
    ) {
        let Queued {
            mut notification,
            test_reply,
        } = queued;
        let first_attempt = Instant::now();
        for attempt in 1.. {
            // A plugin reloaded while this notification waited delivers it.
            while let Ok(newer) = self.replacements.try_recv() {
                self.replace(newer, next_resend);
            }
            if test_reply.is_none() && !self.bring_up_to_date(&mut notification) {
                break;
            }
            let started = Instant::now();
            let result = self.channel.sink.deliver(&notification).await;
            let latency_ms = started.elapsed().as_millis() as u64;
            let error = match result {
                Ok(()) => {
                    self.delivered(&notification, attempt, latency_ms);
                    if let Some(reply) = test_reply {
                        let _ = reply.send(Ok(latency_ms));
                    }
                    break;
                }
                Err(error) => error,
            };
            // A test is tried once: whoever asked wants the outcome now.
            let wait = match test_reply {
                Some(_) => None,
                None => next_wait(&error, attempt, first_attempt.elapsed(), jitter),
            };
            self.failed(&notification, attempt, latency_ms, &error, wait);
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => {
                    if let Some(reply) = test_reply {
                        let _ = reply.send(Err(error));
                    }
                    break;
                }
            }
        }
    }

    /// Replaces each alert that resolved while the notification waited by
    /// its resolution, and leaves out resolutions this channel already
    /// told. `false` when nothing is left to send.
    fn bring_up_to_date(&self, notification: &mut Notification) -> bool {
        let mut changed = false;
        let mut alerts = Vec::with_capacity(notification.alerts.len());
        for alert in &notification.alerts {
            let alert = match self.latest.current(alert) {
                Some(resolved) => {
                    changed = true;
                    resolved
                }
                None => alert.clone(),
            };
            let told = alert.resolved
                && alert.resolved_at.is_some()
                && self.resolutions_sent.get(&alert.id) == alert.resolved_at.as_ref();
            if told {
                changed = true;
            } else {
                alerts.push(alert);
            }
        }
        if !changed {
            return true;
        }
        if alerts.is_empty() {
            tracing::info!(channel = %self.channel.name, group = %notification.group_key, "notification not sent: its alerts' resolutions were already delivered");
            return false;
        }
        *notification = Notification::new(
            &notification.receiver,
            notification.group_key.clone(),
            std::mem::take(&mut notification.group_labels),
            &notification.external_url,
            alerts,
        );
        true
    }

    fn delivered(&mut self, notification: &Notification, attempt: u32, latency_ms: u64) {
        for alert in notification.alerts.iter().filter(|a| a.resolved) {
            if let Some(at) = alert.resolved_at {
                self.resolutions_sent.insert(alert.id.clone(), at);
            }
        }
        if self.resolutions_sent.len() > KEEP_STATES {
            let cutoff = crate::clock::now_ms() - FORGET_RESOLVED_MS;
            self.resolutions_sent.retain(|_, at| *at > cutoff);
        }
        self.counters.delivered(latency_ms, crate::clock::now_ms());
        self.log.record(DeliveryRecord {
            latency_ms: Some(latency_ms),
            ..record_of(notification, DeliveryStatus::Delivered, attempt)
        });
    }

    fn failed(
        &self,
        notification: &Notification,
        attempt: u32,
        latency_ms: u64,
        error: &DeliveryError,
        wait: Option<std::time::Duration>,
    ) {
        let status = match wait {
            Some(_) => DeliveryStatus::Failed,
            None => DeliveryStatus::GaveUp,
        };
        self.counters.failed(error.reason(), wait.is_none());
        self.log.record(DeliveryRecord {
            error_class: Some(error.class().to_owned()),
            error: Some(error.reason().to_owned()),
            latency_ms: Some(latency_ms),
            ..record_of(notification, status, attempt)
        });
        let class = error.class();
        let group = &notification.group_key;
        let name = &self.channel.name;
        match wait {
            Some(wait) => {
                let retry_in_ms = wait.as_millis() as u64;
                tracing::warn!(channel = %name, %group, attempt, class, retry_in_ms, "delivery failed: {}", error.reason());
            }
            None => {
                tracing::error!(channel = %name, %group, attempt, class, alerts = ?notification.alert_ids(), "delivery given up: {}", error.reason());
            }
        }
    }

    /// Sends the channel's share of what fires now, one notification per
    /// group, each tried once: the next re-send is its retry.
    async fn resend(&mut self) {
        let Some(resends) = self.resends.get() else {
            return;
        };
        let Some(every) = self.channel.resend else {
            return;
        };
        let mut firing = (resends.source)();
        firing.retain(|alert| self.channel.filters.matches(alert));
        for group in groups(firing, &resends.group_by) {
            let notification = Notification::new(
                &self.channel.name,
                group.key,
                group.labels,
                &self.external_url,
                group.alerts,
            );
            let started = Instant::now();
            let result = self.channel.sink.deliver(&notification).await;
            let latency_ms = Some(started.elapsed().as_millis() as u64);
            let (channel, group) = (&self.channel.name, &notification.group_key);
            match result {
                Ok(()) => {
                    self.counters
                        .delivered(started.elapsed().as_millis() as u64, crate::clock::now_ms());
                    tracing::debug!(channel = %channel, %group, alerts = notification.alerts.len(), "firing alerts re-sent");
                    self.log.record(DeliveryRecord {
                        latency_ms,
                        ..record_of(&notification, DeliveryStatus::Delivered, 1)
                    });
                }
                Err(error) => {
                    self.counters.failed(error.reason(), false);
                    let next_in_ms = every.as_millis() as u64;
                    tracing::warn!(channel = %channel, %group, class = error.class(), next_in_ms, "re-send failed: {}", error.reason());
                    self.log.record(DeliveryRecord {
                        error_class: Some(error.class().to_owned()),
                        error: Some(format!(
                            "{} (a re-send; the next follows in {} s)",
                            error.reason(),
                            every.as_secs()
                        )),
                        latency_ms,
                        ..record_of(&notification, DeliveryStatus::Failed, 1)
                    });
                }
            }
        }
    }
}

/// Sleeps until `at`, or for ever when there is none.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::alert::retry::{RETRY_FOR, backoff_ceiling};
    use crate::model::{Labels, Severity};

    /// One call a receiver got: when, and what.
    type Calls = Arc<Mutex<Vec<(Instant, Notification)>>>;

    /// A receiver whose `n`th call (from 1) gets `answer(n)`.
    struct Receiver<F> {
        answer: F,
        calls: Calls,
    }

    impl<F> AlertSink for Receiver<F>
    where
        F: FnMut(usize) -> Result<(), DeliveryError> + Send + 'static,
    {
        fn deliver<'a>(
            &'a mut self,
            notification: &'a Notification,
        ) -> BoxFuture<'a, Result<(), DeliveryError>> {
            Box::pin(async move {
                let n = {
                    let mut calls = self.calls.lock().unwrap();
                    calls.push((Instant::now(), notification.clone()));
                    calls.len()
                };
                (self.answer)(n)
            })
        }
    }

    fn channel(
        name: &str,
        filters: ChannelFilters,
        answer: impl FnMut(usize) -> Result<(), DeliveryError> + Send + 'static,
    ) -> (ChannelSink, Calls) {
        let calls = Calls::default();
        let sink = ChannelSink {
            name: name.into(),
            filters,
            sink: Box::new(Receiver {
                answer,
                calls: calls.clone(),
            }),
            resend: None,
        };
        (sink, calls)
    }

    fn ok(_: usize) -> Result<(), DeliveryError> {
        Ok(())
    }

    fn down() -> DeliveryError {
        DeliveryError::Transient("receiver down".into())
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

    /// A queue over `channels` whose records arrive at the returned end.
    fn start(channels: Vec<ChannelSink>) -> (DeliveryQueue, mpsc::Receiver<DeliveryRecord>) {
        let (log, records) = DeliveryLog::channel();
        let queue = DeliveryQueue::start(channels, log, "http://127.0.0.1:8080");
        (queue, records)
    }

    /// The records reported so far, oldest first.
    fn drain(records: &mut mpsc::Receiver<DeliveryRecord>) -> Vec<DeliveryRecord> {
        std::iter::from_fn(|| records.try_recv().ok()).collect()
    }

    fn statuses(records: &[DeliveryRecord]) -> Vec<(u32, DeliveryStatus)> {
        records.iter().map(|r| (r.attempt, r.status)).collect()
    }

    /// The gaps between a receiver's calls.
    fn gaps(calls: &Calls) -> Vec<Duration> {
        let calls = calls.lock().unwrap();
        calls.windows(2).map(|w| w[1].0 - w[0].0).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_with_jittered_backoff_and_recorded() {
        let (sink, calls) = channel("flaky#0", ChannelFilters::default(), |n| {
            if n <= 2 { Err(down()) } else { Ok(()) }
        });
        let (queue, mut records) = start(vec![sink]);
        queue.enqueue(&alert("a1", Severity::Warning));
        tokio::time::sleep(Duration::from_secs(10)).await;
        let records = drain(&mut records);
        use DeliveryStatus::{Delivered, Failed};
        assert_eq!(
            statuses(&records),
            [(1, Failed), (2, Failed), (3, Delivered)]
        );
        assert_eq!(records[0].error_class.as_deref(), Some("transient"));
        assert_eq!(records[0].error.as_deref(), Some("receiver down"));
        assert_eq!(records[2].alert_ids, ["a1"]);
        assert_eq!(records[2].error, None);
        for (attempt, gap) in (1..).zip(gaps(&calls)) {
            let ceiling = backoff_ceiling(attempt);
            assert!(
                gap >= ceiling / 2 && gap <= ceiling + Duration::from_millis(1),
                "retry {attempt} after {gap:?}: within [{:?}, {ceiling:?}]",
                ceiling / 2
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_error_is_attempted_exactly_once() {
        let (sink, calls) = channel("strict#0", ChannelFilters::default(), |_| {
            Err(DeliveryError::Permanent("HTTP 400: bad payload".into()))
        });
        let (queue, mut records) = start(vec![sink]);
        queue.enqueue(&alert("a1", Severity::Warning));
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(calls.lock().unwrap().len(), 1);
        let records = drain(&mut records);
        assert_eq!(statuses(&records), [(1, DeliveryStatus::GaveUp)]);
        assert_eq!(records[0].error_class.as_deref(), Some("permanent"));
        assert_eq!(records[0].error.as_deref(), Some("HTTP 400: bad payload"));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_as_asked_and_counts_as_an_attempt() {
        let (sink, calls) = channel("busy#0", ChannelFilters::default(), |n| match n {
            1 => Err(DeliveryError::RetryAfter {
                after_ms: 3000,
                reason: "HTTP 429".into(),
            }),
            _ => Ok(()),
        });
        let (queue, mut records) = start(vec![sink]);
        queue.enqueue(&alert("a1", Severity::Warning));
        tokio::time::sleep(Duration::from_millis(2990)).await;
        assert_eq!(calls.lock().unwrap().len(), 1, "not retried before 3 s");
        tokio::time::sleep(Duration::from_secs(10)).await;
        let [gap] = gaps(&calls)[..] else {
            panic!("two calls: {:?}", gaps(&calls));
        };
        assert!(
            gap >= Duration::from_secs(3) && gap <= Duration::from_millis(3001),
            "retried at {gap:?}, as asked"
        );
        let records = drain(&mut records);
        use DeliveryStatus::{Delivered, Failed};
        assert_eq!(statuses(&records), [(1, Failed), (2, Delivered)]);
        assert_eq!(records[0].error_class.as_deref(), Some("retry_after"));
    }

    #[tokio::test(start_paused = true)]
    async fn filters_decide_which_channels_receive_an_alert() {
        let critical = ChannelFilters {
            severity: vec![Severity::Critical],
            ..Default::default()
        };
        let (pager, paged) = channel("pager#0", critical, ok);
        let (log, logged) = channel("log#1", ChannelFilters::default(), ok);
        let (queue, _records) = start(vec![pager, log]);
        queue.enqueue(&alert("w", Severity::Warning));
        queue.enqueue(&alert("c", Severity::Critical));
        tokio::time::sleep(Duration::from_millis(10)).await;
        let ids = |calls: &Calls| -> Vec<Vec<String>> {
            calls
                .lock()
                .unwrap()
                .iter()
                .map(|(_, n)| n.alert_ids())
                .collect()
        };
        assert_eq!(ids(&paged), [["c"]]);
        assert_eq!(ids(&logged), [["w"], ["c"]]);
    }

    #[tokio::test(start_paused = true)]
    async fn without_grouping_a_notification_is_one_alert_named_by_its_fingerprint() {
        let (sink, calls) = channel("c#0", ChannelFilters::default(), ok);
        let (queue, _records) = start(vec![sink]);
        let a = alert("a1", Severity::Critical);
        queue.enqueue(&a);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let calls = calls.lock().unwrap();
        let n = &calls[0].1;
        assert_eq!(n.receiver, "c#0");
        assert_eq!(n.group_key, a.fingerprint());
        assert!(n.group_labels.is_empty());
        assert_eq!(n.common_labels, a.all_labels());
        assert_eq!(n.external_url, "http://127.0.0.1:8080");
        assert_eq!(n.alerts, [a]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_group_burst_is_one_notification_per_channel_of_the_alerts_it_takes() {
        let critical = ChannelFilters {
            severity: vec![Severity::Critical],
            ..Default::default()
        };
        let db_only = ChannelFilters {
            components: vec!["db".into()],
            ..Default::default()
        };
        let (pager, paged) = channel("pager#0", critical, ok);
        let (log, logged) = channel("log#1", ChannelFilters::default(), ok);
        let (dba, dba_calls) = channel("dba#2", db_only, ok);
        let (queue, mut records) = start(vec![pager, log, dba]);
        let queue = queue.with_grouping(Grouping {
            by: vec!["component".into()],
            wait: Duration::from_secs(30),
            interval: Duration::from_secs(300),
        });
        queue.enqueue(&alert("w1", Severity::Warning));
        queue.enqueue(&alert("c1", Severity::Critical));
        queue.enqueue(&alert("w2", Severity::Warning));
        tokio::time::sleep(Duration::from_secs(29)).await;
        assert!(logged.lock().unwrap().is_empty(), "the group waits 30 s");
        tokio::time::sleep(Duration::from_secs(2)).await;

        let logged = logged.lock().unwrap();
        let [(_, all)] = &logged[..] else {
            panic!("one notification: {logged:?}");
        };
        assert_eq!(all.alert_ids(), ["w1", "c1", "w2"]);
        assert_eq!(all.group_key, "{component=\"system\"}");
        assert_eq!(
            all.group_labels,
            [("component".to_owned(), "system".to_owned())]
        );
        let common: Vec<&str> = all.common_labels.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(common, ["component", "metric", "rule"], "severities differ");
        let paged = paged.lock().unwrap();
        let [(_, critical_only)] = &paged[..] else {
            panic!("one notification: {paged:?}");
        };
        assert_eq!(critical_only.alert_ids(), ["c1"]);
        assert_eq!(critical_only.group_key, all.group_key);
        assert!(dba_calls.lock().unwrap().is_empty(), "no alert for dba#2");

        let mut records = drain(&mut records);
        records.sort_by(|a, b| a.channel.cmp(&b.channel));
        let summary: Vec<(&str, DeliveryStatus, usize)> = records
            .iter()
            .map(|r| (r.channel.as_str(), r.status, r.alert_ids.len()))
            .collect();
        assert_eq!(
            summary,
            [
                ("log#1", DeliveryStatus::Delivered, 3),
                ("pager#0", DeliveryStatus::Delivered, 1)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_replaced_sink_delivers_the_retries() {
        let (failing, old) = channel("c#0", ChannelFilters::default(), |_| Err(down()));
        let (queue, _records) = start(vec![failing]);
        queue.enqueue(&alert("a", Severity::Warning));
        tokio::time::sleep(Duration::from_millis(10)).await;
        let (working, new) = channel("c#0", ChannelFilters::default(), ok);
        queue.install(working);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(old.lock().unwrap().len(), 1);
        assert_eq!(
            new.lock().unwrap().len(),
            1,
            "the retry went to the new sink"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_dead_channel_does_not_hold_up_another() {
        let (dead, _) = channel("dead#0", ChannelFilters::default(), |_| Err(down()));
        let (live, delivered) = channel("ok#1", ChannelFilters::default(), ok);
        let (queue, mut records) = start(vec![dead, live]);
        queue.enqueue(&alert("a", Severity::Warning));
        queue.enqueue(&alert("b", Severity::Warning));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(delivered.lock().unwrap().len(), 2);
        tokio::time::sleep(RETRY_FOR + Duration::from_secs(120)).await;
        let dead: Vec<(u32, DeliveryStatus)> = drain(&mut records)
            .into_iter()
            .filter(|r| r.channel == "dead#0" && r.alert_ids == ["a"])
            .map(|r| (r.attempt, r.status))
            .collect();
        let (last_attempt, last_status) = *dead.last().unwrap();
        assert_eq!(last_status, DeliveryStatus::GaveUp);
        assert_eq!(dead.len() as u32, last_attempt);
        // Once a minute or so after the first doublings, for an hour.
        assert!((60..=90).contains(&last_attempt), "{last_attempt} attempts");
    }

    #[tokio::test(start_paused = true)]
    async fn a_receiver_down_for_ten_minutes_gets_everything_in_order_once_back() {
        let down_until = Instant::now() + Duration::from_secs(600);
        let (sink, calls) = channel("c", ChannelFilters::default(), move |_| {
            if Instant::now() < down_until {
                Err(down())
            } else {
                Ok(())
            }
        });
        let (queue, _records) = start(vec![sink]);
        for id in ["a", "b", "c"] {
            queue.enqueue(&alert(id, Severity::Warning));
        }
        tokio::time::sleep(Duration::from_secs(600 + 120)).await;
        let calls = calls.lock().unwrap();
        let delivered: Vec<String> = calls
            .iter()
            .filter(|(at, _)| *at >= down_until)
            .map(|(_, n)| n.alert_ids().join(","))
            .collect();
        assert_eq!(delivered, ["a", "b", "c"]);
        assert_eq!(queue.stats()[0].gave_up, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_channel_queue_drops_the_excess_and_records_it() {
        let (stuck, _) = channel("stuck#0", ChannelFilters::default(), |_| Err(down()));
        let (queue, mut records) = start(vec![stuck]);
        // The channel's task has not run yet: the queue holds CHANNEL_QUEUE.
        for i in 0..=CHANNEL_QUEUE {
            queue.enqueue(&alert(&format!("a{i}"), Severity::Warning));
        }
        let dropped: Vec<DeliveryRecord> = drain(&mut records)
            .into_iter()
            .filter(|r| r.status == DeliveryStatus::Dropped)
            .collect();
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].alert_ids, [format!("a{CHANNEL_QUEUE}")]);
        assert_eq!(dropped[0].attempt, 0);
        assert!(
            dropped[0]
                .error
                .as_deref()
                .unwrap()
                .contains("1000 notifications waiting"),
            "{dropped:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_skip_is_recorded_with_its_reason() {
        let (queue, mut records) = start(Vec::new());
        queue.record_skipped(
            &alert("a1", Severity::Warning),
            "silenced by s1 (backup)".into(),
        );
        let records = drain(&mut records);
        assert_eq!(statuses(&records), [(0, DeliveryStatus::Skipped)]);
        assert_eq!(records[0].channel, "*");
        assert_eq!(records[0].error.as_deref(), Some("silenced by s1 (backup)"));
    }
    #[tokio::test(start_paused = true)]
    async fn a_firing_that_waited_past_its_resolution_is_sent_as_resolved_once() {
        // Down for the first two calls (the firing's attempts 1 and 2).
        let (sink, calls) = channel("c#0", ChannelFilters::default(), |n| {
            if n <= 2 { Err(down()) } else { Ok(()) }
        });
        let (queue, _records) = start(vec![sink]);
        let firing = alert("a", Severity::Warning);
        queue.enqueue(&firing);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let resolved = Alert {
            resolved: true,
            resolved_at: Some(5_000),
            ..firing
        };
        queue.enqueue(&resolved);
        tokio::time::sleep(Duration::from_secs(60)).await;
        let calls = calls.lock().unwrap();
        let sent: Vec<bool> = calls.iter().map(|(_, n)| n.is_resolved()).collect();
        // The retry of the firing went out as the resolution; the queued
        // resolution then had nothing new to tell.
        assert_eq!(sent, [false, true, true], "attempts: {sent:?}");
        let stats = &queue.stats()[0];
        assert_eq!(
            (stats.delivered, stats.failed_attempts, stats.queued),
            (1, 2, 0)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_test_notification_is_tried_once_past_the_filters_and_answers() {
        let critical_only = ChannelFilters {
            severity: vec![Severity::Critical],
            ..Default::default()
        };
        let (sink, calls) = channel("pager", critical_only, |n| {
            if n == 1 {
                Ok(())
            } else {
                Err(DeliveryError::Permanent("HTTP 400".into()))
            }
        });
        let (queue, mut records) = start(vec![sink]);
        let sent = queue
            .send_test("pager", alert("t", Severity::Warning))
            .await;
        assert!(sent.is_ok(), "{sent:?}");
        let failed = queue
            .send_test("pager", alert("t", Severity::Warning))
            .await;
        assert!(matches!(failed, Err(TestError::Failed(_))), "{failed:?}");
        let missing = queue
            .send_test("nobody", alert("t", Severity::Warning))
            .await;
        assert!(
            matches!(missing, Err(TestError::NoSuchChannel(_))),
            "{missing:?}"
        );
        assert_eq!(calls.lock().unwrap().len(), 2);
        let statuses = statuses(&drain(&mut records));
        assert_eq!(
            statuses,
            [(1, DeliveryStatus::Delivered), (1, DeliveryStatus::GaveUp)]
        );
    }

    /// A source of firing alerts the test changes as it goes.
    fn source(firing: &Arc<Mutex<Vec<Alert>>>) -> FiringSource {
        let firing = firing.clone();
        Arc::new(move || firing.lock().unwrap().clone())
    }

    fn resending(
        name: &str,
        every: u64,
        answer: impl FnMut(usize) -> Result<(), DeliveryError> + Send + 'static,
    ) -> (ChannelSink, Calls) {
        let (mut sink, calls) = channel(name, ChannelFilters::default(), answer);
        sink.resend = Some(Duration::from_secs(every));
        (sink, calls)
    }

    #[tokio::test(start_paused = true)]
    async fn firing_alerts_are_resent_every_interval_while_they_fire() {
        let (am, am_calls) = resending("am", 60, ok);
        let (console, console_calls) = channel("console", ChannelFilters::default(), ok);
        let firing = Arc::new(Mutex::new(vec![alert("a1", Severity::Warning)]));
        let (queue, mut records) = start(vec![am, console]);
        let _queue = queue.with_resends(source(&firing));
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert!(
            am_calls.lock().unwrap().is_empty(),
            "nothing before the first interval"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        firing.lock().unwrap().push(alert("a2", Severity::Critical));
        tokio::time::sleep(Duration::from_secs(60)).await;
        firing.lock().unwrap().clear();
        tokio::time::sleep(Duration::from_secs(300)).await;

        let calls = am_calls.lock().unwrap();
        let sent: Vec<Vec<String>> = calls.iter().map(|(_, n)| n.alert_ids()).collect();
        assert_eq!(
            sent,
            [vec!["a1"], vec!["a1", "a2"]],
            "nothing once nothing fires"
        );
        assert_eq!(calls[1].0 - calls[0].0, Duration::from_secs(60));
        assert_eq!(calls[1].1.group_key, "{}", "one group without group_by");
        assert_eq!(calls[1].1.receiver, "am");
        assert!(
            console_calls.lock().unwrap().is_empty(),
            "no re-sends unasked"
        );
        let records = drain(&mut records);
        assert_eq!(statuses(&records), [(1, DeliveryStatus::Delivered); 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn resends_keep_the_channels_filters_and_the_groups() {
        let critical = ChannelFilters {
            severity: vec![Severity::Critical],
            ..Default::default()
        };
        let (mut am, calls) = channel("am", critical, ok);
        am.resend = Some(Duration::from_secs(10));
        let mut other = alert("c2", Severity::Critical);
        other.component = "db".into();
        let firing = Arc::new(Mutex::new(vec![
            alert("w1", Severity::Warning),
            alert("c1", Severity::Critical),
            other,
        ]));
        let (queue, _records) = start(vec![am]);
        let _queue = queue
            .with_grouping(Grouping {
                by: vec!["component".into()],
                ..Default::default()
            })
            .with_resends(source(&firing));
        tokio::time::sleep(Duration::from_secs(11)).await;
        let calls = calls.lock().unwrap();
        let sent: Vec<(String, Vec<String>)> = calls
            .iter()
            .map(|(_, n)| (n.group_key.clone(), n.alert_ids()))
            .collect();
        assert_eq!(
            sent,
            [
                ("{component=\"db\"}".to_owned(), vec!["c2".to_owned()]),
                ("{component=\"system\"}".to_owned(), vec!["c1".to_owned()]),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_resend_is_recorded_and_retried_by_the_next() {
        let (am, calls) = resending("am", 60, |n| if n == 1 { Err(down()) } else { Ok(()) });
        let firing = Arc::new(Mutex::new(vec![alert("a1", Severity::Warning)]));
        let (queue, mut records) = start(vec![am]);
        let _queue = queue.with_resends(source(&firing));
        tokio::time::sleep(Duration::from_secs(119)).await;
        assert_eq!(
            calls.lock().unwrap().len(),
            1,
            "no backoff retries of a re-send"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        let records = drain(&mut records);
        use DeliveryStatus::{Delivered, Failed};
        assert_eq!(statuses(&records), [(1, Failed), (1, Delivered)]);
        assert_eq!(
            records[0].error.as_deref(),
            Some("receiver down (a re-send; the next follows in 60 s)")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_reload_can_start_or_stop_resends() {
        let (plain, old_calls) = channel("am", ChannelFilters::default(), ok);
        let firing = Arc::new(Mutex::new(vec![alert("a1", Severity::Warning)]));
        let (queue, _records) = start(vec![plain]);
        let queue = queue.with_resends(source(&firing));
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert!(old_calls.lock().unwrap().is_empty());
        let (resending_now, calls) = resending("am", 30, ok);
        queue.install(resending_now);
        tokio::time::sleep(Duration::from_secs(31)).await;
        assert_eq!(calls.lock().unwrap().len(), 1);
        let (plain_again, _) = channel("am", ChannelFilters::default(), ok);
        queue.install(plain_again);
        tokio::time::sleep(Duration::from_secs(300)).await;
        assert_eq!(calls.lock().unwrap().len(), 1, "stopped with the reload");
    }
}
