//! MySQL/StarRocks date and time functions over StarRocks DATETIME
//! (`Timestamp(Microsecond, None)`, a wall clock) and DATE (`Date32`).
//!
//! Functions that depend on the session time zone read it from DataFusion's
//! `datafusion.execution.time_zone` through the `ConfigOptions` DataFusion 55 passes
//! to every invocation and to constant folding (see [`crate::zone`]).

use chrono::{
    DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc,
};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, IntervalMonthDayNanoType, IntervalUnit, TimeUnit,
};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

use crate::format::{format_datetime, month_name, parse_with_format, week_of_mode, weekday_name};
use crate::temporal::{
    DATETIME, coerce_string, coerce_temporal, date_array, datetime_array, int64_array,
    last_day_of_month, micros_of_day, mysql_day_number, naive_to_micros, naive_values,
    string_array, string_values,
};
use crate::udf::{Invocation, MysqlFunction, check_arity};
use crate::zone::SessionZone;

/// MySQL's largest FROM_UNIXTIME argument (3001-01-19 03:14:07 UTC).
const MAX_UNIX_SECONDS: i64 = 32_536_771_199;
const TIME_OF_DAY: DataType = DataType::Time64(TimeUnit::Microsecond);
const INTERVAL: DataType = DataType::Interval(IntervalUnit::MonthDayNano);

/// Every function of this module, ready to register.
pub(crate) fn functions() -> Vec<ScalarUDF> {
    let mut functions = vec![
        clock(
            ClockKind::Now,
            "now",
            &[
                "current_timestamp",
                "localtime",
                "localtimestamp",
                "sysdate",
            ],
        ),
        clock(ClockKind::CurrentDate, "curdate", &["current_date"]),
        clock(ClockKind::CurrentTime, "curtime", &["current_time"]),
        clock(ClockKind::UtcTimestamp, "utc_timestamp", &[]),
        clock(ClockKind::UtcDate, "utc_date", &[]),
        clock(ClockKind::UtcTime, "utc_time", &[]),
        clock(ClockKind::UnixTimestamp, "unix_timestamp", &[]),
        MysqlFunction::new(
            "from_unixtime",
            false,
            Volatility::Stable,
            coerce_from_unixtime,
            |types| {
                Ok(if types.len() == 2 {
                    DataType::Utf8
                } else {
                    DATETIME
                })
            },
            from_unixtime,
        )
        .into_udf(),
        MysqlFunction::new(
            "date_format",
            false,
            Volatility::Immutable,
            coerce_temporal_then_strings::<1, 2>,
            |_| Ok(DataType::Utf8),
            date_format,
        )
        .into_udf(),
        MysqlFunction::new(
            "str_to_date",
            false,
            Volatility::Immutable,
            coerce_strings::<2>,
            |_| Ok(DATETIME),
            str_to_date,
        )
        .into_udf(),
        MysqlFunction::new(
            "time_slice",
            false,
            Volatility::Immutable,
            coerce_time_slice,
            |_| Ok(DATETIME),
            time_slice,
        )
        .into_udf(),
        MysqlFunction::new(
            "date_add",
            false,
            Volatility::Immutable,
            coerce_date_add,
            |_| Ok(DATETIME),
            date_add,
        )
        .with_aliases(&["adddate"])
        .into_udf(),
        MysqlFunction::new(
            "date_sub",
            false,
            Volatility::Immutable,
            coerce_date_add,
            |_| Ok(DATETIME),
            date_sub,
        )
        .with_aliases(&["subdate"])
        .into_udf(),
        MysqlFunction::new(
            "date",
            false,
            Volatility::Immutable,
            coerce_temporal_then_strings::<1, 1>,
            |_| Ok(DataType::Date32),
            to_date,
        )
        .with_aliases(&["to_date"])
        .into_udf(),
        MysqlFunction::new(
            "last_day",
            false,
            Volatility::Immutable,
            coerce_temporal_then_strings::<1, 1>,
            |_| Ok(DataType::Date32),
            last_day,
        )
        .into_udf(),
        MysqlFunction::new(
            "datediff",
            false,
            Volatility::Immutable,
            coerce_temporal_then_strings::<2, 2>,
            |_| Ok(DataType::Int64),
            datediff,
        )
        .into_udf(),
        MysqlFunction::new(
            "timestampdiff",
            false,
            Volatility::Immutable,
            coerce_timestampdiff,
            |_| Ok(DataType::Int64),
            timestampdiff,
        )
        .into_udf(),
        MysqlFunction::new(
            "timestampadd",
            false,
            Volatility::Immutable,
            coerce_timestampadd,
            |_| Ok(DATETIME),
            timestampadd,
        )
        .into_udf(),
        MysqlFunction::new(
            "convert_tz",
            false,
            Volatility::Immutable,
            coerce_temporal_then_strings::<1, 3>,
            |_| Ok(DATETIME),
            convert_tz,
        )
        .into_udf(),
        MysqlFunction::new(
            "to_days",
            false,
            Volatility::Immutable,
            coerce_temporal_then_strings::<1, 1>,
            |_| Ok(DataType::Int64),
            to_days,
        )
        .into_udf(),
        MysqlFunction::new(
            "week",
            false,
            Volatility::Immutable,
            coerce_week,
            |_| Ok(DataType::Int32),
            week,
        )
        .into_udf(),
        MysqlFunction::new(
            "dayname",
            false,
            Volatility::Immutable,
            coerce_temporal_then_strings::<1, 1>,
            |_| Ok(DataType::Utf8),
            dayname,
        )
        .into_udf(),
        MysqlFunction::new(
            "monthname",
            false,
            Volatility::Immutable,
            coerce_temporal_then_strings::<1, 1>,
            |_| Ok(DataType::Utf8),
            monthname,
        )
        .into_udf(),
    ];
    functions.extend(field_functions());
    functions
}

