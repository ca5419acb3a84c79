//! Store round trips against a real DuckDB file in a temporary directory.

use super::*;
use crate::model::{DeliveryRecord, DeliveryStatus, Labels};
use db::CACHE_RELEASE_MARGIN;

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
    // Half of them compacted, half still in the head: both tiers are swept.
    store.compact(3000).await.unwrap();
    let far = i64::MIN / 2;
    let cutoffs = RetentionCutoffs {
        raw: 5000,
        minute: far,
        hour: far,
        deliveries: far,
    };
    // Head samples are only deleted once compaction has rolled them up.
    assert_eq!(store.apply_retention(cutoffs).await.unwrap(), 3);
    store.compact(i64::MAX).await.unwrap();
    assert_eq!(store.apply_retention(cutoffs).await.unwrap(), 2);
    let result = store.query("m.x", 0, 100_000).await.unwrap();
    assert_eq!(result.series[0].points.first(), Some(&(5000, 5.0)));
    // The rollups keep what raw retention dropped.
    let minute = store
        .query_range(range("m.x", 0, 60_000, 60_000, Aggregation::Sum))
        .await
        .unwrap();
    assert_eq!(minute.series[0].points, vec![(0, 45.0)]);
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
        description: None,
        runbook_url: None,
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

fn delivery(ts: i64, channel: &str, status: DeliveryStatus, attempt: u32) -> DeliveryRecord {
    let failed = matches!(status, DeliveryStatus::Failed | DeliveryStatus::GaveUp);
    DeliveryRecord {
        timestamp: ts,
        channel: channel.to_owned(),
        status,
        attempt,
        group_key: "{component=\"agents\"}".to_owned(),
        alert_ids: vec!["alert-1".to_owned(), "alert-2".to_owned()],
        resolved: false,
        error_class: failed.then(|| "transient".to_owned()),
        error: failed.then(|| "POST https://hooks.example.com/… failed: timed out".to_owned()),
        latency_ms: (attempt > 0).then_some(12),
    }
}

#[tokio::test]
async fn delivery_records_round_trip_newest_first_filtered_and_limited() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let written = vec![
        delivery(10, "slack#1", DeliveryStatus::Failed, 1),
        delivery(20, "slack#1", DeliveryStatus::Delivered, 2),
        delivery(20, "console#0", DeliveryStatus::Delivered, 1),
        delivery(15, "*", DeliveryStatus::Skipped, 0),
    ];
    store.record_deliveries(written.clone()).await.unwrap();
    let query = |channel: Option<&str>, status, limit| DeliveryQuery {
        channel: channel.map(str::to_owned),
        status,
        limit,
    };
    let all = store.deliveries(query(None, None, 100)).await.unwrap();
    assert_eq!(
        all,
        [
            written[2].clone(),
            written[1].clone(),
            written[3].clone(),
            written[0].clone()
        ],
        "newest first; of one millisecond, the last written first"
    );
    let slack = store
        .deliveries(query(Some("slack#1"), None, 100))
        .await
        .unwrap();
    assert_eq!(slack, [written[1].clone(), written[0].clone()]);
    let delivered = store
        .deliveries(query(None, Some(DeliveryStatus::Delivered), 1))
        .await
        .unwrap();
    assert_eq!(delivered, [written[2].clone()]);
    let none = store
        .deliveries(query(Some("console#0"), Some(DeliveryStatus::Failed), 100))
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn retention_deletes_delivery_records_past_their_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .record_deliveries(vec![
            delivery(1_000, "console#0", DeliveryStatus::Delivered, 1),
            delivery(5_000, "console#0", DeliveryStatus::Delivered, 1),
        ])
        .await
        .unwrap();
    let far = i64::MIN / 2;
    store
        .apply_retention(RetentionCutoffs {
            raw: far,
            minute: far,
            hour: far,
            deliveries: 5_000,
        })
        .await
        .unwrap();
    let left = store
        .deliveries(DeliveryQuery {
            channel: None,
            status: None,
            limit: 10,
        })
        .await
        .unwrap();
    let times: Vec<i64> = left.iter().map(|r| r.timestamp).collect();
    assert_eq!(times, [5_000]);
}

fn range(metric: &str, start: i64, end: i64, step: i64, agg: Aggregation) -> RangeQuery {
    RangeQuery {
        metric: metric.to_owned(),
        selector: Labels::new(),
        start_ms: start,
        end_ms: end,
        step_ms: step,
        agg,
    }
}

