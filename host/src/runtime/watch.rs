//! File watching for hot reload (owns notify): debounced notifications of
//! which files changed in the directories perfwatch reloads from.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify_debouncer_full::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

/// How long a file must be quiet before its change is reported. Editors
/// and `cp` write in several steps (write, rename, chmod); one reload per
/// save is what users expect, and 300 ms keeps "within a second" true.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// Keeps the watch alive; dropping it stops the notifications.
pub struct Watch {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

/// Watches `dirs` (non-recursively; missing ones are skipped) and sends
/// each debounced batch of changed file paths to `changes`.
pub fn watch(
    dirs: &[&Path],
    changes: mpsc::UnboundedSender<Vec<PathBuf>>,
) -> notify_debouncer_full::notify::Result<Watch> {
    let mut debouncer =
        new_debouncer(
            DEBOUNCE,
            None,
            move |result: DebounceEventResult| match result {
                Ok(events) => {
                    let mut paths: Vec<PathBuf> = events
                        .into_iter()
                        .flat_map(|e| e.event.paths.clone())
                        .collect();
                    paths.sort();
                    paths.dedup();
                    if !paths.is_empty() {
                        let _ = changes.send(paths);
                    }
                }
                Err(errors) => {
                    for e in errors {
                        tracing::warn!("file watch error: {e}");
                    }
                }
            },
        )?;
    for dir in dirs {
        if dir.is_dir() {
            debouncer.watch(dir, RecursiveMode::NonRecursive)?;
        } else {
            tracing::info!(dir = %dir.display(), "not watching a directory that does not exist");
        }
    }
    Ok(Watch {
        _debouncer: debouncer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rewritten_file_is_reported_once_per_save() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _watch = watch(&[dir.path()], tx).unwrap();
        let file = dir.path().join("plugin.wasm");
        // write-then-rename, as editors and `cargo xtask plugins` do
        std::fs::write(dir.path().join("plugin.wasm.tmp"), b"one").unwrap();
        std::fs::rename(dir.path().join("plugin.wasm.tmp"), &file).unwrap();
        let paths = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(paths.contains(&file), "{paths:?}");
    }
}
