//! Configuration: the TOML file as written (`RawConfig`) and the validated
//! `Config` the rest of the host uses. Defaults are the original system's.

mod alert_rule;
mod channel;
mod origin;
mod plugin;
mod secret;
mod server;
mod threshold;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use alert_rule::{AlertRule, RuleCondition};
pub use channel::{Channel, ChannelFilters, LabelMatcher, redact_leaves};
pub use origin::OriginPattern;
pub use plugin::{
    DEFAULT_CALL_TIMEOUT_MS, DEFAULT_CHANNEL_CALL_TIMEOUT_MS, DEFAULT_HOSTCALL_MIB,
    DEFAULT_MEMORY_MIB, PluginConfig, PluginLimits,
};
pub use secret::{REDACTED, Secret, redact_keys};
pub use server::{AUTH_TOKEN_ENV, DEFAULT_MAX_WS_CLIENTS, Role, ServerConfig};
pub use threshold::{Direction, Threshold};

/// The default configuration file, with comments; `perfwatch config default`
/// prints it and a test checks it equals the built-in defaults.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default.toml");

/// Default listen address: loopback, so nothing is exposed unless asked.
pub const DEFAULT_BIND: &str = "127.0.0.1";
/// Default HTTP/WebSocket port (the original's).
pub const DEFAULT_PORT: u16 = 8080;
/// Default tick length in ms (the original's `updateInterval`).
pub const DEFAULT_UPDATE_INTERVAL_MS: u64 = 5000;
/// Shortest tick allowed: below this, collection overhead dominates and
/// per-tick fsyncs (≈4 ms here) eat a noticeable share of a core.
pub const MIN_UPDATE_INTERVAL_MS: u64 = 100;
/// Default days of raw samples kept (the original's `retentionDays`).
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// Default milliseconds between compactions of the store's head.
pub const DEFAULT_COMPACTION_INTERVAL_MS: u64 = 600_000;
/// Shortest compaction interval: shorter chunks compress worse.
pub const MIN_COMPACTION_INTERVAL_MS: u64 = 10_000;
/// Default days of 1-minute rollups kept.
pub const DEFAULT_ROLLUP_1M_RETENTION_DAYS: u32 = 90;
/// Default days of 1-hour rollups kept (two years).
pub const DEFAULT_ROLLUP_1H_RETENTION_DAYS: u32 = 730;
/// Default database directory.
pub const DEFAULT_DATA_DIR: &str = "./perfwatch-data";
/// Default plugin directory: where `cargo xtask plugins` puts components.
pub const DEFAULT_PLUGINS_DIR: &str = "./plugins/dist";
/// Default rules directory: the shipped rules when run from the repository.
pub const DEFAULT_RULES_DIR: &str = "./rules";
/// Default export directory (the original's `exportPath`).
pub const DEFAULT_EXPORT_PATH: &str = "./analysis-reports";

/// A configuration that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// The config file as written. Every key is optional; missing keys take
/// the `DEFAULT_*` values above.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_bind")]
    bind: String,
    #[serde(default = "default_port")]
    port: u16,
    #[serde(default)]
    external_url: Option<String>,
    #[serde(default = "default_update_interval")]
    update_interval: u64,
    #[serde(default = "default_retention_days")]
    retention_days: u32,
    #[serde(default = "default_compaction_interval")]
    compaction_interval: u64,
    #[serde(default = "default_rollup_1m_retention_days")]
    rollup_1m_retention_days: u32,
    #[serde(default = "default_rollup_1h_retention_days")]
    rollup_1h_retention_days: u32,
    #[serde(default = "default_data_dir")]
    data_dir: PathBuf,
    #[serde(default = "default_plugins_dir")]
    plugins_dir: PathBuf,
    #[serde(default = "default_rules_dir")]
    rules_dir: PathBuf,
    #[serde(default = "default_export_path")]
    export_path: PathBuf,
    #[serde(default)]
    server: server::RawServer,
    #[serde(default)]
    alerting: RawAlerting,
    #[serde(default = "threshold::default_thresholds")]
    thresholds: Vec<Threshold>,
    #[serde(default = "alert_rule::default_alert_rules")]
    alert_rules: Vec<AlertRule>,
    #[serde(default = "plugin::default_plugins")]
    plugins: Vec<PluginConfig>,
}

