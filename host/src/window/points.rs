//! One series' recent points, stored compactly: the window holds ten
//! minutes of every series (1.2 M points for 2,000 series at a 1 s tick),
//! so each byte per point is over a megabyte of host memory.
//!
//! The newest points are kept as they are; every [`BLOCK_POINTS`] of them
//! are sealed into a compressed [`Block`] (about three bytes a point for a
//! short decimal at a steady tick, against sixteen). Reads decode blocks on
//! the fly: rules read a few minutes of the series they name, which costs
//! microseconds. A late point that falls among sealed points re-encodes its
//! block, which is rare and cheap.

use std::collections::VecDeque;

use super::block::Block;

/// Points sealed into one block.
const BLOCK_POINTS: usize = 64;

/// Points in time order; see the module comment.
#[derive(Debug, Default)]
pub struct Points {
    /// Oldest first; each block's points are older than the next block's.
    sealed: VecDeque<Block>,
    /// Points kept in the sealed blocks.
    sealed_len: usize,
    /// The newest points, newer than every sealed one. Never empty while
    /// any point is held: sealing leaves the newest point here.
    open: Vec<(i64, f64)>,
}

impl Points {
    pub fn len(&self) -> usize {
        self.sealed_len + self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The newest point.
    pub fn latest(&self) -> Option<(i64, f64)> {
        self.open.last().copied()
    }

    /// Points with a timestamp in `[since_ms, ∞)`.
    pub fn since(&self, since_ms: i64) -> impl Iterator<Item = (i64, f64)> + '_ {
        let first = self.sealed.partition_point(|b| b.last_ms() < since_ms);
        self.sealed
            .range(first..)
            .flat_map(Block::points)
            .chain(self.open.iter().copied())
            .skip_while(move |&(t, _)| t < since_ms)
    }

    /// Adds a point in time order; a second value for an instant replaces
    /// the first. Keeps at most `cap` points, dropping the oldest.
    pub fn insert(&mut self, ts: i64, value: f64, cap: usize) {
        match self.sealed.back() {
            Some(newest) if ts <= newest.last_ms() => self.insert_sealed(ts, value),
            _ => {
                if self.open.len() == self.open.capacity() {
                    // Doubling, but never past what sealing needs.
                    let len = self.open.len();
                    let more = len
                        .max(4)
                        .min((BLOCK_POINTS + 1).saturating_sub(len).max(1));
                    self.open.reserve_exact(more);
                }
                if insert_sorted(&mut self.open, ts, value) && self.open.len() > BLOCK_POINTS {
                    self.seal();
                }
            }
        }
        while self.len() > cap {
            self.drop_oldest();
        }
    }

    /// Drops the points before `cutoff_ms`.
    pub fn evict_before(&mut self, cutoff_ms: i64) {
        while let Some(oldest) = self.sealed.front_mut() {
            self.sealed_len -= oldest.drop_before(cutoff_ms);
            if oldest.len() > 0 {
                break;
            }
            self.sealed.pop_front();
        }
        if self.sealed.is_empty() {
            let n = self.open.partition_point(|&(t, _)| t < cutoff_ms);
            self.open.drain(..n);
        }
        // A burst (a backlog posted at once) leaves more slots than the
        // series' steady rate needs; give the slack back.
        if self.sealed.capacity() > 2 * self.sealed.len() + 8 {
            self.sealed.shrink_to_fit();
        }
    }

    /// Seals all open points but the newest into a block.
    fn seal(&mut self) {
        let newest = self.open.len() - 1;
        if self.sealed.len() == self.sealed.capacity() {
            // By a quarter: ten minutes at 1 s is ten blocks, not sixteen.
            self.sealed.reserve_exact((self.sealed.len() / 4).max(2));
        }
        self.sealed.push_back(Block::encode(&self.open[..newest]));
        self.sealed_len += newest;
        self.open.drain(..newest);
    }

    /// A point at or before the newest sealed one: re-encodes the block
    /// it belongs in (the first whose points reach `ts`), split in two once
    /// late points have doubled it.
    fn insert_sealed(&mut self, ts: i64, value: f64) {
        let at = self.sealed.partition_point(|b| b.last_ms() < ts);
        let mut points: Vec<_> = self.sealed[at].points().collect();
        if insert_sorted(&mut points, ts, value) {
            self.sealed_len += 1;
        }
        if points.len() > 2 * BLOCK_POINTS {
            let later = points.split_off(points.len() / 2);
            self.sealed.insert(at + 1, Block::encode(&later));
        }
        self.sealed[at] = Block::encode(&points);
    }

    fn drop_oldest(&mut self) {
        match self.sealed.front_mut() {
            Some(oldest) => {
                oldest.drop_first(1);
                self.sealed_len -= 1;
                if oldest.len() == 0 {
                    self.sealed.pop_front();
                }
            }
            None => {
                self.open.remove(0);
            }
        }
    }

    /// Heap bytes held: blocks, their slots and the open points' slots.
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        self.sealed.capacity() * std::mem::size_of::<Block>()
            + self.sealed.iter().map(Block::heap_bytes).sum::<usize>()
            + self.open.capacity() * std::mem::size_of::<(i64, f64)>()
    }
}

