//! A real Alertmanager (Debian's `prometheus-alertmanager`, which `cargo
//! xtask test` installs), clustering off, that routes every alert to one
//! webhook receiver at once; killed when dropped.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::wait::wait_for;

/// Where Debian installs the server.
pub const ALERTMANAGER_BINARY: &str = "/usr/bin/prometheus-alertmanager";

/// A running Alertmanager with its own temporary config, storage and log.
pub struct AlertmanagerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl AlertmanagerProcess {
    /// Starts Alertmanager on a free loopback port and waits until it is
    /// ready. Every alert goes to the webhook receiver at `webhook_url`
    /// (resolutions too), grouped by `alertname`, with group waits of a
    /// second so a test sees the webhook within a few.
    pub fn start(webhook_url: &str) -> Self {
        assert!(
            Path::new(ALERTMANAGER_BINARY).is_file(),
            "{ALERTMANAGER_BINARY} is missing: `cargo xtask test` installs Debian's prometheus-alertmanager package"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let config = format!(
            r#"
route:
  receiver: test-webhook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test-webhook
    webhook_configs:
      - url: "{webhook_url}"
        send_resolved: true
"#
        );
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("alertmanager.log")).unwrap();
        let child = Command::new(ALERTMANAGER_BINARY)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            // An empty address turns the gossip cluster off: one
            // Alertmanager, no port of its own, no waiting for peers.
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("alertmanager starts");
        let process = Self { child, addr, dir };
        wait_for(
            "alertmanager to be ready",
            crate::WAIT,
            || process.log(),
            || {
                TcpStream::connect(addr).ok()?;
                (crate::get(addr, "/-/ready").status == 200).then_some(())
            },
        );
        process
    }

    /// `http://<addr>`, the base URL the alertmanager channel takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its own view of the alerts it holds (`GET /api/v2/alerts`), active,
    /// silenced and inhibited alike; resolved alerts are not listed.
    pub fn alerts(&self) -> Vec<serde_json::Value> {
        let answer = crate::get(self.addr, "/api/v2/alerts");
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer
            .json()
            .as_array()
            .unwrap_or_else(|| panic!("a list of alerts: {}", answer.body))
            .clone()
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("alertmanager.log")).unwrap_or_default()
    }
}

impl Drop for AlertmanagerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
