//! Rowsets: the immutable Parquet files a tablet's data lives in.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take_record_batch};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use serde::{Deserialize, Serialize};

use crate::cache::DecodedCache;
use crate::distinct::{self, DistinctSketch};
use crate::error::{Result, StorageError};
use crate::predicate::{Pruning, SORT_COLUMNS_FOOTER_KEY};
use crate::scan::{ScanEnd, TabletSchema};
use cairn_common::ids::{TabletId, Version};

/// What the tablet meta records of one rowset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowsetMeta {
    pub rowset_id: String,
    pub start_version: Version,
    pub end_version: Version,
    pub num_rows: u64,
    pub data_size: u64,
    /// `None` for a rowset without rows, which a replacement can be (DELETE of every row).
    pub file_name: Option<String>,
}

/// Rows per Parquet row group: the unit that min/max statistics skip (StarRocks' zone map)
/// and that the decoded-column cache holds. Near DuckDB's 122,880-row groups: small enough
/// that sorted keys prune well, large enough that per-group overhead stays low.
pub const ROW_GROUP_SIZE: usize = 1 << 17;

static ROWSET_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A rowset id unique across restarts: wall-clock nanoseconds plus a process counter.
pub fn new_rowset_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|duration| duration.as_nanos())
        .unwrap_or_default();
    let counter = ROWSET_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:032x}{counter:08x}")
}

fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_SIZE))
        .build()
}

/// Sorts rows by the key columns, so min/max statistics of the leading key prune well.
pub fn sort_by_columns(batch: &RecordBatch, sort_columns: &[String]) -> Result<RecordBatch> {
    let columns: Vec<SortColumn> = sort_columns
        .iter()
        .filter_map(|name| batch.column_by_name(name))
        .map(|values| SortColumn {
            values: Arc::clone(values),
            options: None,
        })
        .collect();
    if columns.is_empty() || batch.num_rows() < 2 {
        return Ok(batch.clone());
    }
    let indices = lexsort_to_indices(&columns, None).map_err(|source| StorageError::Arrow {
        action: "sorting rows by key",
        source,
    })?;
    take_record_batch(batch, &indices).map_err(|source| StorageError::Arrow {
        action: "sorting rows by key",
        source,
    })
}

/// Writes `batches` as one Parquet file in `directory`, sorted by `sort_columns`, and syncs
/// it. The versions of the returned meta are 0 until publish.
pub fn write_rowset(
    directory: &Path,
    tablet_id: TabletId,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    sort_columns: &[String],
) -> Result<RowsetMeta> {
    let rowset_id = new_rowset_id();
    let merged = concat_batches(schema, batches).map_err(|source| StorageError::Arrow {
        action: "concatenating rows of a load",
        source,
    })?;
    let num_rows = merged.num_rows() as u64;
    if num_rows == 0 {
        return Ok(RowsetMeta {
            rowset_id,
            start_version: 0,
            end_version: 0,
            num_rows: 0,
            data_size: 0,
            file_name: None,
        });
    }
    let sorted = sort_by_columns(&merged, sort_columns)?;
    let sorted_by: Vec<&String> = sort_columns.iter().filter(|name| merged.column_by_name(name).is_some()).collect();
    let file_name = format!("{rowset_id}.parquet");
    let path = directory.join(&file_name);
    let file = File::create(&path).map_err(|source| StorageError::io("create", &path, source))?;
    let write_error = |source| StorageError::WriteParquet { tablet_id, source };
    let mut writer = ArrowWriter::try_new(file, Arc::clone(schema), Some(writer_properties()))
        .map_err(write_error)?;
    writer.write(&sorted).map_err(write_error)?;
    // Encoding a list of strings cannot fail; a footer without the key only reads slower.
    if let Some(columns) = serde_json::to_string(&sorted_by).ok().filter(|_| !sorted_by.is_empty()) {
        writer.append_key_value_metadata(KeyValue::new(SORT_COLUMNS_FOOTER_KEY.to_string(), columns));
    }
    for (field, column) in schema.fields().iter().zip(sorted.columns()) {
        if let Some(sketch) = DistinctSketch::of(column) {
            writer.append_key_value_metadata(KeyValue::new(distinct::footer_key(field.name()), sketch.encode()));
        }
    }
    let file = writer.into_inner().map_err(write_error)?;
    file.sync_all().map_err(|source| StorageError::io("sync", &path, source))?;
    let data_size = file
        .metadata()
        .map_err(|source| StorageError::io("stat", &path, source))?
        .len();
    Ok(RowsetMeta {
        rowset_id,
        start_version: 0,
        end_version: 0,
        num_rows,
        data_size,
        file_name: Some(file_name),
    })
}

