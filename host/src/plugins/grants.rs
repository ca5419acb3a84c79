//! What a plugin may reach over HTTP: the origins of its `allow_http`
//! grant, plus, for a channel, the origin of its own webhook URL.

use crate::config::OriginPattern;

/// The origins one plugin may call.
#[derive(Debug, Clone, Default)]
pub struct HttpGrant {
    plugin: String,
    origins: Vec<OriginPattern>,
}

impl HttpGrant {
    /// The grant of `plugin` from its `allow_http` list.
    pub fn new(plugin: &str, origins: &[OriginPattern]) -> Self {
        Self {
            plugin: plugin.to_owned(),
            origins: origins.to_vec(),
        }
    }

    /// Adds an origin granted implicitly (a channel's own webhook URL).
    pub fn with_origin_of(mut self, url: &reqwest::Url) -> Self {
        if let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) {
            let pattern = OriginPattern::exact(url.scheme(), host, port);
            if !self.origins.contains(&pattern) {
                self.origins.push(pattern);
            }
        }
        self
    }

    /// `Ok` when `url` is granted; otherwise a message quoting the config
    /// line that would grant it.
    pub fn check(&self, url: &reqwest::Url) -> Result<(), String> {
        let granted = match (url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(port)) => self
                .origins
                .iter()
                .any(|o| o.allows(url.scheme(), host, port)),
            _ => false,
        };
        if granted {
            return Ok(());
        }
        let origin = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", url.scheme()),
            (Some(h), None) => format!("{}://{h}", url.scheme()),
            _ => url.scheme().to_owned(),
        };
        let granted = if self.origins.is_empty() {
            "it is granted no HTTP access".to_owned()
        } else {
            let list: Vec<String> = self.origins.iter().map(|o| format!("\"{o}\"")).collect();
            format!("it may call {}", list.join(", "))
        };
        Err(format!(
            "plugin `{}` may not call {origin} ({granted}); to allow it, add to its [[plugins]] entry: allow_http = [\"{origin}\"]",
            self.plugin
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> reqwest::Url {
        s.parse().unwrap()
    }

    #[test]
    fn a_denial_quotes_the_line_that_would_grant_it() {
        let grant = HttpGrant::new(
            "probe",
            &[OriginPattern::parse("https://ok.example.com").unwrap()],
        );
        let err = grant.check(&url("http://127.0.0.1:9/x")).unwrap_err();
        assert_eq!(
            err,
            "plugin `probe` may not call http://127.0.0.1:9 (it may call \"https://ok.example.com\"); \
             to allow it, add to its [[plugins]] entry: allow_http = [\"http://127.0.0.1:9\"]"
        );
        assert!(grant.check(&url("https://ok.example.com/a")).is_ok());
        assert!(grant.check(&url("https://ok.example.com:443/a")).is_ok());
    }

    #[test]
    fn nothing_granted_says_so() {
        let err = HttpGrant::new("p", &[])
            .check(&url("https://x.example/"))
            .unwrap_err();
        assert!(err.contains("it is granted no HTTP access"), "{err}");
    }

    #[test]
    fn a_channel_may_call_its_own_webhook_origin() {
        let hook = url("https://hooks.slack.com/services/T/B/X");
        let grant = HttpGrant::new("slack", &[]).with_origin_of(&hook);
        assert!(grant.check(&url("https://hooks.slack.com/other")).is_ok());
        assert!(grant.check(&url("https://evil.example/")).is_err());
    }
}
