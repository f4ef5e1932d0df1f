//! Where the BE keeps the error logs of its loads (Stream Load and Routine Load batches), and
//! the URLs that serve them from its HTTP port.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tracing::warn;

use cairn_load::RowError;

/// How long error logs are kept, as StarRocks' `load_error_log_reserve_hours` default.
const ERROR_LOG_RETENTION: Duration = Duration::from_secs(48 * 3600);

pub struct ErrorLogStore {
    directory: PathBuf,
    advertised_host: String,
    http_port: u16,
    last_sweep: AtomicI64,
}

impl ErrorLogStore {
    pub fn new(directory: PathBuf, advertised_host: String, http_port: u16) -> ErrorLogStore {
        ErrorLogStore {
            directory,
            advertised_host,
            http_port,
            last_sweep: AtomicI64::new(0),
        }
    }

    pub fn directory(&self) -> &std::path::Path {
        &self.directory
    }

    /// Writes the rejected rows of a load and returns the URL that serves them. A failure to
    /// write is logged and gives no URL: the load itself is not failed for it.
    pub fn write(&self, label: &str, transaction_id: u64, errors: &[RowError]) -> Option<String> {
        self.sweep();
        match cairn_load::error_log::write(&self.directory, label, transaction_id, errors) {
            Ok(name) => Some(format!(
                "http://{}:{}/api/_load_error_log?file={name}",
                self.advertised_host, self.http_port
            )),
            Err(error) => {
                warn!(%error, "failed to write the load error log");
                None
            }
        }
    }

    /// Deletes error logs past their retention, at most once an hour.
    fn sweep(&self) {
        let now = chrono::Utc::now().timestamp();
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now - last < 3600
            || self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let Ok(entries) = std::fs::read_dir(&self.directory) else {
            return;
        };
        for entry in entries.flatten() {
            let expired = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .ok()
                .and_then(|modified| modified.elapsed().ok())
                .is_some_and(|age| age > ERROR_LOG_RETENTION);
            if expired {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}
