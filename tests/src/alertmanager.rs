//! A real Alertmanager (Debian's `prometheus-alertmanager`, which `cargo
//! xtask test` installs), clustering off, that routes every alert to one
//! webhook receiver at once; killed when dropped.

use std::net::{SocketAddr, TcpStream};

use crate::server::ServerProcess;
use crate::wait::wait_for;

/// Where Debian installs the server.
pub const ALERTMANAGER_BINARY: &str = "/usr/bin/prometheus-alertmanager";

/// A running Alertmanager with its own temporary config, storage and log.
pub struct AlertmanagerProcess {
    server: ServerProcess,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl AlertmanagerProcess {
    /// Starts Alertmanager on a free loopback port and waits until it is
    /// ready. Every alert goes to the webhook receiver at `webhook_url`
    /// (resolutions too), grouped by `alertname`, with group waits of a
    /// second so a test sees the webhook within a few.
    pub fn start(webhook_url: &str) -> Self {
        let config = |_| {
            format!(
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
            )
        };
        let server = ServerProcess::start(
            ALERTMANAGER_BINARY,
            "prometheus-alertmanager",
            ("alertmanager.yml", config),
            |dir, addr| {
                vec![
                    format!("--config.file={}", dir.join("alertmanager.yml").display()),
                    format!("--storage.path={}", dir.join("data").display()),
                    format!("--web.listen-address={addr}"),
                    // An empty address turns the gossip cluster off: one
                    // Alertmanager, no port of its own, no waiting for peers.
                    "--cluster.listen-address=".to_owned(),
                ]
            },
        );
        let addr = server.addr;
        wait_for(
            "alertmanager to be ready",
            crate::WAIT,
            || server.log(),
            || {
                TcpStream::connect(addr).ok()?;
                (crate::get(addr, "/-/ready").status == 200).then_some(())
            },
        );
        Self { server, addr }
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
        self.server.log()
    }
}
