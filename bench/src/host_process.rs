//! The real `perfwatch` binary, built next to the bench binary, serving on
//! a free loopback port with a temp data dir; killed on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::Context;

pub struct HostProcess {
    child: Child,
    addr: String,
    /// Holds the config and data dir until the process is gone.
    _dir: tempfile::TempDir,
}

impl HostProcess {
    /// Starts `perfwatch serve` with `port = 0`, temp directories and
    /// `extra` appended to the config; returns once it listens.
    pub fn start(extra: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
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
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (built by `cargo build --release -p perfwatch`)",
                    binary.display()
                )
            })?;
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
            _dir: dir,
        })
    }

    /// The process id (for its /proc entries).
    pub fn pid(&self) -> u32 {
        self.child.id()
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
