//! What a load executor needs from the FE: who may load, the table's columns, and a
//! transaction to begin, commit or abort. In `allin1` the FE implements [`LoadTarget`]
//! directly; in a cluster the same calls cross the FE's RPC port.

use async_trait::async_trait;
use datafusion::arrow::array::ArrayRef;

use cairn_common::ColumnDefinition;

use crate::error::LoadError;

#[derive(Debug, Clone)]
pub struct BeginLoad {
    pub user: String,
    pub host: String,
    pub database: String,
    pub table: String,
    pub label: Option<String>,
    /// `"stream_load"`, `"routine_load"`: shown in SHOW LOAD.
    pub load_type: &'static str,
}

/// A transaction begun for a load.
#[derive(Debug, Clone)]
pub struct LoadTransaction {
    pub transaction_id: u64,
    pub label: String,
    pub database: String,
    pub table: String,
    /// The table's columns, in order: what the rows must be converted to.
    pub columns: Vec<ColumnDefinition>,
    /// Whether the table is a PRIMARY KEY table (partial updates need one).
    pub primary_key: bool,
}

/// Rows ready to commit: one array per table column, in table order.
#[derive(Debug, Clone)]
pub struct LoadRows {
    pub columns: Vec<ArrayRef>,
    /// The 1-based row numbers in the input, for error reports.
    pub row_numbers: Vec<u64>,
}

/// What the commit decides about rows the FE itself rejects (no partition holds them).
#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub rows: Vec<LoadRows>,
    /// `partitions` header: rows belonging to other partitions are filtered.
    pub partitions: Option<Vec<String>>,
    /// Rows read and rows already filtered by the executor, for the `max_filter_ratio` check
    /// that must also count the FE's own rejections.
    pub total_rows: u64,
    pub filtered_rows: u64,
    pub max_filter_ratio: f64,
    /// For a Routine Load batch: the Kafka offsets it consumed, committed in the same journal
    /// record as its rows.
    pub routine_load: Option<RoutineLoadCommit>,
    /// For `partial_update`: which table columns the rows give. Rows whose key the table
    /// has keep their current values in the other columns.
    pub partial_update: Option<Vec<bool>>,
}

/// What a Routine Load batch consumed. The commit is refused unless the job is still running
/// with the same definition and its offsets are still at `begin_offsets`, so two tasks can
/// never both commit the same messages, and a batch of a paused or altered job never lands.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoutineLoadCommit {
    pub job_id: u64,
    /// Kafka partition to the offset the batch started at.
    #[serde(with = "cairn_common::offset_map")]
    pub begin_offsets: std::collections::BTreeMap<i32, i64>,
    /// Kafka partition to the offset after the batch's last message.
    #[serde(with = "cairn_common::offset_map")]
    pub end_offsets: std::collections::BTreeMap<i32, i64>,
    pub received_bytes: u64,
    pub total_rows: u64,
    pub loaded_rows: u64,
    pub error_rows: u64,
    pub unselected_rows: u64,
    pub execute_time_ms: u64,
    /// The job definition the batch was read and converted with.
    #[serde(default)]
    pub definition_version: u64,
}

#[derive(Debug, Clone, Default)]
pub struct CommitOutcome {
    pub loaded_rows: u64,
    /// Rows the FE filtered, with their input row number and the reason.
    pub filtered: Vec<(u64, String)>,
}

#[async_trait]
pub trait LoadTarget: Send + Sync {
    /// Checks a user's password (HTTP Basic auth) and returns the user's host-qualified name.
    fn authenticate(&self, user: &str, password: &str, host: &str) -> Result<(), LoadError>;

    /// Begins a transaction; a label already used gives [`LoadError::LabelAlreadyExists`].
    /// Checks that the user may load into the table.
    async fn begin(&self, request: BeginLoad) -> Result<LoadTransaction, LoadError>;

    /// Routes, writes, commits and publishes the rows. When this returns Ok, they are visible.
    async fn commit(&self, transaction: &LoadTransaction, request: CommitRequest) -> Result<CommitOutcome, LoadError>;

    /// Ends a transaction that will not commit; nothing of it stays.
    async fn abort(&self, transaction: &LoadTransaction, reason: &str);

    /// Remembers a finished load for `SHOW LOAD` and `information_schema.loads`.
    fn record(&self, record: LoadRecord);
}

/// A finished (or failed) load, as SHOW LOAD lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadRecord {
    pub transaction_id: u64,
    pub label: String,
    pub database: String,
    pub table: String,
    pub load_type: &'static str,
    /// StarRocks' job states: FINISHED or CANCELLED.
    pub state: &'static str,
    pub user: String,
    pub total_rows: u64,
    pub loaded_rows: u64,
    pub filtered_rows: u64,
    pub unselected_rows: u64,
    pub load_bytes: u64,
    pub error_message: String,
    pub error_url: String,
    pub create_time_ms: i64,
    pub finish_time_ms: i64,
}
