//! A backend over local tablet storage.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use futures::StreamExt;
use tracing::{debug, info, warn};

use crate::metrics::BackendMetrics;
use crate::service::{
    BackendError, BackendService, BatchStream, ColumnStatistics, ScanRequest, TabletDescriptor, TabletWrite,
};
use cairn_common::ids::{BackendId, TabletId, TransactionId, Version};
use cairn_storage::compaction::{CompactionPolicy, compact_tablet};
use cairn_storage::scan::{ScanEnd, scan_tablet};
use cairn_storage::{DecodedCache, ScanOptions, ScanValue, TabletSchema};
use cairn_storage::{StorageError, TabletManager, TabletStatistics};

#[derive(Debug, Clone)]
pub struct LocalBackendConfig {
    pub backend_id: BackendId,
    pub host: String,
    pub http_port: u16,
    /// The BE RPC port shown by SHOW BACKENDS.
    pub be_port: u16,
    pub storage_root_path: PathBuf,
    pub compaction_interval: Duration,
    pub compaction: CompactionPolicy,
    /// How long replaced rowsets stay for readers of older versions.
    pub stale_rowset_retention: Duration,
    /// Bytes of decoded columns kept for later scans (StarRocks' `storage_page_cache_limit`).
    pub storage_page_cache_limit: usize,
}

pub struct LocalBackend {
    config: LocalBackendConfig,
    tablets: Arc<TabletManager>,
    metrics: Arc<BackendMetrics>,
    page_cache: Arc<DecodedCache>,
}

impl LocalBackend {
    pub fn open(config: LocalBackendConfig) -> Result<Arc<LocalBackend>, BackendError> {
        let tablets = TabletManager::open(config.storage_root_path.clone()).map_err(|source| {
            BackendError::Storage {
                backend_id: config.backend_id,
                source,
            }
        })?;
        Ok(Arc::new(LocalBackend {
            page_cache: Arc::new(DecodedCache::new(config.storage_page_cache_limit)),
            config,
            tablets: Arc::new(tablets),
            metrics: Arc::new(BackendMetrics::default()),
        }))
    }

    pub fn page_cache(&self) -> Arc<DecodedCache> {
        Arc::clone(&self.page_cache)
    }

    pub fn metrics(&self) -> Arc<BackendMetrics> {
        Arc::clone(&self.metrics)
    }

    fn storage_error(&self, source: StorageError) -> BackendError {
        BackendError::Storage {
            backend_id: self.config.backend_id,
            source,
        }
    }

    /// Runs blocking storage work off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&TabletManager) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, BackendError> {
        let tablets = Arc::clone(&self.tablets);
        match tokio::task::spawn_blocking(move || work(&tablets)).await {
            Ok(result) => result.map_err(|source| self.storage_error(source)),
            Err(error) => Err(BackendError::Task {
                backend_id: self.config.backend_id,
                message: error.to_string(),
            }),
        }
    }

    /// Starts background compaction and the sweep of stale rowsets.
    pub fn start_background_tasks(self: &Arc<Self>) {
        let backend = Arc::clone(self);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(backend.config.compaction_interval);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let policy = backend.config.compaction.clone();
                let retention = backend.config.stale_rowset_retention.as_secs();
                let metrics = Arc::clone(&backend.metrics);
                let outcome = backend
                    .blocking(move |tablets| {
                        for tablet in tablets.all_tablets() {
                            match compact_tablet(&tablet, &policy) {
                                Ok(Some(outcome)) => {
                                    debug!(tablet_id = tablet.tablet_id(), ?outcome, "compacted");
                                    BackendMetrics::add(&metrics.compactions, 1);
                                    BackendMetrics::add(
                                        &metrics.compaction_input_rowsets,
                                        outcome.input_rowsets as u64,
                                    );
                                }
                                Ok(None) => {}
                                Err(error) => {
                                    warn!(tablet_id = tablet.tablet_id(), %error, "compaction failed")
                                }
                            }
                            match tablet.sweep_stale(retention) {
                                Ok(swept) => {
                                    BackendMetrics::add(&metrics.stale_rowsets_swept, swept as u64)
                                }
                                Err(error) => warn!(%error, "sweeping stale rowsets failed"),
                            }
                        }
                        Ok(())
                    })
                    .await;
                if let Err(error) = outcome {
                    warn!(%error, "background compaction round failed");
                }
            }
        });
        info!(backend_id = self.config.backend_id, "backend background tasks started");
    }
}

