//! `BottleneckTracker`: bottlenecks reported by scripts, one per (kind,
//! component), kept while they recur and resolved after a quiet grace
//! period. The original pushed a new object every tick and never resolved
//! one (defect B5).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use crate::model::{Bottleneck, BottleneckKind, BottleneckSeverity};

/// How long a bottleneck must stay unreported before it resolves: one good
/// tick in the middle of a saturation is not a recovery.
pub const RESOLVE_GRACE_MS: i64 = 60_000;
/// Resolved bottlenecks kept for the API.
pub const MAX_RESOLVED_BOTTLENECKS: usize = 200;

/// What a script reported this tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The script that reported it.
    pub source: String,
    /// What it is about.
    pub kind: BottleneckKind,
    /// What it is attributed to.
    pub component: String,
    /// Impact, 0–100.
    pub impact: f64,
    /// One human sentence.
    pub description: String,
    /// What to do about it.
    pub suggestions: Vec<String>,
    /// The values that show it.
    pub metrics: BTreeMap<String, f64>,
}

/// A change worth streaming.
#[derive(Debug, Clone, PartialEq)]
pub enum BottleneckEvent {
    /// A bottleneck seen for the first time (since it last resolved).
    Detected(Bottleneck),
    /// A bottleneck unreported for the grace period.
    Resolved(Bottleneck),
}

type Key = (BottleneckKind, String);

/// Current and recently resolved bottlenecks.
#[derive(Debug, Default)]
pub struct BottleneckTracker {
    current: HashMap<Key, (String, Bottleneck)>,
    resolved: VecDeque<Bottleneck>,
}

impl BottleneckTracker {
    /// None yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one tick's detections. `evaluated` lists the scripts that
    /// ran to completion: a bottleneck can only resolve when its script ran.
    pub fn apply(
        &mut self,
        now: i64,
        evaluated: &HashSet<String>,
        detections: Vec<Detection>,
    ) -> Vec<BottleneckEvent> {
        let mut events = Vec::new();
        let mut strongest: HashMap<Key, Detection> = HashMap::new();
        for d in detections {
            let key = (d.kind, d.component.clone());
            match strongest.get(&key) {
                Some(existing) if existing.impact >= d.impact => {}
                _ => {
                    strongest.insert(key, d);
                }
            }
        }
        for (key, d) in strongest {
            let impact = d.impact.clamp(0.0, 100.0);
            match self.current.get_mut(&key) {
                Some((source, b)) => {
                    *source = d.source;
                    b.last_seen = now;
                    b.occurrences += 1;
                    b.impact = impact;
                    b.peak_impact = b.peak_impact.max(impact);
                    b.severity = BottleneckSeverity::of(impact);
                    b.description = d.description;
                    b.suggestions = d.suggestions;
                    b.metrics = d.metrics;
                }
                None => {
                    let b = Bottleneck {
                        id: format!("{}/{}", key.0.as_str(), key.1),
                        timestamp: now,
                        kind: key.0,
                        severity: BottleneckSeverity::of(impact),
                        component: key.1.clone(),
                        description: d.description,
                        impact,
                        suggestions: d.suggestions,
                        metrics: d.metrics,
                        last_seen: now,
                        occurrences: 1,
                        peak_impact: impact,
                        resolved: false,
                        resolved_at: None,
                    };
                    events.push(BottleneckEvent::Detected(b.clone()));
                    self.current.insert(key, (d.source, b));
                }
            }
        }
        let quiet: Vec<Key> = self
            .current
            .iter()
            .filter(|(_, (source, b))| {
                evaluated.contains(source) && now - b.last_seen >= RESOLVE_GRACE_MS
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in quiet {
            let (_, mut b) = self.current.remove(&key).expect("present");
            b.resolved = true;
            b.resolved_at = Some(now);
            events.push(BottleneckEvent::Resolved(b.clone()));
            self.resolved.push_back(b);
            while self.resolved.len() > MAX_RESOLVED_BOTTLENECKS {
                self.resolved.pop_front();
            }
        }
        events
    }

    /// Current bottlenecks, highest impact first.
    pub fn current(&self) -> Vec<Bottleneck> {
        let mut list: Vec<Bottleneck> = self.current.values().map(|(_, b)| b.clone()).collect();
        list.sort_by(|a, b| b.impact.total_cmp(&a.impact).then_with(|| a.id.cmp(&b.id)));
        list
    }

    /// Recently resolved bottlenecks, newest first.
    pub fn recently_resolved(&self) -> impl Iterator<Item = &Bottleneck> {
        self.resolved.iter().rev()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(impact: f64) -> Detection {
        Detection {
            source: "bottleneck-cpu".into(),
            kind: BottleneckKind::Cpu,
            component: "system".into(),
            impact,
            description: format!("CPU at {impact}%"),
            suggestions: vec!["Reduce concurrent tasks".into()],
            metrics: BTreeMap::from([("system.cpuUsage".to_owned(), impact)]),
        }
    }

    fn ran() -> HashSet<String> {
        ["bottleneck-cpu".to_owned()].into()
    }

    #[test]
    fn a_recurring_bottleneck_is_one_entry_with_its_history() {
        let mut t = BottleneckTracker::new();
        assert!(matches!(
            t.apply(0, &ran(), vec![cpu(92.0)])[..],
            [BottleneckEvent::Detected(_)]
        ));
        assert!(
            t.apply(5_000, &ran(), vec![cpu(97.0)]).is_empty(),
            "no duplicate every tick"
        );
        assert!(t.apply(10_000, &ran(), vec![cpu(91.0)]).is_empty());
        let b = &t.current()[0];
        assert_eq!((b.timestamp, b.last_seen, b.occurrences), (0, 10_000, 3));
        assert_eq!((b.impact, b.peak_impact), (91.0, 97.0));
        assert_eq!(b.severity, BottleneckSeverity::Critical);
        assert_eq!(b.id, "cpu/system");
    }

    #[test]
    fn it_resolves_after_the_grace_period_not_at_the_first_good_tick() {
        let mut t = BottleneckTracker::new();
        t.apply(0, &ran(), vec![cpu(95.0)]);
        assert!(t.apply(5_000, &ran(), vec![]).is_empty());
        assert!(
            t.apply(30_000, &ran(), vec![cpu(93.0)]).is_empty(),
            "it came back within the grace period"
        );
        assert!(t.apply(89_000, &ran(), vec![]).is_empty());
        let events = t.apply(90_000, &ran(), vec![]);
        assert!(
            matches!(&events[..], [BottleneckEvent::Resolved(b)] if b.resolved_at == Some(90_000))
        );
        assert!(t.current().is_empty());
        assert!(t.apply(200_000, &HashSet::new(), vec![]).is_empty());
    }

    #[test]
    fn a_script_that_did_not_run_does_not_resolve_its_bottlenecks() {
        let mut t = BottleneckTracker::new();
        t.apply(0, &ran(), vec![cpu(95.0)]);
        assert!(t.apply(500_000, &HashSet::new(), vec![]).is_empty());
        assert_eq!(t.current().len(), 1);
    }
}