// ---------------------------------------------------------------------------
// Coercion rules

/// Exactly `ARITY` arguments: `TEMPORAL` leading temporal ones, then strings (the
/// const parameters keep these rules usable as fn pointers).
fn coerce_temporal_then_strings<const TEMPORAL: usize, const ARITY: usize>(
    function: &str,
    types: &[DataType],
) -> Result<Vec<DataType>> {
    check_arity(function, types, &[ARITY])?;
    types
        .iter()
        .enumerate()
        .map(|(index, data_type)| {
            if index < TEMPORAL {
                coerce_temporal(function, data_type)
            } else {
                coerce_string(function, data_type)
            }
        })
        .collect()
}

fn coerce_strings<const COUNT: usize>(function: &str, types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(function, types, &[COUNT])?;
    types
        .iter()
        .map(|data_type| coerce_string(function, data_type))
        .collect()
}

fn coerce_number(function: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Null => Ok(DataType::Int64),
        data_type if data_type.is_integer() => Ok(DataType::Int64),
        data_type if data_type.is_numeric() => Ok(DataType::Float64),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(DataType::Float64),
        other => plan_err!("{function} expects a number, not {other}"),
    }
}

fn coerce_integer(function: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Null => Ok(DataType::Int64),
        data_type if data_type.is_numeric() => Ok(DataType::Int64),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(DataType::Int64),
        other => plan_err!("{function} expects an integer, not {other}"),
    }
}

fn coerce_from_unixtime(function: &str, types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(function, types, &[1, 2])?;
    let mut coerced = vec![coerce_number(function, &types[0])?];
    if let Some(format) = types.get(1) {
        coerced.push(coerce_string(function, format)?);
    }
    Ok(coerced)
}

fn coerce_interval(function: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Interval(_) | DataType::Null => Ok(INTERVAL),
        other => plan_err!("{function} expects an INTERVAL, not {other}"),
    }
}

fn coerce_time_slice(function: &str, types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(function, types, &[2, 3])?;
    let mut coerced = vec![
        coerce_temporal(function, &types[0])?,
        coerce_interval(function, &types[1])?,
    ];
    if let Some(boundary) = types.get(2) {
        coerced.push(coerce_string(function, boundary)?);
    }
    Ok(coerced)
}

fn coerce_date_add(function: &str, types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(function, types, &[2])?;
    let amount = match &types[1] {
        DataType::Interval(_) => INTERVAL,
        // DATE_ADD(d, 3) adds days.
        other => coerce_integer(function, other)?,
    };
    Ok(vec![coerce_temporal(function, &types[0])?, amount])
}

fn coerce_timestampdiff(function: &str, types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(function, types, &[3])?;
    Ok(vec![
        coerce_string(function, &types[0])?,
        coerce_temporal(function, &types[1])?,
        coerce_temporal(function, &types[2])?,
    ])
}

