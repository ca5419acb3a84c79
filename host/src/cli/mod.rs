//! The commands that talk to a running host or inspect plugins: `perfwatch
//! query`, `perfwatch plugins …` (live status from a running host, or what
//! is on disk when none runs), the plugin half of `perfwatch config check`,
//! `perfwatch channels …` (`channels.rs`) and `perfwatch export` (`export.rs`).

mod channels;
mod export;

pub use channels::{channels_list, channels_test};
pub use export::{ExportRequest, export};

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::config::Config;

/// Where a CLI command finds the running host of `config`.
fn host_of(config: &Config) -> String {
    let host = if config.bind.is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        config.bind.to_string()
    };
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    }
}

/// The config's admin token, if any: the CLI acts for the host's owner.
fn admin_token(config: &Config) -> Option<&str> {
    let server = &config.server;
    server
        .auth_token
        .iter()
        .chain(&server.admin_tokens)
        .next()
        .map(|t| t.expose())
}

/// `perfwatch query`: GETs an API path of the running host and returns the
/// answer pretty-printed; an error answer becomes the command's error.
pub async fn api_get(
    config: &Config,
    path: &str,
    params: &[(&str, String)],
) -> anyhow::Result<String> {
    let body = api_call(config, reqwest::Method::GET, path, params, None).await?;
    Ok(serde_json::to_string_pretty(&body)?)
}

