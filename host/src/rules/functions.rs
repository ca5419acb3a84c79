//! What scripts may call: reads of the window and `alert(...)`.
//!
//! The functions read the shared window under a short read lock, so a
//! script sees the data of the tick it runs in. Windows are computed in
//! Rust; scripts never receive raw histories.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use rhai::{Engine, EvalAltResult, Map};

use crate::model::{Labels, SeriesKey, Severity};
use crate::window::SampleWindow;

/// An alert a script raised during one evaluation.
#[derive(Debug, Clone)]
pub struct Raised {
    pub name: String,
    pub severity: Severity,
    pub message: String,
    pub metric: String,
    pub labels: Labels,
    pub value: f64,
    pub threshold: f64,
    pub component: String,
    pub timing: crate::alert::Timing,
}

/// State shared between the registered functions and the rule set.
pub struct Shared {
    pub window: Arc<RwLock<SampleWindow>>,
    pub now_ms: AtomicI64,
    pub raised: Mutex<Vec<Raised>>,
}

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

fn runtime_error(message: String) -> Box<EvalAltResult> {
    message.into()
}

/// Parses `"500ms"`, `"30s"`, `"5m"`, `"1h"` into milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("duration {text:?} must start with a number, like \"5m\""))?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("duration {text:?} needs a unit: ms, s, m or h")),
    };
    Ok(n * scale)
}

fn unlabelled(metric: &str) -> SeriesKey {
    SeriesKey {
        metric: crate::model::canonical_metric_name(metric).unwrap_or_else(|_| metric.to_owned()),
        labels: Labels::new(),
    }
}

/// Applies `fold` to the unlabelled series' points over the last `span`.
fn over_window(
    shared: &Shared,
    metric: &str,
    span: &str,
    fold: fn(&[f64]) -> f64,
) -> RhaiResult<f64> {
    let span_ms = parse_duration_ms(span).map_err(runtime_error)?;
    let since = shared.now_ms.load(Ordering::Relaxed) - span_ms;
    let window = shared.window.read().expect("window lock");
    let values: Vec<f64> = window
        .get(&unlabelled(metric))
        .map(|s| s.since(since).map(|(_, v)| v).collect())
        .unwrap_or_default();
    Ok(if values.is_empty() {
        f64::NAN
    } else {
        fold(&values)
    })
}

fn opt_f64(options: &Map, key: &str) -> RhaiResult<Option<f64>> {
    match options.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_float()
            .or_else(|_| v.as_int().map(|i| i as f64))
            .map(Some)
            .map_err(|t| runtime_error(format!("alert option `{key}` must be a number, got {t}"))),
    }
}

fn opt_string(options: &Map, key: &str) -> RhaiResult<Option<String>> {
    match options.get(key) {
        None => Ok(None),
        Some(v) => {
            v.clone().into_string().map(Some).map_err(|t| {
                runtime_error(format!("alert option `{key}` must be a string, got {t}"))
            })
        }
    }
}

/// The options `alert(name, severity, message, #{...})` understands.
const ALERT_OPTIONS: &[&str] = &[
    "metric",
    "value",
    "threshold",
    "component",
    "labels",
    "for",
    "keep_firing_for",
    "cooldown",
    "repeat",
];

fn opt_duration(options: &Map, key: &str) -> RhaiResult<Option<i64>> {
    match opt_string(options, key)? {
        None => Ok(None),
        Some(text) => parse_duration_ms(&text)
            .map(Some)
            .map_err(|e| runtime_error(format!("alert option `{key}`: {e}"))),
    }
}

fn raise(
    shared: &Shared,
    name: &str,
    severity: &str,
    message: &str,
    options: Map,
) -> RhaiResult<()> {
    let severity = match severity {
        "warning" => Severity::Warning,
        "critical" => Severity::Critical,
        other => {
            return Err(runtime_error(format!(
                "alert severity must be \"warning\" or \"critical\", got {other:?}"
            )));
        }
    };
    if name.is_empty() || name.contains('/') {
        return Err(runtime_error(format!(
            "alert name {name:?} must be non-empty and contain no `/`"
        )));
    }
    for key in options.keys() {
        if !ALERT_OPTIONS.contains(&key.as_str()) {
            return Err(runtime_error(format!(
                "unknown alert option `{key}`; use {}",
                ALERT_OPTIONS.join(", ")
            )));
        }
    }
    let metric = opt_string(&options, "metric")?.unwrap_or_default();
    let labels = match options.get("labels") {
        None => Labels::new(),
        Some(v) => {
            let map = v
                .clone()
                .try_cast::<Map>()
                .ok_or_else(|| runtime_error("alert option `labels` must be a map".into()))?;
            Labels::try_from_pairs(map.into_iter().map(|(k, v)| (k.to_string(), v.to_string())))
                .map_err(runtime_error)?
        }
    };
    let component = opt_string(&options, "component")?.unwrap_or_else(|| {
        metric
            .split('.')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("rules")
            .to_owned()
    });
    shared.raised.lock().expect("raised lock").push(Raised {
        name: name.to_owned(),
        severity,
        message: message.to_owned(),
        metric,
        labels,
        value: opt_f64(&options, "value")?.unwrap_or(f64::NAN),
        threshold: opt_f64(&options, "threshold")?.unwrap_or(f64::NAN),
        component,
        timing: crate::alert::Timing {
            for_ms: opt_duration(&options, "for")?.unwrap_or(0),
            keep_firing_for_ms: opt_duration(&options, "keep_firing_for")?.unwrap_or(0),
            cooldown_ms: opt_duration(&options, "cooldown")?.unwrap_or(0),
            repeat_interval_ms: opt_duration(&options, "repeat")?,
        },
    });
    Ok(())
}

/// Registers the rule API on `engine`.
pub fn register(engine: &mut Engine, shared: &Arc<Shared>) {
    let s = shared.clone();
    engine.register_fn("value", move |metric: &str| -> f64 {
        let window = s.window.read().expect("window lock");
        window
            .get(&unlabelled(metric))
            .and_then(|w| w.latest())
            .map_or(f64::NAN, |(_, v)| v)
    });
    let s = shared.clone();
    engine.register_fn("has", move |metric: &str| -> bool {
        s.window
            .read()
            .expect("window lock")
            .get(&unlabelled(metric))
            .is_some_and(|w| w.latest().is_some())
    });
    let s = shared.clone();
    engine.register_fn("avg", move |metric: &str, span: &str| {
        over_window(&s, metric, span, |v| v.iter().sum::<f64>() / v.len() as f64)
    });
    let s = shared.clone();
    engine.register_fn("min", move |metric: &str, span: &str| {
        over_window(&s, metric, span, |v| {
            v.iter().copied().fold(f64::INFINITY, f64::min)
        })
    });
    let s = shared.clone();
    engine.register_fn("max", move |metric: &str, span: &str| {
        over_window(&s, metric, span, |v| {
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        })
    });
    let s = shared.clone();
    engine.register_fn("now_ms", move || -> i64 {
        s.now_ms.load(Ordering::Relaxed)
    });
    let s = shared.clone();
    engine.register_fn("alert", move |name: &str, severity: &str, message: &str| {
        raise(&s, name, severity, message, Map::new())
    });
    let s = shared.clone();
    engine.register_fn(
        "alert",
        move |name: &str, severity: &str, message: &str, options: Map| {
            raise(&s, name, severity, message, options)
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("30s"), Ok(30_000));
        assert_eq!(parse_duration_ms("5m"), Ok(300_000));
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert!(parse_duration_ms("5").is_err());
        assert!(parse_duration_ms("m").is_err());
    }
}
