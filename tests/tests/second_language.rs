//! The shipped plugin written in Python (`plugins/collectors/pressure`,
//! built by componentize-py): its native unit tests, a smoke call with its
//! grant (the compliance harness makes one without), its config
//! validation, and one real collection seen through the query API.

use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};

use perfwatch_tests::{
    HostDir, PerfwatchProcess, eventually, get, repo_root, run_cli, shipped_plugin,
};

/// Ticks of the host here: short, so the collector runs often while the
/// test waits for its series.
const TICK_MS: u64 = 300;

/// Held by every test that compiles the component. It is 18 MiB of
/// CPython, about 15 s of Cranelift on both cores here (`plugins check` and
/// a first start have no compiled copy to load), so tests that compiled at
/// once would each take several times longer and could outrun the host's
/// start-up timeout.
static COMPILING: Mutex<()> = Mutex::new(());

fn compiling() -> MutexGuard<'static, ()> {
    COMPILING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether this machine's kernel reports pressure stall information; the
/// collector is checked against what the machine has, either way.
fn machine_has_psi() -> bool {
    Path::new("/proc/pressure/cpu").is_file()
}

/// Writes `config` to a `perfwatch.toml` in `dir` and returns its path.
fn config_file(dir: &Path, config: &str) -> std::path::PathBuf {
    let file = dir.join("perfwatch.toml");
    std::fs::write(&file, config).unwrap();
    file
}

/// `perfwatch plugins check --config <config> <pressure.wasm>`.
fn check_with(config: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), config);
    let out = run_cli([
        "plugins".as_ref(),
        "check".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        shipped_plugin("pressure").as_os_str(),
    ]);
    (out.success, out.text())
}

#[test]
fn the_python_modules_pass_their_unit_tests() {
    // -B: no __pycache__ written into the checkout.
    let dir = repo_root().join("plugins/collectors/pressure");
    let out = Command::new("python3")
        .args(["-B", "-m", "unittest", "discover", "-s"])
        .arg(&dir)
        .output()
        .expect("python3 runs (the Python plugins' toolchain needs it too)");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("\nOK"), "{text}");
}

#[test]
fn the_component_is_a_collector_of_this_host_s_wit_and_its_smoke_call_measures() {
    let _one_at_a_time = compiling();
    let (ok, text) = check_with("[[plugins]]\nname = \"pressure\"\nread_paths = [\"/proc\"]\n");
    assert!(ok, "{text}");
    assert!(
        text.contains("world:       collector (perfwatch:plugin@0.2.0)"),
        "{text}"
    );
    assert!(text.contains("perfwatch:plugin/series@0.2.0"), "{text}");
    for crash in ["crashed", "exceeded its", "failed to start", "unreachable"] {
        assert!(!text.contains(crash), "smoke call: {text}");
    }
    let smoke = text
        .lines()
        .find(|l| l.starts_with("smoke call:"))
        .unwrap_or_else(|| panic!("no smoke call line: {text}"));
    if machine_has_psi() {
        assert!(!smoke.contains("failed"), "{smoke}");
    } else {
        assert!(smoke.contains("no pressure stall information"), "{smoke}");
    }
}

#[test]
fn an_unknown_config_key_is_refused_by_name() {
    let _one_at_a_time = compiling();
    let dir = HostDir::new().shipped(&["pressure"]).config(
        TICK_MS,
        "[[plugins]]\nname = \"pressure\"\nread_paths = [\"/proc\"]\nconfig = { resource = [\"cpu\"] }\n",
    );
    let mut host = dir.start();
    let refusal = eventually("the config refusal in the host log", || {
        host.log()
            .into_iter()
            .find(|l| l.contains("pressure") && l.contains("unknown key"))
    });
    assert!(refusal.contains("`resource`"), "{refusal}");
    assert!(
        refusal.contains("`resources`"),
        "names the accepted keys: {refusal}"
    );
}

/// The latest value of `metric`'s series without labels.
fn latest(host: &PerfwatchProcess, metric: &str) -> Option<f64> {
    let answer = get(host.addr, &format!("/api/v1/query?metric={metric}&start=0"));
    if answer.status != 200 {
        return None;
    }
    let json = answer.json();
    json["series"]
        .as_array()?
        .iter()
        .find(|s| s["labels"].as_object().is_none_or(|l| l.is_empty()))
        .and_then(|s| s["points"].as_array()?.last()?[1].as_f64())
}

/// The plugin's last error, as the plugins API reports it.
fn last_error(host: &PerfwatchProcess) -> Option<String> {
    let plugins = get(host.addr, "/api/v1/plugins").json();
    plugins["plugins"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == "pressure")?["stats"]["last_error"]
        .as_str()
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
}

#[test]
fn a_real_collection_reaches_the_query_api() {
    let _one_at_a_time = compiling();
    let dir = HostDir::new().shipped(&["pressure"]).config(
        TICK_MS,
        "[[plugins]]\nname = \"pressure\"\nread_paths = [\"/proc\"]\n",
    );
    let host = dir.start();
    if !machine_has_psi() {
        let error = eventually("the plugin's error", || last_error(&host));
        assert!(error.contains("no pressure stall information"), "{error}");
        return;
    }
    for metric in [
        "pressure.cpuSomeAvg10",
        "pressure.memoryFullAvg60",
        "pressure.ioSomeAvg300",
    ] {
        let value = eventually(metric, || latest(&host, metric));
        assert!((0.0..=100.0).contains(&value), "{metric} = {value} %");
    }
    let stalled = eventually("pressure.cpuSomeTotal", || {
        latest(&host, "pressure.cpuSomeTotal")
    });
    assert!(stalled >= 0.0, "seconds stalled: {stalled}");
    assert_eq!(
        latest(&host, "pressure.cpuFullAvg10"),
        None,
        "system-wide cpu `full` is always zero, so it is not reported"
    );
    assert_eq!(last_error(&host), None);
}
