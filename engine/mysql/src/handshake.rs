//! The connection phase: initial handshake v10, the client's handshake response, an auth
//! switch to `mysql_native_password` when the client answered for another plugin, then the
//! factory's verdict as OK or ERR.

use std::net::SocketAddr;

use rand::Rng;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::column::UTF8_GENERAL_CI;
use crate::error::ProtocolError;
use crate::packet::{PacketStream, PayloadReader, put_null_terminated, put_u16, put_u32};
use crate::session::{AuthRequest, StatusFlags};

pub(crate) const NATIVE_PASSWORD_PLUGIN: &str = "mysql_native_password";

/// The CLIENT_* capability flags.
pub(crate) mod capability {
    pub(crate) const LONG_PASSWORD: u32 = 1;
    pub(crate) const FOUND_ROWS: u32 = 1 << 1;
    pub(crate) const LONG_FLAG: u32 = 1 << 2;
    pub(crate) const CONNECT_WITH_DB: u32 = 1 << 3;
    pub(crate) const PROTOCOL_41: u32 = 1 << 9;
    pub(crate) const SSL: u32 = 1 << 11;
    pub(crate) const TRANSACTIONS: u32 = 1 << 13;
    pub(crate) const SECURE_CONNECTION: u32 = 1 << 15;
    pub(crate) const MULTI_RESULTS: u32 = 1 << 17;
    pub(crate) const PS_MULTI_RESULTS: u32 = 1 << 18;
    pub(crate) const PLUGIN_AUTH: u32 = 1 << 19;
    pub(crate) const CONNECT_ATTRS: u32 = 1 << 20;
    pub(crate) const PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 1 << 21;
    pub(crate) const DEPRECATE_EOF: u32 = 1 << 24;
}

/// What this server offers. No CLIENT_SSL until TLS is wired in: the response parser already
/// recognises an SSL request, which is where the stream would be upgraded.
pub(crate) const SERVER_CAPABILITIES: u32 = capability::LONG_PASSWORD
    | capability::FOUND_ROWS
    | capability::LONG_FLAG
    | capability::CONNECT_WITH_DB
    | capability::PROTOCOL_41
    | capability::TRANSACTIONS
    | capability::SECURE_CONNECTION
    | capability::MULTI_RESULTS
    | capability::PS_MULTI_RESULTS
    | capability::PLUGIN_AUTH
    | capability::CONNECT_ATTRS
    | capability::PLUGIN_AUTH_LENENC_CLIENT_DATA
    | capability::DEPRECATE_EOF;

/// A 20-byte challenge of printable characters other than `$`, as MySQL makes them, since some
/// clients treat the scramble as a C string.
pub(crate) fn generate_scramble() -> [u8; 20] {
    let mut random = rand::rng();
    let mut scramble = [0u8; 20];
    for byte in &mut scramble {
        *byte = loop {
            let candidate = random.random_range(0x21u8..0x7F);
            if candidate != b'$' {
                break candidate;
            }
        };
    }
    scramble
}