/// An opened rowset file. Opening before reading keeps the data readable even if a
/// compaction sweeps the file meanwhile, since an unlinked file stays readable while open.
pub struct OpenRowset {
    pub meta: RowsetMeta,
    file: Option<(File, String)>,
}

impl OpenRowset {
    pub fn open(directory: &Path, meta: &RowsetMeta) -> Result<Self> {
        let file = match &meta.file_name {
            Some(name) => {
                let path = directory.join(name);
                let file =
                    File::open(&path).map_err(|source| StorageError::io("open", &path, source))?;
                Some((file, path.display().to_string()))
            }
            None => None,
        };
        Ok(OpenRowset {
            meta: meta.clone(),
            file,
        })
    }

    /// The file's parsed footer, from `cache` when it has it.
    fn footer(
        meta: &RowsetMeta,
        file: &File,
        cache: &DecodedCache,
    ) -> std::result::Result<ArrowReaderMetadata, datafusion::parquet::errors::ParquetError> {
        let rowset_id: Arc<str> = Arc::from(meta.rowset_id.as_str());
        if let Some(footer) = cache.footer(&rowset_id) {
            return Ok(footer);
        }
        Self::load_footer(&rowset_id, file, cache)
    }

    /// Parses the file's footer and keeps it in `cache`.
    fn load_footer(
        rowset_id: &Arc<str>,
        file: &File,
        cache: &DecodedCache,
    ) -> std::result::Result<ArrowReaderMetadata, datafusion::parquet::errors::ParquetError> {
        let footer = ArrowReaderMetadata::load(file, ArrowReaderOptions::new())?;
        cache.insert_footer(rowset_id, footer.clone());
        Ok(footer)
    }

    /// Min, max and distinct values of each named integer or date column, and distinct values
    /// of each string column, over the rowset of `meta` in `directory`, from its footer,
    /// remembered in `cache` per column. An empty rowset (no file) holds nothing and
    /// constrains nothing: `Ok(None)`. The file is opened only for what the cache does not
    /// hold: planning asks at every query, for every rowset of every tablet scanned.
    pub fn column_statistics(
        directory: &Path,
        meta: &RowsetMeta,
        schema: &TabletSchema,
        columns: &[String],
        cache: &DecodedCache,
    ) -> Result<Option<Vec<crate::scan::ColumnStatistics>>> {
        let Some(name) = &meta.file_name else {
            return Ok(None);
        };
        let rowset_id: Arc<str> = Arc::from(meta.rowset_id.as_str());
        let keys: Vec<Option<crate::cache::StatisticsColumn>> = columns
            .iter()
            .map(|column| {
                let definition = schema.columns.iter().find(|definition| &definition.name == column)?;
                Some(crate::cache::StatisticsColumn {
                    name: column.clone(),
                    unique_id: definition.unique_id,
                    data_type: definition.column_type.to_arrow(),
                })
            })
            .collect();
        let mut statistics: Vec<Option<crate::scan::ColumnStatistics>> = keys
            .iter()
            .map(|key| match key {
                Some(key) => cache.column_statistics(&rowset_id, key),
                // Not a column of the table: nothing is known of it.
                None => Some(crate::scan::ColumnStatistics::default()),
            })
            .collect();
        let missing: Vec<usize> = (0..columns.len()).filter(|&index| statistics[index].is_none()).collect();
        if !missing.is_empty() {
            let footer = match cache.footer(&rowset_id) {
                Some(footer) => footer,
                None => {
                    let path = directory.join(name);
                    let file = File::open(&path).map_err(|source| StorageError::io("open", &path, source))?;
                    Self::footer(meta, &file, cache)
                        .map_err(|source| StorageError::ReadParquet { path: path.display().to_string(), source })?
                }
            };
            let names: Vec<String> = missing.iter().map(|&index| columns[index].clone()).collect();
            let computed = crate::predicate::rowset_column_statistics(footer.metadata(), footer.schema(), schema, &names);
            for (&index, column) in missing.iter().zip(computed) {
                if let Some(key) = &keys[index] {
                    cache.insert_column_statistics(&rowset_id, key.clone(), column.clone());
                }
                statistics[index] = Some(column);
            }
        }
        Ok(Some(statistics.into_iter().map(Option::unwrap_or_default).collect()))
    }

