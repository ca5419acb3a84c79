//! The alert lifecycle, driven tick by tick through `check`.

use super::*;

/// The property test against a reference model of the lifecycle.
mod model;

fn series() -> SeriesKey {
    SeriesKey {
        metric: "system.cpuUsage".into(),
        labels: Default::default(),
    }
}

fn cond(rule: &str, severity: Severity, value: f64) -> Condition {
    timed(rule, severity, value, Timing::default())
}

fn timed(rule: &str, severity: Severity, value: f64, timing: Timing) -> Condition {
    Condition {
        rule: rule.into(),
        series: series(),
        severity,
        value,
        threshold: 70.0,
        message: format!("CPU Usage: {value}%"),
        component: "system".into(),
        description: None,
        runbook_url: None,
        timing,
    }
}

fn rules(ids: &[&str]) -> HashSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// Runs one tick and renders its events as `+rule:severity` (triggered),
/// `*rule` (repeated), `~rule` (flapping) and `-rule` (resolved).
fn check(
    engine: &mut AlertEngine,
    now: i64,
    evaluated: &[&str],
    conditions: Vec<Condition>,
) -> Vec<String> {
    let mut out: Vec<String> = engine
        .apply(now, &rules(evaluated), conditions)
        .into_iter()
        .filter(|e| !matches!(e, AlertEvent::Pending(_)))
        .map(|e| match e {
            AlertEvent::Pending(a) => format!("?{}", a.rule),
            AlertEvent::Triggered(a) => format!("+{}:{}", a.rule, a.severity.as_str()),
            AlertEvent::Repeated(a) => format!("*{}", a.rule),
            AlertEvent::Flapping(a) => format!("~{}", a.rule),
            AlertEvent::Resolved(a) => format!("-{}", a.rule),
        })
        .collect();
    out.sort();
    out
}

const NONE: [&str; 0] = [];

#[test]
fn a_zero_duration_condition_fires_on_its_first_evaluation_once_then_resolves_once() {
    let mut e = AlertEngine::new();
    let t = "threshold:system.cpuUsage";
    assert_eq!(
        check(&mut e, 1, &[t], vec![cond(t, Severity::Warning, 75.0)]),
        ["+threshold:system.cpuUsage:warning"]
    );
    assert_eq!(
        check(&mut e, 2, &[t], vec![cond(t, Severity::Warning, 76.0)]),
        NONE
    );
    assert_eq!(
        e.firing()[0].value,
        76.0,
        "the firing alert tracks the latest value"
    );
    assert_eq!(
        check(&mut e, 3, &[t], vec![]),
        ["-threshold:system.cpuUsage"]
    );
    assert_eq!(check(&mut e, 4, &[t], vec![]), NONE);
    assert!(e.firing().is_empty());
    assert_eq!(e.recently_resolved().next().unwrap().resolved_at, Some(3));
}

#[test]
fn a_duration_keeps_the_alert_pending_until_it_has_held_that_long() {
    let mut e = AlertEngine::new();
    let r = "rule:cpu-high";
    let timing = Timing {
        for_ms: 30_000,
        ..Timing::default()
    };
    assert_eq!(
        check(
            &mut e,
            0,
            &[r],
            vec![timed(r, Severity::Warning, 85.0, timing)]
        ),
        NONE
    );
    assert_eq!(e.pending().len(), 1);
    assert_eq!(
        check(
            &mut e,
            20_000,
            &[r],
            vec![timed(r, Severity::Warning, 85.0, timing)]
        ),
        NONE
    );
    assert_eq!(
        check(
            &mut e,
            30_000,
            &[r],
            vec![timed(r, Severity::Warning, 85.0, timing)]
        ),
        ["+rule:cpu-high:warning"]
    );
    assert_eq!(
        e.firing()[0].timestamp,
        30_000,
        "firing since the duration was met"
    );
    // A pending alert that clears goes back to inactive without a word.
    let mut e = AlertEngine::new();
    check(
        &mut e,
        0,
        &[r],
        vec![timed(r, Severity::Warning, 85.0, timing)],
    );
    assert_eq!(check(&mut e, 10_000, &[r], vec![]), NONE);
    assert!(e.pending().is_empty());
}