fn coerce_timestampadd(function: &str, types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(function, types, &[3])?;
    Ok(vec![
        coerce_string(function, &types[0])?,
        coerce_integer(function, &types[1])?,
        coerce_temporal(function, &types[2])?,
    ])
}

fn coerce_week(function: &str, types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(function, types, &[1, 2])?;
    let mut coerced = vec![coerce_temporal(function, &types[0])?];
    if let Some(mode) = types.get(1) {
        coerced.push(coerce_integer(function, mode)?);
    }
    Ok(coerced)
}

fn int64_values(array: &ArrayRef) -> Result<Vec<Option<i64>>> {
    match array.data_type() {
        DataType::Int64 => Ok(array.as_primitive::<Int64Type>().iter().collect()),
        DataType::Null => Ok(vec![None; array.len()]),
        other => exec_err!("integer argument was not coerced: {other}"),
    }
}

fn interval_values(array: &ArrayRef) -> Result<Vec<Option<(i32, i32, i64)>>> {
    match array.data_type() {
        DataType::Interval(IntervalUnit::MonthDayNano) => Ok(array
            .as_primitive::<IntervalMonthDayNanoType>()
            .iter()
            .map(|value| {
                value.map(|interval| (interval.months, interval.days, interval.nanoseconds))
            })
            .collect()),
        DataType::Null => Ok(vec![None; array.len()]),
        other => exec_err!("interval argument was not coerced: {other}"),
    }
}

// ---------------------------------------------------------------------------
// NOW() and friends

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClockKind {
    Now,
    CurrentDate,
    CurrentTime,
    UtcTimestamp,
    UtcDate,
    UtcTime,
    UnixTimestamp,
}

impl ClockKind {
    fn return_type(self) -> DataType {
        match self {
            ClockKind::Now | ClockKind::UtcTimestamp => DATETIME,
            ClockKind::CurrentDate | ClockKind::UtcDate => DataType::Date32,
            ClockKind::CurrentTime | ClockKind::UtcTime => TIME_OF_DAY,
            ClockKind::UnixTimestamp => DataType::Int64,
        }
    }

    /// The value at `instant`, truncated to whole seconds as MySQL does without an
    /// explicit precision.
    fn value_at(self, instant: DateTime<Utc>, zone: SessionZone) -> ScalarValue {
        let wall_clock = match self {
            ClockKind::UtcTimestamp | ClockKind::UtcDate | ClockKind::UtcTime => {
                instant.naive_utc()
            }
            _ => zone.wall_clock(instant),
        };
        let wall_clock = wall_clock.with_nanosecond(0).unwrap_or(wall_clock);
        match self {
            ClockKind::Now | ClockKind::UtcTimestamp => {
                ScalarValue::TimestampMicrosecond(Some(naive_to_micros(wall_clock)), None)
            }
            ClockKind::CurrentDate | ClockKind::UtcDate => {
                ScalarValue::Date32(Some(crate::temporal::date_to_date32(wall_clock.date())))
            }
            ClockKind::CurrentTime | ClockKind::UtcTime => {
                ScalarValue::Time64Microsecond(Some(micros_of_day(wall_clock)))
            }
            ClockKind::UnixTimestamp => ScalarValue::Int64(Some(instant.timestamp())),
        }
    }
}

/// A clock function is evaluated once per statement: the simplifier replaces it by a
/// literal taken at the query start time, as DataFusion's own `now()` does.
/// `UNIX_TIMESTAMP(x)` shares the name with the nullary clock, so the one-argument
/// form is delegated to a regular kernel.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ClockFunction {
    kind: ClockKind,
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
}

fn clock(kind: ClockKind, name: &'static str, aliases: &[&str]) -> ScalarUDF {
    ScalarUDF::new_from_impl(ClockFunction {
        kind,
        name,
        aliases: aliases.iter().map(|alias| (*alias).to_string()).collect(),
        signature: Signature::one_of(
            vec![
                datafusion::logical_expr::TypeSignature::Nullary,
                datafusion::logical_expr::TypeSignature::UserDefined,
            ],
            Volatility::Stable,
        ),
    })
}

