//! The Discord alert channel: posts each notification to a Discord webhook as one message with an embed per alert, mentions disabled.
//!
//! # Config
//!
//! ```toml
//! [[alerting.channels]]
//! type = "discord"
//! [alerting.channels.config]
//! webhook_url = "https://discord.com/api/webhooks/123/XXXX"  # required; secret
//! username = "perfwatch"                                     # optional
//! ```
//!
//! `webhook_url` is a secret (its path is the token): the plugin names it in
//! `validate-config`, so the host redacts it, and no error quotes it; it
//! may as well be written in the channel's `secrets` table, which the host
//! merges into `config` for this channel alone. The host lets the channel
//! reach the URL's origin only. `username` overrides
//! the name the webhook posts as.
//!
//! # Message
//!
//! - `content`: the notification's title, `[FIRING:2] rule:latency (agents)`,
//!   and, when alerts were left out, a line `…and N more alerts not shown`;
//! - one embed per alert: the title `CRITICAL · firing: <rule>` linking to
//!   the alert's history in perfwatch (its generator URL), the alert's
//!   sentence (and the rule's description) as the description, a colour
//!   (red critical, amber warning, green resolved), fields for the value
//!   against the threshold, the metric, the component, the series' labels
//!   and the runbook, and the time it started (or resolved) as the
//!   timestamp;
//! - `allowed_mentions: {"parse": []}` always, so no text from a metric,
//!   label or message can ping `@everyone`, a role or a user.
//!
//! # Limits
//!
//! Discord refuses a message with more than 10 embeds, more than 6,000
//! characters across its embeds, a title over 256 characters, a
//! description over 4,096, more than 25 fields, a field name over 256 or a
//! value over 1,024, or content over 2,000. Longer texts are cut and end
//! in `…`; embeds are added in order while they fit, and the alerts left
//! out are counted in `content`.
//!
//! # Retries
//!
//! 2xx is delivered. A 429 is retried after the JSON body's `retry_after`
//! (seconds, fractional), else the `Retry-After` header; other 4xx are
//! permanent; 5xx, timeouts and failed connections are retried with backoff.

mod message;

use perfwatch_sdk::http::Response;
use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{
    Channel, ConfigError, ConfigInfo, DeliveryError, Notification, export_channel,
};

/// The webhook URL carries the token in its path.
const SECRET_KEYS: &[&str] = &["webhook_url"];

/// `[[alerting.channels]] config` of a `discord` channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
pub struct Options {
    /// The webhook's URL. Secret.
    pub webhook_url: String,
    /// Name to post as instead of the webhook's own.
    #[serde(default)]
    pub username: Option<String>,
}

struct Discord;

impl Channel for Discord {
    fn deliver(notification: Notification) -> Result<(), DeliveryError> {
        let options: Options = perfwatch_sdk::config().map_err(DeliveryError::permanent)?;
        let response = perfwatch_sdk::http::Request::post(options.webhook_url.as_str())
            .json(&message::render(&notification, &options))?
            .send()?;
        outcome(&response)
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config_with::<Options>(config, SECRET_KEYS, check)
    }
}

export_channel!(Discord);

/// What serde cannot check; nothing quotes the URL.
fn check(options: &Options) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    if let Err(error) = perfwatch_sdk::http::check_url("webhook_url", &options.webhook_url) {
        problems.push(error);
    }
    if let Some(username) = &options.username {
        let length = username.trim().chars().count();
        if !(1..=80).contains(&length) {
            problems.push(ConfigError::new(
                "username",
                "not a name Discord accepts",
                "1 to 80 characters",
            ));
        }
    }
    problems
}

/// Discord's 429 body.
#[derive(Deserialize)]
#[serde(crate = "perfwatch_sdk::serde")]
struct RateLimited {
    /// Seconds to wait, fractional.
    retry_after: f64,
}

/// What an answer means: the SDK's mapping, except that a 429's JSON
/// `retry_after` (milliseconds-precise) wins over its `Retry-After` header
/// (whole seconds).
fn outcome(response: &Response) -> Result<(), DeliveryError> {
    if response.status == 429
        && let Ok(RateLimited { retry_after }) = response.json()
        && retry_after.is_finite()
        && retry_after >= 0.0
    {
        let after_ms = (retry_after * 1000.0).ceil().min(f64::from(u32::MAX)) as u32;
        return Err(DeliveryError::retry_after(after_ms, response.summary()));
    }
    DeliveryError::check_response(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::http::Header;

    fn response(status: u16, retry_after: Option<&str>, body: &str) -> Response {
        Response {
            status,
            headers: retry_after
                .map(|value| Header {
                    name: "Retry-After".into(),
                    value: value.into(),
                })
                .into_iter()
                .collect(),
            body: body.as_bytes().to_vec(),
            elapsed_ms: 1,
        }
    }

    #[test]
    fn rate_limits_wait_as_the_body_says_else_as_the_header_does() {
        let limited =
            r#"{"message": "You are being rate limited.", "retry_after": 2.5, "global": false}"#;
        assert_eq!(
            outcome(&response(429, Some("3"), limited)),
            Err(DeliveryError::retry_after(
                2_500,
                format!("HTTP 429 Too Many Requests: {limited}")
            ))
        );
        assert_eq!(
            outcome(&response(429, Some("3"), "slow down")),
            Err(DeliveryError::retry_after(
                3_000,
                "HTTP 429 Too Many Requests: slow down"
            ))
        );
        assert!(matches!(
            outcome(&response(429, None, r#"{"retry_after": -1}"#)),
            Err(DeliveryError::Transient(_))
        ));
    }

    #[test]
    fn other_answers_map_as_the_sdk_maps_them() {
        assert_eq!(outcome(&response(204, None, "")), Ok(()));
        assert!(matches!(
            outcome(&response(400, None, r#"{"embeds": ["0"]}"#)),
            Err(DeliveryError::Permanent(_))
        ));
        assert!(matches!(
            outcome(&response(502, None, "")),
            Err(DeliveryError::Transient(_))
        ));
    }

    #[test]
    fn config_is_checked_without_quoting_the_url() {
        assert_eq!(
            Discord::validate_config(
                r#"{"webhook_url": "https://discord.com/api/webhooks/1/x", "username": "perfwatch"}"#
            ),
            Ok(ConfigInfo::with_secret_keys(&["webhook_url"]))
        );
        let errors = Discord::validate_config(
            r#"{"webhook_url": "discord.com/api/webhooks/1/SECRET", "username": ""}"#,
        )
        .unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["webhook_url", "username"]);
        assert!(errors.iter().all(|e| !e.to_string().contains("SECRET")));
        assert_eq!(
            Discord::validate_config(r#"{"webhook_url": "https://x.example", "avatar": "y"}"#)
                .unwrap_err()[0]
                .key,
            "avatar"
        );
    }
}
