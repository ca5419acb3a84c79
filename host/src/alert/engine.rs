//! `AlertEngine`: firing and resolved state per (rule, series).

use std::collections::{HashMap, HashSet, VecDeque};

use crate::model::{Alert, SeriesKey, Severity};

/// Resolved alerts kept in memory for the API; older ones are dropped
/// (the store keeps the full history once alert persistence lands).
pub const MAX_RESOLVED_HISTORY: usize = 500;

/// "This condition holds now", from a threshold or a rule script.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Rule id: `threshold:<metric>` or `<script>/<alert id>`.
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
}

/// A change worth telling people about.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertEvent {
    /// A new alert, or an existing one that escalated to critical.
    Triggered(Alert),
    /// An alert whose condition cleared.
    Resolved(Alert),
}

/// Firing alerts and recent resolutions.
#[derive(Debug, Default)]
pub struct AlertEngine {
    firing: HashMap<(String, SeriesKey), Alert>,
    resolved: VecDeque<Alert>,
}

impl AlertEngine {
    /// No alerts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one tick's evaluation. `evaluated` lists the rule sources that
    /// ran to completion (threshold ids, script names; see [`rule_source`]):
    /// only their alerts can resolve, so a script that fails at run time does
    /// not resolve (or re-fire) what it raised before.
    pub fn apply(
        &mut self,
        now_ms: i64,
        evaluated: &HashSet<String>,
        conditions: Vec<Condition>,
    ) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        let mut holding: HashMap<(String, SeriesKey), Condition> = HashMap::new();
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

        let held: HashSet<(String, SeriesKey)> = holding.keys().cloned().collect();
        for (key, c) in holding {
            match self.firing.get_mut(&key) {
                Some(alert) => {
                    let escalated = c.severity > alert.severity;
                    alert.severity = c.severity;
                    alert.value = c.value;
                    alert.threshold = c.threshold;
                    alert.message = c.message;
                    if escalated {
                        events.push(AlertEvent::Triggered(alert.clone()));
                    }
                }
                None => {
                    let alert = Alert {
                        id: alert_id(&c.rule, &c.series, now_ms),
                        rule: c.rule,
                        timestamp: now_ms,
                        severity: c.severity,
                        metric: c.series.metric.clone(),
                        labels: c.series.labels.clone(),
                        value: c.value,
                        threshold: c.threshold,
                        message: c.message,
                        component: c.component,
                        resolved: false,
                        resolved_at: None,
                    };
                    events.push(AlertEvent::Triggered(alert.clone()));
                    self.firing.insert(key, alert);
                }
            }
        }

        let cleared: Vec<_> = self
            .firing
            .keys()
            .filter(|key| evaluated.contains(rule_source(&key.0)) && !held.contains(*key))
            .cloned()
            .collect();
        for key in cleared {
            // Not raised this tick by a rule that ran: the condition cleared.
            if let Some(mut alert) = self.firing.remove(&key) {
                alert.resolved = true;
                alert.resolved_at = Some(now_ms);
                events.push(AlertEvent::Resolved(alert.clone()));
                self.resolved.push_back(alert);
                while self.resolved.len() > MAX_RESOLVED_HISTORY {
                    self.resolved.pop_front();
                }
            }
        }
        events
    }

    /// Alerts firing now, oldest first.
    pub fn firing(&self) -> Vec<Alert> {
        let mut list: Vec<_> = self.firing.values().cloned().collect();
        list.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.id.cmp(&b.id)));
        list
    }

    /// Recently resolved alerts, newest first.
    pub fn recently_resolved(&self) -> impl Iterator<Item = &Alert> {
        self.resolved.iter().rev()
    }
}

/// The source that evaluates a rule: script alert ids are
/// `<script>/<name>` and come from script `<script>`; threshold ids,
/// `threshold:<metric>`, contain no `/` and are their own source.
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
