//! The tick: collect → store → window → rules → alerts → stream, every
//! `update_interval`.
//!
//! The tick never waits on the network. It waits on the disk for the
//! store's commit and, when alert state changed, for `alert-state.json`;
//! on plugins at most for their deadlines, which run concurrently. A tick
//! whose commit fails still shows its samples (the window, rules, the
//! stream): a live monitor keeps alerting while its disk is in trouble, and
//! the failure is logged.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::alert::{
    AlertEngine, AlertEvent, BottleneckEvent, Condition, StateFile, Timing, evaluate_alert_rules,
    evaluate_thresholds,
};
use crate::analysis::{Health, HealthInputs, health};
use crate::app::{AppState, PluginView};
use crate::clock;
use crate::collect::{OverheadTracker, SystemCollector, TickCost};
use crate::model::{Alert, Labels, MetricKind, Sample, SeriesKey, Severity};
use crate::plugins::{CollectorPlugin, PluginKind, PluginStatus};
use crate::rules::RuleSet;
use crate::runtime::reload::TickUpdate;
use crate::store::{AlertRecord, RetentionCutoffs};

/// The newest minute stays in the head: samples of the current tick are
/// still arriving, and late ones are cheaper to take there.
const HEAD_KEEPS_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// Everything the tick owns.
pub struct Ticker {
    state: AppState,
    system: SystemCollector,
    collectors: Vec<CollectorPlugin>,
    rules: Arc<Mutex<RuleSet>>,
    overhead: OverheadTracker,
    last_maintenance_ms: i64,
    /// Start of the UTC day whose previous day was last merged.
    last_merged_day_ms: i64,
    /// Collectors and rule scripts changed by hot reload, applied at the
    /// start of the next tick.
    updates: mpsc::UnboundedReceiver<TickUpdate>,
    /// Where alert state is persisted.
    alert_state: StateFile,
    /// What `plugin_status` last reported, to stream only changes.
    last_plugin_health: Vec<PluginHealth>,
    /// The last tick's health score, stored with the next tick's batch: it
    /// is known only once that tick's alerts are evaluated.
    pending_health: Option<Sample>,
}

/// A plugin instance's name, channel, status and last error.
type PluginHealth = (String, Option<String>, PluginStatus, Option<String>);

impl Ticker {
    /// A ticker over `state` with its collectors and rules.
    pub fn new(
        state: AppState,
        system: SystemCollector,
        collectors: Vec<CollectorPlugin>,
        rules: Arc<Mutex<RuleSet>>,
        updates: mpsc::UnboundedReceiver<TickUpdate>,
    ) -> Self {
        state.publish_rules(&rules.lock().expect("rules lock"), None);
        // Alerts continue where the last run left them.
        let mut alert_state = StateFile::new(&state.config.data_dir);
        *state.alerts.lock().expect("alerts lock") = AlertEngine::restore(alert_state.load());
        let mut ticker = Self {
            state,
            system,
            collectors,
            rules,
            overhead: OverheadTracker::new(),
            last_maintenance_ms: i64::MIN,
            last_merged_day_ms: i64::MIN,
            last_plugin_health: Vec::new(),
            pending_health: None,
            alert_state,
            updates,
        };
        ticker.publish_plugin_status();
        ticker
    }

    /// Ticks until the task is dropped. Ticks start on multiples of the
    /// interval (so timestamps are aligned); a tick that overruns skips the
    /// missed ones rather than bunching them up.
    pub async fn run(mut self) {
        let interval_ms = self.state.config.update_interval.as_millis() as i64;
        let now = clock::now_ms();
        let first = clock::align_down(now, interval_ms) + interval_ms;
        let start = tokio::time::Instant::now() + Duration::from_millis((first - now) as u64);
        let mut ticks = tokio::time::interval_at(start, self.state.config.update_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticks.tick().await;
            self.tick(clock::align_down(clock::now_ms(), interval_ms))
                .await;
        }
    }

