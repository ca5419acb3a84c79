//! `[[alert_rules]]`: the original `AlertRule` (condition, threshold,
//! severity, duration, cooldown) plus what it lacked: warning and critical
//! levels in one rule, hysteresis, `keep_firing_for` and `repeat_interval`.

use serde::{Deserialize, Serialize};

use crate::model::{Severity, canonical_metric_name};

/// How a rule compares the metric with its levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleCondition {
    /// `value > level`.
    GreaterThan,
    /// `value < level`.
    LessThan,
    /// `value` equals the level (within a relative 1e-9, not exactly:
    /// floats that print alike should compare alike).
    Equals,
    /// `value` differs from the level (same tolerance).
    NotEquals,
}

impl RuleCondition {
    /// Whether `value` meets the condition against `level`.
    pub fn holds(self, value: f64, level: f64) -> bool {
        let close = (value - level).abs() <= 1e-9 * level.abs().max(1.0);
        match self {
            RuleCondition::GreaterThan => value > level,
            RuleCondition::LessThan => value < level,
            RuleCondition::Equals => close,
            RuleCondition::NotEquals => !close,
        }
    }

    /// The operator as messages print it.
    pub fn symbol(self) -> &'static str {
        match self {
            RuleCondition::GreaterThan => ">",
            RuleCondition::LessThan => "<",
            RuleCondition::Equals => "==",
            RuleCondition::NotEquals => "!=",
        }
    }
}

/// One alert rule as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// Unique id: letters, digits, `-`, `_`.
    pub id: String,
    /// Human name.
    #[serde(default)]
    pub name: String,
    /// Metric the rule watches (aliases are mapped to the canonical name).
    pub metric: String,
    /// How the metric is compared with the levels.
    pub condition: RuleCondition,
    /// One level, with `severity` (the original form).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Severity of the single `threshold`; warning unless set.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Warning level (with `critical`, instead of `threshold`).
    #[serde(default)]
    pub warning: Option<f64>,
    /// Critical level.
    #[serde(default)]
    pub critical: Option<f64>,
    /// Milliseconds the condition must hold before the alert fires; 0 fires
    /// on the first evaluation that holds.
    #[serde(default)]
    pub duration: u64,
    /// Least milliseconds between two notifications of one firing alert;
    /// starts over when it resolves.
    #[serde(default)]
    pub cooldown: u64,
    /// Re-notify a still-firing alert every this many milliseconds; never
    /// when left out.
    #[serde(default)]
    pub repeat_interval: Option<u64>,
    /// Milliseconds a firing alert keeps firing after the condition clears.
    #[serde(default)]
    pub keep_firing_for: u64,
    /// Hysteresis: once firing, the alert holds until the value is back past
    /// this level (below it for `greater_than`, above it for `less_than`).
    #[serde(default)]
    pub clear_threshold: Option<f64>,
    /// Whether the rule is evaluated.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Message prefix; the name (or id) when empty. Notifications carry
    /// it as the alert's `description` annotation.
    #[serde(default)]
    pub description: String,
    /// Where to read what to do when the rule fires; notifications carry
    /// it as the `runbook_url` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook_url: Option<String>,
    /// Free tags; the tag after `component` names the alert's component.
    #[serde(default)]
    pub tags: Vec<String>,
}

fn enabled_by_default() -> bool {
    true
}

impl AlertRule {
    /// The rule's levels, most severe first.
    pub fn levels(&self) -> Vec<(Severity, f64)> {
        let mut levels = Vec::new();
        if let Some(c) = self.critical {
            levels.push((Severity::Critical, c));
        }
        if let Some(w) = self.warning {
            levels.push((Severity::Warning, w));
        }
        if let Some(t) = self.threshold {
            levels.push((self.severity.unwrap_or(Severity::Warning), t));
        }
        levels
    }

    /// The component alerts are attributed to.
    pub fn component(&self) -> String {
        self.tags
            .iter()
            .skip_while(|t| *t != "component")
            .nth(1)
            .cloned()
            .unwrap_or_else(|| self.metric.split('.').next().unwrap_or("system").to_owned())
    }
}

