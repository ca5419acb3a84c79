//! Timing helpers: run a closure many times, report median and p99.

use std::time::{Duration, Instant};

/// Median and 99th percentile of a set of timings.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub median: Duration,
    pub p99: Duration,
    pub runs: usize,
}

impl Timing {
    /// From raw timings.
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Self {
            median: at(0.5),
            p99: at(0.99),
            runs: samples.len(),
        }
    }
}

/// Times `runs` calls of `f` after `warmup` untimed ones.
pub async fn time_async(warmup: usize, runs: usize, mut f: impl AsyncFnMut()) -> Timing {
    for _ in 0..warmup {
        f().await;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await;
        samples.push(started.elapsed());
    }
    Timing::of(samples)
}

/// `12.3 µs`, `1.20 ms`, `350 ms`.
pub fn human(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} µs")
    } else if us < 100_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.0} ms", us / 1000.0)
    }
}
