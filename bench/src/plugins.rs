//! Plugin platform: the cost of one `collect()` call returning 100 samples,
//! loading a compiled component from the cache, instantiating it, the
//! host's start-up with every shipped plugin, cold and warm, and compiling
//! and loading a Python collector beside a Rust one.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use perfwatch::config::Config;
use perfwatch::model::{Labels, Sample, canonical_metric_name};
use perfwatch::plugins::{Loader, PluginRuntime};

use crate::component_cost;
use crate::stats::{Timing, human, time_async};

const SAMPLES_PER_CALL: usize = 100;

fn repo_root() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .parent()
    .expect("bench/ is in the workspace")
    .to_owned()
}

fn target_profile_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe
        .parent()
        .context("the bench binary has a directory")?
        .to_owned())
}

pub fn fixture(name: &str) -> anyhow::Result<PathBuf> {
    let path = target_profile_dir()?
        .join("../wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    if !path.is_file() {
        bail!(
            "{} is missing: run `cargo xtask bench`, which builds the plugins",
            path.display()
        );
    }
    Ok(path)
}

fn config_for(dir: &Path, plugins_dir: &Path, extra: &str) -> anyhow::Result<Config> {
    let text = format!(
        "port = 0\ndata_dir = \"{}\"\nplugins_dir = \"{}\"\nrules_dir = \"{}\"\n{extra}",
        dir.join("data").display(),
        plugins_dir.display(),
        dir.join("rules").display()
    );
    Ok(Config::from_toml_str(&text, "bench")?)
}

/// The median cost of `collect()` on a live instance of plugin `name`,
/// which must return [`SAMPLES_PER_CALL`] samples.
async fn time_collect(loader: &Loader, config: &Config, name: &str) -> anyhow::Result<Timing> {
    let compiled = loader.compile(config, name)?.context("enabled")?;
    let mut plugin = loader
        .instances(&compiled, config)
        .await
        .collector
        .with_context(|| format!("{name} is a collector"))?;
    Ok(time_async(100, 5000, async || {
        let outcome = plugin.collect(0).await;
        assert_eq!(
            outcome.samples.len(),
            SAMPLES_PER_CALL,
            "{name}: {:?}",
            outcome.error
        );
    })
    .await)
}

/// The host's work per sample without a plugin: name check, labels, value
/// check; what the boundary adds is the rest.
fn native_baseline(tick: i64) -> Vec<Sample> {
    (0..SAMPLES_PER_CALL)
        .map(|i| {
            let metric = canonical_metric_name("bench.value").expect("valid");
            let labels =
                Labels::try_from_pairs([("series".to_owned(), i.to_string())]).expect("valid");
            let mut s = Sample::gauge(&metric, i as f64, tick);
            s.unit = "%".to_owned();
            s.labels = labels;
            s
        })
        .collect()
}

