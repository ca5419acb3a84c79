//! Archived chunks: one series' samples of a closed day, coded into one
//! BLOB of the `archive` table by the daily merge (`store/archive.rs`).
//!
//! A chunk holds up to [`MAX_CHUNK_POINTS`] samples, each `(ts, ivalue)` or
//! `(ts, fvalue)` as the head stores them, in time order, and gives back
//! exactly those. [`encode`] writes version 2:
//!
//! ```text
//! version u8 = 2 | kinds u8 | count varint
//! [kind bitmap, one bit a sample, 1 = double]    when the kinds are mixed
//! timestamps as i64                               a pco stream
//! [scaled integers as i64]                        a pco stream, when there are any
//! [doubles as f64]                                a pco stream, when there are any
//! ```
//!
//! each stream a varint length followed by pco's standalone format. pco
//! (delta orders, GCD and int-mult modes, entropy-coded bins) codes the
//! benchmark's day within 0.4 % of the hand-written range coder it replaced,
//! smaller on data that coder was not tuned for, and decodes about ten
//! times faster (docs/storage.md, "pco compared").
//!
//! Version 1 (range-coded, [`encode_range_coded`]) is still read: days an
//! earlier version archived stay in that format until retention removes
//! them. Its layout:
//!
//! ```text
//! version u8 = 1 | flags u8 | count varint | first ts zigzag varint
//! [tick zigzag varint]           when the timestamps are evenly spaced
//! [divisor varint, base zigzag]  when any value is a scaled integer
//! range-coded body: per sample [kind bit] [Δ of Δ of ts] [value]
//! ```
//!
//! Its integers are coded either as the change from the previous integer
//! or as the distance above the chunk's smallest, whichever is estimated
//! smaller, after dividing out their greatest common divisor; doubles as
//! the bits that changed from the previous double.

use crate::codec::decimal::{divisor, exact_count};
use crate::codec::rangecoder::{Decoder, Encoder, IntModel, PROB_START};
use crate::codec::varint::{self, unzigzag, zigzag};

/// Most samples in one chunk: about nine hours at a 1 s tick. Larger
/// chunks code barely smaller (docs/storage.md), and the size bounds what
/// a short query decodes, since a chunk is decoded whole.
pub const MAX_CHUNK_POINTS: usize = 1 << 15;

/// Integers coded both ways to choose between deltas and distances above
/// the smallest.
const TRIAL_POINTS: usize = 4096;

/// The range-coded format, read but no longer written.
const VERSION_RANGE_CODED: u8 = 1;
/// The pco-coded format [`encode`] writes.
const VERSION_PCO: u8 = 2;
const REGULAR_TICK: u8 = 1;
const KINDS_MASK: u8 = 0b110;
const ALL_INTEGERS: u8 = 0b000;
const ALL_DOUBLES: u8 = 0b010;
const MIXED: u8 = 0b100;
/// Integers are coded as distances above the smallest, not as deltas.
const ABOVE_BASE: u8 = 0b1000;
/// No integer is smaller than the one before (a counter): deltas are
/// coded without a sign bit.
const NON_DECREASING: u8 = 0b1_0000;

/// One stored sample value, as the head's two columns hold it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Scaled(i64),
    Double(f64),
}

