//! GROUP BY on low-cardinality strings by integer codes, StarRocks' low-cardinality (global
//! dictionary) optimization applied to aggregation.
//!
//! Why: grouping by strings hashes and compares the bytes of every row. TPC-H q1 groups 5.9M
//! rows by two one-letter columns and spent 30% of its time interning those strings. Here
//! the tablet scan hands the aggregation a 32-bit code per row instead: the scan reads such a
//! column dictionary-encoded (`cairn_storage::dictionary`), so giving a row group its codes
//! takes one dictionary lookup per distinct value and one array lookup per row. The
//! aggregation groups integers, and the codes become strings again above the final
//! aggregation, where there is one row per group.
//!
//! A [`GlobalDictionary`] belongs to one query: the codes are assigned as the scan meets
//! values, shared by its partitions, and read back by [`DecodeExpr`]. A row group whose column
//! has too many distinct values for a dictionary is coded row by row, which costs about what
//! hashing the strings in the aggregation would have.
//!
//! The rule [`LowCardinalityGroupBy`] rewrites an aggregation only where the grouped column
//! reaches it unchanged from a tablet scan and nothing between them reads it: through
//! projections, filters, repartitions, batch coalescing and hash joins that carry it without
//! joining on it or testing it. The keys may come from different scans, as a star join's
//! GROUP BY takes columns of several dimension tables (SSB q3.1: `c_nation`, `s_nation`),
//! and the joins then carry codes instead of strings too. The aggregate functions must not
//! read the column (`min(l_returnflag)` needs the string).
//!
//! Through a join, a column is coded only where storage's sketch counts at most
//! [`JOINED_DISTINCT_VALUES_AT_MOST`] values: the scan codes every row it reads, and the
//! joins above may drop most of them. Without the limit TPC-H q18 coded all 150 000
//! customer names, one hash lookup each, for the 57 groups its joins leave: its best of 10
//! paired rounds went from 96 to 116 ms.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringBuilder, UInt32Array, UInt64Array};
use datafusion::arrow::datatypes::{DataType, FieldRef, Schema, UInt16Type, UInt32Type, UInt64Type};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, HashMap, JoinSide, Result};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode, PhysicalGroupBy};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::Partitioning;
use parking_lot::Mutex;

use crate::column_lineage::{join_column, projected_from};
use crate::table_provider::TabletScanExec;

/// The most distinct values a column carried through a join may have to be coded. With at
/// most 4096 values, a row group of 32 768 rows or more (a full one holds 131 072) has 8 rows
/// or more per value, so the scan codes its dictionary (`cairn_storage::dictionary`) rather
/// than each row; a smaller table costs little either way, and the query's dictionary stays
/// small.
const JOINED_DISTINCT_VALUES_AT_MOST: usize = 4096;

/// The codes of one column's strings in one query.
#[derive(Default)]
pub(crate) struct GlobalDictionary {
    state: Mutex<DictionaryState>,
}

#[derive(Default)]
struct DictionaryState {
    /// DataFusion's hash map (foldhash): a high-cardinality row group is coded row by row.
    codes: HashMap<Arc<str>, u32>,
    values: Vec<Arc<str>>,
}

impl DictionaryState {
    fn code(&mut self, value: &str) -> Result<u32> {
        if let Some(code) = self.codes.get(value) {
            return Ok(*code);
        }
        // u32::MAX itself stays free: a pair of codes stores each code plus one.
        let code = u32::try_from(self.values.len())
            .ok()
            .filter(|code| *code < u32::MAX)
            .ok_or_else(|| DataFusionError::Execution("more than 2^32 - 1 distinct GROUP BY values".to_string()))?;
        let value: Arc<str> = Arc::from(value);
        self.codes.insert(Arc::clone(&value), code);
        self.values.push(value);
        Ok(code)
    }
}

impl fmt::Debug for GlobalDictionary {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "GlobalDictionary({} values)", self.state.lock().values.len())
    }
}

