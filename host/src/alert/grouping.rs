//! Grouping of notifications, as Alertmanager does it: notifications whose
//! `group_by` labels agree wait `group_wait` for company, go out together,
//! and later ones of the same group go out at most every `group_interval`.
//! An incident that fires twenty alerts at once is then one burst of
//! deliveries, not twenty scattered ones.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::model::Alert;

/// The `[alerting]` grouping settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grouping {
    /// Labels whose values form a group (alert labels, or `rule`,
    /// `severity`, `component`, `metric`).
    pub by: Vec<String>,
    /// How long a new group waits for more notifications.
    pub wait: Duration,
    /// Least time between two sends of one group.
    pub interval: Duration,
}

impl Grouping {
    /// Whether notifications can go straight through.
    pub fn is_passthrough(&self) -> bool {
        self.wait.is_zero() && self.interval.is_zero()
    }
}

/// The value of `name` for `alert`, as silences and groups read it (see
/// [`Alert::label`]).
pub fn label_of<'a>(alert: &'a Alert, name: &str) -> Option<&'a str> {
    alert.label(name)
}

/// Everything one group sends at once: per channel, one notification of
/// those of its alerts that the channel takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Flush {
    /// The group's name (see `Notification::group_key`).
    pub key: String,
    /// The `group_by` labels the group's alerts have, sorted by name.
    pub labels: Vec<(String, String)>,
    /// Each alert once, in its latest state, in the order first raised.
    pub alerts: Vec<Alert>,
}

impl Flush {
    /// A group of one alert, for when grouping is off: named by the
    /// alert's fingerprint, with no group labels.
    pub fn single(alert: Alert) -> Self {
        Self {
            key: alert.fingerprint(),
            labels: Vec::new(),
            alerts: vec![alert],
        }
    }
}

struct Group {
    labels: Vec<(String, String)>,
    pending: Vec<Alert>,
    due: Option<Instant>,
    last_sent: Option<Instant>,
}

impl Group {
    /// Adds a notification; a newer one of an alert already waiting (it
    /// repeated, escalated or resolved meanwhile) replaces it, so the group
    /// tells its latest state once.
    fn add(&mut self, alert: Alert) {
        match self.pending.iter_mut().find(|a| a.id == alert.id) {
            Some(earlier) => *earlier = alert,
            None => self.pending.push(alert),
        }
    }
}

/// The group labels of `alert`: each `group_by` name it has a value for,
/// sorted by name.
pub(super) fn group_labels(by: &[String], alert: &Alert) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = by
        .iter()
        .filter_map(|name| {
            let value = label_of(alert, name).filter(|v| !v.is_empty())?;
            Some((name.clone(), value.to_owned()))
        })
        .collect();
    labels.sort();
    labels.dedup();
    labels
}

/// A group's key: its labels as `{component="agents",rule="rule:cpu"}`.
pub(super) fn group_key(labels: &[(String, String)]) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(","))
}

