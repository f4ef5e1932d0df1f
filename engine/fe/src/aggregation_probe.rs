//! A hash join whose build side is an aggregation grouped by the join key swaps its sides when
//! building the other side costs less than the aggregation's input: the aggregation then sits
//! on the probe side, where the other side's runtime filter (`runtime_filter.rs`) drops the
//! rows of the groups no key matches before they are aggregated.
//!
//! Why: DataFusion builds the side with fewer estimated rows, and an aggregation's estimate is
//! its keys' distinct values. A decorrelated subquery (TPC-H q17's `avg(l_quantity)` per part,
//! q2's `min(ps_supplycost)` per part) is such an aggregation: once storage reported distinct
//! values (`cairn_storage::distinct`), q17's 200 000 groups were estimated below the outer
//! side's 240 000 rows (in fact the 6 000 lineitem rows of 204 parts), were built, and
//! aggregated all 6M lineitem rows, 31 ms became 129 ms. Probing, the subquery's scan keeps the
//! 6 000 rows of those 204 parts. A subquery correlated on the fact table's own key is joined
//! with a side that holds every key, but a join above with a filtered dimension filters that
//! side's scan first, and its keys are then few: DataFusion sized such an aggregation by its
//! input before it knew the groups, and this rule sizes it so again. The row estimates do not
//! know what a runtime filter saves; this rule is where that is weighed.
//!
//! It runs right after DataFusion's join selection, before repartitions are placed and before
//! joins build their dynamic filters.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{JoinSide, JoinType, NullEquality, Result};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};

use crate::column_lineage::{grouped_from, join_column, projected_from};
use crate::span_bitmap::SpanBitmap;

/// The aggregation's key must have at least this many times the distinct values of the
/// other side's key: the runtime filter then drops at least two thirds of what it reads.
const KEYS_AT_LEAST: usize = 3;

#[derive(Debug, Default)]
pub(crate) struct AggregationsProbe;

impl PhysicalOptimizerRule for AggregationsProbe {
    fn name(&self) -> &str {
        "cairn_aggregations_probe"
    }

    fn schema_check(&self) -> bool {
        true
    }

    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        // The other side is built only where DataFusion would build it for every partition
        // too (`broadcast_row_limit`).
        let build_at_most = config.optimizer.hash_join_single_partition_threshold_rows;
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else { return Ok(Transformed::no(node)) };
            if !swaps(join, build_at_most) {
                return Ok(Transformed::no(node));
            }
            Ok(Transformed::yes(join.swap_inputs(PartitionMode::CollectLeft)?))
        })
        .map(|transformed| transformed.data)
    }
}

/// Whether `join` had better build its probe side, of at most `build_at_most` rows, and
/// probe its build side, an aggregation.
fn swaps(join: &HashJoinExec, build_at_most: usize) -> bool {
    // After the swap the aggregation is the probe side of a join that may drop its unmatched
    // rows (`runtime_filter.rs` places filters only there): inner, left outer and semi
    // joins, and left anti joins that are not null-aware.
    let probe_may_shrink =
        matches!(join.join_type, JoinType::Inner | JoinType::Right | JoinType::LeftSemi | JoinType::RightSemi | JoinType::RightAnti);
    if *join.partition_mode() != PartitionMode::CollectLeft
        || !probe_may_shrink
        || join.null_aware
        || join.null_equality != NullEquality::NullEqualsNothing
    {
        return false;
    }
    let (left_schema, right_schema) = (join.left.schema(), join.right.schema());
    let aggregated = join.on.iter().find_map(|(build_key, probe_key)| {
        let column = build_key.downcast_ref::<Column>()?;
        let probe_column = probe_key.downcast_ref::<Column>()?;
        let (build_type, probe_type) = (build_key.data_type(&left_schema).ok()?, probe_key.data_type(&right_schema).ok()?);
        (build_type == probe_type && SpanBitmap::looks_up(&build_type)).then_some(())?;
        let (input, input_column) = aggregated_input(&join.left, column.index(), false)?;
        Some((input, input_column, probe_column.index()))
    });
    let Some((aggregated, aggregated_column, other_column)) = aggregated else { return false };
    let context = StatisticsContext::new();
    let (Some((groups, _)), Some((read, aggregated_keys)), Some((other, other_keys))) = (
        estimate(&context, &join.left, 0),
        estimate(&context, &aggregated, aggregated_column),
        estimate(&context, &join.right, other_column),
    ) else {
        return false;
    };
    // Either the other side's keys leave out most of the aggregation's input, and the rows the
    // aggregation no longer reads outweigh the growth of the hash table; or every group is
    // built (no HAVING drops some), and building the other side costs no more than reading
    // the aggregation's whole input and building its groups: the joins above may yet narrow
    // the other side's keys, and with them what the aggregation reads.
    let kept = other_keys as f64 / aggregated_keys.max(1) as f64;
    let filtered_here = other_keys.saturating_mul(KEYS_AT_LEAST) <= aggregated_keys
        && other as f64 <= groups as f64 + read as f64 * (1.0 - kept);
    let filtered_above = every_group_built(&join.left) && other <= read.saturating_add(groups);
    let swaps = other <= build_at_most && (filtered_here || filtered_above);
    tracing::debug!(groups, read, aggregated_keys, other, other_keys, swaps, "a join builds an aggregation grouped by its key");
    swaps
}

