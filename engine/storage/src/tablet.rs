//! One tablet replica: its rowsets, pending transaction writes, and the meta file that
//! makes both durable.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StorageError};
use crate::rowset::{OpenRowset, RowsetMeta, write_rowset};
use crate::version_path::select_rowsets;
use cairn_common::KeysType;
use cairn_common::ids::{TabletId, TransactionId, Version};

const META_FILE: &str = "meta.json";

/// How a transaction's rows join the tablet at publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// A load: the rows are added.
    Append,
    /// DELETE and INSERT OVERWRITE: the rows replace everything published before.
    Replace,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingWrite {
    mode: WriteMode,
    rowsets: Vec<RowsetMeta>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StaleRowset {
    rowset: RowsetMeta,
    /// Seconds since the epoch when it stopped being current.
    stale_since: u64,
    /// The version from which the rowset that replaced it is read instead; readers of
    /// earlier versions still need this one.
    #[serde(default)]
    replaced_at: Version,
}

/// The durable state of a tablet, written whole to `meta.json` on every change.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TabletMeta {
    tablet_id: TabletId,
    keys_type: KeysType,
    key_columns: Vec<String>,
    /// Rowsets of the newest state, disjoint in versions.
    current: Vec<RowsetMeta>,
    /// Rowsets replaced by compaction or DELETE, kept for readers at older versions.
    stale: Vec<StaleRowset>,
    pending: BTreeMap<TransactionId, PendingWrite>,
    /// Highest version published to this tablet.
    max_version: Version,
    /// Versions below this lost stale rowsets to the sweep and cannot be read.
    #[serde(default)]
    swept_until: Version,
}

/// Figures for `SHOW TABLETS` and the metrics.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TabletStatistics {
    pub tablet_id: TabletId,
    pub max_version: Version,
    pub rowset_count: usize,
    pub stale_rowset_count: usize,
    pub row_count: u64,
    pub data_size: u64,
    pub pending_transactions: usize,
}

pub struct Tablet {
    directory: PathBuf,
    meta: Mutex<TabletMeta>,
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|duration| duration.as_secs())
        .unwrap_or_default()
}

fn sync_directory(directory: &Path) -> Result<()> {
    File::open(directory)
        .and_then(|handle| handle.sync_all())
        .map_err(|source| StorageError::io("sync directory", directory, source))
}

impl Tablet {
    /// Creates an empty tablet directory (idempotent: an existing tablet is opened).
    pub fn create(
        directory: PathBuf,
        tablet_id: TabletId,
        keys_type: KeysType,
        key_columns: Vec<String>,
    ) -> Result<Tablet> {
        if directory.join(META_FILE).exists() {
            return Tablet::open(directory);
        }
        fs::create_dir_all(&directory)
            .map_err(|source| StorageError::io("create directory", &directory, source))?;
        let meta = TabletMeta {
            tablet_id,
            keys_type,
            key_columns,
            current: Vec::new(),
            stale: Vec::new(),
            pending: BTreeMap::new(),
            max_version: 1,
            swept_until: 0,
        };
        let tablet = Tablet {
            directory,
            meta: Mutex::new(meta),
        };
        tablet.persist(&tablet.meta.lock())?;
        if let Some(parent) = tablet.directory.parent() {
            sync_directory(parent)?;
        }
        Ok(tablet)
    }

    /// Opens a tablet and deletes files its meta does not name: leftovers of writes that
    /// crashed before their rowset was recorded.
    pub fn open(directory: PathBuf) -> Result<Tablet> {
        let path = directory.join(META_FILE);
        let text =
            fs::read_to_string(&path).map_err(|source| StorageError::io("read", &path, source))?;
        let meta: TabletMeta = serde_json::from_str(&text).map_err(|source| {
            StorageError::CorruptMeta {
                tablet_id: 0,
                path: path.display().to_string(),
                source,
            }
        })?;
        let tablet = Tablet {
            directory,
            meta: Mutex::new(meta),
        };
        tablet.remove_unreferenced_files()?;
        Ok(tablet)
    }