    /// One tick at `tick_ms`.
    pub async fn tick(&mut self, tick_ms: i64) {
        self.apply_updates();
        let started = Instant::now();
        let mut batch = self.system.collect(tick_ms);
        batch.extend(self.pending_health.take());
        let mut cost = TickCost::default();
        let outcomes =
            futures::future::join_all(self.collectors.iter_mut().map(|c| c.collect(tick_ms))).await;
        for (outcome, plugin) in outcomes.into_iter().zip(&self.collectors) {
            cost.plugin_calls += u32::from(outcome.called);
            if let Some(error) = outcome.error {
                cost.plugin_failures += 1;
                tracing::warn!(plugin = plugin.name(), "{error}");
            }
            batch.extend(outcome.samples);
        }
        cost.collection_ms = started.elapsed().as_secs_f64() * 1000.0;
        self.publish_plugin_status();
        batch.extend(plugin_samples(&self.state.plugins.all(), tick_ms));
        for channel in self.state.deliveries.stats() {
            batch.extend(channel.samples(tick_ms));
        }

        let stored_total = self.state.stored_total.load(Ordering::Relaxed);
        let rss = self.system.own_rss_bytes();
        batch.extend(self.overhead.samples(
            tick_ms,
            cost,
            stored_total,
            self.state.store.size_bytes(),
            rss,
        ));
        if let Err(e) = self.state.record(batch.clone()).await {
            // The live view still gets this tick; only history is missing.
            tracing::error!(error = %anyhow::Error::from(e), "could not store this tick's samples");
            self.state
                .window
                .write()
                .expect("window lock")
                .insert_all(&batch);
        }
        self.state
            .window
            .write()
            .expect("window lock")
            .evict(tick_ms);

        self.evaluate(tick_ms);
        let mut snapshot = {
            let window = self.state.window.read().expect("window lock");
            crate::snapshot::build(&window, tick_ms)
        };
        let health = self.health(&snapshot);
        self.pending_health = Some(Sample::gauge(
            "perfwatch.healthScore",
            health.score,
            tick_ms,
        ));
        snapshot["health"] = serde_json::to_value(&health).expect("health serialises");
        self.state.hub.publish("metrics_update", &snapshot);
        *self.state.current.write().expect("current lock") = snapshot;
        self.maintain_store(tick_ms);
    }

    /// The health score of the tick whose alerts were just evaluated.
    fn health(&self, snapshot: &serde_json::Value) -> Health {
        let firing = self.state.alerts.lock().expect("alerts lock").firing();
        let current = self
            .state
            .bottlenecks
            .lock()
            .expect("bottlenecks lock")
            .current();
        health(&HealthInputs {
            firing: &firing,
            bottlenecks: &current,
            cpu_percent: snapshot["system"]["cpuUsage"].as_f64(),
            memory_percent: snapshot["system"]["memoryUsage"].as_f64(),
            disk_percent: snapshot["system"]["diskUsage"].as_f64(),
            error_rate: snapshot["tracing"]["errorRate"].as_f64(),
        })
    }

    fn apply_updates(&mut self) {
        while let Ok(TickUpdate::Collector { name, plugin }) = self.updates.try_recv() {
            self.collectors.retain(|c| c.name() != name);
            self.state.plugins.remove(&name);
            if let Some(plugin) = plugin {
                self.collectors.push(plugin);
            }
        }
    }

