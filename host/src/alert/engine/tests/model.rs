//! The alert lifecycle of one (rule, series) against a reference model
//! small enough to check by eye against README.md's "Alerts" section.
//!
//! A rule with a warning level, maybe a critical level and maybe a clear
//! level (`greater_than` or `less_than`), a `duration`, `keep_firing_for`,
//! `cooldown` and `repeat_interval` is fed a random series of (time step,
//! value) through the real path (window → `evaluate_alert_rules` →
//! `AlertEngine::apply`) and through [`Model`]; after every tick both must
//! be in the same state and have told the same things.
//!
//! The model leaves out: acknowledgement, restarts, scripts that fail to
//! run, several series or rules at once, the single-`threshold` form and
//! the `equals`/`not_equals` conditions (their float tolerance is
//! `RuleCondition::holds`'s business), and flapping beyond its onset: a run
//! ends at the state change that makes the pair flapping, where the engine
//! must say so and nothing else.

use std::collections::HashSet;

use proptest::prelude::*;
use proptest::sample::select;

use crate::alert::{AlertEngine, AlertEvent, FLAP_CHANGES, FLAP_WINDOW_MS, evaluate_alert_rules};
use crate::config::{AlertRule, RuleCondition};
use crate::model::{Sample, Severity};
use crate::window::SampleWindow;

const METRIC: &str = "app.queue";
const START_MS: i64 = 1_700_000_000_000;

/// The rule under test. Levels are fixed (50 warning, 80/20 critical,
/// 30/70 clear, by direction); the values generated sit on and around them.
#[derive(Debug, Clone, Copy)]
struct Rule {
    /// `greater_than`; `less_than` otherwise.
    above: bool,
    critical: bool,
    clear: bool,
    duration: i64,
    keep_firing_for: i64,
    cooldown: i64,
    repeat_interval: Option<i64>,
}

impl Rule {
    fn levels(self) -> (f64, f64, f64) {
        if self.above {
            (50.0, 80.0, 30.0)
        } else {
            (50.0, 20.0, 70.0)
        }
    }

