//! Collector plugins: `collect()` once per tick, samples validated on the
//! way in. A 0.2 collection's readings were checked when their series were
//! declared (`series.rs`); its full samples, and a 0.1 plugin's, are
//! checked one by one.

use super::PluginError;
use super::adapter_v1;
use super::bindings::{v1, v2};
use super::limits::MAX_SAMPLES_PER_CALL;
use super::sandbox::{CallOutcome, Sandbox};
use super::supervisor::PluginStats;
use super::versioned::Versioned;
use crate::model::{Labels, MetricKind, Sample, canonical_metric_name, known_unit};

/// A loaded collector.
pub struct CollectorPlugin {
    sandbox: Boundary,
}

/// The instance, of either package version.
type Boundary = Versioned<v2::collector::Collector, v1::collector::Collector>;

/// What a call returned, before the host's checks: readings already
/// resolved to samples, and the samples named in full.
struct Collected {
    readings: Vec<Result<Sample, String>>,
    samples: Vec<v2::types::Sample>,
}

/// What one tick's call produced.
pub struct CollectOutcome {
    /// Valid samples.
    pub samples: Vec<Sample>,
    /// Whether a call was made (a plugin backing off after a crash is not called).
    pub called: bool,
    /// The failure, when the call failed.
    pub error: Option<PluginError>,
}

impl CollectorPlugin {
    pub(super) fn v2(sandbox: Sandbox<v2::collector::Collector>) -> Self {
        Self {
            sandbox: Versioned::V2(sandbox),
        }
    }

    pub(super) fn v1(sandbox: Sandbox<v1::collector::Collector>) -> Self {
        Self {
            sandbox: Versioned::V1(sandbox),
        }
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        self.sandbox.name()
    }

    /// Instantiates now (see [`Sandbox::prepare`]).
    pub async fn prepare(&mut self) -> Result<(), PluginError> {
        self.sandbox.prepare().await
    }

    /// Calls, failures, status.
    pub fn stats(&self) -> PluginStats {
        self.sandbox.stats()
    }

    /// Whether the plugin accepts its config (see [`Sandbox::validate_config`]).
    pub async fn validate_config(&mut self) -> Result<Vec<String>, PluginError> {
        self.sandbox.validate_config().await
    }

    /// Calls `collect()` once, unless the plugin is backing off after a
    /// crash. `tick_ms` stamps samples that carry no timestamp.
    pub async fn collect(&mut self, tick_ms: i64) -> CollectOutcome {
        let outcome = match &mut self.sandbox {
            Versioned::V2(sandbox) => {
                sandbox
                    .call(move |bindings, store| {
                        Box::pin(async move {
                            let collection = bindings
                                .perfwatch_plugin0_2_0_collector_api()
                                .call_collect(&mut *store)
                                .await?;
                            Ok(collection.map(|c| resolve(store.data(), c, tick_ms)))
                        })
                    })
                    .await
            }
            Versioned::V1(sandbox) => {
                sandbox
                    .call(|bindings, store| {
                        Box::pin(async move {
                            let samples = bindings
                                .perfwatch_plugin0_1_0_collector_api()
                                .call_collect(store)
                                .await?;
                            Ok(samples.map(|samples| Collected {
                                readings: Vec::new(),
                                samples: samples.into_iter().map(adapter_v1::sample).collect(),
                            }))
                        })
                    })
                    .await
            }
        };
        match outcome {
            CallOutcome::Skipped => CollectOutcome {
                samples: Vec::new(),
                called: false,
                error: None,
            },
            CallOutcome::Failed(error) => CollectOutcome {
                samples: Vec::new(),
                called: true,
                error: Some(error),
            },
            CallOutcome::Done(samples) => match self.convert(samples, tick_ms) {
                Ok(samples) => CollectOutcome {
                    samples,
                    called: true,
                    error: None,
                },
                Err(error) => {
                    self.sandbox.record_invalid_output(&error);
                    CollectOutcome {
                        samples: Vec::new(),
                        called: true,
                        error: Some(error),
                    }
                }
            },
        }
    }

    /// Validates and converts the plugin's samples; invalid ones are
    /// dropped with a warning, the rest kept.
    fn convert(&mut self, collected: Collected, tick_ms: i64) -> Result<Vec<Sample>, PluginError> {
        let count = collected.readings.len() + collected.samples.len();
        if count > MAX_SAMPLES_PER_CALL {
            return Err(PluginError::TooManySamples {
                plugin: self.name().to_owned(),
                count,
                max: MAX_SAMPLES_PER_CALL,
            });
        }
        let mut out = Vec::with_capacity(count);
        let converted = collected
            .samples
            .into_iter()
            .map(|s| convert_sample(s, tick_ms));
        for result in collected.readings.into_iter().chain(converted) {
            match result {
                Ok(sample) => out.push(sample),
                Err(reason) => tracing::warn!(plugin = self.name(), "dropped a sample: {reason}"),
            }
        }
        Ok(out)
    }
}

/// Readings turned into samples through the instance's declared series,
/// while the store (and its series table) is at hand.
fn resolve(
    state: &super::state::PluginState,
    collection: v2::collector::exports::perfwatch::plugin0_2_0::collector_api::Collection,
    tick_ms: i64,
) -> Collected {
    let at = collection.timestamp_ms.unwrap_or(tick_ms);
    Collected {
        readings: collection
            .readings
            .iter()
            .map(|r| state.series.sample(r.series, r.value, at))
            .collect(),
        samples: collection.samples,
    }
}

fn convert_sample(s: v2::types::Sample, tick_ms: i64) -> Result<Sample, String> {
    let metric = canonical_metric_name(&s.metric).map_err(|e| e.to_string())?;
    if !s.value.is_finite() {
        return Err(format!("`{metric}` has the non-finite value {}", s.value));
    }
    let labels = Labels::try_from_pairs(s.labels.into_iter().map(|l| (l.key, l.value)))
        .map_err(|e| format!("`{metric}`: {e}"))?;
    let unit = if s.unit.is_empty() {
        known_unit(&metric).unwrap_or_default().to_owned()
    } else {
        s.unit
    };
    Ok(Sample {
        metric,
        value: s.value,
        unit,
        kind: match s.kind {
            v2::types::MetricKind::Gauge => MetricKind::Gauge,
            v2::types::MetricKind::Counter => MetricKind::Counter,
        },
        labels,
        timestamp_ms: s.timestamp_ms.unwrap_or(tick_ms),
    })
}