#[async_trait]
impl BackendService for LocalBackend {
    fn backend_id(&self) -> BackendId {
        self.config.backend_id
    }

    fn host(&self) -> String {
        self.config.host.clone()
    }

    fn http_port(&self) -> u16 {
        self.config.http_port
    }

    fn be_port(&self) -> u16 {
        self.config.be_port
    }

    async fn create_tablets(&self, tablets: Vec<TabletDescriptor>) -> Result<(), BackendError> {
        self.blocking(move |manager| {
            for tablet in tablets {
                manager.create_tablet(tablet.tablet_id, tablet.keys_type, tablet.key_columns)?;
            }
            Ok(())
        })
        .await
    }

    async fn drop_tablets(&self, tablet_ids: Vec<TabletId>) -> Result<(), BackendError> {
        self.blocking(move |manager| {
            for tablet_id in tablet_ids {
                manager.drop_tablet(tablet_id)?;
            }
            Ok(())
        })
        .await
    }

    async fn write(
        &self,
        transaction_id: TransactionId,
        writes: Vec<TabletWrite>,
    ) -> Result<(), BackendError> {
        let rows: usize = writes
            .iter()
            .flat_map(|write| write.batches.iter())
            .map(RecordBatch::num_rows)
            .sum();
        let bytes: usize = writes
            .iter()
            .flat_map(|write| write.batches.iter())
            .map(RecordBatch::get_array_memory_size)
            .sum();
        // Encoding rowsets is the costly part of a load; tablets are independent, so they are
        // written on as many threads as the machine has cores.
        let parallelism = std::thread::available_parallelism().map_or(1, |cores| cores.get()).min(writes.len()).max(1);
        let mut groups: Vec<Vec<TabletWrite>> = (0..parallelism).map(|_| Vec::new()).collect();
        for (index, write) in writes.into_iter().enumerate() {
            groups[index % parallelism].push(write);
        }
        let written = futures::future::join_all(groups.into_iter().map(|group| {
            self.blocking(move |manager| {
                for write in group {
                    let tablet = manager.tablet(write.tablet_id)?;
                    tablet.write(transaction_id, &write.schema, &write.batches, write.mode)?;
                }
                Ok(())
            })
        }))
        .await;
        for result in written {
            result?;
        }
        BackendMetrics::add(&self.metrics.rows_written, rows as u64);
        BackendMetrics::add(&self.metrics.bytes_written, bytes as u64);
        Ok(())
    }

