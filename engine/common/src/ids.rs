//! Identifier types. Plain integers on the wire and in the journal; distinct names in code.

/// Catalog-wide id of a database, table, partition, index or tablet. One counter hands out all
/// of them, as in StarRocks, so an id never names two things.
pub type ObjectId = u64;
pub type DatabaseId = ObjectId;
pub type TableId = ObjectId;
pub type PartitionId = ObjectId;
pub type TabletId = ObjectId;
/// Transaction id, from its own counter.
pub type TransactionId = u64;
/// A partition's published version. Version 1 is the empty partition, as in StarRocks.
pub type Version = u64;
/// Backend id as shown by `SHOW BACKENDS`.
pub type BackendId = u64;