/// Two hours of one sample every 10 s, values 0, 1, 2, …
async fn two_hours(store: &Store) {
    let batch: Vec<Sample> = (0..720)
        .map(|i| sample("app.load", i as f64, i * 10_000, &[("host", "a")]))
        .collect();
    store.append(batch).await.unwrap();
}

#[tokio::test]
async fn range_queries_give_the_same_answer_from_head_rollups_and_raw() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    two_hours(&store).await;
    let aggs = [
        Aggregation::Avg,
        Aggregation::Min,
        Aggregation::Max,
        Aggregation::Sum,
        Aggregation::Last,
    ];
    let mut before = Vec::new();
    for agg in aggs {
        let hourly = store
            .query_range(range("app.load", 0, 7_200_000, 3_600_000, agg))
            .await
            .unwrap();
        assert_eq!(hourly.tier, Tier::Hour);
        before.push(hourly.series[0].points.clone());
    }
    // Hour 0 holds values 0..=359: avg 179.5, min 0, max 359, sum 64620, last 359.
    assert_eq!(before[0], vec![(0, 179.5), (3_600_000, 539.5)]);
    assert_eq!(before[3][0], (0, 64_620.0));
    assert_eq!(before[4][1], (3_600_000, 719.0));
    // Compact part of the second hour: the answer must not change.
    let moved = store.compact(5_400_000).await.unwrap();
    assert_eq!(moved.moved, 540);
    for (agg, expected) in aggs.iter().zip(&before) {
        let hourly = store
            .query_range(range("app.load", 0, 7_200_000, 3_600_000, *agg))
            .await
            .unwrap();
        assert_eq!(
            &hourly.series[0].points, expected,
            "{agg:?} after compaction"
        );
        let raw = store
            .query_range(range("app.load", 0, 7_200_000, 3_599_999, *agg))
            .await
            .unwrap();
        assert_eq!(raw.tier, Tier::Raw);
    }
    // Compact the rest: the second hour is merged from two partial compactions.
    store.compact(i64::MAX).await.unwrap();
    let hourly = store
        .query_range(range("app.load", 0, 7_200_000, 3_600_000, Aggregation::Avg))
        .await
        .unwrap();
    assert_eq!(hourly.series[0].points, before[0]);
    let minutes = store
        .query_range(range("app.load", 0, 7_200_000, 60_000, Aggregation::Max))
        .await
        .unwrap();
    assert_eq!(minutes.tier, Tier::Minute);
    assert_eq!(minutes.series[0].points.len(), 120);
    assert_eq!(minutes.series[0].points[1], (60_000, 11.0));
    let p95 = store
        .query_range(range("app.load", 0, 3_600_000, 3_600_000, Aggregation::P95))
        .await
        .unwrap();
    assert_eq!(p95.tier, Tier::Raw);
    assert!(
        (p95.series[0].points[0].1 - 341.05).abs() < 1e-9,
        "{:?}",
        p95.series[0].points
    );
}

#[tokio::test]
async fn a_late_sample_is_merged_into_its_rolled_up_minute() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    two_hours(&store).await;
    store.compact(i64::MAX).await.unwrap();
    // Minute 0 held 0..=5 (sum 15); a late sample at 5 s adds 100.
    store
        .append(vec![sample("app.load", 100.0, 5_000, &[("host", "a")])])
        .await
        .unwrap();
    store.compact(i64::MAX).await.unwrap();
    let sum = store
        .query_range(range("app.load", 0, 60_000, 60_000, Aggregation::Sum))
        .await
        .unwrap();
    assert_eq!(sum.series[0].points, vec![(0, 115.0)]);
    let max = store
        .query_range(range("app.load", 0, 3_600_000, 3_600_000, Aggregation::Max))
        .await
        .unwrap();
    assert_eq!(max.series[0].points, vec![(0, 359.0)]);
    let last = store
        .query_range(range("app.load", 0, 60_000, 60_000, Aggregation::Last))
        .await
        .unwrap();
    assert_eq!(
        last.series[0].points,
        vec![(0, 5.0)],
        "the late sample is not the minute's last"
    );
}

