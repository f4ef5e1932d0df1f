//! The catalog together with its journal: every change is journaled, synced, then applied.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use tracing::warn;

use crate::catalog::{Catalog, JournalEntry};
use crate::error::FeError;
use crate::journal::Journal;
use cairn_common::ids::{ObjectId, TransactionId};

pub struct Metadata {
    catalog: RwLock<Catalog>,
    journal: Mutex<Journal>,
    next_id: AtomicU64,
    next_transaction_id: AtomicU64,
}

impl Metadata {
    pub fn open(directory: PathBuf, checkpoint_interval: u64) -> Result<Metadata, FeError> {
        let (journal, catalog) = Journal::open(directory, checkpoint_interval)?;
        // Ids start at 10000 as in StarRocks, leaving room for fixed system ids.
        let next_id = catalog.next_id.max(10_000);
        let next_transaction_id = catalog.next_transaction_id.max(1);
        Ok(Metadata {
            catalog: RwLock::new(catalog),
            journal: Mutex::new(journal),
            next_id: AtomicU64::new(next_id),
            next_transaction_id: AtomicU64::new(next_transaction_id),
        })
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Catalog> {
        self.catalog.read()
    }

    pub fn allocate_id(&self) -> ObjectId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn allocate_transaction_id(&self) -> TransactionId {
        self.next_transaction_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Journals `entry`, then applies it. Nothing is applied if the journal write fails.
    pub fn log(&self, entry: JournalEntry) -> Result<(), FeError> {
        self.log_checked(entry, |_| Ok(()))
    }

    /// Like [`Metadata::log`], but first runs `check` against the catalog while holding the
    /// journal lock, so no other change can slip in between the check and the write.
    pub fn log_checked(
        &self,
        entry: JournalEntry,
        check: impl FnOnce(&Catalog) -> Result<(), FeError>,
    ) -> Result<(), FeError> {
        let mut journal = self.journal.lock();
        check(&self.catalog.read())?;
        journal.append(&entry)?;
        let mut catalog = self.catalog.write();
        catalog.apply(&entry);
        if journal.needs_checkpoint() {
            let snapshot = catalog.clone();
            drop(catalog);
            if let Err(error) = journal.checkpoint(&snapshot) {
                // The journal still holds every record; the next attempt retries.
                warn!(%error, "metadata checkpoint failed");
            }
        }
        Ok(())
    }
}
