//! Waiting for the host to reach a state: poll a condition until a
//! deadline, and fail naming what never happened. Tests wait on what they
//! can observe, never on a fixed sleep.

use std::time::{Duration, Instant};

/// How long a test waits for anything the host does within a few ticks: a
/// tick takes at most a second here, so twenty leave room for a machine
/// that runs several hosts and a build at once, while a real hang still
/// fails within a reasonable time.
pub const WAIT: Duration = Duration::from_secs(20);

/// Between two polls: short beside a tick, long enough that polling the
/// API does not load the host it watches.
const POLL: Duration = Duration::from_millis(100);

/// Polls `check` until it returns `Some`, and returns that; panics with
/// `timed out waiting for <what>` after [`WAIT`].
pub fn eventually<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    wait_for(what, WAIT, String::new, check)
}

/// Like [`eventually`] with its own deadline; on timeout the message also
/// carries `context()` (a peer's log, the last answer seen), which is only
/// computed then.
pub fn wait_for<T, C: std::fmt::Display>(
    what: &str,
    timeout: Duration,
    context: impl FnOnce() -> C,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        if started.elapsed() >= timeout {
            panic!("timed out waiting for {what} ({timeout:?})\n{}", context());
        }
        std::thread::sleep(POLL);
    }
}
