//! Reading a tablet at a version: the rowsets of its version path, adapted to the table's
//! current columns, and for PRIMARY KEY tablets merged so that the newest row of a key wins.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array, new_null_array};
use datafusion::arrow::compute::{CastOptions, cast_with_options, concat_batches, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::arrow::util::display::FormatOptions;
use serde::{Deserialize, Serialize};

use crate::cache::DecodedCache;
use crate::dictionary::dictionary_type;
use crate::distinct::DistinctSketch;
use crate::error::{Result, StorageError};
use crate::predicate::{Pruning, ScanPredicate};
use crate::rowset::OpenRowset;
use crate::tablet::Tablet;
use cairn_common::ids::Version;
use cairn_common::{ColumnDefinition, DefaultValue, KeysType};

/// The field metadata key of a stored column's `unique_id`.
pub const COLUMN_ID_METADATA_KEY: &str = "cairn.column_id";

/// Whether the rowset field `stored`, found under a column's name, is that very column and
/// not one dropped since and added again under its name. Columns without an id (0) and
/// fields written before ids were stored match by name alone.
pub(crate) fn stores_column(stored: &Field, unique_id: u32) -> bool {
    unique_id == 0 || stored.metadata().get(COLUMN_ID_METADATA_KEY).is_none_or(|id| *id == unique_id.to_string())
}

/// The table schema a reader wants, sent with every scan because rowsets written before an
/// ALTER TABLE lack the newer columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TabletSchema {
    pub columns: Vec<ColumnDefinition>,
    pub keys_type: KeysType,
    pub key_columns: Vec<String>,
}

impl TabletSchema {
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|column| column.column_type.to_arrow_field(&column.name, column.nullable))
                .collect::<Vec<_>>(),
        ))
    }

    /// The schema rowsets are written with: [`TabletSchema::arrow_schema`] with each column's
    /// `unique_id` in its field metadata, so a reader can tell a column dropped and added again
    /// under the same name from the old one.
    pub fn storage_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|column| {
                    let field = column.column_type.to_arrow_field(&column.name, column.nullable);
                    if column.unique_id == 0 {
                        field
                    } else {
                        field.with_metadata(std::collections::HashMap::from([(
                            COLUMN_ID_METADATA_KEY.to_string(),
                            column.unique_id.to_string(),
                        )]))
                    }
                })
                .collect::<Vec<_>>(),
        ))
    }

    fn projected_schema(&self, projection: &[usize]) -> SchemaRef {
        let full = self.arrow_schema();
        Arc::new(Schema::new(
            projection
                .iter()
                .map(|&index| full.field(index).clone())
                .collect::<Vec<_>>(),
        ))
    }
}

/// The array a column takes in rows written before the column existed: its default.
fn default_array(column: &ColumnDefinition, rows: usize) -> Result<ArrayRef> {
    let data_type = column.column_type.to_arrow();
    match &column.default {
        Some(DefaultValue::Literal(text)) => {
            let strings: ArrayRef = Arc::new(StringArray::from(vec![text.as_str(); rows]));
            cast_with_options(&strings, &data_type, &CastOptions {
                safe: false,
                format_options: FormatOptions::default(),
            })
            .map_err(|source| StorageError::Convert {
                column: column.name.clone(),
                source,
            })
        }
        _ => Ok(new_null_array(&data_type, rows)),
    }
}

