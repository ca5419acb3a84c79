//! Alert channel entries. A channel's `type` names the channel plugin that
//! delivers it; the host keeps only what is generic (name, enabled,
//! filters, secrets) and hands everything else, as the plugin's config, to
//! the plugin, whose `validate-config` checks it.

use serde::{Deserialize, Serialize, Serializer};

use super::REDACTED;
use crate::model::{Alert, Severity};

/// Longest channel name: it appears in URLs, records and metric labels.
const MAX_NAME_LEN: usize = 64;

/// `[[alerting.channels]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChannel {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub config: toml::Table,
    #[serde(default)]
    pub secrets: toml::Table,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default)]
    pub filters: ChannelFilters,
    /// The host's own default, not written in the config.
    #[serde(skip)]
    pub implicit: bool,
}

fn enabled_by_default() -> bool {
    true
}

impl RawChannel {
    /// The console channel the host delivers to when none is configured.
    pub(super) fn console() -> Self {
        Self {
            kind: "console".to_owned(),
            name: None,
            config: toml::Table::new(),
            secrets: toml::Table::new(),
            enabled: true,
            filters: ChannelFilters::default(),
            implicit: true,
        }
    }
}

/// Restricts a channel to some alerts; empty lists match everything, and
/// the lists are ANDed together (as in the original).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelFilters {
    /// Severities delivered.
    #[serde(default)]
    pub severity: Vec<Severity>,
    /// Components delivered (`system`, `agents`, …).
    #[serde(default)]
    pub components: Vec<String>,
    /// Metrics delivered.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Label matchers, all of which must hold: `name=value` or
    /// `name!=value`, over the alert's labels and `rule`, `severity`,
    /// `component` and `metric`.
    #[serde(default)]
    pub labels: Vec<LabelMatcher>,
}

impl ChannelFilters {
    /// Whether `alert` passes the filters.
    pub fn matches(&self, alert: &Alert) -> bool {
        (self.severity.is_empty() || self.severity.contains(&alert.severity))
            && (self.components.is_empty() || self.components.contains(&alert.component))
            && (self.metrics.is_empty() || self.metrics.contains(&alert.metric))
            && self.labels.iter().all(|m| m.matches(alert))
    }
}

/// One `name=value` or `name!=value` condition on an alert's labels. An
/// alert without the label has the empty value, as in Alertmanager, so
/// `team!=db` passes it and `team=` requires the label to be absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMatcher {
    /// Label name.
    pub name: String,
    /// Value compared with.
    pub value: String,
    /// `!=` rather than `=`.
    pub negated: bool,
}

impl LabelMatcher {
    /// Whether `alert` satisfies the condition.
    pub fn matches(&self, alert: &Alert) -> bool {
        (alert.label(&self.name).unwrap_or("") == self.value) != self.negated
    }
}

impl std::str::FromStr for LabelMatcher {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, value, negated) = match text.split_once("!=") {
            Some((name, value)) => (name, value, true),
            None => match text.split_once('=') {
                Some((name, value)) => (name, value, false),
                None => {
                    return Err(format!(
                        "{text:?} is not a label matcher (`name=value` or `name!=value`)"
                    ));
                }
            },
        };
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(format!("{text:?}: {name:?} is not a label name"));
        }
        Ok(Self {
            name: name.to_owned(),
            value: value.trim().trim_matches('"').to_owned(),
            negated,
        })
    }
}

impl std::fmt::Display for LabelMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = if self.negated { "!=" } else { "=" };
        write!(f, "{}{op}{}", self.name, self.value)
    }
}

impl Serialize for LabelMatcher {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LabelMatcher {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A validated channel.
#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    /// Unique name, the type unless set: the notification's receiver, and
    /// the channel in logs, delivery records and the API.
    pub name: String,
    /// The channel plugin that delivers it.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether alerts are sent to it.
    pub enabled: bool,
    /// Which alerts it receives.
    pub filters: ChannelFilters,
    /// The plugin's settings as written. Serialised with every value
    /// redacted: only the plugin knows which of its keys are secret (see
    /// `PluginViews::redacted_config`, which shows the others).
    #[serde(serialize_with = "redact_values")]
    pub config: toml::Table,
    /// Settings only this channel's plugin instance sees, merged into its
    /// config. Serialised as the key names, every value redacted.
    #[serde(serialize_with = "redact_values")]
    pub secrets: toml::Table,
    /// The host's default console channel rather than one the config
    /// names: start-up goes on without its plugin (with a warning).
    #[serde(skip)]
    pub implicit: bool,
}

impl Channel {
    /// What the channel's plugin instance gets as its config: `config` with
    /// `secrets` merged in, tables merged key by key and secrets winning.
    pub fn plugin_config(&self) -> serde_json::Value {
        let mut merged = self.config.clone();
        merge_tables(&mut merged, &self.secrets);
        serde_json::to_value(merged).expect("TOML tables serialise as JSON")
    }

    /// The `http(s)://` URLs written as top-level values of the channel's
    /// config and secrets: where its receiver is, whose origin the operator
    /// granted the channel by writing it down.
    pub fn receiver_urls(&self) -> Vec<&str> {
        self.config
            .values()
            .chain(self.secrets.values())
            .filter_map(toml::Value::as_str)
            .filter(|s| s.starts_with("http://") || s.starts_with("https://"))
            .collect()
    }
}

fn merge_tables(into: &mut toml::Table, from: &toml::Table) {
    for (key, value) in from {
        match (into.get_mut(key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(from)) => {
                merge_tables(inner, from)
            }
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

/// A table with each leaf value (strings, numbers, array items…) replaced
/// by [`REDACTED`] and its structure kept, so the reader sees which keys
/// are set and nothing of their values.
fn redact_values<S: Serializer>(table: &toml::Table, serializer: S) -> Result<S::Ok, S::Error> {
    let mut json = serde_json::to_value(table).map_err(serde::ser::Error::custom)?;
    redact_leaves(&mut json);
    json.serialize(serializer)
}

/// Replaces every leaf of `value` with [`REDACTED`].
pub fn redact_leaves(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_leaves),
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_leaves),
        leaf => *leaf = serde_json::Value::String(REDACTED.to_owned()),
    }
}

/// Checks the channels; `alerting.channels[i]` names an entry in errors.
pub(super) fn validate_channels(list: Vec<RawChannel>) -> Result<Vec<Channel>, String> {
    let mut channels: Vec<Channel> = Vec::with_capacity(list.len());
    for (i, raw) in list.into_iter().enumerate() {
        let at = format!("alerting.channels[{i}]");
        if !is_plugin_name(&raw.kind) {
            return Err(format!(
                "{at}.type: {:?} is not a channel plugin name (letters, digits, `-`, `_`)",
                raw.kind
            ));
        }
        let name = raw.name.unwrap_or_else(|| raw.kind.clone());
        let valid_name = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid_name {
            return Err(format!(
                "{at}.name: {name:?} is not a channel name (1 to {MAX_NAME_LEN} letters, digits, `-`, `_`, `.`)"
            ));
        }
        if let Some(j) = channels.iter().position(|c| c.name == name) {
            return Err(format!(
                "{at}: channel name `{name}` is already used by alerting.channels[{j}]; \
                 give one of them a distinct `name`"
            ));
        }
        channels.push(Channel {
            name,
            kind: raw.kind,
            enabled: raw.enabled,
            filters: raw.filters,
            config: raw.config,
            secrets: raw.secrets,
            implicit: raw.implicit,
        });
    }
    Ok(channels)
}

/// Whether `name` can name a plugin (as `[[plugins]] name` does).
pub(super) fn is_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
