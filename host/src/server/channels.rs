//! The alert channels: `GET /api/v1/channels` (each with its plugin, its
//! filters and its delivery counters) and `POST /api/v1/channels/{name}/test`
//! (a realistic sample notification through one channel, now).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, json_body};
use crate::alert::{ChannelStats, TestError};
use crate::app::AppState;
use crate::config::ChannelFilters;
use crate::model::{Alert, Labels, Notification, Severity};
use crate::plugins::{PluginStats, Rendered};

/// One configured channel as the API shows it. Its config is left out:
/// `GET /api/v1/config` shows it, redacted.
#[derive(Serialize)]
pub struct ChannelView {
    name: String,
    /// The channel plugin that delivers it.
    #[serde(rename = "type")]
    kind: String,
    enabled: bool,
    filters: ChannelFilters,
    /// Whether a plugin instance delivers it now.
    delivering: bool,
    /// The instance's health and call counters, once it is loaded.
    plugin: Option<PluginStats>,
    /// Notifications since the host started.
    deliveries: Option<ChannelStats>,
}

#[derive(Serialize)]
pub struct ChannelsAnswer {
    channels: Vec<ChannelView>,
}

/// `GET /api/v1/channels`: every configured channel, in config order.
pub async fn list(State(state): State<AppState>) -> Json<ChannelsAnswer> {
    let stats = state.deliveries.stats();
    let views = state.plugins.all();
    let channels = state
        .config
        .alerting
        .channels
        .iter()
        .map(|channel| {
            let deliveries = stats.iter().find(|s| s.channel == channel.name).cloned();
            let plugin = views
                .iter()
                .find(|v| v.name == channel.kind && v.channel.as_ref() == Some(&channel.name))
                .map(|v| v.stats.clone());
            ChannelView {
                name: channel.name.clone(),
                kind: channel.kind.clone(),
                enabled: channel.enabled,
                filters: channel.filters.clone(),
                delivering: deliveries.is_some(),
                plugin,
                deliveries,
            }
        })
        .collect();
    Json(ChannelsAnswer { channels })
}

/// What a test notification looks like; every field is optional.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// `critical` (default) or `warning`.
    #[serde(default)]
    severity: Option<Severity>,
    /// Send the alert's resolution instead of its firing.
    #[serde(default)]
    resolved: bool,
    /// Answer what the channel would send, without sending it.
    #[serde(default)]
    render: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestAnswer {
    channel: String,
    delivered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<u64>,
    /// With `render`: what the channel's plugin would have sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    rendered: Option<Vec<Rendered>>,
    alert: Alert,
}

/// `POST /api/v1/channels/{name}/test`: sends a sample alert through the
/// channel, past its filters and grouping, tried once; answers when the
/// channel's plugin has answered (502 with its reason when it failed).
/// With `render`, a fresh instance of the channel's plugin renders it and
/// the answer is what it would have sent, nothing being sent.
pub async fn test(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<TestAnswer>, ApiError> {
    let request: TestRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TestRequest::default()
    } else {
        json_body(&body)?
    };
    let alert = sample_alert(
        request.severity.unwrap_or(Severity::Critical),
        request.resolved,
        crate::clock::now_ms(),
    );
    if request.render {
        let rendered = render(&state, &name, alert.clone()).await?;
        return Ok(Json(TestAnswer {
            channel: name,
            delivered: false,
            latency_ms: None,
            rendered: Some(rendered),
            alert,
        }));
    }
    match state.deliveries.send_test(&name, alert.clone()).await {
        Ok(latency_ms) => Ok(Json(TestAnswer {
            channel: name,
            delivered: true,
            latency_ms: Some(latency_ms),
            rendered: None,
            alert,
        })),
        Err(e @ TestError::NoSuchChannel(_)) => Err(ApiError::NotFound(e.to_string())),
        Err(e @ (TestError::Busy(_) | TestError::Stopped(_))) => {
            Err(ApiError::Unavailable(e.to_string()))
        }
        Err(TestError::Failed(error)) => Err(ApiError::Unavailable(format!(
            "channel `{name}` failed the test ({}): {}",
            error.class(),
            error.reason()
        ))),
    }
}

async fn render(state: &AppState, name: &str, alert: Alert) -> Result<Vec<Rendered>, ApiError> {
    let channel = state
        .config
        .alerting
        .channels
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("no channel is named `{name}`")))?;
    let renderer = state
        .channel_renderer
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("this host runs no plugins".to_owned()))?;
    let notification = Notification::test(name, state.deliveries.external_url(), alert);
    renderer
        .render_channel(&state.config, channel, &notification)
        .await
        .map_err(ApiError::Unavailable)
}

/// A test alert as the threshold engine would raise it: CPU above its
/// threshold on this host, labelled so a receiver's routing can tell it
/// is a test.
pub fn sample_alert(severity: Severity, resolved: bool, now_ms: i64) -> Alert {
    let threshold = match severity {
        Severity::Warning => 70.0,
        Severity::Critical => 90.0,
    };
    let started = now_ms - 120_000;
    Alert {
        id: format!("test-{now_ms}"),
        rule: "perfwatch-test".to_owned(),
        timestamp: started,
        severity,
        metric: "system.cpuUsage".to_owned(),
        labels: Labels::try_from_pairs([("test".to_owned(), "true".to_owned())])
            .expect("a valid label"),
        value: 97.5,
        threshold,
        message: format!(
            "Test notification from perfwatch: CPU Usage 97.5% (threshold: {threshold}%)"
        ),
        component: "system".to_owned(),
        resolved,
        resolved_at: resolved.then_some(now_ms),
        flapping: false,
        acknowledged: None,
        description: Some(
            "A sample alert sent by `perfwatch channels test` to check this channel's delivery."
                .to_owned(),
        ),
        runbook_url: None,
    }
}
