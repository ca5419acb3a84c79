//! A sealed run of one series' points, compressed.
//!
//! Monitored values are mostly decimals with a few places (a CPU percentage,
//! a latency in ms), and timestamps come at a steady tick. So a block keeps
//! each value as an integer count of `10^-d` (the smallest `d` that gives
//! every value of the block back bit for bit) stored as the difference from
//! the previous one, and each timestamp as the change in the gap between
//! points; both as zigzag varints. A 1 s gauge with two decimals then takes
//! about three bytes a point instead of twelve. Values that are not short
//! decimals (NaN, ±0.0 mixes, binary fractions) are stored as the bits that
//! changed from the previous value, so every value comes back exactly.

use crate::codec::decimal::{divisor, exact_count};
use crate::codec::varint::{put, put_signed, take, take_signed};

/// Decimal places tried before falling back to bit storage.
const MAX_DECIMALS: u8 = 9;
/// Mode byte of a block whose values are stored as bits.
const BITS: u8 = u8::MAX;

/// Points in time order, encoded; see the module comment.
#[derive(Debug)]
pub struct Block {
    first_ms: i64,
    last_ms: i64,
    /// Timestamp of the first point not dropped by [`Block::drop_before`].
    first_kept_ms: i64,
    /// Points at the front that were dropped; their bytes go with the block.
    dropped: u16,
    len: u16,
    /// A mode byte (decimals, or [`BITS`]), then the points.
    bytes: Box<[u8]>,
}

impl Block {
    /// Encodes `points`: non-empty, strictly increasing in time, at most
    /// `u16::MAX` of them.
    pub fn encode(points: &[(i64, f64)]) -> Self {
        assert!(!points.is_empty() && points.len() <= usize::from(u16::MAX));
        let decimals = (0..=MAX_DECIMALS)
            .find(|&d| points.iter().all(|&(_, v)| exact_count(v, d).is_some()))
            .unwrap_or(BITS);
        let mut bytes = Vec::with_capacity(1 + points.len() * 3);
        bytes.push(decimals);
        let (mut prev_ts, mut prev_gap, mut prev_value) = (points[0].0, 0i64, 0i64);
        for (i, &(ts, value)) in points.iter().enumerate() {
            if i > 0 {
                let gap = ts.wrapping_sub(prev_ts);
                put_signed(&mut bytes, gap.wrapping_sub(prev_gap));
                (prev_ts, prev_gap) = (ts, gap);
            }
            if decimals == BITS {
                let bits = value.to_bits() as i64;
                // Reversed, so that changes in the low mantissa bits (the
                // usual case) make a short varint.
                put(&mut bytes, (bits ^ prev_value).reverse_bits() as u64);
                prev_value = bits;
            } else {
                let count = exact_count(value, decimals).expect("checked above");
                put_signed(&mut bytes, count.wrapping_sub(prev_value));
                prev_value = count;
            }
        }
        let last_ms = points[points.len() - 1].0;
        Self {
            first_ms: points[0].0,
            last_ms,
            first_kept_ms: points[0].0,
            dropped: 0,
            len: points.len() as u16,
            bytes: bytes.into_boxed_slice(),
        }
    }

    /// Timestamp of the newest point.
    pub fn last_ms(&self) -> i64 {
        self.last_ms
    }

    /// Points not dropped.
    pub fn len(&self) -> usize {
        usize::from(self.len - self.dropped)
    }