#[test]
fn keep_firing_for_ignores_a_short_dip() {
    let mut e = AlertEngine::new();
    let r = "rule:x";
    let timing = Timing {
        keep_firing_for_ms: 10_000,
        ..Timing::default()
    };
    check(
        &mut e,
        0,
        &[r],
        vec![timed(r, Severity::Warning, 1.0, timing)],
    );
    assert_eq!(check(&mut e, 5_000, &[r], vec![]), NONE, "cleared for 0 s");
    assert_eq!(
        check(
            &mut e,
            10_000,
            &[r],
            vec![timed(r, Severity::Warning, 1.0, timing)]
        ),
        NONE,
        "back: no new alert"
    );
    assert_eq!(check(&mut e, 15_000, &[r], vec![]), NONE);
    assert_eq!(check(&mut e, 24_000, &[r], vec![]), NONE, "cleared for 9 s");
    assert_eq!(
        check(&mut e, 25_000, &[r], vec![]),
        ["-rule:x"],
        "cleared for 10 s"
    );
}

#[test]
fn repeats_follow_the_repeat_interval_but_never_faster_than_the_cooldown() {
    let mut e = AlertEngine::new();
    let r = "rule:x";
    let timing = Timing {
        repeat_interval_ms: Some(60_000),
        cooldown_ms: 120_000,
        ..Timing::default()
    };
    let hot = || vec![timed(r, Severity::Warning, 1.0, timing)];
    assert_eq!(check(&mut e, 0, &[r], hot()), ["+rule:x:warning"]);
    assert_eq!(
        check(&mut e, 60_000, &[r], hot()),
        NONE,
        "the cooldown is longer"
    );
    assert_eq!(check(&mut e, 120_000, &[r], hot()), ["*rule:x"]);
    assert_eq!(check(&mut e, 200_000, &[r], hot()), NONE);
    // Resolution resets it: a new incident is told at once.
    assert_eq!(check(&mut e, 210_000, &[r], vec![]), ["-rule:x"]);
    assert_eq!(check(&mut e, 211_000, &[r], hot()), ["+rule:x:warning"]);
}

#[test]
fn without_a_repeat_interval_a_firing_alert_is_told_once() {
    let mut e = AlertEngine::new();
    let r = "rule:x";
    let timing = Timing {
        cooldown_ms: 1_000,
        ..Timing::default()
    };
    check(
        &mut e,
        0,
        &[r],
        vec![timed(r, Severity::Warning, 1.0, timing)],
    );
    for t in 1..100 {
        assert_eq!(
            check(
                &mut e,
                t * 10_000,
                &[r],
                vec![timed(r, Severity::Warning, 1.0, timing)]
            ),
            NONE
        );
    }
}

#[test]
fn escalation_to_critical_notifies_but_easing_back_does_not() {
    let mut e = AlertEngine::new();
    let t = "threshold:system.cpuUsage";
    check(&mut e, 1, &[t], vec![cond(t, Severity::Warning, 75.0)]);
    assert_eq!(
        check(&mut e, 2, &[t], vec![cond(t, Severity::Critical, 95.0)]),
        ["+threshold:system.cpuUsage:critical"]
    );
    assert_eq!(
        check(&mut e, 3, &[t], vec![cond(t, Severity::Warning, 80.0)]),
        NONE
    );
    assert_eq!(e.firing()[0].severity, Severity::Warning);
}

#[test]
fn a_rule_that_did_not_run_keeps_its_alerts() {
    let mut e = AlertEngine::new();
    let r = "disk/full";
    check(
        &mut e,
        1,
        &["disk"],
        vec![cond(r, Severity::Critical, 99.0)],
    );
    assert_eq!(check(&mut e, 2, &["other"], vec![]), NONE);
    assert_eq!(e.firing().len(), 1);
    assert_eq!(
        check(&mut e, 3, &["disk"], vec![]),
        ["-disk/full"],
        "the script ran and did not raise it"
    );
}

#[test]
fn duplicate_conditions_in_one_tick_keep_the_worst() {
    let mut e = AlertEngine::new();
    let r = "x/y";
    let events = check(
        &mut e,
        1,
        &["x"],
        vec![
            cond(r, Severity::Warning, 1.0),
            cond(r, Severity::Critical, 2.0),
        ],
    );
    assert_eq!(events, ["+x/y:critical"]);
}

