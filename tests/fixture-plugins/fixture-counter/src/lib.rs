//! Test fixture: a well-behaved collector reporting how often it was called and a value from its config, so host tests can check instance reuse, config delivery and declared series.

use std::sync::atomic::{AtomicU64, Ordering};

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{
    Collection, Collector, ConfigError, ConfigInfo, Handles, SeriesDescription, SeriesHandle,
    export_collector,
};

/// Calls since instantiation. A static lives exactly as long as the
/// instance's linear memory, so a host that reuses the instance sees 1, 2,
/// 3, … and one that re-instantiates sees 1 again.
static CALLS: AtomicU64 = AtomicU64::new(0);

/// The two series, declared on the first call of each instance; a fresh
/// instance declares them again, as its handles are new too.
static SERIES: Handles<Metric> = Handles::new();

/// The fixture's `config` table.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    /// Echoed back as `fixture.configValue`.
    #[serde(default)]
    value: f64,
}

/// The series this fixture reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Metric {
    Calls,
    ConfigValue,
}

impl Metric {
    fn description(self) -> SeriesDescription {
        match self {
            Metric::Calls => SeriesDescription::counter("fixture.calls")
                .help("Calls of collect since this instance started"),
            Metric::ConfigValue => SeriesDescription::gauge("fixture.configValue")
                .help("The `value` of the fixture's config"),
        }
    }

    fn handle(self) -> Result<SeriesHandle, String> {
        SERIES.get_or_declare(self, || self.description())
    }
}

struct Counter;

impl Collector for Counter {
    fn collect() -> Result<Collection, String> {
        let options: Options = perfwatch_sdk::config()?;
        let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        collection(calls, &options)
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Options>(config, &[])
    }
}

export_collector!(Counter);

fn collection(calls: u64, options: &Options) -> Result<Collection, String> {
    let mut collection = Collection::new();
    collection
        .reading(Metric::Calls.handle()?, calls as f64)
        .reading(Metric::ConfigValue.handle()?, options.value);
    Ok(collection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::Sample;

    #[test]
    fn config_value_defaults_to_zero() {
        assert_eq!(
            perfwatch_sdk::parse_config("{}"),
            Ok(Options { value: 0.0 })
        );
        assert_eq!(
            perfwatch_sdk::parse_config(r#"{"value": 42}"#),
            Ok(Options { value: 42.0 })
        );
        assert!(Counter::validate_config(r#"{"value": "x"}"#).is_err());
    }

    #[test]
    fn readings_carry_calls_and_value() {
        let collection = collection(3, &Options { value: 7.5 }).unwrap();
        assert_eq!(collection.samples, vec![]);
        assert_eq!(
            collection.to_samples(),
            vec![
                Sample::counter("fixture.calls", 3.0),
                Sample::gauge("fixture.configValue", 7.5)
            ]
        );
    }
}
