//! The filters a scan hands to storage, as StarRocks' FE hands column predicates to its BE
//! scanners. Storage uses them only to skip rows that cannot match: row groups whose min/max
//! statistics (StarRocks' zone maps) prove it, and, in a rowset sorted by the table's key, the
//! rows outside the range the predicate puts on the leading key column (what StarRocks' short
//! key index finds). The query still applies every filter to the rows it reads, so a predicate
//! storage does not understand costs speed, never correctness.
//!
//! The predicate is plain data, not a DataFusion expression, because a remote backend receives
//! it over the wire.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, UInt64Array, make_comparator};
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::Operator;
use datafusion::parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, Literal, in_list, is_not_null, is_null};
use datafusion::physical_optimizer::pruning::{PruningPredicate, PruningPredicateBuilder, PruningStatistics};
use serde::{Deserialize, Serialize};

use crate::distinct::DistinctSketch;
use crate::scan::{ColumnStatistics, TabletSchema, stores_column};

/// A literal of a predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ScanValue {
    Boolean(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Decimal { value: i128, precision: u8, scale: i8 },
    Text(String),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01 00:00:00, without a time zone (DATETIME).
    DateTime(i64),
}

impl ScanValue {
    /// The literal of a DataFusion filter; `None` for NULL and for types storage does not prune.
    pub fn from_scalar(value: &ScalarValue) -> Option<ScanValue> {
        Some(match value {
            ScalarValue::Boolean(Some(v)) => ScanValue::Boolean(*v),
            ScalarValue::Int8(Some(v)) => ScanValue::Int(i64::from(*v)),
            ScalarValue::Int16(Some(v)) => ScanValue::Int(i64::from(*v)),
            ScalarValue::Int32(Some(v)) => ScanValue::Int(i64::from(*v)),
            ScalarValue::Int64(Some(v)) => ScanValue::Int(*v),
            ScalarValue::UInt8(Some(v)) => ScanValue::UInt(u64::from(*v)),
            ScalarValue::UInt16(Some(v)) => ScanValue::UInt(u64::from(*v)),
            ScalarValue::UInt32(Some(v)) => ScanValue::UInt(u64::from(*v)),
            ScalarValue::UInt64(Some(v)) => ScanValue::UInt(*v),
            ScalarValue::Float32(Some(v)) => ScanValue::Float(f64::from(*v)),
            ScalarValue::Float64(Some(v)) => ScanValue::Float(*v),
            ScalarValue::Decimal128(Some(value), precision, scale) => ScanValue::Decimal {
                value: *value,
                precision: *precision,
                scale: *scale,
            },
            ScalarValue::Utf8(Some(v)) | ScalarValue::LargeUtf8(Some(v)) | ScalarValue::Utf8View(Some(v)) => {
                ScanValue::Text(v.clone())
            }
            ScalarValue::Date32(Some(v)) => ScanValue::Date(*v),
            // A zoned timestamp is an instant, not a DATETIME; leave it to the query.
            ScalarValue::TimestampSecond(Some(v), None) => ScanValue::DateTime(v.checked_mul(1_000_000)?),
            ScalarValue::TimestampMillisecond(Some(v), None) => ScanValue::DateTime(v.checked_mul(1_000)?),
            ScalarValue::TimestampMicrosecond(Some(v), None) => ScanValue::DateTime(*v),
            ScalarValue::TimestampNanosecond(Some(v), None) if v % 1_000 == 0 => ScanValue::DateTime(v / 1_000),
            _ => return None,
        })
    }

    fn to_scalar(&self) -> ScalarValue {
        match self {
            ScanValue::Boolean(v) => ScalarValue::Boolean(Some(*v)),
            ScanValue::Int(v) => ScalarValue::Int64(Some(*v)),
            ScanValue::UInt(v) => ScalarValue::UInt64(Some(*v)),
            ScanValue::Float(v) => ScalarValue::Float64(Some(*v)),
            ScanValue::Decimal { value, precision, scale } => ScalarValue::Decimal128(Some(*value), *precision, *scale),
            ScanValue::Text(v) => ScalarValue::Utf8(Some(v.clone())),
            ScanValue::Date(v) => ScalarValue::Date32(Some(*v)),
            ScanValue::DateTime(v) => ScalarValue::TimestampMicrosecond(Some(*v), None),
        }
    }

