//! Tablet storage behaviour: visibility by version, durability across reopen, primary key
//! merge, replacement and compaction.

use std::sync::Arc;

use cairn_common::{ColumnDefinition, ColumnType, KeysType};
use cairn_storage::compaction::{CompactionPolicy, compact_tablet};
use cairn_storage::scan::{ScanEnd, scan_tablet};
use cairn_storage::rowset::ROW_GROUP_SIZE;
use cairn_storage::{Comparison, DecodedCache, ScanOptions, ScanPredicate, ScanValue, TabletManager, TabletSchema, WriteMode};
use datafusion::arrow::array::{Array, Int32Array, Int64Array, RecordBatch};
use datafusion::arrow::compute::concat_batches;

fn column(name: &str, column_type: ColumnType, is_key: bool) -> ColumnDefinition {
    ColumnDefinition {
        name: name.to_string(),
        column_type,
        nullable: !is_key,
        default: None,
        comment: String::new(),
        is_key,
        unique_id: 0,
    }
}

fn schema(keys_type: KeysType) -> TabletSchema {
    TabletSchema {
        columns: vec![
            column("id", ColumnType::Int, true),
            column("value", ColumnType::BigInt, false),
        ],
        keys_type,
        key_columns: vec!["id".to_string()],
    }
}

fn batch(schema: &TabletSchema, ids: &[i32], values: &[i64]) -> RecordBatch {
    RecordBatch::try_new(
        schema.arrow_schema(),
        vec![
            Arc::new(Int32Array::from(ids.to_vec())),
            Arc::new(Int64Array::from(values.to_vec())),
        ],
    )
    .expect("test batch")
}

/// The DUPLICATE KEY schema with field ids on its columns (`id` 1, `value` 2), as tables the FE
/// creates have them, so storage can tell a dropped column from one re-added under its name.
fn schema_with_column_ids() -> TabletSchema {
    let mut schema = schema(KeysType::Duplicate);
    schema.columns[0].unique_id = 1;
    schema.columns[1].unique_id = 2;
    schema
}

/// [`batch`]'s rows under `schema`'s storage schema, which carries the field ids.
fn stored_batch(schema: &TabletSchema, ids: &[i32], values: &[i64]) -> RecordBatch {
    RecordBatch::try_new(schema.storage_schema(), batch(schema, ids, values).columns().to_vec()).expect("rows with field ids")
}

fn read(manager: &TabletManager, tablet_id: u64, version: u64, schema: &TabletSchema) -> Vec<(i32, i64)> {
    read_with(manager, tablet_id, version, schema, None, &DecodedCache::new(1 << 20))
}

/// The rows a scan returns, before the query applies its filters.
fn read_with(
    manager: &TabletManager,
    tablet_id: u64,
    version: u64,
    schema: &TabletSchema,
    predicate: Option<&ScanPredicate>,
    cache: &DecodedCache,
) -> Vec<(i32, i64)> {
    let tablet = manager.tablet(tablet_id).expect("tablet");
    let mut batches = Vec::new();
    let options = ScanOptions { predicate, cache, dictionary_columns: &[], cached_only: false };
    scan_tablet(&tablet, version, schema, &[0, 1], &options, |batch| {
        batches.push(batch);
        true
    })
    .expect("scan");
    let all = concat_batches(&schema.arrow_schema(), &batches).expect("concat");
    let ids = all.column(0).as_any().downcast_ref::<Int32Array>().expect("ids");
    let values = all.column(1).as_any().downcast_ref::<Int64Array>().expect("values");
    let mut rows: Vec<(i32, i64)> = (0..all.num_rows()).map(|i| (ids.value(i), values.value(i))).collect();
    rows.sort();
    rows
}

#[test]
fn pending_rows_are_invisible_until_publish_and_survive_reopen() {
    let directory = tempfile::tempdir().expect("tempdir");
    let schema = schema(KeysType::Duplicate);
    {
        let manager = TabletManager::open(directory.path().to_path_buf()).expect("open");
        let tablet = manager.create_tablet(10, KeysType::Duplicate, vec!["id".into()]).expect("create");
        tablet
            .write(1, &schema.arrow_schema(), &[batch(&schema, &[2, 1], &[20, 10])], WriteMode::Append)
            .expect("write");
        assert_eq!(read(&manager, 10, 2, &schema), vec![]);
        tablet.publish(1, 2).expect("publish");
        tablet.publish(1, 2).expect("publishing twice is a no-op");
        // A transaction that never commits.
        tablet
            .write(2, &schema.arrow_schema(), &[batch(&schema, &[3], &[30])], WriteMode::Append)
            .expect("write");
    }
    let manager = TabletManager::open(directory.path().to_path_buf()).expect("reopen");
    assert_eq!(read(&manager, 10, 2, &schema), vec![(1, 10), (2, 20)]);
    let tablet = manager.tablet(10).expect("tablet");
    assert_eq!(tablet.statistics().pending_transactions, 1);
    tablet.abort(2).expect("abort");
    tablet.publish(3, 3).expect("publish of a transaction without rows here");
    assert_eq!(read(&manager, 10, 3, &schema), vec![(1, 10), (2, 20)]);
}

