//! What every ingestion format checks of one sample (a finite value, a
//! plausible timestamp, a short unit), and how names from other systems
//! (OpenTelemetry, Prometheus) become perfwatch metric and label names.

use crate::model::canonical_metric_name;

/// Earliest accepted timestamp, 2000-01-01. Anything earlier is almost
/// certainly seconds sent where milliseconds are expected.
const MIN_TIMESTAMP_MS: i64 = 946_684_800_000;
/// How far in the future a timestamp may be: clocks drift, but a sample
/// from tomorrow would sit at the head of every query.
const MAX_FUTURE_MS: i64 = 3_600_000;
/// Longest unit accepted: units are short symbols (`ms`, `By`, `{request}`);
/// anything longer is a description in the wrong field.
pub const MAX_UNIT_LEN: usize = 32;

/// Refuses NaN and infinities: the store, rules and the dashboard work on
/// finite numbers only.
pub fn finite(metric: &str, value: f64) -> Result<f64, String> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!(
            "value {value} of `{metric}` is not a finite number"
        ))
    }
}

/// Refuses timestamps before 2000 (seconds where milliseconds belong) and
/// more than an hour ahead of `now_ms`.
pub fn timestamp(metric: &str, ts: i64, now_ms: i64) -> Result<i64, String> {
    if ts < MIN_TIMESTAMP_MS {
        return Err(format!(
            "`timestamp` {ts} of `{metric}` is before the year 2000; timestamps are epoch milliseconds, not seconds"
        ));
    }
    if ts > now_ms + MAX_FUTURE_MS {
        return Err(format!(
            "`timestamp` {ts} of `{metric}` is more than an hour in the future"
        ));
    }
    Ok(ts)
}

/// Refuses units longer than [`MAX_UNIT_LEN`] bytes.
pub fn unit(metric: &str, unit: String) -> Result<String, String> {
    if unit.len() <= MAX_UNIT_LEN {
        Ok(unit)
    } else {
        Err(format!(
            "`unit` of `{metric}` is longer than {MAX_UNIT_LEN} bytes"
        ))
    }
}

/// A metric name from another system as a perfwatch name: every character
/// other than ASCII letters, digits, `_` and `.` becomes `_` (`:` of
/// Prometheus recording rules, `-` and `/` of OpenTelemetry instruments),
/// then the usual validation and aliases apply. Names that are still
/// invalid (too long, an empty dot segment) are refused, never cut.
pub fn foreign_metric_name(name: &str) -> Result<String, String> {
    let sanitised: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    canonical_metric_name(&sanitised).map_err(|e| e.to_string())
}

/// An attribute key or label name from another system as a perfwatch label
/// name: every character other than ASCII letters, digits and `_` becomes
/// `_` (`service.name` → `service_name`), and a leading digit gets a `key_`
/// prefix, as Prometheus' OpenTelemetry translation does.
pub fn foreign_label_name(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("an attribute has an empty key".to_owned());
    }
    let sanitised: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Ok(if sanitised.starts_with(|c: char| c.is_ascii_digit()) {
        format!("key_{sanitised}")
    } else {
        sanitised
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_metric_names_keep_dots_and_lose_other_punctuation() {
        assert_eq!(
            foreign_metric_name("http.server.request.duration").unwrap(),
            "http.server.request.duration"
        );
        assert_eq!(
            foreign_metric_name("job:http_requests:rate5m").unwrap(),
            "job_http_requests_rate5m"
        );
        assert_eq!(
            foreign_metric_name("queue-depth/orders").unwrap(),
            "queue_depth_orders"
        );
        assert_eq!(
            foreign_metric_name("system.cpu_usage").unwrap(),
            "system.cpuUsage",
            "the original's aliases apply to every source"
        );
        assert!(
            foreign_metric_name("a..b")
                .unwrap_err()
                .contains("empty segment")
        );
        assert!(foreign_metric_name(&"x".repeat(201)).is_err(), "never cut");
    }

    #[test]
    fn foreign_label_names_become_identifiers() {
        assert_eq!(foreign_label_name("service.name").unwrap(), "service_name");
        assert_eq!(foreign_label_name("http-method").unwrap(), "http_method");
        assert_eq!(foreign_label_name("0day").unwrap(), "key_0day");
        assert_eq!(foreign_label_name("instance").unwrap(), "instance");
        assert!(foreign_label_name("").is_err());
    }

    #[test]
    fn values_timestamps_and_units_are_checked() {
        assert!(finite("a", f64::NAN).is_err());
        assert!(finite("a", f64::NEG_INFINITY).is_err());
        assert_eq!(finite("a", -1.5), Ok(-1.5));
        let now = 1_764_200_000_000;
        assert!(
            timestamp("a", 1_764_200_000, now)
                .unwrap_err()
                .contains("not seconds")
        );
        assert!(
            timestamp("a", now + 2 * MAX_FUTURE_MS, now)
                .unwrap_err()
                .contains("future")
        );
        assert_eq!(timestamp("a", now, now), Ok(now));
        assert!(unit("a", "x".repeat(33)).is_err());
    }
}
