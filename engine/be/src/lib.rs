//! The backend (BE): it holds tablet replicas and does the work on them. The FE reaches a
//! backend only through the [`BackendService`] trait: writes of a transaction, publish and
//! abort, and tablet scans at a version. [`LocalBackend`] implements it over local tablet
//! storage; `cairn allin1` wires one into the FE in-process, and a multi-node cluster will put
//! an RPC client behind the same trait. Its HTTP port runs Stream Load ([`stream_load`]), and
//! it runs the Kafka batches of Routine Load ([`routine_load`]).

pub mod error_log;
pub mod http;
pub mod local;
pub mod metrics;
pub mod routine_load;
pub mod service;
pub mod stream_load;

pub use local::{LocalBackend, LocalBackendConfig};
pub use metrics::BackendMetrics;
pub use service::{
    BackendError, BackendService, ColumnStatistics, Comparison, DistinctSketch, ScanPredicate, dictionary_type, has_column_statistics, ScanRequest, ScanValue, TabletDescriptor, TabletSchema,
    TabletStatistics, TabletWrite, WriteMode,
};
