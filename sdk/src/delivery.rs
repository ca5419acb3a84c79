//! [`DeliveryError`] helpers: which failures a channel should have retried, and when.

use crate::http::{BodyError, HttpError, Response};
use crate::{DeliveryError, RetryAfter};

/// Longest wait a `Retry-After` header can ask for, in milliseconds: what
/// fits the WIT's `u32` (about 49 days). Longer asks are capped here; the
/// host applies its own, shorter limit.
const MAX_RETRY_AFTER_MS: u32 = u32::MAX;

impl DeliveryError {
    /// Trying again cannot help: a refused address, a malformed request, a
    /// config mistake. Never retried.
    pub fn permanent(reason: impl Into<String>) -> Self {
        DeliveryError::Permanent(reason.into())
    }

    /// Trying again may help: a timeout, a server error. Retried with backoff.
    pub fn transient(reason: impl Into<String>) -> Self {
        DeliveryError::Transient(reason.into())
    }

    /// The receiver asked to wait `after_ms` milliseconds before the next attempt.
    pub fn retry_after(after_ms: u32, reason: impl Into<String>) -> Self {
        DeliveryError::RetryAfter(RetryAfter {
            after_ms,
            reason: reason.into(),
        })
    }

    /// What went wrong, without the kind.
    pub fn reason(&self) -> &str {
        match self {
            DeliveryError::Permanent(reason) | DeliveryError::Transient(reason) => reason,
            DeliveryError::RetryAfter(retry) => &retry.reason,
        }
    }

    /// Whether the host will try again.
    pub fn is_retried(&self) -> bool {
        !matches!(self, DeliveryError::Permanent(_))
    }

    /// The error for an HTTP answer with status `status` that is not a
    /// success; `retry_after` is the answer's `Retry-After` header, if any.
    ///
    /// - 429 Too Many Requests, and 503 with a `Retry-After`, wait as long
    ///   as the header says (seconds, or an HTTP date); a 429 without a
    ///   usable header is transient.
    /// - 408 Request Timeout and 425 Too Early are transient: the request
    ///   was fine, its timing was not.
    /// - Any other 4xx is permanent: the same request will be refused again.
    /// - 5xx is transient.
    /// - Anything else (a redirect the host did not follow, a 1xx or 2xx
    ///   passed here by mistake) is permanent.
    ///
    /// The reason is `HTTP <status> <phrase>`; [`check_response`](DeliveryError::check_response)
    /// quotes the body too.
    ///
    /// ```
    /// use perfwatch_sdk::DeliveryError;
    ///
    /// assert_eq!(
    ///     DeliveryError::from_http_status(429, Some("30")),
    ///     DeliveryError::retry_after(30_000, "HTTP 429 Too Many Requests")
    /// );
    /// assert_eq!(
    ///     DeliveryError::from_http_status(404, None),
    ///     DeliveryError::permanent("HTTP 404 Not Found")
    /// );
    /// assert!(DeliveryError::from_http_status(502, None).is_retried());
    /// ```
    pub fn from_http_status(status: u16, retry_after: Option<&str>) -> Self {
        let mut reason = format!("HTTP {status}");
        if let Some(phrase) = crate::http::reason_phrase(status) {
            reason.push(' ');
            reason.push_str(phrase);
        }
        Self::for_status(status, retry_after, reason)
    }

    /// `Ok` for a 2xx answer; otherwise the error
    /// [`from_http_status`](DeliveryError::from_http_status) picks, its
    /// reason quoting the start of the body ([`Response::summary`]).
    pub fn check_response(response: &Response) -> Result<(), DeliveryError> {
        if response.is_success() {
            return Ok(());
        }
        Err(Self::for_status(
            response.status,
            response.header("retry-after"),
            response.summary(),
        ))
    }

    fn for_status(status: u16, retry_after: Option<&str>, reason: String) -> Self {
        let wait = retry_after.and_then(|header| parse_retry_after(header, crate::now_ms()));
        match (status, wait) {
            (429 | 503, Some(after_ms)) => Self::retry_after(after_ms, reason),
            (408 | 425 | 429, _) | (500..=599, _) => Self::Transient(reason),
            _ => Self::Permanent(reason),
        }
    }
}

/// An HTTP failure as a delivery error: a timeout or a failed connection
/// may pass, so they are transient; a denied origin, an invalid request, an
/// oversized answer and a missing host will not, so they are permanent.
impl From<HttpError> for DeliveryError {
    fn from(error: HttpError) -> Self {
        let reason = error.to_string();
        match error {
            HttpError::Timeout | HttpError::Connection(_) => DeliveryError::Transient(reason),
            HttpError::Denied(_)
            | HttpError::Invalid(_)
            | HttpError::TooLarge(_)
            | HttpError::NoHost => DeliveryError::Permanent(reason),
        }
    }
}

/// An answer the channel cannot read is permanent: the receiver will send
/// the same again.
impl From<BodyError> for DeliveryError {
    fn from(error: BodyError) -> Self {
        DeliveryError::Permanent(error.to_string())
    }
}

/// `Retry-After` as milliseconds from `now_ms`: delay-seconds (`120`, and
/// the fractional `1.5` some chat services send) or an IMF-fixdate
/// (`Wed, 21 Oct 2015 07:28:00 GMT`). `None` when it is neither.
fn parse_retry_after(header: &str, now_ms: i64) -> Option<u32> {
    let header = header.trim();
    let ms = if let Ok(seconds) = header.parse::<f64>() {
        if !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        (seconds * 1000.0).ceil()
    } else {
        let at_ms = parse_http_date(header)?;
        // A date in the past means "now".
        at_ms.saturating_sub(now_ms).max(0) as f64
    };
    Some(ms.min(f64::from(MAX_RETRY_AFTER_MS)) as u32)
}

