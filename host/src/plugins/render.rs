//! A channel's notification rendered, not sent: the channel's plugin runs
//! as it does to deliver, but its HTTP requests and emails are captured and
//! answered as accepted (`200`, sent). What `perfwatch channels test
//! --render` prints: the exact payload a receiver would get, with the
//! secrets of its address and headers redacted.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::config::REDACTED;

/// Headers whose values are shown; every other value may carry a token.
const SHOWN_HEADERS: &[&str] = &["content-type", "accept", "user-agent"];

/// One message a channel plugin would have sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Rendered {
    /// An HTTP request.
    Http {
        /// Method, upper case.
        method: String,
        /// The URL cut to its origin: its path and query are often a token.
        url: String,
        /// Name and value; values outside [`SHOWN_HEADERS`] redacted.
        headers: Vec<(String, String)>,
        /// The body, as text (lossy for binary bodies).
        body: String,
    },
    /// An email, as the plugin wrote it; the host adds sender and recipients.
    Email {
        /// Subject line.
        subject: String,
        /// Plain-text part.
        text: String,
        /// HTML part, when there is one.
        html: Option<String>,
    },
}

/// Where a rendering instance's messages go instead of the network.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<Rendered>>>);

impl Capture {
    pub(super) fn http(&self, method: &str, url: &str, headers: &[(String, String)], body: &[u8]) {
        let headers = headers
            .iter()
            .map(|(name, value)| {
                let shown = SHOWN_HEADERS.contains(&name.to_ascii_lowercase().as_str());
                let value = if shown {
                    value.clone()
                } else {
                    REDACTED.to_owned()
                };
                (name.clone(), value)
            })
            .collect();
        self.push(Rendered::Http {
            method: method.to_ascii_uppercase(),
            url: super::redact::urls(url).into_owned(),
            headers,
            body: String::from_utf8_lossy(body).into_owned(),
        });
    }

    pub(super) fn email(&self, subject: String, text: String, html: Option<String>) {
        self.push(Rendered::Email {
            subject,
            text,
            html,
        });
    }

    fn push(&self, rendered: Rendered) {
        self.0.lock().expect("capture lock").push(rendered);
    }

    /// What was captured, in order.
    pub fn taken(&self) -> Vec<Rendered> {
        std::mem::take(&mut *self.0.lock().expect("capture lock"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_captured_request_shows_its_origin_and_no_token() {
        let capture = Capture::default();
        capture.http(
            "post",
            "https://hooks.slack.com/services/T0/B0/s3cret",
            &[
                ("Content-Type".into(), "application/json".into()),
                ("Authorization".into(), "Bearer s3cret".into()),
            ],
            br#"{"text":"hi"}"#,
        );
        let taken = capture.taken();
        let text = serde_json::to_string(&taken).unwrap();
        assert!(!text.contains("s3cret"), "{text}");
        let Rendered::Http {
            method,
            headers,
            body,
            ..
        } = &taken[0]
        else {
            panic!("{taken:?}");
        };
        assert_eq!(method, "POST");
        assert_eq!(headers[0].1, "application/json");
        assert_eq!(body, r#"{"text":"hi"}"#);
        assert!(capture.taken().is_empty(), "taken once");
    }
}
