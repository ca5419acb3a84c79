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
    let start = match epoch_ms(params, "start")? {
        Some(start) => start,
        None => end.checked_sub(default_span_ms).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`end` ({end}) leaves no room for the default range; give `start` as well"
            ))
        })?,
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// `end - span` of the smallest `end` overflowed (a panic in debug).
    #[test]
    fn an_end_at_i64_min_without_start_is_refused_not_overflowed() {
        let err = time_range(&params(&[("end", &i64::MIN.to_string())]), 3_600_000).unwrap_err();
        assert!(
            matches!(&err, ApiError::BadRequest(m) if m.contains("give `start`")),
            "{err:?}"
        );
    }

    #[test]
    fn extreme_bounds_given_explicitly_are_taken_as_they_are() {
        let range = time_range(
            &params(&[
                ("start", &i64::MIN.to_string()),
                ("end", &i64::MAX.to_string()),
            ]),
            3_600_000,
        )
        .unwrap();
        assert_eq!(range, (i64::MIN, i64::MAX));
    }
}
