//! The decoded-column cache, Cairn's counterpart of StarRocks' storage page cache: column
//! chunks of rowset row groups kept as decoded Arrow arrays, and the parsed footer of each
//! rowset, so a warm query neither re-reads nor re-decodes Parquet.
//!
//! Rowsets never change once written and their ids are never reused, so an entry can never
//! be stale; a rowset that compaction replaced simply stops being asked for and ages out.
//! Eviction is least-recently-used under a byte budget.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parking_lot::Mutex;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CacheKey {
    Footer { rowset_id: Arc<str> },
    ColumnChunk { rowset_id: Arc<str>, row_group: usize, column: usize },
    Dictionary { rowset_id: Arc<str>, row_group: usize, column: usize },
    /// What a rowset's footer says of a table column, which depends on the column's identity
    /// and type as well as on the file.
    ColumnStatistics { rowset_id: Arc<str>, column: StatisticsColumn },
}

/// A table column as its statistics depend on it: a column dropped and added again under the
/// same name, or with another type, has other statistics in the same rowset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatisticsColumn {
    pub name: String,
    pub unique_id: u32,
    pub data_type: DataType,
}

#[derive(Clone)]
enum CacheValue {
    Footer(ArrowReaderMetadata),
    ColumnChunk(ArrayRef),
    /// A column chunk dictionary-encoded, or `None` where it has too many distinct values.
    Dictionary(Option<ArrayRef>),
    /// Shared, so that a lookup copies the distinct values' sketch after the lock is released.
    ColumnStatistics(Arc<crate::scan::ColumnStatistics>),
}

struct Entry {
    value: CacheValue,
    bytes: usize,
    last_used: u64,
}