impl GlobalDictionary {
    /// The codes of a string column, plain or dictionary-encoded with 16-bit keys; NULL stays
    /// NULL.
    pub(crate) fn encode(&self, array: &ArrayRef) -> Result<ArrayRef> {
        let nulls = array.logical_nulls();
        if let Some(encoded) = array.as_dictionary_opt::<UInt16Type>() {
            let values = encoded.values().as_string_opt::<i32>().ok_or_else(|| not_strings(encoded.values().data_type()))?;
            let by_key: Vec<u32> = {
                let mut state = self.state.lock();
                // NULL takes no code: its rows are NULL whatever their key says.
                values.iter().map(|value| value.map_or(Ok(0), |value| state.code(value))).collect::<Result<_>>()?
            };
            let codes: Vec<u32> = encoded
                .keys()
                .values()
                .iter()
                .map(|key| by_key.get(usize::from(*key)).copied().unwrap_or_default())
                .collect();
            return Ok(Arc::new(UInt32Array::new(codes.into(), nulls)));
        }
        let strings = array.as_string_opt::<i32>().ok_or_else(|| not_strings(array.data_type()))?;
        let mut state = self.state.lock();
        let codes = strings.iter().map(|value| value.map_or(Ok(0), |value| state.code(value))).collect::<Result<Vec<u32>>>()?;
        Ok(Arc::new(UInt32Array::new(codes.into(), nulls)))
    }

    /// The strings of `codes`.
    fn decode(&self, codes: &UInt32Array) -> Result<ArrayRef> {
        let state = self.state.lock();
        let mut strings = StringBuilder::with_capacity(codes.len(), codes.len() * 8);
        for code in codes.iter() {
            match code {
                Some(code) => {
                    let value = usize::try_from(code).ok().and_then(|code| state.values.get(code)).ok_or_else(|| {
                        DataFusionError::Internal(format!("GROUP BY code {code} is not in its dictionary"))
                    })?;
                    strings.append_value(value.as_ref());
                }
                None => strings.append_null(),
            }
        }
        Ok(Arc::new(strings.finish()))
    }
}

fn not_strings(data_type: &DataType) -> DataFusionError {
    DataFusionError::Internal(format!("a low-cardinality GROUP BY column arrived as {data_type}, not strings"))
}

/// The string of a GROUP BY code.
#[derive(Debug, Clone)]
pub(crate) struct DecodeExpr {
    code: Arc<dyn PhysicalExpr>,
    dictionary: Arc<GlobalDictionary>,
    /// The field the string column had before it was coded, metadata (`starrocks.type`)
    /// included: the rewritten plan must give the same schema.
    field: FieldRef,
}

impl PartialEq for DecodeExpr {
    fn eq(&self, other: &Self) -> bool {
        self.code.as_ref() == other.code.as_ref() && Arc::ptr_eq(&self.dictionary, &other.dictionary)
    }
}

impl Eq for DecodeExpr {}

impl Hash for DecodeExpr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.code.hash(state);
        Arc::as_ptr(&self.dictionary).hash(state);
    }
}

impl fmt::Display for DecodeExpr {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "decode({})", self.code)
    }
}

impl PhysicalExpr for DecodeExpr {
    fn return_field(&self, _input_schema: &Schema) -> Result<FieldRef> {
        Ok(Arc::clone(&self.field))
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let codes = self.code.evaluate(batch)?.into_array(batch.num_rows())?;
        let codes = codes
            .as_primitive_opt::<datafusion::arrow::datatypes::UInt32Type>()
            .ok_or_else(|| DataFusionError::Internal(format!("GROUP BY codes arrived as {}", codes.data_type())))?;
        Ok(ColumnarValue::Array(self.dictionary.decode(codes)?))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.code]
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn PhysicalExpr>>) -> Result<Arc<dyn PhysicalExpr>> {
        match children.as_slice() {
            [code] => Ok(Arc::new(DecodeExpr { code: Arc::clone(code), ..self.as_ref().clone() })),
            _ => Err(DataFusionError::Internal("decode takes one child".to_string())),
        }
    }

    fn fmt_sql(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "decode(")?;
        self.code.fmt_sql(formatter)?;
        write!(formatter, ")")
    }
}

#[derive(Debug, Default)]
pub(crate) struct LowCardinalityGroupBy;

impl PhysicalOptimizerRule for LowCardinalityGroupBy {
    fn name(&self) -> &str {
        "cairn_low_cardinality_group_by"
    }

    fn schema_check(&self) -> bool {
        true
    }

    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_down(|node| {
            Ok(match rewrite(&node) {
                // Below the rewritten aggregation the keys are codes already.
                Ok(Some(rewritten)) => Transformed::new(rewritten, true, TreeNodeRecursion::Jump),
                Ok(None) => Transformed::no(node),
                // A plan this rule can not rebuild still runs, over strings.
                Err(error) => {
                    tracing::debug!(%error, "GROUP BY stays on strings");
                    Transformed::no(node)
                }
            })
        })
        .map(|transformed| transformed.data)
    }
}

