//! Network byte counters from `/proc/net/dev`.
//!
//! One read of this file holds the same counters as sysinfo's walk over
//! every interface's sysfs directory, for a small fraction of its syscalls
//! and time, which the tick pays every interval.

use std::fs::File;
use std::io::Read;

/// Total received and transmitted bytes over all non-loopback interfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetTotals {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// Reads the totals, or `None` where `/proc/net/dev` does not exist.
pub fn read_totals() -> Option<NetTotals> {
    let mut text = String::new();
    File::open("/proc/net/dev")
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    parse(&text)
}

/// Parses the file's text. The first two lines are headers; each other
/// line is `iface: rx_bytes rx_packets … (8 rx fields) tx_bytes …`.
pub fn parse(text: &str) -> Option<NetTotals> {
    let mut totals = NetTotals {
        rx_bytes: 0,
        tx_bytes: 0,
    };
    for line in text.lines().skip(2) {
        let (iface, counters) = line.split_once(':')?;
        if iface.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = counters
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if fields.len() < 9 {
            return None;
        }
        totals.rx_bytes = totals.rx_bytes.wrapping_add(fields[0]);
        totals.tx_bytes = totals.tx_bytes.wrapping_add(fields[8]);
    }
    Some(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000000    1000    0    0    0     0          0         0  1000000    1000    0    0    0     0       0          0
  eth0: 5000     40    0    0    0     0          0         0     7000      50    0    0    0     0       0          0
  eth1: 1        1    0    0    0     0          0         0     2      1    0    0    0     0       0          0
";

    #[test]
    fn loopback_is_excluded_and_interfaces_are_summed() {
        assert_eq!(
            parse(SAMPLE),
            Some(NetTotals {
                rx_bytes: 5001,
                tx_bytes: 7002
            })
        );
    }

    #[test]
    fn the_real_file_parses_here() {
        if std::path::Path::new("/proc/net/dev").exists() {
            assert!(read_totals().is_some());
        }
    }
}
