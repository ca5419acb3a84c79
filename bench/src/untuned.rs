//! A second day for the codec comparison (`codecs.rs`), with shapes the
//! chunk coder was not tuned on: walks with outliers, sparse counters that
//! reset, doubles with every bit of noise, coarsely quantised latencies
//! with timeouts, and a gauge whose values are integers only some of the
//! time. Its timestamps are those of scrapes (milliseconds of jitter, an
//! occasional missed one), not an aligned tick. Synthetic, like the
//! benchmark's day, and deterministic so runs compare; it is not a
//! recording of a real machine.

use crate::dataset::{DAY_POINTS, START_MS, STEP_MS, XorShift, splitmix64};

/// Series of each shape, as in the benchmark's day.
pub const SERIES_PER_SHAPE: usize = 20;
/// A different seed from the benchmark's day, so no series repeats.
const SEED: u64 = 0x756e_7475_6e65_6421; // "untuned!"
/// Standard deviation of a scrape's lateness: a scraper's timer and the
/// network, not an aligned tick.
const JITTER_SD_MS: f64 = 4.0;
/// Jitter is cut here, so scrapes stay in order.
const MAX_JITTER_MS: f64 = 100.0;
/// Chance that a scrape is missed (a timeout, a restart), leaving a gap.
const MISSED_SCRAPE: f64 = 1.0 / 2000.0;

/// What a series of the second day looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `queries.queryThroughput` (3 decimals): a random walk with one-tick
    /// spikes of 3–20× the level.
    WalkWithOutliers,
    /// An unregistered integer counter of rare events (a few an hour) that
    /// goes back to zero when its process restarts.
    SparseCounter,
    /// An unregistered ratio kept as the full double it was computed as.
    NoisyFloat,
    /// `system.networkLatency` (3 decimals) read from a 50 µs timer:
    /// heavy-tailed (Pareto), with probe timeouts reported as 1000 ms.
    QuantisedLatency,
    /// An unregistered average of four queue depths: an integer a quarter
    /// of the time, so a chunk holds integers and doubles.
    MixedGauge,
}

impl Shape {
    pub const ALL: [Shape; 5] = [
        Shape::WalkWithOutliers,
        Shape::SparseCounter,
        Shape::NoisyFloat,
        Shape::QuantisedLatency,
        Shape::MixedGauge,
    ];

    /// What the report calls it.
    pub fn describe(self) -> &'static str {
        match self {
            Shape::WalkWithOutliers => "walks with outliers",
            Shape::SparseCounter => "sparse counters with resets",
            Shape::NoisyFloat => "full-noise doubles",
            Shape::QuantisedLatency => "quantised latencies",
            Shape::MixedGauge => "integer-or-double gauge",
        }
    }

    /// The metric name, which decides the stored precision as in the store.
    pub fn metric(self) -> &'static str {
        match self {
            Shape::WalkWithOutliers => "queries.queryThroughput",
            Shape::SparseCounter => "app.requests_failed_total",
            Shape::NoisyFloat => "app.load_ratio",
            Shape::QuantisedLatency => "system.networkLatency",
            Shape::MixedGauge => "app.queue_depth_avg",
        }
    }
}

/// The `index`-th series of `shape` (0 ≤ index < [`SERIES_PER_SHAPE`]):
/// `(timestamp_ms, value)` for up to `ticks` scrapes, missed ones left out.
pub fn series(shape: Shape, index: usize, ticks: usize) -> Vec<(i64, f64)> {
    let position = Shape::ALL
        .iter()
        .position(|&s| s == shape)
        .expect("a shape");
    let mut rng = XorShift(splitmix64(
        SEED ^ ((position * SERIES_PER_SHAPE + index) as u64).wrapping_mul(0x9E37_79B9),
    ));
    let mut next = generator(shape, &mut rng);
    let mut points = Vec::with_capacity(ticks);
    for tick in 0..ticks.min(DAY_POINTS) {
        let value = next(&mut rng);
        if rng.uniform() < MISSED_SCRAPE {
            continue;
        }
        let jitter = (JITTER_SD_MS * rng.normal().abs())
            .min(MAX_JITTER_MS)
            .round();
        points.push((START_MS + tick as i64 * STEP_MS + jitter as i64, value));
    }
    points
}

