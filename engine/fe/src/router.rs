//! Routing rows of a load to tablets: the partition by the partition column's range, the
//! bucket by a hash of the distribution columns, as StarRocks' table sink does.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{cast, take_record_batch};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};

use cairn_common::ids::PartitionId;
use cairn_common::{DistributionDesc, ErrorCode, PartitionDesc};

use crate::catalog::Table;
use crate::error::FeError;
use crate::partition::{PartitionRange, array_keys, format_key, time_partition};

/// A partition that expression partitioning must create before the rows can be written.
#[derive(Debug, Clone)]
pub struct MissingPartition {
    pub name: String,
    pub range: PartitionRange,
}

/// Rows grouped by `(partition id, bucket index)`.
pub type RoutedRows = BTreeMap<(PartitionId, usize), Vec<RecordBatch>>;

/// Adds each row's bytes for one column to its row hasher.
fn hash_column(array: &ArrayRef, hashers: &mut [crc32fast::Hasher]) -> Result<(), FeError> {
    let convert = |error| FeError::internal(format!("failed to hash distribution column: {error}"));
    let null_marker = [0xffu8];
    match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let values = cast(array, &DataType::Utf8).map_err(convert)?;
            for (hasher, value) in hashers.iter_mut().zip(values.as_string::<i32>().iter()) {
                match value {
                    Some(value) => hasher.update(value.as_bytes()),
                    None => hasher.update(&null_marker),
                }
            }
        }
        DataType::Decimal128(_, _) => {
            for (hasher, value) in hashers.iter_mut().zip(array.as_primitive::<Decimal128Type>().iter()) {
                match value {
                    Some(value) => hasher.update(&value.to_le_bytes()),
                    None => hasher.update(&null_marker),
                }
            }
        }
        DataType::Date32 => {
            for (hasher, value) in hashers.iter_mut().zip(array.as_primitive::<Date32Type>().iter()) {
                match value {
                    Some(value) => hasher.update(&value.to_le_bytes()),
                    None => hasher.update(&null_marker),
                }
            }
        }
        DataType::Timestamp(_, _) => {
            let values = cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None)).map_err(convert)?;
            for (hasher, value) in hashers.iter_mut().zip(values.as_primitive::<TimestampMicrosecondType>().iter()) {
                match value {
                    Some(value) => hasher.update(&value.to_le_bytes()),
                    None => hasher.update(&null_marker),
                }
            }
        }
        DataType::Float32 | DataType::Float64 => {
            let values = cast(array, &DataType::Float64).map_err(convert)?;
            for (hasher, value) in hashers.iter_mut().zip(values.as_primitive::<Float64Type>().iter()) {
                match value {
                    Some(value) => hasher.update(&value.to_bits().to_le_bytes()),
                    None => hasher.update(&null_marker),
                }
            }
        }
        _ => {
            // Every integer width and BOOLEAN hash as the same 64-bit value.
            let values = cast(array, &DataType::Int64).map_err(convert)?;
            for (hasher, value) in hashers.iter_mut().zip(values.as_primitive::<Int64Type>().iter()) {
                match value {
                    Some(value) => hasher.update(&value.to_le_bytes()),
                    None => hasher.update(&null_marker),
                }
            }
        }
    }
    Ok(())
}

/// The bucket of each row of `columns`, the distribution columns in the table's types and
/// order. Scans use it too, to read only the bucket an equality filter names.
pub fn hash_buckets(columns: &[ArrayRef], rows: usize, buckets: usize) -> Result<Vec<usize>, FeError> {
    let mut hashers = vec![crc32fast::Hasher::new(); rows];
    for column in columns {
        hash_column(column, &mut hashers)?;
    }
    Ok(hashers
        .into_iter()
        .map(|hasher| hasher.finalize() as usize % buckets.max(1))
        .collect())
}

