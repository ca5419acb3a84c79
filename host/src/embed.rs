//! Running perfwatch inside a Rust application, and recording from it with
//! the original system's helpers.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use perfwatch::config::Config;
//! use perfwatch::embed::{AgentMetrics, Monitor};
//!
//! let monitor = Monitor::start(Config::defaults()).await?;
//! let recorder = monitor.recorder();
//! recorder.record_custom_metric("my_metric", 42.0, "units").await?;
//! recorder.mark("trace_start");
//! // … process traces …
//! let ms = recorder.measure("trace_collection", "trace_start").await?;
//! recorder.record_trace_overhead(ms, 1200).await?;
//! recorder.record_query_performance("session_lookup", 12.5, 40).await?;
//! recorder
//!     .record_agent_metrics("coder-1", AgentMetrics { response_time_ms: 850.0, busy: true, ..Default::default() })
//!     .await?;
//! println!("{}", monitor.snapshot());
//! monitor.stop().await?;
//! # Ok(()) }
//! ```
//!
//! Every helper writes the series `metrics_update` reads (the original's
//! helpers wrote names nothing read, defect B4): agents, queries and ui
//! helpers fill those sections; per-agent and per-query detail is kept as
//! labels, and the section shows the mean over them. The `tracing` section
//! is the monitor's own overhead (in an embedded monitor, the whole
//! process's); `record_trace_overhead` and `record_memory_usage` write
//! labelled series beside it, by component.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

use crate::app::AppState;
use crate::config::Config;
use crate::model::{Labels, Sample, canonical_metric_name};
use crate::runtime::serve::Running;

/// Why a recording was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{0}")]
    Invalid(String),
    #[error("no mark named `{0}`; call mark() first")]
    NoSuchMark(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A monitor running inside this process: ticking, storing, alerting and
/// serving its API and `/ws` on the configured address.
pub struct Monitor {
    running: Running,
}

impl Monitor {
    /// Starts it on the current Tokio runtime (the config's `port` may be 0).
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        Ok(Self {
            running: crate::runtime::serve::start(config, None).await?,
        })
    }

    /// Where its API and `/ws` listen.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.running.addr
    }

    /// A handle for recording; cheap to clone and share.
    pub fn recorder(&self) -> Recorder {
        Recorder::new(self.running.state.clone())
    }

    /// The current `MetricsSnapshot`, as `metrics_update` carries it.
    pub fn snapshot(&self) -> Value {
        let window = self.running.state.window.read().expect("window lock");
        crate::snapshot::build(&window, crate::clock::now_ms())
    }

    /// Stops it and closes the store.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.running.stop().await
    }
}

/// What one agent reports; see [`Recorder::record_agent_metrics`].
#[derive(Debug, Clone, Default)]
pub struct AgentMetrics {
    /// Its latest response time.
    pub response_time_ms: f64,
    /// Tasks it completes per second, if known.
    pub tasks_per_second: Option<f64>,
    /// Whether it is working on a task now.
    pub busy: bool,
    /// Whether it has stopped (no longer counted as active).
    pub stopped: bool,
}

