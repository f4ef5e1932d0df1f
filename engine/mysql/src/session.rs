//! The traits the FE implements ([`SessionFactory`], [`Session`]) and the values that cross them.

use std::fmt;
use std::net::SocketAddr;
use std::ops::{BitOr, BitOrAssign};

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::column::Column;

/// What a client presented at login. The factory checks the password with
/// [`crate::verify_native_password`] against the stored [`crate::native_password_hash`].
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub user: String,
    pub peer: SocketAddr,
    /// The random challenge this connection sent in its handshake.
    pub scramble: [u8; 20],
    /// The client's answer to the scramble for `auth_plugin` (empty for an empty password).
    pub auth_response: Vec<u8>,
    pub database: Option<String>,
    pub connection_id: u32,
    /// The plugin `auth_response` was computed with; always `mysql_native_password` today,
    /// because clients asking for another plugin are switched to it.
    pub auth_plugin: String,
}

/// Opens a [`Session`] for each authenticated connection.
#[async_trait]
pub trait SessionFactory: Send + Sync {
    /// Checks the credentials and opens a session, or refuses the login (error 1045 for a
    /// wrong password, 1049 for an unknown database, ...).
    async fn open(&self, request: AuthRequest) -> Result<Box<dyn Session>, ErrorPacket>;
}

/// One client connection's state in the FE: current database, variables, transaction.
#[async_trait]
pub trait Session: Send {
    /// Runs one statement: COM_QUERY, and COM_STMT_EXECUTE after parameter substitution.
    async fn query(&mut self, sql: &str) -> Result<QueryResponse, ErrorPacket>;
    /// COM_INIT_DB, what `USE db` sends from most clients.
    async fn init_db(&mut self, database: &str) -> Result<(), ErrorPacket>;
    /// COM_FIELD_LIST, the columns of `table` whose names match `wildcard`.
    async fn field_list(&mut self, table: &str, wildcard: &str)
    -> Result<Vec<Column>, ErrorPacket>;
    /// The server status sent in OK and EOF packets.
    fn status_flags(&self) -> StatusFlags {
        StatusFlags::default()
    }
    /// Called once when the client quits or disconnects.
    async fn close(&mut self) {}
    /// Resolves when another session KILLs this connection; the server then closes it, even
    /// while it waits for the client's next command.
    fn killed(&self) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(std::future::pending::<()>())
    }
}

/// The answer to one statement.
pub enum QueryResponse {
    Ok {
        affected_rows: u64,
        last_insert_id: u64,
        info: String,
        warnings: u16,
    },
    /// Rows streamed as record batches whose columns match `columns` one to one. An error from
    /// the stream after rows were sent ends the result set with that error packet, which
    /// clients handle. The stream is dropped when the client disconnects.
    ResultSet {
        columns: Vec<Column>,
        batches: BoxStream<'static, Result<RecordBatch, ErrorPacket>>,
    },
}

impl QueryResponse {
    /// An OK with nothing affected, the answer to SET, USE and the like.
    pub fn ok() -> QueryResponse {
        QueryResponse::Ok {
            affected_rows: 0,
            last_insert_id: 0,
            info: String::new(),
            warnings: 0,
        }
    }
}

impl fmt::Debug for QueryResponse {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryResponse::Ok {
                affected_rows,
                last_insert_id,
                info,
                warnings,
            } => formatter
                .debug_struct("Ok")
                .field("affected_rows", affected_rows)
                .field("last_insert_id", last_insert_id)
                .field("info", info)
                .field("warnings", warnings)
                .finish(),
            QueryResponse::ResultSet { columns, .. } => formatter
                .debug_struct("ResultSet")
                .field("columns", columns)
                .finish_non_exhaustive(),
        }
    }
}

/// A MySQL error as the client sees it: `ERROR 1064 (42000): message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPacket {
    pub code: u16,
    /// Five characters; longer values are cut and shorter ones padded when sent.
    pub sql_state: String,
    pub message: String,
}

impl ErrorPacket {
    pub fn new(code: u16, sql_state: impl Into<String>, message: impl Into<String>) -> ErrorPacket {
        ErrorPacket {
            code,
            sql_state: sql_state.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ErrorPacket {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "ERROR {} ({}): {}",
            self.code, self.sql_state, self.message
        )
    }
}

impl std::error::Error for ErrorPacket {}

/// The SERVER_STATUS_* bits of OK and EOF packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusFlags(pub u16);

impl StatusFlags {
    pub const IN_TRANSACTION: StatusFlags = StatusFlags(0x0001);
    pub const AUTOCOMMIT: StatusFlags = StatusFlags(0x0002);
    pub const MORE_RESULTS_EXIST: StatusFlags = StatusFlags(0x0008);
    pub const NO_GOOD_INDEX_USED: StatusFlags = StatusFlags(0x0010);
    pub const NO_INDEX_USED: StatusFlags = StatusFlags(0x0020);
    pub const CURSOR_EXISTS: StatusFlags = StatusFlags(0x0040);
    pub const LAST_ROW_SENT: StatusFlags = StatusFlags(0x0080);
    pub const DATABASE_DROPPED: StatusFlags = StatusFlags(0x0100);
    pub const NO_BACKSLASH_ESCAPES: StatusFlags = StatusFlags(0x0200);
    pub const METADATA_CHANGED: StatusFlags = StatusFlags(0x0400);
    pub const QUERY_WAS_SLOW: StatusFlags = StatusFlags(0x0800);
    pub const PS_OUT_PARAMS: StatusFlags = StatusFlags(0x1000);
    pub const IN_TRANSACTION_READONLY: StatusFlags = StatusFlags(0x2000);
    pub const SESSION_STATE_CHANGED: StatusFlags = StatusFlags(0x4000);

    pub const fn empty() -> StatusFlags {
        StatusFlags(0)
    }

    pub const fn bits(self) -> u16 {
        self.0
    }

    pub const fn contains(self, other: StatusFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Autocommit on, no transaction open.
impl Default for StatusFlags {
    fn default() -> StatusFlags {
        StatusFlags::AUTOCOMMIT
    }
}

impl BitOr for StatusFlags {
    type Output = StatusFlags;
    fn bitor(self, other: StatusFlags) -> StatusFlags {
        StatusFlags(self.0 | other.0)
    }
}

impl BitOrAssign for StatusFlags {
    fn bitor_assign(&mut self, other: StatusFlags) {
        self.0 |= other.0;
    }
}
