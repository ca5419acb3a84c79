//! Two jobs at build time: embedding the dashboard (`ui/`) gzip-compressed,
//! and linking the `perfwatch` binary with the functions a running monitor
//! executes placed first and together (`link/hot-functions.txt`).
//!
//! The dashboard's files are compressed here, once, so the host serves
//! bytes straight from the binary and a build needs neither npm nor the
//! network: `ui/vendor/` holds the third-party files `cargo xtask
//! vendor-ui` copied from npm, `ui/src/` the page's own.
//!
//! The binary is about 80 MB of code, DuckDB's mostly, and Linux keeps
//! resident every page of it that was touched, plus 64 KiB around each. In
//! the default layout a steady monitor's few megabytes of executed code are
//! spread thinly over 30-40 MB of pages, which then count in its resident
//! set. With the executed functions packed together they fill a few
//! megabytes of pages. docs/storage.md ("Memory") has the figures and
//! `link/README.md` how the list is made.
//!
//! Only where the linker is known to be LLD (Rust's default on
//! x86_64-unknown-linux-gnu since 1.90), which reads the order from a list
//! of symbols; elsewhere the binary is linked in the default order.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

fn main() {
    embed_dashboard();
    link_hot_functions_first();
}

/// The directories whose files the host serves at `/` and `/assets/`.
const DASHBOARD_DIRS: &[&str] = &["../ui/src", "../ui/vendor"];

/// Writes each dashboard file gzip-compressed to OUT_DIR and a table of
/// them, `dashboard_assets.rs`, that `server/ui.rs` includes.
fn embed_dashboard() {
    let out_dir = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    let assets_dir = Path::new(&out_dir).join("dashboard");
    std::fs::create_dir_all(&assets_dir).expect("create OUT_DIR/dashboard");
    let mut files = Vec::new();
    for dir in DASHBOARD_DIRS {
        println!("cargo:rerun-if-changed={dir}");
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {dir}: {e}")) {
            let path = entry.expect("list the dashboard's files").path();
            if let Some(content_type) = content_type(&path) {
                files.push((path, content_type));
            }
        }
    }
    files.sort();
    let mut table = String::from("pub static ASSETS: &[Asset] = &[\n");
    let mut names = std::collections::BTreeSet::new();
    for (path, content_type) in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file names");
        assert!(
            names.insert(name.to_owned()),
            "two dashboard files are named {name}"
        );
        let content =
            std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&content).expect("gzip in memory");
        let gzip = encoder.finish().expect("gzip in memory");
        let gzip_path = assets_dir.join(format!("{name}.gz"));
        std::fs::write(&gzip_path, gzip).expect("write a compressed dashboard file");
        writeln!(
            table,
            "    Asset {{ name: {name:?}, content_type: {content_type:?}, etag: \"\\\"{:016x}\\\"\", size: {}, gzip: include_bytes!({:?}) }},",
            fnv1a(&content),
            content.len(),
            gzip_path.display().to_string(),
        )
        .expect("write to a String");
    }
    table.push_str("];\n");
    std::fs::write(Path::new(&out_dir).join("dashboard_assets.rs"), table)
        .expect("write dashboard_assets.rs");
}

/// The type a dashboard file is served as; other files (licences) are not served.
fn content_type(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()? {
        "html" => Some("text/html; charset=utf-8"),
        "js" => Some("text/javascript; charset=utf-8"),
        "css" => Some("text/css; charset=utf-8"),
        "svg" => Some("image/svg+xml"),
        _ => None,
    }
}

/// FNV-1a, 64 bits: a content hash for the ETag, stable across builds.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn link_hot_functions_first() {
    let list = Path::new("link/hot-functions.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    println!("cargo:rerun-if-env-changed=PERFWATCH_DEFAULT_LINK_ORDER");
    let target = std::env::var("TARGET").unwrap_or_default();
    let opted_out = std::env::var_os("PERFWATCH_DEFAULT_LINK_ORDER").is_some();
    if target != "x86_64-unknown-linux-gnu" || opted_out || !list.exists() {
        return;
    }
    // The linker is given a copy in OUT_DIR, not the checkout's file:
    // cargo fingerprints a workspace by paths relative to its root, so a
    // target directory shared by two checkouts (CI's fresh clone and the
    // working tree) reuses this script's output from the other one, and a
    // path into a checkout that was since deleted failed the link.
    let out_dir = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    let copy = Path::new(&out_dir).join("hot-functions.txt");
    std::fs::copy(list, &copy).expect("copy the hot function list to OUT_DIR");
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        copy.display()
    );
    // The list is made from one build; symbols another build lacks (a
    // changed generic instance, say) are skipped, not worth a warning each.
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}
