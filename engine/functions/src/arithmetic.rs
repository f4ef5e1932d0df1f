//! MySQL arithmetic that differs from DataFusion's: `DIV`, `MOD`/`%` and `/`.
//!
//! MySQL returns NULL when dividing by zero where DataFusion raises an error, and
//! `/` on two integers is a true division in MySQL (`5 / 2 = 2.5`) while DataFusion
//! truncates. The rewrite maps the operators to these functions.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{ScalarUDF, Volatility};

use crate::udf::{Invocation, MysqlFunction, check_arity};

pub(crate) const INTEGER_DIVIDE: &str = "mysql_int_div";
pub(crate) const MODULO: &str = "mysql_mod";
pub(crate) const DIVIDE: &str = "mysql_divide";

pub(crate) fn functions() -> Vec<ScalarUDF> {
    vec![
        MysqlFunction::new(
            INTEGER_DIVIDE,
            false,
            Volatility::Immutable,
            coerce_operands,
            |_| Ok(DataType::Int64),
            integer_divide,
        )
        .into_udf(),
        MysqlFunction::new(
            MODULO,
            false,
            Volatility::Immutable,
            coerce_operands,
            |types| Ok(types.first().cloned().unwrap_or(DataType::Int64)),
            modulo,
        )
        // MOD(a, b); the infix `a MOD b` is not parsed by sqlparser 0.62.
        .with_aliases(&["mod"])
        .into_udf(),
        MysqlFunction::new(
            DIVIDE,
            false,
            Volatility::Immutable,
            coerce_to_double,
            |_| Ok(DataType::Float64),
            divide,
        )
        .into_udf(),
    ]
}

fn is_integer_like(data_type: &DataType) -> bool {
    data_type.is_integer() || matches!(data_type, DataType::Null | DataType::Boolean)
}

fn is_number_like(data_type: &DataType) -> bool {
    data_type.is_numeric()
        || matches!(
            data_type,
            DataType::Null
                | DataType::Boolean
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
        )
}

/// Both BIGINT when both operands are integers, otherwise both DOUBLE.
fn coerce_operands(function: &str, types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(function, types, &[2])?;
    if let Some(other) = types.iter().find(|data_type| !is_number_like(data_type)) {
        return plan_err!("{function}: cannot apply an arithmetic operator to {other}");
    }
    let target = if types.iter().all(is_integer_like) {
        DataType::Int64
    } else {
        DataType::Float64
    };
    Ok(vec![target.clone(), target])
}

fn coerce_to_double(function: &str, types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(function, types, &[2])?;
    if let Some(other) = types.iter().find(|data_type| !is_number_like(data_type)) {
        return plan_err!("{function}: cannot divide {other}");
    }
    Ok(vec![DataType::Float64, DataType::Float64])
}

enum Operands<'a> {
    Integers(&'a Int64Array, &'a Int64Array),
    Doubles(&'a Float64Array, &'a Float64Array),
}

fn operands<'a>(invocation: &'a Invocation<'_>) -> Result<Operands<'a>> {
    let (left, right) = (&invocation.arguments[0], &invocation.arguments[1]);
    match (left.data_type(), right.data_type()) {
        (DataType::Int64, DataType::Int64) => Ok(Operands::Integers(
            left.as_primitive::<Int64Type>(),
            right.as_primitive::<Int64Type>(),
        )),
        (DataType::Float64, DataType::Float64) => Ok(Operands::Doubles(
            left.as_primitive::<Float64Type>(),
            right.as_primitive::<Float64Type>(),
        )),
        (left, right) => exec_err!("operands were not coerced: {left}, {right}"),
    }
}

/// `a DIV b`: the truncated quotient as BIGINT; NULL for a zero divisor or a
/// quotient outside BIGINT.
fn integer_divide(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let result: Int64Array = match operands(invocation)? {
        Operands::Integers(left, right) => left
            .iter()
            .zip(right.iter())
            .map(|(left, right)| left?.checked_div(right?))
            .collect(),
        Operands::Doubles(left, right) => left
            .iter()
            .zip(right.iter())
            .map(|(left, right)| {
                let (left, right) = (left?, right?);
                if right == 0.0 {
                    return None;
                }
                let quotient = (left / right).trunc();
                // `as` saturates; reject values outside BIGINT instead.
                (quotient.is_finite() && quotient.abs() < 9.2e18).then_some(quotient as i64)
            })
            .collect(),
    };
    Ok(Arc::new(result))
}

/// `a MOD b`, `a % b`: the remainder with the sign of the dividend; NULL for zero.
fn modulo(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    Ok(match operands(invocation)? {
        Operands::Integers(left, right) => Arc::new(
            left.iter()
                .zip(right.iter())
                .map(|(left, right)| {
                    let right = right?;
                    if right == 0 {
                        None
                    } else {
                        Some(left?.wrapping_rem(right))
                    }
                })
                .collect::<Int64Array>(),
        ),
        Operands::Doubles(left, right) => Arc::new(
            left.iter()
                .zip(right.iter())
                .map(|(left, right)| {
                    let right = right?;
                    if right == 0.0 {
                        None
                    } else {
                        Some(left? % right)
                    }
                })
                .collect::<Float64Array>(),
        ),
    })
}

/// `a / b` as DOUBLE; NULL for a zero divisor.
fn divide(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    match operands(invocation)? {
        Operands::Doubles(left, right) => Ok(Arc::new(
            left.iter()
                .zip(right.iter())
                .map(|(left, right)| {
                    let right = right?;
                    if right == 0.0 {
                        None
                    } else {
                        Some(left? / right)
                    }
                })
                .collect::<Float64Array>(),
        )),
        Operands::Integers(_, _) => exec_err!("{DIVIDE}: operands were not coerced to DOUBLE"),
    }
}
