//! `POST /api/v1/export?format=json&start=MS&end=MS[&layout=][&metric=][&labels=]`: renders the stored
//! range with the exporter plugin named by `format` and writes the file
//! into `export_path`. The plugin returns bytes in pieces; only the host
//! writes files.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::params::{Params, epoch_ms, time_range};
use crate::app::AppState;
use std::path::{Path, PathBuf};

use crate::plugins::{ExportInfo, SeriesChunk};

/// Default range: the last 24 hours.
const DEFAULT_EXPORT_SPAN_MS: i64 = 86_400_000;

/// One series is read in windows this long (21,600 points at 1 s).
const EXPORT_WINDOW_MS: i64 = 6 * 3_600_000;

/// Points handed to the exporter per `write-series` call, about.
const EXPORT_BATCH_POINTS: usize = 65_536;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// The exporter plugin's name; `json` by default.
    format: Option<String>,
    #[serde(default, deserialize_with = "epoch_ms")]
    start: Option<i64>,
    #[serde(default, deserialize_with = "epoch_ms")]
    end: Option<i64>,
    /// The format's layout (`wide` for csv, `openmetrics` for
    /// prometheus-text), handed to the plugin as its `layout` option; a
    /// format without layouts refuses it.
    layout: Option<String>,
    /// Only this metric's series.
    metric: Option<String>,
    /// Only series whose labels include these (`host=a,cpu=0`).
    labels: Option<String>,
}

/// What was written, in the original system's field names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportAnswer {
    success: bool,
    format: String,
    file_path: std::path::PathBuf,
    file_size: usize,
    media_type: String,
    record_count: usize,
}

pub async fn export(
    State(state): State<AppState>,
    Params(params): Params<ExportParams>,
) -> Result<Json<ExportAnswer>, ApiError> {
    let format = params.format.unwrap_or_else(|| "json".to_owned());
    let now = crate::clock::now_ms();
    let (start, end) = time_range(params.start, params.end, DEFAULT_EXPORT_SPAN_MS)?;

    let metric = params
        .metric
        .as_deref()
        .map(super::query::metric)
        .transpose()?;
    let selector = super::query::selector(params.labels.as_deref())?;
    let mut series = state.store.series(metric).await?;
    series.retain(|s| s.labels.includes(&selector));
    let alerts = {
        let engine = state.alerts.lock().expect("alerts lock");
        let mut alerts = engine.firing();
        alerts.extend(engine.recently_resolved().cloned());
        alerts.retain(|a| a.timestamp < end && a.resolved_at.is_none_or(|r| r >= start));
        alerts
    };
    let bottlenecks = {
        let tracker = state.bottlenecks.lock().expect("bottlenecks lock");
        let mut list = tracker.current();
        list.extend(tracker.recently_resolved().cloned());
        list.retain(|b| b.timestamp < end && b.last_seen >= start);
        list
    };

    let mut exporters = state.exporters.lock().await;
    let names: Vec<String> = exporters.iter().map(|e| e.name().to_owned()).collect();
    let exporter = exporters
        .iter_mut()
        .find(|e| e.name() == format)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "no exporter plugin `{format}` is loaded; available: {}",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ))
        })?;
    let unavailable = |e: crate::plugins::PluginError| ApiError::Unavailable(e.to_string());
    let mut document = exporter
        .begin(ExportInfo {
            start_ms: start,
            end_ms: end,
            series_count: u32::try_from(series.len()).unwrap_or(u32::MAX),
            alert_count: u32::try_from(alerts.len()).unwrap_or(u32::MAX),
            bottleneck_count: u32::try_from(bottlenecks.len()).unwrap_or(u32::MAX),
            options: format_options(params.layout.as_deref()),
        })
        .await
        .map_err(unavailable)?;

    let dir = &state.config.export_path;
    tokio::fs::create_dir_all(dir).await.map_err(|e| {
        ApiError::Internal(format!("cannot create export_path {}: {e}", dir.display()))
    })?;
    // Written under a temporary name and renamed at the end, so a failed
    // export leaves no half file behind.
    let partial = PartialFile::new(dir.join(format!(".export-{}.partial", file_stamp(now))));
    let mut file = partial.writer().await?;
    let mut points = 0;
    let mut bytes = 0;
    // One series and one window at a time, in batches of about
    // EXPORT_BATCH_POINTS: memory holds a batch, never the range.
    let mut batch: Vec<SeriesChunk> = Vec::new();
    let mut batched = 0;
    for info in series {
        // Windows only where the series has points: a range that starts at
        // 0 must not mean fifty years of empty reads.
        let Some((first, last)) = state
            .store
            .series_extent(&info.metric, info.labels.clone(), start, end)
            .await?
        else {
            continue;
        };
        let mut from = first;
        let stop = last.saturating_add(1).min(end);
        let mut continued = false;
        while from < stop {
            let to = from.saturating_add(EXPORT_WINDOW_MS).min(stop);
            let read = state
                .store
                .query_series(&info.metric, info.labels.clone(), from, to)
                .await?;
            from = to;
            let Some(read) = read.filter(|r| !r.points.is_empty()) else {
                continue;
            };
            batched += read.points.len();
            points += read.points.len();
            batch.push(SeriesChunk {
                metric: info.metric.clone(),
                unit: read.unit,
                labels: read.labels,
                continued,
                points: read.points,
            });
            continued = true;
            if batched >= EXPORT_BATCH_POINTS {
                let rendered = document
                    .write_series(std::mem::take(&mut batch))
                    .await
                    .map_err(unavailable)?;
                bytes += write(&mut file, &rendered).await?;
                batched = 0;
            }
        }
    }
    if !batch.is_empty() {
        let rendered = document.write_series(batch).await.map_err(unavailable)?;
        bytes += write(&mut file, &rendered).await?;
    }
    let rendered = document
        .write_alerts(&alerts, state.deliveries.external_url())
        .await
        .map_err(unavailable)?;
    bytes += write(&mut file, &rendered).await?;
    let rendered = document
        .write_bottlenecks(&bottlenecks)
        .await
        .map_err(unavailable)?;
    bytes += write(&mut file, &rendered).await?;
    let (rendered, kind) = document.finish().await.map_err(unavailable)?;
    bytes += write(&mut file, &rendered).await?;
    drop(exporters);

    let extension: String = kind
        .extension
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect();
    let extension = if extension.is_empty() {
        "out".to_owned()
    } else {
        extension
    };
    let path = dir.join(format!(
        "performance-metrics-{}.{extension}",
        file_stamp(now)
    ));
    partial.finish(file, &path).await?;
    Ok(Json(ExportAnswer {
        success: true,
        format,
        file_path: path,
        file_size: bytes,
        media_type: kind.media_type,
        record_count: points,
    }))
}

