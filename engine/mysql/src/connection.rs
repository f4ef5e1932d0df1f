//! One client connection: the connection phase, then the command loop until COM_QUIT or
//! disconnect.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tracing::debug;

use crate::error::ProtocolError;
use crate::handshake;
use crate::packet::{PacketStream, PayloadReader, put_u16, put_u32};
use crate::prepared::{ExecuteError, PreparedStatements};
use crate::resultset::{
    ResponseContext, RowFormat, put_ok_packet, write_column_definitions, write_field_list,
    write_ok, write_query_response,
};
use crate::server::ServerConfig;
use crate::session::{ErrorPacket, Session, SessionFactory};

/// Like MySQL's `connect_timeout`: a client that connects and then stalls does not hold a
/// connection slot for long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

mod command {
    pub(super) const QUIT: u8 = 0x01;
    pub(super) const INIT_DB: u8 = 0x02;
    pub(super) const QUERY: u8 = 0x03;
    pub(super) const FIELD_LIST: u8 = 0x04;
    pub(super) const PING: u8 = 0x0E;
    pub(super) const STMT_PREPARE: u8 = 0x16;
    pub(super) const STMT_EXECUTE: u8 = 0x17;
    pub(super) const STMT_SEND_LONG_DATA: u8 = 0x18;
    pub(super) const STMT_CLOSE: u8 = 0x19;
    pub(super) const STMT_RESET: u8 = 0x1A;
    pub(super) const SET_OPTION: u8 = 0x1B;
    pub(super) const RESET_CONNECTION: u8 = 0x1F;
}

/// Serves one connection to the end; errors end only this connection.
pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin + Send>(
    stream: S,
    peer: SocketAddr,
    connection_id: u32,
    config: Arc<ServerConfig>,
    factory: Arc<dyn SessionFactory>,
) {
    let mut packets = PacketStream::new(stream, config.max_allowed_packet);
    let negotiated = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        handshake::negotiate(&mut packets, &config.server_version, connection_id, peer),
    )
    .await
    .unwrap_or(Err(ProtocolError::HandshakeTimeout));
    let (request, capabilities) = match negotiated {
        Ok(negotiated) => negotiated,
        Err(error) => {
            debug!(connection_id, %peer, %error, "handshake failed");
            if let Some(packet) = error.to_error_packet() {
                let _ = packets.write_error(&packet).await;
            }
            packets.shutdown().await;
            return;
        }
    };
    let user = request.user.clone();
    let session = match factory.open(request).await {
        Ok(session) => session,
        Err(error) => {
            debug!(connection_id, %peer, %user, %error, "login refused");
            let _ = packets.write_error(&error).await;
            packets.shutdown().await;
            return;
        }
    };
    debug!(connection_id, %peer, %user, "client logged in");
    let mut connection = Connection {
        packets,
        session,
        capabilities,
        statements: PreparedStatements::default(),
        max_allowed_packet: config.max_allowed_packet,
        connection_id,
    };
    connection.serve().await;
    connection.session.close().await;
    debug!(connection_id, "connection closed");
}

struct Connection<S> {
    packets: PacketStream<S>,
    session: Box<dyn Session>,
    capabilities: u32,
    statements: PreparedStatements,
    max_allowed_packet: usize,
    connection_id: u32,
}

