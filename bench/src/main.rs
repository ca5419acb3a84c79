//! `perfwatch-bench`: measures perfwatch on this machine and prints a
//! Markdown report; `cargo xtask bench` writes it into BENCHMARKS.md.
//! Every figure comes with a baseline measured in the same run, because
//! ratios hold across runs on a shared VM where absolute times drift.
//!
//! `perfwatch-bench [SECTION…]` runs only the named sections (plugins,
//! rules, latency, channels, storage, memory, codecs, export, metrics, page, fanout); with
//! none it runs them all.

mod codecs;
mod component_cost;
mod dataset;
mod delivery;
mod export_stream;
mod fanout;
mod host_process;
mod ingest;
mod latency;
mod memory;
mod metrics_scrape;
mod page;
mod plugins;
mod prometheus;
mod remote_write;
mod report;
mod rules;
mod stats;
mod storage;
mod store;
mod untuned;

const SECTIONS: &[&str] = &[
    "plugins", "rules", "latency", "channels", "storage", "memory", "codecs", "export", "metrics",
    "page", "fanout",
];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(unknown) = args.iter().find(|a| !SECTIONS.contains(&a.as_str())) {
        anyhow::bail!(
            "unknown section `{unknown}`; the sections are {}",
            SECTIONS.join(", ")
        );
    }
    let wanted = |section: &str| args.is_empty() || args.iter().any(|a| a == section);
    let runtime = tokio::runtime::Runtime::new()?;
    let mut out = report::header();
    if wanted("plugins") {
        out.push_str(&runtime.block_on(plugins::run())?);
    }
    if wanted("rules") {
        out.push_str(&rules::run()?);
    }
    if wanted("latency") {
        out.push_str(&runtime.block_on(latency::run())?);
    }
    if wanted("channels") {
        out.push_str(&runtime.block_on(delivery::run())?);
    }
    if wanted("storage") {
        out.push_str(&runtime.block_on(storage::run())?);
    }
    if wanted("memory") {
        out.push_str(&runtime.block_on(memory::run())?);
    }
    if wanted("codecs") {
        out.push_str(&codecs::run()?);
    }
    if wanted("export") {
        let formats = [
            export_stream::Format {
                name: "`fixture-csv` (the generated exporter)",
                component: plugins::fixture("fixture-csv")?,
                both_datasets: true,
            },
            export_stream::Format {
                name: "`csv`",
                component: plugins::fixture("csv")?,
                both_datasets: false,
            },
            export_stream::Format {
                name: "`prometheus-text`",
                component: plugins::fixture("prometheus-text")?,
                both_datasets: false,
            },
        ];
        out.push_str(&runtime.block_on(export_stream::run(&formats))?);
    }
    if wanted("metrics") {
        out.push_str(&runtime.block_on(metrics_scrape::run())?);
    }
    if wanted("page") {
        out.push_str(&page::run()?);
    }
    if wanted("fanout") {
        out.push_str(&runtime.block_on(fanout::run())?);
    }
    print!("{out}");
    Ok(())
}
