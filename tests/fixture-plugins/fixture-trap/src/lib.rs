//! Test fixture: a collector whose `collect()` panics with a recognizable message, so host tests can check a trap is reported and the instance replaced.

use perfwatch_sdk::{Collection, Collector, export_collector};

/// The panic message; host tests look for it in the trap's error chain or log.
const PANIC_MESSAGE: &str = "fixture-trap: deliberate panic";

struct Trap;

impl Collector for Trap {
    fn collect() -> Result<Collection, String> {
        // `black_box` keeps the compiler from treating the rest of the
        // function as dead code and warning about it.
        if std::hint::black_box(true) {
            panic!("{PANIC_MESSAGE}");
        }
        Ok(Collection::new())
    }
}

export_collector!(Trap);
