//! Files in the host's directories: listing the files of one kind (plugin components, rule scripts) and replacing a state file in `data_dir` atomically.

use std::io::Write as _;
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

/// A file that [`replace_file`] could not replace. Whatever was at `path`
/// before is still there, unchanged, unless the failed step is syncing the
/// directory: then the new file is in place but may not survive a power loss.
#[derive(Debug, thiserror::Error)]
#[error("cannot {step} {}", path.display())]
pub struct ReplaceError {
    /// The file being replaced.
    pub path: PathBuf,
    /// What failed, a phrase the path completes.
    step: &'static str,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Replaces the file at `path` with `contents` so that a crash at any
/// moment leaves the old file or the new one, never a truncated or mixed
/// one. The contents go to a temporary file in the same directory (a
/// rename cannot cross file systems), which is synced to disk before it is
/// renamed over `path`; then the directory is synced, so the rename itself
/// is on disk when this returns. A replaced file keeps its permissions; a
/// new one is readable by its owner only, as state in `data_dir` should be.
pub fn replace_file(path: &Path, contents: &[u8]) -> Result<(), ReplaceError> {
    let fail = |step: &'static str| {
        move |source| ReplaceError {
            path: path.to_owned(),
            step,
            source,
        }
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    // Hidden and named after the file, so a temporary file left by a crash
    // says whose it is.
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail("create a temporary file beside"))?;
    if let Some(old) = std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)
    {
        temp.as_file()
            .set_permissions(old.permissions())
            .map_err(fail("copy the permissions of"))?;
    }
    temp.write_all(contents)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(fail("write a temporary file beside"))?;
    // On failure the temporary file is dropped with the error, which
    // deletes it.
    temp.persist(path)
        .map_err(|err| fail("rename a temporary file over")(err.error))?;
    sync_dir(dir).map_err(fail("sync the directory of"))
}

/// Syncs the directory entry changes (a rename) of `dir` to disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Windows cannot open a directory as a file to sync it; NTFS journals
/// the rename's metadata itself.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_replaced_file_round_trips_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        replace_file(&path, b"{\"v\": 1}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"v\": 1}");
        replace_file(&path, b"{\"v\": 2}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"v\": 2}");
        assert_eq!(entries(dir.path()), ["state.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        replace_file(&path, b"new").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }

    #[test]
    fn a_failed_replace_is_an_error_and_leaves_what_was_there() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: the rename fails after the
        // temporary file was written.
        let path = dir.path().join("state.json");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), "old").unwrap();
        let err = replace_file(&path, b"new").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot rename a temporary file over {}", path.display())
        );
        assert_eq!(std::fs::read_to_string(path.join("keep")).unwrap(), "old");
        assert_eq!(
            entries(dir.path()),
            ["state.json"],
            "no temporary file left"
        );

        // A directory that does not exist: nothing is created.
        let missing = dir.path().join("gone").join("state.json");
        let err = replace_file(&missing, b"new").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot create a temporary file beside {}",
                missing.display()
            )
        );
        assert_eq!(err.source.kind(), std::io::ErrorKind::NotFound);
    }
}
