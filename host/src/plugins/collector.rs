//! Collector plugins: `collect()` once per tick, samples validated on the
//! way in.

use super::PluginError;
use super::bindings::collector::Collector;
use super::bindings::types;
use super::limits::MAX_SAMPLES_PER_CALL;
use super::sandbox::{CallOutcome, Sandbox};
use super::supervisor::PluginStats;
use crate::model::{Labels, MetricKind, Sample, canonical_metric_name, known_unit};

/// A loaded collector.
pub struct CollectorPlugin {
    sandbox: Sandbox<Collector>,
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
    pub(super) fn new(sandbox: Sandbox<Collector>) -> Self {
        Self { sandbox }
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

    /// Calls `collect()` once, unless the plugin is backing off after a
    /// crash. `tick_ms` stamps samples that carry no timestamp.
    pub async fn collect(&mut self, tick_ms: i64) -> CollectOutcome {
        let outcome = self
            .sandbox
            .call(|bindings, store| {
                Box::pin(
                    bindings
                        .perfwatch_plugin_collector_api()
                        .call_collect(store),
                )
            })
            .await;
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
    fn convert(
        &self,
        samples: Vec<types::Sample>,
        tick_ms: i64,
    ) -> Result<Vec<Sample>, PluginError> {
        if samples.len() > MAX_SAMPLES_PER_CALL {
            return Err(PluginError::TooManySamples {
                plugin: self.name().to_owned(),
                count: samples.len(),
                max: MAX_SAMPLES_PER_CALL,
            });
        }
        let mut out = Vec::with_capacity(samples.len());
        for s in samples {
            match convert_sample(s, tick_ms) {
                Ok(sample) => out.push(sample),
                Err(reason) => tracing::warn!(plugin = self.name(), "dropped a sample: {reason}"),
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
        known_unit(&metric).unwrap_or_default().to_owned()
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
