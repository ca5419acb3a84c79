//! The `host` interface: what every plugin may call without a grant.

use super::bindings::host::{Host, LogLevel};
use super::bindings::types;
use super::redact;
use super::state::PluginState;

/// Longest log line a plugin may write; longer ones are cut, so a plugin
/// cannot fill the host's log with one call.
const MAX_LOG_MESSAGE_BYTES: usize = 4096;

impl Host for PluginState {
    fn log(&mut self, level: LogLevel, message: String) {
        let mut message = message;
        if message.len() > MAX_LOG_MESSAGE_BYTES {
            let mut cut = MAX_LOG_MESSAGE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str(" [truncated]");
        }
        // Plugins log the URLs they call; only the origin is kept.
        let message = redact::urls(&message);
        let plugin = &*self.name;
        match level {
            LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            LogLevel::Error => tracing::error!(plugin, "{message}"),
        }
    }

    fn now_ms(&mut self) -> i64 {
        crate::clock::now_ms()
    }

    fn config(&mut self) -> String {
        self.config_json.to_string()
    }
}

impl types::Host for PluginState {}
