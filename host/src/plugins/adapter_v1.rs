//! The adapter that keeps `perfwatch:plugin@0.1.0` components working: the
//! 0.1 imports served by the 0.2 ones, and 0.1 records converted to and
//! from their 0.2 forms. The worlds' own adapters (one `deliver` per alert,
//! an export buffered into one request) live with each world.

use super::bindings::{v1, v2};
use super::state::PluginState;

impl v1::types::Host for PluginState {}

impl v1::host::Host for PluginState {
    fn log(&mut self, level: v1::host::LogLevel, message: String) {
        use v1::host::LogLevel as V1;
        use v2::host::LogLevel as V2;
        let level = match level {
            V1::Trace => V2::Trace,
            V1::Debug => V2::Debug,
            V1::Info => V2::Info,
            V1::Warn => V2::Warn,
            V1::Error => V2::Error,
        };
        v2::host::Host::log(self, level, message);
    }

    fn now_ms(&mut self) -> i64 {
        v2::host::Host::now_ms(self)
    }

    fn config(&mut self) -> String {
        v2::host::Host::config(self)
    }
}

impl v1::http::Host for PluginState {
    async fn send(
        &mut self,
        request: v1::http::Request,
    ) -> Result<v1::http::Response, v1::http::Error> {
        let request = v2::http::Request {
            method: request.method,
            url: request.url,
            headers: request
                .headers
                .into_iter()
                .map(|h| v2::http::Header {
                    name: h.name,
                    value: h.value,
                })
                .collect(),
            body: request.body,
            timeout_ms: request.timeout_ms,
        };
        match v2::http::Host::send(self, request).await {
            Ok(response) => Ok(v1::http::Response {
                status: response.status,
                headers: response
                    .headers
                    .into_iter()
                    .map(|h| v1::http::Header {
                        name: h.name,
                        value: h.value,
                    })
                    .collect(),
                body: response.body,
                elapsed_ms: response.elapsed_ms,
            }),
            Err(error) => Err(match error {
                v2::http::Error::Denied(s) => v1::http::Error::Denied(s),
                v2::http::Error::Timeout => v1::http::Error::Timeout,
                v2::http::Error::Connection(s) => v1::http::Error::Connection(s),
                v2::http::Error::TooLarge(n) => v1::http::Error::TooLarge(n),
                v2::http::Error::Invalid(s) => v1::http::Error::Invalid(s),
            }),
        }
    }
}

impl v1::email::Host for PluginState {
    async fn send(&mut self, message: v1::email::Message) -> Result<(), String> {
        let message = v2::email::Message {
            subject: message.subject,
            text: message.text,
            html: message.html,
        };
        v2::email::Host::send(self, message)
            .await
            .map_err(|error| match error {
                v2::types::DeliveryError::Permanent(s) | v2::types::DeliveryError::Transient(s) => {
                    s
                }
                v2::types::DeliveryError::RetryAfter(r) => r.reason,
            })
    }
}

/// A 0.1 sample in its 0.2 form (the fields are the same).
pub(super) fn sample(s: v1::types::Sample) -> v2::types::Sample {
    v2::types::Sample {
        metric: s.metric,
        value: s.value,
        unit: s.unit,
        kind: match s.kind {
            v1::types::MetricKind::Gauge => v2::types::MetricKind::Gauge,
            v1::types::MetricKind::Counter => v2::types::MetricKind::Counter,
        },
        labels: s.labels.into_iter().map(label_to_v2).collect(),
        timestamp_ms: s.timestamp_ms,
    }
}

fn label_to_v2(l: v1::types::Label) -> v2::types::Label {
    v2::types::Label {
        key: l.key,
        value: l.value,
    }
}

fn label_to_v1(l: &v2::types::Label) -> v1::types::Label {
    v1::types::Label {
        key: l.key.clone(),
        value: l.value.clone(),
    }
}

/// A 0.2 alert in its 0.1 form: 0.1 knows no annotations, fingerprint or
/// links, and stamps an alert with the time of its current status.
pub(super) fn alert(a: &v2::types::Alert) -> v1::types::Alert {
    v1::types::Alert {
        id: a.id.clone(),
        rule: a.rule.clone(),
        severity: match a.severity {
            v2::types::Severity::Warning => v1::types::Severity::Warning,
            v2::types::Severity::Critical => v1::types::Severity::Critical,
        },
        status: match a.status {
            v2::types::AlertStatus::Firing => v1::types::AlertStatus::Firing,
            v2::types::AlertStatus::Resolved => v1::types::AlertStatus::Resolved,
        },
        metric: a.metric.clone(),
        value: a.value,
        threshold: a.threshold,
        message: a.message.clone(),
        component: a.component.clone(),
        labels: a.labels.iter().map(label_to_v1).collect(),
        timestamp_ms: a.ends_at_ms.unwrap_or(a.starts_at_ms),
    }
}

/// A 0.2 bottleneck in its 0.1 form (the fields are the same).
pub(super) fn bottleneck(b: &v2::types::Bottleneck) -> v1::types::Bottleneck {
    use v1::types::BottleneckKind as V1;
    use v2::types::BottleneckKind as V2;
    v1::types::Bottleneck {
        id: b.id.clone(),
        kind: match b.kind {
            V2::Cpu => V1::Cpu,
            V2::Memory => V1::Memory,
            V2::Io => V1::Io,
            V2::Network => V1::Network,
            V2::Coordination => V1::Coordination,
            V2::Ui => V1::Ui,
        },
        component: b.component.clone(),
        impact: b.impact,
        description: b.description.clone(),
        suggestions: b.suggestions.clone(),
        first_seen_ms: b.first_seen_ms,
        last_seen_ms: b.last_seen_ms,
        resolved: b.resolved,
    }
}

/// 0.2 series entries folded into whole 0.1 series: an entry that
/// continues the one before it extends that series' points.
pub(super) fn append_series(into: &mut Vec<v1::types::Series>, batch: Vec<v2::types::Series>) {
    for entry in batch {
        if entry.continued
            && let Some(last) = into.last_mut()
        {
            last.timestamps_ms.extend(entry.timestamps_ms);
            last.values.extend(entry.values);
            continue;
        }
        into.push(v1::types::Series {
            metric: entry.metric,
            unit: entry.unit,
            labels: entry.labels.iter().map(label_to_v1).collect(),
            timestamps_ms: entry.timestamps_ms,
            values: entry.values,
        });
    }
}
