//! A minimal HTTP/1.1 client over a plain TCP socket (or the TLS stream of
//! tls.rs): enough to drive the API.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Status, content type and body of an answer.
#[derive(Debug)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, when there is one.
    pub content_type: Option<String>,
    /// The body as text (lossy for binary bodies; see `bytes`).
    pub body: String,
    /// The body as sent.
    pub bytes: Vec<u8>,
}

impl HttpResponse {
    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// `GET path`.
pub fn get(addr: SocketAddr, path: &str) -> HttpResponse {
    request(
        addr,
        "GET",
        path,
        &[("Content-Type", "application/json")],
        b"",
    )
}

/// `GET path`, reporting a refused connection instead of panicking: for
/// a peer that may not listen yet.
pub fn try_get(addr: SocketAddr, path: &str) -> std::io::Result<HttpResponse> {
    try_request(addr, "GET", path, &[], b"")
}

/// `GET path` with the given headers (`Accept`, say).
pub fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    request(addr, "GET", path, headers, b"")
}

/// `DELETE path`.
pub fn delete(addr: SocketAddr, path: &str) -> HttpResponse {
    request(
        addr,
        "DELETE",
        path,
        &[("Content-Type", "application/json")],
        b"",
    )
}

/// `POST path` with a JSON body.
pub fn post_json(addr: SocketAddr, path: &str, body: &str) -> HttpResponse {
    request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// `POST path` with any body and headers (`Content-Type` among them, or
/// none at all).
pub fn post_bytes(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    request(addr, "POST", path, headers, body)
}

/// `POST path` with a JSON body, reporting a refused connection or a
/// cut-off answer (a server killed mid-request) instead of panicking.
pub fn try_post_json(addr: SocketAddr, path: &str, body: &str) -> std::io::Result<HttpResponse> {
    try_request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// Any method with any headers (`Authorization`, say).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    try_request(addr, method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"))
}

fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    exchange(stream, addr, method, path, headers, body)
}

/// One request and its answer over `stream`, plain or TLS.
pub(crate) fn exchange(
    mut stream: impl Read + Write,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let incomplete = || {
        std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "incomplete HTTP response",
        )
    };
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes())?;
    // A server may answer (413, say) and close before it has read the whole
    // body: the answer is still there to read.
    let written = stream.write_all(body).and_then(|()| stream.flush());
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    if raw.is_empty() {
        written?;
        read?;
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(incomplete)?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = &raw[split + 4..];
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(incomplete)?;
    let header = |name: &str| {
        head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_owned())
        })
    };
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let bytes = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Ok(HttpResponse {
        status,
        content_type: header("content-type"),
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    })
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let rest = &body[line_end + 2..];
        out.extend_from_slice(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}
