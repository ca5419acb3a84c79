//! Test tables for rule scripts: `<rule>.test.toml` beside `<rule>.rhai`
//! feeds series over time through the script, the alert engine and the
//! bottleneck tracker, and checks what is firing and detected when.
//!
//! ```toml
//! [[case]]
//! name = "a minute of saturated CPU is a bottleneck"
//! step = "5s"                                   # time between points; 1s by default
//! series = { "system.cpuUsage" = [40, 95, 96, 97, 98, 99, 97, 96, 95, 97, 98, 99, 97] }
//! expect = [
//!   { at = "0s", bottlenecks = [] },
//!   { at = "60s", bottlenecks = ["cpu/system"], alerts = [] },
//! ]
//! ```
//!
//! A series key is a metric name, optionally with labels:
//! `agents.avgResponseTime{agent="coder-1"}`. `alerts` lists the script's
//! firing alerts as `name:severity`; `bottlenecks` lists current bottleneck
//! ids (`kind/component`). A list that is left out is not checked.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::Deserialize;

use super::{RuleSet, parse_duration_ms};
use crate::alert::{AlertEngine, BottleneckTracker};
use crate::model::{Labels, Sample, canonical_metric_name, known_unit};
use crate::window::SampleWindow;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default = "one_second")]
    step: String,
    series: BTreeMap<String, Vec<f64>>,
    expect: Vec<Expectation>,
}

fn one_second() -> String {
    "1s".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    at: String,
    #[serde(default)]
    alerts: Option<Vec<String>>,
    #[serde(default)]
    bottlenecks: Option<Vec<String>>,
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    /// The script tested.
    pub script: PathBuf,
    /// The case's name.
    pub case: String,
    /// What did not match (empty when the case passed).
    pub failures: Vec<String>,
}