/// Why a BLOB could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("archived chunk is unreadable: {0}")]
pub struct CorruptChunk(&'static str);

/// Codes `points` (time order, at most [`MAX_CHUNK_POINTS`], at least one)
/// as version 2.
pub fn encode(points: &[(i64, Value)]) -> Vec<u8> {
    assert!(!points.is_empty() && points.len() <= MAX_CHUNK_POINTS);
    let mut out = vec![VERSION_PCO, 0];
    varint::put(&mut out, points.len() as u64);
    let (mut integers, mut doubles) = (Vec::new(), Vec::new());
    for &(_, value) in points {
        match value {
            Value::Scaled(i) => integers.push(i),
            Value::Double(v) => doubles.push(v),
        }
    }
    out[1] = match (integers.is_empty(), doubles.is_empty()) {
        (_, true) => ALL_INTEGERS,
        (true, false) => ALL_DOUBLES,
        (false, false) => MIXED,
    };
    if out[1] == MIXED {
        let mut bitmap = vec![0u8; points.len().div_ceil(8)];
        for (i, p) in points.iter().enumerate() {
            if matches!(p.1, Value::Double(_)) {
                bitmap[i / 8] |= 1 << (i % 8);
            }
        }
        out.extend(bitmap);
    }
    let times: Vec<i64> = points.iter().map(|p| p.0).collect();
    put_stream(&mut out, &times);
    if !integers.is_empty() {
        put_stream(&mut out, &integers);
    }
    if !doubles.is_empty() {
        put_stream(&mut out, &doubles);
    }
    out
}

/// Appends `numbers` as a length-prefixed pco stream.
fn put_stream<T: pco::data_types::Number>(out: &mut Vec<u8>, numbers: &[T]) {
    let coded = pco::standalone::simple_compress(numbers, &pco::ChunkConfig::default())
        .expect("pco's default config is valid and the input fits in memory");
    varint::put(out, coded.len() as u64);
    out.extend(coded);
}

/// Codes `points` as version 1, the range-coded format earlier versions
/// wrote: kept so that decoding it stays tested, and for the codecs
/// benchmark.
pub fn encode_range_coded(points: &[(i64, Value)]) -> Vec<u8> {
    assert!(!points.is_empty() && points.len() <= MAX_CHUNK_POINTS);
    let mut out = vec![VERSION_RANGE_CODED, 0];
    varint::put(&mut out, points.len() as u64);
    varint::put_signed(&mut out, points[0].0);
    let mut flags = 0;

    let tick = points.get(1).map_or(0, |p| p.0.wrapping_sub(points[0].0));
    let regular = points
        .windows(2)
        .all(|w| w[1].0.wrapping_sub(w[0].0) == tick);
    if regular {
        flags |= REGULAR_TICK;
        varint::put_signed(&mut out, tick);
    }

    let integers: Vec<i64> = points
        .iter()
        .filter_map(|p| match p.1 {
            Value::Scaled(i) => Some(i),
            Value::Double(_) => None,
        })
        .collect();
    flags |= match integers.len() {
        n if n == points.len() => ALL_INTEGERS,
        0 => ALL_DOUBLES,
        _ => MIXED,
    };
    let integer_code = IntegerCode::choose(&integers);
    if let Some(code) = &integer_code {
        if code.above_base {
            flags |= ABOVE_BASE;
        }
        if code.non_decreasing {
            flags |= NON_DECREASING;
        }
        varint::put(&mut out, code.divisor);
        varint::put_signed(&mut out, code.base);
    }
    out[1] = flags;

    let mut e = Encoder::new();
    let mut kind = PROB_START;
    let (mut ts_model, mut int_model, mut double_model) =
        (IntModel::new(), IntModel::new(), IntModel::new());
    let (mut prev_ts, mut prev_gap) = (points[0].0, if regular { tick } else { 0 });
    let mut prev_int = integer_code.as_ref().map_or(0, |c| c.base);
    let mut prev_bits = 0u64;
    for (i, &(ts, value)) in points.iter().enumerate() {
        if flags & KINDS_MASK == MIXED {
            e.bit(&mut kind, matches!(value, Value::Double(_)));
        }
        if !regular && i > 0 {
            let gap = ts.wrapping_sub(prev_ts);
            ts_model.encode(&mut e, zigzag(gap.wrapping_sub(prev_gap)));
            prev_gap = gap;
        }
        prev_ts = ts;
        match value {
            Value::Scaled(v) => {
                let code = integer_code.as_ref().expect("chosen for integers");
                int_model.encode(&mut e, code.code(v, prev_int));
                prev_int = v;
            }
            Value::Double(v) => {
                double_model.encode(&mut e, v.to_bits() ^ prev_bits);
                prev_bits = v.to_bits();
            }
        }
    }
    out.extend(e.finish());
    out
}

/// Decodes a chunk of either version, calling `each` per sample in order.
pub fn decode(bytes: &[u8], each: impl FnMut(i64, Value)) -> Result<(), CorruptChunk> {
    let mut r = Reader { bytes, at: 0 };
    match r.byte()? {
        VERSION_PCO => decode_pco(r, each),
        VERSION_RANGE_CODED => decode_range_coded(r, each),
        _ => Err(CorruptChunk("unknown version")),
    }
}

/// Version 2's body, after its version byte.
fn decode_pco(mut r: Reader<'_>, mut each: impl FnMut(i64, Value)) -> Result<(), CorruptChunk> {
    let kinds = r.byte()?;
    let count = r.varint()?;
    if count == 0 || count > MAX_CHUNK_POINTS as u64 {
        return Err(CorruptChunk("impossible sample count"));
    }
    let count = count as usize;
    let is_double: Vec<bool> = match kinds {
        ALL_INTEGERS => vec![false; count],
        ALL_DOUBLES => vec![true; count],
        MIXED => {
            let bitmap = r.take(count.div_ceil(8))?;
            (0..count)
                .map(|i| bitmap[i / 8] & (1 << (i % 8)) != 0)
                .collect()
        }
        _ => return Err(CorruptChunk("unknown kinds")),
    };
    let doubles = is_double.iter().filter(|d| **d).count();
    let times: Vec<i64> = r.stream(count)?;
    let integers: Vec<i64> = if doubles < count {
        r.stream(count - doubles)?
    } else {
        Vec::new()
    };
    let floats: Vec<f64> = if doubles > 0 {
        r.stream(doubles)?
    } else {
        Vec::new()
    };
    let (mut integers, mut floats) = (integers.into_iter(), floats.into_iter());
    for (ts, double) in times.into_iter().zip(is_double) {
        let value = if double {
            floats.next().map(Value::Double)
        } else {
            integers.next().map(Value::Scaled)
        };
        each(ts, value.ok_or(CorruptChunk("a stream ran short"))?);
    }
    Ok(())
}

/// Version 1's body, after its version byte.
fn decode_range_coded(
    mut r: Reader<'_>,
    mut each: impl FnMut(i64, Value),
) -> Result<(), CorruptChunk> {
    let bytes = r.bytes;
    let flags = r.byte()?;
    let count = r.varint()?;
    if count == 0 || count > MAX_CHUNK_POINTS as u64 {
        return Err(CorruptChunk("impossible sample count"));
    }
    let first_ts = unzigzag(r.varint()?);
    let regular = flags & REGULAR_TICK != 0;
    let tick = if regular { unzigzag(r.varint()?) } else { 0 };
    let kinds = flags & KINDS_MASK;
    let integer_code = if kinds == ALL_DOUBLES {
        None
    } else {
        let divisor = r.varint()?;
        if divisor == 0 {
            return Err(CorruptChunk("zero divisor"));
        }
        Some(IntegerCode {
            above_base: flags & ABOVE_BASE != 0,
            non_decreasing: flags & NON_DECREASING != 0,
            divisor,
            base: unzigzag(r.varint()?),
        })
    };

    let mut d = Decoder::new(&bytes[r.at..]);
    let mut kind = PROB_START;
    let (mut ts_model, mut int_model, mut double_model) =
        (IntModel::new(), IntModel::new(), IntModel::new());
    let (mut ts, mut gap) = (first_ts, tick);
    let mut prev_int = integer_code.as_ref().map_or(0, |c| c.base);
    let mut prev_bits = 0u64;
    let bad = |_| CorruptChunk("bad length code");
    for i in 0..count {
        let is_double = match kinds {
            ALL_INTEGERS => false,
            ALL_DOUBLES => true,
            _ => d.bit(&mut kind),
        };
        if i > 0 {
            if !regular {
                gap = gap.wrapping_add(unzigzag(ts_model.decode(&mut d).map_err(bad)?));
            }
            ts = ts.wrapping_add(gap);
        }
        let value = if is_double {
            prev_bits ^= double_model.decode(&mut d).map_err(bad)?;
            Value::Double(f64::from_bits(prev_bits))
        } else {
            let code = integer_code
                .as_ref()
                .ok_or(CorruptChunk("an integer in a chunk of doubles"))?;
            prev_int = code.value(int_model.decode(&mut d).map_err(bad)?, prev_int);
            Value::Scaled(prev_int)
        };
        each(ts, value);
        d.check().map_err(|_| CorruptChunk("cut short"))?;
    }
    Ok(())
}

/// Codes several columns over the same times (a rollup's min, max, …) in
/// one BLOB: each column as a chunk of its own, length-prefixed, so each
/// gets a model of its own. `times` is in order, with at most
/// [`MAX_CHUNK_POINTS`] entries, and every column has one value per time.
pub fn encode_columns(times: &[i64], columns: &[Vec<Value>]) -> Vec<u8> {
    let mut out = Vec::new();
    for column in columns {
        assert_eq!(column.len(), times.len());
        let points: Vec<(i64, Value)> = times.iter().copied().zip(column.iter().copied()).collect();
        let coded = encode(&points);
        varint::put(&mut out, coded.len() as u64);
        out.extend(coded);
    }
    out
}

/// Decodes `n` columns written by [`encode_columns`]: the times, and each
/// column's values.
pub fn decode_columns(bytes: &[u8], n: usize) -> Result<(Vec<i64>, Vec<Vec<Value>>), CorruptChunk> {
    let mut r = Reader { bytes, at: 0 };
    let mut times = Vec::new();
    let mut columns = Vec::with_capacity(n);
    for i in 0..n {
        let len = usize::try_from(r.varint()?).map_err(|_| CorruptChunk("column too long"))?;
        let end = r.at.checked_add(len).filter(|&e| e <= bytes.len());
        let end = end.ok_or(CorruptChunk("column cut short"))?;
        let mut column_times = Vec::new();
        let mut values = Vec::new();
        decode(&bytes[r.at..end], |t, v| {
            column_times.push(t);
            values.push(v);
        })?;
        if i == 0 {
            times = column_times;
        } else if column_times != times {
            return Err(CorruptChunk("columns disagree on their times"));
        }
        columns.push(values);
        r.at = end;
    }
    Ok((times, columns))
}

/// A double that came from a scaled integer (`ivalue / 10^precision`, as
/// rollups' min, max, sum and last do) as that integer, which codes far
/// smaller; any other double as it is.
pub fn from_double(v: f64, precision: u8) -> Value {
    exact_count(v, precision).map_or(Value::Double(v), Value::Scaled)
}

/// The double [`from_double`] was given.
pub fn to_double(v: Value, precision: u8) -> f64 {
    match v {
        Value::Scaled(i) => i as f64 / divisor(precision),
        Value::Double(v) => v,
    }
}

/// How a chunk's integers are turned into the unsigned numbers the model codes.
struct IntegerCode {
    above_base: bool,
    /// Deltas, all of them at least zero, coded without a sign.
    non_decreasing: bool,
    divisor: u64,
    /// The smallest integer (above-base) or the first (deltas).
    base: i64,
}

impl IntegerCode {
    /// Picks the coding that codes the chunk's first integers smaller.
    fn choose(integers: &[i64]) -> Option<Self> {
        let &first = integers.first()?;
        let min = *integers.iter().min().expect("not empty");
        let non_decreasing = integers.windows(2).all(|w| w[1] >= w[0]);
        let delta_divisor = integers
            .windows(2)
            .map(|w| {
                let d = w[1].wrapping_sub(w[0]);
                if non_decreasing {
                    d as u64
                } else {
                    d.unsigned_abs()
                }
            })
            .fold(0, gcd)
            .max(1);
        let above_divisor = integers
            .iter()
            .fold(0, |g, &v| gcd(g, v.wrapping_sub(min) as u64))
            .max(1);
        let delta = Self {
            above_base: false,
            non_decreasing,
            divisor: delta_divisor,
            base: first,
        };
        let above = Self {
            above_base: true,
            non_decreasing: false,
            divisor: above_divisor,
            base: min,
        };
        // A trial on the first integers picks the coding: the sum of their
        // significant bits picked deltas for the benchmark's latencies,
        // which code 4 % smaller above their smallest.
        let trial = &integers[..integers.len().min(TRIAL_POINTS)];
        let coded_size = |code: &Self| -> usize {
            let mut e = Encoder::new();
            let mut model = IntModel::new();
            let mut prev = code.base;
            for &v in trial {
                model.encode(&mut e, code.code(v, prev));
                prev = v;
            }
            e.finish().len()
        };
        Some(if coded_size(&above) < coded_size(&delta) {
            above
        } else {
            delta
        })
    }

    /// The number coded for `v` after the integer `prev`.
    fn code(&self, v: i64, prev: i64) -> u64 {
        // Exact divisions: the divisor divides every number it is used on.
        if self.above_base {
            v.wrapping_sub(self.base) as u64 / self.divisor
        } else if self.non_decreasing {
            // v >= prev, so the difference fits in a u64.
            v.wrapping_sub(prev) as u64 / self.divisor
        } else {
            // i128 keeps i64::MIN divided by a divisor of 2^63 in range.
            let delta = i128::from(v.wrapping_sub(prev)) / i128::from(self.divisor);
            zigzag(delta as i64)
        }
    }

    /// The integer whose code is `n`, after `prev`.
    fn value(&self, n: u64, prev: i64) -> i64 {
        if self.above_base {
            self.base.wrapping_add(n.wrapping_mul(self.divisor) as i64)
        } else if self.non_decreasing {
            prev.wrapping_add(n.wrapping_mul(self.divisor) as i64)
        } else {
            prev.wrapping_add(unzigzag(n).wrapping_mul(self.divisor as i64))
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, CorruptChunk> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or(CorruptChunk("header cut short"))?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], CorruptChunk> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(CorruptChunk("cut short"))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    /// A length-prefixed pco stream of exactly `n` numbers. Decoded into a
    /// buffer of that size, so a damaged stream cannot make it allocate
    /// more than the chunk's own count allows.
    fn stream<T: pco::data_types::Number + Default>(
        &mut self,
        n: usize,
    ) -> Result<Vec<T>, CorruptChunk> {
        let len = usize::try_from(self.varint()?).map_err(|_| CorruptChunk("stream too long"))?;
        let coded = self.take(len)?;
        let mut numbers = vec![T::default(); n];
        let progress = pco::standalone::simple_decompress_into(coded, &mut numbers)
            .map_err(|_| CorruptChunk("bad pco stream"))?;
        if progress.n_processed != n || !progress.finished {
            return Err(CorruptChunk("a stream holds the wrong count"));
        }
        Ok(numbers)
    }

    fn varint(&mut self) -> Result<u64, CorruptChunk> {
        let mut rest = &self.bytes[self.at..];
        let before = rest.len();
        let v = varint::take_checked(&mut rest).ok_or(CorruptChunk("header cut short"))?;
        self.at += before - rest.len();
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes `points` both ways, checks each decodes to exactly them, and
    /// returns the size of what [`encode`] writes.
    fn round_trip(points: &[(i64, Value)]) -> usize {
        let written = encode(points);
        for bytes in [&written, &encode_range_coded(points)] {
            let mut back = Vec::new();
            decode(bytes, |ts, v| back.push((ts, v))).unwrap();
            assert_eq!(back.len(), points.len());
            for (a, b) in back.iter().zip(points) {
                assert_eq!(a.0, b.0);
                match (a.1, b.1) {
                    (Value::Double(x), Value::Double(y)) => assert_eq!(x.to_bits(), y.to_bits()),
                    (x, y) => assert_eq!(x, y),
                }
            }
        }
        written.len()
    }

    #[test]
    fn a_steady_gauge_codes_in_about_a_byte_a_sample() {
        // A CPU-like walk with two decimals at a 1 s tick.
        let mut level = 4_000i64;
        let mut seed = 17u64;
        let points: Vec<_> = (0..10_000)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                level += (seed % 301) as i64 - 150;
                (1_700_000_000_000 + i * 1000, Value::Scaled(level))
            })
            .collect();
        let bytes = round_trip(&points);
        assert!(bytes < 12_000, "{bytes} bytes for 10,000 samples");
    }

    #[test]
    fn constant_values_and_ticks_take_almost_nothing() {
        // Evenly spaced times are not coded at all; an unchanged value
        // costs about 0.01 bits once the model has adapted.
        let points: Vec<_> = (0..MAX_CHUNK_POINTS as i64)
            .map(|i| (i * 5000, Value::Scaled(12)))
            .collect();
        let bytes = round_trip(&points);
        assert!(bytes < 120, "{bytes} bytes");
    }

    #[test]
    fn irregular_times_mixed_kinds_and_extremes_come_back_exactly() {
        let values = [
            Value::Scaled(i64::MIN),
            Value::Scaled(i64::MAX),
            Value::Double(f64::NAN),
            Value::Double(-0.0),
            Value::Double(f64::INFINITY),
            Value::Scaled(0),
            Value::Double(0.1),
            Value::Scaled(-5),
            Value::Double(f64::MIN_POSITIVE),
        ];
        let times = [i64::MIN, -1, 0, 0, 7, i64::MAX, 3, 1_700_000_000_123, 9];
        let points: Vec<_> = times.into_iter().zip(values).collect();
        round_trip(&points);
        round_trip(&points[..1]);
        round_trip(&points[2..5]);
    }

    #[test]
    fn counters_are_coded_without_a_sign_even_across_the_whole_range() {
        let steps = [(0, i64::MIN), (1, -1), (2, i64::MAX), (3, i64::MAX)];
        let points: Vec<_> = steps.iter().map(|&(t, v)| (t, Value::Scaled(v))).collect();
        let bytes = encode_range_coded(&points);
        assert_ne!(bytes[1] & NON_DECREASING, 0);
        round_trip(&points);
        let counter: Vec<_> = (0..1000i64)
            .map(|i| (i, Value::Scaled(1_000_000 + i * i * 3)))
            .collect();
        round_trip(&counter);
    }

    #[test]
    fn integers_scattered_around_a_level_are_coded_above_the_smallest() {
        // Latencies kept to 0.001 ms, measured to 0.01: multiples of ten.
        let mut seed = 99u64;
        let points: Vec<_> = (0..5000i64)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (i * 1000, Value::Scaled(40_000 + (seed % 2000) as i64 * 10))
            })
            .collect();
        let bytes = encode_range_coded(&points);
        assert_ne!(bytes[1] & ABOVE_BASE, 0);
        round_trip(&points);
    }

    #[test]
    fn columns_share_their_times_and_doubles_of_scaled_integers_come_back() {
        let times: Vec<i64> = (0..1440).map(|m| 1_700_000_000_000 + m * 60_000).collect();
        let mins: Vec<Value> = (0..1440)
            .map(|m| from_double(f64::from(m % 500) / 100.0, 2))
            .collect();
        assert!(mins.iter().all(|v| matches!(v, Value::Scaled(_))));
        let odd = vec![Value::Double(0.1 + 0.2); 1440];
        let bytes = encode_columns(&times, &[mins.clone(), odd.clone()]);
        let (back_times, columns) = decode_columns(&bytes, 2).unwrap();
        assert_eq!(back_times, times);
        assert_eq!(columns, vec![mins.clone(), odd]);
        assert_eq!(to_double(mins[123], 2), 1.23);
        assert_eq!(from_double(0.1 + 0.2, 2), Value::Double(0.1 + 0.2));
        assert!(matches!(from_double(-0.0, 2), Value::Double(_)));
        assert!(decode_columns(&bytes[..bytes.len() - 3], 2).is_err());
        assert!(decode_columns(&bytes, 3).is_err());
    }

    #[test]
    fn damaged_chunks_are_errors_not_panics() {
        let points: Vec<_> = (0..3000i64)
            .map(|i| (i * 1000 + i % 7, Value::Scaled(i * i % 1013)))
            .collect();
        assert!(decode(&[], |_, _| {}).is_err());
        assert!(decode(&[3, 0, 1, 0], |_, _| {}).is_err());
        assert!(decode(&[VERSION_PCO, 0, 1, 0], |_, _| {}).is_err());
        for bytes in [encode(&points), encode_range_coded(&points)] {
            assert!(decode(&bytes[..bytes.len() / 2], |_, _| {}).is_err());
            let mut flipped = bytes.clone();
            for i in (2..flipped.len()).step_by(37) {
                flipped[i] ^= 0x5A;
                // Any outcome but a panic: garbage values, or an error.
                let _ = decode(&flipped, |_, _| {});
            }
        }
    }
}

