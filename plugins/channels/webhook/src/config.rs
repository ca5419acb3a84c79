//! The webhook channel's `config` table: what the operator may set, its defaults, and the checks serde cannot make.

use std::collections::BTreeMap;

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{ConfigError, ConfigInfo};

/// Keys whose values are secrets: the URL (its path or query usually
/// carries a token), every header value (`Authorization`) and the key the
/// body is signed with.
pub const SECRET_KEYS: &[&str] = &["url", "headers.*", "signing_secret"];

/// The header the signature is sent in.
pub const SIGNATURE_HEADER: &str = "X-Perfwatch-Signature";

/// Longest `timeout_ms` accepted: the host's longest plugin call deadline
/// (`limits.call_timeout_ms`), which bounds every request anyway.
const MAX_TIMEOUT_MS: u32 = 60_000;

/// `[[alerting.channels]] config` of a `webhook` channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
pub struct Options {
    /// Where notifications are sent: an `http://` or `https://` URL. Secret.
    pub url: String,
    /// Extra request headers, for example `Authorization`. Values are secret.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body's shape: `alertmanager` (default) or `perfwatch`.
    #[serde(default)]
    pub format: Format,
    /// `POST` (default), `PUT` or `PATCH`.
    #[serde(default)]
    pub method: Method,
    /// Give up on a request after this many milliseconds (1 to 60000). The
    /// plugin call's deadline (`[[plugins]] name = "webhook"`,
    /// `limits.call_timeout_ms`, 10 s by default for channels) bounds it, and is the
    /// timeout when this is unset: raise both for a slow receiver.
    #[serde(default)]
    pub timeout_ms: Option<u32>,
    /// When set, the body is signed with HMAC-SHA256 under this key and the
    /// signature sent as `X-Perfwatch-Signature: sha256=<hex>`. Secret.
    #[serde(default)]
    pub signing_secret: Option<String>,
    /// At most this many alerts per request, the rest counted in
    /// `truncatedAlerts`; 0 (default) sends all, as Alertmanager's
    /// `max_alerts` does.
    #[serde(default)]
    pub max_alerts: u32,
}

/// The JSON shape of the body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", rename_all = "lowercase")]
pub enum Format {
    /// Alertmanager's webhook payload, version 4.
    #[default]
    Alertmanager,
    /// The original system's `PerformanceAlert` objects.
    Perfwatch,
}

/// The request method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", rename_all = "UPPERCASE")]
pub enum Method {
    /// `POST`, what Alertmanager sends.
    #[default]
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
}

impl Method {
    /// The method as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
        }
    }
}

/// What `validate-config` answers for `json`.
pub fn validate(json: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
    perfwatch_sdk::validate_config_with::<Options>(json, SECRET_KEYS, check)
}

/// What serde cannot check. No message quotes a URL, header value or
/// secret: config errors are shown and logged.
fn check(options: &Options) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    if let Err(error) = perfwatch_sdk::http::check_url("url", &options.url) {
        problems.push(error);
    }
    for (name, value) in &options.headers {
        let key = format!("headers.{name}");
        if value.chars().any(|c| c.is_control() && c != '\t') {
            problems.push(ConfigError::new(
                key.clone(),
                "the value contains a line break or another control character",
                "a single-line value",
            ));
        }
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            problems.push(ConfigError::new(
                key,
                "not a valid header name",
                "letters, digits and !#$%&'*+-.^_`|~",
            ));
        } else if options.signing_secret.is_some() && name.eq_ignore_ascii_case(SIGNATURE_HEADER) {
            problems.push(ConfigError::new(
                key,
                "the plugin sends this header itself when `signing_secret` is set",
                "another header name",
            ));
        } else if ["content-length", "host"].contains(&name.to_ascii_lowercase().as_str()) {
            problems.push(ConfigError::new(
                key,
                "the host sets this header",
                "another header name",
            ));
        }
    }
    if options
        .timeout_ms
        .is_some_and(|ms| ms == 0 || ms > MAX_TIMEOUT_MS)
    {
        problems.push(ConfigError::new(
            "timeout_ms",
            "out of range",
            format!("an integer from 1 to {MAX_TIMEOUT_MS}"),
        ));
    }
    if options.signing_secret.as_deref() == Some("") {
        problems.push(ConfigError::new(
            "signing_secret",
            "empty",
            "a non-empty key, or no `signing_secret` to send unsigned",
        ));
    }
    problems
}

/// Whether `byte` may appear in an HTTP header name (RFC 9110 `tchar`).
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_alertmanager_by_post_unsigned_and_untruncated() {
        assert_eq!(
            perfwatch_sdk::parse_config::<Options>(r#"{"url": "https://hooks.example.com/x"}"#),
            Ok(Options {
                url: "https://hooks.example.com/x".into(),
                headers: BTreeMap::new(),
                format: Format::Alertmanager,
                method: Method::Post,
                timeout_ms: None,
                signing_secret: None,
                max_alerts: 0,
            })
        );
    }

    #[test]
    fn every_option_is_read() {
        let options: Options = perfwatch_sdk::parse_config(
            r#"{"url": "http://127.0.0.1:9/h", "headers": {"Authorization": "Bearer t"},
                "format": "perfwatch", "method": "PUT", "timeout_ms": 2500,
                "signing_secret": "k", "max_alerts": 3}"#,
        )
        .unwrap();
        assert_eq!(options.format, Format::Perfwatch);
        assert_eq!(options.method.as_str(), "PUT");
        assert_eq!(options.timeout_ms, Some(2500));
        assert_eq!(options.signing_secret.as_deref(), Some("k"));
        assert_eq!(options.max_alerts, 3);
    }

    #[test]
    fn the_secrets_are_named() {
        assert_eq!(
            validate(r#"{"url": "https://hooks.example.com/x", "headers": {"X-Token": "t"}}"#),
            Ok(ConfigInfo::with_secret_keys(&[
                "url",
                "headers.*",
                "signing_secret"
            ]))
        );
    }

    #[test]
    fn mistakes_are_reported_without_quoting_secrets() {
        let errors = validate(
            r#"{"url": "hooks.example.com/SECRET", "headers": {"Bad Name": "SECRET", "X-Perfwatch-Signature": "SECRET", "X-Split": "SECRET\r\nHost: x"},
                "timeout_ms": 0, "signing_secret": ""}"#,
        )
        .unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "url",
                "headers.Bad Name",
                "headers.X-Perfwatch-Signature",
                "headers.X-Split",
                "timeout_ms",
                "signing_secret"
            ]
        );
        for error in &errors {
            assert!(!error.to_string().contains("SECRET"), "{error}");
        }
        assert_eq!(
            validate(r#"{"url": "https://x.example", "format": "slack"}"#).unwrap_err()[0].key,
            "format"
        );
        assert_eq!(
            validate(r#"{"url": "https://x.example", "method": "GET"}"#).unwrap_err()[0].key,
            "method"
        );
        assert_eq!(
            validate(r#"{"url": "https://x.example", "retries": 3}"#).unwrap_err()[0].key,
            "retries"
        );
        assert_eq!(validate("{}").unwrap_err()[0].key, "url");
    }
}
