//! The query's filters, evaluated inside the tablet scan one conjunct at a time on the rows
//! still selected, so a batch leaves the scan already narrowed and is copied once.
//!
//! Why: DataFusion's `FilterExec` evaluates `a AND b AND c` by filtering the whole batch (every
//! projected column, long strings included) after each selective conjunct, then scattering the
//! result back; on SSB's flat queries that copying was most of the query's time. Here each
//! conjunct sees only its own columns, narrowed to the surviving rows.
//!
//! Hash joins and TopK also push their dynamic filters here (the build side's key bounds and
//! membership, or the current top-k threshold): the fact table's scan then drops rows no
//! join would match before they are copied through the join.
//!
//! A hash join's dynamic filter is only an early cut: the join above matches every row
//! anyway. Its hash lookup costs about what the join's probe costs, so one that keeps most
//! rows (a join with every customer, TPC-H q13) only adds work. Each such filter therefore
//! counts the rows it sees and keeps, across the scan's partitions, and stops running once
//! it has kept more than half of the first [`JUDGE_AFTER_ROWS`] rows
//! ([`ScanFilter::retiring`]; `dynamic_filters.rs` says which filters are joins').
//!
//! A string column a conjunct reads alone can come from storage dictionary-encoded (where a
//! row group has few distinct values, see `cairn_storage::dictionary`): the conjunct then
//! runs once per distinct value and each row looks its outcome up by key, and the rows it
//! drops are dropped as 2-byte keys instead of copied strings. [`ScanFilter::dictionary_columns`]
//! picks those columns; [`decode`] turns the survivors back into plain strings.
//!
//! In the same way a join's dynamic filter on one integer column whose stored values span few
//! integers is evaluated once per integer of the span, and a row's outcome is a bit test
//! ([`Domain`]). A join's runtime filter (`runtime_filter.rs`), a bitmap of its build side's
//! keys, runs as a bit test too, ahead of the other conjuncts.
//!
//! Once a batch's conjuncts so far keep few of its rows, a table lookup or a comparison of a
//! column with a literal tests the survivors in place (`selected_rows.rs`); other conjuncts
//! run on their columns narrowed to the survivors. Two comparisons bounding one column from
//! both sides (a `BETWEEN`, a date range) run as one conjunct, a single pass over the column.
//!
//! The pushdown is `Inexact` to DataFusion, which keeps a `FilterExec` above the scan, but the
//! query's own conjuncts run here exactly: `redundant_filter.rs` cuts that `FilterExec` down
//! to its equalities, and a conjunct that fails here (say, a division by zero) fails the
//! query, once it also fails on only the rows the earlier conjuncts kept, as it would have
//! in `FilterExec`. Volatile filters stay in `FilterExec` alone. Dynamic and runtime filters
//! only repeat what their join does, so one that fails is skipped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, NullArray, RecordBatch, RecordBatchOptions,
};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::kernels::boolean::and;
use datafusion::arrow::compute::{cast, filter, filter_record_batch, prep_null_mask_filter};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt16Type};
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, Result as DataFusionResult, ScalarValue};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::{ColumnarValue, Expr, Operator};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_expr::utils::collect_columns;

use crate::runtime_filter::RuntimeFilterExpr;
use crate::selected_rows::{Comparison, Range, test_selected};
use crate::span_bitmap::SpanBitmap;

/// Above this share of surviving rows a conjunct runs on the whole batch and is ANDed in;
/// below it, only at the survivors (on its own columns narrowed to them, unless it can test
/// rows in place).
const NARROW_BELOW: f64 = 0.2;

/// The same share for a comparison with a literal tested in place ([`Comparison`], [`Range`]).
/// Each selected row costs a bit scan and a load; between this share and [`NARROW_BELOW`],
/// narrowing the column to the survivors and comparing those without branches costs less.
/// TPC-H q6's one-year date range keeps 15% of lineitem: its DECIMAL range tested in place
/// made q6 take 19-20 ms, narrowed 14-16 ms (paired A/B, 15 rounds, thresholds 0.2 against
/// 0.1; 0.05 and 0.02 measured as 0.1 did).
const COMPARE_IN_PLACE_BELOW: f64 = 0.1;

/// The same share for a table lookup ([`Domain`]): testing a selected row in place costs
/// about twice what a row of the whole-batch pass costs, not the gather and scatter a
/// narrowed evaluation does.
const LOOK_UP_SELECTED_BELOW: f64 = 0.5;

/// Rows a dynamic filter sees before its selectivity is judged.
const JUDGE_AFTER_ROWS: u64 = 65_536;

/// A dynamic filter keeping more than this share of the rows it sees stops running.
const KEEP_AT_MOST: f64 = 0.5;

/// The same for a runtime filter, whose bit test costs a fraction of a hash lookup: it stops
/// only where the copy of the rows it keeps costs more than the probes it spares.
const RUNTIME_FILTER_KEEPS_AT_MOST: f64 = 0.75;

/// How much of what a dynamic filter saw it kept, shared by the partitions of one scan.
#[derive(Debug)]
struct Selectivity {
    seen: AtomicU64,
    kept: AtomicU64,
    retired: AtomicBool,
    keep_at_most: f64,
}

impl Default for Selectivity {
    fn default() -> Selectivity {
        Selectivity::keeping_at_most(KEEP_AT_MOST)
    }
}

impl Selectivity {
    fn keeping_at_most(share: f64) -> Selectivity {
        Selectivity { seen: AtomicU64::new(0), kept: AtomicU64::new(0), retired: AtomicBool::new(false), keep_at_most: share }
    }

    fn retired(&self) -> bool {
        self.retired.load(Ordering::Relaxed)
    }

    fn record(&self, seen: usize, kept: usize) {
        let seen = self.seen.fetch_add(seen as u64, Ordering::Relaxed) + seen as u64;
        let kept = self.kept.fetch_add(kept as u64, Ordering::Relaxed) + kept as u64;
        if seen >= JUDGE_AFTER_ROWS && kept as f64 > seen as f64 * self.keep_at_most {
            self.retired.store(true, Ordering::Relaxed);
        }
    }
}

