//! Partition bounds. A partition column value becomes an `i64` key (days for DATE,
//! microseconds for DATETIME, the number for integers), so range lookup is integer
//! comparison. `i64::MIN` and `i64::MAX` stand for the open ends.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Int64Type, TimestampMicrosecondType};
use serde::{Deserialize, Serialize};

use cairn_common::{ColumnType, PartitionDesc, RangePartition, TableDefinition};

use crate::error::FeError;

/// `[lower, upper)` over one partition column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRange {
    pub lower: i64,
    pub upper: i64,
}

impl PartitionRange {
    pub fn contains(&self, key: i64) -> bool {
        self.lower <= key && key < self.upper
    }

    pub fn overlaps(&self, other: &PartitionRange) -> bool {
        self.lower < other.upper && other.lower < self.upper
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

fn date_to_key(date: NaiveDate) -> i64 {
    (date - epoch()).num_days()
}

/// The date of a key, or `None` outside chrono's calendar.
fn checked_key_to_date(key: i64) -> Option<NaiveDate> {
    Duration::try_days(key).and_then(|days| epoch().checked_add_signed(days))
}

/// Out-of-range keys (the `i64::MIN` of NULL, corrupt values) clamp to the epoch rather than
/// panic; callers that need a real date use [`checked_key_to_date`].
fn key_to_date(key: i64) -> NaiveDate {
    checked_key_to_date(key).unwrap_or_else(epoch)
}

fn datetime_to_key(datetime: NaiveDateTime) -> i64 {
    datetime.and_utc().timestamp_micros()
}

fn key_to_datetime(key: i64) -> NaiveDateTime {
    DateTime::from_timestamp_micros(key)
        .map(|datetime| datetime.naive_utc())
        .unwrap_or_default()
}

fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(datetime) = NaiveDateTime::parse_from_str(text, format) {
            return Some(datetime);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|date| date.and_time(NaiveTime::MIN))
}

/// Whether a column type can partition a table.
pub fn check_partition_column(name: &str, column_type: ColumnType) -> Result<(), FeError> {
    match column_type {
        ColumnType::Date
        | ColumnType::DateTime
        | ColumnType::TinyInt
        | ColumnType::SmallInt
        | ColumnType::Int
        | ColumnType::BigInt => Ok(()),
        other => Err(FeError::analysis(format!(
            "partition column '{name}' of type {other} is not supported: use DATE, DATETIME or an integer"
        ))),
    }
}

/// The key of a bound written in DDL.
pub fn parse_key(column_type: ColumnType, text: &str) -> Result<i64, FeError> {
    let invalid = || FeError::analysis(format!("invalid partition value '{text}' for type {column_type}"));
    match column_type {
        ColumnType::Date => parse_datetime(text).map(|datetime| date_to_key(datetime.date())).ok_or_else(invalid),
        ColumnType::DateTime => parse_datetime(text).map(datetime_to_key).ok_or_else(invalid),
        _ => text.trim().parse::<i64>().map_err(|_| invalid()),
    }
}

/// A key printed back as StarRocks prints partition bounds.
pub fn format_key(column_type: ColumnType, key: i64) -> String {
    match (column_type, key) {
        (_, i64::MAX) => "MAXVALUE".to_string(),
        (ColumnType::Date, i64::MIN) => "0000-01-01".to_string(),
        (ColumnType::DateTime, i64::MIN) => "0000-01-01 00:00:00".to_string(),
        (_, i64::MIN) => "-9223372036854775808".to_string(),
        (ColumnType::Date, key) => key_to_date(key).format("%Y-%m-%d").to_string(),
        (ColumnType::DateTime, key) => key_to_datetime(key).format("%Y-%m-%d %H:%M:%S").to_string(),
        (_, key) => key.to_string(),
    }
}

/// Keys of an array of partition column values; `None` for NULL.
pub fn array_keys(array: &ArrayRef, column_type: ColumnType) -> Result<Vec<Option<i64>>, FeError> {
    let convert = |error| FeError::internal(format!("failed to read partition column: {error}"));
    Ok(match column_type {
        ColumnType::Date => {
            let values = cast(array, &DataType::Date32).map_err(convert)?;
            values.as_primitive::<Date32Type>().iter().map(|value| value.map(i64::from)).collect()
        }
        ColumnType::DateTime => {
            let values = cast(
                array,
                &DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
            )
            .map_err(convert)?;
            values.as_primitive::<TimestampMicrosecondType>().iter().collect()
        }
        _ => {
            let values = cast(array, &DataType::Int64).map_err(convert)?;
            values.as_primitive::<Int64Type>().iter().collect()
        }
    })
}

/// For expression partitioning: the partition a key falls in, with the name StarRocks gives
/// it (`p20240101` for a day).
pub fn time_partition(column_type: ColumnType, unit: &str, key: i64) -> Result<(String, PartitionRange), FeError> {
    let out_of_range = || FeError::analysis(format!("value {} is out of the supported date range", format_key(column_type, key)));
    let datetime = match column_type {
        ColumnType::Date => checked_key_to_date(key).ok_or_else(out_of_range)?.and_time(NaiveTime::MIN),
        ColumnType::DateTime => DateTime::from_timestamp_micros(key).ok_or_else(out_of_range)?.naive_utc(),
        other => {
            return Err(FeError::analysis(format!(
                "expression partitioning needs a DATE or DATETIME column, not {other}"
            )));
        }
    };
    // Partition ends are a day, a week or a year on; near the end of the calendar that
    // would overflow.
    if datetime.date().year() >= 9999 || datetime.date().year() < 1 {
        return Err(out_of_range());
    }
    let date = datetime.date();
    let (start, end, name) = match unit {
        "hour" => {
            let start = date.and_hms_opt(datetime.hour(), 0, 0).unwrap_or(datetime);
            (start, start + Duration::hours(1), start.format("p%Y%m%d%H").to_string())
        }
        "day" => {
            let start = date.and_time(NaiveTime::MIN);
            (start, start + Duration::days(1), start.format("p%Y%m%d").to_string())
        }
        "week" => {
            let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
            let start = monday.and_time(NaiveTime::MIN);
            (start, start + Duration::days(7), start.format("p%Y_%W").to_string())
        }
        "month" => {
            let first = NaiveDate::from_ymd_opt(date.year(), date.month(), 1).unwrap_or(date);
            let next = if date.month() == 12 {
                NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
            }
            .unwrap_or(first);
            (first.and_time(NaiveTime::MIN), next.and_time(NaiveTime::MIN), first.format("p%Y%m").to_string())
        }
        "year" => {
            let first = NaiveDate::from_ymd_opt(date.year(), 1, 1).unwrap_or(date);
            let next = NaiveDate::from_ymd_opt(date.year() + 1, 1, 1).unwrap_or(first);
            (first.and_time(NaiveTime::MIN), next.and_time(NaiveTime::MIN), first.format("p%Y").to_string())
        }
        other => {
            return Err(FeError::analysis(format!(
                "unsupported expression partition unit '{other}': use hour, day, week, month or year"
            )));
        }
    };
    let to_key = |datetime: NaiveDateTime| match column_type {
        ColumnType::Date => date_to_key(datetime.date()),
        _ => datetime_to_key(datetime),
    };
    Ok((name, PartitionRange { lower: to_key(start), upper: to_key(end) }))
}

fn step_key(column_type: ColumnType, key: i64, step: i64, unit: Option<&str>) -> Result<i64, FeError> {
    let Some(unit) = unit else {
        return Ok(key.saturating_add(step));
    };
    let datetime = match column_type {
        ColumnType::Date => key_to_date(key).and_time(NaiveTime::MIN),
        _ => key_to_datetime(key),
    };
    let next = match unit {
        "hour" => datetime + Duration::hours(step),
        "day" => datetime + Duration::days(step),
        "week" => datetime + Duration::weeks(step),
        "month" | "year" => {
            let months = if unit == "year" { step * 12 } else { step };
            let total = i64::from(datetime.year()) * 12 + i64::from(datetime.month0()) + months;
            let year = i32::try_from(total.div_euclid(12)).unwrap_or(9999);
            let month = (total.rem_euclid(12) + 1) as u32;
            NaiveDate::from_ymd_opt(year, month, datetime.day().min(28))
                .map(|date| date.and_time(datetime.time()))
                .unwrap_or(datetime)
        }
        other => {
            return Err(FeError::analysis(format!("unsupported partition step unit '{other}'")));
        }
    };
    Ok(match column_type {
        ColumnType::Date => date_to_key(next.date()),
        _ => datetime_to_key(next),
    })
}

fn batch_partition_name(column_type: ColumnType, key: i64, unit: Option<&str>) -> String {
    match (column_type, unit) {
        (ColumnType::Date | ColumnType::DateTime, Some("hour")) => {
            key_to_datetime(if column_type == ColumnType::Date { key * 86_400_000_000 } else { key })
                .format("p%Y%m%d%H")
                .to_string()
        }
        (ColumnType::Date, Some("month")) => key_to_date(key).format("p%Y%m").to_string(),
        (ColumnType::DateTime, Some("month")) => key_to_datetime(key).format("p%Y%m").to_string(),
        (ColumnType::Date, Some("year")) => key_to_date(key).format("p%Y").to_string(),
        (ColumnType::DateTime, Some("year")) => key_to_datetime(key).format("p%Y").to_string(),
        (ColumnType::Date, _) => key_to_date(key).format("p%Y%m%d").to_string(),
        (ColumnType::DateTime, _) => key_to_datetime(key).format("p%Y%m%d").to_string(),
        (_, _) => format!("p{key}"),
    }
}

/// The partitions of a `PARTITION BY RANGE` clause with their bounds resolved, in order.
pub fn resolve_range_partitions(definition: &TableDefinition) -> Result<Vec<(String, PartitionRange)>, FeError> {
    let PartitionDesc::Range { columns, partitions } = &definition.partition else {
        return Ok(Vec::new());
    };
    let [column_name] = columns.as_slice() else {
        return Err(FeError::not_supported("range partitioning on more than one column"));
    };
    let column = definition
        .column(column_name)
        .ok_or_else(|| FeError::analysis(format!("unknown partition column '{column_name}'")))?;
    check_partition_column(&column.name, column.column_type)?;
    let column_type = column.column_type;
    let mut resolved: Vec<(String, PartitionRange)> = Vec::new();
    let mut previous_upper = i64::MIN;
    for partition in partitions {
        match partition {
            RangePartition::LessThan { name, upper } => {
                let upper = match upper {
                    None => i64::MAX,
                    Some(values) => match values.as_slice() {
                        [value] if value.eq_ignore_ascii_case("MAXVALUE") => i64::MAX,
                        [value] => parse_key(column_type, value)?,
                        _ => return Err(FeError::analysis(format!("partition '{name}' needs one bound value"))),
                    },
                };
                resolved.push((name.clone(), PartitionRange { lower: previous_upper, upper }));
            }
            RangePartition::Fixed { name, lower, upper } => {
                let (Some(lower), Some(upper)) = (lower.first(), upper.first()) else {
                    return Err(FeError::analysis(format!("partition '{name}' needs both bounds")));
                };
                resolved.push((
                    name.clone(),
                    PartitionRange {
                        lower: parse_key(column_type, lower)?,
                        upper: parse_key(column_type, upper)?,
                    },
                ));
            }
            RangePartition::Batch { start, end, step, unit } => {
                if *step <= 0 {
                    return Err(FeError::analysis("partition step must be positive"));
                }
                let mut lower = parse_key(column_type, start)?;
                let end = parse_key(column_type, end)?;
                let mut count = 0;
                while lower < end {
                    let upper = step_key(column_type, lower, *step, unit.as_deref())?.min(end);
                    if upper <= lower {
                        break;
                    }
                    resolved.push((
                        batch_partition_name(column_type, lower, unit.as_deref()),
                        PartitionRange { lower, upper },
                    ));
                    lower = upper;
                    count += 1;
                    if count > 10_000 {
                        return Err(FeError::analysis("a batch of partitions may create at most 10000 partitions"));
                    }
                }
            }
        }
        if let Some((name, range)) = resolved.last() {
            if range.lower >= range.upper {
                return Err(FeError::analysis(format!(
                    "partition '{name}' has an empty range: its upper bound must be greater than its lower bound"
                )));
            }
            previous_upper = range.upper;
        }
    }
    for (index, (name, range)) in resolved.iter().enumerate() {
        for (other_name, other) in &resolved[index + 1..] {
            if name.eq_ignore_ascii_case(other_name) {
                return Err(FeError::analysis(format!("duplicate partition name '{name}'")));
            }
            if range.overlaps(other) {
                return Err(FeError::analysis(format!(
                    "range of partition '{other_name}' overlaps partition '{name}'"
                )));
            }
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_partitions_are_named_like_starrocks() {
        let key = parse_key(ColumnType::DateTime, "2024-03-05 17:20:00").expect("key");
        let (name, range) = time_partition(ColumnType::DateTime, "day", key).expect("partition");
        assert_eq!(name, "p20240305");
        assert_eq!(format_key(ColumnType::DateTime, range.lower), "2024-03-05 00:00:00");
        assert_eq!(format_key(ColumnType::DateTime, range.upper), "2024-03-06 00:00:00");
        let (name, _) = time_partition(ColumnType::Date, "month", parse_key(ColumnType::Date, "2024-12-31").expect("key")).expect("partition");
        assert_eq!(name, "p202412");
    }
}