#[test]
fn primary_key_keeps_the_newest_row() {
    let directory = tempfile::tempdir().expect("tempdir");
    let schema = schema(KeysType::Primary);
    let manager = TabletManager::open(directory.path().to_path_buf()).expect("open");
    let tablet = manager.create_tablet(1, KeysType::Primary, vec!["id".into()]).expect("create");
    let arrow_schema = schema.arrow_schema();
    tablet
        .write(1, &arrow_schema, &[batch(&schema, &[1, 2, 1], &[10, 20, 11])], WriteMode::Append)
        .expect("write");
    tablet.publish(1, 2).expect("publish");
    tablet.write(2, &arrow_schema, &[batch(&schema, &[2, 3], &[21, 30])], WriteMode::Append).expect("write");
    tablet.publish(2, 3).expect("publish");
    assert_eq!(read(&manager, 1, 3, &schema), vec![(1, 11), (2, 21), (3, 30)]);
    assert_eq!(read(&manager, 1, 2, &schema), vec![(1, 11), (2, 20)]);
}

#[test]
fn replace_hides_older_rows_but_not_for_older_readers() {
    let directory = tempfile::tempdir().expect("tempdir");
    let schema = schema(KeysType::Duplicate);
    let manager = TabletManager::open(directory.path().to_path_buf()).expect("open");
    let tablet = manager.create_tablet(1, KeysType::Duplicate, vec!["id".into()]).expect("create");
    let arrow_schema = schema.arrow_schema();
    tablet.write(1, &arrow_schema, &[batch(&schema, &[1, 2], &[10, 20])], WriteMode::Append).expect("write");
    tablet.publish(1, 2).expect("publish");
    tablet.write(2, &arrow_schema, &[batch(&schema, &[2], &[20])], WriteMode::Replace).expect("write");
    tablet.publish(2, 3).expect("publish");
    assert_eq!(read(&manager, 1, 3, &schema), vec![(2, 20)]);
    assert_eq!(read(&manager, 1, 2, &schema), vec![(1, 10), (2, 20)]);
    // Deleting every row leaves an empty replacement.
    tablet.write(3, &arrow_schema, &[], WriteMode::Replace).expect("write");
    tablet.publish(3, 4).expect("publish");
    assert_eq!(read(&manager, 1, 4, &schema), vec![]);
}

#[test]
fn compaction_bounds_rowsets_and_keeps_results() {
    let directory = tempfile::tempdir().expect("tempdir");
    let schema = schema(KeysType::Primary);
    let manager = TabletManager::open(directory.path().to_path_buf()).expect("open");
    let tablet = manager.create_tablet(1, KeysType::Primary, vec!["id".into()]).expect("create");
    let arrow_schema = schema.arrow_schema();
    let policy = CompactionPolicy::default();
    for load in 0..40u64 {
        let id = (load % 7) as i32;
        tablet
            .write(load, &arrow_schema, &[batch(&schema, &[id], &[load as i64])], WriteMode::Append)
            .expect("write");
        tablet.publish(load, load + 2).expect("publish");
        compact_tablet(&tablet, &policy).expect("compact");
        assert!(tablet.statistics().rowset_count < policy.min_rowsets + 1);
    }
    let expected: Vec<(i32, i64)> = (0..7).map(|id| (id, (33..40).find(|l| l % 7 == id as i64).unwrap_or(0))).collect();
    assert_eq!(read(&manager, 1, 41, &schema), expected);
    // Compacted rowsets sketch their distinct values too: 7 ids, 40 values loaded (a merged
    // PRIMARY KEY rowset keeps only the 7 latest of them, in the last compaction's output).
    let cache = cairn_storage::DecodedCache::new(1 << 20);
    let columns = ["id".to_string(), "value".to_string()];
    let statistics = cairn_storage::scan::tablet_column_statistics(&tablet, 41, &schema, &columns, &cache).expect("statistics");
    let distinct: Vec<u64> = statistics.iter().map(|column| column.distinct.as_ref().expect("sketched").estimate()).collect();
    assert_eq!(distinct[0], 7);
    assert!((7..=40).contains(&distinct[1]), "{distinct:?}");
    // An older reader still sees its version through the stale rowsets.
    assert_eq!(read(&manager, 1, 2, &schema), vec![(0, 0)]);
}

