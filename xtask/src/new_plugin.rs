//! `cargo xtask new-plugin <kind> <name>`: creates a plugin crate under `plugins/<kind>s/` that builds, runs and passes its test as generated.
//!
//! The templates follow the shipped plugins and `perfwatch:plugin@0.2.0`:
//! a `//!` line saying what the crate owns, a serde config type checked by
//! `validate_config`, logic in pure functions with native unit tests, and
//! the SDK as the only dependency. The collector declares its series once
//! and returns readings; the channel sends the SDK's notification title
//! and text and maps HTTP answers to `DeliveryError`s; the exporter streams
//! its document, handling `continued` series entries. They are formatted as
//! `cargo fmt` would format them for any accepted name, so a fresh crate
//! passes the CI formatting check untouched; [`MAX_NAME_LEN`] is what makes
//! that hold.

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
//!
//! The series is declared once per instance and reported as a reading,
//! which costs the host far less than a sample named in full.

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{
    Collection, Collector, ConfigError, ConfigInfo, Handles, SeriesDescription, SeriesHandle,
    export_collector,
};

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

/// The handle of the heartbeat series, declared on the first call of each
/// instance (statics and handles both end with the instance).
static SERIES: Handles<()> = Handles::new();

struct {{Type}};

impl Collector for {{Type}} {
    fn collect() -> Result<Collection, String> {
        let options: Options = perfwatch_sdk::config()?;
        let heartbeat = SERIES.get_or_declare((), description)?;
        Ok(collection(heartbeat, &options))
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Options>(config, &[])
    }
}

export_collector!({{Type}});

/// The heartbeat series.
fn description() -> SeriesDescription {
    SeriesDescription::gauge(METRIC).help("The configured value, every tick")
}

/// Everything one tick reports; a pure function, so tests need no host.
fn collection(heartbeat: SeriesHandle, options: &Options) -> Collection {
    let mut collection = Collection::new();
    collection.reading(heartbeat, options.value);
    collection
}

#[cfg(test)]
mod tests {
    use super::{{Type}} as Plugin;
    use super::*;
    use perfwatch_sdk::Sample;

