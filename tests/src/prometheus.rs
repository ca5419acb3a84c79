//! A real Prometheus (Debian's `prometheus`, which `cargo xtask test`
//! installs) that scrapes itself every second and remote-writes to a given
//! URL; killed when dropped.

use std::net::SocketAddr;

use crate::server::ServerProcess;

/// `text` percent-encoded for a query string.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where Debian installs the server.
pub const PROMETHEUS_BINARY: &str = "/usr/bin/prometheus";

/// Where Debian's `prometheus` installs its tool (`check metrics`, `tsdb
/// create-blocks-from`).
pub const PROMTOOL_BINARY: &str = "/usr/bin/promtool";

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
        Self::launch(config, None)
    }

    /// Starts Prometheus on a free loopback port over an existing TSDB
    /// directory (blocks made by `promtool tsdb create-blocks-from`),
    /// scraping nothing, so it answers queries from those blocks alone.
    pub fn on_tsdb(tsdb: &std::path::Path) -> Self {
        Self::launch(|_| "global: {}\n".to_owned(), Some(tsdb.to_owned()))
    }

    /// Starts Prometheus on a free loopback port scraping `target`'s
    /// `/metrics` every second (job `perfwatch`).
    pub fn scraping(target: SocketAddr) -> Self {
        let config = move |_| {
            format!(
                r#"
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: perfwatch
    static_configs:
      - targets: ["{target}"]
"#
            )
        };
        Self::launch(config, None)
    }

    /// Runs the server with the config `config` makes of its address, over
    /// `tsdb` (kept whatever the blocks' age) or a fresh one of its own.
    fn launch(config: impl FnOnce(SocketAddr) -> String, tsdb: Option<std::path::PathBuf>) -> Self {
        let server = ServerProcess::start(
            PROMETHEUS_BINARY,
            "prometheus",
            ("prometheus.yml", config),
            |dir, addr| {
                let mut args = vec![
                    format!("--config.file={}", dir.join("prometheus.yml").display()),
                    format!("--web.listen-address={addr}"),
                ];
                match tsdb {
                    Some(tsdb) => args.extend([
                        format!("--storage.tsdb.path={}", tsdb.display()),
                        // Blocks of any age stay queryable for the test.
                        "--storage.tsdb.retention.time=100y".to_owned(),
                    ]),
                    None => args.push(format!(
                        "--storage.tsdb.path={}",
                        dir.join("tsdb").display()
                    )),
                }
                args
            },
        );
        let addr = server.addr;
        Self { server, addr }
    }

    /// The instant query `promql` at `time_s` (omitted: now), as
    /// Prometheus answers it: `data.result` of `/api/v1/query`, or `None`
    /// while it is not ready.
    pub fn query(&self, promql: &str, time_s: Option<f64>) -> Option<Vec<serde_json::Value>> {
        let mut path = format!("/api/v1/query?query={}", encode(promql));
        if let Some(t) = time_s {
            path.push_str(&format!("&time={t}"));
        }
        let answer = crate::try_get(self.addr, &path).ok()?;
        if answer.status != 200 {
            return None;
        }
        answer.json()["data"]["result"].as_array().cloned()
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        self.server.log()
    }
}
