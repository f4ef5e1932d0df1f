//! Load transactions: label checks, commit into the journal, publish on the backends.
//!
//! A transaction writes pending rowsets on the backends, then commits: the journal records
//! the partition versions it will publish. Only then are the backends told to publish, and a
//! second record marks it visible. A crash between the two records is finished at startup by
//! [`TransactionManager::recover`], so a committed load is never lost and never half visible.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;
use tracing::{info, warn};

use crate::catalog::{JournalEntry, TransactionRecord, TransactionStatus};
use crate::error::FeError;
use crate::metadata::Metadata;
use cairn_be::{BackendService, TabletWrite};
use cairn_common::ids::{BackendId, DatabaseId, PartitionId, TableId, TabletId, TransactionId};

/// A transaction under way.
pub struct Transaction {
    pub transaction_id: TransactionId,
    pub label: String,
    pub database_id: DatabaseId,
    pub table_id: TableId,
    /// Partitions to publish, with the tablets written in each.
    partitions: BTreeMap<PartitionId, Vec<(TabletId, Vec<BackendId>)>>,
    pub rows: u64,
    /// Set for a Routine Load batch: its offsets commit with its rows.
    pub routine_load: Option<cairn_load::RoutineLoadCommit>,
    finished: bool,
}

/// What the client is told about a finished transaction.
#[derive(Debug, Clone)]
pub struct TransactionOutcome {
    pub transaction_id: TransactionId,
    pub label: String,
    pub rows: u64,
}

pub struct TransactionManager {
    metadata: Arc<Metadata>,
    backend: Arc<dyn BackendService>,
    /// Labels of transactions under way, per database.
    running_labels: Mutex<HashSet<(DatabaseId, String)>>,
    /// One commit at a time per table, so versions are handed out and published in order.
    table_locks: Mutex<HashMap<TableId, Arc<tokio::sync::Mutex<()>>>>,
}

