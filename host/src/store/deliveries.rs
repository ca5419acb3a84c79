//! The delivery log: every notification attempt, drop and skip, kept for
//! `GET /api/v1/deliveries` until retention deletes it with the raw
//! samples of its day.

use duckdb::params;

use super::StoreError;
use super::db::Database;
use crate::model::{DeliveryRecord, DeliveryStatus};

/// Which records a query wants, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryQuery {
    /// Only this channel's (`console#0`; `*` for skips).
    pub channel: Option<String>,
    /// Only those with this status.
    pub status: Option<DeliveryStatus>,
    /// At most this many.
    pub limit: usize,
}

impl Database {
    /// Appends delivery records in one transaction.
    pub fn record_deliveries(&mut self, records: &[DeliveryRecord]) -> Result<(), StoreError> {
        let tx = self.conn_mut().transaction()?;
        {
            let mut appender = tx.appender("deliveries")?;
            for r in records {
                let alert_ids = serde_json::to_string(&r.alert_ids).expect("ids serialise");
                appender.append_row(params![
                    r.timestamp,
                    r.channel,
                    r.status.as_str(),
                    r.attempt,
                    r.group_key,
                    alert_ids,
                    r.resolved,
                    r.error_class,
                    r.error,
                    r.latency_ms.map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
                ])?;
            }
            appender.flush()?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The newest records that `query` selects, newest first (in the order
    /// they were written, for records of one millisecond).
    pub fn deliveries(&self, query: &DeliveryQuery) -> Result<Vec<DeliveryRecord>, StoreError> {
        let status = query.status.map(DeliveryStatus::as_str);
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let mut stmt = self.conn().prepare_cached(
            "SELECT ts, channel, status, attempt, group_key, alert_ids, resolved, error_class, error, latency_ms
             FROM deliveries
             WHERE (? IS NULL OR channel = ?) AND (? IS NULL OR status = ?)
             ORDER BY ts DESC, rowid DESC LIMIT ?",
        )?;
        let mut rows = stmt.query(params![query.channel, query.channel, status, status, limit])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let status: String = row.get(2)?;
            let alert_ids: String = row.get(5)?;
            out.push(DeliveryRecord {
                timestamp: row.get(0)?,
                channel: row.get(1)?,
                status: DeliveryStatus::from_name(&status).ok_or_else(|| {
                    StoreError::Corrupt(format!("delivery record with status {status:?}"))
                })?,
                attempt: row.get(3)?,
                group_key: row.get(4)?,
                alert_ids: serde_json::from_str(&alert_ids).map_err(|e| {
                    StoreError::Corrupt(format!("delivery record alert ids {alert_ids:?}: {e}"))
                })?,
                resolved: row.get(6)?,
                error_class: row.get(7)?,
                error: row.get(8)?,
                latency_ms: row
                    .get::<_, Option<i64>>(9)?
                    .map(|ms| u64::try_from(ms).unwrap_or(0)),
            });
        }
        Ok(out)
    }
}
