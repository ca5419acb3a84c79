//! The `http` interface: outgoing requests the host performs for a plugin
//! after checking its grant. reqwest does the work; redirects are followed
//! only while they stay inside the grant.

use std::time::{Duration, Instant};

use reqwest::redirect;

use super::bindings::v2::http::{Error as HttpError, Header, Request, Response};
use super::grants::HttpGrant;
use super::redact;
use super::render::Capture;

/// Largest response body a plugin receives. Status pages and metrics
/// endpoints are kilobytes; 8 MiB is generous and still bounds host memory.
pub const MAX_RESPONSE_BYTES: u64 = 8 << 20;
/// Redirects followed at most, all inside the grant.
const MAX_REDIRECTS: usize = 5;

/// A plugin's HTTP client: its grant and a reqwest client whose redirect
/// policy enforces that grant. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    grant: HttpGrant,
    client: reqwest::Client,
    /// Set when rendering: requests are checked, captured and answered
    /// `200` with an empty body instead of being sent.
    capture: Option<Capture>,
}

impl HttpClient {
    /// A client for `grant`.
    pub fn new(grant: HttpGrant) -> Self {
        let policy_grant = grant.clone();
        let policy = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match policy_grant.check(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(denied) => attempt.error(format!("redirect refused: {denied}")),
            }
        });
        let client = reqwest::Client::builder()
            .redirect(policy)
            .user_agent(concat!("perfwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a reqwest client with rustls and a redirect policy builds");
        Self {
            grant,
            client,
            capture: None,
        }
    }

    /// The same client, capturing its requests instead of sending them.
    pub fn capturing(mut self, capture: Capture) -> Self {
        self.capture = Some(capture);
        self
    }

    pub(super) async fn send(
        &self,
        request: Request,
        deadline: Instant,
    ) -> Result<Response, HttpError> {
        // Neither message quotes the URL: the plugin knows what it asked
        // for, and the text may travel on into the API and the log.
        let url = reqwest::Url::parse(&request.url)
            .map_err(|e| HttpError::Invalid(format!("the URL does not parse: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpError::Invalid(format!(
                "URL scheme `{}` is not supported: only http and https are",
                url.scheme()
            )));
        }
        self.grant.check(&url).map_err(HttpError::Denied)?;
        let method = match request.method.to_ascii_uppercase().as_str() {
            "GET" => reqwest::Method::GET,
            "HEAD" => reqwest::Method::HEAD,
            "POST" => reqwest::Method::POST,
            "PUT" => reqwest::Method::PUT,
            "PATCH" => reqwest::Method::PATCH,
            "DELETE" => reqwest::Method::DELETE,
            other => {
                return Err(HttpError::Invalid(format!(
                    "method {other:?} is not supported"
                )));
            }
        };
        // The call's deadline bounds the wait: the epoch deadline cannot
        // interrupt a plugin while the host awaits the network for it.
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = request
            .timeout_ms
            .map_or(left, |ms| Duration::from_millis(ms.into()).min(left));
        if timeout.is_zero() {
            return Err(HttpError::Timeout);
        }
        let mut headers = Vec::with_capacity(request.headers.len());
        for Header { name, value } in &request.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpError::Invalid(format!("header name {name:?} is not valid")))?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| HttpError::Invalid(format!("header `{name}` has an invalid value")))?;
            headers.push((name, value));
        }
        if let Some(capture) = &self.capture {
            let pairs: Vec<(String, String)> = request
                .headers
                .into_iter()
                .map(|h| (h.name, h.value))
                .collect();
            capture.http(method.as_str(), url.as_str(), &pairs, &request.body);
            return Ok(Response {
                status: 200,
                headers: Vec::new(),
                body: Vec::new(),
                elapsed_ms: 0,
            });
        }
        let mut builder = self.client.request(method, url).timeout(timeout);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body);
        }
        let started = Instant::now();
        let mut response = builder.send().await.map_err(classify)?;
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES)
        {
            return Err(HttpError::TooLarge(MAX_RESPONSE_BYTES));
        }
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| Header {
                name: name.to_string(),
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if (body.len() + chunk.len()) as u64 > MAX_RESPONSE_BYTES {
                return Err(HttpError::TooLarge(MAX_RESPONSE_BYTES));
            }
            body.extend_from_slice(&chunk);
        }
        let elapsed_ms = started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32;
        Ok(Response {
            status,
            headers,
            body,
            elapsed_ms,
        })
    }
}

/// Turns a reqwest failure into the WIT error, keeping the cause's words
/// ("connection refused", "dns error") but not the URL: reqwest's text
/// names the full URL, whose path or query may be a webhook's token, and
/// plugins pass this text on in their errors.
fn classify(error: reqwest::Error) -> HttpError {
    if error.is_timeout() {
        return HttpError::Timeout;
    }
    let error = error.without_url();
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        detail = format!("{detail}: {cause}");
        source = cause.source();
    }
    if error.is_redirect() && detail.contains("redirect refused") {
        let denied = detail
            .split("redirect refused: ")
            .nth(1)
            .unwrap_or(&detail)
            .to_owned();
        return HttpError::Denied(format!("redirected outside the grant: {denied}"));
    }
    // A cause deeper in the chain could still quote a URL (a redirect's
    // target, say); cut any that is left to its origin.
    let detail = redact::urls(&detail).into_owned();
    if error.is_builder() {
        return HttpError::Invalid(detail);
    }
    HttpError::Connection(detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OriginPattern;

    const SECRET: &str = "SECRETMARKER123";

    /// A loopback port nothing listens on: bound, then released.
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    fn request(url: String) -> Request {
        Request {
            method: "POST".into(),
            url,
            headers: Vec::new(),
            body: b"{}".to_vec(),
            timeout_ms: Some(5_000),
        }
    }

    fn client(port: u16) -> HttpClient {
        let origin = OriginPattern::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        HttpClient::new(HttpGrant::new("hook", &[origin]))
    }

    fn text(error: &HttpError) -> String {
        match error {
            HttpError::Denied(s) | HttpError::Connection(s) | HttpError::Invalid(s) => s.clone(),
            HttpError::Timeout => "timeout".into(),
            HttpError::TooLarge(n) => format!("too large: {n}"),
        }
    }

    #[tokio::test]
    async fn a_token_in_a_url_never_reaches_the_connection_error() {
        let port = closed_port();
        for url in [
            format!("http://127.0.0.1:{port}/hooks/{SECRET}?token={SECRET}"),
            format!("http://bot:{SECRET}@127.0.0.1:{port}/"),
        ] {
            let deadline = Instant::now() + Duration::from_secs(10);
            let error = client(port)
                .send(request(url), deadline)
                .await
                .expect_err("nothing listens on a released port");
            let text = text(&error);
            assert!(matches!(error, HttpError::Connection(_)), "{text}");
            assert!(!text.contains(SECRET), "the token leaked: {text}");
            assert!(!text.contains("/hooks"), "the path leaked: {text}");
            // Still says what went wrong.
            assert!(text.to_lowercase().contains("connect"), "{text}");
        }
    }

    #[tokio::test]
    async fn a_bad_url_is_refused_without_quoting_it() {
        let deadline = Instant::now() + Duration::from_secs(10);
        for url in [
            format!("ftp://127.0.0.1:21/{SECRET}"),
            format!("http://[::1/{SECRET}"),
        ] {
            let error = client(1)
                .send(request(url), deadline)
                .await
                .expect_err("refused before sending");
            let text = text(&error);
            assert!(matches!(error, HttpError::Invalid(_)), "{text}");
            assert!(!text.contains(SECRET), "the token leaked: {text}");
        }
    }
}
