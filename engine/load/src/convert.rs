//! Converting loaded values to a column's type the way StarRocks' loads do: a value that
//! does not convert becomes NULL, unless `strict_mode` is on or the column is NOT NULL, and
//! then the row is filtered with the reason. Too-long strings and NULLs in NOT NULL columns
//! are always filtered.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, StringArray, new_null_array};
use datafusion::arrow::compute::{CastOptions, cast, cast_with_options, is_not_null};
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use cairn_common::{ColumnDefinition, ColumnType, DefaultValue};

use crate::error::LoadError;

/// The first reason each row fails for, if any.
pub(crate) type RowFailures = Vec<Option<String>>;

fn fail(failures: &mut RowFailures, row: usize, reason: impl FnOnce() -> String) {
    if failures[row].is_none() {
        failures[row] = Some(reason());
    }
}

fn lenient_cast(source: &ArrayRef, target: &DataType) -> Result<ArrayRef, String> {
    cast_with_options(source, target, &CastOptions::default()).map_err(|error| error.to_string())
}

/// LARGEINT spans ±(2^127 - 1): 39 digits, past Decimal128's 38-digit cast, so text is
/// parsed into i128 directly.
fn largeint(source: &ArrayRef) -> Result<ArrayRef, String> {
    let values: Vec<Option<i128>> = match source.data_type() {
        DataType::Utf8 => source
            .as_string::<i32>()
            .iter()
            .map(|value| value.and_then(|text| text.trim().parse::<i128>().ok()))
            .collect(),
        DataType::Decimal128(_, 0) => source
            .as_primitive::<datafusion::arrow::datatypes::Decimal128Type>()
            .iter()
            .collect(),
        _ => {
            let integers = lenient_cast(source, &DataType::Int64)?;
            integers
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .iter()
                .map(|value| value.map(i128::from))
                .collect()
        }
    };
    Decimal128Array::from(values)
        .with_precision_and_scale(38, 0)
        .map(|array| Arc::new(array) as ArrayRef)
        .map_err(|error| error.to_string())
}

/// Text to DECIMAL(precision, scale) without arrow's string cast, which allocates for each
/// value and was a tenth of a load's time on TPC-H's lineitem. Plain decimals (`-12.5`,
/// `+7`, `.25`) are parsed here, rounding extra fraction digits half away from zero; anything
/// else (an exponent, say) goes to arrow's cast, so both accept the same texts.
fn text_to_decimal(source: &ArrayRef, precision: u8, scale: i8) -> Result<ArrayRef, String> {
    let target = DataType::Decimal128(precision, scale);
    let strings = source.as_string::<i32>();
    let mut values: Vec<Option<i128>> = Vec::with_capacity(strings.len());
    let mut unusual: Vec<usize> = Vec::new();
    for (row, text) in strings.iter().enumerate() {
        match text {
            None => values.push(None),
            Some(text) => match parse_plain_decimal(text.trim(), scale) {
                Some(value) => values.push(
                    <datafusion::arrow::datatypes::Decimal128Type as datafusion::arrow::datatypes::DecimalType>::is_valid_decimal_precision(value, precision).then_some(value),
                ),
                None => {
                    unusual.push(row);
                    values.push(None);
                }
            },
        }
    }
    if !unusual.is_empty() {
        let texts: ArrayRef = Arc::new(StringArray::from_iter(unusual.iter().map(|row| strings.is_valid(*row).then(|| strings.value(*row)))));
        let parsed = lenient_cast(&texts, &target)?;
        let parsed = parsed.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>();
        for (index, row) in unusual.iter().enumerate() {
            values[*row] = parsed.is_valid(index).then(|| parsed.value(index));
        }
    }
    Decimal128Array::from(values)
        .with_precision_and_scale(precision, scale)
        .map(|array| Arc::new(array) as ArrayRef)
        .map_err(|error| error.to_string())
}

/// `[+-]digits[.digits]` scaled to `scale` digits, or `None` for any other text.
fn parse_plain_decimal(text: &str, scale: i8) -> Option<i128> {
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let scale = usize::try_from(scale).ok()?;
    let mut value: i128 = 0;
    let mut seen_digit = false;
    // Digits seen after the point, and the first one past the scale, which rounds.
    let mut fraction: Option<usize> = None;
    let mut rounding_digit = 0u8;
    for &byte in digits {
        match byte {
            b'0'..=b'9' => {
                seen_digit = true;
                if let Some(count) = fraction.as_mut() {
                    *count += 1;
                    if *count > scale {
                        if *count == scale + 1 {
                            rounding_digit = byte - b'0';
                        }
                        continue;
                    }
                }
                value = value.checked_mul(10)?.checked_add(i128::from(byte - b'0'))?;
            }
            b'.' if fraction.is_none() => fraction = Some(0),
            _ => return None,
        }
    }
    if !seen_digit {
        return None;
    }
    for _ in fraction.unwrap_or(0).min(scale)..scale {
        value = value.checked_mul(10)?;
    }
    if rounding_digit >= 5 {
        value = value.checked_add(1)?;
    }
    Some(if negative { -value } else { value })
}

