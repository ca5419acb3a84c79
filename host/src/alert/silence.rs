//! Silences: label matchers, a start and an end, a comment, and optionally
//! a weekly window (every weekday 22:00–06:00 UTC, say). A silenced alert
//! is still tracked, stored and streamed; it is only not delivered.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::Alert;

/// One label condition. The labels an alert offers are its series labels
/// plus `rule`, `severity`, `component` and `metric`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Value to compare with.
    pub value: String,
    /// `=` (default) or `!=`.
    #[serde(default = "equal")]
    pub op: String,
}

fn equal() -> String {
    "=".to_owned()
}

/// A weekly window, in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weekly {
    /// Days it applies on: `mon` … `sun`.
    pub days: Vec<String>,
    /// Start of the window on those days, `HH:MM`.
    pub start: String,
    /// End, `HH:MM`; before `start` means the window runs past midnight.
    pub end: String,
}

/// A silence as the API takes and shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Silence {
    /// Assigned by the host.
    #[serde(default)]
    pub id: String,
    /// All must match.
    pub matchers: Vec<Matcher>,
    /// When it starts, epoch ms (default: now).
    #[serde(default)]
    pub starts_at: Option<i64>,
    /// When it ends, epoch ms.
    pub ends_at: i64,
    /// Why.
    pub comment: String,
    /// Who.
    #[serde(default)]
    pub created_by: String,
    /// Assigned by the host, epoch ms.
    #[serde(default)]
    pub created_at: i64,
    /// A weekly window within [start, end), if any.
    #[serde(default)]
    pub recurrence: Option<Weekly>,
}

