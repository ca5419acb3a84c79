//! Exporter plugins: a document written in pieces. The host opens a
//! [`Document`], hands it series, alerts and bottlenecks in batches and
//! appends the bytes each call returns, so no call holds a whole range. A
//! 0.1 exporter renders in one call; its adapter buffers the batches and
//! calls it at `finish`.

use wasmtime::component::ResourceAny;

use super::PluginError;
use super::adapter_v1;
use super::bindings::{v1, v2};
use super::channel::alert_to_wit;
use super::sandbox::{CallOutcome, Sandbox};
use super::supervisor::PluginStats;
use super::versioned::Versioned;
use crate::model::{Alert, Bottleneck, BottleneckKind, Labels};

/// What an export will carry, told to the plugin before the first batch.
pub struct ExportInfo {
    /// Start of the range, epoch ms.
    pub start_ms: i64,
    /// End of the range, epoch ms.
    pub end_ms: i64,
    /// Series the export will carry.
    pub series_count: u32,
    /// Alerts it will carry.
    pub alert_count: u32,
    /// Bottlenecks it will carry.
    pub bottleneck_count: u32,
    /// The request's format options, a JSON object.
    pub options: String,
}

/// Points of one series, or of a stretch of it.
pub struct SeriesChunk {
    /// Metric name.
    pub metric: String,
    /// Unit.
    pub unit: String,
    /// Labels.
    pub labels: Labels,
    /// Whether this continues the series of the chunk before it.
    pub continued: bool,
    /// `(epoch ms, value)` in time order.
    pub points: Vec<(i64, f64)>,
}

/// The kind of file an export is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentType {
    /// File extension without the dot.
    pub extension: String,
    /// Media type.
    pub media_type: String,
}

/// A loaded exporter.
pub struct ExporterPlugin {
    sandbox: Boundary,
}

/// The instance, of either package version.
type Boundary = Versioned<v2::exporter::Exporter, v1::exporter::Exporter>;

/// A document being written; [`Document::finish`] ends it. Dropping it
/// unfinished abandons the export; the plugin's resource then stays in its
/// instance (within the instance's memory cap) until the instance is
/// replaced.
pub struct Document<'p>(DocumentState<'p>);

enum DocumentState<'p> {
    V2 {
        sandbox: &'p mut Sandbox<v2::exporter::Exporter>,
        resource: ResourceAny,
        document_type: DocumentType,
    },
    V1 {
        sandbox: &'p mut Sandbox<v1::exporter::Exporter>,
        request: v1::types::ExportRequest,
    },
}

impl ExporterPlugin {
    pub(super) fn v2(sandbox: Sandbox<v2::exporter::Exporter>) -> Self {
        Self {
            sandbox: Versioned::V2(sandbox),
        }
    }

    pub(super) fn v1(sandbox: Sandbox<v1::exporter::Exporter>) -> Self {
        Self {
            sandbox: Versioned::V1(sandbox),
        }
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

    /// Whether the plugin accepts its config (see [`Sandbox::validate_config`]).
    pub async fn validate_config(&mut self) -> Result<Vec<String>, PluginError> {
        self.sandbox.validate_config().await
    }

    /// Starts a document; the plugin may refuse the request (an unknown
    /// option) with a reason.
    pub async fn begin(&mut self, info: ExportInfo) -> Result<Document<'_>, PluginError> {
        let state = match &mut self.sandbox {
            Versioned::V2(sandbox) => {
                let wit_info =
                    v2::exporter::exports::perfwatch::plugin0_2_0::exporter_api::ExportInfo {
                        start_ms: info.start_ms,
                        end_ms: info.end_ms,
                        series_count: info.series_count,
                        alert_count: info.alert_count,
                        bottleneck_count: info.bottleneck_count,
                        options: info.options,
                    };
                let outcome = sandbox
                    .call(move |bindings, store| {
                        Box::pin(async move {
                            let api = bindings.perfwatch_plugin0_2_0_exporter_api();
                            let resource = match api.call_begin(&mut *store, &wit_info).await? {
                                Ok(resource) => resource,
                                Err(reason) => return Ok(Err(reason)),
                            };
                            let kind = api
                                .document()
                                .call_document_type(&mut *store, resource)
                                .await?;
                            Ok(Ok((resource, kind)))
                        })
                    })
                    .await;
                let (resource, kind) = done(outcome, sandbox.name())?;
                DocumentState::V2 {
                    sandbox,
                    resource,
                    document_type: DocumentType {
                        extension: kind.extension,
                        media_type: kind.media_type,
                    },
                }
            }
            Versioned::V1(sandbox) => DocumentState::V1 {
                sandbox,
                request: v1::types::ExportRequest {
                    start_ms: info.start_ms,
                    end_ms: info.end_ms,
                    series: Vec::new(),
                    alerts: Vec::new(),
                    bottlenecks: Vec::new(),
                },
            },
        };
        Ok(Document(state))
    }
}

