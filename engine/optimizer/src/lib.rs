//! Cairn's own rules for DataFusion's logical optimizer: rewrites that keep a query's
//! result exactly and make the plan cheaper, where DataFusion's rules stop short. Each
//! rule says in its module what profile or plan it came from.
//!
//! [`register_rules`] adds them all to a `SessionContext`; the FE's query sessions and the
//! load executor both call it, so a statement is optimized the same way wherever it runs.

mod average_from_sum;
mod decimal_literal;
mod decimal_multiply;
mod semi_join;

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::prelude::SessionContext;

/// Adds every Cairn optimizer rule to `context`, after DataFusion's own.
pub fn register_rules(context: &SessionContext) {
    context.add_optimizer_rule(Arc::new(semi_join::SemiJoinBelowJoin));
    context.add_optimizer_rule(Arc::new(decimal_literal::DecimalLiteralScale));
    // After the literal rule, so `1 - price` has equal scales by then.
    context.add_optimizer_rule(Arc::new(decimal_multiply::DecimalMultiply));
    context.add_optimizer_rule(Arc::new(average_from_sum::AverageFromSum));
}

/// Rewrites each expression of a projection, filter or aggregate bottom-up with `rewrite`,
/// which is given the node's input schema, the one those expressions are typed by. Output
/// names are kept, so the node's schema does not change. Other nodes come back unchanged.
fn rewrite_expressions(
    plan: LogicalPlan,
    rewrite: impl Fn(Expr, &DFSchema) -> Transformed<Expr>,
) -> Result<Transformed<LogicalPlan>> {
    let schema = match &plan {
        LogicalPlan::Projection(_) | LogicalPlan::Filter(_) | LogicalPlan::Aggregate(_) => match plan.inputs().as_slice() {
            [input] => input.schema().as_ref().clone(),
            _ => return Ok(Transformed::no(plan)),
        },
        _ => return Ok(Transformed::no(plan)),
    };
    let names = NamePreserver::new(&plan);
    plan.map_expressions(|expression| {
        let name = names.save(&expression);
        let rewritten = expression.transform_up(|expression| Ok(rewrite(expression, &schema)))?;
        Ok(rewritten.update_data(|expression| name.restore(expression)))
    })
}

#[cfg(test)]
mod test_support {
    use std::sync::Arc;

    use datafusion::arrow::array::RecordBatch;
    use datafusion::common::Result;
    use datafusion::optimizer::OptimizerRule;
    use datafusion::prelude::SessionContext;

    /// Runs `query` over `batch` as table `t`, with `rule` added to DataFusion's optimizer if
    /// given: the optimized plan, indented, and the result.
    pub(crate) async fn run_on_batch(
        query: &str,
        batch: &RecordBatch,
        rule: Option<Arc<dyn OptimizerRule + Send + Sync>>,
    ) -> Result<(String, Vec<RecordBatch>)> {
        let context = SessionContext::new();
        if let Some(rule) = rule {
            context.add_optimizer_rule(rule);
        }
        context.register_batch("t", batch.clone())?;
        let frame = context.sql(query).await?;
        let plan = format!("{}", frame.clone().into_optimized_plan()?.display_indent());
        Ok((plan, frame.collect().await?))
    }
}
