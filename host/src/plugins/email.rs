//! The `email` interface: a channel plugin hands the host a subject and a
//! body; the host sends it through the channel's SMTP relay (lettre) to the
//! channel's recipients. The plugin never sees credentials or chooses
//! recipients.
//!
//! The relay's settings are keys of the channel's config, read here
//! ([`EmailSettings`]) and checked before the channel starts: a relay
//! reached without TLS must be on loopback unless the operator says
//! `allow_insecure = true`, since the password and every alert would cross
//! the network in clear text.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::bindings::v2::email::Message as EmailMessage;
use super::bindings::v2::types::DeliveryError;
use super::redact;
use serde::Deserialize;

use crate::config::{REDACTED, Secret};

/// Longest subject and body accepted from a plugin.
const MAX_SUBJECT_BYTES: usize = 998;
const MAX_BODY_BYTES: usize = 1 << 20;

/// Most recipients of one channel: a mailing list belongs on the relay,
/// and each recipient is one more `RCPT` the relay can refuse.
const MAX_RECIPIENTS: usize = 50;

/// How long the relay may take to answer one SMTP command unless
/// `smtp.timeout_ms` says otherwise; the plugin call's deadline bounds the
/// whole send anyway.
const DEFAULT_SMTP_TIMEOUT_MS: u64 = 30_000;

/// The `email` import's settings, read from the config of a channel whose
/// plugin is granted email: the keys the host acts on. The plugin may have
/// keys of its own beside them, which its `validate-config` checks.
#[derive(Debug, Clone, Deserialize)]
pub struct EmailSettings {
    /// One recipient; `recipients` lists more. Both may be given.
    #[serde(default)]
    pub recipient: Option<String>,
    /// Who receives the alerts.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Sender address; defaults to `perfwatch@<smtp host>`.
    #[serde(default)]
    pub from: Option<String>,
    /// The relay to send through.
    pub smtp: SmtpSettings,
}

impl EmailSettings {
    /// The settings in a channel's merged config (`Channel::plugin_config`),
    /// checked: at least one recipient, a relay host, and TLS unless the
    /// relay is on loopback or `smtp.allow_insecure` is set.
    pub fn from_channel_config(config: &serde_json::Value) -> Result<Self, String> {
        let settings: Self = serde_path_to_error::deserialize(config).map_err(|e| {
            match e.path().to_string().as_str() {
                "." => format!("config: {}", e.inner()),
                path => format!("config.{path}: {}", e.inner()),
            }
        })?;
        let recipients = settings.all_recipients();
        if recipients.is_empty() {
            return Err(
                "config.recipients: no recipient; list them in `recipients = [\"ops@example.com\"]`"
                    .to_owned(),
            );
        }
        if recipients.len() > MAX_RECIPIENTS {
            return Err(format!(
                "config.recipients: {} recipients, at most {MAX_RECIPIENTS}; send to a list address instead",
                recipients.len()
            ));
        }
        if let Some(bad) = recipients.iter().find(|r| !r.contains('@')) {
            return Err(format!(
                "config.recipients: {bad:?} is not an email address"
            ));
        }
        let smtp = &settings.smtp;
        if smtp.host.is_empty() {
            return Err("config.smtp.host must not be empty".to_owned());
        }
        if smtp.effective_tls() == SmtpTls::None && !smtp.allow_insecure && !is_loopback(&smtp.host)
        {
            return Err(format!(
                "config.smtp.tls = \"none\" would send mail{} in clear text to {}, which is not on loopback; \
                 use tls = \"starttls\" or \"tls\", or set smtp.allow_insecure = true if that network is trusted",
                if smtp.auth.is_some() {
                    " and the relay password"
                } else {
                    ""
                },
                smtp.host
            ));
        }
        Ok(settings)
    }

