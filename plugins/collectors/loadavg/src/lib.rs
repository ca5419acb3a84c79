//! The loadavg collector: load averages, task counts and pressure stall information read from the host's `/proc`.
//!
//! The host grants this plugin a read-only preopen of its `/proc` at the
//! guest path `/proc` (`read_paths = ["/proc"]`). Everything that can be
//! tested without that grant lives in [`measure`] and the `parse` module.

mod parse;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use perfwatch_sdk::serde::Deserialize;
use perfwatch_sdk::{
    Collection, Collector, ConfigError, ConfigInfo, Handles, SeriesDescription, export_collector,
};

const LOADAVG_PATH: &str = "/proc/loadavg";

/// One gauge this plugin reports: every series it has is one of these,
/// unlabelled, so each is declared once per instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Gauge {
    metric: &'static str,
    unit: &'static str,
}

impl Gauge {
    const fn new(metric: &'static str, unit: &'static str) -> Self {
        Self { metric, unit }
    }

    fn description(self) -> SeriesDescription {
        SeriesDescription::gauge(self.metric).unit(self.unit)
    }
}

const LOAD1: Gauge = Gauge::new("system.load1", "");
const LOAD5: Gauge = Gauge::new("system.load5", "");
const LOAD15: Gauge = Gauge::new("system.load15", "");
const RUNNABLE_TASKS: Gauge = Gauge::new("system.runnableTasks", "");
const TOTAL_TASKS: Gauge = Gauge::new("system.totalTasks", "");

/// One `/proc/pressure` file and the gauges its `avg10` values feed.
struct PressureSource {
    path: &'static str,
    some: Gauge,
    full: Option<Gauge>,
}

/// The pressure files, in the order their values are returned. System-wide
/// `cpu` has no `full` metric: the kernel reports it only so the file has the
/// same shape as the others, and it is always zero outside a cgroup.
const PRESSURE_SOURCES: [PressureSource; 3] = [
    PressureSource {
        path: "/proc/pressure/cpu",
        some: Gauge::new("system.pressureCpuSome", "%"),
        full: None,
    },
    PressureSource {
        path: "/proc/pressure/memory",
        some: Gauge::new("system.pressureMemorySome", "%"),
        full: Some(Gauge::new("system.pressureMemoryFull", "%")),
    },
    PressureSource {
        path: "/proc/pressure/io",
        some: Gauge::new("system.pressureIoSome", "%"),
        full: Some(Gauge::new("system.pressureIoFull", "%")),
    },
];

/// The plugin's `config` table.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
struct Options {
    /// Report pressure stall information when the kernel provides it.
    #[serde(default = "default_pressure")]
    pressure: bool,
}

fn default_pressure() -> bool {
    true
}

/// What one tick measured.
#[derive(Debug, PartialEq)]
struct Measurement {
    values: Vec<(Gauge, f64)>,
    /// Pressure files that exist but could not be used; their values are
    /// left out rather than failing the load averages with them.
    pressure_problems: Vec<String>,
}

struct Loadavg;

/// Whether a pressure problem was already logged at WARN by this instance; a
/// problem that holds every tick would otherwise flood the host log.
static PRESSURE_PROBLEM_WARNED: AtomicBool = AtomicBool::new(false);

/// The handles of the gauges this instance declared.
static SERIES: Handles<Gauge> = Handles::new();

impl Collector for Loadavg {
    fn collect() -> Result<Collection, String> {
        // Parsed every tick: a few bytes of JSON cost less than caching
        // would in code.
        let options: Options = perfwatch_sdk::config()?;
        let measurement = measure(&options, |path| std::fs::read_to_string(path))?;
        for problem in &measurement.pressure_problems {
            if PRESSURE_PROBLEM_WARNED.swap(true, Ordering::Relaxed) {
                perfwatch_sdk::debug!("{problem}");
            } else {
                perfwatch_sdk::warn!("{problem} (set pressure = false to stop reading it)");
            }
        }
        let mut collection = Collection::new();
        for (gauge, value) in measurement.values {
            collection.reading(SERIES.get_or_declare(gauge, || gauge.description())?, value);
        }
        Ok(collection)
    }

    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        perfwatch_sdk::validate_config::<Options>(config, &[])
    }
}

export_collector!(Loadavg);

