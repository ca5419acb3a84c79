//! `GET /metrics`: the latest value of every series in the window, and the host's own counters, as Prometheus text 0.0.4 or OpenMetrics 1.0 by the scrape's `Accept`.
//!
//! Names, scaling and lines come from `perfwatch-exposition`, the writer
//! the prometheus-text exporter plugin uses, so a scrape and an export name
//! a series alike. Values are read from the window (the tick's path never
//! waits on a scrape); the kind and help of each metric come from the
//! store's series dictionary, one small query per scrape. Samples carry no
//! timestamp: the scraper stamps them, and a series the window no longer
//! holds (silent for 10 minutes) drops out, which Prometheus marks stale.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use perfwatch_exposition::{Exposition, Format, Kind};

use super::error::ApiError;
use crate::app::AppState;
use crate::model::{Labels, MetricKind};

/// One series' latest point, copied out of the window under its lock.
struct Latest {
    metric: String,
    labels: Labels,
    unit: String,
    value: f64,
}

pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map_or(Format::Text, Format::from_accept);
    let described: HashMap<String, (MetricKind, String)> = state
        .store
        .series(None)
        .await?
        .into_iter()
        .map(|s| (s.metric, (s.kind, s.help)))
        .collect();
    let mut latest: Vec<Latest> = {
        let window = state.window.read().expect("window lock");
        window
            .iter()
            .filter_map(|(key, series)| {
                let (_, value) = series.latest()?;
                Some(Latest {
                    metric: key.metric.clone(),
                    labels: key.labels.clone(),
                    unit: series.unit.clone(),
                    value,
                })
            })
            .collect()
    };
    // One family's series together, as the format requires.
    latest.sort_by(|a, b| (&a.metric, &a.unit, &a.labels).cmp(&(&b.metric, &b.unit, &b.labels)));

    let mut out = String::with_capacity(latest.len() * 96);
    let mut exposition = Exposition::new(format);
    let mut skipped = 0usize;
    for series in &latest {
        let (kind, help) = described
            .get(&series.metric)
            .map_or((Kind::Gauge, ""), |(kind, help)| {
                (kind_of(*kind), help.as_str())
            });
        let labels = series.labels.iter();
        match exposition.start_series(&series.metric, &series.unit, kind, help, labels, &mut out) {
            Ok(_) => exposition.sample(series.value, None, &mut out),
            Err(error) => {
                // A scrape must not fail for one metric: it is left out,
                // and counted below.
                skipped += 1;
                tracing::debug!(metric = %series.metric, %error, "left out of /metrics");
            }
        }
    }
    self_metrics(&state, latest.len(), skipped, &mut exposition, &mut out);
    exposition.finish(&mut out);

    let mut response = out.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.media_type()),
    );
    Ok(response)
}

fn kind_of(kind: MetricKind) -> Kind {
    match kind {
        MetricKind::Gauge => Kind::Gauge,
        MetricKind::Counter => Kind::Counter,
    }
}

/// The host's own figures that are not samples already (`tracing.*` and
/// `plugins.*` are, and appear above).
fn self_metrics(
    state: &AppState,
    series: usize,
    skipped: usize,
    exposition: &mut Exposition,
    out: &mut String,
) {
    let firing = state.alerts.lock().expect("alerts lock").firing().len();
    let figures = [
        (
            "perfwatch.alertsFiring",
            Kind::Gauge,
            "alerts firing now",
            firing as f64,
        ),
        (
            "perfwatch.storedSamples",
            Kind::Counter,
            "samples committed to the store since the host started",
            state.stored_total.load(Ordering::Relaxed) as f64,
        ),
        (
            "perfwatch.windowSeries",
            Kind::Gauge,
            "series with a point in the in-memory window",
            series as f64,
        ),
        (
            "perfwatch.scrapeSkippedSeries",
            Kind::Gauge,
            "series left out of this scrape: their name collides with another metric's",
            skipped as f64,
        ),
    ];
    for (metric, kind, help, value) in figures {
        if exposition
            .start_series(metric, "", kind, help, [], out)
            .is_ok()
        {
            exposition.sample(value, None, out);
        }
    }
}