/// Shapes a batch read from a rowset into the projected table columns. A string column the
/// rowset gave dictionary-encoded stays so, and the batch's schema says so. The flag says
/// whether a column was computed (cast to a changed type, or filled for a column added since
/// the rowset was written) instead of taken as stored.
fn adapt_batch(
    batch: &RecordBatch,
    schema: &TabletSchema,
    projection: &[usize],
    output_schema: &SchemaRef,
) -> Result<(RecordBatch, bool)> {
    let rows = batch.num_rows();
    let mut output_schema = Arc::clone(output_schema);
    let mut columns = Vec::with_capacity(projection.len());
    let mut encoded = Vec::new();
    let mut computed = false;
    for (&index, field) in projection.iter().zip(output_schema.fields()) {
        let column = &schema.columns[index];
        // A stored column of the same name but another id is a column since dropped: this
        // one did not exist when the rowset was written.
        let stored = batch
            .schema()
            .column_with_name(&column.name)
            .and_then(|(position, stored)| stores_column(stored, column.unique_id).then(|| batch.column(position)));
        let array = match stored {
            Some(array) if array.data_type() == field.data_type() => Arc::clone(array),
            Some(array) if field.data_type() == &DataType::Utf8 && array.data_type() == &dictionary_type() => {
                encoded.push((columns.len(), array.data_type().clone()));
                Arc::clone(array)
            }
            Some(array) => {
                computed = true;
                cast_with_options(array, field.data_type(), &CastOptions::default()).map_err(|source| StorageError::Convert {
                    column: column.name.clone(),
                    source,
                })?
            }
            None => {
                computed = true;
                default_array(column, rows)?
            }
        };
        columns.push(array);
    }
    if !encoded.is_empty() {
        let mut fields: Vec<Field> = output_schema.fields().iter().map(|field| field.as_ref().clone()).collect();
        for (position, data_type) in encoded {
            fields[position] = fields[position].clone().with_data_type(data_type);
        }
        output_schema = Arc::new(Schema::new(fields));
    }
    let batch = RecordBatch::try_new_with_options(
        output_schema,
        columns,
        &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .map_err(|source| StorageError::Arrow {
        action: "adapting a rowset to the table schema",
        source,
    })?;
    Ok((batch, computed))
}

/// Keeps the last row of every key, in the order rows arrived.
pub fn deduplicate_keep_last(batch: &RecordBatch, key_columns: &[String]) -> Result<RecordBatch> {
    if batch.num_rows() < 2 || key_columns.is_empty() {
        return Ok(batch.clone());
    }
    let arrow_error = |source| StorageError::Arrow {
        action: "merging rows by primary key",
        source,
    };
    let keys: Vec<ArrayRef> = key_columns
        .iter()
        .filter_map(|name| batch.column_by_name(name).cloned())
        .collect();
    let fields = keys
        .iter()
        .map(|array| SortField::new(array.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields).map_err(arrow_error)?;
    let rows = converter.convert_columns(&keys).map_err(arrow_error)?;
    let mut seen = HashSet::with_capacity(batch.num_rows());
    let mut keep: Vec<u32> = Vec::with_capacity(batch.num_rows());
    for index in (0..batch.num_rows()).rev() {
        if seen.insert(rows.row(index)) {
            keep.push(index as u32);
        }
    }
    if keep.len() == batch.num_rows() {
        return Ok(batch.clone());
    }
    keep.reverse();
    take_record_batch(batch, &UInt32Array::from(keep)).map_err(arrow_error)
}

/// Rows per batch a scan hands to the query: a whole row group. Each batch costs the
/// operators above it a fixed amount, and half a row group per batch cost a SUM over 100M
/// cached BIGINTs about 1.2 ms more than whole row groups (paired with a memory read, five
/// runs of 30-60 pairs) and TPC-H 8% more CPU; SSB's joins came out even. A primary key
/// merge, which concatenates its rowsets, is still sliced to this size.
pub const SCAN_BATCH_ROWS: usize = crate::rowset::ROW_GROUP_SIZE;

/// What a scan may use besides the tablet: filters to skip row groups with, and the cache
/// of decoded columns.
pub struct ScanOptions<'a> {
    pub predicate: Option<&'a ScanPredicate>,
    pub cache: &'a DecodedCache,
    /// String columns the reader takes dictionary-encoded where they have few distinct
    /// values ([`crate::dictionary`]); batches then carry those columns' types.
    pub dictionary_columns: &'a [String],
    /// Read only what is in memory and can be handed on as it is: decoded row groups whose
    /// columns need no conversion to the table schema, of rowsets that need no primary key
    /// merge. A scan that needs more ends with [`ScanEnd::NotInMemory`], for the caller to
    /// run it again where it may block on the disk and take its time.
    pub cached_only: bool,
}

/// How a scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanEnd {
    /// Every batch was emitted.
    Finished,
    /// `emit` returned `false`.
    Stopped,
    /// [`ScanOptions::cached_only`] was set and the scan needs a footer or a row group from
    /// the file, a conversion or a primary key merge. The batches emitted before are not the
    /// whole scan.
    NotInMemory,
}

/// Calls `emit` with `batch` in slices of at most [`SCAN_BATCH_ROWS`]; `false` once it refuses.
fn emit_sliced(batch: &RecordBatch, emit: &mut impl FnMut(RecordBatch) -> bool) -> bool {
    let mut offset = 0;
    while offset < batch.num_rows() {
        let length = SCAN_BATCH_ROWS.min(batch.num_rows() - offset);
        if !emit(batch.slice(offset, length)) {
            return false;
        }
        offset += length;
    }
    true
}

/// Min, max and distinct values of each named integer or date column, and distinct values of
/// each string column, over a tablet at `version`, for join ordering and the GROUP BY codes of
/// strings carried through joins; unknown where some rowset does not know them.
pub fn tablet_column_statistics(
    tablet: &Tablet,
    version: Version,
    schema: &TabletSchema,
    columns: &[String],
    cache: &DecodedCache,
) -> Result<Vec<ColumnStatistics>> {
    let mut per_rowset = Vec::new();
    for rowset in tablet.rowsets_at(version)? {
        per_rowset.extend(OpenRowset::column_statistics(tablet.directory(), &rowset, schema, columns, cache)?);
    }
    Ok(combine_all(per_rowset, columns.len()))
}