/// An IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`, as epoch milliseconds;
/// the obsolete HTTP date formats are not accepted.
fn parse_http_date(text: &str) -> Option<i64> {
    let (_weekday, rest) = text.split_once(", ")?;
    let mut fields = rest.split(' ');
    let day: i64 = fields.next()?.parse().ok()?;
    let month = match fields.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = fields.next()?.parse().ok()?;
    let mut time = fields.next()?.split(':');
    let hour: i64 = time.next()?.parse().ok()?;
    let minute: i64 = time.next()?.parse().ok()?;
    let second: i64 = time.next()?.parse().ok()?;
    if fields.next()? != "GMT" || fields.next().is_some() || time.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((((days * 24 + hour) * 60 + minute) * 60 + second) * 1000)
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard
/// Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Header;

    fn response(status: u16, retry_after: Option<&str>, body: &str) -> Response {
        Response {
            status,
            headers: retry_after
                .map(|value| Header {
                    name: "Retry-After".into(),
                    value: value.into(),
                })
                .into_iter()
                .collect(),
            body: body.as_bytes().to_vec(),
            elapsed_ms: 3,
        }
    }

    #[test]
    fn statuses_map_to_kinds() {
        let cases = [
            (
                429,
                Some("30"),
                DeliveryError::retry_after(30_000, "HTTP 429 Too Many Requests"),
            ),
            (
                429,
                Some("1.5"),
                DeliveryError::retry_after(1_500, "HTTP 429 Too Many Requests"),
            ),
            (
                429,
                None,
                DeliveryError::transient("HTTP 429 Too Many Requests"),
            ),
            (
                429,
                Some("soon"),
                DeliveryError::transient("HTTP 429 Too Many Requests"),
            ),
            (
                429,
                Some("-1"),
                DeliveryError::transient("HTTP 429 Too Many Requests"),
            ),
            (
                503,
                Some("120"),
                DeliveryError::retry_after(120_000, "HTTP 503 Service Unavailable"),
            ),
            (
                503,
                None,
                DeliveryError::transient("HTTP 503 Service Unavailable"),
            ),
            (
                500,
                None,
                DeliveryError::transient("HTTP 500 Internal Server Error"),
            ),
            (599, None, DeliveryError::transient("HTTP 599")),
            (
                408,
                None,
                DeliveryError::transient("HTTP 408 Request Timeout"),
            ),
            (400, None, DeliveryError::permanent("HTTP 400 Bad Request")),
            (
                401,
                Some("30"),
                DeliveryError::permanent("HTTP 401 Unauthorized"),
            ),
            (404, None, DeliveryError::permanent("HTTP 404 Not Found")),
            (410, None, DeliveryError::permanent("HTTP 410 Gone")),
            (302, None, DeliveryError::permanent("HTTP 302 Found")),
        ];
        for (status, retry_after, expected) in cases {
            assert_eq!(
                DeliveryError::from_http_status(status, retry_after),
                expected,
                "{status} {retry_after:?}"
            );
        }
    }

    #[test]
    fn responses_are_checked_with_the_body_quoted() {
        assert_eq!(
            DeliveryError::check_response(&response(204, None, "")),
            Ok(())
        );
        assert_eq!(
            DeliveryError::check_response(&response(400, None, "{\"error\": \"invalid_blocks\"}")),
            Err(DeliveryError::permanent(
                "HTTP 400 Bad Request: {\"error\": \"invalid_blocks\"}"
            ))
        );
        assert_eq!(
            DeliveryError::check_response(&response(429, Some("7"), "rate limited")),
            Err(DeliveryError::retry_after(
                7_000,
                "HTTP 429 Too Many Requests: rate limited"
            ))
        );
    }

    #[test]
    fn http_failures_map_to_kinds() {
        let cases = [
            (HttpError::Timeout, DeliveryError::transient("timed out")),
            (
                HttpError::Connection("connection refused".into()),
                DeliveryError::transient("connection failed: connection refused"),
            ),
            (
                HttpError::Denied("http://a is not in allow_http".into()),
                DeliveryError::permanent("denied: http://a is not in allow_http"),
            ),
            (
                HttpError::Invalid("bad URL".into()),
                DeliveryError::permanent("invalid request: bad URL"),
            ),
            (
                HttpError::TooLarge(1024),
                DeliveryError::permanent("response larger than 1024 bytes"),
            ),
            (
                HttpError::NoHost,
                DeliveryError::permanent(
                    "http requests only work inside the perfwatch host, not in a native build",
                ),
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(DeliveryError::from(error), expected);
        }
    }

    #[test]
    fn retry_after_dates_count_from_now() {
        let now = parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(now, 1_445_412_480_000);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(30_000)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(0)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 CET", now),
            None
        );
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:30 GMT", now),
            None
        );
        assert_eq!(parse_retry_after(" 5 ", now), Some(5_000));
        assert_eq!(parse_retry_after("1e12", now), Some(u32::MAX));
        assert_eq!(parse_retry_after("inf", now), None);
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(951_825_600_000)
        );
    }

    #[test]
    fn reasons_and_retries() {
        assert_eq!(DeliveryError::permanent("no").reason(), "no");
        assert_eq!(DeliveryError::retry_after(5, "wait").reason(), "wait");
        assert!(!DeliveryError::permanent("no").is_retried());
        assert!(DeliveryError::transient("later").is_retried());
        assert!(DeliveryError::retry_after(5, "wait").is_retried());
    }
}