/// `node`, if it is an aggregation over all rows (single, or final over partial) whose
/// string keys can be grouped by code: the same aggregation over codes under a projection
/// that decodes them.
fn rewrite(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(top) = node.downcast_ref::<AggregateExec>() else { return Ok(None) };
    // A limit ordered by the key (`SELECT DISTINCT s ... ORDER BY s LIMIT n`) would order codes.
    let ordered_limit = |aggregate: &AggregateExec| aggregate.limit_options().is_some_and(|limit| limit.descending().is_some());
    if top.group_expr().has_grouping_set() || top.group_expr().is_empty() || ordered_limit(top) {
        return Ok(None);
    }
    match top.mode() {
        AggregateMode::Single | AggregateMode::SinglePartitioned => rewrite_pair(top, top, &[]),
        AggregateMode::Final | AggregateMode::FinalPartitioned => {
            // The repartitions between the final aggregation and the partial one.
            let mut exchanges = Vec::new();
            let mut below = Arc::clone(top.input());
            while below.downcast_ref::<AggregateExec>().is_none() {
                let next = match below.children().as_slice() {
                    [child] if matches!(below.name(), "RepartitionExec" | "CoalesceBatchesExec" | "CoalescePartitionsExec") => {
                        Arc::clone(child)
                    }
                    _ => return Ok(None),
                };
                exchanges.push(below);
                below = next;
            }
            match below.downcast_ref::<AggregateExec>() {
                Some(partial) if *partial.mode() == AggregateMode::Partial && !ordered_limit(partial) => {
                    rewrite_pair(top, partial, &exchanges)
                }
                _ => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

fn rewrite_pair(top: &AggregateExec, raw: &AggregateExec, exchanges: &[Arc<dyn ExecutionPlan>]) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let input = raw.input();
    let input_schema = input.schema();
    let read_by_aggregates: Vec<usize> = raw
        .aggr_expr()
        .iter()
        .flat_map(|aggregate| {
            let expressions = aggregate.all_expressions();
            expressions.args.into_iter().chain(expressions.order_by_exprs)
        })
        .chain(raw.filter_expr().iter().flatten().cloned())
        .flat_map(|expression| collect_columns(&expression).into_iter().map(|column| column.index()))
        .collect();
    // Group key position → the scan and its column that the key reads.
    let mut coded: Vec<(usize, Arc<dyn ExecutionPlan>, usize)> = Vec::new();
    for (position, (expression, _)) in raw.group_expr().expr().iter().enumerate() {
        let Some(column) = expression.downcast_ref::<Column>() else { continue };
        if input_schema.field(column.index()).data_type() != &DataType::Utf8 || read_by_aggregates.contains(&column.index()) {
            continue;
        }
        // The same column grouped twice would be coded twice.
        if raw.group_expr().expr().iter().filter(|(other, _)| collect_columns(other).iter().any(|c| c.index() == column.index())).count() > 1 {
            continue;
        }
        let Some(traced) = trace(input, column.index()) else { continue };
        let Some(tablet_scan) = traced.scan.downcast_ref::<TabletScanExec>() else { continue };
        let few_values = || tablet_scan.distinct_values_of(traced.column).is_some_and(|values| values <= JOINED_DISTINCT_VALUES_AT_MOST);
        if !traced.through_join || few_values() {
            coded.push((position, Arc::clone(&traced.scan), traced.column));
        }
    }
    // One scan column reached by two keys would be coded twice, with two dictionaries.
    let twice = coded.iter().enumerate().any(|(index, (_, scan, column))| {
        coded[..index].iter().any(|(_, other, other_column)| Arc::ptr_eq(scan, other) && column == other_column)
    });
    if coded.is_empty() || twice {
        return Ok(None);
    }
    let dictionaries: Vec<(usize, Arc<GlobalDictionary>)> =
        coded.iter().map(|(position, _, _)| (*position, Arc::new(GlobalDictionary::default()))).collect();
    // Each scan that a key reads, over codes of all the key columns it gives.
    let mut coded_scans: Vec<(Arc<dyn ExecutionPlan>, Arc<dyn ExecutionPlan>)> = Vec::new();
    for (_, scan, _) in &coded {
        if coded_scans.iter().any(|(done, _)| Arc::ptr_eq(done, scan)) {
            continue;
        }
        let Some(tablet_scan) = scan.downcast_ref::<TabletScanExec>() else { return Ok(None) };
        let scan_columns: Vec<(usize, Arc<GlobalDictionary>)> = coded
            .iter()
            .zip(&dictionaries)
            .filter(|((_, source, _), _)| Arc::ptr_eq(source, scan))
            .map(|((_, _, scan_column), (_, dictionary))| (*scan_column, Arc::clone(dictionary)))
            .collect();
        coded_scans.push((Arc::clone(scan), Arc::new(tablet_scan.with_coded_columns(scan_columns))));
    }
    // Everything between the scans and the aggregation, rebuilt over codes.
    let new_input = replace_scans(Arc::clone(input), &coded_scans)?;
    for (position, _) in &dictionaries {
        let Some(column) = raw.group_expr().expr()[*position].0.downcast_ref::<Column>() else { return Ok(None) };
        if new_input.schema().field(column.index()).data_type() != &DataType::UInt32 {
            return Ok(None);
        }
    }
    let coded_positions: Vec<usize> = dictionaries.iter().map(|(position, _)| *position).collect();
    let (group_by, sources) = match pairable(top, raw, exchanges) {
        true => pair_codes(raw.group_expr(), &coded_positions, &new_input.schema())?,
        false => (raw.group_expr().clone(), (0..raw.group_expr().expr().len()).map(KeySource::Column).collect()),
    };
    let paired = group_by.expr().len() != raw.group_expr().expr().len();
    let new_raw = AggregateExec::try_new(
        *raw.mode(),
        group_by.clone(),
        raw.aggr_expr().to_vec(),
        raw.filter_expr().to_vec(),
        Arc::clone(&new_input),
        new_input.schema(),
    )?
    .with_limit_options(raw.limit_options());
    let mut new_top: Arc<dyn ExecutionPlan> = Arc::new(new_raw);
    if !std::ptr::eq(top, raw) {
        let final_group_by = if paired { group_by.as_final() } else { top.group_expr().clone() };
        for exchange in exchanges.iter().rev() {
            new_top = match (paired, exchange.downcast_ref::<RepartitionExec>()) {
                (true, Some(repartition)) => repartition_by_keys(repartition, new_top, &final_group_by)?,
                _ => rebuild(exchange, vec![new_top])?,
            };
        }
        new_top = Arc::new(
            AggregateExec::try_new(
                *top.mode(),
                final_group_by,
                top.aggr_expr().to_vec(),
                top.filter_expr().to_vec(),
                Arc::clone(&new_top),
                new_input.schema(),
            )?
            .with_limit_options(top.limit_options()),
        );
    }
    let output = top.schema();
    let key_count = raw.group_expr().expr().len();
    let dictionary_of = |position: usize| dictionaries.iter().find(|(coded, _)| *coded == position).map(|(_, dictionary)| Arc::clone(dictionary));
    let expressions: Vec<ProjectionExpr> = output
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let expression: Arc<dyn PhysicalExpr> = match sources.get(index) {
                Some(source) => {
                    let (column, half) = match *source {
                        KeySource::Column(column) => (column, None),
                        KeySource::Half(column, half) => (column, Some(half)),
                    };
                    let mut key: Arc<dyn PhysicalExpr> = Arc::new(Column::new(new_top.schema().field(column).name(), column));
                    if let Some(half) = half {
                        key = Arc::new(CodeOfPair { pair: key, half, nullable: field.is_nullable() });
                    }
                    match dictionary_of(index) {
                        Some(dictionary) => Arc::new(DecodeExpr { code: key, dictionary, field: Arc::clone(field) }),
                        None => key,
                    }
                }
                // An aggregate's value, after the (fewer) keys.
                None => {
                    let column = index - key_count + group_by.expr().len();
                    Arc::new(Column::new(field.name(), column))
                }
            };
            ProjectionExpr { expr: expression, alias: field.name().clone() }
        })
        .collect();
    let decoded = ProjectionExec::try_new(expressions, new_top)?;
    // The physical optimizer refuses a rule's plan whose schema changed, failing the query.
    if decoded.schema().fields() != output.fields() {
        return Ok(None);
    }
    Ok(Some(Arc::new(decoded)))
}

/// Where an original GROUP BY key lies in the rewritten aggregation's output.
#[derive(Debug, Clone, Copy)]
enum KeySource {
    /// Its own column: a key left as it was, or a lone code.
    Column(usize),
    /// One half of a pair of codes ([`PairOfCodes`]).
    Half(usize, Half),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Half {
    High,
    Low,
}

/// Whether the codes of `raw`'s keys may be grouped in pairs: the final aggregation (if any)
/// groups by the partial one's key columns as they are, and the repartitions between them
/// hash exactly those, so both can be rebuilt over fewer keys.
fn pairable(top: &AggregateExec, raw: &AggregateExec, exchanges: &[Arc<dyn ExecutionPlan>]) -> bool {
    if std::ptr::eq(top, raw) {
        return true;
    }
    let key_count = raw.group_expr().expr().len();
    let are_the_keys = |expressions: &[Arc<dyn PhysicalExpr>]| {
        expressions.len() == key_count
            && expressions.iter().enumerate().all(|(index, expression)| expression.downcast_ref::<Column>().is_some_and(|column| column.index() == index))
    };
    let top_keys: Vec<Arc<dyn PhysicalExpr>> = top.group_expr().expr().iter().map(|(expression, _)| Arc::clone(expression)).collect();
    are_the_keys(&top_keys)
        && exchanges.iter().all(|exchange| match exchange.downcast_ref::<RepartitionExec>() {
            Some(repartition) => match repartition.partitioning() {
                Partitioning::Hash(expressions, _) => are_the_keys(expressions),
                _ => true,
            },
            None => true,
        })
}

/// `group_by` with the codes at `coded` (ascending key positions) grouped two by two as one
/// [`PairOfCodes`] key each, and where every original key lies in the new keys.
///
/// Why: DataFusion groups one primitive column in a hash table of its values, but several
/// columns in a column-wise table that compares each column separately; TPC-H q1's two
/// codes spent 26% of its CPU there.
fn pair_codes(group_by: &PhysicalGroupBy, coded: &[usize], schema: &Schema) -> Result<(PhysicalGroupBy, Vec<KeySource>)> {
    let keys = group_by.expr();
    let mut new_keys: Vec<(Arc<dyn PhysicalExpr>, String)> = Vec::new();
    let mut sources = Vec::with_capacity(keys.len());
    for (position, (expression, name)) in keys.iter().enumerate() {
        let pair = coded.chunks_exact(2).find(|pair| pair.contains(&position));
        match pair {
            Some([high, low]) if *high == position => {
                let (low_expression, low_name) = &keys[*low];
                sources.push(KeySource::Half(new_keys.len(), Half::High));
                new_keys.push((
                    Arc::new(PairOfCodes { high: Arc::clone(expression), low: Arc::clone(low_expression) }),
                    format!("pair({name}, {low_name})"),
                ));
            }
            Some([high, _]) => {
                let paired_at = match sources.get(*high) {
                    Some(KeySource::Half(column, Half::High)) => *column,
                    _ => return Err(DataFusionError::Internal("a pair of GROUP BY codes lost its first half".to_string())),
                };
                sources.push(KeySource::Half(paired_at, Half::Low));
            }
            _ => {
                sources.push(KeySource::Column(new_keys.len()));
                new_keys.push((Arc::clone(expression), name.clone()));
            }
        }
    }
    for (expression, _) in &new_keys {
        expression.data_type(schema)?;
    }
    Ok((PhysicalGroupBy::new_single(new_keys), sources))
}

/// `repartition` over `child`, hashing the key columns of `final_group_by` instead of the old ones.
fn repartition_by_keys(repartition: &RepartitionExec, child: Arc<dyn ExecutionPlan>, final_group_by: &PhysicalGroupBy) -> Result<Arc<dyn ExecutionPlan>> {
    let partitioning = match repartition.partitioning() {
        Partitioning::Hash(_, count) => {
            Partitioning::Hash(final_group_by.expr().iter().map(|(expression, _)| Arc::clone(expression)).collect(), *count)
        }
        other => other.clone(),
    };
    let rebuilt = RepartitionExec::try_new(child, partitioning)?;
    Ok(Arc::new(if repartition.preserve_order() { rebuilt.with_preserve_order() } else { rebuilt }))
}

/// Two GROUP BY codes as one 64-bit key: each code plus one, NULL as 0, the first in the high
/// half. Codes are below `u32::MAX` ([`DictionaryState::code`]), so the key is never NULL
/// and two rows share it exactly when they share both codes.
#[derive(Debug, Clone)]
struct PairOfCodes {
    high: Arc<dyn PhysicalExpr>,
    low: Arc<dyn PhysicalExpr>,
}

/// A pair's two code columns, the high half's first.
pub(crate) type CodesOfPair = (Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>);

/// The two code columns of `expression`, if it is a pair of codes: an operator can make the
/// keys from them as it reads them (`dense_groups.rs`).
pub(crate) fn codes_of_pair(expression: &Arc<dyn PhysicalExpr>) -> Option<CodesOfPair> {
    expression.downcast_ref::<PairOfCodes>().map(|pair| (Arc::clone(&pair.high), Arc::clone(&pair.low)))
}

/// A pair of the codes in `high` and `low`, for tests elsewhere.
#[cfg(test)]
pub(crate) fn pair_of_codes(high: Arc<dyn PhysicalExpr>, low: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
    Arc::new(PairOfCodes { high, low })
}

impl PartialEq for PairOfCodes {
    fn eq(&self, other: &Self) -> bool {
        self.high.as_ref() == other.high.as_ref() && self.low.as_ref() == other.low.as_ref()
    }
}

impl Eq for PairOfCodes {}

impl Hash for PairOfCodes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.high.hash(state);
        self.low.hash(state);
    }
}

