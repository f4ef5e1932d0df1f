//! Loading rows the way StarRocks' Stream Load and Routine Load do: options from headers or
//! job properties, CSV and JSON readers, decompression, `columns` mappings with expressions,
//! `where`, conversion to column types with per-row filtering, and the error log of rejected
//! rows. The executor is independent of where the bytes came from (an HTTP body, a batch of
//! Kafka messages) and of who commits the rows ([`LoadTarget`], the FE).

mod compression;
mod convert;
mod csv;
pub mod error;
pub mod error_log;
mod executor;
mod json;
pub mod options;
mod reader;
pub mod target;

pub use compression::decompress;
pub use error::LoadError;
pub use executor::{LoadPlan, PreparedRows};
pub use options::{Compression, LoadFormat, LoadOptions};
pub use reader::RowError;
pub use target::{BeginLoad, CommitOutcome, CommitRequest, LoadRecord, LoadRows, LoadTarget, LoadTransaction, RoutineLoadCommit};