#[tokio::test]
async fn registered_metrics_keep_their_precision_and_others_stay_exact() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let cpu = 37.456_789_f32 as f64;
    store
        .append(vec![
            sample("system.cpuUsage", cpu, 1000, &[]),
            sample("app.ratio", 0.1 + 0.2, 1000, &[]),
            sample("app.count", 42.0, 1000, &[]),
        ])
        .await
        .unwrap();
    store.compact(i64::MAX).await.unwrap();
    let value = |metric: &'static str| {
        let store = store.clone();
        async move { store.query(metric, 0, 2000).await.unwrap().series[0].points[0].1 }
    };
    assert_eq!(value("system.cpuUsage").await, 37.46);
    assert_eq!(value("app.ratio").await, 0.1 + 0.2);
    assert_eq!(value("app.count").await, 42.0);
    let series = store.series(None).await.unwrap();
    let cpu = series
        .iter()
        .find(|s| s.metric == "system.cpuUsage")
        .unwrap();
    assert_eq!((cpu.unit.as_str(), cpu.precision), ("%", Some(2)));
    assert!(!cpu.help.is_empty());
}

#[tokio::test]
async fn latest_values_and_label_selection() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .append(vec![
            sample("app.q", 1.0, 1000, &[("host", "a")]),
            sample("app.q", 2.0, 2000, &[("host", "a")]),
            sample("app.q", 7.0, 1500, &[("host", "b")]),
        ])
        .await
        .unwrap();
    let all = store.latest("app.q", Labels::new(), 10_000).await.unwrap();
    assert_eq!(
        all.iter().map(|v| v.value).collect::<Vec<_>>(),
        vec![2.0, 7.0]
    );
    let before = store.latest("app.q", Labels::new(), 1_200).await.unwrap();
    assert_eq!(
        before.iter().map(|v| v.value).collect::<Vec<_>>(),
        vec![1.0]
    );
    let b = Labels::try_from_pairs([("host".to_owned(), "b".to_owned())]).unwrap();
    let mut q = range("app.q", 0, 10_000, 10_000, Aggregation::Max);
    q.selector = b;
    let only_b = store.query_range(q).await.unwrap();
    assert_eq!(only_b.series.len(), 1);
    assert_eq!(only_b.series[0].points, vec![(0, 7.0)]);
    let too_fine = store
        .query_range(range("app.q", 0, 100_000_000, 1, Aggregation::Avg))
        .await;
    assert!(matches!(too_fine, Err(StoreError::TooManySteps { .. })));
}

#[tokio::test]
async fn merging_a_day_keeps_every_sample_and_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    two_hours(&store).await;
    // Twelve 10-minute chunks, as the host's compaction makes them.
    for chunk in 1..=12 {
        store.compact(chunk * 600_000).await.unwrap();
    }
    let before = store.query("app.load", 0, 7_200_000).await.unwrap();
    let hourly = range("app.load", 0, 7_200_000, 3_600_000, Aggregation::Avg);
    let rolled_before = store.query_range(hourly.clone()).await.unwrap();
    let minutes = range("app.load", 0, 7_200_000, 60_000, Aggregation::Last);
    let minutes_before = store.query_range(minutes.clone()).await.unwrap();
    assert_eq!(store.merge(0, 86_400_000).await.unwrap(), 720);
    let minutes_after = store.query_range(minutes).await.unwrap();
    assert_eq!(
        minutes_after.series[0].points,
        minutes_before.series[0].points
    );
    assert_eq!(minutes_after.series[0].points.len(), 120);
    assert_eq!(
        store.merge(0, 86_400_000).await.unwrap(),
        0,
        "merged once only"
    );
    let after = store.query("app.load", 0, 7_200_000).await.unwrap();
    assert_eq!(after.series[0].points, before.series[0].points);
    let rolled_after = store.query_range(hourly).await.unwrap();
    assert_eq!(
        rolled_after.series[0].points,
        rolled_before.series[0].points
    );
    assert_eq!(store.sample_count().await.unwrap(), 720);
    // Closing stops the merge thread too, so the file can be opened again.
    store.close().await.unwrap();
    let reopened = Store::open(dir.path()).unwrap();
    assert_eq!(reopened.sample_count().await.unwrap(), 720);
}