    /// `recipient` and then `recipients`, each address once.
    pub fn all_recipients(&self) -> Vec<&str> {
        let mut all: Vec<&str> = Vec::new();
        for address in self.recipient.iter().chain(&self.recipients) {
            let address = address.trim();
            if !all.contains(&address) {
                all.push(address);
            }
        }
        all
    }
}

/// Whether `host` names this machine: `localhost`, or a loopback address.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An SMTP relay.
#[derive(Debug, Clone, Deserialize)]
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
    /// Allows `tls = "none"` to a relay that is not on loopback.
    #[serde(default)]
    pub allow_insecure: bool,
    /// A PEM file of certificates to trust besides the system's: for a
    /// relay whose certificate a private CA (or the relay itself) signed.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How long the relay may take to answer one command, in milliseconds.
    #[serde(default = "default_smtp_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_smtp_timeout_ms() -> u64 {
    DEFAULT_SMTP_TIMEOUT_MS
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// TLS from the first byte (port 465).
    Tls,
    /// Plain connection upgraded with STARTTLS; refused if the relay cannot.
    Starttls,
    /// No encryption: only for a relay on loopback, or with `allow_insecure`.
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

    /// The TLS parameters for the relay: the system's roots, and those of
    /// `ca_file` when given.
    fn tls_parameters(&self) -> Result<TlsParameters, String> {
        let mut builder = TlsParameters::builder(self.host.clone());
        if let Some(path) = &self.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("config.smtp.ca_file {}: {e}", path.display()))?;
            if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                return Err(format!(
                    "config.smtp.ca_file {}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)",
                    path.display()
                ));
            }
            let certificates = Certificate::from_pem(&pem)
                .map_err(|e| format!("config.smtp.ca_file {}: {e}", path.display()))?;
            builder = builder.add_root_certificate(certificates);
        }
        builder
            .build()
            .map_err(|e| format!("TLS for {}: {e}", self.host))
    }
}

/// SMTP credentials; both halves are secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpAuth {
    /// User name.
    pub user: Secret,
    /// Password.
    pub pass: Secret,
}

/// A channel's relay, sender and recipients. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// The relay's user name and password, cut from any error text: a
    /// relay's answer is quoted in the error, and some relays echo the
    /// login they refused.
    credentials: Vec<String>,
}

