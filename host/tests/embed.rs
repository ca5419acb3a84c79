//! The embedding API: a monitor inside the process, fed by the original's
//! recording helpers, shows them in the snapshot and stores them.

use std::time::Duration;

use perfwatch::config::Config;
use perfwatch::embed::{AgentMetrics, Monitor, RecordError, UiMetrics};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn the_recording_helpers_fill_the_series_metrics_update_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::defaults();
    config.port = 0;
    config.data_dir = dir.path().join("data");
    config.plugins_dir = dir.path().join("no-plugins");
    config.rules_dir = dir.path().join("no-rules");
    config.update_interval = Duration::from_millis(200);
    let monitor = Monitor::start(config).await.unwrap();
    let recorder = monitor.recorder();

    recorder
        .record_custom_metric("my_metric", 42.0, "units")
        .await
        .unwrap();
    recorder
        .record_custom_metric("websocket.latency", 9.0, "")
        .await
        .unwrap();
    recorder.mark("trace_start");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let ms = recorder
        .measure("trace_collection", "trace_start")
        .await
        .unwrap();
    assert!(ms >= 20.0, "{ms}");
    recorder.record_trace_overhead(ms, 1000).await.unwrap();
    recorder
        .record_memory_usage("trace_collector", 64 * 1_048_576)
        .await
        .unwrap();
    recorder
        .record_query_performance("session_lookup", 12.0, 40)
        .await
        .unwrap();
    recorder
        .record_query_performance("graph_walk", 30.0, 2)
        .await
        .unwrap();
    let agent = |ms: f64, busy: bool| AgentMetrics {
        response_time_ms: ms,
        tasks_per_second: Some(2.0),
        busy,
        stopped: false,
    };
    recorder
        .record_agent_metrics("coder-1", agent(800.0, true))
        .await
        .unwrap();
    recorder
        .record_agent_metrics("coder-2", agent(1200.0, false))
        .await
        .unwrap();
    recorder
        .record_ui_metrics(UiMetrics {
            frame_rate: Some(58.0),
            render_time_ms: Some(7.5),
            response_time_ms: None,
        })
        .await
        .unwrap();

    let snapshot = monitor.snapshot();
    assert_eq!(snapshot["custom"]["my_metric"], 42.0, "{snapshot}");
    assert_eq!(snapshot["ui"]["webSocketLatency"], 9.0);
    assert_eq!(
        snapshot["queries"]["avgResponseTime"], 21.0,
        "mean over query types"
    );
    assert_eq!(snapshot["agents"]["avgResponseTime"], 1000.0);
    assert_eq!(snapshot["agents"]["totalAgents"], 2.0);
    assert_eq!(snapshot["agents"]["busyAgents"], 1.0);
    assert_eq!(snapshot["agents"]["activeAgents"], 2.0);
    assert_eq!(snapshot["ui"]["frameRate"], 58.0);
    assert_eq!(snapshot["ui"]["uiResponseTime"], json!(null));

    // Stored, not only shown: the API answers for them.
    let url = format!(
        "http://{}/api/v1/query?metric=tracing.memoryUsage&labels=component=trace_collector&start=0",
        monitor.addr()
    );
    let body = get_json(&url).await;
    assert_eq!(body["series"][0]["points"][0][1], 64.0, "{body}");
    let url = format!(
        "http://{}/api/v1/query?metric=timing.trace_collection&start=0",
        monitor.addr()
    );
    let body = get_json(&url).await;
    assert_eq!(
        body["series"][0]["points"].as_array().unwrap().len(),
        1,
        "measured once: {body}"
    );

    // Bad input is refused with the reason, and nothing is stored.
    assert!(matches!(
        recorder.record_custom_metric("bad name", 1.0, "").await,
        Err(RecordError::Invalid(_))
    ));
    assert!(matches!(
        recorder.record_websocket_latency(f64::NAN).await,
        Err(RecordError::Invalid(_))
    ));
    assert!(matches!(
        recorder.measure("x", "never_marked").await,
        Err(RecordError::NoSuchMark(_))
    ));
    monitor.stop().await.unwrap();
}

async fn get_json(url: &str) -> serde_json::Value {
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"))
}
