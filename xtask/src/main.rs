//! `cargo xtask <task>`: building plugins, running the monitor and the
//! test suite. Needs nothing but cargo (and rustup to add the wasm target);
//! Python plugins need python3, and installs their toolchain themselves.

mod new_plugin;
mod python_plugins;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The target plugins are built for: components, directly.
const WASM_TARGET: &str = "wasm32-wasip2";

/// Directories of the shipped plugin crates, one per world; each
/// subdirectory is a crate. `new-plugin` creates `plugins/<kind>s/<name>`.
const SHIPPED_PLUGIN_DIRS: &[&str] = &[
    "plugins/collectors",
    "plugins/channels",
    "plugins/exporters",
];
/// Where the shipped plugins' components are copied, for `plugins_dir`.
const PLUGIN_DIST: &str = "plugins/dist";
/// Plugins that exist only to drive host tests; their components stay in
/// the target directory, where the tests find them next to their own
/// executables.
const FIXTURE_PLUGIN_DIR: &str = "tests/fixture-plugins";

const USAGE: &str = "\
usage: cargo xtask <task> [args]

tasks:
  plugins        build every plugin (plugins/*/ and tests/fixture-plugins/) for wasm32-wasip2
                 in one cargo invocation and copy the shipped ones to plugins/dist/; Python plugins
                 (plugins/*/NAME/app.py) with the pinned componentize-py, when their sources changed
  serve [ARGS]   build the plugins and the workspace (release, as `test` builds it), then
                 run `perfwatch serve ARGS`
  test           install the test peers, build the plugins, check formatting, run the whole
                 test suite and clippy (release), and check that `serve` would rebuild nothing
  bench [SECTION…]
                 install the baselines (Debian's prometheus), build everything (release),
                 run the benchmarks and write BENCHMARKS.md; with sections (plugins, rules,
                 latency, storage, page…) run only those and print the report without writing it
  vendor-ui      install the dashboard's npm packages (ui/package-lock.json) and copy the files the
                 page loads into ui/vendor/, which is committed: building needs neither npm nor network
  new-plugin KIND NAME
                 create plugins/KINDs/NAME, a collector, channel or exporter that builds and
                 loads without edits
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("plugins") => build_plugins(),
        Some("serve") => build_plugins().and_then(|()| serve(&args[1..])),
        Some("test") => install_packages("test peers", TEST_PACKAGES)
            .and_then(|()| build_plugins())
            .and_then(|()| test()),
        Some("bench") => install_packages("benchmark baselines", BENCH_PACKAGES)
            .and_then(|()| build_plugins())
            .and_then(|()| bench(&args[1..])),
        Some("vendor-ui") => vendor_ui(),
        Some("new-plugin") => match &args[1..] {
            [kind, name] => new_plugin::new_plugin(&root(), kind, name).map(|dir| {
                println!(
                    "xtask: created {}; `cargo xtask plugins` builds it into plugins/dist",
                    dir.display()
                );
            }),
            _ => {
                Err("usage: cargo xtask new-plugin <collector|channel|exporter> <name>".to_owned())
            }
        },
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root. Read from the `CARGO_MANIFEST_DIR` that `cargo run`
/// sets at run time, not the compile-time one: clones at different paths
/// share one target directory, and cargo does not rebuild xtask when only
/// the checkout's path changed.
fn root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// Variables `cargo run` sets for xtask itself, which must not reach the
/// cargo that xtask starts: build scripts that watch them (ring's watches
/// `CARGO_MANIFEST_DIR`) would rerun, and through ring's dependents DuckDB's
/// C++ would be rebuilt, about 20 minutes here, whenever xtask and a plain
/// `cargo` invocation take turns.
const CARGO_RUN_VARIABLES: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_RUSTC_CURRENT_DIR",
];

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    for (key, _) in std::env::vars_os() {
        let inherited_from_cargo_run = key
            .to_str()
            .is_some_and(|k| k.starts_with("CARGO_PKG_") || CARGO_RUN_VARIABLES.contains(&k));
        if inherited_from_cargo_run {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}

/// Adds the wasm target with rustup when it is missing.
fn ensure_wasm_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup is needed to add the {WASM_TARGET} target: {e}"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

/// Package names of the crates directly under `dir`.
fn plugin_packages(dir: &Path) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(_) => return Ok(names),
    };
    for entry in entries.flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let name = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("name")
                    .map(str::trim)
                    .and_then(|r| r.strip_prefix('='))
            })
            .map(|v| v.trim().trim_matches('"').to_owned())
            .ok_or_else(|| format!("{} has no package name", manifest.display()))?;
        names.push(name);
    }
    names.sort();
    Ok(names)
}

