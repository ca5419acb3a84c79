//! Test fixture: a collector whose `collect()` returns 50,000 samples, so host tests can check the per-call sample cap rejects the batch.

use perfwatch_sdk::{Collection, Collector, Sample, export_collector};

/// Five times the host's `MAX_SAMPLES_PER_CALL` (10,000), so the cap and
/// nothing else is what refuses the batch. Each sample is small (a short
/// name, no unit, no labels): 50,000 of them take about 3 MiB to hand
/// over, far below the host's 16 MiB host-call data cap, which would
/// otherwise trip first and test the wrong limit.
const SAMPLE_COUNT: usize = 50_000;

struct HugeOutput;

impl Collector for HugeOutput {
    fn collect() -> Result<Collection, String> {
        // Full samples, not readings: the cap on samples per call is what
        // this fixture tests.
        Ok(samples().into())
    }
}

export_collector!(HugeOutput);

fn samples() -> Vec<Sample> {
    (0..SAMPLE_COUNT)
        .map(|index| Sample::gauge("fixture.huge", index as f64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_fifty_thousand_valid_samples() {
        let samples = samples();
        assert_eq!(samples.len(), 50_000);
        assert_eq!(samples[49_999], Sample::gauge("fixture.huge", 49_999.0));
    }
}
