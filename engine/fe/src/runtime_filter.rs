//! Runtime filters: a hash join on one integer key hands the tablet scan under its probe side
//! a bitmap of the keys its build side holds, and the scan drops the rows whose key is not in
//! it before they are copied up to the join. StarRocks builds the same kind of filter (its
//! runtime IN and bitset filters) from a join's build side.
//!
//! Why: DataFusion's own dynamic filter for such a join is the key's range and a lookup in the
//! join's hash table, the probe done twice; `dynamic_filters.rs` therefore drops it where the
//! scan feeds the join directly. Without it the join probes every row. TPC-H q4's semi join
//! probed 3.8M lineitem rows at about 17 ns each to keep 52 000, and q3, q5, q10 and others
//! join lineitem with a few percent of orders the same way. Orders' keys span 6M integers,
//! too many for the scan to tabulate the dynamic filter over (`scan_filter.rs`), but a bitmap
//! of 6M bits is 750 KB, set from the build side's keys in one pass, and a row then costs a
//! bit test.
//!
//! [`RuntimeFilterBuildExec`] sits on the join's build side, passes its batches through and
//! collects their keys; when every build partition has ended it publishes the bitmap. The
//! probe scan reads nothing until then: DataFusion starts the scans under a repartition or a
//! join's build side as soon as the plan executes, before the joins above have read their
//! build sides, and TPC-H q7's customer scan passed 141 000 of its 150 000 rows through a
//! filter that keeps 12 000, published a moment too late. The wait is bounded
//! ([`SCAN_WAIT_AT_MOST`]); past it, or where a key span beyond [`SPAN_AT_MOST`] builds no
//! bitmap, the scan's [`RuntimeFilterExpr`] keeps every row (or, where the join's dynamic
//! filter was pushed to the scan, runs that instead). Keys outside the bitmap's span are
//! simply not among the build side's.
//!
//! The rule [`RuntimeFilters`] places the filter only where dropping probe rows without a
//! matching key leaves the join's output unchanged (inner, left outer, semi and left anti
//! joins; not right, full or right anti joins, nor null-aware anti joins), and follows the key
//! down to a tablet scan through projections, filters, repartitions and other joins, where it
//! passes from the side it comes from unchanged.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use datafusion::arrow::array::{Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Int8Type, Int16Type, Int32Type, Int64Type, Schema, SchemaRef, UInt8Type, UInt16Type, UInt32Type,
};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, JoinSide, JoinType, NullEquality, Result, Statistics};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::{Stream, StreamExt};
use parking_lot::Mutex;

use crate::column_lineage::{grouped_from, join_column, projected_from};
use crate::span_bitmap::SpanBitmap;
use crate::table_provider::TabletScanExec;

/// The widest key span a bitmap covers: 32M bits, 4 MB. Wider, a row's bit test misses the
/// caches about as often as the join's own probe would.
pub(crate) const SPAN_AT_MOST: u64 = 1 << 25;

/// The longest a scan waits for the runtime filters of the joins above it to be built before
/// it reads without them (StarRocks' `runtime_filter_scan_wait_time` plays the same part).
pub(crate) const SCAN_WAIT_AT_MOST: Duration = Duration::from_secs(1);

/// The build side's keys as bits: the bit of each key present is set.
#[derive(Debug)]
pub(crate) struct KeyBitmap {
    bitmap: SpanBitmap,
    /// Distinct keys, for `EXPLAIN`.
    keys: usize,
}

impl KeyBitmap {
    /// The bitmap of `keys`; `None` when they span more than [`SPAN_AT_MOST`].
    fn build(keys: &[i64]) -> Option<KeyBitmap> {
        let (Some(min), Some(max)) = (keys.iter().min().copied(), keys.iter().max().copied()) else {
            return Some(KeyBitmap { bitmap: SpanBitmap::new(0, 0, Vec::new()), keys: 0 });
        };
        let span = u64::try_from(i128::from(max) - i128::from(min) + 1).ok().filter(|span| *span <= SPAN_AT_MOST)?;
        let mut words = vec![0u64; span.div_ceil(64) as usize];
        for key in keys {
            let offset = key.wrapping_sub(min) as u64;
            if let Some(word) = words.get_mut((offset / 64) as usize) {
                *word |= 1 << (offset % 64);
            }
        }
        // Distinct keys: a build side repeating a key (a fact table's) sets its bit once.
        let distinct = words.iter().map(|word| word.count_ones() as usize).sum();
        Some(KeyBitmap { bitmap: SpanBitmap::new(min, span, words), keys: distinct })
    }