/// How long a finished transaction's label is kept, as StarRocks' `label_keep_max_second`
/// default (three days). Until then a retried load with the label is refused.
pub const LABEL_KEEP_MAX_SECONDS: i64 = 3 * 24 * 3600;
/// How often expired labels are looked for.
const LABEL_EXPIRY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl TransactionManager {
    pub fn new(metadata: Arc<Metadata>, backend: Arc<dyn BackendService>) -> Self {
        TransactionManager {
            metadata,
            backend,
            running_labels: Mutex::new(HashSet::new()),
            table_locks: Mutex::new(HashMap::new()),
        }
    }

    /// Every ten minutes, forgets the transactions finished longer ago than
    /// [`LABEL_KEEP_MAX_SECONDS`], so the catalog does not grow with every load forever.
    pub async fn expire_labels_forever(metadata: Arc<Metadata>) {
        loop {
            tokio::time::sleep(LABEL_EXPIRY_INTERVAL).await;
            let before = now_millis() - LABEL_KEEP_MAX_SECONDS * 1000;
            let expired = metadata.read().oldest_finished_commit_time().is_some_and(|oldest| oldest < before);
            if expired {
                if let Err(error) = metadata.log(JournalEntry::ExpireTransactions { before }) {
                    warn!(%error, "failed to expire old transaction labels");
                }
            }
        }
    }

    /// The lock that orders commits of one table; DELETE holds it for its whole run.
    pub fn table_lock(&self, table_id: TableId) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(self.table_locks.lock().entry(table_id).or_default())
    }

    /// Starts a transaction. A label already used by a committed or running transaction of
    /// the database is refused, which makes a retried load exactly-once.
    pub fn begin(
        &self,
        database_id: DatabaseId,
        table_id: TableId,
        label: Option<String>,
    ) -> Result<Transaction, FeError> {
        let transaction_id = self.metadata.allocate_transaction_id();
        let label = label.unwrap_or_else(|| format!("insert_{transaction_id:x}_{:x}", now_millis()));
        let key = (database_id, label.clone());
        // Checked under the running-labels lock, so a retry can not slip between the first
        // attempt's commit and the removal of its running label.
        let mut running = self.running_labels.lock();
        let existing = self.metadata.read().label(database_id, &label).map(|record| record.status);
        let accepted = existing.is_none() && running.insert(key);
        drop(running);
        if !accepted {
            let state = match existing {
                Some(TransactionStatus::Visible) => "VISIBLE",
                Some(TransactionStatus::Committed) => "COMMITTED",
                _ => "RUNNING",
            };
            return Err(FeError::LabelAlreadyExists { label, state });
        }
        Ok(Transaction {
            transaction_id,
            label,
            database_id,
            table_id,
            partitions: BTreeMap::new(),
            rows: 0,
            routine_load: None,
            finished: false,
        })
    }

    /// Writes rows of the transaction; `writes` pairs each tablet write with its partition.
    pub async fn write(
        &self,
        transaction: &mut Transaction,
        writes: Vec<(PartitionId, Vec<BackendId>, TabletWrite)>,
    ) -> Result<(), FeError> {
        let mut tablet_writes = Vec::with_capacity(writes.len());
        for (partition_id, backends, write) in writes {
            transaction.rows += write.batches.iter().map(|batch| batch.num_rows() as u64).sum::<u64>();
            let tablets = transaction.partitions.entry(partition_id).or_default();
            if !tablets.iter().any(|(tablet_id, _)| *tablet_id == write.tablet_id) {
                tablets.push((write.tablet_id, backends));
            }
            tablet_writes.push(write);
        }
        if tablet_writes.is_empty() {
            return Ok(());
        }
        self.backend
            .write(transaction.transaction_id, tablet_writes)
            .await
            .map_err(FeError::from)
    }

    /// Marks a partition as part of the transaction even if no rows went to it (a DELETE
    /// that empties it still publishes a version).
    pub fn touch_partition(&self, transaction: &mut Transaction, partition_id: PartitionId) {
        transaction.partitions.entry(partition_id).or_default();
    }

    /// Commits and publishes. When this returns, the rows are durable and visible.
    pub async fn commit(&self, transaction: &mut Transaction) -> Result<TransactionOutcome, FeError> {
        let lock = self.table_lock(transaction.table_id);
        let _guard = lock.lock().await;
        self.commit_locked(transaction).await
    }

    /// Commit for a caller that already holds the table lock.
    pub async fn commit_locked(&self, transaction: &mut Transaction) -> Result<TransactionOutcome, FeError> {
        // An earlier commit of this table whose publish failed holds the next version:
        // finish it first, or two transactions would publish the same version.
        self.publish_committed(Some(transaction.table_id)).await?;
        let (record, publish_tablets) = {
            let catalog = self.metadata.read();
            let table = catalog
                .table_by_id(transaction.database_id, transaction.table_id)
                .ok_or_else(|| FeError::analysis("the table was dropped while the load ran"))?;
            let mut partition_versions = Vec::new();
            let mut tablets = Vec::new();
            let mut publish_tablets = Vec::new();
            for (partition_id, written) in &transaction.partitions {
                let Some(partition) = table.partition_by_id(*partition_id) else {
                    return Err(FeError::analysis("a partition was dropped while the load ran"));
                };
                // A TRUNCATE while the load ran replaced the tablets it wrote.
                if let Some((tablet_id, _)) = written
                    .iter()
                    .find(|(tablet_id, _)| !partition.tablets.iter().any(|tablet| tablet.id == *tablet_id))
                {
                    return Err(FeError::analysis(format!(
                        "partition '{}' was truncated while the load ran (tablet {tablet_id} is gone); nothing was loaded",
                        partition.name
                    )));
                }
                let version = partition.visible_version + 1;
                partition_versions.push((*partition_id, version));
                for tablet in &partition.tablets {
                    publish_tablets.push((tablet.id, version));
                    let backends = written
                        .iter()
                        .find(|(tablet_id, _)| *tablet_id == tablet.id)
                        .map(|(_, backends)| backends.clone())
                        .unwrap_or_else(|| tablet.backends.clone());
                    tablets.push((tablet.id, backends, *partition_id));
                }
            }
            (
                TransactionRecord {
                    transaction_id: transaction.transaction_id,
                    database_id: transaction.database_id,
                    table_id: transaction.table_id,
                    label: transaction.label.clone(),
                    status: TransactionStatus::Committed,
                    partition_versions,
                    tablets,
                    commit_time: now_millis(),
                    rows: transaction.rows,
                    routine_load: transaction.routine_load.clone(),
                },
                publish_tablets,
            )
        };
        // A Routine Load batch commits only if its job still runs from the same offsets,
        // checked under the journal lock so a PAUSE or a second task can not slip in between.
        let routine_load = record.routine_load.clone();
        self.metadata.log_checked(JournalEntry::CommitTransaction { record }, |catalog| {
            let Some(commit) = &routine_load else {
                return Ok(());
            };
            let job = catalog
                .routine_load_jobs
                .get(&commit.job_id)
                .ok_or_else(|| FeError::analysis("the routine load job was dropped while the batch ran"))?;
            job.check_commit(commit).map_err(FeError::analysis)
        })?;
        transaction.finished = true;
        self.running_labels
            .lock()
            .remove(&(transaction.database_id, transaction.label.clone()));
        // Committed: the rows are durable. Publishing makes them visible; retry it a few
        // times, and past that tell the client what StarRocks calls "Publish Timeout".
        let mut attempt = 0;
        loop {
            match self.publish(transaction.transaction_id, publish_tablets.clone()).await {
                Ok(()) => break,
                Err(error) if attempt < 3 => {
                    attempt += 1;
                    warn!(transaction_id = transaction.transaction_id, %error, attempt, "publish failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                }
                Err(error) => {
                    return Err(FeError::PublishTimeout(
                        format!(
                            "Publish Timeout: transaction {} (label {}) is committed and its rows are durable, \
                             but publishing them failed ({error}); they become visible when the publish is retried \
                             at the next start",
                            transaction.transaction_id, transaction.label
                        ),
                    ));
                }
            }
        }
        Ok(TransactionOutcome {
            transaction_id: transaction.transaction_id,
            label: transaction.label.clone(),
            rows: transaction.rows,
        })
    }

    async fn publish(
        &self,
        transaction_id: TransactionId,
        tablets: Vec<(TabletId, u64)>,
    ) -> Result<(), FeError> {
        self.backend.publish(transaction_id, tablets).await?;
        self.metadata.log(JournalEntry::PublishTransaction {
            transaction_id,
            publish_time: now_millis(),
        })
    }

    /// Drops a transaction's pending rows.
    /// Does nothing for a transaction that already committed: a failed publish is finished
    /// by [`TransactionManager::recover`].
    pub async fn abort(&self, transaction: &mut Transaction) {
        if transaction.finished {
            return;
        }
        transaction.finished = true;
        self.running_labels
            .lock()
            .remove(&(transaction.database_id, transaction.label.clone()));
        let tablet_ids: Vec<TabletId> = transaction
            .partitions
            .values()
            .flat_map(|tablets| tablets.iter().map(|(tablet_id, _)| *tablet_id))
            .collect();
        if let Err(error) = self.backend.abort(transaction.transaction_id, tablet_ids).await {
            warn!(transaction_id = transaction.transaction_id, %error, "abort failed; startup cleanup will retry");
        }
    }

    /// At startup: publishes transactions that committed but did not finish publishing,
    /// drops tablets the catalog no longer has, and aborts pending writes of transactions
    /// that never committed.
    pub async fn recover(&self) -> Result<(), FeError> {
        let known_tablets: HashSet<TabletId> = self
            .metadata
            .read()
            .databases
            .values()
            .flat_map(|database| database.tables.values())
            .flat_map(|table| table.tablet_ids())
            .collect();
        let orphans: Vec<TabletId> = self
            .backend
            .tablet_ids()
            .await
            .into_iter()
            .filter(|tablet_id| !known_tablets.contains(tablet_id))
            .collect();
        if !orphans.is_empty() {
            info!(count = orphans.len(), "dropping tablets the catalog does not know");
            self.backend.drop_tablets(orphans).await?;
        }
        // Pending rows of a transaction the journal never committed were never acknowledged.
        // Those of a committed or visible one are kept and published (again: it is idempotent).
        let pending = self.backend.pending_transactions().await;
        let (known, visible_with_pending): (HashSet<TransactionId>, BTreeMap<TransactionId, TransactionRecord>) = {
            let catalog = self.metadata.read();
            let visible = pending
                .iter()
                .filter_map(|(_, transaction_id)| catalog.transactions.get(transaction_id))
                .filter(|record| record.status == TransactionStatus::Visible)
                .map(|record| (record.transaction_id, record.clone()))
                .collect();
            let known = catalog
                .transactions
                .values()
                .filter(|record| record.status != TransactionStatus::Aborted)
                .map(|record| record.transaction_id)
                .collect();
            (known, visible)
        };
        for (tablet_id, transaction_id) in pending {
            if !known.contains(&transaction_id) {
                self.backend.abort(transaction_id, vec![tablet_id]).await?;
            }
        }
        for record in visible_with_pending.into_values() {
            self.publish(record.transaction_id, publish_targets(&record)).await?;
        }
        self.publish_committed(None).await
    }

    /// Publishes transactions that committed but did not finish publishing, of one table or
    /// of all.
    async fn publish_committed(&self, table_id: Option<u64>) -> Result<(), FeError> {
        let committed: Vec<TransactionRecord> = self
            .metadata
            .read()
            .committed_transactions()
            .filter(|record| table_id.is_none_or(|table_id| record.table_id == table_id))
            .cloned()
            .collect();
        for record in committed {
            info!(transaction_id = record.transaction_id, "finishing publish of a committed transaction");
            self.publish(record.transaction_id, publish_targets(&record)).await?;
        }
        Ok(())
    }
}

/// The tablets of a committed transaction with the version each publishes.
fn publish_targets(record: &TransactionRecord) -> Vec<(TabletId, u64)> {
    let versions: HashMap<PartitionId, u64> = record.partition_versions.iter().copied().collect();
    record
        .tablets
        .iter()
        .filter_map(|(tablet_id, _, partition_id)| versions.get(partition_id).map(|version| (*tablet_id, *version)))
        .collect()
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.finished {
            // The owner returned early with an error; its pending rows are aborted at the
            // next startup if nobody aborted them before.
            warn!(transaction_id = self.transaction_id, label = %self.label, "transaction dropped without commit or abort");
        }
    }
}