impl Mailer {
    /// The mailer of one email channel's settings (see
    /// [`EmailSettings::from_channel_config`], which checks them first).
    pub fn new(settings: &EmailSettings) -> Result<Self, String> {
        let smtp = &settings.smtp;
        let from_text = settings
            .from
            .clone()
            .unwrap_or_else(|| format!("perfwatch@{}", smtp.host));
        let from: Mailbox = from_text
            .parse()
            .map_err(|e| format!("config.from: {from_text:?}: {e}"))?;
        let to = settings
            .all_recipients()
            .into_iter()
            .map(|address| {
                address
                    .parse::<Mailbox>()
                    .map_err(|e| format!("config.recipients: {address:?}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tls = match smtp.effective_tls() {
            SmtpTls::Tls => Tls::Wrapper(smtp.tls_parameters()?),
            SmtpTls::Starttls => Tls::Required(smtp.tls_parameters()?),
            SmtpTls::None => {
                if !is_loopback(&smtp.host) {
                    tracing::warn!(relay = %smtp.host, "smtp.allow_insecure: mail goes to the relay in clear text");
                }
                Tls::None
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .tls(tls)
            .timeout(Some(Duration::from_millis(smtp.timeout_ms)));
        let mut credentials = Vec::new();
        if let Some(auth) = &smtp.auth {
            let (user, pass) = (auth.user.expose(), auth.pass.expose());
            builder = builder.credentials(Credentials::new(user.to_owned(), pass.to_owned()));
            credentials.extend(
                [user, pass]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            // Longest first: a password that contains the user name must
            // not be left half cut once the user name is gone.
            credentials.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            to,
            credentials,
        })
    }

    /// The words of a relay failure ("Connection error: connection refused",
    /// "permanent error (535): …"), without the relay's credentials or any
    /// URL: this text reaches the plugin, and through it the API and the log.
    fn describe(&self, error: &lettre::transport::smtp::Error) -> String {
        let mut text = redact::urls(&error.to_string()).into_owned();
        for secret in &self.credentials {
            text = text.replace(secret.as_str(), REDACTED);
        }
        text
    }

    /// Sends `message`. What the relay refuses for good (a 5xx reply, a
    /// malformed message) is permanent; a 4xx reply, a lost connection or
    /// the deadline is transient.
    pub(super) async fn send(
        &self,
        message: EmailMessage,
        deadline: Instant,
    ) -> Result<(), DeliveryError> {
        if message.subject.len() > MAX_SUBJECT_BYTES || message.subject.contains(['\r', '\n']) {
            return Err(DeliveryError::Permanent(format!(
                "the subject must be one line of at most {MAX_SUBJECT_BYTES} bytes"
            )));
        }
        if message.text.len() + message.html.as_ref().map_or(0, String::len) > MAX_BODY_BYTES {
            return Err(DeliveryError::Permanent(format!(
                "the body is larger than {MAX_BODY_BYTES} bytes"
            )));
        }
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(message.subject);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let email = match message.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(message.text, html)),
            None => builder.body(message.text),
        }
        .map_err(|e| DeliveryError::Permanent(format!("cannot build the message: {e}")))?;
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.transport.send(email)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                let text = format!("the SMTP relay refused the message: {}", self.describe(&e));
                Err(if e.is_permanent() {
                    DeliveryError::Permanent(text)
                } else {
                    DeliveryError::Transient(text)
                })
            }
            Err(_) => Err(DeliveryError::Transient(
                "the SMTP relay did not answer before the call's deadline".to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    const SECRET: &str = "SECRETMARKER123";

    /// A relay that speaks just enough SMTP to refuse a login, quoting the
    /// user name back as some real relays do. Returns its port.
    async fn refusing_relay() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 relay ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    let answer = match verb.as_str() {
                        "EHLO" => "250-relay\r\n250 AUTH PLAIN LOGIN\r\n".to_owned(),
                        "AUTH" => format!(
                            "535 5.7.8 login bot-{SECRET} with password pw-{SECRET} refused\r\n"
                        ),
                        "QUIT" => "221 bye\r\n".to_owned(),
                        _ => "250 ok\r\n".to_owned(),
                    };
                    if write.write_all(answer.as_bytes()).await.is_err() || verb == "QUIT" {
                        break;
                    }
                }
            }
        });
        port
    }

    #[tokio::test]
    async fn smtp_credentials_never_reach_the_error() {
        let port = refusing_relay().await;
        let settings = EmailSettings::from_channel_config(&serde_json::json!({
            "recipient": "ops@example.com",
            "from": "perfwatch@example.com",
            "smtp": {
                "host": "127.0.0.1",
                "port": port,
                "tls": "none",
                "auth": {"user": format!("bot-{SECRET}"), "pass": format!("pw-{SECRET}")},
            },
        }))
        .unwrap();
        let mailer = Mailer::new(&settings).unwrap();
        let message = EmailMessage {
            subject: "alert".into(),
            text: "cpu high".into(),
            html: None,
        };
        let error = mailer
            .send(message, Instant::now() + Duration::from_secs(10))
            .await
            .expect_err("the relay refuses the login");
        // 535 is a 5xx reply: trying again with the same login cannot help.
        let DeliveryError::Permanent(error) = error else {
            panic!("a refused login is permanent: {error:?}");
        };
        assert!(!error.contains(SECRET), "a credential leaked: {error}");
        // Still says what went wrong, in the relay's words.
        assert!(error.contains("535"), "{error}");
        assert!(
            error.contains(&format!("login {REDACTED} with password {REDACTED}")),
            "{error}"
        );
    }

