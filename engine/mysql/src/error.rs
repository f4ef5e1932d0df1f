//! Errors of the wire protocol itself, as opposed to [`crate::ErrorPacket`]s that a session
//! reports to its client.

use crate::session::ErrorPacket;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ProtocolError {
    #[error("client closed the connection")]
    Closed,
    #[error("i/o error on the client connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("packet of at least {size} bytes exceeds max_allowed_packet of {limit} bytes")]
    PacketTooLarge { size: usize, limit: usize },
    #[error("packets out of order: expected sequence id {expected}, got {received}")]
    OutOfOrder { expected: u8, received: u8 },
    #[error("malformed {what} packet: {reason}")]
    Malformed {
        what: &'static str,
        reason: &'static str,
    },
    #[error("client handshake timed out")]
    HandshakeTimeout,
    #[error("client does not support protocol 4.1")]
    UnsupportedClient,
}

impl ProtocolError {
    /// The error packet a client gets for this failure, if the connection can still carry one.
    pub(crate) fn to_error_packet(&self) -> Option<ErrorPacket> {
        match self {
            ProtocolError::Closed | ProtocolError::Io(_) | ProtocolError::HandshakeTimeout => None,
            ProtocolError::PacketTooLarge { .. } => Some(ErrorPacket::new(
                1153,
                "08S01",
                "Got a packet bigger than 'max_allowed_packet' bytes",
            )),
            ProtocolError::OutOfOrder { .. } => {
                Some(ErrorPacket::new(1156, "08S01", "Got packets out of order"))
            }
            ProtocolError::Malformed { what, reason } => Some(ErrorPacket::new(
                1835,
                "HY000",
                format!("Malformed communication packet: {what}: {reason}"),
            )),
            ProtocolError::UnsupportedClient => {
                Some(ErrorPacket::new(1043, "08S01", "Bad handshake"))
            }
        }
    }
}
