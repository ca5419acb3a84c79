//! Test fixture: a well-behaved collector reporting how often it was called and a value from its config, so host tests can check instance reuse and config delivery.

use std::sync::atomic::{AtomicU64, Ordering};

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{Collector, Sample, export_collector};

/// Calls since instantiation. A static lives exactly as long as the
/// instance's linear memory, so a host that reuses the instance sees 1, 2,
/// 3, … and one that re-instantiates sees 1 again.
static CALLS: AtomicU64 = AtomicU64::new(0);

/// The fixture's `config` table.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    /// Echoed back as `fixture.configValue`.
    #[serde(default)]
    value: f64,
}

struct Counter;

impl Collector for Counter {
    fn collect() -> Result<Vec<Sample>, String> {
        let options: Options = perfwatch_sdk::config()?;
        let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(samples(calls, &options))
    }
}

export_collector!(Counter);

fn samples(calls: u64, options: &Options) -> Vec<Sample> {
    vec![
        Sample::counter("fixture.calls", calls as f64),
        Sample::gauge("fixture.configValue", options.value),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn samples_carry_calls_and_value() {
        assert_eq!(
            samples(3, &Options { value: 7.5 }),
            vec![
                Sample::counter("fixture.calls", 3.0),
                Sample::gauge("fixture.configValue", 7.5)
            ]
        );
    }
}
