//! A `FilterExec` over a tablet scan stops evaluating the conjuncts the scan applies
//! itself.
//!
//! Why: `OlapTable` takes filters Inexact, since at pushdown it can not yet tell which ones
//! the scan will be able to plan, so DataFusion keeps a `FilterExec` over the scan. The scan
//! applies the ones it planned exactly (`ScanFilter`, whose failures are the query's), and
//! the `FilterExec` evaluated them all a second time on the survivors. TPC-H q13's
//! `o_comment NOT LIKE '%special%requests%'` is a regular expression over 1.5M strings,
//! 116-196 ms of CPU each time.
//!
//! The `FilterExec` stays with only the equalities among them (`true` if none): it still
//! makes its projection, gathers the scan's small filtered batches into full ones, which
//! the operators above are faster with, and knows what it knew about its rows (the plan
//! above may rely on `sensor_id = 1` making `sensor_id` constant).

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_expr::utils::conjunction;
use datafusion::physical_expr::{PhysicalExpr, split_conjunction};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};

use crate::table_provider::TabletScanExec;

#[derive(Debug, Default)]
pub(crate) struct RedundantFilters;

impl PhysicalOptimizerRule for RedundantFilters {
    fn name(&self) -> &str {
        "cairn_redundant_filters"
    }

    fn schema_check(&self) -> bool {
        true
    }

    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(filter) = node.downcast_ref::<FilterExec>() else { return Ok(Transformed::no(node)) };
            let Some(scan_filter) = scan_below(filter.input()).and_then(TabletScanExec::filter) else {
                return Ok(Transformed::no(node));
            };
            let conjuncts = split_conjunction(filter.predicate());
            if !conjuncts.iter().all(|conjunct| scan_filter.applies(conjunct.as_ref())) {
                return Ok(Transformed::no(node));
            }
            // Equalities tell the plan about the rows (a column equal to a literal is constant,
            // which an ordering above may rely on); they stay, cheap as they are.
            let equalities: Vec<Arc<dyn PhysicalExpr>> = conjuncts
                .into_iter()
                .filter(|conjunct| conjunct.downcast_ref::<BinaryExpr>().is_some_and(|binary| *binary.op() == Operator::Eq))
                .cloned()
                .collect();
            let predicate = conjunction(equalities);
            if predicate.as_ref() == filter.predicate().as_ref() {
                return Ok(Transformed::no(node));
            }
            let rebuilt: Arc<dyn ExecutionPlan> = Arc::new(FilterExecBuilder::from(filter).with_predicate(predicate).build()?);
            let knows_the_same = rebuilt.properties().equivalence_properties().to_string() == node.properties().equivalence_properties().to_string();
            Ok(if knows_the_same && rebuilt.schema() == node.schema() { Transformed::yes(rebuilt) } else { Transformed::no(node) })
        })
        .map(|transformed| transformed.data)
    }
}

/// The tablet scan `node` is, or passes on unchanged: a repartition (a one-tablet scan is
/// spread round-robin) or batch coalescing keeps the scan's schema and rows.
fn scan_below(node: &Arc<dyn ExecutionPlan>) -> Option<&TabletScanExec> {
    if let Some(scan) = node.downcast_ref::<TabletScanExec>() {
        return Some(scan);
    }
    match node.children().as_slice() {
        [child] if matches!(node.name(), "RepartitionExec" | "CoalesceBatchesExec" | "CooperativeExec") => scan_below(child),
        _ => None,
    }
}
