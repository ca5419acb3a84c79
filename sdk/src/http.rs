//! Outgoing HTTP through the host: a request builder, response helpers and a readable error.
//!
//! The host performs every request on the plugin's behalf, after checking it
//! (and every redirect) against the origins in the plugin's `allow_http`
//! grant (`allow_http = ["http://127.0.0.1:8080"]`), and caps the
//! response size and the time it may take. A plugin therefore needs no HTTP
//! client of its own, and cannot reach anything the operator did not grant.
//!
//! [`Request`], [`Response`] and [`Header`] are the WIT records themselves,
//! with builder and helper methods added here, so nothing is copied on the
//! way to the host. Compiled natively (unit tests, doc-tests) there is no
//! host to send through: every request fails with [`HttpError::NoHost`], so
//! code that only parses responses stays testable with plain `cargo test`.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// One header line, for example `content-type: application/json`.
pub use crate::bindings::imports::perfwatch::plugin0_2_0::http::Header;
/// A request to send; start one with [`Request::get`], [`Request::post`] or [`Request::new`].
pub use crate::bindings::imports::perfwatch::plugin0_2_0::http::Request;
/// What came back: status, headers, the whole body and how long it took.
pub use crate::bindings::imports::perfwatch::plugin0_2_0::http::Response;

#[cfg(target_arch = "wasm32")]
use crate::bindings::imports::perfwatch::plugin0_2_0::http as imports;

/// How much of a body [`Response::summary`] quotes: enough for an
/// application's error sentence, not a whole HTML page.
const SUMMARY_BODY_CHARS: usize = 200;

/// The message of [`HttpError::NoHost`].
const NO_HOST: &str = "http requests only work inside the perfwatch host, not in a native build";

/// Why no response came back.
///
/// The first five variants mirror the WIT `http.error` variant one to one;
/// [`HttpError::NoHost`] exists only in native builds' answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The plugin is not granted this origin; the text names the config
    /// line that would grant it.
    Denied(String),
    /// No complete answer arrived within the timeout (or what was left of
    /// the call's deadline).
    Timeout,
    /// Name resolution, connection or TLS failed; the text says how.
    Connection(String),
    /// The response body was larger than the host accepts (the limit, in bytes).
    TooLarge(u64),
    /// The request is malformed (URL, method, header, or a body that could
    /// not be serialised); the text says how.
    Invalid(String),
    /// There is no perfwatch host to send through: the plugin runs natively,
    /// as in unit tests.
    NoHost,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Denied(why) => write!(f, "denied: {why}"),
            HttpError::Timeout => f.write_str("timed out"),
            HttpError::Connection(why) => write!(f, "connection failed: {why}"),
            HttpError::TooLarge(limit) => write!(f, "response larger than {limit} bytes"),
            HttpError::Invalid(why) => write!(f, "invalid request: {why}"),
            HttpError::NoHost => f.write_str(NO_HOST),
        }
    }
}

impl std::error::Error for HttpError {}

/// Lets `?` turn an [`HttpError`] into the `String` error `collect`
/// returns; a channel's `deliver` gets a [`DeliveryError`](crate::DeliveryError)
/// instead, which says whether to retry.
impl From<HttpError> for String {
    fn from(error: HttpError) -> Self {
        error.to_string()
    }
}

#[cfg(target_arch = "wasm32")]
impl From<imports::Error> for HttpError {
    fn from(error: imports::Error) -> Self {
        match error {
            imports::Error::Denied(why) => HttpError::Denied(why),
            imports::Error::Timeout => HttpError::Timeout,
            imports::Error::Connection(why) => HttpError::Connection(why),
            imports::Error::TooLarge(limit) => HttpError::TooLarge(limit),
            imports::Error::Invalid(why) => HttpError::Invalid(why),
        }
    }
}