impl ScalarUDFImpl for ClockFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(self.name, arg_types, &[1])?;
        match self.kind {
            ClockKind::UnixTimestamp => Ok(vec![coerce_temporal(self.name, &arg_types[0])?]),
            // NOW(6): the precision is accepted; fractional digits are kept up to it.
            _ => Ok(vec![coerce_integer(self.name, &arg_types[0])?]),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.kind.return_type())
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let Some(start) = info.query_execution_start_time() else {
            return Ok(ExprSimplifyResult::Original(args));
        };
        if !args.is_empty() {
            return Ok(ExprSimplifyResult::Original(args));
        }
        let zone = SessionZone::from_config(info.config_options())?;
        Ok(ExprSimplifyResult::Simplified(Expr::Literal(
            self.kind.value_at(start, zone),
            None,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone = SessionZone::from_config(&args.config_options)?;
        let now = Utc::now();
        match (self.kind, args.args.first()) {
            (_, None) => Ok(ColumnarValue::Scalar(self.kind.value_at(now, zone))),
            (ClockKind::UnixTimestamp, Some(_)) => {
                let all_scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
                let rows = if all_scalar { 1 } else { args.number_rows };
                let array = args.args[0].to_array(rows)?;
                let result = unix_timestamp_of(&array, zone)?;
                if all_scalar {
                    Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                        &result, 0,
                    )?))
                } else {
                    Ok(ColumnarValue::Array(result))
                }
            }
            (ClockKind::Now, Some(precision)) => {
                // NOW(p): keep p fractional digits.
                let precision = match precision {
                    ColumnarValue::Scalar(ScalarValue::Int64(Some(precision))) => *precision,
                    _ => return exec_err!("{}: precision must be a constant", self.name),
                };
                if !(0..=6).contains(&precision) {
                    return exec_err!(
                        "Too-big precision {precision} specified for '{}'. Maximum is 6.",
                        self.name
                    );
                }
                let wall_clock = zone.wall_clock(now);
                let step = 10_i64.pow(6 - precision as u32);
                let micros = naive_to_micros(wall_clock);
                Ok(ColumnarValue::Scalar(ScalarValue::TimestampMicrosecond(
                    Some(micros - micros.rem_euclid(step)),
                    None,
                )))
            }
            (_, Some(_)) => Ok(ColumnarValue::Scalar(self.kind.value_at(now, zone))),
        }
    }
}

/// Seconds since the epoch of a wall clock in the session zone; 0 before the epoch,
/// as MySQL returns for out-of-range values.
fn unix_timestamp_of(array: &ArrayRef, zone: SessionZone) -> Result<ArrayRef> {
    let values = naive_values(array)?;
    Ok(int64_array(values.into_iter().map(|value| {
        value.map(|wall_clock| zone.instant(wall_clock).timestamp().max(0))
    })))
}

fn from_unixtime(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let seconds: Vec<Option<(i64, u32)>> = match invocation.arguments[0].data_type() {
        DataType::Int64 => invocation.arguments[0]
            .as_primitive::<Int64Type>()
            .iter()
            .map(|value| value.map(|seconds| (seconds, 0)))
            .collect(),
        DataType::Float64 => invocation.arguments[0]
            .as_primitive::<Float64Type>()
            .iter()
            .map(|value| {
                value.filter(|seconds| seconds.is_finite()).map(|seconds| {
                    let whole = seconds.floor();
                    (
                        whole as i64,
                        ((seconds - whole) * 1e6).round().min(999_999.0) as u32,
                    )
                })
            })
            .collect(),
        other => return exec_err!("from_unixtime argument was not coerced: {other}"),
    };
    let wall_clocks = seconds.into_iter().map(|value| {
        let (seconds, micros) = value?;
        if !(0..=MAX_UNIX_SECONDS).contains(&seconds) {
            return None;
        }
        let instant = DateTime::from_timestamp(seconds, micros * 1_000)?;
        Some(invocation.zone.wall_clock(instant))
    });
    match invocation.arguments.get(1) {
        None => Ok(datetime_array(wall_clocks)),
        Some(formats) => {
            let formats = string_values(formats)?;
            Ok(string_array(wall_clocks.zip(formats).map(
                |(value, format)| Some(format_datetime(value?, format?)),
            )))
        }
    }
}

fn date_format(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let values = naive_values(&invocation.arguments[0])?;
    let formats = string_values(&invocation.arguments[1])?;
    Ok(string_array(values.into_iter().zip(formats).map(
        |(value, format)| Some(format_datetime(value?, format?)),
    )))
}

