//! A string that must never be shown: webhook URLs, tokens, passwords.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// What a secret looks like wherever it is printed or serialised.
pub const REDACTED: &str = "[redacted]";

/// A configuration secret. `Debug`, `Display` and `Serialize` all print
/// [`REDACTED`], so a config can be logged or sent to a dashboard without
/// leaking it; only [`Secret::expose`] gives the value, to the code that
/// actually uses it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself. Call only where it is handed to a peer.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// Replaces with [`REDACTED`] the values under `keys` in `value` (a
/// plugin's config as JSON): dotted paths (`smtp.auth.pass`) in which `*`
/// stands for any one key (`headers.*`), as a plugin declares its secrets.
/// Paths that are not there are ignored.
pub fn redact_keys(value: &mut serde_json::Value, keys: &[String]) {
    for key in keys {
        let path: Vec<&str> = key.split('.').collect();
        redact_path(value, &path);
    }
}

fn redact_path(value: &mut serde_json::Value, path: &[&str]) {
    let Some((first, rest)) = path.split_first() else {
        *value = serde_json::Value::String(REDACTED.to_owned());
        return;
    };
    let Some(table) = value.as_object_mut() else {
        return;
    };
    if *first == "*" {
        for child in table.values_mut() {
            redact_path(child, rest);
        }
    } else if let Some(child) = table.get_mut(*first) {
        redact_path(child, rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_never_printed() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn declared_keys_are_redacted_by_path_and_wildcard() {
        let mut config = serde_json::json!({
            "url": "https://app/status",
            "headers": {"Authorization": "Bearer t0k3n", "X-Key": "k"},
            "smtp": {"auth": {"pass": "hunter2", "user": "me"}},
            "keep": [1, 2]
        });
        let keys = ["headers.*", "smtp.auth.pass", "missing.key", "keep.0"].map(str::to_owned);
        redact_keys(&mut config, &keys);
        assert_eq!(
            config,
            serde_json::json!({
                "url": "https://app/status",
                "headers": {"Authorization": "[redacted]", "X-Key": "[redacted]"},
                "smtp": {"auth": {"pass": "[redacted]", "user": "me"}},
                "keep": [1, 2]
            })
        );
    }
}
