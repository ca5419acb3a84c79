//! When a failed delivery is tried again: never after a permanent error,
//! after exponential backoff with jitter after a transient one, and after
//! the time the receiver asked for after a retry-after.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::model::DeliveryError;

/// How long a notification is retried before it is given up (and
/// recorded so). A receiver down for minutes — a deploy, a network cut —
/// then loses nothing: the channel's later notifications wait behind the
/// one retried (bounded by its queue) and go out in order once it is
/// back. Other channels have their own tasks and are not held up.
pub const RETRY_FOR: Duration = Duration::from_secs(3600);
/// Ceiling of the wait before the first retry; doubled for each further one.
pub const RETRY_BASE: Duration = Duration::from_secs(1);
/// Largest backoff ceiling: a receiver that is back is found within a
/// minute.
pub const RETRY_CAP: Duration = Duration::from_secs(60);
/// Longest `Retry-After` honoured. A channel's later notifications queue
/// behind the one waiting, so a receiver asking for an hour would hold
/// them all that long; a longer request waits this long and still counts
/// as an attempt.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How long to wait after `error` on attempt `attempt` (1 for the first),
/// `trying` since the first attempt began, before the next one; `None`
/// gives the notification up.
pub fn next_wait(
    error: &DeliveryError,
    attempt: u32,
    trying: Duration,
    jitter: &mut Jitter,
) -> Option<Duration> {
    let wait = match error {
        DeliveryError::Permanent(_) => return None,
        DeliveryError::Transient(_) => backoff(attempt, jitter.next()),
        DeliveryError::RetryAfter { after_ms, .. } => {
            Duration::from_millis(*after_ms).min(MAX_RETRY_AFTER)
        }
    };
    (trying + wait <= RETRY_FOR).then_some(wait)
}

/// The ceiling for the wait after attempt `attempt`: [`RETRY_BASE`]
/// doubled per earlier attempt, at most [`RETRY_CAP`].
pub fn backoff_ceiling(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(31);
    RETRY_BASE.saturating_mul(1 << doublings).min(RETRY_CAP)
}

/// "Equal jitter": half the ceiling plus a random share of the other half,
/// from `random`. The waits of channels (or hosts) that failed together
/// spread out instead of hitting a recovering receiver at once, and no
/// wait is shorter than half the ceiling.
pub fn backoff(attempt: u32, random: u64) -> Duration {
    let ceiling = backoff_ceiling(attempt).as_millis() as u64;
    let half = ceiling / 2;
    Duration::from_millis(ceiling - half + random % (half + 1))
}

/// Random numbers for jitter: xorshift64, which is plenty for spreading
/// retries and needs no dependency.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    /// Seeded from the clock and a counter, so two channels started in the
    /// same nanosecond still differ.
    pub fn from_clock() -> Self {
        static STARTED: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        let count = STARTED.fetch_add(1, Ordering::Relaxed);
        Self::seeded(nanos ^ count.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// A fixed sequence, for tests.
    pub fn seeded(seed: u64) -> Self {
        // Zero is xorshift's one fixed point.
        Self(if seed == 0 {
            0x2545_f491_4f6c_dd1d
        } else {
            seed
        })
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> DeliveryError {
        DeliveryError::Transient("receiver down".into())
    }

    #[test]
    fn a_permanent_error_is_never_retried() {
        let mut jitter = Jitter::seeded(1);
        let error = DeliveryError::Permanent("HTTP 400".into());
        assert_eq!(next_wait(&error, 1, Duration::ZERO, &mut jitter), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_within_half_of_it() {
        let ceilings: Vec<u64> = (1..=8).map(|a| backoff_ceiling(a).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff_ceiling(u32::MAX), RETRY_CAP);
        let mut jitter = Jitter::from_clock();
        for attempt in 1..=8 {
            let ceiling = backoff_ceiling(attempt);
            let waits: Vec<Duration> = (0..2000).map(|_| backoff(attempt, jitter.next())).collect();
            assert!(
                waits.iter().all(|w| *w >= ceiling / 2 && *w <= ceiling),
                "attempt {attempt}: every wait within [{:?}, {ceiling:?}]",
                ceiling / 2
            );
            let (low, high) = (waits.iter().min().unwrap(), waits.iter().max().unwrap());
            assert!(
                *high - *low > ceiling / 3,
                "attempt {attempt}: the waits spread over the range ({low:?}..{high:?})"
            );
        }
        assert_eq!(backoff(1, 0), Duration::from_millis(500));
        assert_eq!(backoff(1, 500), Duration::from_secs(1));
    }

    #[test]
    fn retry_after_is_taken_as_asked_within_the_cap() {
        let mut jitter = Jitter::seeded(1);
        let asked = |ms| DeliveryError::RetryAfter {
            after_ms: ms,
            reason: "HTTP 429".into(),
        };
        assert_eq!(
            next_wait(&asked(3000), 1, Duration::ZERO, &mut jitter),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            next_wait(&asked(86_400_000), 2, Duration::ZERO, &mut jitter),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn a_notification_is_given_up_once_retrying_would_pass_the_hour() {
        let mut jitter = Jitter::seeded(1);
        let almost = RETRY_FOR - Duration::from_secs(61);
        assert!(next_wait(&transient(), 60, almost, &mut jitter).is_some());
        assert_eq!(next_wait(&transient(), 61, RETRY_FOR, &mut jitter), None);
        let asked = DeliveryError::RetryAfter {
            after_ms: 10,
            reason: "HTTP 503".into(),
        };
        assert_eq!(next_wait(&asked, 9, RETRY_FOR, &mut jitter), None);
    }

    #[test]
    fn seeded_jitter_repeats_and_a_zero_seed_still_moves() {
        let first: Vec<u64> = {
            let mut j = Jitter::seeded(7);
            (0..3).map(|_| j.next()).collect()
        };
        let mut again = Jitter::seeded(7);
        assert_eq!(first, (0..3).map(|_| again.next()).collect::<Vec<_>>());
        assert_ne!(Jitter::seeded(0).next(), 0);
    }
}
