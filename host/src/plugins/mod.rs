//! WebAssembly plugins: the wasmtime engine, loading components from
//! `plugins_dir`, limits, supervision and the host imports. This module
//! owns wasmtime; nothing else names it.
//!
//! Invariant: no plugin call runs without a CPU deadline and a memory cap
//! (see `collector.rs`), and no plugin gets a capability it was not granted
//! (see `state.rs`).

mod bindings;
mod cache;
mod channel;
mod collector;
mod email;
mod error;
mod exporter;
mod grants;
mod host;
mod http;
mod inspect;
mod kind;
mod limits;
mod output;
mod sandbox;
mod state;
mod supervisor;
mod worlds;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config as EngineConfig, Engine};

pub use cache::{ComponentCache, Origin as CacheOrigin};
pub use channel::ChannelPlugin;
pub use collector::{CollectOutcome, CollectorPlugin};
pub use error::PluginError;
pub use exporter::{Artifact, ExportData, ExporterPlugin};
pub use inspect::{Inspection, inspect};
pub use kind::{PluginKind, WIT_PACKAGE, WIT_VERSION};
pub use limits::{EPOCH_TICK_MS, MAX_SAMPLES_PER_CALL};
pub use supervisor::{PluginStats, PluginStatus};

use crate::config::PluginConfig;
use state::PluginState;

/// The engine and linker shared by every plugin; cheap to clone.
#[derive(Clone)]
pub struct PluginRuntime {
    engine: Engine,
    linker: Arc<Linker<PluginState>>,
}

impl PluginRuntime {
    /// Builds the engine (with epoch interruption, which deadlines rely on)
    /// and a linker offering WASI p2 and the `host` interface, nothing else.
    pub fn new() -> wasmtime::Result<Self> {
        let mut config = EngineConfig::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        // types, host and http, shared by every world; email for channels.
        bindings::collector::Collector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        bindings::email::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        Ok(Self {
            engine,
            linker: Arc::new(linker),
        })
    }

    /// Advances the engine's epoch every [`EPOCH_TICK_MS`] on a thread of
    /// its own, for the life of the process. Without it no deadline would
    /// ever fire. It is deliberately not a tokio task: a guest spinning on
    /// a runtime worker can keep such a task from being polled, and then
    /// the deadline that should stop the guest never comes.
    pub fn spawn_epoch_ticker(&self) {
        let engine = self.engine.weak();
        std::thread::Builder::new()
            .name("perfwatch-epoch".into())
            .spawn(move || {
                while let Some(engine) = engine.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(Duration::from_millis(EPOCH_TICK_MS));
                }
            })
            .expect("spawning the epoch thread");
    }
}

/// Everything loaded from `plugins_dir`, wired to the config.
#[derive(Default)]
pub struct LoadedPlugins {
    /// Collectors, called every tick.
    pub collectors: Vec<CollectorPlugin>,
    /// One channel plugin instance per enabled `[[alerting.channels]]`
    /// entry, with that entry.
    pub channels: Vec<(crate::config::Channel, ChannelPlugin)>,
    /// Exporters, by plugin name.
    pub exporters: Vec<ExporterPlugin>,
    /// Components that could not be loaded, configured plugins without a
    /// component, and channels without a plugin, in words.
    pub errors: Vec<String>,
    /// Collectors found in `plugins_dir` without a `[[plugins]]` entry:
    /// loaded and checked, but not run (they would run without config or
    /// grants), with the line that would enable them.
    pub idle: Vec<String>,
}

pub(crate) struct Compiled {
    config: PluginConfig,
    component: Component,
    kind: PluginKind,
    /// Whether a `[[plugins]]` entry names it.
    configured: bool,
}

/// Loads every `*.wasm` in `plugins_dir`, configured by the `[[plugins]]`
/// entry of the same name (or with no grants and default limits when there
/// is none), and gives each enabled channel its plugin instance. One bad
/// component never stops the others from loading.
pub fn load(runtime: &PluginRuntime, config: &crate::config::Config) -> LoadedPlugins {
    let mut loaded = LoadedPlugins::default();
    let mut compiled = Vec::new();
    let cache = ComponentCache::new(&config.data_dir, &runtime.engine);
    for (plugin_config, path) in discover(&config.plugins_dir, &config.plugins, &mut loaded.errors)
    {
        let configured = config.plugins.iter().any(|p| p.name == plugin_config.name);
        match compile_file(runtime, &cache, plugin_config, &path) {
            Ok(c) => compiled.push(Compiled { configured, ..c }),
            Err(e) => loaded.errors.push(e.to_string()),
        }
    }
    for c in &compiled {
        let grants = state::Grants {
            http: http::HttpClient::new(grants::HttpGrant::new(
                &c.config.name,
                &c.config.allow_http,
            )),
            email: None,
        };
        let config_json = c.config.config_json();
        let result = match c.kind {
            PluginKind::Collector if !c.configured => {
                loaded.idle.push(format!(
                    "collector `{0}` is in plugins_dir but not enabled; to run it every tick add \
                     [[plugins]] name = \"{0}\" (with its config and grants)",
                    c.config.name
                ));
                Ok(())
            }
            PluginKind::Collector => {
                sandbox::Sandbox::new(runtime, &c.component, c.config.clone(), config_json, grants)
                    .map(|s| loaded.collectors.push(CollectorPlugin::new(s)))
            }
            PluginKind::Exporter => {
                sandbox::Sandbox::new(runtime, &c.component, c.config.clone(), config_json, grants)
                    .map(|s| loaded.exporters.push(ExporterPlugin::new(s)))
            }
            PluginKind::Channel => Ok(()), // instantiated per channel below
        };
        if let Err(e) = result {
            loaded.errors.push(e.to_string());
        }
    }
    if config.alerting.enabled {
        for channel in config.alerting.channels.iter().filter(|c| c.enabled) {
            match channel_plugin(runtime, &compiled, channel) {
                Ok(plugin) => loaded.channels.push((channel.clone(), plugin)),
                Err(e) => loaded.errors.push(e),
            }
        }
    }
    loaded
}