fn build_plugins() -> Result<(), String> {
    ensure_wasm_target()?;
    let root = root();
    let mut shipped = Vec::new();
    for dir in SHIPPED_PLUGIN_DIRS {
        shipped.extend(plugin_packages(&root.join(dir))?);
    }
    let fixtures = plugin_packages(&root.join(FIXTURE_PLUGIN_DIR))?;
    let mut build = cargo();
    build.args(["build", "--release", "--target", WASM_TARGET]);
    for p in shipped.iter().chain(&fixtures) {
        build.args(["-p", p]);
    }
    run(&mut build)?;
    let out_dir = target_dir().join(WASM_TARGET).join("release");
    let dist = root.join(PLUGIN_DIST);
    std::fs::create_dir_all(&dist).map_err(|e| format!("cannot create {}: {e}", dist.display()))?;
    // dist holds exactly the current plugins: a renamed or removed
    // plugin's old component must not linger and be loaded.
    for old in std::fs::read_dir(&dist).into_iter().flatten().flatten() {
        if old.path().extension().is_some_and(|e| e == "wasm") {
            let _ = std::fs::remove_file(old.path());
        }
    }
    for p in shipped {
        let built = out_dir.join(format!("{}.wasm", p.replace('-', "_")));
        let dest = dist.join(format!("{p}.wasm"));
        std::fs::copy(&built, &dest)
            .map_err(|e| format!("cannot copy {} to {}: {e}", built.display(), dest.display()))?;
    }
    python_plugins::build(&root, SHIPPED_PLUGIN_DIRS, &dist)?;
    println!("xtask: components in {}", dist.display());
    Ok(())
}

/// The dashboard's third-party files: where npm puts them (under
/// `ui/node_modules/`) and their name in `ui/vendor/`, where the host's
/// build embeds them from.
const VENDORED_UI_FILES: &[(&str, &str)] = &[
    ("uplot/dist/uPlot.iife.min.js", "uPlot.iife.min.js"),
    ("uplot/dist/uPlot.min.css", "uPlot.min.css"),
    ("uplot/LICENSE", "uPlot.LICENSE"),
];

/// Installs the pinned npm packages of `ui/` and copies the files the
/// page loads into `ui/vendor/`.
fn vendor_ui() -> Result<(), String> {
    let ui = root().join("ui");
    run(Command::new("npm")
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .current_dir(&ui))
    .map_err(|e| format!("{e}\nthe dashboard's packages come from npm (Node 20 or newer)"))?;
    let vendor = ui.join("vendor");
    std::fs::create_dir_all(&vendor)
        .map_err(|e| format!("cannot create {}: {e}", vendor.display()))?;
    for (from, to) in VENDORED_UI_FILES {
        let source = ui.join("node_modules").join(from);
        std::fs::copy(&source, vendor.join(to))
            .map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
    }
    println!(
        "xtask: vendored the dashboard's packages into {}",
        vendor.display()
    );
    Ok(())
}

/// Debian packages the tests run as real peers: node_exporter for the
/// prometheus collector plugin, Prometheus itself for the remote-write
/// receiver, Alertmanager for the alertmanager channel plugin, aiosmtpd
/// (for Debian's own python3) as the email channel's relay and openssl for
/// the relay's self-signed certificate; Chromium opens the dashboard.
const TEST_PACKAGES: &[&str] = &[
    "chromium",
    "prometheus-node-exporter",
    "prometheus",
    "prometheus-alertmanager",
    "python3-aiosmtpd",
    "openssl",
];