    fn config(self) -> AlertRule {
        let (warning, critical, clear) = self.levels();
        AlertRule {
            id: "queue".into(),
            name: String::new(),
            metric: METRIC.into(),
            condition: if self.above {
                RuleCondition::GreaterThan
            } else {
                RuleCondition::LessThan
            },
            threshold: None,
            severity: None,
            warning: Some(warning),
            critical: self.critical.then_some(critical),
            duration: self.duration as u64,
            cooldown: self.cooldown as u64,
            repeat_interval: self.repeat_interval.map(|r| r as u64),
            keep_firing_for: self.keep_firing_for as u64,
            clear_threshold: self.clear.then_some(clear),
            enabled: true,
            description: String::new(),
            runbook_url: None,
            tags: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Inactive,
    Pending {
        since: i64,
        severity: Severity,
    },
    Firing {
        since: i64,
        severity: Severity,
        /// The severity and time of the last notification.
        told: (Severity, i64),
        /// When the condition stopped holding, while it keeps firing.
        clear_since: Option<i64>,
    },
}

/// README's lifecycle, written down directly.
struct Model {
    rule: Rule,
    state: State,
    /// Times of firing and resolving, for the onset of flapping.
    changes: Vec<i64>,
}

impl Model {
    /// How bad `value` is: past the critical level, past the warning
    /// level, or (hysteresis) still past the clear level while the alert
    /// is pending or firing, which holds it at warning.
    fn severity(&self, value: f64) -> Option<Severity> {
        let (warning, critical, clear) = self.rule.levels();
        let past = |level: f64| {
            if self.rule.above {
                value > level
            } else {
                value < level
            }
        };
        let active = self.state != State::Inactive;
        if self.rule.critical && past(critical) {
            Some(Severity::Critical)
        } else if past(warning) || (self.rule.clear && active && past(clear)) {
            Some(Severity::Warning)
        } else {
            None
        }
    }

    /// One evaluation at `now`: what is told, in the engine's words, and
    /// whether the pair started firing or resolved (the changes counted
    /// for flapping; an escalation is not one).
    fn tick(&mut self, now: i64, value: f64) -> (Vec<String>, bool) {
        let rule = self.rule;
        let mut told = Vec::new();
        let fire = |severity: Severity, told: &mut Vec<String>| {
            told.push(format!("trigger:{}", severity.as_str()));
            State::Firing {
                since: now,
                severity,
                told: (severity, now),
                clear_since: None,
            }
        };
        let was_firing = matches!(self.state, State::Firing { .. });
        self.state = match (self.state, self.severity(value)) {
            // inactive → pending until `duration` has passed; 0 fires at once.
            (State::Inactive, Some(severity)) if rule.duration == 0 => fire(severity, &mut told),
            (State::Inactive, Some(severity)) => {
                told.push("pending".into());
                State::Pending {
                    since: now,
                    severity,
                }
            }
            (State::Pending { since, .. }, Some(severity)) if now - since >= rule.duration => {
                fire(severity, &mut told)
            }
            (State::Pending { since, .. }, Some(severity)) => State::Pending { since, severity },
            // A pending alert that clears goes back without a word.
            (State::Pending { .. } | State::Inactive, None) => State::Inactive,
            // Firing: told again on escalation past what was last told, and
            // repeated every `repeat_interval` but never faster than
            // `cooldown`, counted from the last notification. Repeats are
            // of a condition that holds: not while it is cleared and kept
            // firing by `keep_firing_for`.
            (
                State::Firing {
                    since,
                    told: (last, at),
                    ..
                },
                Some(severity),
            ) => {
                let repeat_due = rule
                    .repeat_interval
                    .is_some_and(|every| now - at >= every.max(rule.cooldown));
                let told_now = if severity > last {
                    told.push(format!("trigger:{}", severity.as_str()));
                    (severity, now)
                } else if repeat_due {
                    told.push(format!("repeat:{}", severity.as_str()));
                    (severity, now)
                } else {
                    (last, at)
                };
                State::Firing {
                    since,
                    severity,
                    told: told_now,
                    clear_since: None,
                }
            }
            // Resolved once it has stayed clear for `keep_firing_for`.
            (
                State::Firing {
                    since,
                    severity,
                    told: last,
                    clear_since,
                },
                None,
            ) => {
                let clear_since = clear_since.unwrap_or(now);
                if now - clear_since >= rule.keep_firing_for {
                    told.push("resolve".into());
                    State::Inactive
                } else {
                    State::Firing {
                        since,
                        severity,
                        told: last,
                        clear_since: Some(clear_since),
                    }
                }
            }
        };
        let firing = matches!(self.state, State::Firing { .. });
        (told, was_firing != firing)
    }

    /// Whether the last tick's change was the one that makes the pair
    /// flapping: the engine counts changes within [`FLAP_WINDOW_MS`].
    fn record_change(&mut self, now: i64) -> bool {
        self.changes.push(now);
        self.changes.retain(|t| now - t <= FLAP_WINDOW_MS);
        self.changes.len() >= FLAP_CHANGES
    }

    fn describe(&self) -> String {
        match self.state {
            State::Inactive => "inactive".into(),
            State::Pending { since, severity } => {
                format!("pending:{} since {since}", severity.as_str())
            }
            State::Firing {
                since, severity, ..
            } => format!("firing:{} since {since}", severity.as_str()),
        }
    }
}

fn describe_engine(engine: &AlertEngine) -> String {
    let (pending, firing) = (engine.pending(), engine.firing());
    match (pending.as_slice(), firing.as_slice()) {
        ([], []) => "inactive".into(),
        ([a], []) => format!("pending:{} since {}", a.severity.as_str(), a.timestamp),
        ([], [a]) => format!("firing:{} since {}", a.severity.as_str(), a.timestamp),
        _ => format!("pending {pending:?} and firing {firing:?} at once"),
    }
}

fn told_by_engine(events: Vec<AlertEvent>) -> Vec<String> {
    events
        .into_iter()
        .map(|e| match e {
            AlertEvent::Pending(_) => "pending".into(),
            AlertEvent::Triggered(a) => format!("trigger:{}", a.severity.as_str()),
            AlertEvent::Repeated(a) => format!("repeat:{}", a.severity.as_str()),
            AlertEvent::Resolved(_) => "resolve".into(),
            AlertEvent::Flapping(_) => "flapping".into(),
        })
        .collect()
}

/// Durations on a 5 s grid, like the steps, so "exactly `duration` later"
/// happens often.
fn grid(max_steps: i64) -> impl Strategy<Value = i64> {
    prop_oneof![Just(0i64), (1..=max_steps).prop_map(|k| k * 5_000)]
}

fn any_rule() -> impl Strategy<Value = Rule> {
    (
        any::<(bool, bool, bool)>(),
        grid(24),
        grid(12),
        grid(60),
        prop::option::of(grid(60)),
    )
        .prop_map(
            |((above, critical, clear), duration, keep_firing_for, cooldown, repeat_interval)| {
                Rule {
                    above,
                    critical,
                    clear,
                    duration,
                    keep_firing_for,
                    cooldown,
                    repeat_interval,
                }
            },
        )
}

/// Values on, just beside and between the levels of either direction.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => select(vec![
            0.0, 10.0, 19.9, 20.0, 20.1, 25.0, 29.9, 30.0, 30.1, 40.0, 49.9, 50.0, 50.1, 60.0,
            69.9, 70.0, 70.1, 75.0, 79.9, 80.0, 80.1, 90.0, 100.0,
        ]),
        1 => 0.0..100.0f64,
    ]
}