impl fmt::Display for PairOfCodes {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "pair({}, {})", self.high, self.low)
    }
}

/// A code as a half of a pair's key: the code plus one (0 is NULL's).
pub(crate) fn pair_half(code: u32) -> u64 {
    u64::from(code) + 1
}

/// The key of a pair whose halves are `high` and `low` ([`pair_half`]).
pub(crate) fn pair_key(high: u64, low: u64) -> u64 {
    (high << 32) | low
}

/// A code column's values as halves of a pair's key ([`pair_half`]).
fn shifted_codes(expression: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> Result<Vec<u64>> {
    let codes = expression.evaluate(batch)?.into_array(batch.num_rows())?;
    let codes = codes
        .as_primitive_opt::<UInt32Type>()
        .ok_or_else(|| DataFusionError::Internal(format!("GROUP BY codes arrived as {}", codes.data_type())))?;
    let mut shifted: Vec<u64> = codes.values().iter().map(|code| pair_half(*code)).collect();
    if let Some(nulls) = codes.nulls() {
        for row in nulls.iter().enumerate().filter(|(_, valid)| !valid).map(|(row, _)| row) {
            shifted[row] = 0;
        }
    }
    Ok(shifted)
}

impl PhysicalExpr for PairOfCodes {
    fn data_type(&self, input_schema: &Schema) -> Result<DataType> {
        for code in [&self.high, &self.low] {
            let data_type = code.data_type(input_schema)?;
            if data_type != DataType::UInt32 {
                return Err(DataFusionError::Internal(format!("a pair of GROUP BY codes got {data_type}")));
            }
        }
        Ok(DataType::UInt64)
    }

    fn nullable(&self, _input_schema: &Schema) -> Result<bool> {
        Ok(false)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let mut keys = shifted_codes(&self.high, batch)?;
        let low = shifted_codes(&self.low, batch)?;
        for (key, low) in keys.iter_mut().zip(low) {
            *key = pair_key(*key, low);
        }
        Ok(ColumnarValue::Array(Arc::new(UInt64Array::from(keys))))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.high, &self.low]
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn PhysicalExpr>>) -> Result<Arc<dyn PhysicalExpr>> {
        match children.as_slice() {
            [high, low] => Ok(Arc::new(PairOfCodes { high: Arc::clone(high), low: Arc::clone(low) })),
            _ => Err(DataFusionError::Internal("pair takes two children".to_string())),
        }
    }

    fn fmt_sql(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "pair(")?;
        self.high.fmt_sql(formatter)?;
        write!(formatter, ", ")?;
        self.low.fmt_sql(formatter)?;
        write!(formatter, ")")
    }
}

