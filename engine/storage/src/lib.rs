//! Tablet storage of a backend. A [`TabletManager`] owns the tablets on one data directory.
//! Each load writes one immutable Parquet rowset per tablet it touches, first as a pending
//! rowset of its transaction, then made visible at a version when the FE publishes the
//! transaction. Readers pick the rowsets of a version with StarRocks' version path rule
//! ([`version_path`]), so compaction and DELETE can replace rowsets while older readers
//! finish on the stale ones. Scans skip row groups by their min/max statistics
//! ([`predicate`]) and keep decoded columns in a byte-bounded cache ([`cache`]), low-cardinality
//! strings also as dictionaries for the query's filters ([`dictionary`]). Each rowset's
//! footer sketches its key columns' distinct values for the planner's join estimates
//! ([`distinct`]).

pub mod cache;
pub mod compaction;
pub mod dictionary;
pub mod distinct;
pub mod error;
pub mod predicate;
pub mod rowset;
pub mod scan;
pub mod tablet;
pub mod tablet_manager;
pub mod version_path;

pub use error::StorageError;
pub use rowset::RowsetMeta;
pub use cache::{CacheStatistics, DecodedCache};
pub use predicate::{Comparison, ScanPredicate, ScanValue};
pub use scan::{ScanOptions, TabletSchema};
pub use tablet::{Tablet, TabletStatistics, WriteMode};
pub use tablet_manager::TabletManager;