/// Debian packages the benchmarks measure perfwatch against (`prometheus`
/// brings the server and promtool) or with (Chromium loads the dashboard).
const BENCH_PACKAGES: &[&str] = &["prometheus", "chromium"];

/// Installs the packages that are missing (idempotent: installed
/// packages are left alone). Uses sudo when not root.
fn install_packages(purpose: &str, packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg")
                .args(["-s", p])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("xtask: installing {purpose}: {}", missing.join(" "));
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let apt = |args: &[&str]| {
        let mut cmd = if is_root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        run(&mut cmd)
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&missing);
    apt(&install).map_err(|e| {
        format!(
            "{e}\nthe {purpose} are these Debian packages: {}",
            missing.join(" ")
        )
    })
}

/// Runs the benchmarks; the whole run is written to BENCHMARKS.md, a run
/// of some `sections` is only printed.
fn bench(sections: &[String]) -> Result<(), String> {
    run(cargo().args(["build", "--release", "--workspace"]))?;
    let binary = target_dir().join("release").join("perfwatch-bench");
    let output = Command::new(&binary)
        .args(sections)
        .current_dir(root())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if !output.status.success() {
        return Err(format!("{} failed ({})", binary.display(), output.status));
    }
    let report = String::from_utf8_lossy(&output.stdout);
    print!("{report}");
    if !sections.is_empty() {
        return Ok(());
    }
    let path = root().join("BENCHMARKS.md");
    std::fs::write(&path, report.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("xtask: wrote {}", path.display());
    Ok(())
}

/// The one cargo invocation that builds the workspace, the `perfwatch`
/// binary included (host/tests/ needs it), for both README commands:
/// `cargo run -p perfwatch` or `cargo build -p` resolve features
/// differently from the test build, so whichever ran second rebuilt about
/// thirty crates, and at worst DuckDB's C++.
const WORKSPACE_BUILD: &[&str] = &["test", "--release", "--workspace", "--no-run"];

/// Builds everything the tests build, then runs the built `perfwatch`.
fn serve(args: &[String]) -> Result<(), String> {
    run(cargo().args(WORKSPACE_BUILD))?;
    let binary = target_dir().join("release").join("perfwatch");
    run(Command::new(&binary)
        .arg("serve")
        .args(args)
        .current_dir(root()))
}

fn test() -> Result<(), String> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))
        .map_err(|e| format!("{e}\nrun `cargo fmt --all` to fix the formatting"))?;
    run(cargo().args(WORKSPACE_BUILD))?;
    run(cargo().args(["test", "--release", "--workspace"]))?;
    // Release, like the build: a dev-profile check would run DuckDB's
    // build script again and compile its C++ a second time.
    run(cargo().args([
        "clippy",
        "--release",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
    .map_err(|e| format!("{e}\nclippy's findings are above"))?;
    nothing_left_to_build()
}

/// Checks that `cargo xtask serve` after the tests would build nothing:
/// running the tests, and clippy, must not invalidate what they built
/// (a test writing into the source tree, a build script watching a file
/// the tests touch, a variable that differs between the two commands).
fn nothing_left_to_build() -> Result<(), String> {
    let output = cargo()
        .args(WORKSPACE_BUILD)
        .args(["--message-format=json"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("{WORKSPACE_BUILD:?} failed ({})", output.status));
    }
    let stale = rebuilt_units(&String::from_utf8_lossy(&output.stdout));
    if stale.is_empty() {
        println!("xtask: the serve build is up to date after the tests");
        Ok(())
    } else {
        Err(format!(
            "after the tests, `cargo xtask serve` rebuilt: {}",
            stale.join(", ")
        ))
    }
}

/// The packages cargo compiled anew, from its JSON messages: an artifact
/// that was up to date says `"fresh":true`.
fn rebuilt_units(messages: &str) -> Vec<String> {
    messages
        .lines()
        .filter(|l| l.contains(r#""reason":"compiler-artifact""#) && l.contains(r#""fresh":false"#))
        .map(|l| {
            l.split(r#""package_id":""#)
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("?")
                .to_owned()
        })
        .collect()
}