    /// The literal in the column's type, only when the conversion is exact: `int_column < 2.5`
    /// must not become `int_column < 2`.
    pub fn to_scalar_of(&self, data_type: &DataType) -> Option<ScalarValue> {
        let original = self.to_scalar();
        if &original.data_type() == data_type {
            return Some(original);
        }
        let converted = original.cast_to(data_type).ok()?;
        if converted.is_null() {
            return None;
        }
        let back = converted.cast_to(&original.data_type()).ok()?;
        (back == original).then_some(converted)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparison {
    pub fn from_operator(operator: Operator) -> Option<Comparison> {
        Some(match operator {
            Operator::Eq => Comparison::Equal,
            Operator::NotEq => Comparison::NotEqual,
            Operator::Lt => Comparison::Less,
            Operator::LtEq => Comparison::LessOrEqual,
            Operator::Gt => Comparison::Greater,
            Operator::GtEq => Comparison::GreaterOrEqual,
            _ => return None,
        })
    }

    fn operator(self) -> Operator {
        match self {
            Comparison::Equal => Operator::Eq,
            Comparison::NotEqual => Operator::NotEq,
            Comparison::Less => Operator::Lt,
            Comparison::LessOrEqual => Operator::LtEq,
            Comparison::Greater => Operator::Gt,
            Comparison::GreaterOrEqual => Operator::GtEq,
        }
    }
}

/// Conditions on table columns (named as in the table) that every returned row satisfies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ScanPredicate {
    And(Vec<ScanPredicate>),
    Or(Vec<ScanPredicate>),
    Compare { column: String, comparison: Comparison, value: ScanValue },
    InList { column: String, values: Vec<ScanValue>, negated: bool },
    IsNull { column: String, negated: bool },
}

impl ScanPredicate {
    /// The part of the predicate that names only `columns`, keeping its meaning as a filter:
    /// conjuncts on other columns are dropped, and a disjunction that names another column
    /// is dropped whole. A PRIMARY KEY merge can only be pruned by key columns, since skipping
    /// a newer row because of a value column would resurrect the older row it replaces.
    pub fn restricted_to(&self, columns: &[String]) -> Option<ScanPredicate> {
        let allowed = |column: &String| columns.iter().any(|name| name == column);
        match self {
            ScanPredicate::And(parts) => {
                let kept: Vec<ScanPredicate> = parts.iter().filter_map(|part| part.restricted_to(columns)).collect();
                (!kept.is_empty()).then_some(ScanPredicate::And(kept))
            }
            ScanPredicate::Or(parts) => parts
                .iter()
                .map(|part| part.restricted_to(columns).filter(|kept| kept == part))
                .collect::<Option<Vec<_>>>()
                .map(ScanPredicate::Or),
            ScanPredicate::Compare { column, .. }
            | ScanPredicate::InList { column, .. }
            | ScanPredicate::IsNull { column, .. } => allowed(column).then(|| self.clone()),
        }
    }

