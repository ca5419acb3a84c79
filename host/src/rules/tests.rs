//! Rule scripts against a real window, through `check(script, samples)`.

use super::*;
use crate::model::{Sample, Severity};

fn rule_set(
    scripts: &[(&str, &str)],
    samples: &[(&str, f64, i64)],
) -> (tempfile::TempDir, RuleSet) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in scripts {
        std::fs::write(dir.path().join(format!("{name}.rhai")), text).unwrap();
    }
    let mut window = SampleWindow::new();
    let samples: Vec<_> = samples
        .iter()
        .map(|(m, v, t)| Sample::gauge(m, *v, *t))
        .collect();
    window.insert_all(&samples);
    let set = RuleSet::load(dir.path(), Arc::new(RwLock::new(window)));
    (dir, set)
}

#[test]
fn a_script_raises_an_alert_from_the_latest_value() {
    let script = r#"
        let cpu = value("system.cpuUsage");
        if cpu > 90.0 {
            alert("cpu-hot", "critical", `CPU at ${cpu}%`, #{ metric: "system.cpuUsage", value: cpu, threshold: 90.0 });
        }
    "#;
    let (_d, set) = rule_set(
        &[("cpu", script)],
        &[
            ("system.cpuUsage", 50.0, 1000),
            ("system.cpuUsage", 95.0, 2000),
        ],
    );
    let outcome = set.evaluate(2000);
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert!(outcome.evaluated.contains("cpu"));
    assert_eq!(outcome.conditions.len(), 1);
    let c = &outcome.conditions[0];
    assert_eq!(c.rule, "cpu/cpu-hot");
    assert_eq!(c.severity, Severity::Critical);
    assert_eq!(c.message, "CPU at 95.0%");
    assert_eq!(c.component, "system");
}

#[test]
fn window_functions_cover_a_duration() {
    let script = r#"
        if avg("m.x", "2s") == 15.0 && min("m.x", "2s") == 10.0 && max("m.x", "1h") == 20.0 && value("m.none").is_nan() {
            alert("ok", "warning", "functions agree");
        }
    "#;
    let (_d, set) = rule_set(
        &[("f", script)],
        &[("m.x", 0.0, 0), ("m.x", 10.0, 9000), ("m.x", 20.0, 10_000)],
    );
    let outcome = set.evaluate(10_000);
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert_eq!(outcome.conditions.len(), 1);
}

#[test]
fn a_syntax_error_names_file_line_and_column_and_spares_other_scripts() {
    let (_d, set) = rule_set(
        &[
            ("broken", "let x = ;\n"),
            ("fine", "alert(\"a\", \"warning\", \"m\");"),
        ],
        &[],
    );
    let errors = set.compile_errors();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].file.ends_with("broken.rhai"));
    assert_eq!(errors[0].line, Some(1));
    assert!(errors[0].column.is_some());
    assert_eq!(set.evaluate(0).conditions.len(), 1);
}

#[test]
fn an_undefined_variable_is_a_compile_error() {
    let (_d, set) = rule_set(&[("typo", "if cpu > 1.0 { }")], &[]);
    assert!(
        set.compile_errors()[0].message.contains("cpu"),
        "{:?}",
        set.compile_errors()
    );
}

#[test]
fn a_runaway_script_is_stopped_and_reported() {
    let (_d, set) = rule_set(
        &[
            ("spin", "loop { }"),
            ("ok", "alert(\"a\", \"warning\", \"m\");"),
        ],
        &[],
    );
    let outcome = set.evaluate(0);
    assert_eq!(outcome.failures.len(), 1);
    assert!(
        outcome.failures[0].message.contains("operations"),
        "{}",
        outcome.failures[0].message
    );
    assert!(!outcome.evaluated.contains("spin"));
    assert!(outcome.evaluated.contains("ok"));
}

#[test]
fn bad_alert_arguments_are_runtime_errors_in_words() {
    let (_d, set) = rule_set(&[("bad", "alert(\"a\", \"severe\", \"m\");")], &[]);
    let outcome = set.evaluate(0);
    assert!(
        outcome.failures[0]
            .message
            .contains("warning\" or \"critical"),
        "{}",
        outcome.failures[0].message
    );
}

