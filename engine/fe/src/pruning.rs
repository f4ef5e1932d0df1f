//! What a query's filters let a scan skip, as StarRocks' OlapScanNode works it out: whole
//! partitions by their key ranges, buckets by hashing the values an equality names, and row
//! groups by min/max statistics (the [`ScanPredicate`] handed to storage). Every decision
//! here only ever keeps too much; the filters still run above the scan.

use std::collections::BTreeSet;

use datafusion::arrow::array::ArrayRef;
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

use cairn_be::{Comparison, ScanPredicate, ScanValue};
use cairn_common::ids::{TabletId, Version};
use cairn_common::{ColumnType, DistributionDesc, PartitionDesc};

use crate::catalog::Table;
use crate::partition::parse_key;
use crate::router::hash_buckets;

/// Most value combinations bucket pruning hashes; beyond it, every bucket is read.
const MAX_BUCKET_COMBINATIONS: usize = 1024;

/// The tablets of `table` that rows matching `filters` can be in, each with its bucket (its
/// position in its partition) and version.
pub fn tablets_to_scan(table: &Table, filters: &[Expr]) -> Vec<(usize, TabletId, Version)> {
    let column = match &table.definition.partition {
        PartitionDesc::Range { columns, .. } => columns.first().cloned(),
        PartitionDesc::TimeExpression { column, .. } => Some(column.clone()),
        PartitionDesc::Unpartitioned => None,
    };
    let bounds = column.as_ref().and_then(|column| {
        let column_type = table.definition.column(column)?.column_type;
        Some(key_bounds(filters, column, column_type))
    });
    let buckets = buckets_to_scan(table, filters);
    table
        .partitions
        .values()
        .filter(|partition| match (bounds, partition.range) {
            (Some((low, high)), Some(range)) => range.lower <= high && low < range.upper,
            _ => true,
        })
        .flat_map(|partition| {
            let buckets = &buckets;
            partition
                .tablets
                .iter()
                .enumerate()
                .filter(move |(bucket, _)| buckets.as_ref().is_none_or(|buckets| buckets.contains(bucket)))
                .map(move |(bucket, tablet)| (bucket, tablet.id, partition.visible_version))
        })
        .collect()
}