pub(crate) fn put_initial_handshake(
    buffer: &mut Vec<u8>,
    server_version: &str,
    connection_id: u32,
    scramble: &[u8; 20],
) {
    buffer.push(10);
    put_null_terminated(buffer, server_version.as_bytes());
    put_u32(buffer, connection_id);
    buffer.extend_from_slice(&scramble[..8]);
    buffer.push(0);
    put_u16(buffer, (SERVER_CAPABILITIES & 0xFFFF) as u16);
    buffer.push(UTF8_GENERAL_CI as u8);
    put_u16(buffer, StatusFlags::AUTOCOMMIT.bits());
    put_u16(buffer, (SERVER_CAPABILITIES >> 16) as u16);
    buffer.push(21); // length of the scramble with its terminator
    buffer.extend_from_slice(&[0; 10]);
    put_null_terminated(buffer, &scramble[8..]);
    put_null_terminated(buffer, NATIVE_PASSWORD_PLUGIN.as_bytes());
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HandshakeResponse {
    pub(crate) capabilities: u32,
    pub(crate) user: String,
    pub(crate) auth_response: Vec<u8>,
    pub(crate) database: Option<String>,
    pub(crate) auth_plugin: Option<String>,
}

/// Outcome of parsing the client's first packet.
#[derive(Debug)]
pub(crate) enum ClientGreeting {
    Response(HandshakeResponse),
    /// The short packet a client sends before starting TLS.
    SslRequest,
}

pub(crate) fn parse_handshake_response(payload: &[u8]) -> Result<ClientGreeting, ProtocolError> {
    let mut reader = PayloadReader::new(payload, "handshake response");
    let capabilities = reader.u32()?;
    if capabilities & capability::PROTOCOL_41 == 0 {
        return Err(ProtocolError::UnsupportedClient);
    }
    let _max_packet_size = reader.u32()?;
    let _character_set = reader.u8()?;
    reader.bytes(23)?;
    if reader.is_empty() && capabilities & capability::SSL != 0 {
        return Ok(ClientGreeting::SslRequest);
    }
    let user = String::from_utf8_lossy(reader.null_terminated()?).into_owned();
    let auth_response = if capabilities & capability::PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        reader.lenenc_bytes()?.to_vec()
    } else if capabilities & capability::SECURE_CONNECTION != 0 {
        let length = reader.u8()?;
        reader.bytes(usize::from(length))?.to_vec()
    } else {
        reader.null_terminated()?.to_vec()
    };
    let mut database = None;
    if capabilities & capability::CONNECT_WITH_DB != 0 && !reader.is_empty() {
        let name = reader.null_terminated_or_rest();
        if !name.is_empty() {
            database = Some(String::from_utf8_lossy(name).into_owned());
        }
    }
    let mut auth_plugin = None;
    if capabilities & capability::PLUGIN_AUTH != 0 && !reader.is_empty() {
        let name = reader.null_terminated_or_rest();
        if !name.is_empty() {
            auth_plugin = Some(String::from_utf8_lossy(name).into_owned());
        }
    }
    // Connection attributes (CLIENT_CONNECT_ATTRS) follow; nothing here uses them.
    Ok(ClientGreeting::Response(HandshakeResponse {
        capabilities,
        user,
        auth_response,
        database,
        auth_plugin,
    }))
}

