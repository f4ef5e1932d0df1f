//! Conversions between Arrow temporal arrays and chrono values, plus MySQL's lenient
//! parsing of datetime strings and numbers.
//!
//! Every datetime function coerces its temporal arguments with [`coerce_temporal`]
//! and reads them with [`naive_values`], so DATETIME, DATE, strings and YYYYMMDD
//! numbers are accepted everywhere, as MySQL does.

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::plan_err;
use datafusion::error::{DataFusionError, Result};

/// StarRocks DATETIME: a wall clock without time zone, in microseconds.
pub(crate) const DATETIME: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

/// Days between 0001-01-01 (day 1 of the common era in chrono) and 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The type a temporal argument is cast to before the kernel sees it.
pub(crate) fn coerce_temporal(function: &str, data_type: &DataType) -> Result<DataType> {
    Ok(match data_type {
        DataType::Timestamp(_, _) | DataType::Null => DATETIME,
        DataType::Date32 | DataType::Date64 => DataType::Date32,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        data_type if data_type.is_integer() => DataType::Int64,
        other => return plan_err!("{function} does not accept an argument of type {other}"),
    })
}

/// The type a string argument (formats, units, zone names) is cast to.
pub(crate) fn coerce_string(function: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
            Ok(DataType::Utf8)
        }
        data_type if data_type.is_numeric() => Ok(DataType::Utf8),
        other => plan_err!("{function} expects a string argument, not {other}"),
    }
}

/// Reads an argument coerced by [`coerce_temporal`] as wall clocks. Strings and
/// numbers that are not valid datetimes become NULL, as in MySQL.
pub(crate) fn naive_values(array: &ArrayRef) -> Result<Vec<Option<NaiveDateTime>>> {
    Ok(match array.data_type() {
        DataType::Timestamp(TimeUnit::Microsecond, None) => array
            .as_primitive::<TimestampMicrosecondType>()
            .iter()
            .map(|value| value.and_then(micros_to_naive))
            .collect(),
        DataType::Date32 => array
            .as_primitive::<Date32Type>()
            .iter()
            .map(|value| value.and_then(date32_to_naive))
            .collect(),
        DataType::Utf8 => array
            .as_string::<i32>()
            .iter()
            .map(|value| value.and_then(parse_datetime))
            .collect(),
        DataType::Int64 => array
            .as_primitive::<Int64Type>()
            .iter()
            .map(|value| value.and_then(parse_datetime_number))
            .collect(),
        DataType::Null => vec![None; array.len()],
        other => {
            return Err(DataFusionError::Internal(format!(
                "temporal argument was not coerced: {other}"
            )));
        }
    })
}

/// Reads a Utf8 argument coerced by [`coerce_string`].
pub(crate) fn string_values(array: &ArrayRef) -> Result<Vec<Option<&str>>> {
    match array.data_type() {
        DataType::Utf8 => Ok(array.as_string::<i32>().iter().collect()),
        DataType::Null => Ok(vec![None; array.len()]),
        other => Err(DataFusionError::Internal(format!(
            "string argument was not coerced: {other}"
        ))),
    }
}

pub(crate) fn micros_to_naive(micros: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_micros(micros).map(|instant| instant.naive_utc())
}

pub(crate) fn naive_to_micros(value: NaiveDateTime) -> i64 {
    value.and_utc().timestamp_micros()
}

pub(crate) fn date32_to_naive(days: i32) -> Option<NaiveDateTime> {
    days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .map(|date| date.and_time(NaiveTime::MIN))
}

pub(crate) fn date_to_date32(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

pub(crate) fn datetime_array(values: impl IntoIterator<Item = Option<NaiveDateTime>>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from_iter(
        values.into_iter().map(|value| value.map(naive_to_micros)),
    ))
}

pub(crate) fn date_array(values: impl IntoIterator<Item = Option<NaiveDate>>) -> ArrayRef {
    Arc::new(Date32Array::from_iter(
        values.into_iter().map(|value| value.map(date_to_date32)),
    ))
}

pub(crate) fn int64_array(values: impl IntoIterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from_iter(values))
}

pub(crate) fn string_array<Text: AsRef<str>>(
    values: impl IntoIterator<Item = Option<Text>>,
) -> ArrayRef {
    Arc::new(StringArray::from_iter(values))
}