    /// The predicate as a DataFusion expression over `schema`, leaving out what can not be
    /// expressed exactly (an unknown column, an inexact literal). Leaving out a conjunct only
    /// widens the filter; a disjunction with an unexpressible part is left out whole.
    fn to_physical(&self, schema: &Schema) -> Option<Arc<dyn PhysicalExpr>> {
        let column = |name: &str| -> Option<(Arc<dyn PhysicalExpr>, DataType)> {
            let (index, field) = schema.column_with_name(name)?;
            Some((
                Arc::new(datafusion::physical_expr::expressions::Column::new(name, index)),
                field.data_type().clone(),
            ))
        };
        match self {
            ScanPredicate::And(parts) => parts
                .iter()
                .filter_map(|part| part.to_physical(schema))
                .reduce(|left, right| Arc::new(BinaryExpr::new(left, Operator::And, right))),
            ScanPredicate::Or(parts) => {
                let parts = parts.iter().map(|part| part.to_physical(schema)).collect::<Option<Vec<_>>>()?;
                parts
                    .into_iter()
                    .reduce(|left, right| Arc::new(BinaryExpr::new(left, Operator::Or, right)))
            }
            ScanPredicate::Compare { column: name, comparison, value } => {
                let (column, data_type) = column(name)?;
                let literal = value.to_scalar_of(&data_type)?;
                Some(Arc::new(BinaryExpr::new(column, comparison.operator(), Arc::new(Literal::new(literal)))))
            }
            ScanPredicate::InList { column: name, values, negated } => {
                let (column, data_type) = column(name)?;
                let list = values
                    .iter()
                    .map(|value| {
                        value
                            .to_scalar_of(&data_type)
                            .map(|literal| Arc::new(Literal::new(literal)) as Arc<dyn PhysicalExpr>)
                    })
                    .collect::<Option<Vec<_>>>()?;
                in_list(column, list, negated, schema).ok()
            }
            ScanPredicate::IsNull { column: name, negated } => {
                let (column, _) = column(name)?;
                if *negated { is_not_null(column).ok() } else { is_null(column).ok() }
            }
        }
    }
}

/// The footer key listing, as a JSON array, the columns a rowset's rows are sorted by
/// (ascending, NULLs first). Rowsets written before it existed lack it and are read whole.
pub const SORT_COLUMNS_FOOTER_KEY: &str = "cairn.sort_columns";

/// What a scan's predicate lets storage skip in each rowset.
#[derive(Default)]
pub struct Pruning {
    pub row_groups: Option<RowGroupPruner>,
    pub key_range: Option<KeyRange>,
}

impl Pruning {
    pub fn new(predicate: Option<&ScanPredicate>, schema: &TabletSchema) -> Pruning {
        Pruning {
            row_groups: predicate.and_then(|predicate| RowGroupPruner::new(predicate, schema)),
            key_range: predicate.and_then(|predicate| KeyRange::new(predicate, schema)),
        }
    }
}

/// The bounds a predicate's conjuncts put on the table's leading key column. A rowset's rows
/// are sorted by the key, so within each row group the rows inside the bounds are one run,
/// found by binary search: a query on a day of a table keyed by date reads that day's rows
/// rather than whole row groups of 131072 rows.
#[derive(Debug)]
pub struct KeyRange {
    column: String,
    unique_id: u32,
    data_type: DataType,
    /// `(bound, inclusive)`, each bound a one-value array of the column's type: each lower
    /// bound raises the run's start, each upper bound lowers its end, so bounds need not be
    /// compared with one another.
    lower: Vec<(ArrayRef, bool)>,
    upper: Vec<(ArrayRef, bool)>,
}

impl KeyRange {
    /// `None` when no conjunct of `predicate` bounds the leading key column, or the column's
    /// type does not order as SQL compares it (floats: a binary search over `total_cmp`
    /// would put -0.0 below 0.0, which `>= 0.0` keeps).
    pub fn new(predicate: &ScanPredicate, schema: &TabletSchema) -> Option<KeyRange> {
        let name = schema.key_columns.first()?;
        let definition = schema.columns.iter().find(|column| &column.name == name)?;
        let data_type = definition.column_type.to_arrow();
        let ordered = data_type.is_integer()
            || matches!(
                data_type,
                DataType::Date32
                    | DataType::Date64
                    | DataType::Timestamp(_, None)
                    | DataType::Decimal128(..)
                    | DataType::Utf8
                    | DataType::LargeUtf8
            );
        if !ordered {
            return None;
        }
        let mut range = KeyRange {
            column: name.clone(),
            unique_id: definition.unique_id,
            data_type,
            lower: Vec::new(),
            upper: Vec::new(),
        };
        range.bound_by(predicate);
        (!range.lower.is_empty() || !range.upper.is_empty()).then_some(range)
    }

    fn bound_by(&mut self, predicate: &ScanPredicate) {
        match predicate {
            ScanPredicate::And(parts) => parts.iter().for_each(|part| self.bound_by(part)),
            ScanPredicate::Compare { column, comparison, value } if *column == self.column => {
                // An inexact literal (`int_key < 2.5`) bounds nothing here; the query applies it.
                let Some(literal) = value.to_scalar_of(&self.data_type).and_then(|literal| literal.to_array().ok()) else {
                    return;
                };
                match comparison {
                    Comparison::Equal => {
                        self.lower.push((Arc::clone(&literal), true));
                        self.upper.push((literal, true));
                    }
                    Comparison::Greater => self.lower.push((literal, false)),
                    Comparison::GreaterOrEqual => self.lower.push((literal, true)),
                    Comparison::Less => self.upper.push((literal, false)),
                    Comparison::LessOrEqual => self.upper.push((literal, true)),
                    Comparison::NotEqual => {}
                }
            }
            _ => {}
        }
    }

    pub fn column(&self) -> &str {
        &self.column
    }