/// Ticks as (step, value). Mostly values held for a few ticks, so alerts
/// live long enough to repeat and resolve; sometimes a value changing
/// every few seconds, which makes the pair flapping.
fn any_ticks() -> impl Strategy<Value = Vec<(i64, f64)>> {
    let held = prop::collection::vec(
        (
            value(),
            prop::collection::vec((1..=36i64).prop_map(|k| k * 5_000), 1..=6),
        ),
        1..=20,
    );
    let choppy = prop::collection::vec(
        (
            value(),
            prop::collection::vec((1..=6i64).prop_map(|k| k * 5_000), 1..=2),
        ),
        1..=40,
    );
    prop_oneof![4 => held, 1 => choppy].prop_map(|runs| {
        runs.into_iter()
            .flat_map(|(value, steps)| steps.into_iter().map(move |step| (step, value)))
            .collect()
    })
}

proptest! {
    // 2,000 runs of up to 120 ticks: under a second in release.
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_engine_follows_the_documented_lifecycle(rule in any_rule(), ticks in any_ticks()) {
        let rules = [rule.config()];
        let mut engine = AlertEngine::new();
        let mut window = SampleWindow::new();
        let mut model = Model { rule, state: State::Inactive, changes: Vec::new() };
        let mut now = START_MS;
        for (i, (step, value)) in ticks.into_iter().enumerate() {
            now += step;
            window.insert_all(&[Sample::gauge(METRIC, value, now)]);
            let (evaluated, conditions) = evaluate_alert_rules(&rules, &window, &engine);
            let evaluated: HashSet<String> = evaluated.into_iter().collect();
            let engine_told = told_by_engine(engine.apply(now, &evaluated, conditions));

            let (model_told, changed) = model.tick(now, value);
            let context = format!("tick {i} at +{} s, value {value}", (now - START_MS) / 1000);
            prop_assert_eq!(describe_engine(&engine), model.describe(), "{}", context);
            if changed && model.record_change(now) {
                // The onset of flapping: told instead of the change itself.
                // What follows is beyond the model.
                prop_assert_eq!(engine_told, ["flapping"], "{}", context);
                return Ok(());
            }
            prop_assert_eq!(engine_told, model_told, "{}", context);
        }
    }
}
