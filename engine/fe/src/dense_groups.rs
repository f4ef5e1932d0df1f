//! The partial aggregation of a GROUP BY on low-cardinality codes numbers its groups by the
//! codes themselves, in an array, instead of hashing them.
//!
//! Why: `low_cardinality.rs` hands the partial aggregation a 32-bit code per row (or a pair
//! of them in 64 bits), and DataFusion's `GroupValuesPrimitive::intern` still hashed every
//! row's code into its table: 12.9% of TPC-H q01's CPU (perf, 40 runs), for four groups.
//! Codes are small integers, handed out from 0 as the scan meets values, so a row's group is
//! one array lookup ([`GroupNumbers`]).
//!
//! [`DenseGroupAggregateExec`] is the partial aggregation with that changed, and with two
//! accumulator slots for each of a few groups ([`LANED_GROUPS_AT_MOST`]). The accumulators
//! are DataFusion's own (`GroupsAccumulator`), given the same arguments, and it emits what
//! the partial aggregation emitted (the key, then each accumulator's state; a key twice where
//! it had two slots), so the final aggregation above reads it unchanged. Its groups are few
//! by construction, so unlike DataFusion's it does not account their memory to the pool.
//! The rule [`DenseGroups`] puts it in place of a partial aggregation grouped by one code or
//! one pair of codes whose aggregates all have such accumulators, without DISTINCT, ORDER BY
//! or FILTER.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array, UInt64Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, SchemaRef, UInt32Type, UInt64Type};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, HashMap, Result, Statistics};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode, aggregate_expressions, evaluate_many};
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream};
use futures::StreamExt;

use crate::low_cardinality::{CodesOfPair, codes_of_pair, pair_half, pair_key};

/// A group number not yet given.
const UNASSIGNED: u32 = u32::MAX;

/// The most slots the array of group numbers takes (4 MiB); keys beyond it are numbered
/// through a hash map instead: a column coded row by row (too many values for a
/// dictionary) has codes in the millions.
const SLOTS_AT_MOST: usize = 1 << 20;

/// The group number of each key, given in the order keys first appear.
///
/// A key is the pair `(first, second)` of its upper and lower 32 bits (a single code is
/// `(0, code)`), and its slot in `slots` is `first << second_bits | second`. A key is in
/// `slots` exactly when it fits their shape, otherwise in `sparse`; the shape only grows.
#[derive(Debug, Default)]
struct GroupNumbers {
    slots: Vec<u32>,
    second_bits: u32,
    sparse: HashMap<u64, u32>,
    /// The group of NULL, for a single code column that has NULLs (a pair codes NULL as 0).
    null: Option<u32>,
    /// Each group's key, `None` for NULL, by group number.
    keys: Vec<Option<u64>>,
}

fn halves(key: u64) -> (u64, u64) {
    (key >> 32, key & u64::from(u32::MAX))
}

impl GroupNumbers {
    fn len(&self) -> usize {
        self.keys.len()
    }

    fn firsts(&self) -> u64 {
        (self.slots.len() >> self.second_bits) as u64
    }

    fn fits(&self, (first, second): (u64, u64)) -> bool {
        first < self.firsts() && second >> self.second_bits == 0
    }

    /// Grows the slots to hold every key up to `first` and `second`; false if that would
    /// take more than [`SLOTS_AT_MOST`].
    fn cover(&mut self, first: u64, second: u64) -> bool {
        if self.fits((first, second)) {
            return true;
        }
        let second_bits = self.second_bits.max(u64::BITS - second.leading_zeros());
        let slots_for = |firsts: u64| {
            let slots = usize::try_from(firsts).ok()?.checked_shl(second_bits)?;
            (slots <= SLOTS_AT_MOST && slots >> second_bits == firsts as usize).then_some(slots)
        };
        // Twice the rows where more are needed and that fits, so that first halves met one
        // by one (a pair whose first column has hundreds of values) do not rebuild the slots
        // each time.
        let firsts = self.firsts().max(first + 1);
        let doubled = if firsts > self.firsts() { firsts.max(self.firsts().saturating_mul(2)) } else { firsts };
        let Some(slots) = slots_for(doubled).or_else(|| slots_for(firsts)) else { return false };
        self.slots = vec![UNASSIGNED; slots];
        self.second_bits = second_bits;
        self.sparse.clear();
        for (group, key) in self.keys.iter().enumerate() {
            let Some(key) = key else { continue };
            let (first, second) = halves(*key);
            // Group numbers were checked to fit u32 when given.
            let group = group as u32;
            if self.fits((first, second)) {
                self.slots[((first << second_bits) | second) as usize] = group;
            } else {
                self.sparse.insert(*key, group);
            }
        }
        true
    }

