//! The dashboard in a real headless Chromium (the tests' DevTools driver)
//! against the real binary at a 1 s tick: time from navigation to the
//! first chart with data, with an empty cache and revalidating a warm one
//! (304s), beside a baseline measured in the same run: the load of a
//! bare JSON answer from the same host. And the page's weight on the wire.

use std::fmt::Write as _;
use std::time::Duration;

use perfwatch_tests::{Chromium, Page};

use crate::host_process::HostProcess;
use crate::stats::{Timing, human};

const RUNS: usize = 15;
const FIRST_CHART_MARK: &str = "perfwatch:first-chart";
/// How long one load may take before the run is refused.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens `url` and returns the milliseconds from navigation start to the
/// first chart with data.
fn time_to_first_chart(page: &mut Page, url: &str) -> Duration {
    page.navigate(url);
    let ms = page
        .wait_for(
            "the first chart",
            &format!("(() => {{ const m = performance.getEntriesByName({FIRST_CHART_MARK:?}); return m.length ? m[0].startTime : 0; }})()"),
            LOAD_TIMEOUT,
        )
        .as_f64()
        .unwrap_or_default();
    Duration::from_secs_f64(ms / 1000.0)
}

/// Milliseconds from navigation start to the load event of `url`.
fn time_to_load(page: &mut Page, url: &str) -> Duration {
    page.navigate(url);
    let ms = page
        .wait_for(
            "the load event",
            "(() => { const n = performance.getEntriesByType('navigation')[0]; return n && n.loadEventEnd > 0 ? n.loadEventEnd : 0; })()",
            LOAD_TIMEOUT,
        )
        .as_f64()
        .unwrap_or_default();
    Duration::from_secs_f64(ms / 1000.0)
}

pub fn run() -> anyhow::Result<String> {
    let host = HostProcess::start("update_interval = 1000\n")?;
    let base = format!("http://{}", host.addr());
    let browser = Chromium::launch();
    let mut page = browser.page();
    // A few ticks first, so the page opens on a host with data, as a user's would.
    std::thread::sleep(Duration::from_secs(3));

    page.call(
        "Network.setCacheDisabled",
        serde_json::json!({ "cacheDisabled": true }),
    );
    page.clear_events();
    time_to_first_chart(&mut page, &format!("{base}/"));
    let page_files: Vec<_> = page
        .transfers()
        .into_iter()
        .filter(|t| matches!(t.kind.as_str(), "Document" | "Script" | "Stylesheet"))
        .collect();
    let weight: u64 = page_files.iter().map(|t| t.bytes).sum();
    let files = page_files.len();

    let mut runs = |cache_disabled: bool, url: &str, measure: fn(&mut Page, &str) -> Duration| {
        page.call(
            "Network.setCacheDisabled",
            serde_json::json!({ "cacheDisabled": cache_disabled }),
        );
        Timing::of((0..RUNS).map(|_| measure(&mut page, url)).collect())
    };
    let baseline = runs(true, &format!("{base}/healthz"), time_to_load);
    let cold = runs(true, &format!("{base}/"), time_to_first_chart);
    let warm = runs(false, &format!("{base}/"), time_to_first_chart);
    let errors = page.errors();
    anyhow::ensure!(errors.is_empty(), "the page logged errors: {errors:#?}");
    host.ensure_no_errors()?;

    let ratio = |t: &Timing| t.median.as_secs_f64() / baseline.median.as_secs_f64();
    let mut out = String::from("## Dashboard page\n\n");
    writeln!(
        out,
        "`cargo xtask bench page`: the page at `/` in headless Chromium (Debian's) against the \
         real binary at a 1 s tick, {RUNS} loads each, time from navigation start to the first \
         chart with data (`performance.mark`). Baseline: the load event of `/healthz` from the \
         same host in the same browser.\n"
    )?;
    writeln!(out, "| load | median | p99 | × baseline |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    writeln!(
        out,
        "| baseline: `/healthz` loaded | {} | {} | 1.0 |",
        human(baseline.median),
        human(baseline.p99)
    )?;
    writeln!(
        out,
        "| first chart, empty cache | {} | {} | {:.1} |",
        human(cold.median),
        human(cold.p99),
        ratio(&cold)
    )?;
    writeln!(
        out,
        "| first chart, warm cache (304s) | {} | {} | {:.1} |",
        human(warm.median),
        human(warm.p99),
        ratio(&warm)
    )?;
    writeln!(
        out,
        "\nAim: first chart ≤ 1 s on loopback. Page weight on the wire, empty cache: \
         **{:.1} KiB** in {files} files (HTML, scripts, style sheets; gzip, headers included; \
         aim ≤ 150 KB).\n",
        weight as f64 / 1024.0
    )?;
    Ok(out)
}