/// Inserts in time order, or replaces the value at the same instant;
/// returns whether a point was added.
fn insert_sorted(points: &mut Vec<(i64, f64)>, ts: i64, value: f64) -> bool {
    match points.last() {
        Some(&(newest, _)) if ts > newest => points.push((ts, value)),
        None => points.push((ts, value)),
        Some(_) => {
            let at = points.partition_point(|&(t, _)| t < ts);
            if points.get(at).is_some_and(|&(t, _)| t == ts) {
                points[at].1 = value;
                return false;
            }
            points.insert(at, (ts, value));
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(p: &Points) -> Vec<(i64, f64)> {
        p.since(i64::MIN).collect()
    }

    /// `n` points at a 1 s tick from `start`, values a slow walk with two decimals.
    fn steady(p: &mut Points, start: i64, n: i64, cap: usize) {
        for i in 0..n {
            let v = (((start / 1000 + i) as f64 / 60.0).sin() * 40.0 + 50.0) * 100.0;
            p.insert(start + i * 1000, v.round() / 100.0, cap);
        }
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
    fn late_points_among_sealed_ones_land_in_order() {
        let mut p = Points::default();
        for t in (0..300).map(|i| i * 2000) {
            p.insert(t, t as f64, 1000);
        }
        // Between points of a sealed block, replacing one, before them all,
        // and in the gap between the sealed points and the open ones.
        for t in [1000, 4000, -7, 255_000, 511_000] {
            p.insert(t, -1.0, 1000);
        }
        let points = all(&p);
        assert_eq!(points.len(), 304);
        assert!(points.windows(2).all(|w| w[0].0 < w[1].0));
        for t in [1000, 4000, -7, 255_000, 511_000] {
            assert_eq!(p.since(t).next(), Some((t, -1.0)));
        }
        assert_eq!(p.latest(), Some((598_000, 598_000.0)));
    }

    #[test]
    fn a_block_that_late_points_double_is_split() {
        let mut p = Points::default();
        for t in (0..200).map(|i| i * 1000) {
            p.insert(t, 1.0, 10_000);
        }
        // Two late points in each gap of the first sealed block.
        let late: Vec<i64> = (0..63)
            .flat_map(|i| [i * 1000 + 250, i * 1000 + 500])
            .collect();
        for &t in &late {
            p.insert(t, 2.0, 10_000);
        }
        assert_eq!(p.len(), 200 + late.len());
        assert!(p.sealed.iter().all(|b| b.len() <= 2 * BLOCK_POINTS));
        let points = all(&p);
        assert_eq!(points.len(), 200 + late.len());
        assert!(points.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(late.iter().all(|&t| p.since(t).next() == Some((t, 2.0))));
    }

    #[test]
    fn points_far_apart_are_held() {
        let mut p = Points::default();
        p.insert(1_000_000, 1.0, 100);
        p.insert(-5, 0.5, 100);
        p.insert(i64::MAX - 1, 2.0, 100);
        assert_eq!(
            all(&p),
            vec![(-5, 0.5), (1_000_000, 1.0), (i64::MAX - 1, 2.0)]
        );
        assert_eq!(p.since(0).count(), 2);
    }

    #[test]
    fn the_cap_drops_the_oldest() {
        let mut p = Points::default();
        for t in 0..10 {
            p.insert(t, t as f64, 4);
        }
        assert_eq!(all(&p).first(), Some(&(6, 6.0)));
        assert_eq!(p.len(), 4);
        for t in 10..1000 {
            p.insert(t, t as f64, 300);
        }
        assert_eq!(p.len(), 300);
        assert_eq!(all(&p).first(), Some(&(700, 700.0)));
    }

    #[test]
    fn since_answers_before_between_and_after_the_points() {
        let mut p = Points::default();
        steady(&mut p, 0, 200, 1000);
        assert_eq!(p.since(i64::MIN).count(), 200);
        assert_eq!(p.since(1500).count(), 198);
        assert_eq!(p.since(64_000).count(), 136);
        assert_eq!(p.since(199_000).count(), 1);
        assert_eq!(p.since(i64::MAX).count(), 0);
    }

    #[test]
    fn eviction_drops_old_points_from_blocks_and_open_points() {
        let mut p = Points::default();
        steady(&mut p, 0, 200, 1000);
        p.evict_before(70_500);
        assert_eq!(p.len(), 129);
        assert_eq!(p.since(i64::MIN).next().map(|(t, _)| t), Some(71_000));
        p.evict_before(199_000);
        assert_eq!(all(&p).len(), 1);
        p.evict_before(200_000);
        assert!(p.is_empty());
        assert_eq!(p.latest(), None);
    }

    #[test]
    fn ten_minutes_at_a_steady_tick_take_a_few_bytes_a_point() {
        let mut p = Points::default();
        steady(&mut p, 1_700_000_000_000, 1200, 2048);
        p.evict_before(1_700_000_600_000);
        assert_eq!(p.len(), 600);
        assert!(p.heap_bytes() < 600 * 6, "{} bytes", p.heap_bytes());
    }
}
