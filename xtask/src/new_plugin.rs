//! `cargo xtask new-plugin <kind> <name>`: creates a plugin crate under `plugins/<kind>s/` that builds, runs and passes its test as generated.
//!
//! The templates follow the shipped plugins: a `//!` line saying what the
//! crate owns, logic in a pure function with one native unit test, and the
//! SDK as the only dependency. They are formatted as `cargo fmt` would
//! format them for any accepted name, so a fresh crate passes the CI
//! formatting check untouched; [`MAX_NAME_LEN`] is what makes that hold.

use std::fs;
use std::path::{Path, PathBuf};

/// Longest accepted plugin name. Every line of the templates that holds a
/// name stays within rustfmt's 100 columns up to this length, and longer
/// names make unwieldy metric and type names anyway.
pub const MAX_NAME_LEN: usize = 40;

/// The plugin kinds, as `new_plugin` spells them.
pub const KINDS: [&str; 3] = ["collector", "channel", "exporter"];

/// Names Cargo refuses as package names, or that would collide with a
/// crate every plugin can see, separated by whitespace: Rust keywords (a lib target cannot be
/// named after one), the standard library's crates, and file names Windows
/// reserves.
const RESERVED_NAMES: &str = "\
    abstract alloc as async aux await become box break con const continue core crate do dyn \
    else enum extern false final fn for gen if impl in let loop macro match mod move mut nul \
    override prn priv proc-macro pub ref return self static std struct super test trait true \
    try type typeof unsafe unsized use virtual where while yield";

/// Creates `plugins/<kind>s/<name>/` under the workspace `root`: a `Cargo.toml`
/// (workspace-inherited package fields, a `cdylib`, `perfwatch-sdk` as the
/// only dependency) and a `src/lib.rs` for `kind`, which is `collector`,
/// `channel` or `exporter`.
///
/// `name` must be 1 to [`MAX_NAME_LEN`] lowercase ASCII letters, digits and
/// `-`, start with a letter, not end with `-` nor hold `--`, and not be a
/// reserved word or the name of a package the workspace already knows
/// (its members and everything in `Cargo.lock`), since `cargo -p <name>`
/// must stay unambiguous. Refuses an existing `plugins/<kind>s/<name>` and
/// writes nothing then. On success returns the new crate's directory; the
/// crate joins the workspace through its `plugins/<kind>s/*` member glob, so
/// `cargo build --release --target wasm32-wasip2 -p <name>` and
/// `cargo test -p <name>` work at once.
pub fn new_plugin(root: &Path, kind: &str, name: &str) -> Result<PathBuf, String> {
    let template = match kind {
        "collector" => COLLECTOR,
        "channel" => CHANNEL,
        "exporter" => EXPORTER,
        _ => {
            return Err(format!(
                "unknown plugin kind `{kind}`; use one of {}",
                KINDS.join(", ")
            ));
        }
    };
    check_name(name)?;
    let plugins = root.join("plugins");
    if !plugins.is_dir() {
        return Err(format!(
            "{} has no plugins/ directory; is it the perfwatch workspace?",
            root.display()
        ));
    }
    let group = plugins.join(format!("{kind}s"));
    let dir = group.join(name);
    if dir.exists() {
        return Err(format!(
            "{} already exists; pick another name or remove it",
            dir.display()
        ));
    }
    if let Some(place) = known_package(root, name)? {
        return Err(format!(
            "a package called `{name}` already exists ({place}); `cargo -p {name}` would be ambiguous, so pick another name"
        ));
    }

    let type_name = format!("{}{}", upper_camel(name), upper_camel(kind));
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{kind}}", kind)
            .replace("{{Type}}", &type_name)
            .replace("{{component}}", &lower_camel(name))
    };
    let written = fs::create_dir_all(dir.join("src"))
        .and_then(|()| fs::write(dir.join("Cargo.toml"), fill(CARGO_TOML)))
        .and_then(|()| fs::write(dir.join("src").join("lib.rs"), fill(template)));
    if let Err(err) = written {
        // A half-written crate is a workspace member without a manifest or
        // a lib, which breaks every cargo command in the workspace.
        let _ = fs::remove_dir_all(&dir);
        return Err(format!("cannot create {}: {err}", dir.display()));
    }
    Ok(dir)
}