    async fn publish(
        &self,
        transaction_id: TransactionId,
        tablets: Vec<(TabletId, Version)>,
    ) -> Result<(), BackendError> {
        self.blocking(move |manager| {
            for (tablet_id, version) in tablets {
                match manager.tablet(tablet_id) {
                    Ok(tablet) => tablet.publish(transaction_id, version)?,
                    // A dropped table's tablets need no publish.
                    Err(StorageError::TabletNotFound { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(())
        })
        .await
    }

    async fn abort(
        &self,
        transaction_id: TransactionId,
        tablet_ids: Vec<TabletId>,
    ) -> Result<(), BackendError> {
        self.blocking(move |manager| {
            for tablet_id in tablet_ids {
                match manager.tablet(tablet_id) {
                    Ok(tablet) => tablet.abort(transaction_id)?,
                    Err(StorageError::TabletNotFound { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(())
        })
        .await
    }

    fn scan(&self, request: ScanRequest) -> Result<BatchStream, BackendError> {
        let tablet = self
            .tablets
            .tablet(request.tablet_id)
            .map_err(|source| self.storage_error(source))?;
        let backend_id = self.config.backend_id;
        // Warm data is read in place, on the query's thread: a blocking thread and a channel
        // per tablet cost a wake-up of one thread or the other per batch, which outweighs
        // handing on cached arrays (a SUM over 100M cached BIGINTs took 62-66 ms of CPU that
        // way and 50-55 ms in place). The batches are slices of the cache's arrays, so holding a
        // whole tablet's costs no memory; a scan that needs the disk, a column converted to
        // the table schema or a primary key merge starts over on a blocking thread.
        let in_memory = ScanOptions {
            predicate: request.predicate.as_ref(),
            cache: &self.page_cache,
            dictionary_columns: &request.dictionary_columns,
            cached_only: true,
        };
        let mut batches = Vec::new();
        let end = scan_tablet(&tablet, request.version, &request.schema, &request.projection, &in_memory, |batch| {
            batches.push(Ok(batch));
            true
        })
        .map_err(|source| self.storage_error(source))?;
        if end != ScanEnd::NotInMemory {
            // Each batch yields to the runtime first, as waiting on the channel did: a task
            // that never yields keeps the tasks it wakes in its worker's LIFO slot, which the
            // other worker can not steal (TPC-H q04, q10 and q21 used 1.1-1.2 cores instead of
            // 1.5-1.7 without). It yields by waking itself, which moves the task it woke out
            // of the LIFO slot into the stealable queue. `tokio::task::yield_now` defers the
            // task until the worker has polled the I/O driver, a system call per batch: a SUM
            // over 100M cached BIGINTs took 1.16-1.17 times a memory read with it and 1.10-1.11
            // this way (paired, 20 rounds each), and TPC-H's CPU per round went 1890 -> 1830 ms.
            return Ok(futures::stream::iter(batches)
                .then(|batch| async move {
                    let mut yielded = false;
                    std::future::poll_fn(|context| {
                        if std::mem::replace(&mut yielded, true) {
                            return std::task::Poll::Ready(());
                        }
                        context.waker().wake_by_ref();
                        std::task::Poll::Pending
                    })
                    .await;
                    batch
                })
                .boxed());
        }
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<RecordBatch, BackendError>>(2);
        let failure_sender = sender.clone();
        let page_cache = Arc::clone(&self.page_cache);
        let scan = tokio::task::spawn_blocking(move || {
            let options = ScanOptions {
                predicate: request.predicate.as_ref(),
                cache: &page_cache,
                dictionary_columns: &request.dictionary_columns,
                cached_only: false,
            };
            let result = scan_tablet(
                &tablet,
                request.version,
                &request.schema,
                &request.projection,
                &options,
                |batch| sender.blocking_send(Ok(batch)).is_ok(),
            );
            if let Err(source) = result {
                let _ = sender.blocking_send(Err(BackendError::Storage { backend_id, source }));
            }
        });
        // A scan that panics must fail the query, not end its stream as if complete.
        tokio::spawn(async move {
            if let Err(error) = scan.await {
                let _ = failure_sender
                    .send(Err(BackendError::Task {
                        backend_id,
                        message: format!("tablet scan failed: {error}"),
                    }))
                    .await;
            }
        });
        Ok(futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        })
        .boxed())
    }

    async fn tablet_statistics(&self) -> Vec<TabletStatistics> {
        self.tablets.statistics()
    }

    async fn stored_rows(&self, tablets: Vec<(TabletId, Version)>) -> Result<u64, BackendError> {
        let mut rows = 0;
        for (tablet_id, version) in tablets {
            let tablet = self.tablets.tablet(tablet_id).map_err(|source| self.storage_error(source))?;
            rows += tablet.row_count_at(version).map_err(|source| self.storage_error(source))?;
        }
        Ok(rows)
    }

    async fn column_statistics(
        &self,
        tablets: Vec<(TabletId, Version)>,
        schema: TabletSchema,
        columns: Vec<String>,
    ) -> Result<Vec<ColumnStatistics>, BackendError> {
        let mut per_tablet = Vec::with_capacity(tablets.len());
        for (tablet_id, version) in tablets {
            let tablet = self.tablets.tablet(tablet_id).map_err(|source| self.storage_error(source))?;
            let statistics = cairn_storage::scan::tablet_column_statistics(&tablet, version, &schema, &columns, &self.page_cache)
                .map_err(|source| self.storage_error(source))?;
            per_tablet.push(statistics);
        }
        Ok(cairn_storage::scan::combine_all(per_tablet, columns.len())
            .into_iter()
            .map(|column| ColumnStatistics {
                bounds: column.bound.and_then(|(min, max)| Some((ScanValue::from_scalar(&min)?, ScanValue::from_scalar(&max)?))),
                distinct: column.distinct,
            })
            .collect())
    }

    async fn tablet_ids(&self) -> Vec<TabletId> {
        self.tablets.tablet_ids()
    }

    async fn pending_transactions(&self) -> Vec<(TabletId, TransactionId)> {
        self.tablets
            .all_tablets()
            .iter()
            .flat_map(|tablet| {
                let tablet_id = tablet.tablet_id();
                tablet
                    .pending_transaction_ids()
                    .into_iter()
                    .map(move |transaction_id| (tablet_id, transaction_id))
            })
            .collect()
    }
}
