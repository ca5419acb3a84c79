//! A server program of this machine's (Debian's Prometheus and
//! Alertmanager, Python's aiosmtpd) run by a test: on a free loopback
//! port, with its own temporary directory, config file and log; killed
//! when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A free loopback address for a peer to listen on.
pub fn free_loopback_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
}

/// A running server program.
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

/// Its standard error, kept in its directory.
const LOG_FILE: &str = "server.log";

impl ServerProcess {
    /// Starts `binary` (which `package`, installed by `cargo xtask test`,
    /// provides) with the arguments `args` makes of its directory and
    /// address, after writing what `config` makes of the address to the
    /// file `config_name` of that directory.
    pub fn start(
        binary: &str,
        package: &str,
        (config_name, config): (&str, impl FnOnce(SocketAddr) -> String),
        args: impl FnOnce(&Path, SocketAddr) -> Vec<String>,
    ) -> Self {
        assert!(
            Path::new(binary).is_file(),
            "{binary} is missing: `cargo xtask test` installs Debian's {package}"
        );
        let dir = tempfile::tempdir().unwrap();
        let addr = free_loopback_addr();
        std::fs::write(dir.path().join(config_name), config(addr)).unwrap();
        let log = std::fs::File::create(dir.path().join(LOG_FILE)).unwrap();
        let child = Command::new(binary)
            .args(args(dir.path(), addr))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{binary} does not start: {e}"));
        Self { child, addr, dir }
    }

    /// A file of its directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Everything it wrote to standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path(LOG_FILE)).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