/// The original system's five default rules.
pub(super) fn default_alert_rules() -> Vec<AlertRule> {
    use RuleCondition::{GreaterThan, LessThan};
    let rule =
        |id: &str, name: &str, metric: &str, condition, threshold, severity, duration, cooldown| {
            AlertRule {
                id: id.to_owned(),
                name: name.to_owned(),
                metric: metric.to_owned(),
                condition,
                threshold: Some(threshold),
                severity: Some(severity),
                warning: None,
                critical: None,
                duration,
                cooldown,
                repeat_interval: None,
                keep_firing_for: 0,
                clear_threshold: None,
                enabled: true,
                description: name.to_owned(),
                runbook_url: None,
                tags: Vec::new(),
            }
        };
    vec![
        rule(
            "cpu-high",
            "High CPU Usage",
            "system.cpuUsage",
            GreaterThan,
            80.0,
            Severity::Warning,
            30_000,
            300_000,
        ),
        rule(
            "cpu-critical",
            "Critical CPU Usage",
            "system.cpuUsage",
            GreaterThan,
            95.0,
            Severity::Critical,
            10_000,
            180_000,
        ),
        rule(
            "memory-high",
            "High Memory Usage",
            "system.memoryUsage",
            GreaterThan,
            85.0,
            Severity::Warning,
            60_000,
            600_000,
        ),
        rule(
            "response-time-slow",
            "Slow Agent Response Time",
            "agents.avgResponseTime",
            GreaterThan,
            2000.0,
            Severity::Warning,
            45_000,
            300_000,
        ),
        rule(
            "frame-rate-low",
            "Low Frame Rate",
            "ui.frameRate",
            LessThan,
            30.0,
            Severity::Warning,
            20_000,
            240_000,
        ),
    ]
}

pub(super) fn validate_alert_rules(list: Vec<AlertRule>) -> Result<Vec<AlertRule>, String> {
    let mut seen = std::collections::HashSet::new();
    list.into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            let at = format!("alert_rules[{i}]");
            let valid_id = !r.id.is_empty() && r.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid_id {
                return Err(format!("{at}.id: {:?} is not an id (letters, digits, `-`, `_`)", r.id));
            }
            let at = format!("{at} ({})", r.id);
            if !seen.insert(r.id.clone()) {
                return Err(format!("{at}: the id is used twice"));
            }
            r.metric = canonical_metric_name(&r.metric).map_err(|e| format!("{at}.metric: {e}"))?;
            let single = r.threshold.is_some();
            let levelled = r.warning.is_some() || r.critical.is_some();
            match (single, levelled) {
                (true, true) => return Err(format!("{at}: give either `threshold` (with `severity`) or `warning`/`critical`, not both")),
                (false, false) => return Err(format!("{at}: needs `threshold` or `warning`/`critical`")),
                (false, true) if r.severity.is_some() => {
                    return Err(format!("{at}: `severity` goes with `threshold`; `warning`/`critical` name their own"));
                }
                _ => {}
            }
            let levels = r.levels();
            if levels.iter().any(|(_, v)| !v.is_finite()) || r.clear_threshold.is_some_and(|c| !c.is_finite()) {
                return Err(format!("{at}: levels must be finite numbers"));
            }
            match r.condition {
                RuleCondition::Equals | RuleCondition::NotEquals if levelled => {
                    return Err(format!("{at}: `equals`/`not_equals` take one `threshold`"));
                }
                RuleCondition::Equals | RuleCondition::NotEquals if r.clear_threshold.is_some() => {
                    return Err(format!("{at}: `clear_threshold` needs `greater_than` or `less_than`"));
                }
                RuleCondition::GreaterThan => {
                    if let (Some(w), Some(c)) = (r.warning, r.critical)
                        && w > c
                    {
                        return Err(format!("{at}: with `greater_than`, warning ({w}) must not be above critical ({c})"));
                    }
                    let lowest = levels.iter().map(|(_, v)| *v).fold(f64::INFINITY, f64::min);
                    if let Some(clear) = r.clear_threshold
                        && clear > lowest
                    {
                        return Err(format!("{at}: clear_threshold ({clear}) must not be above the lowest level ({lowest})"));
                    }
                }
                RuleCondition::LessThan => {
                    if let (Some(w), Some(c)) = (r.warning, r.critical)
                        && w < c
                    {
                        return Err(format!("{at}: with `less_than`, warning ({w}) must not be below critical ({c})"));
                    }
                    let highest = levels.iter().map(|(_, v)| *v).fold(f64::NEG_INFINITY, f64::max);
                    if let Some(clear) = r.clear_threshold
                        && clear < highest
                    {
                        return Err(format!("{at}: clear_threshold ({clear}) must not be below the highest level ({highest})"));
                    }
                }
                _ => {}
            }
            if let Some(url) = &r.runbook_url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return Err(format!("{at}.runbook_url: {url:?} is not an http:// or https:// URL"));
            }
            if r.description.is_empty() {
                r.description = if r.name.is_empty() { r.id.clone() } else { r.name.clone() };
            }
            Ok(r)
        })
        .collect()
}
