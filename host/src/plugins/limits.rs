//! Resource limits for plugin instances, and the limiter that records
//! which limit a plugin hit so the error can say so in words.

use wasmtime::ResourceLimiter;

/// How often the engine's epoch advances. Each advance lets a running
/// plugin yield to the async runtime and checks its wall-clock deadline,
/// so this is also the granularity of deadlines: a 1000 ms budget ends
/// within about 1000–1010 ms. 10 ms costs 100 wake-ups a second.
pub const EPOCH_TICK_MS: u64 = 10;

/// Table elements one instance may have: Rust guests need a few hundred.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Most samples one `collect()` call may return. A collector that returns
/// more is broken or hostile; either way it must not flood the store.
pub const MAX_SAMPLES_PER_CALL: usize = 10_000;

/// Caps linear memory and remembers when the cap was hit.
#[derive(Debug)]
pub struct MemoryCap {
    max_bytes: usize,
    hit: bool,
}

impl MemoryCap {
    /// A cap of `max_bytes` per linear memory.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            hit: false,
        }
    }

    /// Whether a growth was refused since the last call to this.
    pub fn take_hit(&mut self) -> bool {
        std::mem::take(&mut self.hit)
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            // Refuse the growth; the guest's allocator then aborts, which
            // arrives as a bare "unreachable" trap. The flag lets the host
            // report the real cause.
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
