//! Shaping rows for a table: casting to column types with MySQL's checks and errors, and
//! filling omitted columns with their defaults.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, new_null_array};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::display::FormatOptions;

use cairn_common::{ColumnDefinition, ColumnType, DefaultValue, ErrorCode};

use crate::error::FeError;

const STRICT: CastOptions<'static> = CastOptions {
    safe: false,
    format_options: FormatOptions::new(),
};

fn first_row_where(mask: impl Iterator<Item = bool>) -> usize {
    mask.enumerate().find(|(_, bad)| *bad).map(|(index, _)| index + 1).unwrap_or(1)
}

/// Casts `array` to the column's type, turning failures into the MySQL error naming the
/// column and row.
pub fn cast_to_column(array: &ArrayRef, column: &ColumnDefinition, row_offset: usize) -> Result<ArrayRef, FeError> {
    let target = column.column_type.to_arrow();
    let values = if array.data_type() == &target {
        Arc::clone(array)
    } else {
        cast_with_options(array, &target, &STRICT).map_err(|error| {
            // Find the row whose value failed: a lenient cast leaves it NULL.
            let lenient = cast_with_options(array, &target, &CastOptions::default()).ok();
            let row = lenient
                .map(|lenient| {
                    first_row_where((0..array.len()).map(|i| array.is_valid(i) && lenient.is_null(i)))
                })
                .unwrap_or(1)
                + row_offset;
            let text = error.to_string();
            if text.contains("overflow") || text.contains("Can't cast value") || text.contains("too large") {
                FeError::user(
                    ErrorCode::WARN_DATA_OUT_OF_RANGE,
                    format!("Out of range value for column '{}' at row {row}", column.name),
                )
            } else {
                FeError::user(
                    ErrorCode::TRUNCATED_WRONG_VALUE_FOR_FIELD,
                    format!(
                        "Incorrect {} value for column '{}' at row {row}: {text}",
                        column.column_type, column.name
                    ),
                )
            }
        })?
    };
    if let ColumnType::Varchar { length } | ColumnType::Char { length } = column.column_type {
        if let Some(strings) = values.as_string_opt::<i32>() {
            // StarRocks counts VARCHAR length in bytes.
            if let Some(row) = strings
                .iter()
                .position(|value| value.is_some_and(|value| value.len() > length as usize))
            {
                return Err(FeError::user(
                    ErrorCode::DATA_TOO_LONG,
                    format!("Data too long for column '{}' at row {}", column.name, row + 1 + row_offset),
                ));
            }
        }
    }
    if !column.nullable && values.null_count() > 0 {
        let row = first_row_where((0..values.len()).map(|i| values.is_null(i))) + row_offset;
        return Err(FeError::user(
            ErrorCode::BAD_NULL,
            format!("Column '{}' cannot be null (row {row})", column.name),
        ));
    }
    Ok(values)
}

/// The values an omitted column takes.
pub fn default_values(column: &ColumnDefinition, rows: usize, now: &str) -> Result<ArrayRef, FeError> {
    let target = column.column_type.to_arrow();
    match &column.default {
        Some(DefaultValue::Literal(text)) => {
            let strings: ArrayRef = Arc::new(StringArray::from(vec![text.as_str(); rows]));
            cast_to_column(&strings, column, 0)
        }
        Some(DefaultValue::CurrentTimestamp) => {
            let strings: ArrayRef = Arc::new(StringArray::from(vec![now; rows]));
            cast_with_options(&strings, &target, &STRICT)
                .map_err(|error| FeError::internal(format!("failed to fill current timestamp: {error}")))
        }
        Some(DefaultValue::Null) | None if column.nullable => Ok(new_null_array(&target, rows)),
        _ => Err(FeError::user(
            ErrorCode::new_code(1364, "HY000"),
            format!("Field '{}' doesn't have a default value", column.name),
        )),
    }
}

/// Builds full table rows from `batch`, whose columns are, in order, `target_columns`.
pub fn conform_batch(
    batch: &RecordBatch,
    columns: &[ColumnDefinition],
    target_columns: &[usize],
    table_schema: &SchemaRef,
    row_offset: usize,
    now: &str,
) -> Result<RecordBatch, FeError> {
    if batch.num_columns() != target_columns.len() {
        return Err(FeError::user(
            ErrorCode::WRONG_VALUE_COUNT_ON_ROW,
            "Column count doesn't match value count at row 1",
        ));
    }
    let rows = batch.num_rows();
    let mut arrays = Vec::with_capacity(columns.len());
    for (index, column) in columns.iter().enumerate() {
        let array = match target_columns.iter().position(|&target| target == index) {
            Some(position) => cast_to_column(batch.column(position), column, row_offset)?,
            None => default_values(column, rows, now)?,
        };
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::clone(table_schema), arrays)
        .map_err(|error| FeError::internal(format!("failed to build rows for the table: {error}")))
}