/// The next value of one series, from its own state.
type Next = Box<dyn FnMut(&mut XorShift) -> f64>;

fn generator(shape: Shape, rng: &mut XorShift) -> Next {
    match shape {
        Shape::WalkWithOutliers => {
            let mut level = rng.between(50.0, 500.0);
            Box::new(move |rng| {
                level = (level + 0.02 * level * rng.normal()).max(1.0);
                let v = if rng.uniform() < 1.0 / 300.0 {
                    level * rng.between(3.0, 20.0)
                } else {
                    level
                };
                (v * 1000.0).round() / 1000.0
            })
        }
        Shape::SparseCounter => {
            let rate = rng.between(1.0, 10.0) / 3600.0;
            let mut total = rng.between(0.0, 5000.0).floor();
            Box::new(move |rng| {
                if rng.uniform() < 1.0 / 20_000.0 {
                    total = 0.0;
                } else if rng.uniform() < rate {
                    total += (1.0 + 3.0 * rng.uniform()).floor();
                }
                total
            })
        }
        Shape::NoisyFloat => {
            let (base, period) = (rng.between(0.2, 0.8), rng.between(300.0, 3600.0));
            let mut t = 0.0f64;
            Box::new(move |rng| {
                t += 1.0;
                let cycle = 0.1 * (std::f64::consts::TAU * t / period).sin();
                (base + cycle + 0.05 * rng.normal()).clamp(0.0, 1.0)
            })
        }
        Shape::QuantisedLatency => {
            let floor_ms = rng.between(0.2, 5.0);
            Box::new(move |rng| {
                if rng.uniform() < 1.0 / 2000.0 {
                    return 1000.0;
                }
                // Pareto, shape 1.5: most probes near the floor, a long tail.
                let tail = floor_ms * 0.3 * ((1.0 - rng.uniform()).powf(-1.0 / 1.5) - 1.0);
                (((floor_ms + tail).min(999.0) / 0.05).round() * 0.05 * 1000.0).round() / 1000.0
            })
        }
        Shape::MixedGauge => {
            let mut depth = rng.between(0.0, 40.0);
            Box::new(move |rng| {
                depth = (depth + 0.5 * rng.normal()).clamp(0.0, 200.0);
                let sum: f64 = (0..4)
                    .map(|_| (depth + 2.0 * rng.normal()).max(0.0).round())
                    .sum();
                sum / 4.0
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrapes_are_in_order_and_shapes_hold() {
        for shape in Shape::ALL {
            let points = series(shape, 3, 20_000);
            assert!(points.len() > 19_900 && points.len() < 20_000, "{shape:?}");
            assert!(points.windows(2).all(|w| w[1].0 > w[0].0));
            let values: Vec<f64> = points.iter().map(|p| p.1).collect();
            match shape {
                Shape::SparseCounter => {
                    assert!(values.iter().all(|v| v.fract() == 0.0));
                    let changes = values.windows(2).filter(|w| w[0] != w[1]).count();
                    assert!(changes < 400, "{changes} changes");
                }
                Shape::NoisyFloat => {
                    let integral = values.iter().filter(|v| v.fract() == 0.0).count();
                    assert!(integral < 100, "{integral}");
                }
                Shape::MixedGauge => {
                    let integral = values.iter().filter(|v| v.fract() == 0.0).count();
                    assert!((2000..12_000).contains(&integral), "{integral}");
                }
                Shape::QuantisedLatency => {
                    assert!(values.contains(&1000.0));
                }
                Shape::WalkWithOutliers => {}
            }
        }
        assert_eq!(
            series(Shape::NoisyFloat, 1, 100),
            series(Shape::NoisyFloat, 1, 100)
        );
    }
}
