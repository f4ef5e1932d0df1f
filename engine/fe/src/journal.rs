//! The metadata journal: an append-only file of [`JournalEntry`] records, each synced before
//! the change it describes is applied or acknowledged, plus periodic checkpoint images of the
//! whole catalog. Replay loads the newest image and applies the later records. A torn record
//! at the end (a crash mid-write) was never acknowledged, and is cut off.
//!
//! Record format: little-endian `u32` payload length, `u32` CRC-32 of the payload, then the
//! payload, JSON of `{"seq": n, "entry": ...}`. Sequence numbers make replay idempotent and
//! let a follower FE later resume from a position.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::catalog::{Catalog, JournalEntry};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("failed to {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("failed to encode journal record: {0}")]
    Encode(serde_json::Error),
    #[error("journal file {path} is corrupt at offset {offset} and is not the last file")]
    Corrupt { path: String, offset: u64 },
    #[error(
        "journal record in {path} at offset {offset} is intact but can not be decoded ({source}); \
         refusing to start rather than drop it and every later change"
    )]
    Undecodable {
        path: String,
        offset: u64,
        source: serde_json::Error,
    },
    #[error("the journal stopped accepting writes after a failed write could not be undone")]
    Poisoned,
    #[error("checkpoint image {path} is unreadable: {source}")]
    Image {
        path: String,
        source: serde_json::Error,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.display().to_string();
    move |source| JournalError::Io { action, path, source }
}

#[derive(Serialize, Deserialize)]
struct Record {
    seq: u64,
    entry: JournalEntry,
}

#[derive(Serialize, Deserialize)]
struct Image {
    seq: u64,
    catalog: Catalog,
}

pub struct Journal {
    directory: PathBuf,
    file: File,
    /// Sequence number of the last record written or replayed.
    seq: u64,
    records_since_checkpoint: u64,
    checkpoint_interval: u64,
    /// Length of the current edits file up to its last complete record.
    length: u64,
    /// Set when a failed write could not be cut off; later records would follow garbage.
    poisoned: bool,
    path: PathBuf,
}

