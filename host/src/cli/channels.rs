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
/// and says how it went; with `render`, prints what the channel would send
/// instead of sending it.
pub async fn channels_test(
    config: &Config,
    name: &str,
    severity: &str,
    resolved: bool,
    render: bool,
) -> anyhow::Result<String> {
    let path = format!("/api/v1/channels/{name}/test");
    let request = json!({"severity": severity, "resolved": resolved, "render": render});
    let answer = api_call(config, reqwest::Method::POST, &path, &[], Some(request)).await?;
    if render {
        return rendered_text(&answer["rendered"]);
    }
    Ok(format!(
        "channel {name} delivered a {} {} test notification in {} ms\n",
        severity,
        if resolved { "resolved" } else { "firing" },
        answer["latencyMs"].as_u64().unwrap_or(0)
    ))
}

/// The rendered messages as a receiver would see them: request line,
/// headers, then the body (JSON pretty-printed); or subject and parts.
fn rendered_text(rendered: &Value) -> anyhow::Result<String> {
    let mut out = String::new();
    let messages = rendered.as_array().map(Vec::as_slice).unwrap_or_default();
    if messages.is_empty() {
        writeln!(out, "the channel sends nothing for this notification")?;
    }
    for message in messages {
        let text = |key: &str| message[key].as_str().unwrap_or_default().to_owned();
        match message["kind"].as_str() {
            Some("http") => {
                writeln!(out, "{} {}", text("method"), text("url"))?;
                for header in message["headers"].as_array().into_iter().flatten() {
                    writeln!(
                        out,
                        "{}: {}",
                        header[0].as_str().unwrap_or_default(),
                        header[1].as_str().unwrap_or_default()
                    )?;
                }
                let body = text("body");
                let body = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|json| serde_json::to_string_pretty(&json).ok())
                    .unwrap_or(body);
                writeln!(out, "\n{body}\n")?;
            }
            Some("email") => {
                writeln!(out, "Subject: {}\n\n{}", text("subject"), text("text"))?;
                if let Some(html) = message["html"].as_str() {
                    writeln!(out, "\n--- text/html ---\n{html}")?;
                }
                writeln!(out)?;
            }
            _ => writeln!(out, "{message}")?,
        }
    }
    Ok(out)
}
