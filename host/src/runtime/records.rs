//! The task that writes the delivery queue's records to the store, in
//! batches of what has arrived meanwhile; and at shutdown, what is still
//! queued, before the store closes, so no attempt goes unrecorded.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::model::DeliveryRecord;
use crate::store::{Store, StoreError};

/// Most delivery records written in one transaction.
const RECORD_BATCH: usize = 256;

/// The running writer; [`RecordWriter::finish`] drains and ends it.
pub struct RecordWriter {
    drain: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl RecordWriter {
    /// Starts writing what arrives at `records` into `store`.
    pub fn spawn(store: Store, records: mpsc::Receiver<DeliveryRecord>) -> Self {
        let (drain, drained) = oneshot::channel();
        Self {
            drain,
            task: tokio::spawn(write(store, records, drained)),
        }
    }

    /// Writes what is queued now and stops; call before closing the store.
    pub async fn finish(self) {
        let _ = self.drain.send(());
        let _ = self.task.await;
    }
}

/// Until every sender is gone or a drain is asked for. A batch the store
/// refuses is logged with its size; the outcomes were logged as they
/// happened.
async fn write(
    store: Store,
    mut records: mpsc::Receiver<DeliveryRecord>,
    mut drain: oneshot::Receiver<()>,
) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    loop {
        let draining = tokio::select! {
            received = records.recv_many(&mut batch, RECORD_BATCH) => {
                if received == 0 {
                    return;
                }
                false
            }
            _ = &mut drain => {
                while let Ok(record) = records.try_recv() {
                    batch.push(record);
                }
                true
            }
        };
        if !batch.is_empty() {
            let count = batch.len();
            match store.record_deliveries(std::mem::take(&mut batch)).await {
                Ok(()) => {}
                Err(StoreError::Closed) => {
                    tracing::info!(
                        records = count,
                        "the store has closed; delivery records not stored"
                    );
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %anyhow::Error::from(e), records = count, "cannot store delivery records")
                }
            }
        }
        if draining {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeliveryStatus;
    use crate::store::DeliveryQuery;

    fn record(ts: i64) -> DeliveryRecord {
        DeliveryRecord {
            timestamp: ts,
            channel: "console#0".to_owned(),
            status: DeliveryStatus::Delivered,
            attempt: 1,
            group_key: String::new(),
            alert_ids: vec![format!("alert-{ts}")],
            resolved: false,
            error_class: None,
            error: None,
            latency_ms: Some(1),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn records_still_queued_at_shutdown_are_stored_before_the_store_closes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (sender, receiver) = mpsc::channel(16);
        let writer = RecordWriter::spawn(store.clone(), receiver);
        // Queued while the writer has not run once: on this single thread
        // it runs only when the test awaits.
        for ts in 1..=3 {
            sender.try_send(record(ts)).unwrap();
        }
        // The sender stays alive, as the delivery queue's do at shutdown.
        writer.finish().await;
        let stored = store
            .deliveries(DeliveryQuery {
                channel: None,
                status: None,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(stored.len(), 3, "{stored:?}");
        drop(sender);
    }
}
