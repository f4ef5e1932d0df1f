//! Tablet storage behaviour: visibility by version, durability across reopen, primary key
//! merge, replacement and compaction.

use std::sync::Arc;

use cairn_common::{ColumnDefinition, ColumnType, KeysType};
use cairn_storage::compaction::{CompactionPolicy, compact_tablet};
use cairn_storage::scan::scan_tablet;
use cairn_storage::{TabletManager, TabletSchema, WriteMode};
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

fn read(manager: &TabletManager, tablet_id: u64, version: u64, schema: &TabletSchema) -> Vec<(i32, i64)> {
    let tablet = manager.tablet(tablet_id).expect("tablet");
    let mut batches = Vec::new();
    scan_tablet(&tablet, version, schema, &[0, 1], |batch| {
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
