//! The `email` interface: a channel plugin hands the host a subject and a
//! body; the host sends it through the channel's SMTP relay (lettre) to the
//! channel's recipient. The plugin never sees credentials or chooses
//! recipients.

use std::time::{Duration, Instant};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::bindings::v2::email::Message as EmailMessage;
use super::bindings::v2::types::DeliveryError;
use super::redact;
use serde::Deserialize;

use crate::config::{REDACTED, Secret};

/// Longest subject and body accepted from a plugin.
const MAX_SUBJECT_BYTES: usize = 998;
const MAX_BODY_BYTES: usize = 1 << 20;

/// The `email` import's settings, read from the config of a channel whose
/// plugin is granted email: the keys the host acts on. The plugin may have
/// keys of its own beside them, which its `validate-config` checks.
#[derive(Debug, Clone, Deserialize)]
pub struct EmailSettings {
    /// Who receives the alerts.
    pub recipient: String,
    /// Sender address; defaults to `perfwatch@<smtp host>`.
    #[serde(default)]
    pub from: Option<String>,
    /// The relay to send through.
    pub smtp: SmtpSettings,
}

impl EmailSettings {
    /// The settings in a channel's merged config (`Channel::plugin_config`).
    pub fn from_channel_config(config: &serde_json::Value) -> Result<Self, String> {
        let settings: Self = serde_path_to_error::deserialize(config)
            .map_err(|e| format!("config.{}: {}", e.path(), e.inner()))?;
        if !settings.recipient.contains('@') {
            return Err(format!(
                "config.recipient: {:?} is not an email address",
                settings.recipient
            ));
        }
        if settings.smtp.host.is_empty() {
            return Err("config.smtp.host must not be empty".to_owned());
        }
        Ok(settings)
    }
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
}

fn default_smtp_port() -> u16 {
    587
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpAuth {
    /// User name.
    pub user: Secret,
    /// Password.
    pub pass: Secret,
}

/// A channel's relay, sender and recipient. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Mailbox,
    /// The relay's user name and password, cut from any error text: a
    /// relay's answer is quoted in the error, and some relays echo the
    /// login they refused.
    credentials: Vec<String>,
}

impl Mailer {
    /// The mailer of one email channel's settings.
    pub fn new(settings: &EmailSettings) -> Result<Self, String> {
        let smtp = &settings.smtp;
        let from_text = settings
            .from
            .clone()
            .unwrap_or_else(|| format!("perfwatch@{}", smtp.host));
        let from: Mailbox = from_text
            .parse()
            .map_err(|e| format!("sender {from_text:?}: {e}"))?;
        let to: Mailbox = settings
            .recipient
            .parse()
            .map_err(|e| format!("recipient {:?}: {e}", settings.recipient))?;
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned()).map_err(|e| format!("TLS for {host}: {e}"))
        };
        let tls = match smtp.effective_tls() {
            SmtpTls::Tls => Tls::Wrapper(tls(&smtp.host)?),
            SmtpTls::Starttls => Tls::Required(tls(&smtp.host)?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(30)));
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
        let builder = Message::builder()
            .from(self.from.clone())
            .to(self.to.clone())
            .subject(message.subject);
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
        let settings = EmailSettings {
            recipient: "ops@example.com".into(),
            from: Some("perfwatch@example.com".into()),
            smtp: SmtpSettings {
                host: "127.0.0.1".into(),
                port,
                auth: Some(SmtpAuth {
                    user: Secret::new(format!("bot-{SECRET}")),
                    pass: Secret::new(format!("pw-{SECRET}")),
                }),
                tls: Some(SmtpTls::None),
            },
        };
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
}