impl Document<'_> {
    /// Renders a batch of series; the bytes to append.
    pub async fn write_series(&mut self, batch: Vec<SeriesChunk>) -> Result<Vec<u8>, PluginError> {
        let batch: Vec<v2::types::Series> = batch.into_iter().map(series_to_wit).collect();
        match &mut self.0 {
            DocumentState::V2 {
                sandbox, resource, ..
            } => {
                let resource = *resource;
                let outcome = sandbox
                    .call(move |bindings, store| {
                        Box::pin(async move {
                            bindings
                                .perfwatch_plugin0_2_0_exporter_api()
                                .document()
                                .call_write_series(store, resource, &batch)
                                .await
                        })
                    })
                    .await;
                done(outcome, sandbox.name())
            }
            DocumentState::V1 { request, .. } => {
                adapter_v1::append_series(&mut request.series, batch);
                Ok(Vec::new())
            }
        }
    }

    /// Renders a batch of alerts; the bytes to append.
    pub async fn write_alerts(
        &mut self,
        batch: &[Alert],
        external_url: &str,
    ) -> Result<Vec<u8>, PluginError> {
        let batch: Vec<v2::types::Alert> = batch
            .iter()
            .map(|a| alert_to_wit(a, external_url))
            .collect();
        match &mut self.0 {
            DocumentState::V2 {
                sandbox, resource, ..
            } => {
                let resource = *resource;
                let outcome = sandbox
                    .call(move |bindings, store| {
                        Box::pin(async move {
                            bindings
                                .perfwatch_plugin0_2_0_exporter_api()
                                .document()
                                .call_write_alerts(store, resource, &batch)
                                .await
                        })
                    })
                    .await;
                done(outcome, sandbox.name())
            }
            DocumentState::V1 { request, .. } => {
                request.alerts.extend(batch.iter().map(adapter_v1::alert));
                Ok(Vec::new())
            }
        }
    }

    /// Renders a batch of bottlenecks; the bytes to append.
    pub async fn write_bottlenecks(
        &mut self,
        batch: &[Bottleneck],
    ) -> Result<Vec<u8>, PluginError> {
        let batch: Vec<v2::types::Bottleneck> = batch.iter().map(bottleneck_to_wit).collect();
        match &mut self.0 {
            DocumentState::V2 {
                sandbox, resource, ..
            } => {
                let resource = *resource;
                let outcome = sandbox
                    .call(move |bindings, store| {
                        Box::pin(async move {
                            bindings
                                .perfwatch_plugin0_2_0_exporter_api()
                                .document()
                                .call_write_bottlenecks(store, resource, &batch)
                                .await
                        })
                    })
                    .await;
                done(outcome, sandbox.name())
            }
            DocumentState::V1 { request, .. } => {
                request
                    .bottlenecks
                    .extend(batch.iter().map(adapter_v1::bottleneck));
                Ok(Vec::new())
            }
        }
    }

    /// Ends the document: the closing bytes, and the document's type.
    pub async fn finish(self) -> Result<(Vec<u8>, DocumentType), PluginError> {
        match self.0 {
            DocumentState::V2 {
                sandbox,
                resource,
                document_type,
            } => {
                let outcome = sandbox
                    .call(move |bindings, store| {
                        Box::pin(async move {
                            let result = bindings
                                .perfwatch_plugin0_2_0_exporter_api()
                                .document()
                                .call_finish(&mut *store, resource)
                                .await?;
                            resource.resource_drop_async(&mut *store).await?;
                            Ok(result)
                        })
                    })
                    .await;
                Ok((done(outcome, sandbox.name())?, document_type))
            }
            DocumentState::V1 { sandbox, request } => {
                let outcome = sandbox
                    .call(move |bindings, store| {
                        Box::pin(async move {
                            bindings
                                .perfwatch_plugin0_1_0_exporter_api()
                                .call_export(store, &request)
                                .await
                        })
                    })
                    .await;
                let artifact = done(outcome, sandbox.name())?;
                Ok((
                    artifact.bytes,
                    DocumentType {
                        extension: artifact.extension,
                        media_type: artifact.media_type,
                    },
                ))
            }
        }
    }
}

fn done<T>(outcome: CallOutcome<T>, plugin: &str) -> Result<T, PluginError> {
    match outcome {
        CallOutcome::Done(value) => Ok(value),
        CallOutcome::Failed(error) => Err(error),
        CallOutcome::Skipped => Err(PluginError::BackingOff {
            plugin: plugin.to_owned(),
        }),
    }
}

fn series_to_wit(chunk: SeriesChunk) -> v2::types::Series {
    v2::types::Series {
        metric: chunk.metric,
        unit: chunk.unit,
        labels: chunk
            .labels
            .iter()
            .map(|(k, v)| v2::types::Label {
                key: k.to_owned(),
                value: v.to_owned(),
            })
            .collect(),
        continued: chunk.continued,
        timestamps_ms: chunk.points.iter().map(|(t, _)| *t).collect(),
        values: chunk.points.iter().map(|(_, v)| *v).collect(),
    }
}

fn bottleneck_to_wit(b: &Bottleneck) -> v2::types::Bottleneck {
    use v2::types::BottleneckKind as Wit;
    v2::types::Bottleneck {
        id: b.id.clone(),
        kind: match b.kind {
            BottleneckKind::Cpu => Wit::Cpu,
            BottleneckKind::Memory => Wit::Memory,
            BottleneckKind::Io => Wit::Io,
            BottleneckKind::Network => Wit::Network,
            BottleneckKind::Coordination => Wit::Coordination,
            BottleneckKind::Ui => Wit::Ui,
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