fn default_bind() -> String {
    DEFAULT_BIND.to_owned()
}
fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_update_interval() -> u64 {
    DEFAULT_UPDATE_INTERVAL_MS
}
fn default_retention_days() -> u32 {
    DEFAULT_RETENTION_DAYS
}
fn default_compaction_interval() -> u64 {
    DEFAULT_COMPACTION_INTERVAL_MS
}
fn default_rollup_1m_retention_days() -> u32 {
    DEFAULT_ROLLUP_1M_RETENTION_DAYS
}
fn default_rollup_1h_retention_days() -> u32 {
    DEFAULT_ROLLUP_1H_RETENTION_DAYS
}
fn default_data_dir() -> PathBuf {
    DEFAULT_DATA_DIR.into()
}
fn default_plugins_dir() -> PathBuf {
    DEFAULT_PLUGINS_DIR.into()
}
fn default_rules_dir() -> PathBuf {
    DEFAULT_RULES_DIR.into()
}
fn default_export_path() -> PathBuf {
    DEFAULT_EXPORT_PATH.into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerting {
    #[serde(default = "default_alerting_enabled")]
    enabled: bool,
    #[serde(default = "default_channels")]
    channels: Vec<channel::RawChannel>,
    #[serde(default)]
    group_by: Vec<String>,
    #[serde(default)]
    group_wait: u64,
    #[serde(default)]
    group_interval: u64,
}

impl Default for RawAlerting {
    fn default() -> Self {
        Self {
            enabled: default_alerting_enabled(),
            channels: default_channels(),
            group_by: Vec::new(),
            group_wait: 0,
            group_interval: 0,
        }
    }
}

fn default_alerting_enabled() -> bool {
    true
}

/// One console channel, as in the original `defaultDashboardConfig`.
fn default_channels() -> Vec<channel::RawChannel> {
    vec![channel::RawChannel::console()]
}

/// The validated configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Listen address.
    pub bind: IpAddr,
    /// Listen port; 0 picks a free one.
    pub port: u16,
    /// The host's address as people and receivers reach it (a proxy, a
    /// DNS name), without a trailing `/`; notifications link to it. When
    /// unset, the address served on (see [`Config::external_url_for`]).
    pub external_url: Option<String>,
    /// Time between ticks.
    #[serde(rename = "update_interval", serialize_with = "as_millis")]
    pub update_interval: Duration,
    /// Days raw samples are kept.
    pub retention_days: u32,
    /// Time between compactions of the store's head into sorted chunks and rollups.
    #[serde(rename = "compaction_interval", serialize_with = "as_millis")]
    pub compaction_interval: Duration,
    /// Days 1-minute rollups are kept.
    pub rollup_1m_retention_days: u32,
    /// Days 1-hour rollups are kept.
    pub rollup_1h_retention_days: u32,
    /// Database directory.
    pub data_dir: PathBuf,
    /// Plugin component directory.
    pub plugins_dir: PathBuf,
    /// Rule script directory.
    pub rules_dir: PathBuf,
    /// Export directory.
    pub export_path: PathBuf,
    /// Access control, TLS and the stream's limits.
    pub server: ServerConfig,
    /// Notification settings.
    pub alerting: AlertingConfig,
    /// Warning/critical thresholds.
    pub thresholds: Vec<Threshold>,
    /// Alert rules with timing.
    pub alert_rules: Vec<AlertRule>,
    /// Per-plugin settings and grants.
    pub plugins: Vec<PluginConfig>,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// `[alerting]`, validated.
#[derive(Debug, Clone, Serialize)]
pub struct AlertingConfig {
    /// Whether notifications are delivered at all.
    pub enabled: bool,
    /// Configured channels.
    pub channels: Vec<Channel>,
    /// Labels whose values group notifications; none groups nothing.
    pub group_by: Vec<String>,
    /// Milliseconds a new group waits for more notifications.
    pub group_wait: u64,
    /// Least milliseconds between two sends of one group.
    pub group_interval: u64,
}

impl Config {
    /// The built-in defaults.
    pub fn defaults() -> Self {
        Self::from_toml_str("", "defaults").expect("the built-in defaults are valid")
    }

    /// Reads and validates a config file, with [`AUTH_TOKEN_ENV`] applied.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string(), env_token())
    }

    /// The built-in defaults with [`AUTH_TOKEN_ENV`] applied: what
    /// `perfwatch serve` runs without `--config`.
    pub fn defaults_with_env() -> Result<Self, ConfigError> {
        Self::parse("", "defaults", env_token())
    }

    /// Parses and validates config text; `origin` names it in errors. The
    /// environment is not read.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        Self::parse(text, origin, None)
    }

    fn parse(text: &str, origin: &str, env_token: Option<String>) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        raw.validate(env_token)
            .map_err(|message| ConfigError::Invalid {
                origin: origin.to_owned(),
                message,
            })
    }

    /// The address the server binds.
    pub fn listen_addr(&self) -> std::net::SocketAddr {
        (self.bind, self.port).into()
    }

    /// Where notifications link to: `external_url` when set, else
    /// `http://` (`https://` with TLS) and `bound`, the address actually
    /// served (with `port = 0`, the port the system picked).
    pub fn external_url_for(&self, bound: std::net::SocketAddr) -> String {
        let scheme = if self.server.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        match &self.external_url {
            Some(url) => url.clone(),
            None => format!("{scheme}://{bound}"),
        }
    }

    /// The config as JSON with every secret replaced by [`REDACTED`]: safe
    /// for the API and the WebSocket stream.
    pub fn redacted_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("config serialises")
    }
}

