//! A real Prometheus (Debian's `prometheus`, which `cargo xtask test`
//! installs) that scrapes itself every second and remote-writes to a given
//! URL; killed when dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Where Debian installs the server.
pub const PROMETHEUS_BINARY: &str = "/usr/bin/prometheus";

/// A running Prometheus with its own temporary config, TSDB and log.
pub struct PrometheusProcess {
    child: Child,
    /// Where it listens, and the target it scrapes (itself).
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl PrometheusProcess {
    /// Starts Prometheus on a free loopback port, scraping itself every
    /// second (job `prometheus`) and sending every sample to
    /// `remote_write_url` within about a second.
    pub fn start(remote_write_url: &str) -> Self {
        assert!(
            Path::new(PROMETHEUS_BINARY).is_file(),
            "{PROMETHEUS_BINARY} is missing: `cargo xtask test` installs Debian's prometheus package"
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
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(PROMETHEUS_BINARY)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        Self { child, addr, dir }
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for PrometheusProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
