//! The core system collector: CPU, memory, disk and network, every tick.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sysinfo::{
    CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, Pid, ProcessRefreshKind,
    ProcessesToUpdate, System,
};

use super::netdev::{self, NetTotals};
use crate::model::Sample;

/// Keeps one sysinfo `System` alive across ticks: CPU usage is a delta
/// between two refreshes, so a fresh `System` per tick would always read 0.
pub struct SystemCollector {
    system: System,
    disks: Disks,
    /// Index into `disks` of the filesystem holding the data directory.
    data_disk: Option<usize>,
    data_dir: PathBuf,
    last_net: Option<(Instant, NetTotals)>,
    own_pid: Option<Pid>,
}

impl SystemCollector {
    /// Prepares the collector; `data_dir` chooses the filesystem whose usage
    /// `system.diskUsage` reports. It primes CPU counters so the first tick
    /// reports usage since start-up rather than a meaningless 0.
    pub fn new(data_dir: &Path) -> Result<Self, sysinfo::Error> {
        let mut system = System::new()?;
        system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        let disks =
            Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing().with_storage())?;
        let data_dir = data_dir
            .canonicalize()
            .unwrap_or_else(|_| data_dir.to_owned());
        let data_disk = disk_holding(&disks, &data_dir);
        let last_net = netdev::read_totals().map(|t| (Instant::now(), t));
        Ok(Self {
            system,
            disks,
            data_disk,
            data_dir,
            last_net,
            own_pid: sysinfo::get_current_pid().ok(),
        })
    }

    /// Measures the machine now; `timestamp_ms` is the tick's time.
    pub fn collect(&mut self, timestamp_ms: i64) -> Vec<Sample> {
        let mut out = Vec::with_capacity(6);
        let mut push = |metric: &str, value: f64| {
            if value.is_finite() {
                out.push(Sample::gauge(metric, value, timestamp_ms));
            }
        };

        self.system
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        // sysinfo reports f32; two decimals is all the precision there is,
        // and rounding keeps the stored values compressible.
        push(
            "system.cpuUsage",
            round2(f64::from(self.system.global_cpu_usage())),
        );

        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        let total = self.system.total_memory();
        if total > 0 {
            // MemAvailable semantics: page cache that can be reclaimed is not
            // "used" (the original counted it, defect B3).
            let used = total.saturating_sub(self.system.available_memory());
            push(
                "system.memoryUsage",
                round2(used as f64 / total as f64 * 100.0),
            );
        }

        if let Some(disk) = self.data_disk.and_then(|i| self.disks.get_mut(i)) {
            disk.refresh_specifics(DiskRefreshKind::nothing().with_storage());
            let total = disk.total_space();
            if total > 0 {
                let used = total.saturating_sub(disk.available_space());
                push(
                    "system.diskUsage",
                    round2(used as f64 / total as f64 * 100.0),
                );
            }
        }

        if let Some(now) = netdev::read_totals() {
            let at = Instant::now();
            if let Some((then, before)) = self.last_net {
                let secs = at.duration_since(then).as_secs_f64();
                // A counter that went backwards was reset (interface gone or
                // re-created): skip one rate rather than report garbage.
                if secs > 0.0 && now.rx_bytes >= before.rx_bytes && now.tx_bytes >= before.tx_bytes
                {
                    push(
                        "system.networkRxBytesPerSecond",
                        ((now.rx_bytes - before.rx_bytes) as f64 / secs).round(),
                    );
                    push(
                        "system.networkTxBytesPerSecond",
                        ((now.tx_bytes - before.tx_bytes) as f64 / secs).round(),
                    );
                }
            }
            self.last_net = Some((at, now));
        }
        out
    }

    /// The host process's resident memory, in bytes.
    pub fn own_rss_bytes(&mut self) -> Option<u64> {
        let pid = self.own_pid?;
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            false,
            ProcessRefreshKind::nothing().with_memory(),
        );
        self.system.process(pid).map(|p| p.memory())
    }

    /// The directory whose filesystem `system.diskUsage` describes.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

fn disk_holding(disks: &Disks, dir: &Path) -> Option<usize> {
    disks
        .iter()
        .enumerate()
        .filter(|(_, d)| dir.starts_with(d.mount_point()))
        .max_by_key(|(_, d)| d.mount_point().as_os_str().len())
        .map(|(i, _)| i)
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_core_metrics_as_percentages() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = SystemCollector::new(dir.path()).unwrap();
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        let samples = c.collect(1000);
        for metric in ["system.cpuUsage", "system.memoryUsage", "system.diskUsage"] {
            let s = samples
                .iter()
                .find(|s| s.metric == metric)
                .unwrap_or_else(|| panic!("{metric} missing"));
            assert!((0.0..=100.0).contains(&s.value), "{metric} = {}", s.value);
            assert_eq!(s.unit, "%");
            assert_eq!(s.timestamp_ms, 1000);
        }
        assert!(c.own_rss_bytes().unwrap() > 1_000_000);
    }

    #[test]
    fn network_rates_appear_from_the_second_tick() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = SystemCollector::new(dir.path()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let samples = c.collect(1000);
        if std::path::Path::new("/proc/net/dev").exists() {
            let rx = samples
                .iter()
                .find(|s| s.metric == "system.networkRxBytesPerSecond")
                .unwrap();
            assert!(rx.value >= 0.0);
        }
    }
}