#[test]
fn reading_a_version_whose_rowsets_were_swept_is_an_error_not_short_results() {
    let directory = tempfile::tempdir().expect("tempdir");
    let schema = schema(KeysType::Duplicate);
    let manager = TabletManager::open(directory.path().to_path_buf()).expect("open");
    let tablet = manager.create_tablet(1, KeysType::Duplicate, vec!["id".into()]).expect("create");
    let arrow_schema = schema.arrow_schema();
    tablet.write(1, &arrow_schema, &[batch(&schema, &[1], &[10])], WriteMode::Append).expect("write");
    tablet.publish(1, 2).expect("publish");
    tablet.write(2, &arrow_schema, &[batch(&schema, &[2], &[20])], WriteMode::Replace).expect("write");
    tablet.publish(2, 3).expect("publish");
    assert_eq!(tablet.sweep_stale(0).expect("sweep"), 1);
    // Version 2 needed the swept rowset; version 3 does not.
    assert!(matches!(
        tablet.open_version(2),
        Err(cairn_storage::StorageError::VersionNotFound { version: 2, .. })
    ));
    assert_eq!(read(&manager, 1, 3, &schema), vec![(2, 20)]);
    // The watermark survives a restart.
    drop(tablet);
    drop(manager);
    let manager = TabletManager::open(directory.path().to_path_buf()).expect("reopen");
    let tablet = manager.tablet(1).expect("tablet");
    assert!(tablet.open_version(2).is_err());
}

fn compare(column: &str, comparison: Comparison, value: ScanValue) -> ScanPredicate {
    ScanPredicate::Compare {
        column: column.to_string(),
        comparison,
        value,
    }
}

/// A DUPLICATE KEY tablet of ids `0..rows` (value = 2 * id) in one rowset of several row groups.
fn tablet_of_sequential_ids(directory: &std::path::Path, rows: usize) -> (TabletManager, TabletSchema) {
    let schema = schema(KeysType::Duplicate);
    let manager = TabletManager::open(directory.to_path_buf()).expect("open");
    let tablet = manager.create_tablet(1, KeysType::Duplicate, vec!["id".into()]).expect("create");
    let ids: Vec<i32> = (0..rows as i32).collect();
    let values: Vec<i64> = ids.iter().map(|id| i64::from(*id) * 2).collect();
    tablet
        .write(1, &schema.arrow_schema(), &[batch(&schema, &ids, &values)], WriteMode::Append)
        .expect("write");
    tablet.publish(1, 2).expect("publish");
    (manager, schema)
}

#[test]
fn min_max_statistics_skip_row_groups_and_keep_every_match() {
    let directory = tempfile::tempdir().expect("tempdir");
    let rows = 3 * ROW_GROUP_SIZE;
    let (manager, schema) = tablet_of_sequential_ids(directory.path(), rows);
    let cache = DecodedCache::new(0);
    let everything = read_with(&manager, 1, 2, &schema, None, &cache);
    assert_eq!(everything.len(), rows);

    // 20 <= value < 40 lies in the first row group only. (The value column, since a range of
    // the leading key column also slices row groups: see the next test.)
    let range = ScanPredicate::And(vec![
        compare("value", Comparison::GreaterOrEqual, ScanValue::Int(20)),
        compare("value", Comparison::Less, ScanValue::Int(40)),
    ]);
    let read = read_with(&manager, 1, 2, &schema, Some(&range), &cache);
    assert_eq!(read.len(), ROW_GROUP_SIZE, "only the first row group is read");
    let matching: Vec<(i32, i64)> = read.into_iter().filter(|(_, value)| (20..40).contains(value)).collect();
    assert_eq!(matching, (10..20).map(|id| (id, i64::from(id) * 2)).collect::<Vec<_>>());

    // Last row group, found through the value column and an IN list.
    let last = rows as i64 - 1;
    let in_list = ScanPredicate::InList {
        column: "value".to_string(),
        values: vec![ScanValue::Int(last * 2), ScanValue::Int(-4)],
        negated: false,
    };
    let read = read_with(&manager, 1, 2, &schema, Some(&in_list), &cache);
    assert_eq!(read.len(), ROW_GROUP_SIZE);
    assert!(read.contains(&(last as i32, last * 2)));

    // Nothing can match: nothing is read.
    let beyond = compare("id", Comparison::Greater, ScanValue::Int(rows as i64));
    assert!(read_with(&manager, 1, 2, &schema, Some(&beyond), &cache).is_empty());

    // A disjunction reads the row groups of either side.
    let either = ScanPredicate::Or(vec![
        compare("id", Comparison::Equal, ScanValue::Int(5)),
        compare("id", Comparison::Equal, ScanValue::Int(last)),
    ]);
    assert_eq!(read_with(&manager, 1, 2, &schema, Some(&either), &cache).len(), 2 * ROW_GROUP_SIZE);

    // What storage can not apply exactly prunes nothing: `id < 2.5` is not `id < 2`, a
    // disjunction with an unknown column may match anywhere, and so may a zoned timestamp.
    let inexact = compare("id", Comparison::Less, ScanValue::Float(2.5));
    assert_eq!(read_with(&manager, 1, 2, &schema, Some(&inexact), &cache).len(), rows);
    let unknown = ScanPredicate::Or(vec![
        compare("id", Comparison::Equal, ScanValue::Int(5)),
        compare("missing", Comparison::Equal, ScanValue::Int(5)),
    ]);
    assert_eq!(read_with(&manager, 1, 2, &schema, Some(&unknown), &cache).len(), rows);
    // An exact float literal still prunes.
    let exact = compare("value", Comparison::Less, ScanValue::Float(6.0));
    assert_eq!(read_with(&manager, 1, 2, &schema, Some(&exact), &cache).len(), ROW_GROUP_SIZE);
}