/// Bucket of each row.
pub fn bucket_indices(table: &Table, batch: &RecordBatch, round_robin_start: usize) -> Result<Vec<usize>, FeError> {
    let buckets = table.bucket_count.max(1) as usize;
    match &table.definition.distribution {
        Some(DistributionDesc::Hash { columns, .. }) => {
            let arrays = columns
                .iter()
                .map(|name| {
                    let index = table
                        .definition
                        .column_index(name)
                        .ok_or_else(|| FeError::internal(format!("distribution column '{name}' is missing")))?;
                    Ok(std::sync::Arc::clone(batch.column(index)))
                })
                .collect::<Result<Vec<ArrayRef>, FeError>>()?;
            hash_buckets(&arrays, batch.num_rows(), buckets)
        }
        _ => {
            // RANDOM distribution spreads each load over the buckets in blocks.
            let block = batch.num_rows().div_ceil(buckets).max(1);
            Ok((0..batch.num_rows())
                .map(|row| (round_robin_start + row / block) % buckets)
                .collect())
        }
    }
}

/// The partition key of each row of a partitioned table, with the table's range partitions
/// in key order. `None` for an unpartitioned table.
struct PartitionKeys<'a> {
    column_name: String,
    /// The `date_trunc`/`time_slice` unit of expression partitioning.
    unit: Option<String>,
    column_type: cairn_common::ColumnType,
    keys: Vec<Option<i64>>,
    ranges: Vec<(PartitionRange, &'a crate::catalog::Partition)>,
}

fn partition_keys<'a>(table: &'a Table, batch: &RecordBatch) -> Result<Option<PartitionKeys<'a>>, FeError> {
    let (column_name, unit) = match &table.definition.partition {
        PartitionDesc::Unpartitioned => return Ok(None),
        PartitionDesc::Range { columns, .. } => (columns.first().cloned().unwrap_or_default(), None),
        PartitionDesc::TimeExpression { column, unit } => (column.clone(), Some(unit.clone())),
    };
    let index = table
        .definition
        .column_index(&column_name)
        .ok_or_else(|| FeError::internal(format!("partition column '{column_name}' is missing")))?;
    let column_type = table.definition.columns[index].column_type;
    let keys = array_keys(batch.column(index), column_type)?;
    let mut ranges: Vec<(PartitionRange, &crate::catalog::Partition)> = table
        .partitions
        .values()
        .filter_map(|partition| partition.range.map(|range| (range, partition)))
        .collect();
    ranges.sort_by_key(|(range, _)| range.lower);
    Ok(Some(PartitionKeys {
        column_name,
        unit,
        column_type,
        keys,
        ranges,
    }))
}

/// Partition of each row, or the partitions to create first.
pub fn partition_ids(table: &Table, batch: &RecordBatch) -> Result<Result<Vec<PartitionId>, Vec<MissingPartition>>, FeError> {
    let rows = batch.num_rows();
    let Some(PartitionKeys { column_name, unit, column_type, keys, ranges }) = partition_keys(table, batch)? else {
        let partition = table
            .partitions
            .values()
            .next()
            .ok_or_else(|| FeError::internal(format!("table '{}' has no partition", table.name())))?;
        return Ok(Ok(vec![partition.id; rows]));
    };
    let mut result = Vec::with_capacity(rows);
    let mut missing: BTreeMap<String, MissingPartition> = BTreeMap::new();
    for (row, key) in keys.into_iter().enumerate() {
        let key = match (key, &unit) {
            (Some(key), _) => key,
            // NULL goes to the lowest range partition, as in StarRocks; expression
            // partitioning has no partition for it.
            (None, None) => i64::MIN,
            (None, Some(_)) => {
                return Err(FeError::user(
                    ErrorCode::BAD_NULL,
                    format!(
                        "Column '{column_name}' cannot be null: it partitions table '{}' (row {})",
                        table.name(),
                        row + 1
                    ),
                ));
            }
        };
        let position = ranges.partition_point(|(range, _)| range.upper <= key);
        match ranges.get(position) {
            Some((range, partition)) if range.contains(key) => result.push(partition.id),
            _ => match &unit {
                Some(unit) => {
                    let (name, range) = time_partition(column_type, unit, key)?;
                    missing.entry(name.clone()).or_insert(MissingPartition { name, range });
                }
                None => {
                    return Err(FeError::user(
                        ErrorCode::new_code(1064, "HY000"),
                        format!(
                            "Insert has filtered data in strict mode: no partition of table '{}' holds value '{}' of column '{}' (row {})",
                            table.name(),
                            format_key(column_type, key),
                            column_name,
                            row + 1
                        ),
                    ));
                }
            },
        }
    }
    if missing.is_empty() {
        Ok(Ok(result))
    } else {
        Ok(Err(missing.into_values().collect()))
    }
}

