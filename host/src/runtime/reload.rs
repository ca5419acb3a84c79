//! Hot reload. A changed component in `plugins_dir`, or a changed
//! `[[plugins]]` entry in the config file, rebuilds that plugin's
//! instances without restarting the host; a changed rule script in
//! `rules_dir` is recompiled at once. A new version that fails to
//! compile, link or start leaves the old one running, and says why in the
//! log and in `GET /api/v1/plugins`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::app::AppState;
use crate::config::Config;
use crate::plugins::{CollectorPlugin, Instances, Loader, PluginError};
use crate::rules::RuleSet;
use crate::runtime::serve::channel_sink;

/// A change the tick applies before its next run.
pub enum TickUpdate {
    /// A collector to install (or, with `None`, remove).
    Collector {
        /// Plugin name.
        name: String,
        /// The new instance.
        plugin: Option<CollectorPlugin>,
    },
}

/// Watches `plugins_dir`, `rules_dir` and the config file and applies
/// changes until the process ends.
pub fn spawn(
    loader: Loader,
    rules: Arc<Mutex<RuleSet>>,
    config: Config,
    config_path: Option<PathBuf>,
    state: AppState,
    updates: mpsc::UnboundedSender<TickUpdate>,
) {
    let (tx, changes) = mpsc::unbounded_channel();
    let mut dirs = vec![config.plugins_dir.clone(), config.rules_dir.clone()];
    if let Some(dir) = config_path.as_deref().and_then(Path::parent) {
        dirs.push(if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir.to_owned()
        });
    }
    let dir_refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let watch = match crate::runtime::watch::watch(&dir_refs, tx) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(
                "hot reload is off: cannot watch {}: {e}",
                config.plugins_dir.display()
            );
            return;
        }
    };
    let reloader = Reloader {
        loader,
        rules,
        config,
        config_path,
        state,
        updates,
    };
    tokio::spawn(reloader.run(changes, watch));
}

struct Reloader {
    loader: Loader,
    rules: Arc<Mutex<RuleSet>>,
    config: Config,
    config_path: Option<PathBuf>,
    state: AppState,
    updates: mpsc::UnboundedSender<TickUpdate>,
}

impl Reloader {
    async fn run(
        mut self,
        mut changes: mpsc::UnboundedReceiver<Vec<PathBuf>>,
        _watch: crate::runtime::watch::Watch,
    ) {
        while let Some(paths) = changes.recv().await {
            let mut names = BTreeSet::new();
            for path in &paths {
                if path.extension().is_some_and(|e| e == "rhai")
                    && path.parent() == Some(self.config.rules_dir.as_path())
                {
                    self.reload_rule(path);
                } else if self.is_config_file(path) {
                    names.extend(self.reload_config());
                } else if path.extension().is_some_and(|e| e == "wasm")
                    && path.parent() == Some(self.config.plugins_dir.as_path())
                    && let Some(stem) = path.file_stem()
                {
                    names.insert(stem.to_string_lossy().into_owned());
                }
            }
            for name in names {
                self.reload_plugin(&name).await;
            }
        }
    }

    /// Recompiles one rule script at once (within a second of the save,
    /// whatever the tick length); a broken version leaves the last good
    /// one running.
    fn reload_rule(&self, path: &Path) {
        let mut rules = self.rules.lock().expect("rules lock");
        if rules.reload_file(path) {
            for error in rules.compile_errors() {
                tracing::error!("rule not reloaded, its last good version keeps running: {error}");
            }
            tracing::info!(scripts = rules.script_names().len(), "rules reloaded");
            self.state.publish_rules(&rules, None);
        }
    }

    fn is_config_file(&self, path: &Path) -> bool {
        self.config_path
            .as_deref()
            .is_some_and(|c| c.file_name() == path.file_name() && path.exists())
    }

    /// Re-reads the config; returns the plugins whose entries changed.
    /// Only `[[plugins]]` entries are applied live.
    fn reload_config(&mut self) -> Vec<String> {
        let Some(path) = &self.config_path else {
            return Vec::new();
        };
        let new = match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("config change ignored, the running config stays: {e}");
                return Vec::new();
            }
        };
        let mut changed: Vec<String> = Vec::new();
        for entry in self.config.plugins.iter().chain(&new.plugins) {
            let before = self.config.plugins.iter().find(|p| p.name == entry.name);
            let after = new.plugins.iter().find(|p| p.name == entry.name);
            if before != after && !changed.contains(&entry.name) {
                changed.push(entry.name.clone());
            }
        }
        let mut rest_old = self.config.redacted_json();
        let mut rest_new = new.redacted_json();
        rest_old["plugins"] = serde_json::Value::Null;
        rest_new["plugins"] = serde_json::Value::Null;
        if rest_old != rest_new {
            tracing::warn!("config changes outside [[plugins]] take effect at the next restart");
        }
        self.config.plugins = new.plugins;
        changed
    }

    async fn reload_plugin(&mut self, name: &str) {
        match self.loader.compile(&self.config, name) {
            Ok(Some(compiled)) => {
                let mut instances = self.loader.instances(&compiled, &self.config).await;
                match prepare(&mut instances).await {
                    Ok(()) => {
                        self.install(name, instances);
                        self.state.plugins.set_reload_error(name, None);
                        tracing::info!(plugin = name, "plugin reloaded");
                    }
                    Err(e) => self.refuse(name, &e.to_string()),
                }
            }
            Ok(None) => {
                self.install(name, Instances::default());
                tracing::info!(plugin = name, "plugin disabled; its instances stopped");
            }
            Err(PluginError::Read { path, .. }) if !path.exists() => {
                self.install(name, Instances::default());
                tracing::info!(
                    plugin = name,
                    "plugin component removed; its instances stopped"
                );
            }
            Err(e) => self.refuse(name, &e.to_string()),
        }
    }

    fn refuse(&self, name: &str, why: &str) {
        tracing::error!(
            plugin = name,
            "reload failed; the previous version keeps running: {why}"
        );
        self.state
            .plugins
            .set_reload_error(name, Some(why.to_owned()));
    }

    /// Puts `instances` in place of whatever `name` had.
    fn install(&self, name: &str, instances: Instances) {
        for error in &instances.errors {
            tracing::warn!("{error}");
        }
        self.state
            .plugins
            .set_secret_keys(name, instances.secret_keys.clone());
        let _ = self.updates.send(TickUpdate::Collector {
            name: name.to_owned(),
            plugin: instances.collector,
        });
        let state = self.state.clone();
        let (name, exporter) = (name.to_owned(), instances.exporter);
        tokio::spawn(async move {
            let mut exporters = state.exporters.lock().await;
            exporters.retain(|e| e.name() != name);
            exporters.extend(exporter);
        });
        for (channel, plugin) in instances.channels {
            self.state
                .deliveries
                .install(channel_sink(&channel, plugin, &self.state.plugins));
        }
    }
}

/// Starts every new instance, so a version that cannot start is refused
/// before it replaces anything.
async fn prepare(instances: &mut Instances) -> Result<(), PluginError> {
    if let Some(c) = &mut instances.collector {
        c.prepare().await?;
    }
    if let Some(e) = &mut instances.exporter {
        e.prepare().await?;
    }
    for (_, c) in &mut instances.channels {
        c.prepare().await?;
    }
    Ok(())
}
