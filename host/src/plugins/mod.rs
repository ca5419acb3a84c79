//! WebAssembly plugins: the wasmtime engine, loading components from
//! `plugins_dir`, limits, supervision and the host imports. This module
//! owns wasmtime; nothing else names it.
//!
//! Invariant: no plugin call runs without a CPU deadline and a memory cap
//! (see `collector.rs`), and no plugin gets a capability it was not granted
//! (see `state.rs`).

mod bindings;
mod collector;
mod error;
mod host;
mod kind;
mod limits;
mod output;
mod state;
mod supervisor;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config as EngineConfig, Engine};

pub use collector::{CollectOutcome, CollectorPlugin};
pub use error::PluginError;
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
        bindings::collector::Collector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
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

/// A plugin component found in `plugins_dir` that is not a collector.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OtherPlugin {
    /// Plugin name.
    pub name: String,
    /// Its world.
    pub kind: PluginKind,
}

/// Everything found in `plugins_dir`.
#[derive(Default)]
pub struct LoadedPlugins {
    /// Collectors, called every tick.
    pub collectors: Vec<CollectorPlugin>,
    /// Channels and exporters (driven by their own subsystems).
    pub others: Vec<OtherPlugin>,
    /// Components that could not be loaded, and configured plugins that
    /// have no component.
    pub errors: Vec<PluginError>,
}

/// Loads every `*.wasm` in `dir`, configured by the `[[plugins]]` entry of
/// the same name (or with no grants and default limits when there is none).
/// One bad component never stops the others from loading.
pub fn load_dir(runtime: &PluginRuntime, dir: &Path, configs: &[PluginConfig]) -> LoadedPlugins {
    let mut loaded = LoadedPlugins::default();
    let mut candidates: Vec<(PluginConfig, PathBuf)> = Vec::new();
    for path in crate::dir::files_with_extension(dir, "wasm") {
        let Some(stem) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        if configs.iter().any(|c| c.name == stem) {
            continue; // configured: handled below with its own path
        }
        candidates.push((unconfigured(&stem), path));
    }
    for config in configs {
        let path = match &config.path {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => dir.join(p),
            None => dir.join(format!("{}.wasm", config.name)),
        };
        if !config.enabled {
            tracing::info!(plugin = %config.name, "plugin disabled in config; not loaded");
            continue;
        }
        if !path.is_file() {
            loaded.errors.push(PluginError::Read {
                plugin: config.name.clone(),
                path,
                detail: "no such file (build the shipped plugins with `cargo xtask plugins`)"
                    .into(),
            });
            continue;
        }
        candidates.push((config.clone(), path));
    }

    for (config, path) in candidates {
        match load_one(runtime, &config, &path) {
            Ok(Loaded::Collector(c)) => loaded.collectors.push(c),
            Ok(Loaded::Other(kind)) => loaded.others.push(OtherPlugin {
                name: config.name.clone(),
                kind,
            }),
            Err(e) => loaded.errors.push(e),
        }
    }
    loaded
}

enum Loaded {
    Collector(CollectorPlugin),
    Other(PluginKind),
}

fn load_one(
    runtime: &PluginRuntime,
    config: &PluginConfig,
    path: &Path,
) -> Result<Loaded, PluginError> {
    let bytes = std::fs::read(path).map_err(|e| PluginError::Read {
        plugin: config.name.clone(),
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    let component = Component::new(&runtime.engine, &bytes).map_err(|e| PluginError::Compile {
        plugin: config.name.clone(),
        path: path.to_owned(),
        detail: format!("{e:#}"),
    })?;
    match kind::detect(&runtime.engine, &component, &config.name)? {
        PluginKind::Collector => Ok(Loaded::Collector(CollectorPlugin::new(
            runtime.clone(),
            &component,
            config.clone(),
        )?)),
        other => Ok(Loaded::Other(other)),
    }
}

/// A plugin found without a `[[plugins]]` entry: no grants, default limits.
fn unconfigured(name: &str) -> PluginConfig {
    PluginConfig {
        name: name.to_owned(),
        path: None,
        enabled: true,
        read_paths: Vec::new(),
        config: toml::Table::new(),
        limits: Default::default(),
    }
}