/// [`AUTH_TOKEN_ENV`], when set and not empty.
fn env_token() -> Option<String> {
    std::env::var(AUTH_TOKEN_ENV).ok().filter(|t| !t.is_empty())
}

impl RawConfig {
    fn validate(self, env_token: Option<String>) -> Result<Config, String> {
        let bind: IpAddr = self.bind.parse().map_err(|_| {
            format!(
                "`bind`: {:?} is not an IP address (for example \"127.0.0.1\" or \"::1\")",
                self.bind
            )
        })?;
        let external_url = match self.external_url {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(url.trim_end_matches('/').to_owned())
            }
            Some(url) => {
                return Err(format!(
                    "`external_url`: {url:?} is not an http:// or https:// URL"
                ));
            }
            None => None,
        };
        if self.update_interval < MIN_UPDATE_INTERVAL_MS {
            return Err(format!(
                "`update_interval` is {} ms; it must be at least {MIN_UPDATE_INTERVAL_MS} ms",
                self.update_interval
            ));
        }
        if self.retention_days == 0 {
            return Err("`retention_days` must be at least 1".to_owned());
        }
        if self.compaction_interval < MIN_COMPACTION_INTERVAL_MS {
            return Err(format!(
                "`compaction_interval` is {} ms; it must be at least {MIN_COMPACTION_INTERVAL_MS} ms",
                self.compaction_interval
            ));
        }
        if self.rollup_1m_retention_days < self.retention_days
            || self.rollup_1h_retention_days < self.rollup_1m_retention_days
        {
            return Err(format!(
                "retention must not shrink with coarser tiers: retention_days = {}, \
                 rollup_1m_retention_days = {}, rollup_1h_retention_days = {}",
                self.retention_days, self.rollup_1m_retention_days, self.rollup_1h_retention_days
            ));
        }
        let server = self.server.validate(bind, env_token)?;
        let channels = channel::validate_channels(self.alerting.channels)?;
        let thresholds = threshold::validate_thresholds(self.thresholds)?;
        let alert_rules = alert_rule::validate_alert_rules(self.alert_rules)?;
        let plugins = plugin::validate_plugins(self.plugins)?;
        Ok(Config {
            bind,
            port: self.port,
            external_url,
            update_interval: Duration::from_millis(self.update_interval),
            retention_days: self.retention_days,
            compaction_interval: Duration::from_millis(self.compaction_interval),
            rollup_1m_retention_days: self.rollup_1m_retention_days,
            rollup_1h_retention_days: self.rollup_1h_retention_days,
            data_dir: self.data_dir,
            plugins_dir: self.plugins_dir,
            rules_dir: self.rules_dir,
            export_path: self.export_path,
            server,
            alerting: AlertingConfig {
                enabled: self.alerting.enabled,
                channels,
                group_by: self.alerting.group_by,
                group_wait: self.alerting.group_wait,
                group_interval: self.alerting.group_interval,
            },
            thresholds,
            alert_rules,
            plugins,
        })
    }
}

#[cfg(test)]
mod tests;