    fn remove_unreferenced_files(&self) -> Result<()> {
        let meta = self.meta.lock();
        let referenced: std::collections::HashSet<&str> = meta
            .current
            .iter()
            .chain(meta.stale.iter().map(|stale| &stale.rowset))
            .chain(meta.pending.values().flat_map(|pending| pending.rowsets.iter()))
            .filter_map(|rowset| rowset.file_name.as_deref())
            .collect();
        let entries = fs::read_dir(&self.directory)
            .map_err(|source| StorageError::io("list", &self.directory, source))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name != META_FILE && !referenced.contains(name.as_ref()) {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    /// Writes the meta atomically: a temporary file, synced, renamed over the old one.
    fn persist(&self, meta: &TabletMeta) -> Result<()> {
        let path = self.directory.join(META_FILE);
        let temporary = self.directory.join("meta.json.tmp");
        let text = serde_json::to_vec(meta).map_err(|source| StorageError::CorruptMeta {
            tablet_id: meta.tablet_id,
            path: path.display().to_string(),
            source,
        })?;
        let mut file = File::create(&temporary)
            .map_err(|source| StorageError::io("create", &temporary, source))?;
        file.write_all(&text)
            .and_then(|()| file.sync_all())
            .map_err(|source| StorageError::io("write", &temporary, source))?;
        fs::rename(&temporary, &path).map_err(|source| StorageError::io("rename", &path, source))?;
        sync_directory(&self.directory)
    }

    pub fn tablet_id(&self) -> TabletId {
        self.meta.lock().tablet_id
    }

    pub fn keys_type(&self) -> KeysType {
        self.meta.lock().keys_type
    }

    pub fn key_columns(&self) -> Vec<String> {
        self.meta.lock().key_columns.clone()
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }

    pub fn max_version(&self) -> Version {
        self.meta.lock().max_version
    }

    /// Writes a transaction's rows as a pending rowset and records it durably. Rows stay
    /// invisible until [`Tablet::publish`]. A transaction may write several times.
    pub fn write(
        &self,
        transaction_id: TransactionId,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        mode: WriteMode,
    ) -> Result<()> {
        let (tablet_id, key_columns, keys_type) = {
            let meta = self.meta.lock();
            (meta.tablet_id, meta.key_columns.clone(), meta.keys_type)
        };
        let rowset = if keys_type == KeysType::Primary {
            // Within one load the last row of a key wins; sorting would lose that order.
            let merged = datafusion::arrow::compute::concat_batches(schema, batches).map_err(
                |source| StorageError::Arrow {
                    action: "concatenating rows of a load",
                    source,
                },
            )?;
            let deduplicated = crate::scan::deduplicate_keep_last(&merged, &key_columns)?;
            write_rowset(&self.directory, tablet_id, schema, &[deduplicated], &key_columns)?
        } else {
            write_rowset(&self.directory, tablet_id, schema, batches, &key_columns)?
        };
        let mut meta = self.meta.lock();
        // Every change is made on a copy and swapped in only once it is on disk, so memory
        // never claims what a crash would forget.
        let mut next = meta.clone();
        let pending = next
            .pending
            .entry(transaction_id)
            .or_insert_with(|| PendingWrite {
                mode,
                rowsets: Vec::new(),
            });
        if mode == WriteMode::Replace {
            pending.mode = WriteMode::Replace;
        }
        pending.rowsets.push(rowset);
        self.persist(&next)?;
        *meta = next;
        Ok(())
    }

    /// Makes a pending transaction visible at `version`. Publishing a transaction twice is a
    /// no-op, so the FE may retry after a crash.
    pub fn publish(&self, transaction_id: TransactionId, version: Version) -> Result<()> {
        let mut current = self.meta.lock();
        let mut next = current.clone();
        let meta = &mut next;
        let Some(pending) = meta.pending.remove(&transaction_id) else {
            // Already published, or the transaction wrote no rows here: the version still
            // advances, since the partition's other tablets moved to it.
            if version > meta.max_version {
                meta.max_version = version;
                self.persist(&next)?;
                *current = next;
            }
            return Ok(());
        };
        let now = now_seconds();
        match pending.mode {
            WriteMode::Append => {
                for mut rowset in pending.rowsets {
                    if rowset.num_rows == 0 {
                        continue;
                    }
                    rowset.start_version = version;
                    rowset.end_version = version;
                    meta.current.push(rowset);
                }
            }
            WriteMode::Replace => {
                let replaced: Vec<RowsetMeta> = std::mem::take(&mut meta.current);
                meta.stale.extend(replaced.into_iter().map(|rowset| StaleRowset {
                    rowset,
                    stale_since: now,
                    replaced_at: version,
                }));
                // One replacement rowset, even when empty, so the version path stops here.
                let mut rowsets = pending.rowsets.into_iter().filter(|r| r.num_rows > 0);
                let first = rowsets.next();
                let rest: Vec<RowsetMeta> = rowsets.collect();
                let mut replacement = first.unwrap_or_else(|| RowsetMeta {
                    rowset_id: crate::rowset::new_rowset_id(),
                    start_version: 0,
                    end_version: 0,
                    num_rows: 0,
                    data_size: 0,
                    file_name: None,
                });
                replacement.start_version = 1;
                replacement.end_version = version;
                meta.current.push(replacement);
                // Further rowsets of the same replace sit at the version itself.
                for mut rowset in rest {
                    rowset.start_version = version;
                    rowset.end_version = version;
                    meta.current.push(rowset);
                }
            }
        }
        meta.max_version = meta.max_version.max(version);
        self.persist(&next)?;
        *current = next;
        Ok(())
    }

    /// Drops a transaction's pending rows.
    pub fn abort(&self, transaction_id: TransactionId) -> Result<()> {
        let mut meta = self.meta.lock();
        let mut next = meta.clone();
        let Some(pending) = next.pending.remove(&transaction_id) else {
            return Ok(());
        };
        self.persist(&next)?;
        *meta = next;
        drop(meta);
        for rowset in pending.rowsets {
            if let Some(name) = rowset.file_name {
                let _ = fs::remove_file(self.directory.join(name));
            }
        }
        Ok(())
    }

    /// Runs `use_rowsets` on the rowsets making up `version`, in version order, under the
    /// tablet's lock, so a sweep can not delete their files meanwhile.
    fn with_rowsets_at<T>(&self, version: Version, use_rowsets: impl FnOnce(Vec<&RowsetMeta>) -> Result<T>) -> Result<T> {
        let meta = self.meta.lock();
        if version < meta.swept_until {
            // The rowsets of this version were merged and then swept: reading would return
            // fewer rows without noticing.
            return Err(StorageError::VersionNotFound {
                tablet_id: meta.tablet_id,
                version,
            });
        }
        let all = meta
            .current
            .iter()
            .chain(meta.stale.iter().map(|stale| &stale.rowset));
        use_rowsets(select_rowsets(all, version))
    }

    /// The rowsets making up `version`, in version order, without opening their files.
    pub fn rowsets_at(&self, version: Version) -> Result<Vec<RowsetMeta>> {
        self.with_rowsets_at(version, |rowsets| Ok(rowsets.into_iter().cloned().collect()))
    }

    /// Opens the rowsets making up `version`, in version order.
    pub fn open_version(&self, version: Version) -> Result<Vec<OpenRowset>> {
        self.with_rowsets_at(version, |rowsets| {
            rowsets
                .into_iter()
                .map(|rowset| OpenRowset::open(&self.directory, rowset))
                .collect()
        })
    }

    /// The rows stored at `version`, from rowset metadata alone: the answer to `count(*)` of a
    /// DUPLICATE KEY tablet, where no row replaces another.
    pub fn row_count_at(&self, version: Version) -> Result<u64> {
        self.with_rowsets_at(version, |rowsets| Ok(rowsets.iter().map(|rowset| rowset.num_rows).sum()))
    }

    /// Current rowsets, for compaction to choose from.
    pub fn current_rowsets(&self) -> Vec<RowsetMeta> {
        let mut rowsets = self.meta.lock().current.clone();
        rowsets.sort_by_key(|rowset| rowset.start_version);
        rowsets
    }

    /// Swaps `inputs` for `output` if they are all still current; returns whether it did.
    /// A DELETE that replaced the tablet meanwhile wins, and the output is discarded.
    pub fn replace_rowsets(&self, inputs: &[RowsetMeta], output: RowsetMeta) -> Result<bool> {
        let mut meta = self.meta.lock();
        let all_current = inputs
            .iter()
            .all(|input| meta.current.iter().any(|rowset| rowset.rowset_id == input.rowset_id));
        if !all_current {
            drop(meta);
            if let Some(name) = output.file_name {
                let _ = fs::remove_file(self.directory.join(name));
            }
            return Ok(false);
        }
        let now = now_seconds();
        let mut next = meta.clone();
        next.current
            .retain(|rowset| !inputs.iter().any(|input| input.rowset_id == rowset.rowset_id));
        let replaced_at = output.end_version;
        next.stale.extend(inputs.iter().cloned().map(|rowset| StaleRowset {
            rowset,
            stale_since: now,
            replaced_at,
        }));
        // Kept even when empty: it still marks the versions it covers.
        next.current.push(output);
        self.persist(&next)?;
        *meta = next;
        Ok(true)
    }

    /// Deletes stale rowsets older than `retention_seconds`. Readers that opened them keep
    /// reading, since an unlinked file lives on while open.
    pub fn sweep_stale(&self, retention_seconds: u64) -> Result<usize> {
        let mut meta = self.meta.lock();
        let cutoff = now_seconds().saturating_sub(retention_seconds);
        let mut next = meta.clone();
        let (expired, kept): (Vec<StaleRowset>, Vec<StaleRowset>) = std::mem::take(&mut next.stale)
            .into_iter()
            .partition(|stale| stale.stale_since <= cutoff);
        next.stale = kept;
        if expired.is_empty() {
            return Ok(0);
        }
        // Versions older than what replaced a swept rowset can no longer be read whole.
        let swept_until = expired
            .iter()
            .map(|stale| stale.replaced_at.max(stale.rowset.end_version))
            .max()
            .unwrap_or(0);
        next.swept_until = next.swept_until.max(swept_until);
        self.persist(&next)?;
        *meta = next;
        drop(meta);
        for stale in &expired {
            if let Some(name) = &stale.rowset.file_name {
                let _ = fs::remove_file(self.directory.join(name));
            }
        }
        Ok(expired.len())
    }

    pub fn pending_transaction_ids(&self) -> Vec<TransactionId> {
        self.meta.lock().pending.keys().copied().collect()
    }

    pub fn statistics(&self) -> TabletStatistics {
        let meta = self.meta.lock();
        TabletStatistics {
            tablet_id: meta.tablet_id,
            max_version: meta.max_version,
            rowset_count: meta.current.len(),
            stale_rowset_count: meta.stale.len(),
            row_count: meta.current.iter().map(|rowset| rowset.num_rows).sum(),
            data_size: meta.current.iter().map(|rowset| rowset.data_size).sum(),
            pending_transactions: meta.pending.len(),
        }
    }
}
