//! Email through the channel's SMTP relay, for alert channel plugins.
//!
//! The host adds the sender and the channel's recipients and talks to the
//! relay; the plugin only writes the message. Only the `channel` world
//! imports `email`, and the host lets a channel send only when its
//! `[[plugins]]` entry says `allow_email = true`.
//!
//! [`send`] fails with the [`DeliveryError`] the host picked from the
//! relay's answer (a 5xx reply or a refused recipient is permanent; a 4xx
//! reply, a timeout or a lost connection transient), so a channel returns
//! it as it is. Natively there is no host and [`send`] fails with a
//! permanent error, so code that only composes messages stays testable with
//! plain `cargo test`.

use crate::DeliveryError;

#[cfg(target_arch = "wasm32")]
use crate::bindings::imports::perfwatch::plugin0_2_0::email as imports;

/// The reason of the error [`send`] returns in a native build.
pub const NO_HOST: &str = "email only works inside the perfwatch host, not in a native build";

/// Sends one message to the channel's recipients: `text` is the plain-text
/// body and `html`, when given, its HTML alternative.
///
/// Call it from channel plugins only: `email` belongs to the `channel`
/// world, and the host grants it (`allow_email = true`) to channels alone.
/// A collector or exporter that calls it still compiles, into a component
/// that imports an interface its world does not have.
pub fn send(subject: &str, text: &str, html: Option<&str>) -> Result<(), DeliveryError> {
    #[cfg(target_arch = "wasm32")]
    {
        let message = imports::Message {
            subject: subject.to_owned(),
            text: text.to_owned(),
            html: html.map(str::to_owned),
        };
        imports::send(&message)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (subject, text, html);
        Err(DeliveryError::permanent(NO_HOST))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_there_is_no_host() {
        assert_eq!(
            send("disk full", "/ is at 97%", Some("<p>/ is at 97%</p>")),
            Err(DeliveryError::Permanent(NO_HOST.to_owned()))
        );
    }
}