/// The buckets that rows matching `filters` hash to, when every distribution column is
/// pinned to a few values by `=` or `IN`; `None` when any bucket may hold them.
fn buckets_to_scan(table: &Table, filters: &[Expr]) -> Option<BTreeSet<usize>> {
    let Some(DistributionDesc::Hash { columns, .. }) = &table.definition.distribution else {
        return None;
    };
    let mut conjuncts = Vec::new();
    for filter in filters {
        split_conjunction(filter, &mut conjuncts);
    }
    let mut candidates: Vec<Vec<ScalarValue>> = Vec::with_capacity(columns.len());
    for name in columns {
        let definition = table.definition.column(name)?;
        let data_type = definition.column_type.to_arrow();
        // Values in the column's own type, exactly as a load hashes them.
        let exact = |value: &ScalarValue| ScanValue::from_scalar(value)?.to_scalar_of(&data_type);
        let values = conjuncts.iter().find_map(|conjunct| match conjunct {
            Expr::BinaryExpr(_) => match column_comparison(conjunct)? {
                (column, Operator::Eq, literal) if column.name.eq_ignore_ascii_case(name) => Some(vec![exact(literal)?]),
                _ => None,
            },
            Expr::InList(list) if !list.negated => match list.expr.as_ref() {
                Expr::Column(column) if column.name.eq_ignore_ascii_case(name) => list
                    .list
                    .iter()
                    .map(|item| match item {
                        Expr::Literal(value, _) => exact(value),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>(),
                _ => None,
            },
            _ => None,
        })?;
        candidates.push(values);
    }
    let combinations = candidates
        .iter()
        .try_fold(1_usize, |product, values| product.checked_mul(values.len()))?;
    if combinations == 0 || combinations > MAX_BUCKET_COMBINATIONS {
        return None;
    }
    // Column-wise arrays of every combination of the candidate values.
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(candidates.len());
    let mut repeat = combinations;
    for values in &candidates {
        repeat /= values.len();
        let column: Vec<ScalarValue> = (0..combinations)
            .map(|row| values[(row / repeat) % values.len()].clone())
            .collect();
        arrays.push(ScalarValue::iter_to_array(column).ok()?);
    }
    let buckets = hash_buckets(&arrays, combinations, table.bucket_count.max(1) as usize).ok()?;
    Some(buckets.into_iter().collect())
}

/// The filters as a predicate storage can skip row groups with, naming the table's columns.
pub fn scan_predicate(table: &Table, filters: &[Expr]) -> Option<ScanPredicate> {
    let parts: Vec<ScanPredicate> = filters.iter().filter_map(|filter| to_scan_predicate(table, filter)).collect();
    (!parts.is_empty()).then_some(ScanPredicate::And(parts))
}

fn to_scan_predicate(table: &Table, expr: &Expr) -> Option<ScanPredicate> {
    let column_name = |expr: &Expr| match expr {
        Expr::Column(column) => table.definition.column(&column.name).map(|definition| definition.name.clone()),
        _ => None,
    };
    let literal = |expr: &Expr| match expr {
        Expr::Literal(value, _) => ScanValue::from_scalar(value),
        _ => None,
    };
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) => {
            let parts: Vec<ScanPredicate> =
                [left, right].into_iter().filter_map(|part| to_scan_predicate(table, part)).collect();
            (!parts.is_empty()).then_some(ScanPredicate::And(parts))
        }
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Or, right }) => Some(ScanPredicate::Or(vec![
            to_scan_predicate(table, left)?,
            to_scan_predicate(table, right)?,
        ])),
        Expr::BinaryExpr(_) => {
            let (column, op, value) = column_comparison(expr)?;
            Some(ScanPredicate::Compare {
                column: table.definition.column(&column.name)?.name.clone(),
                comparison: Comparison::from_operator(op)?,
                value: ScanValue::from_scalar(value)?,
            })
        }
        Expr::Between(between) if !between.negated => {
            let column = column_name(&between.expr)?;
            Some(ScanPredicate::And(vec![
                ScanPredicate::Compare {
                    column: column.clone(),
                    comparison: Comparison::GreaterOrEqual,
                    value: literal(&between.low)?,
                },
                ScanPredicate::Compare {
                    column,
                    comparison: Comparison::LessOrEqual,
                    value: literal(&between.high)?,
                },
            ]))
        }
        Expr::InList(list) => Some(ScanPredicate::InList {
            column: column_name(&list.expr)?,
            values: list.list.iter().map(literal).collect::<Option<Vec<_>>>()?,
            negated: list.negated,
        }),
        Expr::IsNull(inner) => Some(ScanPredicate::IsNull {
            column: column_name(inner)?,
            negated: false,
        }),
        Expr::IsNotNull(inner) => Some(ScanPredicate::IsNull {
            column: column_name(inner)?,
            negated: true,
        }),
        _ => None,
    }
}

