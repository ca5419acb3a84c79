//! The host side of the 0.2 WIT imports, one `Host` impl per interface:
//! `host` (log, clock, own config) here, `series` over the instance's
//! `DeclaredSeries`, and thin shims for `http` and `email` that hand the
//! call to the plugin's granted client (`http.rs`, `email.rs`). The clients
//! know nothing of `PluginState`, so the state that holds them and the impls
//! that use it do not depend on each other. The 0.1 imports are served by
//! `adapter_v1.rs` through these.

use super::bindings::v2::{email, host, http, series, types};
use super::redact;
use super::state::PluginState;

/// Longest log line a plugin may write; longer ones are cut, so a plugin
/// cannot fill the host's log with one call.
const MAX_LOG_MESSAGE_BYTES: usize = 4096;

impl host::Host for PluginState {
    fn log(&mut self, level: host::LogLevel, message: String) {
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
            host::LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            host::LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            host::LogLevel::Info => tracing::info!(plugin, "{message}"),
            host::LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            host::LogLevel::Error => tracing::error!(plugin, "{message}"),
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

impl series::Host for PluginState {
    fn declare(&mut self, description: types::SeriesDescription) -> Result<u32, String> {
        self.series.declare(description)
    }
}

impl http::Host for PluginState {
    async fn send(&mut self, request: http::Request) -> Result<http::Response, http::Error> {
        let result = self.grants.http.send(request, self.deadline).await;
        // The reason names only the origin: URLs (webhook paths, query
        // strings) can carry tokens and are never logged.
        if let Err(http::Error::Denied(reason)) = &result {
            tracing::warn!(plugin = %self.name, "HTTP request denied: {reason}");
        }
        result
    }
}

impl email::Host for PluginState {
    async fn send(&mut self, message: email::Message) -> Result<(), types::DeliveryError> {
        match (&self.grants.email, &self.grants.capture) {
            (Some(_), Some(capture)) => {
                capture.email(message.subject, message.text, message.html);
                Ok(())
            }
            (Some(mailer), None) => mailer.clone().send(message, self.deadline).await,
            (None, _) => Err(types::DeliveryError::Permanent(format!(
                "plugin `{}` may not send email; grant it with `allow_email = true` in its [[plugins]] entry \
                 and use it for an email channel",
                self.name
            ))),
        }
    }
}