fn ids(rows: &[(i32, i64)]) -> Vec<i32> {
    rows.iter().map(|(id, _)| *id).collect()
}

#[test]
fn a_range_of_the_leading_key_reads_only_the_rows_within_it() {
    let directory = tempfile::tempdir().expect("tempdir");
    let rows = 3 * ROW_GROUP_SIZE;
    let (manager, schema) = tablet_of_sequential_ids(directory.path(), rows);
    let between = |low: i64, high: i64| {
        ScanPredicate::And(vec![
            compare("id", Comparison::GreaterOrEqual, ScanValue::Int(low)),
            compare("id", Comparison::Less, ScanValue::Int(high)),
        ])
    };
    for cache in [DecodedCache::new(0), DecodedCache::new(1 << 30)] {
        assert_eq!(ids(&read_with(&manager, 1, 2, &schema, Some(&between(10, 20)), &cache)), (10..20).collect::<Vec<_>>());
        // Across a row group boundary.
        let boundary = ROW_GROUP_SIZE as i64;
        let read = read_with(&manager, 1, 2, &schema, Some(&between(boundary - 5, boundary + 5)), &cache);
        assert_eq!(ids(&read), (boundary as i32 - 5..boundary as i32 + 5).collect::<Vec<_>>());
        // Each comparison, inclusive and exclusive, at the table's ends and inside.
        let last = rows as i64 - 1;
        let cases = [
            (compare("id", Comparison::Equal, ScanValue::Int(7)), vec![7]),
            (compare("id", Comparison::Greater, ScanValue::Int(last - 2)), vec![last as i32 - 1, last as i32]),
            (compare("id", Comparison::GreaterOrEqual, ScanValue::Int(last)), vec![last as i32]),
            (compare("id", Comparison::Less, ScanValue::Int(2)), vec![0, 1]),
            (compare("id", Comparison::LessOrEqual, ScanValue::Int(0)), vec![0]),
            (compare("id", Comparison::Equal, ScanValue::Int(last + 1)), vec![]),
            // Contradictory bounds select nothing rather than a reversed range.
            (between(20, 10), vec![]),
        ];
        for (predicate, expected) in cases {
            assert_eq!(ids(&read_with(&manager, 1, 2, &schema, Some(&predicate), &cache)), expected, "{predicate:?}");
        }
        // Not a bound of the key: `<>`, a disjunction, an inexact literal, another column.
        let not_equal = compare("id", Comparison::NotEqual, ScanValue::Int(7));
        assert_eq!(read_with(&manager, 1, 2, &schema, Some(&not_equal), &cache).len(), rows);
        let inexact = compare("id", Comparison::Less, ScanValue::Float(2.5));
        assert_eq!(read_with(&manager, 1, 2, &schema, Some(&inexact), &cache).len(), rows);
        let exact = compare("id", Comparison::Less, ScanValue::Float(3.0));
        assert_eq!(ids(&read_with(&manager, 1, 2, &schema, Some(&exact), &cache)), vec![0, 1, 2]);
    }

    // A second load, sorted on its own, and both loads again after compaction into one rowset.
    let tablet = manager.tablet(1).expect("tablet");
    let later = batch(&schema, &[15, 1_000_000, 15, 3], &[-1, -2, -3, -4]);
    tablet.write(2, &schema.arrow_schema(), &[later], WriteMode::Append).expect("write");
    tablet.publish(2, 3).expect("publish");
    let expected: Vec<(i32, i64)> = {
        let mut rows: Vec<(i32, i64)> = (10..20).map(|id| (id, i64::from(id) * 2)).collect();
        rows.extend([(15, -3), (15, -1)]);
        rows.sort();
        rows
    };
    let cache = DecodedCache::new(1 << 30);
    assert_eq!(read_with(&manager, 1, 3, &schema, Some(&between(10, 20)), &cache), expected);
    let policy = CompactionPolicy { min_rowsets: 2, ..CompactionPolicy::default() };
    compact_tablet(&tablet, &policy).expect("compact").expect("compacted");
    assert_eq!(tablet.statistics().rowset_count, 1);
    assert_eq!(read_with(&manager, 1, 3, &schema, Some(&between(10, 20)), &cache), expected);
}

