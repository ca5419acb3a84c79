//! Query-string parameters: each handler declares a typed `Params` struct
//! (serde, `deny_unknown_fields`, so a typo is a 400 rather than silently
//! the default), extracted through [`Params`], and time ranges.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::error::ApiError;

/// A handler's query parameters, deserialised into `T`; an unknown key or
/// a malformed value is a 400 naming it.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(params)) => Ok(Params(params)),
            Err(rejection) => {
                // axum names the parameter (`start: …`); its own preamble
                // says nothing the status does not.
                let text = rejection.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                Err(ApiError::BadRequest(format!(
                    "bad query parameter: {detail}"
                )))
            }
        }
    }
}

/// An optional epoch-milliseconds parameter, refused in words when it is
/// not a whole number (`#[serde(default, deserialize_with = "epoch_ms")]`).
pub fn epoch_ms<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.trim()
        .parse()
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("must be epoch milliseconds, got {text:?}")))
}

/// `start` and `end` in epoch ms; `end` defaults to now (inclusive) and
/// `start` to `default_span_ms` before `end`.
pub fn time_range(
    start: Option<i64>,
    end: Option<i64>,
    default_span_ms: i64,
) -> Result<(i64, i64), ApiError> {
    let end = end.unwrap_or(crate::clock::now_ms() + 1);
    let start = match start {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `end - span` of the smallest `end` overflowed (a panic in debug).
    #[test]
    fn an_end_at_i64_min_without_start_is_refused_not_overflowed() {
        let err = time_range(None, Some(i64::MIN), 3_600_000).unwrap_err();
        assert!(
            matches!(&err, ApiError::BadRequest(m) if m.contains("give `start`")),
            "{err:?}"
        );
    }

    #[test]
    fn extreme_bounds_given_explicitly_are_taken_as_they_are() {
        let range = time_range(Some(i64::MIN), Some(i64::MAX), 3_600_000).unwrap();
        assert_eq!(range, (i64::MIN, i64::MAX));
    }

    #[test]
    fn start_after_end_is_refused() {
        assert!(time_range(Some(2), Some(1), 10).is_err());
    }
}
