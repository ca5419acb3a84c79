//! Test fixture: a collector built against the frozen `perfwatch:plugin@0.1.0` with wit-bindgen directly (no SDK), so host tests can check that 0.1 components still load through the adapter. Reports `fixture.v01{n="<i>"}` = i for i in 0..3, or 0..N with `config = { samples = N }` (the host benchmark's 0.1 path).

wit_bindgen::generate!({
    path: "../../../wit/deps/perfwatch-plugin@0.1.0",
    world: "perfwatch:plugin/collector@0.1.0",
});

use exports::perfwatch::plugin::collector_api::Guest;
use perfwatch::plugin::types::{Label, MetricKind, Sample};

/// Samples per call unless the config says otherwise.
const SAMPLES: usize = 3;

struct V01Collector;

impl Guest for V01Collector {
    fn collect() -> Result<Vec<Sample>, String> {
        let count = samples_in(&perfwatch::plugin::host::config())?;
        Ok(samples(count))
    }
}

// The glue exports symbols that native linkers refuse in a cdylib, and
// natively there is no component to export (as in the SDK's macros).
#[cfg(target_arch = "wasm32")]
export!(V01Collector);

/// The `samples` key of the config JSON (`{"samples":100}`), read without
/// a JSON library: the fixture depends on wit-bindgen alone.
fn samples_in(config: &str) -> Result<usize, String> {
    let Some(rest) = config.split("\"samples\":").nth(1) else {
        return Ok(SAMPLES);
    };
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .map_err(|_| format!("config key `samples` must be a count, not {rest:?}"))
}

/// `fixture.v01{n="<i>"}` = i, in %, stamped "now".
fn samples(count: usize) -> Vec<Sample> {
    (0..count)
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
    fn three_labelled_samples_unless_configured() {
        assert_eq!(samples_in("{}"), Ok(3));
        assert_eq!(samples_in("{\"samples\":100}"), Ok(100));
        assert!(samples_in("{\"samples\":\"x\"}").is_err());
        let samples = samples(3);
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[2].value, 2.0);
        assert_eq!(samples[2].labels[0].value, "2");
    }
}
