//! Query-string parameters shared by the API handlers: refusing unknown
//! ones (a typo must not silently mean "default"), and time ranges.

use std::collections::HashMap;

use super::error::ApiError;

/// Refuses any parameter not in `known`, naming the ones that are.
pub fn only_known(params: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::BadRequest(format!(
            "unknown parameter `{unknown}`; use {}",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

/// `start` and `end` in epoch ms; `end` defaults to now (inclusive) and
/// `start` to `default_span_ms` before `end`.
pub fn time_range(
    params: &HashMap<String, String>,
    default_span_ms: i64,
) -> Result<(i64, i64), ApiError> {
    let end = epoch_ms(params, "end")?.unwrap_or(crate::clock::now_ms() + 1);
    let start = epoch_ms(params, "start")?.unwrap_or(end - default_span_ms);
    if start > end {
        return Err(ApiError::BadRequest(format!(
            "`start` ({start}) is after `end` ({end})"
        )));
    }
    Ok((start, end))
}

fn epoch_ms(params: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ApiError> {
    params
        .get(key)
        .map(|v| {
            v.parse().map_err(|_| {
                ApiError::BadRequest(format!("`{key}` must be epoch milliseconds, got {v:?}"))
            })
        })
        .transpose()
}
