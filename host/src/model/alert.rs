//! Alerts as users see them: in the API, on the WebSocket and in channels.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Labels;

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Someone should look soon.
    Warning,
    /// Service is or will shortly be impaired.
    Critical,
}

impl Severity {
    /// Lowercase name, as in config and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// The condition holds.
    Firing,
    /// The condition cleared.
    Resolved,
}

/// One alert instance, in the original `PerformanceAlert` shape (camelCase).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Unique id of this instance, derived from rule, series and start time.
    pub id: String,
    /// Rule or threshold that raised it.
    pub rule: String,
    /// When it started firing, epoch ms.
    pub timestamp: i64,
    /// Warning or critical.
    pub severity: Severity,
    /// The metric the condition is about (may be empty for script alerts).
    pub metric: String,
    /// Labels of the series.
    pub labels: Labels,
    /// Latest value seen while firing.
    pub value: f64,
    /// The threshold crossed (NaN-free; 0 for script alerts without one).
    pub threshold: f64,
    /// One human sentence.
    pub message: String,
    /// Component the alert is attributed to (`system`, `agents`, …).
    pub component: String,
    /// Whether the condition has cleared.
    pub resolved: bool,
    /// When it cleared, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<i64>,
    /// Whether it is changing state too often to notify about each change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flapping: bool,
    /// Who acknowledged it, when and why; repeats stop until it resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledgement>,
    /// What the rule is about, from its config (`description`); none for
    /// script alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where to read what to do, from the rule's `runbook_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook_url: Option<String>,
}

/// An acknowledgement of a firing alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// Why (what is being done about it).
    pub comment: String,
    /// Who.
    pub by: String,
    /// When, epoch ms.
    pub at: i64,
}

impl Alert {
    /// Firing or resolved.
    pub fn status(&self) -> AlertStatus {
        if self.resolved {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        }
    }

    /// When it started firing, epoch ms.
    pub fn starts_at(&self) -> i64 {
        self.timestamp
    }

    /// When it resolved, epoch ms; none while firing.
    pub fn ends_at(&self) -> Option<i64> {
        self.resolved_at
    }

    /// The value of label `name` as silences, groups and notifications
    /// read it: `rule`, `severity`, `component` and `metric` are the
    /// alert's own; any other name is a series label.
    pub fn label(&self, name: &str) -> Option<&str> {
        match name {
            "rule" => Some(self.rule.as_str()),
            "severity" => Some(self.severity.as_str()),
            "component" => Some(self.component.as_str()),
            "metric" => Some(self.metric.as_str()),
            label => self.labels.get(label),
        }
    }

    /// Every label [`Alert::label`] answers, sorted by name; empty values
    /// (a script alert's metric) are left out, as an absent label.
    pub fn all_labels(&self) -> Vec<(String, String)> {
        let mut all: BTreeMap<&str, &str> = self.labels.iter().collect();
        for name in OWN_LABELS {
            all.insert(name, self.label(name).unwrap_or_default());
        }
        all.into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// Text for people, sorted by name: `summary` (the message), and the
    /// rule's `description` and `runbook_url` when it has them.
    pub fn annotations(&self) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(3);
        if let Some(description) = &self.description {
            out.push(("description".to_owned(), description.clone()));
        }
        if let Some(url) = &self.runbook_url {
            out.push(("runbook_url".to_owned(), url.clone()));
        }
        out.push(("summary".to_owned(), self.message.clone()));
        out
    }

    /// 16 hex digits naming the (rule, series) the alert is about: the
    /// same for every notification of it, across restarts and versions,
    /// and different for another series. FNV-1a over length-prefixed
    /// fields, written out because `std`'s hashers are randomly keyed or
    /// may change between releases.
    pub fn fingerprint(&self) -> String {
        let mut hash = Fnv1a::default();
        hash.field(&self.rule);
        hash.field(&self.metric);
        for (name, value) in self.labels.iter() {
            hash.field(name);
            hash.field(value);
        }
        format!("{:016x}", hash.0)
    }

