//! The tidy test: the house rules a machine can check, run by `cargo xtask
//! test` like any other test, so a change that breaks one fails CI with the
//! file and the rule named.
//!
//! - every Rust file opens with a `//!` line saying what it owns;
//! - each external engine is named by the one module that owns it;
//! - host/src's top-level modules depend on each other only as
//!   [`HOST_MODULE_DEPENDENCIES`] declares, and that list has no cycle;
//! - inside each of those modules, no cycle between sibling files
//!   (`super::x` from `y.rs` and `super::y` from `x.rs`);
//! - no ignored or should-panic tests, and no todo, unimplemented or dbg
//!   macros ([`FORBIDDEN`]);
//! - ARCHITECTURE.md stays a map: at most [`MAX_ARCHITECTURE_LINES`] lines;
//! - the dashboard's vendored files are the versions `ui/package-lock.json` pins.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Which host/src paths may name each external engine, and why. A path
/// ending in `/` is a module directory; otherwise a single file.
const ENGINE_OWNERS: &[(&str, &[&str])] = &[
    ("duckdb", &["store/"]),
    ("wasmtime", &["plugins/"]),
    ("wasmtime_wasi", &["plugins/"]),
    ("lettre", &["plugins/"]),
    // cli/ is a client of the host's own HTTP API (`perfwatch query`,
    // `plugins list`, `channels` against a running host), not a plugin's way out.
    ("reqwest", &["plugins/", "cli/"]),
    ("rhai", &["rules/"]),
    ("axum", &["server/"]),
    ("sysinfo", &["collect/"]),
    ("pco", &["codec/"]),
    ("notify_debouncer_full", &["runtime/watch.rs"]),
    // The wire formats pushed to us: decoding is ingest's, transport the server's.
    ("prost", &["ingest/"]),
    ("opentelemetry_proto", &["ingest/"]),
    ("snap", &["ingest/"]),
    ("flate2", &["ingest/"]),
];

/// What each top-level module of host/src may use (`crate::<module>`).
/// Adding an edge is a design decision: it must keep the graph acyclic,
/// which [`the_declared_module_graph_has_no_cycle`] checks.
const HOST_MODULE_DEPENDENCIES: &[(&str, &[&str])] = &[
    ("alert", &["clock", "config", "dir", "model", "window"]),
    ("analysis", &["model"]),
    (
        "app",
        &[
            "alert", "clock", "config", "hub", "ingest", "model", "plugins", "rules", "store",
            "window",
        ],
    ),
    ("cli", &["config", "dir", "plugins", "rules", "window"]),
    ("clock", &[]),
    ("codec", &[]),
    ("collect", &["model"]),
    ("config", &["model"]),
    ("dir", &[]),
    (
        "embed",
        &[
            "app", "clock", "config", "model", "runtime", "snapshot", "store",
        ],
    ),
    ("hub", &[]),
    ("ingest", &["model"]),
    ("memory", &[]),
    ("model", &[]),
    ("plugins", &["clock", "config", "dir", "model", "store"]),
    ("rules", &["alert", "dir", "model", "window"]),
    (
        "runtime",
        &[
            "alert", "analysis", "app", "clock", "collect", "config", "memory", "model", "plugins",
            "rules", "server", "snapshot", "store", "window",
        ],
    ),
    (
        "server",
        &[
            "alert", "app", "clock", "config", "hub", "ingest", "model", "plugins", "rules",
            "snapshot", "store",
        ],
    ),
    ("snapshot", &["model", "window"]),
    ("store", &["codec", "model"]),
    ("window", &["codec", "model"]),
];

/// A map a newcomer reads at one sitting; experiments and figures go to
/// docs/ and BENCHMARKS.md instead.
const MAX_ARCHITECTURE_LINES: usize = 250;

/// Markers that mean a test does not run, a path is unfinished, or debug
/// output was left in.
const FORBIDDEN: &[&str] = &[
    // Spelled in pieces, so this file does not hold what it forbids.
    concat!("#[", "ignore"),
    concat!("#[", "should_panic"),
    concat!("todo", "!("),
    concat!("unimplemented", "!("),
    concat!("dbg", "!("),
];