    /// Whether each row's key is in the bitmap (NULL is not; a key outside the span is not
    /// one of the build side's); only at the rows of `within` if given. `None` for a column
    /// of a type the build side's keys can not equal.
    fn rows(&self, array: &ArrayRef, within: Option<&BooleanBuffer>) -> Option<BooleanBuffer> {
        self.bitmap.rows(array, within, false).map(|(bits, _outside)| bits)
    }

    /// The span is from the smallest key to the largest; no keys build an empty span.
    fn range(&self) -> KeyRange {
        match self.bitmap.bounds() {
            Some((smallest, largest)) => KeyRange::Between(smallest, largest),
            None => KeyRange::Empty,
        }
    }
}

/// What a published bitmap tells a scan before it reads: which values its key column must
/// hold for a row to pass, as bounds storage can skip row groups and whole rowsets by. A
/// fact table partitioned by date and joined with a year of dates then reads that year's
/// partition alone, as StarRocks' scans prune by their runtime filters' min and max.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyRange {
    /// The build side has no keys: no row passes.
    Empty,
    /// Every key lies between these, inclusive.
    Between(i64, i64),
}

/// Where a join's build side publishes its bitmap for the probe scan, shared by the
/// [`RuntimeFilterBuildExec`] and the [`RuntimeFilterExpr`] of one join.
#[derive(Debug)]
pub(crate) struct RuntimeFilterSlot {
    /// Build partitions that must end before the bitmap is complete.
    partitions: usize,
    state: Mutex<SlotState>,
    /// Woken when every build partition has ended.
    built: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct SlotState {
    started: usize,
    ended: usize,
    /// Every build partition of this execution has ended: the bitmap is published, or will
    /// not be.
    built: bool,
    keys: Vec<i64>,
    /// False once some partition could not give its keys; no bitmap is published then.
    usable: bool,
    bitmap: Option<Arc<KeyBitmap>>,
}

impl RuntimeFilterSlot {
    fn new(partitions: usize) -> RuntimeFilterSlot {
        RuntimeFilterSlot {
            partitions,
            state: Mutex::new(SlotState { usable: true, ..SlotState::default() }),
            built: tokio::sync::Notify::new(),
        }
    }

    /// A build partition starts. Once every partition has started, the next start belongs to
    /// a new execution of the plan, which must not see the last one's keys.
    fn start(&self) {
        let mut state = self.state.lock();
        if state.started == self.partitions {
            *state = SlotState { usable: true, ..SlotState::default() };
        }
        state.started += 1;
    }

    /// A build partition ended with `keys` (`None`: its keys could not be read).
    fn end(&self, keys: Option<Vec<i64>>) {
        let mut state = self.state.lock();
        match keys {
            Some(keys) => state.keys.extend(keys),
            None => state.usable = false,
        }
        state.ended += 1;
        if state.ended == self.partitions {
            if state.usable {
                let keys = std::mem::take(&mut state.keys);
                state.bitmap = KeyBitmap::build(&keys).map(Arc::new);
            }
            state.built = true;
            drop(state);
            self.built.notify_waiters();
        }
    }

    /// Returns once every build partition has ended, or after `timeout`.
    async fn wait_until_built(&self, timeout: Duration) {
        let built = async {
            loop {
                let notified = self.built.notified();
                let mut notified = std::pin::pin!(notified);
                // Registered before the check, so an end between the two still wakes it.
                notified.as_mut().enable();
                if self.state.lock().built {
                    return;
                }
                notified.await;
            }
        };
        // The timeout is only a guard: the build side runs before the join reads its probe
        // side, so it ends unless a consumer drives the join's partitions one at a time.
        let _ = tokio::time::timeout(timeout, built).await;
    }