    #[test]
    fn reports_the_configured_value_or_one() {
        // Natively the SDK stands in for the host's `series.declare`.
        let heartbeat = description().declare().unwrap();
        let configured: Options = perfwatch_sdk::parse_config(r#"{"value": 2.5}"#).unwrap();
        let samples = collection(heartbeat, &configured).to_samples();
        assert_eq!(samples, vec![Sample::gauge(METRIC, 2.5)]);
        let default: Options = perfwatch_sdk::parse_config("{}").unwrap();
        let samples = collection(heartbeat, &default).to_samples();
        assert_eq!(samples, vec![Sample::gauge(METRIC, 1.0)]);
    }

    #[test]
    fn config_mistakes_are_named() {
        let error = ConfigError::new("value", r#"invalid type: string "high""#, "a number");
        let mistake = Plugin::validate_config(r#"{"value": "high"}"#);
        assert_eq!(mistake, Err(vec![error]));
        assert_eq!(Plugin::validate_config("{}"), Ok(ConfigInfo::default()));
    }
}
"##;

const CHANNEL: &str = r##"//! The {{name}} alert channel: posts each notification's title and text as JSON to the `url` of its config, or prints them to stdout (the host log) without one; the starting point for a real delivery.
//!
//! # Config
//!
//! ```toml
//! [[alerting.channels]]
//! type = "{{name}}"
//! config = { url = "https://hooks.example.com/T0/B0", max_bytes = 4000 }
//! ```
//!
//! - `url`: where to POST `{"title": …, "text": …}`; a secret key, since a
//!   webhook's URL is often its token. Without it, notifications go to
//!   stdout, which the host writes to its log.
//! - `max_bytes`: the longest text sent (default 4000); longer texts keep
//!   whole alerts and say how many they left out.

use perfwatch_sdk::http::Request;
use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::serde_json::{Value, json};
use perfwatch_sdk::{
    Channel, ConfigError, ConfigInfo, DeliveryError, Notification, export_channel,
};

/// Config keys whose values the host must redact.
const SECRET_KEYS: &[&str] = &["url"];

/// The channel's `config` table.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    /// Where notifications are POSTed; stdout when absent.
    #[serde(default)]
    url: Option<String>,
    /// The longest text sent, in bytes.
    #[serde(default = "default_max_bytes")]
    max_bytes: usize,
}

fn default_max_bytes() -> usize {
    4_000
}

struct {{Type}};

impl Channel for {{Type}} {
    fn deliver(notification: Notification) -> Result<(), DeliveryError> {
        let options: Options = perfwatch_sdk::config().map_err(DeliveryError::permanent)?;
        let message = message(&notification, options.max_bytes);
        let Some(url) = options.url else {
            println!("{}\n{}", message["title"], message["text"]);
            return Ok(());
        };
        // A timeout or a 5xx is retried, a 4xx is not, a 429 waits.
        let response = Request::post(url).json(&message)?.send()?;
        DeliveryError::check_response(&response)
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Options>(config, SECRET_KEYS)
    }
}

export_channel!({{Type}});

/// What is sent for `notification`; a pure function, so tests need no host.
fn message(notification: &Notification, max_bytes: usize) -> Value {
    json!({
        "title": notification.title(),
        "text": notification.text_within(max_bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::{{Type}} as Plugin;
    use super::*;
    use perfwatch_sdk::{Alert, AlertStatus, Label, Severity};

    fn notification() -> Notification {
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
            labels: vec![Label::new("host", "web-1")],
            annotations: vec![],
            starts_at_ms: 1_700_000_000_000,
            ends_at_ms: None,
            fingerprint: "threshold:system.cpuUsage/{}".into(),
            generator_url: String::new(),
        };
        Notification {
            receiver: "ops".into(),
            status: AlertStatus::Firing,
            group_key: "{}".into(),
            group_labels: vec![],
            common_labels: vec![],
            common_annotations: vec![],
            external_url: String::new(),
            alerts: vec![alert],
        }
    }

    #[test]
    fn sends_the_title_and_one_line_per_alert() {
        let text = "[CRITICAL] firing: CPU Usage: 97.5% (threshold: 90%) \
                    | system.cpuUsage = 97.5 (threshold 90) | host=\"web-1\"";
        let title = "[FIRING:1] threshold:system.cpuUsage (system)";
        let expected = json!({ "title": title, "text": text });
        assert_eq!(message(&notification(), 4_000), expected);
    }

    #[test]
    fn without_a_url_notifications_go_to_stdout() {
        // Natively the config is `{}`.
        assert_eq!(Plugin::deliver(notification()), Ok(()));
    }

    #[test]
    fn the_url_is_a_secret() {
        let config = r#"{"url": "https://hooks.example.com/T0"}"#;
        let info = ConfigInfo::with_secret_keys(SECRET_KEYS);
        assert_eq!(Plugin::validate_config(config), Ok(info));
        assert!(Plugin::validate_config(r#"{"max_bytes": -1}"#).is_err());
    }
}
"##;

const EXPORTER: &str = r##"//! The {{name}} exporter: streams the exported series as CSV, one row per point, the starting point for a real format.
//!
//! # Config
//!
//! ```toml
//! [[plugins]]
//! name = "{{name}}"
//! config = { header = true }
//! ```
//!
//! - `header`: whether the first row names the columns (default true).
//!
//! Alerts and bottlenecks are not part of this format, so the writer keeps
//! the SDK's default for them, which writes nothing.

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{
    ConfigError, ConfigInfo, DocumentType, DocumentWriter, ExportInfo, Exporter, Series,
    export_exporter,
};

/// The plugin's `config` table.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    /// Whether the first row names the columns.
    #[serde(default = "default_header")]
    header: bool,
}

fn default_header() -> bool {
    true
}

struct {{Type}};

impl Exporter for {{Type}} {
    type Document = Csv;

    fn begin(_info: ExportInfo) -> Result<Csv, String> {
        let options: Options = perfwatch_sdk::config()?;
        Ok(Csv::new(&options))
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Options>(config, &[])
    }
}

export_exporter!({{Type}});

/// One CSV document being written. It keeps only what the next call
/// needs, never the data: the host sends a range in batches.
struct Csv {
    /// The header row, until it is written.
    header: Option<&'static str>,
    /// `metric,labels,unit` of the open series: a long series arrives in
    /// several entries, and only the first (`continued == false`) names it.
    current: String,
}

impl Csv {
    fn new(options: &Options) -> Self {
        let header = "metric,labels,unit,timestamp_ms,value\n";
        Self {
            header: options.header.then_some(header),
            current: String::new(),
        }
    }
}

impl DocumentWriter for Csv {
    fn document_type(&self) -> DocumentType {
        DocumentType::new("csv", "text/csv")
    }

    fn write_series(&mut self, batch: Vec<Series>) -> Result<Vec<u8>, String> {
        let mut out = self.header.take().unwrap_or_default().to_owned();
        for entry in &batch {
            if !entry.continued {
                let labels: Vec<String> = entry
                    .labels
                    .iter()
                    .map(|label| format!("{}={}", label.key, label.value))
                    .collect();
                let fields = [entry.metric.as_str(), &labels.join(";"), &entry.unit];
                self.current = fields.map(field).join(",");
            }
            if entry.timestamps_ms.len() != entry.values.len() {
                return Err(format!("series {} has uneven points", self.current));
            }
            for (timestamp, value) in entry.timestamps_ms.iter().zip(&entry.values) {
                out.push_str(&format!("{},{timestamp},{value}\n", self.current));
            }
        }
        Ok(out.into_bytes())
    }

    fn finish(&mut self) -> Result<Vec<u8>, String> {
        // A range without series still gets its header row.
        Ok(self.header.take().unwrap_or_default().as_bytes().to_vec())
    }
}

/// Quotes a CSV field when it holds a separator, a quote or a line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::{{Type}} as Plugin;
    use super::*;
    use perfwatch_sdk::Label;

    fn info() -> ExportInfo {
        ExportInfo {
            start_ms: 0,
            end_ms: 3_000,
            series_count: 1,
            alert_count: 0,
            bottleneck_count: 0,
            options: "{}".into(),
        }
    }

    fn entry(continued: bool, timestamp_ms: i64, value: f64) -> Series {
        Series {
            metric: "system.load1".into(),
            unit: String::new(),
            labels: vec![Label::new("host", "a,b")],
            continued,
            timestamps_ms: vec![timestamp_ms],
            values: vec![value],
        }
    }

    #[test]
    fn streams_rows_across_continued_entries() {
        // Natively the config is `{}`: a header row.
        let mut csv = Plugin::begin(info()).unwrap();
        let mut bytes = csv.write_series(vec![entry(false, 1_000, 0.5)]).unwrap();
        bytes.extend(csv.write_series(vec![entry(true, 2_000, 0.75)]).unwrap());
        bytes.extend(csv.finish().unwrap());
        let expected = "metric,labels,unit,timestamp_ms,value\n\
                        system.load1,\"host=a,b\",,1000,0.5\n\
                        system.load1,\"host=a,b\",,2000,0.75\n";
        assert_eq!(String::from_utf8(bytes).unwrap(), expected);
    }

    #[test]
    fn an_empty_range_is_the_header_alone() {
        let mut csv = Csv::new(&Options { header: true });
        let header = b"metric,labels,unit,timestamp_ms,value\n";
        assert_eq!(csv.finish().unwrap(), header);
        let mut bare = Csv::new(&Options { header: false });
        assert_eq!(bare.finish().unwrap(), b"");
    }

    #[test]
    fn config_mistakes_are_named() {
        assert!(Plugin::validate_config(r#"{"header": "yes"}"#).is_err());
        assert_eq!(Plugin::validate_config("{}"), Ok(ConfigInfo::default()));
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
        for (kind, type_line, helpers) in [
            (
                "collector",
                "impl Collector for S3Collector {",
                &["SERIES.get_or_declare(", "collection.reading("][..],
            ),
            (
                "channel",
                "impl Channel for S3Channel {",
                &["notification.title()", "DeliveryError::check_response("],
            ),
            (
                "exporter",
                "impl Exporter for S3Exporter {",
                &["impl DocumentWriter for Csv {", "entry.continued"],
            ),
        ] {
            let dir = new_plugin(&root.0, kind, "s3").unwrap();
            let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            assert!(manifest.contains(&format!("description = \"perfwatch {kind} s3\"")));
            let lib = fs::read_to_string(dir.join("src/lib.rs")).unwrap();
            assert!(lib.contains(type_line), "{lib}");
            assert!(
                lib.contains("perfwatch_sdk::validate_config::<Options>("),
                "{lib}"
            );
            assert!(lib.contains("use super::S3"), "{lib}");
            for helper in helpers {
                assert!(lib.contains(helper), "{kind} uses {helper}: {lib}");
            }
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
