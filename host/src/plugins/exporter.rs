//! Exporter plugins: render stored series and alerts into a document.

use super::PluginError;
use super::bindings::exporter::Exporter;
use super::bindings::types;
use super::channel::to_wit;
use super::sandbox::{CallOutcome, Sandbox};
use super::supervisor::PluginStats;
use crate::model::{Alert, Bottleneck, BottleneckKind};
use crate::store::SeriesPoints;

/// What to export: a range, its series and its alerts.
pub struct ExportData {
    /// Start of the range, epoch ms.
    pub start_ms: i64,
    /// End of the range, epoch ms.
    pub end_ms: i64,
    /// `(metric, series)` pairs.
    pub series: Vec<(String, SeriesPoints)>,
    /// Alerts in the range.
    pub alerts: Vec<Alert>,
    /// Bottlenecks seen in the range.
    pub bottlenecks: Vec<Bottleneck>,
}

/// A rendered document.
pub struct Artifact {
    /// File extension without the dot.
    pub extension: String,
    /// Media type.
    pub media_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A loaded exporter.
pub struct ExporterPlugin {
    sandbox: Sandbox<Exporter>,
}

impl ExporterPlugin {
    pub(super) fn new(sandbox: Sandbox<Exporter>) -> Self {
        Self { sandbox }
    }

    /// The plugin's name (the format users ask for).
    pub fn name(&self) -> &str {
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

    /// Renders `data`.
    pub async fn export(&mut self, data: ExportData) -> Result<Artifact, PluginError> {
        let request = types::ExportRequest {
            start_ms: data.start_ms,
            end_ms: data.end_ms,
            series: data
                .series
                .into_iter()
                .map(|(metric, s)| types::Series {
                    metric,
                    unit: s.unit,
                    labels: s
                        .labels
                        .iter()
                        .map(|(k, v)| types::Label {
                            key: k.to_owned(),
                            value: v.to_owned(),
                        })
                        .collect(),
                    timestamps_ms: s.points.iter().map(|(t, _)| *t).collect(),
                    values: s.points.iter().map(|(_, v)| *v).collect(),
                })
                .collect(),
            alerts: data.alerts.iter().map(to_wit).collect(),
            bottlenecks: data.bottlenecks.iter().map(bottleneck_to_wit).collect(),
        };
        let outcome = self
            .sandbox
            .call(move |bindings, store| {
                Box::pin(async move {
                    bindings
                        .perfwatch_plugin_exporter_api()
                        .call_export(store, &request)
                        .await
                })
            })
            .await;
        match outcome {
            CallOutcome::Done(a) => Ok(Artifact {
                extension: a.extension,
                media_type: a.media_type,
                bytes: a.bytes,
            }),
            CallOutcome::Failed(error) => Err(error),
            CallOutcome::Skipped => Err(PluginError::BackingOff {
                plugin: self.name().to_owned(),
            }),
        }
    }
}

fn bottleneck_to_wit(b: &Bottleneck) -> types::Bottleneck {
    types::Bottleneck {
        id: b.id.clone(),
        kind: match b.kind {
            BottleneckKind::Cpu => types::BottleneckKind::Cpu,
            BottleneckKind::Memory => types::BottleneckKind::Memory,
            BottleneckKind::Io => types::BottleneckKind::Io,
            BottleneckKind::Network => types::BottleneckKind::Network,
            BottleneckKind::Coordination => types::BottleneckKind::Coordination,
            BottleneckKind::Ui => types::BottleneckKind::Ui,
        },
        component: b.component.clone(),
        impact: b.impact,
        description: b.description.clone(),
        suggestions: b.suggestions.clone(),
        first_seen_ms: b.timestamp,
        last_seen_ms: b.last_seen,
        resolved: b.resolved,
    }
}
