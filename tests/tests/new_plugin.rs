//! `cargo xtask new-plugin` end to end: a freshly generated plugin of each
//! kind builds for wasm32-wasip2 without an edit and works in a running
//! host. The plugins are generated into a scratch copy of the workspace
//! (the SDK, the WIT package and the lock file), never into this one.

use std::path::{Path, PathBuf};
use std::process::Command;

use perfwatch_tests::{
    HostDir, HttpPeer, Route, eventually, get, post_json, profile_dir, repo_root,
};
use serde_json::Value;

const COLLECTOR: &str = "demo-beat";
/// A channel type no host knows: the type is the plugin's name.
const CHANNEL: &str = "pagerduty";
const EXPORTER: &str = "demo-csv";

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        let dest = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// The scratch workspace's members: cargo refuses a member glob that
/// matches nothing, so the plugin groups join once they hold a plugin.
fn set_members(root: &Path, members: &str) {
    let repo = repo_root();
    let manifest = std::fs::read_to_string(repo.join("Cargo.toml")).unwrap();
    let manifest: String = manifest
        .lines()
        .map(|line| {
            if line.starts_with("members = ") {
                format!("members = {members}\n")
            } else if line.starts_with("default-members = ") {
                "default-members = [\"sdk\"]\n".to_owned()
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(root.join("Cargo.toml"), manifest).unwrap();
}

/// A workspace holding only what a plugin author's checkout needs: the
/// SDK, the WIT package, xtask and the lock file.
fn scratch_workspace(root: &Path) {
    let repo = repo_root();
    copy_tree(&repo.join("sdk"), &root.join("sdk"));
    copy_tree(&repo.join("wit"), &root.join("wit"));
    std::fs::copy(repo.join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
    copy_tree(&repo.join("xtask"), &root.join("xtask"));
    copy_tree(&repo.join(".cargo"), &root.join(".cargo"));
    for group in ["collectors", "channels", "exporters"] {
        std::fs::create_dir_all(root.join("plugins").join(group)).unwrap();
    }
    set_members(root, r#"["sdk", "xtask"]"#);
}

fn run(command: &mut Command) {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Generates one plugin of each kind in the scratch workspace and builds
/// them; returns `(name, component)` pairs.
fn generate_and_build(root: &Path) -> Vec<(&'static str, PathBuf)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // A target directory of its own that outlives the test, so a second
    // run rebuilds only the three plugins.
    let target = profile_dir()
        .parent()
        .expect("target/<profile>")
        .join("new-plugin-scratch");
    let plugins = [
        ("collector", COLLECTOR),
        ("channel", CHANNEL),
        ("exporter", EXPORTER),
    ];
    for (kind, name) in plugins {
        // As a plugin author types it: `cargo xtask new-plugin KIND NAME`.
        run(Command::new(&cargo)
            .current_dir(root)
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_NET_OFFLINE", "true")
            .args(["xtask", "new-plugin", kind, name]));
    }
    set_members(
        root,
        r#"["sdk", "xtask", "plugins/collectors/*", "plugins/channels/*", "plugins/exporters/*"]"#,
    );
    let mut build = Command::new(cargo);
    build
        .current_dir(root)
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "build",
            "--release",
            "--offline",
            "--target",
            "wasm32-wasip2",
        ]);
    for (_, name) in plugins {
        build.args(["-p", name]);
    }
    run(&mut build);
    plugins
        .iter()
        .map(|(_, name)| {
            let file = target
                .join("wasm32-wasip2/release")
                .join(format!("{}.wasm", name.replace('-', "_")));
            assert!(file.is_file(), "{} was not built", file.display());
            (*name, file)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_plugin_of_each_kind_builds_and_works_in_a_running_host() {
    // Not tempfile's `.tmp…` name: cargo matches member globs such as
    // `plugins/collectors/*` under a hidden directory as nothing at all.
    let scratch = tempfile::Builder::new()
        .prefix("perfwatch-new-plugin-")
        .tempdir()
        .unwrap();
    scratch_workspace(scratch.path());
    let built = generate_and_build(scratch.path());

    let hook = HttpPeer::start(&[("/hook", Route::json("{}"))]);
    let dir = HostDir::new();
    for (name, component) in &built {
        std::fs::copy(component, dir.plugins().join(format!("{name}.wasm"))).unwrap();
    }
    let dir = dir.config(
        300,
        &format!(
            "[[plugins]]\nname = \"{COLLECTOR}\"\n\n\
             [[alerting.channels]]\ntype = \"{CHANNEL}\"\nname = \"on-call\"\n\
             secrets = {{ url = \"{}\" }}\n",
            hook.url("/hook")
        ),
    );
    let host = dir.start();

    // The collector's heartbeat is stored.
    let beats = eventually("the generated collector's heartbeat", || {
        let answer = get(host.addr, "/api/v1/query?metric=demoBeat.heartbeat&start=0");
        (answer.status == 200).then(|| answer.json())
    });
    assert!(!beats["series"].as_array().unwrap().is_empty(), "{beats}");

    // The channel posts a notification's title and text.
    let hot = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "queries.avgResponseTime", "value": 2500}]"#,
    );
    assert_eq!(hot.status, 200, "{}", hot.body);
    let message = eventually("the generated channel's POST", || {
        hook.received()
            .into_iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .find(|m| {
                m["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("queries.avgResponseTime"))
            })
    });
    assert!(
        message["title"].as_str().unwrap().contains("FIRING"),
        "{message}"
    );
    // The URL came from the channel's `secrets`: the plugin got it, the API
    // shows only that it is set.
    let config = get(host.addr, "/api/v1/config").json();
    let channel = &config["alerting"]["channels"][0];
    assert_eq!(channel["name"], "on-call", "{channel}");
    assert_eq!(channel["secrets"]["url"], "[redacted]", "{channel}");
    assert!(!config.to_string().contains(&hook.url("/hook")), "{config}");

    // The exporter writes a CSV document through the streaming world.
    let export = post_json(
        host.addr,
        &format!("/api/v1/export?format={EXPORTER}&start=0"),
        "",
    );
    assert_eq!(export.status, 200, "{}", export.body);
    let answer = export.json();
    assert_eq!(answer["mediaType"], "text/csv", "{answer}");
    let text = std::fs::read_to_string(answer["filePath"].as_str().unwrap()).unwrap();
    assert!(
        text.starts_with("metric,labels,unit,timestamp_ms,value\n"),
        "{text}"
    );
    assert!(text.contains("demoBeat.heartbeat,"), "{text}");
}
