//! Series a collector declared (`series.declare`), per instance: each
//! description is checked once, and a reading is then only a handle and a
//! value, turned into a sample by copying the checked template.

use std::collections::HashMap;

use super::bindings::v2::types::{MetricKind as WitKind, SeriesDescription};
use crate::model::{Labels, MetricKind, Sample, canonical_metric_name, known_unit};

/// Most series one instance may declare; a collector that declares more is
/// broken or hostile, and its memory is the host's.
pub const MAX_DECLARED_SERIES: usize = 10_000;

/// The declared series of one instance; dropped with it.
#[derive(Default)]
pub struct DeclaredSeries {
    templates: Vec<Sample>,
    handles: HashMap<(String, Labels), u32>,
}

impl DeclaredSeries {
    /// Checks `description` as a sample would be checked and returns its
    /// handle: the same handle for an equal metric and label set.
    pub fn declare(&mut self, description: SeriesDescription) -> Result<u32, String> {
        let template = template(description)?;
        let key = (template.metric.clone(), template.labels.clone());
        if let Some(&handle) = self.handles.get(&key) {
            let known = &self.templates[handle as usize];
            if known.unit != template.unit || known.kind != template.kind {
                return Err(format!(
                    "`{}` is already declared with unit {:?} and kind {}",
                    template.metric,
                    known.unit,
                    known.kind.as_str()
                ));
            }
            return Ok(handle);
        }
        if self.templates.len() >= MAX_DECLARED_SERIES {
            return Err(format!(
                "more than {MAX_DECLARED_SERIES} series declared; return samples for series that come and go"
            ));
        }
        let handle = self.templates.len() as u32;
        self.templates.push(template);
        self.handles.insert(key, handle);
        Ok(handle)
    }

    /// The sample a reading stands for, or why there is none.
    pub fn sample(&self, handle: u32, value: f64, timestamp_ms: i64) -> Result<Sample, String> {
        let template = self.templates.get(handle as usize).ok_or_else(|| {
            format!("reading of series handle {handle}, which was never declared")
        })?;
        if !value.is_finite() {
            return Err(format!(
                "`{}` has the non-finite value {value}",
                template.metric
            ));
        }
        Ok(Sample {
            value,
            timestamp_ms,
            ..template.clone()
        })
    }
}

fn template(d: SeriesDescription) -> Result<Sample, String> {
    let metric = canonical_metric_name(&d.metric).map_err(|e| e.to_string())?;
    let labels = Labels::try_from_pairs(d.labels.into_iter().map(|l| (l.key, l.value)))
        .map_err(|e| format!("`{metric}`: {e}"))?;
    let unit = if d.unit.is_empty() {
        known_unit(&metric).unwrap_or_default().to_owned()
    } else {
        d.unit
    };
    Ok(Sample {
        metric,
        value: 0.0,
        unit,
        kind: match d.kind {
            WitKind::Gauge => MetricKind::Gauge,
            WitKind::Counter => MetricKind::Counter,
        },
        labels,
        timestamp_ms: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::bindings::v2::types::Label;

    fn description(metric: &str, series: &str) -> SeriesDescription {
        SeriesDescription {
            metric: metric.into(),
            unit: "%".into(),
            kind: WitKind::Gauge,
            help: String::new(),
            labels: vec![Label {
                key: "series".into(),
                value: series.into(),
            }],
        }
    }

    #[test]
    fn an_equal_description_gets_the_same_handle() {
        let mut declared = DeclaredSeries::default();
        let a = declared.declare(description("bench.value", "1")).unwrap();
        let b = declared.declare(description("bench.value", "2")).unwrap();
        assert_ne!(a, b);
        assert_eq!(declared.declare(description("bench.value", "1")), Ok(a));
        let sample = declared.sample(b, 7.5, 1000).unwrap();
        assert_eq!(
            (sample.metric.as_str(), sample.value, sample.timestamp_ms),
            ("bench.value", 7.5, 1000)
        );
        assert_eq!(sample.labels.get("series"), Some("2"));
    }

    #[test]
    fn bad_descriptions_and_readings_are_refused_with_reasons() {
        let mut declared = DeclaredSeries::default();
        let err = declared.declare(description("bad name!", "1")).unwrap_err();
        assert!(err.contains("bad name!"), "{err}");
        let mut other_unit = description("bench.value", "1");
        declared.declare(other_unit.clone()).unwrap();
        other_unit.unit = "ms".into();
        let err = declared.declare(other_unit).unwrap_err();
        assert!(err.contains("already declared"), "{err}");
        assert!(
            declared
                .sample(9, 1.0, 0)
                .unwrap_err()
                .contains("never declared")
        );
        assert!(
            declared
                .sample(0, f64::NAN, 0)
                .unwrap_err()
                .contains("non-finite")
        );
    }
}
