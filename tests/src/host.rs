//! Starting and killing the real binary.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long start-up may take: compiling the plugins is the slow part
/// (about 100 ms each here).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The workspace root, from the `CARGO_MANIFEST_DIR` cargo sets when it runs
/// the tests: checkouts at different paths share one target directory, and
/// an unchanged crate is not rebuilt when only the checkout moved.
pub fn repo_root() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .parent()
    .expect("tests/ is in the workspace")
    .to_owned()
}

/// `<target>/<profile>` of this build: the test executable lives in its
/// `deps/` directory.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps layout")
        .to_owned()
}

/// The `perfwatch` binary of the same build as this test.
pub fn perfwatch_binary() -> PathBuf {
    let binary = profile_dir().join(format!("perfwatch{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: run the suite with `cargo xtask test` (or `cargo test --release --workspace`), which builds it",
        binary.display()
    );
    binary
}

/// A running `perfwatch serve`.
pub struct PerfwatchProcess {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its log (stderr), collected in the background.
    log: mpsc::Receiver<String>,
    log_lines: Vec<String>,
}

impl PerfwatchProcess {
    /// Runs `perfwatch serve --config <config>` and waits for it to listen.
    pub fn start(config: &Path) -> Self {
        let mut child = Command::new(perfwatch_binary())
            .args(["serve", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_LOG", "info")
            .spawn()
            .expect("perfwatch starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (log_tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = log_tx.send(line);
            }
        });
        let (addr_tx, addr_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("perfwatch listening on http://") {
                    let _ = addr_tx.send(addr.parse::<SocketAddr>().expect("a socket address"));
                }
            }
        });
        let mut process = Self {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            log,
            log_lines: Vec::new(),
        };
        match addr_rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(addr) => process.addr = addr,
            Err(_) => {
                let _ = process.child.kill();
                panic!(
                    "perfwatch did not start listening; its log:\n{}",
                    process.log().join("\n")
                );
            }
        }
        process
    }

    /// Everything it logged so far.
    pub fn log(&mut self) -> Vec<String> {
        self.log_lines.extend(self.log.try_iter());
        self.log_lines.clone()
    }

    /// `http://<addr>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// SIGKILL, as a crash or an OOM kill would: no clean shutdown.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for PerfwatchProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