/// Directories of Rust sources the rules apply to (generated and built
/// output excluded by walking only these).
const SOURCE_ROOTS: &[&str] = &["host", "sdk", "tests", "bench", "xtask", "plugins"];

/// Every `.rs` file under `dir`, skipping `target` and `dist` directories.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != "dist" && name != "node_modules" {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_sources() -> Vec<(PathBuf, String)> {
    let root = crate::root();
    let mut files = Vec::new();
    for dir in SOURCE_ROOTS {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    assert!(
        files.len() > 50,
        "tidy found only {} Rust files under {}; is the walk broken?",
        files.len(),
        root.display()
    );
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (path, text)
        })
        .collect()
}

fn host_sources() -> Vec<(String, String)> {
    let src = crate::root().join("host/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let rel = path
                .strip_prefix(&src)
                .expect("under host/src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (rel, text)
        })
        .collect()
}

/// The top-level module a host/src path belongs to (`store/db.rs` →
/// `store`, `clock.rs` → `clock`); `None` for the crate roots.
fn top_module(rel: &str) -> Option<&str> {
    match rel.split_once('/') {
        Some((dir, _)) => Some(dir),
        None => match rel.strip_suffix(".rs")? {
            "lib" | "main" => None,
            module => Some(module),
        },
    }
}

/// Whether `text` names `ident` as a path root (`duckdb::`, `use duckdb;`,
/// `duckdb::{…}`) in code, comments excluded.
fn names_crate(text: &str, ident: &str) -> bool {
    code_lines(text).any(|line| {
        line.match_indices(ident).any(|(at, _)| {
            let before = line[..at].chars().next_back();
            let after = &line[at + ident.len()..];
            let starts_word = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            starts_word && (after.starts_with("::") || after.starts_with(';'))
        })
    })
}

/// Lines of code with `//` comments cut off (doc text names engines freely).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(|line| match line.find("//") {
        Some(at) => &line[..at],
        None => line,
    })
}

/// The top-level modules `text` reaches through `crate::`, including inside
/// groups, nested or spread over lines (`use crate::{a::{X, Y}, b};`).
fn crate_uses(text: &str) -> BTreeSet<String> {
    let code: String = code_lines(text).collect::<Vec<_>>().join("\n");
    let mut used = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            used.insert(leading_ident(rest).to_owned());
            continue;
        };
        // The group's top-level items: split at commas outside inner braces.
        let mut depth = 0;
        let mut item_start = true;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => item_start = true,
                c if item_start && !c.is_whitespace() => {
                    used.insert(leading_ident(&group[i..]).to_owned());
                    item_start = false;
                }
                _ => {}
            }
        }
    }
    used.retain(|m| !m.is_empty());
    used
}

fn leading_ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

fn declared_graph() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    HOST_MODULE_DEPENDENCIES
        .iter()
        .map(|(module, deps)| (*module, deps.iter().copied().collect()))
        .collect()
}