/// Why a silence was not added or removed.
#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    /// The silence is malformed; the message says how (the client's fault).
    #[error("{0}")]
    Invalid(String),
    /// `silences.json` could not be replaced (the host's fault); nothing
    /// changed in memory either.
    #[error("the silences could not be saved")]
    Save(#[from] crate::dir::ReplaceError),
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn minutes(hhmm: &str) -> Option<i64> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

impl Silence {
    /// Checks a new silence and fills in what the host assigns.
    pub fn validate(mut self, now: i64, id: String) -> Result<Self, String> {
        if self.matchers.is_empty() {
            return Err(
                "a silence needs at least one matcher (it would silence everything)".into(),
            );
        }
        for m in &self.matchers {
            if m.name.is_empty() || !matches!(m.op.as_str(), "=" | "!=") {
                return Err(format!(
                    "matcher {m:?}: needs a name and op \"=\" or \"!=\""
                ));
            }
        }
        if self.comment.trim().is_empty() {
            return Err("a silence needs a comment saying why".into());
        }
        let starts = self.starts_at.unwrap_or(now);
        if self.ends_at <= starts {
            return Err(format!(
                "endsAt ({}) must be after startsAt ({starts})",
                self.ends_at
            ));
        }
        if let Some(w) = &self.recurrence {
            if w.days.is_empty() || w.days.iter().any(|d| !DAYS.contains(&d.as_str())) {
                return Err(format!("recurrence.days must be some of {DAYS:?}"));
            }
            if minutes(&w.start).is_none() || minutes(&w.end).is_none() {
                return Err("recurrence.start and end are HH:MM (UTC)".into());
            }
        }
        self.id = id;
        self.starts_at = Some(starts);
        self.created_at = now;
        Ok(self)
    }

    /// Whether the silence is in force at `now` (epoch ms).
    pub fn active(&self, now: i64) -> bool {
        if now < self.starts_at.unwrap_or(i64::MIN) || now >= self.ends_at {
            return false;
        }
        let Some(w) = &self.recurrence else {
            return true;
        };
        let day_index = (now.div_euclid(86_400_000) + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
        let minute = now.rem_euclid(86_400_000) / 60_000;
        let (start, end) = (minutes(&w.start).unwrap_or(0), minutes(&w.end).unwrap_or(0));
        let on = |i: usize| w.days.iter().any(|d| d == DAYS[i % 7]);
        if start <= end {
            on(day_index) && minute >= start && minute < end
        } else {
            // Past midnight: the evening part belongs to today, the morning part to yesterday's window.
            (on(day_index) && minute >= start) || (on(day_index + 6) && minute < end)
        }
    }

    /// Whether every matcher matches `alert`.
    pub fn matches(&self, alert: &Alert) -> bool {
        self.matchers
            .iter()
            .all(|m| (super::label_of(alert, &m.name) == Some(m.value.as_str())) == (m.op == "="))
    }
}

/// The silences, kept in `data_dir/silences.json`.
#[derive(Debug)]
pub struct Silences {
    path: PathBuf,
    list: Vec<Silence>,
    next: u64,
}

impl Silences {
    /// Loads the silences of `data_dir` (none when the file is missing or unreadable).
    pub fn load(data_dir: &Path) -> Self {
        let path = data_dir.join("silences.json");
        let list: Vec<Silence> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| match serde_json::from_str(&text) {
                Ok(list) => Some(list),
                Err(e) => {
                    tracing::error!(path = %path.display(), "silences unreadable; starting with none: {e}");
                    None
                }
            })
            .unwrap_or_default();
        let next = list
            .iter()
            .filter_map(|s| s.id.strip_prefix("silence-")?.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        Self { path, list, next }
    }

    /// Adds a silence; returns it with its id. When it cannot be saved it
    /// is not added either: a silence the caller was told failed must not
    /// silence anything, nor vanish at the next restart if it did.
    pub fn add(&mut self, silence: Silence, now: i64) -> Result<Silence, SilenceError> {
        let silence = silence
            .validate(now, format!("silence-{}", self.next))
            .map_err(SilenceError::Invalid)?;
        self.list.push(silence.clone());
        if let Err(e) = self.save() {
            self.list.pop();
            return Err(e);
        }
        self.next += 1;
        Ok(silence)
    }

    /// Removes a silence; whether it existed. When the removal cannot be
    /// saved the silence stays, as it would after a restart.
    pub fn remove(&mut self, id: &str) -> Result<bool, SilenceError> {
        let Some(index) = self.list.iter().position(|s| s.id == id) else {
            return Ok(false);
        };
        let removed = self.list.remove(index);
        if let Err(e) = self.save() {
            self.list.insert(index, removed);
            return Err(e);
        }
        Ok(true)
    }

    /// Every silence, with whether it is in force now.
    pub fn all(&self, now: i64) -> Vec<(Silence, bool)> {
        self.list
            .iter()
            .map(|s| (s.clone(), s.active(now)))
            .collect()
    }

    /// The first silence in force at `now` that matches `alert`.
    pub fn silencing(&self, alert: &Alert, now: i64) -> Option<&Silence> {
        self.list.iter().find(|s| s.active(now) && s.matches(alert))
    }

    fn save(&self) -> Result<(), SilenceError> {
        let text = serde_json::to_string_pretty(&self.list).expect("silences serialise");
        Ok(crate::dir::replace_file(&self.path, text.as_bytes())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, Severity};

    fn alert(agent: &str) -> Alert {
        Alert {
            id: "a".into(),
            rule: "rule:agent-latency".into(),
            timestamp: 0,
            severity: Severity::Warning,
            metric: "agents.avgResponseTime".into(),
            labels: Labels::try_from_pairs([("agent".into(), agent.into())]).unwrap(),
            value: 1.0,
            threshold: 0.0,
            message: "m".into(),
            component: "agents".into(),
            resolved: false,
            resolved_at: None,
            flapping: false,
            acknowledged: None,
            description: None,
            runbook_url: None,
        }
    }

    fn silence(json: &str, now: i64) -> Result<Silence, String> {
        serde_json::from_str::<Silence>(json)
            .map_err(|e| e.to_string())?
            .validate(now, "silence-1".into())
    }

    #[test]
    fn matchers_select_alerts_by_label_rule_and_severity() {
        let s = silence(r#"{"matchers": [{"name": "agent", "value": "a"}, {"name": "severity", "value": "critical", "op": "!="}], "endsAt": 100, "comment": "known"}"#, 0).unwrap();
        assert!(s.matches(&alert("a")));
        assert!(!s.matches(&alert("b")));
        assert!(s.active(50) && !s.active(100));
    }

    #[test]
    fn a_weekly_window_recurs_and_may_cross_midnight() {
        // 2026-11-23 is a Monday.
        let monday = 1_795_392_000_000_i64;
        let hour = 3_600_000;
        let s = silence(
            r#"{"matchers": [{"name": "component", "value": "agents"}], "endsAt": 9999999999999, "comment": "nightly batch",
                "recurrence": {"days": ["mon", "tue"], "start": "22:00", "end": "06:00"}}"#,
            monday,
        )
        .unwrap();
        assert!(!s.active(monday + 12 * hour), "Monday noon");
        assert!(s.active(monday + 23 * hour), "Monday 23:00");
        assert!(
            s.active(monday + 24 * hour + 5 * hour),
            "Tuesday 05:00, Monday's window"
        );
        assert!(!s.active(monday + 24 * hour + 7 * hour), "Tuesday 07:00");
        assert!(
            !s.active(monday + 3 * 24 * hour + 2 * hour),
            "Thursday 02:00: Wednesday has no window"
        );
        assert!(
            s.active(monday + 2 * 24 * hour + 2 * hour),
            "Wednesday 02:00: Tuesday's window"
        );
    }

    #[test]
    fn bad_silences_are_refused_in_words() {
        assert!(
            silence(r#"{"matchers": [], "endsAt": 10, "comment": "x"}"#, 0)
                .unwrap_err()
                .contains("at least one matcher")
        );
        assert!(
            silence(
                r#"{"matchers": [{"name": "a", "value": "b"}], "endsAt": 10, "comment": " "}"#,
                0
            )
            .unwrap_err()
            .contains("comment")
        );
        assert!(
            silence(
                r#"{"matchers": [{"name": "a", "value": "b"}], "endsAt": 10, "comment": "x"}"#,
                20
            )
            .unwrap_err()
            .contains("after")
        );
    }

    #[test]
    fn silences_persist() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Silences::load(dir.path());
        let added = s.add(silence(r#"{"matchers": [{"name": "agent", "value": "a"}], "endsAt": 100, "comment": "c"}"#, 0).unwrap(), 0).unwrap();
        let again = Silences::load(dir.path());
        assert!(again.silencing(&alert("a"), 10).is_some());
        let mut again = again;
        assert!(again.remove(&added.id).unwrap());
        assert!(
            Silences::load(dir.path())
                .silencing(&alert("a"), 10)
                .is_none()
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["silences.json"], "no temporary file left");
    }

    #[test]
    fn a_failed_save_is_an_error_and_leaves_what_was_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("silences.json");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), "old").unwrap();
        let mut s = Silences::load(dir.path());
        let new = silence(
            r#"{"matchers": [{"name": "agent", "value": "a"}], "endsAt": 100, "comment": "c"}"#,
            0,
        )
        .unwrap();
        let err = s.add(new, 0).unwrap_err();
        let SilenceError::Save(cause) = &err else {
            panic!("a failed save is the host's error, not the silence's: {err:?}");
        };
        assert_eq!(
            cause.to_string(),
            format!("cannot rename a temporary file over {}", path.display())
        );
        assert_eq!(std::fs::read_to_string(path.join("keep")).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(
            s.all(0).is_empty(),
            "a silence that could not be saved is not in force"
        );
    }

    #[test]
    fn a_removal_that_cannot_be_saved_keeps_the_silence() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Silences::load(dir.path());
        let added = s
            .add(silence(r#"{"matchers": [{"name": "agent", "value": "a"}], "endsAt": 100, "comment": "c"}"#, 0).unwrap(), 0)
            .unwrap();
        let path = dir.path().join("silences.json");
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert!(s.remove(&added.id).is_err());
        assert!(s.silencing(&alert("a"), 10).is_some());
    }
}
