//! The FE catalog: databases, tables, partitions, tablets, users, backends and transaction
//! labels, as a state machine. Every change is a [`JournalEntry`] applied by
//! [`Catalog::apply`], so replaying the journal rebuilds exactly the same catalog.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use cairn_common::ids::{
    BackendId, DatabaseId, ObjectId, PartitionId, TableId, TabletId, TransactionId, Version,
};
use cairn_common::{ColumnDefinition, KeysType, TableDefinition};

use cairn_load::RoutineLoadCommit;

use crate::partition::PartitionRange;
use crate::routine_load::job::{RoutineLoadJob, RoutineLoadState};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Partition {
    pub id: PartitionId,
    pub name: String,
    /// `None` for the single partition of an unpartitioned table.
    pub range: Option<PartitionRange>,
    pub visible_version: Version,
    /// Milliseconds since the epoch of the last publish.
    pub visible_version_time: i64,
    pub tablets: Vec<Tablet>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tablet {
    pub id: TabletId,
    pub backends: Vec<BackendId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Table {
    pub id: TableId,
    /// The definition as created and altered; `definition.name` is the table name.
    pub definition: TableDefinition,
    pub bucket_count: u32,
    pub replication_num: u32,
    pub partitions: BTreeMap<String, Partition>,
    pub create_time: i64,
    /// The `unique_id` the next added column gets: ids of dropped columns are never reused.
    #[serde(default)]
    pub next_column_id: u32,
}

impl Table {
    pub fn name(&self) -> &str {
        &self.definition.name
    }

    pub fn keys_type(&self) -> KeysType {
        self.definition.keys_type
    }

    pub fn columns(&self) -> &[ColumnDefinition] {
        &self.definition.columns
    }

    pub fn partition_by_id(&self, id: PartitionId) -> Option<&Partition> {
        self.partitions.values().find(|partition| partition.id == id)
    }

    pub fn partition_by_id_mut(&mut self, id: PartitionId) -> Option<&mut Partition> {
        self.partitions.values_mut().find(|partition| partition.id == id)
    }

    pub fn tablet_ids(&self) -> Vec<TabletId> {
        self.partitions
            .values()
            .flat_map(|partition| partition.tablets.iter().map(|tablet| tablet.id))
            .collect()
    }

    /// Newest publish time of any partition, for `information_schema.tables.update_time`.
    pub fn update_time(&self) -> i64 {
        self.partitions
            .values()
            .map(|partition| partition.visible_version_time)
            .max()
            .unwrap_or(self.create_time)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Database {
    pub id: DatabaseId,
    pub name: String,
    pub tables: BTreeMap<String, Table>,
}

impl Database {
    /// StarRocks table names are case-sensitive, but DataFusion lower-cases unquoted names,
    /// so an exact match wins and a unique case-insensitive match is accepted.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name).or_else(|| {
            let mut matches = self
                .tables
                .values()
                .filter(|table| table.name().eq_ignore_ascii_case(name));
            match (matches.next(), matches.next()) {
                (Some(table), None) => Some(table),
                _ => None,
            }
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub host: String,
    /// SHA1(SHA1(password)), as mysql_native_password stores it; empty for no password.
    pub password_hash: Vec<u8>,
    pub roles: Vec<String>,
    /// `(database, table, privilege)` grants; `*` for all.
    pub privileges: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Backend {
    pub id: BackendId,
    pub host: String,
    pub heartbeat_port: u16,
    pub http_port: u16,
    /// Set by `ALTER SYSTEM DECOMMISSION BACKEND`; the backend takes no new work.
    #[serde(default)]
    pub decommissioned: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransactionStatus {
    Committed,
    Visible,
    Aborted,
}

/// A transaction the catalog remembers: by label for exactly-once loads, and while committed
/// so a restarted FE finishes its publish.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransactionRecord {
    pub transaction_id: TransactionId,
    pub database_id: DatabaseId,
    pub table_id: TableId,
    pub label: String,
    pub status: TransactionStatus,
    /// Partition versions this transaction publishes.
    pub partition_versions: Vec<(PartitionId, Version)>,
    /// Tablets it wrote, with their backends, for publish.
    pub tablets: Vec<(TabletId, Vec<BackendId>, PartitionId)>,
    pub commit_time: i64,
    pub rows: u64,
    /// A Routine Load batch's offsets, which move the job's progress in this same record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routine_load: Option<RoutineLoadCommit>,
}

/// One change of the catalog. Ids are chosen before the entry is written, so replay assigns
/// the same ids.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JournalEntry {
    CreateDatabase { id: DatabaseId, name: String },
    DropDatabase { id: DatabaseId },
    CreateTable { database_id: DatabaseId, table: Table },
    DropTable { database_id: DatabaseId, table_id: TableId },
    AddPartitions { database_id: DatabaseId, table_id: TableId, partitions: Vec<Partition> },
    /// TRUNCATE: partitions get new empty tablets.
    ReplacePartitions { database_id: DatabaseId, table_id: TableId, partitions: Vec<Partition> },
    AlterColumns {
        database_id: DatabaseId,
        table_id: TableId,
        columns: Vec<ColumnDefinition>,
    },
    CommitTransaction { record: TransactionRecord },
    /// The transaction's rows became visible; partitions moved to their new versions.
    PublishTransaction { transaction_id: TransactionId, publish_time: i64 },
    AbortTransaction { transaction_id: TransactionId },
    CreateUser { user: User },
    AlterUser { user: User },
    DropUser { name: String, host: String },
    AddBackend { backend: Backend },
    DropBackend { backend_id: BackendId },
    DecommissionBackend { backend_id: BackendId },
    CreateRoutineLoad { job: RoutineLoadJob },
    /// ALTER ROUTINE LOAD: the job's new definition (progress included).
    AlterRoutineLoad { job: RoutineLoadJob },
    ChangeRoutineLoadState {
        job_id: u64,
        state: RoutineLoadState,
        reason: String,
        auto_resume: bool,
        time: i64,
    },
    /// Start offsets resolved (OFFSET_END became a number) or partitions added, without rows.
    UpdateRoutineLoadProgress {
        job_id: u64,
        #[serde(with = "cairn_common::offset_map")]
        offsets: BTreeMap<i32, i64>,
    },
    /// Forgets visible and aborted transactions committed before `before` (milliseconds): their
    /// labels may be used again, as after StarRocks' `label_keep_max_second`.
    ExpireTransactions { before: i64 },
    /// Reserves ids up to `next_id`, so ids handed out but not yet journaled never repeat.
    ReserveIds { next_id: ObjectId, next_transaction_id: TransactionId },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Catalog {
    pub next_id: ObjectId,
    pub next_transaction_id: TransactionId,
    pub databases: BTreeMap<String, Database>,
    pub users: Vec<User>,
    pub backends: Vec<Backend>,
    /// Transactions by id. Committed ones are published at startup if a crash interrupted
    /// them; visible ones stay for label checks.
    pub transactions: BTreeMap<TransactionId, TransactionRecord>,
    /// Routine Load jobs by id, stopped and cancelled ones included.
    #[serde(default)]
    pub routine_load_jobs: BTreeMap<u64, RoutineLoadJob>,
    /// Labels of transactions that did not abort, to their transaction: a load's label check
    /// must not scan every transaction (Routine Load commits several a second).
    #[serde(skip)]
    label_index: HashMap<(DatabaseId, String), TransactionId>,
    /// Transactions committed but not yet visible, which the next commit of their table
    /// publishes first.
    #[serde(skip)]
    committed: BTreeSet<TransactionId>,
}

impl Catalog {
    pub fn database(&self, name: &str) -> Option<&Database> {
        self.databases.get(name)
    }

    pub fn database_by_id(&self, id: DatabaseId) -> Option<&Database> {
        self.databases.values().find(|database| database.id == id)
    }

    fn database_by_id_mut(&mut self, id: DatabaseId) -> Option<&mut Database> {
        self.databases.values_mut().find(|database| database.id == id)
    }

    fn table_by_id_mut(&mut self, database_id: DatabaseId, table_id: TableId) -> Option<&mut Table> {
        self.database_by_id_mut(database_id)?
            .tables
            .values_mut()
            .find(|table| table.id == table_id)
    }

    pub fn table_by_id(&self, database_id: DatabaseId, table_id: TableId) -> Option<&Table> {
        self.database_by_id(database_id)?
            .tables
            .values()
            .find(|table| table.id == table_id)
    }

    /// The record of a label in a database, if any transaction used it and did not abort.
    pub fn label(&self, database_id: DatabaseId, label: &str) -> Option<&TransactionRecord> {
        let transaction_id = self.label_index.get(&(database_id, label.to_string()))?;
        self.transactions
            .get(transaction_id)
            .filter(|record| record.status != TransactionStatus::Aborted)
    }

    /// Transactions committed but not yet visible, oldest first.
    pub fn committed_transactions(&self) -> impl Iterator<Item = &TransactionRecord> {
        self.committed.iter().filter_map(|transaction_id| self.transactions.get(transaction_id))
    }

    /// Builds the indexes that are not stored, after the catalog is read from an image.
    pub fn rebuild_indexes(&mut self) {
        self.label_index.clear();
        self.committed.clear();
        for record in self.transactions.values() {
            if record.status != TransactionStatus::Aborted {
                self.label_index
                    .insert((record.database_id, record.label.clone()), record.transaction_id);
            }
            if record.status == TransactionStatus::Committed {
                self.committed.insert(record.transaction_id);
            }
        }
    }

    /// The commit time before which visible and aborted transactions may be forgotten, if any
    /// is that old.
    pub fn oldest_finished_commit_time(&self) -> Option<i64> {
        self.transactions
            .values()
            .find(|record| record.status != TransactionStatus::Committed)
            .map(|record| record.commit_time)
    }

    pub fn user(&self, name: &str, host: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|user| user.name == name && (user.host == host || user.host == "%"))
    }

    fn bump_ids(&mut self, id: ObjectId) {
        if id >= self.next_id {
            self.next_id = id + 1;
        }
    }

    /// Applies one entry. Entries were validated before they were written, so an entry that
    /// no longer fits (its table was dropped meanwhile) is skipped rather than failing replay.
    pub fn apply(&mut self, entry: &JournalEntry) {
        match entry {
            JournalEntry::CreateDatabase { id, name } => {
                self.bump_ids(*id);
                self.databases.insert(
                    name.clone(),
                    Database {
                        id: *id,
                        name: name.clone(),
                        tables: BTreeMap::new(),
                    },
                );
            }
            JournalEntry::DropDatabase { id } => {
                self.databases.retain(|_, database| database.id != *id);
            }
            JournalEntry::CreateTable { database_id, table } => {
                self.bump_ids(table.id);
                for partition in table.partitions.values() {
                    self.bump_ids(partition.id);
                    for tablet in &partition.tablets {
                        self.bump_ids(tablet.id);
                    }
                }
                if let Some(database) = self.database_by_id_mut(*database_id) {
                    database.tables.insert(table.name().to_string(), table.clone());
                }
            }
            JournalEntry::DropTable { database_id, table_id } => {
                if let Some(database) = self.database_by_id_mut(*database_id) {
                    database.tables.retain(|_, table| table.id != *table_id);
                }
            }
            JournalEntry::AddPartitions {
                database_id,
                table_id,
                partitions,
            }
            | JournalEntry::ReplacePartitions {
                database_id,
                table_id,
                partitions,
            } => {
                for partition in partitions {
                    self.bump_ids(partition.id);
                    for tablet in &partition.tablets {
                        self.bump_ids(tablet.id);
                    }
                }
                if let Some(table) = self.table_by_id_mut(*database_id, *table_id) {
                    for partition in partitions {
                        table.partitions.insert(partition.name.clone(), partition.clone());
                    }
                }
            }
            JournalEntry::AlterColumns {
                database_id,
                table_id,
                columns,
            } => {
                if let Some(table) = self.table_by_id_mut(*database_id, *table_id) {
                    let highest = columns.iter().map(|column| column.unique_id).max().unwrap_or(0);
                    table.next_column_id = table.next_column_id.max(highest + 1);
                    table.definition.columns = columns.clone();
                }
            }
            JournalEntry::CommitTransaction { record } => {
                if record.transaction_id >= self.next_transaction_id {
                    self.next_transaction_id = record.transaction_id + 1;
                }
                if let Some(commit) = &record.routine_load {
                    if let Some(job) = self.routine_load_jobs.get_mut(&commit.job_id) {
                        job.apply_commit(commit);
                    }
                }
                self.label_index
                    .insert((record.database_id, record.label.clone()), record.transaction_id);
                if record.status == TransactionStatus::Committed {
                    self.committed.insert(record.transaction_id);
                }
                self.transactions.insert(record.transaction_id, record.clone());
            }
            JournalEntry::PublishTransaction {
                transaction_id,
                publish_time,
            } => {
                let Some(record) = self.transactions.get_mut(transaction_id) else {
                    return;
                };
                record.status = TransactionStatus::Visible;
                self.committed.remove(transaction_id);
                let record = record.clone();
                if let Some(table) = self.table_by_id_mut(record.database_id, record.table_id) {
                    for (partition_id, version) in &record.partition_versions {
                        if let Some(partition) = table.partition_by_id_mut(*partition_id) {
                            partition.visible_version = partition.visible_version.max(*version);
                            partition.visible_version_time = *publish_time;
                        }
                    }
                }
            }
            JournalEntry::AbortTransaction { transaction_id } => {
                if let Some(record) = self.transactions.get_mut(transaction_id) {
                    record.status = TransactionStatus::Aborted;
                    self.committed.remove(transaction_id);
                    let key = (record.database_id, record.label.clone());
                    if self.label_index.get(&key) == Some(transaction_id) {
                        self.label_index.remove(&key);
                    }
                }
            }
            JournalEntry::ExpireTransactions { before } => {
                let expired: Vec<TransactionId> = self
                    .transactions
                    .values()
                    .filter(|record| record.status != TransactionStatus::Committed && record.commit_time < *before)
                    .map(|record| record.transaction_id)
                    .collect();
                for transaction_id in expired {
                    if let Some(record) = self.transactions.remove(&transaction_id) {
                        let key = (record.database_id, record.label);
                        if self.label_index.get(&key) == Some(&transaction_id) {
                            self.label_index.remove(&key);
                        }
                    }
                }
            }
            JournalEntry::CreateUser { user } => {
                self.users
                    .retain(|existing| !(existing.name == user.name && existing.host == user.host));
                self.users.push(user.clone());
            }
            JournalEntry::AlterUser { user } => {
                if let Some(existing) = self
                    .users
                    .iter_mut()
                    .find(|existing| existing.name == user.name && existing.host == user.host)
                {
                    *existing = user.clone();
                }
            }
            JournalEntry::DropUser { name, host } => {
                self.users
                    .retain(|user| !(user.name == *name && user.host == *host));
            }
            JournalEntry::AddBackend { backend } => {
                self.bump_ids(backend.id);
                self.backends.retain(|existing| existing.id != backend.id);
                self.backends.push(backend.clone());
            }
            JournalEntry::DropBackend { backend_id } => {
                self.backends.retain(|existing| existing.id != *backend_id);
            }
            JournalEntry::DecommissionBackend { backend_id } => {
                if let Some(backend) = self.backends.iter_mut().find(|backend| backend.id == *backend_id) {
                    backend.decommissioned = true;
                }
            }
            JournalEntry::CreateRoutineLoad { job } | JournalEntry::AlterRoutineLoad { job } => {
                self.bump_ids(job.id);
                self.routine_load_jobs.insert(job.id, job.clone());
            }
            JournalEntry::ChangeRoutineLoadState {
                job_id,
                state,
                reason,
                auto_resume,
                time,
            } => {
                if let Some(job) = self.routine_load_jobs.get_mut(job_id) {
                    job.state = *state;
                    job.reason = reason.clone();
                    job.auto_resume = *auto_resume;
                    match state {
                        RoutineLoadState::Paused => job.pause_time = Some(*time),
                        RoutineLoadState::Stopped | RoutineLoadState::Cancelled => job.end_time = Some(*time),
                        RoutineLoadState::Running | RoutineLoadState::NeedSchedule => {}
                    }
                }
            }
            JournalEntry::UpdateRoutineLoadProgress { job_id, offsets } => {
                if let Some(job) = self.routine_load_jobs.get_mut(job_id) {
                    job.progress.extend(offsets.iter().map(|(partition, offset)| (*partition, *offset)));
                }
            }
            JournalEntry::ReserveIds {
                next_id,
                next_transaction_id,
            } => {
                self.next_id = self.next_id.max(*next_id);
                self.next_transaction_id = self.next_transaction_id.max(*next_transaction_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(transaction_id: TransactionId, label: &str, commit_time: i64) -> JournalEntry {
        JournalEntry::CommitTransaction {
            record: TransactionRecord {
                transaction_id,
                database_id: 1,
                table_id: 2,
                label: label.to_string(),
                status: TransactionStatus::Committed,
                partition_versions: Vec::new(),
                tablets: Vec::new(),
                commit_time,
                rows: 0,
                routine_load: None,
            },
        }
    }

    #[test]
    fn labels_are_indexed_and_expire_once_visible() {
        let mut catalog = Catalog::default();
        catalog.apply(&commit(1, "old", 100));
        catalog.apply(&commit(2, "pending", 100));
        catalog.apply(&commit(3, "new", 5_000));
        catalog.apply(&JournalEntry::PublishTransaction { transaction_id: 1, publish_time: 101 });
        catalog.apply(&JournalEntry::PublishTransaction { transaction_id: 3, publish_time: 5_001 });
        assert_eq!(catalog.committed_transactions().map(|record| record.transaction_id).collect::<Vec<_>>(), vec![2]);
        catalog.apply(&JournalEntry::ExpireTransactions { before: 1_000 });
        assert!(catalog.label(1, "old").is_none(), "a visible label past its time is forgotten");
        assert!(catalog.label(1, "pending").is_some(), "a committed one waits for its publish");
        assert!(catalog.label(1, "new").is_some());

        let mut replayed: Catalog = serde_json::from_str(&serde_json::to_string(&catalog).expect("image")).expect("read");
        assert!(replayed.label(1, "new").is_none(), "indexes are not stored");
        replayed.rebuild_indexes();
        assert_eq!(replayed.label(1, "new").map(|record| record.transaction_id), Some(3));
        assert_eq!(replayed.committed_transactions().count(), 1);
        replayed.apply(&JournalEntry::AbortTransaction { transaction_id: 2 });
        assert!(replayed.label(1, "pending").is_none());
        assert_eq!(replayed.committed_transactions().count(), 0);
    }
}
