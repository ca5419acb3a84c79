//! Alert state on disk, so a restart neither forgets a firing alert nor
//! notifies it again, and a pending one keeps its start time.

use std::path::{Path, PathBuf};

use super::EngineState;

/// The state file inside `data_dir`.
pub const STATE_FILE: &str = "alert-state.json";

/// Writes the engine state when it changed since the last write.
pub struct StateFile {
    path: PathBuf,
    last: String,
}

impl StateFile {
    /// The state file of `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(STATE_FILE),
            last: String::new(),
        }
    }

    /// The saved state; empty when there is none. A file that cannot be
    /// read is reported and ignored: alerting must start regardless.
    pub fn load(&mut self) -> EngineState {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return EngineState::default(),
            Err(e) => {
                tracing::error!(path = %self.path.display(), "cannot read the alert state; starting empty: {e}");
                return EngineState::default();
            }
        };
        match serde_json::from_str(&text) {
            Ok(state) => {
                self.last = text;
                state
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), "the alert state is unreadable; starting empty: {e}");
                EngineState::default()
            }
        }
    }

    /// Saves `state` if it differs from what is on disk, replacing the
    /// file atomically, so a crash leaves the old file or the new one,
    /// never half. A failed save is logged and tried again on the next call.
    pub fn save(&mut self, state: &EngineState) {
        let text = serde_json::to_string(state).expect("engine state serialises");
        if text == self.last {
            return;
        }
        match crate::dir::replace_file(&self.path, text.as_bytes()) {
            Ok(()) => self.last = text,
            Err(e) => {
                tracing::error!(path = %self.path.display(), "cannot save the alert state: {e}: {}", e.source)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertEngine, Condition, Timing};
    use crate::model::{SeriesKey, Severity};

    fn firing_engine() -> AlertEngine {
        let mut engine = AlertEngine::new();
        let condition = Condition {
            rule: "threshold:a.b".into(),
            series: SeriesKey {
                metric: "a.b".into(),
                labels: Default::default(),
            },
            severity: Severity::Critical,
            value: 9.0,
            threshold: 5.0,
            message: "m".into(),
            component: "a".into(),
            description: None,
            runbook_url: None,
            timing: Timing::default(),
        };
        engine.apply(1, &["threshold:a.b".to_owned()].into(), vec![condition]);
        engine
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn state_round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let engine = firing_engine();
        StateFile::new(dir.path()).save(&engine.state());
        let loaded = StateFile::new(dir.path()).load();
        assert_eq!(loaded, engine.state());
        assert_eq!(AlertEngine::restore(loaded).firing().len(), 1);
    }

    #[test]
    fn a_save_leaves_no_temporary_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = StateFile::new(dir.path());
        file.save(&EngineState::default());
        file.save(&firing_engine().state());
        assert_eq!(entries(dir.path()), [STATE_FILE]);
        assert_eq!(StateFile::new(dir.path()).load(), firing_engine().state());
    }

    #[test]
    fn a_failed_save_leaves_what_was_there_and_is_retried() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), "old").unwrap();
        let mut file = StateFile::new(dir.path());
        let state = firing_engine().state();
        file.save(&state);
        assert_eq!(std::fs::read_to_string(path.join("keep")).unwrap(), "old");
        assert_eq!(entries(dir.path()), [STATE_FILE], "no temporary file left");

        // Once the obstacle is gone, the same state is written: the failed
        // save did not count as saved.
        std::fs::remove_dir_all(&path).unwrap();
        file.save(&state);
        assert_eq!(StateFile::new(dir.path()).load(), state);
    }

    #[test]
    fn a_corrupt_file_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), "{not json").unwrap();
        assert_eq!(StateFile::new(dir.path()).load(), EngineState::default());
    }
}
