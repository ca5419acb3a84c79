//! Shipped plugins written in Python (sdk/OTHER-LANGUAGES.md): installing
//! the pinned componentize-py once, and building each plugin into a
//! component only when its sources or the WIT changed.
//!
//! A Python plugin is a directory under `plugins/<kind>s/` with an `app.py`
//! and no `Cargo.toml`; its world is its kind. `test_*.py` files are its
//! native unit tests and stay out of the component.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::run;

/// componentize-py, from PyPI: it bundles CPython and the plugin's modules
/// into one component. Pinned to an exact version, because the interpreter
/// it embeds and the component-model encoding it emits change between
/// releases; 0.25.1 emits components that wasmtime 48 (the host's) loads.
const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// Where the toolchain lives when `PERFWATCH_TOOLS_DIR` is not set: outside
/// the checkout, so every clone and CI run on a machine shares one install.
const DEFAULT_TOOLS_DIR: &str = ".cache/perfwatch-tools";

/// Written into the virtual environment after a complete install; an
/// interrupted install has none and is redone.
const INSTALLED_MARKER: &str = "perfwatch-installed";

/// One Python plugin found in the source tree.
struct PythonPlugin {
    name: String,
    world: &'static str,
    dir: PathBuf,
}

/// Builds the Python plugins under `plugin_dirs` (relative to `root`) and
/// copies each component to `dist`. Installs nothing when there are none.
pub(crate) fn build(root: &Path, plugin_dirs: &[&str], dist: &Path) -> Result<(), String> {
    let plugins = find(root, plugin_dirs);
    if plugins.is_empty() {
        return Ok(());
    }
    let wit = root.join("wit");
    let out_root = super::target_dir().join("python-plugins");
    let mut tool = None;
    for plugin in plugins {
        let out_dir = out_root.join(&plugin.name);
        let component = out_dir.join(format!("{}.wasm", plugin.name));
        let stamp_file = out_dir.join("inputs.fnv64");
        let stamp = inputs_stamp(&plugin, &wit)?;
        let fresh = component.is_file()
            && std::fs::read_to_string(&stamp_file).is_ok_and(|s| s.trim() == stamp);
        if !fresh {
            let tool = match &tool {
                Some(tool) => tool,
                None => tool.insert(install_componentize_py()?),
            };
            println!("xtask: building the Python plugin {}", plugin.name);
            componentize(tool, &plugin, &wit, &out_dir, &component)?;
            std::fs::write(&stamp_file, &stamp)
                .map_err(|e| format!("cannot write {}: {e}", stamp_file.display()))?;
        }
        let dest = dist.join(format!("{}.wasm", plugin.name));
        std::fs::copy(&component, &dest).map_err(|e| {
            format!(
                "cannot copy {} to {}: {e}",
                component.display(),
                dest.display()
            )
        })?;
    }
    Ok(())
}