/// One code of a [`PairOfCodes`] key, NULL where it was NULL.
#[derive(Debug, Clone)]
struct CodeOfPair {
    pair: Arc<dyn PhysicalExpr>,
    half: Half,
    /// The original key's nullability, which the output schema must keep.
    nullable: bool,
}

impl PartialEq for CodeOfPair {
    fn eq(&self, other: &Self) -> bool {
        self.pair.as_ref() == other.pair.as_ref() && self.half == other.half && self.nullable == other.nullable
    }
}

impl Eq for CodeOfPair {}

impl Hash for CodeOfPair {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.pair.hash(state);
        self.half.hash(state);
        self.nullable.hash(state);
    }
}

impl fmt::Display for CodeOfPair {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}({})", self.name(), self.pair)
    }
}

impl CodeOfPair {
    fn name(&self) -> &'static str {
        match self.half {
            Half::High => "high",
            Half::Low => "low",
        }
    }
}

impl PhysicalExpr for CodeOfPair {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::UInt32)
    }

    fn nullable(&self, _input_schema: &Schema) -> Result<bool> {
        Ok(self.nullable)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let pairs = self.pair.evaluate(batch)?.into_array(batch.num_rows())?;
        let pairs = pairs
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(|| DataFusionError::Internal(format!("a pair of GROUP BY codes arrived as {}", pairs.data_type())))?;
        let shift = match self.half {
            Half::High => 32,
            Half::Low => 0,
        };
        let codes: UInt32Array = pairs
            .iter()
            .map(|pair| pair.and_then(|pair| u32::try_from((pair >> shift) & u64::from(u32::MAX)).ok()).and_then(|code| code.checked_sub(1)))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(codes)))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.pair]
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn PhysicalExpr>>) -> Result<Arc<dyn PhysicalExpr>> {
        match children.as_slice() {
            [pair] => Ok(Arc::new(CodeOfPair { pair: Arc::clone(pair), half: self.half, nullable: self.nullable })),
            _ => Err(DataFusionError::Internal(format!("{} takes one child", self.name()))),
        }
    }

    fn fmt_sql(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}(", self.name())?;
        self.pair.fmt_sql(formatter)?;
        write!(formatter, ")")
    }
}

