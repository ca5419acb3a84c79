//! A real HTTP server on loopback for plugins to call: fixed routes, a
//! redirect, and a count of the requests it served.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Body.
    pub body: String,
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
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let routes: Arc<HashMap<String, Route>> = Arc::new(
            routes
                .iter()
                .map(|(p, r)| ((*p).to_owned(), r.clone()))
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
    routes: &HashMap<String, Route>,
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
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        hits.fetch_add(1, Ordering::SeqCst);
        received.lock().unwrap().push(Received {
            method,
            path: path.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let route = routes.get(&path).cloned().unwrap_or(Route {
            status: 404,
            headers: Vec::new(),
            body: "not found".into(),
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
