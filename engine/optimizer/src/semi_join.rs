//! An optimizer rule: a semi or anti join (`IN`, `EXISTS`, `NOT IN`, `NOT EXISTS` after
//! decorrelation) moves below the joins and projections under it when its condition reads
//! only one input of the join below. DataFusion leaves it on top, where it filters the
//! joined rows: TPC-H q18 joined all 6M lineitem rows to orders and customers, and only then
//! kept the 57 orders its `IN` subquery names. Below the join it filters orders first.
//!
//! `(A ⋈ B) ⋉ R = (A ⋉ R) ⋈ B` when the semi join's condition reads no column of `B`: each
//! joined row's fate depends on its `A` part alone, and that holds for anti and null-aware
//! anti joins too (a NULL in `R` empties both sides alike). For an outer join only the
//! preserved side qualifies, since the other side's columns may be NULL-extended. Spark's
//! `PushDownLeftSemiAntiJoin` makes the same move.
//!
//! Only semi joins without a residual filter move. One with a filter (TPC-H q21's
//! `l2.l_suppkey <> l1.l_suppkey`) checks it against every matching row, so it costs in
//! proportion to the rows it sees, and below the join it saw the whole fact table: q21 went
//! from 173 to 519 ms. An equality-only semi join is one hash probe per row and only
//! removes rows, so running it earlier never costs more than the rows it removes.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, JoinType, Result};
use datafusion::logical_expr::{Expr, Join, LogicalPlan, Projection};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

#[derive(Debug, Default)]
pub(crate) struct SemiJoinBelowJoin;

impl OptimizerRule for SemiJoinBelowJoin {
    fn name(&self) -> &str {
        "cairn_semi_join_below_join"
    }

    /// Top-down, so a semi join that moved is visited again in its new place and keeps
    /// sinking until it reaches the input its condition reads.
    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Join(semi) = &plan else {
            return Ok(Transformed::no(plan));
        };
        if !matches!(semi.join_type, JoinType::LeftSemi | JoinType::LeftAnti) || semi.filter.is_some() {
            return Ok(Transformed::no(plan));
        }
        let Some(columns) = left_columns(semi) else {
            return Ok(Transformed::no(plan));
        };
        let moved = match semi.left.as_ref() {
            LogicalPlan::Projection(projection) => below_projection(semi, projection, &columns)?,
            LogicalPlan::Join(join) => into_join(semi, join, &columns)?,
            _ => None,
        };
        Ok(match moved {
            Some(moved) => Transformed::yes(moved),
            None => Transformed::no(plan),
        })
    }
}

/// The columns of the semi join's left input its keys read. `None` when a name could be
/// either side's, where moving would risk reading the wrong one.
fn left_columns(semi: &Join) -> Option<HashSet<Column>> {
    let right = semi.right.schema();
    let mut columns = HashSet::new();
    for (left_key, _) in &semi.on {
        for column in left_key.column_refs() {
            if right.has_column(column) {
                return None;
            }
            columns.insert(column.clone());
        }
    }
    Some(columns)
}

/// `Projection(X) ⋉ R` becomes `Projection(X ⋉ R)` when each column the condition reads is
/// passed through unchanged.
fn below_projection(semi: &Join, projection: &Projection, columns: &HashSet<Column>) -> Result<Option<LogicalPlan>> {
    let passed: HashSet<&Column> = projection
        .expr
        .iter()
        .filter_map(|expression| match expression {
            Expr::Column(column) => Some(column),
            _ => None,
        })
        .collect();
    if !columns.iter().all(|column| passed.contains(column)) {
        return Ok(None);
    }
    let Some(moved) = with_left(semi, Arc::clone(&projection.input)) else {
        return Ok(None);
    };
    let projected =
        Projection::try_new_with_schema(projection.expr.clone(), Arc::new(moved), Arc::clone(&projection.schema))?;
    Ok(Some(LogicalPlan::Projection(projected)))
}

