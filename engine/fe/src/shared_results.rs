//! A query that computes the same aggregation twice computes it once: a common table
//! expression referenced twice, which DataFusion plans as two copies of its plan.
//!
//! Why: TPC-H q15 reads its `revenue0` view twice, once for `max(total_revenue)` and once to
//! join it with supplier. Each copy scans lineitem's 6M rows for three months of shipments
//! and aggregates them by supplier (EXPLAIN ANALYZE: about 14 ms of scan each), one after the
//! other, since the scalar subquery runs first.
//!
//! The rule [`SharedResults`] finds aggregations whose plans are the same, text for text, and
//! puts a [`SharedResultExec`] over each copy; the copies share one result per partition.
//! Whichever copy is read first computes it and keeps it, the other replays it. Only final
//! aggregations are shared: their results have a row a group, not a row a fact, so keeping
//! one costs little, and it is not accounted to DataFusion's memory pool. A plan that calls a
//! volatile function (two calls of `random()` must differ), holds a runtime or dynamic filter
//! (each filled by its own join, though two may print alike before they run) or reads a
//! recursive query's work table is never shared.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, Statistics};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr_common::physical_expr::is_volatile;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream, displayable};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

/// The result of one shared plan, per partition, once a copy has computed it.
#[derive(Debug)]
struct SharedResult {
    partitions: Vec<OnceCell<Arc<Vec<RecordBatch>>>>,
}

/// One copy of a plan whose result is shared with the other copies.
#[derive(Debug)]
pub(crate) struct SharedResultExec {
    input: Arc<dyn ExecutionPlan>,
    shared: Arc<SharedResult>,
    /// How many copies share the result, for EXPLAIN.
    copies: usize,
}

impl DisplayAs for SharedResultExec {
    fn fmt_as(&self, _format: DisplayFormatType, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "SharedResultExec: copies={}", self.copies)
    }
}

impl ExecutionPlan for SharedResultExec {
    fn name(&self) -> &str {
        "SharedResultExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _visit: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // A new input is a different plan: it no longer shares this result.
        match <[_; 1]>::try_from(children) {
            Ok([input]) if Arc::ptr_eq(&input, &self.input) => Ok(self),
            Ok([input]) => Ok(input),
            Err(_) => Err(DataFusionError::Internal("SharedResultExec takes one input".to_string())),
        }
    }

    #[allow(deprecated)]
    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(&self, input_stats: &[Arc<Statistics>], _args: &StatisticsArgs) -> Result<Arc<Statistics>> {
        match input_stats {
            [statistics] => Ok(Arc::clone(statistics)),
            _ => Ok(Arc::new(Statistics::new_unknown(&self.input.schema()))),
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let shared = Arc::clone(&self.shared);
        let input = Arc::clone(&self.input);
        if partition >= shared.partitions.len() {
            return Err(DataFusionError::Internal(format!("SharedResultExec has no partition {partition}")));
        }
        let batches = futures::stream::once(async move {
            let result = shared.partitions[partition]
                .get_or_try_init(|| async move {
                    let batches: Vec<RecordBatch> = input.execute(partition, context)?.try_collect().await?;
                    Ok::<_, DataFusionError>(Arc::new(batches))
                })
                .await?;
            Ok::<_, DataFusionError>(futures::stream::iter(result.as_ref().clone().into_iter().map(Ok)))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.input.schema(), batches.boxed())))
    }
}

#[derive(Debug, Default)]
pub(crate) struct SharedResults;

impl PhysicalOptimizerRule for SharedResults {
    fn name(&self) -> &str {
        "cairn_shared_results"
    }

