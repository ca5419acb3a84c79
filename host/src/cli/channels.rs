//! `perfwatch channels list` and `perfwatch channels test`, against the
//! running host's `/api/v1/channels`.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::api_call;
use crate::config::Config;

/// Each configured channel: its plugin, filters, whether it delivers, and
/// its delivery counters since the host started. No config is printed:
/// the API never answers a channel's secrets.
pub async fn channels_list(config: &Config) -> anyhow::Result<String> {
    let body = api_call(config, reqwest::Method::GET, "/api/v1/channels", &[], None).await?;
    let mut out = String::new();
    writeln!(
        out,
        "{:<20} {:<14} {:<11} {:>9} {:>7} {:>7} {:>7} {:>6} {:>8}  filters; last error",
        "name", "plugin", "state", "delivered", "retried", "gaveup", "dropped", "queued", "avg ms"
    )?;
    for channel in body["channels"].as_array().into_iter().flatten() {
        let stats = &channel["deliveries"];
        let count = |key: &str| stats[key].as_u64().unwrap_or(0);
        let state = match (
            channel["enabled"].as_bool().unwrap_or(false),
            channel["delivering"].as_bool().unwrap_or(false),
        ) {
            (false, _) => "disabled".to_owned(),
            (true, false) => "no plugin".to_owned(),
            (true, true) => channel["plugin"]["status"]
                .as_str()
                .unwrap_or("loaded")
                .to_owned(),
        };
        let avg = stats["avgLatencyMs"]
            .as_f64()
            .map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1}"));
        let mut notes = vec![describe_filters(&channel["filters"])];
        if let Some(error) = stats["lastError"].as_str() {
            notes.push(error.to_owned());
        }
        writeln!(
            out,
            "{:<20} {:<14} {:<11} {:>9} {:>7} {:>7} {:>7} {:>6} {:>8}  {}",
            channel["name"].as_str().unwrap_or("?"),
            channel["type"].as_str().unwrap_or("?"),
            state,
            count("delivered"),
            count("failedAttempts"),
            count("gaveUp"),
            count("dropped"),
            count("queued"),
            avg,
            notes.join("; ")
        )?;
    }
    Ok(out)
}

/// The filters in one line: `all alerts` when there are none.
fn describe_filters(filters: &Value) -> String {
    let parts: Vec<String> = ["severity", "components", "metrics", "labels"]
        .into_iter()
        .filter_map(|key| {
            let values: Vec<&str> = filters[key]
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            (!values.is_empty()).then(|| format!("{key}={}", values.join(",")))
        })
        .collect();
    if parts.is_empty() {
        "all alerts".to_owned()
    } else {
        parts.join(" ")
    }
}

/// Sends a sample notification through channel `name` of the running host
/// and says how it went.
pub async fn channels_test(
    config: &Config,
    name: &str,
    severity: &str,
    resolved: bool,
) -> anyhow::Result<String> {
    let path = format!("/api/v1/channels/{name}/test");
    let request = json!({"severity": severity, "resolved": resolved});
    let answer = api_call(config, reqwest::Method::POST, &path, &[], Some(request)).await?;
    Ok(format!(
        "channel {name} delivered a {} {} test notification in {} ms\n",
        severity,
        if resolved { "resolved" } else { "firing" },
        answer["latencyMs"].as_u64().unwrap_or(0)
    ))
}
