//! The report's header: the machine and the command.

/// `# …` with the CPU, core count, memory and the command that made it.
pub fn header() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1_048_576.0);
    format!(
        "# Benchmarks\n\n\
         Made by `cargo xtask bench` (release build) on {cpu}, {cores} cores, {mem_gib:.0} GiB RAM, \
         a shared VM: read the ratios to the baselines measured in the same run; absolute times drift \
         between runs.\n\n"
    )
}
