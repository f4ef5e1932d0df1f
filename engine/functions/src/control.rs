//! Control flow: MySQL's IF(cond, a, b) is rewritten to `CASE WHEN cond THEN a ELSE
//! b END` (see [`crate::rewrite`]) so that DataFusion coerces `a` and `b` to a common
//! type. MySQL conditions may be numbers or strings (`IF(count, ...)`), which CASE
//! rejects, so non-boolean conditions are wrapped in `mysql_truth`.
//!
//! IFNULL (alias of DataFusion's nvl), NULLIF and COALESCE come from DataFusion.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{ScalarUDF, Volatility};

use crate::udf::{Invocation, MysqlFunction, check_arity};

pub(crate) const TRUTH: &str = "mysql_truth";

pub(crate) fn functions() -> Vec<ScalarUDF> {
    vec![
        MysqlFunction::new(
            TRUTH,
            false,
            Volatility::Immutable,
            coerce_truth,
            |_| Ok(DataType::Boolean),
            truth,
        )
        .into_udf(),
    ]
}

fn coerce_truth(function: &str, types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(function, types, &[1])?;
    match &types[0] {
        DataType::Boolean => Ok(vec![DataType::Boolean]),
        // Strings are read as numbers, as MySQL does ('abc' is 0, so false); the
        // cast yields NULL for non-numeric text, which CASE treats as false too.
        data_type if data_type.is_numeric() => Ok(vec![DataType::Float64]),
        DataType::Null | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            Ok(vec![DataType::Float64])
        }
        other => plan_err!("{function}: {other} cannot be used as a condition"),
    }
}

/// Non-zero is true; NULL stays NULL.
fn truth(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    let argument = &invocation.arguments[0];
    match argument.data_type() {
        DataType::Boolean => Ok(Arc::clone(argument)),
        DataType::Float64 => Ok(Arc::new(
            argument
                .as_primitive::<Float64Type>()
                .iter()
                .map(|value| value.map(|value| value != 0.0))
                .collect::<BooleanArray>(),
        )),
        other => exec_err!("{TRUTH}: argument was not coerced: {other}"),
    }
}
