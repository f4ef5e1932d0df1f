//! A physical optimizer rule: a hash join's dynamic filter runs in a tablet scan only where
//! it saves work between the scan and that join, and retires there when it proves
//! unselective (`scan_filter.rs`); TopK's dynamic filters are left alone.
//!
//! The filter's hash lookup is the same lookup the join's probe makes. When the scan feeds
//! the join directly (through projections and filters only) and that filter is the scan's
//! only dynamic one, running it in the scan does every probe twice and copies the survivors
//! once more: TPC-H q5's lineitem scan spent 14 ms on a filter that kept 15% of the rows for
//! the join right above it. It stays when the scan runs other joins' filters too, since it
//! then narrows the rows their lookups see (TPC-H q8: the part join's filter keeps 0.7% of
//! lineitem before the supplier join's filter runs), and wherever other joins, an
//! aggregation or a repartition sit in between (SSB's star joins, TPC-H q17's correlated
//! aggregate), where the early cut pays for itself many times. It also stays when the scan
//! can tabulate it (a key spanning few integers, `scan_filter.rs`): a bit test a row then
//! spares the join the probes of the rows it drops.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::HashJoinExec;

use crate::table_provider::TabletScanExec;

/// Nodes that hand the scan's rows to the join without doing work a dynamic filter saves.
const PASS_THROUGH: [&str; 4] = ["ProjectionExec", "FilterExec", "CoalesceBatchesExec", "CooperativeExec"];

#[derive(Debug, Default)]
pub(crate) struct DynamicFilterPlacement;

impl PhysicalOptimizerRule for DynamicFilterPlacement {
    fn name(&self) -> &str {
        "cairn_dynamic_filter_placement"
    }

    fn schema_check(&self) -> bool {
        true
    }

    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        let (mut join_filters, mut direct) = (HashSet::new(), HashSet::new());
        plan.apply(|node| {
            if let Some(join) = node.downcast_ref::<HashJoinExec>() {
                let ids = join.dynamic_expressions_produced().iter().filter_map(|filter| filter.expression_id()).collect::<Vec<_>>();
                if feeds_directly(join.right()) {
                    direct.extend(ids.iter().copied());
                }
                join_filters.extend(ids);
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        if join_filters.is_empty() {
            return Ok(plan);
        }
        plan.transform_up(|node| match node.downcast_ref::<TabletScanExec>() {
            Some(scan) => Ok(match scan.with_join_filters(&join_filters, &direct) {
                Some(scan) => Transformed::yes(Arc::new(scan) as Arc<dyn ExecutionPlan>),
                None => Transformed::no(node),
            }),
            None => Ok(Transformed::no(node)),
        })
        .map(|transformed| transformed.data)
    }
}

/// Whether `probe` is a tablet scan, seen through pass-through nodes only.
fn feeds_directly(probe: &Arc<dyn ExecutionPlan>) -> bool {
    let mut node = Arc::clone(probe);
    loop {
        if node.downcast_ref::<TabletScanExec>().is_some() {
            return true;
        }
        let next = match node.children().as_slice() {
            [child] if PASS_THROUGH.contains(&node.name()) => Arc::clone(child),
            _ => return false,
        };
        node = next;
    }
}
