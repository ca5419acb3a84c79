//! Parsers for `/proc/<pid>/stat`, `/proc/<pid>/status` and `/proc/<pid>/cmdline`: pure functions over the file contents.

/// The fields of `/proc/<pid>/stat` this plugin uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stat {
    /// The command name (`comm`), at most 15 bytes: the kernel truncates it.
    pub(crate) comm: String,
    /// CPU time spent in user mode, in clock ticks (field 14).
    pub(crate) utime: u64,
    /// CPU time spent in kernel mode, in clock ticks (field 15).
    pub(crate) stime: u64,
    /// Threads in the process (field 20).
    pub(crate) threads: u64,
    /// When the process started, in clock ticks after boot (field 22); with
    /// the pid it identifies a process across ticks even when pids are reused.
    pub(crate) start_time: u64,
}

/// Parses `/proc/<pid>/stat`: `pid (comm) state ppid ...`.
///
/// `comm` may itself contain spaces and parentheses (a process can name
/// itself `a) b (c`), so it runs from the first `(` to the *last* `)`.
pub(crate) fn parse_stat(text: &str) -> Result<Stat, String> {
    let open = text
        .find('(')
        .ok_or_else(|| format!("stat has no `(comm)`: {text:?}"))?;
    let close = text
        .rfind(')')
        .filter(|close| *close > open)
        .ok_or_else(|| format!("stat has no `(comm)`: {text:?}"))?;
    let comm = text[open + 1..close].to_owned();
    // Fields after `comm` start at field 3 (`state`), so field n is at n - 3.
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let field = |number: usize, name: &str| -> Result<u64, String> {
        let raw = rest
            .get(number - 3)
            .ok_or_else(|| format!("stat has no field {number} ({name}): {text:?}"))?;
        raw.parse::<u64>()
            .map_err(|err| format!("stat field {number} ({name}) {raw:?}: {err}"))
    };
    Ok(Stat {
        utime: field(14, "utime")?,
        stime: field(15, "stime")?,
        threads: field(20, "num_threads")?,
        start_time: field(22, "starttime")?,
        comm,
    })
}

/// Resident set size in bytes from `/proc/<pid>/status` (`VmRSS:  2200 kB`).
///
/// `None` when the line is absent, as it is for kernel threads and zombies,
/// which have no memory of their own to report.
pub(crate) fn parse_status_rss(text: &str) -> Result<Option<u64>, String> {
    let Some(line) = text.lines().find(|line| line.starts_with("VmRSS:")) else {
        return Ok(None);
    };
    let mut fields = line["VmRSS:".len()..].split_whitespace();
    let (Some(amount), Some("kB")) = (fields.next(), fields.next()) else {
        return Err(format!("status VmRSS line is not `<n> kB`: {line:?}"));
    };
    let kib: u64 = amount
        .parse()
        .map_err(|err| format!("status VmRSS {amount:?}: {err}"))?;
    // The kernel's "kB" are KiB.
    Ok(Some(kib * 1024))
}

/// The basename of `argv[0]` from `/proc/<pid>/cmdline` (NUL-separated);
/// `None` for kernel threads and zombies, whose cmdline is empty.
pub(crate) fn argv0_basename(cmdline: &[u8]) -> Option<String> {
    let argv0 = cmdline.split(|byte| *byte == 0).next()?;
    let argv0 = String::from_utf8_lossy(argv0);
    // A process that rewrote its argv (`nginx: worker process`) can put
    // spaces into argv[0]; the path part still ends at the last `/`.
    let base = argv0.rsplit('/').next().unwrap_or_default();
    (!base.is_empty()).then(|| base.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_of_a_running_shell() {
        let text = "11594 (bash) S 11585 11594 4955 34816 11600 4194560 2890 13305 0 3 \
                    152 41 27 18 20 0 1 0 732279 9158656 1311 18446744073709551615 \
                    94495781695488 94495781715369 140723528921680 0 0 0 65536 3686404 \
                    1266761467 1 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(
            parse_stat(text),
            Ok(Stat {
                comm: "bash".into(),
                utime: 152,
                stime: 41,
                threads: 1,
                start_time: 732279,
            })
        );
    }

    #[test]
    fn stat_comm_with_spaces_and_parentheses() {
        let text = "4242 (Web Content (x)) R 1 4242 4242 0 -1 4194304 100 0 0 0 \
                    90000 1200 0 0 20 0 57 0 123456 3133440 414 0\n";
        let stat = parse_stat(text).unwrap();
        assert_eq!(stat.comm, "Web Content (x)");
        assert_eq!(stat.utime, 90_000);
        assert_eq!(stat.stime, 1_200);
        assert_eq!(stat.threads, 57);
        assert_eq!(stat.start_time, 123_456);
    }

    #[test]
    fn stat_errors_name_the_field() {
        assert_eq!(
            parse_stat("12 bash S 1"),
            Err(r#"stat has no `(comm)`: "12 bash S 1""#.to_owned())
        );
        assert_eq!(
            parse_stat("12 (bash) S 1 2 3"),
            Err(r#"stat has no field 14 (utime): "12 (bash) S 1 2 3""#.to_owned())
        );
        assert_eq!(
            parse_stat("1 (a) S 0 0 0 0 -1 0 0 0 0 0 x 0 0 0 20 0 1 0 5 0 0"),
            Err(r#"stat field 14 (utime) "x": invalid digit found in string"#.to_owned())
        );
    }

    #[test]
    fn status_rss_in_bytes() {
        let text = "Name:\tpostgres\nUmask:\t0077\nState:\tS (sleeping)\n\
                    VmPeak:\t  226140 kB\nVmSize:\t  226108 kB\nVmHWM:\t   27428 kB\n\
                    VmRSS:\t   27428 kB\nRssAnon:\t    2840 kB\nThreads:\t1\n";
        assert_eq!(parse_status_rss(text), Ok(Some(27_428 * 1024)));
    }

    #[test]
    fn kernel_thread_status_has_no_rss() {
        let text = "Name:\tkworker/0:1-events\nUmask:\t0000\nState:\tI (idle)\nThreads:\t1\n";
        assert_eq!(parse_status_rss(text), Ok(None));
    }

    #[test]
    fn malformed_rss_is_an_error() {
        assert_eq!(
            parse_status_rss("VmRSS:\t12 MB\n"),
            Err(r#"status VmRSS line is not `<n> kB`: "VmRSS:\t12 MB""#.to_owned())
        );
        assert_eq!(
            parse_status_rss("VmRSS:\tlots kB\n"),
            Err(r#"status VmRSS "lots": invalid digit found in string"#.to_owned())
        );
    }

    #[test]
    fn argv0_basenames() {
        assert_eq!(
            argv0_basename(b"/usr/lib/postgresql/16/bin/postgres\0-D\0/var/lib/pg\0"),
            Some("postgres".into())
        );
        assert_eq!(argv0_basename(b"node\0server.js\0"), Some("node".into()));
        assert_eq!(
            argv0_basename(b"nginx: worker process\0"),
            Some("nginx: worker process".into())
        );
        assert_eq!(argv0_basename(b""), None);
        assert_eq!(argv0_basename(b"/usr/bin/\0"), None);
    }
}