/// Every raw query the API makes, for comparing before and after a merge.
async fn raw_answers(store: &Store, metric: &str) -> Vec<String> {
    let mut answers = vec![format!(
        "{:?}",
        store.query(metric, 0, 7_200_000).await.unwrap()
    )];
    for (step, agg) in [
        (10_000, Aggregation::Avg),
        (7_000, Aggregation::Last),
        (3_600_000, Aggregation::P95),
    ] {
        let q = range(metric, 0, 7_200_000, step, agg);
        let answer = store.query_range(q).await.unwrap();
        assert_eq!(answer.tier, Tier::Raw, "{agg:?}");
        answers.push(format!("{:?}", answer.series));
    }
    for at in [0, 4_321_000, 7_190_000, 7_500_000] {
        let latest = store.latest(metric, Labels::new(), at).await.unwrap();
        answers.push(format!("{latest:?}"));
    }
    answers
}

/// Every minute-tier answer, values rounded to 12 significant digits: an
/// archived day's minutes are summed in Rust, in bucket order, where
/// DuckDB sums rows in its own order.
async fn minute_answers(store: &Store, metric: &str) -> Vec<String> {
    let mut answers = Vec::new();
    for step in [60_000, 300_000] {
        for agg in [
            Aggregation::Avg,
            Aggregation::Min,
            Aggregation::Max,
            Aggregation::Sum,
            Aggregation::Last,
        ] {
            let answer = store
                .query_range(range(metric, 0, 7_200_000, step, agg))
                .await
                .unwrap();
            assert_eq!(answer.tier, Tier::Minute);
            for series in answer.series {
                let points: Vec<String> = series
                    .points
                    .iter()
                    .map(|(t, v)| format!("{t}={v:.11e}"))
                    .collect();
                answers.push(format!("{} {agg:?} {}", series.labels, points.join(" ")));
            }
        }
    }
    answers
}

#[tokio::test]
async fn archived_days_answer_every_raw_query_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // A registered metric rounded to two decimals on two hosts, and an
    // unregistered one mixing integers and exact doubles at uneven times.
    let mut batch = Vec::new();
    for i in 0..720i64 {
        for host in ["a", "b"] {
            let v = 20.0 + (i % 37) as f64 * 0.37 + if host == "b" { 50.0 } else { 0.0 };
            batch.push(sample("system.cpuUsage", v, i * 10_000, &[("host", host)]));
        }
        let odd = if i % 3 == 0 { i as f64 } else { i as f64 / 7.0 };
        batch.push(sample("app.odd", odd, i * 10_000 + i % 5, &[]));
    }
    store.append(batch).await.unwrap();
    store.compact(7_200_000).await.unwrap();
    let before = [
        raw_answers(&store, "system.cpuUsage").await,
        raw_answers(&store, "app.odd").await,
        minute_answers(&store, "system.cpuUsage").await,
        minute_answers(&store, "app.odd").await,
    ];
    let since_before = store.since(3_000_000).await.unwrap().len();

    assert_eq!(store.merge(0, 86_400_000).await.unwrap(), 3 * 720);
    let after = [
        raw_answers(&store, "system.cpuUsage").await,
        raw_answers(&store, "app.odd").await,
        minute_answers(&store, "system.cpuUsage").await,
        minute_answers(&store, "app.odd").await,
    ];
    assert_eq!(after, before);
    assert_eq!(store.since(3_000_000).await.unwrap().len(), since_before);
    assert_eq!(store.sample_count().await.unwrap(), 3 * 720);

    // A late sample of the archived day stays a row beside the chunks.
    let late = sample("app.odd", 0.5, 5_000, &[]);
    store.append(vec![late]).await.unwrap();
    store.compact(7_200_000).await.unwrap();
    let points = store.query("app.odd", 0, 10_000).await.unwrap();
    assert_eq!(points.series[0].points, vec![(0, 0.0), (5_000, 0.5)]);
    // Its minute was archived already; the new rollup row combines with it.
    let minute = range("app.odd", 0, 60_000, 60_000, Aggregation::Sum);
    let sum = store.query_range(minute).await.unwrap().series[0].points[0].1;
    let archived_sum: f64 = (0..6)
        .map(|i| if i % 3 == 0 { i as f64 } else { i as f64 / 7.0 })
        .sum();
    assert!((sum - archived_sum - 0.5).abs() < 1e-9, "{sum}");
    let minute = range("app.odd", 0, 60_000, 60_000, Aggregation::Last);
    let last = store.query_range(minute).await.unwrap().series[0].points[0].1;
    assert_eq!(
        last,
        5.0 / 7.0,
        "the archived minute's last sample is later"
    );

    // Retention deletes a chunk once its last sample is past the cut-off.
    let far = i64::MIN / 2;
    let keep_all = RetentionCutoffs {
        raw: 0,
        minute: far,
        hour: far,
        deliveries: far,
    };
    assert_eq!(store.apply_retention(keep_all).await.unwrap(), 0);
    let drop_day = RetentionCutoffs {
        raw: 86_400_000,
        ..keep_all
    };
    assert_eq!(store.apply_retention(drop_day).await.unwrap(), 3 * 720 + 1);
    assert_eq!(store.sample_count().await.unwrap(), 0);
    // The rollups keep the day.
    let hourly = range("system.cpuUsage", 0, 7_200_000, 3_600_000, Aggregation::Max);
    assert_eq!(store.query_range(hourly).await.unwrap().series.len(), 2);
}

