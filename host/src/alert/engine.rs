//! `AlertEngine`: the lifecycle of each (rule, series) pair, inactive →
//! pending → firing → resolved, with the timing rules say they want.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::model::{Acknowledgement, Alert, SeriesKey, Severity};

/// Resolved alerts kept in memory for the API.
pub const MAX_RESOLVED_HISTORY: usize = 500;
/// Window in which state changes are counted to detect flapping.
pub const FLAP_WINDOW_MS: i64 = 10 * 60 * 1000;
/// Changes (firing or resolving) within the window that make an alert
/// flapping: three full fire-and-clear cycles.
pub const FLAP_CHANGES: usize = 6;
/// How long a flapping alert must keep one state before it is trusted
/// again and its notifications resume.
pub const FLAP_QUIET_MS: i64 = 10 * 60 * 1000;

/// How a rule wants its alerts timed. All durations in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Timing {
    /// How long the condition must hold before the alert fires (`duration`,
    /// Prometheus' `for`). 0 fires on the first evaluation that holds.
    pub for_ms: i64,
    /// How long a firing alert keeps firing after its condition clears, so
    /// that one good sample does not resolve it.
    pub keep_firing_for_ms: i64,
    /// Least time between two notifications of one firing alert (repeats).
    /// It starts over when the alert resolves: a new incident is always told.
    pub cooldown_ms: i64,
    /// Re-notify a still-firing alert this often; `None` notifies once.
    pub repeat_interval_ms: Option<i64>,
}

/// "This condition holds now", from a threshold, an alert rule or a script.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Rule id: `threshold:<metric>`, `rule:<id>` or `<script>/<alert name>`.
    pub rule: String,
    /// The series the condition is about (metric may be empty for scripts).
    pub series: SeriesKey,
    /// How bad it is now.
    pub severity: Severity,
    /// The value that breached.
    pub value: f64,
    /// The level breached.
    pub threshold: f64,
    /// One human sentence.
    pub message: String,
    /// Component it is attributed to.
    pub component: String,
    /// What the rule is about, for notifications (see `Alert::description`).
    pub description: Option<String>,
    /// Where to read what to do.
    pub runbook_url: Option<String>,
    /// The rule's timing.
    pub timing: Timing,
}

/// A change worth telling people about.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertEvent {
    /// A condition started holding for a rule with a duration; nobody is
    /// told yet, but the history keeps it.
    Pending(Alert),
    /// A new alert, or an existing one that escalated to critical.
    Triggered(Alert),
    /// A still-firing alert, notified again after its repeat interval.
    Repeated(Alert),
    /// An alert whose condition cleared.
    Resolved(Alert),
    /// An alert changing state so often that its changes are no longer
    /// notified one by one, until it settles.
    Flapping(Alert),
}

type Key = (String, SeriesKey);

/// Where a tracked (rule, series) pair is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "phase")]
pub enum Phase {
    /// Holding, but not yet for the rule's duration.
    Pending {
        /// When it started holding.
        since: i64,
    },
    /// Firing.
    Firing {
        /// When it started firing.
        since: i64,
    },
}

/// One pending or firing (rule, series) pair; what survives a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tracked {
    /// The alert as shown to users.
    pub alert: Alert,
    /// Pending or firing.
    pub phase: Phase,
    /// The rule's timing when last evaluated.
    pub timing: Timing,
    /// When a notification last went out.
    pub last_notified: Option<i64>,
    /// The severity last notified.
    pub notified_severity: Option<Severity>,
    /// When the condition stopped holding while firing (for `keep_firing_for`).
    pub clear_since: Option<i64>,
}

/// The engine's whole state, as persisted across restarts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineState {
    /// Pending and firing pairs.
    pub tracked: Vec<Tracked>,
    /// Recent state changes per pair, for flap detection.
    pub changes: Vec<(String, SeriesKey, Vec<i64>)>,
    /// Pairs currently flapping, with their last state change.
    pub flapping: Vec<(String, SeriesKey, i64)>,
}

/// Pending and firing alerts, flap detection and recent resolutions.
#[derive(Debug, Default)]
pub struct AlertEngine {
    tracked: HashMap<Key, Tracked>,
    changes: HashMap<Key, VecDeque<i64>>,
    flapping: HashMap<Key, i64>,
    resolved: VecDeque<Alert>,
}