#[derive(Clone, Debug)]
struct Conjunct {
    expression: Arc<dyn PhysicalExpr>,
    /// The scan's schema with every column this conjunct does not read typed Null, so a
    /// narrowed batch carries only what the conjunct needs.
    narrow_schema: SchemaRef,
    columns: Vec<usize>,
    /// Set for dynamic filters, which retire when they keep too much.
    selectivity: Option<Arc<Selectivity>>,
    /// Set for a dynamic filter on one integer column whose values span few enough integers:
    /// it is evaluated once per integer of the span and rows look their outcome up.
    domain: Option<Arc<Domain>>,
    /// Set for `column <op> literal` on a primitive column, which tests the survivors in place.
    comparison: Option<Arc<Comparison>>,
    /// Set for two of the query's comparisons bounding one column from both sides, which this
    /// conjunct tests together: in one pass over the column, or in place at the survivors.
    range: Option<Arc<Range>>,
    /// The query's own conjuncts this one stands for, when it merges them (`range`).
    parts: Vec<Arc<dyn PhysicalExpr>>,
    /// Set for the query's own filters, which the scan applies exactly: a failure is the
    /// query's error, and no `FilterExec` above repeats them (`redundant_filter.rs`). Dynamic
    /// and runtime filters only repeat what their join does, so a failing one is skipped.
    required: bool,
}

/// A dynamic filter's outcome for every integer between a column's smallest and largest
/// stored value, recomputed when the filter changes (a hash join's filter is filled once its
/// build side is read).
///
/// Why: a join's filter tests each row against the key range, then hashes it and probes the
/// join's hash table: about 15 ns a row, and on SSB's star joins three of them ran over all
/// 6M lineorder rows, 70% of the queries' time. The outcome depends on the key alone, so for
/// a dimension key (10 000 suppliers, 61 000 date keys) it is computed once per possible key
/// and each row costs a bit test.
#[derive(Debug)]
struct Domain {
    min: i64,
    /// Integers in the span: `max - min + 1`.
    span: usize,
    table: parking_lot::Mutex<Option<Arc<TruthTable>>>,
}

#[derive(Debug)]
struct TruthTable {
    /// The filter's generation it was computed at.
    generation: u64,
    /// The outcome for each value of the span; `None`: every value holds.
    held: Option<SpanBitmap>,
    /// The outcome for NULL.
    null_holds: bool,
}

/// The widest span a dynamic filter is tabulated over, whatever the scan's size.
const DOMAIN_AT_MOST: usize = 1 << 22;

/// The span a scan of `rows` rows may tabulate: computing the table costs a filter
/// evaluation per integer, which must stay below what it saves per row.
pub fn domain_limit(rows: Option<usize>) -> usize {
    rows.map_or(0, |rows| (rows / 2).clamp(1 << 16, DOMAIN_AT_MOST))
}

/// The conjuncts of a scan's filters that can run in the scan.
#[derive(Clone, Debug)]
pub struct ScanFilter {
    conjuncts: Vec<Conjunct>,
}

impl ScanFilter {
    /// Plans the filters DataFusion handed the scan against its output `schema`. Volatile
    /// filters are left to `FilterExec` alone: evaluating them twice would change results.
    pub fn plan(filters: &[Expr], schema: &SchemaRef, session: &dyn Session) -> Option<ScanFilter> {
        let df_schema = DFSchema::try_from(Arc::clone(schema)).ok()?;
        let mut conjuncts = Vec::new();
        for filter in filters {
            if filter.is_volatile() {
                continue;
            }
            // The scan's own schema is unqualified.
            let Ok(expression) = session.create_physical_expr(unnormalize_col(filter.clone()), &df_schema) else { continue };
            let Some(conjunct) = Conjunct::new(expression, schema) else { continue };
            let conjunct = Conjunct { required: true, ..conjunct };
            // A column's lower and upper bound run as one conjunct, where the first stood.
            match conjuncts.iter_mut().find_map(|earlier: &mut Conjunct| Some((earlier.merged_range(&conjunct)?, earlier))) {
                Some((range, earlier)) => *earlier = range,
                None => conjuncts.push(conjunct),
            }
        }
        // Conjuncts that call a function last, as StarRocks' storage layer applies the
        // predicates on plain columns before the other conjuncts: those cost a pass over a
        // column, a test of the survivors or a lookup in a dictionary, and the function then
        // runs on fewer rows. SSB flat q1.3's `EXTRACT(WEEK FROM lo_orderdate) = 6` stood
        // first in its WHERE clause and ran on every row of 1994. A conjunct moved back sees
        // fewer rows, never more, so none fails where it would not have.
        conjuncts.sort_by_key(|conjunct| calls_a_function(&conjunct.expression));
        (!conjuncts.is_empty()).then_some(ScanFilter { conjuncts })
    }

    /// `existing` plus physical filters pushed to the scan after planning: the dynamic
    /// filters of hash joins and TopK, already bound to the scan's output `schema`.
    ///
    /// `bounds` are the smallest and largest stored value of each output column, where known:
    /// a filter on one integer column spanning at most `domain_limit` integers is tabulated
    /// ([`Domain`]).
    pub fn with_dynamic(
        existing: Option<&ScanFilter>,
        filters: Vec<Arc<dyn PhysicalExpr>>,
        schema: &SchemaRef,
        bounds: &[Option<(ScalarValue, ScalarValue)>],
        domain_limit: usize,
    ) -> Option<ScanFilter> {
        let mut conjuncts = existing.map(|filter| filter.conjuncts.clone()).unwrap_or_default();
        conjuncts.extend(filters.into_iter().filter_map(|expression| {
            let mut conjunct = Conjunct::new(expression, schema)?;
            if let [column] = conjunct.columns.as_slice() {
                conjunct.domain = Domain::new(schema.field(*column).data_type(), bounds.get(*column).cloned().flatten(), domain_limit);
            }
            Some(conjunct)
        }));
        (!conjuncts.is_empty()).then_some(ScanFilter { conjuncts })
    }

    /// `existing` with a join's runtime filter ahead of its other conjuncts (behind those of
    /// joins nearer the scan), made by `runtime_filter` around the conjunct of the join's own
    /// dynamic filter (`replaces`), which it takes out; `None` if it can not run here.
    pub fn with_runtime_filter(
        existing: Option<&ScanFilter>,
        replaces: Option<u64>,
        schema: &SchemaRef,
        runtime_filter: impl FnOnce(Option<Arc<dyn PhysicalExpr>>) -> Arc<dyn PhysicalExpr>,
    ) -> Option<ScanFilter> {
        let mut conjuncts = existing.map(|filter| filter.conjuncts.clone()).unwrap_or_default();
        let replaced = conjuncts.iter().position(|conjunct| replaces.is_some() && conjunct.expression.expression_id() == replaces);
        let fallback = replaced.map(|index| conjuncts.remove(index).expression);
        let mut conjunct = Conjunct::new(runtime_filter(fallback), schema)?;
        conjunct.selectivity = Some(Arc::new(Selectivity::keeping_at_most(RUNTIME_FILTER_KEEPS_AT_MOST)));
        // After the runtime filters placed before it, which come from joins nearer the scan.
        let position = conjuncts.iter().take_while(|conjunct| conjunct.expression.downcast_ref::<RuntimeFilterExpr>().is_some()).count();
        conjuncts.insert(position, conjunct);
        Some(ScanFilter { conjuncts })
    }