    pub(crate) fn bitmap(&self) -> Option<Arc<KeyBitmap>> {
        self.state.lock().bitmap.clone()
    }
}

/// The probe side's test: the row's key is among the build side's keys. Until the build side
/// has ended (or if its keys made no bitmap) it runs `fallback`, the join's own dynamic filter
/// where one was pushed to the scan, or keeps every row.
#[derive(Debug, Clone)]
pub(crate) struct RuntimeFilterExpr {
    key: Arc<dyn PhysicalExpr>,
    fallback: Option<Arc<dyn PhysicalExpr>>,
    slot: Arc<RuntimeFilterSlot>,
}

impl RuntimeFilterExpr {
    pub(crate) fn new(key: Arc<dyn PhysicalExpr>, fallback: Option<Arc<dyn PhysicalExpr>>, slot: Arc<RuntimeFilterSlot>) -> Self {
        RuntimeFilterExpr { key, fallback, slot }
    }

    /// Returns once the build side has ended (its bitmap published, or known not to come), or
    /// after `timeout`.
    pub(crate) async fn wait_until_built(&self, timeout: Duration) {
        self.slot.wait_until_built(timeout).await;
    }

    /// The scan's output column the filter tests and the range of the build side's keys;
    /// `None` before the bitmap is published, or when the key is not a plain column.
    pub(crate) fn key_range(&self) -> Option<(usize, KeyRange)> {
        let column = self.key.downcast_ref::<Column>()?;
        Some((column.index(), self.slot.bitmap()?.range()))
    }

    /// The rows (of `within`, if given) whose key the build side holds; `None` before the
    /// bitmap is published.
    pub(crate) fn rows(&self, batch: &RecordBatch, within: Option<&BooleanBuffer>) -> Result<Option<BooleanBuffer>> {
        let Some(bitmap) = self.slot.bitmap() else {
            return Ok(None);
        };
        let keys = self.key.evaluate(batch)?.into_array(batch.num_rows())?;
        Ok(bitmap.rows(&keys, within))
    }
}

impl PartialEq for RuntimeFilterExpr {
    fn eq(&self, other: &Self) -> bool {
        self.key.as_ref() == other.key.as_ref() && Arc::ptr_eq(&self.slot, &other.slot)
    }
}

impl Eq for RuntimeFilterExpr {}

impl Hash for RuntimeFilterExpr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
        Arc::as_ptr(&self.slot).hash(state);
    }
}

impl fmt::Display for RuntimeFilterExpr {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "runtime_filter({}", self.key)?;
        if let Some(bitmap) = self.slot.bitmap() {
            write!(formatter, ", {} keys over {}", bitmap.keys, bitmap.bitmap.span())?;
        }
        write!(formatter, ")")
    }
}

impl PhysicalExpr for RuntimeFilterExpr {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, _input_schema: &Schema) -> Result<bool> {
        Ok(false)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        if let Some(rows) = self.rows(batch, None)? {
            return Ok(ColumnarValue::Array(Arc::new(BooleanArray::new(rows, None))));
        }
        match &self.fallback {
            Some(fallback) => fallback.evaluate(batch),
            None => Ok(ColumnarValue::Scalar(true.into())),
        }
    }

    /// The join's dynamic filter is a child, so the join finds it among its probe side's
    /// expressions and keeps filling it.
    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        std::iter::once(&self.key).chain(&self.fallback).collect()
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn PhysicalExpr>>) -> Result<Arc<dyn PhysicalExpr>> {
        let mut children = children.into_iter();
        let key = children.next().ok_or_else(|| DataFusionError::Internal("runtime_filter takes a key".to_string()))?;
        let fallback = children.next();
        Ok(Arc::new(RuntimeFilterExpr { key, fallback, slot: Arc::clone(&self.slot) }))
    }

    fn fmt_sql(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "runtime_filter(")?;
        self.key.fmt_sql(formatter)?;
        write!(formatter, ")")
    }
}

/// Passes a join's build side through and collects its keys into the join's
/// [`RuntimeFilterSlot`].
#[derive(Debug)]
pub(crate) struct RuntimeFilterBuildExec {
    input: Arc<dyn ExecutionPlan>,
    key: Arc<dyn PhysicalExpr>,
    slot: Arc<RuntimeFilterSlot>,
}

impl RuntimeFilterBuildExec {
    fn new(input: Arc<dyn ExecutionPlan>, key: Arc<dyn PhysicalExpr>, slot: Arc<RuntimeFilterSlot>) -> Self {
        RuntimeFilterBuildExec { input, key, slot }
    }
}

