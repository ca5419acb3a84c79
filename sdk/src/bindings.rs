//! The wit-bindgen output for `perfwatch:plugin@0.2.0`; nothing else in the SDK names wit-bindgen.
//!
//! # Why five `generate!` calls, and not three
//!
//! A `generate!` call binds one world, and every 0.2 world exports
//! `config-api`. With `pub_export_macro` (needed so that plugin crates, not
//! this one, expand the export glue) wit-bindgen names the glue of an
//! exported interface after the interface alone,
//! `__export_perfwatch_plugin_config_api_0_2_0_cabi`, and makes it
//! `#[macro_export]`, which puts it at this crate's root. Three world calls
//! would define that macro three times, and `export_macro_name` renames
//! only the world's macro, not the interfaces'. `with:` cannot help either:
//! it remaps imported interfaces, and wit-bindgen 0.46 always generates
//! exported ones.
//!
//! So the SDK binds pieces of the contract worlds instead, declared in
//! `sdk/wit/sdk.wit` (package `perfwatch:sdk`) from the contract's own
//! interfaces:
//!
//! - [`imports`]: every importable interface (`types`, `host`, `http`,
//!   `series`, `email`), generated once; the other calls reuse them through
//!   `with:`, so a plugin sees one `Sample` and one `LogLevel` whatever its
//!   world.
//! - [`config`]: `config-api` alone, so its glue macro exists once.
//! - [`collector`], [`channel`], [`exporter`]: each contract world without
//!   `config-api`.
//!
//! A plugin's `export_collector!` expands the `collector` glue for the
//! plugin's type and the `config` glue for a wrapper around it. Each glue
//! macro also embeds its world's description in the core module, and
//! wit-component unions those descriptions when it builds the component, so
//! the component imports and exports exactly what the contract world says
//! (unused imports are dropped, as before). The world names of
//! `perfwatch:sdk` appear nowhere in the component; the host sees only
//! `perfwatch:plugin/…@0.2.0` interfaces. The test below checks that every
//! contract world is the union of its pieces, so a change to `wit/` that the
//! SDK does not follow fails `cargo test -p perfwatch-sdk`.
//!
//! Plugin authors use the SDK's own `export_*!` macros; this module is
//! public only because those macros must reach it from the plugin's crate.

#![allow(missing_docs, clippy::all)]

/// The importable interfaces, shared by every world's bindings.
pub mod imports {
    wit_bindgen::generate!({
        path: ["../wit", "wit/sdk.wit"],
        world: "perfwatch:sdk/imports@0.2.0",
        // Records are compared in plugin unit tests (`assert_eq!` on samples).
        additional_derives: [PartialEq],
        generate_all,
    });
}

/// The `config-api` export, generated once for all three worlds.
pub mod config {
    wit_bindgen::generate!({
        path: ["../wit", "wit/sdk.wit"],
        world: "perfwatch:sdk/config@0.2.0",
        with: {
            "perfwatch:plugin/types@0.2.0": crate::bindings::imports::perfwatch::plugin0_2_0::types,
        },
        pub_export_macro: true,
        export_macro_name: "export_config_world",
        default_bindings_module: "perfwatch_sdk::bindings::config",
    });
}

/// The `collector` world's own export, `collector-api`.
pub mod collector {
    wit_bindgen::generate!({
        path: ["../wit", "wit/sdk.wit"],
        world: "perfwatch:sdk/collector@0.2.0",
        with: {
            "perfwatch:plugin/types@0.2.0": crate::bindings::imports::perfwatch::plugin0_2_0::types,
            "perfwatch:plugin/host@0.2.0": crate::bindings::imports::perfwatch::plugin0_2_0::host,
            "perfwatch:plugin/http@0.2.0": crate::bindings::imports::perfwatch::plugin0_2_0::http,
            "perfwatch:plugin/series@0.2.0": crate::bindings::imports::perfwatch::plugin0_2_0::series,
        },
        additional_derives: [PartialEq],
        pub_export_macro: true,
        export_macro_name: "export_collector_world",
        default_bindings_module: "perfwatch_sdk::bindings::collector",
    });
}