    /// This filter with the conjuncts whose expression id is in `join_filters` (hash joins'
    /// dynamic filters) retiring once they prove unselective. A TopK filter is not among
    /// them: it keeps everything until the first rows set its threshold, then tightens.
    pub fn retiring(&self, join_filters: &std::collections::HashSet<u64>) -> ScanFilter {
        let conjuncts = self
            .conjuncts
            .iter()
            .map(|conjunct| match conjunct.expression.expression_id() {
                Some(id) if join_filters.contains(&id) && conjunct.selectivity.is_none() => {
                    Conjunct { selectivity: Some(Arc::default()), ..conjunct.clone() }
                }
                _ => conjunct.clone(),
            })
            .collect();
        ScanFilter { conjuncts }
    }

    /// The conjuncts `keep` accepts; `None` when it accepts none.
    pub fn retain(&self, keep: impl Fn(&Arc<dyn PhysicalExpr>) -> bool) -> Option<ScanFilter> {
        let conjuncts: Vec<Conjunct> = self.conjuncts.iter().filter(|conjunct| keep(&conjunct.expression)).cloned().collect();
        (!conjuncts.is_empty()).then_some(ScanFilter { conjuncts })
    }

    /// The string columns worth reading dictionary-encoded: those some conjunct reads alone.
    /// A conjunct over several columns still runs, on those columns decoded.
    pub fn dictionary_columns(&self, schema: &SchemaRef) -> Vec<usize> {
        let mut columns: Vec<usize> = self
            .conjuncts
            .iter()
            .filter_map(|conjunct| match conjunct.columns.as_slice() {
                [column] if schema.field(*column).data_type() == &DataType::Utf8 => Some(*column),
                _ => None,
            })
            .collect();
        columns.sort_unstable();
        columns.dedup();
        columns
    }

    /// Whether the dynamic filter `expression_id` runs as a table lookup ([`Domain`]).
    pub fn tabulates(&self, expression_id: u64) -> bool {
        self.conjuncts
            .iter()
            .any(|conjunct| conjunct.domain.is_some() && conjunct.expression.expression_id() == Some(expression_id))
    }

    /// The conjuncts, in the order they run.
    pub fn expressions(&self) -> impl Iterator<Item = &Arc<dyn PhysicalExpr>> {
        self.conjuncts.iter().map(|conjunct| &conjunct.expression)
    }

    /// [`ScanFilter::apply`], failing where it would pass the batch through.
    #[cfg(test)]
    fn selection_applied(&self, batch: RecordBatch) -> DataFusionResult<RecordBatch> {
        match self.selection(&batch)? {
            Some(selection) => Ok(filter_record_batch(&batch, &selection)?),
            None => Ok(batch),
        }
    }

    /// The rows of `batch` every conjunct keeps.
    pub fn apply(&self, batch: RecordBatch) -> DataFusionResult<RecordBatch> {
        match self.selection(&batch)? {
            Some(selection) if selection.true_count() < batch.num_rows() => Ok(filter_record_batch(&batch, &selection)?),
            _ => Ok(batch),
        }
    }

    /// Returns once the build side of every runtime filter here has ended, or after
    /// `timeout`: a batch read before then would pass its runtime filter unfiltered.
    pub async fn wait_for_runtime_filters(&self, timeout: std::time::Duration) {
        let waits = self
            .conjuncts
            .iter()
            .filter_map(|conjunct| conjunct.expression.downcast_ref::<RuntimeFilterExpr>())
            .map(|runtime_filter| runtime_filter.wait_until_built(timeout));
        futures::future::join_all(waits).await;
    }

    /// The range of keys each published runtime filter here lets through, by output column.
    pub(crate) fn runtime_key_ranges(&self) -> Vec<(usize, crate::runtime_filter::KeyRange)> {
        self.conjuncts
            .iter()
            .filter_map(|conjunct| conjunct.expression.downcast_ref::<RuntimeFilterExpr>())
            .filter_map(RuntimeFilterExpr::key_range)
            .collect()
    }

    /// Whether `expression` is one of the query's own filters, which this scan applies
    /// exactly (a dynamic or runtime filter equal to it would not do).
    pub fn applies(&self, expression: &dyn PhysicalExpr) -> bool {
        self.conjuncts.iter().any(|conjunct| {
            conjunct.required
                && (conjunct.expression.as_ref() == expression || conjunct.parts.iter().any(|part| part.as_ref() == expression))
        })
    }

    fn selection(&self, batch: &RecordBatch) -> DataFusionResult<Option<BooleanArray>> {
        let rows = batch.num_rows();
        let mut selection: Option<BooleanArray> = None;
        // Rows `selection` keeps, counted once per conjunct.
        let mut alive = rows;
        for conjunct in &self.conjuncts {
            if conjunct.selectivity.as_ref().is_some_and(|selectivity| selectivity.retired()) {
                continue;
            }
            if alive == 0 {
                break;
            }
            let next = match conjunct.select(batch, selection.as_ref(), alive) {
                Ok(next) => next,
                Err(error) if !conjunct.required => {
                    tracing::debug!(%error, "a dynamic scan filter failed; its join still applies it");
                    continue;
                }
                // The fast paths evaluate on rows, or dictionary values, that earlier
                // conjuncts dropped; FilterExec would not have, so only the survivors decide.
                Err(_) => conjunct.evaluate_plainly(batch, selection.as_ref(), alive)?,
            };
            // `None`: the conjunct keeps every row (a dynamic filter not yet built).
            if let Some(next) = next {
                let kept = next.true_count();
                if let Some(selectivity) = &conjunct.selectivity {
                    selectivity.record(alive, kept);
                }
                alive = kept;
                selection = Some(next);
            }
        }
        Ok(selection)
    }
}