/// `(A ⋈ B) ⋉ R` becomes `(A ⋉ R) ⋈ B` (or `A ⋈ (B ⋉ R)`) when the condition reads only one
/// side, and that side keeps all its rows' identities through the join: either side of an
/// inner join, the preserved side of an outer one. Semi joins below are left alone, so two
/// stacked ones can not trade places forever.
fn into_join(semi: &Join, join: &Join, columns: &HashSet<Column>) -> Result<Option<LogicalPlan>> {
    let (left_allowed, right_allowed) = match join.join_type {
        JoinType::Inner => (true, true),
        JoinType::Left => (true, false),
        JoinType::Right => (false, true),
        _ => (false, false),
    };
    let reads_only = |side: &LogicalPlan| columns.iter().all(|column| side.schema().has_column(column));
    let (left, right) = if left_allowed && reads_only(&join.left) {
        match with_left(semi, Arc::clone(&join.left)) {
            Some(moved) => (Arc::new(moved), Arc::clone(&join.right)),
            None => return Ok(None),
        }
    } else if right_allowed && reads_only(&join.right) {
        match with_left(semi, Arc::clone(&join.right)) {
            Some(moved) => (Arc::clone(&join.left), Arc::new(moved)),
            None => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    // A semi join's output is its left input's schema, so the join's schema is unchanged.
    Ok(Some(LogicalPlan::Join(Join {
        left,
        right,
        ..join.clone()
    })))
}

/// The semi join over a new left input, or `None` when a column of that input has the same
/// qualified name as one of the right input, which would make the condition ambiguous.
fn with_left(semi: &Join, left: Arc<LogicalPlan>) -> Option<LogicalPlan> {
    let right = semi.right.schema();
    if left.schema().columns().iter().any(|column| right.has_column(column)) {
        return None;
    }
    let schema = Arc::clone(left.schema());
    Some(LogicalPlan::Join(Join {
        left,
        schema,
        ..semi.clone()
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::common::Result;
    use datafusion::prelude::SessionContext;

    use super::SemiJoinBelowJoin;

    fn table(names: &[&str], rows: &[&[Option<i64>]]) -> Result<RecordBatch> {
        let schema = Arc::new(Schema::new(
            names.iter().map(|name| Field::new(*name, DataType::Int64, true)).collect::<Vec<_>>(),
        ));
        let columns = (0..names.len())
            .map(|index| Arc::new(rows.iter().map(|row| row[index]).collect::<Int64Array>()) as _)
            .collect();
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    /// TPC-H's shape in miniature: customers, their orders, order lines; `tag` names a
    /// customer so results can be read.
    fn register(context: &SessionContext) -> Result<()> {
        let customer = table(&["c_custkey", "c_region"], &[&[Some(1), Some(10)], &[Some(2), Some(20)], &[Some(3), None]])?;
        let orders = table(
            &["o_orderkey", "o_custkey"],
            &[&[Some(100), Some(1)], &[Some(101), Some(1)], &[Some(102), Some(2)], &[Some(103), Some(9)], &[None, Some(3)]],
        )?;
        let lineitem = table(
            &["l_orderkey", "l_quantity", "l_suppkey"],
            &[
                &[Some(100), Some(5), Some(1)],
                &[Some(100), Some(50), Some(2)],
                &[Some(101), Some(7), Some(1)],
                &[Some(102), Some(60), Some(3)],
                &[Some(103), Some(1), Some(3)],
                &[None, Some(1), Some(4)],
            ],
        )?;
        context.register_batch("customer", customer)?;
        context.register_batch("orders", orders)?;
        context.register_batch("lineitem", lineitem)?;
        let names = StringArray::from(vec!["one", "two"]);
        let tags = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("t_custkey", DataType::Int64, false), Field::new("t_name", DataType::Utf8, false)])),
            vec![Arc::new(Int64Array::from(vec![1, 2])), Arc::new(names)],
        )?;
        context.register_batch("tags", tags)?;
        Ok(())
    }

    async fn run(query: &str, with_rule: bool) -> Result<(String, String)> {
        let context = SessionContext::new();
        if with_rule {
            context.add_optimizer_rule(Arc::new(SemiJoinBelowJoin));
        }
        register(&context)?;
        let frame = context.sql(query).await?;
        let plan = format!("{}", frame.clone().into_optimized_plan()?.display_indent());
        let batches = frame.collect().await?;
        Ok((plan, pretty_format_batches(&batches)?.to_string()))
    }

    /// Same rows as plain DataFusion; returns the optimized plan for shape checks.
    async fn same_result(query: &str) -> Result<String> {
        let (_, expected) = run(query, false).await?;
        let (plan, actual) = run(query, true).await?;
        assert_eq!(actual, expected, "{query}\n{plan}");
        Ok(plan)
    }

    /// The line number of the first plan line containing `needle`.
    fn line_of(plan: &str, needle: &str) -> usize {
        plan.lines().position(|line| line.contains(needle)).unwrap_or(usize::MAX)
    }

    #[tokio::test]
    async fn an_in_subquery_filters_the_input_it_reads_before_the_joins() -> Result<()> {
        let plan = same_result(
            "SELECT c_custkey, o_orderkey, sum(l_quantity) AS quantity FROM customer, orders, lineitem \
             WHERE o_orderkey IN (SELECT l_orderkey FROM lineitem GROUP BY l_orderkey HAVING sum(l_quantity) > 50) \
             AND c_custkey = o_custkey AND o_orderkey = l_orderkey \
             GROUP BY c_custkey, o_orderkey ORDER BY o_orderkey",
        )
        .await?;
        // The semi join now sits under both inner joins, directly over the orders scan.
        let semi = line_of(&plan, "LeftSemi Join");
        assert!(semi > line_of(&plan, "Inner Join: orders.o_orderkey = lineitem.l_orderkey"), "{plan}");
        assert!(semi > line_of(&plan, "Inner Join: customer.c_custkey = orders.o_custkey"), "{plan}");
        assert!(plan.lines().nth(semi + 1).is_some_and(|line| line.contains("TableScan: orders")), "{plan}");
        Ok(())
    }

    #[tokio::test]
    async fn exists_and_not_exists_with_a_filter_stay_on_top() -> Result<()> {
        for query in [
            "SELECT o_orderkey, l_quantity FROM orders JOIN lineitem l1 ON o_orderkey = l1.l_orderkey \
             WHERE EXISTS (SELECT 1 FROM lineitem l2 WHERE l2.l_orderkey = l1.l_orderkey AND l2.l_suppkey <> l1.l_suppkey) \
             ORDER BY 1, 2",
            "SELECT o_orderkey, l_quantity FROM orders JOIN lineitem l1 ON o_orderkey = l1.l_orderkey \
             WHERE NOT EXISTS (SELECT 1 FROM lineitem l2 WHERE l2.l_orderkey = l1.l_orderkey AND l2.l_suppkey <> l1.l_suppkey) \
             ORDER BY 1, 2",
        ] {
            let plan = same_result(query).await?;
            let semi = line_of(&plan, "Semi Join").min(line_of(&plan, "Anti Join"));
            assert!(semi < line_of(&plan, "Inner Join"), "{plan}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn not_in_keeps_its_null_semantics() -> Result<()> {
        // The subquery yields a NULL key, so NOT IN keeps no row; without it, NULL keys drop.
        for query in [
            "SELECT c_custkey, o_orderkey FROM customer JOIN orders ON c_custkey = o_custkey \
             WHERE o_orderkey NOT IN (SELECT l_orderkey FROM lineitem WHERE l_quantity < 6) ORDER BY 1, 2",
            "SELECT c_custkey, o_orderkey FROM customer JOIN orders ON c_custkey = o_custkey \
             WHERE o_orderkey NOT IN (SELECT l_orderkey FROM lineitem WHERE l_quantity > 6) ORDER BY 1, 2",
        ] {
            let plan = same_result(query).await?;
            assert!(line_of(&plan, "LeftAnti Join") > line_of(&plan, "Inner Join"), "{plan}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn the_null_extended_side_of_an_outer_join_keeps_the_semi_join_above() -> Result<()> {
        let plan = same_result(
            "SELECT c_custkey, o_orderkey FROM customer LEFT JOIN orders ON c_custkey = o_custkey \
             WHERE NOT EXISTS (SELECT 1 FROM lineitem WHERE l_orderkey = o_orderkey) ORDER BY 1, 2",
        )
        .await?;
        assert!(line_of(&plan, "Anti Join") < line_of(&plan, "Left Join"), "{plan}");
        // The preserved side may take it.
        let plan = same_result(
            "SELECT c_custkey, o_orderkey FROM customer LEFT JOIN orders ON c_custkey = o_custkey \
             WHERE c_custkey IN (SELECT t_custkey FROM tags) ORDER BY 1, 2",
        )
        .await?;
        assert!(line_of(&plan, "Semi Join") > line_of(&plan, "Left Join"), "{plan}");
        Ok(())
    }

    #[tokio::test]
    async fn a_condition_reading_both_sides_stays_on_top() -> Result<()> {
        let plan = same_result(
            "SELECT c_custkey, o_orderkey FROM customer JOIN orders ON c_custkey = o_custkey \
             WHERE EXISTS (SELECT 1 FROM lineitem WHERE l_orderkey = o_orderkey AND l_suppkey = c_custkey) ORDER BY 1, 2",
        )
        .await?;
        assert!(line_of(&plan, "Semi Join") < line_of(&plan, "Inner Join"), "{plan}");
        Ok(())
    }
}