pub async fn run() -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let plugins_dir = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins_dir)?;
    std::fs::copy(
        fixture("fixture-bench")?,
        plugins_dir.join("fixture-bench.wasm"),
    )?;
    // The same fixture returning full samples, and a 0.1 collector of the
    // same shape through the adapter: the paths the readings replace.
    std::fs::copy(
        fixture("fixture-bench")?,
        plugins_dir.join("bench-samples.wasm"),
    )?;
    std::fs::copy(
        fixture("fixture-v01-collector")?,
        plugins_dir.join("bench-v01.wasm"),
    )?;
    let config = config_for(
        dir.path(),
        &plugins_dir,
        &format!(
            "[[plugins]]\nname = \"fixture-bench\"\n\n\
             [[plugins]]\nname = \"bench-samples\"\nconfig = {{ mode = \"samples\" }}\n\n\
             [[plugins]]\nname = \"bench-v01\"\nconfig = {{ samples = {SAMPLES_PER_CALL} }}\n"
        ),
    )?;
    let runtime = PluginRuntime::new().map_err(|e| anyhow::anyhow!("{e:#}"))?;
    runtime.spawn_epoch_ticker();
    let loader = Loader::new(&runtime, &config);

    // Cold compile (cache miss) versus load from the cache.
    let cache_dir = dir.path().join("data/plugin-cache");
    let mut cold = Vec::new();
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(&cache_dir);
        let started = Instant::now();
        loader
            .compile(&config, "fixture-bench")?
            .context("enabled")?;
        cold.push(started.elapsed());
    }
    let cold = Timing::of(cold);
    let mut warm = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        loader
            .compile(&config, "fixture-bench")?
            .context("enabled")?;
        warm.push(started.elapsed());
    }
    let warm = Timing::of(warm);

    // Instantiation of a fresh instance from the loaded component.
    let compiled = loader
        .compile(&config, "fixture-bench")?
        .context("enabled")?;
    let mut instantiate = Vec::new();
    for _ in 0..200 {
        let mut plugin = loader
            .instances(&compiled, &config)
            .await
            .collector
            .context("a collector")?;
        let started = Instant::now();
        plugin.prepare().await?;
        instantiate.push(started.elapsed());
    }
    let instantiate = Timing::of(instantiate);

    // One collect() of 100 samples on a live instance, against the host's
    // own work for 100 samples without a plugin; the same run times the
    // full-sample and the 0.1 paths.
    let call = time_collect(&loader, &config, "fixture-bench").await?;
    let samples_call = time_collect(&loader, &config, "bench-samples").await?;
    let v01_call = time_collect(&loader, &config, "bench-v01").await?;
    let baseline = time_async(100, 5000, async || {
        std::hint::black_box(native_baseline(0));
    })
    .await;

    let (startup_cold, startup_warm, shipped) = startup()?;

    // A collector written in Python beside one written in Rust.
    let dist = repo_root().join("plugins/dist");
    let python = component_cost::measure(&dist.join("pressure.wasm"), 3, 20)?;
    let rust = component_cost::measure(&dist.join("loadavg.wasm"), 3, 20)?;

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-12);
    let mut out = String::new();
    writeln!(out, "## Plugins\n")?;
    writeln!(
        out,
        "Command: `cargo xtask bench` (bench/src/plugins.rs); fixture `fixture-bench` returns {SAMPLES_PER_CALL} labelled gauges per call, as readings of series it declared once (or, as `bench-samples`, as full samples); `fixture-v01-collector` returns the same shape through the 0.1 adapter.\n"
    )?;
    writeln!(
        out,
        "| measure | median | p99 | runs | baseline (same run) | ratio | aim |"
    )?;
    writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |")?;
    writeln!(
        out,
        "| `collect()` of {SAMPLES_PER_CALL} readings of declared series (0.2), host conversion included | {} | {} | {} | native: build and validate {SAMPLES_PER_CALL} samples, {} | {:.1}× | ≤ 20 µs |",
        human(call.median),
        human(call.p99),
        call.runs,
        human(baseline.median),
        ratio(call.median, baseline.median)
    )?;
    writeln!(
        out,
        "| `collect()` of {SAMPLES_PER_CALL} full samples (0.2), host checks included | {} | {} | {} | the readings above, {} | {:.1}× | — |",
        human(samples_call.median),
        human(samples_call.p99),
        samples_call.runs,
        human(call.median),
        ratio(samples_call.median, call.median)
    )?;
    writeln!(
        out,
        "| `collect()` of {SAMPLES_PER_CALL} samples by a 0.1 component through the adapter | {} | {} | {} | the same samples from a 0.2 component, {} | {:.2}× | — |",
        human(v01_call.median),
        human(v01_call.p99),
        v01_call.runs,
        human(samples_call.median),
        ratio(v01_call.median, samples_call.median)
    )?;
    writeln!(
        out,
        "| load a compiled component from the cache (read, SHA-256, deserialize, world check) | {} | {} | {} | cold compile, {} | {:.0}× faster | — |",
        human(warm.median),
        human(warm.p99),
        warm.runs,
        human(cold.median),
        ratio(cold.median, warm.median)
    )?;
    writeln!(
        out,
        "| instantiate a fresh instance (store, limits, WASI context) | {} | {} | {} | — | — | ≤ 1 ms |",
        human(instantiate.median),
        human(instantiate.p99),
        instantiate.runs
    )?;
    writeln!(
        out,
        "| host start-up to listening, {shipped} shipped plugins, warm cache | {} | {} | {} | cold (empty cache), {} | {:.1}× faster | ≤ 300 ms |",
        human(startup_warm.median),
        human(startup_warm.p99),
        startup_warm.runs,
        human(startup_cold.median),
        ratio(startup_cold.median, startup_warm.median)
    )?;
    writeln!(
        out,
        "| plugin cache miss (read, SHA-256, Cranelift compile, store): `pressure`, Python (componentize-py), {} | {} | {} | {} | `loadavg`, Rust, {}: {} | {:.0}× slower | — |",
        mib(python.wasm_bytes),
        human(python.compile.median),
        human(python.compile.p99),
        python.compile.runs,
        mib(rust.wasm_bytes),
        human(rust.compile.median),
        ratio(python.compile.median, rust.compile.median)
    )?;
    writeln!(
        out,
        "| plugin cache hit (read, SHA-256, load the compiled form): `pressure`, {} compiled | {} | {} | {} | `loadavg`, {} compiled: {} | {:.0}× slower | — |",
        mib(python.compiled_bytes),
        human(python.load.median),
        human(python.load.p99),
        python.load.runs,
        mib(rust.compiled_bytes),
        human(rust.load.median),
        ratio(python.load.median, rust.load.median)
    )?;
    writeln!(out)?;
    Ok(out)
}