/// Property tests: any chunk the store can hand over comes back exactly,
/// and no input, however damaged, makes decoding panic.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::*;

    /// Doubles whose bits are easy to get wrong: NaNs with payloads and a
    /// sign, both zeros, infinities, subnormals, the extremes.
    const SPECIAL_DOUBLES: [u64; 14] = [
        0x7FF8_0000_0000_0000, // the quiet NaN
        0xFFF8_0000_0000_0000, // negative NaN
        0x7FF0_0000_0000_0001, // signalling NaN, smallest payload
        0x7FF7_FFFF_FFFF_FFFF, // signalling NaN, largest payload
        0x8000_0000_0000_0000, // -0.0
        0x0000_0000_0000_0000, // 0.0
        0x7FF0_0000_0000_0000, // infinity
        0xFFF0_0000_0000_0000, // -infinity
        0x0000_0000_0000_0001, // smallest subnormal
        0x000F_FFFF_FFFF_FFFF, // largest subnormal
        0x8000_0000_0000_0001, // smallest negative subnormal
        0x0010_0000_0000_0000, // smallest normal
        0x7FEF_FFFF_FFFF_FFFF, // f64::MAX
        0xFFEF_FFFF_FFFF_FFFF, // f64::MIN
    ];

    const EXTREME_INTEGERS: [i64; 7] = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];

    /// Chunk lengths: mostly short, some across the trial that picks the
    /// integer coding, and the largest chunk allowed.
    fn length() -> impl Strategy<Value = usize> {
        prop_oneof![
            8 => 1..=80usize,
            3 => 80..=700usize,
            1 => (TRIAL_POINTS - 8)..=(TRIAL_POINTS + 8),
            1 => Just(MAX_CHUNK_POINTS),
        ]
    }

    /// Timestamps in time order, as the store gives them (duplicates
    /// included: nothing in the format needs them distinct).
    fn times(n: usize) -> impl Strategy<Value = Vec<i64>> {
        let span = (n as i64 - 1).max(1);
        prop_oneof![
            // An even tick (0 included) anywhere in the range, up to a
            // tick that spans the whole range.
            (
                any::<i64>(),
                prop_oneof![Just(0i64), 1..=60_000i64, 0..=(i64::MAX / span)]
            )
                .prop_map(move |(start, tick)| {
                    let start = start.min(i64::MAX - tick * (n as i64 - 1));
                    (0..n as i64).map(|i| start + tick * i).collect()
                }),
            // A tick with jitter, repeats and the odd long gap; saturating
            // at the top of the range keeps the order and repeats i64::MAX.
            (
                prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX - 100_000)],
                prop::collection::vec(
                    prop_oneof![2 => Just(0i64), 20 => 990..=1010i64, 1 => 0..=(1i64 << 40)],
                    n
                )
            )
                .prop_map(|(start, gaps)| {
                    let mut t = start;
                    gaps.into_iter()
                        .map(|gap| {
                            let now = t;
                            t = t.saturating_add(gap);
                            now
                        })
                        .collect()
                }),
            // An even tick but for one gap (a late or a missed sample).
            (
                any::<i64>(),
                1..=60_000i64,
                any::<prop::sample::Index>(),
                0..=120_000i64
            )
                .prop_map(move |(start, tick, at, gap)| {
                    let start = start.min(i64::MAX - 120_000 - tick * (n as i64 - 1));
                    let at = at.index(n) as i64;
                    (0..n as i64)
                        .map(|i| start + tick * i + if i >= at && at > 0 { gap - tick } else { 0 })
                        .collect()
                }),
            // Anything, sorted.
            prop::collection::vec(
                prop_oneof![any::<i64>(), select(EXTREME_INTEGERS.to_vec())],
                n
            )
            .prop_map(|mut t| {
                t.sort_unstable();
                t
            }),
        ]
    }

    /// Scaled integers with the shapes the coder tells apart (a walk, a
    /// counter, values scattered above a level, anything), each a multiple
    /// of a common step from a base, all in wrapping arithmetic so any
    /// i64 can come out.
    fn integers(n: usize) -> impl Strategy<Value = Vec<i64>> {
        let step = prop_oneof![
            Just(1i64),
            Just(10),
            Just(1000),
            Just(1 << 62),
            Just(i64::MIN),
            Just(4_052_555_153_018_976_267), // 3^39
            1..=1_000_000i64,
        ];
        let shape = prop_oneof![
            prop::collection::vec(-60i64..=60, n).prop_map(|d| running_sum(&d)),
            prop::collection::vec(0i64..=1000, n).prop_map(|d| running_sum(&d)),
            prop::collection::vec(0i64..=2000, n),
            prop::collection::vec(select(EXTREME_INTEGERS.to_vec()), n),
            prop::collection::vec(any::<i64>(), n),
        ];
        (any::<i64>(), step, shape).prop_map(|(base, step, shape)| {
            shape
                .into_iter()
                .map(|x| base.wrapping_add(x.wrapping_mul(step)))
                .collect()
        })
    }

    fn running_sum(deltas: &[i64]) -> Vec<i64> {
        let mut sum = 0i64;
        deltas
            .iter()
            .map(|d| {
                sum = sum.wrapping_add(*d);
                sum
            })
            .collect()
    }

    fn double() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<u64>().prop_map(f64::from_bits),
            select(SPECIAL_DOUBLES.to_vec()).prop_map(f64::from_bits),
            (-1_000_000i64..1_000_000).prop_map(|i| i as f64 / 100.0),
        ]
    }

    fn doubles(n: usize) -> impl Strategy<Value = Vec<f64>> {
        prop_oneof![
            prop::collection::vec(double(), n),
            // A slow drift: most bits repeat from one value to the next.
            (double(), -1e3..1e3f64)
                .prop_map(move |(start, step)| (0..n).map(|i| start + step * i as f64).collect()),
            double().prop_map(move |v| vec![v; n]),
        ]
    }

    fn values(n: usize) -> impl Strategy<Value = Vec<Value>> {
        prop_oneof![
            integers(n).prop_map(|v| v.into_iter().map(Value::Scaled).collect()),
            doubles(n).prop_map(|v| v.into_iter().map(Value::Double).collect()),
            (
                integers(n),
                doubles(n),
                prop::collection::vec(any::<bool>(), n)
            )
                .prop_map(|(ints, doubles, pick)| {
                    (0..ints.len())
                        .map(|i| {
                            if pick[i] {
                                Value::Double(doubles[i])
                            } else {
                                Value::Scaled(ints[i])
                            }
                        })
                        .collect()
                }),
        ]
    }

    fn chunk() -> impl Strategy<Value = Vec<(i64, Value)>> {
        length()
            .prop_flat_map(|n| (times(n), values(n)))
            .prop_map(|(times, values)| times.into_iter().zip(values).collect())
    }

    /// Values compared bit for bit: NaN == NaN, -0.0 != 0.0.
    fn bits(v: Value) -> (bool, u64) {
        match v {
            Value::Scaled(i) => (false, i as u64),
            Value::Double(d) => (true, d.to_bits()),
        }
    }

    fn same(a: &[(i64, Value)], b: &[(i64, Value)]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.0 == y.0 && bits(x.1) == bits(y.1))
    }

    /// Flips, cuts or extends a valid chunk at `at` (a fraction of its length).
    fn damage(mut bytes: Vec<u8>, how: u8, at: f64, byte: u8) -> Vec<u8> {
        let i = ((bytes.len() as f64 * at) as usize).min(bytes.len() - 1);
        match how % 4 {
            0 => bytes[i] ^= byte | 1,
            1 => bytes.truncate(i),
            2 => bytes.insert(i, byte),
            _ => bytes.extend(std::iter::repeat_n(byte, i % 17 + 1)),
        }
        bytes
    }

    proptest! {
        // 256 chunks, one in thirteen of 32,768 points: about a second in
        // release.
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_chunk_decodes_to_exactly_what_was_encoded(points in chunk()) {
            for bytes in [encode(&points), encode_range_coded(&points)] {
                let mut back = Vec::with_capacity(points.len());
                decode(&bytes, |ts, v| back.push((ts, v))).unwrap();
                prop_assert!(same(&back, &points), "{} points differ", points.len());
            }
        }

        #[test]
        fn columns_over_shared_times_decode_to_what_was_encoded(
            (times, columns) in length()
                .prop_map(|n| n.min(2000))
                .prop_flat_map(|n| (times(n), prop::collection::vec(values(n), 1..=3)))
        ) {
            let bytes = encode_columns(&times, &columns);
            let (back_times, back) = decode_columns(&bytes, columns.len()).unwrap();
            prop_assert_eq!(&back_times, &times);
            for (column, back) in columns.iter().zip(&back) {
                let a: Vec<_> = times.iter().copied().zip(column.iter().copied()).collect();
                let b: Vec<_> = times.iter().copied().zip(back.iter().copied()).collect();
                prop_assert!(same(&a, &b));
            }
        }
    }

    proptest! {
        // Small inputs, each decoded in microseconds.
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn arbitrary_bytes_are_a_value_or_an_error_never_a_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..400),
            columns in 0usize..4,
        ) {
            let _ = decode(&bytes, |_, _| {});
            let _ = decode_columns(&bytes, columns);
            // Past a valid header, so the body is garbage to either coder.
            for version in [VERSION_RANGE_CODED, VERSION_PCO] {
                let mut headed = vec![version, bytes.first().copied().unwrap_or(0) % 8, 0x80, 0x02];
                headed.extend(&bytes);
                let _ = decode(&headed, |_, _| {});
            }
        }

        #[test]
        fn damaged_chunks_are_a_value_or_an_error_never_a_panic(
            points in (1..=300usize).prop_flat_map(|n| (times(n), values(n))),
            how in any::<u8>(),
            at in 0.0..1.0f64,
            byte in any::<u8>(),
        ) {
            let points: Vec<_> = points.0.into_iter().zip(points.1).collect();
            for bytes in [encode(&points), encode_range_coded(&points)] {
                let _ = decode(&damage(bytes, how, at, byte), |_, _| {});
            }
            let columns = encode_columns(
                &points.iter().map(|p| p.0).collect::<Vec<_>>(),
                &[points.iter().map(|p| p.1).collect()],
            );
            let _ = decode_columns(&damage(columns, how, at, byte), 1);
        }
    }
}
