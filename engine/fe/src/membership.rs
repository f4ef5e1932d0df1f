//! Cluster membership: `ALTER SYSTEM ADD|DROP|DECOMMISSION BACKEND` and which backends are
//! alive.
//!
//! The FE executes only on the backend in its own process; it has no heartbeat or RPC to
//! remote backends yet. A backend added by address is therefore recorded in the catalog (so
//! the operator and `SHOW BACKENDS` see the membership users asked for) and reported as not
//! alive, with the reason in `ErrMsg`, and no tablet is ever placed on it. Decommissioning
//! is honest about the same limit: a backend that holds no tablet replica is empty at once,
//! while one that holds replicas is refused, because Cairn can not move replicas yet.

use cairn_common::ErrorCode;
use cairn_sql::BackendOperation;

use crate::catalog::{Backend, Catalog, JournalEntry};
use crate::error::FeError;
use crate::frontend::Frontend;

/// Why a remote backend is not alive, as `SHOW BACKENDS` reports it.
pub const REMOTE_BACKEND_MESSAGE: &str =
    "not heartbeated: this FE runs queries and loads only on the backend in its own process";

/// A backend address `host:heartbeat_port` as `ALTER SYSTEM` takes it.
fn parse_address(address: &str) -> Result<(String, u16), FeError> {
    let invalid = || {
        FeError::analysis(format!(
            "Invalid backend address '{address}': expected 'host:heartbeat_port', e.g. 'be-0.be:9050'"
        ))
    };
    let (host, port) = address.trim().rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    if host.is_empty() || port == 0 || host.chars().any(|character| character.is_whitespace()) {
        return Err(invalid());
    }
    Ok((host.to_string(), port))
}

fn find<'a>(catalog: &'a Catalog, host: &str, port: u16) -> Option<&'a Backend> {
    catalog.backends.iter().find(|backend| backend.host.eq_ignore_ascii_case(host) && backend.heartbeat_port == port)
}

/// Tablet replicas the catalog places on `backend`.
pub fn tablet_count(catalog: &Catalog, backend: &Backend) -> usize {
    catalog
        .databases
        .values()
        .flat_map(|database| database.tables.values())
        .flat_map(|table| table.partitions.values())
        .flat_map(|partition| partition.tablets.iter())
        .filter(|tablet| tablet.backends.contains(&backend.id))
        .count()
}

impl Frontend {
    /// Whether this FE can run work on `backend`: only its in-process backend, for now.
    pub fn backend_is_alive(&self, backend: &Backend) -> bool {
        backend.id == self.backend.backend_id()
    }

    /// Backends that can take tablets and loads.
    pub fn alive_backend_count(&self) -> usize {
        self.metadata.read().backends.iter().filter(|backend| self.backend_is_alive(backend) && !backend.decommissioned).count()
    }

    /// Runs `ALTER SYSTEM ... BACKEND`. Every address is checked before anything changes, so
    /// a statement with one bad address changes nothing (short of a concurrent ADD of the
    /// same address, which the journal lock refuses after earlier addresses were added).
    pub fn alter_backends(&self, operation: BackendOperation, addresses: &[String]) -> Result<(), FeError> {
        let mut targets = Vec::with_capacity(addresses.len());
        for address in addresses {
            let (host, port) = parse_address(address)?;
            if targets.iter().any(|(other_host, other_port): &(String, u16)| other_host.eq_ignore_ascii_case(&host) && *other_port == port) {
                return Err(FeError::analysis(format!("Backend {host}:{port} is listed twice")));
            }
            targets.push((host, port));
        }
        let local_id = self.backend.backend_id();
        let catalog = self.metadata.read();
        let mut entries = Vec::with_capacity(targets.len());
        for (host, port) in &targets {
            let existing = find(&catalog, host, *port);
            match (operation, existing) {
                (BackendOperation::Add, Some(_)) => {
                    return Err(FeError::user(ErrorCode::WRONG_OBJECT, format!("Same backend already exists[{host}:{port}]")));
                }
                (BackendOperation::Add, None) => entries.push(JournalEntry::AddBackend {
                    backend: Backend { id: 0, host: host.clone(), heartbeat_port: *port, http_port: 8040, decommissioned: false },
                }),
                (_, None) => {
                    return Err(FeError::user(ErrorCode::WRONG_OBJECT, format!("backend does not exists[{host}:{port}]")));
                }
                (BackendOperation::Drop | BackendOperation::Decommission, Some(backend)) if backend.id == local_id => {
                    return Err(FeError::user(
                        ErrorCode::NOT_SUPPORTED,
                        format!(
                            "Backend {host}:{port} runs in this FE's process and serves its queries and loads; \
                             it can not be decommissioned or dropped"
                        ),
                    ));
                }
                (BackendOperation::Drop, Some(backend)) => {
                    let tablets = tablet_count(&catalog, backend);
                    if tablets > 0 {
                        return Err(FeError::user(
                            ErrorCode::WRONG_OBJECT,
                            format!(
                                "Backend {host}:{port} holds {tablets} tablet replica(s); dropping it would lose data. \
                                 Only backends without replicas can be dropped"
                            ),
                        ));
                    }
                    entries.push(JournalEntry::DropBackend { backend_id: backend.id });
                }
                (BackendOperation::Decommission, Some(backend)) => {
                    let tablets = tablet_count(&catalog, backend);
                    if tablets > 0 {
                        return Err(FeError::user(
                            ErrorCode::NOT_SUPPORTED,
                            format!(
                                "Decommissioning backend {host}:{port} is not supported yet: it holds {tablets} tablet replica(s) \
                                 and Cairn can not move replicas between backends yet"
                            ),
                        ));
                    }
                    if !backend.decommissioned {
                        entries.push(JournalEntry::DecommissionBackend { backend_id: backend.id });
                    }
                }
            }
        }
        drop(catalog);
        for mut entry in entries {
            if let JournalEntry::AddBackend { backend } = &mut entry {
                backend.id = self.new_backend_id();
                let (host, port) = (backend.host.clone(), backend.heartbeat_port);
                // Two sessions adding the same address race here; the journal lock decides.
                self.metadata.log_checked(entry, |catalog| match find(catalog, &host, port) {
                    Some(_) => Err(FeError::user(ErrorCode::WRONG_OBJECT, format!("Same backend already exists[{host}:{port}]"))),
                    None => Ok(()),
                })?;
            } else {
                self.metadata.log(entry)?;
            }
        }
        Ok(())
    }

    /// Ids come from the catalog's id space; the in-process backend's configured id is
    /// skipped, since the catalog did not hand it out.
    fn new_backend_id(&self) -> u64 {
        loop {
            let id = self.metadata.allocate_id();
            if !self.metadata.read().backends.iter().any(|backend| backend.id == id) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_address;

    #[test]
    fn addresses_need_a_host_and_a_port() {
        assert_eq!(parse_address("be-0.be.ns.svc:9050").ok(), Some(("be-0.be.ns.svc".to_string(), 9050)));
        assert_eq!(parse_address(" 10.0.0.1:9050 ").ok(), Some(("10.0.0.1".to_string(), 9050)));
        for bad in ["be", ":9050", "be:", "be:x", "be:0", "be:70000", "b e:9050"] {
            let error = parse_address(bad).err().map(|error| error.to_string()).unwrap_or_default();
            assert!(error.contains("expected 'host:heartbeat_port'"), "{bad}: {error}");
        }
    }
}