#[derive(Default)]
struct CacheState {
    entries: HashMap<CacheKey, Entry>,
    /// Entries by the tick of their last use, oldest first.
    recency: BTreeMap<u64, CacheKey>,
    clock: u64,
    used_bytes: usize,
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStatistics {
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    pub entries: u64,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

pub struct DecodedCache {
    capacity_bytes: usize,
    state: Mutex<CacheState>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

impl DecodedCache {
    /// A cache holding at most `capacity_bytes` of arrays and footers; 0 disables it.
    pub fn new(capacity_bytes: usize) -> DecodedCache {
        DecodedCache {
            capacity_bytes,
            state: Mutex::new(CacheState::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.capacity_bytes > 0
    }

    pub fn footer(&self, rowset_id: &Arc<str>) -> Option<ArrowReaderMetadata> {
        match self.get(&CacheKey::Footer { rowset_id: Arc::clone(rowset_id) })? {
            CacheValue::Footer(footer) => Some(footer),
            _ => None,
        }
    }

    pub fn insert_footer(&self, rowset_id: &Arc<str>, footer: ArrowReaderMetadata) {
        let bytes = footer.metadata().memory_size();
        self.insert(CacheKey::Footer { rowset_id: Arc::clone(rowset_id) }, CacheValue::Footer(footer), bytes);
    }

    /// The decoded values of file column `column` in row group `row_group`.
    pub fn column_chunk(&self, rowset_id: &Arc<str>, row_group: usize, column: usize) -> Option<ArrayRef> {
        let key = CacheKey::ColumnChunk {
            rowset_id: Arc::clone(rowset_id),
            row_group,
            column,
        };
        match self.get(&key)? {
            CacheValue::ColumnChunk(array) => Some(array),
            _ => None,
        }
    }

    /// The dictionary encoding of a column chunk ([`crate::dictionary`]): `None` if it was
    /// never computed, `Some(None)` if the chunk has too many distinct values for one.
    pub fn dictionary(&self, rowset_id: &Arc<str>, row_group: usize, column: usize) -> Option<Option<ArrayRef>> {
        let key = CacheKey::Dictionary {
            rowset_id: Arc::clone(rowset_id),
            row_group,
            column,
        };
        match self.get(&key)? {
            CacheValue::Dictionary(encoded) => Some(encoded),
            _ => None,
        }
    }

    pub fn insert_dictionary(&self, rowset_id: &Arc<str>, row_group: usize, column: usize, encoded: Option<ArrayRef>) {
        // The shared values are small; the keys are two bytes a row.
        let bytes = encoded.as_ref().map_or(0, |array| array.get_array_memory_size());
        let key = CacheKey::Dictionary {
            rowset_id: Arc::clone(rowset_id),
            row_group,
            column,
        };
        self.insert(key, CacheValue::Dictionary(encoded), bytes);
    }

    /// A rowset's statistics of `column`, as [`crate::predicate::rowset_column_statistics`]
    /// worked them out from its footer: planning asks for them at every query.
    pub fn column_statistics(&self, rowset_id: &Arc<str>, column: &StatisticsColumn) -> Option<crate::scan::ColumnStatistics> {
        let key = CacheKey::ColumnStatistics { rowset_id: Arc::clone(rowset_id), column: column.clone() };
        match self.get(&key)? {
            CacheValue::ColumnStatistics(statistics) => Some(statistics.as_ref().clone()),
            _ => None,
        }
    }

    pub fn insert_column_statistics(&self, rowset_id: &Arc<str>, column: StatisticsColumn, statistics: crate::scan::ColumnStatistics) {
        let bytes = std::mem::size_of::<crate::scan::ColumnStatistics>()
            + statistics.distinct.as_ref().map_or(0, crate::distinct::DistinctSketch::memory_size);
        let key = CacheKey::ColumnStatistics { rowset_id: Arc::clone(rowset_id), column };
        self.insert(key, CacheValue::ColumnStatistics(Arc::new(statistics)), bytes);
    }

    pub fn insert_column_chunk(&self, rowset_id: &Arc<str>, row_group: usize, column: usize, array: ArrayRef) {
        let bytes = array.get_array_memory_size();
        let key = CacheKey::ColumnChunk {
            rowset_id: Arc::clone(rowset_id),
            row_group,
            column,
        };
        self.insert(key, CacheValue::ColumnChunk(array), bytes);
    }

    pub fn statistics(&self) -> CacheStatistics {
        let state = self.state.lock();
        CacheStatistics {
            capacity_bytes: self.capacity_bytes as u64,
            used_bytes: state.used_bytes as u64,
            entries: state.entries.len() as u64,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }

    fn get(&self, key: &CacheKey) -> Option<CacheValue> {
        if self.capacity_bytes == 0 {
            return None;
        }
        let mut state = self.state.lock();
        state.clock += 1;
        let now = state.clock;
        let Some(entry) = state.entries.get_mut(key) else {
            drop(state);
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let previous = std::mem::replace(&mut entry.last_used, now);
        let value = entry.value.clone();
        state.recency.remove(&previous);
        state.recency.insert(now, key.clone());
        drop(state);
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(value)
    }

    fn insert(&self, key: CacheKey, value: CacheValue, bytes: usize) {
        // An entry larger than a quarter of the budget would flush everything else for one
        // scan's sake.
        if bytes > self.capacity_bytes / 4 {
            return;
        }
        // Freeing large arrays takes time; it happens after the lock is released.
        let mut released = Vec::new();
        let mut state = self.state.lock();
        state.clock += 1;
        let now = state.clock;
        if let Some(replaced) = state.entries.insert(key.clone(), Entry { value, bytes, last_used: now }) {
            state.recency.remove(&replaced.last_used);
            state.used_bytes -= replaced.bytes;
            released.push(replaced);
        }
        state.recency.insert(now, key);
        state.used_bytes += bytes;
        while state.used_bytes > self.capacity_bytes {
            let Some((_, oldest)) = state.recency.pop_first() else { break };
            if let Some(evicted) = state.entries.remove(&oldest) {
                state.used_bytes -= evicted.bytes;
                self.evictions.fetch_add(1, Ordering::Relaxed);
                released.push(evicted);
            }
        }
        drop(state);
        drop(released);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;

    fn chunk(values: usize) -> ArrayRef {
        Arc::new(Int64Array::from(vec![7_i64; values]))
    }

    #[test]
    fn evicts_the_least_recently_used_chunk_when_over_budget() {
        let one = chunk(1000).get_array_memory_size();
        let cache = DecodedCache::new(one * 4);
        let rowset: Arc<str> = Arc::from("r1");
        for group in 0..4 {
            cache.insert_column_chunk(&rowset, group, 0, chunk(1000));
        }
        // Group 0 is used again, so group 1 is now the oldest.
        assert!(cache.column_chunk(&rowset, 0, 0).is_some());
        cache.insert_column_chunk(&rowset, 4, 0, chunk(1000));
        assert!(cache.column_chunk(&rowset, 1, 0).is_none(), "oldest entry should be evicted");
        for group in [0, 2, 3, 4] {
            assert!(cache.column_chunk(&rowset, group, 0).is_some(), "group {group} should stay");
        }
        let statistics = cache.statistics();
        assert_eq!(statistics.entries, 4);
        assert!(statistics.used_bytes <= statistics.capacity_bytes);
        assert_eq!(statistics.evictions, 1);
        assert_eq!(statistics.misses, 1);
    }

    #[test]
    fn a_disabled_cache_keeps_nothing() {
        let cache = DecodedCache::new(0);
        let rowset: Arc<str> = Arc::from("r1");
        cache.insert_column_chunk(&rowset, 0, 0, chunk(10));
        assert!(cache.column_chunk(&rowset, 0, 0).is_none());
        assert_eq!(cache.statistics().entries, 0);
    }

    #[test]
    fn values_read_back_are_the_values_stored() {
        let cache = DecodedCache::new(1 << 20);
        let rowset: Arc<str> = Arc::from("r1");
        let stored = chunk(3);
        cache.insert_column_chunk(&rowset, 2, 5, Arc::clone(&stored));
        let read = cache.column_chunk(&rowset, 2, 5).expect("cached");
        assert_eq!(read.as_ref(), stored.as_ref());
        assert!(cache.column_chunk(&rowset, 2, 4).is_none());
        assert!(cache.column_chunk(&Arc::from("r2"), 2, 5).is_none());
    }
}
