//! `perfwatch serve`: open the store, load plugins and rules, bind the
//! server and start ticking; stop cleanly on Ctrl-C or SIGTERM.

use anyhow::Context;
use futures::future::BoxFuture;

use crate::alert::{AlertSink, ChannelSink, DeliveryLog, DeliveryQueue, Grouping, firing_source};
use crate::app::{AppState, PluginView, PluginViews};
use crate::collect::SystemCollector;
use crate::config::{Channel, Config};
use crate::model::{DeliveryError, Notification};
use crate::plugins::{ChannelPlugin, Loader, PluginKind, PluginRuntime};
use crate::rules::RuleSet;
use crate::runtime::records::RecordWriter;
use crate::runtime::tick::Ticker;
use crate::store::Store;

/// Runs the monitor until a shutdown signal arrives.
/// `config_path` is watched for `[[plugins]]` changes.
pub async fn run(config: Config, config_path: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let mut running = start(config, config_path).await?;
    crate::memory::release_startup_pages();
    // One line on stdout that scripts and tests can wait for.
    let scheme = if running.state.config.server.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    println!("perfwatch listening on {scheme}://{}", running.addr);
    tokio::select! {
        () = shutdown_signal() => {}
        result = &mut running.server => {
            result.context("the server task panicked")?.context("the server failed")?;
        }
    }
    running.stop().await
}

/// A monitor that is collecting, storing, alerting and serving; see [`start`].
pub struct Running {
    /// What the tick, the API and the WebSocket share.
    pub state: AppState,
    /// Where the API and `/ws` listen.
    pub addr: std::net::SocketAddr,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    ticking: tokio::task::JoinHandle<()>,
    records: RecordWriter,
}

impl Running {
    /// Stops serving and ticking and closes the store (checkpointing it).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(());
        if !self.server.is_finished() {
            // Open WebSocket connections would hold a graceful shutdown forever.
            let graceful =
                tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.server);
            if graceful.await.is_err() {
                self.server.abort();
            }
        }
        self.ticking.abort();
        let _ = self.ticking.await;
        // Attempts recorded until now are stored before the store closes.
        self.records.finish().await;
        self.state
            .store
            .close()
            .await
            .context("cannot close the store cleanly")?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Opens the store, loads plugins and rules, binds the listener and starts