/// What the UI reports; every field is optional.
#[derive(Debug, Clone, Default)]
pub struct UiMetrics {
    pub frame_rate: Option<f64>,
    pub render_time_ms: Option<f64>,
    pub response_time_ms: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
struct AgentState {
    busy: bool,
    stopped: bool,
}

/// Records into a running monitor: samples are committed to the store and
/// enter the window (so rules and the next `metrics_update` see them)
/// before each call returns.
#[derive(Clone)]
pub struct Recorder {
    state: AppState,
    marks: Arc<Mutex<HashMap<String, Instant>>>,
    agents: Arc<Mutex<HashMap<String, AgentState>>>,
}

fn sample(metric: &str, value: f64, labels: &[(&str, &str)]) -> Result<Sample, RecordError> {
    if !value.is_finite() {
        return Err(RecordError::Invalid(format!(
            "`{metric}` is {value}; only finite values are recorded"
        )));
    }
    let mut sample = Sample::gauge(metric, value, crate::clock::now_ms());
    sample.labels = Labels::try_from_pairs(
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
    .map_err(|e| RecordError::Invalid(format!("`{metric}`: {e}")))?;
    Ok(sample)
}

impl Recorder {
    fn new(state: AppState) -> Self {
        Self {
            state,
            marks: Arc::default(),
            agents: Arc::default(),
        }
    }

    async fn record(&self, samples: Vec<Sample>) -> Result<(), RecordError> {
        self.state.record(samples).await?;
        Ok(())
    }

    /// A metric of the application's own; the original's names (like
    /// `websocket.latency`) land in their documented series.
    pub async fn record_custom_metric(
        &self,
        name: &str,
        value: f64,
        unit: &str,
    ) -> Result<(), RecordError> {
        let name = canonical_metric_name(name).map_err(|e| RecordError::Invalid(e.to_string()))?;
        let mut s = sample(&name, value, &[])?;
        if !unit.is_empty() {
            s.unit = unit.to_owned();
        }
        self.record(vec![s]).await
    }

    /// Remembers now under `name`, for [`Recorder::measure`].
    pub fn mark(&self, name: &str) {
        self.marks
            .lock()
            .expect("marks lock")
            .insert(name.to_owned(), Instant::now());
    }

    /// Milliseconds since the mark `start_mark`, recorded once as `timing.<name>`.
    pub async fn measure(&self, name: &str, start_mark: &str) -> Result<f64, RecordError> {
        let started = self
            .marks
            .lock()
            .expect("marks lock")
            .get(start_mark)
            .copied()
            .ok_or_else(|| RecordError::NoSuchMark(start_mark.to_owned()))?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let metric = canonical_metric_name(&format!("timing.{name}"))
            .map_err(|e| RecordError::Invalid(e.to_string()))?;
        let mut s = sample(&metric, ms, &[])?;
        s.unit = "ms".to_owned();
        self.record(vec![s]).await?;
        Ok(ms)
    }

    /// The application's trace pipeline took `duration_ms` for
    /// `event_count` events: `tracing.collectionOverhead` and
    /// `tracing.eventThroughput` (events/s; left out for a zero duration)
    /// with `component="app"`.
    pub async fn record_trace_overhead(
        &self,
        duration_ms: f64,
        event_count: u64,
    ) -> Result<(), RecordError> {
        let app = [("component", "app")];
        let mut samples = vec![sample("tracing.collectionOverhead", duration_ms, &app)?];
        if duration_ms > 0.0 {
            let per_second = event_count as f64 / (duration_ms / 1000.0);
            samples.push(sample("tracing.eventThroughput", per_second, &app)?);
        }
        self.record(samples).await
    }

    /// Memory of one component, in bytes: `tracing.memoryUsage{component}` in MB.
    pub async fn record_memory_usage(
        &self,
        component: &str,
        bytes: u64,
    ) -> Result<(), RecordError> {
        let mb = bytes as f64 / 1_048_576.0;
        self.record(vec![sample(
            "tracing.memoryUsage",
            mb,
            &[("component", component)],
        )?])
        .await
    }

    /// Growth of the application's trace storage: `tracing.storageGrowth{component}`, bytes/hour.
    pub async fn record_storage_growth(
        &self,
        component: &str,
        bytes_per_hour: f64,
    ) -> Result<(), RecordError> {
        let labels = [("component", component)];
        self.record(vec![sample(
            "tracing.storageGrowth",
            bytes_per_hour,
            &labels,
        )?])
        .await
    }

    /// One query of `query_type` took `duration_ms` and returned
    /// `result_count` rows: `queries.avgResponseTime{query}` and
    /// `queries.resultCount{query}`.
    pub async fn record_query_performance(
        &self,
        query_type: &str,
        duration_ms: f64,
        result_count: u64,
    ) -> Result<(), RecordError> {
        let labels = [("query", query_type)];
        let mut count = sample("queries.resultCount", result_count as f64, &labels)?;
        count.unit = "rows".to_owned();
        self.record(vec![
            sample("queries.avgResponseTime", duration_ms, &labels)?,
            count,
        ])
        .await
    }

    /// One agent's report: `agents.avgResponseTime{agent}` (and
    /// `agents.taskThroughput{agent}`), plus the counts over every agent
    /// reported so far: `agents.totalAgents`, `activeAgents`, `busyAgents`.
    pub async fn record_agent_metrics(
        &self,
        agent_id: &str,
        metrics: AgentMetrics,
    ) -> Result<(), RecordError> {
        let labels = [("agent", agent_id)];
        let mut samples = vec![sample(
            "agents.avgResponseTime",
            metrics.response_time_ms,
            &labels,
        )?];
        if let Some(rate) = metrics.tasks_per_second {
            samples.push(sample("agents.taskThroughput", rate, &labels)?);
        }
        let (total, active, busy) = {
            let mut agents = self.agents.lock().expect("agents lock");
            agents.insert(
                agent_id.to_owned(),
                AgentState {
                    busy: metrics.busy && !metrics.stopped,
                    stopped: metrics.stopped,
                },
            );
            let active = agents.values().filter(|a| !a.stopped).count();
            let busy = agents.values().filter(|a| a.busy).count();
            (agents.len(), active, busy)
        };
        samples.push(sample("agents.totalAgents", total as f64, &[])?);
        samples.push(sample("agents.activeAgents", active as f64, &[])?);
        samples.push(sample("agents.busyAgents", busy as f64, &[])?);
        self.record(samples).await
    }

    /// The UI's frame rate, render time and input response time.
    pub async fn record_ui_metrics(&self, metrics: UiMetrics) -> Result<(), RecordError> {
        let fields = [
            ("ui.frameRate", metrics.frame_rate),
            ("ui.renderTime", metrics.render_time_ms),
            ("ui.uiResponseTime", metrics.response_time_ms),
        ];
        let samples = fields
            .into_iter()
            .filter_map(|(metric, value)| value.map(|v| sample(metric, v, &[])))
            .collect::<Result<Vec<_>, _>>()?;
        self.record(samples).await
    }

    /// The dashboard WebSocket's round trip: `ui.webSocketLatency`.
    pub async fn record_websocket_latency(&self, latency_ms: f64) -> Result<(), RecordError> {
        self.record(vec![sample("ui.webSocketLatency", latency_ms, &[])?])
            .await
    }
}
