//! Errors of the storage layer.

use cairn_common::ids::{TabletId, TransactionId, Version};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("tablet {tablet_id} does not exist on this backend")]
    TabletNotFound { tablet_id: TabletId },
    #[error("failed to {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("failed to write rowset of tablet {tablet_id}: {source}")]
    WriteParquet {
        tablet_id: TabletId,
        source: datafusion::parquet::errors::ParquetError,
    },
    #[error("failed to read rowset {path}: {source}")]
    ReadParquet {
        path: String,
        source: datafusion::parquet::errors::ParquetError,
    },
    #[error("tablet {tablet_id} has corrupt metadata {path}: {source}")]
    CorruptMeta {
        tablet_id: TabletId,
        path: String,
        source: serde_json::Error,
    },
    #[error("rowset {path} is corrupt: {detail}")]
    CorruptRowset { path: String, detail: String },
    #[error("tablet {tablet_id} has no rowsets reaching version {version}")]
    VersionNotFound { tablet_id: TabletId, version: Version },
    #[error("transaction {transaction_id} is not pending on tablet {tablet_id}")]
    TransactionNotPending {
        tablet_id: TabletId,
        transaction_id: TransactionId,
    },
    #[error("failed to convert column {column}: {source}")]
    Convert {
        column: String,
        source: datafusion::arrow::error::ArrowError,
    },
    #[error("arrow error while {action}: {source}")]
    Arrow {
        action: &'static str,
        source: datafusion::arrow::error::ArrowError,
    },
}

impl StorageError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        StorageError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