#[test]
fn a_key_range_slices_a_primary_key_merge_without_bringing_back_a_replaced_row() {
    let directory = tempfile::tempdir().expect("tempdir");
    let (manager, schema) = primary_key_tablet_with_a_replaced_row(directory.path());
    let cache = DecodedCache::new(1 << 20);
    let key_is_1 = compare("id", Comparison::Equal, ScanValue::Int(1));
    assert_eq!(read_with(&manager, 1, 3, &schema, Some(&key_is_1), &cache), vec![(1, 99)]);
    let key_above_1 = compare("id", Comparison::Greater, ScanValue::Int(1));
    assert_eq!(read_with(&manager, 1, 3, &schema, Some(&key_above_1), &cache), vec![(2, 20)]);
}

/// A PRIMARY KEY tablet of two rowsets: keys 1 and 2 (values 10 and 20) at version 2, then
/// key 1 again (99) at version 3.
fn primary_key_tablet_with_a_replaced_row(directory: &std::path::Path) -> (TabletManager, TabletSchema) {
    let schema = schema(KeysType::Primary);
    let manager = TabletManager::open(directory.to_path_buf()).expect("open");
    let tablet = manager.create_tablet(1, KeysType::Primary, vec!["id".into()]).expect("create");
    let arrow_schema = schema.arrow_schema();
    tablet.write(1, &arrow_schema, &[batch(&schema, &[1, 2], &[10, 20])], WriteMode::Append).expect("write");
    tablet.publish(1, 2).expect("publish");
    tablet.write(2, &arrow_schema, &[batch(&schema, &[1], &[99])], WriteMode::Append).expect("write");
    tablet.publish(2, 3).expect("publish");
    (manager, schema)
}

#[test]
fn primary_key_pruning_never_brings_back_a_replaced_row() {
    let directory = tempfile::tempdir().expect("tempdir");
    let (manager, schema) = primary_key_tablet_with_a_replaced_row(directory.path());
    let cache = DecodedCache::new(1 << 20);
    // The newer rowset has no value 10; skipping it would make the old row of key 1 visible.
    let value_is_10 = compare("value", Comparison::Equal, ScanValue::Int(10));
    assert_eq!(read_with(&manager, 1, 3, &schema, Some(&value_is_10), &cache), vec![(1, 99), (2, 20)]);
    // Key columns still prune: every version of a key has the same key.
    let key_is_7 = compare("id", Comparison::Equal, ScanValue::Int(7));
    assert!(read_with(&manager, 1, 3, &schema, Some(&key_is_7), &cache).is_empty());
}

#[test]
fn a_second_scan_reads_decoded_columns_from_the_cache() {
    let directory = tempfile::tempdir().expect("tempdir");
    let rows = 2 * ROW_GROUP_SIZE + 7;
    let (manager, schema) = tablet_of_sequential_ids(directory.path(), rows);
    let cache = DecodedCache::new(64 << 20);
    let first = read_with(&manager, 1, 2, &schema, None, &cache);
    let after_first = cache.statistics();
    assert_eq!(after_first.hits, 0);
    // A footer and two columns of three row groups.
    assert_eq!(after_first.entries, 7);
    let second = read_with(&manager, 1, 2, &schema, None, &cache);
    let after_second = cache.statistics();
    assert_eq!(first, second);
    assert_eq!(after_second.hits, 7, "footer and every column chunk come from the cache");
    assert_eq!(after_second.misses, after_first.misses);
    assert_eq!(first.len(), rows);
    assert_eq!(first[rows - 1], (rows as i32 - 1, 2 * (rows as i64 - 1)));
}