    fn next(&mut self, key: Option<u64>) -> Result<u32> {
        let group = u32::try_from(self.keys.len())
            .ok()
            .filter(|group| *group != UNASSIGNED)
            .ok_or_else(|| DataFusionError::ResourcesExhausted("more than 4 billion groups".to_string()))?;
        self.keys.push(key);
        Ok(group)
    }

    fn group(&mut self, key: Option<u64>) -> Result<u32> {
        let Some(key) = key else {
            if let Some(group) = self.null {
                return Ok(group);
            }
            let group = self.next(None)?;
            self.null = Some(group);
            return Ok(group);
        };
        let (first, second) = halves(key);
        if self.cover(first, second) {
            let slot = ((first << self.second_bits) | second) as usize;
            if self.slots[slot] == UNASSIGNED {
                self.slots[slot] = self.next(Some(key))?;
            }
            return Ok(self.slots[slot]);
        }
        if let Some(group) = self.sparse.get(&key) {
            return Ok(*group);
        }
        let group = self.next(Some(key))?;
        self.sparse.insert(key, group);
        Ok(group)
    }

    /// The group number of each row of `keys`, a UInt32 or UInt64 array, into `groups`.
    fn number(&mut self, keys: &ArrayRef, groups: &mut Vec<usize>) -> Result<()> {
        groups.clear();
        groups.reserve(keys.len());
        match keys.data_type() {
            DataType::UInt64 if keys.null_count() == 0 => self.number_valid(keys.as_primitive::<UInt64Type>().values().iter().copied(), groups),
            DataType::UInt32 if keys.null_count() == 0 => {
                self.number_valid(keys.as_primitive::<UInt32Type>().values().iter().map(|key| u64::from(*key)), groups)
            }
            DataType::UInt64 => {
                for key in keys.as_primitive::<UInt64Type>().iter() {
                    groups.push(self.group(key)? as usize);
                }
                Ok(())
            }
            DataType::UInt32 => {
                for key in keys.as_primitive::<UInt32Type>().iter() {
                    groups.push(self.group(key.map(u64::from))? as usize);
                }
                Ok(())
            }
            other => Err(DataFusionError::Internal(format!("dense GROUP BY keys arrived as {other}"))),
        }
    }

    /// The group number of each row of `batch` by `key` into `groups`; `pair` holds the two
    /// code columns of `key` if it is a pair of codes, whose keys are then made here as they
    /// are read, without the array of them (as `low_cardinality::PairOfCodes` makes them).
    fn number_rows(
        &mut self,
        key: &Arc<dyn PhysicalExpr>,
        pair: Option<&CodesOfPair>,
        batch: &RecordBatch,
        groups: &mut Vec<usize>,
    ) -> Result<()> {
        if let Some((high, low)) = pair {
            let (high, low) = (high.evaluate(batch)?.into_array(batch.num_rows())?, low.evaluate(batch)?.into_array(batch.num_rows())?);
            if let (Some(high), Some(low)) = (high.as_primitive_opt::<UInt32Type>(), low.as_primitive_opt::<UInt32Type>())
                && high.null_count() == 0
                && low.null_count() == 0
            {
                groups.clear();
                let keys = high.values().iter().zip(low.values()).map(|(high, low)| pair_key(pair_half(*high), pair_half(*low)));
                return self.number_valid(keys, groups);
            }
        }
        self.number(&key.evaluate(batch)?.into_array(batch.num_rows())?, groups)
    }

