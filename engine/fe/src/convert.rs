//! Shaping rows for a table: casting to column types with MySQL's checks and errors, and
//! filling omitted columns with their defaults.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, new_null_array};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::sql::sqlparser::ast::{Expr, Query, SetExpr, UnaryOperator, Value};
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

/// The MySQL error for a value that does not fit a column.
fn conversion_error(array: &ArrayRef, column: &ColumnDefinition, target: &DataType, row_offset: usize) -> FeError {
    // Find the first value a lenient cast turns into NULL: that is the one that failed.
    let lenient = cast_with_options(array, target, &CastOptions::default()).ok();
    let index = lenient.and_then(|lenient| (0..array.len()).find(|&i| array.is_valid(i) && lenient.is_null(i)));
    let row = index.map(|index| index + 1).unwrap_or(1) + row_offset;
    let shown = index
        .and_then(|index| datafusion::arrow::util::display::array_value_to_string(array, index).ok())
        .unwrap_or_default();
    let numeric_text = shown.trim().parse::<f64>().is_ok();
    match column.column_type {
        ColumnType::Date | ColumnType::DateTime => FeError::user(
            ErrorCode::TRUNCATED_WRONG_VALUE,
            format!(
                "Incorrect {} value: '{shown}' for column '{}' at row {row}",
                if column.column_type == ColumnType::Date { "date" } else { "datetime" },
                column.name
            ),
        ),
        column_type if array.data_type().is_numeric() || (numeric_text && !column_type.is_string()) => FeError::user(
            ErrorCode::WARN_DATA_OUT_OF_RANGE,
            format!("Out of range value for column '{}' at row {row}", column.name),
        ),
        column_type => FeError::user(
            ErrorCode::TRUNCATED_WRONG_VALUE_FOR_FIELD,
            format!(
                "Incorrect {} value: '{shown}' for column '{}' at row {row}",
                crate::information_schema::mysql_data_type(column_type),
                column.name
            ),
        ),
    }
}

/// LARGEINT values. Its range, ±(2^127 - 1), has 39 digits, one more than Decimal128's
/// precision, so values are parsed into `i128` directly instead of through a checked cast.
fn largeint_values(array: &ArrayRef, column: &ColumnDefinition, row_offset: usize) -> Result<ArrayRef, FeError> {
    use datafusion::arrow::array::Decimal128Array;
    let out_of_range = |index: usize| {
        FeError::user(
            ErrorCode::WARN_DATA_OUT_OF_RANGE,
            format!("Out of range value for column '{}' at row {}", column.name, index + 1 + row_offset),
        )
    };
    let values: Vec<Option<i128>> = match array.data_type() {
        DataType::Decimal128(_, 0) => array
            .as_primitive::<datafusion::arrow::datatypes::Decimal128Type>()
            .iter()
            .collect(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let strings = cast_with_options(array, &DataType::Utf8, &STRICT)
                .map_err(|_| conversion_error(array, column, &DataType::Utf8, row_offset))?;
            let strings = strings.as_string::<i32>();
            let mut values = Vec::with_capacity(strings.len());
            for (index, value) in strings.iter().enumerate() {
                values.push(match value {
                    None => None,
                    Some(text) => {
                        let text = text.trim();
                        match text.parse::<i128>() {
                            Ok(number) if number != i128::MIN => Some(number),
                            _ if text.parse::<f64>().is_ok() => return Err(out_of_range(index)),
                            _ => {
                                return Err(FeError::user(
                                    ErrorCode::TRUNCATED_WRONG_VALUE_FOR_FIELD,
                                    format!(
                                        "Incorrect largeint value: '{text}' for column '{}' at row {}",
                                        column.name,
                                        index + 1 + row_offset
                                    ),
                                ));
                            }
                        }
                    }
                });
            }
            values
        }
        _ => {
            let integers = cast_with_options(array, &DataType::Int64, &STRICT)
                .map_err(|_| conversion_error(array, column, &DataType::Int64, row_offset))?;
            integers
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .iter()
                .map(|value| value.map(i128::from))
                .collect()
        }
    };
    let array = Decimal128Array::from(values)
        .with_precision_and_scale(38, 0)
        .map_err(|error| FeError::internal(format!("failed to build LARGEINT values: {error}")))?;
    Ok(Arc::new(array))
}

/// Casts `array` to the column's type, turning failures into the MySQL error naming the
/// column and row.
pub fn cast_to_column(array: &ArrayRef, column: &ColumnDefinition, row_offset: usize) -> Result<ArrayRef, FeError> {
    let target = column.column_type.to_arrow();
    let values = if column.column_type == ColumnType::LargeInt {
        largeint_values(array, column, row_offset)?
    } else if array.data_type() == &target {
        Arc::clone(array)
    } else {
        cast_with_options(array, &target, &STRICT)
            .map_err(|_| conversion_error(array, column, &target, row_offset))?
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

/// The rows of an `INSERT ... VALUES` made only of literals, as text per value (`None` for
/// NULL). Such rows are cast column by column, so a bad value is reported with its column
/// and row, and a large VALUES list skips planning. `None` when any value is an expression.
pub fn literal_values(query: &Query) -> Option<Vec<Vec<Option<String>>>> {
    if query.with.is_some() || query.order_by.is_some() || query.limit_clause.is_some() {
        return None;
    }
    let SetExpr::Values(values) = query.body.as_ref() else {
        return None;
    };
    fn literal(expr: &Expr) -> Option<Option<String>> {
        match expr {
            Expr::Value(value) => match &value.value {
                Value::Number(number, _) => Some(Some(number.clone())),
                Value::SingleQuotedString(text) | Value::DoubleQuotedString(text) => Some(Some(text.clone())),
                Value::Boolean(flag) => Some(Some(if *flag { "1" } else { "0" }.to_string())),
                Value::Null => Some(None),
                _ => None,
            },
            Expr::UnaryOp { op: UnaryOperator::Minus, expr } => match expr.as_ref() {
                Expr::Value(value) => match &value.value {
                    Value::Number(number, _) => Some(Some(format!("-{number}"))),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }
    values
        .rows
        .iter()
        .map(|row| row.content.iter().map(literal).collect::<Option<Vec<_>>>())
        .collect()
}

/// A batch of text columns from literal rows, checked for the column count.
pub fn literal_batch(rows: &[Vec<Option<String>>], columns: usize) -> Result<RecordBatch, FeError> {
    if let Some(index) = rows.iter().position(|row| row.len() != columns) {
        return Err(FeError::user(
            ErrorCode::WRONG_VALUE_COUNT_ON_ROW,
            format!("Column count doesn't match value count at row {}", index + 1),
        ));
    }
    let fields: Vec<Field> = (0..columns).map(|index| Field::new(format!("column{index}"), DataType::Utf8, true)).collect();
    let arrays: Vec<ArrayRef> = (0..columns)
        .map(|column| {
            Arc::new(StringArray::from(rows.iter().map(|row| row[column].clone()).collect::<Vec<_>>())) as ArrayRef
        })
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|error| FeError::internal(format!("failed to build inserted rows: {error}")))
}