/// The rows of a scan that reads only what is in memory, and how it ended.
fn read_in_memory(manager: &TabletManager, version: u64, schema: &TabletSchema, cache: &DecodedCache) -> (ScanEnd, usize) {
    let tablet = manager.tablet(1).expect("tablet");
    let options = ScanOptions { predicate: None, cache, dictionary_columns: &[], cached_only: true };
    let mut rows = 0;
    let end = scan_tablet(&tablet, version, schema, &[0, 1], &options, |batch| {
        rows += batch.num_rows();
        true
    })
    .expect("scan");
    (end, rows)
}

#[test]
fn a_scan_of_what_is_in_memory_stops_where_the_file_would_be_read() {
    let directory = tempfile::tempdir().expect("tempdir");
    let rows = 2 * ROW_GROUP_SIZE + 7;
    let (manager, schema) = tablet_of_sequential_ids(directory.path(), rows);
    let cache = DecodedCache::new(64 << 20);
    // Nothing cached: not even the footer is read.
    assert_eq!(read_in_memory(&manager, 2, &schema, &cache), (ScanEnd::NotInMemory, 0));
    assert_eq!(cache.statistics().entries, 0);
    // Only the id column cached: the first row group already needs the file.
    let tablet = manager.tablet(1).expect("tablet");
    let ids_only = ScanOptions { predicate: None, cache: &cache, dictionary_columns: &[], cached_only: false };
    scan_tablet(&tablet, 2, &schema, &[0], &ids_only, |_| true).expect("scan");
    assert_eq!(read_in_memory(&manager, 2, &schema, &cache), (ScanEnd::NotInMemory, 0));
    // Both columns cached: every row, without a miss.
    let read = read_with(&manager, 1, 2, &schema, None, &cache);
    let misses = cache.statistics().misses;
    assert_eq!(read_in_memory(&manager, 2, &schema, &cache), (ScanEnd::Finished, rows));
    assert_eq!(cache.statistics().misses, misses);
    assert_eq!(read.len(), rows);
    // A cache that holds nothing never answers in memory.
    assert_eq!(read_in_memory(&manager, 2, &schema, &DecodedCache::new(0)), (ScanEnd::NotInMemory, 0));
}

#[test]
fn a_primary_key_merge_is_not_read_in_memory() {
    let directory = tempfile::tempdir().expect("tempdir");
    let (manager, schema) = primary_key_tablet_with_a_replaced_row(directory.path());
    let cache = DecodedCache::new(1 << 20);
    assert_eq!(read_with(&manager, 1, 3, &schema, None, &cache), vec![(1, 99), (2, 20)]);
    // Cached, but two rowsets to merge by key: that is left to the blocking read.
    assert_eq!(read_in_memory(&manager, 3, &schema, &cache), (ScanEnd::NotInMemory, 0));
    // One rowset needs no merge.
    assert_eq!(read_in_memory(&manager, 2, &schema, &cache), (ScanEnd::Finished, 2));
}

/// A tablet of rows (1, 10) and (2, 20) at version 2, with the schema they were written under
/// and the schema after `value` was dropped and added again (a new column id).
fn tablet_whose_value_column_was_added_again(directory: &std::path::Path) -> (TabletManager, TabletSchema, TabletSchema) {
    let manager = TabletManager::open(directory.to_path_buf()).expect("open");
    let tablet = manager.create_tablet(1, KeysType::Duplicate, vec!["id".into()]).expect("create");
    let old = schema_with_column_ids();
    tablet.write(1, &old.storage_schema(), &[stored_batch(&old, &[1, 2], &[10, 20])], WriteMode::Append).expect("write");
    tablet.publish(1, 2).expect("publish");
    let mut new = old.clone();
    new.columns[1].unique_id = 3;
    (manager, old, new)
}

#[test]
fn a_column_added_since_the_rowset_was_written_is_not_read_in_memory() {
    let directory = tempfile::tempdir().expect("tempdir");
    let (manager, old, new) = tablet_whose_value_column_was_added_again(directory.path());
    let cache = DecodedCache::new(1 << 20);
    assert_eq!(read_with(&manager, 1, 2, &old, None, &cache), vec![(1, 10), (2, 20)]);
    assert_eq!(read_in_memory(&manager, 2, &old, &cache), (ScanEnd::Finished, 2));
    // Under the new schema, `value`'s NULLs are computed, which the in-memory read leaves to
    // the blocking one.
    assert_eq!(read_in_memory(&manager, 2, &new, &cache), (ScanEnd::NotInMemory, 0));
}

