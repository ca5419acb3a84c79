//! The configuration commands of the real binary.
//!
//! Being an integration test of this package also makes `cargo test` build
//! the `perfwatch` binary that the end-to-end tests in `tests/` drive.

use std::path::Path;
use std::process::Command;

fn perfwatch_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_perfwatch"))
}

fn perfwatch(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(perfwatch_binary())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_default_prints_a_config_that_checks() {
    let (ok, text, _) = perfwatch(&["config", "default"]);
    assert!(ok);
    assert!(text.contains("update_interval = 5000"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("default.toml");
    std::fs::write(&path, text).unwrap();
    let (ok, out, err) = perfwatch(&["config", "check", path.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("ok (7 thresholds"), "{out}");
}

#[test]
fn config_check_names_the_bad_key_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("prot = 8080\n", "prot"),
        ("port = \"x\"\n", "port"),
        ("update_interval = 10\n", "update_interval"),
        (
            "[[alerting.channels]]\ntype = \"email\"\nname = \"on call\"\n",
            "alerting.channels[0].name",
        ),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let (ok, _, err) = perfwatch(&["config", "check", path.to_str().unwrap()]);
        assert!(!ok, "{text} was accepted");
        assert!(err.contains(key), "{text}: {err}");
    }
    let (ok, _, err) = perfwatch(&["config", "check", "/nonexistent/perfwatch.toml"]);
    assert!(!ok);
    assert!(err.contains("cannot read config file"), "{err}");
}

#[test]
fn the_example_config_checks() {
    // From the repository root, whose plugins/dist the example's
    // plugins_dir names: every channel's plugin judges its config too.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        root.join("plugins/dist/webhook.wasm").is_file(),
        "the shipped plugins are built (cargo xtask plugins)"
    );
    let out = Command::new(perfwatch_binary())
        .args(["config", "check", "perfwatch.example.toml"])
        .current_dir(&root)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("6 channels"), "{stdout}");
    assert!(
        stdout.contains("4 channels and 7 exporters accept their config"),
        "{stdout}"
    );
    assert!(
        !root.join("perfwatch-data").exists(),
        "a check creates no data_dir"
    );
}

#[test]
fn rules_check_and_test_pass_on_the_shipped_rules() {
    let rules = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../rules");
    let (ok, out, err) = perfwatch(&["rules", "check", rules.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("scripts compile"), "{out}");
    let (ok, out, err) = perfwatch(&["rules", "test", rules.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("cases passed"), "{out}");
}

#[test]
fn rules_check_names_file_line_and_column_of_a_syntax_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.rhai"), "let x = 1;\nlet y = ;\n").unwrap();
    let (ok, _, err) = perfwatch(&["rules", "check", dir.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("broken.rhai:2:"), "{err}");
    let (ok, _, err) = perfwatch(&["rules", "test", dir.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("no test table"), "{err}");
}

#[test]
fn config_check_asks_each_plugin_about_its_config() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist");
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for name in ["loadavg", "console"] {
        std::fs::copy(
            dist.join(format!("{name}.wasm")),
            plugins.join(format!("{name}.wasm")),
        )
        .expect("the shipped plugins are built (cargo xtask plugins)");
    }
    let config = |plugin_config: &str, channel: &str| {
        let path = dir.path().join("perfwatch.toml");
        std::fs::write(
            &path,
            format!(
                "data_dir = \"{}\"\nplugins_dir = \"{}\"\n\n\
                 [[alerting.channels]]\n{channel}\n\n\
                 [[plugins]]\nname = \"loadavg\"\nread_paths = [\"/proc\"]\nconfig = {plugin_config}\n",
                dir.path().join("data").display(),
                plugins.display()
            ),
        )
        .unwrap();
        perfwatch(&["config", "check", path.to_str().unwrap()])
    };
    let (ok, _, err) = config(
        "{ pressure = false }",
        "type = \"webhook\"\nconfig = { url = \"https://example.com/hook\" }",
    );
    assert!(!ok, "a channel without a plugin passed");
    assert!(
        err.contains(
            "no channel plugin `webhook` is loaded from plugins_dir (channel plugins found: console)"
        ),
        "{err}"
    );

    let (ok, out, err) = config("{ pressure = false }", "type = \"console\"");
    assert!(ok, "{err}");
    assert!(
        out.contains("1 collectors, 1 channels and 0 exporters accept their config"),
        "{out}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "a check creates no data_dir"
    );

    let (ok, _, err) = config("{ pressure = \"yes\" }", "type = \"console\"");
    assert!(!ok, "a refused plugin config passed");
    assert!(
        err.contains("plugin `loadavg` refuses its config: `pressure`"),
        "{err}"
    );
}

#[test]
fn serve_refuses_to_start_with_a_channel_no_plugin_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist/console.wasm"),
        plugins.join("console.wasm"),
    )
    .expect("the shipped plugins are built (cargo xtask plugins)");
    let path = dir.path().join("perfwatch.toml");
    std::fs::write(
        &path,
        format!(
            "port = 0\ndata_dir = \"{}\"\nplugins_dir = \"{}\"\n\n\
             [[alerting.channels]]\ntype = \"pagerduty\"\nname = \"on-call\"\n",
            dir.path().join("data").display(),
            plugins.display()
        ),
    )
    .unwrap();
    let (ok, _, err) = perfwatch(&["serve", "--config", path.to_str().unwrap()]);
    assert!(!ok, "the host started without a plugin for its channel");
    assert!(
        err.contains("channel on-call cannot deliver: no channel plugin `pagerduty`")
            && err.contains("channel plugins found: console"),
        "{err}"
    );
}
