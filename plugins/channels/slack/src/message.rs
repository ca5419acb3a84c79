//! A notification as a Slack message: Block Kit blocks in one coloured attachment, escaped and cut to Slack's limits.

use perfwatch_sdk::serde_json::{Map, Value, json};
use perfwatch_sdk::{Alert, AlertStatus, Notification, Severity};

use crate::Options;

/// Blocks Slack accepts in one message; more and it refuses the message.
pub const MAX_BLOCKS: usize = 50;
/// Characters Slack accepts in a section's text.
pub const MAX_SECTION_CHARS: usize = 3000;
/// Characters Slack accepts in a header's text.
pub const MAX_HEADER_CHARS: usize = 150;
/// Characters Slack accepts in a button's URL; a longer link is left out
/// rather than sent broken.
const MAX_URL_CHARS: usize = 3000;

/// Colour bar while a critical alert fires.
const CRITICAL: &str = "#E01E5A";
/// Colour bar while only warnings fire.
const WARNING: &str = "#ECB22E";
/// Colour bar once every alert has resolved.
const RESOLVED: &str = "#2EB67D";

/// The message for `notification`, as the webhook takes it.
pub fn render(notification: &Notification, options: &Options) -> Value {
    let title = escape(&notification.title());
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": cut(&title, MAX_HEADER_CHARS, "…"), "emoji": true},
    })];
    let alerts = &notification.alerts;
    // The header, every alert, and no note; or the header, as many alerts
    // as leave room for the note, and the note.
    let shown = if alerts.len() < MAX_BLOCKS {
        alerts.len()
    } else {
        MAX_BLOCKS - 2
    };
    blocks.extend(alerts[..shown].iter().map(section));
    if shown < alerts.len() {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": format!("…and {} more alerts not shown", alerts.len() - shown)}],
        }));
    }
    let mut message = Map::new();
    message.insert("text".into(), json!(title));
    for (key, value) in [
        ("channel", &options.channel),
        ("username", &options.username),
        ("icon_emoji", &options.icon_emoji),
    ] {
        if let Some(value) = value {
            message.insert(key.into(), json!(value));
        }
    }
    message.insert(
        "attachments".into(),
        json!([{"color": colour(notification), "fallback": title, "blocks": blocks}]),
    );
    Value::Object(message)
}

/// One alert's section: what, how bad, where, since when, and a link.
fn section(alert: &Alert) -> Value {
    let (icon, severity) = match (alert.status, alert.severity) {
        (AlertStatus::Resolved, _) => (":white_check_mark:", "RESOLVED"),
        (AlertStatus::Firing, Severity::Critical) => (":red_circle:", "CRITICAL"),
        (AlertStatus::Firing, Severity::Warning) => (":large_orange_circle:", "WARNING"),
    };
    let mut lines = vec![format!("{icon} *{severity}* {}", escape(&alert.message))];
    let subject = if alert.metric.is_empty() {
        "value".to_owned()
    } else {
        format!("`{}`", escape(&alert.metric))
    };
    lines.push(format!(
        "{subject} = *{}* (threshold {})",
        alert.value, alert.threshold
    ));
    if !alert.labels.is_empty() {
        let labels: Vec<String> = alert
            .labels
            .iter()
            .map(|label| format!("{}={}", escape(&label.key), escape(&label.value)))
            .collect();
        lines.push(format!("*Labels:* {}", labels.join(", ")));
    }
    if let Some(runbook) = alert
        .annotation("runbook_url")
        .filter(|url| !url.is_empty())
    {
        lines.push(format!("*Runbook:* <{}|runbook>", escape(&link(runbook))));
    }
    let mut times = format!(
        "*Rule:* {} · *Started:* {}",
        escape(&alert.rule),
        perfwatch_sdk::rfc3339(alert.starts_at_ms)
    );
    if let Some(ended) = alert.ends_at_ms {
        times.push_str(&format!(" · *Resolved:* {}", perfwatch_sdk::rfc3339(ended)));
    }
    lines.push(times);
    let text = cut(&lines.join("\n"), MAX_SECTION_CHARS, "… [truncated]");
    let mut section = json!({"type": "section", "text": {"type": "mrkdwn", "text": text}});
    let url = &alert.generator_url;
    if !url.is_empty() && url.chars().count() <= MAX_URL_CHARS {
        section["accessory"] = json!({
            "type": "button",
            "text": {"type": "plain_text", "text": "View"},
            "url": url,
        });
    }
    section
}

/// The colour bar: red while a critical alert fires, amber while only
/// warnings do, green when all have resolved.
fn colour(notification: &Notification) -> &'static str {
    let firing = notification
        .alerts
        .iter()
        .filter(|alert| alert.status == AlertStatus::Firing);
    let mut colour = RESOLVED;
    for alert in firing {
        match alert.severity {
            Severity::Critical => return CRITICAL,
            Severity::Warning => colour = WARNING,
        }
    }
    colour
}

/// `text` with `&`, `<` and `>` as Slack's entities, so user text cannot
/// open a link, a mention or a channel reference.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A URL for `<url|text>`: `|` would end the URL early.
fn link(url: &str) -> String {
    url.replace('|', "%7C")
}

