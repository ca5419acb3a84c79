//! The wit-bindgen output for the three plugin worlds; nothing else in the SDK names wit-bindgen.
//!
//! Each world gets its own `generate!` because a `generate!` call binds
//! exactly one world. The `collector` call generates the shared `types`,
//! `host` and `http` interfaces and the other two reuse them through `with:`,
//! so a plugin sees one `Sample`, one `Alert`, one `LogLevel` and one http
//! `Request` whatever world it targets. `email` is imported by the `channel`
//! world alone, so the `channel` call generates it.
//!
//! `pub_export_macro` plus `default_bindings_module` make the generated
//! `export!` macros usable from plugin crates, which depend only on this
//! crate and never see the WIT files. Plugin authors use the SDK's own
//! `export_*!` macros; this module is public only because those macros must
//! reach it from the plugin's crate.

#![allow(missing_docs, clippy::all)]

/// Bindings for the `collector` world, plus the shared `types`, `host` and `http` interfaces.
pub mod collector {
    wit_bindgen::generate!({
        path: "../wit",
        world: "perfwatch:plugin/collector@0.1.0",
        // Records are compared in plugin unit tests (`assert_eq!` on samples).
        additional_derives: [PartialEq],
        pub_export_macro: true,
        export_macro_name: "export_collector_world",
        default_bindings_module: "perfwatch_sdk::bindings::collector",
        generate_all,
    });
}

/// Bindings for the `channel` world and its own `email` interface; `types`,
/// `host` and `http` come from [`collector`].
pub mod channel {
    wit_bindgen::generate!({
        path: "../wit",
        world: "perfwatch:plugin/channel@0.1.0",
        with: {
            "perfwatch:plugin/types@0.1.0": crate::bindings::collector::perfwatch::plugin::types,
            "perfwatch:plugin/host@0.1.0": crate::bindings::collector::perfwatch::plugin::host,
            "perfwatch:plugin/http@0.1.0": crate::bindings::collector::perfwatch::plugin::http,
            "perfwatch:plugin/email@0.1.0": generate,
        },
        pub_export_macro: true,
        export_macro_name: "export_channel_world",
        default_bindings_module: "perfwatch_sdk::bindings::channel",
    });
}

/// Bindings for the `exporter` world; `types` and `host` come from [`collector`].
pub mod exporter {
    wit_bindgen::generate!({
        path: "../wit",
        world: "perfwatch:plugin/exporter@0.1.0",
        with: {
            "perfwatch:plugin/types@0.1.0": crate::bindings::collector::perfwatch::plugin::types,
            "perfwatch:plugin/host@0.1.0": crate::bindings::collector::perfwatch::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_exporter_world",
        default_bindings_module: "perfwatch_sdk::bindings::exporter",
    });
}