    /// Where the alert can be looked at: its rule's transitions since it
    /// started, in the host's API at `external_url`.
    pub fn generator_url(&self, external_url: &str) -> String {
        format!(
            "{}/api/v1/alerts/history?rule={}&start={}",
            external_url.trim_end_matches('/'),
            percent_encode(&self.rule),
            self.timestamp
        )
    }
}

/// The labels every alert has, whatever its series.
const OWN_LABELS: [&str; 4] = ["component", "metric", "rule", "severity"];

/// 64-bit FNV-1a (offset basis and prime from the FNV reference).
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn bytes(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// A field with its length first, so ("ab", "c") and ("a", "bc") differ.
    fn field(&mut self, text: &str) {
        self.bytes(&(text.len() as u64).to_le_bytes());
        self.bytes(text.as_bytes());
    }
}

/// `text` as a URL query value: every byte but the unreserved ones
/// (RFC 3986: letters, digits, `-._~`) as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(rule: &str, labels: &[(&str, &str)]) -> Alert {
        Alert {
            id: "alert-1".into(),
            rule: rule.into(),
            timestamp: 1_764_200_000_000,
            severity: Severity::Warning,
            metric: "agents.avgResponseTime".into(),
            labels: Labels::try_from_pairs(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            )
            .unwrap(),
            value: 1.0,
            threshold: 0.0,
            message: "slow".into(),
            component: "agents".into(),
            resolved: false,
            resolved_at: None,
            flapping: false,
            acknowledged: None,
            description: None,
            runbook_url: None,
        }
    }

    /// Pinned: a fingerprint that changed between versions would make
    /// every receiver see new alerts after an upgrade.
    #[test]
    fn the_fingerprint_is_pinned_and_names_the_series_not_the_instance() {
        let a = alert("rule:latency", &[("agent", "coder-1")]);
        assert_eq!(a.fingerprint(), "77e8644d529b507f");
        let mut later = a.clone();
        later.id = "alert-2".into();
        later.severity = Severity::Critical;
        later.value = 9.0;
        later.resolved = true;
        assert_eq!(later.fingerprint(), a.fingerprint());
        assert_ne!(
            alert("rule:latency", &[("agent", "coder-2")]).fingerprint(),
            a.fingerprint()
        );
        assert_ne!(
            alert("rule:latenc", &[("yagent", "coder-1")]).fingerprint(),
            a.fingerprint(),
            "fields are length-prefixed"
        );
    }

    #[test]
    fn all_labels_add_the_alerts_own_and_override_series_labels_of_their_names() {
        let mut a = alert("s/slow", &[("agent", "coder-1"), ("rule", "spoofed")]);
        a.metric = String::new();
        assert_eq!(
            a.all_labels(),
            [
                ("agent".to_owned(), "coder-1".to_owned()),
                ("component".to_owned(), "agents".to_owned()),
                ("rule".to_owned(), "s/slow".to_owned()),
                ("severity".to_owned(), "warning".to_owned()),
            ]
        );
    }

    #[test]
    fn annotations_carry_the_summary_and_what_the_rule_adds() {
        let mut a = alert("rule:latency", &[]);
        assert_eq!(a.annotations(), [("summary".to_owned(), "slow".to_owned())]);
        a.description = Some("Agent latency".into());
        a.runbook_url = Some("https://wiki.example.com/latency".into());
        let names: Vec<String> = a.annotations().into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["description", "runbook_url", "summary"]);
    }

    #[test]
    fn the_generator_url_is_the_rules_history_since_the_alert_started() {
        let a = alert("agents/slow agent", &[]);
        assert_eq!(
            a.generator_url("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/api/v1/alerts/history?rule=agents%2Fslow%20agent&start=1764200000000"
        );
    }

    /// alert-state.json written before notifications carried annotations
    /// still loads, and an alert without them writes nothing new.
    #[test]
    fn an_alert_without_the_newer_fields_round_trips_unchanged() {
        let a = alert("rule:latency", &[]);
        let json = serde_json::to_value(&a).unwrap();
        assert!(json.get("description").is_none() && json.get("runbookUrl").is_none());
        assert_eq!(serde_json::from_value::<Alert>(json).unwrap(), a);
    }
}
