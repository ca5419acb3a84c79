//! The `codecs` section: the range coder of version-1 chunks
//! (`chunk::encode_range_coded`, which the store wrote before it switched to
//! pco) beside pco (pcodec) on the same chunks: bytes per sample and encode and decode
//! time per sample, on the benchmark's day (dataset.rs) and on a second day
//! the chunk coder was not tuned on (untuned.rs). Each series is cut into
//! chunks as the daily merge cuts it and its values are those the store
//! keeps (scaled integers for registered metrics); every chunk is decoded
//! and checked against what was coded.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use pco::standalone::{simple_compress, simple_decompress};
use pco::{ChunkConfig, DEFAULT_COMPRESSION_LEVEL};
use perfwatch::codec::chunk::{self, MAX_CHUNK_POINTS, Value};
use perfwatch::codec::decimal::{MAX_EXACT_INTEGER, divisor};
use perfwatch::model::registered_metric;

use crate::dataset::{self, Dataset};
use crate::stats::human;
use crate::untuned;

/// pco's highest level (`pco::constants::MAX_COMPRESSION_LEVEL`, not
/// exported): its documentation promises "marginally better" than the default.
const PCO_MAX_LEVEL: usize = 12;
/// Timed runs of each coding of each chunk; the median is kept, so one
/// slow run on the shared VM does not count.
const RUNS: usize = 3;
/// The rule: pco replaces the chunk coder if it comes this close to
/// its bytes per sample, or beats it.
const SWITCH_WITHIN: f64 = 0.03;

/// The coders compared.
#[derive(Debug, Clone, Copy)]
enum Coder {
    Chunk,
    Pco(usize),
}

const CODERS: [Coder; 3] = [
    Coder::Chunk,
    Coder::Pco(DEFAULT_COMPRESSION_LEVEL),
    Coder::Pco(PCO_MAX_LEVEL),
];

impl Coder {
    fn describe(self) -> String {
        match self {
            Coder::Chunk => "range coder (chunk v1)".to_owned(),
            Coder::Pco(level) if level == DEFAULT_COMPRESSION_LEVEL => {
                format!("pco level {level} (default)")
            }
            Coder::Pco(level) => format!("pco level {level} (max)"),
        }
    }
}

/// One series as the store holds it.
struct StoredSeries {
    shape: &'static str,
    /// The metric's registered decimals, `None` for unregistered metrics.
    precision: Option<u8>,
    points: Vec<(i64, Value)>,
}

/// A value as the store keeps it: the rule of the host's `store/encode.rs`
/// (private to the store), with the series' precision from the registry.
fn stored(value: f64, precision: Option<u8>) -> Value {
    let scale = precision.unwrap_or(0);
    let scaled = value * divisor(scale);
    if !scaled.is_finite() || scaled.abs() >= MAX_EXACT_INTEGER {
        return Value::Double(value);
    }
    let integer = scaled.round();
    if precision.is_some() || (scale == 0 && integer == value) {
        Value::Scaled(integer as i64)
    } else {
        Value::Double(value)
    }
}

fn store_series(shape: &'static str, metric: &str, points: &[(i64, f64)]) -> StoredSeries {
    let precision = registered_metric(metric).map(|info| info.decimals);
    StoredSeries {
        shape,
        precision,
        points: points
            .iter()
            .map(|&(ts, v)| (ts, stored(v, precision)))
            .collect(),
    }
}

/// The benchmark's day, one series at a time.
fn benchmark_day(day: &Dataset) -> impl Iterator<Item = StoredSeries> + '_ {
    day.series().iter().enumerate().map(move |(i, spec)| {
        let points: Vec<(i64, f64)> = day
            .values(i)
            .enumerate()
            .map(|(t, v)| (Dataset::timestamp_ms(t), v))
            .collect();
        store_series(spec.shape.describe(), &spec.metric, &points)
    })
}

/// The untuned day, one series at a time.
fn untuned_day(ticks: usize) -> impl Iterator<Item = StoredSeries> {
    untuned::Shape::ALL.into_iter().flat_map(move |shape| {
        (0..untuned::SERIES_PER_SHAPE).map(move |i| {
            store_series(
                shape.describe(),
                shape.metric(),
                &untuned::series(shape, i, ticks),
            )
        })
    })
}

