//! Starting and killing the real binary, each in a temporary directory
//! of its own.

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

/// What a one-shot `perfwatch` command printed, and whether it succeeded.
#[derive(Debug)]
pub struct CliOutput {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl CliOutput {
    /// Standard output, then standard error: for checks that do not care
    /// which stream a message went to.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `perfwatch <args>` to completion: the subcommands that answer and
/// exit (`query`, `plugins check`).
pub fn run_cli<I, S>(args: I) -> CliOutput
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new(perfwatch_binary())
        .args(args)
        .output()
        .expect("perfwatch runs");
    CliOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temporary directory for one host: `data/`, `plugins/` holding the
/// components a test asks for, `exports/`, and a `perfwatch.toml` pointing
/// at them on port 0. Nothing of the checkout or of another test is shared,
/// so tests run in parallel and a restart finds exactly what the killed
/// host left.
pub struct HostDir {
    dir: tempfile::TempDir,
    rules: PathBuf,
}

impl Default for HostDir {
    fn default() -> Self {
        Self::new()
    }
}

impl HostDir {
    /// An empty host directory whose rules directory does not exist: no
    /// rule scripts.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir_all(dir.path().join("plugins")).expect("plugins dir");
        let rules = dir.path().join("no-rules");
        Self { dir, rules }
    }

    /// Copies shipped plugins from `plugins/dist` into the plugins dir.
    pub fn shipped(self, names: &[&str]) -> Self {
        for name in names {
            self.install(name, &crate::shipped_plugin(name));
        }
        self
    }

    /// Copies fixture plugins into the plugins dir.
    pub fn fixtures(self, names: &[&str]) -> Self {
        for name in names {
            self.install(name, &crate::fixture_plugin(name));
        }
        self
    }

    /// Points `rules_dir` at `rules` instead of a directory that does not
    /// exist.
    pub fn rules(mut self, rules: &Path) -> Self {
        self.rules = rules.to_owned();
        self
    }

    /// Writes `perfwatch.toml`: ticks every `update_interval_ms`, the
    /// directories above, then `rest` (plugin entries, alert rules).
    pub fn config(self, update_interval_ms: u64, rest: &str) -> Self {
        let config = format!(
            "port = 0\nupdate_interval = {update_interval_ms}\ndata_dir = \"{}\"\nplugins_dir = \"{}\"\nrules_dir = \"{}\"\nexport_path = \"{}\"\n{rest}",
            self.path().join("data").display(),
            self.plugins().display(),
            self.rules.display(),
            self.path().join("exports").display(),
        );
        std::fs::write(self.config_file(), config).expect("write perfwatch.toml");
        self
    }

    /// Makes the config listen on `port` instead of any free port, so a
    /// host started again is found where its clients left it.
    pub fn port(self, port: u16) -> Self {
        let config = std::fs::read_to_string(self.config_file()).expect("read perfwatch.toml");
        let rest = config
            .strip_prefix("port = 0\n")
            .expect("the config was written by HostDir::config");
        std::fs::write(self.config_file(), format!("port = {port}\n{rest}"))
            .expect("write perfwatch.toml");
        self
    }

    /// Starts a host on the config written by [`HostDir::config`]; again
    /// after a kill, it finds the data the last one left.
    pub fn start(&self) -> PerfwatchProcess {
        let config = self.config_file();
        assert!(
            config.is_file(),
            "write the config with HostDir::config before starting"
        );
        PerfwatchProcess::start(&config)
    }

    /// As [`HostDir::start`], with environment variables set for the host.
    pub fn start_with_env(&self, env: &[(&str, &str)]) -> PerfwatchProcess {
        PerfwatchProcess::start_with_env(&self.config_file(), env)
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The plugins directory.
    pub fn plugins(&self) -> PathBuf {
        self.path().join("plugins")
    }

    /// `perfwatch.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.path().join("perfwatch.toml")
    }

    fn install(&self, name: &str, component: &Path) {
        std::fs::copy(component, self.plugins().join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("copying {}: {e}", component.display()));
    }
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
        Self::start_with_env(config, &[])
    }

    /// As [`PerfwatchProcess::start`], with environment variables set.
    pub fn start_with_env(config: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(perfwatch_binary())
            .args(["serve", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
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
                let served = line.strip_prefix("perfwatch listening on ");
                let addr = served.and_then(|s| {
                    s.strip_prefix("http://")
                        .or_else(|| s.strip_prefix("https://"))
                });
                if let Some(addr) = addr {
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

    /// The latest value of the series of `metric` whose `label` is `value`,
    /// from the query API; `None` until there is one.
    pub fn latest_by_label(&self, metric: &str, label: &str, value: &str) -> Option<f64> {
        let answer = crate::get(self.addr, &format!("/api/v1/query?metric={metric}&start=0"));
        if answer.status != 200 {
            return None;
        }
        answer.json()["series"]
            .as_array()?
            .iter()
            .find(|s| s["labels"][label] == value)
            .and_then(|s| s["points"].as_array()?.last()?[1].as_f64())
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