/// Reads and parses everything one tick reports, through `read` (a file
/// path to its contents) so tests can stand in for `/proc`.
fn measure(
    options: &Options,
    read: impl Fn(&str) -> io::Result<String>,
) -> Result<Measurement, String> {
    let text = read(LOADAVG_PATH).map_err(|err| {
        format!(
            "cannot read {LOADAVG_PATH} ({err}): the loadavg plugin needs read_paths = [\"/proc\"] granted"
        )
    })?;
    let load = parse::parse_loadavg(&text)?;
    // Task counts stay far below 2^53, so the conversion to f64 is exact.
    let mut values = vec![
        (LOAD1, load.load1),
        (LOAD5, load.load5),
        (LOAD15, load.load15),
        (RUNNABLE_TASKS, load.runnable_tasks as f64),
        (TOTAL_TASKS, load.total_tasks as f64),
    ];
    let mut pressure_problems = Vec::new();
    if options.pressure {
        for source in &PRESSURE_SOURCES {
            match pressure_values(source, &read) {
                Ok(found) => values.extend(found),
                Err(problem) => pressure_problems.push(problem),
            }
        }
    }
    Ok(Measurement {
        values,
        pressure_problems,
    })
}

/// The values of one pressure file; none when the kernel has no such file.
fn pressure_values(
    source: &PressureSource,
    read: impl Fn(&str) -> io::Result<String>,
) -> Result<Vec<(Gauge, f64)>, String> {
    let text = match read(source.path) {
        Ok(text) => text,
        // Kernels before 4.20, or built without CONFIG_PSI, have no file:
        // nothing to report, and nothing wrong.
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        // A kernel booted with psi=0 has the files but fails every read.
        Err(err) => return Err(format!("cannot read {} ({err})", source.path)),
    };
    let pressure =
        parse::parse_pressure(&text).map_err(|err| format!("cannot use {}: {err}", source.path))?;
    let mut values = vec![(source.some, pressure.some_avg10)];
    if let (Some(gauge), Some(value)) = (source.full, pressure.full_avg10) {
        values.push((gauge, value));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOADAVG: &str = "2.47 1.39 0.57 3/101 7840\n";
    const CPU: &str = "some avg10=3.17 avg60=24.63 avg300=13.15 total=53397783\n\
                       full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
    const MEMORY: &str = "some avg10=0.50 avg60=0.00 avg300=0.00 total=10\n\
                          full avg10=0.25 avg60=0.00 avg300=0.00 total=5\n";
    const IO: &str = "some avg10=1.25 avg60=0.07 avg300=0.16 total=1823259\n\
                      full avg10=0.75 avg60=0.01 avg300=0.11 total=1348138\n";

    /// A fake `/proc` holding `files`; any other path is missing.
    fn fake_proc(files: &[(&str, &str)]) -> impl Fn(&str) -> io::Result<String> {
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(path, text)| (path.to_string(), text.to_string()))
            .collect();
        move |path| {
            files
                .iter()
                .find(|(known, _)| known == path)
                .map(|(_, text)| text.clone())
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }
    }

    /// Runs `measure` over `files` and compares `metric unit value` lines.
    fn check(options: Options, files: &[(&str, &str)], expected: &[&str]) {
        let measurement = measure(&options, fake_proc(files)).unwrap();
        assert_eq!(measurement.pressure_problems, Vec::<String>::new());
        let actual: Vec<String> = measurement
            .values
            .iter()
            .map(|(gauge, value)| format!("{} {:?} {value}", gauge.metric, gauge.unit))
            .collect();
        assert_eq!(actual, expected);
    }

    const LOAD_LINES: [&str; 5] = [
        r#"system.load1 "" 2.47"#,
        r#"system.load5 "" 1.39"#,
        r#"system.load15 "" 0.57"#,
        r#"system.runnableTasks "" 3"#,
        r#"system.totalTasks "" 101"#,
    ];

    #[test]
    fn everything_present() {
        let files = [
            (LOADAVG_PATH, LOADAVG),
            ("/proc/pressure/cpu", CPU),
            ("/proc/pressure/memory", MEMORY),
            ("/proc/pressure/io", IO),
        ];
        let mut expected = LOAD_LINES.to_vec();
        expected.extend([
            r#"system.pressureCpuSome "%" 3.17"#,
            r#"system.pressureMemorySome "%" 0.5"#,
            r#"system.pressureMemoryFull "%" 0.25"#,
            r#"system.pressureIoSome "%" 1.25"#,
            r#"system.pressureIoFull "%" 0.75"#,
        ]);
        check(Options { pressure: true }, &files, &expected);
    }

    #[test]
    fn kernel_without_psi_reports_load_only() {
        check(
            Options { pressure: true },
            &[(LOADAVG_PATH, LOADAVG)],
            &LOAD_LINES,
        );
    }

    #[test]
    fn pressure_false_skips_pressure_files() {
        let files = [(LOADAVG_PATH, LOADAVG), ("/proc/pressure/cpu", CPU)];
        check(Options { pressure: false }, &files, &LOAD_LINES);
    }

    #[test]
    fn unreadable_loadavg_asks_for_the_grant() {
        let err = measure(&Options { pressure: true }, fake_proc(&[])).unwrap_err();
        assert_eq!(
            err,
            "cannot read /proc/loadavg (entity not found): \
             the loadavg plugin needs read_paths = [\"/proc\"] granted"
        );
    }

    #[test]
    fn malformed_loadavg_is_an_error() {
        let err = measure(
            &Options { pressure: true },
            fake_proc(&[(LOADAVG_PATH, "")]),
        );
        assert_eq!(
            err,
            Err(r#"/proc/loadavg has no load1 field: """#.to_owned())
        );
    }

    #[test]
    fn broken_pressure_file_is_a_problem_not_a_failure() {
        let files = [
            (LOADAVG_PATH, LOADAVG),
            ("/proc/pressure/memory", "garbage\n"),
        ];
        let measurement = measure(&Options { pressure: true }, fake_proc(&files)).unwrap();
        assert_eq!(measurement.values.len(), LOAD_LINES.len());
        assert_eq!(
            measurement.pressure_problems,
            vec![
                r#"cannot use /proc/pressure/memory: pressure file has no `some` line: "garbage\n""#
            ]
        );
    }

    #[test]
    fn psi_disabled_at_boot_is_a_problem_not_a_failure() {
        let read = |path: &str| match path {
            LOADAVG_PATH => Ok(LOADAVG.to_owned()),
            _ => Err(io::Error::from(io::ErrorKind::Unsupported)),
        };
        let measurement = measure(&Options { pressure: true }, read).unwrap();
        assert_eq!(measurement.values.len(), LOAD_LINES.len());
        assert_eq!(measurement.pressure_problems.len(), PRESSURE_SOURCES.len());
        assert_eq!(
            measurement.pressure_problems[0],
            "cannot read /proc/pressure/cpu (unsupported)"
        );
    }

    #[test]
    fn config_defaults_and_rejects_typos() {
        assert_eq!(
            perfwatch_sdk::parse_config("{}"),
            Ok(Options { pressure: true })
        );
        assert_eq!(
            perfwatch_sdk::parse_config(r#"{"pressure": false}"#),
            Ok(Options { pressure: false })
        );
        assert_eq!(
            perfwatch_sdk::parse_config::<Options>(r#"{"presure": false}"#),
            Err(
                "invalid plugin config key `presure`: unknown field `presure`, expected `pressure`"
                    .to_owned()
            )
        );
        assert_eq!(
            Loadavg::validate_config(r#"{"pressure": "yes"}"#),
            Err(vec![ConfigError::new(
                "pressure",
                r#"invalid type: string "yes""#,
                "a boolean"
            )])
        );
        assert_eq!(
            Loadavg::validate_config("{}"),
            Ok(ConfigInfo::with_secret_keys(&[]))
        );
    }

    /// The whole plugin against this machine's real `/proc`, with the SDK's
    /// native stand-in for the host (config `{}`).
    #[cfg(target_os = "linux")]
    #[test]
    fn collects_from_the_real_proc() {
        let samples = Loadavg::collect().unwrap().to_samples();
        let metrics: Vec<&str> = samples
            .iter()
            .map(|sample| sample.metric.as_str())
            .collect();
        assert_eq!(
            metrics[..5],
            [
                "system.load1",
                "system.load5",
                "system.load15",
                "system.runnableTasks",
                "system.totalTasks"
            ]
        );
        assert!(samples.iter().all(|sample| {
            sample.kind == perfwatch_sdk::MetricKind::Gauge
                && sample.labels.is_empty()
                && sample.timestamp_ms.is_none()
                && sample.value.is_finite()
                && sample.value >= 0.0
        }));
    }
}
