//! Table definitions as written in StarRocks `CREATE TABLE`, after parsing and before the
//! catalog assigns ids. The catalog stores these and prints them back for SHOW CREATE TABLE.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::ColumnType;

/// The key model of a table (`DUPLICATE KEY`, `PRIMARY KEY`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeysType {
    /// Every loaded row is kept. The default model.
    Duplicate,
    /// Loads upsert by key; DELETE removes by key.
    Primary,
    /// `AGGREGATE KEY`: parsed so the error names it; not stored yet.
    Aggregate,
    /// `UNIQUE KEY`: parsed so the error names it; not stored yet.
    Unique,
}

impl KeysType {
    /// The words StarRocks uses in DDL and in `information_schema.tables_config`.
    pub fn keyword(&self) -> &'static str {
        match self {
            KeysType::Duplicate => "DUPLICATE KEY",
            KeysType::Primary => "PRIMARY KEY",
            KeysType::Aggregate => "AGGREGATE KEY",
            KeysType::Unique => "UNIQUE KEY",
        }
    }
}

/// A column's `DEFAULT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultValue {
    Null,
    /// A literal, kept as the text between the quotes (or the bare number).
    Literal(String),
    /// `DEFAULT CURRENT_TIMESTAMP`, filled with the load's wall-clock time.
    CurrentTimestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDefinition {
    pub name: String,
    pub column_type: ColumnType,
    pub nullable: bool,
    pub default: Option<DefaultValue>,
    pub comment: String,
    /// Whether the column is one of the key columns (set from the key clause).
    pub is_key: bool,
    /// The column's identity in stored data, never reused within a table, so a column dropped
    /// and added again under the same name does not read the old one's values. 0 for columns
    /// of tables created before ids existed, which are matched by name.
    #[serde(default)]
    pub unique_id: u32,
}

/// One partition of `PARTITION BY RANGE`, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RangePartition {
    /// `PARTITION p VALUES LESS THAN ("v", ...)`; `None` is `MAXVALUE`.
    LessThan { name: String, upper: Option<Vec<String>> },
    /// `PARTITION p VALUES [("lo", ...), ("hi", ...))`.
    Fixed { name: String, lower: Vec<String>, upper: Vec<String> },
    /// `START ("2021-01-01") END ("2021-02-01") EVERY (INTERVAL 1 DAY)` creates one partition
    /// per step; `unit` is `day`, `month`... and `step` its count. Without a unit the step is
    /// numeric.
    Batch {
        start: String,
        end: String,
        step: i64,
        unit: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionDesc {
    /// Unpartitioned: one partition named after the table.
    Unpartitioned,
    /// `PARTITION BY RANGE(columns) (partitions)`.
    Range { columns: Vec<String>, partitions: Vec<RangePartition> },
    /// Expression partitioning, `PARTITION BY date_trunc('day', ts)` or
    /// `PARTITION BY time_slice(ts, INTERVAL 1 day)`: partitions are created on demand, one
    /// per `unit` (`hour`, `day`, `month`, `year`).
    TimeExpression { column: String, unit: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistributionDesc {
    /// `DISTRIBUTED BY HASH(columns) [BUCKETS n]`.
    Hash { columns: Vec<String>, buckets: Option<u32> },
    /// `DISTRIBUTED BY RANDOM [BUCKETS n]`.
    Random { buckets: Option<u32> },
}

/// Everything `CREATE TABLE` says about a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDefinition {
    pub name: String,
    pub columns: Vec<ColumnDefinition>,
    pub keys_type: KeysType,
    /// The key columns, in key order. For DUPLICATE KEY tables without a key clause,
    /// StarRocks picks the leading columns; the parser leaves that choice to the catalog.
    pub key_columns: Vec<String>,
    pub partition: PartitionDesc,
    /// `None` when the statement has no DISTRIBUTED BY (StarRocks then uses RANDOM).
    pub distribution: Option<DistributionDesc>,
    pub properties: BTreeMap<String, String>,
    pub comment: String,
}

impl TableDefinition {
    pub fn column(&self, name: &str) -> Option<&ColumnDefinition> {
        self.columns.iter().find(|column| column.name.eq_ignore_ascii_case(name))
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|column| column.name.eq_ignore_ascii_case(name))
    }
}