#[test]
fn releasing_the_cache_drops_blocks_read_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Database::open(&dir.path().join("cache.duckdb")).unwrap();
    let samples = |from: i64, to: i64| -> Vec<Sample> {
        (from..to)
            .map(|i| sample("app.load", (i % 977) as f64 / 7.0, i * 1000, &[]))
            .collect()
    };
    db.append(&samples(0, 300_000)).unwrap();
    db.checkpoint().unwrap();
    // Rows after the checkpoint live only in memory and must stay there.
    db.append(&samples(300_000, 320_000)).unwrap();
    let all_points = |db: &Database| {
        db.query("app.load", 0, i64::MAX).unwrap().series[0]
            .points
            .len()
    };
    assert_eq!(all_points(&db), 320_000);
    let cached = || db.memory_bytes("tag = 'BASE_TABLE'").unwrap();
    let in_memory = || db.memory_bytes("tag = 'IN_MEMORY_TABLE'").unwrap();
    let (cached_before, in_memory_before) = (cached(), in_memory());
    assert!(
        cached_before >= 1 << 20,
        "{cached_before} bytes of table blocks cached"
    );
    assert!(in_memory_before > 0);
    db.release_cache().unwrap();
    assert!(
        cached() <= CACHE_RELEASE_MARGIN,
        "{cached_before} bytes cached before, {} after",
        cached()
    );
    assert_eq!(in_memory(), in_memory_before);
    let spilled: i64 = db
        .conn()
        .query_row(
            "SELECT sum(temporary_storage_bytes)::BIGINT FROM duckdb_memory()",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(spilled, 0, "nothing is written to temporary files for it");
    // The limit is back: the data is all there and queries work.
    assert_eq!(all_points(&db), 320_000);
}

#[tokio::test]
async fn rollups_of_the_epoch_ms_layout_are_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    two_hours(&store).await;
    store.compact(i64::MAX).await.unwrap();
    let last = range("app.load", 0, 7_200_000, 60_000, Aggregation::Last);
    let before = store.query_range(last.clone()).await.unwrap();
    store.close().await.unwrap();
    // Put the rollups back as the previous version wrote them.
    let conn = duckdb::Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
    for table in ["rollup_1m", "rollup_1h"] {
        conn.execute_batch(&format!(
            "ALTER TABLE {table} ADD COLUMN last_ts BIGINT;
             UPDATE {table} SET last_ts = bucket + last_offset;
             ALTER TABLE {table} DROP COLUMN last_offset;"
        ))
        .unwrap();
    }
    drop(conn);

    let store = Store::open(dir.path()).unwrap();
    let after = store.query_range(last).await.unwrap();
    assert_eq!(after.series[0].points, before.series[0].points);
    assert_eq!(after.series[0].points[1], (60_000, 11.0));
    // A late sample of a migrated minute is merged by its time.
    store
        .append(vec![sample("app.load", -1.0, 65_000, &[("host", "a")])])
        .await
        .unwrap();
    store.compact(i64::MAX).await.unwrap();
    let minute = store
        .query_range(range(
            "app.load",
            60_000,
            120_000,
            60_000,
            Aggregation::Last,
        ))
        .await
        .unwrap();
    assert_eq!(minute.series[0].points, vec![(60_000, 11.0)]);
    let minute = store
        .query_range(range("app.load", 60_000, 120_000, 60_000, Aggregation::Min))
        .await
        .unwrap();
    assert_eq!(minute.series[0].points, vec![(60_000, -1.0)]);
}