/// A chunk coded by one coder.
enum Coded {
    Chunk(Vec<u8>),
    Pco {
        times: Vec<u8>,
        values: Vec<u8>,
        /// The values went in as `i64` (every one a scaled integer), else as `f64`.
        integers: bool,
    },
}

impl Coded {
    fn len(&self) -> usize {
        match self {
            Coded::Chunk(bytes) => bytes.len(),
            Coded::Pco { times, values, .. } => times.len() + values.len(),
        }
    }
}

fn encode(coder: Coder, points: &[(i64, Value)], precision: Option<u8>) -> anyhow::Result<Coded> {
    Ok(match coder {
        Coder::Chunk => Coded::Chunk(chunk::encode_range_coded(points)),
        Coder::Pco(level) => {
            let config = ChunkConfig::default().with_compression_level(level);
            let times: Vec<i64> = points.iter().map(|p| p.0).collect();
            let integers: Option<Vec<i64>> = points
                .iter()
                .map(|p| match p.1 {
                    Value::Scaled(i) => Some(i),
                    Value::Double(_) => None,
                })
                .collect();
            // pco codes one number type per stream. A chunk with doubles
            // goes in as the doubles the store's values stand for; `stored`
            // gives each its kind back (checked by `same_points`).
            let values = match &integers {
                Some(integers) => simple_compress(integers, &config)?,
                None => {
                    let scale = precision.unwrap_or(0);
                    let doubles: Vec<f64> = points
                        .iter()
                        .map(|p| chunk::to_double(p.1, scale))
                        .collect();
                    simple_compress(&doubles, &config)?
                }
            };
            Coded::Pco {
                times: simple_compress(&times, &config)?,
                values,
                integers: integers.is_some(),
            }
        }
    })
}

fn decode(coded: &Coded, precision: Option<u8>) -> anyhow::Result<Vec<(i64, Value)>> {
    Ok(match coded {
        Coded::Chunk(bytes) => {
            let mut points = Vec::with_capacity(MAX_CHUNK_POINTS);
            chunk::decode(bytes, |ts, v| points.push((ts, v)))?;
            points
        }
        Coded::Pco {
            times,
            values,
            integers,
        } => {
            let times: Vec<i64> = simple_decompress(times)?;
            if *integers {
                let values: Vec<i64> = simple_decompress(values)?;
                times
                    .into_iter()
                    .zip(values.into_iter().map(Value::Scaled))
                    .collect()
            } else {
                let values: Vec<f64> = simple_decompress(values)?;
                times
                    .into_iter()
                    .zip(values.into_iter().map(|v| stored(v, precision)))
                    .collect()
            }
        }
    })
}

/// Equal, doubles compared bit for bit.
fn same_points(a: &[(i64, Value)], b: &[(i64, Value)]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.0 == y.0
                && match (x.1, y.1) {
                    (Value::Double(p), Value::Double(q)) => p.to_bits() == q.to_bits(),
                    (p, q) => p == q,
                }
        })
}

/// What one coder cost on some chunks.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    bytes: usize,
    /// The timestamps' part: pco's time stream; for the range coder, the chunk
    /// coded with every value zero (so header and times, plus a few bytes
    /// for the zeros).
    time_bytes: usize,
    encode: Duration,
    decode: Duration,
}

/// The costs of every coder on one shape's series (or on all).
#[derive(Debug, Clone)]
struct Tally {
    label: &'static str,
    samples: usize,
    costs: [Cost; CODERS.len()],
}

impl Tally {
    fn new(label: &'static str) -> Self {
        Self {
            label,
            samples: 0,
            costs: [Cost::default(); CODERS.len()],
        }
    }

    fn add(&mut self, other: &Tally) {
        self.samples += other.samples;
        for (mine, theirs) in self.costs.iter_mut().zip(&other.costs) {
            mine.bytes += theirs.bytes;
            mine.time_bytes += theirs.time_bytes;
            mine.encode += theirs.encode;
            mine.decode += theirs.decode;
        }
    }

