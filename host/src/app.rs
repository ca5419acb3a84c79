//! The state a running host shares between the tick, the API and the
//! WebSocket hub. Each field is owned by one writer, named in its comment.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;

use crate::alert::{AlertEngine, BottleneckTracker, DeliveryQueue, Silences};
use crate::config::Config;
use crate::hub::{Hub, StreamLimits};
use crate::ingest::DeltaSums;
use crate::model::{Acknowledgement, Alert, Sample};
use crate::plugins::{ExporterPlugin, Loader, PluginKind, PluginStats};
use crate::rules::RuleError;
use crate::store::{AlertRecord, Store, StoreError};
use crate::window::SampleWindow;

/// One plugin instance as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginView {
    /// Plugin name.
    pub name: String,
    /// Its world.
    pub kind: PluginKind,
    /// The channel it delivers for (channel plugins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Health and counters.
    pub stats: PluginStats,
}

/// Every plugin instance's latest view, keyed by instance (`loadavg`,
/// `console@console`); each instance's owner updates its own entry.
#[derive(Clone, Default)]
pub struct PluginViews {
    views: Arc<RwLock<BTreeMap<String, PluginView>>>,
    reload_errors: Arc<RwLock<BTreeMap<String, String>>>,
    /// The keys of each plugin's `[[plugins]] config` it declared secret.
    secret_keys: Arc<RwLock<BTreeMap<String, Vec<String>>>>,
}

impl PluginViews {
    /// Replaces one instance's view.
    pub fn update(&self, view: PluginView) {
        let key = match &view.channel {
            Some(channel) => format!("{}@{channel}", view.name),
            None => view.name.clone(),
        };
        self.views
            .write()
            .expect("plugin views lock")
            .insert(key, view);
    }

    /// Drops every view of plugin `name` (its instances stopped).
    pub fn remove(&self, name: &str) {
        self.views
            .write()
            .expect("plugin views lock")
            .retain(|_, v| v.name != name);
    }

    /// All views, in key order.
    pub fn all(&self) -> Vec<PluginView> {
        self.views
            .read()
            .expect("plugin views lock")
            .values()
            .cloned()
            .collect()
    }

    /// Records why the latest reload of `name` was refused (or clears it).
    pub fn set_reload_error(&self, name: &str, error: Option<String>) {
        let mut errors = self.reload_errors.write().expect("reload errors lock");
        match error {
            Some(e) => errors.insert(name.to_owned(), e),
            None => errors.remove(name),
        };
    }

    /// Refused reloads, by plugin name.
    pub fn reload_errors(&self) -> BTreeMap<String, String> {
        self.reload_errors
            .read()
            .expect("reload errors lock")
            .clone()
    }

    /// Records the config keys plugin `name` declared secret.
    pub fn set_secret_keys(&self, name: &str, keys: Vec<String>) {
        self.secret_keys
            .write()
            .expect("secret keys lock")
            .insert(name.to_owned(), keys);
    }

    /// `config` as the API and the stream show it: every `Secret` and every
    /// channel's `secrets` redacted, and in each `[[plugins]]` entry and
    /// channel `config` the keys its plugin declared secret. A `[[plugins]]`
    /// entry whose plugin is not loaded (yet) declared nothing, so its
    /// `config` is shown as written, as the config reference says; a
    /// channel's stays wholly redacted, as it usually holds its receiver's
    /// token.
    pub fn redacted_config(&self, config: &Config) -> serde_json::Value {
        let mut json = config.redacted_json();
        let secret_keys = self.secret_keys.read().expect("secret keys lock");
        for entry in json["plugins"].as_array_mut().into_iter().flatten() {
            let keys = entry["name"]
                .as_str()
                .and_then(|name| secret_keys.get(name));
            if let Some(keys) = keys {
                crate::config::redact_keys(&mut entry["config"], keys);
            }
        }
        let channels = json["alerting"]["channels"].as_array_mut();
        for (entry, channel) in channels
            .into_iter()
            .flatten()
            .zip(&config.alerting.channels)
        {
            if let Some(keys) = secret_keys.get(&channel.kind) {
                let mut shown =
                    serde_json::to_value(&channel.config).expect("TOML tables serialise as JSON");
                crate::config::redact_keys(&mut shown, keys);
                entry["config"] = shown;
            }
        }
        json
    }
}

/// Rule scripts as the API shows them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RulesView {
    /// Scripts that compiled.
    pub scripts: Vec<String>,
    /// Scripts that failed to compile.
    pub compile_errors: Vec<RuleError>,
    /// Scripts that failed at run time on the latest tick.
    pub runtime_errors: Vec<RuleError>,
}

