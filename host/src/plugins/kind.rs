//! Which world a component implements, read from its exports, and whether
//! it was built against a WIT version this host serves.

use wasmtime::Engine;
use wasmtime::component::Component;

use super::PluginError;

/// The WIT package plugins are built against.
pub const WIT_PACKAGE: &str = "perfwatch:plugin";
/// The package version this host serves. Components built against any
/// 0.1.x link (wasmtime resolves semver-compatible names).
pub const WIT_VERSION: &str = "0.1.0";

/// The three plugin worlds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// Measures something every tick.
    Collector,
    /// Delivers alert notifications.
    Channel,
    /// Renders stored data.
    Exporter,
}

impl PluginKind {
    fn from_interface(name: &str) -> Option<Self> {
        match name {
            "collector-api" => Some(PluginKind::Collector),
            "channel-api" => Some(PluginKind::Channel),
            "exporter-api" => Some(PluginKind::Exporter),
            _ => None,
        }
    }

    /// The `perfwatch:plugin` interfaces a component of this world may
    /// import. The host links one set of imports for every world, so this
    /// is what keeps, say, an exporter from making network calls.
    fn allowed_imports(self) -> &'static [&'static str] {
        match self {
            PluginKind::Collector => &["types", "host", "http"],
            PluginKind::Channel => &["types", "host", "http", "email"],
            PluginKind::Exporter => &["types", "host"],
        }
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Collector => "collector",
            PluginKind::Channel => "channel",
            PluginKind::Exporter => "exporter",
        }
    }
}

/// Reads the component's exports: `perfwatch:plugin/<kind>-api@<version>`.
pub fn detect(
    engine: &Engine,
    component: &Component,
    plugin: &str,
) -> Result<(PluginKind, String), PluginError> {
    let ty = component.component_type();
    for (name, _) in ty.exports(engine) {
        let Some(rest) = name
            .strip_prefix(WIT_PACKAGE)
            .and_then(|r| r.strip_prefix('/'))
        else {
            continue;
        };
        let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
        let Some(kind) = PluginKind::from_interface(interface) else {
            continue;
        };
        if !compatible(version) {
            return Err(PluginError::Incompatible {
                plugin: plugin.to_owned(),
                found: if version.is_empty() {
                    "(unversioned)".to_owned()
                } else {
                    version.to_owned()
                },
                serves: WIT_VERSION,
            });
        }
        for (import, _) in ty.imports(engine) {
            let Some(rest) = import
                .strip_prefix(WIT_PACKAGE)
                .and_then(|r| r.strip_prefix('/'))
            else {
                continue;
            };
            let interface = rest.split_once('@').map_or(rest, |(i, _)| i);
            if !kind.allowed_imports().contains(&interface) {
                return Err(PluginError::ForbiddenImport {
                    plugin: plugin.to_owned(),
                    kind: kind.as_str(),
                    interface: interface.to_owned(),
                });
            }
        }
        return Ok((kind, version.to_owned()));
    }
    Err(PluginError::UnknownWorld {
        plugin: plugin.to_owned(),
    })
}

/// For 0.x versions, semver compatibility means the same minor version.
fn compatible(version: &str) -> bool {
    let mut parts = version.split('.');
    let ours: Vec<&str> = WIT_VERSION.split('.').collect();
    parts.next() == Some(ours[0]) && parts.next() == Some(ours[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_minor_version_is_compatible() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.7"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible("1.1.0"));
        assert!(!compatible(""));
    }
}