    /// Whether a rowset file is sorted by this very column first: its footer says so, and
    /// it stores the column under the table's id and type (not a column dropped and added
    /// again under the same name, nor one whose type changed since).
    pub fn applies_to(&self, file_schema: &Schema, metadata: &ParquetMetaData) -> bool {
        let sorted_first = metadata
            .file_metadata()
            .key_value_metadata()
            .and_then(|entries| entries.iter().find(|entry| entry.key == SORT_COLUMNS_FOOTER_KEY))
            .and_then(|entry| entry.value.as_deref())
            .and_then(|value| serde_json::from_str::<Vec<String>>(value).ok())
            .is_some_and(|columns| columns.first() == Some(&self.column));
        let Ok(stored) = file_schema.field_with_name(&self.column) else {
            return false;
        };
        sorted_first && stored.data_type() == &self.data_type && stores_column(stored, self.unique_id)
    }

    /// The rows of `values`, the column of a row group of a rowset [`KeyRange::applies_to`],
    /// that lie within the bounds. NULLs, sorted first, are left out: no comparison holds for
    /// them. `None` if `values` is not of the column's type or a bound cannot be compared
    /// with it.
    pub fn rows_within(&self, values: &ArrayRef) -> Option<Range<usize>> {
        if values.data_type() != &self.data_type {
            return None;
        }
        let (mut start, mut end) = (values.null_count(), values.len());
        for (bound, inclusive) in &self.lower {
            start = start.max(first_row_past(values, bound, !inclusive)?);
        }
        for (bound, inclusive) in &self.upper {
            end = end.min(first_row_past(values, bound, *inclusive)?);
        }
        Some(start..end.max(start))
    }
}

/// The first row of sorted `values` above `bound`, or at it unless `past_equal`: a binary
/// search, rows below (and equal to, with `past_equal`) the bound forming a prefix.
fn first_row_past(values: &ArrayRef, bound: &ArrayRef, past_equal: bool) -> Option<usize> {
    // The order the rowset was sorted in (rowset.rs: `sort_by_columns`).
    let compare = make_comparator(values, bound, SortOptions::default()).ok()?;
    let (mut low, mut high) = (0, values.len());
    while low < high {
        let middle = low + (high - low) / 2;
        let ordering = compare(middle, 0);
        if ordering.is_lt() || (past_equal && ordering.is_eq()) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    Some(low)
}

/// Decides which row groups of a rowset a predicate can skip.
pub struct RowGroupPruner {
    predicate: PruningPredicate,
    schema: SchemaRef,
    schema_columns: Vec<cairn_common::ColumnDefinition>,
}

impl RowGroupPruner {
    /// `None` when nothing of the predicate can prune.
    pub fn new(predicate: &ScanPredicate, schema: &TabletSchema) -> Option<RowGroupPruner> {
        let arrow_schema = schema.arrow_schema();
        let expression = predicate.to_physical(&arrow_schema)?;
        let predicate = PruningPredicateBuilder::new()
            .with_file_schema(Arc::clone(&arrow_schema))
            .try_build(expression)
            .ok()?;
        if predicate.always_true() {
            return None;
        }
        Some(RowGroupPruner {
            predicate,
            schema: arrow_schema,
            schema_columns: schema.columns.clone(),
        })
    }

    /// For each row group of the file, whether it may hold a matching row.
    pub fn row_groups_to_read(&self, metadata: &ParquetMetaData, file_schema: &Schema) -> Vec<bool> {
        let statistics = RowGroupStatistics {
            metadata,
            file_schema,
            table_schema: &self.schema,
            columns: &self.schema_columns,
        };
        match self.predicate.prune(&statistics) {
            Ok(keep) if keep.len() == metadata.num_row_groups() => keep,
            // Pruning is an optimisation: when it fails, read everything.
            _ => vec![true; metadata.num_row_groups()],
        }
    }
}

/// The smallest and largest value of each named integer or date column over a rowset's row
/// groups, from the footer's statistics, and the sketch of its distinct values the footer
/// holds (`distinct.rs`); unknown where the file does not store that very column in the
/// table's type, or the column is of another type. Join ordering estimates from these.
pub fn rowset_column_statistics(
    metadata: &ParquetMetaData,
    file_schema: &Schema,
    schema: &TabletSchema,
    columns: &[String],
) -> Vec<ColumnStatistics> {
    let table_schema = schema.arrow_schema();
    let statistics = RowGroupStatistics { metadata, file_schema, table_schema: &table_schema, columns: &schema.columns };
    let footer = metadata.file_metadata().key_value_metadata();
    columns
        .iter()
        .map(|name| {
            let Some((_, field)) = table_schema.column_with_name(name) else { return ColumnStatistics::default() };
            if !has_column_statistics(field.data_type()) {
                return ColumnStatistics::default();
            }
            // No converter where the file does not store that very column: then neither its
            // bounds nor its sketch, stored under the name, describe it.
            let Some(converter) = statistics.converter(&Column::new_unqualified(name)) else { return ColumnStatistics::default() };
            let bound = if has_column_bounds(field.data_type()) {
                let minimums = converter.row_group_mins(metadata.row_groups()).ok();
                let maximums = converter.row_group_maxes(metadata.row_groups()).ok();
                minimums.zip(maximums).and_then(|(minimums, maximums)| {
                    Some((extreme(&minimums, std::cmp::Ordering::Less)?, extreme(&maximums, std::cmp::Ordering::Greater)?))
                })
            } else {
                None
            };
            let key = crate::distinct::footer_key(name);
            let distinct = footer
                .and_then(|entries| entries.iter().find(|entry| entry.key == key))
                .and_then(|entry| entry.value.as_deref())
                .and_then(DistinctSketch::decode);
            ColumnStatistics { bound, distinct }
        })
        .collect()
}

/// Whether [`rowset_column_statistics`] bounds a column of this type: integers and dates, the
/// key types join estimates need. Float statistics are not trusted (NaN orders apart).
pub fn has_column_bounds(data_type: &DataType) -> bool {
    data_type.is_integer() || matches!(data_type, DataType::Date32 | DataType::Date64)
}

/// Whether [`rowset_column_statistics`] says anything of a column of this type: the bounded
/// types, and strings, which have a count of distinct values but no bounds.
pub fn has_column_statistics(data_type: &DataType) -> bool {
    has_column_bounds(data_type) || data_type == &DataType::Utf8
}

/// The least (`Less`) or greatest (`Greater`) value of a statistics array; `None` if any row
/// group lacks the statistic, since the bound would then be unknown.
fn extreme(values: &ArrayRef, wanted: std::cmp::Ordering) -> Option<ScalarValue> {
    let mut best: Option<ScalarValue> = None;
    for index in 0..values.len() {
        let value = ScalarValue::try_from_array(values, index).ok()?;
        if value.is_null() {
            return None;
        }
        best = match best {
            Some(current) if current.partial_cmp(&value) != Some(wanted.reverse()) => Some(current),
            _ => Some(value),
        };
    }
    best
}

/// Row group min/max/null statistics of one rowset file, under the table's column names.
struct RowGroupStatistics<'a> {
    metadata: &'a ParquetMetaData,
    file_schema: &'a Schema,
    table_schema: &'a Schema,
    columns: &'a [cairn_common::ColumnDefinition],
}

impl<'a> RowGroupStatistics<'a> {
    /// The converter of a table column's statistics, when the file stores that very column
    /// in the table's type. A column dropped and added again under the same name has another
    /// id, and its old statistics say nothing about the new one.
    fn converter(&self, column: &Column) -> Option<StatisticsConverter<'a>> {
        let definition = self.columns.iter().find(|definition| definition.name == column.name)?;
        let (_, stored) = self.file_schema.column_with_name(&column.name)?;
        let (_, wanted) = self.table_schema.column_with_name(&column.name)?;
        // Parquet leaves NaN out of a float column's min/max, while Arrow compares NaN as the
        // largest value: `x > 5` can match a NaN the statistics do not show.
        if stored.data_type() != wanted.data_type() || stored.data_type().is_floating() {
            return None;
        }
        if !stores_column(stored, definition.unique_id) {
            return None;
        }
        StatisticsConverter::try_new(&column.name, self.file_schema, self.metadata.file_metadata().schema_descr()).ok()
    }
}

