//! The alert log: every alert transition, kept for
//! `GET /api/v1/alerts/history`.

use duckdb::params;

use super::db::Database;
use super::{AlertRecord, StoreError};

impl Database {
    /// Appends alert transitions.
    pub fn record_alert_events(&mut self, events: &[AlertRecord]) -> Result<(), StoreError> {
        let tx = self.conn_mut().transaction()?;
        {
            let mut appender = tx.appender("alert_history")?;
            for e in events {
                let labels = serde_json::to_string(&e.alert.labels).expect("labels serialise");
                let value = e.alert.value.is_finite().then_some(e.alert.value);
                appender.append_row(params![
                    e.at,
                    e.alert.id,
                    e.alert.rule,
                    e.event,
                    e.alert.severity.as_str(),
                    e.alert.metric,
                    labels,
                    value,
                    e.alert.message
                ])?;
            }
            appender.flush()?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Alert transitions in `[start_ms, end_ms)`, oldest first, optionally of one rule.
    pub fn alert_history(
        &self,
        start_ms: i64,
        end_ms: i64,
        rule: Option<&str>,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT ts, alert_id, rule, event, severity, metric, labels, value, message FROM alert_history
             WHERE ts >= ? AND ts < ? AND (? IS NULL OR rule = ?) ORDER BY ts, alert_id LIMIT 100000",
        )?;
        let mut rows = stmt.query(params![start_ms, end_ms, rule, rule])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let labels: String = row.get(6)?;
            out.push(serde_json::json!({
                "timestamp": row.get::<_, i64>(0)?,
                "alertId": row.get::<_, String>(1)?,
                "rule": row.get::<_, String>(2)?,
                "event": row.get::<_, String>(3)?,
                "severity": row.get::<_, String>(4)?,
                "metric": row.get::<_, String>(5)?,
                "labels": serde_json::from_str::<serde_json::Value>(&labels).unwrap_or_default(),
                "value": row.get::<_, Option<f64>>(7)?,
                "message": row.get::<_, String>(8)?,
            }));
        }
        Ok(out)
    }
}