impl DisplayAs for RuntimeFilterBuildExec {
    fn fmt_as(&self, _format: DisplayFormatType, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "RuntimeFilterBuildExec: build_expr={}", self.key)?;
        if let Some(bitmap) = self.slot.bitmap() {
            write!(formatter, ", keys={}, span={}", bitmap.keys, bitmap.bitmap.span())?;
        }
        Ok(())
    }
}

impl ExecutionPlan for RuntimeFilterBuildExec {
    fn name(&self) -> &str {
        "RuntimeFilterBuildExec"
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
        visit: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        visit(&self.key)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match <[_; 1]>::try_from(children) {
            Ok([input]) => Ok(Arc::new(RuntimeFilterBuildExec::new(input, Arc::clone(&self.key), Arc::clone(&self.slot)))),
            Err(_) => Err(DataFusionError::Internal("RuntimeFilterBuildExec takes one input".to_string())),
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
        self.slot.start();
        let input = self.input.execute(partition, context)?;
        Ok(Box::pin(CollectingStream {
            schema: input.schema(),
            input,
            key: Arc::clone(&self.key),
            slot: Arc::clone(&self.slot),
            keys: Some(Vec::new()),
            ended: false,
        }))
    }
}

struct CollectingStream {
    schema: SchemaRef,
    input: SendableRecordBatchStream,
    key: Arc<dyn PhysicalExpr>,
    slot: Arc<RuntimeFilterSlot>,
    /// `None` once a batch's keys could not be read as integers.
    keys: Option<Vec<i64>>,
    ended: bool,
}

impl CollectingStream {
    fn collect_keys(&mut self, batch: &RecordBatch) {
        let Some(keys) = self.keys.as_mut() else { return };
        let array = match self.key.evaluate(batch).and_then(|value| value.into_array(batch.num_rows())) {
            Ok(array) => array,
            Err(_) => {
                // The join evaluates the same keys and reports the error; the filter just
                // does not come to be.
                self.keys = None;
                return;
            }
        };
        if !append_integers(&array, keys) {
            self.keys = None;
        }
    }
}

/// Appends the non-NULL values of an integer `array` to `keys`; false for another type.
fn append_integers(array: &ArrayRef, keys: &mut Vec<i64>) -> bool {
    fn typed<T: ArrowPrimitiveType>(array: &ArrayRef, keys: &mut Vec<i64>) -> bool
    where
        T::Native: Into<i64>,
    {
        let Some(values) = array.as_primitive_opt::<T>() else { return false };
        if values.null_count() == 0 {
            keys.extend(values.values().iter().map(|value| (*value).into()));
        } else {
            keys.extend(values.iter().flatten().map(Into::into));
        }
        true
    }
    match array.data_type() {
        DataType::Int8 => typed::<Int8Type>(array, keys),
        DataType::Int16 => typed::<Int16Type>(array, keys),
        DataType::Int32 => typed::<Int32Type>(array, keys),
        DataType::Int64 => typed::<Int64Type>(array, keys),
        DataType::UInt8 => typed::<UInt8Type>(array, keys),
        DataType::UInt16 => typed::<UInt16Type>(array, keys),
        DataType::UInt32 => typed::<UInt32Type>(array, keys),
        DataType::Date32 => typed::<Date32Type>(array, keys),
        _ => false,
    }
}

impl Stream for CollectingStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.input.poll_next_unpin(context);
        match &polled {
            Poll::Ready(Some(Ok(batch))) => self.collect_keys(batch),
            Poll::Ready(None) if !self.ended => {
                self.ended = true;
                let keys = self.keys.take();
                self.slot.end(keys);
            }
            // An error ends the join; its bitmap is never needed.
            _ => {}
        }
        polled
    }
}

impl RecordBatchStream for CollectingStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

#[derive(Debug, Default)]
pub(crate) struct RuntimeFilters;

impl PhysicalOptimizerRule for RuntimeFilters {
    fn name(&self) -> &str {
        "cairn_runtime_filters"
    }

    fn schema_check(&self) -> bool {
        true
    }

    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            Ok(match place(&node)? {
                Some(rewritten) => Transformed::yes(rewritten),
                None => Transformed::no(node),
            })
        })
        .map(|transformed| transformed.data)
    }
}

