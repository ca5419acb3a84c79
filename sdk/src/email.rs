//! Email through the channel's SMTP relay, for alert channel plugins.
//!
//! The host adds the sender and the channel's recipients and talks to the
//! relay; the plugin only writes the message. Only the `channel` world
//! imports `email`, and the host lets a channel send only when its
//! `[[plugins]]` entry says `allow_email = true`. Natively there is no host and [`send`] fails with
//! [`EmailError::NoHost`], so code that only composes messages stays
//! testable with plain `cargo test`.

use std::fmt;

#[cfg(target_arch = "wasm32")]
use crate::bindings::channel::perfwatch::plugin::email as imports;

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailError {
    /// The host or its relay refused the message; the text says why
    /// (no `allow_email` grant, relay unreachable, rejected by the relay).
    Refused(String),
    /// There is no perfwatch host to send through: the plugin runs natively,
    /// as in unit tests.
    NoHost,
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailError::Refused(why) => write!(f, "email not sent: {why}"),
            EmailError::NoHost => {
                f.write_str("email only works inside the perfwatch host, not in a native build")
            }
        }
    }
}

impl std::error::Error for EmailError {}

/// Lets `?` turn an [`EmailError`] into the `String` error `deliver` returns.
impl From<EmailError> for String {
    fn from(error: EmailError) -> Self {
        error.to_string()
    }
}

/// Sends one message to the channel's recipients: `text` is the plain-text
/// body and `html`, when given, its HTML alternative.
///
/// Call it from channel plugins only: `email` belongs to the `channel`
/// world, and the host grants it (`allow_email = true`) to channels alone.
/// A collector or exporter that calls it still compiles, into a component
/// that imports an interface its world does not have.
pub fn send(subject: &str, text: &str, html: Option<&str>) -> Result<(), EmailError> {
    #[cfg(target_arch = "wasm32")]
    {
        let message = imports::Message {
            subject: subject.to_owned(),
            text: text.to_owned(),
            html: html.map(str::to_owned),
        };
        imports::send(&message).map_err(EmailError::Refused)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (subject, text, html);
        Err(EmailError::NoHost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_there_is_no_host() {
        assert_eq!(
            send("disk full", "/ is at 97%", Some("<p>/ is at 97%</p>")),
            Err(EmailError::NoHost)
        );
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            String::from(EmailError::Refused(
                "550 5.7.1 relaying denied for ops@example.com".into()
            )),
            "email not sent: 550 5.7.1 relaying denied for ops@example.com"
        );
        assert_eq!(
            EmailError::NoHost.to_string(),
            "email only works inside the perfwatch host, not in a native build"
        );
    }
}
