//! Parsers for `/proc/loadavg` and `/proc/pressure/*`: pure functions over the file text.

/// The numbers in `/proc/loadavg`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LoadAvg {
    pub(crate) load1: f64,
    pub(crate) load5: f64,
    pub(crate) load15: f64,
    /// Tasks runnable right now (running or waiting for a CPU).
    pub(crate) runnable_tasks: u64,
    /// All tasks (threads included) that exist right now.
    pub(crate) total_tasks: u64,
}

/// Parses `/proc/loadavg`: `load1 load5 load15 runnable/total last_pid`.
pub(crate) fn parse_loadavg(text: &str) -> Result<LoadAvg, String> {
    let mut fields = text.split_whitespace();
    let mut next = |name: &str| {
        fields
            .next()
            .ok_or_else(|| format!("/proc/loadavg has no {name} field: {text:?}"))
    };
    let load1 = parse_finite(next("load1")?, "/proc/loadavg load1")?;
    let load5 = parse_finite(next("load5")?, "/proc/loadavg load5")?;
    let load15 = parse_finite(next("load15")?, "/proc/loadavg load15")?;
    let tasks = next("runnable/total")?;
    let (runnable, total) = tasks
        .split_once('/')
        .ok_or_else(|| format!("/proc/loadavg task field is not runnable/total: {tasks:?}"))?;
    let count = |value: &str| {
        value
            .parse::<u64>()
            .map_err(|err| format!("/proc/loadavg task count {value:?}: {err}"))
    };
    Ok(LoadAvg {
        load1,
        load5,
        load15,
        runnable_tasks: count(runnable)?,
        total_tasks: count(total)?,
    })
}

/// The 10-second averages in one `/proc/pressure/<resource>` file, in percent
/// of wall time during which some (or all) non-idle tasks were stalled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pressure {
    pub(crate) some_avg10: f64,
    /// Absent before Linux 5.13 for `cpu`; `memory` and `io` always have it.
    pub(crate) full_avg10: Option<f64>,
}

/// Parses a pressure file, whose lines read
/// `some avg10=0.00 avg60=0.00 avg300=0.00 total=0` (and the same for `full`).
pub(crate) fn parse_pressure(text: &str) -> Result<Pressure, String> {
    let mut some = None;
    let mut full = None;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let slot = match fields.next() {
            Some("some") => &mut some,
            Some("full") => &mut full,
            // Unknown lines may be added by future kernels; they do not make
            // the lines we know less valid.
            _ => continue,
        };
        let avg10 = fields
            .find_map(|field| field.strip_prefix("avg10="))
            .ok_or_else(|| format!("pressure line has no avg10: {line:?}"))?;
        *slot = Some(parse_finite(avg10, "pressure avg10")?);
    }
    let some_avg10 = some.ok_or_else(|| format!("pressure file has no `some` line: {text:?}"))?;
    Ok(Pressure {
        some_avg10,
        full_avg10: full,
    })
}

/// `f64::from_str` accepts `inf` and `NaN`, which the WIT contract forbids in a sample.
fn parse_finite(text: &str, what: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err(format!("{what} is not finite: {text:?}")),
        Err(err) => Err(format!("{what} {text:?}: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadavg_from_a_busy_machine() {
        assert_eq!(
            parse_loadavg("2.47 1.39 0.57 3/101 7840\n"),
            Ok(LoadAvg {
                load1: 2.47,
                load5: 1.39,
                load15: 0.57,
                runnable_tasks: 3,
                total_tasks: 101
            })
        );
    }

    #[test]
    fn loadavg_with_large_counts() {
        assert_eq!(
            parse_loadavg("31.06 28.90 27.44 42/123456 4194303\n"),
            Ok(LoadAvg {
                load1: 31.06,
                load5: 28.90,
                load15: 27.44,
                runnable_tasks: 42,
                total_tasks: 123_456,
            })
        );
    }

    #[test]
    fn loadavg_errors_name_the_field() {
        assert_eq!(
            parse_loadavg(""),
            Err(r#"/proc/loadavg has no load1 field: """#.to_owned())
        );
        assert_eq!(
            parse_loadavg("0.1 0.2 0.3\n"),
            Err(r#"/proc/loadavg has no runnable/total field: "0.1 0.2 0.3\n""#.to_owned())
        );
        assert_eq!(
            parse_loadavg("0.1 0.2 0.3 7 99\n"),
            Err(r#"/proc/loadavg task field is not runnable/total: "7""#.to_owned())
        );
        assert_eq!(
            parse_loadavg("0.1 x 0.3 1/2 99\n"),
            Err(r#"/proc/loadavg load5 "x": invalid float literal"#.to_owned())
        );
        assert_eq!(
            parse_loadavg("0.1 0.2 0.3 1/-2 99\n"),
            Err(r#"/proc/loadavg task count "-2": invalid digit found in string"#.to_owned())
        );
    }

    #[test]
    fn loadavg_rejects_values_the_contract_forbids() {
        assert_eq!(
            parse_loadavg("NaN 0.2 0.3 1/2 99\n"),
            Err(r#"/proc/loadavg load1 is not finite: "NaN""#.to_owned())
        );
    }

    #[test]
    fn cpu_pressure_from_linux_6() {
        let text = "some avg10=3.17 avg60=24.63 avg300=13.15 total=53397783\n\
                    full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert_eq!(
            parse_pressure(text),
            Ok(Pressure {
                some_avg10: 3.17,
                full_avg10: Some(0.0)
            })
        );
    }

    #[test]
    fn cpu_pressure_before_linux_5_13_has_no_full_line() {
        let text = "some avg10=12.50 avg60=8.02 avg300=3.33 total=981234\n";
        assert_eq!(
            parse_pressure(text),
            Ok(Pressure {
                some_avg10: 12.5,
                full_avg10: None
            })
        );
    }

    #[test]
    fn io_pressure_with_both_lines() {
        let text = "some avg10=1.25 avg60=0.07 avg300=0.16 total=1823259\n\
                    full avg10=0.75 avg60=0.01 avg300=0.11 total=1348138\n";
        assert_eq!(
            parse_pressure(text),
            Ok(Pressure {
                some_avg10: 1.25,
                full_avg10: Some(0.75)
            })
        );
    }

    #[test]
    fn pressure_errors_say_what_is_missing() {
        assert_eq!(
            parse_pressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
            Err(r#"pressure file has no `some` line: "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n""#
                .to_owned())
        );
        assert_eq!(
            parse_pressure("some avg60=0.00 total=0\n"),
            Err(r#"pressure line has no avg10: "some avg60=0.00 total=0""#.to_owned())
        );
        assert_eq!(
            parse_pressure("some avg10=abc\n"),
            Err(r#"pressure avg10 "abc": invalid float literal"#.to_owned())
        );
    }
}