    fn schema_check(&self) -> bool {
        true
    }

    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        // Most queries have one final aggregation at most: their plans are not printed.
        let mut finals = 0;
        plan.apply(|node| {
            finals += usize::from(is_final_aggregation(node));
            Ok(TreeNodeRecursion::Continue)
        })?;
        if finals < 2 {
            return Ok(plan);
        }
        // Each shareable plan's text by its node, and how often each text occurs; within a
        // copy too, since the copy may be the part of a larger plan that repeats.
        let mut texts: HashMap<*const (), String> = HashMap::new();
        let mut copies: HashMap<String, usize> = HashMap::new();
        plan.apply(|node| {
            if let Some(text) = shareable(node) {
                *copies.entry(text.clone()).or_default() += 1;
                texts.insert(Arc::as_ptr(node).cast::<()>(), text);
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        copies.retain(|_, count| *count > 1);
        if copies.is_empty() {
            return Ok(plan);
        }
        let mut results: HashMap<String, Arc<SharedResult>> = HashMap::new();
        // Top down, the nodes visited are those of `plan`, which the texts were taken from.
        plan.transform_down(|node| {
            let Some(text) = texts.get(&Arc::as_ptr(&node).cast::<()>()).filter(|text| copies.contains_key(*text)) else {
                return Ok(Transformed::no(node));
            };
            let partitions = node.properties().output_partitioning().partition_count();
            let shared = results
                .entry(text.clone())
                .or_insert_with(|| Arc::new(SharedResult { partitions: (0..partitions).map(|_| OnceCell::new()).collect() }));
            let exec = SharedResultExec { input: node, shared: Arc::clone(shared), copies: copies[text] };
            // The outermost copy is shared whole, its parts with it.
            Ok(Transformed::new(Arc::new(exec) as Arc<dyn ExecutionPlan>, true, TreeNodeRecursion::Jump))
        })
        .map(|transformed| transformed.data)
    }
}

fn is_final_aggregation(node: &Arc<dyn ExecutionPlan>) -> bool {
    node.downcast_ref::<AggregateExec>().is_some_and(|aggregate| {
        matches!(
            aggregate.mode(),
            AggregateMode::Final | AggregateMode::FinalPartitioned | AggregateMode::Single | AggregateMode::SinglePartitioned
        )
    })
}

/// The text that identifies `node`'s plan, if it is a final aggregation that may be shared.
fn shareable(node: &Arc<dyn ExecutionPlan>) -> Option<String> {
    if !is_final_aggregation(node) {
        return None;
    }
    let mut refused = false;
    node.apply(|descendant| {
        // A recursive query's work table holds other rows at each step. DataFusion refuses two
        // references to it, so no two copies read it today; this keeps it so.
        if matches!(descendant.name(), "RuntimeFilterBuildExec" | "SharedResultExec" | "WorkTableExec") {
            refused = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        descendant.apply_expressions(&mut |expression| {
            let filled_at_run_time = expression.exists(|part| {
                Ok(part.downcast_ref::<datafusion::physical_expr::expressions::DynamicFilterPhysicalExpr>().is_some()
                    || part.downcast_ref::<crate::runtime_filter::RuntimeFilterExpr>().is_some())
            })?;
            refused |= filled_at_run_time || is_volatile(expression);
            Ok(if refused { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
        })
    })
    .ok()?;
    // A node that holds a runtime or dynamic filter without listing it among its expressions
    // still names it in its text (a tablet scan lists its filter's).
    let text = displayable(node.as_ref()).indent(true).to_string();
    let filled_at_run_time = text.contains("runtime_filter(") || text.contains("DynamicFilter");
    (!refused && !filled_at_run_time).then_some(text)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::physical_plan::collect;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;

    fn context() -> Result<SessionContext> {
        let context = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false), Field::new("v", DataType::Int64, true)]));
        let batches = (0..4i64)
            .map(|batch| {
                let rows = batch * 500..batch * 500 + 500;
                let k: Int64Array = rows.clone().map(|row| row % 37).collect();
                let v: Int64Array = rows.map(|row| (row % 11 != 0).then_some(row * 7 % 1000)).collect();
                RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(k), Arc::new(v)])
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        context.register_table("t", Arc::new(MemTable::try_new(schema, vec![batches[..2].to_vec(), batches[2..].to_vec()])?))?;
        Ok(context)
    }

    /// The plan of `query` with [`SharedResults`] applied if `shared`, its result as text,
    /// and for each shared copy whether its own plan ran.
    async fn run(query: &str, shared: bool) -> Result<(String, String, Vec<bool>)> {
        let context = context()?;
        let plan = context.sql(query).await?.create_physical_plan().await?;
        let plan = if shared { SharedResults.optimize(plan, &ConfigOptions::default())? } else { plan };
        let result = pretty_format_batches(&collect(Arc::clone(&plan), context.task_ctx()).await?)?.to_string();
        let mut ran = Vec::new();
        plan.apply(|node| {
            if let Some(shared) = node.downcast_ref::<SharedResultExec>() {
                ran.push(shared.input.metrics().and_then(|metrics| metrics.output_rows()).is_some_and(|rows| rows > 0));
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        Ok((displayable(plan.as_ref()).indent(false).to_string(), result, ran))
    }

    /// A common table expression read twice is aggregated once, and the query's result is
    /// DataFusion's.
    #[tokio::test]
    async fn an_aggregation_planned_twice_runs_once() -> Result<()> {
        let query = "WITH r AS (SELECT k, sum(v) AS s FROM t GROUP BY k) \
                     SELECT r.k, r.s FROM r WHERE r.s >= (SELECT avg(s) FROM r) ORDER BY r.k";
        let (_, expected, _) = run(query, false).await?;
        let (plan, got, ran) = run(query, true).await?;
        assert_eq!(got, expected, "{plan}");
        assert!(expected.lines().count() > 10, "{expected}");
        let computed = ran.iter().filter(|ran| **ran).count();
        assert_eq!((ran.len(), computed), (2, 1), "one copy computes the result, the other replays it: {plan}");
        Ok(())
    }

    /// Copies that call a volatile function are two computations, and stay two; one called
    /// above them (on each copy's result) leaves them shared.
    #[tokio::test]
    async fn volatile_copies_are_not_shared() -> Result<()> {
        let query = "WITH r AS (SELECT k, sum(v + random()) AS s FROM t GROUP BY k) \
                     SELECT r.k FROM r WHERE r.s >= (SELECT avg(s) FROM r)";
        let (plan, _, ran) = run(query, true).await?;
        assert!(ran.is_empty(), "{plan}");
        let (plan, _, ran) = run(&query.replace("sum(v + random())", "sum(v) + random()"), true).await?;
        assert_eq!(ran.len(), 2, "{plan}");
        Ok(())
    }
}
