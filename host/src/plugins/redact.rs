//! Keeping URLs out of text that leaves this module: every URL in an
//! error or a plugin's log line is cut down to its origin.
//!
//! A webhook's path (Slack, Discord) or its query (`?token=`) is often the
//! secret itself, and userinfo is a password. Error text ends up in the
//! API (`/api/v1/plugins`, `/api/v1/deliveries`), the WebSocket and the
//! log, where anyone who can read a dashboard or a log file would find it.
//! The origin (`scheme://host:port`) is kept: it says which peer failed,
//! and it is what `allow_http` grants, so it is no secret.
//!
//! Redaction errs on the side of cutting too much: a URL runs to the next
//! whitespace, so a quote or bracket written inside a URL cannot end it
//! early and let the rest through.

use std::borrow::Cow;

/// Written in place of the path, query and fragment that were cut, so a
/// reader knows the URL went further than the origin shown.
const CUT: &str = "/…";

/// Written in place of a URL with no host to keep (or none that parses).
const NO_ORIGIN: &str = "[url redacted]";

/// `text` with every `scheme://…` reduced to its origin. Borrows when
/// there is nothing to cut, which is nearly always.
pub fn urls(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = find_url(rest) {
        out.push_str(&rest[..found.start]);
        let candidate = &rest[found.start..found.end];
        // Punctuation after a URL ("(http://h/x).", "GET http://h/x: …")
        // belongs to the sentence; it is kept, after the origin.
        let url = candidate.trim_end_matches(|c: char| {
            matches!(
                c,
                '.' | ',' | ';' | ':' | '!' | '?' | ')' | ']' | '}' | '>' | '"' | '\'' | '`'
            )
        });
        out.push_str(&origin_of(url));
        out.push_str(&candidate[url.len()..]);
        rest = &rest[found.end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The origin of a URL written as text, `scheme://host[:port]`, followed by
/// [`CUT`] when anything after it was dropped.
fn origin_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => match parsed.host_str() {
            Some(host) => {
                let mut origin = format!("{}://{host}", parsed.scheme());
                if let Some(port) = parsed.port() {
                    origin.push_str(&format!(":{port}"));
                }
                let cut = !matches!(parsed.path(), "" | "/")
                    || parsed.query().is_some()
                    || parsed.fragment().is_some();
                if cut {
                    origin.push_str(CUT);
                }
                origin
            }
            None => format!("{}://{NO_ORIGIN}", parsed.scheme()),
        },
        Err(_) => {
            let scheme = url.split("://").next().unwrap_or_default();
            format!("{scheme}://{NO_ORIGIN}")
        }
    }
}

/// Where the next URL in `text` is, as byte offsets.
struct Found {
    start: usize,
    end: usize,
}

/// The next `scheme://…` in `text`: the scheme is the letters, digits,
/// `+`, `-` and `.` before `://` (starting with a letter); the URL ends at
/// whitespace or the end of the text.
fn find_url(text: &str) -> Option<Found> {
    let mut from = 0;
    while let Some(at) = text[from..].find("://").map(|i| from + i) {
        let scheme_start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(at, |(i, _)| i);
        // A scheme must start with a letter; skip leading digits and
        // signs ("1http://" is "1" then a URL).
        let scheme_start = text[scheme_start..at]
            .find(|c: char| c.is_ascii_alphabetic())
            .map_or(at, |i| scheme_start + i);
        let end = text[at..]
            .find(char::is_whitespace)
            .map_or(text.len(), |i| at + i);
        if scheme_start < at {
            return Some(Found {
                start: scheme_start,
                end,
            });
        }
        // "://" with no scheme before it: not a URL we can name, but what
        // follows may still be a host and path, so it is cut all the same.
        if end > at + 3 {
            return Some(Found { start: at, end });
        }
        from = at + 3;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "SECRETMARKER123";

    fn check(input: &str, expect: &str) {
        let got = urls(input);
        assert_eq!(got, expect, "redacting {input:?}");
        assert!(!got.contains(SECRET), "{got}");
    }

    #[test]
    fn a_token_in_a_url_path_or_query_is_cut_to_the_origin() {
        check(
            "GET http://127.0.0.1:9/hooks/SECRETMARKER123?token=SECRETMARKER123: error sending request",
            "GET http://127.0.0.1:9/…: error sending request",
        );
        check(
            "https://hooks.slack.com/services/T0/B0/SECRETMARKER123",
            "https://hooks.slack.com/…",
        );
        check(
            "target api (http://127.0.0.1:9/x?token=SECRETMARKER123) is down",
            "target api (http://127.0.0.1:9/…) is down",
        );
    }

    #[test]
    fn userinfo_never_survives() {
        check(
            "POST https://bot:SECRETMARKER123@api.example.com:8443/ failed",
            "POST https://api.example.com:8443 failed",
        );
        check(
            "smtp://user:SECRETMARKER123@mail.example.com:587",
            "smtp://mail.example.com:587",
        );
    }

    #[test]
    fn quoted_and_debug_formatted_urls_are_cut() {
        check(
            r#"URL "http://h.example/a/SECRETMARKER123": bad"#,
            r#"URL "http://h.example/…": bad"#,
        );
        // A quote inside the URL does not end it early.
        check(
            r#"{"url":"http://h.example/a","token":"SECRETMARKER123"}"#,
            r#"{"url":"http://h.example/…"}"#,
        );
    }

    #[test]
    fn a_url_that_does_not_parse_keeps_only_its_scheme() {
        check("http://[bad/SECRETMARKER123 x", "http://[url redacted] x");
        check("://h/SECRETMARKER123", "://[url redacted]");
    }

    #[test]
    fn text_without_urls_is_borrowed_unchanged() {
        let text = "connection refused (os error 111)";
        assert!(matches!(urls(text), Cow::Borrowed(t) if t == text));
        check("ratio 3:// odd", "ratio 3:// odd");
        check("http://h.example", "http://h.example");
        check("http://h.example/", "http://h.example");
    }
}
