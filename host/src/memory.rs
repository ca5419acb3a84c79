//! Keeping the host's resident memory small under glibc's allocator.
//!
//! glibc gives each thread that contends for the heap its own arena (up to
//! eight per core) and returns freed memory to the system only from the top
//! of each arena. A monitor that parses a large batch now and then would
//! keep every arena at its peak for good. Two arenas are plenty for a host
//! whose hot path is one store thread and a small Tokio pool, and trimming
//! after each compaction hands back what the last burst left behind.
//!
//! The binary is large (DuckDB and wasmtime are in it), and start-up runs
//! a lot of it once: DuckDB registers its whole function catalogue, plugins
//! are compiled or loaded, the config is parsed. Linux maps code 64 KiB
//! around each page touched, so start-up leaves about 45 MiB of the binary
//! in the resident set, most of it never run again. Once started, the
//! host asks the kernel to drop those pages; what the tick, the API and
//! compaction use comes back on first touch (a minor fault while the file
//! is in the page cache), and the resident set is then the working set.
//! `build.rs` has the linker place that working set's functions together,
//! so it fills few pages.

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

/// Drops the executable's read-only pages from the resident set; see the
/// module comment. Only `perfwatch serve` calls it, once started: an
/// application embedding the monitor keeps its pages as it likes.
pub fn release_startup_pages() {
    #[cfg(target_os = "linux")]
    {
        let (Ok(exe), Ok(maps)) = (
            std::fs::read_link("/proc/self/exe"),
            std::fs::read_to_string("/proc/self/maps"),
        ) else {
            return;
        };
        let mut released = 0usize;
        for (start, len) in maps.lines().filter_map(|l| read_only_mapping_of(l, &exe)) {
            // SAFETY: the range is a whole read-only file mapping of this
            // process, taken from /proc/self/maps; MADV_PAGEOUT only evicts
            // clean pages, which fault back in unchanged when next touched.
            if unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_PAGEOUT) } == 0 {
                released += len;
            }
        }
        tracing::debug!(
            mapped_bytes = released,
            "start-up pages of the binary released"
        );
    }
}

/// `(start, length)` of a `/proc/self/maps` line that maps `exe` without
/// write permission (text and read-only data; written pages are private
/// copies and stay).
#[cfg(target_os = "linux")]
fn read_only_mapping_of(line: &str, exe: &std::path::Path) -> Option<(usize, usize)> {
    let mut fields = line.split_whitespace();
    let range = fields.next()?;
    let perms = fields.next()?;
    let path = fields.nth(3)?;
    if perms.contains('w') || std::path::Path::new(path) != exe {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    Some((start, end.checked_sub(start)?))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn only_read_only_mappings_of_the_binary_are_picked() {
        let exe = std::path::Path::new("/usr/bin/perfwatch");
        let line = |perms: &str, path: &str| {
            format!("55d0a1000000-55d0a1010000 {perms} 00000000 fe:00 123   {path}")
        };
        assert_eq!(
            read_only_mapping_of(&line("r-xp", "/usr/bin/perfwatch"), exe),
            Some((0x55d0_a100_0000, 0x10000))
        );
        assert_eq!(
            read_only_mapping_of(&line("rw-p", "/usr/bin/perfwatch"), exe),
            None
        );
        assert_eq!(
            read_only_mapping_of(&line("r-xp", "/usr/lib/libc.so.6"), exe),
            None
        );
        assert_eq!(
            read_only_mapping_of("7ffd0000-7ffd1000 rw-p 00000000 00:00 0", exe),
            None
        );
    }

    /// This process's file-backed resident set, in kB.
    fn rss_file_kb() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("RssFile:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    }

    #[test]
    fn releasing_the_start_up_pages_shrinks_the_resident_set() {
        let before = rss_file_kb();
        release_startup_pages();
        let after = rss_file_kb();
        // The test binary carries DuckDB too: megabytes of it are resident
        // by now, and code keeps running after its pages were dropped.
        assert!(
            after < before,
            "RssFile {before} kB before, {after} kB after"
        );
    }
}
