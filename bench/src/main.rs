//! `perfwatch-bench`: measures perfwatch on this machine and prints a
//! Markdown report; `cargo xtask bench` writes it into BENCHMARKS.md.
//! Every figure comes with a baseline measured in the same run, because
//! ratios hold across runs on a shared VM where absolute times drift.

mod dataset;
mod host_process;
mod ingest;
mod latency;
mod plugins;
mod remote_write;
mod report;
mod rules;
mod stats;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let mut out = report::header();
    out.push_str(&runtime.block_on(plugins::run())?);
    out.push_str(&rules::run()?);
    out.push_str(&runtime.block_on(latency::run())?);
    print!("{out}");
    Ok(())
}
