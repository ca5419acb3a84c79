//! The process collector: CPU, memory, threads and open files of the processes the operator names, read from the host's `/proc`.
//!
//! # Config
//!
//! ```toml
//! [[plugins]]
//! name = "process"
//! read_paths = ["/proc"]
//! config = { names = ["postgres", "node"], pids = [1] }
//! ```
//!
//! - `names`: processes to watch by name. A process matches a name when its
//!   command name (`comm`) or the last path component of its `argv[0]` equals
//!   it. The kernel truncates `comm` to 15 bytes, so a longer name also
//!   matches a `comm` equal to its first 15 bytes.
//! - `pids`: processes to watch by pid, labelled with their `comm`.
//!
//! At least one of the two must be non-empty. A process both named and
//! listed by pid is reported once, under its configured name; one that
//! matches several names is reported under the first whose `comm` matches,
//! else the first whose `argv[0]` does.
//!
//! # Metrics
//!
//! Per process, labelled `name` and `pid`: `process.cpuUsage` (% of one
//! core, from the second tick on), `process.memoryRss` (bytes),
//! `process.threads` and `process.openFds` (absent when `/proc/<pid>/fd` is
//! not readable, as it is not for other users' processes unless the host
//! runs as root). Per configured name, labelled `name`: `process.count`,
//! which is 0 when nothing matches, so "my daemon is gone" can be alerted on.
//!
//! A process that does not exist, or vanishes while being read, is simply
//! not reported. Only an unreadable `/proc` is an error.
//!
//! Each series is declared once per instance and reported as a reading; the
//! handles of processes that are gone are forgotten at the next tick. Pids
//! that come and go add up in the host's per-instance table of declared
//! series; once it is full, new series are reported as samples.

mod parse;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::Mutex;

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{
    Collection, Collector, ConfigError, ConfigInfo, Handles, Sample, SeriesDescription,
    export_collector,
};

use parse::Stat;

/// Clock ticks per second of `utime` and `stime`. Linux reports them in
/// USER_HZ, which is 100 on every architecture perfwatch runs on (x86,
/// arm, arm64, riscv) whatever the kernel's own tick rate. A wasm guest
/// cannot ask `sysconf(_SC_CLK_TCK)`, so the value is assumed, not read.
const USER_HZ: u64 = 100;

/// Where the host's `/proc` is mounted inside the plugin.
const PROC: &str = "/proc";

/// The plugin's `config` table.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    /// Names to match against `comm` and the basename of `argv[0]`.
    #[serde(default)]
    names: Vec<String>,
    /// Process ids to watch.
    #[serde(default)]
    pids: Vec<u32>,
}

impl Options {
    /// What serde cannot check; every problem, each naming its key.
    fn problems(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        if self.names.is_empty() && self.pids.is_empty() {
            problems.push(ConfigError::new(
                "",
                "the process plugin watches nothing",
                "`names = [...]` and/or `pids = [...]`",
            ));
        }
        for (index, name) in self.names.iter().enumerate() {
            if name.is_empty() {
                problems.push(ConfigError::new(
                    format!("names[{index}]"),
                    "empty name",
                    "a process name",
                ));
            }
        }
        problems
    }

    /// The first problem as the sentence `collect` fails with.
    fn check(&self) -> Result<(), String> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem.to_string()),
            None => Ok(()),
        }
    }
}

/// Read access to a `/proc`, so tests can stand in for the real one.
trait ProcFs {
    /// Pids of all processes (the numeric entries of `/proc`).
    fn pids(&self) -> io::Result<Vec<u32>>;
    /// Contents of `/proc/<pid>/<file>`.
    fn read(&self, pid: u32, file: &str) -> io::Result<Vec<u8>>;
    /// Entries of `/proc/<pid>/fd`.
    fn count_fds(&self, pid: u32) -> io::Result<usize>;
}

/// The `/proc` the host granted.
struct RealProc;

