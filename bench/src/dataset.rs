//! The storage benchmarks' data: 100 series × one day at 1 s, a realistic
//! mix of what a host and an agent system report. Deterministic (a seeded
//! xorshift), so perfwatch and Prometheus are measured on the same points
//! in every run; generated lazily, series by series or tick by tick.

use perfwatch::model::{Labels, MetricKind, Sample};

/// 2026-11-01T00:00:00Z: a day boundary, so the day is aligned like a
/// collector's ticks (and like Prometheus's block boundaries, which are
/// multiples of their duration since the epoch).
pub const START_MS: i64 = 1_793_491_200_000;
/// One point a second, on the second, as perfwatch's aligned ticks store them.
pub const STEP_MS: i64 = 1000;
/// One day at one point a second.
pub const DAY_POINTS: usize = 86_400;
/// Series of each shape: five shapes make the 100 series of the issue.
pub const SERIES_PER_SHAPE: usize = 20;
/// Changing it changes every figure; it is fixed so runs compare.
const SEED: u64 = 0x7065_7266_7761_7463; // "perfwatc"

/// What a series looks like, which decides how well it compresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `system.cpuUsage`: a random walk plus a sine, 0..100, 2 decimals.
    CpuPercent,
    /// `system.memoryUsage`: a slow walk, 0..100, 2 decimals.
    MemoryPercent,
    /// `app.bytes_total`: an integer byte counter with random increments.
    ByteCounter,
    /// `agents.totalAgents`: a small integer that changes about once an hour.
    NearConstant,
    /// `agents.avgResponseTime`: log-normal around 20–200 ms, 2 decimals.
    LatencyMs,
}

impl Shape {
    pub const ALL: [Shape; 5] = [
        Shape::CpuPercent,
        Shape::MemoryPercent,
        Shape::ByteCounter,
        Shape::NearConstant,
        Shape::LatencyMs,
    ];

    /// What the report calls it.
    pub fn describe(self) -> &'static str {
        match self {
            Shape::CpuPercent => "CPU %",
            Shape::MemoryPercent => "memory %",
            Shape::ByteCounter => "byte counters",
            Shape::NearConstant => "near-constant",
            Shape::LatencyMs => "latencies",
        }
    }

    fn metric(self) -> &'static str {
        match self {
            Shape::CpuPercent => "system.cpuUsage",
            Shape::MemoryPercent => "system.memoryUsage",
            Shape::ByteCounter => "app.bytes_total",
            Shape::NearConstant => "agents.totalAgents",
            Shape::LatencyMs => "agents.avgResponseTime",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Shape::CpuPercent | Shape::MemoryPercent => "%",
            Shape::ByteCounter => "bytes",
            Shape::NearConstant => "agents",
            Shape::LatencyMs => "ms",
        }
    }

    fn kind(self) -> MetricKind {
        match self {
            Shape::ByteCounter => MetricKind::Counter,
            _ => MetricKind::Gauge,
        }
    }
}

/// One series: what perfwatch's `series` table and a Prometheus series
/// name and label set are made of.
#[derive(Debug, Clone)]
pub struct SeriesSpec {
    /// Canonical perfwatch metric name, e.g. `system.cpuUsage`.
    pub metric: String,
    /// `host="h07"`.
    pub labels: Labels,
    pub unit: String,
    pub kind: MetricKind,
    pub shape: Shape,
    /// Seeds this series' values.
    seed: u64,
}

impl SeriesSpec {
    /// A perfwatch sample of this series.
    #[allow(dead_code, reason = "for the store-side benchmarks")]
    pub fn sample(&self, timestamp_ms: i64, value: f64) -> Sample {
        Sample {
            metric: self.metric.clone(),
            value,
            unit: self.unit.clone(),
            kind: self.kind,
            labels: self.labels.clone(),
            timestamp_ms,
        }
    }
}

/// The series and how many points each has.
#[derive(Debug, Clone)]
pub struct Dataset {
    series: Vec<SeriesSpec>,
    points: usize,
}

