//! The MySQL client/server wire protocol for Cairn's FE, independent of the rest of the engine.
//! The entry point is [`serve`]: it accepts connections on a listener, performs the protocol 4.1
//! handshake with `mysql_native_password`, and hands each authenticated connection to a
//! [`Session`] opened by the caller's [`SessionFactory`]. Query results are Arrow record batches
//! ([`QueryResponse::ResultSet`]) that this crate encodes in the text protocol (COM_QUERY) or the
//! binary protocol (prepared statements, which are handled here by substituting parameters as SQL
//! literals). [`Column::from_arrow_field`] gives the default Arrow to MySQL column mapping.

mod column;
mod connection;
mod error;
mod handshake;
mod packet;
mod password;
mod prepared;
mod resultset;
mod server;
mod session;
mod value;

pub use column::{Column, ColumnFlags, ColumnType, STARROCKS_TYPE_METADATA_KEY};
pub use password::{native_password_hash, verify_native_password};
pub use server::{ServerConfig, serve};
pub use session::{AuthRequest, ErrorPacket, QueryResponse, Session, SessionFactory, StatusFlags};
