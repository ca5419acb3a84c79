//! End-to-end test support: start the real `perfwatch` binary on a free
//! loopback port with a temporary data directory, talk to it over real
//! HTTP and WebSocket connections, wait for what it does, and kill it like
//! a crash would; run real peers (HTTP servers, Prometheus, Alertmanager, an
//! SMTP relay) beside it, and a headless Chromium in front of it.

mod alertmanager;
mod chromium;
mod host;
mod http;
mod peer;
mod prometheus;
mod python;
mod server;
mod smtp;
mod tls;
mod wait;
mod ws;

pub use alertmanager::{ALERTMANAGER_BINARY, AlertmanagerProcess};
pub use chromium::{CHROMIUM_BINARY, Chromium, Page, Transfer, artifact_path};
pub use host::{
    CliOutput, HostDir, PerfwatchProcess, perfwatch_binary, profile_dir, repo_root, run_cli,
};
pub use http::{
    HttpResponse, delete, get, get_with, post_bytes, post_json, request, try_get, try_post_json,
};
pub use peer::{HttpPeer, Received, Route};
pub use prometheus::{PROMETHEUS_BINARY, PROMTOOL_BINARY, PrometheusProcess};
pub use python::{TEST_PYTHON_PACKAGES, run_python, test_python};
pub use server::{ServerProcess, free_loopback_addr};
pub use smtp::{ReceivedMail, SYSTEM_PYTHON, SmtpRelay, SmtpSecurity, TestCertificate};
pub use tls::{https_request, wss_connect};
pub use wait::{WAIT, eventually, wait_for};
pub use ws::Stream;

use std::path::PathBuf;

/// A shipped plugin's component, as `cargo xtask plugins` leaves it in
/// `plugins/dist/`; fails with the command that builds it when missing.
pub fn shipped_plugin(name: &str) -> PathBuf {
    existing(
        repo_root()
            .join("plugins/dist")
            .join(format!("{name}.wasm")),
    )
}

/// A fixture plugin's component, built by `cargo xtask plugins` into the
/// wasm target directory beside this build's.
pub fn fixture_plugin(name: &str) -> PathBuf {
    let target = profile_dir().parent().expect("target/<profile>").to_owned();
    existing(
        target
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", name.replace('-', "_"))),
    )
}

/// The `*.wasm` files in `dir`, sorted.
pub fn wasm_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask plugins`)", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    files
}

fn existing(path: PathBuf) -> PathBuf {
    assert!(
        path.is_file(),
        "{} is missing: build the plugins first with `cargo xtask plugins` (or run the suite with `cargo xtask test`)",
        path.display()
    );
    path
}