    fn per_sample(&self, bytes: usize) -> f64 {
        bytes as f64 / self.samples as f64
    }

    fn ns_per_sample(&self, d: Duration) -> f64 {
        d.as_secs_f64() * 1e9 / self.samples as f64
    }
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// Codes every chunk of `series` with every coder: per shape, in order of
/// first appearance, then all together.
fn measure(series: impl Iterator<Item = StoredSeries>) -> anyhow::Result<(Vec<Tally>, Tally)> {
    let mut shapes: Vec<Tally> = Vec::new();
    for s in series {
        let at = match shapes.iter().position(|t| t.label == s.shape) {
            Some(at) => at,
            None => {
                shapes.push(Tally::new(s.shape));
                shapes.len() - 1
            }
        };
        let tally = &mut shapes[at];
        for points in s.points.chunks(MAX_CHUNK_POINTS) {
            tally.samples += points.len();
            for (coder, cost) in CODERS.iter().zip(tally.costs.iter_mut()) {
                let (mut encodes, mut decodes) = (Vec::new(), Vec::new());
                let mut coded = None;
                for _ in 0..RUNS {
                    let started = Instant::now();
                    let c = encode(*coder, points, s.precision)?;
                    encodes.push(started.elapsed());
                    let started = Instant::now();
                    let back = decode(&c, s.precision)?;
                    decodes.push(started.elapsed());
                    anyhow::ensure!(
                        same_points(&back, points),
                        "{} did not give back a chunk of {}",
                        coder.describe(),
                        s.shape
                    );
                    coded = Some(c);
                }
                let coded = coded.expect("RUNS > 0");
                cost.bytes += coded.len();
                cost.time_bytes += match (&coded, coder) {
                    (Coded::Pco { times, .. }, _) => times.len(),
                    (Coded::Chunk(_), _) => {
                        let zeros: Vec<(i64, Value)> =
                            points.iter().map(|p| (p.0, Value::Scaled(0))).collect();
                        chunk::encode_range_coded(&zeros).len()
                    }
                };
                cost.encode += median(encodes);
                cost.decode += median(decodes);
            }
        }
    }
    let mut all = Tally::new("all");
    for shape in &shapes {
        all.add(shape);
    }
    Ok((shapes, all))
}

/// What one dataset gave, for the report and the decision.
struct Measured {
    name: &'static str,
    about: String,
    shapes: Vec<Tally>,
    all: Tally,
    elapsed: Duration,
}

/// The report section.
pub fn run() -> anyhow::Result<String> {
    let day = Dataset::realistic();
    let mut measured = Vec::new();
    let started = Instant::now();
    let (shapes, all) = measure(benchmark_day(&day))?;
    measured.push(Measured {
        name: "The benchmark's day",
        about: format!(
            "bench/src/dataset.rs, what the chunk coder was tuned on: {} series × {} points at an aligned 1 s tick",
            day.series().len(),
            day.points()
        ),
        shapes,
        all,
        elapsed: started.elapsed(),
    });
    let started = Instant::now();
    let (shapes, all) = measure(untuned_day(dataset::DAY_POINTS))?;
    measured.push(Measured {
        name: "The untuned day",
        about: format!(
            "bench/src/untuned.rs, synthetic shapes the chunk coder was not tuned on: {} series × {} scrapes at 1 s with ms jitter and missed scrapes",
            untuned::Shape::ALL.len() * untuned::SERIES_PER_SHAPE,
            dataset::DAY_POINTS
        ),
        shapes,
        all,
        elapsed: started.elapsed(),
    });
    render(&measured)
}

fn render(measured: &[Measured]) -> anyhow::Result<String> {
    let framing = simple_compress::<i64>(&[], &ChunkConfig::default())?.len();
    let mut out = String::new();
    writeln!(out, "## Chunk coder against pco\n")?;
    writeln!(
        out,
        "Command: `perfwatch-bench codecs` (bench/src/codecs.rs), pco {}. Each series is cut into chunks of at \
         most {MAX_CHUNK_POINTS} points as the daily merge cuts it, with its values as the store keeps them \
         (scaled integers for registered metrics). the range coder codes a chunk as one BLOB; pco codes its \
         timestamps as `i64` and its values as `i64` (all scaled integers) or `f64`, with \
         `pco::standalone::simple_compress` (its {framing}-byte file framing per stream counted). \
         Every chunk is decoded and compared; times are the median of {RUNS} runs per chunk, summed.\n",
        pco_version()
    )?;
    for m in measured {
        writeln!(out, "### {}\n\n{}.\n", m.name, m.about)?;
        let coders: Vec<String> = CODERS.iter().map(|c| c.describe()).collect();
        writeln!(
            out,
            "| shape | samples | {} | pco best / range coder |",
            coders
                .iter()
                .map(|c| format!("{c}: B/sample (times)"))
                .collect::<Vec<_>>()
                .join(" | ")
        )?;
        writeln!(out, "| --- | --- |{}", " --- |".repeat(CODERS.len() + 1))?;
        for t in m.shapes.iter().chain([&m.all]) {
            let cells: Vec<String> = t
                .costs
                .iter()
                .map(|c| {
                    format!(
                        "{:.4} ({:.4})",
                        t.per_sample(c.bytes),
                        t.per_sample(c.time_bytes)
                    )
                })
                .collect();
            writeln!(
                out,
                "| {} | {} | {} | {:.3} |",
                t.label,
                t.samples,
                cells.join(" | "),
                best_pco_ratio(t)
            )?;
        }
        writeln!(out)?;
        writeln!(out, "| coder | encode ns/sample | decode ns/sample |")?;
        writeln!(out, "| --- | --- | --- |")?;
        for (coder, c) in CODERS.iter().zip(&m.all.costs) {
            writeln!(
                out,
                "| {} | {:.1} | {:.1} |",
                coder.describe(),
                m.all.ns_per_sample(c.encode),
                m.all.ns_per_sample(c.decode)
            )?;
        }
        writeln!(out, "\nWall time: {}.\n", human(m.elapsed))?;
    }
    let ratio = best_pco_ratio(&measured[0].all);
    writeln!(
        out,
        "Decision rule (issue 13): pco's best on the benchmark's day is {ratio:.3}× the range coder's bytes per sample; \
         {}.\n",
        if ratio <= 1.0 + SWITCH_WITHIN {
            format!(
                "within {:.0} % (or better): the rule says switch",
                SWITCH_WITHIN * 100.0
            )
        } else {
            format!(
                "not within {:.0} %: the rule says keep the range coder",
                SWITCH_WITHIN * 100.0
            )
        }
    )?;
    Ok(out)
}

/// The smaller pco size over the range coder's.
fn best_pco_ratio(t: &Tally) -> f64 {
    let best = CODERS
        .iter()
        .zip(&t.costs)
        .filter(|(c, _)| matches!(c, Coder::Pco(_)))
        .map(|(_, cost)| cost.bytes)
        .min()
        .expect("a pco coder");
    best as f64 / t.costs[0].bytes as f64
}

/// The pco version this binary was built with, from the workspace's lock file.
fn pco_version() -> &'static str {
    let lock = include_str!("../../Cargo.lock");
    lock.split("[[package]]")
        .find(|p| p.contains("name = \"pco\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map_or("(version unknown)", |v| v.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_coder_gives_back_both_days() {
        let day = Dataset::with_points(3000);
        let (shapes, all) = measure(benchmark_day(&day).chain(untuned_day(3000))).unwrap();
        assert_eq!(shapes.len(), 10);
        assert!(all.costs.iter().all(|c| c.bytes > 0 && c.time_bytes > 0));
    }

    #[test]
    fn values_are_stored_as_the_store_stores_them() {
        assert_eq!(stored(37.456, Some(2)), Value::Scaled(3746));
        assert_eq!(stored(42.0, None), Value::Scaled(42));
        assert_eq!(stored(0.5, None), Value::Double(0.5));
        assert_eq!(stored(1e300, Some(2)), Value::Double(1e300));
    }

    #[test]
    fn the_pco_version_is_read_from_the_lock_file() {
        assert!(pco_version().starts_with("1."));
    }
}
