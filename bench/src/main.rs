//! `perfwatch-bench`: measures perfwatch on this machine and prints a
//! Markdown report; `cargo xtask bench` writes it into BENCHMARKS.md.
//! Every figure comes with a baseline measured in the same run, because
//! ratios hold across runs on a shared VM where absolute times drift.

mod plugins;
mod report;
mod stats;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let mut out = report::header();
    out.push_str(&runtime.block_on(plugins::run())?);
    print!("{out}");
    Ok(())
}