impl Conjunct {
    /// This conjunct's outcome on `batch`, where `current` holds the `alive` rows the earlier
    /// conjuncts kept, by the cheapest way at that share of survivors.
    fn select(&self, batch: &RecordBatch, current: Option<&BooleanArray>, alive: usize) -> DataFusionResult<Option<BooleanArray>> {
        let Some(current) = current else { return self.evaluate(batch) };
        let rows = batch.num_rows();
        let narrowed = || -> DataFusionResult<Option<BooleanArray>> {
            Ok(self.evaluate(&self.narrow(batch, current, alive)?)?.map(|narrowed| scatter(current, &narrowed)))
        };
        // A table lookup or a comparison at the selected rows only.
        if self.tests_in_place(alive as f64 / rows as f64) {
            return match self.evaluate_within(batch, current)? {
                Some(within) => Ok(within),
                None => narrowed(),
            };
        }
        // A lookup by key per row costs less than narrowing and scattering back.
        let sparse = alive as f64 <= rows as f64 * NARROW_BELOW;
        if !sparse || self.looks_up(batch) {
            return Ok(self.evaluate(batch)?.map(|mask| and(current, &mask)).transpose()?);
        }
        narrowed()
    }

    fn new(expression: Arc<dyn PhysicalExpr>, schema: &SchemaRef) -> Option<Conjunct> {
        if !matches!(expression.data_type(schema), Ok(DataType::Boolean)) {
            return None;
        }
        let mut columns: Vec<usize> = collect_columns(&expression).iter().map(|column| column.index()).collect();
        columns.sort_unstable();
        columns.dedup();
        if columns.iter().any(|index| *index >= schema.fields().len()) {
            return None;
        }
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(index, field)| {
                if columns.contains(&index) { field.as_ref().clone() } else { Field::new(field.name(), DataType::Null, true) }
            })
            .collect();
        let comparison = Comparison::of(&expression, schema).map(Arc::new);
        Some(Conjunct {
            expression,
            narrow_schema: Arc::new(Schema::new(fields)),
            columns,
            selectivity: None,
            domain: None,
            comparison,
            range: None,
            parts: Vec::new(),
            required: false,
        })
    }

    /// `self AND other` as one conjunct testing the range their comparisons bound, when they
    /// bound one column from both sides.
    fn merged_range(&self, other: &Conjunct) -> Option<Conjunct> {
        let range = Range::of(self.comparison.as_deref()?, other.comparison.as_deref()?)?;
        let expression: Arc<dyn PhysicalExpr> =
            Arc::new(BinaryExpr::new(Arc::clone(&self.expression), Operator::And, Arc::clone(&other.expression)));
        Some(Conjunct {
            expression,
            comparison: None,
            range: Some(Arc::new(range)),
            parts: vec![Arc::clone(&self.expression), Arc::clone(&other.expression)],
            ..self.clone()
        })
    }

    /// True where the conjunct holds; NULL counts as false, as WHERE treats it. `None` when
    /// it holds for every row. A dictionary-encoded column is evaluated on its dictionary if
    /// the conjunct reads nothing else, and decoded first otherwise.
    fn evaluate(&self, batch: &RecordBatch) -> DataFusionResult<Option<BooleanArray>> {
        if let Some(runtime_filter) = self.expression.downcast_ref::<RuntimeFilterExpr>()
            && let Some(rows) = runtime_filter.rows(batch, None)?
        {
            return Ok(Some(BooleanArray::new(rows, None)));
        }
        if let (Some(domain), [column]) = (&self.domain, self.columns.as_slice())
            && let Some(outcome) = self.evaluate_on_domain(domain, *column, batch, None)?
        {
            return Ok(outcome);
        }
        if let Some(rows) = self.range.as_ref().and_then(|range| range.rows(batch, None)) {
            return Ok(Some(BooleanArray::new(rows, None)));
        }
        let encoded: Vec<usize> =
            self.columns.iter().copied().filter(|&index| is_dictionary(batch.column(index).data_type())).collect();
        if encoded.is_empty() {
            return self.evaluate_plain(batch);
        }
        if let [column] = self.columns.as_slice()
            && let Some(keys) = batch.column(*column).as_dictionary_opt::<UInt16Type>()
        {
            return self.evaluate_on_dictionary(*column, keys);
        }
        let mut columns = batch.columns().to_vec();
        for index in encoded {
            columns[index] = decode(&columns[index])?;
        }
        self.evaluate_plain(&self.placeholder_batch(columns, batch.num_rows())?)
    }

    /// The outcome for each row of a dictionary-encoded `column`: the conjunct evaluated on
    /// the distinct values (and on NULL, if some rows are NULL), looked up by each row's key.
    fn evaluate_on_dictionary(&self, column: usize, encoded: &DictionaryArray<UInt16Type>) -> DataFusionResult<Option<BooleanArray>> {
        let values = encoded.values();
        let on_values = self.evaluate_plain(&self.single_column_batch(column, Arc::clone(values))?)?;
        let on_null = match encoded.keys().nulls() {
            Some(nulls) if nulls.null_count() > 0 => Some(self.holds_on_null(column, values.data_type())?),
            _ => None,
        };
        let (Some(on_values), on_null) = (on_values, on_null) else {
            // Every value holds and no row is NULL.
            return Ok(None);
        };
        // The outcomes by key are a bitmap of the span of keys, which the runtime filters'
        // loop looks up 64 rows to a word: a row at a time, this lookup was a third of the
        // CPU of SSB flat q2.1 and q3.1 (perf). A key past the dictionary reads false.
        let by_key = SpanBitmap::new(0, on_values.len() as u64, on_values.values().bit_chunks().iter_padded().collect());
        let keys = encoded.keys();
        let (bits, _) = by_key.every_row(keys.values(), keys.nulls().filter(|nulls| nulls.null_count() > 0), on_null.unwrap_or(false));
        Ok(Some(BooleanArray::new(bits, None)))
    }

    /// Whether a row's outcome is a lookup (by dictionary key or in a [`TruthTable`]), which
    /// costs less than narrowing the batch and scattering back.
    fn looks_up(&self, batch: &RecordBatch) -> bool {
        self.domain.is_some()
            || matches!(self.columns.as_slice(), [column] if batch.column(*column).as_dictionary_opt::<UInt16Type>().is_some())
    }

    /// Whether, with `alive` of a batch's rows still selected, this conjunct had better test
    /// them in place than run on the whole batch.
    fn tests_in_place(&self, alive: f64) -> bool {
        let looks_up = self.domain.is_some() || self.expression.downcast_ref::<RuntimeFilterExpr>().is_some();
        let compares = self.comparison.is_some() || self.range.is_some();
        (looks_up && alive <= LOOK_UP_SELECTED_BELOW) || (compares && alive <= COMPARE_IN_PLACE_BELOW)
    }

    /// The selected rows of `current` this conjunct keeps, tested in place (by table or by
    /// comparison); `None` where it can not tell that way.
    fn evaluate_within(&self, batch: &RecordBatch, current: &BooleanArray) -> DataFusionResult<Option<Option<BooleanArray>>> {
        if let Some(comparison) = &self.comparison
            && let Some(kept) = comparison.within(batch, current.values())
        {
            return Ok(Some(Some(BooleanArray::new(kept, None))));
        }
        if let Some(kept) = self.range.as_ref().and_then(|range| range.rows(batch, Some(current.values()))) {
            return Ok(Some(Some(BooleanArray::new(kept, None))));
        }
        if let Some(runtime_filter) = self.expression.downcast_ref::<RuntimeFilterExpr>()
            && let Some(kept) = runtime_filter.rows(batch, Some(current.values()))?
        {
            return Ok(Some(Some(BooleanArray::new(kept, None))));
        }
        match (&self.domain, self.columns.as_slice()) {
            (Some(domain), [column]) => self.evaluate_on_domain(domain, *column, batch, Some(current.values())),
            _ => Ok(None),
        }
    }

    /// The conjunct's outcome by table lookup, at the rows of `within` only if given (the
    /// other rows then come out false); `None` when some row's value lies outside the
    /// table's span (bounds that were not exact), and it is evaluated as usual.
    fn evaluate_on_domain(
        &self,
        domain: &Domain,
        column: usize,
        batch: &RecordBatch,
        within: Option<&BooleanBuffer>,
    ) -> DataFusionResult<Option<Option<BooleanArray>>> {
        let table = self.truth_table(domain, column, batch.column(column).data_type())?;
        let Some(held) = &table.held else {
            return Ok((batch.column(column).null_count() == 0 || table.null_holds).then_some(None));
        };
        Ok(held
            .rows(batch.column(column), within, table.null_holds)
            .and_then(|(bits, outside)| (!outside).then(|| Some(BooleanArray::new(bits, None)))))
    }

    /// The table for the filter as it is now: the cached one if the filter has not changed
    /// since, else computed (once, for all of the scan's partitions).
    fn truth_table(&self, domain: &Domain, column: usize, data_type: &DataType) -> DataFusionResult<Arc<TruthTable>> {
        // Read before evaluating: a table computed from a newer filter than its label only
        // gets recomputed once more.
        let generation = datafusion::physical_expr_common::physical_expr::snapshot_generation(&self.expression);
        let mut cached = domain.table.lock();
        if let Some(table) = cached.as_ref().filter(|table| table.generation == generation) {
            return Ok(Arc::clone(table));
        }
        let span = i64::try_from(domain.span).map_err(|_| DataFusionError::Internal("a filter's span overflows".into()))?;
        let values: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from_iter_values(domain.min..domain.min + span));
        let values = cast(values.as_ref(), data_type)?;
        let held = self
            .evaluate_plain(&self.single_column_batch(column, values)?)?
            .map(|mask| SpanBitmap::new(domain.min, domain.span as u64, mask.values().bit_chunks().iter_padded().collect()));
        let null_holds = self.holds_on_null(column, data_type)?;
        let table = Arc::new(TruthTable { generation, held, null_holds });
        *cached = Some(Arc::clone(&table));
        Ok(table)
    }

    /// The conjunct's outcome for a NULL in `column` (of `data_type`). A column declared NOT
    /// NULL has no NULL to look up (nor may a batch of it hold one).
    fn holds_on_null(&self, column: usize, data_type: &DataType) -> DataFusionResult<bool> {
        if !self.narrow_schema.field(column).is_nullable() {
            return Ok(false);
        }
        let null = datafusion::arrow::array::new_null_array(data_type, 1);
        Ok(self.evaluate_plain(&self.single_column_batch(column, null)?)?.is_none_or(|mask| mask.value(0)))
    }

    /// `array` as the conjunct's column and Null placeholders for the others.
    fn single_column_batch(&self, column: usize, array: ArrayRef) -> DataFusionResult<RecordBatch> {
        let rows = array.len();
        let columns = (0..self.narrow_schema.fields().len())
            .map(|index| if index == column { Arc::clone(&array) } else { Arc::new(NullArray::new(rows)) as ArrayRef })
            .collect();
        self.placeholder_batch(columns, rows)
    }

    /// `columns` under the narrow schema, with the types they actually have.
    fn placeholder_batch(&self, columns: Vec<ArrayRef>, rows: usize) -> DataFusionResult<RecordBatch> {
        let fields: Vec<Field> = self
            .narrow_schema
            .fields()
            .iter()
            .zip(&columns)
            .enumerate()
            .map(|(index, (field, array))| {
                if self.columns.contains(&index) {
                    field.as_ref().clone().with_data_type(array.data_type().clone())
                } else {
                    field.as_ref().clone()
                }
            })
            .collect();
        let columns = columns
            .into_iter()
            .enumerate()
            .map(|(index, array)| if self.columns.contains(&index) { array } else { Arc::new(NullArray::new(rows)) as ArrayRef })
            .collect();
        Ok(RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?)
    }

    /// The conjunct evaluated the plain way at the rows `selection` keeps (every row without
    /// one), its columns decoded: the rows FilterExec would have evaluated it on.
    fn evaluate_plainly(&self, batch: &RecordBatch, selection: Option<&BooleanArray>, alive: usize) -> DataFusionResult<Option<BooleanArray>> {
        let mut columns = batch.columns().to_vec();
        for index in &self.columns {
            if let Some(column) = columns.get_mut(*index)
                && is_dictionary(column.data_type())
            {
                *column = decode(column)?;
            }
        }
        let decoded = self.placeholder_batch(columns, batch.num_rows())?;
        match selection {
            None => self.evaluate_plain(&decoded),
            Some(current) => Ok(self.evaluate_plain(&self.narrow(&decoded, current, alive)?)?.map(|narrowed| scatter(current, &narrowed))),
        }
    }

    fn evaluate_plain(&self, batch: &RecordBatch) -> DataFusionResult<Option<BooleanArray>> {
        let value = match self.expression.evaluate(batch)? {
            ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))) => return Ok(None),
            value => value.into_array(batch.num_rows())?,
        };
        let booleans = value
            .as_boolean_opt()
            .ok_or_else(|| DataFusionError::Internal("a scan filter did not evaluate to booleans".into()))?;
        Ok(Some(if booleans.null_count() > 0 { prep_null_mask_filter(booleans) } else { booleans.clone() }))
    }

    /// The selected rows of the columns this conjunct reads; the other columns are Null
    /// placeholders that cost nothing.
    fn narrow(&self, batch: &RecordBatch, selection: &BooleanArray, alive: usize) -> DataFusionResult<RecordBatch> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
        for (index, column) in batch.columns().iter().enumerate() {
            if self.columns.contains(&index) {
                columns.push(filter(column.as_ref(), selection)?);
            } else {
                columns.push(Arc::new(NullArray::new(alive)));
            }
        }
        self.placeholder_batch(columns, alive)
    }
}

