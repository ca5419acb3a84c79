//! One series' recent points, stored compactly: the window holds ten
//! minutes of every series (1.2 M points for 2,000 series at a 1 s tick),
//! so each byte per point is over a megabyte of host memory.
//!
//! A point is a timestamp and a value. Timestamps are kept as milliseconds
//! after a per-series base in a `u32` (49 days of range against a span of
//! minutes), values as they are: 12 bytes a point instead of 16. The deques
//! grow by a quarter instead of doubling, and give back what a burst left.

use std::collections::VecDeque;

/// Slots a deque grows by at least.
const MIN_GROWTH: usize = 8;

/// Points in time order; see the module comment.
#[derive(Debug, Default)]
pub struct Points {
    /// Epoch milliseconds that offset 0 stands for.
    base_ms: i64,
    offsets: VecDeque<u32>,
    values: VecDeque<f64>,
}

impl Points {
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The newest point.
    pub fn latest(&self) -> Option<(i64, f64)> {
        Some((self.time(*self.offsets.back()?), *self.values.back()?))
    }

    /// Points with a timestamp in `[since_ms, ∞)`.
    pub fn since(&self, since_ms: i64) -> impl Iterator<Item = (i64, f64)> + '_ {
        let start = self.first_at_or_after(since_ms);
        self.offsets
            .range(start..)
            .zip(self.values.range(start..))
            .map(|(&offset, &value)| (self.time(offset), value))
    }

    /// Adds a point in time order; a second value for an instant replaces
    /// the first. Keeps at most `cap` points, dropping the oldest.
    pub fn insert(&mut self, ts: i64, value: f64, cap: usize) {
        if self.is_empty() {
            self.base_ms = ts;
        }
        if self
            .latest()
            .is_some_and(|(newest, _)| newest - ts > i64::from(u32::MAX))
        {
            return; // 49 days older than the newest point: never windowed.
        }
        if !self.fits(ts) {
            self.rebase(ts);
        }
        let offset = (ts - self.base_ms) as u32;
        self.reserve_one();
        match self.offsets.back() {
            Some(&last) if offset < last => {
                let at = self.offsets.partition_point(|&o| o <= offset);
                if at > 0 && self.offsets[at - 1] == offset {
                    self.values[at - 1] = value;
                } else {
                    self.offsets.insert(at, offset);
                    self.values.insert(at, value);
                }
            }
            Some(&last) if offset == last => {
                *self.values.back_mut().expect("non-empty") = value;
            }
            _ => {
                self.offsets.push_back(offset);
                self.values.push_back(value);
            }
        }
        while self.len() > cap {
            self.offsets.pop_front();
            self.values.pop_front();
        }
    }

    /// Drops the points before `cutoff_ms`.
    pub fn evict_before(&mut self, cutoff_ms: i64) {
        let start = self.first_at_or_after(cutoff_ms);
        self.offsets.drain(..start);
        self.values.drain(..start);
        // A burst (a backlog posted at once) leaves deques far larger than
        // the series' steady rate needs; give the slack back.
        let len = self.len();
        if self.offsets.capacity() - len > len.max(MIN_GROWTH) {
            self.offsets.shrink_to(len + len / 4);
            self.values.shrink_to(len + len / 4);
        }
    }

    fn time(&self, offset: u32) -> i64 {
        self.base_ms + i64::from(offset)
    }

    fn first_at_or_after(&self, ts: i64) -> usize {
        if ts <= self.base_ms {
            return 0;
        }
        match u32::try_from(ts - self.base_ms) {
            Ok(offset) => self.offsets.partition_point(|&o| o < offset),
            Err(_) => self.len(),
        }
    }

    fn fits(&self, ts: i64) -> bool {
        ts >= self.base_ms && ts - self.base_ms <= i64::from(u32::MAX)
    }

    /// Moves the base so that `ts` and the points kept fit: older points
    /// than `u32::MAX` ms before `ts` (49 days; only a window never evicted
    /// holds such) are dropped.
    fn rebase(&mut self, ts: i64) {
        let horizon = ts.saturating_sub(i64::from(u32::MAX));
        self.evict_before(horizon);
        let oldest = self.offsets.front().map_or(ts, |&o| self.time(o));
        let base = oldest.min(ts);
        let shift = self.base_ms - base;
        for offset in &mut self.offsets {
            *offset = (i64::from(*offset) + shift) as u32;
        }
        self.base_ms = base;
    }

    /// Grows by a quarter, not the default doubling: at a 1 s tick a series
    /// holds 600 points, which doubling would round up to 1,024 slots.
    fn reserve_one(&mut self) {
        let len = self.len();
        if len == self.offsets.capacity() || len == self.values.capacity() {
            let more = (len / 4).max(MIN_GROWTH);
            self.offsets.reserve_exact(more);
            self.values.reserve_exact(more);
        }
    }

    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.offsets.capacity().max(self.values.capacity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(p: &Points) -> Vec<(i64, f64)> {
        p.since(i64::MIN).collect()
    }

    #[test]
    fn out_of_order_and_repeated_instants_keep_time_order() {
        let mut p = Points::default();
        for (t, v) in [
            (5000, 5.0),
            (3000, 3.0),
            (4000, 4.0),
            (3000, 3.5),
            (5000, 5.5),
        ] {
            p.insert(t, v, 100);
        }
        assert_eq!(all(&p), vec![(3000, 3.5), (4000, 4.0), (5000, 5.5)]);
        assert_eq!(p.latest(), Some((5000, 5.5)));
    }

    #[test]
    fn a_point_before_the_base_moves_the_base() {
        let mut p = Points::default();
        p.insert(1_000_000, 1.0, 100);
        p.insert(-5, 0.5, 100);
        assert_eq!(all(&p), vec![(-5, 0.5), (1_000_000, 1.0)]);
        assert_eq!(p.since(0).count(), 1);
    }

    #[test]
    fn a_point_beyond_the_offset_range_drops_what_is_too_old() {
        let mut p = Points::default();
        p.insert(0, 1.0, 100);
        p.insert(1000, 2.0, 100);
        let far = i64::from(u32::MAX) + 500;
        p.insert(far, 3.0, 100);
        assert_eq!(all(&p), vec![(1000, 2.0), (far, 3.0)]);
        p.insert(0, 9.0, 100);
        assert_eq!(p.len(), 2, "a point too old for the offsets is not held");
    }

    #[test]
    fn the_cap_drops_the_oldest() {
        let mut p = Points::default();
        for t in 0..10 {
            p.insert(t, t as f64, 4);
        }
        assert_eq!(all(&p).first(), Some(&(6, 6.0)));
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn since_answers_before_between_and_after_the_points() {
        let mut p = Points::default();
        for t in [1000, 2000, 3000] {
            p.insert(t, 0.0, 100);
        }
        assert_eq!(p.since(i64::MIN).count(), 3);
        assert_eq!(p.since(1500).count(), 2);
        assert_eq!(p.since(3000).count(), 1);
        assert_eq!(p.since(i64::MAX).count(), 0);
    }
}
