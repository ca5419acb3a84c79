//! Rules and alerting: one tick's evaluation of 1,000 rules over 2,000
//! series, as configured rules and as Rhai scripts, against a baseline of
//! reading every series' latest value once.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use perfwatch::alert::{AlertEngine, evaluate_alert_rules};
use perfwatch::config::Config;
use perfwatch::model::{Labels, Sample};
use perfwatch::rules::RuleSet;
use perfwatch::window::SampleWindow;

use crate::stats::{Timing, human};

const RULES: usize = 1000;
const SERIES: usize = 2000;
/// Points per series: ten minutes at one a second, the window's span, so
/// reads decode the window's sealed blocks as they do in the host.
const POINTS: i64 = 600;

/// 1,000 metrics with two labelled series each, ten minutes of points.
fn window() -> SampleWindow {
    let mut w = SampleWindow::new();
    let mut batch = Vec::with_capacity(SERIES * POINTS as usize);
    for i in 0..SERIES {
        for t in 0..POINTS {
            let mut s = Sample::gauge(
                &format!("bench.m{}", i / 2),
                (i % 100) as f64 + (t % 7) as f64,
                t * 1000,
            );
            s.labels =
                Labels::try_from_pairs([("instance".to_owned(), (i % 2).to_string())]).unwrap();
            batch.push(s);
        }
    }
    w.insert_all(&batch);
    w
}

pub fn run() -> anyhow::Result<String> {
    let now = (POINTS - 1) * 1000;
    let window = window();

    // Configured rules: one per metric, two levels, a duration. About a
    // tenth of the series breach, so the engine has real work.
    let mut config_text = String::from("port = 0\n");
    for i in 0..RULES {
        writeln!(
            config_text,
            "[[alert_rules]]\nid = \"r{i}\"\nmetric = \"bench.m{i}\"\ncondition = \"greater_than\"\nwarning = 90.0\ncritical = 99.0\nduration = 30000\n"
        )?;
    }
    let config = Config::from_toml_str(&config_text, "bench")?;
    let mut engine = AlertEngine::new();
    let mut configured = Vec::new();
    for tick in 0..30 {
        let started = Instant::now();
        let (ids, conditions) = evaluate_alert_rules(&config.alert_rules, &window, &engine);
        let evaluated: HashSet<String> = ids.into_iter().collect();
        std::hint::black_box(engine.apply(now + tick * 1000, &evaluated, conditions));
        configured.push(started.elapsed());
    }
    let configured = Timing::of(configured);

    // Rhai scripts: one per metric, each reading a one-minute average over
    // both series and the latest value.
    let dir = tempfile::tempdir()?;
    let mut paths = Vec::with_capacity(RULES);
    for i in 0..RULES {
        let path = dir.path().join(format!("r{i}.rhai"));
        std::fs::write(
            &path,
            format!(
                "let a = avg(\"bench.m{i}\", \"1m\", #{{}});\nif a > 90.0 || value(\"bench.m{i}\", #{{ instance: \"0\" }}) > 99.0 {{\n    alert(\"hot\", \"warning\", `avg ${{a}}`);\n}}\n"
            ),
        )?;
        paths.push(path);
    }
    let shared = Arc::new(RwLock::new(window));
    let rules = RuleSet::from_files(&paths, shared.clone());
    anyhow::ensure!(
        rules.compile_errors().is_empty(),
        "{:?}",
        rules.compile_errors()
    );
    let mut scripted = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let outcome = rules.evaluate(now);
        anyhow::ensure!(outcome.failures.is_empty(), "{:?}", outcome.failures);
        std::hint::black_box(outcome);
        scripted.push(started.elapsed());
    }
    let scripted = Timing::of(scripted);

    // Baseline: touching each series' latest value once.
    let mut baseline = Vec::new();
    let window = shared.read().unwrap();
    for _ in 0..30 {
        let started = Instant::now();
        let sum: f64 = window
            .iter()
            .filter_map(|(_, s)| s.latest())
            .map(|(_, v)| v)
            .sum();
        std::hint::black_box(sum);
        baseline.push(started.elapsed());
    }
    let baseline = Timing::of(baseline);

    let mut out = String::new();
    writeln!(out, "## Rules\n")?;
    writeln!(
        out,
        "Command: `cargo xtask bench` (bench/src/rules.rs); {SERIES} series ({} metrics × 2), {POINTS} points each.\n",
        SERIES / 2
    )?;
    writeln!(
        out,
        "| measure | median | p99 | runs | baseline (same run) | aim |"
    )?;
    writeln!(out, "| --- | --- | --- | --- | --- | --- |")?;
    writeln!(
        out,
        "| {RULES} `[[alert_rules]]` (two levels, duration) evaluated and applied, one tick | {} | {} | {} | read every series' latest value once: {} | ≤ 10 ms |",
        human(configured.median),
        human(configured.p99),
        configured.runs,
        human(baseline.median)
    )?;
    writeln!(
        out,
        "| {RULES} Rhai scripts (one-minute average over a label selector, latest value), one tick | {} | {} | {} | — | ≤ 10 ms |",
        human(scripted.median),
        human(scripted.p99),
        scripted.runs
    )?;
    writeln!(out)?;
    Ok(out)
}