impl ProcFs for RealProc {
    fn pids(&self) -> io::Result<Vec<u32>> {
        let mut pids = Vec::new();
        for entry in std::fs::read_dir(PROC)? {
            if let Some(pid) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) {
                pids.push(pid);
            }
        }
        Ok(pids)
    }

    fn read(&self, pid: u32, file: &str) -> io::Result<Vec<u8>> {
        std::fs::read(format!("{PROC}/{pid}/{file}"))
    }

    fn count_fds(&self, pid: u32) -> io::Result<usize> {
        // An entry that fails is a descriptor closed while the directory
        // was being listed (the host's own, typically): no longer open, so
        // not counted, rather than failing the whole count.
        Ok(std::fs::read_dir(format!("{PROC}/{pid}/fd"))?
            .filter(Result::is_ok)
            .count())
    }
}

/// CPU time of one process at one moment, to difference against the next tick.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CpuReading {
    /// Identifies the process together with the pid, so a reused pid is not
    /// differenced against its predecessor.
    start_time: u64,
    /// `utime + stime`, in [`USER_HZ`] ticks.
    ticks: u64,
    /// Wall clock of the reading, epoch milliseconds.
    at_ms: i64,
}

/// The previous tick's CPU readings by pid.
type CpuHistory = BTreeMap<u32, CpuReading>;

/// Survives between calls because the host reuses the instance; lost (and
/// so one tick without `process.cpuUsage`) only when the instance is replaced.
static CPU_HISTORY: Mutex<CpuHistory> = Mutex::new(BTreeMap::new());

/// The handles of the series this instance declared; only this tick's are
/// kept, so the cache is bounded by what is watched.
static SERIES: Handles<Series> = Handles::new();

struct Process;

impl Collector for Process {
    fn collect() -> Result<Collection, String> {
        let options: Options = perfwatch_sdk::config()?;
        // A poisoned lock only means an earlier call panicked mid-update;
        // the worst left behind is one stale reading.
        let mut history = CPU_HISTORY.lock().unwrap_or_else(|err| err.into_inner());
        let values = measure(&options, &RealProc, perfwatch_sdk::now_ms(), &mut history)?;
        let mut collection = Collection::new();
        let mut seen = BTreeSet::new();
        for Value { series, value } in values {
            match SERIES.get_or_declare(series.clone(), || series.description()) {
                Ok(handle) => {
                    collection.reading(handle, value);
                }
                // The host caps the series one instance may declare, and
                // pids that come and go add up over a long life: past the
                // cap, values go as full samples rather than not at all.
                Err(problem) => {
                    perfwatch_sdk::debug!("{problem}; reporting {series:?} as a sample");
                    collection.sample(series.sample(value));
                }
            }
            seen.insert(series);
        }
        SERIES.retain(|series| seen.contains(series));
        Ok(collection)
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config_with::<Options>(config, &[], Options::problems)
    }
}

export_collector!(Process);

/// One series this plugin reports: a metric of one process (`pid` set) or
/// of one configured name (`process.count`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    metric: &'static str,
    unit: &'static str,
    name: String,
    pid: Option<u32>,
}

impl Series {
    fn description(&self) -> SeriesDescription {
        let description = SeriesDescription::gauge(self.metric)
            .unit(self.unit)
            .label("name", self.name.as_str());
        match self.pid {
            Some(pid) => description.label("pid", pid.to_string()),
            None => description,
        }
    }

    /// The same series as a sample of `value`, for when it cannot be declared.
    fn sample(&self, value: f64) -> Sample {
        let description = self.description();
        Sample {
            labels: description.labels,
            ..Sample::gauge(description.metric, value).unit(description.unit)
        }
    }
}

/// A value measured this tick, and its series.
#[derive(Debug, Clone, PartialEq)]
struct Value {
    series: Series,
    value: f64,
}

/// One process chosen for reporting, and the `name` label it is reported under.
struct Watched {
    pid: u32,
    name: String,
    stat: Stat,
}

