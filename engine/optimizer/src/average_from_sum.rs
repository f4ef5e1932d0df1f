//! An optimizer rule: a DECIMAL `avg(x)` in an aggregation that also computes `sum(x)` is
//! computed from that sum and a count, so the column is accumulated once.
//!
//! TPC-H q1 asks `sum(l_quantity)` and `avg(l_quantity)`, and the same of
//! `l_extendedprice`, beside `count(*)`. DataFusion accumulates each aggregate on its own: a
//! pass over the 5.9M rows per aggregate, each adding 16-byte decimals into a group's slot,
//! and q1's aggregation was over half of its CPU. Here such an `avg(x)` becomes
//! `decimal_average(sum(x), count)` above the aggregation, where `count` is an existing
//! `count(x)`, or, when `x` can not be NULL, any count of a non-NULL argument such as
//! `count(*)`. q1 then makes six passes instead of eight.
//!
//! The value is DataFusion's own: `avg` keeps its sum as a 128-bit decimal of `x`'s scale,
//! added with wrapping as `sum`'s is, and divides by the count with `DecimalAverager`
//! (scale up, divide truncating, check the result's precision), which `decimal_average`
//! repeats. An `avg` without a matching `sum` stays: one pass computes both of its parts.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, PrimitiveArray};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, DecimalType, Int64Type};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result, exec_err};
use datafusion::logical_expr::expr::{AggregateFunction, AggregateFunctionParams, ScalarFunction};
use datafusion::logical_expr::{
    Aggregate, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Projection, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

#[derive(Debug, Default)]
pub(crate) struct AverageFromSum;

impl OptimizerRule for AverageFromSum {
    fn name(&self) -> &str {
        "cairn_average_from_sum"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(aggregate) = plan else {
            return Ok(Transformed::no(plan));
        };
        let replacements = averages_to_replace(&aggregate)?;
        if replacements.iter().all(Option::is_none) {
            return Ok(Transformed::no(LogicalPlan::Aggregate(aggregate)));
        }
        let kept: Vec<Expr> = aggregate
            .aggr_expr
            .iter()
            .zip(&replacements)
            .filter(|(_, replacement)| replacement.is_none())
            .map(|(expression, _)| expression.clone())
            .collect();
        let narrowed = Aggregate::try_new(Arc::clone(&aggregate.input), aggregate.group_expr.clone(), kept.clone())?;
        // Group columns (and any grouping id) come first in both schemas, unchanged.
        let group_fields = aggregate.schema.fields().len() - aggregate.aggr_expr.len();
        let mut outputs: Vec<Expr> =
            aggregate.schema.iter().take(group_fields).map(|(qualifier, field)| Expr::Column(Column::from((qualifier, field)))).collect();
        let output_column = |expression: &Expr| -> Result<Expr> {
            let position = kept.iter().position(|kept| kept == expression).map(|index| group_fields + index);
            match position.map(|position| narrowed.schema.qualified_field(position)) {
                Some((qualifier, field)) => Ok(Expr::Column(Column::from((qualifier, field)))),
                None => exec_err!("the aggregate {expression} vanished from the aggregation"),
            }
        };
        for (index, (expression, replacement)) in aggregate.aggr_expr.iter().zip(&replacements).enumerate() {
            let (qualifier, field) = aggregate.schema.qualified_field(group_fields + index);
            let output = match replacement {
                None => output_column(expression)?,
                Some(Average { sum, count, data_type }) => {
                    let function = ScalarUDF::new_from_impl(DecimalAverage::new(data_type.clone()));
                    Expr::ScalarFunction(ScalarFunction::new_udf(
                        Arc::new(function),
                        vec![output_column(sum)?, output_column(count)?],
                    ))
                }
            };
            outputs.push(output.alias_qualified(qualifier.cloned(), field.name()));
        }
        let projection = Projection::try_new(outputs, Arc::new(LogicalPlan::Aggregate(narrowed)))?;
        Ok(Transformed::yes(LogicalPlan::Projection(projection)))
    }
}

/// An `avg` to compute from `sum` and `count`, both aggregates of the same aggregation.
struct Average {
    sum: Expr,
    count: Expr,
    /// The `avg`'s result type.
    data_type: DataType,
}

/// For each aggregate of `aggregate`, the [`Average`] that replaces it, if it is such an `avg`.
fn averages_to_replace(aggregate: &Aggregate) -> Result<Vec<Option<Average>>> {
    let schema = aggregate.input.schema();
    if aggregate.group_expr.iter().any(|expression| matches!(expression, Expr::GroupingSet(_))) {
        return Ok(aggregate.aggr_expr.iter().map(|_| None).collect());
    }
    let plain = |expression: &Expr, name: &str| -> Option<Expr> {
        match expression {
            Expr::AggregateFunction(AggregateFunction {
                func,
                params: AggregateFunctionParams { args, distinct: false, filter: None, order_by, null_treatment: None },
            }) if func.name() == name && order_by.is_empty() => match args.as_slice() {
                [argument] => Some(argument.clone()),
                _ => None,
            },
            _ => None,
        }
    };
    let mut replacements = Vec::with_capacity(aggregate.aggr_expr.len());
    for expression in &aggregate.aggr_expr {
        let replacement = match plain(expression, "avg") {
            // A volatile argument (`rand()`) is a new value in each aggregate that names it.
            Some(argument) if !argument.is_volatile() && matches!(argument.get_type(schema)?, DataType::Decimal128(..)) => {
                let sum = aggregate.aggr_expr.iter().find(|other| plain(other, "sum").as_ref() == Some(&argument));
                let argument_nullable = argument.nullable(schema)?;
                let count = aggregate.aggr_expr.iter().find(|other| match plain(other, "count") {
                    Some(counted) if counted == argument => true,
                    // Both count every row of the group.
                    Some(counted) => !argument_nullable && !counted.nullable(schema).unwrap_or(true),
                    None => false,
                });
                match (sum, count, expression.get_type(schema)?) {
                    (Some(sum), Some(count), data_type @ DataType::Decimal128(..)) => {
                        Some(Average { sum: sum.clone(), count: count.clone(), data_type })
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        replacements.push(replacement);
    }
    Ok(replacements)
}

/// `sum / count` as DataFusion's `avg` computes it for DECIMAL128: NULL for no rows, else
/// the sum scaled to the result's scale, divided truncating, and checked against the
/// result's precision.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DecimalAverage {
    signature: Signature,
    data_type: DataType,
}

impl DecimalAverage {
    fn new(data_type: DataType) -> DecimalAverage {
        DecimalAverage { signature: Signature::any(2, Volatility::Immutable), data_type }
    }
}

impl ScalarUDFImpl for DecimalAverage {
    fn name(&self) -> &str {
        "decimal_average"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arguments: &[DataType]) -> Result<DataType> {
        Ok(self.data_type.clone())
    }

    fn invoke_with_args(&self, arguments: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let DataType::Decimal128(precision, target_scale) = self.data_type else {
            return exec_err!("{} returns DECIMAL128, not {}", self.name(), self.data_type);
        };
        let arrays = ColumnarValue::values_to_arrays(&arguments.args)?;
        let [sums, counts] = arrays.as_slice() else {
            return exec_err!("{} takes a sum and a count", self.name());
        };
        let (Some(sums), Some(counts)) = (sums.as_primitive_opt::<Decimal128Type>(), counts.as_primitive_opt::<Int64Type>()) else {
            return exec_err!("{} takes a DECIMAL128 sum and a BIGINT count, not {} and {}", self.name(), sums.data_type(), counts.data_type());
        };
        let DataType::Decimal128(_, sum_scale) = sums.data_type() else {
            return exec_err!("{} takes a DECIMAL128 sum", self.name());
        };
        // DecimalAverager refuses a result scale below the sum's.
        let Some(scale_up) = target_scale.checked_sub(*sum_scale).and_then(|digits| u32::try_from(digits).ok()).and_then(|digits| 10_i128.checked_pow(digits))
        else {
            return exec_err!("Arithmetic Overflow in AvgAccumulator");
        };
        let averages: Decimal128Array = sums
            .iter()
            .zip(counts.iter())
            .map(|(sum, count)| match (sum, count) {
                (Some(sum), Some(count)) if count > 0 => {
                    let average = sum.checked_mul(scale_up).map(|scaled| scaled.wrapping_div(i128::from(count)));
                    match average.filter(|average| Decimal128Type::is_valid_decimal_precision(*average, precision)) {
                        Some(average) => Ok(Some(average)),
                        None => exec_err!("Arithmetic Overflow in AvgAccumulator"),
                    }
                }
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        let averages: PrimitiveArray<Decimal128Type> = averages.with_precision_and_scale(precision, target_scale)?;
        Ok(ColumnarValue::Array(Arc::new(averages) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Decimal128Array, Int32Array, RecordBatch};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;

    use super::*;

    fn table() -> Result<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Int32, true),
            Field::new("price", DataType::Decimal128(15, 2), false),
            Field::new("tax", DataType::Decimal128(15, 2), true),
        ]));
        // Group 3's taxes are all NULL; negative sums divide truncating toward zero.
        let groups = Int32Array::from(vec![Some(1), Some(1), Some(2), Some(2), Some(2), Some(3), None]);
        let prices = Decimal128Array::from(vec![1_049_495, -250, 7, -8, 3, 100, 12_345]).with_precision_and_scale(15, 2)?;
        let taxes = Decimal128Array::from(vec![Some(4), None, Some(-7), Some(-1), Some(1), None, Some(9)]).with_precision_and_scale(15, 2)?;
        Ok(RecordBatch::try_new(schema, vec![Arc::new(groups), Arc::new(prices), Arc::new(taxes)])?)
    }

    async fn run(query: &str, batch: &RecordBatch, with_rule: bool) -> Result<(String, Vec<RecordBatch>)> {
        crate::test_support::run_on_batch(query, batch, with_rule.then(|| Arc::new(AverageFromSum) as _)).await
    }

    async fn same_as_datafusion(query: &str, batch: &RecordBatch) -> Result<String> {
        let (_, expected) = run(query, batch, false).await?;
        let (plan, actual) = run(query, batch, true).await?;
        assert_eq!(actual.first().map(|batch| batch.schema()), expected.first().map(|batch| batch.schema()), "{plan}");
        assert_eq!(pretty_format_batches(&actual)?.to_string(), pretty_format_batches(&expected)?.to_string(), "{plan}");
        Ok(plan)
    }

    /// Names, types and values are `avg`'s, NULL and all-NULL groups, negative averages and
    /// an empty input included; an `avg` without a `sum` beside it is left alone.
    #[tokio::test]
    async fn averages_from_sums_are_datafusions_averages() -> Result<()> {
        let batch = table()?;
        let plan = same_as_datafusion(
            "SELECT g, sum(price), avg(price), count(*), sum(tax), avg(tax), count(tax), avg(price + tax) \
             FROM t GROUP BY g ORDER BY g",
            &batch,
        )
        .await?;
        assert!(plan.contains("decimal_average(sum(t.price), count(Int64(1)))"), "{plan}");
        assert!(plan.contains("decimal_average(sum(t.tax), count(t.tax))"), "{plan}");
        let aggregation = plan.lines().find(|line| line.trim_start().starts_with("Aggregate:")).unwrap_or_default();
        assert!(aggregation.contains("avg(t.price + t.tax)"), "{plan}");
        assert!(!aggregation.contains("avg(t.price)") && !aggregation.contains("avg(t.tax)"), "{plan}");

        // A nullable argument's average never borrows the count of every row.
        let plan = same_as_datafusion("SELECT sum(tax), avg(tax), count(*) FROM t", &batch).await?;
        assert!(plan.contains("avg(t.tax)"), "{plan}");
        assert!(!plan.contains("decimal_average"), "{plan}");

        let plan = same_as_datafusion("SELECT sum(price), avg(price) AS mean, count(price) FROM t WHERE g > 5", &batch).await?;
        assert!(plan.contains("decimal_average"), "{plan}");

        // random() draws anew for each aggregate, so the plan keeps both.
        let (plan, _) = run(
            "SELECT sum(CAST(random() AS DECIMAL(10, 2))), avg(CAST(random() AS DECIMAL(10, 2))), \
             count(CAST(random() AS DECIMAL(10, 2))) FROM t",
            &batch,
            true,
        )
        .await?;
        assert!(!plan.contains("decimal_average"), "{plan}");
        Ok(())
    }
}
