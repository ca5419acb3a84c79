//! Declared series: the [`SeriesDescription`] builder, [`SeriesHandle`], and [`Handles`], a per-instance cache of them.
//!
//! A collector that reports the same series tick after tick declares each
//! one once (`series.declare`) and then returns only `(handle, value)`
//! readings: no metric name, unit or labels cross the boundary again, and
//! the host checks them once instead of every tick.
//!
//! Handles belong to the instance that declared them. A fresh instance
//! (after a crash, or a reload) starts with empty statics, so a [`Handles`]
//! kept in a `static` declares anew exactly when it must.
//!
//! Natively (plugin unit tests) there is no host: [`SeriesDescription::declare`]
//! checks the description with the SDK's copy of the host's naming rules and
//! hands out handles from a process-wide table, equal descriptions getting
//! equal handles as they do from the host; [`Collection::to_samples`](crate::Collection::to_samples)
//! turns readings back into samples through that table.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use crate::{Label, MetricKind, SeriesDescription};

#[cfg(target_arch = "wasm32")]
use crate::bindings::imports::perfwatch::plugin0_2_0::series as imports;

/// The host's number for a series this instance declared; put it in a
/// reading with [`Collection::reading`](crate::Collection::reading).
///
/// Only [`SeriesDescription::declare`] makes one, so a handle always names a
/// series the host knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesHandle(u32);

impl SeriesHandle {
    /// The number the host gave the series, as it appears in
    /// [`Reading::series`](crate::Reading::series).
    pub fn id(self) -> u32 {
        self.0
    }
}

impl fmt::Display for SeriesHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "series #{}", self.0)
    }
}

impl SeriesDescription {
    /// A gauge series: values that go up and down. Unitless, unlabelled
    /// and without help text until the builder methods say otherwise.
    pub fn gauge(metric: impl Into<String>) -> Self {
        Self::new(metric.into(), MetricKind::Gauge)
    }

    /// A counter series: a total that only grows until a restart.
    pub fn counter(metric: impl Into<String>) -> Self {
        Self::new(metric.into(), MetricKind::Counter)
    }

    fn new(metric: String, kind: MetricKind) -> Self {
        Self {
            metric,
            unit: String::new(),
            kind,
            help: String::new(),
            labels: Vec::new(),
        }
    }

    /// Sets the unit, for example `%`, `ms` or `bytes`; `""` means unitless.
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = unit.into();
        self
    }

    /// Adds one label that tells this series apart from others of the same metric.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push(Label::new(key, value));
        self
    }

    /// Sets the one sentence saying what is measured.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = help.into();
        self
    }

    /// Declares the series to the host and returns its handle; declaring an
    /// equal description again returns the same handle. The error says what
    /// the host refused (a metric or label name that breaks its rules).
    ///
    /// Call it once per series and instance, typically through
    /// [`Handles::get_or_declare`]; it is a host call, which a reading is not.
    pub fn declare(&self) -> Result<SeriesHandle, String> {
        #[cfg(target_arch = "wasm32")]
        {
            imports::declare(self).map(SeriesHandle)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            native::declare(self).map(SeriesHandle)
        }
    }
}

/// Handles of the series an instance declared, by a key of the plugin's
/// choosing (an index, a metric name, a target and a metric); usable from
/// a `static`, which lives exactly as long as the instance:
///
/// ```
/// use perfwatch_sdk::{Collection, Handles, SeriesDescription};
///
/// static SERIES: Handles<usize> = Handles::new();
///
/// fn collect(values: &[f64]) -> Result<Collection, String> {
///     let mut collection = Collection::new();
///     for (i, value) in values.iter().enumerate() {
///         let handle = SERIES.get_or_declare(i, || {
///             SeriesDescription::gauge("bench.value").unit("%").label("series", i.to_string())
///         })?;
///         collection.reading(handle, *value);
///     }
///     Ok(collection)
/// }
///
/// let collection = collect(&[0.5, 0.75]).unwrap();
/// assert_eq!(collection.readings.len(), 2);
/// // Declared once: the second tick finds both handles in the cache.
/// assert_eq!(collect(&[0.5, 0.75]).unwrap().readings, collection.readings);
/// ```
pub struct Handles<K> {
    by_key: Mutex<BTreeMap<K, SeriesHandle>>,
}

impl<K: Ord> Handles<K> {
    /// An empty cache; `const`, so it can initialise a `static`.
    pub const fn new() -> Self {
        Self {
            by_key: Mutex::new(BTreeMap::new()),
        }
    }

