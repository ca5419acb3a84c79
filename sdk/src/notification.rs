//! Ready-made renderings of a [`Notification`]: an Alertmanager-style title, one text line per alert, and truncation that says what it left out.

use crate::{Alert, AlertStatus, Label, Notification, Severity};

impl Notification {
    /// How many of the alerts are firing.
    pub fn firing_count(&self) -> usize {
        self.alerts
            .iter()
            .filter(|alert| alert.status == AlertStatus::Firing)
            .count()
    }

    /// A one-line title in Alertmanager's style: `[FIRING:2] cpu-high (system)`
    /// or `[RESOLVED] cpu-high (system)`.
    ///
    /// The name is the values of the group labels, joined by spaces; without
    /// group labels it is the alerts' rule when they share one, else
    /// `N alerts`. The component follows in parentheses when the alerts
    /// share one.
    pub fn title(&self) -> String {
        let status = match self.status {
            AlertStatus::Firing => format!("[FIRING:{}]", self.firing_count()),
            AlertStatus::Resolved => "[RESOLVED]".to_owned(),
        };
        let grouped: Vec<&str> = self
            .group_labels
            .iter()
            .map(|label| label.value.as_str())
            .filter(|value| !value.is_empty())
            .collect();
        let name = if !grouped.is_empty() {
            grouped.join(" ")
        } else if let Some(rule) = shared(&self.alerts, |alert| &alert.rule) {
            rule.to_owned()
        } else {
            format!("{} alerts", self.alerts.len())
        };
        let mut title = format!("{status} {}", one_line(&name));
        if let Some(component) = shared(&self.alerts, |alert| &alert.component) {
            title.push_str(&format!(" ({})", one_line(component)));
        }
        title
    }

    /// One line per alert, in order, each as [`Alert::line`] renders it.
    pub fn text(&self) -> String {
        let lines: Vec<String> = self.alerts.iter().map(Alert::line).collect();
        lines.join("\n")
    }

    /// [`text`](Notification::text) cut to at most `max_bytes` bytes for a
    /// channel with a message size limit: whole alert lines while they fit,
    /// then `… (N more alerts not shown)`; see [`truncate_to`].
    pub fn text_within(&self, max_bytes: usize) -> String {
        truncate(&self.text(), max_bytes, "alerts")
    }
}

impl Alert {
    /// The value of annotation `key` (`summary`, `description`, `runbook_url`).
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .iter()
            .find(|annotation| annotation.key == key)
            .map(|annotation| annotation.value.as_str())
    }

    /// The alert on one line: severity and status, its message, the value
    /// against the threshold, its labels, its runbook and its link, the
    /// parts that are empty left out:
    ///
    /// ```text
    /// [CRITICAL] firing: CPU above 90% | system.cpuUsage = 97.5 (threshold 90) | host="web-1" | runbook: https://wiki/cpu | https://perfwatch.local/api/v1/alerts/7
    /// ```
    ///
    /// Line breaks inside any part are written as `\n`, so one alert is
    /// always one line.
    pub fn line(&self) -> String {
        let severity = match self.severity {
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        };
        let status = match self.status {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        };
        let subject = if self.metric.is_empty() {
            "value".to_owned()
        } else {
            one_line(&self.metric)
        };
        let mut parts = vec![
            format!("[{severity}] {status}: {}", one_line(&self.message)),
            format!("{subject} = {} (threshold {})", self.value, self.threshold),
        ];
        if !self.labels.is_empty() {
            parts.push(labels(&self.labels));
        }
        if let Some(runbook) = self.annotation("runbook_url").filter(|url| !url.is_empty()) {
            parts.push(format!("runbook: {}", one_line(runbook)));
        }
        if !self.generator_url.is_empty() {
            parts.push(one_line(&self.generator_url));
        }
        parts.join(" | ")
    }
}

