//! Origins a plugin may be granted, written `scheme://host[:port]` in
//! `allow_http`.
//!
//! The host may start with `*.` to cover subdomains (`https://*.example.com`
//! matches `a.example.com`, not `example.com`). A pattern without a port
//! matches only the scheme's default port, so `http://127.0.0.1` does not
//! grant every local service.

use std::fmt;

/// One allowed origin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OriginPattern {
    scheme: String,
    host: HostPattern,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `*.example.com`, stored as `.example.com`.
    Subdomains(String),
}

impl OriginPattern {
    /// Parses `scheme://host[:port]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("{text:?} is not an origin; write scheme://host[:port], like \"https://api.example.com\""))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = default_port(&scheme)
            .ok_or_else(|| format!("{text:?}: only http and https can be granted"))?;
        if rest.contains('/') || rest.contains('?') || rest.contains('@') {
            return Err(format!(
                "{text:?}: give only scheme://host[:port], without a path, query or user"
            ));
        }
        let (host, port) = split_host_port(rest)
            .ok_or_else(|| format!("{text:?}: the port must be a number from 1 to 65535"))?;
        if host.is_empty() {
            return Err(format!("{text:?} has no host"));
        }
        let host = host.to_ascii_lowercase();
        let host = match host.strip_prefix("*.") {
            Some(domain) if !domain.is_empty() && !domain.contains('*') => {
                HostPattern::Subdomains(format!(".{domain}"))
            }
            _ if host.contains('*') => {
                return Err(format!("{text:?}: a wildcard may only be a leading `*.`"));
            }
            _ => HostPattern::Exact(host),
        };
        Ok(Self {
            scheme,
            host,
            port: port.unwrap_or(default_port),
        })
    }

    /// The pattern that grants exactly one origin.
    pub fn exact(scheme: &str, host: &str, port: u16) -> Self {
        Self {
            scheme: scheme.to_ascii_lowercase(),
            host: HostPattern::Exact(host.to_ascii_lowercase()),
            port,
        }
    }

    /// Whether this pattern grants the origin `scheme://host:port`.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        self.scheme == scheme
            && self.port == port
            && match &self.host {
                HostPattern::Exact(h) => *h == host,
                HostPattern::Subdomains(suffix) => host.ends_with(suffix.as_str()),
            }
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match &self.host {
            HostPattern::Exact(h) => h.clone(),
            HostPattern::Subdomains(s) => format!("*{s}"),
        };
        if Some(self.port) == default_port(&self.scheme) {
            write!(f, "{}://{host}", self.scheme)
        } else {
            write!(f, "{}://{host}:{}", self.scheme, self.port)
        }
    }
}

impl TryFrom<String> for OriginPattern {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<OriginPattern> for String {
    fn from(pattern: OriginPattern) -> String {
        pattern.to_string()
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// An origin as a browser sends it (`Origin: https://example.com:8443`):
/// its scheme, lowercase host and port (the scheme's default when absent).
pub fn parse_origin(text: &str) -> Option<(String, String, u16)> {
    let (scheme, rest) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let port = default_port(&scheme)?;
    if rest.contains(['/', '?', '@', '*']) {
        return None;
    }
    let (host, explicit) = split_host_port(rest)?;
    (!host.is_empty()).then(|| (scheme, host.to_ascii_lowercase(), explicit.unwrap_or(port)))
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    let parse_port = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0);
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(parse_port(port)?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(parse_port(port)?))),
        None => Some((text, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(pattern: &str, scheme: &str, host: &str, port: u16) -> bool {
        OriginPattern::parse(pattern)
            .unwrap()
            .allows(scheme, host, port)
    }

    #[test]
    fn exact_origins_match_scheme_host_and_port() {
        assert!(allows(
            "https://api.example.com",
            "https",
            "api.example.com",
            443
        ));
        assert!(allows(
            "https://API.example.com",
            "https",
            "api.EXAMPLE.com",
            443
        ));
        assert!(!allows(
            "https://api.example.com",
            "http",
            "api.example.com",
            443
        ));
        assert!(!allows(
            "https://api.example.com",
            "https",
            "api.example.com",
            8443
        ));
        assert!(!allows(
            "https://api.example.com",
            "https",
            "api.example.com.evil.net",
            443
        ));
        assert!(allows("http://127.0.0.1:9100", "http", "127.0.0.1", 9100));
        assert!(
            !allows("http://127.0.0.1", "http", "127.0.0.1", 9100),
            "no port means the default port only"
        );
        assert!(allows("http://[::1]:8080", "http", "::1", 8080));
    }

    #[test]
    fn wildcards_cover_subdomains_only() {
        assert!(allows(
            "https://*.example.com",
            "https",
            "a.b.example.com",
            443
        ));
        assert!(!allows(
            "https://*.example.com",
            "https",
            "example.com",
            443
        ));
        assert!(!allows(
            "https://*.example.com",
            "https",
            "badexample.com",
            443
        ));
    }

    #[test]
    fn malformed_patterns_are_refused_with_a_reason() {
        for bad in [
            "api.example.com",
            "ftp://x",
            "https://x/path",
            "https://x:0",
            "https://a*.b",
            "https://",
        ] {
            assert!(OriginPattern::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn patterns_print_as_written() {
        for text in [
            "https://api.example.com",
            "http://127.0.0.1:9100",
            "https://*.example.com",
        ] {
            assert_eq!(OriginPattern::parse(text).unwrap().to_string(), text);
        }
    }
}
