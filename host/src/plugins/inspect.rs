//! `perfwatch plugins check`: what a component is, what it imports, what
//! the config would grant it, and whether one call works.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use wasmtime::component::Component;

use super::bindings::{v1, v2};
use super::kind::WitVersion;
use super::sandbox::Sandbox;
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
    /// What the plugin says of its config (its `validate-config`), in words.
    pub config_check: String,
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
            plugin_config
                .limits
                .call_timeout_ms
                .map_or_else(|| "the world's default".to_owned(), |ms| ms.to_string()),
            plugin_config.limits.memory_mib
        ),
    ];
    let config_check = config_check(&runtime, &component, plugin_config.clone()).await;
    let smoke_call = smoke_call(&runtime, &component, kind, wit_version, plugin_config).await;
    Ok(Inspection {
        name,
        kind,
        wit_version: match wit_version {
            WitVersion::V2 => super::WIT_VERSION.to_owned(),
            WitVersion::V1 => format!("{} (deprecated)", super::WIT_VERSION_DEPRECATED),
        },
        imports,
        grants,
        configured: entry.is_some(),
        smoke_call,
        config_check,
    })
}

/// One call with the configured grants. Channels are not called: that
/// would deliver a notification.
async fn smoke_call(
    runtime: &PluginRuntime,
    component: &Component,
    kind: PluginKind,
    version: WitVersion,
    config: super::PluginConfig,
) -> String {
    let grants = Grants {
        http: http::HttpClient::new(grants::HttpGrant::new(&config.name, &config.allow_http)),
        email: None,
        capture: None,
    };
    let json = config.config_json();
    let started = Instant::now();
    let outcome = match (kind, version) {
        (PluginKind::Collector, _) => {
            let mut plugin = match version {
                WitVersion::V2 => Sandbox::<v2::collector::Collector>::new(
                    runtime, component, config, json, grants,
                )
                .map(super::CollectorPlugin::v2),
                WitVersion::V1 => Sandbox::<v1::collector::Collector>::new(
                    runtime, component, config, json, grants,
                )
                .map(super::CollectorPlugin::v1),
            };
            let plugin = match &mut plugin {
                Ok(p) => p,
                Err(e) => return e.to_string(),
            };
            let outcome = plugin.collect(crate::clock::now_ms()).await;
            match outcome.error {
                Some(e) => format!("failed: {e}"),
                None => format!("collect() returned {} samples", outcome.samples.len()),
            }
        }
        (PluginKind::Exporter, _) => {
            let plugin = match version {
                WitVersion::V2 => {
                    Sandbox::<v2::exporter::Exporter>::new(runtime, component, config, json, grants)
                        .map(super::ExporterPlugin::v2)
                }
                WitVersion::V1 => {
                    Sandbox::<v1::exporter::Exporter>::new(runtime, component, config, json, grants)
                        .map(super::ExporterPlugin::v1)
                }
            };
            let mut plugin = match plugin {
                Ok(p) => p,
                Err(e) => return e.to_string(),
            };
            match empty_export(&mut plugin).await {
                Ok((bytes, kind)) => format!(
                    "an empty export rendered {bytes} bytes of {}",
                    kind.media_type
                ),
                Err(e) => format!("failed: {e}"),
            }
        }
        (PluginKind::Channel, _) => {
            return "not called: a call would deliver a notification".to_owned();
        }
    };
    format!(
        "{outcome} in {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    )
}

/// The plugin's answer about the config its `[[plugins]]` entry gives it.
async fn config_check(
    runtime: &PluginRuntime,
    component: &Component,
    config: super::PluginConfig,
) -> String {
    let grants = Grants {
        http: http::HttpClient::new(grants::HttpGrant::new(&config.name, &config.allow_http)),
        email: None,
        capture: None,
    };
    let json = config.config_json();
    let mut sandbox = match Sandbox::<v2::configurable::Configurable>::new(
        runtime, component, config, json, grants,
    ) {
        Ok(sandbox) => sandbox,
        // Only 0.2 components export it, and only optionally.
        Err(_) => return "not checked: the component has no validate-config".to_owned(),
    };
    match sandbox.validate_config().await {
        Ok(secret) if secret.is_empty() => "accepted".to_owned(),
        Ok(secret) => format!("accepted (secret keys: {})", secret.join(", ")),
        Err(e) => format!("refused: {e}"),
    }
}

/// An export of nothing, begun and finished: the bytes written and the type.
async fn empty_export(
    plugin: &mut super::ExporterPlugin,
) -> Result<(usize, super::DocumentType), PluginError> {
    let document = plugin
        .begin(super::ExportInfo {
            start_ms: 0,
            end_ms: 1,
            series_count: 0,
            alert_count: 0,
            bottleneck_count: 0,
            options: "{}".to_owned(),
        })
        .await?;
    let (bytes, kind) = document.finish().await?;
    Ok((bytes.len(), kind))
}