    /// [`GroupNumbers::number`] for keys without NULLs: one lookup a row, without a branch
    /// that mispredicts; the rows whose keys have no group yet (or no slot: the shape then
    /// grows) get theirs after.
    fn number_valid(&mut self, keys: impl Iterator<Item = u64> + Clone, groups: &mut Vec<usize>) -> Result<()> {
        let (slots, second_bits) = (&self.slots, self.second_bits);
        let start = groups.len();
        groups.extend(keys.clone().map(|key| {
            let (first, second) = halves(key);
            let slot = if second >> second_bits == 0 { slots.get(((first << second_bits) | second) as usize) } else { None };
            slot.map_or(UNASSIGNED, |group| *group) as usize
        }));
        if groups[start..].contains(&(UNASSIGNED as usize)) {
            for (row, key) in keys.enumerate() {
                if groups[start + row] == UNASSIGNED as usize {
                    groups[start + row] = self.group(Some(key))? as usize;
                }
            }
        }
        Ok(())
    }

    /// Each group's key, by group number, as `data_type`.
    fn emit(&self, data_type: &DataType) -> Result<ArrayRef> {
        Ok(match data_type {
            DataType::UInt64 => Arc::new(self.keys.iter().copied().collect::<UInt64Array>()),
            DataType::UInt32 => {
                Arc::new(self.keys.iter().map(|key| key.map(|key| key as u32)).collect::<UInt32Array>())
            }
            other => return Err(DataFusionError::Internal(format!("dense GROUP BY keys typed {other}"))),
        })
    }
}

/// Groups up to which each has two accumulator slots, its rows alternating between them.
///
/// Why: with few groups, consecutive rows mostly add to the same group's sum, and each
/// addition waits for the store of the one before (TPC-H q01: four groups, one of them half
/// the rows). Two slots make two independent chains: a loop of eight accumulators over 3M
/// rows with q01's groups took 62 ms in one slot and 42 ms in two (session 12's measurement).
/// The partial aggregation then emits a group's key twice, which the final aggregation merges
/// as it merges partitions.
const LANED_GROUPS_AT_MOST: usize = 64;

/// Aggregates whose state of no rows merges as nothing, so that a slot no row reached can be
/// emitted like the others.
const LANED_AGGREGATES: [&str; 5] = ["sum", "count", "avg", "min", "max"];

/// Where each row's group accumulates: slot `2 * group + lane` where lanes are enabled.
struct Lanes {
    enabled: bool,
    /// Groups `0..laned_groups` have had rows in both slots; later ones only in the first.
    laned_groups: usize,
}

impl Lanes {
    /// Turns `groups` (group numbers, `total` groups so far) into slots.
    fn spread(&mut self, groups: &mut [usize], total: usize) {
        if !self.enabled {
            return;
        }
        if total <= LANED_GROUPS_AT_MOST {
            for (row, group) in groups.iter_mut().enumerate() {
                *group = *group * 2 + (row & 1);
            }
            self.laned_groups = total;
        } else {
            for group in groups.iter_mut() {
                *group *= 2;
            }
        }
    }

    /// The slots `groups` groups take.
    fn slots(&self, groups: usize) -> usize {
        if self.enabled { groups * 2 } else { groups }
    }

    /// The group of each emitted row and the slot it comes from; `None` when slots are
    /// groups.
    fn emitted(&self, groups: usize) -> Option<(UInt64Array, UInt64Array)> {
        if !self.enabled {
            return None;
        }
        let slots: UInt64Array = (0..groups as u64)
            .flat_map(|group| {
                let second = ((group as usize) < self.laned_groups).then_some(group * 2 + 1);
                std::iter::once(group * 2).chain(second)
            })
            .collect();
        let key_rows: UInt64Array = slots.values().iter().map(|slot| slot / 2).collect();
        Some((key_rows, slots))
    }
}

