//! A Python virtual environment for the tests that check a format with a PyPI package (DuckDB's `read_csv`, the Datadog and New Relic models): created under the target directory and filled with pinned packages once, by whichever test needs it first.

use std::path::PathBuf;
use std::process::Command;

use crate::smtp::SYSTEM_PYTHON;

/// The PyPI packages the tests read exports with, pinned so a new release
/// cannot change what a test checks. DuckDB's Python package brings its own
/// engine: `read_csv` as DuckDB users run it. Datadog's API client and New
/// Relic's telemetry SDK hold the vendors' own models of their intake
/// bodies; Python-Markdown renders the Markdown summary.
pub const TEST_PYTHON_PACKAGES: &[&str] = &[
    "duckdb==1.4.4",
    "datadog-api-client==2.62.0",
    "newrelic-telemetry-sdk==0.9.0",
    "markdown==3.7",
];

/// Written after a complete install; an interrupted one has none and is
/// redone.
const INSTALLED_MARKER: &str = "perfwatch-test-packages";

/// The environment's interpreter, with [`TEST_PYTHON_PACKAGES`] installed.
/// Idempotent and safe across test processes: the install runs under a
/// file lock, and only when the marker does not list exactly these pins.
pub fn test_python() -> PathBuf {
    let venv = crate::profile_dir()
        .parent()
        .expect("target/<profile>")
        .join("test-python");
    let python = venv.join("bin/python");
    let marker = venv.join(INSTALLED_MARKER);
    let wanted = TEST_PYTHON_PACKAGES.join("\n");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return python;
    }
    std::fs::create_dir_all(&venv).expect("create the test venv directory");
    let lock = std::fs::File::create(venv.with_extension("lock")).expect("venv lock file");
    lock.lock().expect("lock the test venv");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return python;
    }
    run(Command::new(SYSTEM_PYTHON).args(["-m", "venv"]).arg(&venv));
    run(Command::new(&python)
        .args(["-m", "pip", "install", "--quiet"])
        .args(TEST_PYTHON_PACKAGES));
    std::fs::write(&marker, wanted).expect("write the venv marker");
    python
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} does not start: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `script` with `args` in the test environment and returns what it
/// printed; a failing script fails the test with its output.
pub fn run_python(script: &str, args: &[&str]) -> String {
    let output = Command::new(test_python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python starts");
    assert!(
        output.status.success(),
        "the python check failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}
