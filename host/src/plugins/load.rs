//! Loading plugins from `plugins_dir` and wiring them to the config: at
//! start-up for every component, and on reload for one.

use std::path::PathBuf;

use wasmtime::component::Component;

use super::bindings::{v1, v2};
use super::cache::{ComponentCache, Origin};
use super::kind::{WIT_VERSION, WitVersion};
use super::render::{Capture, Rendered};
use super::sandbox::{Sandbox, World};
use super::{
    ChannelPlugin, CollectorPlugin, ExporterPlugin, PluginError, PluginKind, PluginRuntime, email,
    grants, http, kind, state, unconfigured,
};
use crate::config::{Channel, Config, PluginConfig};
use crate::model::Notification;

/// Everything loaded from `plugins_dir`.
#[derive(Default)]
pub struct LoadedPlugins {
    /// Collectors, called every tick.
    pub collectors: Vec<CollectorPlugin>,
    /// One channel plugin instance per enabled `[[alerting.channels]]`
    /// entry, with that entry.
    pub channels: Vec<(Channel, ChannelPlugin)>,
    /// Exporters.
    pub exporters: Vec<ExporterPlugin>,
    /// Components that could not be loaded, configured plugins without a
    /// component, and channels without a plugin, in words.
    pub errors: Vec<String>,
    /// Collectors found without a `[[plugins]]` entry, which are checked
    /// but not run (they would run without config or grants), with the
    /// line that would enable them.
    pub idle: Vec<String>,
    /// The keys each plugin declared secret in its config.
    pub secret_keys: Vec<(String, Vec<String>)>,
    /// Channels the config names whose type no channel plugin serves, in
    /// words (also in `errors`): the host does not start with them.
    pub unserved_channels: Vec<String>,
}

/// One plugin's instances under the current config.
#[derive(Default)]
pub struct Instances {
    /// The collector, when the plugin is one and is enabled.
    pub collector: Option<CollectorPlugin>,
    /// The exporter, when the plugin is one.
    pub exporter: Option<ExporterPlugin>,
    /// One instance per enabled channel of the plugin's type.
    pub channels: Vec<(Channel, ChannelPlugin)>,
    /// Why a collector is not run.
    pub idle: Option<String>,
    /// The keys of its config the plugin declared secret.
    pub secret_keys: Vec<String>,
    /// Channels of this type that cannot be served, in words.
    pub errors: Vec<String>,
}

/// A compiled component with its config.
pub struct Compiled {
    config: PluginConfig,
    component: Component,
    kind: PluginKind,
    version: WitVersion,
    configured: bool,
}

impl Compiled {
    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Its world.
    pub fn kind(&self) -> PluginKind {
        self.kind
    }
}

/// Compiles components (through the on-disk cache) and builds instances.
/// Cheap to clone.
#[derive(Clone)]
pub struct Loader {
    runtime: PluginRuntime,
    cache: ComponentCache,
}

impl Loader {
    /// A loader caching compiled components in `config.data_dir`.
    pub fn new(runtime: &PluginRuntime, config: &Config) -> Self {
        Self {
            cache: ComponentCache::new(&config.data_dir, &runtime.engine),
            runtime: runtime.clone(),
        }
    }