/// Why a response body could not be read as text or JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The body is not UTF-8; `valid_up_to` is the offset of the first bad byte.
    NotUtf8 {
        /// Bytes before the first invalid sequence.
        valid_up_to: usize,
    },
    /// The body is not JSON of the expected shape; the text is serde_json's
    /// explanation, with line and column.
    NotJson(String),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::NotUtf8 { valid_up_to } => {
                write!(
                    f,
                    "response body is not UTF-8 (bad byte at offset {valid_up_to})"
                )
            }
            BodyError::NotJson(why) => write!(f, "response body is not the expected JSON: {why}"),
        }
    }
}

impl std::error::Error for BodyError {}

/// Lets `?` turn a [`BodyError`] into a plugin's `String` error.
impl From<BodyError> for String {
    fn from(error: BodyError) -> Self {
        error.to_string()
    }
}

impl Request {
    /// A request with any method the host accepts: `GET`, `HEAD`, `POST`,
    /// `PUT`, `PATCH` or `DELETE`. No headers, no body, and the timeout is
    /// whatever is left of the call's deadline.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: None,
        }
    }

    /// A `GET` request for `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` request to `url`, without a body until [`Request::body`] or
    /// [`Request::json`] adds one.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// Adds one header line; adding a name twice sends it twice.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(Header {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Sets the body bytes.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON and adds `content-type: application/json`.
    ///
    /// Fails with [`HttpError::Invalid`] when `value` cannot be serialised
    /// (a map with non-string keys, a failing `Serialize` impl).
    pub fn json(self, value: &impl Serialize) -> Result<Self, HttpError> {
        let body = serde_json::to_vec(value).map_err(|err| {
            HttpError::Invalid(format!("body cannot be serialised as JSON: {err}"))
        })?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Gives up after `timeout_ms` milliseconds; the host lowers it further
    /// to what is left of the call's deadline.
    pub fn timeout_ms(mut self, timeout_ms: u32) -> Self {
        self.timeout_ms = Some(timeout_ms);
        self
    }

    /// Sends the request through the host; the same as [`send`].
    pub fn send(self) -> Result<Response, HttpError> {
        send(&self)
    }
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The value of the first header called `name`, compared without regard
    /// to case as HTTP header names are.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value.as_str())
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, BodyError> {
        std::str::from_utf8(&self.body).map_err(|err| BodyError::NotUtf8 {
            valid_up_to: err.valid_up_to(),
        })
    }

    /// `HTTP <status> <reason>: <start of the body>`, whitespace collapsed
    /// and cut after 200 characters, for the error message of a plugin that
    /// got a status it did not expect. The body part is left out when empty.
    pub fn summary(&self) -> String {
        let mut summary = format!("HTTP {}", self.status);
        if let Some(phrase) = reason_phrase(self.status) {
            summary.push(' ');
            summary.push_str(phrase);
        }
        let text = String::from_utf8_lossy(&self.body);
        let mut words = text.split_whitespace().peekable();
        if words.peek().is_some() {
            summary.push_str(": ");
            let flat = words.collect::<Vec<_>>().join(" ");
            let mut chars = flat.chars();
            summary.extend(chars.by_ref().take(SUMMARY_BODY_CHARS));
            if chars.next().is_some() {
                summary.push('…');
            }
        }
        summary
    }

    /// The body deserialised from JSON into `T` (a `serde_json::Value` when
    /// the shape is not known in advance).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, BodyError> {
        serde_json::from_slice(&self.body).map_err(|err| BodyError::NotJson(err.to_string()))
    }
}

/// Sends `request` through the host and waits for the whole response.
///
/// Any status is a response, 404 and 500 included; check
/// [`Response::is_success`]. Natively this fails with [`HttpError::NoHost`].
pub fn send(request: &Request) -> Result<Response, HttpError> {
    #[cfg(target_arch = "wasm32")]
    {
        imports::send(request).map_err(HttpError::from)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = request;
        Err(HttpError::NoHost)
    }
}

/// Sends a `GET` request for `url`, with no headers and the default timeout.
pub fn get(url: &str) -> Result<Response, HttpError> {
    send(&Request::get(url))
}

