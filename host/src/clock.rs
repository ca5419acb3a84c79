//! Wall-clock time in epoch milliseconds, the unit of every timestamp.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `now_ms` rounded down to a multiple of `interval_ms`: evenly spaced
/// timestamps compress to almost nothing in the store, and every sample of
/// a tick shares one time.
pub fn align_down(now_ms: i64, interval_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(interval_ms.max(1))
}