/// Whether `node` is an aggregation, under projections only: none of its groups is dropped.
fn every_group_built(node: &Arc<dyn ExecutionPlan>) -> bool {
    match node.downcast_ref::<ProjectionExec>() {
        Some(projection) => every_group_built(projection.input()),
        None => node.downcast_ref::<AggregateExec>().is_some(),
    }
}

/// The rows of `plan`'s output and the distinct values of its `column`, at most the rows.
///
/// DataFusion keeps a column's distinct values through a join. A key of an inner join holds
/// only values the other side's key holds too, so it has at most that key's distinct values:
/// a fact table's key joined with a tenth of a dimension has a tenth of its values left.
fn estimate(context: &StatisticsContext, plan: &Arc<dyn ExecutionPlan>, column: usize) -> Option<(usize, usize)> {
    let statistics = context.compute(plan.as_ref(), &StatisticsArgs::new()).ok()?;
    let rows = *statistics.num_rows.get_value()?;
    let distinct = statistics.column_statistics.get(column).and_then(|column| column.distinct_count.get_value().copied());
    let mut distinct = distinct.unwrap_or(rows).min(rows);
    if let Some((input, source)) = projected_from(plan, column) {
        distinct = distinct.min(estimate(context, input, source).map_or(distinct, |(_, keys)| keys));
    } else if let Some(join) = plan.downcast_ref::<HashJoinExec>()
        && join.join_type == JoinType::Inner
        && let Some((side, index)) = join_column(join, column)
    {
        let (own, other) = match side {
            JoinSide::Left => (&join.left, &join.right),
            _ => (&join.right, &join.left),
        };
        distinct = distinct.min(estimate(context, own, index).map_or(distinct, |(_, keys)| keys));
        let own_key = |key: &Arc<dyn PhysicalExpr>| key.downcast_ref::<Column>().is_some_and(|key| key.index() == index);
        for (left_key, right_key) in &join.on {
            let (own_key_expression, other_key) = match side {
                JoinSide::Left => (left_key, right_key),
                _ => (right_key, left_key),
            };
            if let (true, Some(other_key)) = (own_key(own_key_expression), other_key.downcast_ref::<Column>()) {
                distinct = distinct.min(estimate(context, other, other_key.index()).map_or(distinct, |(_, keys)| keys));
            }
        }
    }
    Some((rows, distinct))
}

/// The input of the aggregation that groups `node`'s output `column` by itself, and the
/// input's column, when that comes unchanged from a tablet scan below (so a runtime filter on
/// it reaches the scan); through projections and the partial and final steps of one
/// aggregation.
fn aggregated_input(node: &Arc<dyn ExecutionPlan>, column: usize, grouped: bool) -> Option<(Arc<dyn ExecutionPlan>, usize)> {
    if let Some((input, source)) = projected_from(node, column) {
        return aggregated_input(input, source, grouped);
    }
    if node.downcast_ref::<AggregateExec>().is_some() {
        let (input, source) = grouped_from(node, column)?;
        return aggregated_input(input, source, true);
    }
    (grouped && crate::runtime_filter::trace(node, column).is_some()).then(|| (Arc::clone(node), column))
}