/// Sends `body` as JSON in a `POST` request to `url`.
pub fn post_json(url: &str, body: &impl Serialize) -> Result<Response, HttpError> {
    send(&Request::post(url).json(body)?)
}

/// Checks that config key `key` holds an absolute `http://` or `https://`
/// URL with a host, for a channel's `validate_config`.
///
/// The error never quotes the URL: a webhook URL usually carries its token
/// in the path, and config errors are shown and logged.
///
/// ```
/// use perfwatch_sdk::http::check_url;
///
/// assert_eq!(check_url("url", "https://hooks.example.com/T0/B0/secret"), Ok(()));
/// let error = check_url("webhook_url", "hooks.example.com/secret").unwrap_err();
/// assert_eq!(error.key, "webhook_url");
/// assert!(!error.to_string().contains("secret"));
/// ```
pub fn check_url(key: &str, url: &str) -> Result<(), crate::ConfigError> {
    const EXPECTED: &str = "an http:// or https:// URL with a host";
    let bad = |problem: &str| Err(crate::ConfigError::new(key, problem, EXPECTED));
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let scheme_len = if lower.starts_with("https://") {
        8
    } else if lower.starts_with("http://") {
        7
    } else {
        return bad("the URL does not start with http:// or https://");
    };
    let authority = url[scheme_len..]
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    if host.is_empty() || host == "[]" {
        return bad("the URL has no host");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("the URL contains whitespace or control characters");
    }
    Ok(())
}