#[test]
fn a_flapping_alert_is_told_once_then_quiet_until_it_settles() {
    let mut e = AlertEngine::new();
    let r = "rule:x";
    let mut told = Vec::new();
    // Fire and clear every minute: the third cycle makes it flapping.
    for minute in 0..8 {
        let t = minute * 60_000;
        told.extend(check(
            &mut e,
            t,
            &[r],
            vec![cond(r, Severity::Warning, 1.0)],
        ));
        told.extend(check(&mut e, t + 30_000, &[r], vec![]));
    }
    assert_eq!(
        told,
        [
            "+rule:x:warning",
            "-rule:x",
            "+rule:x:warning",
            "-rule:x",
            "+rule:x:warning",
            "~rule:x"
        ],
        "two cycles are told, the third is reported as flapping, then silence"
    );
    // It settles firing: after the quiet period, one notification of where it is.
    let settled_at = 8 * 60_000;
    check(
        &mut e,
        settled_at,
        &[r],
        vec![cond(r, Severity::Warning, 1.0)],
    );
    let quiet = settled_at + FLAP_QUIET_MS;
    assert_eq!(
        check(&mut e, quiet, &[r], vec![cond(r, Severity::Warning, 1.0)]),
        ["+rule:x:warning"]
    );
    assert!(!e.firing()[0].flapping);
}

#[test]
fn state_survives_a_restart_without_a_notification_storm() {
    let mut e = AlertEngine::new();
    let firing = "threshold:system.cpuUsage";
    let pending = "rule:slow";
    let slow = Timing {
        for_ms: 60_000,
        ..Timing::default()
    };
    check(
        &mut e,
        1_000,
        &[firing, pending],
        vec![
            cond(firing, Severity::Critical, 99.0),
            timed(pending, Severity::Warning, 1.0, slow),
        ],
    );
    let saved = serde_json::to_string(&e.state()).unwrap();

    let mut restarted = AlertEngine::restore(serde_json::from_str(&saved).unwrap());
    assert_eq!(restarted.firing().len(), 1);
    let still = vec![
        cond(firing, Severity::Critical, 99.0),
        timed(pending, Severity::Warning, 1.0, slow),
    ];
    assert_eq!(
        check(&mut restarted, 5_000, &[firing, pending], still.clone()),
        NONE,
        "no storm after the restart"
    );
    assert_eq!(
        check(&mut restarted, 61_000, &[firing, pending], still),
        ["+rule:slow:warning"],
        "the pending alert kept its start time"
    );
}

#[test]
fn alert_ids_are_url_safe() {
    let mut e = AlertEngine::new();
    check(&mut e, 1, &["r"], vec![cond("r/x", Severity::Warning, 1.0)]);
    let id = &e.firing()[0].id;
    assert!(
        id.starts_with("alert-") && id[6..].chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
}

#[test]
fn an_acknowledged_alert_stops_repeating_until_it_resolves() {
    let mut e = AlertEngine::new();
    let r = "rule:x";
    let timing = Timing {
        repeat_interval_ms: Some(10_000),
        ..Timing::default()
    };
    let hot = || vec![timed(r, Severity::Warning, 1.0, timing)];
    check(&mut e, 0, &[r], hot());
    assert_eq!(check(&mut e, 10_000, &[r], hot()), ["*rule:x"]);
    let id = e.firing()[0].id.clone();
    let ack = Acknowledgement {
        comment: "looking".into(),
        by: "ana".into(),
        at: 11_000,
    };
    assert_eq!(
        e.acknowledge(&id, ack).unwrap().acknowledged.unwrap().by,
        "ana"
    );
    assert!(
        e.acknowledge(
            "alert-nope",
            Acknowledgement {
                comment: String::new(),
                by: String::new(),
                at: 0
            }
        )
        .is_none()
    );
    assert_eq!(
        check(&mut e, 20_000, &[r], hot()),
        NONE,
        "acknowledged: no repeat"
    );
    assert_eq!(check(&mut e, 21_000, &[r], vec![]), ["-rule:x"]);
    assert_eq!(
        check(&mut e, 22_000, &[r], hot()),
        ["+rule:x:warning"],
        "a new incident is told"
    );
    assert!(e.firing()[0].acknowledged.is_none());
}

#[test]
fn another_rules_critical_on_the_series_inhibits_a_warning_and_only_a_warning() {
    let mut e = AlertEngine::new();
    let (early, late) = ("rule:cpu-early", "rule:cpu");
    check(
        &mut e,
        1,
        &[early, late],
        vec![
            cond(early, Severity::Warning, 96.0),
            cond(late, Severity::Critical, 96.0),
        ],
    );
    let firing = e.firing();
    let warning = firing.iter().find(|a| a.rule == early).unwrap();
    let critical = firing.iter().find(|a| a.rule == late).unwrap();
    assert_eq!(e.inhibitor(warning).as_deref(), Some(late));
    assert_eq!(e.inhibitor(critical), None);
    let told: Vec<String> = e.firing_uninhibited().into_iter().map(|a| a.rule).collect();
    assert_eq!(told, [late]);
}
