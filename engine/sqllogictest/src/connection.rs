//! One MySQL-wire session to Cairn, as a sqllogictest [`AsyncDB`].

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::consts::ColumnType as MysqlColumnType;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row, Value};
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};

/// Where sessions connect to. The generation changes when the server restarts, so that every
/// session reconnects (to its current database) before its next statement.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) generation: u64,
}

pub(crate) type SharedEndpoint = Arc<Mutex<Endpoint>>;

/// An error as a test file sees it: `ERROR 1049 (42000): Unknown database 'x'`, the form the
/// mysql CLI prints, so `statement error` regexes can match the code and the message.
#[derive(Debug)]
pub(crate) enum SessionError {
    Server {
        code: u16,
        state: String,
        message: String,
    },
    Client(String),
}

impl fmt::Display for SessionError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Server {
                code,
                state,
                message,
            } => write!(formatter, "ERROR {code} ({state}): {message}"),
            Self::Client(message) => write!(formatter, "client error: {message}"),
        }
    }
}

impl std::error::Error for SessionError {}

impl From<mysql_async::Error> for SessionError {
    fn from(error: mysql_async::Error) -> Self {
        match error {
            mysql_async::Error::Server(server_error) => Self::Server {
                code: server_error.code,
                state: server_error.state,
                message: server_error.message,
            },
            other => Self::Client(other.to_string()),
        }
    }
}

/// A session: a mysql_async connection plus the database it is using.
pub(crate) struct CairnSession {
    endpoint: SharedEndpoint,
    connection: Option<Conn>,
    connected_generation: u64,
    current_database: Option<String>,
}

impl CairnSession {
    pub(crate) async fn connect(endpoint: SharedEndpoint) -> Result<Self, SessionError> {
        let mut session = Self {
            endpoint,
            connection: None,
            connected_generation: 0,
            current_database: None,
        };
        session.reconnect().await?;
        Ok(session)
    }

    fn endpoint(&self) -> Result<Endpoint, SessionError> {
        self.endpoint
            .lock()
            .map(|endpoint| endpoint.clone())
            .map_err(|_| SessionError::Client("endpoint lock poisoned".to_string()))
    }

    async fn reconnect(&mut self) -> Result<(), SessionError> {
        if let Some(old) = self.connection.take() {
            // The old server is gone; dropping the connection is all that is left to do.
            drop(old);
        }
        let endpoint = self.endpoint()?;
        let options = OptsBuilder::default()
            .ip_or_hostname(endpoint.host.clone())
            .tcp_port(endpoint.port)
            .user(Some("root"))
            .pass(None::<String>)
            .db_name(self.current_database.clone())
            .prefer_socket(false)
            // Given here so that connecting does not depend on reading them from the server.
            .max_allowed_packet(Some(64 * 1024 * 1024))
            .wait_timeout(Some(28_800));
        let connection = tokio::time::timeout(Duration::from_secs(30), Conn::new(options))
            .await
            .map_err(|_| {
                SessionError::Client(format!(
                    "timed out connecting to {}:{}",
                    endpoint.host, endpoint.port
                ))
            })??;
        self.connection = Some(connection);
        self.connected_generation = endpoint.generation;
        Ok(())
    }

    async fn execute(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SessionError> {
        if self.connected_generation != self.endpoint()?.generation || self.connection.is_none() {
            self.reconnect().await?;
        }
        let connection = self
            .connection
            .as_mut()
            .ok_or_else(|| SessionError::Client("not connected".to_string()))?;
        let mut result = connection.query_iter(sql).await?;
        let columns = result.columns();
        let output = match columns {
            Some(columns) if !columns.is_empty() => {
                let types = columns
                    .iter()
                    .map(|column| sqllogictest_type(column.column_type()))
                    .collect();
                let rows: Vec<Row> = result.collect().await?;
                let rows = rows.iter().map(format_row).collect();
                DBOutput::Rows { types, rows }
            }
            _ => {
                let affected_rows = result.affected_rows();
                // Drains any further result sets so the connection is ready for the next query.
                result.drop_result().await?;
                DBOutput::StatementComplete(affected_rows)
            }
        };
        if let Some(database) = used_database(sql) {
            self.current_database = Some(database);
        }
        Ok(output)
    }
}

#[async_trait::async_trait]
impl AsyncDB for CairnSession {
    type Error = SessionError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        self.execute(sql).await
    }

