//! Rule scripts: Rhai files in `rules_dir`, compiled once and run every
//! tick against the in-memory window. This module owns Rhai.
//!
//! A script raises alerts by calling `alert(name, severity, message[, options])`
//! while its condition holds; the alert engine turns that into firing and
//! resolved notifications. A script that fails to compile is reported and
//! skipped; one that fails at run time is reported and keeps its alerts.

mod engine;
mod functions;
pub mod testing;
mod window_fns;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;

use crate::alert::Condition;
use crate::model::SeriesKey;
use crate::window::SampleWindow;
use functions::Shared;

pub use engine::hardened_engine;
pub use functions::parse_duration_ms;

/// The repository's `rules/`, for tests: from the `CARGO_MANIFEST_DIR` cargo
/// sets when it runs them (clones at other paths share one target dir).
#[cfg(test)]
pub(crate) fn shipped_rules_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../rules")
}

/// A script problem, with where it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleError {
    /// The script file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

struct Script {
    name: String,
    path: PathBuf,
    ast: rhai::AST,
}

/// What one evaluation produced.
#[derive(Debug, Default)]
pub struct RuleOutcome {
    /// Scripts that ran to completion.
    pub evaluated: HashSet<String>,
    /// Conditions they raised.
    pub conditions: Vec<Condition>,
    /// Scripts that failed at run time.
    pub failures: Vec<RuleError>,
    /// Bottlenecks they reported.
    pub bottlenecks: Vec<crate::alert::Detection>,
}

/// The compiled scripts of one rules directory.
pub struct RuleSet {
    engine: rhai::Engine,
    shared: Arc<Shared>,
    scripts: Vec<Script>,
    compile_errors: Vec<RuleError>,
}

impl RuleSet {
    /// Compiles every `*.rhai` in `dir` (a missing directory is an empty
    /// rule set). Scripts read `window`.
    pub fn load(dir: &Path, window: Arc<RwLock<SampleWindow>>) -> Self {
        Self::from_files(&crate::dir::files_with_extension(dir, "rhai"), window)
    }

    /// Compiles exactly these script files.
    pub fn from_files(paths: &[PathBuf], window: Arc<RwLock<SampleWindow>>) -> Self {
        let shared = Arc::new(Shared {
            window,
            now_ms: Default::default(),
            raised: Mutex::new(Vec::new()),
            detected: Mutex::new(Vec::new()),
        });
        let mut engine = hardened_engine();
        functions::register(&mut engine, &shared);
        let mut set = Self {
            engine,
            shared,
            scripts: Vec::new(),
            compile_errors: Vec::new(),
        };
        for path in paths {
            set.reload_file(path);
        }
        set
    }

    /// Compiles `path` again after it changed. On success the new version
    /// replaces the old; on failure the last good version (if any) keeps
    /// running and the error is kept for the API. A file that no longer
    /// exists is removed. Returns whether anything changed.
    pub fn reload_file(&mut self, path: &Path) -> bool {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.compile_errors.retain(|e| e.file != path);
        if !path.exists() {
            let before = self.scripts.len();
            self.scripts.retain(|s| s.path != path);
            return before != self.scripts.len();
        }
        let compiled = std::fs::read_to_string(path)
            .map_err(|e| RuleError {
                file: path.to_owned(),
                line: None,
                column: None,
                message: format!("cannot read: {e}"),
            })
            .and_then(|text| {
                self.engine.compile(&text).map_err(|e| {
                    let pos = e.position();
                    RuleError {
                        file: path.to_owned(),
                        line: pos.line(),
                        column: pos.position(),
                        message: e.err_type().to_string(),
                    }
                })
            });
        match compiled {
            Ok(mut ast) => {
                ast.set_source(path.display().to_string());
                let script = Script {
                    name,
                    path: path.to_owned(),
                    ast,
                };
                match self.scripts.iter_mut().find(|s| s.path == path) {
                    Some(old) => *old = script,
                    None => {
                        self.scripts.push(script);
                        self.scripts.sort_by(|a, b| a.path.cmp(&b.path));
                    }
                }
            }
            Err(error) => self.compile_errors.push(error),
        }
        true
    }

    /// Names of the scripts that compiled.
    pub fn script_names(&self) -> Vec<&str> {
        self.scripts.iter().map(|s| s.name.as_str()).collect()
    }

    /// Scripts that failed to compile and why.
    pub fn compile_errors(&self) -> &[RuleError] {
        &self.compile_errors
    }

    /// Runs every script once against the window as of `now_ms`.
    pub fn evaluate(&self, now_ms: i64) -> RuleOutcome {
        self.shared.now_ms.store(now_ms, Ordering::Relaxed);
        let mut outcome = RuleOutcome::default();
        for script in &self.scripts {
            self.shared.raised.lock().expect("raised lock").clear();
            self.shared.detected.lock().expect("detected lock").clear();
            let result = self
                .engine
                .run_ast_with_scope(&mut rhai::Scope::new(), &script.ast);
            let raised = std::mem::take(&mut *self.shared.raised.lock().expect("raised lock"));
            let detected =
                std::mem::take(&mut *self.shared.detected.lock().expect("detected lock"));
            match result {
                Ok(()) => {
                    outcome.evaluated.insert(script.name.clone());
                    outcome.bottlenecks.extend(detected.into_iter().map(|d| {
                        crate::alert::Detection {
                            source: script.name.clone(),
                            ..d
                        }
                    }));
                    outcome
                        .conditions
                        .extend(raised.into_iter().map(|r| Condition {
                            rule: format!("{}/{}", script.name, r.name),
                            series: SeriesKey {
                                metric: r.metric,
                                labels: r.labels,
                            },
                            severity: r.severity,
                            value: r.value,
                            threshold: r.threshold,
                            message: r.message,
                            component: r.component,
                            description: None,
                            runbook_url: None,
                            timing: r.timing,
                        }));
                }
                Err(e) => {
                    let pos = e.position();
                    outcome.failures.push(RuleError {
                        file: script.path.clone(),
                        line: pos.line(),
                        column: pos.position(),
                        message: e.unwrap_inner().to_string(),
                    });
                }
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests;