    /// The points not dropped, oldest first.
    pub fn points(&self) -> impl Iterator<Item = (i64, f64)> + '_ {
        self.decode().skip(usize::from(self.dropped))
    }

    /// Drops the points before `cutoff_ms`; returns how many.
    pub fn drop_before(&mut self, cutoff_ms: i64) -> usize {
        if self.first_kept_ms >= cutoff_ms {
            return 0;
        }
        let n = self.points().take_while(|&(t, _)| t < cutoff_ms).count();
        self.drop_first(n);
        n
    }

    /// Drops the `n` oldest points kept (at most [`Block::len`]).
    pub fn drop_first(&mut self, n: usize) {
        let n = n.min(self.len());
        self.dropped += n as u16;
        let first_kept = self.points().next().map(|(t, _)| t);
        self.first_kept_ms = first_kept.unwrap_or(self.last_ms.saturating_add(1));
    }

    /// Heap bytes held (for tests of the window's footprint).
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }

    fn decode(&self) -> Decoder<'_> {
        let decimals = self.bytes[0];
        Decoder {
            bytes: &self.bytes[1..],
            left: self.len,
            first: true,
            decimals,
            scale: if decimals == BITS {
                1.0
            } else {
                divisor(decimals)
            },
            ts: self.first_ms,
            gap: 0,
            value: 0,
        }
    }
}

struct Decoder<'a> {
    bytes: &'a [u8],
    left: u16,
    first: bool,
    decimals: u8,
    scale: f64,
    ts: i64,
    gap: i64,
    /// The previous value's bits or integer count.
    value: i64,
}

impl Iterator for Decoder<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        self.left = self.left.checked_sub(1)?;
        if !std::mem::take(&mut self.first) {
            self.gap = self.gap.wrapping_add(take_signed(&mut self.bytes));
            self.ts = self.ts.wrapping_add(self.gap);
        }
        let value = if self.decimals == BITS {
            self.value ^= (take(&mut self.bytes) as i64).reverse_bits();
            f64::from_bits(self.value as u64)
        } else {
            self.value = self.value.wrapping_add(take_signed(&mut self.bytes));
            self.value as f64 / self.scale
        };
        Some((self.ts, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(points: &[(i64, f64)]) -> Block {
        let block = Block::encode(points);
        let back: Vec<_> = block.points().collect();
        assert_eq!(back.len(), points.len());
        for (a, b) in points.iter().zip(&back) {
            assert_eq!(a.0, b.0);
            assert_eq!(a.1.to_bits(), b.1.to_bits(), "{} came back as {}", a.1, b.1);
        }
        block
    }

    #[test]
    fn short_decimals_at_a_steady_tick_take_a_few_bytes_a_point() {
        let points: Vec<_> = (0..64)
            .map(|i| {
                let v = ((i as f64 / 9.0).sin() * 40.0 + 50.0) * 100.0;
                (1_700_000_000_000 + i * 1000, v.round() / 100.0)
            })
            .collect();
        let block = round_trip(&points);
        assert_ne!(block.bytes[0], BITS);
        assert!(block.heap_bytes() <= 64 * 3, "{} bytes", block.heap_bytes());
    }

    #[test]
    fn every_value_comes_back_bit_for_bit() {
        let odd = [
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            -1e-300,
            f64::from(0.1f32),
            1.0 / 3.0,
            f64::MIN_POSITIVE,
            9_007_199_254_740_993.0,
        ];
        let points: Vec<_> = odd
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as i64, v))
            .collect();
        assert_eq!(round_trip(&points).bytes[0], BITS);
        for (i, &v) in odd.iter().enumerate() {
            round_trip(&[(0, 1.5), (i as i64 + 1, v)]);
        }
    }

    #[test]
    fn irregular_and_extreme_timestamps_come_back() {
        round_trip(&[
            (i64::MIN + 1, 1.0),
            (-5, 2.0),
            (0, 3.0),
            (7, 4.25),
            (1_000_000_000_000, 5.0),
            (i64::MAX, 6.0),
        ]);
    }

    #[test]
    fn dropping_points_keeps_the_rest() {
        let points: Vec<_> = (0..10).map(|i| (i * 1000, i as f64)).collect();
        let mut block = Block::encode(&points);
        assert_eq!(block.drop_before(2500), 3);
        assert_eq!(block.drop_before(2500), 0);
        assert_eq!(block.len(), 7);
        assert_eq!(block.points().next(), Some((3000, 3.0)));
        block.drop_first(100);
        assert_eq!(block.len(), 0);
        assert_eq!(block.points().next(), None);
    }
}