/// ticking and serving in background tasks of the current runtime.
pub async fn start(
    config: Config,
    config_path: Option<std::path::PathBuf>,
) -> anyhow::Result<Running> {
    let store = Store::open(&config.data_dir).with_context(|| {
        format!(
            "cannot open the store in data_dir {}",
            config.data_dir.display()
        )
    })?;
    let system =
        SystemCollector::new(&config.data_dir).context("cannot read system information")?;

    let runtime = PluginRuntime::new()
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .context("cannot start the plugin engine")?;
    runtime.spawn_epoch_ticker();
    let loader = Loader::new(&runtime, &config);
    let loaded = loader.load_all(&config).await;
    if !loaded.unserved_channels.is_empty() {
        anyhow::bail!("cannot start: {}", loaded.unserved_channels.join("; "));
    }
    for error in &loaded.errors {
        tracing::warn!("{error}");
    }
    for idle in &loaded.idle {
        tracing::info!("{idle}");
    }
    for collector in &loaded.collectors {
        tracing::info!(plugin = collector.name(), "collector plugin loaded");
    }
    for exporter in &loaded.exporters {
        tracing::info!(plugin = exporter.name(), "exporter plugin loaded");
    }
    if !config.alerting.enabled {
        tracing::info!(
            "alerting.enabled is false: alerts are evaluated and streamed, not delivered"
        );
    }

    raise_open_files_limit();
    let rules_dir = config.rules_dir.clone();
    let tls = crate::server::tls_acceptor(&config.server).context("cannot serve TLS")?;
    let addr = config.listen_addr();
    // Bound before the delivery queue starts: with `port = 0`, only the
    // listener knows the port that notifications link back to.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let external_url = config.external_url_for(local);
    let mut state = AppState::new(config, store);
    state.channel_renderer = Some(loader.clone());
    for (plugin, keys) in loaded.secret_keys {
        state.plugins.set_secret_keys(&plugin, keys);
    }
    let channels: Vec<ChannelSink> = loaded
        .channels
        .into_iter()
        .map(|(channel, plugin)| {
            tracing::info!(channel = %channel.name, plugin = plugin.plugin(), "channel ready");
            channel_sink(&channel, plugin, &state.plugins)
        })
        .collect();
    let grouping = Grouping {
        by: state.config.alerting.group_by.clone(),
        wait: std::time::Duration::from_millis(state.config.alerting.group_wait),
        interval: std::time::Duration::from_millis(state.config.alerting.group_interval),
    };
    let (log, records) = DeliveryLog::channel();
    let records = RecordWriter::spawn(state.store.clone(), records);
    state.deliveries = DeliveryQueue::start(channels, log, &external_url)
        .with_grouping(grouping)
        .with_resends(firing_source(state.alerts.clone(), state.silences.clone()));
    for exporter in &loaded.exporters {
        state.plugins.update(PluginView {
            name: exporter.name().to_owned(),
            kind: PluginKind::Exporter,
            channel: None,
            stats: exporter.stats(),
        });
    }
    *state.exporters.lock().await = loaded.exporters;

    // Rules and the dashboard read the window: prime it with what the
    // store holds of its span, so a restart does not look like every
    // metric going silent (which would resolve every firing alert).
    let since = crate::clock::now_ms() - crate::window::WINDOW_SPAN_MS;
    match state.store.since(since).await {
        Ok(recent) => state
            .window
            .write()
            .expect("window lock")
            .insert_all(&recent),
        Err(e) => tracing::warn!("cannot prime the window from the store: {e}"),
    }
    let rules = RuleSet::load(&rules_dir, state.window.clone());
    for error in rules.compile_errors() {
        tracing::warn!("rule not loaded: {error}");
    }
    tracing::info!(scripts = rules.script_names().len(), dir = %rules_dir.display(), "rules loaded");

    let (updates, updated) = tokio::sync::mpsc::unbounded_channel();
    let rules = std::sync::Arc::new(std::sync::Mutex::new(rules));
    let ticker = Ticker::new(
        state.clone(),
        system,
        loaded.collectors,
        rules.clone(),
        updated,
    );
    crate::runtime::reload::spawn(
        loader,
        rules,
        (*state.config).clone(),
        config_path,
        state.clone(),
        updates,
    );
    tracing::info!(%local, %external_url, "serving the API, /ws and /healthz");

    let ticking = tokio::spawn(ticker.run());
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::server::serve(listener, state.clone(), tls, async {
        let _ = stopped.await;
    }));
    Ok(Running {
        state,
        addr: local,
        shutdown,
        server,
        ticking,
        records,
    })
}

/// The delivery queue's view of `channel`, served by `plugin`, which is
/// listed in `views` from now on.
pub(crate) fn channel_sink(
    channel: &Channel,
    plugin: ChannelPlugin,
    views: &PluginViews,
) -> ChannelSink {
    views.update(PluginView {
        name: plugin.plugin().to_owned(),
        kind: PluginKind::Channel,
        channel: Some(channel.name.clone()),
        stats: plugin.stats(),
    });
    let config = channel.plugin_config();
    // The channel's plugin checks the key too (validate-config), so a bad
    // value has already been refused by a plugin that takes it.
    let resend = crate::alert::resend_interval(&channel.kind, &config).unwrap_or_else(|e| {
        tracing::warn!(channel = %channel.name, "{e}; its firing alerts are not re-sent");
        None
    });
    ChannelSink {
        name: channel.name.clone(),
        filters: channel.filters.clone(),
        sink: Box::new(ReportingChannel {
            plugin,
            channel: channel.name.clone(),
            views: views.clone(),
        }),
        resend,
    }
}

/// A channel plugin as the delivery queue sees it, publishing the plugin's
/// health after every attempt.
struct ReportingChannel {
    plugin: ChannelPlugin,
    channel: String,
    views: PluginViews,
}

impl AlertSink for ReportingChannel {
    fn deliver<'a>(
        &'a mut self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            let result = self.plugin.deliver(notification).await;
            self.views.update(PluginView {
                name: self.plugin.plugin().to_owned(),
                kind: PluginKind::Channel,
                channel: Some(self.channel.clone()),
                stats: self.plugin.stats(),
            });
            result
        })
    }
}

/// Raises the soft limit on open files to the hard one: each stream client
/// holds a socket, and a common soft limit (1,024) is about the default
/// `max_ws_clients` plus the store's and plugins' own files.
fn raise_open_files_limit() {
    #[cfg(unix)]
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct given.
    #[cfg(unix)]
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            let soft = limit.rlim_cur;
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                tracing::debug!(
                    from = soft,
                    to = limit.rlim_max,
                    "raised the open files limit"
                );
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
