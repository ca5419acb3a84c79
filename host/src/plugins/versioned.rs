//! A plugin instance of either package version: the current world, or the
//! deprecated one served through the adapter. What does not depend on the
//! version (name, start, health, config check) is answered here once.

use super::PluginError;
use super::sandbox::{Sandbox, World};
use super::supervisor::PluginStats;

/// A sandbox of the 0.2 world `Current` or the 0.1 world `Deprecated`.
pub enum Versioned<Current: World, Deprecated: World> {
    /// Built against 0.2.
    V2(Sandbox<Current>),
    /// Built against 0.1.
    V1(Sandbox<Deprecated>),
}

impl<Current: World, Deprecated: World> Versioned<Current, Deprecated> {
    /// The plugin's name.
    pub fn name(&self) -> &str {
        match self {
            Versioned::V2(s) => s.name(),
            Versioned::V1(s) => s.name(),
        }
    }

    /// Instantiates now (see [`Sandbox::prepare`]).
    pub async fn prepare(&mut self) -> Result<(), PluginError> {
        match self {
            Versioned::V2(s) => s.prepare().await,
            Versioned::V1(s) => s.prepare().await,
        }
    }

    /// Calls, failures, status.
    pub fn stats(&self) -> PluginStats {
        match self {
            Versioned::V2(s) => s.stats(),
            Versioned::V1(s) => s.stats(),
        }
    }

    /// Whether the plugin accepts its config (see [`Sandbox::validate_config`]).
    pub async fn validate_config(&mut self) -> Result<Vec<String>, PluginError> {
        match self {
            Versioned::V2(s) => s.validate_config().await,
            Versioned::V1(s) => s.validate_config().await,
        }
    }

    /// Records that the last call's output was refused by the host.
    pub fn record_invalid_output(&mut self, error: &PluginError) {
        match self {
            Versioned::V2(s) => s.record_invalid_output(error),
            Versioned::V1(s) => s.record_invalid_output(error),
        }
    }
}