/// Everything one tick reports. `history` holds the previous tick's CPU
/// readings and is replaced by this tick's.
fn measure(
    options: &Options,
    proc: &impl ProcFs,
    now_ms: i64,
    history: &mut CpuHistory,
) -> Result<Vec<Value>, String> {
    options.check()?;
    // Listed even when only pids are configured: it is how a missing grant
    // shows up, where a missing /proc/<pid> would look like a gone process.
    let all_pids = proc.pids().map_err(|err| {
        format!(
            "cannot list {PROC} ({err}): the process plugin needs read_paths = [\"/proc\"] granted"
        )
    })?;

    let mut watched: Vec<Watched> = Vec::new();
    let mut counts: Vec<(&str, u64)> = options.names.iter().map(|n| (n.as_str(), 0)).collect();
    if !options.names.is_empty() {
        for &pid in &all_pids {
            let Some(stat) = read_stat(proc, pid) else {
                continue;
            };
            let by_comm = counts
                .iter()
                .position(|(name, _)| name_matches(name, &stat.comm, None));
            // cmdline is read only when comm decides nothing: one read per
            // process instead of two, on machines with thousands of them.
            let matched = by_comm.or_else(|| {
                let argv0 = proc
                    .read(pid, "cmdline")
                    .ok()
                    .and_then(|cmdline| parse::argv0_basename(&cmdline));
                counts
                    .iter()
                    .position(|(name, _)| name_matches(name, &stat.comm, argv0.as_deref()))
            });
            let Some(slot) = matched.map(|index| &mut counts[index]) else {
                continue;
            };
            slot.1 += 1;
            watched.push(Watched {
                pid,
                name: slot.0.to_owned(),
                stat,
            });
        }
    }
    for &pid in &options.pids {
        if watched.iter().any(|w| w.pid == pid) {
            continue;
        }
        if let Some(stat) = read_stat(proc, pid) {
            watched.push(Watched {
                pid,
                name: stat.comm.clone(),
                stat,
            });
        }
    }

    let mut values = Vec::new();
    let mut readings = CpuHistory::new();
    for process in &watched {
        let reading = CpuReading {
            start_time: process.stat.start_time,
            ticks: process.stat.utime + process.stat.stime,
            at_ms: now_ms,
        };
        let mut push = |metric, unit, value| {
            let series = Series {
                metric,
                unit,
                name: process.name.clone(),
                pid: Some(process.pid),
            };
            values.push(Value { series, value });
        };
        if let Some(percent) = history
            .get(&process.pid)
            .and_then(|previous| cpu_percent(previous, &reading))
        {
            push("process.cpuUsage", "%", percent);
        }
        readings.insert(process.pid, reading);
        match proc
            .read(process.pid, "status")
            .map(|bytes| parse::parse_status_rss(&String::from_utf8_lossy(&bytes)))
        {
            Ok(Ok(Some(bytes))) => push("process.memoryRss", "bytes", bytes as f64),
            Ok(Ok(None)) => {}
            Ok(Err(problem)) => {
                perfwatch_sdk::debug!("pid {}: {problem}", process.pid);
            }
            Err(err) => perfwatch_sdk::debug!("pid {}: cannot read status: {err}", process.pid),
        }
        push("process.threads", "threads", process.stat.threads as f64);
        match proc.count_fds(process.pid) {
            Ok(count) => push("process.openFds", "fds", count as f64),
            // Another user's process, unless the host runs as root.
            Err(err) => perfwatch_sdk::debug!("pid {}: cannot list fd: {err}", process.pid),
        }
    }
    for (name, count) in counts {
        let series = Series {
            metric: "process.count",
            unit: "processes",
            name: name.to_owned(),
            pid: None,
        };
        values.push(Value {
            series,
            value: count as f64,
        });
    }
    // Processes not seen this tick are gone; keeping only this tick's
    // readings also bounds the history by what is watched.
    *history = readings;
    Ok(values)
}

