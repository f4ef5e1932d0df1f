//! Counters the backend keeps for `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct BackendMetrics {
    pub compactions: AtomicU64,
    pub compaction_input_rowsets: AtomicU64,
    pub rows_written: AtomicU64,
    pub bytes_written: AtomicU64,
    pub stale_rowsets_swept: AtomicU64,
}

impl BackendMetrics {
    pub fn add(counter: &AtomicU64, value: u64) {
        counter.fetch_add(value, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
