//! Keeping the host's resident memory small under glibc's allocator.
//!
//! glibc gives each thread that contends for the heap its own arena (up to
//! eight per core) and returns freed memory to the system only from the top
//! of each arena. A monitor that parses a large batch now and then would
//! keep every arena at its peak for good. Two arenas are plenty for a host
//! whose hot path is one store thread and a small Tokio pool, and trimming
//! after each compaction hands back what the last burst left behind.

/// Limits glibc to two malloc arenas; call before other threads start.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; M_ARENA_MAX takes
    // a positive count. Called before the runtime starts its threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns free heap memory to the system (a no-op off glibc).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes the padding to keep and touches only free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