/// A column's smallest and largest value, where known.
pub type ColumnBound = Option<(datafusion::common::ScalarValue, datafusion::common::ScalarValue)>;

/// What storage knows of one column over some rowsets, from their footers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnStatistics {
    pub bound: ColumnBound,
    /// A sketch of the column's distinct non-NULL values.
    pub distinct: Option<DistinctSketch>,
}

/// Column by column, what holds for every part together (rowsets of a tablet, tablets of a
/// scan): the smallest range holding every part's, and the union of their distinct values;
/// unknown where any part is unknown, and unknown for no parts at all.
pub fn combine_all(parts: impl IntoIterator<Item = Vec<ColumnStatistics>>, columns: usize) -> Vec<ColumnStatistics> {
    parts
        .into_iter()
        .reduce(|merged, part| {
            merged
                .into_iter()
                .zip(part)
                .map(|(left, right)| ColumnStatistics {
                    bound: widen(left.bound, right.bound),
                    distinct: left.distinct.zip(right.distinct).map(|(mut left, right)| {
                        left.merge(&right);
                        left
                    }),
                })
                .collect()
        })
        .unwrap_or_else(|| vec![ColumnStatistics::default(); columns])
}

/// The smallest range holding both.
fn widen(left: ColumnBound, right: ColumnBound) -> ColumnBound {
    let ((left_min, left_max), (right_min, right_max)) = (left?, right?);
    let min = if right_min.partial_cmp(&left_min)? == std::cmp::Ordering::Less { right_min } else { left_min };
    let max = if right_max.partial_cmp(&left_max)? == std::cmp::Ordering::Greater { right_max } else { left_max };
    Some((min, max))
}

/// Reads `tablet` at `version`, calling `emit` with each batch of the projected columns until
/// it returns `false` (the reader went away). Rows the predicate rules out may be left out
/// (whole row groups at a time); rows it does not rule out are all returned.
pub fn scan_tablet(
    tablet: &Tablet,
    version: Version,
    schema: &TabletSchema,
    projection: &[usize],
    options: &ScanOptions<'_>,
    mut emit: impl FnMut(RecordBatch) -> bool,
) -> Result<ScanEnd> {
    let rowsets = tablet.open_version(version)?;
    let merge_by_key = schema.keys_type == KeysType::Primary && rowsets.len() > 1;
    if merge_by_key && options.cached_only {
        return Ok(ScanEnd::NotInMemory);
    }
    let predicate = match (options.predicate, merge_by_key) {
        (Some(predicate), true) => predicate.restricted_to(&schema.key_columns),
        (predicate, _) => predicate.cloned(),
    };
    let pruning = Pruning::new(predicate.as_ref(), schema);
    // A primary key merge needs the key columns even when the query does not.
    let mut read_projection: Vec<usize> = projection.to_vec();
    if merge_by_key {
        for key in &schema.key_columns {
            if let Some(index) = schema.columns.iter().position(|column| &column.name == key) {
                if !read_projection.contains(&index) {
                    read_projection.push(index);
                }
            }
        }
    }
    let read_schema = schema.projected_schema(&read_projection);
    let column_names: Vec<String> = read_projection
        .iter()
        .map(|&index| schema.columns[index].name.clone())
        .collect();
    if !merge_by_key {
        let mut computed = false;
        for rowset in rowsets {
            let end = rowset.read_row_groups(&column_names, options.dictionary_columns, &pruning, options.cache, options.cached_only, |batch| {
                let adapted;
                (adapted, computed) = adapt_batch(&batch, schema, &read_projection, &read_schema)?;
                if computed && options.cached_only {
                    return Ok(false);
                }
                Ok(emit_sliced(&adapted, &mut emit))
            })?;
            if computed && options.cached_only {
                return Ok(ScanEnd::NotInMemory);
            }
            if end != ScanEnd::Finished {
                return Ok(end);
            }
        }
        return Ok(ScanEnd::Finished);
    }
    let mut batches = Vec::new();
    for rowset in rowsets {
        // Rows of different rowsets are concatenated for the merge, so every column stays plain.
        rowset.read_row_groups(&column_names, &[], &pruning, options.cache, false, |batch| {
            batches.push(adapt_batch(&batch, schema, &read_projection, &read_schema)?.0);
            Ok(true)
        })?;
    }
    let merged = concat_batches(&read_schema, &batches).map_err(|source| StorageError::Arrow {
        action: "merging rowsets",
        source,
    })?;
    let deduplicated = deduplicate_keep_last(&merged, &schema.key_columns)?;
    let output = deduplicated
        .project(&(0..projection.len()).collect::<Vec<_>>())
        .map_err(|source| StorageError::Arrow {
            action: "projecting merged rows",
            source,
        })?;
    Ok(if emit_sliced(&output, &mut emit) { ScanEnd::Finished } else { ScanEnd::Stopped })
}
