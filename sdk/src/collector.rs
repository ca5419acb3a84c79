//! Collector plugins: the [`Collector`] trait, the [`Collection`] a call returns, and `export_collector!`.

use std::marker::PhantomData;

use crate::bindings::collector::exports::perfwatch::plugin0_2_0::collector_api;
use crate::bindings::config::exports::perfwatch::plugin0_2_0::config_api;
use crate::{Collection, ConfigError, ConfigInfo, Reading, Sample, SeriesHandle};

/// A plugin that measures something every tick (the WIT `collector` world).
///
/// The host keeps one instance per plugin and calls [`Collector::collect`] on
/// it tick after tick, so state kept in statics (a [`Handles`](crate::Handles),
/// an `AtomicU64`, a `Mutex` in a `static`) survives between calls. It does
/// not survive a trap: the host then discards the instance and starts a
/// fresh one.
pub trait Collector {
    /// Returns what was measured now, or a message saying why nothing could
    /// be measured; the host logs the message and counts the failure.
    ///
    /// A `Vec<Sample>` converts into a [`Collection`] with `.into()`;
    /// collectors that report the same series every tick declare them once
    /// and return [readings](Collection::reading) instead.
    fn collect() -> Result<Collection, String>;

    /// Checks the plugin's `config` (the JSON [`config`](crate::config) would
    /// return) before the host uses it, and names the keys that hold
    /// secrets. The host calls it on a fresh instance at start-up, on reload
    /// and for `perfwatch config check`.
    ///
    /// The default accepts any config and names no secrets; a plugin with a
    /// config type returns [`validate_config::<Options>(config, &[..])`](crate::validate_config).
    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        let _ = config;
        Ok(ConfigInfo::default())
    }
}

impl Collection {
    /// An empty collection, stamped "now".
    pub fn new() -> Self {
        Self {
            readings: Vec::new(),
            samples: Vec::new(),
            timestamp_ms: None,
        }
    }

    /// Adds the value of a declared series.
    pub fn reading(&mut self, series: SeriesHandle, value: f64) -> &mut Self {
        self.readings.push(Reading {
            series: series.id(),
            value,
        });
        self
    }

    /// Adds a sample named in full, for a series that comes and goes.
    pub fn sample(&mut self, sample: Sample) -> &mut Self {
        self.samples.push(sample);
        self
    }

    /// Stamps the readings with the time they were measured, in epoch
    /// milliseconds. Without it the host uses the current tick, which is
    /// right for anything measured during `collect`. Samples carry their own
    /// timestamps ([`Sample::at`]).
    pub fn at(&mut self, timestamp_ms: i64) -> &mut Self {
        self.timestamp_ms = Some(timestamp_ms);
        self
    }

    /// Everything in the collection as samples, readings looked up in the
    /// native stand-in for `series.declare`: what the host would store,
    /// for plugin unit tests. Readings come first, in order, then samples.
    ///
    /// Only in native builds; inside a component the descriptions live in
    /// the host. Panics on a reading whose handle was never declared, which
    /// is a bug in the test.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_samples(&self) -> Vec<Sample> {
        let mut samples: Vec<Sample> = self
            .readings
            .iter()
            .map(|reading| {
                let description = crate::series::native::describe(reading.series)
                    .unwrap_or_else(|| panic!("series #{} was never declared", reading.series));
                Sample {
                    metric: description.metric,
                    value: reading.value,
                    unit: description.unit,
                    kind: description.kind,
                    labels: description.labels,
                    timestamp_ms: self.timestamp_ms,
                }
            })
            .collect();
        samples.extend(self.samples.iter().cloned());
        samples
    }
}

impl Default for Collection {
    fn default() -> Self {
        Self::new()
    }
}

/// Samples only, stamped by their own timestamps: what a simple collector
/// returns with `Ok(samples.into())`.
impl From<Vec<Sample>> for Collection {
    fn from(samples: Vec<Sample>) -> Self {
        Self {
            readings: Vec::new(),
            samples,
            timestamp_ms: None,
        }
    }
}

impl<T: Collector> collector_api::Guest for T {
    fn collect() -> Result<Collection, String> {
        crate::panic::forward_panics_to_host_log();
        <T as Collector>::collect()
    }
}

/// The `config-api` export of collector `T`; named by `export_collector!`.
#[doc(hidden)]
pub struct CollectorConfig<T>(PhantomData<T>);

impl<T: Collector> config_api::Guest for CollectorConfig<T> {
    fn validate_config(config: String) -> Result<ConfigInfo, Vec<ConfigError>> {
        crate::panic::forward_panics_to_host_log();
        T::validate_config(&config)
    }
}

/// Exports a type implementing [`Collector`](crate::Collector) as the plugin's
/// `perfwatch:plugin/collector-api@0.2.0` and `config-api@0.2.0`.
///
/// Use it once per crate, at the top level, with the name of a type (not a
/// path). A type that does not implement the trait fails to compile here,
/// pointing at this call:
///
/// ```compile_fail,E0277
/// struct NotACollector;
/// // error: the trait bound `NotACollector: Collector` is not satisfied
/// perfwatch_sdk::export_collector!(NotACollector);
/// ```
#[macro_export]
macro_rules! export_collector {
    ($ty:ident) => {
        // A readable "the trait `Collector` is not implemented" error at the
        // plugin's call site instead of one deep inside generated glue.
        const _: () = {
            fn assert_implements_collector<T: $crate::Collector>() {}
            let _ = assert_implements_collector::<$ty>;
        };
        // The generated glue exports symbols named like
        // `perfwatch:plugin/collector-api@0.2.0#collect`. Native linkers
        // reject those names in a cdylib's version script, and natively
        // there is no component to export anyway, so the glue exists only
        // in wasm builds; the assertion above still checks natively.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            // The glue macros take a type name, not a path with generics.
            type PerfwatchConfigApi = $crate::__export::CollectorConfig<$ty>;
            $crate::bindings::collector::export_collector_world!(
                $ty with_types_in $crate::bindings::collector
            );
            $crate::bindings::config::export_config_world!(
                PerfwatchConfigApi with_types_in $crate::bindings::config
            );
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeriesDescription;

    #[test]
    fn samples_convert_into_a_collection() {
        let collection: Collection = vec![Sample::gauge("system.load1", 0.5)].into();
        assert_eq!(collection.readings, vec![]);
        assert_eq!(collection.samples, vec![Sample::gauge("system.load1", 0.5)]);
        assert_eq!(collection.timestamp_ms, None);
    }

    #[test]
    fn readings_resolve_to_samples_natively() {
        let load = SeriesDescription::gauge("sdk.collector.load1")
            .unit("%")
            .label("cpu", "all")
            .declare()
            .unwrap();
        let mut collection = Collection::new();
        collection
            .reading(load, 0.25)
            .sample(Sample::counter("sdk.collector.events", 3.0))
            .at(1_700_000_000_000);
        assert_eq!(
            collection.to_samples(),
            vec![
                Sample::gauge("sdk.collector.load1", 0.25)
                    .unit("%")
                    .label("cpu", "all")
                    .at(1_700_000_000_000),
                Sample::counter("sdk.collector.events", 3.0),
            ]
        );
    }

    struct Quiet;

    impl Collector for Quiet {
        fn collect() -> Result<Collection, String> {
            Ok(Collection::new())
        }
    }

    #[test]
    fn the_default_validation_accepts_anything_and_names_no_secrets() {
        assert_eq!(
            Quiet::validate_config(r#"{"anything": 1}"#),
            Ok(ConfigInfo {
                secret_keys: vec![]
            })
        );
    }
}