/// The plugin's format options as the JSON object the WIT hands over.
fn format_options(layout: Option<&str>) -> String {
    match layout {
        Some(layout) => serde_json::json!({ "layout": layout }).to_string(),
        None => "{}".to_owned(),
    }
}

async fn write(
    file: &mut tokio::io::BufWriter<tokio::fs::File>,
    bytes: &[u8],
) -> Result<usize, ApiError> {
    use tokio::io::AsyncWriteExt;
    file.write_all(bytes)
        .await
        .map_err(|e| ApiError::Internal(format!("cannot write the export: {e}")))?;
    Ok(bytes.len())
}

/// An export file being written: removed when dropped unfinished.
struct PartialFile {
    path: Option<PathBuf>,
}

impl PartialFile {
    fn new(path: PathBuf) -> Self {
        Self { path: Some(path) }
    }

    async fn writer(&self) -> Result<tokio::io::BufWriter<tokio::fs::File>, ApiError> {
        let path = self.path.as_ref().expect("unfinished");
        let file = tokio::fs::File::create(path)
            .await
            .map_err(|e| ApiError::Internal(format!("cannot create {}: {e}", path.display())))?;
        Ok(tokio::io::BufWriter::new(file))
    }

    /// Flushes, syncs and renames the file to `to`.
    async fn finish(
        mut self,
        mut file: tokio::io::BufWriter<tokio::fs::File>,
        to: &Path,
    ) -> Result<(), ApiError> {
        use tokio::io::AsyncWriteExt;
        let from = self.path.take().expect("unfinished");
        let failed =
            |e: std::io::Error| ApiError::Internal(format!("cannot write {}: {e}", to.display()));
        file.flush().await.map_err(failed)?;
        file.get_ref().sync_all().await.map_err(failed)?;
        drop(file);
        if let Err(e) = tokio::fs::rename(&from, to).await {
            let _ = std::fs::remove_file(&from);
            return Err(failed(e));
        }
        Ok(())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `2026-11-26T22-40-49-123Z`: the original's ISO timestamp with `:` and
/// `.` replaced, so file names sort by time and are valid everywhere.
fn file_stamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}-{:02}-{:02}-{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stamps_are_iso_times_safe_in_file_names() {
        assert_eq!(file_stamp(0), "1970-01-01T00-00-00-000Z");
        assert_eq!(file_stamp(1_764_200_000_123), "2025-11-26T23-33-20-123Z");
        assert_eq!(file_stamp(951_782_400_000), "2000-02-29T00-00-00-000Z");
    }
}