    fn evaluate(&mut self, tick_ms: i64) {
        let (threshold_rules, mut conditions) = {
            let window = self.state.window.read().expect("window lock");
            evaluate_thresholds(&self.state.config.thresholds, &window)
        };
        let (rule_ids, rule_conditions) = {
            let window = self.state.window.read().expect("window lock");
            let engine = self.state.alerts.lock().expect("alerts lock");
            evaluate_alert_rules(&self.state.config.alert_rules, &window, &engine)
        };
        conditions.extend(rule_conditions);
        let (outcome, scripts) = {
            let rules = self.rules.lock().expect("rules lock");
            let scripts: Vec<String> = rules
                .script_names()
                .into_iter()
                .map(str::to_owned)
                .collect();
            (rules.evaluate(tick_ms), scripts)
        };
        let mut evaluated: HashSet<String> = outcome.evaluated;
        evaluated.extend(threshold_rules);
        evaluated.extend(rule_ids);
        // A script that fails at run time raises a meta-alert (and keeps
        // its own alerts as they were); the meta-alert resolves once the
        // script runs again.
        for script in &scripts {
            evaluated.insert(meta_rule(script));
        }
        for failure in &outcome.failures {
            tracing::warn!(rule = %failure.file.display(), "rule failed: {failure}");
            let script = failure
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            conditions.push(Condition {
                rule: meta_rule(&script),
                series: SeriesKey {
                    metric: String::new(),
                    labels: Labels::new(),
                },
                severity: Severity::Warning,
                value: f64::NAN,
                threshold: f64::NAN,
                message: format!("rule script `{script}` failed: {failure}"),
                component: "rules".to_owned(),
                description: None,
                runbook_url: None,
                timing: Timing::default(),
            });
        }
        let changed =
            self.state.rules.read().expect("rules lock").runtime_errors != outcome.failures;
        if changed {
            let rules = self.rules.lock().expect("rules lock");
            self.state.publish_rules(&rules, Some(outcome.failures));
        }
        conditions.extend(outcome.conditions);
        let bottleneck_events = self
            .state
            .bottlenecks
            .lock()
            .expect("bottlenecks lock")
            .apply(tick_ms, &evaluated, outcome.bottlenecks);
        for event in bottleneck_events {
            match event {
                BottleneckEvent::Detected(b) => {
                    tracing::warn!(bottleneck = %b.id, impact = b.impact, "bottleneck: {}", b.description);
                    self.state.hub.publish("bottleneck_detected", &b);
                }
                BottleneckEvent::Resolved(b) => {
                    tracing::info!(bottleneck = %b.id, "bottleneck cleared: {}", b.description);
                    self.state.hub.publish("bottleneck_resolved", &b);
                }
            }
        }

        let (events, saved) = {
            let mut engine = self.state.alerts.lock().expect("alerts lock");
            (
                engine.apply(tick_ms, &evaluated, conditions),
                engine.state(),
            )
        };
        self.alert_state.save(&saved);
        let mut history = Vec::with_capacity(events.len());
        for event in events {
            let (kind, alert) = match event {
                AlertEvent::Pending(alert) => ("pending", alert),
                AlertEvent::Triggered(alert) => {
                    tracing::warn!(alert = %alert.id, severity = alert.severity.as_str(), "alert: {}", alert.message);
                    self.state.hub.publish("alert_triggered", &alert);
                    self.deliver(&alert, tick_ms);
                    ("triggered", alert)
                }
                AlertEvent::Repeated(alert) => {
                    tracing::info!(alert = %alert.id, "still firing: {}", alert.message);
                    self.deliver(&alert, tick_ms);
                    ("repeated", alert)
                }
                AlertEvent::Flapping(alert) => {
                    tracing::warn!(alert = %alert.id, "{}", alert.message);
                    self.state.hub.publish("alert_triggered", &alert);
                    self.deliver(&alert, tick_ms);
                    ("flapping", alert)
                }
                AlertEvent::Resolved(alert) => {
                    tracing::info!(alert = %alert.id, "resolved: {}", alert.message);
                    self.state.hub.publish("alert_resolved", &alert);
                    self.deliver(&alert, tick_ms);
                    ("resolved", alert)
                }
            };
            history.push(AlertRecord {
                at: tick_ms,
                event: kind,
                alert,
            });
        }
        if !history.is_empty() {
            // History is for later questions, not for this tick: it is
            // written in the background.
            let store = self.state.store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.record_alert_events(history).await {
                    tracing::error!(error = %anyhow::Error::from(e), "cannot store alert history");
                }
            });
        }
    }

    /// Hands a notification to the channels unless a silence covers it or
    /// a critical alert on the same series inhibits it (a warning while the
    /// critical of the same series fires is noise). Either way it stays
    /// visible in the API and on the stream.
    fn deliver(&self, alert: &Alert, now: i64) {
        if let Some(silence) = self
            .state
            .silences
            .lock()
            .expect("silences lock")
            .silencing(alert, now)
        {
            self.state.deliveries.record_skipped(
                alert,
                format!("silenced by {} ({})", silence.id, silence.comment),
            );
            return;
        }
        let critical = self
            .state
            .alerts
            .lock()
            .expect("alerts lock")
            .inhibitor(alert);
        if let Some(rule) = critical {
            self.state
                .deliveries
                .record_skipped(alert, format!("inhibited by the critical alert of {rule}"));
            return;
        }
        self.state.deliveries.enqueue(alert);
    }

    /// Updates the collectors' views and, when any plugin's status or
    /// error changed since the last tick, streams `plugin_status`.
    fn publish_plugin_status(&mut self) {
        for c in &self.collectors {
            self.state.plugins.update(PluginView {
                name: c.name().to_owned(),
                kind: PluginKind::Collector,
                channel: None,
                stats: c.stats(),
            });
        }
        let health: Vec<_> = self
            .state
            .plugins
            .all()
            .into_iter()
            .map(|v| (v.name, v.channel, v.stats.status, v.stats.last_error))
            .collect();
        if health != self.last_plugin_health {
            self.state
                .hub
                .publish("plugin_status", &self.state.plugins.all());
            self.last_plugin_health = health;
        }
    }

    fn maintain_store(&mut self, tick_ms: i64) {
        let every = self.state.config.compaction_interval.as_millis() as i64;
        if tick_ms.saturating_sub(self.last_maintenance_ms) < every {
            return;
        }
        self.last_maintenance_ms = tick_ms;
        let cutoff = (tick_ms - HEAD_KEEPS_MS).div_euclid(60_000) * 60_000;
        let config = &self.state.config;
        let days = |d: u32| i64::from(d) * 86_400_000;
        let retention = RetentionCutoffs {
            raw: tick_ms - days(config.retention_days),
            minute: tick_ms - days(config.rollup_1m_retention_days),
            hour: tick_ms - days(config.rollup_1h_retention_days),
            deliveries: tick_ms - days(config.retention_days),
        };
        // Once a day, when the previous UTC day is fully compacted, it is
        // archived into coded chunks (see store/archive.rs).
        let today = cutoff.div_euclid(DAY_MS) * DAY_MS;
        let merge_day = (today > self.last_merged_day_ms).then(|| {
            self.last_merged_day_ms = today;
            today - DAY_MS
        });
        let store = self.state.store.clone();
        tokio::spawn(async move {
            match store.compact(cutoff).await {
                Ok(done) => tracing::debug!(moved = done.moved, "store: head compacted"),
                Err(e) => {
                    tracing::error!(error = %anyhow::Error::from(e), "store compaction failed")
                }
            }
            if let Some(day) = merge_day {
                match store.merge(day, day + DAY_MS).await {
                    Ok(n) => tracing::info!(samples = n, "store: yesterday archived into chunks"),
                    Err(e) => {
                        tracing::error!(error = %anyhow::Error::from(e), "store day merge failed")
                    }
                }
            }
            match store.apply_retention(retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    deleted = n,
                    "retention: deleted raw samples past retention_days"
                ),
                Err(e) => {
                    tracing::error!(error = %anyhow::Error::from(e), "retention sweep failed")
                }
            }
            // Maintenance read and rewrote blocks that nothing needs now;
            // give them back, to DuckDB's pool and then to the system.
            if let Err(e) = store.release_cache().await {
                tracing::warn!(error = %anyhow::Error::from(e), "store: block cache not released");
            }
            crate::memory::release_free_memory();
        });
    }
}