/// `text` cut to at most `max_bytes` bytes, saying that it was cut.
///
/// Whole lines are kept while they and the note fit, and the note says how
/// many were left out: `… (3 more lines not shown)`. When not even the first
/// line fits, it is cut at a character boundary and ends in `… [truncated]`.
/// Text that fits is returned as it is. A limit too small for either note
/// gets the text cut bare.
///
/// ```
/// let text = "first alert\nsecond alert\nthird alert\nfourth alert";
/// assert_eq!(perfwatch_sdk::truncate_to(text, 100), text);
/// assert_eq!(
///     perfwatch_sdk::truncate_to(text, 41),
///     "first alert\n… (3 more lines not shown)"
/// );
/// assert_eq!(perfwatch_sdk::truncate_to(text, 20), "first… [truncated]");
/// ```
pub fn truncate_to(text: &str, max_bytes: usize) -> String {
    truncate(text, max_bytes, "lines")
}

/// [`truncate_to`], counting left-out lines as `noun`.
fn truncate(text: &str, max_bytes: usize, noun: &str) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let lines: Vec<&str> = text.split('\n').collect();
    // Keep the longest prefix of whole lines that fits with its note.
    let mut kept_bytes = 0;
    let mut best: Option<(usize, usize)> = None;
    for (count, line) in lines.iter().enumerate() {
        kept_bytes += line.len() + usize::from(count > 0);
        let note = left_out(lines.len() - count - 1, noun);
        if kept_bytes + 1 + note.len() > max_bytes {
            break;
        }
        best = Some((count + 1, kept_bytes));
    }
    if let Some((count, bytes)) = best {
        return format!(
            "{}\n{}",
            &text[..bytes],
            left_out(lines.len() - count, noun)
        );
    }
    const CUT: &str = "… [truncated]";
    match max_bytes.checked_sub(CUT.len()) {
        Some(room) => format!("{}{CUT}", cut_at_char(lines[0], room)),
        None => cut_at_char(text, max_bytes).to_owned(),
    }
}

fn left_out(count: usize, noun: &str) -> String {
    format!("… ({count} more {noun} not shown)")
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a
/// character boundary.
fn cut_at_char(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The value every alert has for `field`, when they agree and it is not empty.
fn shared<'a>(alerts: &'a [Alert], field: impl Fn(&'a Alert) -> &'a String) -> Option<&'a str> {
    let first = field(alerts.first()?);
    let agree = !first.is_empty() && alerts.iter().all(|alert| field(alert) == first);
    agree.then_some(first.as_str())
}

/// `key="value"` pairs, values quoted and escaped as Rust strings, so quotes
/// and line breaks cannot break the line.
fn labels(labels: &[Label]) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|label| format!("{}={:?}", label.key, label.value))
        .collect();
    pairs.join(" ")
}