/// Directories with an `app.py` and no `Cargo.toml`, sorted by name.
fn find(root: &Path, plugin_dirs: &[&str]) -> Vec<PythonPlugin> {
    let mut found = Vec::new();
    for kind_dir in plugin_dirs {
        let world = match Path::new(kind_dir).file_name().and_then(|n| n.to_str()) {
            Some("collectors") => "collector",
            Some("channels") => "channel",
            Some("exporters") => "exporter",
            _ => continue,
        };
        for entry in std::fs::read_dir(root.join(kind_dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let dir = entry.path();
            if dir.join("app.py").is_file() && !dir.join("Cargo.toml").exists() {
                found.push(PythonPlugin {
                    name: entry.file_name().to_string_lossy().into_owned(),
                    world,
                    dir,
                });
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The plugin's modules: every `.py` file except tests, with its path
/// relative to the plugin directory, sorted.
fn modules(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let entries = std::fs::read_dir(dir.join(&relative))
            .map_err(|e| format!("cannot list {}: {e}", dir.join(&relative).display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = relative.join(&name);
            if entry.path().is_dir() {
                if name != "__pycache__" {
                    pending.push(path);
                }
            } else if name.ends_with(".py") && !name.starts_with("test_") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Every file under `dir`, recursively, sorted.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// A digest of everything the component is built from: the tool version,
/// the world, the modules and the WIT. Compared with the last build's, so an
/// unchanged plugin costs a few file reads instead of a build (seconds).
fn inputs_stamp(plugin: &PythonPlugin, wit: &Path) -> Result<String, String> {
    let mut hash = Fnv64::default();
    hash.write(COMPONENTIZE_PY_VERSION.as_bytes());
    hash.write(plugin.world.as_bytes());
    let mut files: Vec<(String, PathBuf)> = modules(&plugin.dir)?
        .into_iter()
        .map(|m| (m.to_string_lossy().into_owned(), plugin.dir.join(m)))
        .collect();
    let mut wit_files = Vec::new();
    files_under(wit, &mut wit_files);
    for path in wit_files {
        let name = path.strip_prefix(wit).unwrap_or(&path).to_string_lossy();
        files.push((format!("wit/{name}"), path));
    }
    for (name, path) in files {
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        hash.write(name.as_bytes());
        hash.write(&(bytes.len() as u64).to_le_bytes());
        hash.write(&bytes);
    }
    Ok(format!("{:016x}", hash.0))
}

/// FNV-1a, 64 bits: stable across Rust releases (std's hasher is not), and
/// a collision would only skip a rebuild, never load a wrong component.
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Copies the modules into a staging directory (so nothing, not even
/// `__pycache__`, is written into the checkout) and runs componentize-py.
fn componentize(
    tool: &Toolchain,
    plugin: &PythonPlugin,
    wit: &Path,
    out_dir: &Path,
    component: &Path,
) -> Result<(), String> {
    let staging = out_dir.join("src");
    let _ = std::fs::remove_dir_all(&staging);
    for module in modules(&plugin.dir)? {
        let dest = staging.join(&module);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::copy(plugin.dir.join(&module), &dest)
            .map_err(|e| format!("cannot copy {}: {e}", module.display()))?;
    }
    // Written beside the result and renamed, so an interrupted build never
    // leaves a truncated component under the real name.
    let partial = component.with_extension("wasm.partial");
    run(Command::new(&tool.componentize_py)
        .current_dir(&staging)
        // Its own environment, so the build does not depend on whichever
        // Python's site-packages happens to be on PATH.
        .env("VIRTUAL_ENV", &tool.venv)
        .arg("--quiet")
        .arg("--wit-path")
        .arg(wit)
        .args(["--world", plugin.world, "componentize", "app"])
        .arg("--python-path")
        .arg(&staging)
        .arg("--output")
        .arg(&partial))
    .map_err(|e| {
        format!(
            "{e}\nbuilding the Python plugin in {}",
            plugin.dir.display()
        )
    })?;
    std::fs::rename(&partial, component)
        .map_err(|e| format!("cannot rename {}: {e}", partial.display()))
}

/// An installed componentize-py.
struct Toolchain {
    venv: PathBuf,
    componentize_py: PathBuf,
}

/// The directory that holds installed tools.
fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PERFWATCH_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(DEFAULT_TOOLS_DIR),
        None => super::target_dir().join("perfwatch-tools"),
    }
}

/// Installs componentize-py into a virtual environment of its own, once per
/// version: an existing complete install is used as it is.
fn install_componentize_py() -> Result<Toolchain, String> {
    let venv = tools_dir().join(format!("componentize-py-{COMPONENTIZE_PY_VERSION}"));
    let tool = Toolchain {
        componentize_py: venv.join("bin/componentize-py"),
        venv,
    };
    let marker = tool.venv.join(INSTALLED_MARKER);
    if marker.is_file() && tool.componentize_py.is_file() {
        return Ok(tool);
    }
    let python_has_venv = || {
        Command::new("python3")
            .args(["-c", "import ensurepip, venv"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !python_has_venv() {
        super::install_packages("Python plugin toolchain", &["python3", "python3-venv"])?;
    }
    println!(
        "xtask: installing componentize-py {COMPONENTIZE_PY_VERSION} into {}",
        tool.venv.display()
    );
    let _ = std::fs::remove_dir_all(&tool.venv);
    run(Command::new("python3").args(["-m", "venv"]).arg(&tool.venv))?;
    run(Command::new(tool.venv.join("bin/python")).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        &format!("componentize-py=={COMPONENTIZE_PY_VERSION}"),
    ]))
    .map_err(|e| format!("{e}\ncomponentize-py {COMPONENTIZE_PY_VERSION} comes from PyPI"))?;
    std::fs::write(&marker, COMPONENTIZE_PY_VERSION)
        .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(tool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_python_plugin_is_found_with_its_world() {
        let root = crate::root();
        let found = find(&root, crate::SHIPPED_PLUGIN_DIRS);
        let names: Vec<(&str, &str)> = found.iter().map(|p| (p.name.as_str(), p.world)).collect();
        assert_eq!(names, [("pressure", "collector")]);
        let modules = modules(&found[0].dir).unwrap();
        assert!(modules.contains(&PathBuf::from("app.py")), "{modules:?}");
        assert!(
            !modules
                .iter()
                .any(|m| m.to_string_lossy().contains("test_")),
            "tests stay out of the component: {modules:?}"
        );
    }

    #[test]
    fn the_stamp_follows_the_sources() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("app.py"), "x = 1\n").unwrap();
        let wit = dir.join("wit");
        std::fs::create_dir_all(&wit).unwrap();
        std::fs::write(wit.join("a.wit"), "package a:b;\n").unwrap();
        let plugin = PythonPlugin {
            name: "p".into(),
            world: "collector",
            dir: dir.clone(),
        };
        let first = inputs_stamp(&plugin, &wit).unwrap();
        assert_eq!(inputs_stamp(&plugin, &wit).unwrap(), first);
        std::fs::write(dir.join("test_app.py"), "tests only\n").unwrap();
        assert_eq!(
            inputs_stamp(&plugin, &wit).unwrap(),
            first,
            "tests are not built in"
        );
        std::fs::write(dir.join("app.py"), "x = 2\n").unwrap();
        let changed = inputs_stamp(&plugin, &wit).unwrap();
        assert_ne!(changed, first);
        std::fs::write(wit.join("a.wit"), "package a:c;\n").unwrap();
        assert_ne!(inputs_stamp(&plugin, &wit).unwrap(), changed);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A fresh directory under the system's temporary directory.
    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "xtask-python-plugins-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