/// `18.5 MiB`, `0.12 MiB`.
fn mib(bytes: usize) -> String {
    let mib = bytes as f64 / f64::from(1 << 20);
    if mib < 1.0 {
        format!("{mib:.2} MiB")
    } else {
        format!("{mib:.1} MiB")
    }
}

/// Spawns the real binary with every shipped plugin until it listens:
/// three times on an empty data dir (compiling every plugin), then five
/// times on a warm one.
fn startup() -> anyhow::Result<(Timing, Timing, usize)> {
    let binary = target_profile_dir()?.join("perfwatch");
    let dist = repo_root().join("plugins/dist");
    let shipped = std::fs::read_dir(&dist)
        .with_context(|| format!("{} (run `cargo xtask plugins`)", dist.display()))?
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "wasm"))
        .count();
    let run_once = |data: &Path| -> anyhow::Result<Duration> {
        let config = data.join("perfwatch.toml");
        std::fs::write(
            &config,
            format!(
                "port = 0\ndata_dir = \"{}\"\nplugins_dir = \"{}\"\nrules_dir = \"{}\"\n\
                 [[plugins]]\nname = \"loadavg\"\nread_paths = [\"/proc\"]\n\
                 [[plugins]]\nname = \"process\"\nread_paths = [\"/proc\"]\nconfig = {{ names = [\"perfwatch\"] }}\n",
                data.join("data").display(),
                dist.display(),
                repo_root().join("rules").display()
            ),
        )?;
        let started = Instant::now();
        let mut child = Command::new(&binary)
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("piped stdout")?;
        let listening = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.starts_with("perfwatch listening on"));
        let elapsed = started.elapsed();
        let _ = child.kill();
        let _ = child.wait();
        if !listening {
            bail!("perfwatch exited before listening");
        }
        Ok(elapsed)
    };
    let mut cold = Vec::new();
    for _ in 0..3 {
        let data = tempfile::tempdir()?;
        cold.push(run_once(data.path())?);
    }
    let warm_dir = tempfile::tempdir()?;
    run_once(warm_dir.path())?;
    let mut warm = Vec::new();
    for _ in 0..5 {
        warm.push(run_once(warm_dir.path())?);
    }
    Ok((Timing::of(cold), Timing::of(warm), shipped))
}
