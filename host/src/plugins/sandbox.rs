//! One supervised plugin instance, whatever its world: the store with its
//! limits, the deadline of every call, failures classified in words, and
//! a fresh instance (after a backoff) when a call poisoned the old one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use wasmtime::Store;
use wasmtime::component::Component;

use super::bindings::v2::configurable::Configurable;
use super::redact;
use super::state::{Grants, PluginState};
use super::supervisor::{PluginStats, Supervisor};
use super::{PluginError, PluginRuntime};
use crate::config::PluginConfig;

/// What differs between the collector, channel and exporter worlds: how
/// their bindings are pre-linked and instantiated.
pub trait World: Sized + Send + 'static {
    /// The pre-linked, type-checked component.
    type Pre: Send + Sync + 'static;

    /// Deadline of one call when the plugin's limits do not set one.
    const DEFAULT_CALL_TIMEOUT_MS: u64;

    /// Links `component` against the host's imports and checks its exports.
    fn pre(runtime: &PluginRuntime, component: &Component) -> wasmtime::Result<Self::Pre>;

    /// Instantiates into `store`.
    fn instantiate<'a>(
        pre: &'a Self::Pre,
        store: &'a mut Store<PluginState>,
    ) -> BoxFuture<'a, wasmtime::Result<Self>>;
}

/// A plugin instance of world `W`, created on first use and replaced after
/// a crash.
pub struct Sandbox<W: World> {
    name: Arc<str>,
    config: PluginConfig,
    config_json: Arc<str>,
    grants: Grants,
    pre: W::Pre,
    component: Component,
    runtime: PluginRuntime,
    live: Option<(Store<PluginState>, W)>,
    supervisor: Supervisor,
}

/// The result of one call: the plugin's own answer, or why there was none.
pub enum CallOutcome<T> {
    /// The plugin is backing off after a crash; no call was made.
    Skipped,
    /// The call returned `Ok`.
    Done(T),
    /// The call failed: a trap, a timeout, a memory failure, or an error
    /// the plugin reported itself.
    Failed(PluginError),
}

impl<W: World> Sandbox<W> {
    /// The deadline of one call: the plugin's `limits.call_timeout_ms`, or
    /// its world's default.
    fn call_timeout_ms(&self) -> u64 {
        self.config
            .limits
            .call_timeout_ms
            .unwrap_or(W::DEFAULT_CALL_TIMEOUT_MS)
    }

