//! The dashboard in a real headless Chromium against the real binary, with
//! the network cut off except loopback: the page loads from the host alone,
//! its charts fill from history and advance with ticks, an alert pushed
//! through the API appears and is acknowledged from the page, the range
//! picker reads history at a step that fits the chart, the page survives a
//! host restart, and nothing logs an error. Screenshots (light, dark,
//! phone) are left in `<target>/test-artifacts/`.

use std::time::Duration;

use perfwatch_tests::{Chromium, HostDir, Page, WAIT, artifact_path, get, post_json};
use serde_json::json;

const RULES: &str = r#"
[[alert_rules]]
id = "queue-deep"
name = "Queue too deep"
metric = "app.queueDepth"
condition = "greater_than"
threshold = 100.0
severity = "critical"
duration = 0
"#;

/// Seconds to wait for anything the page shows after a tick or two.
const PAGE_WAIT: Duration = Duration::from_secs(30);

/// The newest point of the CPU chart, epoch ms, once it has `points`.
fn cpu_chart_last(page: &mut Page, points: usize) -> i64 {
    page.wait_for(
        "the CPU chart to have points",
        &format!(
            "(() => {{ const c = document.querySelector('figure.chart[data-metrics*=\"system.cpuUsage\"]'); \
             return c && Number(c.dataset.points) >= {points} && c.querySelector('canvas') ? Number(c.dataset.last) : 0; }})()"
        ),
        PAGE_WAIT,
    )
    .as_i64()
    .expect("a timestamp")
}

/// Picks `range` and returns the step the CPU chart read its history at,
/// once it shows `span_ms`.
fn pick_range(page: &mut Page, range: &str, span_ms: i64) -> i64 {
    page.click(&format!("button[data-range='{range}']"));
    page.wait_for(
        &format!("the {range} history"),
        &format!(
            "(() => {{ const c = document.querySelector('figure.chart[data-metrics*=\"system.cpuUsage\"]'); \
             return c.dataset.range === '{span_ms}' && !c.dataset.loading ? Number(c.dataset.step) : 0; }})()"
        ),
        PAGE_WAIT,
    )
    .as_i64()
    .expect("a step")
}

/// Clicks `button` of the firing alert whose text mentions `rule`.
fn click_on_alert(page: &mut Page, rule: &str, button: &str) {
    let clicked = page.eval(&format!(
        "(() => {{ const li = [...document.querySelectorAll('[data-state=firing] li.alert')].find(l => l.textContent.includes({rule:?})); \
         const b = li && [...li.querySelectorAll('button')].find(b => b.textContent === {button:?}); if (!b) return false; b.click(); return true; }})()"
    ));
    assert_eq!(
        clicked,
        json!(true),
        "no {button} button on the {rule} alert"
    );
}