fn str_to_date(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let inputs = string_values(&invocation.arguments[0])?;
    let formats = string_values(&invocation.arguments[1])?;
    Ok(datetime_array(
        inputs
            .into_iter()
            .zip(formats)
            .map(|(input, format)| parse_with_format(input?, format?)),
    ))
}

// ---------------------------------------------------------------------------
// Interval arithmetic

/// StarRocks' time_slice origin.
fn slice_origin() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1, 1, 1)
        .unwrap_or(NaiveDate::MIN)
        .and_time(NaiveTime::MIN)
}

/// StarRocks' `time_slice`: the start (FLOOR) or end (CEIL) of the `interval`-sized
/// slot holding `value`, slots counted from 0001-01-01 00:00:00. Month-based units
/// (MONTH, QUARTER, YEAR) count calendar months from January of year 1; the others
/// count microseconds, so WEEK slots start on Mondays (0001-01-01 was a Monday).
/// CEIL always returns the end of the slot, i.e. FLOOR plus one interval.
fn slice(
    value: NaiveDateTime,
    (months, days, nanos): (i32, i32, i64),
    ceil: bool,
) -> Result<Option<NaiveDateTime>> {
    if months != 0 {
        if days != 0 || nanos != 0 || months < 0 {
            return exec_err!("time_slice: the interval must be a single positive unit");
        }
        let period = i64::from(months);
        let index = i64::from(value.year() - 1) * 12 + i64::from(value.month0());
        let slot = index.div_euclid(period) * period + if ceil { period } else { 0 };
        let year = i32::try_from(slot.div_euclid(12) + 1).ok();
        let month = (slot.rem_euclid(12) + 1) as u32;
        return Ok(year
            .and_then(|year| NaiveDate::from_ymd_opt(year, month, 1))
            .map(|date| date.and_time(NaiveTime::MIN)));
    }
    let period = i64::from(days) * 86_400_000_000 + nanos / 1_000;
    if period <= 0 || nanos % 1_000 != 0 {
        return exec_err!(
            "time_slice: the interval must be a positive whole number of microseconds"
        );
    }
    let origin = slice_origin();
    let Some(elapsed) = (value - origin).num_microseconds() else {
        return Ok(None);
    };
    let slot = elapsed.div_euclid(period) * period + if ceil { period } else { 0 };
    Ok(origin.checked_add_signed(Duration::microseconds(slot)))
}

fn time_slice(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let values = naive_values(&invocation.arguments[0])?;
    let intervals = interval_values(&invocation.arguments[1])?;
    let boundaries = match invocation.arguments.get(2) {
        Some(array) => string_values(array)?,
        None => vec![Some("floor"); invocation.rows],
    };
    let mut result = Vec::with_capacity(invocation.rows);
    for ((value, interval), boundary) in values.into_iter().zip(intervals).zip(boundaries) {
        let (Some(value), Some(interval), Some(boundary)) = (value, interval, boundary) else {
            result.push(None);
            continue;
        };
        let ceil = if boundary.eq_ignore_ascii_case("ceil") {
            true
        } else if boundary.eq_ignore_ascii_case("floor") {
            false
        } else {
            return exec_err!("time_slice: boundary must be FLOOR or CEIL, not '{boundary}'");
        };
        result.push(slice(value, interval, ceil)?);
    }
    Ok(datetime_array(result))
}

/// Adds `sign` times an interval; NULL when the result leaves years 0..=9999.
fn add_interval(
    value: NaiveDateTime,
    (months, days, nanos): (i32, i32, i64),
    sign: i64,
) -> Option<NaiveDateTime> {
    let months = i64::from(months) * sign;
    let shifted = if months >= 0 {
        value.checked_add_months(Months::new(u32::try_from(months).ok()?))?
    } else {
        value.checked_sub_months(Months::new(u32::try_from(-months).ok()?))?
    };
    let shifted = shifted
        .checked_add_signed(Duration::try_days(i64::from(days) * sign)?)?
        .checked_add_signed(Duration::nanoseconds(nanos.checked_mul(sign)?))?;
    (0..=9999).contains(&shifted.year()).then_some(shifted)
}