/// `node` with a runtime filter from its build side to the scan under its probe side, if it
/// is a join that can have one.
fn place(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(join) = node.downcast_ref::<HashJoinExec>() else { return Ok(None) };
    // Joins whose output does not change when probe rows without a matching key go.
    let drops_unmatched_probe_rows = matches!(
        join.join_type,
        JoinType::Inner | JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti | JoinType::RightSemi
    );
    if !drops_unmatched_probe_rows || join.null_aware || join.null_equality != NullEquality::NullEqualsNothing {
        return Ok(None);
    }
    // A probe row matches only if every key does: filtering on one key of several only lets
    // through rows the others then drop.
    let mut filterable = None;
    for (build_key, probe_key) in &join.on {
        let Some(probe_column) = probe_key.downcast_ref::<Column>() else { continue };
        let (build_type, probe_type) = (build_key.data_type(&join.left.schema())?, probe_key.data_type(&join.right.schema())?);
        if build_type == probe_type && SpanBitmap::looks_up(&build_type) {
            filterable = trace(&join.right, probe_column.index()).map(|(scan, position)| (build_key, scan, position));
            if filterable.is_some() {
                break;
            }
        }
    }
    let Some((build_key, scan_node, position)) = filterable else { return Ok(None) };
    let Some(scan) = scan_node.downcast_ref::<TabletScanExec>() else { return Ok(None) };
    let slot = Arc::new(RuntimeFilterSlot::new(join.left.properties().output_partitioning().partition_count()));
    let own_dynamic_filter = join.dynamic_expressions_produced().first().and_then(|filter| filter.expression_id());
    let Some(filtered_scan) = scan.with_runtime_filter(position, own_dynamic_filter, Arc::clone(&slot)) else { return Ok(None) };
    let filtered_scan: Arc<dyn ExecutionPlan> = Arc::new(filtered_scan);
    let probe = Arc::clone(&join.right)
        .transform_down(|node| {
            Ok(if Arc::ptr_eq(&node, &scan_node) {
                Transformed::new(Arc::clone(&filtered_scan), true, TreeNodeRecursion::Jump)
            } else {
                Transformed::no(node)
            })
        })?
        .data;
    let build: Arc<dyn ExecutionPlan> = Arc::new(RuntimeFilterBuildExec::new(Arc::clone(&join.left), Arc::clone(build_key), slot));
    Ok(Some(Arc::clone(node).replace_children(vec![build, probe], ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))?))
}