    fn settings(config: serde_json::Value) -> Result<EmailSettings, String> {
        EmailSettings::from_channel_config(&config)
    }

    #[test]
    fn recipient_and_recipients_both_count_each_address_once() {
        let s = settings(serde_json::json!({
            "recipient": "ops@example.com",
            "recipients": ["oncall@example.com", " ops@example.com"],
            "subject_prefix": "keys of the plugin's own are left to it",
            "smtp": {"host": "smtp.example.com"},
        }))
        .unwrap();
        assert_eq!(
            s.all_recipients(),
            ["ops@example.com", "oncall@example.com"]
        );
        let mailer = Mailer::new(&s).unwrap();
        assert_eq!(mailer.to.len(), 2);
        assert_eq!(mailer.from.to_string(), "perfwatch@smtp.example.com");
        let none = settings(serde_json::json!({"smtp": {"host": "smtp.example.com"}})).unwrap_err();
        assert!(
            none.starts_with("config.recipients: no recipient"),
            "{none}"
        );
        let bad = settings(serde_json::json!({"recipients": ["ops"], "smtp": {"host": "h"}}))
            .unwrap_err();
        assert_eq!(bad, "config.recipients: \"ops\" is not an email address");
        let missing = settings(serde_json::json!({"recipient": "ops@example.com"})).unwrap_err();
        assert_eq!(missing, "config: missing field `smtp`");
        let typo =
            settings(serde_json::json!({"recipient": "a@b", "smtp": {"host": "h", "tsl": "none"}}))
                .unwrap_err();
        assert!(
            typo.starts_with("config.smtp.tsl: unknown field `tsl`"),
            "{typo}"
        );
    }

    #[test]
    fn plain_smtp_is_for_loopback_unless_allowed() {
        let plain = |host: &str, extra: serde_json::Value| {
            let mut smtp = serde_json::json!({"host": host, "port": 25, "tls": "none"});
            smtp.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            settings(serde_json::json!({"recipient": "ops@example.com", "smtp": smtp}))
        };
        for loopback in [
            "127.0.0.1",
            "127.3.2.1",
            "localhost",
            "LOCALHOST.",
            "::1",
            "[::1]",
        ] {
            assert!(plain(loopback, serde_json::json!({})).is_ok(), "{loopback}");
        }
        let refused = plain(
            "smtp.example.com",
            serde_json::json!({"auth": {"user": "u", "pass": "p"}}),
        )
        .unwrap_err();
        assert_eq!(
            refused,
            "config.smtp.tls = \"none\" would send mail and the relay password in clear text to \
             smtp.example.com, which is not on loopback; use tls = \"starttls\" or \"tls\", or set \
             smtp.allow_insecure = true if that network is trusted"
        );
        assert!(plain("10.0.0.5", serde_json::json!({})).is_err());
        assert!(plain("10.0.0.5", serde_json::json!({"allow_insecure": true})).is_ok());
        let tls =
            settings(serde_json::json!({"recipient": "a@b", "smtp": {"host": "smtp.example.com"}}));
        assert_eq!(tls.unwrap().smtp.effective_tls(), SmtpTls::Starttls);
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "hello").unwrap();
        let with_ca = |path: &std::path::Path| {
            let s = settings(serde_json::json!({
                "recipient": "ops@example.com",
                "smtp": {"host": "127.0.0.1", "ca_file": path},
            }))
            .unwrap();
            Mailer::new(&s).map(|_| ())
        };
        let missing = with_ca(&dir.path().join("absent.pem")).unwrap_err();
        assert!(
            missing.starts_with("config.smtp.ca_file ") && missing.contains("absent.pem"),
            "{missing}"
        );
        let garbage = with_ca(&not_pem).unwrap_err();
        assert!(garbage.contains("no PEM certificate"), "{garbage}");
    }
}
