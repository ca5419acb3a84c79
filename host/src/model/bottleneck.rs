//! Bottlenecks as users see them: the original `BottleneckAnalysis`,
//! deduplicated, with first and last sighting and peak impact.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a bottleneck is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BottleneckKind {
    /// CPU saturation.
    Cpu,
    /// Memory nearly exhausted.
    Memory,
    /// Slow storage or queries.
    Io,
    /// Slow or failing network.
    Network,
    /// Agents waiting on each other.
    Coordination,
    /// The UI rendering too slowly.
    Ui,
}

impl BottleneckKind {
    /// Parses the lowercase name scripts use.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "cpu" => Self::Cpu,
            "memory" => Self::Memory,
            "io" => Self::Io,
            "network" => Self::Network,
            "coordination" => Self::Coordination,
            "ui" => Self::Ui,
            _ => return None,
        })
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Memory => "memory",
            Self::Io => "io",
            Self::Network => "network",
            Self::Coordination => "coordination",
            Self::Ui => "ui",
        }
    }
}

/// How bad a bottleneck is, from its impact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BottleneckSeverity {
    /// Impact below 40.
    Low,
    /// Impact 40 to 70.
    Medium,
    /// Impact 70 to 90.
    High,
    /// Impact 90 and more.
    Critical,
}

impl BottleneckSeverity {
    /// The severity of an impact (0–100).
    pub fn of(impact: f64) -> Self {
        match impact {
            i if i >= 90.0 => Self::Critical,
            i if i >= 70.0 => Self::High,
            i if i >= 40.0 => Self::Medium,
            _ => Self::Low,
        }
    }
}

/// One bottleneck, in the original `BottleneckAnalysis` shape (camelCase)
/// plus its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bottleneck {
    /// `<type>/<component>`: one bottleneck per kind and component.
    pub id: String,
    /// When it was first seen, epoch ms.
    pub timestamp: i64,
    /// What it is about.
    #[serde(rename = "type")]
    pub kind: BottleneckKind,
    /// How bad it is now.
    pub severity: BottleneckSeverity,
    /// What it is attributed to (`system`, `agents`, …).
    pub component: String,
    /// One human sentence.
    pub description: String,
    /// Impact now, 0–100.
    pub impact: f64,
    /// What to do about it.
    pub suggestions: Vec<String>,
    /// The values that show it.
    pub metrics: BTreeMap<String, f64>,
    /// When it was last seen, epoch ms.
    pub last_seen: i64,
    /// Ticks it was seen in.
    pub occurrences: u64,
    /// The highest impact seen.
    pub peak_impact: f64,
    /// Whether it cleared.
    pub resolved: bool,
    /// When it cleared, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<i64>,
}
