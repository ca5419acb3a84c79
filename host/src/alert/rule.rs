//! Configured `[[alert_rules]]`, evaluated against the window.

use crate::config::{AlertRule, RuleCondition};
use crate::window::SampleWindow;

use super::{AlertEngine, Condition, Timing};

/// The rule id alerts of `rule` carry.
pub fn rule_id(rule: &AlertRule) -> String {
    format!("rule:{}", rule.id)
}

/// Checks every series of every enabled rule's metric (each labelled
/// series on its own) against its latest value. `engine` tells which are
/// already active, for hysteresis. Returns the rule ids evaluated and the
/// conditions that hold.
pub fn evaluate_alert_rules(
    rules: &[AlertRule],
    window: &SampleWindow,
    engine: &AlertEngine,
) -> (Vec<String>, Vec<Condition>) {
    let mut evaluated = Vec::with_capacity(rules.len());
    let mut conditions = Vec::new();
    for rule in rules.iter().filter(|r| r.enabled) {
        let id = rule_id(rule);
        let levels = rule.levels();
        let timing = Timing {
            for_ms: rule.duration as i64,
            keep_firing_for_ms: rule.keep_firing_for as i64,
            cooldown_ms: rule.cooldown as i64,
            repeat_interval_ms: rule.repeat_interval.map(|r| r as i64),
        };
        for (key, series) in window.series_of(&rule.metric) {
            let Some((_, value)) = series.latest() else {
                continue;
            };
            let breached = levels
                .iter()
                .find(|(_, level)| rule.condition.holds(value, *level));
            let (severity, level) = match (breached, rule.clear_threshold) {
                (Some(&(severity, level)), _) => (severity, level),
                // Hysteresis: an active alert holds, at its mildest level,
                // until the value is back past the clear level.
                (None, Some(clear))
                    if engine.is_active(&id, key) && still_beyond(rule.condition, value, clear) =>
                {
                    *levels.last().expect("validated: at least one level")
                }
                _ => continue,
            };
            let subject = if key.labels.is_empty() {
                String::new()
            } else {
                format!(" {}", key.labels)
            };
            conditions.push(Condition {
                rule: id.clone(),
                series: key.clone(),
                severity,
                value,
                threshold: level,
                message: format!(
                    "{}{subject}: {value} {} {level}",
                    rule.description,
                    rule.condition.symbol()
                ),
                component: rule.component(),
                description: Some(rule.description.clone()),
                runbook_url: rule.runbook_url.clone(),
                timing,
            });
        }
        evaluated.push(id);
    }
    (evaluated, conditions)
}

fn still_beyond(condition: RuleCondition, value: f64, clear: f64) -> bool {
    match condition {
        RuleCondition::GreaterThan => value > clear,
        RuleCondition::LessThan => value < clear,
        RuleCondition::Equals | RuleCondition::NotEquals => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::alert::AlertEvent;
    use crate::config::Config;
    use crate::model::Sample;

    /// Feeds `values` of `metric`, one a second, through `rules` and the
    /// engine; returns the events as `+id:severity@s` / `-id@s`.
    fn run(config: &str, metric: &str, values: &[f64]) -> Vec<String> {
        let config = Config::from_toml_str(config, "test").unwrap();
        let mut engine = AlertEngine::new();
        let mut window = SampleWindow::new();
        let mut out = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let now = i as i64 * 1000;
            window.insert_all(&[Sample::gauge(metric, *v, now)]);
            let (evaluated, conditions) =
                evaluate_alert_rules(&config.alert_rules, &window, &engine);
            let evaluated: HashSet<String> = evaluated.into_iter().collect();
            let mut tick: Vec<String> = engine
                .apply(now, &evaluated, conditions)
                .into_iter()
                .filter(|e| !matches!(e, AlertEvent::Pending(_)))
                .map(|e| match e {
                    AlertEvent::Triggered(a) => {
                        format!("+{}:{}@{}", a.rule, a.severity.as_str(), i)
                    }
                    AlertEvent::Resolved(a) => format!("-{}@{}", a.rule, i),
                    other => format!("{other:?}"),
                })
                .collect();
            tick.sort();
            out.extend(tick);
        }
        out
    }

    #[test]
    fn the_default_cpu_rules_need_their_durations() {
        let mut cpu = vec![50.0; 2];
        cpu.extend(vec![97.0; 40]);
        cpu.extend(vec![20.0; 2]);
        assert_eq!(
            run("", "system.cpuUsage", &cpu),
            [
                "+rule:cpu-critical:critical@12",
                "+rule:cpu-high:warning@32",
                "-rule:cpu-critical@42",
                "-rule:cpu-high@42"
            ]
        );
    }

    #[test]
    fn an_idle_machine_raises_nothing_with_the_default_rules() {
        assert_eq!(
            run("", "system.cpuUsage", &[3.0; 120]),
            Vec::<String>::new()
        );
        assert_eq!(run("", "ui.frameRate", &[60.0; 120]), Vec::<String>::new());
    }

    #[test]
    fn two_levels_in_one_rule_escalate_and_hysteresis_holds_until_the_clear_level() {
        let config = "[[alert_rules]]\nid = \"q\"\nmetric = \"app.queue\"\ncondition = \"greater_than\"\n\
                      warning = 100.0\ncritical = 500.0\nclear_threshold = 80.0\n";
        assert_eq!(
            run(config, "app.queue", &[50.0, 150.0, 600.0, 90.0, 85.0, 70.0]),
            ["+rule:q:warning@1", "+rule:q:critical@2", "-rule:q@5"],
            "90 and 85 are below the warning level but above the clear level"
        );
    }

    #[test]
    fn a_rules_description_and_runbook_reach_its_alerts() {
        let config = Config::from_toml_str(
            "[[alert_rules]]\nid = \"q\"\nname = \"Queue\"\nmetric = \"app.queue\"\n\
             condition = \"greater_than\"\nthreshold = 1.0\nrunbook_url = \"https://wiki.example.com/q\"\n",
            "test",
        )
        .unwrap();
        let mut window = SampleWindow::new();
        window.insert_all(&[Sample::gauge("app.queue", 5.0, 0)]);
        let mut engine = AlertEngine::new();
        let (evaluated, conditions) = evaluate_alert_rules(&config.alert_rules, &window, &engine);
        let events = engine.apply(0, &evaluated.into_iter().collect(), conditions);
        let [AlertEvent::Triggered(alert)] = events.as_slice() else {
            panic!("one alert fires: {events:?}");
        };
        assert_eq!(alert.description.as_deref(), Some("Queue"));
        assert_eq!(
            alert.runbook_url.as_deref(),
            Some("https://wiki.example.com/q")
        );
    }

    #[test]
    fn equality_tolerates_float_noise() {
        let config = "[[alert_rules]]\nid = \"z\"\nmetric = \"a.b\"\ncondition = \"equals\"\nthreshold = 0.3\n";
        assert_eq!(run(config, "a.b", &[0.1 + 0.2]), ["+rule:z:warning@0"]);
    }
}
