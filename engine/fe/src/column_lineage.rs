//! Where a column of a plan node's output comes from in the node's input, unchanged: the
//! step the physical rules take as they follow a column down to its tablet scan
//! (`low_cardinality`, `runtime_filter`, `bucket_aggregation`, `aggregation_probe`). Each rule decides which
//! nodes it may pass; these say only where the column is on the other side.

use std::sync::Arc;

use datafusion::common::JoinSide;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::projection::ProjectionExec;

/// The input and its column that output column `column` of a projection (where it is a
/// plain column) or a filter is.
pub(crate) fn projected_from(node: &Arc<dyn ExecutionPlan>, column: usize) -> Option<(&Arc<dyn ExecutionPlan>, usize)> {
    if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
        let source = projection.expr().get(column)?.expr.downcast_ref::<Column>()?.index();
        return Some((projection.input(), source));
    }
    let filter = node.downcast_ref::<FilterExec>()?;
    let source = match filter.projection() {
        Some(projection) => *projection.get(column)?,
        None => column,
    };
    Some((filter.input(), source))
}

/// The input and its column that output column `column` of an aggregation is, where it is a
/// GROUP BY key that is a plain column (no grouping sets, whose keys are NULL in some rows).
pub(crate) fn grouped_from(node: &Arc<dyn ExecutionPlan>, column: usize) -> Option<(&Arc<dyn ExecutionPlan>, usize)> {
    let aggregate = node.downcast_ref::<AggregateExec>()?;
    if aggregate.group_expr().has_grouping_set() {
        return None;
    }
    let (key, _) = aggregate.group_expr().expr().get(column)?;
    Some((aggregate.input(), key.downcast_ref::<Column>()?.index()))
}

/// The side of `join` output column `column` comes from, and its column there. Semi and anti
/// joins output one side only.
pub(crate) fn join_column(join: &HashJoinExec, column: usize) -> Option<(JoinSide, usize)> {
    use datafusion::common::JoinType::{LeftAnti, LeftMark, LeftSemi, RightAnti, RightMark, RightSemi};
    let index = match &join.projection {
        Some(projection) => *projection.get(column)?,
        None => column,
    };
    let left_width = join.left.schema().fields().len();
    match join.join_type {
        LeftSemi | LeftAnti => Some((JoinSide::Left, index)),
        RightSemi | RightAnti => Some((JoinSide::Right, index)),
        // The mark column is neither side's.
        LeftMark => (index < left_width).then_some((JoinSide::Left, index)),
        RightMark => (index < join.right.schema().fields().len()).then_some((JoinSide::Right, index)),
        _ if index < left_width => Some((JoinSide::Left, index)),
        _ => Some((JoinSide::Right, index - left_width)),
    }
}
