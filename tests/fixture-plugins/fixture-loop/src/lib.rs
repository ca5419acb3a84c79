//! Test fixture: a collector whose `collect()` never returns, so host tests can check the per-call deadline ends it.

use perfwatch_sdk::{Collection, Collector, Sample, export_collector};

struct Loop;

impl Collector for Loop {
    fn collect() -> Result<Collection, String> {
        let mut spins: u64 = 0;
        // `black_box` hides from rustc and LLVM that the condition never
        // changes; a loop they can prove infinite without side effects may
        // be compiled into an `unreachable` trap instead of spinning, and
        // then the host would test its trap path rather than its deadline.
        while std::hint::black_box(true) {
            spins = std::hint::black_box(spins.wrapping_add(1));
        }
        Ok(vec![Sample::counter("fixture.spins", spins as f64)].into())
    }
}

export_collector!(Loop);
