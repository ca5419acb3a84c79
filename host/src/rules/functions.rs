//! What scripts may call: reads of the window and `alert(...)`.
//!
//! The functions read the shared window under a short read lock, so a
//! script sees the data of the tick it runs in. Windows are computed in
//! Rust; scripts never receive raw histories.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use rhai::{Array, Engine, EvalAltResult, Map};

use super::window_fns::{self, Selector};
use crate::alert::Detection;
use crate::model::{BottleneckKind, Labels, Severity};
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
    /// Bottlenecks reported during one evaluation (source filled in by the rule set).
    pub detected: Mutex<Vec<Detection>>,
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
    n.checked_mul(scale)
        .ok_or_else(|| format!("duration {text:?} is too long"))
}

/// The start of a window `span` long that ends now.
fn since(shared: &Shared, span: &str) -> RhaiResult<i64> {
    let span_ms = parse_duration_ms(span).map_err(runtime_error)?;
    Ok(shared
        .now_ms
        .load(Ordering::Relaxed)
        .saturating_sub(span_ms))
}

/// Applies `fold` to the selected series' points over the last `span`;
/// NaN when there are none.
fn over_window(
    shared: &Shared,
    metric: &str,
    span: &str,
    selector: &Selector,
    fold: fn(&[f64]) -> f64,
) -> RhaiResult<f64> {
    let since = since(shared, span)?;
    let window = shared.window.read().expect("window lock");
    let values = window_fns::pooled(&window, metric, selector, since);
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
                .map_err(|e| runtime_error(e.to_string()))?
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

/// Folds a window's values into one.
type Aggregate = fn(&[f64]) -> f64;

/// The aggregates scripts may take over a duration, by name.
const AGGREGATES: &[(&str, Aggregate)] = &[
    ("avg", |v| window_fns::mean(v)),
    ("min", |v| v.iter().copied().fold(f64::INFINITY, f64::min)),
    ("max", |v| {
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }),
    ("sum", |v| v.iter().sum()),
];

/// `bottleneck(kind, component, impact, description, suggestions[, metrics])`.
fn detect(
    shared: &Shared,
    kind: &str,
    component: &str,
    impact: f64,
    description: &str,
    suggestions: Array,
    metrics: Map,
) -> RhaiResult<()> {
    let kind = BottleneckKind::parse(kind).ok_or_else(|| {
        runtime_error(format!(
            "bottleneck kind must be cpu, memory, io, network, coordination or ui, got {kind:?}"
        ))
    })?;
    if !impact.is_finite() {
        return Err(runtime_error(format!(
            "bottleneck impact must be a number from 0 to 100, got {impact}"
        )));
    }
    if component.is_empty() {
        return Err(runtime_error(
            "bottleneck component must not be empty".into(),
        ));
    }
    let suggestions = suggestions
        .into_iter()
        .map(|s| {
            s.into_string()
                .map_err(|t| runtime_error(format!("suggestions must be strings, got {t}")))
        })
        .collect::<RhaiResult<Vec<String>>>()?;
    let metrics = metrics
        .into_iter()
        .map(|(k, v)| {
            let value = v.as_float().or_else(|_| v.as_int().map(|i| i as f64));
            value
                .map(|v| (k.to_string(), v))
                .map_err(|t| runtime_error(format!("metric `{k}` must be a number, got {t}")))
        })
        .collect::<RhaiResult<_>>()?;
    shared
        .detected
        .lock()
        .expect("detected lock")
        .push(Detection {
            source: String::new(),
            kind,
            component: component.to_owned(),
            impact: impact.clamp(0.0, 100.0),
            description: description.to_owned(),
            suggestions,
            metrics,
        });
    Ok(())
}

/// Registers the rule API on `engine`.
pub fn register(engine: &mut Engine, shared: &Arc<Shared>) {
    let s = shared.clone();
    engine.register_fn("value", move |metric: &str| -> f64 {
        window_fns::latest(
            &s.window.read().expect("window lock"),
            metric,
            &Selector::Unlabelled,
        )
    });
    let s = shared.clone();
    engine.register_fn("value", move |metric: &str, selector: Map| -> f64 {
        window_fns::latest(
            &s.window.read().expect("window lock"),
            metric,
            &Selector::from_map(&selector),
        )
    });
    let s = shared.clone();
    engine.register_fn("has", move |metric: &str| -> bool {
        !window_fns::latest(
            &s.window.read().expect("window lock"),
            metric,
            &Selector::Unlabelled,
        )
        .is_nan()
    });
    let s = shared.clone();
    engine.register_fn("series", move |metric: &str| {
        window_fns::series_list(
            &s.window.read().expect("window lock"),
            metric,
            &Selector::Matching(Vec::new()),
        )
    });
    let s = shared.clone();
    engine.register_fn("series", move |metric: &str, selector: Map| {
        window_fns::series_list(
            &s.window.read().expect("window lock"),
            metric,
            &Selector::from_map(&selector),
        )
    });
    for (name, fold) in AGGREGATES {
        let s = shared.clone();
        engine.register_fn(*name, move |metric: &str, span: &str| {
            over_window(&s, metric, span, &Selector::Unlabelled, *fold)
        });
        let s = shared.clone();
        engine.register_fn(*name, move |metric: &str, span: &str, selector: Map| {
            over_window(&s, metric, span, &Selector::from_map(&selector), *fold)
        });
    }
    let s = shared.clone();
    engine.register_fn("rate", move |metric: &str, span: &str| -> RhaiResult<f64> {
        let since = since(&s, span)?;
        Ok(window_fns::rate(
            &s.window.read().expect("window lock"),
            metric,
            &Selector::Unlabelled,
            since,
        ))
    });
    let s = shared.clone();
    engine.register_fn(
        "rate",
        move |metric: &str, span: &str, selector: Map| -> RhaiResult<f64> {
            let since = since(&s, span)?;
            Ok(window_fns::rate(
                &s.window.read().expect("window lock"),
                metric,
                &Selector::from_map(&selector),
                since,
            ))
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "percentile",
        move |metric: &str, q: f64, span: &str| -> RhaiResult<f64> {
            let since = since(&s, span)?;
            let values = window_fns::pooled(
                &s.window.read().expect("window lock"),
                metric,
                &Selector::Unlabelled,
                since,
            );
            Ok(window_fns::percentile(values, q))
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "percentile",
        move |metric: &str, q: f64, span: &str, selector: Map| -> RhaiResult<f64> {
            let since = since(&s, span)?;
            let values = window_fns::pooled(
                &s.window.read().expect("window lock"),
                metric,
                &Selector::from_map(&selector),
                since,
            );
            Ok(window_fns::percentile(values, q))
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "bottleneck",
        move |kind: &str, component: &str, impact: f64, description: &str, suggestions: Array| {
            detect(
                &s,
                kind,
                component,
                impact,
                description,
                suggestions,
                Map::new(),
            )
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "bottleneck",
        move |kind: &str,
              component: &str,
              impact: f64,
              description: &str,
              suggestions: Array,
              metrics: Map| {
            detect(
                &s,
                kind,
                component,
                impact,
                description,
                suggestions,
                metrics,
            )
        },
    );
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
