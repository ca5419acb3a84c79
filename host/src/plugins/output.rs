//! Plugin stdout and stderr, captured line by line into the host log under
//! the plugin's name (a guest panic message arrives this way).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use super::redact;

/// Longest line logged; the rest of a longer line is dropped so a plugin
/// cannot flood the log with one giant write.
const MAX_LINE_BYTES: usize = 4096;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A WASI output stream that logs complete lines.
#[derive(Clone)]
pub struct LogOutput {
    plugin: Arc<str>,
    stream: Stream,
}

impl LogOutput {
    /// Output of `plugin` on `stream`.
    pub fn new(plugin: Arc<str>, stream: Stream) -> Self {
        Self { plugin, stream }
    }
}

impl IsTerminal for LogOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineLogger {
            plugin: self.plugin.clone(),
            stream: self.stream,
            line: Vec::new(),
        })
    }
}

struct LineLogger {
    plugin: Arc<str>,
    stream: Stream,
    line: Vec<u8>,
}

impl LineLogger {
    fn emit(&mut self) {
        let text = String::from_utf8_lossy(&self.line);
        // A plugin may print the URLs it calls; only the origin is kept.
        let text = redact::urls(text.trim_end());
        let text = &*text;
        if !text.is_empty() {
            match self.stream {
                Stream::Stdout => {
                    tracing::info!(plugin = %self.plugin, stream = "stdout", "{text}")
                }
                Stream::Stderr => {
                    tracing::warn!(plugin = %self.plugin, stream = "stderr", "{text}")
                }
            }
        }
        self.line.clear();
    }
}

impl AsyncWrite for LineLogger {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        for &byte in buf {
            if byte == b'\n' {
                self.emit();
            } else if self.line.len() < MAX_LINE_BYTES {
                self.line.push(byte);
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.emit();
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineLogger {
    fn drop(&mut self) {
        self.emit();
    }
}