impl Dataset {
    /// The data: 100 series × 86,400 points = 8.64 M samples.
    pub fn realistic() -> Self {
        Self::with_points(DAY_POINTS)
    }

    /// The same 100 series, shorter (tests).
    pub fn with_points(points: usize) -> Self {
        let series = Shape::ALL
            .iter()
            .flat_map(|&shape| (0..SERIES_PER_SHAPE).map(move |i| (shape, i)))
            .enumerate()
            .map(|(index, (shape, i))| SeriesSpec {
                metric: shape.metric().to_owned(),
                labels: Labels::try_from_pairs([("host".to_owned(), format!("h{i:02}"))])
                    .expect("valid label"),
                unit: shape.unit().to_owned(),
                kind: shape.kind(),
                shape,
                seed: splitmix64(SEED ^ (index as u64).wrapping_mul(0x9E37_79B9)),
            })
            .collect();
        Self { series, points }
    }

    /// Only the series of one shape, with the same values.
    pub fn of_shape(&self, shape: Shape) -> Self {
        Self {
            series: self
                .series
                .iter()
                .filter(|s| s.shape == shape)
                .cloned()
                .collect(),
            points: self.points,
        }
    }

    /// The series, grouped by shape (so by metric), in a fixed order.
    pub fn series(&self) -> &[SeriesSpec] {
        &self.series
    }

    /// Points per series.
    pub fn points(&self) -> usize {
        self.points
    }

    /// Points in all.
    pub fn samples(&self) -> usize {
        self.points * self.series.len()
    }

    /// Epoch milliseconds of the `tick`-th point.
    pub fn timestamp_ms(tick: usize) -> i64 {
        START_MS + tick as i64 * STEP_MS
    }

    /// The last point's timestamp.
    pub fn end_ms(&self) -> i64 {
        Self::timestamp_ms(self.points.saturating_sub(1))
    }

    /// The values of one series, in time order.
    pub fn values(&self, series: usize) -> SeriesValues {
        SeriesValues::new(&self.series[series], self.points)
    }

    /// Every point as `(series, timestamp_ms, value)`, series after series.
    #[allow(dead_code, reason = "for the store-side benchmarks")]
    pub fn by_series(&self) -> impl Iterator<Item = (usize, i64, f64)> + '_ {
        (0..self.series.len()).flat_map(move |s| {
            self.values(s)
                .enumerate()
                .map(move |(t, v)| (s, Self::timestamp_ms(t), v))
        })
    }

    /// Every tick as `(timestamp_ms, one value per series)`, what a
    /// collector produces.
    #[allow(dead_code, reason = "for the store-side benchmarks")]
    pub fn by_tick(&self) -> impl Iterator<Item = (i64, Vec<f64>)> + '_ {
        let mut cursor = self.cursor((0..self.series.len()).collect());
        std::iter::from_fn(move || {
            let block = cursor.next_block(1)?;
            Some((
                block.timestamp_ms(0),
                block.values.into_iter().flatten().collect(),
            ))
        })
    }

    /// Walks a subset of the series forward in time, a block at a time:
    /// what a load generator sends per request.
    pub fn cursor(&self, series: Vec<usize>) -> Cursor {
        let values = series.iter().map(|&s| self.values(s)).collect();
        Cursor {
            series,
            values,
            next_tick: 0,
            points: self.points,
        }
    }
}

/// A run of ticks for some series.
#[derive(Debug, Clone)]
pub struct Block {
    /// Indexes into [`Dataset::series`].
    pub series: Vec<usize>,
    pub first_tick: usize,
    /// `values[i][t]` is series `series[i]` at tick `first_tick + t`.
    pub values: Vec<Vec<f64>>,
}

impl Block {
    /// Epoch milliseconds of the block's `t`-th tick.
    pub fn timestamp_ms(&self, t: usize) -> i64 {
        Dataset::timestamp_ms(self.first_tick + t)
    }

    #[allow(dead_code, reason = "for the store-side benchmarks")]
    pub fn ticks(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }

    pub fn samples(&self) -> usize {
        self.values.iter().map(Vec::len).sum()
    }
}

