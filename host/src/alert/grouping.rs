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

struct Group {
    pending: Vec<Alert>,
    due: Option<Instant>,
    last_sent: Option<Instant>,
}

/// Starts the grouping task; notifications sent to the returned channel
/// reach `dispatch` in group bursts.
pub fn spawn(
    grouping: Grouping,
    dispatch: impl Fn(&Alert) + Send + 'static,
) -> mpsc::UnboundedSender<Alert> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Alert>();
    tokio::spawn(async move {
        let mut groups: HashMap<Vec<String>, Group> = HashMap::new();
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
                    let key: Vec<String> =
                        grouping.by.iter().map(|name| label_of(&alert, name).unwrap_or_default().to_owned()).collect();
                    let now = Instant::now();
                    let group = groups.entry(key).or_insert(Group { pending: Vec::new(), due: None, last_sent: None });
                    group.pending.push(alert);
                    if group.due.is_none() {
                        group.due = Some(match group.last_sent {
                            None => now + grouping.wait,
                            Some(last) => (last + grouping.interval).max(now),
                        });
                    }
                }
                () = sleep => {
                    let now = Instant::now();
                    for group in groups.values_mut().filter(|g| g.due.is_some_and(|d| d <= now)) {
                        for alert in group.pending.drain(..) {
                            dispatch(&alert);
                        }
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

    #[tokio::test(start_paused = true)]
    async fn a_group_waits_for_company_then_keeps_its_interval() {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        let start = Instant::now();
        let tx = spawn(
            Grouping {
                by: vec!["component".into()],
                wait: Duration::from_secs(30),
                interval: Duration::from_secs(300),
            },
            move |a| {
                log.lock()
                    .unwrap()
                    .push((a.id.clone(), start.elapsed().as_secs()))
            },
        );
        tx.send(alert("a1", "agents")).unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        tx.send(alert("a2", "agents")).unwrap();
        tx.send(alert("s1", "system")).unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        tx.send(alert("a3", "agents")).unwrap();
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(
            *sent.lock().unwrap(),
            [
                ("a1".to_owned(), 30),
                ("a2".to_owned(), 30),
                ("s1".to_owned(), 40),
                ("a3".to_owned(), 330)
            ],
            "agents waits 30 s from its first alert, system from its own; a3 waits for the 5-minute interval"
        );
    }
}
