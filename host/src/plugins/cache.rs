//! Compiled components cached on disk, keyed by the component's SHA-256
//! and the engine's compatibility hash: compiling a plugin costs about
//! 100 ms here, loading its compiled form about 0.4 ms.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components live, inside `data_dir`.
pub const CACHE_DIR: &str = "plugin-cache";

/// The on-disk cache of one engine configuration.
#[derive(Clone)]
pub struct ComponentCache {
    dir: PathBuf,
    engine_key: String,
}

/// Whether a component came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Deserialised from a cached artifact.
    Cached,
    /// Compiled now (and cached for next time).
    Compiled,
}

impl ComponentCache {
    /// The cache under `data_dir` for `engine`.
    pub fn new(data_dir: &Path, engine: &Engine) -> Self {
        // The compatibility hash changes with the wasmtime version and every
        // engine setting that affects compiled code, so an artifact is never
        // loaded into an engine it was not built for.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self {
            dir: data_dir.join(CACHE_DIR),
            engine_key: format!("{:016x}", hasher.finish()),
        }
    }

    /// The component for `wasm`, from the cache when possible. A cache that
    /// cannot be read or written only costs a compile, never a failure.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<(Component, Origin)> {
        let digest = ring::digest::digest(&ring::digest::SHA256, wasm);
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let path = self.dir.join(format!("{hex}-{}.cwasm", self.engine_key));
        if path.is_file() {
            // SAFETY: the file is one this function wrote from a successful
            // compile, under a key that includes the engine's compatibility
            // hash; it is native code from our own compiler, not from the
            // plugin author. `data_dir` must not be writable by others.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, Origin::Cached)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "discarding an unreadable cached component: {e:#}")
                }
            }
        }
        let compiled = engine.precompile_component(wasm)?;
        // SAFETY: these bytes were produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &compiled)? };
        if let Err(e) = self.store(&path, &compiled) {
            tracing::warn!(path = %path.display(), "cannot cache a compiled component: {e}");
        }
        Ok((component, Origin::Compiled))
    }

    fn store(&self, path: &Path, compiled: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        // Write then rename, so a crash never leaves a truncated artifact
        // under a valid name.
        let partial = path.with_extension("partial");
        std::fs::write(&partial, compiled)?;
        std::fs::rename(&partial, path)
    }
}
