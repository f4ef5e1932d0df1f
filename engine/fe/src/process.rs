//! Connections for `SHOW PROCESSLIST` and `KILL`.

use std::collections::BTreeMap;
use std::time::Instant;

use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A flag a running statement polls; `KILL QUERY` raises it.
#[derive(Debug, Clone, Default)]
pub struct CancellationFlag(Arc<AtomicBool>);

impl CancellationFlag {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// `KILL CONNECTION`: a flag plus a wake-up for the connection waiting on its client.
#[derive(Debug, Clone, Default)]
pub struct KillSwitch {
    flag: CancellationFlag,
    notify: Arc<tokio::sync::Notify>,
}

impl KillSwitch {
    pub fn kill(&self) {
        self.flag.cancel();
        self.notify.notify_waiters();
    }

    /// Resolves once [`KillSwitch::kill`] was called.
    pub async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.flag.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProcessInfo {
    pub connection_id: u64,
    pub user: String,
    pub host: String,
    pub database: Option<String>,
    pub command: String,
    pub started: Instant,
    pub state: String,
    pub info: Option<String>,
    pub cancel_query: CancellationFlag,
    pub kill_connection: KillSwitch,
}

#[derive(Default)]
pub struct ProcessList {
    processes: Mutex<BTreeMap<u64, ProcessInfo>>,
}

impl ProcessList {
    pub fn register(&self, info: ProcessInfo) {
        self.processes.lock().insert(info.connection_id, info);
    }

    pub fn remove(&self, connection_id: u64) {
        self.processes.lock().remove(&connection_id);
    }

    pub fn update(&self, connection_id: u64, change: impl FnOnce(&mut ProcessInfo)) {
        if let Some(info) = self.processes.lock().get_mut(&connection_id) {
            change(info);
        }
    }

    pub fn list(&self) -> Vec<ProcessInfo> {
        self.processes.lock().values().cloned().collect()
    }

    pub fn get(&self, connection_id: u64) -> Option<ProcessInfo> {
        self.processes.lock().get(&connection_id).cloned()
    }
}
