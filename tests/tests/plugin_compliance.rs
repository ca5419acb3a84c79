//! The compliance harness: every shipped plugin in `plugins/dist` must be a
//! component of a perfwatch world at the version this host serves, and a
//! smoke call of it must not crash. A component built against another WIT
//! version is refused with both versions named.

use std::ffi::OsStr;

use perfwatch_tests::{fixture_plugin, repo_root, run_cli};

/// `perfwatch plugins check <file>`: whether it passed, and what it said.
fn check(file: &std::path::Path) -> (bool, String) {
    let out = run_cli([OsStr::new("plugins"), OsStr::new("check"), file.as_os_str()]);
    (out.success, out.text())
}

/// The world each shipped plugin must declare.
const SHIPPED: &[(&str, &str)] = &[
    ("alertmanager", "channel"),
    ("console", "channel"),
    ("csv", "exporter"),
    ("datadog", "exporter"),
    ("discord", "channel"),
    ("email", "channel"),
    ("grafana", "exporter"),
    ("http-json", "collector"),
    ("http-probe", "collector"),
    ("json", "exporter"),
    ("loadavg", "collector"),
    ("newrelic", "exporter"),
    // Written in Python: plugins/collectors/pressure, tests/tests/second_language.rs.
    ("pressure", "collector"),
    ("process", "collector"),
    ("prometheus", "collector"),
    ("prometheus-text", "exporter"),
    ("slack", "channel"),
    ("summary", "exporter"),
    ("webhook", "channel"),
];

#[test]
fn every_shipped_plugin_passes_the_compliance_checks() {
    let dist = repo_root().join("plugins/dist");
    let mut found: Vec<String> = perfwatch_tests::wasm_files(&dist)
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let expected: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        found, expected,
        "plugins/dist holds exactly the shipped plugins (run `cargo xtask plugins`)"
    );
    for (name, world) in SHIPPED {
        let (ok, text) = check(&dist.join(format!("{name}.wasm")));
        assert!(ok, "{name}: {text}");
        assert!(
            text.contains(&format!("world:       {world} (perfwatch:plugin@0.2.0)")),
            "{name}: {text}"
        );
        assert!(
            text.contains("perfwatch:plugin/types@0.2.0"),
            "{name} imports the shared types: {text}"
        );
        assert!(
            text.contains("config:      accepted") || text.contains("config:      refused: plugin"),
            "{name} answers about its config: {text}"
        );
        for crash in ["crashed", "exceeded its", "failed to start"] {
            assert!(!text.contains(crash), "{name} smoke call: {text}");
        }
    }
}

#[test]
fn a_component_built_against_another_wit_version_is_refused() {
    // Same length, so the binary stays well-formed: every `@0.2.0` name the
    // component imports and exports becomes `@0.3.0`.
    let bytes = std::fs::read(fixture_plugin("fixture-counter")).unwrap();
    let patched = replace_all(&bytes, b"perfwatch:plugin/", b"@0.2.0", b"@0.3.0");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("future.wasm");
    std::fs::write(&file, patched).unwrap();
    let (ok, text) = check(&file);
    assert!(!ok, "{text}");
    assert!(
        text.contains(
            "built against perfwatch:plugin@0.3.0; this host serves perfwatch:plugin@0.2.0 \
             (and 0.1.0 through an adapter)"
        ),
        "{text}"
    );
}

#[test]
fn components_built_against_0_1_are_served_through_the_adapter() {
    for (fixture, world) in [
        ("fixture-v01-collector", "collector"),
        ("fixture-v01-channel", "channel"),
        ("fixture-v01-exporter", "exporter"),
    ] {
        let (ok, text) = check(&fixture_plugin(fixture));
        assert!(ok, "{fixture}: {text}");
        assert!(
            text.contains(&format!(
                "world:       {world} (perfwatch:plugin@0.1.0 (deprecated))"
            )),
            "{fixture}: {text}"
        );
        assert!(
            text.contains("config:      not checked: the component has no validate-config"),
            "{fixture}: {text}"
        );
        for crash in ["crashed", "exceeded its", "failed to start", "failed:"] {
            assert!(!text.contains(crash), "{fixture} smoke call: {text}");
        }
    }
}

#[test]
fn a_file_that_is_not_a_component_is_refused_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junk.wasm");
    std::fs::write(&file, b"not wasm at all").unwrap();
    let (ok, text) = check(&file);
    assert!(!ok);
    assert!(text.contains("is not a valid component"), "{text}");
}

/// Replaces `old` with `new` wherever it follows `prefix` within a name.
fn replace_all(bytes: &[u8], prefix: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut i = 0;
    while let Some(at) = out[i..].windows(prefix.len()).position(|w| w == prefix) {
        let start = i + at + prefix.len();
        let end = (start + 64).min(out.len());
        if let Some(v) = out[start..end].windows(old.len()).position(|w| w == old) {
            out[start + v..start + v + old.len()].copy_from_slice(new);
        }
        i = start;
    }
    out
}
