//! WebAssembly plugins: the wasmtime engine, loading components from
//! `plugins_dir`, limits, supervision and the host imports. This module
//! owns wasmtime; nothing else names it.
//!
//! Invariant: no plugin call runs without a CPU deadline and a memory cap
//! (see `collector.rs`), no plugin gets a capability it was not granted
//! (see `state.rs`), and no URL leaves this module with more than its
//! origin: errors and plugin output pass through `redact.rs`.

mod adapter_v1;
mod bindings;
mod cache;
mod channel;
mod collector;
mod email;
mod error;
mod exporter;
mod grants;
mod http;
mod imports;
mod inspect;
mod kind;
mod limits;
mod load;
mod output;
mod redact;
mod render;
mod sandbox;
mod series;
mod state;
mod supervisor;
mod versioned;
mod worlds;

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config as EngineConfig, Engine};

pub use cache::{ComponentCache, Origin as CacheOrigin};
pub use channel::ChannelPlugin;
pub use collector::{CollectOutcome, CollectorPlugin};
pub use error::PluginError;
pub use exporter::{Document, DocumentType, ExportInfo, ExporterPlugin, SeriesChunk};
pub use inspect::{Inspection, inspect};
pub use kind::{PluginKind, WIT_PACKAGE, WIT_VERSION, WIT_VERSION_DEPRECATED};
pub use limits::{EPOCH_TICK_MS, MAX_SAMPLES_PER_CALL};
pub use load::{Instances, LoadedPlugins, Loader};
pub use render::Rendered;
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
        // types, host, http and series, shared by every world; email for
        // channels; the same again at 0.1, served by the adapter.
        bindings::v2::collector::Collector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        bindings::v2::email::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        bindings::v1::collector::Collector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        bindings::v1::email::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
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
