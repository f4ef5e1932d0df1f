//! One-phase aggregation on bucketed data, as StarRocks plans it when the GROUP BY keys hold
//! a table's hash distribution columns.
//!
//! Why: a row's bucket is a hash of its distribution columns, and a tablet scan hands each
//! partition whole buckets (`TabletScanExec::bucketed_by`). Grouped by keys that include
//! those columns unchanged from the scan, every group's rows are in one partition already, so
//! the partial aggregation, the repartition by key and the final aggregation can be one
//! aggregation per partition. TPC-H q18 groups 6M lineitem rows by `l_orderkey` into 1.5M
//! groups: the partial aggregation hardly reduced them, and the repartition and the final
//! aggregation, which built a second table of 1.5M groups, took 40% of the query's CPU.
//!
//! The one-phase aggregation's partitions are the buckets', not DataFusion's hash of the
//! keys, and it declares no hash partitioning. So the rewrite is made only where nothing
//! above relies on the partitioning the final aggregation had: every node between it and
//! the nearest repartition or merge of partitions requires nothing of its input's
//! distribution and passes partitions through.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::{JoinSide, JoinType, Result};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{Distribution, ExecutionPlan, Partitioning};

use crate::column_lineage::{join_column, projected_from};
use crate::table_provider::TabletScanExec;

#[derive(Debug, Default)]
pub(crate) struct BucketAggregation;

impl PhysicalOptimizerRule for BucketAggregation {
    fn name(&self) -> &str {
        "cairn_bucket_aggregation"
    }

    fn schema_check(&self) -> bool {
        true
    }

    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        // Whoever reads the plan's output merges its partitions.
        rewrite(plan, true)
    }
}

/// `node` with each final aggregation that can be made one-phase so. `free`: nothing above
/// `node` relies on how its output is partitioned.
fn rewrite(node: Arc<dyn ExecutionPlan>, free: bool) -> Result<Arc<dyn ExecutionPlan>> {
    let node = match free.then(|| one_phase(&node)).flatten() {
        Some(one_phase) => one_phase,
        None => node,
    };
    let children: Vec<Arc<dyn ExecutionPlan>> = node.children().into_iter().cloned().collect();
    if children.is_empty() {
        return Ok(node);
    }
    let requirements = node.input_distribution_requirements();
    let merges = matches!(node.name(), "RepartitionExec" | "CoalescePartitionsExec" | "SortPreservingMergeExec");
    // Interleaving relies on its inputs being hash-partitioned alike, without requiring it.
    let interleaves = node.name() == "InterleaveExec";
    let mut new_children = Vec::with_capacity(children.len());
    for (index, child) in children.iter().enumerate() {
        let child_free = merges
            || !interleaves
                && match requirements.child_distribution(index) {
                    Some(Distribution::SinglePartition) => true,
                    Some(Distribution::UnspecifiedDistribution) | None => free,
                    // Keyed, by whatever name.
                    Some(_) => false,
                };
        new_children.push(rewrite(Arc::clone(child), child_free)?);
    }
    if children.iter().zip(&new_children).all(|(old, new)| Arc::ptr_eq(old, new)) {
        return Ok(node);
    }
    // The children's schemas are unchanged: a one-phase aggregation has the final one's.
    node.replace_children(new_children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
}

/// `node`, a final aggregation over a repartition over a partial aggregation whose keys
/// hold every distribution column of a bucketed scan, as one aggregation.
fn one_phase(node: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    let top = node.downcast_ref::<AggregateExec>()?;
    if *top.mode() != AggregateMode::FinalPartitioned || top.limit_options().is_some() {
        return None;
    }
    let repartition = skip_batch_coalescing(top.input());
    let repartition = repartition.downcast_ref::<RepartitionExec>()?;
    if !matches!(repartition.partitioning(), Partitioning::Hash(..)) {
        return None;
    }
    let partial = skip_batch_coalescing(repartition.input());
    let partial = partial.downcast_ref::<AggregateExec>()?;
    if *partial.mode() != AggregateMode::Partial || partial.group_expr().has_grouping_set() || partial.limit_options().is_some() {
        return None;
    }
    let input = partial.input();
    let grouped: Vec<(Arc<dyn ExecutionPlan>, usize)> = partial
        .group_expr()
        .expr()
        .iter()
        .filter_map(|(expression, _)| expression.downcast_ref::<Column>())
        .filter_map(|column| trace(input, column.index()))
        .collect();
    let holds_every_bucket_column = grouped.iter().any(|(scan, _)| {
        let bucketed_by = scan.downcast_ref::<TabletScanExec>().and_then(TabletScanExec::bucketed_by);
        bucketed_by.is_some_and(|columns| {
            columns.iter().all(|bucket_column| {
                grouped.iter().any(|(other, column)| Arc::ptr_eq(other, scan) && column == bucket_column)
            })
        })
    });
    if !holds_every_bucket_column {
        return None;
    }
    let one_phase = AggregateExec::try_new(
        AggregateMode::SinglePartitioned,
        partial.group_expr().clone(),
        partial.aggr_expr().to_vec(),
        partial.filter_expr().to_vec(),
        Arc::clone(input),
        partial.input_schema(),
    )
    .ok()?;
    let same_output = one_phase.schema().fields().len() == top.schema().fields().len()
        && one_phase.schema().fields().iter().zip(top.schema().fields()).all(|(new, old)| {
            new.name() == old.name() && new.data_type() == old.data_type() && new.is_nullable() == old.is_nullable()
        });
    same_output.then(|| Arc::new(one_phase) as Arc<dyn ExecutionPlan>)
}

fn skip_batch_coalescing(node: &Arc<dyn ExecutionPlan>) -> &Arc<dyn ExecutionPlan> {
    match node.children().as_slice() {
        [child] if node.name() == "CoalesceBatchesExec" => skip_batch_coalescing(child),
        _ => node,
    }
}

/// The tablet scan and its column that `column` of `node`'s output is, unchanged, with each
/// row in the partition the scan put it in.
fn trace(node: &Arc<dyn ExecutionPlan>, column: usize) -> Option<(Arc<dyn ExecutionPlan>, usize)> {
    if node.downcast_ref::<TabletScanExec>().is_some() {
        return Some((Arc::clone(node), column));
    }
    if let Some((input, source)) = projected_from(node, column) {
        return trace(input, source);
    }
    if let Some(join) = node.downcast_ref::<HashJoinExec>() {
        // Output partition i is probe partition i joined with the whole build side: only a
        // probe column, where every output row is a probe row, stays where the scan put it.
        if join.mode != PartitionMode::CollectLeft {
            return None;
        }
        return match (join.join_type, join_column(join, column)?) {
            (JoinType::Inner | JoinType::Right | JoinType::RightSemi | JoinType::RightAnti, (JoinSide::Right, index)) => {
                trace(&join.right, index)
            }
            _ => None,
        };
    }
    match node.children().as_slice() {
        [child] if matches!(node.name(), "CoalesceBatchesExec" | "CooperativeExec") => trace(child, column),
        _ => None,
    }
}
