//! The real `perfwatch` binary, built next to the bench binary, serving on
//! a free loopback port with a temp data dir; killed on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::Context;

pub struct HostProcess {
    child: Child,
    addr: String,
    /// Lines the host logged at ERROR level.
    errors: Arc<Mutex<Vec<String>>>,
    /// Holds the config and data dir until the process is gone.
    _dir: tempfile::TempDir,
}

impl HostProcess {
    /// Starts `perfwatch serve` with `port = 0`, temp directories and
    /// `extra` appended to the config; returns once it listens.
    pub fn start(extra: &str) -> anyhow::Result<Self> {
        Self::start_prepared(|_| Ok(()), extra)
    }

    /// As [`HostProcess::start`], after `prepare` has filled the host's
    /// directory (its `data/` and `plugins/`).
    pub fn start_prepared(
        prepare: impl FnOnce(&std::path::Path) -> anyhow::Result<()>,
        extra: &str,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        prepare(dir.path())?;
        let config = dir.path().join("perfwatch.toml");
        std::fs::write(
            &config,
            format!(
                "port = 0\ndata_dir = \"{}\"\nplugins_dir = \"{}\"\nrules_dir = \"{}\"\n{extra}",
                dir.path().join("data").display(),
                dir.path().join("plugins").display(),
                dir.path().join("rules").display()
            ),
        )?;
        let binary: PathBuf = std::env::current_exe()?
            .parent()
            .context("bench dir")?
            .join("perfwatch");
        let mut child = Command::new(&binary)
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (built by `cargo build --release -p perfwatch`)",
                    binary.display()
                )
            })?;
        // The host's error lines, for benchmarks to refuse a run in which
        // the host failed (a figure measured while appends fail is no figure).
        let errors = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().context("stderr")?;
        let collected = errors.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("ERROR") {
                    collected.lock().expect("errors lock").push(line);
                }
            }
        });
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        let addr = lines.find_map(|l| {
            l.strip_prefix("perfwatch listening on http://")
                .map(str::to_owned)
        });
        // Keep reading, so a later line cannot fail on a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("perfwatch did not start");
        };
        Ok(Self {
            child,
            addr,
            errors,
            _dir: dir,
        })
    }

    /// The process id (for its /proc entries).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails with the host's error lines, if it logged any.
    pub fn ensure_no_errors(&self) -> anyhow::Result<()> {
        let errors = self.errors.lock().expect("errors lock");
        anyhow::ensure!(
            errors.is_empty(),
            "the host logged errors during the run:\n{}",
            errors.join("\n")
        );
        Ok(())
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