/// The `channel` world's own export, `channel-api`.
pub mod channel {
    wit_bindgen::generate!({
        path: ["../wit", "wit/sdk.wit"],
        world: "perfwatch:sdk/channel@0.2.0",
        with: {
            "perfwatch:plugin/types@0.2.0": crate::bindings::imports::perfwatch::plugin0_2_0::types,
            "perfwatch:plugin/host@0.2.0": crate::bindings::imports::perfwatch::plugin0_2_0::host,
            "perfwatch:plugin/http@0.2.0": crate::bindings::imports::perfwatch::plugin0_2_0::http,
            "perfwatch:plugin/email@0.2.0": crate::bindings::imports::perfwatch::plugin0_2_0::email,
        },
        pub_export_macro: true,
        export_macro_name: "export_channel_world",
        default_bindings_module: "perfwatch_sdk::bindings::channel",
    });
}

/// The `exporter` world's own export, `exporter-api` and its `document` resource.
pub mod exporter {
    wit_bindgen::generate!({
        path: ["../wit", "wit/sdk.wit"],
        world: "perfwatch:sdk/exporter@0.2.0",
        with: {
            "perfwatch:plugin/types@0.2.0": crate::bindings::imports::perfwatch::plugin0_2_0::types,
            "perfwatch:plugin/host@0.2.0": crate::bindings::imports::perfwatch::plugin0_2_0::host,
        },
        additional_derives: [PartialEq],
        pub_export_macro: true,
        export_macro_name: "export_exporter_world",
        default_bindings_module: "perfwatch_sdk::bindings::exporter",
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use wit_parser::{PackageId, Resolve};

    /// The contract (`wit/`) and the SDK's pieces (`sdk/wit/sdk.wit`), parsed
    /// as `generate!` parses them.
    fn parse() -> (Resolve, Vec<PackageId>) {
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut resolve = Resolve::default();
        let (contract, _) = resolve.push_path(sdk.join("../wit")).unwrap();
        let (pieces, _) = resolve.push_path(sdk.join("wit/sdk.wit")).unwrap();
        (resolve, vec![contract, pieces])
    }

    /// A world's imports and exports, as `package/interface@version` names.
    fn world(resolve: &Resolve, packages: &[PackageId], name: &str) -> [BTreeSet<String>; 2] {
        let id = resolve.select_world(packages, Some(name)).unwrap();
        let world = &resolve.worlds[id];
        let imports = world.imports.keys();
        let exports = world.exports.keys();
        [
            imports.map(|key| resolve.name_world_key(key)).collect(),
            exports.map(|key| resolve.name_world_key(key)).collect(),
        ]
    }

    #[test]
    fn every_contract_world_is_the_union_of_its_pieces() {
        let (resolve, packages) = parse();
        let contract_worlds: BTreeSet<&str> = resolve.packages[packages[0]]
            .worlds
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            contract_worlds,
            ["channel", "collector", "exporter"].into(),
            "a world was added to or removed from wit/: bind it in sdk/wit/sdk.wit and bindings.rs"
        );
        let [config_imports, config_exports] =
            world(&resolve, &packages, "perfwatch:sdk/config@0.2.0");
        let [shared, _] = world(&resolve, &packages, "perfwatch:sdk/imports@0.2.0");
        for kind in contract_worlds {
            let [imports, exports] = world(
                &resolve,
                &packages,
                &format!("perfwatch:plugin/{kind}@0.2.0"),
            );
            let [piece_imports, piece_exports] =
                world(&resolve, &packages, &format!("perfwatch:sdk/{kind}@0.2.0"));
            assert_eq!(piece_imports, imports, "imports of {kind}");
            assert!(
                config_imports.is_subset(&imports),
                "config imports in {kind}"
            );
            assert!(shared.is_superset(&imports), "shared imports cover {kind}");
            let union: BTreeSet<String> = piece_exports.union(&config_exports).cloned().collect();
            assert_eq!(union, exports, "exports of {kind}");
            assert!(piece_exports.is_disjoint(&config_exports), "{kind}");
        }
    }
}