/// Whether the command loop goes on.
enum Next {
    Continue,
    Quit,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Connection<S> {
    async fn serve(&mut self) {
        let session_status = self.session.status_flags();
        if let Err(error) = write_ok(&mut self.packets, session_status).await {
            debug!(connection_id = self.connection_id, %error, "failed to send login ok");
            return;
        }
        if self.packets.flush().await.is_err() {
            return;
        }
        loop {
            self.packets.reset_sequence();
            let read = tokio::select! {
                read = self.packets.read_packet() => read,
                () = self.session.killed() => {
                    debug!(connection_id = self.connection_id, "connection killed");
                    break;
                }
            };
            let outcome = match read {
                Ok(packet) => self.dispatch(&packet).await,
                Err(error) => Err(error),
            };
            match outcome {
                Ok(Next::Continue) => {}
                Ok(Next::Quit) => break,
                Err(error) => {
                    if !self.answer_protocol_error(error).await {
                        break;
                    }
                }
            }
        }
        self.packets.shutdown().await;
    }

    /// Reports a protocol error to the client. True if the connection can go on: a packet
    /// with bad contents spoils only its command, while broken framing ends the connection.
    async fn answer_protocol_error(&mut self, error: ProtocolError) -> bool {
        let keeps_going = matches!(error, ProtocolError::Malformed { .. });
        match &error {
            ProtocolError::Closed => {}
            error => debug!(connection_id = self.connection_id, %error, "protocol error"),
        }
        if let Some(packet) = error.to_error_packet() {
            if self.packets.write_error(&packet).await.is_err() {
                return false;
            }
            if self.packets.flush().await.is_err() {
                return false;
            }
        }
        keeps_going
    }

    fn context(&self) -> ResponseContext {
        ResponseContext {
            capabilities: self.capabilities,
            status: self.session.status_flags(),
        }
    }

    async fn dispatch(&mut self, packet: &[u8]) -> Result<Next, ProtocolError> {
        let Some((&command, body)) = packet.split_first() else {
            return Err(ProtocolError::Malformed {
                what: "command",
                reason: "empty packet",
            });
        };
        match command {
            command::QUIT => return Ok(Next::Quit),
            command::QUERY => {
                let sql = String::from_utf8_lossy(body);
                debug!(connection_id = self.connection_id, sql = %sql, "query");
                let result = self.session.query(&sql).await;
                self.write_result(result, RowFormat::Text).await?;
            }
            command::INIT_DB => {
                let database = String::from_utf8_lossy(body);
                match self.session.init_db(&database).await {
                    Ok(()) => self.reply_ok().await?,
                    Err(error) => self.reply_error(&error).await?,
                }
            }
            command::FIELD_LIST => {
                let mut reader = PayloadReader::new(body, "COM_FIELD_LIST");
                let table = String::from_utf8_lossy(reader.null_terminated_or_rest()).into_owned();
                let wildcard = String::from_utf8_lossy(reader.rest()).into_owned();
                match self.session.field_list(&table, &wildcard).await {
                    Ok(columns) => {
                        let context = self.context();
                        write_field_list(&mut self.packets, &columns, context).await?;
                        self.packets.flush().await?;
                    }
                    Err(error) => self.reply_error(&error).await?,
                }
            }
            command::PING | command::SET_OPTION => self.reply_ok().await?,
            command::RESET_CONNECTION => {
                // The session keeps its own state; statements are ours to drop.
                self.statements.clear();
                self.reply_ok().await?;
            }
            command::STMT_PREPARE => self.prepare(body).await?,
            command::STMT_EXECUTE => match self.statements.execute(body) {
                Ok(sql) => {
                    debug!(connection_id = self.connection_id, sql = %sql, "execute");
                    let result = self.session.query(&sql).await;
                    self.write_result(result, RowFormat::Binary).await?;
                }
                Err(ExecuteError::Session(error)) => self.reply_error(&error).await?,
                Err(ExecuteError::Protocol(error)) => return Err(error),
            },
            command::STMT_SEND_LONG_DATA => {
                self.statements
                    .append_long_data(body, self.max_allowed_packet);
            }
            command::STMT_CLOSE => {
                let mut reader = PayloadReader::new(body, "COM_STMT_CLOSE");
                // No reply, even for a malformed packet.
                if let Ok(id) = reader.u32() {
                    self.statements.close(id);
                }
            }
            command::STMT_RESET => {
                let id = PayloadReader::new(body, "COM_STMT_RESET").u32()?;
                if self.statements.reset(id) {
                    self.reply_ok().await?;
                } else {
                    let error = ErrorPacket::new(
                        1243,
                        "HY000",
                        format!(
                            "Unknown prepared statement handler ({id}) given to mysqld_stmt_reset"
                        ),
                    );
                    self.reply_error(&error).await?;
                }
            }
            unknown => {
                debug!(
                    connection_id = self.connection_id,
                    command = unknown,
                    "unknown command"
                );
                self.reply_error(&ErrorPacket::new(1047, "08S01", "Unknown command"))
                    .await?;
            }
        }
        Ok(Next::Continue)
    }

    async fn prepare(&mut self, body: &[u8]) -> Result<(), ProtocolError> {
        let sql = String::from_utf8_lossy(body).into_owned();
        let (id, parameter_count) = match self.statements.prepare(sql) {
            Ok(prepared) => prepared,
            Err(error) => return self.reply_error(&error).await,
        };
        let buffer = self.packets.begin_packet();
        buffer.push(0x00);
        put_u32(buffer, id);
        put_u16(buffer, 0); // columns: known only when the statement runs
        put_u16(buffer, parameter_count);
        buffer.push(0);
        put_u16(buffer, 0); // warnings
        self.packets.finish_packet().await?;
        if parameter_count > 0 {
            let parameters: Vec<_> = (0..parameter_count)
                .map(|_| {
                    let mut column =
                        crate::column::Column::new("?", crate::column::ColumnType::VarString);
                    column.org_name.clear();
                    column
                })
                .collect();
            let context = self.context();
            write_column_definitions(&mut self.packets, &parameters, context).await?;
        }
        self.packets.flush().await
    }

    async fn write_result(
        &mut self,
        result: Result<crate::session::QueryResponse, ErrorPacket>,
        format: RowFormat,
    ) -> Result<(), ProtocolError> {
        match result {
            Ok(response) => {
                let context = self.context();
                write_query_response(&mut self.packets, response, format, context).await
            }
            Err(error) => self.reply_error(&error).await,
        }
    }

    async fn reply_ok(&mut self) -> Result<(), ProtocolError> {
        let status = self.session.status_flags();
        put_ok_packet(self.packets.begin_packet(), 0x00, 0, 0, status, 0, "");
        self.packets.finish_packet().await?;
        self.packets.flush().await
    }

    async fn reply_error(&mut self, error: &ErrorPacket) -> Result<(), ProtocolError> {
        self.packets.write_error(error).await?;
        self.packets.flush().await
    }
}

/// Refuses a connection over the limit in place of the handshake, as MySQL does; the client
/// has not told its capabilities yet, so the error carries no SQL state.
pub(crate) async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(stream: S, error: &ErrorPacket) {
    let mut packets = PacketStream::new(stream, 1024);
    crate::packet::put_error_packet(packets.begin_packet(), error, false);
    let _ = packets.finish_packet().await;
    packets.shutdown().await;
}
