//! A notification as a Discord webhook message: an embed per alert, cut to Discord's limits, with mentions disabled.

use perfwatch_sdk::serde_json::{Value, json};
use perfwatch_sdk::{Alert, AlertStatus, Notification, Severity};

use crate::Options;

/// Embeds Discord accepts in one message.
pub const MAX_EMBEDS: usize = 10;
/// Characters Discord accepts across all embeds of a message (titles,
/// descriptions, field names and values).
pub const MAX_EMBED_CHARS_TOTAL: usize = 6000;
/// Characters in an embed's title.
const MAX_TITLE_CHARS: usize = 256;
/// Characters in an embed's description.
const MAX_DESCRIPTION_CHARS: usize = 4096;
/// Fields in one embed.
const MAX_FIELDS: usize = 25;
/// Characters in a field's name.
const MAX_FIELD_NAME_CHARS: usize = 256;
/// Characters in a field's value.
const MAX_FIELD_VALUE_CHARS: usize = 1024;
/// Characters in the message's content.
const MAX_CONTENT_CHARS: usize = 2000;

/// Colour of a firing critical alert (red).
const CRITICAL: u32 = 0xE0_1E_5A;
/// Colour of a firing warning (amber).
const WARNING: u32 = 0xEC_B2_2E;
/// Colour of a resolved alert (green).
const RESOLVED: u32 = 0x2E_B6_7D;

/// The message for `notification`, as the webhook takes it.
pub fn render(notification: &Notification, options: &Options) -> Value {
    let mut embeds: Vec<Embed> = Vec::new();
    let mut used = 0;
    for alert in notification.alerts.iter().take(MAX_EMBEDS) {
        let mut embed = Embed::of(alert);
        if used + embed.chars() > MAX_EMBED_CHARS_TOTAL {
            if !embeds.is_empty() {
                break;
            }
            // The first alert is always shown, cut to fit on its own.
            embed.shrink_to(MAX_EMBED_CHARS_TOTAL);
        }
        used += embed.chars();
        embeds.push(embed);
    }
    let left_out = notification.alerts.len() - embeds.len();
    let note = (left_out > 0).then(|| format!("\n{}", more_alerts(left_out)));
    let note_chars = note.as_deref().map_or(0, |n| n.chars().count());
    let mut content = cut(
        &notification.title(),
        MAX_CONTENT_CHARS.saturating_sub(note_chars),
    );
    content.push_str(note.as_deref().unwrap_or_default());
    let mut message = json!({
        "content": content,
        "embeds": embeds.iter().map(Embed::to_json).collect::<Vec<_>>(),
        "allowed_mentions": {"parse": []},
    });
    if let Some(username) = &options.username {
        message["username"] = json!(username);
    }
    message
}

/// One alert's embed, its texts already within their own limits.
struct Embed {
    title: String,
    url: String,
    description: String,
    colour: u32,
    /// `(name, value, inline)`.
    fields: Vec<(String, String, bool)>,
    timestamp: String,
}

impl Embed {
    fn of(alert: &Alert) -> Self {
        let (severity, colour) = match (alert.status, alert.severity) {
            (AlertStatus::Resolved, Severity::Critical) => ("CRITICAL", RESOLVED),
            (AlertStatus::Resolved, Severity::Warning) => ("WARNING", RESOLVED),
            (AlertStatus::Firing, Severity::Critical) => ("CRITICAL", CRITICAL),
            (AlertStatus::Firing, Severity::Warning) => ("WARNING", WARNING),
        };
        let status = match alert.status {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        };
        let mut description = alert.message.clone();
        // A rule's message often quotes its description already.
        if let Some(more) = alert
            .annotation("description")
            .filter(|d| !d.is_empty() && !alert.message.contains(d))
        {
            description.push_str("\n\n");
            description.push_str(more);
        }
        let mut fields = vec![(
            "Value".to_owned(),
            format!("{} (threshold {})", alert.value, alert.threshold),
            true,
        )];
        for (name, value) in [("Metric", &alert.metric), ("Component", &alert.component)] {
            if !value.is_empty() {
                fields.push((name.to_owned(), value.clone(), true));
            }
        }
        if !alert.labels.is_empty() {
            let labels: Vec<String> = alert
                .labels
                .iter()
                .map(|label| format!("{}={}", label.key, label.value))
                .collect();
            fields.push(("Labels".to_owned(), labels.join("\n"), false));
        }
        if let Some(runbook) = alert
            .annotation("runbook_url")
            .filter(|url| !url.is_empty())
        {
            fields.push(("Runbook".to_owned(), runbook.to_owned(), false));
        }
        fields.truncate(MAX_FIELDS);
        let fields = fields
            .into_iter()
            .map(|(name, value, inline)| {
                (
                    cut(&name, MAX_FIELD_NAME_CHARS),
                    cut(&value, MAX_FIELD_VALUE_CHARS),
                    inline,
                )
            })
            .collect();
        Embed {
            title: cut(
                &format!("{severity} · {status}: {}", alert.rule),
                MAX_TITLE_CHARS,
            ),
            url: alert.generator_url.clone(),
            description: cut(&description, MAX_DESCRIPTION_CHARS),
            colour,
            fields,
            timestamp: perfwatch_sdk::rfc3339(alert.ends_at_ms.unwrap_or(alert.starts_at_ms)),
        }
    }

