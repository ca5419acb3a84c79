//! The health score, 0–100, with the breakdown that explains it.
//!
//! 100 is a host with nothing wrong. Each part takes points off, with a cap
//! so that no single cause hides the others:
//!
//! | part | points off | cap |
//! | --- | --- | --- |
//! | alerts | 15 per firing critical, 5 per firing warning; half for an acknowledged one (someone is on it) | 40 |
//! | bottlenecks | a quarter of the largest current impact (0–100), plus 2 per further bottleneck | 30 |
//! | headroom | per resource (CPU, memory, disk): 10 × (use − 75 %) / 25 %, from 75 % use to full | 30 |
//! | errors | 20 × `tracing.errorRate` (the share of failed plugin calls, 0–1) | 20 |
//!
//! Unlike the original's (`0.4·(100−cpu) + 0.4·(100−mem) + 0.2·(100−disk)`),
//! a machine that merely works scores 100: a host at 40 % CPU is not 24
//! points less healthy, and firing alerts and bottlenecks count. A part
//! whose inputs nobody reports takes nothing off and says so.

use serde::Serialize;

use crate::model::{Alert, Bottleneck, Severity};

const ALERTS_CAP: f64 = 40.0;
const CRITICAL_ALERT: f64 = 15.0;
const WARNING_ALERT: f64 = 5.0;
const BOTTLENECKS_CAP: f64 = 30.0;
const FURTHER_BOTTLENECK: f64 = 2.0;
const HEADROOM_FROM_PERCENT: f64 = 75.0;
const HEADROOM_PER_RESOURCE: f64 = 10.0;
const HEADROOM_CAP: f64 = 30.0;
const ERRORS_CAP: f64 = 20.0;

/// What the score is computed from: the tick's firing alerts, current
/// bottlenecks and latest values.
pub struct HealthInputs<'a> {
    pub firing: &'a [Alert],
    pub bottlenecks: &'a [Bottleneck],
    /// `system.cpuUsage`, `system.memoryUsage`, `system.diskUsage` in %.
    pub cpu_percent: Option<f64>,
    pub memory_percent: Option<f64>,
    pub disk_percent: Option<f64>,
    /// `tracing.errorRate`, 0–1.
    pub error_rate: Option<f64>,
}

/// The score and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// 0–100, one decimal.
    pub score: f64,
    /// One entry per part, in the table's order.
    pub parts: Vec<HealthPart>,
}

/// One part of the score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthPart {
    /// `alerts`, `bottlenecks`, `headroom` or `errors`.
    pub name: &'static str,
    /// Points taken off, one decimal.
    pub penalty: f64,
    /// What caused them, in a sentence.
    pub detail: String,
}

/// The score of one tick.
pub fn health(inputs: &HealthInputs<'_>) -> Health {
    let parts = vec![
        alerts(inputs.firing),
        bottlenecks(inputs.bottlenecks),
        headroom(inputs),
        errors(inputs.error_rate),
    ];
    let penalty: f64 = parts.iter().map(|p| p.penalty).sum();
    Health {
        score: round1((100.0 - penalty).clamp(0.0, 100.0)),
        parts,
    }
}

fn alerts(firing: &[Alert]) -> HealthPart {
    let (mut critical, mut warning, mut acknowledged) = (0, 0, 0);
    let mut points = 0.0;
    for alert in firing {
        let weight = match alert.severity {
            Severity::Critical => {
                critical += 1;
                CRITICAL_ALERT
            }
            Severity::Warning => {
                warning += 1;
                WARNING_ALERT
            }
        };
        if alert.acknowledged.is_some() {
            acknowledged += 1;
            points += weight / 2.0;
        } else {
            points += weight;
        }
    }
    let detail = if firing.is_empty() {
        "no alert firing".to_owned()
    } else {
        format!(
            "{critical} critical and {warning} warning alerts firing, {acknowledged} acknowledged"
        )
    };
    part("alerts", points.min(ALERTS_CAP), detail)
}

fn bottlenecks(current: &[Bottleneck]) -> HealthPart {
    let Some(worst) = current.iter().max_by(|a, b| a.impact.total_cmp(&b.impact)) else {
        return part("bottlenecks", 0.0, "no current bottleneck".to_owned());
    };
    let impact = worst.impact.clamp(0.0, 100.0);
    let points = impact / 4.0 + FURTHER_BOTTLENECK * (current.len() - 1) as f64;
    let detail = format!(
        "{} current; the worst, {}, has impact {impact:.0}",
        current.len(),
        worst.id
    );
    part("bottlenecks", points.min(BOTTLENECKS_CAP), detail)
}

fn headroom(inputs: &HealthInputs<'_>) -> HealthPart {
    let resources = [
        ("CPU", inputs.cpu_percent),
        ("memory", inputs.memory_percent),
        ("disk", inputs.disk_percent),
    ];
    let mut points = 0.0;
    let mut tight = Vec::new();
    let mut known = 0;
    for (name, used) in resources {
        let Some(used) = used.filter(|u| u.is_finite()) else {
            continue;
        };
        known += 1;
        let over = (used.clamp(0.0, 100.0) - HEADROOM_FROM_PERCENT).max(0.0);
        if over > 0.0 {
            points += HEADROOM_PER_RESOURCE * over / (100.0 - HEADROOM_FROM_PERCENT);
            tight.push(format!("{name} {used:.0} %"));
        }
    }
    let detail = match (known, tight.is_empty()) {
        (0, _) => "CPU, memory and disk not reported".to_owned(),
        (_, true) => format!("every resource under {HEADROOM_FROM_PERCENT:.0} % use"),
        (_, false) => format!(
            "over {HEADROOM_FROM_PERCENT:.0} % use: {}",
            tight.join(", ")
        ),
    };
    part("headroom", points.min(HEADROOM_CAP), detail)
}

