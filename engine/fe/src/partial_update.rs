//! `partial_update` loads on PRIMARY KEY tables: the rows give the key and some columns; a
//! row whose key the table has keeps its current values in the other columns, and a new key
//! takes their defaults (which the load plan already filled in). The table's current rows are
//! read and the new rows completed under the table's commit lock, so no other commit can
//! change a row between the read and this commit.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::compute::{cast, interleave};
use datafusion::arrow::row::{Row, RowConverter, SortField};
use datafusion::prelude::SessionContext;

use crate::catalog::Table;
use crate::error::FeError;
use crate::frontend::Frontend;
use crate::table_provider::OlapTable;

fn arrow_error(action: &'static str) -> impl Fn(datafusion::arrow::error::ArrowError) -> FeError {
    move |error| FeError::internal(format!("partial update: failed {action}: {error}"))
}

impl Frontend {
    /// Every row of the table at its visible version.
    pub(crate) async fn read_current_rows(&self, table: &Table) -> Result<Vec<RecordBatch>, FeError> {
        let context = SessionContext::new();
        let provider = OlapTable::new(table.clone(), Arc::clone(&self.backend));
        Ok(context.read_table(Arc::new(provider))?.collect().await?)
    }
}

/// Completes `batches` (in the table's column order) from `current`: in rows whose key is in
/// `current`, the columns not `provided` take the current values.
pub fn complete_rows(
    table: &Table,
    current: &[RecordBatch],
    batches: Vec<RecordBatch>,
    provided: &[bool],
) -> Result<Vec<RecordBatch>, FeError> {
    let key_indices: Vec<usize> = table
        .columns()
        .iter()
        .enumerate()
        .filter(|(_, column)| column.is_key)
        .map(|(index, _)| index)
        .collect();
    let Some(first) = batches.first() else {
        return Ok(batches);
    };
    let schema = first.schema();
    // The rows read back may carry the planner's field names; the incoming types decide.
    let current: Vec<Vec<ArrayRef>> = current
        .iter()
        .filter(|batch| batch.num_rows() > 0)
        .map(|batch| {
            (0..schema.fields().len())
                .map(|index| {
                    let column = batch.column(index);
                    let wanted = schema.field(index).data_type();
                    if column.data_type() == wanted {
                        Ok(Arc::clone(column))
                    } else {
                        cast(column, wanted).map_err(arrow_error("to read the current rows"))
                    }
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<_, _>>()?;
    let converter = RowConverter::new(
        key_indices
            .iter()
            .map(|index| SortField::new(schema.field(*index).data_type().clone()))
            .collect(),
    )
    .map_err(arrow_error("to compare keys"))?;
    let current_keys: Vec<_> = current
        .iter()
        .map(|columns| {
            let keys: Vec<ArrayRef> = key_indices.iter().map(|index| Arc::clone(&columns[*index])).collect();
            converter.convert_columns(&keys)
        })
        .collect::<Result<_, _>>()
        .map_err(arrow_error("to compare keys"))?;
    // Later rows of the same key are newer; the index keeps the last.
    let mut position: HashMap<Row<'_>, (usize, usize)> = HashMap::new();
    for (batch, rows) in current_keys.iter().enumerate() {
        for row in 0..rows.num_rows() {
            position.insert(rows.row(row), (batch + 1, row));
        }
    }
    let mut completed = Vec::with_capacity(batches.len());
    for batch in batches {
        let keys: Vec<ArrayRef> = key_indices.iter().map(|index| Arc::clone(batch.column(*index))).collect();
        let rows = converter.convert_columns(&keys).map_err(arrow_error("to compare keys"))?;
        // (0, row) takes the loaded value; (n, row) the current row of current batch n - 1.
        let sources: Vec<(usize, usize)> = (0..batch.num_rows())
            .map(|row| position.get(&rows.row(row)).copied().unwrap_or((0, row)))
            .collect();
        let mut columns = Vec::with_capacity(batch.num_columns());
        for (index, column) in batch.columns().iter().enumerate() {
            if provided.get(index).copied().unwrap_or(true) {
                columns.push(Arc::clone(column));
                continue;
            }
            let mut candidates: Vec<&dyn Array> = vec![column.as_ref()];
            candidates.extend(current.iter().map(|columns| columns[index].as_ref()));
            columns.push(interleave(&candidates, &sources).map_err(arrow_error("to complete the rows"))?);
        }
        completed.push(RecordBatch::try_new(batch.schema(), columns).map_err(arrow_error("to complete the rows"))?);
    }
    Ok(completed)
}
