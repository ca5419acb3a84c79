//! Host bindings generated from `wit/`, and nothing else: the current
//! package `perfwatch:plugin@0.2.0` in [`v2`], and the frozen 0.1.0 in
//! [`v1`], which the adapter (`adapter_v1.rs`) serves.
//!
//! Within a version, `types`, `host` and `http` are generated once (with the
//! collector world) and reused by the other worlds, so all of them share one
//! `Sample`, one `Alert` and one implementation of each import.

/// `perfwatch:plugin@0.2.0`.
///
/// The host's worlds are declared inline: they are the package's worlds
/// without `config-api`, which every 0.2 world exports but the host treats
/// as optional (a component built by other tools may leave it out), so it
/// is bound on its own in [`v2::configurable`] and looked up when present.
pub mod v2 {
    /// The `collector` world, plus the shared `types`, `host`, `http` and
    /// `series` interfaces.
    pub mod collector {
        wasmtime::component::bindgen!({
            path: "../wit",
            inline: "
                package perfwatch:host@0.2.0;
                world collector {
                    import perfwatch:plugin/host@0.2.0;
                    import perfwatch:plugin/http@0.2.0;
                    import perfwatch:plugin/series@0.2.0;
                    export perfwatch:plugin/collector-api@0.2.0;
                }
            ",
            world: "perfwatch:host/collector@0.2.0",
            imports: {
                // The host awaits the network on the plugin's behalf.
                "perfwatch:plugin/http@0.2.0.send": async,
                // No TRACE event for these two: it would print their strings
                // whole, the config (webhook URLs, tokens) and log lines before
                // `redact` cuts their URLs. `exact` is a flag that adds nothing
                // else, so the rule is not empty and replaces the default.
                "perfwatch:plugin/host@0.2.0.config": exact,
                "perfwatch:plugin/host@0.2.0.log": exact,
                default: tracing,
            },
            exports: { default: async },
        });
    }

    /// The `channel` world; it adds the `email` interface.
    pub mod channel {
        wasmtime::component::bindgen!({
            path: "../wit",
            inline: "
                package perfwatch:host@0.2.0;
                world channel {
                    import perfwatch:plugin/host@0.2.0;
                    import perfwatch:plugin/http@0.2.0;
                    import perfwatch:plugin/email@0.2.0;
                    export perfwatch:plugin/channel-api@0.2.0;
                }
            ",
            world: "perfwatch:host/channel@0.2.0",
            imports: {
                "perfwatch:plugin/email@0.2.0.send": async,
                default: tracing,
            },
            exports: { default: async },
            with: {
                "perfwatch:plugin/types@0.2.0": crate::plugins::bindings::v2::collector::perfwatch::plugin0_2_0::types,
                "perfwatch:plugin/host@0.2.0": crate::plugins::bindings::v2::collector::perfwatch::plugin0_2_0::host,
                "perfwatch:plugin/http@0.2.0": crate::plugins::bindings::v2::collector::perfwatch::plugin0_2_0::http,
            },
        });
    }

    /// The `exporter` world.
    pub mod exporter {
        wasmtime::component::bindgen!({
            path: "../wit",
            inline: "
                package perfwatch:host@0.2.0;
                world exporter {
                    import perfwatch:plugin/host@0.2.0;
                    export perfwatch:plugin/exporter-api@0.2.0;
                }
            ",
            world: "perfwatch:host/exporter@0.2.0",
            exports: { default: async },
            with: {
                "perfwatch:plugin/types@0.2.0": crate::plugins::bindings::v2::collector::perfwatch::plugin0_2_0::types,
                "perfwatch:plugin/host@0.2.0": crate::plugins::bindings::v2::collector::perfwatch::plugin0_2_0::host,
            },
        });
    }

    /// `config-api` alone, looked up on a component that may lack it.
    pub mod configurable {
        wasmtime::component::bindgen!({
            path: "../wit",
            inline: "
                package perfwatch:host@0.2.0;
                world configurable {
                    export perfwatch:plugin/config-api@0.2.0;
                }
            ",
            world: "perfwatch:host/configurable@0.2.0",
            exports: { default: async },
            with: {
                "perfwatch:plugin/types@0.2.0": crate::plugins::bindings::v2::collector::perfwatch::plugin0_2_0::types,
            },
        });
    }

    pub use channel::perfwatch::plugin0_2_0::email;
    pub use collector::perfwatch::plugin0_2_0::{host, http, series, types};
}

/// `perfwatch:plugin@0.1.0`, frozen: what deprecated components import and export.
pub mod v1 {
    /// The 0.1 `collector` world, plus its `types`, `host` and `http`.
    pub mod collector {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "perfwatch:plugin/collector@0.1.0",
            imports: {
                "perfwatch:plugin/http@0.1.0.send": async,
                "perfwatch:plugin/host@0.1.0.config": exact,
                "perfwatch:plugin/host@0.1.0.log": exact,
                default: tracing,
            },
            exports: { default: async },
        });
    }

    /// The 0.1 `channel` world.
    pub mod channel {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "perfwatch:plugin/channel@0.1.0",
            imports: {
                "perfwatch:plugin/email@0.1.0.send": async,
                default: tracing,
            },
            exports: { default: async },
            with: {
                "perfwatch:plugin/types@0.1.0": crate::plugins::bindings::v1::collector::perfwatch::plugin0_1_0::types,
                "perfwatch:plugin/host@0.1.0": crate::plugins::bindings::v1::collector::perfwatch::plugin0_1_0::host,
                "perfwatch:plugin/http@0.1.0": crate::plugins::bindings::v1::collector::perfwatch::plugin0_1_0::http,
            },
        });
    }

    /// The 0.1 `exporter` world.
    pub mod exporter {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "perfwatch:plugin/exporter@0.1.0",
            exports: { default: async },
            with: {
                "perfwatch:plugin/types@0.1.0": crate::plugins::bindings::v1::collector::perfwatch::plugin0_1_0::types,
                "perfwatch:plugin/host@0.1.0": crate::plugins::bindings::v1::collector::perfwatch::plugin0_1_0::host,
            },
        });
    }

    pub use channel::perfwatch::plugin0_1_0::email;
    pub use collector::perfwatch::plugin0_1_0::{host, http, types};
}
