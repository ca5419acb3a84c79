//! Configured thresholds, evaluated against the window as rules.

use crate::config::Threshold;
use crate::model::Severity;
use crate::window::SampleWindow;

use super::Condition;

/// The rule id of a threshold.
pub fn rule_id(t: &Threshold) -> String {
    format!("threshold:{}", t.metric)
}

/// Checks every series of every threshold's metric (each labelled series
/// on its own) against its latest value. Returns the conditions that hold
/// and the rule ids evaluated.
pub fn evaluate_thresholds(
    thresholds: &[Threshold],
    window: &SampleWindow,
) -> (Vec<String>, Vec<Condition>) {
    let mut evaluated = Vec::with_capacity(thresholds.len());
    let mut conditions = Vec::new();
    for t in thresholds {
        let rule = rule_id(t);
        for (key, series) in window.series_of(&t.metric) {
            let Some((_, value)) = series.latest() else {
                continue;
            };
            let (severity, level) = if t.direction.breached(value, t.critical) {
                (Severity::Critical, t.critical)
            } else if t.direction.breached(value, t.warning) {
                (Severity::Warning, t.warning)
            } else {
                continue;
            };
            let subject = if key.labels.is_empty() {
                String::new()
            } else {
                format!(" {}", key.labels)
            };
            conditions.push(Condition {
                rule: rule.clone(),
                series: key.clone(),
                severity,
                value,
                threshold: level,
                message: format!(
                    "{}{subject}: {} (threshold: {})",
                    t.description,
                    with_unit(value, &t.unit),
                    with_unit(level, &t.unit)
                ),
                component: t.metric.split('.').next().unwrap_or("system").to_owned(),
                description: Some(t.description.clone()),
                runbook_url: None,
                // Thresholds alert at once, as the original did, but only once.
                timing: super::Timing::default(),
            });
        }
        evaluated.push(rule);
    }
    (evaluated, conditions)
}

/// `75%`, `2500 ms`, `0.02` (a ratio needs no unit).
fn with_unit(value: f64, unit: &str) -> String {
    match unit {
        "" | "ratio" => format!("{value}"),
        "%" => format!("{value}%"),
        unit => format!("{value} {unit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::Sample;

    fn window(samples: &[(&str, f64)]) -> SampleWindow {
        let mut w = SampleWindow::new();
        let samples: Vec<_> = samples
            .iter()
            .map(|(m, v)| Sample::gauge(m, *v, 1000))
            .collect();
        w.insert_all(&samples);
        w
    }

    #[test]
    fn an_idle_healthy_machine_raises_nothing_with_the_defaults() {
        let config = Config::defaults();
        let w = window(&[
            ("system.cpuUsage", 3.0),
            ("system.memoryUsage", 40.0),
            ("tracing.errorRate", 0.0),
            ("ui.frameRate", 60.0),
            ("agents.avgResponseTime", 200.0),
        ]);
        let (evaluated, conditions) = evaluate_thresholds(&config.thresholds, &w);
        assert_eq!(evaluated.len(), 7);
        assert!(conditions.is_empty(), "{conditions:?}");
    }

    #[test]
    fn directions_decide_which_side_is_bad() {
        let config = Config::defaults();
        let w = window(&[("ui.frameRate", 12.0), ("system.cpuUsage", 75.0)]);
        let (_, mut conditions) = evaluate_thresholds(&config.thresholds, &w);
        conditions.sort_by(|a, b| a.rule.cmp(&b.rule));
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[0].rule, "threshold:system.cpuUsage");
        assert_eq!(conditions[0].severity, Severity::Warning);
        assert_eq!(conditions[0].message, "CPU Usage: 75% (threshold: 70%)");
        assert_eq!(conditions[1].rule, "threshold:ui.frameRate");
        assert_eq!(conditions[1].severity, Severity::Critical);
        assert_eq!(conditions[1].component, "ui");
    }
}