/// Inclusive bounds on the partition key that the filters allow.
fn key_bounds(filters: &[Expr], column: &str, column_type: ColumnType) -> (i64, i64) {
    let mut low = i64::MIN;
    let mut high = i64::MAX;
    let mut visit = |expr: &Expr| {
        let mut conjuncts = Vec::new();
        split_conjunction(expr, &mut conjuncts);
        for conjunct in conjuncts {
            match conjunct {
                Expr::BinaryExpr(_) => {
                    let Some((column_side, op, literal)) = column_comparison(conjunct) else { continue };
                    if !column_side.name.eq_ignore_ascii_case(column) {
                        continue;
                    }
                    let Some(key) = literal_key(literal, column_type) else { continue };
                    match op {
                        Operator::Eq => {
                            low = low.max(key);
                            high = high.min(key);
                        }
                        Operator::Gt | Operator::GtEq => low = low.max(key),
                        Operator::Lt | Operator::LtEq => high = high.min(key),
                        _ => {}
                    }
                }
                Expr::Between(between) if !between.negated => {
                    if let (Expr::Column(c), Expr::Literal(lower, _), Expr::Literal(upper, _)) =
                        (between.expr.as_ref(), between.low.as_ref(), between.high.as_ref())
                    {
                        if c.name.eq_ignore_ascii_case(column) {
                            if let Some(key) = literal_key(lower, column_type) {
                                low = low.max(key);
                            }
                            if let Some(key) = literal_key(upper, column_type) {
                                high = high.min(key);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    };
    for filter in filters {
        visit(filter);
    }
    (low, high)
}

/// `column op literal` or `literal op column`, with the operator turned to face the column.
fn column_comparison(expr: &Expr) -> Option<(&Column, Operator, &ScalarValue)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else {
        return None;
    };
    match (left.as_ref(), right.as_ref()) {
        (Expr::Column(column), Expr::Literal(value, _)) => Some((column, *op, value)),
        (Expr::Literal(value, _), Expr::Column(column)) => Some((column, op.swap()?, value)),
        _ => None,
    }
}

fn split_conjunction<'a>(expr: &'a Expr, out: &mut Vec<&'a Expr>) {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) => {
            split_conjunction(left, out);
            split_conjunction(right, out);
        }
        other => out.push(other),
    }
}

/// A literal as a partition key, rounding so that pruning only ever keeps too much.
fn literal_key(value: &ScalarValue, column_type: ColumnType) -> Option<i64> {
    const MICROS_PER_DAY: i64 = 86_400_000_000;
    let micros = match value {
        ScalarValue::TimestampSecond(Some(v), _) => Some(v.checked_mul(1_000_000)?),
        ScalarValue::TimestampMillisecond(Some(v), _) => Some(v.checked_mul(1_000)?),
        ScalarValue::TimestampMicrosecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(v.div_euclid(1_000)),
        _ => None,
    };
    match column_type {
        ColumnType::DateTime => match value {
            ScalarValue::Date32(Some(days)) => Some(i64::from(*days) * MICROS_PER_DAY),
            ScalarValue::Utf8(Some(text)) | ScalarValue::Utf8View(Some(text)) => parse_key(column_type, text).ok(),
            _ => micros,
        },
        ColumnType::Date => match value {
            ScalarValue::Date32(Some(days)) => Some(i64::from(*days)),
            ScalarValue::Utf8(Some(text)) | ScalarValue::Utf8View(Some(text)) => parse_key(column_type, text).ok(),
            _ => micros.map(|micros| micros.div_euclid(MICROS_PER_DAY)),
        },
        _ => match value {
            ScalarValue::Int8(Some(v)) => Some(i64::from(*v)),
            ScalarValue::Int16(Some(v)) => Some(i64::from(*v)),
            ScalarValue::Int32(Some(v)) => Some(i64::from(*v)),
            ScalarValue::Int64(Some(v)) => Some(*v),
            ScalarValue::UInt8(Some(v)) => Some(i64::from(*v)),
            ScalarValue::UInt16(Some(v)) => Some(i64::from(*v)),
            ScalarValue::UInt32(Some(v)) => Some(i64::from(*v)),
            _ => None,
        },
    }
}


#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use datafusion::arrow::array::{Int32Array, Int64Array, RecordBatch, StringArray};
    use datafusion::prelude::{col, lit};

    use cairn_common::{ColumnDefinition, KeysType, TableDefinition};

    use super::*;
    use crate::catalog::{Partition, Tablet};
    use crate::router::bucket_indices;

    const BUCKETS: u32 = 8;

    fn column(name: &str, column_type: ColumnType) -> ColumnDefinition {
        ColumnDefinition {
            name: name.to_string(),
            column_type,
            nullable: true,
            default: None,
            comment: String::new(),
            is_key: name == "id",
            unique_id: 0,
        }
    }

    /// `hashed (id INT, grp VARCHAR, value BIGINT) DISTRIBUTED BY HASH(id, grp) BUCKETS 8`,
    /// whose tablet ids are 100 + bucket.
    fn hashed_table() -> Table {
        let tablets = (0..BUCKETS).map(|bucket| Tablet { id: 100 + u64::from(bucket), backends: vec![1] }).collect();
        Table {
            id: 1,
            definition: TableDefinition {
                name: "hashed".to_string(),
                columns: vec![
                    column("id", ColumnType::Int),
                    column("grp", ColumnType::Varchar { length: 4 }),
                    column("value", ColumnType::BigInt),
                ],
                keys_type: KeysType::Duplicate,
                key_columns: vec!["id".to_string()],
                partition: PartitionDesc::Unpartitioned,
                distribution: Some(DistributionDesc::Hash {
                    columns: vec!["id".to_string(), "grp".to_string()],
                    buckets: Some(BUCKETS),
                }),
                properties: BTreeMap::new(),
                comment: String::new(),
            },
            bucket_count: BUCKETS,
            replication_num: 1,
            partitions: BTreeMap::from([(
                "hashed".to_string(),
                Partition {
                    id: 2,
                    name: "hashed".to_string(),
                    range: None,
                    visible_version: 5,
                    visible_version_time: 0,
                    tablets,
                },
            )]),
            create_time: 0,
            next_column_id: 4,
        }
    }

    /// The tablet a load puts each row in.
    fn tablets_of_rows(table: &Table, rows: &[(i32, &str)]) -> BTreeSet<TabletId> {
        let schema = crate::table_provider::tablet_schema(table).arrow_schema();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(rows.iter().map(|row| row.0).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|row| row.1).collect::<Vec<_>>())),
                Arc::new(Int64Array::from(vec![0_i64; rows.len()])),
            ],
        )
        .expect("batch");
        bucket_indices(table, &batch, 0)
            .expect("buckets")
            .into_iter()
            .map(|bucket| 100 + bucket as u64)
            .collect()
    }

    fn scanned(table: &Table, filters: &[Expr]) -> BTreeSet<TabletId> {
        tablets_to_scan(table, filters).into_iter().map(|(_, tablet, version)| {
            assert_eq!(version, 5);
            tablet
        }).collect()
    }

    #[test]
    fn equality_on_every_distribution_column_reads_the_bucket_a_load_writes() {
        let table = hashed_table();
        let filter = col("id").eq(lit(7_i32)).and(col("grp").eq(lit("a")));
        assert_eq!(scanned(&table, &[filter]), tablets_of_rows(&table, &[(7, "a")]));
        // The same, written as two filters and with the literal first.
        let filters = [lit(7_i32).eq(col("id")), col("grp").eq(lit("a"))];
        assert_eq!(scanned(&table, &filters), tablets_of_rows(&table, &[(7, "a")]));
    }

    #[test]
    fn in_lists_read_the_bucket_of_each_combination() {
        let table = hashed_table();
        let filter = col("id")
            .in_list(vec![lit(1_i32), lit(2_i32), lit(3_i32)], false)
            .and(col("grp").in_list(vec![lit("a"), lit("b")], false));
        let rows = [(1, "a"), (2, "a"), (3, "a"), (1, "b"), (2, "b"), (3, "b")];
        let expected = tablets_of_rows(&table, &rows);
        assert!(expected.len() < BUCKETS as usize, "the test wants some buckets skipped");
        assert_eq!(scanned(&table, &[filter]), expected);
    }

    #[test]
    fn anything_short_of_pinning_every_distribution_column_reads_every_bucket() {
        let table = hashed_table();
        let every: BTreeSet<TabletId> = (100..100 + u64::from(BUCKETS)).collect();
        for filter in [
            col("id").eq(lit(7_i32)),
            col("id").gt(lit(7_i32)).and(col("grp").eq(lit("a"))),
            col("id").in_list(vec![lit(7_i32)], true).and(col("grp").eq(lit("a"))),
            // Not exactly an INT: hashing 7 would be wrong if the query meant 7.5.
            col("id").eq(lit(7.5_f64)).and(col("grp").eq(lit("a"))),
            col("id").eq(lit(7_i32)).or(col("grp").eq(lit("a"))),
        ] {
            assert_eq!(scanned(&table, &[filter.clone()]), every, "{filter}");
        }
    }

    #[test]
    fn filters_become_a_storage_predicate_on_the_table_column_names() {
        let table = hashed_table();
        let filters = [
            col("id").between(lit(1_i32), lit(5_i32)),
            col("value").gt(lit(10_i64)).or(col("grp").is_null()),
            // Storage can not use these; the query still applies them.
            (col("value") + lit(1_i64)).eq(lit(5_i64)),
            col("value").eq(col("id")),
        ];
        let predicate = scan_predicate(&table, &filters).expect("a predicate");
        let compare = |column: &str, comparison, value| ScanPredicate::Compare {
            column: column.to_string(),
            comparison,
            value,
        };
        assert_eq!(
            predicate,
            ScanPredicate::And(vec![
                ScanPredicate::And(vec![
                    compare("id", Comparison::GreaterOrEqual, ScanValue::Int(1)),
                    compare("id", Comparison::LessOrEqual, ScanValue::Int(5)),
                ]),
                ScanPredicate::Or(vec![
                    compare("value", Comparison::Greater, ScanValue::Int(10)),
                    ScanPredicate::IsNull { column: "grp".to_string(), negated: false },
                ]),
            ])
        );
        assert_eq!(scan_predicate(&table, &[col("value").eq(col("id"))]), None);
    }
}