fn errors(error_rate: Option<f64>) -> HealthPart {
    match error_rate.filter(|r| r.is_finite()) {
        None => part("errors", 0.0, "no error rate reported".to_owned()),
        Some(rate) => {
            let rate = rate.clamp(0.0, 1.0);
            part(
                "errors",
                ERRORS_CAP * rate,
                format!("{:.1} % of plugin calls failed", rate * 100.0),
            )
        }
    }
}

fn part(name: &'static str, penalty: f64, detail: String) -> HealthPart {
    HealthPart {
        name,
        penalty: round1(penalty),
        detail,
    }
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{Acknowledgement, BottleneckKind, BottleneckSeverity, Labels};

    fn alert(severity: Severity, acknowledged: bool) -> Alert {
        Alert {
            id: "a".into(),
            rule: "r".into(),
            timestamp: 0,
            severity,
            metric: "m".into(),
            labels: Labels::default(),
            value: 1.0,
            threshold: 0.0,
            message: String::new(),
            component: String::new(),
            resolved: false,
            resolved_at: None,
            flapping: false,
            acknowledged: acknowledged.then(|| Acknowledgement {
                comment: "on it".into(),
                by: String::new(),
                at: 0,
            }),
            description: None,
            runbook_url: None,
        }
    }

    fn bottleneck(id: &str, impact: f64) -> Bottleneck {
        Bottleneck {
            id: id.into(),
            timestamp: 0,
            kind: BottleneckKind::Cpu,
            severity: BottleneckSeverity::High,
            component: "system".into(),
            description: String::new(),
            impact,
            suggestions: Vec::new(),
            metrics: BTreeMap::new(),
            last_seen: 0,
            occurrences: 1,
            peak_impact: impact,
            resolved: false,
            resolved_at: None,
        }
    }

    fn quiet() -> HealthInputs<'static> {
        HealthInputs {
            firing: &[],
            bottlenecks: &[],
            cpu_percent: Some(40.0),
            memory_percent: Some(60.0),
            disk_percent: Some(50.0),
            error_rate: Some(0.0),
        }
    }

    #[test]
    fn a_machine_that_merely_works_scores_100() {
        let health = health(&quiet());
        assert_eq!(health.score, 100.0);
        assert!(health.parts.iter().all(|p| p.penalty == 0.0), "{health:?}");
    }

    #[test]
    fn each_part_takes_its_points_off_and_says_why() {
        let firing = [
            alert(Severity::Critical, false),
            alert(Severity::Warning, true),
        ];
        let current = [
            bottleneck("cpu/system", 80.0),
            bottleneck("io/storage", 30.0),
        ];
        let inputs = HealthInputs {
            firing: &firing,
            bottlenecks: &current,
            cpu_percent: Some(100.0),
            memory_percent: Some(87.5),
            disk_percent: Some(10.0),
            error_rate: Some(0.1),
        };
        let health = health(&inputs);
        let penalty = |name| {
            health
                .parts
                .iter()
                .find(|p| p.name == name)
                .unwrap()
                .penalty
        };
        assert_eq!(penalty("alerts"), 15.0 + 2.5);
        assert_eq!(penalty("bottlenecks"), 20.0 + 2.0);
        assert_eq!(penalty("headroom"), 10.0 + 5.0);
        assert_eq!(penalty("errors"), 2.0);
        assert_eq!(health.score, 100.0 - 17.5 - 22.0 - 15.0 - 2.0);
        let detail = |name| {
            health
                .parts
                .iter()
                .find(|p| p.name == name)
                .unwrap()
                .detail
                .clone()
        };
        assert_eq!(
            detail("alerts"),
            "1 critical and 1 warning alerts firing, 1 acknowledged"
        );
        assert_eq!(detail("headroom"), "over 75 % use: CPU 100 %, memory 88 %");
        assert!(detail("bottlenecks").contains("cpu/system"));
    }

    #[test]
    fn caps_keep_one_cause_from_hiding_the_others_and_the_score_at_zero_or_more() {
        let firing: Vec<Alert> = (0..10).map(|_| alert(Severity::Critical, false)).collect();
        let current: Vec<Bottleneck> = (0..10).map(|i| bottleneck(&i.to_string(), 100.0)).collect();
        let inputs = HealthInputs {
            firing: &firing,
            bottlenecks: &current,
            cpu_percent: Some(100.0),
            memory_percent: Some(100.0),
            disk_percent: Some(100.0),
            error_rate: Some(1.0),
        };
        let health = health(&inputs);
        let penalties: Vec<f64> = health.parts.iter().map(|p| p.penalty).collect();
        assert_eq!(penalties, [40.0, 30.0, 30.0, 20.0]);
        assert_eq!(health.score, 0.0);
    }

    #[test]
    fn what_nobody_reports_takes_nothing_off_and_says_so() {
        let inputs = HealthInputs {
            cpu_percent: None,
            memory_percent: None,
            disk_percent: Some(f64::NAN),
            error_rate: None,
            ..quiet()
        };
        let health = health(&inputs);
        assert_eq!(health.score, 100.0);
        assert_eq!(health.parts[2].detail, "CPU, memory and disk not reported");
        assert_eq!(health.parts[3].detail, "no error rate reported");
    }
}