#[test]
fn eval_is_not_available() {
    let (_d, set) = rule_set(&[("ev", "eval(\"1\");")], &[]);
    assert_eq!(
        set.compile_errors().len() + set.evaluate(0).failures.len(),
        1
    );
}

#[test]
fn the_shipped_rules_compile_and_stay_quiet_on_an_idle_machine() {
    let dir = super::shipped_rules_dir();
    let mut window = SampleWindow::new();
    let idle = [
        ("system.cpuUsage", 3.0),
        ("system.memoryUsage", 40.0),
        ("system.diskUsage", 30.0),
    ];
    let samples: Vec<_> = idle
        .iter()
        .map(|(m, v)| Sample::gauge(m, *v, 1000))
        .collect();
    window.insert_all(&samples);
    let set = RuleSet::load(&dir, Arc::new(RwLock::new(window)));
    assert!(
        set.compile_errors().is_empty(),
        "{:?}",
        set.compile_errors()
    );
    assert!(!set.script_names().is_empty());
    let outcome = set.evaluate(1000);
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert!(outcome.conditions.is_empty(), "{:?}", outcome.conditions);
}

#[test]
fn a_broken_edit_keeps_the_last_good_version_running() {
    let (dir, mut set) = rule_set(&[("edit", "alert(\"v1\", \"warning\", \"first\");")], &[]);
    let path = dir.path().join("edit.rhai");
    std::fs::write(&path, "alert(\"v1\", \"warning\", ;").unwrap();
    assert!(set.reload_file(&path));
    assert_eq!(set.compile_errors().len(), 1);
    assert_eq!(set.compile_errors()[0].line, Some(1));
    assert_eq!(
        set.evaluate(0).conditions[0].message,
        "first",
        "the last good version runs"
    );

    std::fs::write(&path, "alert(\"v2\", \"warning\", \"second\");").unwrap();
    set.reload_file(&path);
    assert!(
        set.compile_errors().is_empty(),
        "a good version clears the error"
    );
    assert_eq!(set.evaluate(0).conditions[0].message, "second");

    std::fs::remove_file(&path).unwrap();
    set.reload_file(&path);
    assert!(set.script_names().is_empty());
}

#[test]
fn label_selectors_rates_and_percentiles_are_available_to_scripts() {
    let (_d, set) = rule_set(
        &[(
            "sel",
            r#"
        let slow = series("agents.avgResponseTime").filter(|s| s.value > 1000.0);
        for s in slow {
            alert("slow-agent", "warning", `agent ${s.labels.agent} is slow`, #{ metric: "agents.avgResponseTime", labels: s.labels, value: s.value });
        }
        if sum("m.x", "1h") == 30.0 && percentile("m.x", 50.0, "1h") == 10.0 && rate("m.c", "1h") == 1.0
            && value("agents.avgResponseTime", #{ agent: "b" }) == 2000.0 {
            alert("fns", "warning", "functions agree");
        }
    "#,
        )],
        &[
            ("m.x", 0.0, 0),
            ("m.x", 10.0, 1000),
            ("m.x", 20.0, 2000),
            ("m.c", 5.0, 0),
            ("m.c", 15.0, 10_000),
        ],
    );
    {
        let mut w = set.shared.window.write().unwrap();
        let agent = |name: &str, v: f64| {
            let mut s = Sample::gauge("agents.avgResponseTime", v, 2000);
            s.labels =
                crate::model::Labels::try_from_pairs([("agent".into(), name.into())]).unwrap();
            s
        };
        w.insert_all(&[agent("a", 200.0), agent("b", 2000.0)]);
    }
    let outcome = set.evaluate(10_000);
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let mut names: Vec<String> = outcome
        .conditions
        .iter()
        .map(|c| format!("{}{}", c.rule, c.series.labels))
        .collect();
    names.sort();
    assert_eq!(names, ["sel/fns{}", "sel/slow-agent{agent=\"b\"}"]);
}
