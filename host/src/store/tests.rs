//! Store round trips against a real DuckDB file in a temporary directory.

use super::*;
use crate::model::Labels;

fn sample(metric: &str, value: f64, ts: i64, labels: &[(&str, &str)]) -> Sample {
    let mut s = Sample::gauge(metric, value, ts);
    s.labels =
        Labels::try_from_pairs(labels.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
    s
}

#[tokio::test]
async fn appended_samples_come_back_by_series_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let batch = vec![
        sample(
            "agents.avgResponseTime",
            250.0,
            2000,
            &[("agent", "coder-1")],
        ),
        sample(
            "agents.avgResponseTime",
            120.0,
            1000,
            &[("agent", "coder-2")],
        ),
        sample(
            "agents.avgResponseTime",
            200.0,
            1000,
            &[("agent", "coder-1")],
        ),
        sample("system.cpuUsage", 5.0, 1000, &[]),
    ];
    assert_eq!(store.append(batch).await.unwrap(), 4);
    let result = store
        .query("agents.avgResponseTime", 0, 10_000)
        .await
        .unwrap();
    assert_eq!(result.series.len(), 2);
    let coder1 = result
        .series
        .iter()
        .find(|s| s.labels.get("agent") == Some("coder-1"))
        .unwrap();
    assert_eq!(coder1.points, vec![(1000, 200.0), (2000, 250.0)]);
    assert_eq!(coder1.unit, "ms");
    let narrow = store
        .query("agents.avgResponseTime", 1500, 10_000)
        .await
        .unwrap();
    assert_eq!(narrow.series.len(), 1);
}

#[tokio::test]
async fn data_survives_reopening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .append(vec![sample("custom.x", 1.0, 1, &[])])
        .await
        .unwrap();
    store.close().await.unwrap();
    assert!(matches!(
        store.sample_count().await,
        Err(StoreError::Closed)
    ));
    let store = Store::open(dir.path()).unwrap();
    store
        .append(vec![
            sample("custom.x", 2.0, 2, &[]),
            sample("custom.y", 3.0, 2, &[]),
        ])
        .await
        .unwrap();
    let result = store.query("custom.x", 0, 10).await.unwrap();
    assert_eq!(
        result.series.len(),
        1,
        "the reopened store reuses the series id"
    );
    assert_eq!(result.series[0].points, vec![(1, 1.0), (2, 2.0)]);
    assert_eq!(store.sample_count().await.unwrap(), 3);
}

#[tokio::test]
async fn an_unknown_metric_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let err = store.query("nope.nothing", 0, 10).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "no series named `nope.nothing` has been stored"
    );
}

#[tokio::test]
async fn retention_deletes_only_old_samples() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .append(
            (0..10)
                .map(|i| sample("m.x", i as f64, i * 1000, &[]))
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(store.delete_before(5000).await.unwrap(), 5);
    let result = store.query("m.x", 0, 100_000).await.unwrap();
    assert_eq!(result.series[0].points.first(), Some(&(5000, 5.0)));
}

#[tokio::test]
async fn alert_transitions_are_stored_and_queried_by_time_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alert = |rule: &str| crate::model::Alert {
        id: "alert-1".into(),
        rule: rule.into(),
        timestamp: 0,
        severity: crate::model::Severity::Critical,
        metric: "m.x".into(),
        labels: Labels::try_from_pairs([("agent".to_owned(), "a".to_owned())]).unwrap(),
        value: f64::NAN,
        threshold: 1.0,
        message: "m".into(),
        component: "m".into(),
        resolved: false,
        resolved_at: None,
        flapping: false,
        acknowledged: None,
    };
    store
        .record_alert_events(vec![
            AlertRecord {
                at: 10,
                event: "triggered",
                alert: alert("rule:a"),
            },
            AlertRecord {
                at: 20,
                event: "resolved",
                alert: alert("rule:a"),
            },
            AlertRecord {
                at: 15,
                event: "triggered",
                alert: alert("rule:b"),
            },
        ])
        .await
        .unwrap();
    let a = store
        .alert_history(0, 100, Some("rule:a".into()))
        .await
        .unwrap();
    let events: Vec<&str> = a.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["triggered", "resolved"]);
    assert_eq!(a[0]["labels"]["agent"], "a");
    assert_eq!(
        a[0]["value"],
        serde_json::Value::Null,
        "a NaN value is stored as NULL"
    );
    assert_eq!(store.alert_history(12, 100, None).await.unwrap().len(), 2);
}
