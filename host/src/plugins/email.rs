//! The `email` interface: a channel plugin hands the host a subject and a
//! body; the host sends it through the channel's SMTP relay (lettre) to the
//! channel's recipient. The plugin never sees credentials or chooses
//! recipients.

use std::time::{Duration, Instant};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::bindings::email::{Host, Message as EmailMessage};
use super::state::PluginState;
use crate::config::{EmailSettings, SmtpTls};

/// Longest subject and body accepted from a plugin.
const MAX_SUBJECT_BYTES: usize = 998;
const MAX_BODY_BYTES: usize = 1 << 20;

/// A channel's relay, sender and recipient. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Mailbox,
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
        if let Some(auth) = &smtp.auth {
            builder = builder.credentials(Credentials::new(
                auth.user.expose().to_owned(),
                auth.pass.expose().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            to,
        })
    }

    async fn send(&self, message: EmailMessage, deadline: Instant) -> Result<(), String> {
        if message.subject.len() > MAX_SUBJECT_BYTES || message.subject.contains(['\r', '\n']) {
            return Err(format!(
                "the subject must be one line of at most {MAX_SUBJECT_BYTES} bytes"
            ));
        }
        if message.text.len() + message.html.as_ref().map_or(0, String::len) > MAX_BODY_BYTES {
            return Err(format!("the body is larger than {MAX_BODY_BYTES} bytes"));
        }
        let builder = Message::builder()
            .from(self.from.clone())
            .to(self.to.clone())
            .subject(message.subject);
        let email = match message.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(message.text, html)),
            None => builder.body(message.text),
        }
        .map_err(|e| format!("cannot build the message: {e}"))?;
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.transport.send(email)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("the SMTP relay refused the message: {e}")),
            Err(_) => Err("the SMTP relay did not answer before the call's deadline".to_owned()),
        }
    }
}

impl Host for PluginState {
    async fn send(&mut self, message: EmailMessage) -> Result<(), String> {
        match &self.grants.email {
            Some(mailer) => mailer.clone().send(message, self.deadline).await,
            None => Err(format!(
                "plugin `{}` may not send email; grant it with `allow_email = true` in its [[plugins]] entry \
                 and use it for an email channel",
                self.name
            )),
        }
    }
}
