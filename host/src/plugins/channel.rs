//! Channel plugins: one instance per configured channel, delivering alerts.

use super::PluginError;
use super::bindings::channel::Channel;
use super::bindings::types;
use super::sandbox::{CallOutcome, Sandbox};
use super::supervisor::PluginStats;
use crate::model::{Alert, DeliveryError, Notification, Severity};

/// A channel plugin instance serving one `[[alerting.channels]]` entry.
pub struct ChannelPlugin {
    sandbox: Sandbox<Channel>,
}

impl ChannelPlugin {
    pub(super) fn new(sandbox: Sandbox<Channel>) -> Self {
        Self { sandbox }
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

    /// Delivers a notification: the WIT 0.1 world takes one alert per
    /// call, so each alert goes in turn, stopping at the first failure.
    /// Every failure is transient here; the plugin cannot say otherwise.
    pub async fn deliver(&mut self, notification: &Notification) -> Result<(), DeliveryError> {
        for alert in &notification.alerts {
            let wit_alert = to_wit(alert);
            let outcome = self
                .sandbox
                .call(move |bindings, store| {
                    Box::pin(async move {
                        bindings
                            .perfwatch_plugin_channel_api()
                            .call_deliver(store, &wit_alert)
                            .await
                    })
                })
                .await;
            let error = match outcome {
                CallOutcome::Done(()) => continue,
                CallOutcome::Failed(error) => error,
                CallOutcome::Skipped => PluginError::BackingOff {
                    plugin: self.plugin().to_owned(),
                },
            };
            return Err(DeliveryError::Transient(error.to_string()));
        }
        Ok(())
    }
}

/// The WIT form of an alert.
pub(super) fn to_wit(alert: &Alert) -> types::Alert {
    types::Alert {
        id: alert.id.clone(),
        rule: alert.rule.clone(),
        severity: match alert.severity {
            Severity::Warning => types::Severity::Warning,
            Severity::Critical => types::Severity::Critical,
        },
        status: if alert.resolved {
            types::AlertStatus::Resolved
        } else {
            types::AlertStatus::Firing
        },
        metric: alert.metric.clone(),
        value: if alert.value.is_finite() {
            alert.value
        } else {
            0.0
        },
        threshold: if alert.threshold.is_finite() {
            alert.threshold
        } else {
            0.0
        },
        message: alert.message.clone(),
        component: alert.component.clone(),
        labels: alert
            .labels
            .iter()
            .map(|(k, v)| types::Label {
                key: k.to_owned(),
                value: v.to_owned(),
            })
            .collect(),
        timestamp_ms: alert.resolved_at.unwrap_or(alert.timestamp),
    }
}
