//! Host bindings generated from `wit/perfwatch.wit`, and nothing else.
//!
//! The `types`, `host` and `http` interfaces are generated once (with the
//! collector world) and reused by the other worlds, so all three share one
//! `Sample`, one `Alert` and one implementation of each import.

/// The `collector` world, plus the shared `types`, `host` and `http` interfaces.
pub mod collector {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "collector",
        imports: {
            // The host awaits the network on the plugin's behalf.
            "perfwatch:plugin/http.send": async,
            // No TRACE event for these two: it would print their strings
            // whole, the config (webhook URLs, tokens) and log lines before
            // `redact` cuts their URLs. `exact` is a flag that adds nothing
            // else, so the rule is not empty and replaces the default.
            "perfwatch:plugin/host.config": exact,
            "perfwatch:plugin/host.log": exact,
            default: tracing,
        },
        exports: { default: async },
    });
}

/// The `channel` world; it adds the `email` interface.
pub mod channel {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "channel",
        imports: {
            "perfwatch:plugin/email.send": async,
            default: tracing,
        },
        exports: { default: async },
        with: {
            "perfwatch:plugin/types": crate::plugins::bindings::collector::perfwatch::plugin::types,
            "perfwatch:plugin/host": crate::plugins::bindings::collector::perfwatch::plugin::host,
            "perfwatch:plugin/http": crate::plugins::bindings::collector::perfwatch::plugin::http,
        },
    });
}

/// The `exporter` world.
pub mod exporter {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "exporter",
        exports: { default: async },
        with: {
            "perfwatch:plugin/types": crate::plugins::bindings::collector::perfwatch::plugin::types,
            "perfwatch:plugin/host": crate::plugins::bindings::collector::perfwatch::plugin::host,
        },
    });
}

pub use channel::perfwatch::plugin::email;
pub use collector::perfwatch::plugin::{host, http, types};
