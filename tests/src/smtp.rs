//! A real SMTP relay for the email channel: aiosmtpd (Debian's
//! `python3-aiosmtpd`, which `cargo xtask test` installs) run by
//! `tests/smtp_relay.py`, plain, with STARTTLS or with implicit TLS, with or
//! without AUTH; and the self-signed certificate a TLS relay serves, made by
//! `openssl`. Killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use serde_json::Value;

/// Debian's Python, which has `python3-aiosmtpd`; a `python3` earlier on
/// the `PATH` (pyenv, a virtualenv) may not.
pub const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// A certificate and key for `localhost` and `127.0.0.1`, valid for a day,
/// signed by itself: what a relay with its own CA serves.
pub struct TestCertificate {
    dir: tempfile::TempDir,
}

impl TestCertificate {
    /// Makes one with `openssl req -x509`: a leaf certificate (not a CA,
    /// for server authentication), as a relay serves; TLS clients refuse a
    /// CA certificate presented as the server's own.
    pub fn self_signed() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("openssl.cnf");
        std::fs::write(
            &config,
            "[req]\ndistinguished_name = dn\nx509_extensions = leaf\nprompt = no\n\
             [dn]\nCN = localhost\n\
             [leaf]\nbasicConstraints = critical,CA:FALSE\n\
             keyUsage = critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        let out = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .arg("-config")
            .arg(&config)
            .arg("-keyout")
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(dir.path().join("cert.pem"))
            .output()
            .expect("openssl runs (`cargo xtask test` installs Debian's openssl)");
        assert!(
            out.status.success(),
            "openssl req failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir }
    }

    /// The certificate, PEM: what a client must trust.
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// The private key, PEM.
    pub fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }
}

/// How the relay secures its connections.
pub enum SmtpSecurity<'a> {
    /// No TLS at all.
    Plain,
    /// STARTTLS offered and required, with this certificate.
    StartTls(&'a TestCertificate),
    /// TLS from the first byte, with this certificate.
    ImplicitTls(&'a TestCertificate),
}

/// A message the relay accepted, as `tests/smtp_relay.py` saved it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope, the headers and the parts, as Python's email package
    /// read them: `mail_from`, `rcpt_tos`, `tls`, `login`, `subject`,
    /// `from`, `to`, `content_type`, `parts`, `text`, `html`.
    pub parsed: Value,
    /// The message as received.
    pub raw: Vec<u8>,
}

/// A running relay.
pub struct SmtpRelay {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl SmtpRelay {
    /// Starts a relay on a free loopback port and waits until it accepts
    /// connections; with `login`, it requires AUTH with that user and
    /// password (over TLS only).
    pub fn start(security: SmtpSecurity<'_>, login: Option<(&str, &str)>) -> Self {
        assert!(
            Path::new(SYSTEM_PYTHON).is_file(),
            "{SYSTEM_PYTHON} is missing: `cargo xtask test` installs Debian's python3-aiosmtpd"
        );
        let dir = tempfile::tempdir().unwrap();
        let addr = crate::free_loopback_addr();
        let port = addr.port();
        let mut command = Command::new(SYSTEM_PYTHON);
        command
            .arg(crate::repo_root().join("tests/smtp_relay.py"))
            .arg(format!("--port={port}"))
            .arg(format!("--out={}", dir.path().display()));
        match security {
            SmtpSecurity::Plain => {}
            SmtpSecurity::StartTls(cert) | SmtpSecurity::ImplicitTls(cert) => {
                command
                    .arg(format!("--cert={}", cert.cert().display()))
                    .arg(format!("--key={}", cert.key().display()));
            }
        }
        if matches!(security, SmtpSecurity::ImplicitTls(_)) {
            command.arg("--implicit");
        }
        if let Some((user, password)) = login {
            command
                .arg(format!("--user={user}"))
                .arg(format!("--password={password}"));
        }
        let log = std::fs::File::create(dir.path().join("relay.log")).unwrap();
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("the SMTP relay starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (ready_tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line == "ready" {
                    let _ = ready_tx.send(());
                }
            }
        });
        let relay = Self { child, addr, dir };
        if ready.recv_timeout(crate::WAIT).is_err() {
            panic!("the SMTP relay did not start; its log:\n{}", relay.log());
        }
        relay
    }

    /// The messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut numbered: Vec<(u64, PathBuf)> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .filter_map(|p| Some((p.file_stem()?.to_str()?.parse().ok()?, p)))
            .collect();
        numbered.sort();
        numbered
            .into_iter()
            .map(|(_, json)| ReceivedMail {
                parsed: serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap(),
                raw: std::fs::read(json.with_extension("eml")).unwrap(),
            })
            .collect()
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("relay.log")).unwrap_or_default()
    }
}

impl Drop for SmtpRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