/// DATE accepts a datetime text too (`2024-01-02 10:00:00` loads as 2024-01-02), as
/// StarRocks does.
fn date_with_time_fallback(source: &ArrayRef, converted: ArrayRef) -> Result<ArrayRef, String> {
    if source.data_type() != &DataType::Utf8 || converted.null_count() == source.null_count() {
        return Ok(converted);
    }
    let timestamps = lenient_cast(source, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    let dates = cast(&timestamps, &DataType::Date32).map_err(|error| error.to_string())?;
    let keep = is_not_null(&converted).map_err(|error| error.to_string())?;
    zip(&keep, &converted, &dates).map_err(|error| error.to_string())
}

fn shown(source: &ArrayRef, row: usize) -> String {
    let options = FormatOptions::default();
    ArrayFormatter::try_new(source.as_ref(), &options)
        .map(|formatter| formatter.value(row).to_string())
        .unwrap_or_default()
}

/// Converts `source` to `column`'s type, recording in `failures` each row that must be
/// filtered. Values of failed rows are NULL in the result.
pub(crate) fn convert_column(
    source: &ArrayRef,
    column: &ColumnDefinition,
    strict_mode: bool,
    failures: &mut RowFailures,
) -> ArrayRef {
    let target = column.column_type.to_arrow();
    let converted = if source.data_type() == &target {
        Ok(Arc::clone(source))
    } else if column.column_type == ColumnType::LargeInt {
        largeint(source)
    } else if let (DataType::Utf8, DataType::Decimal128(precision, scale)) = (source.data_type(), &target) {
        text_to_decimal(source, *precision, *scale)
    } else {
        lenient_cast(source, &target).and_then(|converted| {
            if target == DataType::Date32 {
                date_with_time_fallback(source, converted)
            } else {
                Ok(converted)
            }
        })
    };
    let converted = match converted {
        Ok(converted) => converted,
        Err(error) => {
            for row in 0..source.len() {
                fail(failures, row, || {
                    format!(
                        "Column '{}' of type {} can not take {}: {error}",
                        column.name,
                        column.column_type.describe().to_uppercase(),
                        source.data_type()
                    )
                });
            }
            return new_null_array(&target, source.len());
        }
    };
    for row in 0..source.len() {
        if source.is_valid(row) && converted.is_null(row) && (strict_mode || !column.nullable) {
            fail(failures, row, || {
                format!(
                    "Value '{}' is not a valid {} for column '{}'",
                    shown(source, row),
                    column.column_type.describe().to_uppercase(),
                    column.name
                )
            });
        }
    }
    if let ColumnType::Varchar { length } | ColumnType::Char { length } = column.column_type {
        if let Some(strings) = converted.as_string_opt::<i32>() {
            // StarRocks counts VARCHAR length in bytes.
            for (row, value) in strings.iter().enumerate() {
                if let Some(value) = value.filter(|value| value.len() > length as usize) {
                    fail(failures, row, || {
                        format!(
                            "Value length {} exceeds the length of column '{}' of type {}",
                            value.len(),
                            column.name,
                            column.column_type.describe().to_uppercase()
                        )
                    });
                }
            }
        }
    }
    if !column.nullable && converted.null_count() > 0 {
        for row in 0..converted.len() {
            if converted.is_null(row) {
                fail(failures, row, || format!("NULL value in non-nullable column '{}'", column.name));
            }
        }
    }
    converted
}

/// The values of a column the load does not provide.
pub(crate) fn default_column(column: &ColumnDefinition, rows: usize, now: &str) -> Result<ArrayRef, LoadError> {
    let target = column.column_type.to_arrow();
    let text = match &column.default {
        Some(DefaultValue::Literal(text)) => text.as_str(),
        Some(DefaultValue::CurrentTimestamp) => now,
        Some(DefaultValue::Null) | None if column.nullable => return Ok(new_null_array(&target, rows)),
        _ => {
            return Err(LoadError::Schema(format!(
                "Column '{}' is NOT NULL without a default value, and the load does not provide it",
                column.name
            )));
        }
    };
    let strings: ArrayRef = Arc::new(StringArray::from(vec![text; rows]));
    let mut failures = vec![None; rows];
    let values = convert_column(&strings, column, true, &mut failures);
    match failures.into_iter().flatten().next() {
        Some(reason) => Err(LoadError::Schema(format!("The default of column '{}' does not load: {reason}", column.name))),
        None => Ok(values),
    }
}

/// A column without default or comment, for tests.
#[cfg(test)]
pub(crate) fn test_column(name: &str, column_type: ColumnType, nullable: bool) -> ColumnDefinition {
    ColumnDefinition {
        name: name.to_string(),
        column_type,
        nullable,
        default: None,
        comment: String::new(),
        is_key: false,
        unique_id: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::test_column as column;

    fn strings(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    #[test]
    fn bad_values_become_null_unless_strict() {
        let source = strings(&[Some("1"), Some("x"), None, Some("99999999999")]);
        let mut failures = vec![None; 4];
        let converted = convert_column(&source, &column("k", ColumnType::Int, true), false, &mut failures);
        assert_eq!(failures, vec![None, None, None, None]);
        assert_eq!(converted.null_count(), 3);

        let mut failures = vec![None; 4];
        convert_column(&source, &column("k", ColumnType::Int, true), true, &mut failures);
        assert!(failures[1].as_deref().is_some_and(|reason| reason.contains("'x' is not a valid INT for column 'k'")));
        assert!(failures[2].is_none());
        assert!(failures[3].is_some());
    }

    #[test]
    fn not_null_and_length_always_filter() {
        let source = strings(&[Some("abc"), Some("abcdef"), None]);
        let mut failures = vec![None; 3];
        convert_column(&source, &column("s", ColumnType::Varchar { length: 4 }, false), false, &mut failures);
        assert!(failures[0].is_none());
        assert!(failures[1].as_deref().is_some_and(|reason| reason.contains("exceeds")));
        assert!(failures[2].as_deref().is_some_and(|reason| reason.contains("non-nullable")));
    }

    #[test]
    fn dates_largeint_and_defaults() {
        let source = strings(&[Some("2024-01-02"), Some("2024-01-03 10:11:12"), Some("nope")]);
        let mut failures = vec![None; 3];
        let dates = convert_column(&source, &column("d", ColumnType::Date, true), true, &mut failures);
        assert_eq!(dates.null_count(), 1);
        assert!(failures[2].is_some());

        let big = strings(&[Some("170141183460469231731687303715884105727"), Some("12")]);
        let mut failures = vec![None; 2];
        let values = convert_column(&big, &column("l", ColumnType::LargeInt, true), true, &mut failures);
        assert_eq!(failures, vec![None, None]);
        assert_eq!(values.null_count(), 0);

        let mut with_default = column("v", ColumnType::Int, false);
        with_default.default = Some(DefaultValue::Literal("7".to_string()));
        let filled = default_column(&with_default, 2, "2024-01-01 00:00:00").ok();
        assert_eq!(filled.map(|filled| filled.len()), Some(2));
        assert!(default_column(&column("w", ColumnType::Int, false), 2, "").is_err());
    }
}

#[cfg(test)]
mod decimal_tests {
    use super::*;

    #[test]
    fn plain_decimals_parse_like_arrows_cast() {
        let texts = [
            "0", "1", "-1", "+7", "12.5", "-12.50", ".25", "3.", "0.004", "0.005", "-0.005", "1.235", "1.2349",
            " 42.1 ", "99999999999.99", "100000000000000", "", "-", ".", "1e3", "1.2.3", "abc", "1,5", "12.3456789",
        ];
        let source: ArrayRef = Arc::new(StringArray::from(texts.to_vec()));
        let ours = text_to_decimal(&source, 15, 2).expect("converts");
        let arrows = lenient_cast(&source, &DataType::Decimal128(15, 2)).expect("converts");
        let ours = ours.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>();
        let arrows = arrows.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>();
        for (index, text) in texts.iter().enumerate() {
            let ours = ours.is_valid(index).then(|| ours.value(index));
            let arrows = arrows.is_valid(index).then(|| arrows.value(index));
            assert_eq!(ours, arrows, "'{text}'");
        }
        assert_eq!(parse_plain_decimal("1.235", 2), Some(124));
        assert_eq!(parse_plain_decimal("-12.5", 2), Some(-1250));
    }
}