impl AlertEngine {
    /// No alerts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one tick's evaluation. `evaluated` lists the rule sources that
    /// ran to completion (see [`rule_source`]): only their alerts can move
    /// on when their condition is absent, so a script that fails at run time
    /// neither resolves nor re-fires what it raised before.
    pub fn apply(
        &mut self,
        now_ms: i64,
        evaluated: &HashSet<String>,
        conditions: Vec<Condition>,
    ) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        let mut holding: HashMap<Key, Condition> = HashMap::new();
        for c in conditions {
            let key = (c.rule.clone(), c.series.clone());
            // The same rule may raise the same series twice in one tick;
            // the worse severity wins.
            match holding.get(&key) {
                Some(existing) if existing.severity >= c.severity => {}
                _ => {
                    holding.insert(key, c);
                }
            }
        }

        let held: HashSet<Key> = holding.keys().cloned().collect();
        for (key, c) in holding {
            self.hold(now_ms, key, c, &mut events);
        }

        let absent: Vec<Key> = self
            .tracked
            .keys()
            .filter(|key| evaluated.contains(rule_source(&key.0)) && !held.contains(*key))
            .cloned()
            .collect();
        for key in absent {
            self.clear(now_ms, key, &mut events);
        }

        self.settle_flapping(now_ms, &mut events);
        events
    }

    /// The condition of `key` holds at `now`.
    fn hold(&mut self, now: i64, key: Key, c: Condition, events: &mut Vec<AlertEvent>) {
        let new = !self.tracked.contains_key(&key);
        let tracked = self.tracked.entry(key.clone()).or_insert_with(|| Tracked {
            alert: Alert {
                id: alert_id(&c.rule, &c.series, now),
                rule: c.rule.clone(),
                timestamp: now,
                severity: c.severity,
                metric: c.series.metric.clone(),
                labels: c.series.labels.clone(),
                value: c.value,
                threshold: c.threshold,
                message: c.message.clone(),
                component: c.component.clone(),
                resolved: false,
                resolved_at: None,
                flapping: false,
                acknowledged: None,
                description: None,
                runbook_url: None,
            },
            phase: Phase::Pending { since: now },
            timing: c.timing,
            last_notified: None,
            notified_severity: None,
            clear_since: None,
        });
        tracked.alert.severity = c.severity;
        tracked.alert.value = c.value;
        tracked.alert.threshold = c.threshold;
        tracked.alert.message = c.message;
        tracked.alert.component = c.component;
        tracked.alert.description = c.description;
        tracked.alert.runbook_url = c.runbook_url;
        tracked.timing = c.timing;
        tracked.clear_since = None;
        let next = match tracked.phase {
            Phase::Pending { since } if now - since >= tracked.timing.for_ms => {
                tracked.phase = Phase::Firing { since: now };
                tracked.alert.id = alert_id(&key.0, &key.1, now);
                tracked.alert.timestamp = now;
                Some(Notify::Fired)
            }
            Phase::Pending { .. } => {
                if new {
                    events.push(AlertEvent::Pending(tracked.alert.clone()));
                }
                None
            }
            Phase::Firing { .. } => {
                let escalated = tracked
                    .notified_severity
                    .is_some_and(|s| tracked.alert.severity > s);
                let repeat_due = tracked.alert.acknowledged.is_none()
                    && tracked.timing.repeat_interval_ms.is_some_and(|every| {
                        let gap = every.max(tracked.timing.cooldown_ms);
                        tracked.last_notified.is_none_or(|last| now - last >= gap)
                    });
                if escalated {
                    Some(Notify::Escalated)
                } else if repeat_due {
                    Some(Notify::Repeat)
                } else {
                    None
                }
            }
        };
        match next {
            Some(Notify::Fired) => {
                self.record_change(now, &key, events);
                self.notify(now, &key, events, Notify::Fired);
            }
            Some(kind) => self.notify(now, &key, events, kind),
            None => {}
        }
    }

    /// The condition of `key` was evaluated and does not hold at `now`.
    fn clear(&mut self, now: i64, key: Key, events: &mut Vec<AlertEvent>) {
        let Some(tracked) = self.tracked.get_mut(&key) else {
            return;
        };
        match tracked.phase {
            Phase::Pending { .. } => {
                self.tracked.remove(&key);
            }
            Phase::Firing { .. } => {
                let clear_since = *tracked.clear_since.get_or_insert(now);
                if now - clear_since < tracked.timing.keep_firing_for_ms {
                    return;
                }
                let mut alert = self.tracked.remove(&key).expect("present").alert;
                alert.resolved = true;
                alert.resolved_at = Some(now);
                self.record_change(now, &key, events);
                if !self.flapping.contains_key(&key) {
                    events.push(AlertEvent::Resolved(alert.clone()));
                }
                self.resolved.push_back(alert);
                while self.resolved.len() > MAX_RESOLVED_HISTORY {
                    self.resolved.pop_front();
                }
            }
        }
    }

    fn notify(&mut self, now: i64, key: &Key, events: &mut Vec<AlertEvent>, kind: Notify) {
        if self.flapping.contains_key(key) {
            return;
        }
        let Some(tracked) = self.tracked.get_mut(key) else {
            return;
        };
        tracked.last_notified = Some(now);
        tracked.notified_severity = Some(tracked.alert.severity);
        events.push(match kind {
            Notify::Fired | Notify::Escalated => AlertEvent::Triggered(tracked.alert.clone()),
            Notify::Repeat => AlertEvent::Repeated(tracked.alert.clone()),
        });
    }

    /// Counts a firing or resolving change; enough of them in the window
    /// make the pair flapping, which is notified once.
    fn record_change(&mut self, now: i64, key: &Key, events: &mut Vec<AlertEvent>) {
        let changes = self.changes.entry(key.clone()).or_default();
        changes.push_back(now);
        while changes.front().is_some_and(|t| now - t > FLAP_WINDOW_MS) {
            changes.pop_front();
        }
        if let Some(last) = self.flapping.get_mut(key) {
            *last = now;
            return;
        }
        if changes.len() >= FLAP_CHANGES {
            self.flapping.insert(key.clone(), now);
            let mut alert = match self.tracked.get_mut(key) {
                Some(t) => {
                    t.alert.flapping = true;
                    t.alert.clone()
                }
                None => self
                    .resolved
                    .back()
                    .cloned()
                    .unwrap_or_else(|| placeholder(key, now)),
            };
            alert.flapping = true;
            alert.message = format!("flapping: {}", alert.message);
            events.push(AlertEvent::Flapping(alert));
        }
    }

    /// Ends flapping for pairs quiet long enough, telling where they settled.
    fn settle_flapping(&mut self, now: i64, events: &mut Vec<AlertEvent>) {
        let settled: Vec<Key> = self
            .flapping
            .iter()
            .filter(|(_, last)| now - **last >= FLAP_QUIET_MS)
            .map(|(k, _)| k.clone())
            .collect();
        for key in settled {
            self.flapping.remove(&key);
            self.changes.remove(&key);
            let firing = match self.tracked.get_mut(&key) {
                Some(t) => {
                    t.alert.flapping = false;
                    Some(matches!(t.phase, Phase::Firing { .. }))
                }
                None => None,
            };
            match firing {
                Some(true) => self.notify(now, &key, events, Notify::Fired),
                Some(false) => {}
                None => {
                    let last = self.resolved.iter().rev().find(|a| {
                        a.rule == key.0 && a.metric == key.1.metric && a.labels == key.1.labels
                    });
                    if let Some(last) = last {
                        let mut last = last.clone();
                        last.flapping = false;
                        events.push(AlertEvent::Resolved(last));
                    }
                }
            }
        }
    }

    /// Acknowledges the firing alert `id`: its repeats stop until it
    /// resolves. `None` when no firing alert has that id.
    pub fn acknowledge(&mut self, id: &str, ack: Acknowledgement) -> Option<Alert> {
        let tracked = self
            .tracked
            .values_mut()
            .find(|t| t.alert.id == id && matches!(t.phase, Phase::Firing { .. }))?;
        tracked.alert.acknowledged = Some(ack);
        Some(tracked.alert.clone())
    }

    /// The firing alerts of `series`, any rule (for inhibition).
    pub fn firing_on(&self, metric: &str, labels: &crate::model::Labels) -> Vec<&Alert> {
        self.tracked
            .values()
            .filter(|t| {
                matches!(t.phase, Phase::Firing { .. })
                    && t.alert.metric == metric
                    && &t.alert.labels == labels
            })
            .map(|t| &t.alert)
            .collect()
    }

    /// The rule whose critical alert inhibits `alert`, if one does: a
    /// warning while another rule's critical fires on the same series is
    /// noise, so it is not delivered (nor re-sent).
    pub fn inhibitor(&self, alert: &Alert) -> Option<String> {
        if alert.severity != Severity::Warning || alert.metric.is_empty() {
            return None;
        }
        self.firing_on(&alert.metric, &alert.labels)
            .into_iter()
            .find(|a| a.severity == Severity::Critical && a.rule != alert.rule)
            .map(|a| a.rule.clone())
    }

    /// Alerts firing now that a channel would be told of: [`firing`](Self::firing)
    /// less those another rule's critical alert inhibits ([`inhibitor`](Self::inhibitor)).
    pub fn firing_uninhibited(&self) -> Vec<Alert> {
        let mut firing = self.firing();
        firing.retain(|alert| self.inhibitor(alert).is_none());
        firing
    }

    /// Whether `rule` is pending or firing for `series` (thresholds with a
    /// clear level use this for hysteresis).
    pub fn is_active(&self, rule: &str, series: &SeriesKey) -> bool {
        self.tracked
            .contains_key(&(rule.to_owned(), series.clone()))
    }

    /// Alerts firing now, oldest first.
    pub fn firing(&self) -> Vec<Alert> {
        self.sorted(|t| matches!(t.phase, Phase::Firing { .. }))
    }

    /// Alerts holding but not yet for their rule's duration, oldest first.
    pub fn pending(&self) -> Vec<Alert> {
        self.sorted(|t| matches!(t.phase, Phase::Pending { .. }))
    }

    fn sorted(&self, keep: impl Fn(&Tracked) -> bool) -> Vec<Alert> {
        let mut list: Vec<_> = self
            .tracked
            .values()
            .filter(|t| keep(t))
            .map(|t| t.alert.clone())
            .collect();
        list.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.id.cmp(&b.id)));
        list
    }

    /// Recently resolved alerts, newest first.
    pub fn recently_resolved(&self) -> impl Iterator<Item = &Alert> {
        self.resolved.iter().rev()
    }

    /// The state to persist.
    pub fn state(&self) -> EngineState {
        let mut tracked: Vec<Tracked> = self.tracked.values().cloned().collect();
        tracked.sort_by(|a, b| a.alert.id.cmp(&b.alert.id));
        EngineState {
            tracked,
            changes: self
                .changes
                .iter()
                .map(|((r, s), v)| (r.clone(), s.clone(), v.iter().copied().collect()))
                .collect(),
            flapping: self
                .flapping
                .iter()
                .map(|((r, s), t)| (r.clone(), s.clone(), *t))
                .collect(),
        }
    }

    /// An engine continuing from persisted state: firing alerts stay
    /// firing without a new notification, pending ones keep their start.
    pub fn restore(state: EngineState) -> Self {
        Self {
            tracked: state
                .tracked
                .into_iter()
                .map(|t| {
                    (
                        (
                            t.alert.rule.clone(),
                            SeriesKey {
                                metric: t.alert.metric.clone(),
                                labels: t.alert.labels.clone(),
                            },
                        ),
                        t,
                    )
                })
                .collect(),
            changes: state
                .changes
                .into_iter()
                .map(|(r, s, v)| ((r, s), v.into()))
                .collect(),
            flapping: state
                .flapping
                .into_iter()
                .map(|(r, s, t)| ((r, s), t))
                .collect(),
            resolved: VecDeque::new(),
        }
    }
}

