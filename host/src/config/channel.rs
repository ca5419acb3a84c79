//! Alert channel entries: the five original types and their settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Secret;
use crate::model::Severity;

/// The channel types the original system offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelType {
    /// Prints alerts to the host log.
    Console,
    /// POSTs alerts as JSON to a URL.
    Webhook,
    /// Posts to a Slack incoming webhook.
    Slack,
    /// Posts to a Discord webhook.
    Discord,
    /// Sends mail through an SMTP relay.
    Email,
}

impl ChannelType {
    /// Lowercase name, as written in config.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelType::Console => "console",
            ChannelType::Webhook => "webhook",
            ChannelType::Slack => "slack",
            ChannelType::Discord => "discord",
            ChannelType::Email => "email",
        }
    }
}

/// `[[alerting.channels]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChannel {
    #[serde(rename = "type")]
    pub kind: ChannelType,
    #[serde(default)]
    pub config: toml::Table,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default)]
    pub filters: ChannelFilters,
}

fn enabled_by_default() -> bool {
    true
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
}

impl ChannelFilters {
    /// Whether an alert with these attributes passes the filters.
    pub fn matches(&self, severity: Severity, component: &str, metric: &str) -> bool {
        (self.severity.is_empty() || self.severity.contains(&severity))
            && (self.components.is_empty() || self.components.iter().any(|c| c == component))
            && (self.metrics.is_empty() || self.metrics.iter().any(|m| m == metric))
    }
}

/// A validated channel.
#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    /// Position-based name, `console#0`, used in logs and delivery records.
    pub name: String,
    /// Whether alerts are sent to it.
    pub enabled: bool,
    /// Which alerts it receives.
    pub filters: ChannelFilters,
    /// Type and type-specific settings.
    #[serde(flatten)]
    pub settings: ChannelSettings,
    /// The `config` table as written, secrets included: what the channel
    /// plugin receives. Never serialised.
    #[serde(skip)]
    pub plugin_config: toml::Table,
}

/// Type-specific settings, serialised as `{"type": …, "config": {…}}` with
/// every secret redacted.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", content = "config", rename_all = "lowercase")]
pub enum ChannelSettings {
    /// No settings.
    Console(ConsoleSettings),
    /// Generic JSON webhook.
    Webhook(WebhookSettings),
    /// Slack incoming webhook.
    Slack(ChatWebhookSettings),
    /// Discord webhook.
    Discord(ChatWebhookSettings),
    /// SMTP mail.
    Email(EmailSettings),
}

impl ChannelSettings {
    /// The channel type.
    pub fn kind(&self) -> ChannelType {
        match self {
            ChannelSettings::Console(_) => ChannelType::Console,
            ChannelSettings::Webhook(_) => ChannelType::Webhook,
            ChannelSettings::Slack(_) => ChannelType::Slack,
            ChannelSettings::Discord(_) => ChannelType::Discord,
            ChannelSettings::Email(_) => ChannelType::Email,
        }
    }

    /// The URL this channel posts to, if it is a webhook of some kind: its
    /// origin is granted to the channel's plugin implicitly.
    pub fn webhook_url(&self) -> Option<&Secret> {
        match self {
            ChannelSettings::Webhook(w) => Some(&w.url),
            ChannelSettings::Slack(c) | ChannelSettings::Discord(c) => Some(&c.webhook_url),
            ChannelSettings::Console(_) | ChannelSettings::Email(_) => None,
        }
    }
}

/// Console channel settings (none).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {}

/// Webhook settings. The URL and header values often carry tokens, so all
/// of them are secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where alerts are POSTed.
    pub url: Secret,
    /// Extra request headers, for example `Authorization`.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
}

/// Slack or Discord: one secret webhook URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatWebhookSettings {
    /// The incoming-webhook URL (it embeds the token).
    pub webhook_url: Secret,
}

/// Email settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// Who receives the alerts.
    pub recipient: String,
    /// Sender address; defaults to `perfwatch@<smtp host>`.
    #[serde(default)]
    pub from: Option<String>,
    /// The relay to send through.
    pub smtp: SmtpSettings,
}

/// An SMTP relay.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Relay host name.
    pub host: String,
    /// Relay port; 587 (submission with STARTTLS) unless set.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// Credentials, when the relay needs them.
    #[serde(default)]
    pub auth: Option<SmtpAuth>,
    /// Transport security; by default implicit TLS on port 465 and
    /// STARTTLS (required) on any other port.
    #[serde(default)]
    pub tls: Option<SmtpTls>,
}

fn default_smtp_port() -> u16 {
    587
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// TLS from the first byte (port 465).
    Tls,
    /// Plain connection upgraded with STARTTLS; refused if the relay cannot.
    Starttls,
    /// No encryption: only for a relay on loopback or a trusted network.
    None,
}

impl SmtpSettings {
    /// The transport security in effect.
    pub fn effective_tls(&self) -> SmtpTls {
        self.tls.unwrap_or(if self.port == 465 {
            SmtpTls::Tls
        } else {
            SmtpTls::Starttls
        })
    }
}

/// SMTP credentials; both halves are secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpAuth {
    /// User name.
    pub user: Secret,
    /// Password.
    pub pass: Secret,
}

/// Checks one `[[alerting.channels]]` entry; `at` names it in errors.
pub(super) fn validate_channel(raw: RawChannel, at: &str) -> Result<Channel, String> {
    let plugin_config = raw.config.clone();
    let config = toml::Value::Table(raw.config);
    let bad = |e: toml::de::Error| format!("{at}.config ({}): {}", raw.kind.as_str(), e.message());
    let settings = match raw.kind {
        ChannelType::Console => ChannelSettings::Console(config.try_into().map_err(bad)?),
        ChannelType::Webhook => {
            let s: WebhookSettings = config.try_into().map_err(bad)?;
            check_url(s.url.expose(), &format!("{at}.config.url"))?;
            ChannelSettings::Webhook(s)
        }
        ChannelType::Slack | ChannelType::Discord => {
            let s: ChatWebhookSettings = config.try_into().map_err(bad)?;
            check_url(s.webhook_url.expose(), &format!("{at}.config.webhook_url"))?;
            if raw.kind == ChannelType::Slack {
                ChannelSettings::Slack(s)
            } else {
                ChannelSettings::Discord(s)
            }
        }
        ChannelType::Email => {
            let s: EmailSettings = config.try_into().map_err(bad)?;
            if !s.recipient.contains('@') {
                return Err(format!(
                    "{at}.config.recipient: {:?} is not an email address",
                    s.recipient
                ));
            }
            if s.smtp.host.is_empty() {
                return Err(format!("{at}.config.smtp.host must not be empty"));
            }
            ChannelSettings::Email(s)
        }
    };
    Ok(Channel {
        name: String::new(),
        enabled: raw.enabled,
        filters: raw.filters,
        settings,
        plugin_config,
    })
}

/// Only the scheme is checked, and the URL itself is never echoed: it is a secret.
fn check_url(url: &str, at: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{at} must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{at} has no host"));
    }
    Ok(())
}
