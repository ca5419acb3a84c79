//! `perfwatch serve`: open the store, load plugins and rules, bind the
//! server and start ticking; stop cleanly on Ctrl-C or SIGTERM.

use anyhow::Context;

use crate::app::AppState;
use crate::collect::SystemCollector;
use crate::config::Config;
use crate::plugins::{self, PluginRuntime};
use crate::rules::RuleSet;
use crate::store::Store;
use crate::tick::Ticker;

/// Runs the monitor until a shutdown signal arrives.
pub async fn run(config: Config) -> anyhow::Result<()> {
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
    let loaded = plugins::load_dir(&runtime, &config.plugins_dir, &config.plugins);
    for error in &loaded.errors {
        tracing::warn!("{error}");
    }
    for collector in &loaded.collectors {
        tracing::info!(plugin = collector.name(), "collector plugin loaded");
    }
    for other in &loaded.others {
        tracing::info!(plugin = %other.name, kind = other.kind.as_str(), "plugin loaded");
    }
    report_undeliverable_channels(&config);

    let rules_dir = config.rules_dir.clone();
    let addr = config.listen_addr();
    let state = AppState::new(config, store);
    let rules = RuleSet::load(&rules_dir, state.window.clone());
    for error in rules.compile_errors() {
        tracing::warn!("rule not loaded: {error}");
    }
    tracing::info!(scripts = rules.script_names().len(), dir = %rules_dir.display(), "rules loaded");

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    // One line on stdout that scripts and tests can wait for.
    println!("perfwatch listening on http://{local}");
    tracing::info!(%local, "serving the API, /ws and /healthz");

    let ticker = Ticker::new(
        state.clone(),
        system,
        loaded.collectors,
        loaded.others,
        rules,
    );
    let ticking = tokio::spawn(ticker.run());
    crate::server::serve(listener, state.clone(), shutdown_signal())
        .await
        .context("the server failed")?;
    ticking.abort();
    let _ = ticking.await;
    state
        .store
        .close()
        .await
        .context("cannot close the store cleanly")?;
    tracing::info!("stopped");
    Ok(())
}

/// Delivery arrives with the channel plugins; until then say plainly which
/// configured channels will not notify anyone.
fn report_undeliverable_channels(config: &Config) {
    if !config.alerting.enabled {
        tracing::info!(
            "alerting.enabled is false: alerts are evaluated and streamed, not delivered"
        );
        return;
    }
    let names: Vec<String> = config
        .alerting
        .channels
        .iter()
        .filter(|c| c.enabled)
        .map(|c| format!("{} ({})", c.name, c.settings.kind().as_str()))
        .collect();
    if !names.is_empty() {
        tracing::warn!(
            "alert channels cannot deliver yet in this version: {}; alerts are written to this log, \
             GET /api/v1/alerts and the /ws stream",
            names.join(", ")
        );
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
