//! What each plugin instance's `Store` holds: its WASI context (with only
//! the granted preopens), its grants, its limits and its identity.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use super::PluginError;
use super::email::Mailer;
use super::http::HttpClient;
use super::limits::MemoryCap;
use super::output::{LogOutput, Stream};
use super::render::Capture;
use super::series::DeclaredSeries;
use crate::config::PluginConfig;

/// Everything a plugin instance was granted, fixed when it is loaded.
#[derive(Clone)]
pub struct Grants {
    /// Outgoing HTTP, checked against the plugin's origins.
    pub http: HttpClient,
    /// SMTP relay of the plugin's channel, when granted.
    pub email: Option<Mailer>,
    /// Set when rendering: emails are captured instead of sent.
    pub capture: Option<Capture>,
}

/// Per-instance state.
pub struct PluginState {
    /// Plugin name, for logs and errors.
    pub name: Arc<str>,
    /// The plugin's `config` table as JSON text.
    pub config_json: Arc<str>,
    /// When the current call must stop; host imports that wait (HTTP,
    /// email) bound their own timeouts by it.
    pub deadline: Instant,
    /// Linear-memory cap.
    pub memory: MemoryCap,
    /// Capabilities beyond WASI.
    pub grants: Grants,
    /// Series the instance declared (collectors only).
    pub series: DeclaredSeries,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl PluginState {
    /// State for a new instance of the plugin `config` describes. There is
    /// no ambient authority: no environment, no arguments, no sockets, and
    /// only the `read_paths` granted, read-only.
    pub fn new(
        config: &PluginConfig,
        name: Arc<str>,
        config_json: Arc<str>,
        grants: Grants,
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
            grants,
            series: DeclaredSeries::default(),
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
