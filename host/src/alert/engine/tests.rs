//! The alert lifecycle, driven tick by tick through `check`.

use super::*;

fn cond(rule: &str, severity: Severity, value: f64) -> Condition {
    Condition {
        rule: rule.into(),
        series: SeriesKey {
            metric: "system.cpuUsage".into(),
            labels: Default::default(),
        },
        severity,
        value,
        threshold: 70.0,
        message: format!("CPU Usage: {value}%"),
        component: "system".into(),
    }
}

fn rules(ids: &[&str]) -> HashSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// Runs one tick and renders its events as `+rule:severity` / `-rule`.
fn check(
    engine: &mut AlertEngine,
    now: i64,
    evaluated: &[&str],
    conditions: Vec<Condition>,
) -> Vec<String> {
    let mut out: Vec<String> = engine
        .apply(now, &rules(evaluated), conditions)
        .into_iter()
        .map(|e| match e {
            AlertEvent::Triggered(a) => format!("+{}:{}", a.rule, a.severity.as_str()),
            AlertEvent::Resolved(a) => format!("-{}", a.rule),
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_holding_condition_fires_once_then_resolves_once() {
    let mut e = AlertEngine::new();
    let t = "threshold:system.cpuUsage";
    assert_eq!(
        check(&mut e, 1, &[t], vec![cond(t, Severity::Warning, 75.0)]),
        ["+threshold:system.cpuUsage:warning"]
    );
    assert_eq!(
        check(&mut e, 2, &[t], vec![cond(t, Severity::Warning, 76.0)]),
        Vec::<String>::new()
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
    assert_eq!(check(&mut e, 4, &[t], vec![]), Vec::<String>::new());
    assert!(e.firing().is_empty());
    assert_eq!(e.recently_resolved().next().unwrap().resolved_at, Some(3));
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
        Vec::<String>::new()
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
    assert_eq!(check(&mut e, 2, &["other"], vec![]), Vec::<String>::new());
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
fn alert_ids_are_url_safe() {
    let mut e = AlertEngine::new();
    check(&mut e, 1, &["r"], vec![cond("r/x", Severity::Warning, 1.0)]);
    let id = &e.firing()[0].id;
    assert!(
        id.starts_with("alert-") && id[6..].chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
}
