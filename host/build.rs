//! Links the `perfwatch` binary with the functions a running monitor
//! executes placed first and together (`link/hot-functions.txt`).
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

use std::path::Path;

fn main() {
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