/// See [`Dataset::cursor`].
pub struct Cursor {
    series: Vec<usize>,
    values: Vec<SeriesValues>,
    next_tick: usize,
    points: usize,
}

impl Cursor {
    /// The next `ticks` ticks (fewer at the end); `None` when done.
    pub fn next_block(&mut self, ticks: usize) -> Option<Block> {
        let ticks = ticks.min(self.points - self.next_tick);
        if ticks == 0 {
            return None;
        }
        let block = Block {
            series: self.series.clone(),
            first_tick: self.next_tick,
            values: self
                .values
                .iter_mut()
                .map(|v| v.by_ref().take(ticks).collect())
                .collect(),
        };
        self.next_tick += ticks;
        Some(block)
    }
}

/// The values of one series; see [`Dataset::values`].
#[derive(Debug, Clone)]
pub struct SeriesValues {
    rng: XorShift,
    state: State,
    tick: usize,
    points: usize,
}

/// Per-shape generator state.
#[derive(Debug, Clone)]
enum State {
    Cpu {
        level: f64,
        base: f64,
        amplitude: f64,
        period: f64,
        phase: f64,
    },
    Memory {
        level: f64,
        base: f64,
    },
    Counter {
        total: f64,
        rate: f64,
    },
    NearConstant {
        value: f64,
    },
    Latency {
        mu: f64,
        drift: f64,
    },
}

impl SeriesValues {
    fn new(spec: &SeriesSpec, points: usize) -> Self {
        let mut rng = XorShift(spec.seed);
        let state = match spec.shape {
            Shape::CpuPercent => {
                let base = rng.between(10.0, 60.0);
                State::Cpu {
                    level: base,
                    base,
                    amplitude: rng.between(3.0, 15.0),
                    period: rng.between(600.0, 7200.0),
                    phase: rng.between(0.0, std::f64::consts::TAU),
                }
            }
            Shape::MemoryPercent => {
                let base = rng.between(30.0, 80.0);
                State::Memory { level: base, base }
            }
            Shape::ByteCounter => State::Counter {
                total: rng.between(0.0, 1e9).floor(),
                rate: rng.between(1e3, 1e6),
            },
            Shape::NearConstant => State::NearConstant {
                value: rng.between(1.0, 50.0).floor(),
            },
            Shape::LatencyMs => State::Latency {
                mu: rng.between(20f64.ln(), 200f64.ln()),
                drift: 0.0,
            },
        };
        Self {
            rng,
            state,
            tick: 0,
            points,
        }
    }
}

impl Iterator for SeriesValues {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        if self.tick >= self.points {
            return None;
        }
        let t = self.tick as f64;
        self.tick += 1;
        let rng = &mut self.rng;
        let value = match &mut self.state {
            State::Cpu {
                level,
                base,
                amplitude,
                period,
                phase,
            } => {
                // A mean-reverting walk, a daily-ish cycle and per-tick noise:
                // busy hosts are never smooth.
                *level += 0.4 * rng.normal() + 0.002 * (*base - *level);
                let cycle = *amplitude * (std::f64::consts::TAU * t / *period + *phase).sin();
                round2((*level + cycle + 1.5 * rng.normal()).clamp(0.0, 100.0))
            }
            State::Memory { level, base } => {
                *level =
                    (*level + 0.01 * rng.normal() + 0.0001 * (*base - *level)).clamp(0.0, 100.0);
                round2(*level)
            }
            State::Counter { total, rate } => {
                *total += (*rate * (0.5 * rng.normal()).exp()).floor();
                *total
            }
            State::NearConstant { value } => {
                if rng.uniform() < 1.0 / 3600.0 {
                    *value = (*value + if rng.uniform() < 0.5 { -1.0 } else { 1.0 }).max(0.0);
                }
                *value
            }
            State::Latency { mu, drift } => {
                *drift = 0.999 * *drift + 0.01 * rng.normal();
                round2((*mu + *drift + 0.35 * rng.normal()).exp())
            }
        };
        Some(value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.points - self.tick;
        (left, Some(left))
    }
}

