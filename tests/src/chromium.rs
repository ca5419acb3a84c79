//! A real headless Chromium (Debian's `chromium`), driven over the Chrome
//! DevTools Protocol: open a page, run script in it, click, wait for the
//! DOM, take screenshots, and collect every console error, uncaught
//! exception and request the page made.
//!
//! The browser runs with a fresh profile and the network cut off except
//! loopback: every request that does not go to 127.0.0.1 goes to a proxy
//! address nothing listens on, and every host name resolves to nothing, so
//! a page that needs the internet fails visibly.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// Debian's browser, installed by `cargo xtask test`.
pub const CHROMIUM_BINARY: &str = "/usr/bin/chromium";

/// How long the browser may take to start and open its DevTools port.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one protocol call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A running browser; killed on drop.
pub struct Chromium {
    child: Child,
    devtools: SocketAddr,
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// Starts headless Chromium with its network limited to loopback.
    pub fn launch() -> Self {
        let profile = tempfile::tempdir().expect("a profile directory");
        let child = Command::new(CHROMIUM_BINARY)
            .args([
                "--headless=new",
                "--remote-debugging-port=0",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--disable-extensions",
                "--disable-gpu",
                // Tests run as root in CI containers, where the sandbox cannot start.
                "--no-sandbox",
                "--password-store=basic",
                "--use-mock-keychain",
                // Everything but loopback goes to a proxy that is not there.
                "--proxy-server=http://127.0.0.1:9",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {CHROMIUM_BINARY} ({e}); `cargo xtask test` installs Debian's chromium")
            });
        // Chromium writes the port it chose into the profile.
        let port_file = profile.path().join("DevToolsActivePort");
        let started = Instant::now();
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|text| text.lines().next()?.trim().parse::<u16>().ok())
            {
                break port;
            }
            assert!(
                started.elapsed() < LAUNCH_TIMEOUT,
                "chromium did not open its DevTools port within {LAUNCH_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            child,
            devtools: SocketAddr::from(([127, 0, 0, 1], port)),
            _profile: profile,
        }
    }

    /// The browser's first tab, with console, page and network events on.
    pub fn page(&self) -> Page {
        let targets = crate::get(self.devtools, "/json/list").json();
        let url = targets
            .as_array()
            .and_then(|list| list.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("chromium has a page target")
            .to_owned();
        let stream = TcpStream::connect(self.devtools).expect("connect to DevTools");
        let (socket, _) = tungstenite::client(url.as_str(), stream).expect("DevTools WebSocket");
        let mut page = Page {
            socket,
            next_id: 0,
            events: Vec::new(),
        };
        for domain in ["Runtime", "Page", "Network", "Log"] {
            page.call(&format!("{domain}.enable"), json!({}));
        }
        page
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab, over its DevTools WebSocket.
pub struct Page {
    socket: WebSocket<TcpStream>,
    next_id: u64,
    /// Every event received so far, oldest first.
    events: Vec<Value>,
}

impl Page {
    /// Calls a protocol method and returns its result; panics with the
    /// browser's error.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::text(request.to_string()))
            .expect("send to DevTools");
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{method} got no answer within {CALL_TIMEOUT:?}"
            );
            let Some(message) = self.read(left) else {
                continue;
            };
            if message["id"] == id {
                if let Some(error) = message.get("error") {
                    panic!("{method} failed: {error}");
                }
                return message["result"].clone();
            }
        }
    }

    /// Reads one message within `timeout`; events are kept.
    fn read(&mut self, timeout: Duration) -> Option<Value> {
        self.socket
            .get_ref()
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .expect("set a read timeout");
        match self.socket.read() {
            Ok(Message::Text(text)) => {
                let message: Value = serde_json::from_str(&text).expect("DevTools sends JSON");
                if message.get("method").is_some() {
                    self.events.push(message.clone());
                }
                Some(message)
            }
            Ok(_) => None,
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                None
            }
            Err(e) => panic!("the DevTools connection failed: {e}"),
        }
    }

    /// Takes in the events that arrived since the last call.
    fn pump(&mut self) {
        while self.read(Duration::from_millis(1)).is_some() {}
    }

    /// Opens `url` and waits for its `load` event.
    pub fn navigate(&mut self, url: &str) {
        let before = self.events.len();
        self.call("Page.navigate", json!({ "url": url }));
        let deadline = Instant::now() + CALL_TIMEOUT;
        while !self.events[before..]
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            assert!(
                Instant::now() < deadline,
                "{url} did not load within {CALL_TIMEOUT:?}"
            );
            self.read(Duration::from_millis(100));
        }
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns
    /// its value; panics on an exception.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("`{expression}` threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Polls `expression` until it is truthy and returns its value; panics
    /// with `what` after `timeout`.
    pub fn wait_for(&mut self, what: &str, expression: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(expression);
            let truthy = !matches!(value, Value::Null | Value::Bool(false))
                && value != json!(0)
                && value != json!("");
            if truthy {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} ({timeout:?}); the page says: {}",
                self.eval("document.body ? document.body.innerText.slice(0, 2000) : ''")
            );
            self.read(Duration::from_millis(200));
        }
    }

    /// Clicks the first element matching `selector`.
    pub fn click(&mut self, selector: &str) {
        let found = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return false; e.click(); return true; }})()"
        ));
        assert_eq!(found, json!(true), "nothing on the page matches {selector}");
    }

    /// Sets the value of the form field matching `selector`, as typing would.
    pub fn fill(&mut self, selector: &str, value: &str) {
        let found = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return false; e.value = {value:?}; e.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()"
        ));
        assert_eq!(found, json!(true), "nothing on the page matches {selector}");
    }

    /// Emulates `prefers-color-scheme: dark` or light.
    pub fn color_scheme(&mut self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        self.call(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": value }] }),
        );
    }

    /// Emulates a viewport `width` × `height` CSS pixels.
    pub fn viewport(&mut self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600 }),
        );
    }

    /// Saves a PNG of the whole page to `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let shot = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("screenshot is base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("artifact directory");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }

    /// Console errors, uncaught exceptions and failed loads so far, as text.
    pub fn errors(&mut self) -> Vec<String> {
        self.pump();
        self.events
            .iter()
            .filter_map(|event| {
                let params = &event["params"];
                match event["method"].as_str()? {
                    "Runtime.consoleAPICalled"
                        if matches!(params["type"].as_str(), Some("error" | "assert")) =>
                    {
                        Some(format!("console.error: {}", params["args"]))
                    }
                    "Runtime.exceptionThrown" => {
                        Some(format!("exception: {}", params["exceptionDetails"]))
                    }
                    "Log.entryAdded" if params["entry"]["level"] == "error" => {
                        Some(format!("log: {}", params["entry"]))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// The URL of every request the page made so far.
    pub fn requests(&mut self) -> Vec<String> {
        self.pump();
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
            .collect()
    }
}

/// One response the page loaded, as the network saw it.
#[derive(Debug, Clone)]
pub struct Transfer {
    pub url: String,
    /// `Document`, `Script`, `Stylesheet`, `Fetch`, `WebSocket`…
    pub kind: String,
    /// Bytes on the wire, headers included (compressed bodies as sent).
    pub bytes: u64,
}

impl Page {
    /// The responses finished since the page was opened, oldest first.
    pub fn transfers(&mut self) -> Vec<Transfer> {
        self.pump();
        let mut sent = std::collections::HashMap::new();
        let mut done = Vec::new();
        for event in &self.events {
            let params = &event["params"];
            match event["method"].as_str() {
                Some("Network.requestWillBeSent") => {
                    sent.insert(
                        params["requestId"].to_string(),
                        (
                            params["request"]["url"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                            params["type"].as_str().unwrap_or_default().to_owned(),
                        ),
                    );
                }
                Some("Network.loadingFinished") => {
                    if let Some((url, kind)) = sent.get(&params["requestId"].to_string()) {
                        done.push(Transfer {
                            url: url.clone(),
                            kind: kind.clone(),
                            bytes: params["encodedDataLength"].as_f64().unwrap_or(0.0) as u64,
                        });
                    }
                }
                _ => {}
            }
        }
        done
    }

    /// Forgets the events so far (before a measured load).
    pub fn clear_events(&mut self) {
        self.pump();
        self.events.clear();
    }
}

/// Where tests leave files for people to look at (screenshots):
/// `<target>/test-artifacts/`.
pub fn artifact_path(name: &str) -> PathBuf {
    crate::profile_dir()
        .parent()
        .expect("target/<profile>")
        .join("test-artifacts")
        .join(name)
}