/// `text` cut to at most `max_chars` characters, ending in `note` when
/// cut, and never inside an entity `escape` wrote.
pub fn cut(text: &str, max_chars: usize, note: &str) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let room = max_chars.saturating_sub(note.chars().count());
    let mut kept: String = text.chars().take(room).collect();
    // `&amp;` is at most five characters: an `&` among the last four with
    // no `;` after it starts an entity that was cut.
    if let Some(amp) = kept.rfind('&')
        && !kept[amp..].contains(';')
    {
        kept.truncate(amp);
    }
    kept.push_str(note);
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
            message: "Agent latency: 2500 ms (threshold: 2000 ms)".into(),
            component: "agents".into(),
            labels: vec![Label::new("agent", agent)],
            annotations: vec![
                Label::new("runbook_url", "https://wiki.example.com/latency?a=1&b=2"),
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
            receiver: "slack".into(),
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
            webhook_url: "https://hooks.slack.com/services/T/B/X".into(),
            channel: None,
            username: None,
            icon_emoji: None,
        }
    }

    fn blocks(message: &Value) -> &Vec<Value> {
        message["attachments"][0]["blocks"].as_array().unwrap()
    }

    #[test]
    fn one_alert_is_a_header_and_a_section_with_a_link() {
        let message = render(&notification(vec![alert("coder-1")]), &options());
        assert_eq!(message["text"], "[FIRING:1] rule:latency (agents)");
        assert_eq!(message["attachments"][0]["color"], CRITICAL);
        let blocks = blocks(&message);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(
            blocks[1]["text"]["text"],
            ":red_circle: *CRITICAL* Agent latency: 2500 ms (threshold: 2000 ms)\n\
             `agents.avgResponseTime` = *2500* (threshold 2000)\n\
             *Labels:* agent=coder-1\n\
             *Runbook:* <https://wiki.example.com/latency?a=1&amp;b=2|runbook>\n\
             *Rule:* rule:latency · *Started:* 2023-11-14T22:13:20.000Z"
        );
        assert_eq!(
            blocks[1]["accessory"]["url"],
            "http://perfwatch.local/api/v1/alerts/history?rule=rule%3Alatency&start=1700000000000"
        );
        assert!(message.get("channel").is_none() && message.get("username").is_none());
    }

    #[test]
    fn options_are_top_level_fields() {
        let options = Options {
            channel: Some("#ops".into()),
            username: Some("perfwatch".into()),
            icon_emoji: Some(":rotating_light:".into()),
            ..options()
        };
        let message = render(&notification(vec![alert("a")]), &options);
        assert_eq!(message["channel"], "#ops");
        assert_eq!(message["username"], "perfwatch");
        assert_eq!(message["icon_emoji"], ":rotating_light:");
    }

    #[test]
    fn colours_follow_severity_and_resolution() {
        let mut warning = alert("a");
        warning.severity = Severity::Warning;
        let mut resolved = alert("b");
        resolved.status = AlertStatus::Resolved;
        resolved.ends_at_ms = Some(1_700_000_060_000);
        let colour_of =
            |alerts| render(&notification(alerts), &options())["attachments"][0]["color"].clone();
        assert_eq!(colour_of(vec![warning.clone(), resolved.clone()]), WARNING);
        assert_eq!(colour_of(vec![warning, alert("c")]), CRITICAL);
        assert_eq!(colour_of(vec![resolved.clone()]), RESOLVED);
        let section = section(&resolved);
        let text = section["text"]["text"].as_str().unwrap();
        assert!(text.starts_with(":white_check_mark: *RESOLVED*"), "{text}");
        assert!(
            text.ends_with("· *Resolved:* 2023-11-14T22:14:20.000Z"),
            "{text}"
        );
    }

    #[test]
    fn user_text_is_escaped() {
        let mut hostile = alert("<!channel> & <https://evil|click>");
        hostile.message = "a < b && c > d".into();
        hostile.rule = "rule:<@U123>".into();
        let message = render(&notification(vec![hostile]), &options());
        let text = blocks(&message)[1]["text"]["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(text.contains("a &lt; b &amp;&amp; c &gt; d"), "{text}");
        assert!(
            text.contains("agent=&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"),
            "{text}"
        );
        assert!(text.contains("rule:&lt;@U123&gt;"), "{text}");
        assert_eq!(message["text"], "[FIRING:1] rule:&lt;@U123&gt; (agents)");
    }

    #[test]
    fn forty_nine_alerts_fit_and_fifty_are_cut_with_a_note() {
        let fits = render(&notification(vec![alert("a"); 49]), &options());
        assert_eq!(blocks(&fits).len(), MAX_BLOCKS);
        assert!(blocks(&fits).iter().all(|b| b["type"] != "context"));

        let over = render(&notification(vec![alert("a"); 60]), &options());
        let blocks = blocks(&over);
        assert_eq!(blocks.len(), MAX_BLOCKS);
        assert_eq!(blocks.iter().filter(|b| b["type"] == "section").count(), 48);
        assert_eq!(
            blocks[49]["elements"][0]["text"],
            "…and 12 more alerts not shown"
        );
    }

    #[test]
    fn long_texts_are_cut_to_slacks_limits() {
        let mut long = alert("a");
        long.message = "&".repeat(5000);
        long.rule = "r".repeat(400);
        let message = render(&notification(vec![long]), &options());
        let blocks = blocks(&message);
        let header = blocks[0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), MAX_HEADER_CHARS);
        assert!(header.ends_with('…'));
        let text = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(text.chars().count() <= MAX_SECTION_CHARS, "{}", text.len());
        assert!(
            text.ends_with("&amp;… [truncated]"),
            "{}",
            &text[text.len() - 40..]
        );
    }

    #[test]
    fn cutting_never_splits_an_entity() {
        assert_eq!(cut("ab&amp;cd", 6, "…"), "ab…");
        assert_eq!(cut("ab&amp;cd", 8, "…"), "ab&amp;…");
        assert_eq!(cut("short", 10, "…"), "short");
    }
}