#[test]
fn the_dashboard_shows_the_system_live_and_acts_through_the_api() {
    let dir = HostDir::new().config(1000, RULES);
    let host = dir.start();
    let port = host.addr.port();
    let origin = host.url("");
    let browser = Chromium::launch();
    let mut page = browser.page();
    page.color_scheme(false);
    page.navigate(&host.url("/"));

    // Live, and the charts advance with ticks.
    page.wait_for(
        "the stream to be live",
        "document.body.dataset.connection === 'live'",
        PAGE_WAIT,
    );
    let first = cpu_chart_last(&mut page, 1);
    page.wait_for(
        "the CPU chart to advance",
        &format!("Number(document.querySelector('figure.chart[data-metrics*=\"system.cpuUsage\"]').dataset.last) > {first}"),
        PAGE_WAIT,
    );

    // An alert pushed through the API appears; its labels are shown as
    // text, never as markup.
    let pushed = post_json(
        host.addr,
        "/api/v1/metrics",
        r#"[{"metric": "app.queueDepth", "value": 500, "labels": {"note": "<img src=x onerror=alert(1)>"}}]"#,
    );
    assert_eq!(pushed.status, 200, "{}", pushed.body);
    page.wait_for(
        "the alert in the panel",
        "[...document.querySelectorAll('[data-state=firing] li.alert')].some(l => l.textContent.includes('rule:queue-deep'))",
        PAGE_WAIT,
    );
    page.wait_for(
        "the critical alert to take points off the health score",
        "(() => { const part = document.querySelector('#health li[data-part=alerts]'); \
         return part && part.textContent.includes('critical') && !part.textContent.startsWith('0 ') \
         && Number(document.getElementById('health').dataset.score) <= 85; })()",
        PAGE_WAIT,
    );
    assert_eq!(
        page.eval("document.querySelectorAll('img').length"),
        json!(0)
    );
    assert!(
        page.eval("document.body.textContent.includes('note=<img src=x onerror=alert(1)>')")
            == json!(true),
        "the label is shown as text"
    );

    // Acknowledged from the page, seen by the API.
    click_on_alert(&mut page, "rule:queue-deep", "Acknowledge");
    page.fill(
        "form[data-form=ack] textarea[name=comment]",
        "draining the queue",
    );
    page.eval("document.querySelector('form[data-form=ack]').requestSubmit()");
    page.wait_for(
        "the acknowledgement on the page",
        "document.body.textContent.includes('Acknowledged: draining the queue')",
        PAGE_WAIT,
    );
    let alerts = get(host.addr, "/api/v1/alerts").json();
    let acknowledged = alerts["firing"]
        .as_array()
        .expect("firing alerts")
        .iter()
        .find(|a| a["rule"] == "rule:queue-deep")
        .expect("the alert still fires");
    assert_eq!(
        acknowledged["acknowledged"]["comment"],
        "draining the queue"
    );

    // Silenced from the page for an hour (the form's default), with the
    // alert's rule and labels as matchers.
    click_on_alert(&mut page, "rule:queue-deep", "Silence");
    page.fill("form[data-form=silence] input[name=comment]", "maintenance");
    page.eval("document.querySelector('form[data-form=silence]').requestSubmit()");
    let silence = perfwatch_tests::eventually("the silence in the API", || {
        let answer = get(host.addr, "/api/v1/silences").json();
        answer["silences"].as_array()?.first().cloned()
    });
    assert_eq!(silence["comment"], "maintenance");
    assert_eq!(
        silence["matchers"],
        json!([
            {"name": "rule", "value": "rule:queue-deep", "op": "="},
            {"name": "note", "value": "<img src=x onerror=alert(1)>", "op": "="}
        ])
    );
    let hour = silence["endsAt"].as_i64().unwrap() - silence["createdAt"].as_i64().unwrap();
    assert!(
        (3_590_000..=3_601_000).contains(&hour),
        "silenced for {hour} ms"
    );

    page.click("#silences > summary");
    page.wait_for(
        "the silence listed on the page",
        "[...document.querySelectorAll('#silences li')].some(l => l.textContent.includes('maintenance') && l.textContent.includes('rule=rule:queue-deep'))",
        PAGE_WAIT,
    );

    // The range picker reads history at a step fitting the chart: about a
    // point per pixel, whole hours for 7 days (the hourly rollups).
    let step = pick_range(&mut page, "6h", 6 * 3_600_000);
    let width = page
        .eval(
            "document.querySelector('figure.chart[data-metrics*=\"system.cpuUsage\"]').clientWidth",
        )
        .as_i64()
        .expect("a width");
    assert!(
        (6 * 3_600_000 / width..=6 * 3_600_000 / width + 1000).contains(&step),
        "a 6 h range on {width} px reads at {step} ms"
    );
    assert!(
        page.requests().iter().any(|url| url
            .contains("/api/v1/query_range?metric=system.cpuUsage")
            && url.contains(&format!("step={step}"))),
        "the picker asked the query API"
    );
    let step = pick_range(&mut page, "7d", 7 * 86_400_000);
    assert_eq!(step % 3_600_000, 0, "7 d reads whole hours, got {step} ms");
    page.click("button[data-range='15m']");
    cpu_chart_last(&mut page, 2);

    // Screenshots, and a phone-width layout that does not scroll sideways.
    page.screenshot(&artifact_path("dashboard-light.png"));
    page.color_scheme(true);
    page.wait_for(
        "the dark theme",
        "getComputedStyle(document.body).backgroundColor === 'rgb(13, 17, 23)'",
        PAGE_WAIT,
    );
    cpu_chart_last(&mut page, 2);
    page.screenshot(&artifact_path("dashboard-dark.png"));
    page.viewport(390, 844);
    page.wait_for(
        "the phone layout",
        "document.documentElement.scrollWidth <= 390",
        PAGE_WAIT,
    );
    page.screenshot(&artifact_path("dashboard-phone.png"));
    page.viewport(1280, 900);

    // Nothing was fetched from anywhere but the host, and nothing failed.
    let foreign: Vec<String> = page
        .requests()
        .into_iter()
        .filter(|url| {
            !url.starts_with(&origin)
                && !url.starts_with(&origin.replace("http://", "ws://"))
                && !url.starts_with("data:")
        })
        .collect();
    assert!(
        foreign.is_empty(),
        "the page reached beyond the host: {foreign:?}"
    );
    let errors = page.errors();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");

    // A host restart: the page says it lost the connection, reconnects on
    // its own and carries on.
    host.kill();
    page.wait_for(
        "the page to notice the host is gone",
        "document.body.dataset.connection === 'reconnecting' && document.getElementById('connection').textContent.includes('reconnecting')",
        PAGE_WAIT,
    );
    let before = cpu_chart_last(&mut page, 1);
    let host = dir.port(port).start();
    page.wait_for(
        "the stream to be live again",
        "document.body.dataset.connection === 'live'",
        WAIT + PAGE_WAIT,
    );
    page.wait_for(
        "the CPU chart to advance after the restart",
        &format!("Number(document.querySelector('figure.chart[data-metrics*=\"system.cpuUsage\"]').dataset.last) > {before}"),
        PAGE_WAIT,
    );
    // While the host was down its requests failed, as they must; nothing else did.
    let errors: Vec<String> = page
        .errors()
        .into_iter()
        .filter(|e| !(e.starts_with("log:") && e.contains("\"source\":\"network\"")))
        .collect();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
    drop(host);
}

