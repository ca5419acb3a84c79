//! The three plugin kinds: one trait each, and the macro that exports an implementation as a component.
//!
//! The wit-bindgen `Guest` traits stay hidden: each SDK trait gets a blanket
//! `Guest` impl here, and each `export_*!` macro hands the user's type to the
//! generated export macro. A plugin crate therefore names only this crate.
//! The blanket impls are also the one place every call from the host passes
//! through, which is where the panic hook gets installed.

use crate::bindings;
use crate::{Alert, Artifact, ExportRequest, Sample};

/// A plugin that measures something every tick (the WIT `collector` world).
///
/// The host keeps one instance per plugin and calls [`Collector::collect`] on
/// it tick after tick, so state kept in statics (an `AtomicU64`, a
/// `Mutex` in a `static`) survives between calls. It does not survive a trap:
/// the host then discards the instance and starts a fresh one.
pub trait Collector {
    /// Returns the samples measured now, or a message saying why nothing
    /// could be measured; the host logs the message and counts the failure.
    fn collect() -> Result<Vec<Sample>, String>;
}

/// A plugin that delivers alert notifications (the WIT `channel` world).
pub trait Channel {
    /// Delivers one alert; an error says why delivery failed, and the host
    /// retries later, so delivering the same alert twice must be harmless.
    fn deliver(alert: Alert) -> Result<(), String>;
}

/// A plugin that renders stored data as a document (the WIT `exporter` world).
pub trait Exporter {
    /// Renders the requested series and alerts; the host decides where the
    /// bytes of the returned [`Artifact`] go.
    fn export(request: ExportRequest) -> Result<Artifact, String>;
}

impl<T: Collector> bindings::collector::exports::perfwatch::plugin::collector_api::Guest for T {
    fn collect() -> Result<Vec<Sample>, String> {
        crate::panic::forward_panics_to_host_log();
        <T as Collector>::collect()
    }
}

impl<T: Channel> bindings::channel::exports::perfwatch::plugin::channel_api::Guest for T {
    fn deliver(alert: Alert) -> Result<(), String> {
        crate::panic::forward_panics_to_host_log();
        <T as Channel>::deliver(alert)
    }
}

impl<T: Exporter> bindings::exporter::exports::perfwatch::plugin::exporter_api::Guest for T {
    fn export(request: ExportRequest) -> Result<Artifact, String> {
        crate::panic::forward_panics_to_host_log();
        <T as Exporter>::export(request)
    }
}

/// Exports a type implementing [`Collector`](crate::Collector) as the plugin's
/// `perfwatch:plugin/collector-api@0.1.0`.
///
/// Use it once per crate, at the top level, with the name of a type (not a
/// path). A type that does not implement the trait fails to compile here,
/// pointing at this call:
///
/// ```compile_fail,E0277
/// struct NotACollector;
/// // error: the trait bound `NotACollector: Collector` is not satisfied
/// perfwatch_sdk::export_collector!(NotACollector);
/// ```
#[macro_export]
macro_rules! export_collector {
    ($ty:ident) => {
        // A readable "the trait `Collector` is not implemented" error at the
        // plugin's call site instead of one deep inside generated glue.
        const _: () = {
            fn assert_implements_collector<T: $crate::Collector>() {}
            let _ = assert_implements_collector::<$ty>;
        };
        // The generated glue exports symbols named like
        // `perfwatch:plugin/collector-api@0.1.0#collect`. Native linkers
        // reject those names in a cdylib's version script, and natively
        // there is no component to export anyway, so the glue exists only
        // in wasm builds; the assertion above still checks natively.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::collector::export_collector_world!(
            $ty with_types_in $crate::bindings::collector
        );
    };
}

/// Exports a type implementing [`Channel`](crate::Channel) as the plugin's
/// `perfwatch:plugin/channel-api@0.1.0`.
///
/// Use it once per crate, at the top level, with the name of a type (not a
/// path). A type that does not implement the trait fails to compile here,
/// pointing at this call.
#[macro_export]
macro_rules! export_channel {
    ($ty:ident) => {
        // A readable error at the call site, as in `export_collector!`.
        const _: () = {
            fn assert_implements_channel<T: $crate::Channel>() {}
            let _ = assert_implements_channel::<$ty>;
        };
        // Wasm only, as in `export_collector!`.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::channel::export_channel_world!(
            $ty with_types_in $crate::bindings::channel
        );
    };
}

/// Exports a type implementing [`Exporter`](crate::Exporter) as the plugin's
/// `perfwatch:plugin/exporter-api@0.1.0`.
///
/// Use it once per crate, at the top level, with the name of a type (not a
/// path). A type that does not implement the trait fails to compile here,
/// pointing at this call.
#[macro_export]
macro_rules! export_exporter {
    ($ty:ident) => {
        // A readable error at the call site, as in `export_collector!`.
        const _: () = {
            fn assert_implements_exporter<T: $crate::Exporter>() {}
            let _ = assert_implements_exporter::<$ty>;
        };
        // Wasm only, as in `export_collector!`.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::exporter::export_exporter_world!(
            $ty with_types_in $crate::bindings::exporter
        );
    };
}
