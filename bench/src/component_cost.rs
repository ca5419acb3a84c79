//! What one component costs before its first call, through the host's own
//! plugin cache (`ComponentCache`): a miss compiles it with Cranelift and
//! stores the result (the first start after an install or upgrade); a hit
//! hashes the `.wasm` and loads the stored form (every later start). Used
//! to set a plugin written in another language beside a Rust one.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use perfwatch::plugins::{CacheOrigin, ComponentCache};
use wasmtime::{Config, Engine};

use crate::stats::Timing;

/// The cost of one component file.
pub struct ComponentCost {
    /// Size of the `.wasm` file.
    pub wasm_bytes: usize,
    /// Size of its compiled form in the cache.
    pub compiled_bytes: usize,
    /// A cache miss: read, SHA-256, compile with Cranelift, store.
    pub compile: Timing,
    /// A cache hit: read, SHA-256, load the compiled form.
    pub load: Timing,
}

/// The engine settings of the host's `PluginRuntime::new` that change the
/// compiled code: Cranelift's defaults and epoch interruption.
fn engine() -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    Engine::new(&config).map_err(|e| anyhow::anyhow!("{e:#}"))
}

/// Loads `path` through an empty cache `compile_runs` times, then through
/// the warm cache `load_runs` times.
pub fn measure(
    path: &Path,
    compile_runs: usize,
    load_runs: usize,
) -> anyhow::Result<ComponentCost> {
    let engine = engine()?;
    let load_once = |data_dir: &Path, expected: CacheOrigin| -> anyhow::Result<Duration> {
        let started = Instant::now();
        let cache = ComponentCache::new(data_dir, &engine);
        let wasm = std::fs::read(path)
            .with_context(|| format!("{} (run `cargo xtask plugins`)", path.display()))?;
        let (component, origin) = cache
            .load(&engine, &wasm)
            .map_err(|e| anyhow::anyhow!("loading {}: {e:#}", path.display()))?;
        let elapsed = started.elapsed();
        drop(component);
        if origin != expected {
            bail!("{}: expected {expected:?}, got {origin:?}", path.display());
        }
        Ok(elapsed)
    };
    let mut compile = Vec::with_capacity(compile_runs);
    for _ in 0..compile_runs {
        let empty = tempfile::tempdir()?;
        compile.push(load_once(empty.path(), CacheOrigin::Compiled)?);
    }
    let warm = tempfile::tempdir()?;
    load_once(warm.path(), CacheOrigin::Compiled)?;
    let mut load = Vec::with_capacity(load_runs);
    for _ in 0..load_runs {
        load.push(load_once(warm.path(), CacheOrigin::Cached)?);
    }
    Ok(ComponentCost {
        wasm_bytes: std::fs::metadata(path)?.len() as usize,
        compiled_bytes: bytes_under(warm.path()),
        compile: Timing::of(compile),
        load: Timing::of(load),
    })
}

/// Total size of the files under `dir`: the cache's one compiled component.
fn bytes_under(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&entry.path()),
            _ => entry.metadata().map_or(0, |m| m.len() as usize),
        })
        .sum()
}