/// Runs the connection phase up to the point where the factory decides. Returns the request
/// for the factory and the capabilities both sides share.
pub(crate) async fn negotiate<S: AsyncRead + AsyncWrite + Unpin>(
    packets: &mut PacketStream<S>,
    server_version: &str,
    connection_id: u32,
    peer: SocketAddr,
) -> Result<(AuthRequest, u32), ProtocolError> {
    let scramble = generate_scramble();
    put_initial_handshake(
        packets.begin_packet(),
        server_version,
        connection_id,
        &scramble,
    );
    packets.finish_packet().await?;
    packets.flush().await?;

    let payload = packets.read_packet().await?;
    let response = match parse_handshake_response(&payload)? {
        ClientGreeting::Response(response) => response,
        // We never offer TLS, so a client asking for it is not speaking our protocol.
        ClientGreeting::SslRequest => {
            return Err(ProtocolError::Malformed {
                what: "handshake response",
                reason: "ssl requested but not offered",
            });
        }
    };
    let capabilities = response.capabilities & SERVER_CAPABILITIES;
    let mut auth_response = response.auth_response;
    let wants_other_plugin = response
        .auth_plugin
        .as_deref()
        .is_some_and(|plugin| plugin != NATIVE_PASSWORD_PLUGIN);
    if wants_other_plugin && capabilities & capability::PLUGIN_AUTH != 0 {
        tracing::debug!(
            connection_id,
            plugin = response.auth_plugin.as_deref(),
            "switching client to mysql_native_password"
        );
        let buffer = packets.begin_packet();
        buffer.push(0xFE);
        put_null_terminated(buffer, NATIVE_PASSWORD_PLUGIN.as_bytes());
        put_null_terminated(buffer, &scramble);
        packets.finish_packet().await?;
        packets.flush().await?;
        auth_response = packets.read_packet().await?;
    }
    // Clients without CLIENT_PLUGIN_AUTH speak mysql_native_password.
    let request = AuthRequest {
        user: response.user,
        peer,
        scramble,
        auth_response,
        database: response.database,
        connection_id,
        auth_plugin: NATIVE_PASSWORD_PLUGIN.to_owned(),
    };
    Ok((request, capabilities))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_handshake_layout() {
        let scramble = *b"ABCDEFGHIJKLMNOPQRST";
        let mut buffer = Vec::new();
        put_initial_handshake(&mut buffer, "8.0.33-cairn", 7, &scramble);
        assert_eq!(buffer[0], 10);
        assert_eq!(&buffer[1..14], b"8.0.33-cairn\0");
        assert_eq!(&buffer[14..18], &7u32.to_le_bytes());
        assert_eq!(&buffer[18..26], b"ABCDEFGH");
        let lower = u16::from_le_bytes([buffer[27], buffer[28]]);
        let upper = u16::from_le_bytes([buffer[32], buffer[33]]);
        let capabilities = u32::from(lower) | u32::from(upper) << 16;
        assert_eq!(capabilities, SERVER_CAPABILITIES);
        assert_eq!(capabilities & capability::SSL, 0);
        assert_eq!(buffer[34], 21);
        assert_eq!(&buffer[45..58], b"IJKLMNOPQRST\0");
        assert_eq!(&buffer[58..], b"mysql_native_password\0");
    }

    #[test]
    fn scramble_is_printable() {
        let scramble = generate_scramble();
        assert!(
            scramble
                .iter()
                .all(|byte| (0x21..0x7F).contains(byte) && *byte != b'$')
        );
        assert_ne!(scramble, generate_scramble());
    }

    fn response_payload(capabilities: u32, rest: &[u8]) -> Vec<u8> {
        let mut payload = capabilities.to_le_bytes().to_vec();
        payload.extend_from_slice(&(16u32 << 20).to_le_bytes());
        payload.push(45);
        payload.extend_from_slice(&[0; 23]);
        payload.extend_from_slice(rest);
        payload
    }

    #[test]
    fn parses_handshake_responses() {
        let capabilities = capability::PROTOCOL_41
            | capability::SECURE_CONNECTION
            | capability::PLUGIN_AUTH_LENENC_CLIENT_DATA
            | capability::CONNECT_WITH_DB
            | capability::PLUGIN_AUTH
            | capability::CONNECT_ATTRS;
        let mut rest = b"root\0".to_vec();
        rest.push(3);
        rest.extend_from_slice(b"xyz");
        rest.extend_from_slice(b"sales\0caching_sha2_password\0");
        rest.extend_from_slice(b"\x05\x03_os\x00");
        let Ok(ClientGreeting::Response(response)) =
            parse_handshake_response(&response_payload(capabilities, &rest))
        else {
            panic!("response not parsed");
        };
        assert_eq!(response.user, "root");
        assert_eq!(response.auth_response, b"xyz");
        assert_eq!(response.database.as_deref(), Some("sales"));
        assert_eq!(
            response.auth_plugin.as_deref(),
            Some("caching_sha2_password")
        );

        // One-byte length prefix, no database, no plugin.
        let capabilities = capability::PROTOCOL_41 | capability::SECURE_CONNECTION;
        let Ok(ClientGreeting::Response(response)) =
            parse_handshake_response(&response_payload(capabilities, b"bob\0\x00"))
        else {
            panic!("response not parsed");
        };
        assert_eq!(response.user, "bob");
        assert!(response.auth_response.is_empty());
        assert_eq!(response.database, None);

        assert!(matches!(
            parse_handshake_response(&response_payload(
                capability::PROTOCOL_41 | capability::SSL,
                b""
            )),
            Ok(ClientGreeting::SslRequest)
        ));
        assert!(matches!(
            parse_handshake_response(&response_payload(0, b"root\0")),
            Err(ProtocolError::UnsupportedClient)
        ));
        let valid = response_payload(capabilities, b"bob\0\x02ab");
        for length in 0..valid.len() {
            assert!(
                parse_handshake_response(&valid[..length]).is_err(),
                "prefix {length}"
            );
        }
    }
}