/// The plugin instance that delivers for `channel`: the channel plugin
/// named after the channel's type, given the channel's settings as its
/// config and granted its webhook origin (and its relay, for email).
fn channel_plugin(
    runtime: &PluginRuntime,
    compiled: &[Compiled],
    channel: &crate::config::Channel,
) -> Result<ChannelPlugin, String> {
    let plugin_name = channel.settings.kind().as_str();
    let cannot = |why: String| format!("channel {} cannot deliver: {why}", channel.name);
    let c = compiled
        .iter()
        .find(|c| c.config.name == plugin_name)
        .ok_or_else(|| {
            cannot(format!(
                "no plugin `{plugin_name}` is loaded from plugins_dir"
            ))
        })?;
    if c.kind != PluginKind::Channel {
        return Err(cannot(format!(
            "plugin `{plugin_name}` is a {}, not a channel",
            c.kind.as_str()
        )));
    }
    let mut grant = grants::HttpGrant::new(plugin_name, &c.config.allow_http);
    if let Some(url) = channel.settings.webhook_url() {
        let url = reqwest::Url::parse(url.expose())
            .map_err(|_| cannot("its webhook URL does not parse".into()))?;
        grant = grant.with_origin_of(&url);
    }
    let email = match &channel.settings {
        crate::config::ChannelSettings::Email(settings) => {
            if !c.config.allow_email {
                return Err(cannot(format!(
                    "plugin `{plugin_name}` is not granted email; add `allow_email = true` to its [[plugins]] entry"
                )));
            }
            Some(email::Mailer::new(settings).map_err(cannot)?)
        }
        _ => None,
    };
    let grants = state::Grants {
        http: http::HttpClient::new(grant),
        email,
    };
    let config_json =
        serde_json::to_string(&channel.plugin_config).expect("TOML tables serialise as JSON");
    let sandbox =
        sandbox::Sandbox::new(runtime, &c.component, c.config.clone(), config_json, grants)
            .map_err(|e| e.to_string())?;
    Ok(ChannelPlugin::new(sandbox))
}

/// Pairs each component file with its config.
fn discover(
    dir: &Path,
    configs: &[PluginConfig],
    errors: &mut Vec<String>,
) -> Vec<(PluginConfig, PathBuf)> {
    let mut found = Vec::new();
    for path in crate::dir::files_with_extension(dir, "wasm") {
        let Some(stem) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        if !configs.iter().any(|c| c.name == stem) {
            found.push((unconfigured(&stem), path));
        }
    }
    for config in configs {
        let path = match &config.path {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => dir.join(p),
            None => dir.join(format!("{}.wasm", config.name)),
        };
        if !config.enabled {
            tracing::info!(plugin = %config.name, "plugin disabled in config; not loaded");
        } else if !path.is_file() {
            errors.push(
                PluginError::Read {
                    plugin: config.name.clone(),
                    path,
                    detail: "no such file (build the shipped plugins with `cargo xtask plugins`)"
                        .into(),
                }
                .to_string(),
            );
        } else {
            found.push((config.clone(), path));
        }
    }
    found
}

pub(crate) fn compile_file(
    runtime: &PluginRuntime,
    cache: &ComponentCache,
    config: PluginConfig,
    path: &Path,
) -> Result<Compiled, PluginError> {
    let bytes = std::fs::read(path).map_err(|e| PluginError::Read {
        plugin: config.name.clone(),
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    let (component, origin) =
        cache
            .load(&runtime.engine, &bytes)
            .map_err(|e| PluginError::Compile {
                plugin: config.name.clone(),
                path: path.to_owned(),
                detail: format!("{e:#}"),
            })?;
    let source = match origin {
        CacheOrigin::Cached => "compile cache",
        CacheOrigin::Compiled => "compiled now",
    };
    tracing::info!(plugin = %config.name, source, "component ready");
    let (kind, _version) = kind::detect(&runtime.engine, &component, &config.name)?;
    Ok(Compiled {
        config,
        component,
        kind,
        configured: false,
    })
}

/// A plugin found without a `[[plugins]]` entry: no grants, default limits.
pub(crate) fn unconfigured(name: &str) -> PluginConfig {
    PluginConfig {
        name: name.to_owned(),
        path: None,
        enabled: true,
        read_paths: Vec::new(),
        allow_http: Vec::new(),
        allow_email: false,
        config: toml::Table::new(),
        limits: Default::default(),
    }
}
