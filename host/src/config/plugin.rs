//! `[[plugins]]`: per-plugin settings, capability grants and limits.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Default deadline of one collector or exporter call. A collector that
/// needs more than a second per tick is broken or hostile; either way the
/// tick must go on.
pub const DEFAULT_CALL_TIMEOUT_MS: u64 = 1000;
/// Default deadline of one channel call. Channels run off the tick, and a
/// delivery waits on a receiver across the network (a chat service, an
/// SMTP relay's TLS handshake), which a second does not always cover.
pub const DEFAULT_CHANNEL_CALL_TIMEOUT_MS: u64 = 10_000;
/// Default cap on the data one call may pass to the host (wasmtime's
/// "hostcall fuel"; its own default is 128 MiB). 16 MiB holds 10,000
/// samples with generous labels, or a large export.
pub const DEFAULT_HOSTCALL_MIB: u64 = 16;
/// Default linear-memory cap per plugin instance. The shipped plugins use
/// well under 4 MiB; 32 MiB leaves room without letting one plugin take
/// the host's memory.
pub const DEFAULT_MEMORY_MIB: u64 = 32;

/// One `[[plugins]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// Plugin name: the component's file stem in `plugins_dir`.
    pub name: String,
    /// Component file; relative paths are resolved against `plugins_dir`.
    /// Defaults to `<name>.wasm`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Whether the plugin is loaded.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Host directories mounted read-only at the same path inside the plugin.
    #[serde(default)]
    pub read_paths: Vec<PathBuf>,
    /// Origins the plugin may call over HTTP, `scheme://host[:port]`
    /// (`*.` allowed as the first label). A channel may always call its own
    /// webhook URL's origin.
    #[serde(default)]
    pub allow_http: Vec<super::OriginPattern>,
    /// Whether a channel plugin may send email through its channel's SMTP relay.
    #[serde(default)]
    pub allow_email: bool,
    /// Settings handed to the plugin as JSON. Not redacted: do not put
    /// secrets here.
    #[serde(default)]
    pub config: toml::Table,
    /// Resource caps per call.
    #[serde(default)]
    pub limits: PluginLimits,
}

fn enabled_by_default() -> bool {
    true
}

/// Resource caps for one plugin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    /// Wall-clock deadline of one call, in ms; unset, the plugin world's
    /// default ([`DEFAULT_CALL_TIMEOUT_MS`], or
    /// [`DEFAULT_CHANNEL_CALL_TIMEOUT_MS`] for channels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_timeout_ms: Option<u64>,
    /// Linear memory cap, in MiB.
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u64,
    /// Data one call may pass to the host (results, log lines, requests), in MiB.
    #[serde(default = "default_hostcall_mib")]
    pub hostcall_mib: u64,
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self {
            call_timeout_ms: None,
            memory_mib: DEFAULT_MEMORY_MIB,
            hostcall_mib: DEFAULT_HOSTCALL_MIB,
        }
    }
}

fn default_memory_mib() -> u64 {
    DEFAULT_MEMORY_MIB
}
fn default_hostcall_mib() -> u64 {
    DEFAULT_HOSTCALL_MIB
}

/// The shipped `loadavg` collector, granted read access to `/proc`.
pub(super) fn default_plugins() -> Vec<PluginConfig> {
    let mut config = toml::Table::new();
    config.insert("pressure".into(), toml::Value::Boolean(true));
    vec![PluginConfig {
        name: "loadavg".into(),
        path: None,
        enabled: true,
        read_paths: vec!["/proc".into()],
        allow_http: Vec::new(),
        allow_email: false,
        config,
        limits: PluginLimits::default(),
    }]
}

pub(super) fn validate_plugins(list: Vec<PluginConfig>) -> Result<Vec<PluginConfig>, String> {
    let mut seen = std::collections::HashSet::new();
    for (i, p) in list.iter().enumerate() {
        let at = format!("plugins[{i}]");
        if !super::channel::is_plugin_name(&p.name) {
            return Err(format!(
                "{at}.name: {:?} is not a plugin name (letters, digits, `-`, `_`)",
                p.name
            ));
        }
        if !seen.insert(p.name.as_str()) {
            return Err(format!("{at}: plugin `{}` is configured twice", p.name));
        }
        if p.limits
            .call_timeout_ms
            .is_some_and(|ms| ms == 0 || ms > 60_000)
        {
            return Err(format!(
                "{at}.limits.call_timeout_ms must be between 1 and 60000"
            ));
        }
        if p.limits.memory_mib == 0 || p.limits.memory_mib > 4096 {
            return Err(format!("{at}.limits.memory_mib must be between 1 and 4096"));
        }
        if p.limits.hostcall_mib == 0 || p.limits.hostcall_mib > 1024 {
            return Err(format!(
                "{at}.limits.hostcall_mib must be between 1 and 1024"
            ));
        }
        if let Some(bad) = p.read_paths.iter().find(|path| !path.is_absolute()) {
            return Err(format!(
                "{at}.read_paths: {} is not an absolute path",
                bad.display()
            ));
        }
    }
    Ok(list)
}

impl PluginConfig {
    /// The plugin's config table as JSON text, what the `host.config` import returns.
    pub fn config_json(&self) -> String {
        serde_json::to_string(&self.config).expect("TOML tables serialise as JSON")
    }
}
