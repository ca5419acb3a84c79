//! The `host` imports (log, clock, config) behind functions that also work in native tests.
//!
//! Inside a component these call the perfwatch host. Compiled natively, as
//! plugin unit tests and doc-tests are, there is no host to call: wit-bindgen's
//! native stubs would panic, so each function falls back to the closest
//! native equivalent instead. That keeps code which logs or reads the clock
//! testable with plain `cargo test`.

/// Importance of a log line, as the host's log understands it.
pub use crate::bindings::imports::perfwatch::plugin0_2_0::host::LogLevel;

#[cfg(target_arch = "wasm32")]
use crate::bindings::imports::perfwatch::plugin0_2_0::host as imports;

/// Writes one line to the host log under the plugin's name.
///
/// Prefer the [`trace!`](crate::trace), [`debug!`](crate::debug),
/// [`info!`](crate::info), [`warn!`](crate::warn) and [`error!`](crate::error)
/// macros. Natively the line goes to stderr, so tests show it.
pub fn log(level: LogLevel, message: &str) {
    #[cfg(target_arch = "wasm32")]
    imports::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{}: {message}", level_name(level));
}

/// The current wall-clock time in milliseconds since the Unix epoch.
///
/// Inside a component this is the host's clock, the one it stamps samples
/// with; natively it is the system clock.
pub fn now_ms() -> i64 {
    #[cfg(target_arch = "wasm32")]
    {
        imports::now_ms()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            // A clock before 1970 is a broken machine, not a plugin error;
            // 0 keeps the value well-formed.
            .unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }
}

/// The plugin's `config` table as JSON text, exactly as the host hands it over.
///
/// Natively this is `{}`, which is what the host sends a plugin that has no
/// config table, so natively every option takes its default.
pub(crate) fn config_json() -> String {
    #[cfg(target_arch = "wasm32")]
    {
        imports::config()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        String::from("{}")
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

/// Logs a formatted line at [`LogLevel::Trace`](crate::LogLevel::Trace).
///
/// Takes the same arguments as [`format!`].
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => {
        $crate::log($crate::LogLevel::Trace, &::std::format!($($arg)+))
    };
}

/// Logs a formatted line at [`LogLevel::Debug`](crate::LogLevel::Debug).
///
/// Takes the same arguments as [`format!`].
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => {
        $crate::log($crate::LogLevel::Debug, &::std::format!($($arg)+))
    };
}

/// Logs a formatted line at [`LogLevel::Info`](crate::LogLevel::Info).
///
/// Takes the same arguments as [`format!`].
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => {
        $crate::log($crate::LogLevel::Info, &::std::format!($($arg)+))
    };
}

/// Logs a formatted line at [`LogLevel::Warn`](crate::LogLevel::Warn).
///
/// Takes the same arguments as [`format!`].
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => {
        $crate::log($crate::LogLevel::Warn, &::std::format!($($arg)+))
    };
}

/// Logs a formatted line at [`LogLevel::Error`](crate::LogLevel::Error).
///
/// Takes the same arguments as [`format!`].
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => {
        $crate::log($crate::LogLevel::Error, &::std::format!($($arg)+))
    };
}