#[test]
fn statistics_of_a_dropped_column_do_not_prune_the_column_added_under_its_name() {
    let directory = tempfile::tempdir().expect("tempdir");
    // `value` was dropped and added again: a new id, and NULL in every existing row.
    let (manager, _, new) = tablet_whose_value_column_was_added_again(directory.path());
    let cache = DecodedCache::new(0);
    let value_is_null = ScanPredicate::IsNull {
        column: "value".to_string(),
        negated: false,
    };
    let tablet = manager.tablet(1).expect("tablet");
    let options = ScanOptions {
        predicate: Some(&value_is_null),
        cache: &cache,
        dictionary_columns: &[],
        cached_only: false,
    };
    let mut returned = 0;
    scan_tablet(&tablet, 2, &new, &[0, 1], &options, |batch| {
        assert_eq!(batch.column(1).null_count(), batch.num_rows());
        returned += batch.num_rows();
        true
    })
    .expect("scan");
    assert_eq!(returned, 2);
}

#[test]
fn column_statistics_span_every_rowset_of_the_version() {
    use cairn_storage::scan::tablet_column_statistics;
    use datafusion::common::ScalarValue;
    let directory = tempfile::tempdir().expect("tempdir");
    let manager = TabletManager::open(directory.path().to_path_buf()).expect("open");
    let tablet = manager.create_tablet(1, KeysType::Duplicate, vec!["id".into()]).expect("create");
    let schema = schema_with_column_ids();
    let stored = |ids: &[i32], values: &[i64]| stored_batch(&schema, ids, values);
    tablet.write(1, &schema.storage_schema(), &[stored(&[5, 9], &[-3, 40])], WriteMode::Append).expect("write");
    tablet.publish(1, 2).expect("publish");
    tablet.write(2, &schema.storage_schema(), &[stored(&[2, 7], &[0, 100])], WriteMode::Append).expect("write");
    tablet.publish(2, 3).expect("publish");
    let cache = DecodedCache::new(1 << 20);
    let columns = ["id".to_string(), "value".to_string(), "missing".to_string()];
    let statistics = |version| tablet_column_statistics(&tablet, version, &schema, &columns, &cache).expect("statistics");
    let at = |version| statistics(version).into_iter().map(|column| column.bound).collect::<Vec<_>>();
    // Version 2 sees the first rowset only; version 3 both.
    assert_eq!(
        at(2),
        vec![
            Some((ScalarValue::Int32(Some(5)), ScalarValue::Int32(Some(9)))),
            Some((ScalarValue::Int64(Some(-3)), ScalarValue::Int64(Some(40)))),
            None,
        ]
    );
    assert_eq!(
        at(3),
        vec![
            Some((ScalarValue::Int32(Some(2)), ScalarValue::Int32(Some(9)))),
            Some((ScalarValue::Int64(Some(-3)), ScalarValue::Int64(Some(100)))),
            None,
        ]
    );
    // Each rowset's footer sketches its distinct values; a version counts its rowsets' union.
    let distinct = |version| {
        statistics(version).into_iter().map(|column| column.distinct.map(|sketch| sketch.estimate())).collect::<Vec<_>>()
    };
    assert_eq!(distinct(2), vec![Some(2), Some(2), None]);
    assert_eq!(distinct(3), vec![Some(4), Some(4), None]);
    // Asked again, the cache answers without the files: planning asks at every query.
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(tablet.directory())
        .expect("tablet directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "parquet"))
        .collect();
    assert_eq!(files.len(), 2);
    let hidden: Vec<std::path::PathBuf> = files.iter().map(|path| path.with_extension("hidden")).collect();
    for (file, hidden) in files.iter().zip(&hidden) {
        std::fs::rename(file, hidden).expect("hide the rowset");
    }
    assert_eq!(distinct(3), vec![Some(4), Some(4), None]);
    for (file, hidden) in files.iter().zip(&hidden) {
        std::fs::rename(hidden, file).expect("restore the rowset");
    }
    tablet.write(3, &schema.storage_schema(), &[stored(&[5, 9], &[0, 7])], WriteMode::Append).expect("write");
    tablet.publish(3, 4).expect("publish");
    assert_eq!(distinct(4), vec![Some(4), Some(5), None], "values already counted are not counted again");
    // A column re-added under its name is not described by the dropped one's values.
    let mut readded = schema.clone();
    readded.columns[1].unique_id = 99;
    let statistics = tablet_column_statistics(&tablet, 3, &readded, &columns, &cache).expect("statistics");
    assert!(statistics[0].bound.is_some() && statistics[0].distinct.is_some());
    assert_eq!(statistics[1], Default::default());
}

#[test]
fn a_scan_asking_for_dictionaries_gets_low_cardinality_strings_encoded_and_the_same_values() {
    use datafusion::arrow::array::{AsArray, StringArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::DataType;

    let directory = tempfile::tempdir().expect("tempdir");
    let schema = TabletSchema {
        columns: vec![
            column("id", ColumnType::Int, true),
            column("city", ColumnType::Varchar { length: 20 }, false),
            column("note", ColumnType::Varchar { length: 20 }, false),
        ],
        keys_type: KeysType::Duplicate,
        key_columns: vec!["id".to_string()],
    };
    let rows = 1000;
    let cities: Vec<Option<&str>> = (0..rows).map(|row| if row % 9 == 0 { None } else { Some(["PERU", "CHINA"][row % 2]) }).collect();
    let notes: Vec<String> = (0..rows).map(|row| format!("note {row}")).collect();
    let written = RecordBatch::try_new(
        schema.arrow_schema(),
        vec![
            Arc::new(Int32Array::from((0..rows as i32).collect::<Vec<_>>())),
            Arc::new(StringArray::from(cities.clone())),
            Arc::new(StringArray::from(notes.clone())),
        ],
    )
    .expect("rows");
    let manager = TabletManager::open(directory.path().to_path_buf()).expect("open");
    let tablet = manager.create_tablet(10, KeysType::Duplicate, vec!["id".into()]).expect("create");
    tablet.write(1, &schema.arrow_schema(), &[written], WriteMode::Append).expect("write");
    tablet.publish(1, 2).expect("publish");

    let cache = DecodedCache::new(1 << 24);
    let dictionary_columns = ["city".to_string(), "note".to_string()];
    // Twice: the first scan encodes, the second takes the encoding from the cache.
    for _ in 0..2 {
        let options = ScanOptions { predicate: None, cache: &cache, dictionary_columns: &dictionary_columns, cached_only: false };
        let mut batches = Vec::new();
        scan_tablet(&tablet, 2, &schema, &[1, 2], &options, |batch| {
            batches.push(batch);
            true
        })
        .expect("scan");
        let mut read_cities = Vec::new();
        let mut read_notes = Vec::new();
        for batch in &batches {
            assert!(matches!(batch.schema().field(0).data_type(), DataType::Dictionary(..)), "two cities encode");
            assert_eq!(batch.column(0).data_type(), batch.schema().field(0).data_type());
            assert_eq!(batch.column(1).data_type(), &DataType::Utf8, "a distinct note per row stays plain");
            let decoded = cast(batch.column(0).as_ref(), &DataType::Utf8).expect("decode");
            read_cities.extend(decoded.as_string::<i32>().iter().map(|city| city.map(str::to_string)));
            read_notes.extend(batch.column(1).as_string::<i32>().iter().map(|note| note.map(str::to_string)));
        }
        let expected_cities: Vec<Option<String>> = cities.iter().map(|city| city.map(str::to_string)).collect();
        assert_eq!(read_cities, expected_cities);
        assert_eq!(read_notes, notes.iter().cloned().map(Some).collect::<Vec<_>>());
    }

    // Strings have a count of distinct values (NULLs aside) and no bounds.
    let columns = ["city".to_string(), "note".to_string()];
    let statistics = cairn_storage::scan::tablet_column_statistics(&tablet, 2, &schema, &columns, &cache).expect("statistics");
    let counted: Vec<_> = statistics.iter().map(|column| (column.bound.is_some(), column.distinct.as_ref().map(|sketch| sketch.estimate()))).collect();
    assert_eq!(counted[0], (false, Some(2)));
    assert!(counted[1].1.is_some_and(|notes| notes.abs_diff(rows as u64) <= rows as u64 / 20), "{counted:?}");
    assert!(!counted[1].0);
}

/// A compaction that took the tablet before DROP may still be writing into its directory:
/// the drop waits for it instead of failing with "Directory not empty". A thread stands in
/// for the compaction, creating files for 30 ms (or until the directory is gone).
#[test]
fn a_drop_outlasts_a_writer_still_creating_files_in_the_tablet() {
    let directory = tempfile::tempdir().expect("tempdir");
    let manager = TabletManager::open(directory.path().to_path_buf()).expect("open");
    for round in 0..10u64 {
        let tablet = manager.create_tablet(100 + round, KeysType::Duplicate, vec!["id".into()]).expect("create");
        let tablet_directory = tablet.directory().to_path_buf();
        let writer = std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let mut written = 0u64;
            while started.elapsed() < std::time::Duration::from_millis(30)
                && std::fs::write(tablet_directory.join(format!("rowset-{written}.parquet")), b"rows").is_ok()
            {
                written += 1;
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(2));
        manager.drop_tablet(100 + round).expect("the drop waits out the writer");
        writer.join().expect("writer");
        assert!(!tablet.directory().exists(), "round {round}");
    }
}
