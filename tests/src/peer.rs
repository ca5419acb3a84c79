//! A real HTTP server on loopback for plugins to call: fixed routes or
//! scripted answer sequences (a 429, then a 200), a redirect, and a record
//! of every request it served, headers, body and arrival time included.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One canned answer.
#[derive(Clone)]
pub struct Route {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
}

impl Route {
    /// `200 OK` with a JSON body.
    pub fn json(body: &str) -> Self {
        Self {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    /// `200 OK` with a text body.
    pub fn text(body: &str) -> Self {
        Self {
            status: 200,
            headers: vec![("Content-Type".into(), "text/plain; version=0.0.4".into())],
            body: body.into(),
        }
    }

    /// `302 Found` to `location`.
    pub fn redirect(location: &str) -> Self {
        Self {
            status: 302,
            headers: vec![("Location".into(), location.into())],
            body: String::new(),
        }
    }

    /// `status` with an empty body: `Route::status(204)`, `Route::status(503)`.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// The same answer with one more header, `Retry-After: 2` say.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The same answer with `body` as its body.
    pub fn body(mut self, body: &str) -> Self {
        self.body = body.into();
        self
    }
}

/// The answers of one path, in order; the last repeats once the others
/// are used up.
struct Script {
    answers: Vec<Route>,
    served: AtomicUsize,
}

impl Script {
    fn next(&self) -> Route {
        let n = self.served.fetch_add(1, Ordering::SeqCst);
        self.answers[n.min(self.answers.len() - 1)].clone()
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Header lines as sent, in order.
    pub headers: Vec<(String, String)>,
    /// Body as text (lossy; see `bytes`).
    pub body: String,
    /// Body as sent.
    pub bytes: Vec<u8>,
    /// When its body had arrived.
    pub at: Instant,
}

impl Received {
    /// The value of the first header called `name`, compared without
    /// regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// The running server; it stops with the test process.
pub struct HttpPeer {
    /// Where it listens.
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    hits: Arc<AtomicUsize>,
}

impl HttpPeer {
    /// Serves `routes` (path → answer) on `127.0.0.1:0`; other paths get 404.
    pub fn start(routes: &[(&str, Route)]) -> Self {
        let scripts: Vec<(&str, Vec<Route>)> = routes
            .iter()
            .map(|(path, route)| (*path, vec![route.clone()]))
            .collect();
        Self::scripted(&scripts)
    }

    /// Serves each path's answers in turn, the last one again and again
    /// (`[429 with Retry-After, 200]`); other paths get 404. A path's
    /// answers must not be empty.
    pub fn scripted(scripts: &[(&str, Vec<Route>)]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let routes: Arc<HashMap<String, Script>> = Arc::new(
            scripts
                .iter()
                .map(|(path, answers)| {
                    assert!(!answers.is_empty(), "{path} needs at least one answer");
                    let script = Script {
                        answers: answers.clone(),
                        served: AtomicUsize::new(0),
                    };
                    ((*path).to_owned(), script)
                })
                .collect(),
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let hits = Arc::new(AtomicUsize::new(0));
        let (r, h) = (received.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (routes, r, h) = (routes.clone(), r.clone(), h.clone());
                std::thread::spawn(move || serve(stream, &routes, &r, &h));
            }
        });
        Self {
            addr,
            received,
            hits,
        }
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests served so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    routes: &HashMap<String, Script>,
    received: &Mutex<Vec<Received>>,
    hits: &AtomicUsize,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        let mut length = 0;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let (name, value) = (name.trim(), value.trim());
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                }
                headers.push((name.to_owned(), value.to_owned()));
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let at = Instant::now();
        // The answer is picked before the request is recorded, so a test
        // that sees the request also sees the script advanced.
        let route = routes.get(&path).map(Script::next).unwrap_or(Route {
            status: 404,
            headers: Vec::new(),
            body: "not found".into(),
        });
        hits.fetch_add(1, Ordering::SeqCst);
        received.lock().unwrap().push(Received {
            method,
            path: path.clone(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            bytes: body,
            at,
        });
        let mut answer = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
            route.status,
            route.body.len()
        );
        for (name, value) in &route.headers {
            answer.push_str(&format!("{name}: {value}\r\n"));
        }
        answer.push_str("\r\n");
        answer.push_str(&route.body);
        let mut writer = &stream;
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}