    /// Reads the named columns that the file has, one batch per row group, skipping the row
    /// groups `pruning` rules out and the rows of each outside its key range, and taking
    /// decoded columns from `cache` where it has them.
    /// `emit` returns `false` to stop. The caller adapts batches to the table schema. With
    /// `cached_only`, the read stops at the first footer or row group it would have to read
    /// from the file, with [`ScanEnd::NotInMemory`].
    ///
    /// String columns named in `dictionary_columns` come dictionary-encoded
    /// ([`crate::dictionary`]) in the row groups where they have few distinct values, so a
    /// batch's schema may differ from the file's by those columns' types.
    pub fn read_row_groups(
        self,
        columns: &[String],
        dictionary_columns: &[String],
        pruning: &Pruning,
        cache: &DecodedCache,
        cached_only: bool,
        mut emit: impl FnMut(RecordBatch) -> Result<bool>,
    ) -> Result<ScanEnd> {
        let Some((file, path)) = self.file else {
            return Ok(ScanEnd::Finished);
        };
        let read_error = |source| StorageError::ReadParquet {
            path: path.clone(),
            source,
        };
        let rowset_id: Arc<str> = Arc::from(self.meta.rowset_id.as_str());
        let footer = match cache.footer(&rowset_id) {
            Some(footer) => footer,
            None if cached_only => return Ok(ScanEnd::NotInMemory),
            None => Self::load_footer(&rowset_id, &file, cache).map_err(read_error)?,
        };
        let file_schema = Arc::clone(footer.schema());
        let mut indices: Vec<usize> = columns
            .iter()
            .filter_map(|name| file_schema.index_of(name).ok())
            .collect();
        indices.sort_unstable();
        indices.dedup();
        let batch_schema = Arc::new(file_schema.project(&indices).map_err(|source| StorageError::Arrow {
            action: "projecting a rowset's columns",
            source,
        })?);
        let keep = match &pruning.row_groups {
            Some(pruner) => pruner.row_groups_to_read(footer.metadata(), &file_schema),
            None => vec![true; footer.metadata().num_row_groups()],
        };
        // The key column's place among the read columns, when its range can slice this file.
        let key_range = pruning.key_range.as_ref().filter(|range| range.applies_to(&file_schema, footer.metadata()));
        let key_slot = key_range.and_then(|range| {
            let column = file_schema.index_of(range.column()).ok()?;
            indices.iter().position(|&index| index == column)
        });
        for (row_group, _) in keep.iter().enumerate().filter(|(_, keep)| **keep) {
            let rows = usize::try_from(footer.metadata().row_group(row_group).num_rows()).unwrap_or(0);
            let mut arrays: Vec<Option<ArrayRef>> = indices
                .iter()
                .map(|&column| cache.column_chunk(&rowset_id, row_group, column))
                .collect();
            let missing: Vec<usize> = indices
                .iter()
                .zip(&arrays)
                .filter(|(_, array)| array.is_none())
                .map(|(&column, _)| column)
                .collect();
            if cached_only && !missing.is_empty() {
                return Ok(ScanEnd::NotInMemory);
            }
            if !missing.is_empty() {
                let file = file.try_clone().map_err(|source| StorageError::io("reopen", Path::new(&path), source))?;
                let mask = ProjectionMask::roots(footer.metadata().file_metadata().schema_descr(), missing.iter().copied());
                let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, footer.clone())
                    .with_projection(mask)
                    .with_row_groups(vec![row_group])
                    .with_batch_size(rows.max(1))
                    .build()
                    .map_err(read_error)?;
                let mut decoded = reader
                    .collect::<std::result::Result<Vec<RecordBatch>, _>>()
                    .map_err(|source| StorageError::Arrow {
                        action: "reading a rowset",
                        source,
                    })?;
                let decoded = match decoded.len() {
                    0 => {
                        return Err(StorageError::CorruptRowset {
                            path: path.clone(),
                            detail: format!("row group {row_group} decoded to no rows"),
                        });
                    }
                    1 => decoded.swap_remove(0),
                    _ => concat_batches(&decoded[0].schema(), &decoded).map_err(|source| StorageError::Arrow {
                        action: "reading a rowset",
                        source,
                    })?,
                };
                // The reader returns the projected columns in file order, as `missing` is.
                for (position, &column) in missing.iter().enumerate() {
                    let array = Arc::clone(decoded.column(position));
                    cache.insert_column_chunk(&rowset_id, row_group, column, Arc::clone(&array));
                    if let Some(slot) = indices.iter().position(|&index| index == column) {
                        arrays[slot] = Some(array);
                    }
                }
            }
            let mut arrays = arrays.into_iter().collect::<Option<Vec<ArrayRef>>>().ok_or_else(|| StorageError::CorruptRowset {
                path: path.clone(),
                detail: format!("row group {row_group} lacks a projected column"),
            })?;
            let kept = key_range
                .zip(key_slot)
                .and_then(|(range, slot)| range.rows_within(&arrays[slot]))
                .unwrap_or(0..rows);
            if kept.is_empty() {
                continue;
            }
            let mut schema = Arc::clone(&batch_schema);
            for (slot, &column) in indices.iter().enumerate() {
                // Without a cache the encoding would be paid on every scan.
                if !cache.is_enabled() || !dictionary_columns.iter().any(|name| name == file_schema.field(column).name()) {
                    continue;
                }
                let encoded = match cache.dictionary(&rowset_id, row_group, column) {
                    Some(encoded) => encoded,
                    None => {
                        let encoded = crate::dictionary::encode_low_cardinality(&arrays[slot]);
                        cache.insert_dictionary(&rowset_id, row_group, column, encoded.clone());
                        encoded
                    }
                };
                if let Some(encoded) = encoded {
                    let mut fields: Vec<Field> = schema.fields().iter().map(|field| field.as_ref().clone()).collect();
                    fields[slot] = fields[slot].clone().with_data_type(encoded.data_type().clone());
                    schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
                    arrays[slot] = encoded;
                }
            }
            let batch = RecordBatch::try_new_with_options(
                schema,
                arrays,
                &RecordBatchOptions::new().with_row_count(Some(rows)),
            )
            .map_err(|source| StorageError::Arrow {
                action: "reading a rowset",
                source,
            })?;
            let batch = if kept.len() == rows { batch } else { batch.slice(kept.start, kept.len()) };
            if !emit(batch)? {
                return Ok(ScanEnd::Stopped);
            }
        }
        Ok(ScanEnd::Finished)
    }

    /// Reads the named columns that the file has, whole; the caller adapts to the table schema.
    pub fn read(self, columns: &[String]) -> Result<Vec<RecordBatch>> {
        let Some((file, path)) = self.file else {
            return Ok(Vec::new());
        };
        let read_error = |source| StorageError::ReadParquet {
            path: path.clone(),
            source,
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(read_error)?;
        let file_schema = Arc::clone(builder.schema());
        let indices: Vec<usize> = columns
            .iter()
            .filter_map(|name| file_schema.index_of(name).ok())
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(8192)
            .build()
            .map_err(read_error)?;
        reader
            .map(|batch| {
                batch.map_err(|source| StorageError::Arrow {
                    action: "reading a rowset",
                    source,
                })
            })
            .collect()
    }
}
