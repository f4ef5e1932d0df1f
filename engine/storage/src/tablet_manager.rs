//! All tablets of one backend's storage root.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::RwLock;
use tracing::{info, warn};

use crate::error::{Result, StorageError};
use crate::tablet::{Tablet, TabletStatistics};
use cairn_common::KeysType;
use cairn_common::ids::TabletId;

/// How often, and how far apart, a drop tries again to remove a directory that a compaction is
/// still writing into: a second in all.
const DROP_RETRIES: usize = 50;
const DROP_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

pub struct TabletManager {
    root: PathBuf,
    tablets: RwLock<HashMap<TabletId, Arc<Tablet>>>,
}

impl TabletManager {
    /// Opens every tablet under `root/tablets`.
    pub fn open(root: PathBuf) -> Result<TabletManager> {
        let directory = root.join("tablets");
        fs::create_dir_all(&directory)
            .map_err(|source| StorageError::io("create directory", &directory, source))?;
        let mut tablets = HashMap::new();
        let entries = fs::read_dir(&directory)
            .map_err(|source| StorageError::io("list", &directory, source))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.join("meta.json").exists() {
                // A tablet whose creation crashed before its meta was written holds nothing.
                let _ = fs::remove_dir_all(&path);
                continue;
            }
            match Tablet::open(path.clone()) {
                Ok(tablet) => {
                    tablets.insert(tablet.tablet_id(), Arc::new(tablet));
                }
                Err(error) => warn!(path = %path.display(), %error, "skipping unreadable tablet"),
            }
        }
        info!(tablets = tablets.len(), root = %root.display(), "opened tablet storage");
        Ok(TabletManager {
            root,
            tablets: RwLock::new(tablets),
        })
    }

    fn tablet_directory(&self, tablet_id: TabletId) -> PathBuf {
        self.root.join("tablets").join(tablet_id.to_string())
    }

    pub fn create_tablet(
        &self,
        tablet_id: TabletId,
        keys_type: KeysType,
        key_columns: Vec<String>,
    ) -> Result<Arc<Tablet>> {
        if let Some(tablet) = self.tablets.read().get(&tablet_id) {
            return Ok(Arc::clone(tablet));
        }
        let tablet = Arc::new(Tablet::create(
            self.tablet_directory(tablet_id),
            tablet_id,
            keys_type,
            key_columns,
        )?);
        self.tablets.write().insert(tablet_id, Arc::clone(&tablet));
        Ok(tablet)
    }

    /// Forgets the tablet and removes its directory. Runs on a blocking thread: it may wait.
    pub fn drop_tablet(&self, tablet_id: TabletId) -> Result<()> {
        self.tablets.write().remove(&tablet_id);
        let directory = self.tablet_directory(tablet_id);
        let mut retries = 0;
        loop {
            match fs::remove_dir_all(&directory) {
                Ok(()) => return Ok(()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                // A compaction that took the tablet before it left the map may still be writing
                // its output into the directory, which is then not empty when its last entry
                // is removed (a client's DROP DATABASE failed so, right after many INSERTs).
                // Its write ends in milliseconds; what it leaves is removed on the next try.
                Err(error) if error.kind() == std::io::ErrorKind::DirectoryNotEmpty && retries < DROP_RETRIES => {
                    retries += 1;
                    std::thread::sleep(DROP_RETRY_PAUSE);
                }
                Err(source) => return Err(StorageError::io("remove", &directory, source)),
            }
        }
    }

    pub fn tablet(&self, tablet_id: TabletId) -> Result<Arc<Tablet>> {
        self.tablets
            .read()
            .get(&tablet_id)
            .cloned()
            .ok_or(StorageError::TabletNotFound { tablet_id })
    }

    pub fn tablet_ids(&self) -> Vec<TabletId> {
        self.tablets.read().keys().copied().collect()
    }

    pub fn all_tablets(&self) -> Vec<Arc<Tablet>> {
        self.tablets.read().values().cloned().collect()
    }

    pub fn statistics(&self) -> Vec<TabletStatistics> {
        self.all_tablets().iter().map(|tablet| tablet.statistics()).collect()
    }
}
