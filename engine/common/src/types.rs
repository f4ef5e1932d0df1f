//! StarRocks column types and the Arrow types they are stored and computed as.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, TimeUnit};
use serde::{Deserialize, Serialize};

/// Arrow field metadata key naming the StarRocks type, for types whose Arrow form is shared
/// (LARGEINT is `Decimal128(38, 0)`, CHAR and VARCHAR are `Utf8`).
pub const STARROCKS_TYPE_METADATA_KEY: &str = "starrocks.type";

/// Longest VARCHAR StarRocks accepts, and the length `STRING` stands for.
pub const MAX_VARCHAR_LENGTH: u32 = 1_048_576;

/// A column type as written in StarRocks DDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ColumnType {
    Boolean,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    LargeInt,
    Float,
    Double,
    Decimal { precision: u8, scale: i8 },
    Date,
    DateTime,
    Char { length: u32 },
    Varchar { length: u32 },
    /// `STRING`, which StarRocks shows as `varchar(65533)`'s big sibling; kept distinct so
    /// SHOW CREATE TABLE prints what the user wrote.
    String,
    Json,
}

impl ColumnType {
    /// The Arrow type the column is stored and computed as.
    pub fn to_arrow(&self) -> DataType {
        match self {
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::TinyInt => DataType::Int8,
            ColumnType::SmallInt => DataType::Int16,
            ColumnType::Int => DataType::Int32,
            ColumnType::BigInt => DataType::Int64,
            ColumnType::LargeInt => DataType::Decimal128(38, 0),
            ColumnType::Float => DataType::Float32,
            ColumnType::Double => DataType::Float64,
            ColumnType::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
            ColumnType::Date => DataType::Date32,
            // DATETIME carries no time zone in StarRocks: a wall-clock value.
            ColumnType::DateTime => DataType::Timestamp(TimeUnit::Microsecond, None),
            ColumnType::Char { .. }
            | ColumnType::Varchar { .. }
            | ColumnType::String
            | ColumnType::Json => DataType::Utf8,
        }
    }

    /// An Arrow field for a column of this type, carrying the StarRocks type in its metadata.
    pub fn to_arrow_field(&self, name: &str, nullable: bool) -> Field {
        let metadata = [(STARROCKS_TYPE_METADATA_KEY.to_string(), self.to_string())]
            .into_iter()
            .collect();
        Field::new(name, self.to_arrow(), nullable).with_metadata(metadata)
    }

    /// The StarRocks type for an Arrow type computed by a query, e.g. for `CREATE TABLE AS`
    /// and for result metadata. `None` when StarRocks has no such column type.
    pub fn from_arrow(data_type: &DataType) -> Option<ColumnType> {
        Some(match data_type {
            DataType::Boolean => ColumnType::Boolean,
            DataType::Int8 => ColumnType::TinyInt,
            DataType::Int16 | DataType::UInt8 => ColumnType::SmallInt,
            DataType::Int32 | DataType::UInt16 => ColumnType::Int,
            DataType::Int64 | DataType::UInt32 => ColumnType::BigInt,
            DataType::UInt64 => ColumnType::LargeInt,
            DataType::Float16 | DataType::Float32 => ColumnType::Float,
            DataType::Float64 => ColumnType::Double,
            DataType::Decimal128(precision, scale) => ColumnType::Decimal {
                precision: *precision,
                scale: *scale,
            },
            DataType::Date32 | DataType::Date64 => ColumnType::Date,
            DataType::Timestamp(_, _) => ColumnType::DateTime,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnType::String,
            _ => return None,
        })
    }

    pub fn is_string(&self) -> bool {
        matches!(
            self,
            ColumnType::Char { .. } | ColumnType::Varchar { .. } | ColumnType::String | ColumnType::Json
        )
    }

    /// The type as `DESCRIBE` and `SHOW COLUMNS` print it: without MySQL's display widths.
    pub fn describe(&self) -> String {
        match self {
            ColumnType::TinyInt => "tinyint".to_string(),
            ColumnType::SmallInt => "smallint".to_string(),
            ColumnType::Int => "int".to_string(),
            ColumnType::BigInt => "bigint".to_string(),
            ColumnType::LargeInt => "largeint".to_string(),
            other => other.to_string(),
        }
    }

    /// Whether a value of this type may be a key, distribution or partition column.
    /// StarRocks refuses FLOAT, DOUBLE and JSON there.
    pub fn can_be_key(&self) -> bool {
        !matches!(self, ColumnType::Float | ColumnType::Double | ColumnType::Json)
    }
}

/// Prints the type as StarRocks' `SHOW CREATE TABLE` does.
impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::Boolean => write!(f, "boolean"),
            ColumnType::TinyInt => write!(f, "tinyint(4)"),
            ColumnType::SmallInt => write!(f, "smallint(6)"),
            ColumnType::Int => write!(f, "int(11)"),
            ColumnType::BigInt => write!(f, "bigint(20)"),
            ColumnType::LargeInt => write!(f, "largeint(40)"),
            ColumnType::Float => write!(f, "float"),
            ColumnType::Double => write!(f, "double"),
            ColumnType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            ColumnType::Date => write!(f, "date"),
            ColumnType::DateTime => write!(f, "datetime"),
            ColumnType::Char { length } => write!(f, "char({length})"),
            ColumnType::Varchar { length } => write!(f, "varchar({length})"),
            ColumnType::String => write!(f, "varchar({MAX_VARCHAR_LENGTH})"),
            ColumnType::Json => write!(f, "json"),
        }
    }
}

/// Arrow schema of a list of StarRocks columns.
pub fn arrow_schema<'a>(
    columns: impl IntoIterator<Item = (&'a str, ColumnType, bool)>,
) -> arrow::datatypes::SchemaRef {
    Arc::new(arrow::datatypes::Schema::new(
        columns
            .into_iter()
            .map(|(name, column_type, nullable)| column_type.to_arrow_field(name, nullable))
            .collect::<Vec<_>>(),
    ))
}
