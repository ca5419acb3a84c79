//! Channel plugins: one instance per configured channel, delivering
//! notifications. A 0.2 plugin gets the whole group in one `deliver` and
//! answers with a typed error; a 0.1 plugin gets one call per alert through
//! the adapter, and its string errors count as transient.

use super::PluginError;
use super::adapter_v1;
use super::bindings::{v1, v2};
use super::sandbox::{CallOutcome, Sandbox};
use super::supervisor::PluginStats;
use super::versioned::Versioned;
use crate::model::{Alert, AlertStatus, DeliveryError, Notification, Severity};

/// A channel plugin instance serving one `[[alerting.channels]]` entry.
pub struct ChannelPlugin {
    sandbox: Boundary,
}

/// The instance, of either package version.
type Boundary = Versioned<v2::channel::Channel, v1::channel::Channel>;

impl ChannelPlugin {
    pub(super) fn v2(sandbox: Sandbox<v2::channel::Channel>) -> Self {
        Self {
            sandbox: Versioned::V2(sandbox),
        }
    }

    pub(super) fn v1(sandbox: Sandbox<v1::channel::Channel>) -> Self {
        Self {
            sandbox: Versioned::V1(sandbox),
        }
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        self.sandbox.name()
    }

    /// Instantiates now (see [`Sandbox::prepare`]).
    pub async fn prepare(&mut self) -> Result<(), PluginError> {
        self.sandbox.prepare().await
    }

    /// Calls, failures, status.
    pub fn stats(&self) -> PluginStats {
        self.sandbox.stats()
    }

    /// Whether the plugin accepts its config (see [`Sandbox::validate_config`]).
    pub async fn validate_config(&mut self) -> Result<Vec<String>, PluginError> {
        self.sandbox.validate_config().await
    }

    /// Delivers one notification. A plugin that traps, times out or is
    /// backing off is a transient failure: a fresh instance may succeed.
    pub async fn deliver(&mut self, notification: &Notification) -> Result<(), DeliveryError> {
        match &mut self.sandbox {
            Versioned::V2(sandbox) => {
                let wit = notification_to_wit(notification);
                let outcome = sandbox
                    .call(move |bindings, store| {
                        Box::pin(async move {
                            let answer = bindings
                                .perfwatch_plugin0_2_0_channel_api()
                                .call_deliver(store, &wit)
                                .await?;
                            Ok(Ok(answer))
                        })
                    })
                    .await;
                match outcome {
                    CallOutcome::Done(answer) => answer.map_err(delivery_error),
                    CallOutcome::Failed(error) => Err(DeliveryError::Transient(error.to_string())),
                    CallOutcome::Skipped => Err(backing_off(sandbox.name())),
                }
            }
            Versioned::V1(sandbox) => {
                for alert in &notification.alerts {
                    let wit = adapter_v1::alert(&alert_to_wit(alert, &notification.external_url));
                    let outcome = sandbox
                        .call(move |bindings, store| {
                            Box::pin(async move {
                                bindings
                                    .perfwatch_plugin0_1_0_channel_api()
                                    .call_deliver(store, &wit)
                                    .await
                            })
                        })
                        .await;
                    match outcome {
                        CallOutcome::Done(()) => {}
                        CallOutcome::Failed(error) => {
                            return Err(DeliveryError::Transient(error.to_string()));
                        }
                        CallOutcome::Skipped => return Err(backing_off(sandbox.name())),
                    }
                }
                Ok(())
            }
        }
    }
}

fn backing_off(plugin: &str) -> DeliveryError {
    DeliveryError::Transient(
        PluginError::BackingOff {
            plugin: plugin.to_owned(),
        }
        .to_string(),
    )
}

/// The plugin's answer in the host's terms. Its text may quote the URL it
/// called; only the origin is kept.
fn delivery_error(error: v2::types::DeliveryError) -> DeliveryError {
    let cut = |text: String| super::redact::urls(&text).into_owned();
    match error {
        v2::types::DeliveryError::Permanent(reason) => DeliveryError::Permanent(cut(reason)),
        v2::types::DeliveryError::Transient(reason) => DeliveryError::Transient(cut(reason)),
        v2::types::DeliveryError::RetryAfter(r) => DeliveryError::RetryAfter {
            after_ms: u64::from(r.after_ms),
            reason: cut(r.reason),
        },
    }
}

fn labels_to_wit<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<v2::types::Label> {
    pairs
        .into_iter()
        .map(|(k, v)| v2::types::Label {
            key: k.to_owned(),
            value: v.to_owned(),
        })
        .collect()
}

fn status_to_wit(firing: bool) -> v2::types::AlertStatus {
    if firing {
        v2::types::AlertStatus::Firing
    } else {
        v2::types::AlertStatus::Resolved
    }
}

/// The WIT form of a notification.
fn notification_to_wit(n: &Notification) -> v2::types::Notification {
    let pairs =
        |v: &[(String, String)]| labels_to_wit(v.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    v2::types::Notification {
        receiver: n.receiver.clone(),
        status: status_to_wit(n.status == AlertStatus::Firing),
        group_key: n.group_key.clone(),
        group_labels: pairs(&n.group_labels),
        common_labels: pairs(&n.common_labels),
        common_annotations: pairs(&n.common_annotations),
        external_url: n.external_url.clone(),
        alerts: n
            .alerts
            .iter()
            .map(|a| alert_to_wit(a, &n.external_url))
            .collect(),
    }
}

/// The WIT form of an alert; `external_url` is the base of its link.
pub(super) fn alert_to_wit(alert: &Alert, external_url: &str) -> v2::types::Alert {
    let finite = |x: f64| if x.is_finite() { x } else { 0.0 };
    v2::types::Alert {
        id: alert.id.clone(),
        rule: alert.rule.clone(),
        severity: match alert.severity {
            Severity::Warning => v2::types::Severity::Warning,
            Severity::Critical => v2::types::Severity::Critical,
        },
        status: status_to_wit(!alert.resolved),
        metric: alert.metric.clone(),
        value: finite(alert.value),
        threshold: finite(alert.threshold),
        message: alert.message.clone(),
        component: alert.component.clone(),
        labels: labels_to_wit(alert.labels.iter()),
        annotations: labels_to_wit(
            alert
                .annotations()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        ),
        starts_at_ms: alert.starts_at(),
        ends_at_ms: alert.ends_at(),
        fingerprint: alert.fingerprint(),
        generator_url: alert.generator_url(external_url),
    }
}
