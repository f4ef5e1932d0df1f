//! The interface between FE and BE.

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use futures::stream::BoxStream;

use cairn_common::KeysType;
use cairn_common::ids::{BackendId, TabletId, TransactionId, Version};
pub use cairn_storage::predicate::has_column_statistics;
pub use cairn_storage::dictionary::dictionary_type;
pub use cairn_storage::distinct::DistinctSketch;
pub use cairn_storage::{Comparison, ScanPredicate, ScanValue, TabletSchema, TabletStatistics, WriteMode};

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("backend {backend_id}: {source}")]
    Storage {
        backend_id: BackendId,
        source: cairn_storage::StorageError,
    },
    #[error("backend {backend_id}: background task failed: {message}")]
    Task { backend_id: BackendId, message: String },
}

/// A tablet the FE asks a backend to create.
#[derive(Debug, Clone)]
pub struct TabletDescriptor {
    pub tablet_id: TabletId,
    pub keys_type: KeysType,
    pub key_columns: Vec<String>,
}

/// The rows one transaction writes to one tablet.
#[derive(Debug, Clone)]
pub struct TabletWrite {
    pub tablet_id: TabletId,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub mode: WriteMode,
}

/// Read one tablet at a published version.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    pub tablet_id: TabletId,
    pub version: Version,
    pub schema: TabletSchema,
    /// Indices into `schema.columns`.
    pub projection: Vec<usize>,
    /// The query's filters, for skipping row groups; the query still applies them itself.
    pub predicate: Option<ScanPredicate>,
    /// String columns to return dictionary-encoded where a row group has few distinct
    /// values, for filters that run on the dictionary; batches then carry those types.
    pub dictionary_columns: Vec<String>,
}

pub type BatchStream = BoxStream<'static, Result<RecordBatch, BackendError>>;

/// What a backend's rowset footers say of one column over some tablets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnStatistics {
    /// Its smallest and largest value, where known.
    pub bounds: Option<(ScanValue, ScanValue)>,
    /// A sketch of its distinct values, which the FE merges with other backends' sketches.
    pub distinct: Option<DistinctSketch>,
}

#[async_trait]
pub trait BackendService: Send + Sync + 'static {
    fn backend_id(&self) -> BackendId;
    /// The address users and `SHOW BACKENDS` see, `host:heartbeat_port`.
    fn host(&self) -> String;
    fn http_port(&self) -> u16;
    fn be_port(&self) -> u16;
    async fn create_tablets(&self, tablets: Vec<TabletDescriptor>) -> Result<(), BackendError>;
    async fn drop_tablets(&self, tablet_ids: Vec<TabletId>) -> Result<(), BackendError>;
    /// Writes rows as pending rowsets of the transaction; durable when it returns.
    async fn write(
        &self,
        transaction_id: TransactionId,
        writes: Vec<TabletWrite>,
    ) -> Result<(), BackendError>;
    /// Makes the transaction's rows visible at the given version on each tablet.
    async fn publish(
        &self,
        transaction_id: TransactionId,
        tablets: Vec<(TabletId, Version)>,
    ) -> Result<(), BackendError>;
    async fn abort(
        &self,
        transaction_id: TransactionId,
        tablet_ids: Vec<TabletId>,
    ) -> Result<(), BackendError>;
    fn scan(&self, request: ScanRequest) -> Result<BatchStream, BackendError>;
    async fn tablet_statistics(&self) -> Vec<TabletStatistics>;
    /// Rows stored in these tablets at these versions, from metadata (no data is read). Rows
    /// a PRIMARY KEY merge would drop are counted too.
    async fn stored_rows(&self, tablets: Vec<(TabletId, Version)>) -> Result<u64, BackendError>;
    /// Min, max and distinct values of each named integer or date column over these
    /// tablets, from rowset footers, for the planner's join estimates.
    async fn column_statistics(
        &self,
        tablets: Vec<(TabletId, Version)>,
        schema: TabletSchema,
        columns: Vec<String>,
    ) -> Result<Vec<ColumnStatistics>, BackendError>;
    /// Tablets this backend holds, so the FE can drop the ones it no longer knows.
    async fn tablet_ids(&self) -> Vec<TabletId>;
    /// Transactions with pending rowsets, per tablet.
    async fn pending_transactions(&self) -> Vec<(TabletId, TransactionId)>;
}
