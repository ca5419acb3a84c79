//! Forwards a plugin's panic message to the host log before the panic becomes a trap.
//!
//! On `wasm32-wasip2` a panic prints its message to the guest's stderr and
//! then aborts, which the host sees only as "wasm `unreachable` instruction
//! executed". The host may discard guest stderr, so without this hook the
//! reason for the trap would be lost; logged through `host.log` at ERROR it
//! lands in the host log under the plugin's name, next to the trap.

use std::sync::Once;

static INSTALL: Once = Once::new();

/// Installs the forwarding hook once per instance; called at the start of
/// every export, since a component has no other entry point to do it in.
pub(crate) fn forward_panics_to_host_log() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info.payload_as_str().unwrap_or("non-string panic payload");
            let line = match info.location() {
                Some(location) => format!("panicked at {location}: {message}"),
                None => format!("panicked: {message}"),
            };
            crate::log(crate::LogLevel::Error, &line);
            // Keep the standard report on stderr too, for hosts that capture it.
            previous(info);
        }));
    });
}
