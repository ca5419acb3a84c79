//! Host bindings generated from `wit/perfwatch.wit`, and nothing else.
//!
//! The `types` and `host` interfaces are generated once (with the collector
//! world) and reused by the other worlds, so all three share one `Sample`,
//! one `Alert` and one `Host` trait.

/// The `collector` world, plus the shared `types` and `host` interfaces.
pub mod collector {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "collector",
        exports: { default: async },
    });
}

/// The `channel` world.
pub mod channel {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "channel",
        exports: { default: async },
        with: {
            "perfwatch:plugin/types": crate::plugins::bindings::collector::perfwatch::plugin::types,
            "perfwatch:plugin/host": crate::plugins::bindings::collector::perfwatch::plugin::host,
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

pub use collector::perfwatch::plugin::{host, types};