/// A partial aggregation grouped by one code or pair of codes (see the module).
#[derive(Debug)]
pub(crate) struct DenseGroupAggregateExec {
    input: Arc<dyn ExecutionPlan>,
    /// The group key and its output name.
    key: (Arc<dyn PhysicalExpr>, String),
    aggregates: Vec<Arc<AggregateFunctionExpr>>,
    /// The replaced partial aggregation's schema and properties, which this keeps.
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl DenseGroupAggregateExec {
    /// In place of `partial`, if it is a partial aggregation this can run.
    fn replacing(partial: &AggregateExec) -> Option<DenseGroupAggregateExec> {
        let group_by = partial.group_expr();
        let [key] = group_by.expr() else { return None };
        if *partial.mode() != AggregateMode::Partial
            || group_by.has_grouping_set()
            || partial.limit_options().is_some()
            || partial.filter_expr().iter().any(Option::is_some)
        {
            return None;
        }
        // Codes are UInt32 (`low_cardinality.rs`); tables have no unsigned columns.
        let input_schema = partial.input().schema();
        if !matches!(key.0.data_type(&input_schema).ok()?, DataType::UInt32 | DataType::UInt64) {
            return None;
        }
        let supported = |aggregate: &Arc<AggregateFunctionExpr>| {
            aggregate.groups_accumulator_supported() && !aggregate.is_distinct() && aggregate.order_bys().is_empty()
        };
        if !partial.aggr_expr().iter().all(supported) {
            return None;
        }
        Some(DenseGroupAggregateExec {
            input: Arc::clone(partial.input()),
            key: key.clone(),
            aggregates: partial.aggr_expr().to_vec(),
            schema: partial.schema(),
            properties: Arc::clone(partial.properties()),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

impl DisplayAs for DenseGroupAggregateExec {
    fn fmt_as(&self, _format: DisplayFormatType, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let aggregates: Vec<&str> = self.aggregates.iter().map(|aggregate| aggregate.name()).collect();
        write!(
            formatter,
            "DenseGroupAggregateExec: mode=Partial, gby=[{} as {}], aggr=[{}]",
            self.key.0,
            self.key.1,
            aggregates.join(", ")
        )
    }
}

impl ExecutionPlan for DenseGroupAggregateExec {
    fn name(&self) -> &str {
        "DenseGroupAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        visit: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let mut recursion = visit(&self.key.0)?;
        for aggregate in &self.aggregates {
            for expression in aggregate.expressions() {
                if recursion == TreeNodeRecursion::Stop {
                    return Ok(recursion);
                }
                recursion = visit(&expression)?;
            }
        }
        Ok(recursion)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match <[_; 1]>::try_from(children) {
            Ok([input]) => Ok(Arc::new(DenseGroupAggregateExec {
                input,
                key: self.key.clone(),
                aggregates: self.aggregates.clone(),
                schema: Arc::clone(&self.schema),
                properties: Arc::clone(&self.properties),
                metrics: ExecutionPlanMetricsSet::new(),
            })),
            Err(_) => Err(DataFusionError::Internal("DenseGroupAggregateExec takes one input".to_string())),
        }
    }

    #[allow(deprecated)]
    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(&self, _input_stats: &[Arc<Statistics>], _args: &StatisticsArgs) -> Result<Arc<Statistics>> {
        Ok(Arc::new(Statistics::new_unknown(&self.schema)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let mut input = self.input.execute(partition, context)?;
        let arguments = aggregate_expressions(&self.aggregates, &AggregateMode::Partial, 0)?;
        let mut accumulators: Vec<Box<dyn GroupsAccumulator>> =
            self.aggregates.iter().map(|aggregate| aggregate.create_groups_accumulator()).collect::<Result<_>>()?;
        let key = Arc::clone(&self.key.0);
        let pair = codes_of_pair(&key);
        let schema = Arc::clone(&self.schema);
        let output_schema = Arc::clone(&schema);
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let mut lanes = Lanes {
            enabled: self.aggregates.iter().all(|aggregate| LANED_AGGREGATES.contains(&aggregate.fun().name())),
            laned_groups: 0,
        };
        let aggregated = futures::stream::once(async move {
            let mut numbers = GroupNumbers::default();
            let mut groups: Vec<usize> = Vec::new();
            while let Some(batch) = input.next().await {
                let batch = batch?;
                let _timer = baseline.elapsed_compute().timer();
                numbers.number_rows(&key, pair.as_ref(), &batch, &mut groups)?;
                lanes.spread(&mut groups, numbers.len());
                let values = evaluate_many(&arguments, &batch)?;
                for (accumulator, values) in accumulators.iter_mut().zip(&values) {
                    accumulator.update_batch(values, &groups, None, lanes.slots(numbers.len()))?;
                }
            }
            let _timer = baseline.elapsed_compute().timer();
            if numbers.len() == 0 {
                return Ok(None);
            }
            let keys = numbers.emit(output_schema.field(0).data_type())?;
            let emitted = lanes.emitted(numbers.len());
            let mut columns: Vec<ArrayRef> = vec![match &emitted {
                Some((key_rows, _)) => take(keys.as_ref(), key_rows, None)?,
                None => keys,
            }];
            for accumulator in &mut accumulators {
                for state in accumulator.state(EmitTo::All)? {
                    columns.push(match &emitted {
                        Some((_, slots)) => take(state.as_ref(), slots, None)?,
                        None => state,
                    });
                }
            }
            let batch = RecordBatch::try_new(Arc::clone(&output_schema), columns)?;
            baseline.record_output(batch.num_rows());
            Ok(Some(batch))
        })
        .filter_map(|result: Result<Option<RecordBatch>>| futures::future::ready(result.transpose()));
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, aggregated)))
    }
}

#[derive(Debug, Default)]
pub(crate) struct DenseGroups;

impl PhysicalOptimizerRule for DenseGroups {
    fn name(&self) -> &str {
        "cairn_dense_groups"
    }

    fn schema_check(&self) -> bool {
        true
    }

    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let replaced = node.downcast_ref::<AggregateExec>().and_then(DenseGroupAggregateExec::replacing);
            Ok(match replaced {
                Some(replaced) => Transformed::yes(Arc::new(replaced) as Arc<dyn ExecutionPlan>),
                None => Transformed::no(node),
            })
        })
        .map(|transformed| transformed.data)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Decimal128Array, Float64Array, Int64Array};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::physical_plan::{collect, displayable};
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;

    fn keys_of(numbers: &GroupNumbers, data_type: &DataType) -> Result<ArrayRef> {
        numbers.emit(data_type)
    }

    /// Groups are numbered as keys first appear, and keep their numbers when the slots grow
    /// (a wider second half, a larger first half) and when a key is past any slot.
    #[test]
    fn groups_keep_their_numbers_as_the_slots_grow() -> Result<()> {
        let mut numbers = GroupNumbers::default();
        let mut groups = Vec::new();
        let first: ArrayRef = Arc::new(UInt64Array::from(vec![(1 << 32) | 2, 5, (1 << 32) | 2, 0]));
        numbers.number(&first, &mut groups)?;
        assert_eq!(groups, vec![0, 1, 0, 2]);
        let second: ArrayRef = Arc::new(UInt64Array::from(vec![5, (7 << 32) | 1000, (1 << 32) | 2, u64::MAX, 0, u64::MAX]));
        numbers.number(&second, &mut groups)?;
        assert_eq!(groups, vec![1, 3, 0, 4, 2, 4]);
        assert_eq!(numbers.sparse.get(&u64::MAX), Some(&4), "a key past SLOTS_AT_MOST is numbered in the hash map");
        let third: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX, (7 << 32) | 1000, 6]));
        numbers.number(&third, &mut groups)?;
        assert_eq!(groups, vec![4, 3, 5]);
        let keys = keys_of(&numbers, &DataType::UInt64)?;
        assert_eq!(
            keys.as_primitive::<UInt64Type>().values().to_vec(),
            vec![(1 << 32) | 2, 5, 0, (7 << 32) | 1000, u64::MAX, 6]
        );
        Ok(())
    }

    /// A pair of codes numbers its rows alike whether its keys are made while reading the
    /// codes (no NULLs) or taken from the pair's own array (NULLs).
    #[test]
    fn pairs_of_codes_are_numbered_as_their_keys() -> Result<()> {
        use datafusion::arrow::datatypes::{Field, Schema};
        use datafusion::physical_expr::expressions::Column;
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::UInt32, true), Field::new("b", DataType::UInt32, true)]));
        let pair = crate::low_cardinality::pair_of_codes(Arc::new(Column::new("a", 0)), Arc::new(Column::new("b", 1)));
        let codes = crate::low_cardinality::codes_of_pair(&pair);
        assert!(codes.is_some());
        let batches = [
            (UInt32Array::from(vec![0, 1, 0, 2, 1]), UInt32Array::from(vec![3, 3, 3, 0, 3])),
            (UInt32Array::from(vec![Some(2), None, Some(0), None]), UInt32Array::from(vec![Some(0), Some(3), Some(3), None])),
        ];
        let (mut numbers, mut by_pair) = (GroupNumbers::default(), GroupNumbers::default());
        for (high, low) in batches {
            let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(high), Arc::new(low)])?;
            let (mut groups, mut expected) = (Vec::new(), Vec::new());
            numbers.number_rows(&pair, codes.as_ref(), &batch, &mut groups)?;
            by_pair.number(&pair.evaluate(&batch)?.into_array(batch.num_rows())?, &mut expected)?;
            assert_eq!(groups, expected);
        }
        assert_eq!(numbers.len(), 5, "(0,3) (1,3) (2,0) (NULL,3) (NULL,NULL)");
        let (keys, expected) = (numbers.emit(&DataType::UInt64)?, by_pair.emit(&DataType::UInt64)?);
        assert_eq!(keys.as_ref(), expected.as_ref());
        Ok(())
    }

    /// Hundreds of first halves, met one by one and then again in another order, keep the
    /// numbers they were first given.
    #[test]
    fn many_first_halves_keep_their_numbers() -> Result<()> {
        let mut numbers = GroupNumbers::default();
        let mut groups = Vec::new();
        let keys: Vec<u64> = (0..500u64).flat_map(|first| (0..3u64).map(move |second| (first << 32) | second)).collect();
        numbers.number(&(Arc::new(UInt64Array::from(keys.clone())) as ArrayRef), &mut groups)?;
        assert_eq!(groups, (0..1500).collect::<Vec<usize>>());
        let reversed: Vec<u64> = keys.iter().rev().copied().collect();
        numbers.number(&(Arc::new(UInt64Array::from(reversed)) as ArrayRef), &mut groups)?;
        assert_eq!(groups, (0..1500).rev().collect::<Vec<usize>>());
        assert!(numbers.sparse.is_empty() && numbers.firsts() >= 500);
        Ok(())
    }

    /// A code column with NULLs has one group for them, which reads back as NULL.
    #[test]
    fn nulls_of_a_code_column_are_one_group() -> Result<()> {
        let mut numbers = GroupNumbers::default();
        let mut groups = Vec::new();
        let codes: ArrayRef = Arc::new(UInt32Array::from(vec![Some(3), None, Some(3), None, Some(4_000_000_000)]));
        numbers.number(&codes, &mut groups)?;
        assert_eq!(groups, vec![0, 1, 0, 1, 2]);
        let keys = keys_of(&numbers, &DataType::UInt32)?;
        assert_eq!(keys.as_primitive::<UInt32Type>().iter().collect::<Vec<_>>(), vec![Some(3), None, Some(4_000_000_000)]);
        Ok(())
    }

    /// Five batches over three partitions: codes with NULLs, pairs (some past any slot), codes
    /// that outgrow two slots a group, and aggregates over decimals, integers and floats with
    /// NULLs.
    fn table() -> Result<MemTable> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("code", DataType::UInt32, true),
            Field::new("pair", DataType::UInt64, false),
            Field::new("many", DataType::UInt32, false),
            Field::new("d", DataType::Decimal128(12, 2), true),
            Field::new("v", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
        ]));
        let mut batches = Vec::new();
        for batch in 0..5u64 {
            let rows = (batch * 1000)..(batch * 1000 + 1000);
            let code: UInt32Array = rows.clone().map(|row| (row % 11 != 0).then_some((row % 7) as u32)).collect();
            let pair: UInt64Array = rows
                .clone()
                .map(|row| if row % 97 == 0 { u64::MAX - row % 2 } else { ((row % 3) << 32) | (row % 5) })
                .collect();
            // 40 groups in the first batch, where each group has two slots; 150 after.
            let many: UInt32Array = rows.clone().map(|row| (row % if batch == 0 { 40 } else { 150 }) as u32).collect();
            let d = rows.clone().map(|row| (row % 13 != 0).then_some(row as i128 * 37 - 90_000)).collect::<Decimal128Array>();
            let v: Int64Array = rows.clone().map(|row| (row % 17 != 0).then_some(row as i64 - 2500)).collect();
            let f: Float64Array = rows.map(|row| (row % 19 != 0).then_some(row as f64 / 8.0)).collect();
            batches.push(RecordBatch::try_new(
                Arc::clone(&schema),
                vec![Arc::new(code), Arc::new(pair), Arc::new(many), Arc::new(d.with_precision_and_scale(12, 2)?), Arc::new(v), Arc::new(f)],
            )?);
        }
        Ok(MemTable::try_new(schema, batches.chunks(2).map(<[RecordBatch]>::to_vec).collect())?)
    }

    /// The plan of `query` over [`table`], with [`DenseGroups`] applied if `dense`, and its
    /// result as text.
    async fn run(query: &str, dense: bool) -> Result<(String, String)> {
        let context = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
        context.register_table("t", Arc::new(table()?))?;
        let plan = context.sql(query).await?.create_physical_plan().await?;
        let plan = if dense { DenseGroups.optimize(plan, &ConfigOptions::default())? } else { plan };
        let text = displayable(plan.as_ref()).indent(false).to_string();
        let result = pretty_format_batches(&collect(plan, context.task_ctx()).await?)?.to_string();
        Ok((text, result))
    }

    fn partial_aggregations(plan: &str) -> (usize, usize) {
        let starting = |prefix: &str| plan.lines().filter(|line| line.trim_start().starts_with(prefix)).count();
        (starting("AggregateExec: mode=Partial"), starting("DenseGroupAggregateExec: mode=Partial"))
    }

    #[tokio::test]
    async fn dense_groups_aggregate_as_datafusion_does() -> Result<()> {
        let aggregates = "sum(d), avg(d), count(d), count(*), min(v), max(v), sum(v), avg(f), max(f)";
        // The last: an aggregate outside LANED_AGGREGATES, so one slot a group.
        let queries = ["code", "pair", "many"]
            .map(|key| format!("SELECT {key}, {aggregates} FROM t GROUP BY {key} ORDER BY {key}"))
            .into_iter()
            .chain([format!("SELECT pair, stddev(f), {aggregates} FROM t GROUP BY pair ORDER BY pair")]);
        for query in queries {
            let (plan, expected) = run(&query, false).await?;
            assert_eq!(partial_aggregations(&plan), (1, 0), "{plan}");
            let (plan, got) = run(&query, true).await?;
            assert_eq!(partial_aggregations(&plan), (0, 1), "{plan}");
            assert_eq!(got, expected, "{query}");
            assert!(expected.lines().count() > 8, "{expected}");
        }
        // One DISTINCT: DataFusion groups by (code, v) first, and the count above is grouped by
        // the code alone. Two: the DISTINCT accumulators are left to DataFusion.
        for (query, dense) in [
            ("SELECT code, count(DISTINCT v) FROM t GROUP BY code ORDER BY code", 1),
            ("SELECT code, count(DISTINCT v), sum(DISTINCT v % 5) FROM t GROUP BY code ORDER BY code", 0),
        ] {
            let (plan, expected) = run(query, false).await?;
            let (dense_plan, got) = run(query, true).await?;
            assert_eq!(partial_aggregations(&dense_plan).1, dense, "{dense_plan}");
            assert_eq!(got, expected, "{plan}");
        }
        Ok(())
    }

    /// Keys that are not codes (nor one code), and aggregates with an ORDER BY, stay with
    /// DataFusion.
    #[tokio::test]
    async fn other_aggregations_are_left_alone() -> Result<()> {
        for query in [
            "SELECT v, sum(d) FROM t GROUP BY v",
            "SELECT code, v, sum(d) FROM t GROUP BY code, v",
            "SELECT code, array_agg(v ORDER BY v) FROM t GROUP BY code",
        ] {
            let (plan, _) = run(query, true).await?;
            assert_eq!(partial_aggregations(&plan).1, 0, "{query}: {plan}");
        }
        Ok(())
    }
}