/// An admin token for the access test; tokens hold letters, digits and `._~+/=-`.
const TOKEN: &str = "dashboard-test.token-7f3a";

#[test]
fn with_a_token_set_the_page_asks_for_it_once_and_keeps_it_for_the_tab() {
    let dir = HostDir::new().config(1000, &format!("[server]\nauth_token = \"{TOKEN}\"\n"));
    let host = dir.start();
    let browser = Chromium::launch();
    let mut page = browser.page();
    page.navigate(&host.url("/"));

    // The page itself loads; the stream and the API ask for the token.
    page.wait_for(
        "the token dialog",
        "document.getElementById('token-dialog').open && document.body.dataset.connection === 'auth'",
        PAGE_WAIT,
    );
    page.fill("#token-form input[name=token]", TOKEN);
    page.eval("document.getElementById('token-form').requestSubmit()");
    page.wait_for(
        "the stream to be live",
        "document.body.dataset.connection === 'live'",
        PAGE_WAIT,
    );
    cpu_chart_last(&mut page, 1);
    page.wait_for(
        "the panels read through the API",
        "document.querySelector('#status-body table, #status-body p') !== null && !document.getElementById('alerts-body').textContent.includes('needs a token')",
        PAGE_WAIT,
    );
    assert_eq!(
        page.eval("sessionStorage.getItem('perfwatch.token')"),
        json!(TOKEN),
        "kept for the tab"
    );

    // Opened again in the same tab: no question asked.
    page.navigate(&host.url("/"));
    page.wait_for(
        "the stream to be live again",
        "document.body.dataset.connection === 'live'",
        PAGE_WAIT,
    );
    assert_eq!(
        page.eval("document.getElementById('token-dialog').open"),
        json!(false)
    );

    // A wrong token is refused and asked for again, saying why.
    page.eval("sessionStorage.setItem('perfwatch.token', 'not-the-token')");
    page.navigate(&host.url("/"));
    page.wait_for(
        "the dialog saying the token was refused",
        "document.getElementById('token-dialog').open && document.getElementById('token-error').textContent.includes('refused')",
        PAGE_WAIT,
    );
    assert_eq!(
        page.eval("sessionStorage.getItem('perfwatch.token')"),
        json!(null)
    );

    // The token is never in a URL the page requested.
    assert!(
        page.requests().iter().all(|url| !url.contains(TOKEN)),
        "the token travelled in a URL"
    );
    let errors: Vec<String> = page
        .errors()
        .into_iter()
        // The refusals themselves (401s, the refused upgrade) are the point.
        .filter(|e| !(e.starts_with("log:") && e.contains("\"source\":\"network\"")))
        .collect();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
}