/// Splits a batch by partition and bucket.
pub fn split_batch(
    batch: &RecordBatch,
    partitions: &[PartitionId],
    buckets: &[usize],
    routed: &mut RoutedRows,
) -> Result<(), FeError> {
    let mut groups: BTreeMap<(PartitionId, usize), Vec<u32>> = BTreeMap::new();
    for (row, (partition, bucket)) in partitions.iter().zip(buckets).enumerate() {
        groups.entry((*partition, *bucket)).or_default().push(row as u32);
    }
    for (key, rows) in groups {
        let part = if rows.len() == batch.num_rows() {
            batch.clone()
        } else {
            take_record_batch(batch, &UInt32Array::from(rows))
                .map_err(|error| FeError::internal(format!("failed to split rows: {error}")))?
        };
        routed.entry(key).or_default().push(part);
    }
    Ok(())
}

/// For a load that filters instead of failing (Stream Load, Routine Load): the reason each
/// row can not be loaded, if any. A row is rejected when no range partition holds it, when its
/// expression-partition key is NULL, or when `allowed` (the `partitions` header) does not name
/// its partition.
pub fn partition_rejections(table: &Table, batch: &RecordBatch, allowed: Option<&[String]>) -> Result<Vec<Option<String>>, FeError> {
    let rows = batch.num_rows();
    let is_allowed = |name: &str| allowed.is_none_or(|allowed| allowed.iter().any(|allowed| allowed.eq_ignore_ascii_case(name)));
    let not_listed = |name: &str| Some(format!("The row belongs to partition '{name}', which is not among the partitions of the load"));
    let Some(PartitionKeys { column_name, unit, column_type, keys, ranges }) = partition_keys(table, batch)? else {
        let name = table.partitions.keys().next().cloned().unwrap_or_default();
        let rejection = if is_allowed(&name) { None } else { not_listed(&name) };
        return Ok(vec![rejection; rows]);
    };
    let mut rejections = Vec::with_capacity(rows);
    for key in keys {
        let key = match (key, &unit) {
            (Some(key), _) => key,
            (None, None) => i64::MIN,
            (None, Some(_)) => {
                rejections.push(Some(format!("NULL value in partition column '{column_name}'")));
                continue;
            }
        };
        let position = ranges.partition_point(|(range, _)| range.upper <= key);
        let rejection = match (ranges.get(position), &unit) {
            (Some((range, partition)), _) if range.contains(key) => {
                (!is_allowed(&partition.name)).then(|| not_listed(&partition.name)).flatten()
            }
            (_, Some(unit)) => match time_partition(column_type, unit, key) {
                Ok((name, _)) => (!is_allowed(&name)).then(|| not_listed(&name)).flatten(),
                Err(error) => Some(error.to_string()),
            },
            (_, None) => Some(format!(
                "The row is out of partition ranges: no partition holds value '{}' of column '{column_name}'",
                format_key(column_type, key)
            )),
        };
        rejections.push(rejection);
    }
    Ok(rejections)
}
