//! What each plugin instance's `Store` holds: its WASI context (with only
//! the granted preopens), its limits and its identity.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use super::PluginError;
use super::limits::MemoryCap;
use super::output::{LogOutput, Stream};
use crate::config::PluginConfig;

/// Per-instance state.
pub struct PluginState {
    /// Plugin name, for logs and errors.
    pub name: Arc<str>,
    /// The plugin's `config` table as JSON text.
    pub config_json: Arc<str>,
    /// When the current call must stop.
    pub deadline: Instant,
    /// Linear-memory cap.
    pub memory: MemoryCap,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl PluginState {
    /// State for a new instance of the plugin `config` describes. There is
    /// no ambient authority: no environment, no arguments, no network, and
    /// only the `read_paths` granted, read-only.
    pub fn new(
        config: &PluginConfig,
        name: Arc<str>,
        config_json: Arc<str>,
    ) -> Result<Self, PluginError> {
        let mut wasi = WasiCtx::builder();
        wasi.stdout(LogOutput::new(name.clone(), Stream::Stdout))
            .stderr(LogOutput::new(name.clone(), Stream::Stderr))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        for path in &config.read_paths {
            let guest_path = path.to_string_lossy();
            wasi.preopened_dir(path, guest_path.as_ref(), FsPerms::ReadOnly)
                .map_err(|e| PluginError::Grant {
                    plugin: name.to_string(),
                    path: path.clone(),
                    detail: format!("{e:#}"),
                })?;
        }
        Ok(Self {
            memory: MemoryCap::new((config.limits.memory_mib as usize) << 20),
            name,
            config_json,
            deadline: Instant::now(),
            wasi: wasi.build(),
            table: ResourceTable::new(),
        })
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