fn shift(invocation: &Invocation<'_>, sign: i64) -> Result<ArrayRef> {
    let values = naive_values(&invocation.arguments[0])?;
    let amounts: Vec<Option<(i32, i32, i64)>> = match invocation.arguments[1].data_type() {
        DataType::Interval(_) => interval_values(&invocation.arguments[1])?,
        _ => int64_values(&invocation.arguments[1])?
            .into_iter()
            .map(|days| {
                days.and_then(|days| i32::try_from(days).ok())
                    .map(|days| (0, days, 0))
            })
            .collect(),
    };
    Ok(datetime_array(values.into_iter().zip(amounts).map(
        |(value, amount)| add_interval(value?, amount?, sign),
    )))
}

fn date_add(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    shift(invocation, 1)
}

fn date_sub(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    shift(invocation, -1)
}

// ---------------------------------------------------------------------------
// Conversions and differences

fn to_date(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let values = naive_values(&invocation.arguments[0])?;
    Ok(date_array(
        values
            .into_iter()
            .map(|value| value.map(|value| value.date())),
    ))
}

fn last_day(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let values = naive_values(&invocation.arguments[0])?;
    Ok(date_array(values.into_iter().map(|value| {
        value.and_then(|value| last_day_of_month(value.date()))
    })))
}

fn datediff(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let left = naive_values(&invocation.arguments[0])?;
    let right = naive_values(&invocation.arguments[1])?;
    Ok(int64_array(left.into_iter().zip(right).map(
        |(left, right)| Some((left?.date() - right?.date()).num_days()),
    )))
}

fn to_days(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let values = naive_values(&invocation.arguments[0])?;
    Ok(int64_array(values.into_iter().map(|value| {
        value.map(|value| mysql_day_number(value.date()))
    })))
}

/// Whole months from `start` to `end`, as MySQL counts them: a month is complete
/// only once the day and time of day have been reached again.
fn whole_months(start: NaiveDateTime, end: NaiveDateTime) -> i64 {
    let months = i64::from(end.year() - start.year()) * 12 + i64::from(end.month())
        - i64::from(start.month());
    let end_position = (end.day(), micros_of_day(end));
    let start_position = (start.day(), micros_of_day(start));
    if months > 0 && end_position < start_position {
        months - 1
    } else if months < 0 && end_position > start_position {
        months + 1
    } else {
        months
    }
}

fn timestampdiff(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let units = string_values(&invocation.arguments[0])?;
    let starts = naive_values(&invocation.arguments[1])?;
    let ends = naive_values(&invocation.arguments[2])?;
    let mut result = Vec::with_capacity(invocation.rows);
    for ((unit, start), end) in units.into_iter().zip(starts).zip(ends) {
        let (Some(unit), Some(start), Some(end)) = (unit, start, end) else {
            result.push(None);
            continue;
        };
        let micros = (end - start).num_microseconds();
        let value = match unit.to_ascii_lowercase().as_str() {
            "microsecond" => micros,
            "second" => micros.map(|micros| micros / 1_000_000),
            "minute" => micros.map(|micros| micros / 60_000_000),
            "hour" => micros.map(|micros| micros / 3_600_000_000),
            "day" => micros.map(|micros| micros / 86_400_000_000),
            "week" => micros.map(|micros| micros / (7 * 86_400_000_000)),
            "month" => Some(whole_months(start, end)),
            "quarter" => Some(whole_months(start, end) / 3),
            "year" => Some(whole_months(start, end) / 12),
            other => return exec_err!("timestampdiff: unknown unit '{other}'"),
        };
        result.push(value);
    }
    Ok(int64_array(result))
}

fn timestampadd(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let units = string_values(&invocation.arguments[0])?;
    let amounts = int64_values(&invocation.arguments[1])?;
    let values = naive_values(&invocation.arguments[2])?;
    let mut result = Vec::with_capacity(invocation.rows);
    for ((unit, amount), value) in units.into_iter().zip(amounts).zip(values) {
        let (Some(unit), Some(amount), Some(value)) = (unit, amount, value) else {
            result.push(None);
            continue;
        };
        let months = |count: i64| i32::try_from(count).ok().map(|months| (months, 0, 0));
        let nanos = |scale: i64| amount.checked_mul(scale).map(|nanos| (0, 0, nanos));
        let interval = match unit.to_ascii_lowercase().as_str() {
            "microsecond" => nanos(1_000),
            "second" => nanos(1_000_000_000),
            "minute" => nanos(60_000_000_000),
            "hour" => nanos(3_600_000_000_000),
            "day" => i32::try_from(amount).ok().map(|days| (0, days, 0)),
            "week" => amount
                .checked_mul(7)
                .and_then(|days| i32::try_from(days).ok())
                .map(|days| (0, days, 0)),
            "month" => months(amount),
            "quarter" => amount.checked_mul(3).and_then(months),
            "year" => amount.checked_mul(12).and_then(months),
            other => return exec_err!("timestampadd: unknown unit '{other}'"),
        };
        result.push(interval.and_then(|interval| add_interval(value, interval, 1)));
    }
    Ok(datetime_array(result))
}