enum Notify {
    Fired,
    Escalated,
    Repeat,
}

fn placeholder(key: &Key, now: i64) -> Alert {
    Alert {
        id: alert_id(&key.0, &key.1, now),
        rule: key.0.clone(),
        timestamp: now,
        severity: Severity::Warning,
        metric: key.1.metric.clone(),
        labels: key.1.labels.clone(),
        value: f64::NAN,
        threshold: f64::NAN,
        message: key.0.clone(),
        component: String::new(),
        resolved: true,
        resolved_at: Some(now),
        flapping: true,
        acknowledged: None,
        description: None,
        runbook_url: None,
    }
}

/// The source that evaluates a rule: script alert ids are
/// `<script>/<name>` and come from script `<script>`; other ids
/// (`threshold:<metric>`, `rule:<id>`, `meta:<script>`) contain no `/`
/// and are their own source.
pub fn rule_source(rule: &str) -> &str {
    rule.split_once('/').map_or(rule, |(source, _)| source)
}

/// A short stable id (FNV-1a over rule, series and start time): safe in URL
/// paths, unlike the rule and label text it is derived from.
fn alert_id(rule: &str, series: &SeriesKey, start_ms: i64) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in rule
        .bytes()
        .chain([0])
        .chain(series.to_string().bytes())
        .chain(start_ms.to_le_bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("alert-{hash:016x}")
}

#[cfg(test)]
mod tests;
