//! Per-plugin health: call counts, backoff after crashes, and giving up
//! on a plugin that keeps crashing.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::PluginError;

/// Wait after the first crash before a new instance is tried.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest wait between attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// Consecutive crashes after which a plugin is marked failed and no longer
/// called until it is reloaded: by then it is not a transient fault.
pub const FAILED_AFTER_CRASHES: u32 = 5;

/// How a plugin is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginStatus {
    /// The last call succeeded (or none was made yet).
    Healthy,
    /// The last call failed; crashed instances are retried with backoff.
    Degraded,
    /// Crashed too often in a row; not called any more.
    Failed,
}

/// Counters shown by the API and `perfwatch plugins list`.
#[derive(Debug, Clone, Serialize)]
pub struct PluginStats {
    /// Current status.
    pub status: PluginStatus,
    /// Calls made.
    pub calls: u64,
    /// Calls that failed.
    pub failures: u64,
    /// Crashes (trap, timeout, memory) since the last success.
    pub consecutive_crashes: u32,
    /// Time spent in calls, total, in ms.
    pub call_time_ms: f64,
    /// The last error, in words.
    pub last_error: Option<String>,
}

/// Tracks one plugin's calls and decides when it may be called again.
#[derive(Debug)]
pub struct Supervisor {
    stats: PluginStats,
    retry_at: Option<Instant>,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    /// A healthy plugin with no history.
    pub fn new() -> Self {
        Self {
            stats: PluginStats {
                status: PluginStatus::Healthy,
                calls: 0,
                failures: 0,
                consecutive_crashes: 0,
                call_time_ms: 0.0,
                last_error: None,
            },
            retry_at: None,
        }
    }

    /// Whether a call may be made now.
    pub fn may_call(&self, now: Instant) -> bool {
        self.stats.status != PluginStatus::Failed && self.retry_at.is_none_or(|at| now >= at)
    }

    /// Records a successful call.
    pub fn record_success(&mut self, elapsed: Duration) {
        self.stats.calls += 1;
        self.stats.call_time_ms += elapsed.as_secs_f64() * 1000.0;
        self.stats.consecutive_crashes = 0;
        self.stats.status = PluginStatus::Healthy;
        self.retry_at = None;
    }

    /// Records a failed call. Crashes back off exponentially; an error the
    /// plugin reported itself does not (the instance is fine).
    pub fn record_failure(&mut self, elapsed: Duration, error: &PluginError, now: Instant) {
        self.stats.calls += 1;
        self.stats.failures += 1;
        self.stats.call_time_ms += elapsed.as_secs_f64() * 1000.0;
        self.stats.last_error = Some(error.to_string());
        self.stats.status = PluginStatus::Degraded;
        if error.poisons_instance() {
            self.stats.consecutive_crashes += 1;
            if self.stats.consecutive_crashes >= FAILED_AFTER_CRASHES {
                self.stats.status = PluginStatus::Failed;
                tracing::error!(
                    error = %error,
                    "plugin crashed {} times in a row; it will not be called again until reloaded",
                    self.stats.consecutive_crashes
                );
            }
            let factor = 1u32 << (self.stats.consecutive_crashes - 1).min(16);
            self.retry_at = Some(now + (BACKOFF_BASE * factor).min(BACKOFF_MAX));
        }
    }

    /// Turns the last call, recorded as a success, into a failure: the
    /// plugin answered, but with output the host refuses.
    pub fn record_invalid_output(&mut self, error: &PluginError) {
        self.stats.failures += 1;
        self.stats.last_error = Some(error.to_string());
        self.stats.status = PluginStatus::Degraded;
    }

    /// A copy of the counters.
    pub fn stats(&self) -> PluginStats {
        self.stats.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crash() -> PluginError {
        PluginError::Trap {
            plugin: "p".into(),
            detail: "boom".into(),
        }
    }

    #[test]
    fn crashes_back_off_exponentially_then_fail() {
        let mut s = Supervisor::new();
        let t0 = Instant::now();
        s.record_failure(Duration::ZERO, &crash(), t0);
        assert!(!s.may_call(t0));
        assert!(s.may_call(t0 + BACKOFF_BASE));
        s.record_failure(Duration::ZERO, &crash(), t0);
        assert!(!s.may_call(t0 + BACKOFF_BASE));
        assert!(s.may_call(t0 + BACKOFF_BASE * 2));
        for _ in 2..FAILED_AFTER_CRASHES {
            s.record_failure(Duration::ZERO, &crash(), t0);
        }
        assert_eq!(s.stats().status, PluginStatus::Failed);
        assert!(!s.may_call(t0 + BACKOFF_MAX * 2));
    }

    #[test]
    fn a_reported_error_does_not_back_off_and_success_heals() {
        let mut s = Supervisor::new();
        let t0 = Instant::now();
        let reported = PluginError::Reported {
            plugin: "p".into(),
            message: "no data".into(),
        };
        s.record_failure(Duration::ZERO, &reported, t0);
        assert!(s.may_call(t0));
        assert_eq!(s.stats().status, PluginStatus::Degraded);
        s.record_success(Duration::from_millis(2));
        assert_eq!(s.stats().status, PluginStatus::Healthy);
        assert_eq!((s.stats().calls, s.stats().failures), (2, 1));
    }
}
