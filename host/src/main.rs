//! The `perfwatch` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use perfwatch::config::{Config, DEFAULT_CONFIG_TOML};

#[derive(Parser)]
#[command(
    name = "perfwatch",
    version,
    about = "Performance monitoring for agent systems"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the monitor: collect, store, alert and serve the API and /ws.
    Serve {
        /// Config file (TOML); the built-in defaults when left out.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Print or check configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Check or test rule scripts.
    Rules {
        #[command(subcommand)]
        action: RulesAction,
        /// Config file (TOML), for its rules_dir; the built-in defaults when left out.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
    },
    /// Query the running host's store: raw points, latest values (--at),
    /// one point per step (--step, --agg), or the series list (--series).
    Query {
        /// Metric name; leave out with --series to list every series.
        metric: Option<String>,
        /// Label selector, `host=a,cpu=0`.
        #[arg(long)]
        labels: Option<String>,
        /// Start, epoch ms.
        #[arg(long)]
        start: Option<i64>,
        /// End, epoch ms.
        #[arg(long)]
        end: Option<i64>,
        /// Step (ms or `60s`, `5m`, `1h`): answers one point per step.
        #[arg(long)]
        step: Option<String>,
        /// avg, min, max, sum, last or p95 (with --step).
        #[arg(long)]
        agg: Option<String>,
        /// Each series' latest value at this time, epoch ms.
        #[arg(long)]
        at: Option<i64>,
        /// List the stored series (of the metric, if given).
        #[arg(long)]
        series: bool,
        /// Config file (TOML), for the host's address; the built-in defaults when left out.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Export a range from the running host through an exporter plugin
    /// (json, csv, prometheus-text, summary, grafana, datadog, newrelic)
    /// into its export_path; an unknown format lists the loaded ones.
    Export {
        /// The exporter plugin.
        #[arg(long, default_value = "json")]
        format: String,
        /// Start, epoch ms (default: 24 hours back).
        #[arg(long)]
        start: Option<i64>,
        /// End, epoch ms (default: now).
        #[arg(long)]
        end: Option<i64>,
        /// The format's layout: wide (csv), openmetrics (prometheus-text), markdown (summary).
        #[arg(long)]
        layout: Option<String>,
        /// Only this metric's series.
        #[arg(long)]
        metric: Option<String>,
        /// Only series with these labels, `host=a,cpu=0`.
        #[arg(long)]
        labels: Option<String>,
        /// Also copy the file here; `-` writes it to standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Config file (TOML), for the host's address; the built-in defaults when left out.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// The running host's alert channels: list them, or send a test
    /// notification through one.
    Channels {
        #[command(subcommand)]
        action: ChannelsAction,
        /// Config file (TOML), for the host's address; the built-in defaults when left out.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
    },
    /// List or check plugins.
    Plugins {
        #[command(subcommand)]
        action: PluginsAction,
        /// Config file (TOML); the built-in defaults when left out.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RulesAction {
    /// Compile every script; errors name file, line and column.
    Check {
        /// Rules directory; the config's rules_dir when left out.
        dir: Option<PathBuf>,
    },
    /// Run every script's test table (`<rule>.test.toml`).
    Test {
        /// Rules directory; the config's rules_dir when left out.
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ChannelsAction {
    /// Each channel with its plugin, filters and delivery counters.
    List,
    /// Send a realistic sample alert through channel NAME, once, past its
    /// filters and grouping, and say whether its receiver took it.
    Test {
        /// The channel's name (`GET /api/v1/channels`).
        name: String,
        /// `critical` or `warning`.
        #[arg(long, default_value = "critical")]
        severity: String,
        /// Send the alert's resolution instead of its firing.
        #[arg(long)]
        resolved: bool,
        /// Print what the channel would send (secrets of its address and
        /// headers redacted) instead of sending it.
        #[arg(long)]
        render: bool,
    },
}

#[derive(Subcommand)]
enum PluginsAction {
    /// The running host's plugins with status and counters (or, when none
    /// runs, the components in plugins_dir).
    List,
    /// A component's world, WIT version, imports, grants and one smoke call.
    Check {
        /// The component to check.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print the complete default configuration, with comments.
    Default,
    /// Validate a config file, and every plugin's config by the plugin
    /// itself; exits non-zero and names the key on error.
    Check {
        /// The file to check.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Config {
            action: ConfigAction::Default,
        } => {
            print!("{DEFAULT_CONFIG_TOML}");
            Ok(())
        }
        Command::Config {
            action: ConfigAction::Check { file },
        } => {
            let config = Config::load(&file)?;
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            let plugins = runtime.block_on(perfwatch::cli::config_check_plugins(&config))?;
            println!(
                "{}: ok ({} thresholds, {} channels, {} plugin entries); {plugins}",
                file.display(),
                config.thresholds.len(),
                config.alerting.channels.len(),
                config.plugins.len()
            );
            Ok(())
        }
        Command::Rules { action, config } => {
            let config = load_config(config)?;
            let text = match action {
                RulesAction::Check { dir } => {
                    perfwatch::cli::rules_check(&dir.unwrap_or(config.rules_dir))?
                }
                RulesAction::Test { dir } => {
                    perfwatch::cli::rules_test(&dir.unwrap_or(config.rules_dir))?
                }
            };
            print!("{text}");
            Ok(())
        }
        Command::Plugins { action, config } => {
            let config = load_config(config)?;
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            let text = runtime.block_on(async {
                match action {
                    PluginsAction::List => perfwatch::cli::plugins_list(&config).await,
                    PluginsAction::Check { file } => {
                        perfwatch::cli::plugins_check(&file, &config).await
                    }
                }
            })?;
            print!("{text}");
            Ok(())
        }
        Command::Channels { action, config } => {
            let config = load_config(config)?;
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            let text = runtime.block_on(async {
                match action {
                    ChannelsAction::List => perfwatch::cli::channels_list(&config).await,
                    ChannelsAction::Test {
                        name,
                        severity,
                        resolved,
                        render,
                    } => {
                        perfwatch::cli::channels_test(&config, &name, &severity, resolved, render)
                            .await
                    }
                }
            })?;
            print!("{text}");
            Ok(())
        }
        Command::Query {
            metric,
            labels,
            start,
            end,
            step,
            agg,
            at,
            series,
            config,
        } => {
            let config = load_config(config)?;
            let path = match (series, &step, at) {
                (true, _, _) => "/api/v1/series",
                (false, Some(_), _) => "/api/v1/query_range",
                _ => "/api/v1/query",
            };
            let params: Vec<(&str, String)> = [
                ("metric", metric),
                ("labels", labels),
                ("start", start.map(|v| v.to_string())),
                ("end", end.map(|v| v.to_string())),
                ("step", step),
                ("agg", agg),
                ("at", at.map(|v| v.to_string())),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            let text = runtime.block_on(perfwatch::cli::api_get(&config, path, &params))?;
            println!("{text}");
            Ok(())
        }
        Command::Export {
            format,
            start,
            end,
            layout,
            metric,
            labels,
            out,
            config,
        } => {
            let config = load_config(config)?;
            let request = perfwatch::cli::ExportRequest {
                format,
                start,
                end,
                layout,
                metric,
                labels,
            };
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            let answer =
                runtime.block_on(perfwatch::cli::export(&config, &request, out.as_deref()))?;
            // The document itself may be on standard output.
            eprintln!(
                "{} records, {} bytes in {}",
                answer["recordCount"],
                answer["fileSize"],
                answer["filePath"].as_str().unwrap_or("?")
            );
            Ok(())
        }
        Command::Serve { config } => {
            perfwatch::memory::limit_arenas();
            init_logging();
            let path = config.clone();
            let config = load_config(config)?;
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(perfwatch::runtime::serve::run(config, path))
        }
    }
}

fn load_config(path: Option<PathBuf>) -> anyhow::Result<Config> {
    Ok(match path {
        Some(path) => Config::load(&path)?,
        None => Config::defaults_with_env()?,
    })
}

/// Logs to stderr; `RUST_LOG` overrides the default `info` level.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