/// Two decimals, the precision perfwatch keeps for percentages and
/// milliseconds (sysinfo's f32 is rounded at ingest).
fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// xorshift64: enough randomness for test data, no crate needed. Seed it
/// with [`splitmix64`], never with 0.
#[derive(Debug, Clone)]
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box–Muller, one of the pair).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform(); // (0, 1]: ln is finite
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Spreads a small seed over 64 bits and never returns 0 (xorshift's
/// fixed point).
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hundred_series_twenty_of_each_shape() {
        let d = Dataset::realistic();
        assert_eq!(d.series().len(), 100);
        assert_eq!(d.samples(), 8_640_000);
        for shape in Shape::ALL {
            let of_shape: Vec<_> = d.series().iter().filter(|s| s.shape == shape).collect();
            assert_eq!(of_shape.len(), SERIES_PER_SHAPE);
            let hosts: std::collections::HashSet<_> =
                of_shape.iter().map(|s| s.labels.get("host")).collect();
            assert_eq!(hosts.len(), SERIES_PER_SHAPE, "{shape:?}");
        }
        assert_eq!(d.end_ms() - START_MS, 86_399_000);
    }

    #[test]
    fn the_same_points_every_time() {
        let a: Vec<f64> = Dataset::with_points(500).values(7).collect();
        let b: Vec<f64> = Dataset::with_points(500).values(7).collect();
        assert_eq!(a, b);
        let other: Vec<f64> = Dataset::with_points(500).values(8).collect();
        assert_ne!(a, other);
    }

    #[test]
    fn values_stay_in_their_shape() {
        let d = Dataset::with_points(20_000);
        for (i, spec) in d.series().iter().enumerate() {
            let v: Vec<f64> = d.values(i).collect();
            assert_eq!(v.len(), 20_000);
            match spec.shape {
                Shape::CpuPercent | Shape::MemoryPercent => {
                    assert!(v.iter().all(|x| (0.0..=100.0).contains(x)));
                    assert!(v.iter().all(|x| round2(*x) == *x));
                }
                Shape::ByteCounter => {
                    assert!(v.windows(2).all(|w| w[1] >= w[0]));
                    assert!(v.iter().all(|x| x.fract() == 0.0));
                }
                Shape::NearConstant => {
                    let changes = v.windows(2).filter(|w| w[0] != w[1]).count();
                    assert!(changes < 30, "{changes} changes");
                }
                Shape::LatencyMs => {
                    let mut sorted = v.clone();
                    sorted.sort_by(f64::total_cmp);
                    let median = sorted[sorted.len() / 2];
                    assert!((5.0..=600.0).contains(&median), "median {median}");
                    assert!(v.iter().all(|x| *x > 0.0 && round2(*x) == *x));
                }
            }
        }
    }

    #[test]
    fn a_shape_subset_keeps_its_values() {
        let d = Dataset::with_points(100);
        let counters = d.of_shape(Shape::ByteCounter);
        assert_eq!(counters.series().len(), SERIES_PER_SHAPE);
        assert_eq!(
            counters.values(1).collect::<Vec<_>>(),
            d.values(2 * SERIES_PER_SHAPE + 1).collect::<Vec<_>>()
        );
    }

    #[test]
    fn series_and_tick_order_hold_the_same_points() {
        let d = Dataset::with_points(50);
        let by_series: Vec<(usize, i64, f64)> = d.by_series().collect();
        let mut by_tick = Vec::new();
        for (ts, values) in d.by_tick() {
            for (s, v) in values.into_iter().enumerate() {
                by_tick.push((s, ts, v));
            }
        }
        by_tick.sort_by_key(|&(s, ts, _)| (s, ts));
        assert_eq!(by_series, by_tick);
    }

    #[test]
    fn cursor_blocks_cover_the_series_once() {
        let d = Dataset::with_points(250);
        let mut cursor = d.cursor(vec![3, 40]);
        let mut seen = Vec::new();
        while let Some(block) = cursor.next_block(100) {
            assert_eq!(block.samples(), 2 * block.ticks());
            seen.extend(block.values[1].iter().copied());
        }
        assert_eq!(seen, d.values(40).collect::<Vec<_>>());
    }
}