impl Domain {
    /// The span of a column of `data_type` between `bounds`, if it is an integer column and
    /// the span is at most `limit` integers.
    fn new(data_type: &DataType, bounds: Option<(ScalarValue, ScalarValue)>, limit: usize) -> Option<Arc<Domain>> {
        let integer = |value: &ScalarValue| -> Option<i64> {
            match value {
                ScalarValue::Int8(Some(value)) => Some(i64::from(*value)),
                ScalarValue::Int16(Some(value)) => Some(i64::from(*value)),
                ScalarValue::Int32(Some(value)) | ScalarValue::Date32(Some(value)) => Some(i64::from(*value)),
                ScalarValue::Int64(Some(value)) => Some(*value),
                ScalarValue::UInt8(Some(value)) => Some(i64::from(*value)),
                ScalarValue::UInt16(Some(value)) => Some(i64::from(*value)),
                ScalarValue::UInt32(Some(value)) => Some(i64::from(*value)),
                _ => None,
            }
        };
        if !matches!(
            data_type,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::Date32
        ) {
            return None;
        }
        let (min, max) = bounds?;
        let (min, max) = (integer(&min)?, integer(&max)?);
        let span = usize::try_from(max.checked_sub(min)?.checked_add(1)?).ok()?;
        (span <= limit).then(|| Arc::new(Domain { min, span, table: parking_lot::Mutex::new(None) }))
    }
}