/// Why an acknowledgement was not taken.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error("no firing alert has the id `{0}`")]
    NotFiring(String),
    #[error("the acknowledgement could not be recorded")]
    Store(#[from] StoreError),
}

/// Shared state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The validated config (never changes while running).
    pub config: Arc<Config>,
    /// The store.
    pub store: Store,
    /// Recent points; written by the tick and by ingestion.
    pub window: Arc<RwLock<SampleWindow>>,
    /// Alert state; written by the tick.
    pub alerts: Arc<Mutex<AlertEngine>>,
    /// Bottlenecks; written by the tick.
    pub bottlenecks: Arc<Mutex<BottleneckTracker>>,
    /// Silences; written by the API.
    pub silences: Arc<Mutex<Silences>>,
    /// WebSocket fan-out.
    pub hub: Hub,
    /// The latest `metrics_update` data; written by the tick.
    pub current: Arc<RwLock<serde_json::Value>>,
    /// Plugin status; written by whoever calls each plugin.
    pub plugins: PluginViews,
    /// Notifications on their way to channels.
    pub deliveries: DeliveryQueue,
    /// Exporter plugins, used one request at a time.
    pub exporters: Arc<tokio::sync::Mutex<Vec<ExporterPlugin>>>,
    /// Builds throwaway channel instances that render a notification
    /// without sending it (`POST /api/v1/channels/{name}/test` with
    /// `render`); none without a plugin runtime (embedded hosts, tests).
    pub channel_renderer: Option<Loader>,
    /// Rule status; written by the tick.
    pub rules: Arc<RwLock<RulesView>>,
    /// Samples committed to the store since start, from every source.
    pub stored_total: Arc<AtomicU64>,
    /// Running totals of OTLP delta sums; written by the OTLP receiver,
    /// which holds the lock from accumulating until the store commits.
    pub delta_sums: Arc<tokio::sync::Mutex<DeltaSums>>,
}

impl AppState {
    /// State around an open store.
    pub fn new(config: Config, store: Store) -> Self {
        let silences = Silences::load(&config.data_dir);
        let hub = Hub::new(StreamLimits {
            max_clients: config.server.max_ws_clients,
            ..Default::default()
        });
        Self {
            config: Arc::new(config),
            store,
            window: Default::default(),
            alerts: Default::default(),
            bottlenecks: Default::default(),
            silences: Arc::new(Mutex::new(silences)),
            hub,
            current: Arc::new(RwLock::new(serde_json::Value::Null)),
            plugins: Default::default(),
            deliveries: DeliveryQueue::empty(),
            exporters: Default::default(),
            channel_renderer: None,
            rules: Default::default(),
            stored_total: Default::default(),
            delta_sums: Default::default(),
        }
    }

    /// Updates `GET /api/v1/rules` from `rules` and streams `rules_status`;
    /// `runtime` replaces the run-time errors when given.
    pub fn publish_rules(&self, rules: &crate::rules::RuleSet, runtime: Option<Vec<RuleError>>) {
        let view = {
            let mut view = self.rules.write().expect("rules lock");
            view.scripts = rules
                .script_names()
                .into_iter()
                .map(str::to_owned)
                .collect();
            view.compile_errors = rules.compile_errors().to_vec();
            if let Some(runtime) = runtime {
                view.runtime_errors = runtime;
            }
            view.clone()
        };
        self.hub.publish("rules_status", &view);
    }

    /// Acknowledges the firing alert `id`: its repeats stop until it
    /// resolves. Streams `alert_acknowledged` and records the event.
    pub async fn acknowledge(&self, id: &str, ack: Acknowledgement) -> Result<Alert, AckError> {
        let alert = self
            .alerts
            .lock()
            .expect("alerts lock")
            .acknowledge(id, ack)
            .ok_or_else(|| AckError::NotFiring(id.to_owned()))?;
        self.hub.publish("alert_acknowledged", &alert);
        let record = AlertRecord {
            at: crate::clock::now_ms(),
            event: "acknowledged",
            alert: alert.clone(),
        };
        self.store.record_alert_events(vec![record]).await?;
        Ok(alert)
    }

    /// Stores samples durably, then makes them visible to rules and the
    /// dashboard: a pushed sample is acknowledged and shown only once it is
    /// on disk. (The tick's own samples are shown even when their commit
    /// fails; see `runtime/tick.rs`.)
    pub async fn record(&self, samples: Vec<Sample>) -> Result<usize, StoreError> {
        if samples.is_empty() {
            return Ok(0);
        }
        let samples = self.store.commit(samples).await?;
        self.stored_total
            .fetch_add(samples.len() as u64, Ordering::Relaxed);
        self.window
            .write()
            .expect("window lock")
            .insert_all(&samples);
        Ok(samples.len())
    }
}