fn check_name(name: &str) -> Result<(), String> {
    let rule = format!(
        "a plugin name is 1 to {MAX_NAME_LEN} lowercase ASCII letters, digits and `-`, starting with a letter, like `disk-io`"
    );
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!(
            "invalid plugin name {name:?} ({} characters): {rule}",
            name.chars().count()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "invalid plugin name {name:?}: {bad:?} is not allowed; {rule}"
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!(
            "invalid plugin name {name:?}: it must start with a letter; {rule}"
        ));
    }
    if name.ends_with('-') || name.contains("--") {
        return Err(format!(
            "invalid plugin name {name:?}: `-` separates words, so it cannot end the name or repeat"
        ));
    }
    if RESERVED_NAMES
        .split_whitespace()
        .any(|reserved| reserved == name)
    {
        return Err(format!(
            "invalid plugin name {name:?}: Cargo reserves it (a Rust keyword, a standard crate or a Windows device name)"
        ));
    }
    Ok(())
}

/// Where a package called `name` is already known: a workspace member's
/// manifest or `Cargo.lock`.
fn known_package(root: &Path, name: &str) -> Result<Option<String>, String> {
    let mut manifests: Vec<PathBuf> = ["host", "sdk", "tests", "xtask"]
        .iter()
        .map(|member| root.join(member).join("Cargo.toml"))
        .collect();
    for group in crate::SHIPPED_PLUGIN_DIRS
        .iter()
        .chain([&crate::FIXTURE_PLUGIN_DIR])
    {
        if let Ok(entries) = fs::read_dir(root.join(group)) {
            manifests.extend(entries.flatten().map(|e| e.path().join("Cargo.toml")));
        }
    }
    for manifest in manifests {
        // Members that do not exist (yet) have nothing to collide with.
        let Ok(text) = fs::read_to_string(&manifest) else {
            continue;
        };
        if package_names(&text).any(|known| known == name) {
            return Ok(Some(manifest.display().to_string()));
        }
    }
    let lock = root.join("Cargo.lock");
    match fs::read_to_string(&lock) {
        Ok(text) if package_names(&text).any(|known| known == name) => {
            Ok(Some(lock.display().to_string()))
        }
        Ok(_) => Ok(None),
        // A workspace that was never built has no lock file yet.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(format!("cannot read {}: {err}", lock.display())),
    }
}

/// The values of `name = "..."` lines: package names in a manifest's
/// `[package]` and in every `[[package]]` of a lock file. Good enough for
/// both files as Cargo writes them; no TOML parser is needed.
fn package_names(toml: &str) -> impl Iterator<Item = &str> {
    toml.lines().filter_map(|line| {
        let value = line.trim().strip_prefix("name")?.trim_start();
        let value = value.strip_prefix('=')?.trim();
        value.strip_prefix('"')?.strip_suffix('"')
    })
}

