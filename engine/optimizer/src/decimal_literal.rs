//! An optimizer rule: in `1 - price` with a DECIMAL(p, s) `price`, the integer literal becomes
//! a DECIMAL of the same scale (`1.00`) when the plan is made, so the per-row arithmetic does
//! not rescale. Coercion types the literal `DECIMAL(20, 0)`; with mixed scales Arrow rescales
//! and checks every row, which was a fifth of TPC-H q1. The rewritten literal keeps the
//! integer digits, so the expression's type (and the result) stays exactly the same.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::BinaryExpr;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

/// Largest DECIMAL128 precision.
const MAX_PRECISION: u8 = 38;

#[derive(Debug, Default)]
pub(crate) struct DecimalLiteralScale;

impl OptimizerRule for DecimalLiteralScale {
    fn name(&self) -> &str {
        "cairn_decimal_literal_scale"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        crate::rewrite_expressions(plan, rescale)
    }
}

fn rescale(expression: Expr, schema: &DFSchema) -> Transformed<Expr> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expression else {
        return Transformed::no(expression);
    };
    if !matches!(op, Operator::Plus | Operator::Minus) {
        return Transformed::no(expression);
    }
    let scale_of = |side: &Expr| match side.get_type(schema) {
        Ok(DataType::Decimal128(_, scale)) if scale > 0 => Some(scale),
        _ => None,
    };
    let (new_left, new_right) = match (left.as_ref(), right.as_ref()) {
        (Expr::Literal(literal, metadata), other) => match scale_of(other).and_then(|scale| scaled(literal, scale)) {
            Some(value) => (Expr::Literal(value, metadata.clone()), other.clone()),
            None => return Transformed::no(expression),
        },
        (other, Expr::Literal(literal, metadata)) => match scale_of(other).and_then(|scale| scaled(literal, scale)) {
            Some(value) => (other.clone(), Expr::Literal(value, metadata.clone())),
            None => return Transformed::no(expression),
        },
        _ => return Transformed::no(expression),
    };
    Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(Box::new(new_left), *op, Box::new(new_right))))
}

/// A scale-0 DECIMAL literal as the same number with `scale` digits after the point and as
/// many before it as it had.
fn scaled(literal: &ScalarValue, scale: i8) -> Option<ScalarValue> {
    let ScalarValue::Decimal128(Some(value), precision, 0) = literal else {
        return None;
    };
    let digits = u32::try_from(scale).ok()?;
    let precision = precision.checked_add(u8::try_from(scale).ok()?).filter(|precision| *precision <= MAX_PRECISION)?;
    let value = value.checked_mul(10_i128.checked_pow(digits)?)?;
    Some(ScalarValue::Decimal128(Some(value), precision, scale))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Decimal128Array, RecordBatch};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::prelude::SessionContext;

    use super::*;

    #[tokio::test]
    async fn integer_literals_take_the_decimal_scale_and_results_do_not_change() -> Result<()> {
        let schema = Arc::new(Schema::new(vec![Field::new("discount", DataType::Decimal128(15, 2), true)]));
        let values = Decimal128Array::from(vec![Some(4), Some(10), None]).with_precision_and_scale(15, 2)?;
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(values)])?;
        let query = "SELECT 1 - discount AS a, discount + 2 AS b, 3 * discount AS c FROM t";

        let plain = SessionContext::new();
        plain.register_batch("t", batch.clone())?;
        let expected = plain.sql(query).await?.collect().await?;

        let context = SessionContext::new();
        context.add_optimizer_rule(Arc::new(DecimalLiteralScale));
        context.register_batch("t", batch)?;
        let frame = context.sql(query).await?;
        let plan = format!("{}", frame.clone().into_optimized_plan()?.display_indent());
        assert!(plan.contains("Decimal128(1.00,22,2) - t.discount") && plan.contains("Decimal128(2.00,22,2)"), "{plan}");
        let actual = frame.collect().await?;
        assert_eq!(actual[0].schema(), expected[0].schema());
        assert_eq!(actual, expected);
        Ok(())
    }

    #[test]
    fn literals_that_would_overflow_stay() {
        assert_eq!(scaled(&ScalarValue::Decimal128(Some(1), 37, 0), 2), None);
        assert_eq!(scaled(&ScalarValue::Decimal128(Some(7), 20, 0), 2), Some(ScalarValue::Decimal128(Some(700), 22, 2)));
        assert_eq!(scaled(&ScalarValue::Decimal128(Some(7), 20, 1), 2), None);
    }
}
