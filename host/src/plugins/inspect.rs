//! `perfwatch plugins check`: what a component is, what it imports, what
//! the config would grant it, and whether one call works.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use wasmtime::component::Component;

use super::sandbox::{CallOutcome, Sandbox};
use super::state::Grants;
use super::{PluginError, PluginKind, PluginRuntime, grants, http, kind, unconfigured};
use crate::config::Config;

/// Everything `plugins check` reports about one component.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// Plugin name (file stem).
    pub name: String,
    /// Its world.
    pub kind: PluginKind,
    /// The `perfwatch:plugin` version it was built against.
    pub wit_version: String,
    /// Interfaces it imports.
    pub imports: Vec<String>,
    /// What the config grants it, one line each.
    pub grants: Vec<String>,
    /// Whether the config has a `[[plugins]]` entry for it.
    pub configured: bool,
    /// The smoke call's outcome, in words.
    pub smoke_call: String,
}

/// Inspects the component at `path` as `config` would load it.
pub async fn inspect(path: &Path, config: &Config) -> Result<Inspection, PluginError> {
    let runtime = PluginRuntime::new().map_err(|e| PluginError::Instantiate {
        plugin: "-".into(),
        detail: format!("{e:#}"),
    })?;
    runtime.spawn_epoch_ticker();
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = std::fs::read(path).map_err(|e| PluginError::Read {
        plugin: name.clone(),
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    let component = Component::new(&runtime.engine, &bytes).map_err(|e| PluginError::Compile {
        plugin: name.clone(),
        path: path.to_owned(),
        detail: format!("{e:#}"),
    })?;
    let (kind, wit_version) = kind::detect(&runtime.engine, &component, &name)?;
    let imports = component
        .component_type()
        .imports(&runtime.engine)
        .map(|(n, _)| n.to_owned())
        .collect();
    let entry = config.plugins.iter().find(|p| p.name == name);
    let plugin_config = entry.cloned().unwrap_or_else(|| unconfigured(&name));
    let grants = vec![
        format!("read_paths = {:?}", plugin_config.read_paths),
        format!(
            "allow_http = [{}]",
            plugin_config
                .allow_http
                .iter()
                .map(|o| format!("\"{o}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!("allow_email = {}", plugin_config.allow_email),
        format!(
            "limits: call_timeout_ms = {}, memory_mib = {}",
            plugin_config.limits.call_timeout_ms, plugin_config.limits.memory_mib
        ),
    ];
    let smoke_call = smoke_call(&runtime, &component, kind, plugin_config).await;
    Ok(Inspection {
        name,
        kind,
        wit_version,
        imports,
        grants,
        configured: entry.is_some(),
        smoke_call,
    })
}

/// One call with the configured grants. Channels are not called: that
/// would deliver a notification.
async fn smoke_call(
    runtime: &PluginRuntime,
    component: &Component,
    kind: PluginKind,
    config: super::PluginConfig,
) -> String {
    let grants = Grants {
        http: http::HttpClient::new(grants::HttpGrant::new(&config.name, &config.allow_http)),
        email: None,
    };
    let json = config.config_json();
    let started = Instant::now();
    let outcome = match kind {
        PluginKind::Collector => {
            let mut sandbox: Sandbox<super::bindings::collector::Collector> =
                match Sandbox::new(runtime, component, config, json, grants) {
                    Ok(s) => s,
                    Err(e) => return e.to_string(),
                };
            let call = sandbox
                .call(|b, store| Box::pin(b.perfwatch_plugin_collector_api().call_collect(store)))
                .await;
            describe(call, |samples| {
                format!("collect() returned {} samples", samples.len())
            })
        }
        PluginKind::Exporter => {
            let mut plugin = match Sandbox::new(runtime, component, config, json, grants) {
                Ok(s) => super::ExporterPlugin::new(s),
                Err(e) => return e.to_string(),
            };
            let empty = super::ExportData {
                start_ms: 0,
                end_ms: 1,
                series: Vec::new(),
                alerts: Vec::new(),
                bottlenecks: Vec::new(),
            };
            match plugin.export(empty).await {
                Ok(a) => format!(
                    "export() rendered {} bytes of {}",
                    a.bytes.len(),
                    a.media_type
                ),
                Err(e) => format!("failed: {e}"),
            }
        }
        PluginKind::Channel => return "not called: a call would deliver a notification".to_owned(),
    };
    format!(
        "{outcome} in {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    )
}

fn describe<T>(outcome: CallOutcome<T>, done: impl FnOnce(T) -> String) -> String {
    match outcome {
        CallOutcome::Done(v) => done(v),
        CallOutcome::Failed(e) => format!("failed: {e}"),
        CallOutcome::Skipped => "skipped".to_owned(),
    }
}