/// MySQL's relaxed datetime literal syntax: `2024-01-02`, `2024-01-02 03:04:05.123`,
/// `2024/1/2T3:4:5`, `20240102`, `20240102030405`, `240102`. Returns `None` for
/// anything else, including impossible dates such as February 30.
pub(crate) fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|byte| byte.is_ascii_digit()) {
        return parse_compact_digits(text);
    }
    // Split into runs of digits, remembering whether the last run followed a '.'
    // (fractional seconds).
    let mut groups: Vec<&str> = Vec::with_capacity(7);
    let mut fraction: Option<&str> = None;
    let bytes = text.as_bytes();
    let mut position = 0;
    while position < bytes.len() {
        if bytes[position].is_ascii_digit() {
            let start = position;
            while position < bytes.len() && bytes[position].is_ascii_digit() {
                position += 1;
            }
            let run = &text[start..position];
            if groups.len() == 6 && start > 0 && bytes[start - 1] == b'.' {
                fraction = Some(run);
            } else if groups.len() < 6 {
                groups.push(run);
            } else {
                return None;
            }
        } else {
            let separator = bytes[position];
            let allowed = matches!(separator, b'-' | b'/' | b':' | b'.' | b' ' | b'T' | b'_');
            if !allowed {
                return None;
            }
            position += 1;
        }
    }
    if groups.len() < 3 {
        return None;
    }
    let number = |index: usize| -> Option<u32> {
        match groups.get(index) {
            Some(run) => run.parse().ok(),
            None => Some(0),
        }
    };
    let mut year = number(0)? as i32;
    if groups[0].len() <= 2 {
        year += if year < 70 { 2000 } else { 1900 };
    }
    let micros = match fraction {
        Some(digits) => fraction_to_micros(digits)?,
        None => 0,
    };
    build_datetime(
        year,
        number(1)?,
        number(2)?,
        number(3)?,
        number(4)?,
        number(5)?,
        micros,
    )
}

/// `YYYYMMDD`, `YYMMDD`, `YYYYMMDDhhmmss`, `YYMMDDhhmmss`.
fn parse_compact_digits(digits: &str) -> Option<NaiveDateTime> {
    let field = |range: std::ops::Range<usize>| -> Option<u32> { digits.get(range)?.parse().ok() };
    let two_digit_year = |value: u32| -> i32 {
        let value = value as i32;
        if value < 70 {
            2000 + value
        } else {
            1900 + value
        }
    };
    match digits.len() {
        8 => build_datetime(field(0..4)? as i32, field(4..6)?, field(6..8)?, 0, 0, 0, 0),
        6 => build_datetime(
            two_digit_year(field(0..2)?),
            field(2..4)?,
            field(4..6)?,
            0,
            0,
            0,
            0,
        ),
        14 => build_datetime(
            field(0..4)? as i32,
            field(4..6)?,
            field(6..8)?,
            field(8..10)?,
            field(10..12)?,
            field(12..14)?,
            0,
        ),
        12 => build_datetime(
            two_digit_year(field(0..2)?),
            field(2..4)?,
            field(4..6)?,
            field(6..8)?,
            field(8..10)?,
            field(10..12)?,
            0,
        ),
        _ => None,
    }
}

/// MySQL reads numbers in datetime context as `YYYYMMDD[hhmmss]`.
pub(crate) fn parse_datetime_number(value: i64) -> Option<NaiveDateTime> {
    if value <= 0 {
        return None;
    }
    parse_compact_digits(&value.to_string())
}

/// Up to six fractional digits, right-padded: `5` is 500000 microseconds.
pub(crate) fn fraction_to_micros(digits: &str) -> Option<u32> {
    let significant = digits.get(..digits.len().min(6))?;
    let mut micros: u32 = significant.parse().ok()?;
    for _ in significant.len()..6 {
        micros *= 10;
    }
    Some(micros)
}

pub(crate) fn build_datetime(
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micros: u32,
) -> Option<NaiveDateTime> {
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let time = NaiveTime::from_hms_micro_opt(hour, minute, second, micros)?;
    Some(date.and_time(time))
}

/// MySQL's day number (`TO_DAYS`, `calc_daynr`): `0001-01-01` is day 366.
pub(crate) fn mysql_day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) + 365
}

/// The last day of the month of `date`.
pub(crate) fn last_day_of_month(date: NaiveDate) -> Option<NaiveDate> {
    let (year, month) = if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1)?.pred_opt()
}

/// Seconds since midnight with microseconds, used by TIMESTAMPDIFF's month logic.
pub(crate) fn micros_of_day(value: NaiveDateTime) -> i64 {
    i64::from(value.num_seconds_from_midnight()) * 1_000_000 + i64::from(value.nanosecond() / 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mysql_datetime_literals() {
        let expected = build_datetime(2024, 1, 2, 3, 4, 5, 0);
        assert_eq!(parse_datetime("2024-01-02 03:04:05"), expected);
        assert_eq!(parse_datetime("2024-1-2T3:4:5"), expected);
        assert_eq!(parse_datetime("20240102030405"), expected);
        assert_eq!(
            parse_datetime("2024-01-02 03:04:05.25"),
            build_datetime(2024, 1, 2, 3, 4, 5, 250_000)
        );
        assert_eq!(
            parse_datetime("2024-01-02"),
            build_datetime(2024, 1, 2, 0, 0, 0, 0)
        );
        assert_eq!(parse_datetime("2024-02-30"), None);
        assert_eq!(parse_datetime("yesterday"), None);
        assert_eq!(parse_datetime(""), None);
        assert_eq!(
            parse_datetime_number(20240102),
            build_datetime(2024, 1, 2, 0, 0, 0, 0)
        );
    }

    #[test]
    fn day_numbers_match_mysql() {
        // MySQL: TO_DAYS('2007-10-07') = 733321, TO_DAYS('0000-01-01') would be 1.
        let date = NaiveDate::from_ymd_opt(2007, 10, 7);
        assert_eq!(date.map(mysql_day_number), Some(733_321));
    }
}
