//! Re-sending firing alerts to channels whose receiver keeps alert state
//! and forgets what is not sent again (Alertmanager resolves an alert whose
//! `endsAt` passes), as Prometheus re-sends to Alertmanager.
//!
//! A channel asks for it with `resend_interval_ms` in its config; its
//! plugin reads the same key (the Alertmanager plugin sets `endsAt` four
//! intervals ahead). An `alertmanager` channel that does not say gets
//! Prometheus's minute, which that plugin assumes too. What is re-sent is what fires now, asked of the
//! engine at the moment of each re-send ([`FiringSource`]), not a memory of
//! past notifications: an alert firing since before a restart is re-sent
//! too, and one that resolved is not, whatever became of its notifications.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::engine::AlertEngine;
use super::silence::Silences;
use crate::model::Alert;

/// The channel config key that asks for re-sends, in milliseconds.
pub const RESEND_KEY: &str = "resend_interval_ms";

/// Shortest re-send interval: each re-send is a request to the receiver.
pub const MIN_RESEND: Duration = Duration::from_secs(1);

/// Channel types re-sent without asking, and how often: receivers that
/// expire alerts that are not pushed again.
const RESENT_BY_DEFAULT: &[(&str, Duration)] = &[("alertmanager", Duration::from_secs(60))];

/// The alerts firing now that channels are told of: not silenced, not
/// inhibited. Called by each channel's task at each re-send.
pub type FiringSource = Arc<dyn Fn() -> Vec<Alert> + Send + Sync>;

/// The source of what `engine` has firing, less what `silences` covers and
/// what a critical alert inhibits, as the tick would deliver it. The two
/// locks are taken one after the other, never together.
pub fn firing_source(
    engine: Arc<Mutex<AlertEngine>>,
    silences: Arc<Mutex<Silences>>,
) -> FiringSource {
    Arc::new(move || {
        let firing = engine.lock().expect("alerts lock").firing_uninhibited();
        let now = crate::clock::now_ms();
        let silences = silences.lock().expect("silences lock");
        firing
            .into_iter()
            .filter(|alert| silences.silencing(alert, now).is_none())
            .collect()
    })
}

/// The re-send interval a channel of type `kind` gets: what its config
/// (its plugin's config, secrets merged in) asks for with [`RESEND_KEY`],
/// else its type's default; `None` for neither.
pub fn resend_interval(kind: &str, config: &serde_json::Value) -> Result<Option<Duration>, String> {
    let Some(value) = config.get(RESEND_KEY) else {
        let default = RESENT_BY_DEFAULT.iter().find(|(k, _)| *k == kind);
        return Ok(default.map(|(_, every)| *every));
    };
    let interval = value
        .as_u64()
        .map(Duration::from_millis)
        .filter(|interval| *interval >= MIN_RESEND)
        .ok_or_else(|| {
            format!(
                "config.{RESEND_KEY}: {value} is not a number of milliseconds of at least {}",
                MIN_RESEND.as_millis()
            )
        })?;
    Ok(Some(interval))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_interval_is_read_from_the_channel_config() {
        assert_eq!(
            resend_interval("webhook", &json!({"url": "http://a"})),
            Ok(None)
        );
        assert_eq!(
            resend_interval("webhook", &json!({"resend_interval_ms": 60000})),
            Ok(Some(Duration::from_secs(60)))
        );
        assert_eq!(
            resend_interval("alertmanager", &json!({"url": "http://a"})),
            Ok(Some(Duration::from_secs(60))),
            "Prometheus's minute unless said otherwise"
        );
        assert_eq!(
            resend_interval("alertmanager", &json!({"resend_interval_ms": 5000})),
            Ok(Some(Duration::from_secs(5)))
        );
        for bad in [json!(999), json!(-1), json!("1m"), json!(1.5)] {
            let error =
                resend_interval("webhook", &json!({ "resend_interval_ms": bad })).unwrap_err();
            assert!(
                error.starts_with("config.resend_interval_ms: ") && error.contains("at least 1000"),
                "{error}"
            );
        }
    }
}
