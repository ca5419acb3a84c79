//! Benchmark fixture: a collector that returns `samples` (default 100) labelled gauges per call, as readings of declared series or, with `mode = "samples"`, as full samples, so the host can time both paths across the plugin boundary.

use std::sync::OnceLock;

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{
    Collection, Collector, ConfigError, ConfigInfo, Handles, Sample, SeriesDescription,
    export_collector,
};

/// The fixture's `config` table.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    /// Values per call.
    #[serde(default = "default_samples")]
    samples: usize,
    /// How the values cross the boundary.
    #[serde(default)]
    mode: Mode,
}

fn default_samples() -> usize {
    100
}

/// `readings` (the 0.2 path: series declared once, then handle and value)
/// or `samples` (every value named in full each call, as 0.1 did).
#[derive(Debug, Default, Clone, Copy, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", rename_all = "lowercase")]
enum Mode {
    #[default]
    Readings,
    Samples,
}

/// The config, parsed on the first call. An instance's config never
/// changes (a changed config gets a new instance), and the benchmark should
/// time the boundary, not a JSON parse per call.
static OPTIONS: OnceLock<Result<Options, String>> = OnceLock::new();

/// `bench.value{series="<i>"}`, declared once per instance.
static SERIES: Handles<usize> = Handles::new();

struct Bench;

impl Collector for Bench {
    fn collect() -> Result<Collection, String> {
        let options = OPTIONS
            .get_or_init(perfwatch_sdk::config)
            .as_ref()
            .map_err(Clone::clone)?;
        match options.mode {
            Mode::Readings => readings(options.samples),
            Mode::Samples => Ok(samples(options.samples).into()),
        }
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Options>(config, &[])
    }
}

export_collector!(Bench);

/// The series of value `i`: realistic name, unit and label.
fn description(i: usize) -> SeriesDescription {
    SeriesDescription::gauge("bench.value")
        .unit("%")
        .label("series", i.to_string())
}

/// `bench.value{series="<i>"}` = i for i in 0..n, as readings.
fn readings(n: usize) -> Result<Collection, String> {
    let mut collection = Collection::new();
    collection.readings.reserve(n);
    for i in 0..n {
        let handle = SERIES.get_or_declare(i, || description(i))?;
        collection.reading(handle, i as f64);
    }
    Ok(collection)
}

/// The same values as full samples.
fn samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            Sample::gauge("bench.value", i as f64)
                .unit("%")
                .label("series", i.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_modes_report_the_same_samples() {
        let readings = readings(100).unwrap();
        assert_eq!(readings.readings.len(), 100);
        assert_eq!(readings.samples, vec![]);
        assert_eq!(readings.to_samples(), samples(100));
        assert_eq!(samples(3)[2].value, 2.0);
    }

    #[test]
    fn config_defaults_to_100_readings() {
        assert_eq!(
            perfwatch_sdk::parse_config("{}"),
            Ok(Options {
                samples: 100,
                mode: Mode::Readings
            })
        );
        assert_eq!(
            perfwatch_sdk::parse_config(r#"{"samples": 5, "mode": "samples"}"#),
            Ok(Options {
                samples: 5,
                mode: Mode::Samples
            })
        );
        assert_eq!(
            Bench::validate_config(r#"{"mode": "both"}"#),
            Err(vec![ConfigError::new(
                "mode",
                "unknown variant `both`",
                "`readings` or `samples`"
            )])
        );
    }
}