    /// Loads every component in `plugins_dir` and every configured plugin.
    /// One bad component never stops the others from loading.
    pub async fn load_all(&self, config: &Config) -> LoadedPlugins {
        let mut loaded = LoadedPlugins::default();
        let mut names: Vec<String> = crate::dir::files_with_extension(&config.plugins_dir, "wasm")
            .iter()
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .chain(config.plugins.iter().map(|p| p.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        let mut channel_plugins = Vec::new();
        for name in names {
            match self.compile(config, &name) {
                Ok(None) => {}
                Ok(Some(compiled)) => {
                    if compiled.kind == PluginKind::Channel {
                        channel_plugins.push(name.clone());
                    }
                    let instances = self.instances(&compiled, config).await;
                    loaded.collectors.extend(instances.collector);
                    loaded.exporters.extend(instances.exporter);
                    loaded.channels.extend(instances.channels);
                    loaded.idle.extend(instances.idle);
                    if !instances.secret_keys.is_empty() {
                        loaded
                            .secret_keys
                            .push((name.clone(), instances.secret_keys));
                    }
                    loaded.errors.extend(instances.errors);
                }
                Err(e) => loaded.errors.push(e.to_string()),
            }
        }
        for channel in config
            .alerting
            .channels
            .iter()
            .filter(|c| c.enabled && config.alerting.enabled)
        {
            if !loaded.channels.iter().any(|(c, _)| c.name == channel.name)
                && !loaded
                    .errors
                    .iter()
                    .any(|e| e.starts_with(&format!("channel {} ", channel.name)))
            {
                let error = format!(
                    "channel {} cannot deliver: no channel plugin `{}` is loaded from plugins_dir \
                     (channel plugins found: {})",
                    channel.name,
                    channel.kind,
                    if channel_plugins.is_empty() {
                        "none".to_owned()
                    } else {
                        channel_plugins.join(", ")
                    }
                );
                if !channel.implicit {
                    loaded.unserved_channels.push(error.clone());
                }
                loaded.errors.push(error);
            }
        }
        loaded
    }

    /// Compiles plugin `name` as `config` configures it. `Ok(None)` when it
    /// is disabled; an error when it cannot be used, in words.
    pub fn compile(&self, config: &Config, name: &str) -> Result<Option<Compiled>, PluginError> {
        let entry = config.plugins.iter().find(|p| p.name == name);
        let plugin_config = entry.cloned().unwrap_or_else(|| unconfigured(name));
        if !plugin_config.enabled {
            tracing::info!(plugin = name, "plugin disabled in config; not loaded");
            return Ok(None);
        }
        let path = component_path(config, &plugin_config);
        let bytes = std::fs::read(&path).map_err(|e| PluginError::Read {
            plugin: name.to_owned(),
            path: path.clone(),
            detail: if e.kind() == std::io::ErrorKind::NotFound {
                "no such file (build the shipped plugins with `cargo xtask plugins`)".to_owned()
            } else {
                e.to_string()
            },
        })?;
        let (component, origin) =
            self.cache
                .load(&self.runtime.engine, &bytes)
                .map_err(|e| PluginError::Compile {
                    plugin: name.to_owned(),
                    path: path.clone(),
                    detail: format!("{e:#}"),
                })?;
        let source = match origin {
            Origin::Cached => "compile cache",
            Origin::Compiled => "compiled now",
        };
        tracing::info!(plugin = name, source, "component ready");
        let (kind, version) = kind::detect(&self.runtime.engine, &component, name)?;
        if version == WitVersion::V1 {
            tracing::warn!(
                plugin = name,
                "built against perfwatch:plugin@0.1, which is deprecated: it runs through an adapter \
                 (one deliver call per alert, exports buffered whole); rebuild it with perfwatch-sdk \
                 for perfwatch:plugin@{WIT_VERSION}"
            );
        }
        Ok(Some(Compiled {
            config: plugin_config,
            component,
            kind,
            version,
            configured: entry.is_some(),
        }))
    }

    /// The instances `compiled` gets under `config`, each of whose config
    /// the plugin accepted (an instance it refuses is an error instead).
    pub async fn instances(&self, compiled: &Compiled, config: &Config) -> Instances {
        let mut out = Instances::default();
        let grants = || state::Grants {
            http: http::HttpClient::new(grants::HttpGrant::new(
                &compiled.config.name,
                &compiled.config.allow_http,
            )),
            email: None,
            capture: None,
        };
        match compiled.kind {
            PluginKind::Collector if !compiled.configured => {
                out.idle = Some(format!(
                    "collector `{0}` is in plugins_dir but not enabled; to run it every tick add \
                     [[plugins]] name = \"{0}\" (with its config and grants)",
                    compiled.config.name
                ));
            }
            PluginKind::Collector => {
                let json = compiled.config.config_json();
                let plugin = match compiled.version {
                    WitVersion::V2 => self
                        .sandbox::<v2::collector::Collector>(compiled, json, grants())
                        .map(CollectorPlugin::v2),
                    WitVersion::V1 => self
                        .sandbox::<v1::collector::Collector>(compiled, json, grants())
                        .map(CollectorPlugin::v1),
                };
                match plugin {
                    Ok(mut p) => match p.validate_config().await {
                        Ok(keys) => {
                            out.secret_keys = keys;
                            out.collector = Some(p);
                        }
                        Err(e) => out.errors.push(e.to_string()),
                    },
                    Err(e) => out.errors.push(e.to_string()),
                }
            }
            PluginKind::Exporter => {
                let json = compiled.config.config_json();
                let plugin = match compiled.version {
                    WitVersion::V2 => self
                        .sandbox::<v2::exporter::Exporter>(compiled, json, grants())
                        .map(ExporterPlugin::v2),
                    WitVersion::V1 => self
                        .sandbox::<v1::exporter::Exporter>(compiled, json, grants())
                        .map(ExporterPlugin::v1),
                };
                match plugin {
                    Ok(mut p) => match p.validate_config().await {
                        Ok(keys) => {
                            out.secret_keys = keys;
                            out.exporter = Some(p);
                        }
                        Err(e) => out.errors.push(e.to_string()),
                    },
                    Err(e) => out.errors.push(e.to_string()),
                }
            }
            PluginKind::Channel if config.alerting.enabled => {
                for channel in config.alerting.channels.iter().filter(|c| c.enabled) {
                    if channel.kind != compiled.config.name {
                        continue;
                    }
                    let mut plugin = match self.channel_instance(compiled, channel, None) {
                        Ok(plugin) => plugin,
                        Err(e) => {
                            out.errors.push(e);
                            continue;
                        }
                    };
                    match plugin.validate_config().await {
                        Ok(keys) => {
                            out.secret_keys = keys;
                            out.channels.push((channel.clone(), plugin));
                        }
                        Err(e) => out
                            .errors
                            .push(format!("channel {} cannot deliver: {e}", channel.name)),
                    }
                }
            }
            PluginKind::Channel => {}
        }
        out
    }

    fn sandbox<W: World>(
        &self,
        compiled: &Compiled,
        json: String,
        grants: state::Grants,
    ) -> Result<Sandbox<W>, PluginError> {
        Sandbox::new(
            &self.runtime,
            &compiled.component,
            compiled.config.clone(),
            json,
            grants,
        )
    }

    /// The instance that delivers for `channel`: given the channel's
    /// config (secrets merged in) as its config, granted the origins of
    /// the receiver URLs written in it, and, when the plugin is granted
    /// email, a mailer for the relay the config names.
    fn channel_instance(
        &self,
        compiled: &Compiled,
        channel: &Channel,
        capture: Option<Capture>,
    ) -> Result<ChannelPlugin, String> {
        let cannot = |why: String| format!("channel {} cannot deliver: {why}", channel.name);
        let mut grant = grants::HttpGrant::new(&compiled.config.name, &compiled.config.allow_http);
        for url in channel.receiver_urls() {
            // One that does not parse grants nothing; the plugin's
            // validate-config says what is wrong with it.
            if let Ok(url) = reqwest::Url::parse(url) {
                grant = grant.with_origin_of(&url);
            }
        }
        let config = channel.plugin_config();
        let sends_email = kind::imports(&self.runtime.engine, &compiled.component, "email");
        if sends_email && !compiled.config.allow_email {
            return Err(cannot(format!(
                "plugin `{}` sends email but is not granted it; add `allow_email = true` to its [[plugins]] entry",
                compiled.config.name
            )));
        }
        let email = if sends_email {
            let settings = email::EmailSettings::from_channel_config(&config).map_err(cannot)?;
            Some(email::Mailer::new(&settings).map_err(cannot)?)
        } else {
            None
        };
        let mut http = http::HttpClient::new(grant);
        if let Some(capture) = &capture {
            http = http.capturing(capture.clone());
        }
        let grants = state::Grants {
            http,
            email,
            capture,
        };
        let json = config.to_string();
        let plugin = match compiled.version {
            WitVersion::V2 => self
                .sandbox::<v2::channel::Channel>(compiled, json, grants)
                .map(ChannelPlugin::v2),
            WitVersion::V1 => self
                .sandbox::<v1::channel::Channel>(compiled, json, grants)
                .map(ChannelPlugin::v1),
        };
        plugin.map_err(|e| e.to_string())
    }
}

impl Loader {
    /// What `channel`'s plugin would send for `notification`, captured
    /// rather than sent (see `render.rs`), from a fresh instance of it;
    /// or why it cannot say, in words.
    pub async fn render_channel(
        &self,
        config: &Config,
        channel: &Channel,
        notification: &Notification,
    ) -> Result<Vec<Rendered>, String> {
        let compiled = self
            .compile(config, &channel.kind)
            .map_err(|e| e.to_string())?
            .filter(|c| c.kind == PluginKind::Channel)
            .ok_or_else(|| format!("no channel plugin `{}` is loaded", channel.kind))?;
        let capture = Capture::default();
        let mut plugin = self.channel_instance(&compiled, channel, Some(capture.clone()))?;
        plugin.deliver(notification).await.map_err(|e| {
            format!(
                "channel {} failed to render ({}): {}",
                channel.name,
                e.class(),
                e.reason()
            )
        })?;
        Ok(capture.taken())
    }
}

/// Where plugin `config.name`'s component is.
pub fn component_path(config: &Config, plugin: &PluginConfig) -> PathBuf {
    match &plugin.path {
        Some(p) if p.is_absolute() => p.clone(),
        Some(p) => config.plugins_dir.join(p),
        None => config.plugins_dir.join(format!("{}.wasm", plugin.name)),
    }
}
