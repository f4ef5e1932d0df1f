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
//! The `FilterExec` stays with only the equalities among them (`true` if none, or if its
//! projection drops their columns): it still makes its projection, gathers the scan's small
//! filtered batches into full ones, which the operators above are faster with, and knows
//! what it knew about its rows (the plan above may rely on `sensor_id = 1` making
//! `sensor_id` constant).

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_expr::utils::{collect_columns, conjunction};
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
            // which an ordering above may rely on); they stay where that knowledge reaches the
            // output. Where the filter's projection drops their columns it does not, and they
            // go too: SSB flat q3.1 tested `c_region = 'ASIA' AND s_region = 'ASIA'` again on
            // the 220K rows the scan kept, for columns nothing above reads.
            let equalities: Vec<Arc<dyn PhysicalExpr>> = conjuncts
                .into_iter()
                .filter(|conjunct| conjunct.downcast_ref::<BinaryExpr>().is_some_and(|binary| *binary.op() == Operator::Eq))
                .cloned()
                .collect();
            let keeps_the_plan_informed = |predicate: Arc<dyn PhysicalExpr>| -> Result<Option<Arc<dyn ExecutionPlan>>> {
                if predicate.as_ref() == filter.predicate().as_ref() {
                    return Ok(None);
                }
                let rebuilt: Arc<dyn ExecutionPlan> = Arc::new(FilterExecBuilder::from(filter).with_predicate(predicate).build()?);
                let knows_the_same = what_it_knows(&rebuilt) == what_it_knows(&node);
                Ok((knows_the_same && rebuilt.schema() == node.schema()).then_some(rebuilt))
            };
            let rebuilt = match keeps_the_plan_informed(conjunction(Vec::new()))? {
                Some(rebuilt) => Some(rebuilt),
                None if !equalities.is_empty() => keeps_the_plan_informed(conjunction(equalities))?,
                None => None,
            };
            Ok(match rebuilt {
                Some(rebuilt) => Transformed::yes(rebuilt),
                None => Transformed::no(node),
            })
        })
        .map(|transformed| transformed.data)
    }
}

/// What `plan` tells the plan above about its rows: its orderings and its classes of equal
/// expressions. A class of literals alone (what is left of `category = 'rare'` once the
/// projection drops `category`) says nothing of the output and is left out.
fn what_it_knows(plan: &Arc<dyn ExecutionPlan>) -> String {
    let properties = plan.properties().equivalence_properties();
    let classes: Vec<String> = properties
        .eq_group()
        .iter()
        .filter(|class| class.iter().any(|member| !collect_columns(member).is_empty()))
        .map(ToString::to_string)
        .collect();
    format!("order: {}, eq: [{}]", properties.oeq_class(), classes.join(", "))
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