    async fn shutdown(&mut self) {
        if let Some(connection) = self.connection.take()
            && let Err(error) = connection.disconnect().await
        {
            eprintln!("failed to close a session cleanly: {error}");
        }
    }

    fn engine_name(&self) -> &str {
        "cairn"
    }

    async fn sleep(duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    fn error_sql_state(error: &Self::Error) -> Option<String> {
        match error {
            SessionError::Server { state, .. } => Some(state.clone()),
            SessionError::Client(_) => None,
        }
    }
}

/// The database a successful `USE db` switched to, so a reconnect lands in the same place.
fn used_database(sql: &str) -> Option<String> {
    let trimmed = sql.trim().trim_end_matches(';').trim();
    let (keyword, rest) = trimmed.split_once(char::is_whitespace)?;
    if !keyword.eq_ignore_ascii_case("use") {
        return None;
    }
    let name = rest.trim().trim_matches('`');
    (!name.is_empty() && !name.contains(char::is_whitespace)).then(|| name.to_string())
}

fn sqllogictest_type(column_type: MysqlColumnType) -> DefaultColumnType {
    use MysqlColumnType::*;
    match column_type {
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_LONG | MYSQL_TYPE_LONGLONG
        | MYSQL_TYPE_INT24 | MYSQL_TYPE_YEAR | MYSQL_TYPE_BIT => DefaultColumnType::Integer,
        MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE | MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => {
            DefaultColumnType::FloatingPoint
        }
        MYSQL_TYPE_VARCHAR
        | MYSQL_TYPE_VAR_STRING
        | MYSQL_TYPE_STRING
        | MYSQL_TYPE_BLOB
        | MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_JSON
        | MYSQL_TYPE_DATE
        | MYSQL_TYPE_NEWDATE
        | MYSQL_TYPE_DATETIME
        | MYSQL_TYPE_TIMESTAMP
        | MYSQL_TYPE_TIME => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

fn format_row(row: &Row) -> Vec<String> {
    (0..row.len())
        .map(|index| match row.as_ref(index) {
            Some(value) => format_value(value),
            None => "NULL".to_string(),
        })
        .collect()
}

/// Text protocol values arrive as bytes, exactly as the server formatted them.
fn format_value(value: &Value) -> String {
    match value {
        Value::NULL => "NULL".to_string(),
        Value::Bytes(bytes) if bytes.is_empty() => "(empty)".to_string(),
        Value::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::Int(number) => number.to_string(),
        Value::UInt(number) => number.to_string(),
        Value::Float(number) => number.to_string(),
        Value::Double(number) => number.to_string(),
        Value::Date(year, month, day, hour, minute, second, microsecond) => {
            let mut text =
                format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}");
            if *microsecond > 0 {
                text.push_str(&format!(".{microsecond:06}"));
            }
            text
        }
        Value::Time(negative, days, hours, minutes, seconds, microseconds) => {
            let sign = if *negative { "-" } else { "" };
            let total_hours = u64::from(*days) * 24 + u64::from(*hours);
            let mut text = format!("{sign}{total_hours:02}:{minutes:02}:{seconds:02}");
            if *microseconds > 0 {
                text.push_str(&format!(".{microseconds:06}"));
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_statements_are_tracked() {
        assert_eq!(used_database("USE sensors"), Some("sensors".to_string()));
        assert_eq!(used_database("use `db1`;"), Some("db1".to_string()));
        assert_eq!(used_database("SELECT 1"), None);
        assert_eq!(used_database("user_table"), None);
    }

    #[test]
    fn values_are_formatted_like_the_cli() {
        assert_eq!(format_value(&Value::NULL), "NULL");
        assert_eq!(format_value(&Value::Bytes(Vec::new())), "(empty)");
        assert_eq!(format_value(&Value::Bytes(b"1.50".to_vec())), "1.50");
        assert_eq!(
            format_value(&Value::Date(2024, 1, 1, 10, 0, 0, 0)),
            "2024-01-01 10:00:00"
        );
    }

    #[test]
    fn server_errors_read_like_the_cli() {
        let error = SessionError::Server {
            code: 1049,
            state: "42000".to_string(),
            message: "Unknown database 'nope'".to_string(),
        };
        assert_eq!(
            error.to_string(),
            "ERROR 1049 (42000): Unknown database 'nope'"
        );
    }
}
