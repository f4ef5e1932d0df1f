//! Compaction: merging a tablet's small rowsets into one, so that frequent small loads do not
//! slow queries down. Like StarRocks' cumulative compaction it merges a contiguous run of
//! small rowsets; the merged inputs become stale and are swept later.

use std::fs::File;

use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Result, StorageError};
use crate::rowset::{OpenRowset, RowsetMeta, write_rowset};
use crate::scan::deduplicate_keep_last;
use crate::tablet::Tablet;
use cairn_common::KeysType;

#[derive(Debug, Clone)]
pub struct CompactionPolicy {
    /// Merge once a run of small rowsets is this long.
    pub min_rowsets: usize,
    /// Rowsets at least this large are left alone.
    pub max_input_size: u64,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        CompactionPolicy {
            min_rowsets: 5,
            max_input_size: 256 << 20,
        }
    }
}

/// What one compaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactionOutcome {
    pub input_rowsets: usize,
    pub input_rows: u64,
    pub output_rows: u64,
}

fn file_schema(tablet: &Tablet, rowset: &RowsetMeta) -> Result<Option<SchemaRef>> {
    let Some(name) = &rowset.file_name else {
        return Ok(None);
    };
    let path = tablet.directory().join(name);
    let file = File::open(&path).map_err(|source| StorageError::io("open", &path, source))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| {
        StorageError::ReadParquet {
            path: path.display().to_string(),
            source,
        }
    })?;
    Ok(Some(builder.schema().clone()))
}

/// Picks the newest contiguous run of small rowsets with one file schema (rowsets from
/// before and after an ALTER TABLE are not mixed, so defaults of added columns still apply).
fn pick_inputs(
    tablet: &Tablet,
    policy: &CompactionPolicy,
) -> Result<Option<(Vec<RowsetMeta>, SchemaRef)>> {
    let current = tablet.current_rowsets();
    let mut run: Vec<RowsetMeta> = Vec::new();
    let mut run_schema: Option<SchemaRef> = None;
    for rowset in current.into_iter().rev() {
        if rowset.data_size >= policy.max_input_size {
            break;
        }
        let schema = file_schema(tablet, &rowset)?;
        match (&run_schema, schema) {
            (Some(existing), Some(schema)) if existing.fields() != schema.fields() => break,
            (None, Some(schema)) => run_schema = Some(schema),
            _ => {}
        }
        run.push(rowset);
    }
    run.reverse();
    match run_schema {
        Some(schema) if run.len() >= policy.min_rowsets => Ok(Some((run, schema))),
        _ => Ok(None),
    }
}

/// Compacts `tablet` if its policy says so.
pub fn compact_tablet(tablet: &Tablet, policy: &CompactionPolicy) -> Result<Option<CompactionOutcome>> {
    let Some((inputs, schema)) = pick_inputs(tablet, policy)? else {
        return Ok(None);
    };
    let mut batches = Vec::new();
    let columns: Vec<String> = schema.fields().iter().map(|field| field.name().clone()).collect();
    let mut input_rows = 0;
    for rowset in &inputs {
        input_rows += rowset.num_rows;
        batches.extend(OpenRowset::open(tablet.directory(), rowset)?.read(&columns)?);
    }
    let key_columns = tablet.key_columns();
    let merged = if tablet.keys_type() == KeysType::Primary {
        let all = concat_batches(&schema, &batches).map_err(|source| StorageError::Arrow {
            action: "merging rowsets",
            source,
        })?;
        vec![deduplicate_keep_last(&all, &key_columns)?]
    } else {
        batches
    };
    let mut output = write_rowset(
        tablet.directory(),
        tablet.tablet_id(),
        &schema,
        &merged,
        &key_columns,
    )?;
    output.start_version = inputs.iter().map(|r| r.start_version).min().unwrap_or(0);
    output.end_version = inputs.iter().map(|r| r.end_version).max().unwrap_or(0);
    let output_rows = output.num_rows;
    if !tablet.replace_rowsets(&inputs, output)? {
        return Ok(None);
    }
    Ok(Some(CompactionOutcome {
        input_rowsets: inputs.len(),
        input_rows,
        output_rows,
    }))
}
