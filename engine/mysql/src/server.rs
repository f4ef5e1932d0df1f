//! The accept loop: connection ids, the connection limit, one task per connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::{debug, warn};

use crate::connection;
use crate::session::{ErrorPacket, SessionFactory};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Sent in the handshake and shown by clients, e.g. "8.0.33-cairn". Clients parse the
    /// leading MySQL version to decide which features to use.
    pub server_version: String,
    /// Connections over this many get error 1040 "Too many connections".
    pub max_connections: usize,
    /// The largest packet accepted from a client; larger ones get error 1153 and the
    /// connection is closed.
    pub max_allowed_packet: usize,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            server_version: "8.0.33-cairn".to_owned(),
            max_connections: 4096,
            max_allowed_packet: 64 << 20,
        }
    }
}

/// Connection ids are unique in the process, starting at 1, as MySQL's `CONNECTION_ID()`.
static NEXT_CONNECTION_ID: AtomicU32 = AtomicU32::new(1);

fn next_connection_id() -> u32 {
    loop {
        let id = NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed);
        // Skip 0 after wrapping around.
        if id != 0 {
            return id;
        }
    }
}

/// Holds one of the `max_connections` slots until dropped, also when a session panics.
struct ConnectionSlot(Arc<AtomicUsize>);

impl ConnectionSlot {
    fn acquire(active: &Arc<AtomicUsize>, limit: usize) -> Option<ConnectionSlot> {
        active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                (count < limit).then_some(count + 1)
            })
            .ok()
            .map(|_| ConnectionSlot(active.clone()))
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Accepts MySQL clients on `listener`, one task per connection, until the process ends.
/// Client errors end only their connection; failing accepts (such as running out of file
/// descriptors) are logged and retried, so in practice this never returns.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    factory: Arc<dyn SessionFactory>,
) -> std::io::Result<()> {
    let config = Arc::new(config);
    let active = Arc::new(AtomicUsize::new(0));
    if let Ok(address) = listener.local_addr() {
        debug!(%address, "mysql protocol server listening");
    }
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                warn!(%error, "failed to accept a mysql connection");
                // Back off so a persistent failure such as EMFILE does not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let slot = ConnectionSlot::acquire(&active, config.max_connections);
        let config = config.clone();
        let factory = factory.clone();
        tokio::spawn(async move {
            let Some(_slot) = slot else {
                debug!(%peer, "refusing connection over max_connections");
                let error = ErrorPacket::new(1040, "08004", "Too many connections");
                connection::refuse(stream, &error).await;
                return;
            };
            let connection_id = next_connection_id();
            connection::run(stream, peer, connection_id, config, factory).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_limited_and_released() {
        let active = Arc::new(AtomicUsize::new(0));
        let first = ConnectionSlot::acquire(&active, 2);
        let second = ConnectionSlot::acquire(&active, 2);
        assert!(first.is_some() && second.is_some());
        assert!(ConnectionSlot::acquire(&active, 2).is_none());
        drop(first);
        assert!(ConnectionSlot::acquire(&active, 2).is_some());
        assert_eq!(active.load(Ordering::Acquire), 1);
    }

    #[test]
    fn connection_ids_increase() {
        let first = next_connection_id();
        let second = next_connection_id();
        assert!(first >= 1);
        assert!(second > first);
    }
}
