//! Listing the files of one kind in a directory (plugin components, rule scripts).

use std::path::{Path, PathBuf};

/// Regular files in `dir` whose extension is `extension`, sorted by name so
/// loading and evaluation order are stable. A missing or unreadable
/// directory has no files.
pub fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == extension) && p.is_file())
        .collect();
    files.sort();
    files
}