/// Where a GROUP BY column comes from: a tablet scan's column.
struct Traced {
    scan: Arc<dyn ExecutionPlan>,
    column: usize,
    /// Whether a join lies between the scan and the aggregation.
    through_join: bool,
}

/// The tablet scan and its column that `column` of `node`'s output passes through unchanged,
/// read by nothing on the way.
fn trace(node: &Arc<dyn ExecutionPlan>, column: usize) -> Option<Traced> {
    if node.downcast_ref::<TabletScanExec>().is_some() {
        return Some(Traced { scan: Arc::clone(node), column, through_join: false });
    }
    let reads = |expression: &Arc<dyn PhysicalExpr>, index: usize| collect_columns(expression).iter().any(|c| c.index() == index);
    if let Some((input, source)) = projected_from(node, column) {
        let read_on_the_way = match node.downcast_ref::<ProjectionExec>() {
            Some(projection) => {
                projection.expr().iter().enumerate().any(|(index, expression)| index != column && reads(&expression.expr, source))
            }
            None => node.downcast_ref::<FilterExec>().is_some_and(|filter| reads(filter.predicate(), source)),
        };
        return if read_on_the_way { None } else { trace(input, source) };
    }
    if let Some(repartition) = node.downcast_ref::<RepartitionExec>() {
        if let Partitioning::Hash(expressions, _) = repartition.partitioning()
            && expressions.iter().any(|expression| reads(expression, column))
        {
            return None;
        }
        return trace(repartition.input(), column);
    }
    if let Some(join) = node.downcast_ref::<HashJoinExec>() {
        let (side, source) = join_column(join, column)?;
        let (input, keys): (_, Vec<&Arc<dyn PhysicalExpr>>) = match side {
            JoinSide::Left => (join.left(), join.on().iter().map(|(key, _)| key).collect()),
            _ => (join.right(), join.on().iter().map(|(_, key)| key).collect()),
        };
        let tested = join.filter().is_some_and(|filter| {
            filter.column_indices().iter().any(|index| index.side == side && index.index == source)
        });
        if tested || keys.iter().any(|key| reads(key, source)) {
            return None;
        }
        return trace(input, source).map(|traced| Traced { through_join: true, ..traced });
    }
    match node.children().as_slice() {
        [child] if matches!(node.name(), "CoalesceBatchesExec" | "CoalescePartitionsExec" | "CooperativeExec") => {
            trace(child, column)
        }
        _ => None,
    }
}