/// CONVERT_TZ(dt, from, to): NULL when either zone is unknown, as in MySQL.
fn convert_tz(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let values = naive_values(&invocation.arguments[0])?;
    let from = string_values(&invocation.arguments[1])?;
    let to = string_values(&invocation.arguments[2])?;
    Ok(datetime_array(values.into_iter().zip(from).zip(to).map(
        |((value, from), to)| {
            let from = SessionZone::parse(from?)?;
            let to = SessionZone::parse(to?)?;
            Some(to.wall_clock(from.instant(value?)))
        },
    )))
}

fn week(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let values = naive_values(&invocation.arguments[0])?;
    let modes = match invocation.arguments.get(1) {
        Some(array) => int64_values(array)?,
        None => vec![Some(0); invocation.rows],
    };
    Ok(Arc::new(datafusion::arrow::array::Int32Array::from_iter(
        values
            .into_iter()
            .zip(modes)
            .map(|(value, mode)| Some(week_of_mode(value?.date(), mode?) as i32)),
    )))
}

fn dayname(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let values = naive_values(&invocation.arguments[0])?;
    Ok(string_array(values.into_iter().map(|value| {
        value.map(|value| weekday_name(value.date()))
    })))
}

fn monthname(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let values = naive_values(&invocation.arguments[0])?;
    Ok(string_array(
        values
            .into_iter()
            .map(|value| value.map(|value| month_name(value.month()))),
    ))
}

// ---------------------------------------------------------------------------
// YEAR(), MONTH(), ...: one kernel per field, all returning INT.

macro_rules! field_kernels {
    ($($kernel:ident => $name:literal $(| $alias:literal)* : $field:expr;)*) => {
        $(
            fn $kernel(invocation: &Invocation<'_>) -> Result<ArrayRef> {
                let field: fn(NaiveDateTime) -> i64 = $field;
                let values = naive_values(&invocation.arguments[0])?;
                Ok(Arc::new(datafusion::arrow::array::Int32Array::from_iter(
                    values.into_iter().map(|value| value.map(|value| field(value) as i32)),
                )))
            }
        )*

        fn field_functions() -> Vec<ScalarUDF> {
            vec![$(
                MysqlFunction::new(
                    $name,
                    false,
                    Volatility::Immutable,
                    coerce_temporal_then_strings::<1, 1>,
                    |_| Ok(DataType::Int32),
                    $kernel,
                )
                .with_aliases(&[$($alias),*])
                .into_udf(),
            )*]
        }
    };
}

field_kernels! {
    year_kernel => "year": |value| i64::from(value.year());
    quarter_kernel => "quarter": |value| i64::from(value.month0() / 3 + 1);
    month_kernel => "month": |value| i64::from(value.month());
    day_kernel => "day" | "dayofmonth": |value| i64::from(value.day());
    hour_kernel => "hour": |value| i64::from(value.hour());
    minute_kernel => "minute": |value| i64::from(value.minute());
    second_kernel => "second": |value| i64::from(value.second());
    microsecond_kernel => "microsecond": |value| i64::from(value.nanosecond() / 1_000);
    // MySQL: 1 = Sunday ... 7 = Saturday.
    day_of_week_kernel => "dayofweek": |value| i64::from(value.weekday().num_days_from_sunday() + 1);
    // MySQL: 0 = Monday ... 6 = Sunday.
    weekday_kernel => "weekday": |value| i64::from(value.weekday().num_days_from_monday());
    day_of_year_kernel => "dayofyear": |value| i64::from(value.ordinal());
    // WEEKOFYEAR is WEEK(d, 3), the ISO week.
    week_of_year_kernel => "weekofyear": |value| i64::from(value.iso_week().week());
}