fn is_dictionary(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Dictionary(..))
}

/// A dictionary-encoded array as plain values; any other array as it is.
pub fn decode(array: &ArrayRef) -> DataFusionResult<ArrayRef> {
    match array.data_type() {
        DataType::Dictionary(_, values) => Ok(cast(array.as_ref(), values)?),
        _ => Ok(Arc::clone(array)),
    }
}

/// Spreads `narrowed` (one value per selected row) back over the selected positions.
fn scatter(selection: &BooleanArray, narrowed: &BooleanArray) -> BooleanArray {
    let narrowed = narrowed.values();
    let mut position = 0;
    let bits = test_selected(selection.values(), |_| {
        let held = position < narrowed.len() && narrowed.value(position);
        position += 1;
        held
    });
    BooleanArray::new(bits, None)
}

/// Whether `expression` calls a scalar function anywhere (`EXTRACT`, `concat`, `substr`).
fn calls_a_function(expression: &Arc<dyn PhysicalExpr>) -> bool {
    expression.downcast_ref::<ScalarFunctionExpr>().is_some() || expression.children().into_iter().any(calls_a_function)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::physical_expr::expressions::DynamicFilterPhysicalExpr;
    use datafusion::arrow::array::{Int32Array, StringArray};
    use datafusion::logical_expr::{col, lit};
    use datafusion::prelude::SessionContext;

    fn batch() -> DataFusionResult<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, true),
            Field::new("city", DataType::Utf8, true),
            Field::new("note", DataType::Utf8, true),
        ]));
        let ids: Vec<Option<i32>> = (0..100).map(|id| if id == 7 { None } else { Some(id) }).collect();
        let cities: Vec<Option<&str>> = (0..100).map(|id| Some(if id % 10 == 0 { "UNITED KI1" } else { "PERU" })).collect();
        let notes: Vec<String> = (0..100).map(|id| format!("row {id}")).collect();
        Ok(RecordBatch::try_new(
            schema,
            vec![Arc::new(Int32Array::from(ids)), Arc::new(StringArray::from(cities)), Arc::new(StringArray::from(notes))],
        )?)
    }

    fn ids(batch: &RecordBatch) -> Vec<Option<i32>> {
        batch.column(0).as_primitive::<datafusion::arrow::datatypes::Int32Type>().iter().collect()
    }

    #[test]
    fn a_columns_two_bounds_run_as_one_conjunct() -> DataFusionResult<()> {
        let context = SessionContext::new();
        let state = context.state();
        let input = batch()?;
        let filters = [col("id").lt_eq(lit(60)), col("t.city").eq(lit("UNITED KI1")), col("id").gt(lit(15))];
        let plan = ScanFilter::plan(&filters, &input.schema(), &state).expect("a filter");
        let shown: Vec<String> = plan.expressions().map(|expression| expression.to_string()).collect();
        assert_eq!(shown, ["id@0 <= 60 AND id@0 > 15", "city@1 = UNITED KI1"]);
        // Each of the query's conjuncts is still one the scan applies, so no FilterExec
        // repeats it.
        let schema = input.schema();
        let df_schema = DFSchema::try_from(Arc::clone(&schema))?;
        for filter in &filters {
            let expression = state.create_physical_expr(unnormalize_col(filter.clone()), &df_schema)?;
            assert!(plan.applies(expression.as_ref()), "{filter}");
        }
        assert_eq!(ids(&plan.apply(input.clone())?), vec![Some(20), Some(30), Some(40), Some(50), Some(60)]);
        // Alone, over the whole batch: NULL (id 7) is dropped.
        let filters = [col("id").gt_eq(lit(5)), col("id").lt(lit(9))];
        let plan = ScanFilter::plan(&filters, &input.schema(), &state).expect("a filter");
        assert_eq!(plan.expressions().count(), 1);
        assert_eq!(ids(&plan.selection_applied(input.clone())?), vec![Some(5), Some(6), Some(8)]);
        // In place, at the tenth of the rows a selective first conjunct keeps.
        let filters = [col("t.city").eq(lit("UNITED KI1")), col("id").gt(lit(0)), col("id").lt_eq(lit(30))];
        let plan = ScanFilter::plan(&filters, &input.schema(), &state).expect("a filter");
        assert_eq!(plan.expressions().count(), 2);
        assert_eq!(ids(&plan.apply(input.clone())?), vec![Some(10), Some(20), Some(30)]);
        // A conjunct that calls a function runs after those on plain columns, wherever it
        // stood, and the others keep their order.
        let filters = [
            datafusion::functions::expr_fn::character_length(col("t.note")).eq(lit(6)),
            col("t.city").eq(lit("UNITED KI1")),
            col("id").lt_eq(lit(30)),
        ];
        let plan = ScanFilter::plan(&filters, &input.schema(), &state).expect("a filter");
        let shown: Vec<String> = plan.expressions().map(|expression| expression.to_string()).collect();
        assert_eq!(shown, ["city@1 = UNITED KI1", "id@0 <= 30", "character_length(note@2) = 6"]);
        assert_eq!(ids(&plan.apply(input)?), vec![Some(10), Some(20), Some(30)]);
        Ok(())
    }

    #[test]
    fn conjuncts_narrow_in_turn_and_match_the_whole_predicate() -> DataFusionResult<()> {
        let context = SessionContext::new();
        let state = context.state();
        let input = batch()?;
        // Selective first (10 rows), then a wide one on the survivors, then a narrow one.
        let filters = [
            col("t.city").eq(lit("UNITED KI1")),
            col("id").gt(lit(15)),
            col("id").lt(lit(95)).and(col("id").not_eq(lit(40))),
        ];
        let plan = ScanFilter::plan(&filters, &input.schema(), &state);
        let filtered = plan.map(|plan| plan.apply(input.clone())).transpose()?;
        let expected: Vec<Option<i32>> = vec![Some(20), Some(30), Some(50), Some(60), Some(70), Some(80), Some(90)];
        assert_eq!(filtered.as_ref().map(ids), Some(expected));
        assert_eq!(filtered.map(|batch| batch.num_columns()), Some(3));

        // NULL is not true: id 7 goes, whatever the comparison.
        let plan = ScanFilter::plan(&[col("id").lt(lit(10))], &input.schema(), &state);
        let filtered = plan.map(|plan| plan.apply(input.clone())).transpose()?;
        assert_eq!(filtered.map(|batch| ids(&batch).len()), Some(9));
        Ok(())
    }

    /// A join's dynamic filter that keeps most of what it sees stops running; a selective one
    /// stays, and so does any other dynamic filter.
    #[test]
    fn dynamic_filters_that_keep_most_rows_retire() -> DataFusionResult<()> {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, false)]));
        let batch = |ids: std::ops::Range<i32>| {
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(Int32Array::from(ids.collect::<Vec<i32>>()))])
        };
        let id = Arc::new(datafusion::physical_expr::expressions::Column::new("id", 0)) as Arc<dyn PhysicalExpr>;
        let below = |limit: i32| -> Arc<dyn PhysicalExpr> {
            Arc::new(datafusion::physical_expr::expressions::BinaryExpr::new(
                Arc::clone(&id),
                datafusion::logical_expr::Operator::Lt,
                Arc::new(datafusion::physical_expr::expressions::Literal::new(ScalarValue::Int32(Some(limit)))),
            ))
        };
        let join_filter = |limit: i32| -> Arc<dyn PhysicalExpr> {
            Arc::new(DynamicFilterPhysicalExpr::new(vec![Arc::clone(&id)], below(limit)))
        };
        let retiring = |filter: Arc<dyn PhysicalExpr>| {
            let ids = filter.expression_id().into_iter().collect();
            ScanFilter::with_dynamic(None, vec![filter], &schema, &[], 0).map(|scan| scan.retiring(&ids))
        };
        // Keeps all 70 000 rows of the first batch, so the second passes through whole.
        let loose = retiring(join_filter(100_000));
        let rows = |filter: &Option<ScanFilter>, input: RecordBatch| filter.as_ref().map(|filter| filter.apply(input).map(|batch| batch.num_rows()));
        assert_eq!(rows(&loose, batch(0..70_000)?).transpose()?, Some(70_000));
        assert_eq!(rows(&loose, batch(100_000..170_000)?).transpose()?, Some(70_000));
        // Keeps 1 000 of 70 000: still filtering on the second batch.
        let tight = retiring(join_filter(1_000));
        assert_eq!(rows(&tight, batch(0..70_000)?).transpose()?, Some(1_000));
        assert_eq!(rows(&tight, batch(0..70_000)?).transpose()?, Some(1_000));
        // A filter that is not a join's (TopK's) never retires.
        let top_k = ScanFilter::with_dynamic(None, vec![join_filter(100_000)], &schema, &[], 0);
        assert_eq!(rows(&top_k, batch(0..70_000)?).transpose()?, Some(70_000));
        assert_eq!(rows(&top_k, batch(100_000..170_000)?).transpose()?, Some(0));
        Ok(())
    }

    /// Conjuncts over a dictionary-encoded column, alone, after a selective one (narrowed) and
    /// together with another column (decoded), keep the rows they keep on plain strings,
    /// NULL cities included, in a whole batch and in a slice of one.
    #[test]
    fn dictionary_encoded_columns_filter_as_plain_ones() -> DataFusionResult<()> {
        let context = SessionContext::new();
        let state = context.state();
        let cities: Vec<Option<&str>> =
            (0..100).map(|id| if id % 13 == 0 { None } else { Some(["UNITED KI1", "PERU", "CHINA"][id % 3]) }).collect();
        let plain = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, true), Field::new("city", DataType::Utf8, true)])),
            vec![Arc::new(Int32Array::from((0..100).collect::<Vec<i32>>())), Arc::new(StringArray::from(cities))],
        )?;
        let dictionary_type = DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8));
        let encoded = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, true), Field::new("city", dictionary_type.clone(), true)])),
            vec![Arc::clone(plain.column(0)), cast(plain.column(1).as_ref(), &dictionary_type)?],
        )?;
        let cases: Vec<Vec<Expr>> = vec![
            vec![col("city").eq(lit("UNITED KI1"))],
            vec![col("city").not_eq(lit("PERU"))],
            vec![col("city").is_null()],
            vec![col("city").in_list(vec![lit("CHINA"), lit("ATLANTIS")], false)],
            vec![col("id").lt(lit(15)), col("city").eq(lit("CHINA"))],
            vec![col("city").is_null().or(col("id").gt(lit(90)))],
            vec![col("city").like(lit("%KI%"))],
        ];
        for filters in cases {
            let plan = ScanFilter::plan(&filters, &plain.schema(), &state).expect("a scan filter");
            let expected = ids(&plan.apply(plain.clone())?);
            let filtered = plan.selection_applied(encoded.clone())?;
            assert!(matches!(filtered.column(1).data_type(), DataType::Dictionary(..)), "survivors stay encoded until decoded");
            assert_eq!(ids(&filtered), expected, "{filters:?}");
            let decoded = decode(filtered.column(1))?;
            assert_eq!(decoded.data_type(), &DataType::Utf8);
            let plain_cities = plan.apply(plain.clone())?;
            assert_eq!(decoded.as_ref(), plain_cities.column(1).as_ref());
            // A scan hands on slices of row groups: keys and NULLs at an offset.
            let expected = ids(&plan.apply(plain.slice(3, 90))?);
            assert_eq!(ids(&plan.selection_applied(encoded.slice(3, 90))?), expected, "{filters:?} on a slice");
        }
        let plan = ScanFilter::plan(&[col("city").eq(lit("PERU")), col("id").gt(lit(1))], &plain.schema(), &state).expect("filter");
        assert_eq!(plan.dictionary_columns(&plain.schema()), vec![1], "the city is read alone, the id is no string");
        Ok(())
    }

    /// A join filter on an integer column with known bounds runs as a table of outcomes per
    /// value: the same rows as evaluating it, NULLs included, recomputed when the filter is
    /// updated, and evaluated as usual for a batch with values outside the bounds.
    #[test]
    fn dynamic_filters_on_bounded_integers_are_tabulated() -> DataFusionResult<()> {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, true)]));
        let batch = |ids: Vec<Option<i32>>| RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(Int32Array::from(ids))]);
        let id = Arc::new(datafusion::physical_expr::expressions::Column::new("id", 0)) as Arc<dyn PhysicalExpr>;
        let modulo_is = |divisor: i32, remainder: i32| -> Arc<dyn PhysicalExpr> {
            use datafusion::physical_expr::expressions::{BinaryExpr, Literal};
            let literal = |value: i32| Arc::new(Literal::new(ScalarValue::Int32(Some(value)))) as Arc<dyn PhysicalExpr>;
            let modulo = Arc::new(BinaryExpr::new(Arc::clone(&id), datafusion::logical_expr::Operator::Modulo, literal(divisor)));
            Arc::new(BinaryExpr::new(modulo, datafusion::logical_expr::Operator::Eq, literal(remainder)))
        };
        let dynamic = Arc::new(DynamicFilterPhysicalExpr::new(vec![Arc::clone(&id)], modulo_is(3, 0)));
        let bounds = vec![Some((ScalarValue::Int32(Some(0)), ScalarValue::Int32(Some(999))))];
        let filter = ScanFilter::with_dynamic(None, vec![Arc::clone(&dynamic) as Arc<dyn PhysicalExpr>], &schema, &bounds, 1 << 16)
            .expect("a scan filter");
        assert!(filter.tabulates(dynamic.expression_id().expect("an id")));
        let values: Vec<Option<i32>> = (0..1000).map(|id| if id % 10 == 1 { None } else { Some(id) }).collect();
        let kept = |filter: &ScanFilter, input: Vec<Option<i32>>| -> DataFusionResult<Vec<Option<i32>>> {
            Ok(ids(&filter.selection_applied(batch(input)?)?))
        };
        let multiples = |divisor: i32, remainder: i32, values: &[Option<i32>]| -> Vec<Option<i32>> {
            values.iter().copied().filter(|id| id.is_some_and(|id| id % divisor == remainder)).collect()
        };
        assert_eq!(kept(&filter, values.clone())?, multiples(3, 0, &values));
        // The join filled its filter anew: the table follows.
        dynamic.update(modulo_is(7, 2))?;
        assert_eq!(kept(&filter, values.clone())?, multiples(7, 2, &values));
        // 5000 is beyond the bounds storage reported: evaluated as usual, still right.
        let beyond = vec![Some(5000), Some(9), Some(5002), None];
        assert_eq!(kept(&filter, beyond.clone())?, multiples(7, 2, &beyond));
        // After a selective conjunct (5% left) the table is read at the survivors only.
        let context = SessionContext::new();
        let first = ScanFilter::plan(&[col("id").lt(lit(50))], &schema, &context.state()).expect("a static filter");
        let both = ScanFilter::with_dynamic(Some(&first), vec![Arc::clone(&dynamic) as Arc<dyn PhysicalExpr>], &schema, &bounds, 1 << 16)
            .expect("a scan filter");
        let below_fifty: Vec<Option<i32>> = values.iter().copied().filter(|id| id.is_some_and(|id| id < 50)).collect();
        assert_eq!(kept(&both, values.clone())?, multiples(7, 2, &below_fifty));
        // A NOT NULL column: no NULL outcome to compute.
        let required = Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, false)]));
        let filter = ScanFilter::with_dynamic(None, vec![Arc::clone(&dynamic) as Arc<dyn PhysicalExpr>], &required, &bounds, 1 << 16)
            .expect("a scan filter");
        let input = RecordBatch::try_new(Arc::clone(&required), vec![Arc::new(Int32Array::from((0..1000).collect::<Vec<i32>>()))])?;
        let expected = multiples(7, 2, &(0..1000).map(Some).collect::<Vec<_>>());
        assert_eq!(ids(&filter.selection_applied(input)?), expected);
        // A span wider than the limit is not tabulated.
        let wide = ScanFilter::with_dynamic(None, vec![Arc::clone(&dynamic) as Arc<dyn PhysicalExpr>], &schema, &bounds, 100)
            .expect("a scan filter");
        assert!(!wide.tabulates(dynamic.expression_id().expect("an id")));
        Ok(())
    }

    #[test]
    fn volatile_filters_stay_out_and_failures_are_the_querys() -> DataFusionResult<()> {
        let context = SessionContext::new();
        let state = context.state();
        let input = batch()?;
        let random = datafusion::functions::math::expr_fn::random().lt(lit(0.5));
        assert!(ScanFilter::plan(&[random], &input.schema(), &state).is_none());
        // 100 / (id - 50) fails on row 50: the query's own filter fails the query, as
        // FilterExec would have.
        let failing = (lit(100) / (col("id") - lit(50))).gt(lit(0));
        let plan = ScanFilter::plan(std::slice::from_ref(&failing), &input.schema(), &state).expect("planned");
        assert!(plan.apply(input.clone()).is_err());
        // Row 50 dropped by an earlier conjunct: the whole-batch evaluation fails there, but
        // only the survivors decide.
        let plan = ScanFilter::plan(&[col("id").not_eq(lit(50)), failing.clone()], &input.schema(), &state).expect("planned");
        assert_eq!(ids(&plan.apply(input.clone())?), (51..100).map(Some).collect::<Vec<_>>());
        // A dynamic filter that fails is skipped: its join applies it anyway.
        let schema = DFSchema::try_from(input.schema())?;
        let dynamic = state.create_physical_expr(failing, &schema)?;
        let plan = ScanFilter::with_dynamic(None, vec![dynamic], &input.schema(), &[], 0).expect("planned");
        assert_eq!(plan.apply(input.clone())?.num_rows(), 100);
        Ok(())
    }
}
