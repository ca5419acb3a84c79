//! `[server]`: who may read and act (tokens), which web origins may call
//! (`allowed_origins`), TLS, and the stream's connection cap.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::origin::OriginPattern;
use super::secret::Secret;

/// The environment variable that sets `[server] auth_token` (and wins over
/// the file): a token kept out of config files and their backups.
pub const AUTH_TOKEN_ENV: &str = "PERFWATCH_AUTH_TOKEN";
/// Default cap on WebSocket clients: a thousand dashboards cost a few
/// percent of one core per tick (BENCHMARKS.md, fan-out); more is refused
/// with close code 1013 rather than slowing everyone down.
pub const DEFAULT_MAX_WS_CLIENTS: usize = 1000;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// GET the API and open the stream.
    Read,
    /// Also push metrics, acknowledge, silence, export and test channels.
    Admin,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    #[serde(default)]
    auth_token: Option<Secret>,
    #[serde(default)]
    read_tokens: Vec<Secret>,
    #[serde(default)]
    admin_tokens: Vec<Secret>,
    #[serde(default)]
    allow_unauthenticated: bool,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    tls_cert: Option<PathBuf>,
    #[serde(default)]
    tls_key: Option<PathBuf>,
    #[serde(default = "default_max_ws_clients")]
    max_ws_clients: usize,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            auth_token: None,
            read_tokens: Vec::new(),
            admin_tokens: Vec::new(),
            allow_unauthenticated: false,
            allowed_origins: Vec::new(),
            tls_cert: None,
            tls_key: None,
            max_ws_clients: DEFAULT_MAX_WS_CLIENTS,
        }
    }
}

fn default_max_ws_clients() -> usize {
    DEFAULT_MAX_WS_CLIENTS
}

/// `[server]`, validated.
#[derive(Debug, Clone, Serialize)]
pub struct ServerConfig {
    /// An admin token (from the file or [`AUTH_TOKEN_ENV`]).
    pub auth_token: Option<Secret>,
    /// Tokens that may only read.
    pub read_tokens: Vec<Secret>,
    /// Tokens that may also act.
    pub admin_tokens: Vec<Secret>,
    /// Serve a non-loopback `bind` without any token.
    pub allow_unauthenticated: bool,
    /// Web origins (besides the host's own) that may open the stream and
    /// call the API from a browser (CORS).
    pub allowed_origins: Vec<OriginPattern>,
    /// PEM certificate chain; with `tls_key`, the server speaks only TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// WebSocket clients served at once.
    pub max_ws_clients: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        RawServer::default()
            .validate("127.0.0.1".parse().expect("an address"), None)
            .expect("the defaults are valid")
    }
}

impl ServerConfig {
    /// Whether any token is set, so that requests must carry one.
    pub fn requires_token(&self) -> bool {
        self.auth_token.is_some() || !self.read_tokens.is_empty() || !self.admin_tokens.is_empty()
    }

    /// What `token` may do, if it is one of ours. Every token is compared
    /// in constant time, so the answer's timing does not tell how much of
    /// a guess was right.
    pub fn role_of(&self, token: &str) -> Option<Role> {
        let admins = self.auth_token.iter().chain(&self.admin_tokens);
        let mut role = None;
        for secret in admins {
            if constant_time_eq(secret.expose(), token) {
                role = Some(Role::Admin);
            }
        }
        for secret in &self.read_tokens {
            if constant_time_eq(secret.expose(), token) && role.is_none() {
                role = Some(Role::Read);
            }
        }
        role
    }

    /// Whether a browser page served from `origin` (`scheme://host[:port]`)
    /// is listed in `allowed_origins`.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let Some((scheme, host, port)) = super::origin::parse_origin(origin) else {
            return false;
        };
        self.allowed_origins
            .iter()
            .any(|p| p.allows(&scheme, &host, port))
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether `token` can travel in a `Sec-WebSocket-Protocol` value
/// (`bearer.<token>`) and an `Authorization` header unchanged.
fn token_is_legal(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b))
}

const TOKEN_RULE: &str = "a token is one or more letters, digits and . _ ~ + / = - (it travels \
     in a WebSocket subprotocol); make one with `openssl rand -hex 32`";

impl RawServer {
    /// `env_token` is [`AUTH_TOKEN_ENV`]'s value, which replaces `auth_token`.
    pub(super) fn validate(
        self,
        bind: IpAddr,
        env_token: Option<String>,
    ) -> Result<ServerConfig, String> {
        let auth_token = match env_token {
            Some(token) => {
                if !token_is_legal(&token) {
                    return Err(format!("{AUTH_TOKEN_ENV}: {TOKEN_RULE}"));
                }
                Some(Secret::new(token))
            }
            None => self.auth_token,
        };
        if let Some(token) = &auth_token
            && !token_is_legal(token.expose())
        {
            return Err(format!("`server.auth_token`: {TOKEN_RULE}"));
        }
        for (key, tokens) in [
            ("read_tokens", &self.read_tokens),
            ("admin_tokens", &self.admin_tokens),
        ] {
            if let Some(i) = tokens.iter().position(|t| !token_is_legal(t.expose())) {
                return Err(format!("`server.{key}[{i}]`: {TOKEN_RULE}"));
            }
        }
        let admins: Vec<&Secret> = auth_token.iter().chain(&self.admin_tokens).collect();
        if let Some(i) = self.read_tokens.iter().position(|t| admins.contains(&t)) {
            return Err(format!(
                "`server.read_tokens[{i}]` is also an admin token; a token has one role"
            ));
        }
        let allowed_origins = self
            .allowed_origins
            .iter()
            .enumerate()
            .map(|(i, text)| {
                OriginPattern::parse(text)
                    .map_err(|e| format!("`server.allowed_origins[{i}]`: {e}"))
            })
            .collect::<Result<_, _>>()?;
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(
                "`server.tls_cert` and `server.tls_key` go together: give both or neither"
                    .to_owned(),
            );
        }
        if self.max_ws_clients == 0 {
            return Err("`server.max_ws_clients` must be at least 1".to_owned());
        }
        let config = ServerConfig {
            auth_token,
            read_tokens: self.read_tokens,
            admin_tokens: self.admin_tokens,
            allow_unauthenticated: self.allow_unauthenticated,
            allowed_origins,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            max_ws_clients: self.max_ws_clients,
        };
        if !bind.is_loopback() && !config.requires_token() && !config.allow_unauthenticated {
            return Err(format!(
                "`bind` is {bind}, which other machines can reach, and no token is set: anyone \
                 there could read the metrics and act (push, acknowledge, silence). Set \
                 `[server] auth_token` or the {AUTH_TOKEN_ENV} environment variable (and \
                 `read_tokens` for viewers), or `[server] allow_unauthenticated = true` to \
                 serve without one"
            ));
        }
        Ok(config)
    }
}
