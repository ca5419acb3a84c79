//! Test fixture: a collector whose `collect()` grows a `Vec` without bound, so host tests can check the memory limit stops it.

use perfwatch_sdk::{Collection, Collector, Sample, export_collector};

/// Bytes added per step: big enough to reach any sane limit in a few
/// hundred steps, small enough that the failing allocation lands close to it.
const CHUNK_BYTES: usize = 1 << 20;

struct MemoryHog;

impl Collector for MemoryHog {
    fn collect() -> Result<Collection, String> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        while std::hint::black_box(true) {
            // LLVM may delete an allocation nothing reads; `black_box` makes
            // each chunk observable so the memory is really requested.
            hoard.push(std::hint::black_box(vec![0xA5; CHUNK_BYTES]));
        }
        Ok(vec![Sample::gauge("fixture.hoardedChunks", hoard.len() as f64)].into())
    }
}

export_collector!(MemoryHog);
