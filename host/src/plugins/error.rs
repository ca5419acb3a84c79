//! Plugin failures, in words a user can act on.

use std::path::PathBuf;

/// Why a plugin could not be loaded or a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    #[error("cannot read plugin `{plugin}` from {path}: {detail}")]
    Read {
        plugin: String,
        path: PathBuf,
        detail: String,
    },
    #[error("plugin `{plugin}` ({path}) is not a valid component: {detail}")]
    Compile {
        plugin: String,
        path: PathBuf,
        detail: String,
    },
    #[error(
        "plugin `{plugin}` was built against perfwatch:plugin@{found}; this host serves perfwatch:plugin@{serves} \
         (and {deprecated} through an adapter); rebuild it with the matching perfwatch-sdk"
    )]
    Incompatible {
        plugin: String,
        found: String,
        serves: &'static str,
        deprecated: &'static str,
    },
    #[error(
        "plugin `{plugin}` exports none of the perfwatch worlds (collector, channel, exporter); \
         build it with perfwatch-sdk and one of its export macros"
    )]
    UnknownWorld { plugin: String },
    #[error(
        "plugin `{plugin}` is a {kind} but imports perfwatch:plugin/{interface}, which {kind} plugins may not use"
    )]
    ForbiddenImport {
        plugin: String,
        kind: &'static str,
        interface: String,
    },
    #[error("plugin `{plugin}`: cannot grant read access to {path}: {detail}")]
    Grant {
        plugin: String,
        path: PathBuf,
        detail: String,
    },
    #[error("plugin `{plugin}` failed to start: {detail}")]
    Instantiate { plugin: String, detail: String },
    #[error("plugin `{plugin}` exceeded its {limit_ms} ms CPU deadline and was stopped")]
    Timeout { plugin: String, limit_ms: u64 },
    #[error("plugin `{plugin}` exceeded its {limit_mib} MiB memory limit and was stopped")]
    MemoryLimit { plugin: String, limit_mib: u64 },
    #[error("plugin `{plugin}` crashed: {detail}")]
    Trap { plugin: String, detail: String },
    #[error("plugin `{plugin}` reported an error: {message}")]
    Reported { plugin: String, message: String },
    #[error("plugin `{plugin}` refuses its config: {}", problems.join("; "))]
    ConfigRefused {
        plugin: String,
        /// One line per problem: key, what is wrong, what is expected.
        problems: Vec<String>,
    },
    #[error("plugin `{plugin}` is backing off after crashing and was not called")]
    BackingOff { plugin: String },
    #[error("plugin `{plugin}` returned {count} samples; at most {max} are accepted per call")]
    TooManySamples {
        plugin: String,
        count: usize,
        max: usize,
    },
}

impl PluginError {
    /// Whether the instance is unusable afterwards and must be replaced
    /// (a trap poisons a component instance for good).
    pub fn poisons_instance(&self) -> bool {
        matches!(
            self,
            PluginError::Timeout { .. }
                | PluginError::MemoryLimit { .. }
                | PluginError::Trap { .. }
                | PluginError::Instantiate { .. }
        )
    }
}