    /// Characters Discord counts towards [`MAX_EMBED_CHARS_TOTAL`].
    fn chars(&self) -> usize {
        let fields: usize = self
            .fields
            .iter()
            .map(|(name, value, _)| name.chars().count() + value.chars().count())
            .sum();
        self.title.chars().count() + self.description.chars().count() + fields
    }

    /// Cuts the description, then drops fields from the end, until the
    /// embed counts at most `max_chars`.
    fn shrink_to(&mut self, max_chars: usize) {
        let others = self.chars() - self.description.chars().count();
        self.description = cut(&self.description, max_chars.saturating_sub(others));
        while self.chars() > max_chars && self.fields.pop().is_some() {}
    }

    fn to_json(&self) -> Value {
        let fields: Vec<Value> = self
            .fields
            .iter()
            .map(|(name, value, inline)| json!({"name": name, "value": value, "inline": inline}))
            .collect();
        let mut embed = json!({
            "title": self.title,
            "description": self.description,
            "color": self.colour,
            "fields": fields,
            "timestamp": self.timestamp,
        });
        if !self.url.is_empty() {
            embed["url"] = json!(self.url);
        }
        embed
    }
}

/// The note for `count` alerts left out.
fn more_alerts(count: usize) -> String {
    let noun = if count == 1 { "alert" } else { "alerts" };
    format!("…and {count} more {noun} not shown")
}

