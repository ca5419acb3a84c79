//! Test fixture: a collector built against the frozen `perfwatch:plugin@0.1.0` with wit-bindgen directly (no SDK), so host tests can check that 0.1 components still load through the adapter. Reports `fixture.v01{n="<i>"}` = i for i in 0..3.

wit_bindgen::generate!({
    path: "../../../wit/deps/perfwatch-plugin@0.1.0",
    world: "perfwatch:plugin/collector@0.1.0",
});

use exports::perfwatch::plugin::collector_api::Guest;
use perfwatch::plugin::types::{Label, MetricKind, Sample};

/// Samples per call.
const SAMPLES: usize = 3;

struct V01Collector;

impl Guest for V01Collector {
    fn collect() -> Result<Vec<Sample>, String> {
        Ok(samples())
    }
}

// The glue exports symbols that native linkers refuse in a cdylib, and
// natively there is no component to export (as in the SDK's macros).
#[cfg(target_arch = "wasm32")]
export!(V01Collector);

/// `fixture.v01{n="<i>"}` = i, in %, stamped "now".
fn samples() -> Vec<Sample> {
    (0..SAMPLES)
        .map(|i| Sample {
            metric: "fixture.v01".into(),
            value: i as f64,
            unit: "%".into(),
            kind: MetricKind::Gauge,
            labels: vec![Label {
                key: "n".into(),
                value: i.to_string(),
            }],
            timestamp_ms: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_labelled_samples() {
        let samples = samples();
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[2].value, 2.0);
        assert_eq!(samples[2].labels[0].value, "2");
    }
}
