//! Which world a component implements, read from its exports, and whether
//! it was built against a WIT version this host serves.

use wasmtime::Engine;
use wasmtime::component::Component;

use super::PluginError;

/// The WIT package plugins are built against.
pub const WIT_PACKAGE: &str = "perfwatch:plugin";
/// The package version this host serves. Components built against any
/// 0.2.x link (wasmtime resolves semver-compatible names).
pub const WIT_VERSION: &str = "0.2.0";
/// The deprecated version still served, through `adapter_v1.rs`.
pub const WIT_VERSION_DEPRECATED: &str = "0.1.0";

/// Which package version a component was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WitVersion {
    /// 0.1.x, served by the adapter.
    V1,
    /// 0.2.x, the current one.
    V2,
}

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
            PluginKind::Collector => &["types", "host", "http", "series"],
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
) -> Result<(PluginKind, WitVersion), PluginError> {
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
        let Some(wit_version) = served(version) else {
            return Err(PluginError::Incompatible {
                plugin: plugin.to_owned(),
                found: if version.is_empty() {
                    "(unversioned)".to_owned()
                } else {
                    version.to_owned()
                },
                serves: WIT_VERSION,
                deprecated: WIT_VERSION_DEPRECATED,
            });
        };
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
        return Ok((kind, wit_version));
    }
    Err(PluginError::UnknownWorld {
        plugin: plugin.to_owned(),
    })
}

/// Whether the component imports `perfwatch:plugin/<interface>` (any version).
pub fn imports(engine: &Engine, component: &Component, interface: &str) -> bool {
    component.component_type().imports(engine).any(|(name, _)| {
        name.strip_prefix(WIT_PACKAGE)
            .and_then(|r| r.strip_prefix('/'))
            .is_some_and(|rest| rest.split_once('@').map_or(rest, |(i, _)| i) == interface)
    })
}

/// For 0.x versions, semver compatibility means the same minor version.
fn served(version: &str) -> Option<WitVersion> {
    let same_minor = |ours: &str| {
        let mut parts = version.split('.');
        let mut ours = ours.split('.');
        parts.next() == ours.next() && parts.next() == ours.next()
    };
    if same_minor(WIT_VERSION) {
        Some(WitVersion::V2)
    } else if same_minor(WIT_VERSION_DEPRECATED) {
        Some(WitVersion::V1)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_and_the_deprecated_minor_versions_are_served() {
        assert_eq!(served("0.2.0"), Some(WitVersion::V2));
        assert_eq!(served("0.2.9"), Some(WitVersion::V2));
        assert_eq!(served("0.1.0"), Some(WitVersion::V1));
        assert_eq!(served("0.1.7"), Some(WitVersion::V1));
        assert_eq!(served("0.3.0"), None);
        assert_eq!(served("1.2.0"), None);
        assert_eq!(served("0"), None);
        assert_eq!(served(""), None);
    }
}