impl PruningStatistics for RowGroupStatistics<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        self.converter(column)?.row_group_mins(self.metadata.row_groups()).ok()
    }

    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        self.converter(column)?.row_group_maxes(self.metadata.row_groups()).ok()
    }

    fn num_containers(&self) -> usize {
        self.metadata.num_row_groups()
    }

    fn null_counts(&self, column: &Column) -> Option<ArrayRef> {
        let counts = self.converter(column)?.row_group_null_counts(self.metadata.row_groups()).ok()?;
        Some(Arc::new(counts) as ArrayRef)
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        let counts: UInt64Array = self
            .metadata
            .row_groups()
            .iter()
            .map(|row_group| Some(row_group.num_rows() as u64))
            .collect();
        Some(Arc::new(counts) as ArrayRef)
    }

    fn contained(&self, _column: &Column, _values: &HashSet<ScalarValue>) -> Option<BooleanArray> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_common::{ColumnDefinition, ColumnType, KeysType};
    use datafusion::arrow::array::{Int32Array, StringArray};

    fn keyed_by(column_type: ColumnType) -> TabletSchema {
        TabletSchema {
            columns: vec![ColumnDefinition {
                name: "k".to_string(),
                column_type,
                nullable: true,
                default: None,
                comment: String::new(),
                is_key: true,
                unique_id: 0,
            }],
            keys_type: KeysType::Duplicate,
            key_columns: vec!["k".to_string()],
        }
    }

    fn on_k(conjuncts: &[(Comparison, ScanValue)]) -> ScanPredicate {
        ScanPredicate::And(
            conjuncts
                .iter()
                .map(|(comparison, value)| ScanPredicate::Compare {
                    column: "k".to_string(),
                    comparison: *comparison,
                    value: value.clone(),
                })
                .collect(),
        )
    }

    #[test]
    fn rows_within_leave_out_nulls_and_honour_each_comparison() {
        let schema = keyed_by(ColumnType::Int);
        // Sorted as a rowset is: NULLs first.
        let values: ArrayRef = Arc::new(Int32Array::from(vec![None, None, Some(1), Some(3), Some(3), Some(5), Some(8)]));
        let int = |value| ScanValue::Int(value);
        let cases = [
            (vec![(Comparison::GreaterOrEqual, int(3))], 3..7),
            (vec![(Comparison::Greater, int(3))], 5..7),
            (vec![(Comparison::LessOrEqual, int(3))], 2..5),
            (vec![(Comparison::Less, int(3))], 2..3),
            (vec![(Comparison::Equal, int(3))], 3..5),
            (vec![(Comparison::GreaterOrEqual, int(3)), (Comparison::LessOrEqual, int(5))], 3..6),
            // The tighter of two bounds on one side wins, in either order.
            (vec![(Comparison::Greater, int(0)), (Comparison::Greater, int(4)), (Comparison::Greater, int(1))], 5..7),
            (vec![(Comparison::Less, int(100)), (Comparison::Less, int(2))], 2..3),
        ];
        for (conjuncts, expected) in cases {
            let range = KeyRange::new(&on_k(&conjuncts), &schema).expect("a bound of the key");
            assert_eq!(range.rows_within(&values), Some(expected), "{conjuncts:?}");
        }
        for missing in [int(4), int(0), int(9)] {
            let range = KeyRange::new(&on_k(&[(Comparison::Equal, missing)]), &schema).expect("a bound");
            assert!(range.rows_within(&values).expect("comparable").is_empty());
        }
        // An array of another type is not sliced.
        let range = KeyRange::new(&on_k(&[(Comparison::Equal, int(3))]), &schema).expect("a bound");
        let strings: ArrayRef = Arc::new(StringArray::from(vec!["3"]));
        assert_eq!(range.rows_within(&strings), None);
    }

    #[test]
    fn strings_slice_in_byte_order_and_floats_not_at_all() {
        let schema = keyed_by(ColumnType::Varchar { length: 20 });
        let values: ArrayRef = Arc::new(StringArray::from(vec![None, Some("UNITED KI1"), Some("UNITED KI5"), Some("UNITED ST1")]));
        let text = |value: &str| ScanValue::Text(value.to_string());
        let range = KeyRange::new(&on_k(&[(Comparison::GreaterOrEqual, text("UNITED KI")), (Comparison::Less, text("UNITED KJ"))]), &schema)
            .expect("a bound");
        assert_eq!(range.rows_within(&values), Some(1..3));
        // Not bounds: another column, `<>`, a disjunction.
        let other = ScanPredicate::Compare { column: "v".to_string(), comparison: Comparison::Equal, value: text("x") };
        assert!(KeyRange::new(&other, &schema).is_none());
        assert!(KeyRange::new(&on_k(&[(Comparison::NotEqual, text("x"))]), &schema).is_none());
        let either = ScanPredicate::Or(vec![on_k(&[(Comparison::Equal, text("a"))]), on_k(&[(Comparison::Equal, text("b"))])]);
        assert!(KeyRange::new(&either, &schema).is_none());

        let floats = keyed_by(ColumnType::Double);
        assert!(KeyRange::new(&on_k(&[(Comparison::GreaterOrEqual, ScanValue::Float(0.0))]), &floats).is_none());
    }
}