/// Per-plugin self-metrics: calls, failures and time spent as counters,
/// status as a gauge (0 healthy, 1 degraded, 2 failed), labelled by plugin
/// (and channel, for channel instances).
fn plugin_samples(views: &[PluginView], tick_ms: i64) -> Vec<Sample> {
    let mut out = Vec::with_capacity(views.len() * 4);
    for view in views {
        let mut pairs = vec![("plugin".to_owned(), view.name.clone())];
        if let Some(channel) = &view.channel {
            pairs.push(("channel".to_owned(), channel.clone()));
        }
        let Ok(labels) = Labels::try_from_pairs(pairs) else {
            continue;
        };
        let status = match view.stats.status {
            PluginStatus::Healthy => 0.0,
            PluginStatus::Degraded => 1.0,
            PluginStatus::Failed => 2.0,
        };
        for (metric, value, unit, kind) in [
            (
                "plugins.calls",
                view.stats.calls as f64,
                "calls",
                MetricKind::Counter,
            ),
            (
                "plugins.failures",
                view.stats.failures as f64,
                "calls",
                MetricKind::Counter,
            ),
            (
                "plugins.callTime",
                (view.stats.call_time_ms * 1000.0).round() / 1000.0,
                "ms",
                MetricKind::Counter,
            ),
            ("plugins.status", status, "", MetricKind::Gauge),
        ] {
            out.push(Sample {
                metric: metric.to_owned(),
                value,
                unit: unit.to_owned(),
                kind,
                labels: labels.clone(),
                timestamp_ms: tick_ms,
            });
        }
    }
    out
}

/// The rule id of the meta-alert a failing script raises.
fn meta_rule(script: &str) -> String {
    format!("meta:{script}")
}
