//! Test fixture: an exporter built against the frozen `perfwatch:plugin@0.1.0` with wit-bindgen directly (no SDK), so host tests can check that 0.1 exporters still run through the adapter. Renders a tiny JSON summary of what it was given.

wit_bindgen::generate!({
    path: "../../../wit/deps/perfwatch-plugin@0.1.0",
    world: "perfwatch:plugin/exporter@0.1.0",
});

use exports::perfwatch::plugin::exporter_api::Guest;
use perfwatch::plugin::types::{Artifact, ExportRequest};

struct V01Exporter;

impl Guest for V01Exporter {
    fn export(request: ExportRequest) -> Result<Artifact, String> {
        Ok(Artifact {
            extension: "json".into(),
            media_type: "application/json".into(),
            bytes: render(&request),
        })
    }
}

// Wasm only, as in fixture-v01-collector.
#[cfg(target_arch = "wasm32")]
export!(V01Exporter);

/// `{"fixture":"v01","start":…,"end":…,"series":…,"points":…,"alerts":…,"bottlenecks":…}`:
/// the counts a host test compares with what it exported.
fn render(request: &ExportRequest) -> Vec<u8> {
    let points: usize = request.series.iter().map(|s| s.values.len()).sum();
    let summary = serde_json::json!({
        "fixture": "v01",
        "start": request.start_ms,
        "end": request.end_ms,
        "series": request.series.len(),
        "points": points,
        "alerts": request.alerts.len(),
        "bottlenecks": request.bottlenecks.len(),
    });
    let mut bytes = summary.to_string().into_bytes();
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch::plugin::types::Series;

    #[test]
    fn summarises_the_request() {
        let request = ExportRequest {
            start_ms: 0,
            end_ms: 60_000,
            series: vec![Series {
                metric: "system.load1".into(),
                unit: String::new(),
                labels: vec![],
                timestamps_ms: vec![0, 30_000],
                values: vec![0.5, 0.75],
            }],
            alerts: vec![],
            bottlenecks: vec![],
        };
        assert_eq!(
            String::from_utf8(render(&request)).unwrap(),
            "{\"alerts\":0,\"bottlenecks\":0,\"end\":60000,\"fixture\":\"v01\",\"points\":2,\"series\":1,\"start\":0}\n"
        );
    }
}
