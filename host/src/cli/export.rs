//! `perfwatch export`: asks the running host to export a range through an exporter plugin into its `export_path`, and copies the file to `--out` (a path, or `-` for standard output).

use std::io::Write as _;
use std::path::Path;

use serde_json::Value;

use super::api_call;
use crate::config::Config;

/// What `perfwatch export` asks for.
#[derive(Debug, Default)]
pub struct ExportRequest {
    /// The exporter plugin (`json`, `csv`, `prometheus-text`, …).
    pub format: String,
    /// Start of the range, epoch ms; the host's default (24 h back) when absent.
    pub start: Option<i64>,
    /// End of the range, epoch ms; now when absent.
    pub end: Option<i64>,
    /// The format's layout (`wide`, `openmetrics`, `markdown`).
    pub layout: Option<String>,
    /// Only this metric's series.
    pub metric: Option<String>,
    /// Only series whose labels include these, `host=a,cpu=0`.
    pub labels: Option<String>,
}

/// Runs the export and returns the host's answer (`filePath`, `fileSize`,
/// `recordCount`, `format`). With `out`, the written file is also copied
/// there (`-`: standard output); the host and this command share the
/// config, so they share the machine and its `export_path`.
pub async fn export(
    config: &Config,
    request: &ExportRequest,
    out: Option<&Path>,
) -> anyhow::Result<Value> {
    let params: Vec<(&str, String)> = [
        ("format", Some(request.format.clone())),
        ("start", request.start.map(|v| v.to_string())),
        ("end", request.end.map(|v| v.to_string())),
        ("layout", request.layout.clone()),
        ("metric", request.metric.clone()),
        ("labels", request.labels.clone()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let answer = api_call(
        config,
        reqwest::Method::POST,
        "/api/v1/export",
        &params,
        None,
    )
    .await?;
    if let Some(out) = out {
        let file = answer["filePath"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("the host's answer names no file: {answer}"))?;
        let mut source = std::fs::File::open(file)
            .map_err(|e| anyhow::anyhow!("cannot read the export {file}: {e}"))?;
        if out == Path::new("-") {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            std::io::copy(&mut source, &mut lock)?;
            lock.flush()?;
        } else {
            let mut target = std::fs::File::create(out)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
            std::io::copy(&mut source, &mut target)?;
        }
    }
    Ok(answer)
}
