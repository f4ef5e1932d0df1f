//! Types shared by every engine crate: StarRocks column types and their Arrow form
//! ([`ColumnType`]), table definitions ([`TableDefinition`]) and the error codes users see
//! ([`ErrorCode`]). Nothing here does I/O; the FE, the BE and the SQL front end all agree on
//! these shapes, so a definition written by the FE journal reads back the same in every crate.

pub mod error_code;
pub mod ids;
pub mod offset_map;
pub mod schema;
pub mod types;

pub use error_code::ErrorCode;
pub use schema::{
    ColumnDefinition, DefaultValue, DistributionDesc, KeysType, PartitionDesc, RangePartition,
    TableDefinition,
};
pub use types::ColumnType;