/// `plan` with each scan of `replacements` replaced by its counterpart, every node on the way
/// rebuilt so that its schema follows.
fn replace_scans(plan: Arc<dyn ExecutionPlan>, replacements: &[(Arc<dyn ExecutionPlan>, Arc<dyn ExecutionPlan>)]) -> Result<Arc<dyn ExecutionPlan>> {
    if let Some((_, replacement)) = replacements.iter().find(|(scan, _)| Arc::ptr_eq(&plan, scan)) {
        return Ok(Arc::clone(replacement));
    }
    let children: Vec<Arc<dyn ExecutionPlan>> = plan.children().into_iter().cloned().collect();
    let new_children =
        children.iter().map(|child| replace_scans(Arc::clone(child), replacements)).collect::<Result<Vec<_>>>()?;
    if children.iter().zip(&new_children).all(|(old, new)| Arc::ptr_eq(old, new)) {
        return Ok(plan);
    }
    rebuild(&plan, new_children)
}

/// `node` over `children`. A projection keeps its output schema through `with_new_children`,
/// so it is planned again.
fn rebuild(node: &Arc<dyn ExecutionPlan>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
    if let Some(projection) = node.downcast_ref::<ProjectionExec>()
        && let [child] = children.as_slice()
    {
        return Ok(Arc::new(ProjectionExec::try_new(projection.expr().to_vec(), Arc::clone(child))?));
    }
    Arc::clone(node).replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::compute::cast;

    /// Plain and dictionary-encoded batches share one set of codes, NULL stays NULL, and the
    /// codes decode to the strings they came from.
    #[test]
    fn codes_are_shared_across_encodings_and_decode_to_their_strings() -> Result<()> {
        let dictionary = GlobalDictionary::default();
        let plain: ArrayRef = Arc::new(StringArray::from(vec![Some("PERU"), None, Some("CHINA"), Some("PERU")]));
        let encoded_input: ArrayRef = Arc::new(StringArray::from(vec![Some("CHINA"), Some("KENYA"), None, Some("PERU")]));
        let encoded_input = cast(encoded_input.as_ref(), &cairn_be::dictionary_type())?;
        let first = dictionary.encode(&plain)?;
        let second = dictionary.encode(&encoded_input)?;
        let first = first.as_primitive::<datafusion::arrow::datatypes::UInt32Type>();
        let second = second.as_primitive::<datafusion::arrow::datatypes::UInt32Type>();
        assert_eq!(first.iter().collect::<Vec<_>>(), vec![Some(0), None, Some(1), Some(0)]);
        assert_eq!(second.iter().collect::<Vec<_>>(), vec![Some(1), Some(2), None, Some(0)]);
        let decoded = dictionary.decode(second)?;
        let expected: ArrayRef = Arc::new(StringArray::from(vec![Some("CHINA"), Some("KENYA"), None, Some("PERU")]));
        assert_eq!(decoded.as_ref(), expected.as_ref());
        assert!(dictionary.decode(&UInt32Array::from(vec![7])).is_err(), "an unknown code is an error, not a guess");
        Ok(())
    }

    /// A pair keeps both codes and their NULLs apart: it is never NULL, equal exactly when
    /// both codes are, and each half reads back as it went in.
    #[test]
    fn a_pair_of_codes_reads_back_both_codes() -> Result<()> {
        use datafusion::arrow::datatypes::Field;
        let high = UInt32Array::from(vec![Some(0), None, Some(u32::MAX - 1), Some(0), None]);
        let low = UInt32Array::from(vec![None, Some(0), Some(3), Some(0), None]);
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::UInt32, true), Field::new("b", DataType::UInt32, true)]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(high.clone()), Arc::new(low.clone())])?;
        let pair: Arc<dyn PhysicalExpr> = Arc::new(PairOfCodes { high: Arc::new(Column::new("a", 0)), low: Arc::new(Column::new("b", 1)) });
        let keys = pair.evaluate(&batch)?.into_array(batch.num_rows())?;
        let keys = keys.as_primitive::<UInt64Type>();
        assert_eq!(keys.null_count(), 0);
        let distinct: std::collections::HashSet<u64> = keys.values().iter().copied().collect();
        assert_eq!(distinct.len(), 5, "(0, NULL), (NULL, 0), (NULL, NULL) and the rest are all different: {keys:?}");
        let pair_schema = Arc::new(Schema::new(vec![Field::new("pair", DataType::UInt64, false)]));
        let pairs = RecordBatch::try_new(pair_schema, vec![Arc::new(keys.clone())])?;
        for (half, expected) in [(Half::High, &high), (Half::Low, &low)] {
            let code = CodeOfPair { pair: Arc::new(Column::new("pair", 0)), half, nullable: true };
            let codes = code.evaluate(&pairs)?.into_array(pairs.num_rows())?;
            assert_eq!(codes.as_primitive::<UInt32Type>(), expected, "{half:?}");
        }
        Ok(())
    }
}