#[tokio::test]
async fn an_archived_day_leaves_no_rows_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    two_hours(&store).await;
    store.compact(i64::MAX).await.unwrap();
    let minutes = range("app.load", 0, 7_200_000, 60_000, Aggregation::Avg);
    let before = store.query_range(minutes.clone()).await.unwrap();
    store.merge(0, 86_400_000).await.unwrap();
    store.close().await.unwrap();

    // The day left the row tables for the archive: 720 samples in chunks
    // of one series, and its 120 minutes in one more chunk.
    let conn = duckdb::Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM samples_compact"), 0);
    assert_eq!(count("SELECT count(*) FROM rollup_1m"), 0);
    assert_eq!(
        count("SELECT sum(count)::BIGINT FROM archive WHERE tier = 0"),
        720
    );
    assert_eq!(
        count("SELECT sum(count)::BIGINT FROM archive WHERE tier = 1"),
        120
    );
    assert_eq!(count("SELECT count(*) FROM rollup_1h"), 2);
    drop(conn);

    let store = Store::open(dir.path()).unwrap();
    let after = store.query_range(minutes).await.unwrap();
    assert_eq!(after.series[0].points, before.series[0].points);
    let raw = store.query("app.load", 0, 7_200_000).await.unwrap();
    assert_eq!(raw.series[0].points.len(), 720);
    assert_eq!(raw.series[0].points[719], (7_190_000, 719.0));
}

/// `end - start` of the extreme i64s wrapped to -1 steps in release, past
/// the step limit, and panicked the store thread in debug.
#[tokio::test]
async fn query_range_over_the_whole_i64_range_is_refused_not_wrapped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .append(vec![sample("app.q", 1.0, 1_000, &[])])
        .await
        .unwrap();
    let whole_i64 = store
        .query_range(range("app.q", i64::MIN, i64::MAX, 1, Aggregation::Avg))
        .await;
    assert!(
        matches!(whole_i64, Err(StoreError::TooManySteps { .. })),
        "{whole_i64:?}"
    );
    let before_first_step = store
        .query_range(range("app.q", i64::MIN, i64::MIN + 10, 7, Aggregation::Avg))
        .await;
    assert!(
        matches!(before_first_step, Err(StoreError::StartOutOfRange { .. })),
        "{before_first_step:?}"
    );
    let after = store
        .query_range(range("app.q", 0, 10_000, 10_000, Aggregation::Max))
        .await
        .unwrap();
    assert_eq!(
        after.series[0].points,
        vec![(0, 1.0)],
        "the store thread still answers"
    );
}

#[tokio::test]
async fn one_series_is_read_by_its_exact_labels_from_head_compact_and_archive() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut batch = Vec::new();
    for minute in 0..120 {
        let ts = minute * 60_000;
        batch.push(sample("app.load", minute as f64, ts, &[("host", "a")]));
        batch.push(sample(
            "app.load",
            -1.0,
            ts,
            &[("host", "a"), ("core", "0")],
        ));
    }
    store.append(batch).await.unwrap();
    let only_a = Labels::try_from_pairs([("host".to_owned(), "a".to_owned())]).unwrap();
    let read = |from, to| store.query_series("app.load", only_a.clone(), from, to);
    let head = read(0, 3_600_000)
        .await
        .unwrap()
        .expect("the series exists");
    assert_eq!(
        head.points.len(),
        60,
        "one series, not the one that includes its labels"
    );
    assert!(head.points.iter().all(|(_, v)| *v >= 0.0));
    store.compact(3_600_000).await.unwrap();
    store.merge(0, 86_400_000).await.unwrap();
    let whole = read(0, 7_200_000).await.unwrap().unwrap();
    assert_eq!(
        store
            .series_extent("app.load", only_a.clone(), 60_000, 7_000_000)
            .await
            .unwrap(),
        Some((60_000, 116 * 60_000)),
        "bounded by the range, from the archive's chunk bounds and the head"
    );
    assert_eq!(whole.points.len(), 120);
    assert_eq!(whole.points[119], (119 * 60_000, 119.0));
    assert!(
        read(7_200_000, 9_000_000)
            .await
            .unwrap()
            .unwrap()
            .points
            .is_empty()
    );
    let nobody = Labels::try_from_pairs([("host".to_owned(), "b".to_owned())]).unwrap();
    assert!(
        store
            .query_series("app.load", nobody, 0, 7_200_000)
            .await
            .unwrap()
            .is_none()
    );
}
