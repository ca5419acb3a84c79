//! A real Prometheus (Debian's `prometheus`, which `cargo xtask test`
//! installs) that scrapes itself every second and remote-writes to a given
//! URL; killed when dropped.

use std::net::SocketAddr;

use crate::server::ServerProcess;

/// Where Debian installs the server.
pub const PROMETHEUS_BINARY: &str = "/usr/bin/prometheus";

/// A running Prometheus with its own temporary config, TSDB and log.
pub struct PrometheusProcess {
    server: ServerProcess,
    /// Where it listens, and the target it scrapes (itself).
    pub addr: SocketAddr,
}

impl PrometheusProcess {
    /// Starts Prometheus on a free loopback port, scraping itself every
    /// second (job `prometheus`) and sending every sample to
    /// `remote_write_url` within about a second.
    pub fn start(remote_write_url: &str) -> Self {
        let config = |addr| {
            format!(
                r#"
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["{addr}"]
remote_write:
  - url: "{remote_write_url}"
    remote_timeout: 10s
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 1s
    metadata_config:
      send: false
"#
            )
        };
        let server = ServerProcess::start(
            PROMETHEUS_BINARY,
            "prometheus",
            ("prometheus.yml", config),
            |dir, addr| {
                vec![
                    format!("--config.file={}", dir.join("prometheus.yml").display()),
                    format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
                    format!("--web.listen-address={addr}"),
                ]
            },
        );
        let addr = server.addr;
        Self { server, addr }
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        self.server.log()
    }
}
