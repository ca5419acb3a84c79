//! Benchmark fixture: a collector that returns `samples` (default 100)
//! labelled gauges per call, so the host can time the plugin boundary.

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{Collector, Sample, export_collector};

/// The fixture's `config` table.
#[derive(Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    /// Samples per call.
    #[serde(default = "default_samples")]
    samples: usize,
}

fn default_samples() -> usize {
    100
}

struct Bench;

impl Collector for Bench {
    fn collect() -> Result<Vec<Sample>, String> {
        let options: Options = perfwatch_sdk::config()?;
        Ok(samples(options.samples))
    }
}

export_collector!(Bench);

/// `bench.value{series="<i>"}` = i, in %: realistic names, units and labels.
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
    fn returns_the_configured_number_of_samples() {
        assert_eq!(samples(100).len(), 100);
        assert_eq!(samples(3)[2].value, 2.0);
    }
}