/// `/proc/<pid>/stat`, or `None` when the process is gone (or its stat is
/// unusable, which is logged: it says more about the kernel than the process).
fn read_stat(proc: &impl ProcFs, pid: u32) -> Option<Stat> {
    let bytes = match proc.read(pid, "stat") {
        Ok(bytes) => bytes,
        Err(err) => {
            if err.kind() != io::ErrorKind::NotFound {
                perfwatch_sdk::debug!("pid {pid}: cannot read stat: {err}");
            }
            return None;
        }
    };
    parse::parse_stat(&String::from_utf8_lossy(&bytes))
        .map_err(|problem| perfwatch_sdk::debug!("pid {pid}: {problem}"))
        .ok()
}

/// Whether a process with `comm` and `argv0` (basename) matches `name`.
fn name_matches(name: &str, comm: &str, argv0: Option<&str>) -> bool {
    /// `comm` is truncated to TASK_COMM_LEN - 1 bytes by the kernel.
    const COMM_MAX: usize = 15;
    let truncated = name.get(..COMM_MAX).unwrap_or(name);
    comm == name || (name.len() > COMM_MAX && comm == truncated) || argv0 == Some(name)
}

/// CPU use between two readings of the same process, in percent of one
/// core; `None` when they are not comparable (another process on a reused
/// pid, no time passed, or a counter that went backwards).
fn cpu_percent(previous: &CpuReading, now: &CpuReading) -> Option<f64> {
    if previous.start_time != now.start_time || now.at_ms <= previous.at_ms {
        return None;
    }
    let ticks = now.ticks.checked_sub(previous.ticks)?;
    let cpu_ms = ticks as f64 * 1000.0 / USER_HZ as f64;
    let wall_ms = (now.at_ms - previous.at_ms) as f64;
    Some(cpu_ms / wall_ms * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One process in a fake `/proc`.
    #[derive(Clone)]
    struct FakeProcess {
        pid: u32,
        comm: &'static str,
        cmdline: &'static [u8],
        ticks: (u64, u64),
        threads: u64,
        start_time: u64,
        rss_kib: Option<u64>,
        fds: Option<usize>,
    }

    impl FakeProcess {
        fn new(pid: u32, comm: &'static str, cmdline: &'static [u8]) -> Self {
            Self {
                pid,
                comm,
                cmdline,
                ticks: (100, 20),
                threads: 4,
                start_time: 5_000,
                rss_kib: Some(1_024),
                fds: Some(12),
            }
        }
    }

    /// A fake `/proc`; `None` makes listing it fail, like a missing grant.
    struct FakeProc(Option<Vec<FakeProcess>>);

    impl FakeProc {
        fn find(&self, pid: u32) -> io::Result<&FakeProcess> {
            self.0
                .iter()
                .flatten()
                .find(|p| p.pid == pid)
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }
    }

    impl ProcFs for FakeProc {
        fn pids(&self) -> io::Result<Vec<u32>> {
            match &self.0 {
                Some(processes) => Ok(processes.iter().map(|p| p.pid).collect()),
                None => Err(io::Error::from(io::ErrorKind::NotFound)),
            }
        }

        fn read(&self, pid: u32, file: &str) -> io::Result<Vec<u8>> {
            let p = self.find(pid)?;
            let text = match file {
                "stat" => format!(
                    "{} ({}) S 1 {0} {0} 0 -1 4194560 2890 0 0 0 {} {} 0 0 20 0 {} 0 {} 9158656 311 0\n",
                    p.pid, p.comm, p.ticks.0, p.ticks.1, p.threads, p.start_time
                ),
                "status" => match p.rss_kib {
                    Some(kib) => format!(
                        "Name:\t{}\nVmRSS:\t{kib:>8} kB\nThreads:\t{}\n",
                        p.comm, p.threads
                    ),
                    None => format!("Name:\t{}\nThreads:\t{}\n", p.comm, p.threads),
                },
                "cmdline" => return Ok(p.cmdline.to_vec()),
                _ => return Err(io::Error::from(io::ErrorKind::NotFound)),
            };
            Ok(text.into_bytes())
        }

        fn count_fds(&self, pid: u32) -> io::Result<usize> {
            self.find(pid)?
                .fds
                .ok_or_else(|| io::Error::from(io::ErrorKind::PermissionDenied))
        }
    }

    fn options(names: &[&str], pids: &[u32]) -> Options {
        Options {
            names: names.iter().map(|n| n.to_string()).collect(),
            pids: pids.to_vec(),
        }
    }

    /// Values as `metric{labels} value unit` lines, for compact
    /// expectations; the labels are the declared series'.
    fn lines(values: &[Value]) -> Vec<String> {
        values
            .iter()
            .map(|v| {
                let description = v.series.description();
                let labels: Vec<String> = description
                    .labels
                    .iter()
                    .map(|l| format!("{}={}", l.key, l.value))
                    .collect();
                format!(
                    "{}{{{}}} {} {}",
                    description.metric,
                    labels.join(","),
                    v.value,
                    description.unit
                )
            })
            .collect()
    }

    fn postgres_box() -> Vec<FakeProcess> {
        vec![
            FakeProcess::new(1, "systemd", b"/sbin/init\0splash\0"),
            FakeProcess {
                rss_kib: None,
                fds: Some(0),
                ..FakeProcess::new(2, "kthreadd", b"")
            },
            FakeProcess {
                rss_kib: Some(27_428),
                fds: Some(9),
                threads: 1,
                ..FakeProcess::new(
                    812,
                    "postgres",
                    b"/usr/lib/postgresql/16/bin/postgres\0-D\0/var/lib/pg\0",
                )
            },
            FakeProcess {
                rss_kib: Some(5_120),
                fds: None,
                threads: 1,
                ..FakeProcess::new(815, "postgres", b"postgres: checkpointer \0")
            },
            FakeProcess::new(900, "MainThread", b"/usr/bin/node\0server.js\0"),
        ]
    }

    #[test]
    fn names_match_comm_or_argv0_and_count_per_name() {
        let proc = FakeProc(Some(postgres_box()));
        let mut history = CpuHistory::new();
        let samples = measure(
            &options(&["postgres", "node", "redis-server"], &[]),
            &proc,
            1_000,
            &mut history,
        )
        .unwrap();
        assert_eq!(
            lines(&samples),
            [
                "process.memoryRss{name=postgres,pid=812} 28086272 bytes",
                "process.threads{name=postgres,pid=812} 1 threads",
                "process.openFds{name=postgres,pid=812} 9 fds",
                // Its fd directory is another user's: no openFds, no error.
                "process.memoryRss{name=postgres,pid=815} 5242880 bytes",
                "process.threads{name=postgres,pid=815} 1 threads",
                // comm is the main thread's name; argv[0] says node.
                "process.memoryRss{name=node,pid=900} 1048576 bytes",
                "process.threads{name=node,pid=900} 4 threads",
                "process.openFds{name=node,pid=900} 12 fds",
                "process.count{name=postgres} 2 processes",
                "process.count{name=node} 1 processes",
                "process.count{name=redis-server} 0 processes",
            ]
        );
        assert_eq!(history.len(), 3, "readings kept for the next tick");
    }

    #[test]
    fn pids_are_labelled_with_comm_and_reported_once() {
        let proc = FakeProc(Some(postgres_box()));
        let samples = measure(
            &options(&["postgres"], &[2, 812, 4242]),
            &proc,
            1_000,
            &mut CpuHistory::new(),
        )
        .unwrap();
        let lines = lines(&samples);
        // 812 came in by name already; 4242 does not exist; kthreadd has no RSS.
        assert_eq!(
            lines,
            [
                "process.memoryRss{name=postgres,pid=812} 28086272 bytes",
                "process.threads{name=postgres,pid=812} 1 threads",
                "process.openFds{name=postgres,pid=812} 9 fds",
                "process.memoryRss{name=postgres,pid=815} 5242880 bytes",
                "process.threads{name=postgres,pid=815} 1 threads",
                "process.threads{name=kthreadd,pid=2} 4 threads",
                "process.openFds{name=kthreadd,pid=2} 0 fds",
                "process.count{name=postgres} 2 processes",
            ]
        );
    }

    #[test]
    fn cpu_usage_from_the_second_tick() {
        let mut processes = postgres_box();
        let mut history = CpuHistory::new();
        let opts = options(&[], &[812]);
        let first = measure(
            &opts,
            &FakeProc(Some(processes.clone())),
            10_000,
            &mut history,
        )
        .unwrap();
        assert!(first.iter().all(|v| v.series.metric != "process.cpuUsage"));

        // 150 ticks (1.5 s of CPU) over 2 s of wall time: 75% of one core.
        processes[2].ticks = (100 + 120, 20 + 30);
        let second = measure(&opts, &FakeProc(Some(processes)), 12_000, &mut history).unwrap();
        assert_eq!(
            lines(&second)[0],
            "process.cpuUsage{name=postgres,pid=812} 75 %"
        );
    }

    #[test]
    fn reused_pid_is_not_differenced() {
        let mut processes = postgres_box();
        let mut history = CpuHistory::new();
        let opts = options(&["postgres"], &[]);
        measure(
            &opts,
            &FakeProc(Some(processes.clone())),
            10_000,
            &mut history,
        )
        .unwrap();
        processes[2].start_time += 1;
        processes[2].ticks = (1, 1);
        let samples = measure(&opts, &FakeProc(Some(processes)), 11_000, &mut history).unwrap();
        let cpu: Vec<String> = lines(&samples)
            .into_iter()
            .filter(|l| l.starts_with("process.cpuUsage"))
            .collect();
        assert_eq!(cpu, ["process.cpuUsage{name=postgres,pid=815} 0 %"]);
    }

    #[test]
    fn vanished_process_is_forgotten_not_an_error() {
        let mut processes = postgres_box();
        let mut history = CpuHistory::new();
        let opts = options(&["postgres"], &[]);
        measure(
            &opts,
            &FakeProc(Some(processes.clone())),
            10_000,
            &mut history,
        )
        .unwrap();
        processes.retain(|p| p.pid != 815);
        let samples = measure(&opts, &FakeProc(Some(processes)), 11_000, &mut history).unwrap();
        assert!(lines(&samples).contains(&"process.count{name=postgres} 1 processes".to_owned()));
        assert_eq!(history.keys().copied().collect::<Vec<_>>(), [812]);
    }

    #[test]
    fn comm_match_wins_over_an_earlier_argv0_match() {
        let proc = FakeProc(Some(vec![FakeProcess::new(
            900,
            "MainThread",
            b"/usr/bin/node\0server.js\0",
        )]));
        let samples = measure(
            &options(&["node", "MainThread"], &[]),
            &proc,
            0,
            &mut CpuHistory::new(),
        )
        .unwrap();
        let counts: Vec<String> = lines(&samples)
            .into_iter()
            .filter(|line| line.starts_with("process.count"))
            .collect();
        assert_eq!(
            counts,
            [
                "process.count{name=node} 0 processes",
                "process.count{name=MainThread} 1 processes"
            ]
        );
    }

    #[test]
    fn an_undeclared_series_is_the_same_sample() {
        let series = Series {
            metric: "process.threads",
            unit: "threads",
            name: "postgres".into(),
            pid: Some(812),
        };
        let handle = series.description().declare().unwrap();
        let mut collection = Collection::new();
        collection.reading(handle, 4.0);
        assert_eq!(collection.to_samples(), vec![series.sample(4.0)]);
    }

    #[test]
    fn long_names_match_truncated_comm() {
        assert!(name_matches("systemd-journald", "systemd-journal", None));
        assert!(!name_matches("systemd-journal", "systemd-journ", None));
        assert!(name_matches("node", "MainThread", Some("node")));
        assert!(!name_matches("node", "nodejs", Some("nodejs")));
    }

    #[test]
    fn cpu_percent_edge_cases() {
        let at = |ticks, at_ms| CpuReading {
            start_time: 7,
            ticks,
            at_ms,
        };
        assert_eq!(cpu_percent(&at(0, 0), &at(100, 1_000)), Some(100.0));
        assert_eq!(
            cpu_percent(&at(0, 0), &at(400, 1_000)),
            Some(400.0),
            "four busy cores"
        );
        assert_eq!(
            cpu_percent(&at(0, 1_000), &at(10, 1_000)),
            None,
            "no time passed"
        );
        assert_eq!(
            cpu_percent(&at(50, 0), &at(10, 1_000)),
            None,
            "went backwards"
        );
    }

    #[test]
    fn unreadable_proc_asks_for_the_grant() {
        let err = measure(
            &options(&[], &[1]),
            &FakeProc(None),
            0,
            &mut CpuHistory::new(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            "cannot list /proc (entity not found): the process plugin needs read_paths = [\"/proc\"] granted"
        );
    }

    #[test]
    fn config_must_name_something() {
        assert_eq!(
            perfwatch_sdk::parse_config::<Options>("{}"),
            Ok(options(&[], &[]))
        );
        let err = measure(
            &options(&[], &[]),
            &FakeProc(Some(vec![])),
            0,
            &mut CpuHistory::new(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            "invalid plugin config: the process plugin watches nothing, expected `names = [...]` and/or `pids = [...]`"
        );
        assert_eq!(
            options(&["ok", ""], &[]).check(),
            Err(
                "invalid plugin config key `names[1]`: empty name, expected a process name"
                    .to_owned()
            )
        );
        assert_eq!(
            Process::validate_config(r#"{"names": ["", "x", ""]}"#),
            Err(vec![
                ConfigError::new("names[0]", "empty name", "a process name"),
                ConfigError::new("names[2]", "empty name", "a process name"),
            ])
        );
        assert_eq!(
            Process::validate_config("{}"),
            Err(vec![ConfigError::new(
                "",
                "the process plugin watches nothing",
                "`names = [...]` and/or `pids = [...]`"
            )])
        );
        assert_eq!(
            Process::validate_config(r#"{"pids": [1]}"#),
            Ok(ConfigInfo::with_secret_keys(&[]))
        );
        assert_eq!(
            perfwatch_sdk::parse_config::<Options>(r#"{"names": ["x"], "pids": [1, -2]}"#),
            Err(
                "invalid plugin config key `pids[1]`: invalid value: integer `-2`, expected an integer from 0 to 4294967295"
                    .to_owned()
            )
        );
        assert_eq!(
            perfwatch_sdk::parse_config::<Options>(r#"{"name": ["x"]}"#),
            Err("invalid plugin config key `name`: unknown field `name`, expected `names` or `pids`".to_owned())
        );
    }

    /// This test process, through the machine's real `/proc`.
    #[cfg(target_os = "linux")]
    #[test]
    fn measures_itself_through_the_real_proc() {
        let opts = options(&[], &[std::process::id()]);
        let mut history = CpuHistory::new();
        measure(
            &opts,
            &RealProc,
            perfwatch_sdk::now_ms() - 1_000,
            &mut history,
        )
        .unwrap();
        // Burn a little CPU so the delta is usually non-zero.
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        let values = measure(&opts, &RealProc, perfwatch_sdk::now_ms(), &mut history).unwrap();
        let value = |metric: &str| {
            values
                .iter()
                .find(|v| v.series.metric == metric)
                .unwrap_or_else(|| panic!("no {metric} in {values:?}"))
                .value
        };
        assert!(value("process.cpuUsage") >= 0.0);
        assert!(value("process.memoryRss") > 0.0);
        assert!(value("process.threads") >= 1.0);
        assert!(value("process.openFds") >= 1.0);
    }
}