/// `text` cut to at most `max_chars` characters, ending in `…` when cut.
fn cut(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    if max_chars > 0 {
        kept.push('…');
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::Label;

    fn alert(agent: &str) -> Alert {
        Alert {
            id: format!("alert-{agent}"),
            rule: "rule:latency".into(),
            severity: Severity::Critical,
            status: AlertStatus::Firing,
            metric: "agents.avgResponseTime".into(),
            value: 2500.0,
            threshold: 2000.0,
            message: "Agent latency: 2500 ms (threshold: 2000 ms) @everyone".into(),
            component: "agents".into(),
            labels: vec![Label::new("agent", agent), Label::new("host", "web-1")],
            annotations: vec![
                Label::new("runbook_url", "https://wiki.example.com/latency"),
                Label::new("summary", "Agent latency"),
            ],
            starts_at_ms: 1_700_000_000_000,
            ends_at_ms: None,
            fingerprint: format!("f-{agent}"),
            generator_url: "http://perfwatch.local/api/v1/alerts/history?rule=rule%3Alatency&start=1700000000000".into(),
        }
    }

    fn notification(alerts: Vec<Alert>) -> Notification {
        Notification {
            receiver: "discord".into(),
            status: if alerts.iter().any(|a| a.status == AlertStatus::Firing) {
                AlertStatus::Firing
            } else {
                AlertStatus::Resolved
            },
            group_key: "{}".into(),
            group_labels: vec![],
            common_labels: vec![],
            common_annotations: vec![],
            external_url: "http://perfwatch.local".into(),
            alerts,
        }
    }

    fn options() -> Options {
        Options {
            webhook_url: "https://discord.com/api/webhooks/1/x".into(),
            username: None,
        }
    }

    fn embed_chars(message: &Value) -> usize {
        let count = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        message["embeds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                count(&e["title"])
                    + count(&e["description"])
                    + e["fields"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| count(&f["name"]) + count(&f["value"]))
                        .sum::<usize>()
            })
            .sum()
    }

    #[test]
    fn one_alert_is_one_embed_and_mentions_are_off() {
        let message = render(&notification(vec![alert("coder-1")]), &options());
        assert_eq!(
            message,
            json!({
                "content": "[FIRING:1] rule:latency (agents)",
                "allowed_mentions": {"parse": []},
                "embeds": [{
                    "title": "CRITICAL · firing: rule:latency",
                    "url": "http://perfwatch.local/api/v1/alerts/history?rule=rule%3Alatency&start=1700000000000",
                    "description": "Agent latency: 2500 ms (threshold: 2000 ms) @everyone",
                    "color": CRITICAL,
                    "fields": [
                        {"name": "Value", "value": "2500 (threshold 2000)", "inline": true},
                        {"name": "Metric", "value": "agents.avgResponseTime", "inline": true},
                        {"name": "Component", "value": "agents", "inline": true},
                        {"name": "Labels", "value": "agent=coder-1\nhost=web-1", "inline": false},
                        {"name": "Runbook", "value": "https://wiki.example.com/latency", "inline": false}
                    ],
                    "timestamp": "2023-11-14T22:13:20.000Z"
                }]
            })
        );
        let named = render(
            &notification(vec![alert("a")]),
            &Options {
                username: Some("perfwatch".into()),
                ..options()
            },
        );
        assert_eq!(named["username"], "perfwatch");
    }

    #[test]
    fn a_resolved_alert_is_green_and_stamped_when_it_resolved() {
        let mut resolved = alert("a");
        resolved.status = AlertStatus::Resolved;
        resolved.ends_at_ms = Some(1_700_000_060_000);
        let message = render(&notification(vec![resolved]), &options());
        assert_eq!(message["content"], "[RESOLVED] rule:latency (agents)");
        assert_eq!(message["embeds"][0]["color"], RESOLVED);
        assert_eq!(
            message["embeds"][0]["title"],
            "CRITICAL · resolved: rule:latency"
        );
        assert_eq!(
            message["embeds"][0]["timestamp"],
            "2023-11-14T22:14:20.000Z"
        );
    }

    #[test]
    fn at_most_ten_embeds_and_the_rest_counted() {
        let message = render(&notification(vec![alert("a"); 14]), &options());
        assert_eq!(message["embeds"].as_array().unwrap().len(), MAX_EMBEDS);
        assert_eq!(
            message["content"],
            "[FIRING:14] rule:latency (agents)\n…and 4 more alerts not shown"
        );
    }

    #[test]
    fn embeds_stop_at_six_thousand_characters() {
        let mut long = alert("a");
        long.annotations
            .push(Label::new("description", "d".repeat(1500)));
        let message = render(&notification(vec![long; 6]), &options());
        let shown = message["embeds"].as_array().unwrap().len();
        assert_eq!(shown, 3);
        assert!(embed_chars(&message) <= MAX_EMBED_CHARS_TOTAL);
        assert!(
            message["content"]
                .as_str()
                .unwrap()
                .ends_with("…and 3 more alerts not shown")
        );
    }

    #[test]
    fn every_text_is_cut_to_its_limit() {
        let mut huge = alert(&"l".repeat(2000));
        huge.rule = "r".repeat(300);
        huge.message = "m".repeat(5000);
        let message = render(&notification(vec![huge.clone(), huge]), &options());
        let embed = &message["embeds"][0];
        assert_eq!(
            embed["title"].as_str().unwrap().chars().count(),
            MAX_TITLE_CHARS
        );
        assert!(embed["description"].as_str().unwrap().ends_with('…'));
        assert!(embed["description"].as_str().unwrap().chars().count() <= MAX_DESCRIPTION_CHARS);
        for field in embed["fields"].as_array().unwrap() {
            assert!(field["value"].as_str().unwrap().chars().count() <= MAX_FIELD_VALUE_CHARS);
        }
        assert!(embed_chars(&message) <= MAX_EMBED_CHARS_TOTAL);
        assert_eq!(message["embeds"].as_array().unwrap().len(), 1);
        assert!(
            message["content"]
                .as_str()
                .unwrap()
                .ends_with("…and 1 more alert not shown")
        );
    }
}