#[test]
fn every_rust_file_opens_with_a_module_doc_line() {
    let missing: Vec<String> = all_sources()
        .into_iter()
        .filter(|(_, text)| !text.starts_with("//!"))
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` line saying what they own:\n{}",
        missing.join("\n")
    );
}

#[test]
fn no_ignored_tests_unfinished_paths_or_debug_output() {
    let mut found = Vec::new();
    for (path, text) in all_sources() {
        for (n, line) in code_lines(&text).enumerate() {
            for marker in FORBIDDEN {
                if line.contains(marker) {
                    found.push(format!("{}:{}: {marker}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "forbidden markers:\n{}", found.join("\n"));
}

#[test]
fn each_engine_is_named_only_by_its_owner() {
    let mut found = Vec::new();
    for (rel, text) in host_sources() {
        for (engine, owners) in ENGINE_OWNERS {
            let owned = owners.iter().any(|owner| match owner.strip_suffix('/') {
                Some(dir) => rel.starts_with(&format!("{dir}/")),
                None => rel == *owner,
            });
            if !owned && names_crate(&text, engine) {
                found.push(format!(
                    "host/src/{rel} names `{engine}`, which only {} may",
                    owners.join(", ")
                ));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn host_modules_use_only_their_declared_dependencies() {
    let graph = declared_graph();
    let mut found = Vec::new();
    let mut seen_modules = BTreeSet::new();
    for (rel, text) in host_sources() {
        let Some(module) = top_module(&rel) else {
            continue;
        };
        seen_modules.insert(module.to_owned());
        let Some(allowed) = graph.get(module) else {
            found.push(format!(
                "host/src/{rel}: module `{module}` is not in HOST_MODULE_DEPENDENCIES; add it"
            ));
            continue;
        };
        for used in crate_uses(&text) {
            let is_module = graph.contains_key(used.as_str());
            if is_module && used != module && !allowed.contains(used.as_str()) {
                found.push(format!(
                    "host/src/{rel} uses crate::{used}, which `{module}` does not declare"
                ));
            }
        }
    }
    for module in graph.keys() {
        if !seen_modules.contains(*module) {
            found.push(format!(
                "HOST_MODULE_DEPENDENCIES lists `{module}`, which host/src does not have"
            ));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// A cycle of `graph`, as its path, if it has one. Depth-first search: a
/// node met again while still on the path closes a cycle.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<&'a str>,
        path: &mut Vec<&'a str>,
    ) -> Option<String> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node);
            return Some(cycle.join(" -> "));
        }
        if done.contains(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node);
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

#[test]
fn the_declared_module_graph_has_no_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = declared_graph()
        .into_iter()
        .map(|(module, deps)| {
            for dep in &deps {
                assert!(
                    declared_graph().contains_key(dep),
                    "`{module}` declares unknown `{dep}`"
                );
            }
            (
                module.to_owned(),
                deps.into_iter().map(str::to_owned).collect(),
            )
        })
        .collect();
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle between host modules: {cycle}");
    }
}

/// The files of one module directory and the siblings each reaches through
/// `super::`: directly (`super::db::Database`) or through a re-export of
/// the directory's `mod.rs` (`super::PluginState`, which `mod.rs` takes
/// from `state`). `mod.rs` is the parent, not a sibling, and is left out.
fn sibling_graph(files: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let stem = |rel: &str| -> String {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        name.strip_suffix(".rs").unwrap_or(name).to_owned()
    };
    let siblings: BTreeSet<String> = files
        .iter()
        .map(|(rel, _)| stem(rel))
        .filter(|s| s != "mod")
        .collect();
    // Item name -> the sibling `mod.rs` re-exports it from.
    let mut reexported: BTreeMap<String, String> = BTreeMap::new();
    if let Some((_, text)) = files.iter().find(|(rel, _)| stem(rel) == "mod") {
        let code: String = code_lines(text).collect::<Vec<_>>().join("\n");
        for statement in code.split(';') {
            let statement = statement.trim();
            let Some(path) = statement
                .strip_prefix("pub use ")
                .or_else(|| statement.strip_prefix("pub(crate) use "))
                .or_else(|| statement.strip_prefix("pub(super) use "))
            else {
                continue;
            };
            let from = leading_ident(path);
            if siblings.contains(from) {
                for item in path[from.len()..]
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|w| !w.is_empty() && *w != "as" && *w != "self")
                {
                    reexported.insert(item.to_owned(), from.to_owned());
                }
            }
        }
    }
    let mut graph = BTreeMap::new();
    for (rel, text) in files {
        let from = stem(rel);
        if from == "mod" {
            continue;
        }
        let code: String = code_lines(text).collect::<Vec<_>>().join("\n");
        let mut uses = BTreeSet::new();
        for (at, _) in code.match_indices("super::") {
            let rest = &code[at + "super::".len()..];
            let items: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .map(|item| leading_ident(item.trim()))
                    .collect(),
                None => vec![leading_ident(rest)],
            };
            for item in items {
                let target = if siblings.contains(item) {
                    Some(item.to_owned())
                } else {
                    reexported.get(item).cloned()
                };
                if let Some(target) = target.filter(|t| *t != from) {
                    uses.insert(target);
                }
            }
        }
        graph.insert(from, uses);
    }
    graph
}

#[test]
fn no_cycle_between_the_files_of_a_host_module() {
    let mut by_dir: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (rel, text) in host_sources() {
        if let Some((dir, file)) = rel.rsplit_once('/') {
            // Only files directly in the directory: `alert/engine/tests.rs`
            // is a child of engine.rs, not a sibling of it.
            if !file.is_empty() {
                by_dir
                    .entry(dir.to_owned())
                    .or_default()
                    .push((rel.clone(), text));
            }
        }
    }
    let cycles: Vec<String> = by_dir
        .iter()
        .filter_map(|(dir, files)| {
            find_cycle(&sibling_graph(files)).map(|c| format!("host/src/{dir}: {c}"))
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "import cycles between sibling files:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn architecture_md_stays_a_map() {
    let path = crate::root().join("ARCHITECTURE.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let lines = text.lines().count();
    assert!(
        lines <= MAX_ARCHITECTURE_LINES,
        "ARCHITECTURE.md has {lines} lines, over {MAX_ARCHITECTURE_LINES}: move detail to docs/"
    );
}

#[test]
fn the_vendored_dashboard_files_are_the_locked_versions() {
    let ui = crate::root().join("ui");
    let lock =
        std::fs::read_to_string(ui.join("package-lock.json")).expect("read ui/package-lock.json");
    let locked = lock
        .split("\"node_modules/uplot\"")
        .nth(1)
        .and_then(|entry| entry.split("\"version\": \"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("ui/package-lock.json pins uplot");
    let script = std::fs::read_to_string(ui.join("vendor/uPlot.iife.min.js"))
        .expect("read the vendored uPlot");
    assert!(
        script
            .lines()
            .next()
            .is_some_and(|l| l.contains(&format!("(v{locked})"))),
        "ui/vendor/uPlot.iife.min.js is not uplot {locked}: run `cargo xtask vendor-ui`"
    );
}

#[test]
fn the_checks_see_what_they_look_for() {
    assert!(names_crate("use duckdb::Connection;", "duckdb"));
    assert!(names_crate(
        "    let c = duckdb::Connection::open(p)?;",
        "duckdb"
    ));
    assert!(!names_crate("// DuckDB's duckdb::Connection", "duckdb"));
    assert!(!names_crate("use libduckdb::X;", "duckdb"));
    assert_eq!(
        crate_uses(
            "use crate::{\n    store::{Store, X},\n    model, // crate::hub\n};\nlet x = crate::clock::now_ms();"
        ),
        ["clock", "model", "store"].map(String::from).into()
    );
    let files = [
        ("store/a.rs".to_owned(), "use super::b::X;".to_owned()),
        (
            "store/b.rs".to_owned(),
            "use super::{StoreError, a};\nuse super::a::Y;".to_owned(),
        ),
        ("store/mod.rs".to_owned(), "mod a; mod b;".to_owned()),
    ];
    assert_eq!(
        find_cycle(&sibling_graph(&files)).as_deref(),
        Some("a -> b -> a")
    );
    let through_reexport = [
        ("p/a.rs".to_owned(), "use super::State;".to_owned()),
        ("p/b.rs".to_owned(), "use super::{a::X, Other};".to_owned()),
        (
            "p/mod.rs".to_owned(),
            "mod a;\nmod b;\npub use b::{Other as State, Y};".to_owned(),
        ),
    ];
    assert_eq!(
        find_cycle(&sibling_graph(&through_reexport)).as_deref(),
        Some("a -> b -> a")
    );
    assert_eq!(top_module("store/db.rs"), Some("store"));
    assert_eq!(top_module("clock.rs"), Some("clock"));
    assert_eq!(top_module("main.rs"), None);
}