/// `text` with line breaks escaped, so it cannot split a line.
fn one_line(text: &str) -> String {
    text.replace('\r', "\\r").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(rule: &str, status: AlertStatus) -> Alert {
        Alert {
            id: format!("{rule}/1"),
            rule: rule.into(),
            severity: Severity::Critical,
            status,
            metric: "system.cpuUsage".into(),
            value: 97.5,
            threshold: 90.0,
            message: "CPU above 90% for 5 minutes".into(),
            component: "system".into(),
            labels: vec![Label::new("host", "web-1")],
            annotations: vec![
                Label::new("summary", "CPU above 90%"),
                Label::new("runbook_url", "https://wiki.example.com/cpu"),
            ],
            starts_at_ms: 1_700_000_000_000,
            ends_at_ms: None,
            fingerprint: "f00d".into(),
            generator_url: "https://perfwatch.local/api/v1/alerts/f00d".into(),
        }
    }

    fn notification(status: AlertStatus, alerts: Vec<Alert>) -> Notification {
        Notification {
            receiver: "ops".into(),
            status,
            group_key: "{}:{rule=\"cpu-high\"}".into(),
            group_labels: vec![Label::new("rule", "cpu-high")],
            common_labels: vec![],
            common_annotations: vec![],
            external_url: "https://perfwatch.local".into(),
            alerts,
        }
    }

    #[test]
    fn titles_count_firing_alerts_like_alertmanager() {
        let firing = notification(
            AlertStatus::Firing,
            vec![
                alert("cpu-high", AlertStatus::Firing),
                alert("cpu-high", AlertStatus::Firing),
                alert("cpu-high", AlertStatus::Resolved),
            ],
        );
        assert_eq!(firing.title(), "[FIRING:2] cpu-high (system)");
        let resolved = notification(
            AlertStatus::Resolved,
            vec![alert("cpu-high", AlertStatus::Resolved)],
        );
        assert_eq!(resolved.title(), "[RESOLVED] cpu-high (system)");
    }

    #[test]
    fn without_group_labels_the_title_names_the_shared_rule_or_counts() {
        let mut one_rule = notification(
            AlertStatus::Firing,
            vec![alert("disk-full", AlertStatus::Firing)],
        );
        one_rule.group_labels.clear();
        assert_eq!(one_rule.title(), "[FIRING:1] disk-full (system)");

        let mut other = alert("mem-high", AlertStatus::Firing);
        other.component = "agents".into();
        let mut mixed = notification(
            AlertStatus::Firing,
            vec![alert("disk-full", AlertStatus::Firing), other],
        );
        mixed.group_labels.clear();
        assert_eq!(mixed.title(), "[FIRING:2] 2 alerts");
    }

    #[test]
    fn text_has_one_full_line_per_alert() {
        let mut bare = alert("script:agents", AlertStatus::Resolved);
        bare.severity = Severity::Warning;
        bare.metric = String::new();
        bare.message = "2 agents stalled:\ncoder-1".into();
        bare.labels.clear();
        bare.annotations.clear();
        bare.generator_url.clear();
        bare.value = 2.0;
        bare.threshold = 1.0;
        let text = notification(
            AlertStatus::Firing,
            vec![alert("cpu-high", AlertStatus::Firing), bare],
        )
        .text();
        assert_eq!(
            text,
            "[CRITICAL] firing: CPU above 90% for 5 minutes | system.cpuUsage = 97.5 (threshold 90) | host=\"web-1\" | runbook: https://wiki.example.com/cpu | https://perfwatch.local/api/v1/alerts/f00d\n\
             [WARNING] resolved: 2 agents stalled:\\ncoder-1 | value = 2 (threshold 1)"
        );
    }

    #[test]
    fn text_within_keeps_whole_alerts_and_counts_the_rest() {
        let alerts = vec![alert("cpu-high", AlertStatus::Firing); 5];
        let full = notification(AlertStatus::Firing, alerts);
        let line = full.alerts[0].line();
        let limit = 2 * (line.len() + 1) + "… (3 more alerts not shown)".len();
        let cut = full.text_within(limit);
        assert_eq!(cut, format!("{line}\n{line}\n… (3 more alerts not shown)"));
        assert_eq!(cut.len(), limit);
        assert_eq!(
            full.text_within(limit - 1),
            format!("{line}\n… (4 more alerts not shown)")
        );
        assert_eq!(full.text_within(usize::MAX), full.text());
    }

    #[test]
    fn truncation_never_exceeds_the_limit_nor_splits_a_character() {
        let text = "ééééé\nsecond line\nthird";
        for max in 0..=text.len() + 1 {
            let cut = truncate_to(text, max);
            assert!(cut.len() <= max || max >= text.len(), "{max}: {cut:?}");
            assert!(
                cut == text
                    || cut.contains("not shown")
                    || cut.ends_with("[truncated]")
                    || max < "… [truncated]".len(),
                "{max}: {cut:?}"
            );
        }
        // Ten two-byte characters; the note takes 15 bytes.
        let wide = "é".repeat(10);
        assert_eq!(truncate_to(&wide, 18), "é… [truncated]");
        assert_eq!(truncate_to(&wide, 19), "éé… [truncated]");
        assert_eq!(truncate_to(&wide, 5), "éé");
        assert_eq!(truncate_to("", 0), "");
    }

    #[test]
    fn annotations_by_key() {
        let alert = alert("cpu-high", AlertStatus::Firing);
        assert_eq!(alert.annotation("summary"), Some("CPU above 90%"));
        assert_eq!(alert.annotation("description"), None);
    }
}