/// The tablet scan and its output column that `column` of `node`'s output comes from
/// unchanged, through nodes that drop or repeat rows but never alter a value: dropping the
/// scan's rows without a matching key only drops rows above that the join would drop.
pub(crate) fn trace(node: &Arc<dyn ExecutionPlan>, column: usize) -> Option<(Arc<dyn ExecutionPlan>, usize)> {
    if node.downcast_ref::<TabletScanExec>().is_some() {
        return Some((Arc::clone(node), column));
    }
    if let Some((input, source)) = projected_from(node, column) {
        return trace(input, source);
    }
    // A group's key: the input rows a key matches nothing in are exactly those of the groups
    // whose key matches nothing.
    if node.downcast_ref::<AggregateExec>().is_some() {
        let (input, source) = grouped_from(node, column)?;
        return trace(input, source);
    }
    if let Some(join) = node.downcast_ref::<HashJoinExec>() {
        // Only from a side each of whose output rows carries one of its rows' values.
        return match (join.join_type, join_column(join, column)?) {
            (JoinType::Inner | JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti, (JoinSide::Left, index)) => trace(&join.left, index),
            (JoinType::Inner | JoinType::Right | JoinType::RightSemi | JoinType::RightAnti, (JoinSide::Right, index)) => {
                trace(&join.right, index)
            }
            _ => None,
        };
    }
    match node.children().as_slice() {
        [child]
            if matches!(
                node.name(),
                "RepartitionExec" | "CoalesceBatchesExec" | "CooperativeExec" | "CoalescePartitionsExec" | "RuntimeFilterBuildExec"
            ) =>
        {
            trace(child, column)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int32Array, Int64Array};

    use super::*;

    #[test]
    fn bitmap_holds_the_build_keys_and_nothing_else() {
        let bitmap = KeyBitmap::build(&[10, 12, 12, 75, 1_000_000]).expect("a small span");
        assert_eq!(bitmap.keys, 4, "EXPLAIN counts distinct keys");
        assert_eq!(bitmap.range(), KeyRange::Between(10, 1_000_000));
        assert_eq!(KeyBitmap::build(&[-3]).map(|bitmap| bitmap.range()), Some(KeyRange::Between(-3, -3)));
        let probe: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(9),
            Some(10),
            Some(11),
            Some(12),
            None,
            Some(75),
            Some(1_000_000),
            Some(1_000_001),
            Some(i64::MIN),
            Some(i64::MAX),
        ]));
        let expected = [false, true, false, true, false, true, true, false, false, false];
        let every_row = bitmap.rows(&probe, None).expect("integers");
        assert_eq!(every_row.iter().collect::<Vec<_>>(), expected);
        let within = BooleanBuffer::from_iter([true, true, false, false, true, true, true, true, true, true]);
        let selected = bitmap.rows(&probe, Some(&within)).expect("integers");
        let expected_within: Vec<bool> = expected.iter().zip(within.iter()).map(|(held, selected)| *held && selected).collect();
        assert_eq!(selected.iter().collect::<Vec<_>>(), expected_within);
        // The same keys as another integer type.
        let narrow: ArrayRef = Arc::new(Int32Array::from(vec![10, 11, 75]));
        assert_eq!(bitmap.rows(&narrow, None).expect("integers").iter().collect::<Vec<_>>(), [true, false, true]);
        let strings: ArrayRef = Arc::new(datafusion::arrow::array::StringArray::from(vec!["10"]));
        assert!(bitmap.rows(&strings, None).is_none());
    }

    #[test]
    fn no_bitmap_beyond_the_span_limit_and_an_empty_build_holds_nothing() {
        let span = i64::try_from(SPAN_AT_MOST).expect("fits");
        assert!(KeyBitmap::build(&[0, span - 1]).is_some());
        assert!(KeyBitmap::build(&[0, span]).is_none());
        assert!(KeyBitmap::build(&[i64::MIN, i64::MAX]).is_none());
        let empty = KeyBitmap::build(&[]).expect("an empty bitmap");
        let probe: ArrayRef = Arc::new(Int64Array::from(vec![0, 1, -1]));
        assert_eq!(empty.rows(&probe, None).expect("integers").iter().collect::<Vec<_>>(), [false, false, false]);
        assert_eq!(empty.range(), KeyRange::Empty);
    }

    /// The bitmap appears only when every build partition has ended, and a second execution
    /// starts from no keys.
    #[test]
    fn slot_publishes_once_every_partition_ended_and_resets_per_execution() {
        let slot = RuntimeFilterSlot::new(2);
        slot.start();
        slot.start();
        slot.end(Some(vec![1, 2]));
        assert!(slot.bitmap().is_none(), "one partition still building");
        slot.end(Some(vec![5]));
        let bitmap = slot.bitmap().expect("published");
        assert_eq!((bitmap.keys, bitmap.bitmap.span()), (3, 5));
        slot.start();
        assert!(slot.bitmap().is_none(), "a new execution does not see the last one's keys");
        slot.start();
        slot.end(None);
        slot.end(Some(vec![7]));
        assert!(slot.bitmap().is_none(), "a partition whose keys were unreadable publishes nothing");
    }

    /// A scan waiting for the bitmap wakes when the last build partition ends, whether it
    /// began waiting before or after; with no build side ending it gives up at its timeout.
    #[tokio::test]
    async fn a_waiting_scan_wakes_once_the_build_side_has_ended() {
        let slot = Arc::new(RuntimeFilterSlot::new(2));
        slot.start();
        slot.start();
        let waiting = tokio::spawn({
            let slot = Arc::clone(&slot);
            async move { slot.wait_until_built(Duration::from_secs(600)).await }
        });
        slot.end(Some(vec![1]));
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "one build partition is still running");
        slot.end(Some(vec![4]));
        tokio::time::timeout(Duration::from_secs(60), waiting).await.expect("woken by the last end").expect("the task ran");
        assert!(slot.bitmap().is_some());
        tokio::time::timeout(Duration::from_secs(60), slot.wait_until_built(Duration::from_secs(600)))
            .await
            .expect("an ended build side does not block");

        let never_built = RuntimeFilterSlot::new(1);
        let started = std::time::Instant::now();
        never_built.wait_until_built(Duration::from_millis(50)).await;
        assert!(started.elapsed() >= Duration::from_millis(50));
    }
}
