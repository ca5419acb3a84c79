//! One measurement, and the key that identifies the series it belongs to.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::MetricKind;

/// Most labels one sample may carry; more is a cardinality accident.
pub const MAX_LABELS: usize = 32;
/// Longest label name accepted.
pub const MAX_LABEL_NAME_LEN: usize = 100;
/// Longest label value accepted.
pub const MAX_LABEL_VALUE_LEN: usize = 1024;

/// Labels of a series, kept sorted so equal sets compare and hash equal.
/// Immutable once built and shared: a clone (every sample of a declared
/// series copies its labels) costs a reference count, not an allocation
/// per label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Arc<BTreeMap<String, String>>);

impl Serialize for Labels {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(deserializer).map(|map| Self(Arc::new(map)))
    }
}

impl Labels {
    /// No labels.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds labels, checking names, values and count.
    pub fn try_from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, LabelError> {
        let mut map = BTreeMap::new();
        for (name, value) in pairs {
            validate_label(&name, &value)?;
            map.insert(name, value);
            if map.len() > MAX_LABELS {
                return Err(LabelError::TooMany);
            }
        }
        Ok(Self(Arc::new(map)))
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The labels in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of one label.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Whether every label of `subset` is here with the same value.
    pub fn includes(&self, subset: &Labels) -> bool {
        subset.iter().all(|(k, v)| self.get(k) == Some(v))
    }

    /// Canonical text form, `{a="1",b="2"}`, used as the stored series key.
    pub fn to_canonical_string(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// Why a set of labels was refused; the message names the label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error(
        "label name {0:?} is invalid; use 1 to {MAX_LABEL_NAME_LEN} letters, digits or `_`, not starting with a digit"
    )]
    BadName(String),
    #[error("label `{name}` has a value of {len} bytes; at most {MAX_LABEL_VALUE_LEN} are allowed")]
    ValueTooLong { name: String, len: usize },
    #[error("more than {MAX_LABELS} labels")]
    TooMany,
}

fn validate_label(name: &str, value: &str) -> Result<(), LabelError> {
    let valid_name = !name.is_empty()
        && name.len() <= MAX_LABEL_NAME_LEN
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(LabelError::BadName(name.to_owned()));
    }
    if value.len() > MAX_LABEL_VALUE_LEN {
        return Err(LabelError::ValueTooLong {
            name: name.to_owned(),
            len: value.len(),
        });
    }
    Ok(())
}

/// A metric name plus labels: one series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    /// Canonical metric name.
    pub metric: String,
    /// The series' labels.
    pub labels: Labels,
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.labels.is_empty() {
            f.write_str(&self.metric)
        } else {
            write!(f, "{}{}", self.metric, self.labels)
        }
    }
}

/// One validated measurement: canonical name, finite value, epoch-ms time.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Canonical metric name (see [`super::canonical_metric_name`]).
    pub metric: String,
    /// Finite value.
    pub value: f64,
    /// Unit, empty when unknown.
    pub unit: String,
    /// Gauge or counter.
    pub kind: MetricKind,
    /// Series labels.
    pub labels: Labels,
    /// Measurement time, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

impl Sample {
    /// An unlabelled gauge; the unit defaults to the metric's documented one.
    pub fn gauge(metric: &str, value: f64, timestamp_ms: i64) -> Self {
        Self {
            metric: metric.to_owned(),
            value,
            unit: super::known_unit(metric).unwrap_or_default().to_owned(),
            kind: MetricKind::Gauge,
            labels: Labels::new(),
            timestamp_ms,
        }
    }

    /// The series this sample belongs to.
    pub fn series_key(&self) -> SeriesKey {
        SeriesKey {
            metric: self.metric.clone(),
            labels: self.labels.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_order_independent() {
        let a =
            Labels::try_from_pairs([("b".into(), "2".into()), ("a".into(), "1".into())]).unwrap();
        let b =
            Labels::try_from_pairs([("a".into(), "1".into()), ("b".into(), "2".into())]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_canonical_string(), r#"{a="1",b="2"}"#);
    }

    #[test]
    fn invalid_label_names_are_refused() {
        assert!(Labels::try_from_pairs([("1x".into(), "v".into())]).is_err());
        assert!(Labels::try_from_pairs([("a-b".into(), "v".into())]).is_err());
        assert!(Labels::try_from_pairs([("".into(), "v".into())]).is_err());
    }
}
