//! A loaded collector plugin: one live instance, called once per tick
//! under a CPU deadline and a memory cap, replaced after it traps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime::component::Component;

use super::bindings::collector::{Collector, CollectorPre};
use super::bindings::types;
use super::limits::{MAX_HOSTCALL_BYTES, MAX_SAMPLES_PER_CALL};
use super::state::PluginState;
use super::supervisor::{PluginStats, Supervisor};
use super::{PluginError, PluginRuntime};
use crate::config::PluginConfig;
use crate::model::{Labels, MetricKind, Sample, canonical_metric_name};

struct Live {
    store: Store<PluginState>,
    bindings: Collector,
}

/// A collector plugin and its supervisor state.
pub struct CollectorPlugin {
    name: Arc<str>,
    config: PluginConfig,
    config_json: Arc<str>,
    pre: CollectorPre<PluginState>,
    runtime: PluginRuntime,
    live: Option<Live>,
    supervisor: Supervisor,
}

/// What one tick's call produced.
pub struct CollectOutcome {
    /// Valid samples.
    pub samples: Vec<Sample>,
    /// Whether a call was made (a plugin backing off after failures is not called).
    pub called: bool,
    /// The failure, when the call failed.
    pub error: Option<PluginError>,
}

impl CollectorPlugin {
    pub(super) fn new(
        runtime: PluginRuntime,
        component: &Component,
        config: PluginConfig,
    ) -> Result<Self, PluginError> {
        let name: Arc<str> = config.name.as_str().into();
        let instantiate_error = |e: wasmtime::Error| PluginError::Instantiate {
            plugin: name.to_string(),
            detail: format!("{e:#}"),
        };
        let pre = runtime
            .linker
            .instantiate_pre(component)
            .map_err(instantiate_error)?;
        let pre = CollectorPre::new(pre).map_err(instantiate_error)?;
        Ok(Self {
            config_json: config.config_json().into(),
            name,
            config,
            pre,
            runtime,
            live: None,
            supervisor: Supervisor::new(),
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls, failures, status.
    pub fn stats(&self) -> PluginStats {
        self.supervisor.stats()
    }

    /// Calls `collect()` once, unless the plugin is backing off after a
    /// failure. `tick_ms` stamps samples that carry no timestamp.
    pub async fn collect(&mut self, tick_ms: i64) -> CollectOutcome {
        if !self.supervisor.may_call(Instant::now()) {
            return CollectOutcome {
                samples: Vec::new(),
                called: false,
                error: None,
            };
        }
        let started = Instant::now();
        let result = self.call(tick_ms).await;
        let elapsed = started.elapsed();
        match result {
            Ok(samples) => {
                self.supervisor.record_success(elapsed);
                CollectOutcome {
                    samples,
                    called: true,
                    error: None,
                }
            }
            Err(error) => {
                if error.poisons_instance() {
                    self.live = None;
                }
                self.supervisor
                    .record_failure(elapsed, &error, Instant::now());
                CollectOutcome {
                    samples: Vec::new(),
                    called: true,
                    error: Some(error),
                }
            }
        }
    }

    async fn call(&mut self, tick_ms: i64) -> Result<Vec<Sample>, PluginError> {
        let budget = Duration::from_millis(self.config.limits.call_timeout_ms);
        if self.live.is_none() {
            let state =
                PluginState::new(&self.config, self.name.clone(), self.config_json.clone())?;
            match Self::instantiate(&self.pre, &self.runtime.engine, state, budget).await {
                Ok(live) => self.live = Some(live),
                Err((error, memory_hit)) => {
                    return Err(match self.classify(error, memory_hit) {
                        PluginError::Trap { plugin, detail } => {
                            PluginError::Instantiate { plugin, detail }
                        }
                        other => other,
                    });
                }
            }
        }
        let live = self.live.as_mut().expect("instantiated above");
        live.store.data_mut().deadline = Instant::now() + budget;
        live.store.set_epoch_deadline(1);
        let result = live
            .bindings
            .perfwatch_plugin_collector_api()
            .call_collect(&mut live.store)
            .await;
        let memory_hit = live.store.data_mut().memory.take_hit();
        match result {
            Ok(Ok(samples)) => self.convert(samples, tick_ms),
            Ok(Err(message)) => Err(PluginError::Reported {
                plugin: self.name.to_string(),
                message,
            }),
            Err(trap) => Err(self.classify(trap, memory_hit)),
        }
    }

    /// A fresh instance. A free function over the parts it needs, because
    /// `&self` would hold the live `Store` (not `Sync`) across the await.
    async fn instantiate(
        pre: &CollectorPre<PluginState>,
        engine: &wasmtime::Engine,
        state: PluginState,
        budget: Duration,
    ) -> Result<Live, (wasmtime::Error, bool)> {
        let mut store = Store::new(engine, state);
        // The deadline must be set before instantiation too: a fresh store's
        // deadline of 0 would interrupt the start function at once.
        store.data_mut().deadline = Instant::now() + budget;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            Ok(if Instant::now() >= ctx.data().deadline {
                wasmtime::UpdateDeadline::Interrupt
            } else {
                // Yield to the runtime so other plugins and the server run.
                wasmtime::UpdateDeadline::Yield(1)
            })
        });
        store.limiter(|state| &mut state.memory);
        store.set_hostcall_fuel(MAX_HOSTCALL_BYTES);
        match pre.instantiate_async(&mut store).await {
            Ok(bindings) => Ok(Live { store, bindings }),
            Err(e) => Err((e, store.data_mut().memory.take_hit())),
        }
    }

    fn classify(&self, error: wasmtime::Error, memory_hit: bool) -> PluginError {
        let plugin = self.name.to_string();
        if memory_hit {
            return PluginError::MemoryLimit {
                plugin,
                limit_mib: self.config.limits.memory_mib,
            };
        }
        if let Some(wasmtime::Trap::Interrupt) = error.downcast_ref::<wasmtime::Trap>() {
            return PluginError::Timeout {
                plugin,
                limit_ms: self.config.limits.call_timeout_ms,
            };
        }
        let detail = match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::UnreachableCodeReached) => {
                "the plugin panicked or aborted (its stderr, logged above, says why)".to_owned()
            }
            Some(trap) => trap.to_string(),
            None => format!("{error:#}"),
        };
        tracing::debug!(plugin = %self.name, error = ?error, "plugin trap details");
        PluginError::Trap { plugin, detail }
    }

    /// Validates and converts the plugin's samples; invalid ones are
    /// dropped with a warning, the rest kept.
    fn convert(
        &self,
        samples: Vec<types::Sample>,
        tick_ms: i64,
    ) -> Result<Vec<Sample>, PluginError> {
        if samples.len() > MAX_SAMPLES_PER_CALL {
            return Err(PluginError::TooManySamples {
                plugin: self.name.to_string(),
                count: samples.len(),
                max: MAX_SAMPLES_PER_CALL,
            });
        }
        let mut out = Vec::with_capacity(samples.len());
        for s in samples {
            match convert_sample(s, tick_ms) {
                Ok(sample) => out.push(sample),
                Err(reason) => tracing::warn!(plugin = %self.name, "dropped a sample: {reason}"),
            }
        }
        Ok(out)
    }
}

fn convert_sample(s: types::Sample, tick_ms: i64) -> Result<Sample, String> {
    let metric = canonical_metric_name(&s.metric).map_err(|e| e.to_string())?;
    if !s.value.is_finite() {
        return Err(format!("`{metric}` has the non-finite value {}", s.value));
    }
    let labels = Labels::try_from_pairs(s.labels.into_iter().map(|l| (l.key, l.value)))
        .map_err(|e| format!("`{metric}`: {e}"))?;
    let unit = if s.unit.is_empty() {
        crate::model::known_unit(&metric)
            .unwrap_or_default()
            .to_owned()
    } else {
        s.unit
    };
    Ok(Sample {
        metric,
        value: s.value,
        unit,
        kind: match s.kind {
            types::MetricKind::Gauge => MetricKind::Gauge,
            types::MetricKind::Counter => MetricKind::Counter,
        },
        labels,
        timestamp_ms: s.timestamp_ms.unwrap_or(tick_ms),
    })
}