fn numbered_files(directory: &Path, prefix: &str, suffix: &str) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let mut files = Vec::new();
    for entry in fs::read_dir(directory).map_err(io_error("list", directory))?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(number) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .and_then(|number| number.parse::<u64>().ok())
        {
            files.push((number, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

fn sync_directory(directory: &Path) -> Result<(), JournalError> {
    File::open(directory)
        .and_then(|handle| handle.sync_all())
        .map_err(io_error("sync", directory))
}

/// Reads records from one edits file; returns them and the offset of the first bad byte,
/// if any.
fn read_records(path: &Path) -> Result<(Vec<Record>, Option<u64>), JournalError> {
    let file = File::open(path).map_err(io_error("open", path))?;
    let length = file.metadata().map_err(io_error("stat", path))?.len();
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut offset = 0u64;
    loop {
        if offset == length {
            return Ok((records, None));
        }
        let mut header = [0u8; 8];
        if reader.read_exact(&mut header).is_err() {
            return Ok((records, Some(offset)));
        }
        let size = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as u64;
        let checksum = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if offset + 8 + size > length {
            return Ok((records, Some(offset)));
        }
        let mut payload = vec![0u8; size as usize];
        if reader.read_exact(&mut payload).is_err() || crc32fast::hash(&payload) != checksum {
            return Ok((records, Some(offset)));
        }
        // The checksum says this record is exactly what was written: one that does not
        // decode is a bug or a newer format, never a torn write, and cutting it would drop
        // every acknowledged change after it.
        match serde_json::from_slice::<Record>(&payload) {
            Ok(record) => records.push(record),
            Err(source) => {
                return Err(JournalError::Undecodable {
                    path: path.display().to_string(),
                    offset,
                    source,
                });
            }
        }
        offset += 8 + size;
    }
}

impl Journal {
    /// Opens the journal in `directory`, replaying it into a catalog.
    pub fn open(directory: PathBuf, checkpoint_interval: u64) -> Result<(Journal, Catalog), JournalError> {
        fs::create_dir_all(&directory).map_err(io_error("create", &directory))?;
        let images = numbered_files(&directory, "image.", ".json")?;
        let (mut seq, mut catalog) = match images.last() {
            Some((_, path)) => {
                let text = fs::read(path).map_err(io_error("read", path))?;
                let image: Image = serde_json::from_slice(&text).map_err(|source| JournalError::Image {
                    path: path.display().to_string(),
                    source,
                })?;
                let mut catalog = image.catalog;
                catalog.rebuild_indexes();
                (image.seq, catalog)
            }
            None => (0, Catalog::default()),
        };
        let image_seq = seq;
        let edits = numbered_files(&directory, "edits.", ".log")?;
        let mut replayed = 0u64;
        let mut last_file: Option<PathBuf> = None;
        for (index, (_, path)) in edits.iter().enumerate() {
            let (records, corrupt_at) = read_records(path)?;
            for record in records {
                if record.seq > seq {
                    catalog.apply(&record.entry);
                    seq = record.seq;
                    replayed += 1;
                }
            }
            if let Some(offset) = corrupt_at {
                if index + 1 != edits.len() {
                    return Err(JournalError::Corrupt {
                        path: path.display().to_string(),
                        offset,
                    });
                }
                warn!(path = %path.display(), offset, "cutting off a torn journal record");
                let file = OpenOptions::new().write(true).open(path).map_err(io_error("open", path))?;
                file.set_len(offset).map_err(io_error("truncate", path))?;
                file.sync_all().map_err(io_error("sync", path))?;
            }
            last_file = Some(path.clone());
        }
        let path = last_file.unwrap_or_else(|| directory.join(format!("edits.{}.log", seq + 1)));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error("open", &path))?;
        let length = file.metadata().map_err(io_error("stat", &path))?.len();
        sync_directory(&directory)?;
        info!(image_seq, replayed, seq, "replayed metadata journal");
        Ok((
            Journal {
                directory,
                file,
                seq,
                records_since_checkpoint: replayed,
                checkpoint_interval,
                length,
                poisoned: false,
                path,
            },
            catalog,
        ))
    }

    /// Appends an entry and syncs it to disk. Returns its sequence number.
    pub fn append(&mut self, entry: &JournalEntry) -> Result<u64, JournalError> {
        let record = Record {
            seq: self.seq + 1,
            entry: entry.clone(),
        };
        let payload = serde_json::to_vec(&record).map_err(JournalError::Encode)?;
        let mut buffer = Vec::with_capacity(payload.len() + 8);
        buffer.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        buffer.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        buffer.extend_from_slice(&payload);
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        let written = self.file.write_all(&buffer).and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            // A partial record would make replay stop there and drop every later record,
            // so cut the file back to its last complete record before reporting the error.
            if self.file.set_len(self.length).and_then(|()| self.file.sync_data()).is_err() {
                self.poisoned = true;
            }
            return Err(JournalError::Io {
                action: "append to",
                path: self.path.display().to_string(),
                source,
            });
        }
        self.length += buffer.len() as u64;
        self.seq += 1;
        self.records_since_checkpoint += 1;
        Ok(self.seq)
    }

    pub fn needs_checkpoint(&self) -> bool {
        self.records_since_checkpoint >= self.checkpoint_interval
    }

    /// Writes an image of `catalog` (which must reflect every record so far), starts a new
    /// edits file, and removes the files the image makes redundant.
    pub fn checkpoint(&mut self, catalog: &Catalog) -> Result<(), JournalError> {
        let image = Image {
            seq: self.seq,
            catalog: catalog.clone(),
        };
        let path = self.directory.join(format!("image.{}.json", self.seq));
        let temporary = self.directory.join("image.tmp");
        let bytes = serde_json::to_vec(&image).map_err(JournalError::Encode)?;
        let mut file = File::create(&temporary).map_err(io_error("create", &temporary))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(io_error("write", &temporary))?;
        fs::rename(&temporary, &path).map_err(io_error("rename", &path))?;
        let edits_path = self.directory.join(format!("edits.{}.log", self.seq + 1));
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&edits_path)
            .map_err(io_error("open", &edits_path))?;
        self.length = self.file.metadata().map_err(io_error("stat", &edits_path))?.len();
        self.path = edits_path;
        sync_directory(&self.directory)?;
        for (number, old) in numbered_files(&self.directory, "edits.", ".log")? {
            if number <= self.seq {
                let _ = fs::remove_file(old);
            }
        }
        for (number, old) in numbered_files(&self.directory, "image.", ".json")? {
            if number < self.seq {
                let _ = fs::remove_file(old);
            }
        }
        self.records_since_checkpoint = 0;
        info!(seq = self.seq, "wrote metadata checkpoint");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(id: u64, name: &str) -> JournalEntry {
        JournalEntry::CreateDatabase { id, name: name.to_string() }
    }

    #[test]
    fn replay_restores_every_acknowledged_entry() {
        let directory = tempfile::tempdir().expect("tempdir");
        {
            let (mut journal, _) = Journal::open(directory.path().to_path_buf(), 1000).expect("open");
            journal.append(&create(10_001, "a")).expect("append");
            journal.append(&create(10_002, "b")).expect("append");
        }
        let (_, catalog) = Journal::open(directory.path().to_path_buf(), 1000).expect("reopen");
        assert_eq!(catalog.databases.keys().cloned().collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(catalog.next_id, 10_003);
    }

    #[test]
    fn torn_tail_is_cut_and_appends_continue() {
        let directory = tempfile::tempdir().expect("tempdir");
        {
            let (mut journal, _) = Journal::open(directory.path().to_path_buf(), 1000).expect("open");
            journal.append(&create(10_001, "kept")).expect("append");
        }
        // A crash in the middle of the next record: half a header and payload.
        let edits = numbered_files(directory.path(), "edits.", ".log").expect("list");
        let path = &edits.last().expect("an edits file").1;
        let mut file = OpenOptions::new().append(true).open(path).expect("open edits");
        file.write_all(&[200, 0, 0, 0, 1, 2]).expect("write torn record");
        drop(file);
        {
            let (mut journal, catalog) = Journal::open(directory.path().to_path_buf(), 1000).expect("reopen");
            assert_eq!(catalog.databases.len(), 1);
            journal.append(&create(10_002, "after")).expect("append after repair");
        }
        let (_, catalog) = Journal::open(directory.path().to_path_buf(), 1000).expect("reopen again");
        assert_eq!(catalog.databases.keys().cloned().collect::<Vec<_>>(), vec!["after", "kept"]);
    }

    #[test]
    fn an_intact_record_that_does_not_decode_stops_replay_instead_of_being_cut() {
        let directory = tempfile::tempdir().expect("tempdir");
        {
            let (mut journal, _) = Journal::open(directory.path().to_path_buf(), 1000).expect("open");
            journal.append(&create(10_001, "kept")).expect("append");
        }
        let edits = numbered_files(directory.path(), "edits.", ".log").expect("list");
        let path = &edits.last().expect("an edits file").1;
        let payload = br#"{"seq":2,"entry":{"kind":"no_such_entry"}}"#;
        let mut file = OpenOptions::new().append(true).open(path).expect("open edits");
        file.write_all(&(payload.len() as u32).to_le_bytes()).expect("write length");
        file.write_all(&crc32fast::hash(payload).to_le_bytes()).expect("write checksum");
        file.write_all(payload).expect("write payload");
        drop(file);
        let length = fs::metadata(path).expect("stat").len();
        let error = Journal::open(directory.path().to_path_buf(), 1000).err().expect("replay refuses");
        assert!(error.to_string().contains("intact but can not be decoded"), "{error}");
        assert_eq!(fs::metadata(path).expect("stat").len(), length, "nothing was cut");
    }

    #[test]
    fn routine_load_entries_round_trip() {
        let directory = tempfile::tempdir().expect("tempdir");
        let offsets = std::collections::BTreeMap::from([(0, 7), (3, -2)]);
        {
            let (mut journal, _) = Journal::open(directory.path().to_path_buf(), 1000).expect("open");
            journal
                .append(&JournalEntry::UpdateRoutineLoadProgress { job_id: 5, offsets: offsets.clone() })
                .expect("append");
        }
        let edits = numbered_files(directory.path(), "edits.", ".log").expect("list");
        let (records, torn) = read_records(&edits.last().expect("an edits file").1).expect("read");
        assert_eq!(torn, None);
        match &records[0].entry {
            JournalEntry::UpdateRoutineLoadProgress { offsets: read, .. } => assert_eq!(read, &offsets),
            _ => panic!("another entry came back"),
        }
    }

    #[test]
    fn checkpoint_replaces_old_files_and_keeps_state() {
        let directory = tempfile::tempdir().expect("tempdir");
        {
            let (mut journal, mut catalog) = Journal::open(directory.path().to_path_buf(), 2).expect("open");
            for (index, name) in ["a", "b", "c"].iter().enumerate() {
                let entry = create(10_000 + index as u64, name);
                journal.append(&entry).expect("append");
                catalog.apply(&entry);
                if journal.needs_checkpoint() {
                    journal.checkpoint(&catalog).expect("checkpoint");
                }
            }
        }
        let images = numbered_files(directory.path(), "image.", ".json").expect("list");
        assert_eq!(images.len(), 1);
        let (_, catalog) = Journal::open(directory.path().to_path_buf(), 2).expect("reopen");
        assert_eq!(catalog.databases.len(), 3);
    }
}