impl CaseResult {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The test table of each script in `dir`, and the scripts without one.
pub fn discover(dir: &Path) -> (Vec<(PathBuf, PathBuf)>, Vec<PathBuf>) {
    let mut with = Vec::new();
    let mut without = Vec::new();
    for script in crate::dir::files_with_extension(dir, "rhai") {
        let table = script.with_extension("test.toml");
        if table.is_file() {
            with.push((script, table))
        } else {
            without.push(script)
        }
    }
    (with, without)
}

/// Runs every case of `table` against `script`. A table that cannot be
/// read is one failing result.
pub fn run_table(script: &Path, table: &Path) -> Vec<CaseResult> {
    let fail = |case: &str, why: String| {
        vec![CaseResult {
            script: script.to_owned(),
            case: case.to_owned(),
            failures: vec![why],
        }]
    };
    let text = match std::fs::read_to_string(table) {
        Ok(t) => t,
        Err(e) => return fail("(table)", format!("cannot read {}: {e}", table.display())),
    };
    let file: TestFile = match toml::from_str(&text) {
        Ok(f) => f,
        Err(e) => {
            return fail(
                "(table)",
                format!("{}: {}", table.display(), e.to_string().trim_end()),
            );
        }
    };
    file.case
        .into_iter()
        .map(|case| run_case(script, case))
        .collect()
}

fn run_case(script: &Path, case: Case) -> CaseResult {
    let mut result = CaseResult {
        script: script.to_owned(),
        case: case.name.clone(),
        failures: Vec::new(),
    };
    let step = match parse_duration_ms(&case.step) {
        Ok(s) if s > 0 => s,
        Ok(_) => {
            result.failures.push("`step` must be positive".into());
            return result;
        }
        Err(e) => {
            result.failures.push(format!("`step`: {e}"));
            return result;
        }
    };
    let mut series = Vec::new();
    for (key, values) in &case.series {
        match parse_series_key(key) {
            Ok((metric, labels)) => series.push((metric, labels, values)),
            Err(e) => result.failures.push(e),
        }
    }
    let mut expectations = Vec::new();
    let ticks = case.series.values().map(Vec::len).max().unwrap_or(0) as i64;
    for e in &case.expect {
        let at = if e.at == "end" {
            Ok((ticks - 1).max(0) * step)
        } else {
            parse_duration_ms(&e.at)
        };
        match at {
            Ok(at) if at % step == 0 && at / step < ticks => expectations.push((at, e)),
            Ok(at) => result.failures.push(format!(
                "`at = {:?}` ({at} ms) is not a tick of this case",
                e.at
            )),
            Err(err) => result.failures.push(format!("`at`: {err}")),
        }
    }
    if !result.failures.is_empty() {
        return result;
    }

    let window = Arc::new(RwLock::new(SampleWindow::new()));
    let rules = RuleSet::from_files(&[script.to_owned()], window.clone());
    if let Some(error) = rules.compile_errors().first() {
        result.failures.push(format!("does not compile: {error}"));
        return result;
    }
    let mut engine = AlertEngine::new();
    let mut tracker = BottleneckTracker::new();
    for tick in 0..ticks {
        let now = tick * step;
        let samples: Vec<Sample> = series
            .iter()
            .filter_map(|(metric, labels, values)| {
                let value = *values.get(tick as usize)?;
                Some(Sample {
                    metric: metric.clone(),
                    value,
                    unit: known_unit(metric).unwrap_or_default().to_owned(),
                    kind: Default::default(),
                    labels: labels.clone(),
                    timestamp_ms: now,
                })
            })
            .collect();
        window.write().expect("window lock").insert_all(&samples);
        let outcome = rules.evaluate(now);
        for failure in &outcome.failures {
            result
                .failures
                .push(format!("at {now} ms the script failed: {failure}"));
        }
        let evaluated: HashSet<String> = outcome.evaluated;
        engine.apply(now, &evaluated, outcome.conditions);
        tracker.apply(now, &evaluated, outcome.bottlenecks);
        for (_, expectation) in expectations.iter().filter(|(at, _)| *at == now) {
            if let Some(want) = &expectation.alerts {
                let mut got: Vec<String> = engine
                    .firing()
                    .iter()
                    .map(|a| {
                        format!(
                            "{}:{}",
                            a.rule.split_once('/').map_or(a.rule.as_str(), |(_, n)| n),
                            a.severity.as_str()
                        )
                    })
                    .collect();
                got.sort();
                let mut want = want.clone();
                want.sort();
                if got != want {
                    result.failures.push(format!(
                        "at {}: alerts firing are {got:?}, expected {want:?}",
                        expectation.at
                    ));
                }
            }
            if let Some(want) = &expectation.bottlenecks {
                let mut got: Vec<String> = tracker.current().into_iter().map(|b| b.id).collect();
                got.sort();
                let mut want = want.clone();
                want.sort();
                if got != want {
                    result.failures.push(format!(
                        "at {}: bottlenecks are {got:?}, expected {want:?}",
                        expectation.at
                    ));
                }
            }
        }
    }
    result
}

/// `metric` or `metric{k="v",k2="v2"}` (quotes optional).
fn parse_series_key(key: &str) -> Result<(String, Labels), String> {
    let (name, labels) = match key.split_once('{') {
        Some((name, rest)) => {
            let inner = rest
                .strip_suffix('}')
                .ok_or_else(|| format!("series {key:?}: labels must end with `}}`"))?;
            let pairs = inner
                .split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| {
                    let (k, v) = p
                        .split_once('=')
                        .ok_or_else(|| format!("series {key:?}: a label is `name=value`"))?;
                    Ok((k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
                })
                .collect::<Result<Vec<_>, String>>()?;
            (
                name,
                Labels::try_from_pairs(pairs).map_err(|e| format!("series {key:?}: {e}"))?,
            )
        }
        None => (key, Labels::new()),
    };
    let metric = canonical_metric_name(name.trim()).map_err(|e| format!("series {key:?}: {e}"))?;
    Ok((metric, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_rule_has_a_passing_test_table() {
        let dir = super::super::shipped_rules_dir();
        let (tables, untested) = discover(&dir);
        assert!(
            untested.is_empty(),
            "rules without a test table: {untested:?}"
        );
        assert!(!tables.is_empty());
        for (script, table) in tables {
            for result in run_table(&script, &table) {
                assert!(
                    result.passed(),
                    "{} / {}: {:?}",
                    script.display(),
                    result.case,
                    result.failures
                );
            }
        }
    }

    #[test]
    fn a_wrong_expectation_fails_and_says_what_was_seen() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("hot.rhai");
        std::fs::write(
            &script,
            r#"if value("m.x") > 5.0 { alert("hot", "critical", "hot"); }"#,
        )
        .unwrap();
        let table = dir.path().join("hot.test.toml");
        std::fs::write(
            &table,
            "[[case]]\nname = \"wrong on purpose\"\nseries = { \"m.x\" = [1, 9] }\nexpect = [{ at = \"1s\", alerts = [] }]\n",
        )
        .unwrap();
        let results = run_table(&script, &table);
        assert_eq!(
            results[0].failures,
            ["at 1s: alerts firing are [\"hot:critical\"], expected []"]
        );
    }

    #[test]
    fn series_keys_take_labels() {
        let (metric, labels) =
            parse_series_key(r#"agents.avg_response_time{agent="a", team=x}"#).unwrap();
        assert_eq!(metric, "agents.avgResponseTime");
        assert_eq!(labels.get("team"), Some("x"));
        assert!(parse_series_key("a.b{agent").is_err());
    }
}