    /// The handle cached under `key`, or, the first time, the handle of the
    /// series `describe` returns, declared now and cached. A refused
    /// declaration is not cached, so the next call tries again.
    pub fn get_or_declare(
        &self,
        key: K,
        describe: impl FnOnce() -> SeriesDescription,
    ) -> Result<SeriesHandle, String> {
        let mut by_key = self.lock();
        if let Some(handle) = by_key.get(&key) {
            return Ok(*handle);
        }
        let handle = describe().declare()?;
        by_key.insert(key, handle);
        Ok(handle)
    }

    /// Forgets the handles whose key `keep` rejects, for series that will
    /// not come back (a process that exited). The host keeps its side of a
    /// declaration until the instance ends; declaring the series again
    /// returns the same handle.
    pub fn retain(&self, mut keep: impl FnMut(&K) -> bool) {
        self.lock().retain(|key, _| keep(key));
    }

    /// How many handles are cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no handle is cached.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<K, SeriesHandle>> {
        // A poisoned lock means a panic mid-insert, which traps the
        // instance on wasm; natively (tests) the map is still consistent.
        self.by_key.lock().unwrap_or_else(|err| err.into_inner())
    }
}

impl<K: Ord> Default for Handles<K> {
    fn default() -> Self {
        Self::new()
    }
}

/// Natively, the host's side of `series.declare`: the same checks and the
/// same "equal description, same handle" rule, over a process-wide table.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod native {
    use std::sync::Mutex;

    use crate::SeriesDescription;

    /// Every description declared in this process; a handle is an index.
    static DECLARED: Mutex<Vec<SeriesDescription>> = Mutex::new(Vec::new());

    pub(crate) fn declare(description: &SeriesDescription) -> Result<u32, String> {
        crate::check_metric_name(&description.metric)?;
        for label in &description.labels {
            crate::check_label_name(&label.key)?;
        }
        let mut declared = DECLARED.lock().unwrap_or_else(|err| err.into_inner());
        let index = match declared.iter().position(|known| known == description) {
            Some(index) => index,
            None => {
                declared.push(description.clone());
                declared.len() - 1
            }
        };
        u32::try_from(index).map_err(|_| "too many series declared".to_owned())
    }

    /// The description declared under `handle`.
    pub(crate) fn describe(handle: u32) -> Option<SeriesDescription> {
        let declared = DECLARED.lock().unwrap_or_else(|err| err.into_inner());
        declared.get(handle as usize).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_fills_the_wit_record() {
        assert_eq!(
            SeriesDescription::counter("net.bytesSent")
                .unit("bytes")
                .label("iface", "eth0")
                .help("Bytes sent since boot"),
            SeriesDescription {
                metric: "net.bytesSent".into(),
                unit: "bytes".into(),
                kind: MetricKind::Counter,
                help: "Bytes sent since boot".into(),
                labels: vec![Label::new("iface", "eth0")],
            }
        );
    }

    #[test]
    fn equal_descriptions_get_equal_handles() {
        let load = SeriesDescription::gauge("sdk.test.load1");
        let first = load.declare().unwrap();
        assert_eq!(load.clone().declare(), Ok(first));
        let other = SeriesDescription::gauge("sdk.test.load1").label("cpu", "0");
        assert_ne!(other.declare().unwrap(), first);
    }

    #[test]
    fn natively_the_host_rules_are_checked() {
        assert_eq!(
            SeriesDescription::gauge("http:requests").declare(),
            Err("metric name `http:requests` contains ':'; use letters, digits, `_` and `.` (like `agents.avgResponseTime`)".to_owned())
        );
        assert!(
            SeriesDescription::gauge("sdk.test.ok")
                .label("2xx", "a")
                .declare()
                .is_err()
        );
    }

    #[test]
    fn handles_declare_once_and_forget_on_request() {
        let handles: Handles<u32> = Handles::new();
        let mut declarations = 0;
        for _ in 0..3 {
            handles
                .get_or_declare(7, || {
                    declarations += 1;
                    SeriesDescription::gauge("sdk.test.cached")
                })
                .unwrap();
        }
        assert_eq!(declarations, 1);
        assert_eq!(handles.len(), 1);
        handles.retain(|key| *key != 7);
        assert!(handles.is_empty());
    }

    #[test]
    fn a_refused_declaration_is_not_cached() {
        let handles: Handles<&str> = Handles::new();
        assert!(
            handles
                .get_or_declare("bad", || SeriesDescription::gauge("bad name"))
                .is_err()
        );
        assert!(handles.is_empty());
    }
}
