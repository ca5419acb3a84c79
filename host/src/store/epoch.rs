//! The seqlock between the daily merge's commits and the readers that
//! read rollup rows and archived minutes in two statements.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::StoreError;

/// Tells a reader whether the daily merge committed while it read, so a
/// minute-step query can read rollup rows and archived minutes in two
/// statements without a transaction (which cost it a millisecond and a
/// half of its four) and still never see a minute twice or not at all.
///
/// A seqlock: the merge makes the count odd before each commit and even
/// after it, and a reader retries when the count was odd or changed.
#[derive(Debug, Clone, Default)]
pub struct ArchiveEpoch(Arc<AtomicU64>);

impl ArchiveEpoch {
    /// Commits `tx` bracketed by the count (the merge's side).
    pub(super) fn commit(&self, tx: duckdb::Transaction<'_>) -> Result<(), StoreError> {
        /// Makes the count even again however the commit ends, so a
        /// panic in it cannot leave readers waiting for good.
        struct Even<'a>(&'a AtomicU64);
        impl Drop for Even<'_> {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        self.0.fetch_add(1, Ordering::SeqCst);
        let _even = Even(&self.0);
        Ok(tx.commit()?)
    }

    /// Runs `read` until no merge commit overlapped it (the reader's side).
    pub fn read<T>(
        &self,
        mut read: impl FnMut() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        loop {
            let before = self.0.load(Ordering::SeqCst);
            if before % 2 == 1 {
                // A commit is under way; it takes milliseconds.
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let answer = read()?;
            if self.0.load(Ordering::SeqCst) == before {
                return Ok(answer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_overlapping_a_commit_is_redone() {
        let epoch = ArchiveEpoch::default();
        let mut calls = 0;
        let answer = epoch.read(|| {
            calls += 1;
            if calls == 1 {
                // A merge step commits while the first read runs.
                epoch.0.fetch_add(2, Ordering::SeqCst);
            }
            Ok(calls)
        });
        assert_eq!(answer.unwrap(), 2);
    }

    #[test]
    fn a_read_waits_while_a_commit_is_under_way() {
        let epoch = ArchiveEpoch::default();
        epoch.0.fetch_add(1, Ordering::SeqCst);
        let committing = epoch.clone();
        let commit = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            committing.0.fetch_add(1, Ordering::SeqCst);
        });
        let started = std::time::Instant::now();
        let mut calls = 0;
        epoch
            .read(|| {
                calls += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(calls, 1, "no read ran while the count was odd");
        assert!(started.elapsed() >= Duration::from_millis(25));
        commit.join().unwrap();
    }
}
