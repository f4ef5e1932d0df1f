//! Arrow values to MySQL row values, in the text protocol (every value a length-encoded
//! string) and the binary protocol (fixed-width numbers and packed temporal values, chosen by
//! the column's declared type).

use std::io::Write as _;

use arrow::array::timezone::Tz;
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, GenericByteArray, GenericByteViewArray,
};
use arrow::datatypes::{
    ByteArrayType, ByteViewType, DataType, Date32Type, Date64Type, Decimal64Type, Decimal128Type,
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::column::{Column, ColumnType};
use crate::packet::put_lenenc_bytes;

/// One value of a row, borrowed from its array where it can be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    Int(i64),
    UInt(u64),
    Float32(f32),
    Float64(f64),
    Decimal { value: i128, scale: i8 },
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    Bytes(&'a [u8]),
}

/// The typed view of one column of a record batch.
pub(crate) enum ColumnValues<'a> {
    Null,
    Boolean(&'a BooleanArray),
    Int(&'a dyn Array, IntValues<'a>),
    Float32(&'a dyn Array, &'a [f32]),
    Float64(&'a dyn Array, &'a [f64]),
    Decimal(&'a dyn Array, &'a [i128], i8),
    Decimal64(&'a dyn Array, &'a [i64], i8),
    Date32(&'a dyn Array, &'a [i32]),
    /// Milliseconds since the epoch, of which only the date is shown.
    Date64(&'a dyn Array, &'a [i64]),
    Timestamp {
        array: &'a dyn Array,
        values: &'a [i64],
        unit: TimeUnit,
        time_zone: Option<Tz>,
    },
    Utf8(&'a GenericByteArray<arrow::datatypes::Utf8Type>),
    LargeUtf8(&'a GenericByteArray<arrow::datatypes::LargeUtf8Type>),
    Binary(&'a GenericByteArray<arrow::datatypes::BinaryType>),
    LargeBinary(&'a GenericByteArray<arrow::datatypes::LargeBinaryType>),
    Utf8View(&'a GenericByteViewArray<arrow::datatypes::StringViewType>),
    BinaryView(&'a GenericByteViewArray<arrow::datatypes::BinaryViewType>),
    /// Every other type, as Arrow displays it.
    Formatted(&'a dyn Array, ArrayFormatter<'a>),
}

pub(crate) enum IntValues<'a> {
    Int8(&'a [i8]),
    Int16(&'a [i16]),
    Int32(&'a [i32]),
    Int64(&'a [i64]),
    UInt8(&'a [u8]),
    UInt16(&'a [u16]),
    UInt32(&'a [u32]),
    UInt64(&'a [u64]),
}

/// Dictionaries are expanded to their value type once per batch, so the row loop only sees
/// plain arrays.
pub(crate) fn expand_dictionary(array: &ArrayRef) -> ArrayRef {
    match array.data_type() {
        DataType::Dictionary(_, value_type) => {
            arrow::compute::cast(array, value_type).unwrap_or_else(|_| array.clone())
        }
        _ => array.clone(),
    }
}

impl<'a> ColumnValues<'a> {
    pub(crate) fn new(array: &'a dyn Array) -> ColumnValues<'a> {
        Self::typed(array).unwrap_or_else(|| Self::formatted(array))
    }

    fn formatted(array: &'a dyn Array) -> ColumnValues<'a> {
        const OPTIONS: FormatOptions<'static> = FormatOptions::new().with_null("");
        match ArrayFormatter::try_new(array, &OPTIONS) {
            Ok(formatter) => ColumnValues::Formatted(array, formatter),
            Err(_) => ColumnValues::Null,
        }
    }

    fn typed(array: &'a dyn Array) -> Option<ColumnValues<'a>> {
        Some(match array.data_type() {
            DataType::Null => ColumnValues::Null,
            DataType::Boolean => ColumnValues::Boolean(array.as_boolean_opt()?),
            DataType::Int8 => int(
                array,
                IntValues::Int8(array.as_primitive_opt::<Int8Type>()?.values()),
            ),
            DataType::Int16 => int(
                array,
                IntValues::Int16(array.as_primitive_opt::<Int16Type>()?.values()),
            ),
            DataType::Int32 => int(
                array,
                IntValues::Int32(array.as_primitive_opt::<Int32Type>()?.values()),
            ),
            DataType::Int64 => int(
                array,
                IntValues::Int64(array.as_primitive_opt::<Int64Type>()?.values()),
            ),
            DataType::UInt8 => int(
                array,
                IntValues::UInt8(array.as_primitive_opt::<UInt8Type>()?.values()),
            ),
            DataType::UInt16 => int(
                array,
                IntValues::UInt16(array.as_primitive_opt::<UInt16Type>()?.values()),
            ),
            DataType::UInt32 => int(
                array,
                IntValues::UInt32(array.as_primitive_opt::<UInt32Type>()?.values()),
            ),
            DataType::UInt64 => int(
                array,
                IntValues::UInt64(array.as_primitive_opt::<UInt64Type>()?.values()),
            ),
            DataType::Float32 => {
                ColumnValues::Float32(array, array.as_primitive_opt::<Float32Type>()?.values())
            }
            DataType::Float64 => {
                ColumnValues::Float64(array, array.as_primitive_opt::<Float64Type>()?.values())
            }
            DataType::Decimal128(_, scale) => ColumnValues::Decimal(
                array,
                array.as_primitive_opt::<Decimal128Type>()?.values(),
                *scale,
            ),
            DataType::Decimal64(_, scale) => ColumnValues::Decimal64(
                array,
                array.as_primitive_opt::<Decimal64Type>()?.values(),
                *scale,
            ),
            DataType::Date32 => {
                ColumnValues::Date32(array, array.as_primitive_opt::<Date32Type>()?.values())
            }
            DataType::Date64 => {
                ColumnValues::Date64(array, array.as_primitive_opt::<Date64Type>()?.values())
            }
            DataType::Timestamp(unit, time_zone) => {
                let values = match unit {
                    TimeUnit::Second => array.as_primitive_opt::<TimestampSecondType>()?.values(),
                    TimeUnit::Millisecond => array
                        .as_primitive_opt::<TimestampMillisecondType>()?
                        .values(),
                    TimeUnit::Microsecond => array
                        .as_primitive_opt::<TimestampMicrosecondType>()?
                        .values(),
                    TimeUnit::Nanosecond => array
                        .as_primitive_opt::<TimestampNanosecondType>()?
                        .values(),
                };
                let time_zone = match time_zone {
                    Some(name) => Some(name.parse::<Tz>().ok()?),
                    None => None,
                };
                ColumnValues::Timestamp {
                    array,
                    values,
                    unit: *unit,
                    time_zone,
                }
            }
            DataType::Utf8 => ColumnValues::Utf8(array.as_string_opt::<i32>()?),
            DataType::LargeUtf8 => ColumnValues::LargeUtf8(array.as_string_opt::<i64>()?),
            DataType::Utf8View => ColumnValues::Utf8View(array.as_string_view_opt()?),
            DataType::Binary => ColumnValues::Binary(array.as_binary_opt::<i32>()?),
            DataType::LargeBinary => ColumnValues::LargeBinary(array.as_binary_opt::<i64>()?),
            DataType::BinaryView => ColumnValues::BinaryView(array.as_binary_view_opt()?),
            _ => return None,
        })
    }

    /// The value at `row`; formatted values are written to `scratch` and borrowed from it.
    pub(crate) fn cell<'s>(&'s self, row: usize, scratch: &'s mut Vec<u8>) -> Cell<'s> {
        match self {
            ColumnValues::Null => Cell::Null,
            ColumnValues::Boolean(array) => {
                if array.is_null(row) {
                    Cell::Null
                } else {
                    Cell::Int(i64::from(array.value(row)))
                }
            }
            ColumnValues::Int(array, values) => {
                if array.is_null(row) {
                    return Cell::Null;
                }
                match values {
                    IntValues::Int8(values) => Cell::Int(i64::from(values[row])),
                    IntValues::Int16(values) => Cell::Int(i64::from(values[row])),
                    IntValues::Int32(values) => Cell::Int(i64::from(values[row])),
                    IntValues::Int64(values) => Cell::Int(values[row]),
                    IntValues::UInt8(values) => Cell::UInt(u64::from(values[row])),
                    IntValues::UInt16(values) => Cell::UInt(u64::from(values[row])),
                    IntValues::UInt32(values) => Cell::UInt(u64::from(values[row])),
                    IntValues::UInt64(values) => Cell::UInt(values[row]),
                }
            }
            ColumnValues::Float32(array, values) => {
                if array.is_null(row) {
                    Cell::Null
                } else {
                    Cell::Float32(values[row])
                }
            }
            ColumnValues::Float64(array, values) => {
                if array.is_null(row) {
                    Cell::Null
                } else {
                    Cell::Float64(values[row])
                }
            }
            ColumnValues::Decimal(array, values, scale) => {
                if array.is_null(row) {
                    Cell::Null
                } else {
                    Cell::Decimal {
                        value: values[row],
                        scale: *scale,
                    }
                }
            }
            ColumnValues::Decimal64(array, values, scale) => {
                if array.is_null(row) {
                    Cell::Null
                } else {
                    Cell::Decimal {
                        value: i128::from(values[row]),
                        scale: *scale,
                    }
                }
            }
            ColumnValues::Date32(array, values) => {
                if array.is_null(row) {
                    return Cell::Null;
                }
                match date_from_days(values[row]) {
                    Some(date) => Cell::Date(date),
                    None => Cell::Null,
                }
            }
            ColumnValues::Date64(array, values) => {
                if array.is_null(row) {
                    return Cell::Null;
                }
                match datetime_from_timestamp(values[row], TimeUnit::Millisecond, None) {
                    Some(datetime) => Cell::Date(datetime.date()),
                    None => Cell::Null,
                }
            }
            ColumnValues::Timestamp {
                array,
                values,
                unit,
                time_zone,
            } => {
                if array.is_null(row) {
                    return Cell::Null;
                }
                match datetime_from_timestamp(values[row], *unit, time_zone.as_ref()) {
                    Some(datetime) => Cell::DateTime(datetime),
                    None => Cell::Null,
                }
            }
            ColumnValues::Utf8(array) => bytes_cell(*array, row),
            ColumnValues::LargeUtf8(array) => bytes_cell(*array, row),
            ColumnValues::Binary(array) => bytes_cell(*array, row),
            ColumnValues::LargeBinary(array) => bytes_cell(*array, row),
            ColumnValues::Utf8View(array) => view_cell(*array, row),
            ColumnValues::BinaryView(array) => view_cell(*array, row),
            ColumnValues::Formatted(array, formatter) => {
                if array.is_null(row) {
                    return Cell::Null;
                }
                scratch.clear();
                let _ = write!(scratch, "{}", formatter.value(row));
                Cell::Bytes(scratch)
            }
        }
    }
}

fn int<'a>(array: &'a dyn Array, values: IntValues<'a>) -> ColumnValues<'a> {
    ColumnValues::Int(array, values)
}

fn bytes_cell<T: ByteArrayType>(array: &GenericByteArray<T>, row: usize) -> Cell<'_> {
    if array.is_null(row) {
        Cell::Null
    } else {
        let value: &[u8] = array.value(row).as_ref();
        Cell::Bytes(value)
    }
}

fn view_cell<T: ByteViewType + ?Sized>(array: &GenericByteViewArray<T>, row: usize) -> Cell<'_> {
    if array.is_null(row) {
        Cell::Null
    } else {
        let value: &[u8] = array.value(row).as_ref();
        Cell::Bytes(value)
    }
}

/// Days since 1970-01-01 to a date; None outside chrono's range.
pub(crate) fn date_from_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(719_163)?)
}

pub(crate) fn datetime_from_timestamp(
    value: i64,
    unit: TimeUnit,
    time_zone: Option<&Tz>,
) -> Option<NaiveDateTime> {
    let (per_second, nanos_per_unit) = match unit {
        TimeUnit::Second => (1, 0),
        TimeUnit::Millisecond => (1_000, 1_000_000),
        TimeUnit::Microsecond => (1_000_000, 1_000),
        TimeUnit::Nanosecond => (1_000_000_000, 1),
    };
    let seconds = value.div_euclid(per_second);
    let nanos = u32::try_from(value.rem_euclid(per_second) * nanos_per_unit).ok()?;
    let utc = DateTime::from_timestamp(seconds, nanos)?;
    Some(match time_zone {
        Some(time_zone) => utc.with_timezone(time_zone).naive_local(),
        None => utc.naive_utc(),
    })
}

/// How a column's values are laid out in a binary protocol row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryLayout {
    Int1,
    Int2,
    Int4,
    Int8,
    Float,
    Double,
    Date,
    DateTime,
    Time,
    Text,
}

impl BinaryLayout {
    pub(crate) fn of(column_type: ColumnType) -> BinaryLayout {
        match column_type {
            ColumnType::Tiny => BinaryLayout::Int1,
            ColumnType::Short | ColumnType::Year => BinaryLayout::Int2,
            ColumnType::Long | ColumnType::Int24 => BinaryLayout::Int4,
            ColumnType::LongLong => BinaryLayout::Int8,
            ColumnType::Float => BinaryLayout::Float,
            ColumnType::Double => BinaryLayout::Double,
            ColumnType::Date | ColumnType::NewDate => BinaryLayout::Date,
            ColumnType::DateTime | ColumnType::Timestamp => BinaryLayout::DateTime,
            ColumnType::Time => BinaryLayout::Time,
            _ => BinaryLayout::Text,
        }
    }
}

/// Per-column settings the encoders need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueFormat {
    /// Fractional second digits printed for datetimes (0..=6).
    pub(crate) fractional_digits: u8,
    pub(crate) layout: BinaryLayout,
}

impl ValueFormat {
    pub(crate) fn of(column: &Column) -> ValueFormat {
        ValueFormat {
            fractional_digits: column.decimals.min(6),
            layout: BinaryLayout::of(column.column_type),
        }
    }
}

/// Appends a text protocol value: 0xFB for NULL, else a length-encoded string.
pub(crate) fn put_text_cell(buffer: &mut Vec<u8>, cell: Cell<'_>, format: ValueFormat) {
    if let Cell::Bytes(bytes) = cell {
        put_lenenc_bytes(buffer, bytes);
        return;
    }
    if cell == Cell::Null {
        buffer.push(0xFB);
        return;
    }
    // Everything else prints short: reserve a one-byte length and patch it afterwards.
    let start = buffer.len();
    buffer.push(0);
    put_cell_text(buffer, cell, format);
    let length = buffer.len() - start - 1;
    if length < 251 {
        buffer[start] = length as u8;
    } else {
        let text = buffer.split_off(start + 1);
        buffer.truncate(start);
        put_lenenc_bytes(buffer, &text);
    }
}

/// The display text of a non-null, non-bytes cell.
fn put_cell_text(buffer: &mut Vec<u8>, cell: Cell<'_>, format: ValueFormat) {
    match cell {
        Cell::Null => {}
        Cell::Bytes(bytes) => buffer.extend_from_slice(bytes),
        Cell::Int(value) => buffer.extend_from_slice(itoa::Buffer::new().format(value).as_bytes()),
        Cell::UInt(value) => buffer.extend_from_slice(itoa::Buffer::new().format(value).as_bytes()),
        Cell::Float32(value) => {
            if uses_exponent(f64::from(value.abs())) {
                let _ = write!(buffer, "{value:e}");
            } else {
                let _ = write!(buffer, "{value}");
            }
        }
        Cell::Float64(value) => {
            if uses_exponent(value.abs()) {
                let _ = write!(buffer, "{value:e}");
            } else {
                let _ = write!(buffer, "{value}");
            }
        }
        Cell::Decimal { value, scale } => put_decimal(buffer, value, scale),
        Cell::Date(date) => put_date(buffer, date),
        Cell::DateTime(datetime) => put_datetime(buffer, datetime, format.fractional_digits),
    }
}

/// Floats print their shortest round-trip digits like MySQL, with an exponent for very large
/// or small magnitudes instead of hundreds of digits.
fn uses_exponent(magnitude: f64) -> bool {
    magnitude.is_finite() && magnitude != 0.0 && !(1e-5..1e15).contains(&magnitude)
}

/// A decimal with exactly `scale` fraction digits: 1230 at scale 2 is "12.30".
pub(crate) fn put_decimal(buffer: &mut Vec<u8>, value: i128, scale: i8) {
    if scale <= 0 {
        buffer.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        if value != 0 {
            buffer.extend(std::iter::repeat_n(b'0', usize::from(scale.unsigned_abs())));
        }
        return;
    }
    let scale_digits = u32::from(scale.unsigned_abs());
    let Some(divisor) = 10u128.checked_pow(scale_digits) else {
        buffer.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        return;
    };
    let magnitude = value.unsigned_abs();
    if value < 0 {
        buffer.push(b'-');
    }
    buffer.extend_from_slice(itoa::Buffer::new().format(magnitude / divisor).as_bytes());
    buffer.push(b'.');
    let mut fraction_buffer = itoa::Buffer::new();
    let fraction = fraction_buffer.format(magnitude % divisor).as_bytes();
    buffer.extend(std::iter::repeat_n(
        b'0',
        scale_digits as usize - fraction.len(),
    ));
    buffer.extend_from_slice(fraction);
}

fn put_two_digits(buffer: &mut Vec<u8>, value: u32) {
    buffer.push(b'0' + (value / 10 % 10) as u8);
    buffer.push(b'0' + (value % 10) as u8);
}

pub(crate) fn put_date(buffer: &mut Vec<u8>, date: NaiveDate) {
    let year = date.year();
    if (0..=9999).contains(&year) {
        let year = year as u32;
        put_two_digits(buffer, year / 100);
        put_two_digits(buffer, year % 100);
    } else {
        let _ = write!(buffer, "{year}");
    }
    buffer.push(b'-');
    put_two_digits(buffer, date.month());
    buffer.push(b'-');
    put_two_digits(buffer, date.day());
}

/// "YYYY-MM-DD HH:MM:SS", then `fractional_digits` digits of the second when above 0.
pub(crate) fn put_datetime(buffer: &mut Vec<u8>, datetime: NaiveDateTime, fractional_digits: u8) {
    put_date(buffer, datetime.date());
    buffer.push(b' ');
    put_time_of_day(buffer, datetime.time(), fractional_digits);
}

fn put_time_of_day(buffer: &mut Vec<u8>, time: NaiveTime, fractional_digits: u8) {
    put_two_digits(buffer, time.hour());
    buffer.push(b':');
    put_two_digits(buffer, time.minute());
    buffer.push(b':');
    put_two_digits(buffer, time.second());
    // Leap seconds carry a nanosecond count above one second; MySQL has none.
    let micros = (time.nanosecond() % 1_000_000_000) / 1_000;
    // Without a declared precision, a fraction is printed only when there is one.
    let fractional_digits = if fractional_digits == 0 && micros != 0 { 6 } else { fractional_digits };
    if fractional_digits > 0 {
        let digits = format!("{micros:06}");
        buffer.push(b'.');
        buffer.extend_from_slice(&digits.as_bytes()[..usize::from(fractional_digits.min(6))]);
    }
}

/// Appends a binary protocol value (the caller has marked NULLs in the row's bitmap).
pub(crate) fn put_binary_cell(buffer: &mut Vec<u8>, cell: Cell<'_>, format: ValueFormat) {
    match format.layout {
        BinaryLayout::Int1 => buffer.push(cell_as_i64(cell) as u8),
        BinaryLayout::Int2 => buffer.extend_from_slice(&(cell_as_i64(cell) as u16).to_le_bytes()),
        BinaryLayout::Int4 => buffer.extend_from_slice(&(cell_as_i64(cell) as u32).to_le_bytes()),
        BinaryLayout::Int8 => buffer.extend_from_slice(&cell_as_i64(cell).to_le_bytes()),
        BinaryLayout::Float => buffer.extend_from_slice(&(cell_as_f64(cell) as f32).to_le_bytes()),
        BinaryLayout::Double => buffer.extend_from_slice(&cell_as_f64(cell).to_le_bytes()),
        BinaryLayout::Date => match cell_as_datetime(cell) {
            Some(datetime) => put_binary_date(buffer, datetime.date()),
            None => buffer.push(0),
        },
        BinaryLayout::DateTime => match cell_as_datetime(cell) {
            Some(datetime) => put_binary_datetime(buffer, datetime),
            None => buffer.push(0),
        },
        BinaryLayout::Time => match cell_as_time(cell) {
            Some(time) => put_binary_time(buffer, time),
            None => buffer.push(0),
        },
        BinaryLayout::Text => match cell {
            Cell::Bytes(bytes) => put_lenenc_bytes(buffer, bytes),
            cell => put_text_cell(buffer, cell, format),
        },
    }
}

/// Integers are sent as their two's complement bits; the UNSIGNED flag tells the client how
/// to read them.
fn cell_as_i64(cell: Cell<'_>) -> i64 {
    match cell {
        Cell::Null | Cell::Date(_) | Cell::DateTime(_) => 0,
        Cell::Int(value) => value,
        Cell::UInt(value) => value as i64,
        Cell::Float32(value) => value as i64,
        Cell::Float64(value) => value as i64,
        Cell::Decimal { value, scale } => {
            let divisor = 10i128.checked_pow(u32::from(scale.max(0).unsigned_abs()));
            divisor.map_or(0, |divisor| (value / divisor) as i64)
        }
        Cell::Bytes(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .unwrap_or(0),
    }
}

fn cell_as_f64(cell: Cell<'_>) -> f64 {
    match cell {
        Cell::Null | Cell::Date(_) | Cell::DateTime(_) => 0.0,
        Cell::Int(value) => value as f64,
        Cell::UInt(value) => value as f64,
        Cell::Float32(value) => f64::from(value),
        Cell::Float64(value) => value,
        Cell::Decimal { value, scale } => value as f64 / 10f64.powi(i32::from(scale)),
        Cell::Bytes(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| text.trim().parse::<f64>().ok())
            .unwrap_or(0.0),
    }
}

fn cell_as_datetime(cell: Cell<'_>) -> Option<NaiveDateTime> {
    match cell {
        Cell::Date(date) => Some(date.and_time(NaiveTime::MIN)),
        Cell::DateTime(datetime) => Some(datetime),
        Cell::Bytes(bytes) => {
            let text = std::str::from_utf8(bytes).ok()?.trim();
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .or_else(|| {
                    NaiveDate::parse_from_str(text, "%Y-%m-%d")
                        .ok()
                        .map(|date| date.and_time(NaiveTime::MIN))
                })
        }
        _ => None,
    }
}

fn cell_as_time(cell: Cell<'_>) -> Option<NaiveTime> {
    match cell {
        Cell::DateTime(datetime) => Some(datetime.time()),
        Cell::Bytes(bytes) => {
            NaiveTime::parse_from_str(std::str::from_utf8(bytes).ok()?.trim(), "%H:%M:%S%.f").ok()
        }
        _ => None,
    }
}

fn put_binary_date(buffer: &mut Vec<u8>, date: NaiveDate) {
    buffer.push(4);
    buffer.extend_from_slice(&(date.year().clamp(0, 9999) as u16).to_le_bytes());
    buffer.push(date.month() as u8);
    buffer.push(date.day() as u8);
}

fn put_binary_datetime(buffer: &mut Vec<u8>, datetime: NaiveDateTime) {
    let micros = (datetime.nanosecond() % 1_000_000_000) / 1_000;
    buffer.push(if micros == 0 { 7 } else { 11 });
    buffer.extend_from_slice(&(datetime.year().clamp(0, 9999) as u16).to_le_bytes());
    buffer.push(datetime.month() as u8);
    buffer.push(datetime.day() as u8);
    buffer.push(datetime.hour() as u8);
    buffer.push(datetime.minute() as u8);
    buffer.push(datetime.second() as u8);
    if micros != 0 {
        buffer.extend_from_slice(&micros.to_le_bytes());
    }
}

fn put_binary_time(buffer: &mut Vec<u8>, time: NaiveTime) {
    let micros = (time.nanosecond() % 1_000_000_000) / 1_000;
    buffer.push(if micros == 0 { 8 } else { 12 });
    buffer.push(0); // not negative
    buffer.extend_from_slice(&0u32.to_le_bytes()); // days
    buffer.push(time.hour() as u8);
    buffer.push(time.minute() as u8);
    buffer.push(time.second() as u8);
    if micros != 0 {
        buffer.extend_from_slice(&micros.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Date32Array, Decimal128Array, DictionaryArray, Float64Array, Int32Array, StringArray,
        TimestampMicrosecondArray, UInt64Array,
    };
    use arrow::datatypes::Int32Type as DictionaryKey;

    use super::*;

    fn text(array: ArrayRef, decimals: u8) -> Vec<Option<String>> {
        let array = expand_dictionary(&array);
        let values = ColumnValues::new(array.as_ref());
        let format = ValueFormat {
            fractional_digits: decimals,
            layout: BinaryLayout::Text,
        };
        let mut scratch = Vec::new();
        (0..array.len())
            .map(|row| {
                let mut buffer = Vec::new();
                put_text_cell(&mut buffer, values.cell(row, &mut scratch), format);
                if buffer == [0xFB] {
                    return None;
                }
                let mut reader = crate::packet::PayloadReader::new(&buffer, "test");
                reader
                    .lenenc_bytes()
                    .ok()
                    .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
            })
            .collect()
    }

    fn some(values: &[&str]) -> Vec<Option<String>> {
        values
            .iter()
            .map(|value| Some((*value).to_owned()))
            .collect()
    }

    #[test]
    fn text_of_numbers() {
        assert_eq!(
            text(
                Arc::new(Int32Array::from(vec![Some(-5), None, Some(i32::MAX)])),
                0
            ),
            vec![Some("-5".to_owned()), None, Some("2147483647".to_owned())]
        );
        assert_eq!(
            text(Arc::new(UInt64Array::from(vec![u64::MAX])), 0),
            some(&["18446744073709551615"])
        );
        assert_eq!(
            text(
                Arc::new(Float64Array::from(vec![0.1, 1.0, -2.5, 1e300, 1.5e-7, 0.0])),
                31
            ),
            some(&["0.1", "1", "-2.5", "1e300", "1.5e-7", "0"])
        );
        let decimals = Decimal128Array::from(vec![1230, -5, 0, 123456])
            .with_precision_and_scale(10, 2)
            .ok()
            .map(|array| Arc::new(array) as ArrayRef);
        assert_eq!(
            decimals.map(|array| text(array, 2)),
            Some(some(&["12.30", "-0.05", "0.00", "1234.56"]))
        );
        let integers = Decimal128Array::from(vec![170141183460469231731687303715884105727i128])
            .with_precision_and_scale(38, 0)
            .ok()
            .map(|array| Arc::new(array) as ArrayRef);
        assert_eq!(
            integers.map(|array| text(array, 0)),
            Some(some(&["170141183460469231731687303715884105727"]))
        );
    }

    #[test]
    fn text_of_temporal_values() {
        assert_eq!(
            text(Arc::new(Date32Array::from(vec![0, 19723, -1])), 0),
            some(&["1970-01-01", "2024-01-01", "1969-12-31"])
        );
        let micros = 1_704_067_200_000_000i64 + 3_723_000_000 + 120_000;
        let timestamps: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![micros, 0]));
        // Without a declared precision the fraction shows only when it is not zero.
        assert_eq!(
            text(timestamps.clone(), 0),
            some(&["2024-01-01 01:02:03.120000", "1970-01-01 00:00:00"])
        );
        assert_eq!(
            text(timestamps.clone(), 6),
            some(&["2024-01-01 01:02:03.120000", "1970-01-01 00:00:00.000000"])
        );
        assert_eq!(
            text(timestamps, 3),
            some(&["2024-01-01 01:02:03.120", "1970-01-01 00:00:00.000"])
        );
        let zoned: ArrayRef =
            Arc::new(TimestampMicrosecondArray::from(vec![0]).with_timezone("+08:00"));
        assert_eq!(text(zoned, 0), some(&["1970-01-01 08:00:00"]));
    }

    #[test]
    fn text_of_strings_and_dictionaries() {
        let long = "x".repeat(300);
        assert_eq!(
            text(
                Arc::new(StringArray::from(vec![
                    Some("héllo"),
                    None,
                    Some(""),
                    Some(long.as_str())
                ])),
                0
            ),
            vec![
                Some("héllo".to_owned()),
                None,
                Some(String::new()),
                Some(long.clone())
            ]
        );
        let dictionary: DictionaryArray<DictionaryKey> =
            vec![Some("a"), None, Some("b"), Some("a")]
                .into_iter()
                .collect();
        assert_eq!(
            text(Arc::new(dictionary), 0),
            vec![
                Some("a".to_owned()),
                None,
                Some("b".to_owned()),
                Some("a".to_owned())
            ]
        );
    }

    #[test]
    fn binary_layouts() {
        let format = |layout| ValueFormat {
            fractional_digits: 0,
            layout,
        };
        let mut buffer = Vec::new();
        put_binary_cell(&mut buffer, Cell::Int(-2), format(BinaryLayout::Int2));
        assert_eq!(buffer, vec![0xFE, 0xFF]);
        buffer.clear();
        put_binary_cell(
            &mut buffer,
            Cell::UInt(u64::MAX),
            format(BinaryLayout::Int8),
        );
        assert_eq!(buffer, vec![0xFF; 8]);
        buffer.clear();
        put_binary_cell(
            &mut buffer,
            Cell::Float64(1.5),
            format(BinaryLayout::Double),
        );
        assert_eq!(buffer, 1.5f64.to_le_bytes().to_vec());
        buffer.clear();
        let datetime = NaiveDate::from_ymd_opt(2024, 2, 29)
            .and_then(|date| date.and_hms_micro_opt(13, 14, 15, 16));
        if let Some(datetime) = datetime {
            put_binary_cell(
                &mut buffer,
                Cell::DateTime(datetime),
                format(BinaryLayout::DateTime),
            );
        }
        assert_eq!(buffer, vec![11, 0xE8, 0x07, 2, 29, 13, 14, 15, 16, 0, 0, 0]);
        buffer.clear();
        put_binary_cell(
            &mut buffer,
            Cell::Decimal {
                value: 1230,
                scale: 2,
            },
            format(BinaryLayout::Text),
        );
        assert_eq!(buffer, b"\x0512.30".to_vec());
    }
}