/// `disk-io` → `DiskIo`.
fn upper_camel(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `disk-io` → `diskIo`, the metric component the collector template uses.
fn lower_camel(name: &str) -> String {
    let upper = upper_camel(name);
    let mut chars = upper.chars();
    chars
        .next()
        .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

const CARGO_TOML: &str = r#"[package]
name = "{{name}}"
description = "perfwatch {{kind}} {{name}}"
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[lib]
crate-type = ["cdylib"]

[dependencies]
perfwatch-sdk.workspace = true
"#;

const COLLECTOR: &str = r##"//! The {{name}} collector: reports `{{component}}.heartbeat` every tick, the starting point for a real measurement.
//!
//! # Config
//!
//! ```toml
//! [[plugins]]
//! name = "{{name}}"
//! config = { value = 1.0 }
//! ```
//!
//! - `value`: what `{{component}}.heartbeat` reports (default 1).

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{Collector, Sample, export_collector};

/// The one metric this collector reports.
const METRIC: &str = "{{component}}.heartbeat";

/// The plugin's `config` table.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    /// The value reported as the heartbeat.
    #[serde(default = "default_value")]
    value: f64,
}

fn default_value() -> f64 {
    1.0
}

struct {{Type}};

impl Collector for {{Type}} {
    fn collect() -> Result<Vec<Sample>, String> {
        let options: Options = perfwatch_sdk::config()?;
        Ok(samples(&options))
    }
}

export_collector!({{Type}});

/// Everything one tick reports; a pure function, so tests need no host.
fn samples(options: &Options) -> Vec<Sample> {
    vec![Sample::gauge(METRIC, options.value)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_configured_value_or_one() {
        let configured: Options = perfwatch_sdk::parse_config(r#"{"value": 2.5}"#).unwrap();
        assert_eq!(samples(&configured), vec![Sample::gauge(METRIC, 2.5)]);
        let default: Options = perfwatch_sdk::parse_config("{}").unwrap();
        assert_eq!(samples(&default), vec![Sample::gauge(METRIC, 1.0)]);
    }
}
"##;

const CHANNEL: &str = r##"//! The {{name}} alert channel: prints each alert to stdout, which the host writes to its log, the starting point for a real delivery.

use perfwatch_sdk::{Alert, AlertStatus, Channel, export_channel};

struct {{Type}};

impl Channel for {{Type}} {
    fn deliver(alert: Alert) -> Result<(), String> {
        println!("{}", render(&alert));
        Ok(())
    }
}

export_channel!({{Type}});

/// The text delivered for `alert`; a pure function, so tests need no host.
fn render(alert: &Alert) -> String {
    let status = match alert.status {
        AlertStatus::Firing => "firing",
        AlertStatus::Resolved => "resolved",
    };
    format!(
        "{status}: {} ({} = {})",
        alert.message, alert.metric, alert.value
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::Severity;

    #[test]
    fn renders_status_message_and_value() {
        let alert = Alert {
            id: "threshold:system.cpuUsage/{}@1700000000000".into(),
            rule: "threshold:system.cpuUsage".into(),
            severity: Severity::Critical,
            status: AlertStatus::Firing,
            metric: "system.cpuUsage".into(),
            value: 97.5,
            threshold: 90.0,
            message: "CPU Usage: 97.5% (threshold: 90%)".into(),
            component: "system".into(),
            labels: vec![],
            timestamp_ms: 1_700_000_000_000,
        };
        assert_eq!(
            render(&alert),
            "firing: CPU Usage: 97.5% (threshold: 90%) (system.cpuUsage = 97.5)"
        );
    }
}
"##;

const EXPORTER: &str = r##"//! The {{name}} exporter: renders a short plain-text summary of the exported range, the starting point for a real format.

use perfwatch_sdk::{Artifact, ExportRequest, Exporter, export_exporter};

struct {{Type}};

impl Exporter for {{Type}} {
    fn export(request: ExportRequest) -> Result<Artifact, String> {
        Ok(Artifact {
            extension: "txt".into(),
            media_type: "text/plain; charset=utf-8".into(),
            bytes: render(&request).into_bytes(),
        })
    }
}

export_exporter!({{Type}});

/// The document for `request`; a pure function, so tests need no host.
fn render(request: &ExportRequest) -> String {
    let mut text = format!("range {}..{} ms\n", request.start_ms, request.end_ms);
    for series in &request.series {
        text.push_str(&format!(
            "{}: {} points\n",
            series.metric,
            series.values.len()
        ));
    }
    text.push_str(&format!("{} alerts\n", request.alerts.len()));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::Series;

    #[test]
    fn summarises_series_and_alerts() {
        let request = ExportRequest {
            start_ms: 0,
            end_ms: 60_000,
            series: vec![Series {
                metric: "system.load1".into(),
                unit: String::new(),
                labels: vec![],
                timestamps_ms: vec![0, 30_000],
                values: vec![0.5, 0.75],
            }],
            alerts: vec![],
            bottlenecks: vec![],
        };
        assert_eq!(
            render(&request),
            "range 0..60000 ms\nsystem.load1: 2 points\n0 alerts\n"
        );
    }
}
"##;

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory shaped like the workspace: `plugins/collectors/`
    /// with one existing crate and a lock file naming a dependency.
    struct ScratchRoot(PathBuf);

    impl ScratchRoot {
        fn new(test: &str) -> Self {
            let root = std::env::temp_dir()
                .join(format!("xtask-new-plugin-{}-{test}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(root.join("plugins/collectors/loadavg")).unwrap();
            fs::write(
                root.join("plugins/collectors/loadavg/Cargo.toml"),
                "[package]\nname = \"loadavg\"\n",
            )
            .unwrap();
            fs::write(
                root.join("Cargo.lock"),
                "version = 4\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.228\"\n",
            )
            .unwrap();
            Self(root)
        }
    }

    impl Drop for ScratchRoot {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn creates_a_collector_crate() {
        let root = ScratchRoot::new("collector");
        let dir = new_plugin(&root.0, "collector", "disk-io").unwrap();
        assert_eq!(dir, root.0.join("plugins/collectors/disk-io"));
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(manifest.starts_with("[package]\nname = \"disk-io\"\n"));
        assert!(manifest.contains("crate-type = [\"cdylib\"]"));
        assert!(manifest.contains("perfwatch-sdk.workspace = true"));
        let lib = fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(lib.starts_with("//! The disk-io collector:"));
        assert!(lib.contains("struct DiskIoCollector;"));
        assert!(lib.contains("export_collector!(DiskIoCollector);"));
        assert!(lib.contains("const METRIC: &str = \"diskIo.heartbeat\";"));
        assert!(!lib.contains("{{"), "unfilled placeholder in {lib}");
    }

    #[test]
    fn every_kind_fills_every_placeholder() {
        let root = ScratchRoot::new("kinds");
        for (kind, type_line) in [
            ("collector", "impl Collector for S3Collector {"),
            ("channel", "impl Channel for S3Channel {"),
            ("exporter", "impl Exporter for S3Exporter {"),
        ] {
            let dir = new_plugin(&root.0, kind, "s3").unwrap();
            let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            assert!(manifest.contains(&format!("description = \"perfwatch {kind} s3\"")));
            let lib = fs::read_to_string(dir.join("src/lib.rs")).unwrap();
            assert!(lib.contains(type_line), "{lib}");
            assert!(!lib.contains("{{"), "{lib}");
            assert!(!manifest.contains("{{"), "{manifest}");
            fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn refuses_bad_names() {
        let root = ScratchRoot::new("names");
        let cases = [
            ("", "invalid plugin name \"\" (0 characters)"),
            ("Disk", "invalid plugin name \"Disk\": 'D' is not allowed"),
            (
                "disk_io",
                "invalid plugin name \"disk_io\": '_' is not allowed",
            ),
            (
                "disk io",
                "invalid plugin name \"disk io\": ' ' is not allowed",
            ),
            (
                "../evil",
                "invalid plugin name \"../evil\": '.' is not allowed",
            ),
            (
                "9lives",
                "invalid plugin name \"9lives\": it must start with a letter",
            ),
            (
                "-x",
                "invalid plugin name \"-x\": it must start with a letter",
            ),
            (
                "disk-",
                "invalid plugin name \"disk-\": `-` separates words",
            ),
            (
                "disk--io",
                "invalid plugin name \"disk--io\": `-` separates words",
            ),
            ("fn", "invalid plugin name \"fn\": Cargo reserves it"),
            ("test", "invalid plugin name \"test\": Cargo reserves it"),
        ];
        for (name, start) in cases {
            let err = new_plugin(&root.0, "collector", name).unwrap_err();
            assert!(err.starts_with(start), "{name:?}: {err}");
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert!(new_plugin(&root.0, "collector", &long).is_err());
        assert!(new_plugin(&root.0, "collector", &"a".repeat(MAX_NAME_LEN)).is_ok());
    }

    #[test]
    fn refuses_existing_directories_and_known_packages() {
        let root = ScratchRoot::new("existing");
        let err = new_plugin(&root.0, "collector", "loadavg").unwrap_err();
        assert!(
            err.ends_with(
                "plugins/collectors/loadavg already exists; pick another name or remove it"
            ),
            "{err}"
        );
        // Another world's directory is free, but the package name is not.
        let err = new_plugin(&root.0, "channel", "loadavg").unwrap_err();
        assert!(
            err.starts_with("a package called `loadavg` already exists (")
                && err.contains("plugins/collectors/loadavg/Cargo.toml"),
            "{err}"
        );
        assert!(!root.0.join("plugins/channels/loadavg").exists());
        let err = new_plugin(&root.0, "channel", "serde").unwrap_err();
        assert!(
            err.starts_with("a package called `serde` already exists (")
                && err.contains("Cargo.lock"),
            "{err}"
        );
        assert!(!root.0.join("plugins/channels/serde").exists());
    }

    #[test]
    fn refuses_unknown_kinds_and_non_workspaces() {
        let root = ScratchRoot::new("kind");
        assert_eq!(
            new_plugin(&root.0, "sink", "x").unwrap_err(),
            "unknown plugin kind `sink`; use one of collector, channel, exporter"
        );
        let nowhere = root.0.join("plugins/collectors/loadavg");
        let err = new_plugin(&nowhere, "collector", "x").unwrap_err();
        assert!(
            err.ends_with("has no plugins/ directory; is it the perfwatch workspace?"),
            "{err}"
        );
    }

    #[test]
    fn camel_case() {
        assert_eq!(upper_camel("disk-io"), "DiskIo");
        assert_eq!(upper_camel("s3-usage2"), "S3Usage2");
        assert_eq!(lower_camel("http-json"), "httpJson");
        assert_eq!(lower_camel("x"), "x");
    }
}