/// Calls the running host's API; its JSON answer, or its `error` in words.
async fn api_call(
    config: &Config,
    method: reqwest::Method,
    path: &str,
    params: &[(&str, String)],
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let url = format!("http://{}:{}{path}", host_of(config), config.port);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut request = client.request(method, &url).query(params);
    if let Some(token) = admin_token(config) {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    let answer = request
        .send()
        .await
        .with_context(|| format!("no perfwatch answers at {url}; is `perfwatch serve` running?"))?;
    let status = answer.status();
    let text = answer.text().await.context("reading the answer")?;
    let body: Value =
        serde_json::from_str(&text).with_context(|| format!("{url} did not answer with JSON"))?;
    if !status.is_success() {
        anyhow::bail!("{status}: {}", body["error"].as_str().unwrap_or(&text));
    }
    Ok(body)
}

/// `perfwatch plugins list`: the running host's plugin instances with
/// their status and counters; without a running host, the components in
/// `plugins_dir` and whether they load.
pub async fn plugins_list(config: &Config) -> anyhow::Result<String> {
    let host = host_of(config);
    let url = format!("http://{host}:{}/api/v1/plugins", config.port);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()?;
    let mut out = String::new();
    let mut request = client.get(&url);
    if let Some(token) = admin_token(config) {
        request = request.bearer_auth(token);
    }
    match request.send().await {
        Ok(answer) => {
            let text = answer
                .text()
                .await
                .with_context(|| format!("reading the answer of {url}"))?;
            let body: Value = serde_json::from_str(&text)
                .with_context(|| format!("{url} did not answer with JSON"))?;
            writeln!(
                out,
                "plugins of the perfwatch running at {host}:{}",
                config.port
            )?;
            writeln!(
                out,
                "{:<22} {:<10} {:<9} {:>8} {:>8} {:>10}  last error",
                "name", "kind", "status", "calls", "failures", "avg ms"
            )?;
            for p in body["plugins"].as_array().into_iter().flatten() {
                let stats = &p["stats"];
                let calls = stats["calls"].as_u64().unwrap_or(0);
                let avg = if calls == 0 {
                    0.0
                } else {
                    stats["call_time_ms"].as_f64().unwrap_or(0.0) / calls as f64
                };
                let name = match p["channel"].as_str() {
                    Some(channel) => format!("{}@{channel}", p["name"].as_str().unwrap_or("?")),
                    None => p["name"].as_str().unwrap_or("?").to_owned(),
                };
                writeln!(
                    out,
                    "{name:<22} {:<10} {:<9} {calls:>8} {:>8} {avg:>10.3}  {}",
                    p["kind"].as_str().unwrap_or("?"),
                    stats["status"].as_str().unwrap_or("?"),
                    stats["failures"].as_u64().unwrap_or(0),
                    stats["last_error"].as_str().unwrap_or("")
                )?;
            }
        }
        Err(_) => {
            writeln!(
                out,
                "no perfwatch answers at {host}:{}; components in {}:",
                config.port,
                config.plugins_dir.display()
            )?;
            for path in crate::dir::files_with_extension(&config.plugins_dir, "wasm") {
                match crate::plugins::inspect(&path, config).await {
                    Ok(i) => writeln!(
                        out,
                        "  {:<20} {:<10} perfwatch:plugin@{}",
                        i.name,
                        i.kind.as_str(),
                        i.wit_version
                    )?,
                    Err(e) => writeln!(out, "  {}: {e}", path.display())?,
                }
            }
        }
    }
    Ok(out)
}

/// The plugin half of `perfwatch config check`: every component in
/// `plugins_dir` loaded as the host would load it, so that a plugin that
/// refuses its config, or a channel no plugin serves, fails the check
/// rather than the start-up. `Err` lists every problem.
pub async fn config_check_plugins(config: &Config) -> anyhow::Result<String> {
    if !config.plugins_dir.is_dir() {
        return Ok(format!(
            "plugins not checked: plugins_dir {} does not exist here",
            config.plugins_dir.display()
        ));
    }
    let runtime = crate::plugins::PluginRuntime::new()
        .map_err(|e| anyhow::anyhow!("cannot start the plugin runtime: {e:#}"))?;
    runtime.spawn_epoch_ticker();
    // The host's compile cache when its data_dir exists; a check does not
    // create one.
    let scratch = tempfile::tempdir().context("a temporary directory")?;
    let mut checked = config.clone();
    if !config.data_dir.is_dir() {
        checked.data_dir = scratch.path().to_owned();
    }
    let loaded = crate::plugins::Loader::new(&runtime, &checked)
        .load_all(&checked)
        .await;
    if !loaded.errors.is_empty() {
        anyhow::bail!(
            "{} plugin problem(s):\n  {}",
            loaded.errors.len(),
            loaded.errors.join("\n  ")
        );
    }
    Ok(format!(
        "plugins: {} collectors, {} channels and {} exporters accept their config",
        loaded.collectors.len(),
        loaded.channels.len(),
        loaded.exporters.len()
    ))
}

/// `perfwatch plugins check FILE.wasm`: world, WIT version, imports, what
/// the config grants it, what it says of its config, and the outcome of one
/// call.
pub async fn plugins_check(path: &Path, config: &Config) -> anyhow::Result<String> {
    let i = crate::plugins::inspect(path, config).await?;
    let mut out = String::new();
    writeln!(out, "plugin:      {} ({})", i.name, path.display())?;
    writeln!(
        out,
        "world:       {} (perfwatch:plugin@{})",
        i.kind.as_str(),
        i.wit_version
    )?;
    writeln!(out, "imports:")?;
    for import in &i.imports {
        writeln!(out, "  {import}")?;
    }
    let source = if i.configured {
        "its [[plugins]] entry"
    } else {
        "no [[plugins]] entry: nothing is granted"
    };
    writeln!(out, "grants ({source}):")?;
    for grant in &i.grants {
        writeln!(out, "  {grant}")?;
    }
    writeln!(out, "config:      {}", i.config_check)?;
    writeln!(out, "smoke call:  {}", i.smoke_call)?;
    Ok(out)
}

/// `perfwatch rules check [DIR]`: compiles every script; errors name file,
/// line and column. `Err` when any script does not compile.
pub fn rules_check(dir: &Path) -> anyhow::Result<String> {
    let window = std::sync::Arc::new(std::sync::RwLock::new(crate::window::SampleWindow::new()));
    let rules = crate::rules::RuleSet::load(dir, window);
    let mut out = String::new();
    for name in rules.script_names() {
        writeln!(out, "ok      {name}")?;
    }
    for error in rules.compile_errors() {
        writeln!(out, "error   {error}")?;
    }
    if rules.compile_errors().is_empty() {
        writeln!(
            out,
            "{} scripts compile in {}",
            rules.script_names().len(),
            dir.display()
        )?;
        Ok(out)
    } else {
        anyhow::bail!(
            "{out}{} of the scripts in {} do not compile",
            rules.compile_errors().len(),
            dir.display()
        )
    }
}

/// `perfwatch rules test [DIR]`: runs every `<rule>.test.toml`. `Err`
/// when a case fails or a script has no test table.
pub fn rules_test(dir: &Path) -> anyhow::Result<String> {
    let (tables, untested) = crate::rules::testing::discover(dir);
    let mut out = String::new();
    let mut failed = 0;
    let mut passed = 0;
    for (script, table) in &tables {
        for result in crate::rules::testing::run_table(script, table) {
            let name = script
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if result.passed() {
                passed += 1;
                writeln!(out, "pass    {name}: {}", result.case)?;
            } else {
                failed += 1;
                writeln!(out, "FAIL    {name}: {}", result.case)?;
                for failure in &result.failures {
                    writeln!(out, "          {failure}")?;
                }
            }
        }
    }
    for script in &untested {
        writeln!(
            out,
            "untested {} (add {})",
            script.display(),
            script.with_extension("test.toml").display()
        )?;
    }
    if failed == 0 && untested.is_empty() {
        writeln!(out, "{passed} cases passed")?;
        Ok(out)
    } else {
        anyhow::bail!(
            "{out}{failed} of {} cases failed; {} scripts have no test table",
            passed + failed,
            untested.len()
        )
    }
}