    /// A sandbox for `component`, configured and granted by `config`.
    pub fn new(
        runtime: &PluginRuntime,
        component: &Component,
        config: PluginConfig,
        config_json: String,
        grants: Grants,
    ) -> Result<Self, PluginError> {
        let name: Arc<str> = config.name.as_str().into();
        let pre = W::pre(runtime, component).map_err(|e| PluginError::Instantiate {
            plugin: name.to_string(),
            detail: format!("{e:#}"),
        })?;
        Ok(Self {
            name,
            config,
            config_json: config_json.into(),
            grants,
            pre,
            component: component.clone(),
            runtime: runtime.clone(),
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

    /// Records that the last call's output was refused by the host.
    pub fn record_invalid_output(&mut self, error: &PluginError) {
        self.supervisor.record_invalid_output(error);
    }

    /// Runs `call` on the instance (creating it first if needed) under the
    /// plugin's deadline. `call` returns the plugin's `result<T, string>`.
    pub async fn call<T>(
        &mut self,
        call: impl for<'a> FnOnce(
            &'a W,
            &'a mut Store<PluginState>,
        ) -> BoxFuture<'a, wasmtime::Result<Result<T, String>>>,
    ) -> CallOutcome<T> {
        if !self.supervisor.may_call(Instant::now()) {
            return CallOutcome::Skipped;
        }
        let started = Instant::now();
        let result = self.call_inner(call).await;
        let elapsed = started.elapsed();
        match result {
            Ok(value) => {
                self.supervisor.record_success(elapsed);
                CallOutcome::Done(value)
            }
            Err(error) => {
                if error.poisons_instance() {
                    self.live = None;
                }
                self.supervisor
                    .record_failure(elapsed, &error, Instant::now());
                CallOutcome::Failed(error)
            }
        }
    }

    /// Asks the plugin whether it accepts its config (the optional 0.2
    /// `config-api`), on an instance of its own that is dropped afterwards.
    /// The keys it calls secret on success; a component without the export
    /// accepts anything and names none.
    pub async fn validate_config(&mut self) -> Result<Vec<String>, PluginError> {
        let engine = &self.runtime.engine;
        let exported = self
            .component
            .component_type()
            .exports(engine)
            .any(|(name, _)| {
                name.strip_prefix("perfwatch:plugin/config-api@")
                    .is_some_and(|v| v.starts_with("0.2."))
            });
        if !exported {
            return Ok(Vec::new());
        }
        let mut checker = Sandbox::<Configurable>::new(
            &self.runtime,
            &self.component,
            self.config.clone(),
            self.config_json.to_string(),
            self.grants.clone(),
        )?;
        let json = self.config_json.to_string();
        let outcome = checker
            .call(move |bindings, store| {
                Box::pin(async move {
                    let answer = bindings
                        .perfwatch_plugin0_2_0_config_api()
                        .call_validate_config(store, &json)
                        .await?;
                    Ok(Ok(answer))
                })
            })
            .await;
        match outcome {
            CallOutcome::Done(Ok(info)) => Ok(info.secret_keys),
            CallOutcome::Done(Err(errors)) => Err(PluginError::ConfigRefused {
                plugin: self.name.to_string(),
                problems: errors
                    .into_iter()
                    .map(|e| {
                        let key = if e.key.is_empty() {
                            "the config".to_owned()
                        } else {
                            format!("`{}`", e.key)
                        };
                        let problem = redact::urls(&e.problem).into_owned();
                        if e.expected.is_empty() {
                            format!("{key}: {problem}")
                        } else {
                            format!("{key}: {problem} (expected {})", e.expected)
                        }
                    })
                    .collect(),
            }),
            CallOutcome::Failed(error) => Err(error),
            CallOutcome::Skipped => Err(PluginError::BackingOff {
                plugin: self.name.to_string(),
            }),
        }
    }

    /// Instantiates now unless an instance is live, so that a reload can
    /// refuse a component that does not start and keep the old one.
    pub async fn prepare(&mut self) -> Result<(), PluginError> {
        if self.live.is_some() {
            return Ok(());
        }
        let budget = Duration::from_millis(self.call_timeout_ms());
        let state = PluginState::new(
            &self.config,
            self.name.clone(),
            self.config_json.clone(),
            self.grants.clone(),
        )?;
        let hostcall_bytes = (self.config.limits.hostcall_mib as usize) << 20;
        match instantiate::<W>(
            &self.pre,
            &self.runtime.engine,
            state,
            budget,
            hostcall_bytes,
        )
        .await
        {
            Ok(live) => {
                self.live = Some(live);
                Ok(())
            }
            Err((error, memory_hit)) => Err(match self.classify(error, memory_hit) {
                PluginError::Trap { plugin, detail } => PluginError::Instantiate { plugin, detail },
                other => other,
            }),
        }
    }

    async fn call_inner<T>(
        &mut self,
        call: impl for<'a> FnOnce(
            &'a W,
            &'a mut Store<PluginState>,
        ) -> BoxFuture<'a, wasmtime::Result<Result<T, String>>>,
    ) -> Result<T, PluginError> {
        let budget = Duration::from_millis(self.call_timeout_ms());
        self.prepare().await?;
        let (store, bindings) = self.live.as_mut().expect("instantiated above");
        store.data_mut().deadline = Instant::now() + budget;
        store.set_epoch_deadline(1);
        let result = call(bindings, store).await;
        let memory_hit = store.data_mut().memory.take_hit();
        match result {
            Ok(Ok(value)) => Ok(value),
            // Plugins quote the URL they called ("GET <url>: …"); its path
            // or query may be a token, and this text reaches the API.
            Ok(Err(message)) => Err(PluginError::Reported {
                plugin: self.name.to_string(),
                message: redact::urls(&message).into_owned(),
            }),
            Err(trap) => Err(self.classify(trap, memory_hit)),
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
                limit_ms: self.call_timeout_ms(),
            };
        }
        let detail = match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::UnreachableCodeReached) => {
                "the plugin panicked or aborted (its stderr, logged above, says why)".to_owned()
            }
            Some(trap) => trap.to_string(),
            None => redact::urls(&format!("{error:#}")).into_owned(),
        };
        let details = format!("{error:?}");
        tracing::debug!(plugin = %self.name, error = %redact::urls(&details), "plugin trap details");
        PluginError::Trap { plugin, detail }
    }
}

/// A fresh instance. A free function over the parts it needs, because
/// `&self` would hold the live `Store` (not `Sync`) across the await.
async fn instantiate<W: World>(
    pre: &W::Pre,
    engine: &wasmtime::Engine,
    state: PluginState,
    budget: Duration,
    hostcall_bytes: usize,
) -> Result<(Store<PluginState>, W), (wasmtime::Error, bool)> {
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
    store.set_hostcall_fuel(hostcall_bytes);
    match W::instantiate(pre, &mut store).await {
        Ok(bindings) => Ok((store, bindings)),
        Err(e) => {
            let memory_hit = store.data_mut().memory.take_hit();
            Err((e, memory_hit))
        }
    }
}