/// The standard reason phrase of a status code, for messages such as
/// "HTTP 503 Service Unavailable"; `None` for codes without one.
pub fn reason_phrase(status: u16) -> Option<&'static str> {
    let phrase = match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    };
    Some(phrase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_without_being_quoted() {
        for good in [
            "http://127.0.0.1:8080/hooks/x",
            "https://hooks.slack.com/services/T0/B0/XYZ",
            "HTTPS://discord.com/api/webhooks/1/abc",
            "http://user:pass@example.com",
            "http://[::1]:9000/x",
            "https://example.com?token=x",
        ] {
            assert_eq!(check_url("url", good), Ok(()), "{good}");
        }
        for (bad, problem) in [
            (
                "ftp://example.com/SECRET",
                "does not start with http:// or https://",
            ),
            (
                "example.com/SECRET",
                "does not start with http:// or https://",
            ),
            ("https:///SECRET", "has no host"),
            ("http://:80/SECRET", "has no host"),
            ("http://?SECRET", "has no host"),
            ("http://[]/SECRET", "has no host"),
            (
                "https://example.com/SE CRET",
                "whitespace or control characters",
            ),
        ] {
            let error = check_url("webhook_url", bad).unwrap_err();
            assert_eq!(error.key, "webhook_url");
            assert!(error.problem.contains(problem), "{bad}: {error}");
            assert!(
                !error.to_string().contains("SE"),
                "{bad} is quoted: {error}"
            );
        }
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(name, value)| Header {
                    name: (*name).into(),
                    value: (*value).into(),
                })
                .collect(),
            body: body.to_vec(),
            elapsed_ms: 12,
        }
    }

    #[test]
    fn errors_read_well() {
        let cases = [
            (
                HttpError::Denied(
                    "http://10.0.0.5:9100 is not granted; add it to allow_http".into(),
                ),
                "denied: http://10.0.0.5:9100 is not granted; add it to allow_http",
            ),
            (HttpError::Timeout, "timed out"),
            (
                HttpError::Connection("connection refused".into()),
                "connection failed: connection refused",
            ),
            (
                HttpError::TooLarge(1_048_576),
                "response larger than 1048576 bytes",
            ),
            (
                HttpError::Invalid("relative URL without a base".into()),
                "invalid request: relative URL without a base",
            ),
            (
                HttpError::NoHost,
                "http requests only work inside the perfwatch host, not in a native build",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
            assert_eq!(String::from(error), text);
        }
    }

    #[test]
    fn builder_fills_the_wit_record() {
        let request = Request::get("http://127.0.0.1:8080/status")
            .header("accept", "application/json")
            .timeout_ms(500);
        assert_eq!(
            request,
            Request {
                method: "GET".into(),
                url: "http://127.0.0.1:8080/status".into(),
                headers: vec![Header {
                    name: "accept".into(),
                    value: "application/json".into()
                }],
                body: vec![],
                timeout_ms: Some(500),
            }
        );
    }

    #[test]
    fn json_body_sets_content_type() {
        let request = Request::post("http://hooks.local/alert")
            .json(&serde_json::json!({"text": "disk full"}))
            .unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.body, br#"{"text":"disk full"}"#);
        assert_eq!(
            request.headers,
            vec![Header {
                name: "content-type".into(),
                value: "application/json".into()
            }]
        );
    }

    #[test]
    fn unserialisable_json_body_is_an_invalid_request() {
        let map: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let error = Request::post("http://x").json(&map).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid request: body cannot be serialised as JSON: key must be a string"
        );
    }

    #[test]
    fn natively_there_is_no_host() {
        assert_eq!(get("http://127.0.0.1:9/"), Err(HttpError::NoHost));
        assert_eq!(
            post_json("http://127.0.0.1:9/", &[1, 2]),
            Err(HttpError::NoHost)
        );
        assert_eq!(Request::get("http://x").send(), Err(HttpError::NoHost));
    }

    #[test]
    fn header_lookup_ignores_case_and_takes_the_first() {
        let response = response(
            200,
            &[
                ("Content-Type", "text/plain; version=0.0.4"),
                ("set-cookie", "a=1"),
                ("Set-Cookie", "b=2"),
            ],
            b"",
        );
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; version=0.0.4")
        );
        assert_eq!(response.header("SET-COOKIE"), Some("a=1"));
        assert_eq!(response.header("etag"), None);
    }

    #[test]
    fn success_is_2xx_only() {
        assert!(response(200, &[], b"").is_success());
        assert!(response(204, &[], b"").is_success());
        assert!(!response(304, &[], b"").is_success());
        assert!(!response(503, &[], b"").is_success());
    }

    #[test]
    fn text_and_json_bodies() {
        let ok = response(200, &[], br#"{"agents": {"total": 4}}"#);
        assert_eq!(ok.text(), Ok(r#"{"agents": {"total": 4}}"#));
        let value: serde_json::Value = ok.json().unwrap();
        assert_eq!(value["agents"]["total"], 4);

        let latin1 = response(200, &[], b"caf\xe9");
        assert_eq!(latin1.text(), Err(BodyError::NotUtf8 { valid_up_to: 3 }));
        assert_eq!(
            latin1.text().unwrap_err().to_string(),
            "response body is not UTF-8 (bad byte at offset 3)"
        );

        let html = response(502, &[], b"<html>bad gateway</html>");
        assert_eq!(
            html.json::<serde_json::Value>().unwrap_err().to_string(),
            "response body is not the expected JSON: expected value at line 1 column 1"
        );
    }

    #[test]
    fn summaries_quote_the_start_of_the_body() {
        assert_eq!(
            response(503, &[], b"{\"error\":\n  \"warming up\"}").summary(),
            r#"HTTP 503 Service Unavailable: {"error": "warming up"}"#
        );
        assert_eq!(response(418, &[], b"").summary(), "HTTP 418");
        assert_eq!(response(404, &[], b" \n ").summary(), "HTTP 404 Not Found");
        let page = format!("<html>\n<body>{}</body></html>", "é".repeat(300));
        let summary = response(302, &[], page.as_bytes()).summary();
        assert_eq!(
            summary,
            format!("HTTP 302 Found: <html> <body>{}…", "é".repeat(187))
        );
    }

    #[test]
    fn reason_phrases() {
        assert_eq!(reason_phrase(200), Some("OK"));
        assert_eq!(reason_phrase(503), Some("Service Unavailable"));
        assert_eq!(reason_phrase(299), None);
    }
}