/// Starts the grouping task; notifications sent to the returned channel
/// reach `dispatch` as one [`Flush`] per group and burst.
pub fn spawn(
    grouping: Grouping,
    dispatch: impl Fn(Flush) + Send + 'static,
) -> mpsc::UnboundedSender<Alert> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Alert>();
    tokio::spawn(async move {
        let mut groups: HashMap<String, Group> = HashMap::new();
        loop {
            let next_due = groups.values().filter_map(|g| g.due).min();
            let sleep = async {
                match next_due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                received = rx.recv() => {
                    let Some(alert) = received else { break };
                    let labels = group_labels(&grouping.by, &alert);
                    let now = Instant::now();
                    let group = groups.entry(group_key(&labels)).or_insert(Group {
                        labels,
                        pending: Vec::new(),
                        due: None,
                        last_sent: None,
                    });
                    group.add(alert);
                    if group.due.is_none() {
                        group.due = Some(match group.last_sent {
                            None => now + grouping.wait,
                            Some(last) => (last + grouping.interval).max(now),
                        });
                    }
                }
                () = sleep => {
                    let now = Instant::now();
                    for (key, group) in groups.iter_mut().filter(|(_, g)| g.due.is_some_and(|d| d <= now)) {
                        dispatch(Flush {
                            key: key.clone(),
                            labels: group.labels.clone(),
                            alerts: std::mem::take(&mut group.pending),
                        });
                        group.due = None;
                        group.last_sent = Some(now);
                    }
                }
            }
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::model::{Labels, Severity};

    fn alert(id: &str, component: &str) -> Alert {
        Alert {
            id: id.into(),
            rule: "r".into(),
            timestamp: 0,
            severity: Severity::Warning,
            metric: "m".into(),
            labels: Labels::new(),
            value: 1.0,
            threshold: 0.0,
            message: "m".into(),
            component: component.into(),
            resolved: false,
            resolved_at: None,
            flapping: false,
            acknowledged: None,
            description: None,
            runbook_url: None,
        }
    }

    /// Each flush: its alert ids, group key and seconds since the start.
    type Sent = Arc<Mutex<Vec<(Vec<String>, String, u64)>>>;

    /// Starts grouping into a log of what was flushed.
    fn grouped(by: &[&str], wait: u64, interval: u64) -> (mpsc::UnboundedSender<Alert>, Sent) {
        let sent = Sent::default();
        let log = sent.clone();
        let start = Instant::now();
        let tx = spawn(
            Grouping {
                by: by.iter().map(|s| (*s).to_owned()).collect(),
                wait: Duration::from_secs(wait),
                interval: Duration::from_secs(interval),
            },
            move |flush| {
                let ids = flush.alerts.iter().map(|a| a.id.clone()).collect();
                log.lock()
                    .unwrap()
                    .push((ids, flush.key, start.elapsed().as_secs()))
            },
        );
        (tx, sent)
    }

    #[tokio::test(start_paused = true)]
    async fn a_group_waits_for_company_then_keeps_its_interval() {
        let (tx, sent) = grouped(&["component"], 30, 300);
        tx.send(alert("a1", "agents")).unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        tx.send(alert("a2", "agents")).unwrap();
        tx.send(alert("s1", "system")).unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        tx.send(alert("a3", "agents")).unwrap();
        tokio::time::sleep(Duration::from_secs(600)).await;
        let ids = |ids: &[&str]| ids.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            *sent.lock().unwrap(),
            [
                (ids(&["a1", "a2"]), "{component=\"agents\"}".to_owned(), 30),
                (ids(&["s1"]), "{component=\"system\"}".to_owned(), 40),
                (ids(&["a3"]), "{component=\"agents\"}".to_owned(), 330),
            ],
            "agents waits 30 s from its first alert and goes out as one; system from its own; \
             a3 waits for the 5-minute interval"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_group_tells_each_alert_once_in_its_latest_state() {
        let (tx, sent) = grouped(&["rule"], 30, 300);
        tx.send(alert("a1", "agents")).unwrap();
        tx.send(alert("a2", "agents")).unwrap();
        let mut resolved = alert("a1", "agents");
        resolved.resolved = true;
        tx.send(resolved).unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].0, ["a1", "a2"]);
        assert_eq!(sent[0].1, "{rule=\"r\"}");
    }

    #[test]
    fn group_labels_are_sorted_and_skip_what_the_alert_lacks() {
        let a = alert("a1", "agents");
        let by = [
            "severity".to_owned(),
            "agent".to_owned(),
            "component".to_owned(),
        ];
        let labels = group_labels(&by, &a);
        assert_eq!(
            labels,
            [
                ("component".to_owned(), "agents".to_owned()),
                ("severity".to_owned(), "warning".to_owned())
            ]
        );
        assert_eq!(
            group_key(&labels),
            "{component=\"agents\",severity=\"warning\"}"
        );
        assert_eq!(group_key(&[]), "{}");
    }
}
