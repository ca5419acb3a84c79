//! The Slack alert channel: posts each notification to a Slack incoming webhook as one Block Kit message with a colour bar by severity.
//!
//! # Config
//!
//! ```toml
//! [[alerting.channels]]
//! type = "slack"
//! [alerting.channels.config]
//! webhook_url = "https://hooks.slack.com/services/T000/B000/XXXX"  # required; secret
//! channel = "#ops"                # optional
//! username = "perfwatch"          # optional
//! icon_emoji = ":rotating_light:" # optional
//! ```
//!
//! `webhook_url` is a secret (its path is the token): the plugin names it in
//! `validate-config`, so the host redacts it, and no error quotes it; it
//! may as well be written in the channel's `secrets` table, which the host
//! merges into `config` for this channel alone. The host lets the channel
//! reach the URL's origin only. `channel`, `username`
//! and `icon_emoji` override the webhook's defaults where Slack still
//! honours them (legacy incoming webhooks; a Slack app's webhook always
//! posts as the app to its own channel and ignores them).
//!
//! # Message
//!
//! One message per notification:
//!
//! - `text`: the notification's title, `[FIRING:2] rule:latency (agents)`,
//!   which Slack shows in notifications and where blocks cannot be shown;
//! - one attachment whose colour bar says how bad it is: red (`#E01E5A`)
//!   when a critical alert fires, amber (`#ECB22E`) when only warnings do,
//!   green (`#2EB67D`) once all have resolved. Its blocks are a header
//!   (the title) and one section per alert: severity and status, the
//!   alert's sentence, the value against the threshold, the series' labels,
//!   the runbook when the rule has one, when it started (and resolved), and
//!   a **View** button linking to the alert's history in perfwatch
//!   (its generator URL).
//!
//! Every piece of user text (messages, labels, rule names) has `&`, `<`
//! and `>` escaped as Slack requires, so it cannot open a link or mention.
//!
//! # Limits
//!
//! Slack refuses more than 50 blocks in a message and more than 3,000
//! characters in a section's text (150 in a header). A notification with
//! more alerts than fit shows the first 48 and ends with a context block
//! saying `…and N more alerts not shown`; a longer section ends in
//! `… [truncated]`, and a longer title in `…`.
//!
//! # Retries
//!
//! 2xx is delivered; 429 is retried after Slack's `Retry-After`; other 4xx
//! (`invalid_payload`, `channel_not_found`, a revoked webhook) are
//! permanent; 5xx, timeouts and failed connections are retried with backoff.

mod message;

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{
    Channel, ConfigError, ConfigInfo, DeliveryError, Notification, export_channel,
};

/// The webhook URL carries the token in its path.
const SECRET_KEYS: &[&str] = &["webhook_url"];

/// `[[alerting.channels]] config` of a `slack` channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
pub struct Options {
    /// The incoming webhook's URL. Secret.
    pub webhook_url: String,
    /// Channel to post to instead of the webhook's own, `#ops` or a user id.
    #[serde(default)]
    pub channel: Option<String>,
    /// Name to post as.
    #[serde(default)]
    pub username: Option<String>,
    /// Emoji to post as, `:rotating_light:`.
    #[serde(default)]
    pub icon_emoji: Option<String>,
}

struct Slack;

impl Channel for Slack {
    fn deliver(notification: Notification) -> Result<(), DeliveryError> {
        let options: Options = perfwatch_sdk::config().map_err(DeliveryError::permanent)?;
        let response = perfwatch_sdk::http::Request::post(options.webhook_url.as_str())
            .json(&message::render(&notification, &options))?
            .send()?;
        DeliveryError::check_response(&response)
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config_with::<Options>(config, SECRET_KEYS, check)
    }
}

export_channel!(Slack);

/// What serde cannot check; nothing quotes the URL.
fn check(options: &Options) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    if let Err(error) = perfwatch_sdk::http::check_url("webhook_url", &options.webhook_url) {
        problems.push(error);
    }
    for (key, value) in [
        ("channel", &options.channel),
        ("username", &options.username),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            problems.push(ConfigError::new(key, "empty", "a name, or no key at all"));
        }
    }
    if let Some(emoji) = &options.icon_emoji {
        let name = emoji.strip_prefix(':').and_then(|e| e.strip_suffix(':'));
        if !name.is_some_and(|n| !n.is_empty() && !n.contains([':', ' '])) {
            problems.push(ConfigError::new(
                "icon_emoji",
                "not an emoji name",
                "a name between colons, such as `:rotating_light:`",
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_url_is_required_and_secret() {
        assert_eq!(
            Slack::validate_config(r#"{"webhook_url": "https://hooks.slack.com/services/T/B/X"}"#),
            Ok(ConfigInfo::with_secret_keys(&["webhook_url"]))
        );
        let options: Options = perfwatch_sdk::parse_config(
            r##"{"webhook_url": "https://hooks.slack.com/services/T/B/X", "channel": "#ops",
                 "username": "perfwatch", "icon_emoji": ":rotating_light:"}"##,
        )
        .unwrap();
        assert_eq!(options.channel.as_deref(), Some("#ops"));
        assert_eq!(options.icon_emoji.as_deref(), Some(":rotating_light:"));
    }

    #[test]
    fn mistakes_are_reported_without_quoting_the_url() {
        let errors = Slack::validate_config(
            r#"{"webhook_url": "hooks.slack.com/services/SECRET", "channel": " ", "icon_emoji": "siren"}"#,
        )
        .unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["webhook_url", "channel", "icon_emoji"]);
        assert!(errors.iter().all(|e| !e.to_string().contains("SECRET")));
        assert_eq!(
            Slack::validate_config(r#"{"webhook_url": "https://x.example", "url": "y"}"#)
                .unwrap_err()[0]
                .key,
            "url"
        );
        assert_eq!(
            Slack::validate_config("{}").unwrap_err()[0].key,
            "webhook_url"
        );
    }
}
