//! Drives `cairn_mysql::serve` with real clients: mysql_async, the mysql CLI, and a raw
//! socket client for the protocol corners the drivers do not reach.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int8Array, Int16Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
    UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use cairn_mysql::{
    AuthRequest, Column, ErrorPacket, QueryResponse, ServerConfig, Session, SessionFactory,
    native_password_hash, serve, verify_native_password,
};
use futures::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Tests return errors instead of unwrapping.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(message.into().into())
}

macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+).into());
        }
    };
}

struct TestFactory;

#[async_trait]
impl SessionFactory for TestFactory {
    async fn open(
        &self,
        request: AuthRequest,
    ) -> std::result::Result<Box<dyn Session>, ErrorPacket> {
        let stored = match request.user.as_str() {
            "root" => native_password_hash(""),
            "alice" => native_password_hash("secret"),
            _ => native_password_hash("\0no such user"),
        };
        if !verify_native_password(&request.scramble, &request.auth_response, &stored) {
            return Err(ErrorPacket::new(
                1045,
                "28000",
                format!(
                    "Access denied for user '{}'@'{}' (using password: {})",
                    request.user,
                    request.peer.ip(),
                    if request.auth_response.is_empty() {
                        "NO"
                    } else {
                        "YES"
                    }
                ),
            ));
        }
        Ok(Box::new(TestSession {
            database: request.database,
            connection_id: request.connection_id,
        }))
    }
}

struct TestSession {
    database: Option<String>,
    connection_id: u32,
}

fn one_string(name: &str, value: Option<&str>) -> QueryResponse {
    let array: ArrayRef = Arc::new(StringArray::from(vec![value]));
    let field = Field::new(name, DataType::Utf8, true);
    result_set(Schema::new(vec![field]), vec![array])
}

fn result_set(schema: Schema, arrays: Vec<ArrayRef>) -> QueryResponse {
    let columns = schema
        .fields()
        .iter()
        .map(|field| Column::from_arrow_field(field))
        .collect();
    let batch = RecordBatch::try_new(Arc::new(schema), arrays)
        .map_err(|error| ErrorPacket::new(1105, "HY000", error.to_string()));
    QueryResponse::ResultSet {
        columns,
        batches: futures::stream::iter(vec![batch]).boxed(),
    }
}

/// Three rows of the types the engine produces; the middle row is all NULL.
fn typed_batch() -> std::result::Result<(Schema, Vec<ArrayRef>), ErrorPacket> {
    let internal =
        |error: arrow::error::ArrowError| ErrorPacket::new(1105, "HY000", error.to_string());
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("flag", DataType::Boolean, true),
        Field::new("tiny", DataType::Int8, true),
        Field::new("small", DataType::Int16, true),
        Field::new("int", DataType::Int32, true),
        Field::new("big_unsigned", DataType::UInt64, true),
        Field::new("real", DataType::Float32, true),
        Field::new("double", DataType::Float64, true),
        Field::new("price", DataType::Decimal128(10, 2), true),
        Field::new("day", DataType::Date32, true),
        Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new("name", DataType::Utf8, true),
        Field::new("raw", DataType::Binary, true),
    ]);
    // 2024-01-02 03:04:05 and 1999-12-31 23:59:59.5
    let at = vec![Some(1_704_164_645_000_000), None, Some(946_684_799_500_000)];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2, 3])),
        Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
        Arc::new(Int8Array::from(vec![Some(-8), None, Some(127)])),
        Arc::new(Int16Array::from(vec![Some(-16), None, Some(300)])),
        Arc::new(Int32Array::from(vec![Some(-32), None, Some(70000)])),
        Arc::new(UInt64Array::from(vec![Some(u64::MAX), None, Some(0)])),
        Arc::new(Float32Array::from(vec![Some(1.5), None, Some(-0.25)])),
        Arc::new(Float64Array::from(vec![Some(0.1), None, Some(-2.5e10)])),
        Arc::new(
            Decimal128Array::from(vec![Some(1230), None, Some(-5)])
                .with_precision_and_scale(10, 2)
                .map_err(internal)?,
        ),
        Arc::new(Date32Array::from(vec![Some(19724), None, Some(0)])),
        Arc::new(TimestampMicrosecondArray::from(at)),
        Arc::new(StringArray::from(vec![Some("héllo"), None, Some("it's")])),
        Arc::new(BinaryArray::from(vec![
            Some(&[0u8, 255][..]),
            None,
            Some(&b"ab"[..]),
        ])),
    ];
    Ok((schema, arrays))
}

#[async_trait]
impl Session for TestSession {
    async fn query(&mut self, sql: &str) -> std::result::Result<QueryResponse, ErrorPacket> {
        let normalized = sql.trim().trim_end_matches(';').to_ascii_lowercase();
        match normalized.as_str() {
            "select @@version_comment limit 1" => {
                return Ok(one_string("@@version_comment", Some("Cairn test server")));
            }
            "select 1" => {
                let array: ArrayRef = Arc::new(Int64Array::from(vec![1]));
                return Ok(result_set(
                    Schema::new(vec![Field::new("1", DataType::Int64, false)]),
                    vec![array],
                ));
            }
            "select database()" => {
                return Ok(one_string("database()", self.database.as_deref()));
            }
            "select connection_id()" => {
                let array: ArrayRef =
                    Arc::new(Int64Array::from(vec![i64::from(self.connection_id)]));
                return Ok(result_set(
                    Schema::new(vec![Field::new("connection_id()", DataType::Int64, false)]),
                    vec![array],
                ));
            }
            "error" => {
                return Err(ErrorPacket::new(
                    1064,
                    "42000",
                    "You have an error in your SQL syntax",
                ));
            }
            "insert" => {
                return Ok(QueryResponse::Ok {
                    affected_rows: 3,
                    last_insert_id: 7,
                    info: String::new(),
                    warnings: 0,
                });
            }
            "select * from big" => {
                // Many batches and rows, to cross the flush threshold many times.
                let batches = futures::stream::iter(0..50).map(|batch| {
                    let values: Vec<i64> = (0..2000).map(|row| batch * 2000 + row).collect();
                    let array: ArrayRef = Arc::new(Int64Array::from(values));
                    RecordBatch::try_from_iter([("n", array)])
                        .map_err(|error| ErrorPacket::new(1105, "HY000", error.to_string()))
                });
                return Ok(QueryResponse::ResultSet {
                    columns: vec![Column::from_arrow_field(&Field::new(
                        "n",
                        DataType::Int64,
                        false,
                    ))],
                    batches: batches.boxed(),
                });
            }
            "select * from failing" => {
                let array: ArrayRef = Arc::new(Int64Array::from(vec![1]));
                let first = RecordBatch::try_from_iter([("n", array)])
                    .map_err(|error| ErrorPacket::new(1105, "HY000", error.to_string()));
                let batches = futures::stream::iter(vec![
                    first,
                    Err(ErrorPacket::new(1064, "42000", "failed while reading")),
                ]);
                return Ok(QueryResponse::ResultSet {
                    columns: vec![Column::from_arrow_field(&Field::new(
                        "n",
                        DataType::Int64,
                        false,
                    ))],
                    batches: batches.boxed(),
                });
            }
            _ => {}
        }
        if normalized.starts_with("select * from types") {
            let (schema, arrays) = typed_batch()?;
            return Ok(result_set(schema, arrays));
        }
        if normalized.starts_with("select '") {
            // Large literal queries: answer with the length received.
            let array: ArrayRef = Arc::new(Int64Array::from(vec![sql.len() as i64]));
            return Ok(result_set(
                Schema::new(vec![Field::new("length", DataType::Int64, false)]),
                vec![array],
            ));
        }
        if normalized.starts_with("echo ") {
            // Shows the statement after parameter substitution.
            return Ok(one_string("sql", Some(&sql.trim()[5..])));
        }
        Err(ErrorPacket::new(
            1064,
            "42000",
            format!("unsupported test statement: {sql}"),
        ))
    }

    async fn init_db(&mut self, database: &str) -> std::result::Result<(), ErrorPacket> {
        if database == "missing" {
            return Err(ErrorPacket::new(
                1049,
                "42000",
                format!("Unknown database '{database}'"),
            ));
        }
        self.database = Some(database.to_owned());
        Ok(())
    }

    async fn field_list(
        &mut self,
        table: &str,
        _wildcard: &str,
    ) -> std::result::Result<Vec<Column>, ErrorPacket> {
        let mut column = Column::from_arrow_field(&Field::new("id", DataType::Int64, false));
        column.table = table.to_owned();
        Ok(vec![column])
    }
}

async fn start_server(config: ServerConfig) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(serve(listener, config, Arc::new(TestFactory)));
    Ok(port)
}

async fn start_default_server() -> Result<u16> {
    start_server(ServerConfig {
        server_version: "8.0.33-cairn".to_owned(),
        max_connections: 100,
        max_allowed_packet: 1 << 20,
    })
    .await
}

fn client_options(port: u16, user: &str, password: &str) -> OptsBuilder {
    OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some(user))
        .pass(Some(password))
        .prefer_socket(false)
        // Known here, so the driver does not ask with SELECT @@max_allowed_packet. Larger than
        // the server's limit, so oversized packets reach the server.
        .max_allowed_packet(Some(64 << 20))
        .wait_timeout(Some(28800))
}

async fn connect(port: u16) -> Result<Conn> {
    Ok(Conn::new(client_options(port, "root", "")).await?)
}

fn server_error_code(error: &mysql_async::Error) -> Option<u16> {
    match error {
        mysql_async::Error::Server(server) => Some(server.code),
        _ => None,
    }
}

#[tokio::test]
async fn text_queries_with_mysql_async() -> Result<()> {
    let port = start_default_server().await?;
    let mut conn = connect(port).await?;

    let one: Option<i64> = conn.query_first("select 1").await?;
    ensure!(one == Some(1), "select 1 gave {one:?}");

    let rows: Vec<Row> = conn.query("select * from types").await?;
    ensure!(rows.len() == 3, "expected 3 rows, got {}", rows.len());
    let columns = rows[0].columns_ref();
    let types: Vec<_> = columns.iter().map(|column| column.column_type()).collect();
    use mysql_async::consts::ColumnType as T;
    ensure!(
        types
            == vec![
                T::MYSQL_TYPE_LONGLONG,
                T::MYSQL_TYPE_TINY,
                T::MYSQL_TYPE_TINY,
                T::MYSQL_TYPE_SHORT,
                T::MYSQL_TYPE_LONG,
                T::MYSQL_TYPE_LONGLONG,
                T::MYSQL_TYPE_FLOAT,
                T::MYSQL_TYPE_DOUBLE,
                T::MYSQL_TYPE_NEWDECIMAL,
                T::MYSQL_TYPE_DATE,
                T::MYSQL_TYPE_DATETIME,
                T::MYSQL_TYPE_VAR_STRING,
                T::MYSQL_TYPE_BLOB,
            ],
        "column types {types:?}"
    );
    ensure!(
        columns[0].name_str() == "id",
        "first column named {}",
        columns[0].name_str()
    );
    let text = |value: Option<&Value>| match value {
        Some(Value::Bytes(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    };
    let first: Vec<_> = (0..13).map(|index| text(rows[0].as_ref(index))).collect();
    let expected_first = [
        "1",
        "1",
        "-8",
        "-16",
        "-32",
        "18446744073709551615",
        "1.5",
        "0.1",
        "12.30",
        "2024-01-02",
        // DATETIME prints a fraction only when the value has one, as StarRocks does.
        "2024-01-02 03:04:05",
        "héllo",
    ];
    for (index, expected) in expected_first.iter().enumerate() {
        ensure!(
            first[index].as_deref() == Some(*expected),
            "row 1 column {index}: {:?} instead of {expected:?}",
            first[index]
        );
    }
    ensure!(
        matches!(rows[0].as_ref(12), Some(Value::Bytes(bytes)) if bytes == &[0u8, 255]),
        "binary column: {:?}",
        rows[0].as_ref(12)
    );
    for index in 1..13 {
        ensure!(
            rows[1].as_ref(index) == Some(&Value::NULL),
            "row 2 column {index} should be NULL: {:?}",
            rows[1].as_ref(index)
        );
    }
    ensure!(
        text(rows[2].as_ref(10)).as_deref() == Some("1999-12-31 23:59:59.500000"),
        "fractional datetime {:?}",
        rows[2].as_ref(10)
    );
    ensure!(
        text(rows[2].as_ref(8)).as_deref() == Some("-0.05"),
        "negative decimal"
    );

    // An error keeps the connection usable.
    match conn.query_drop("error").await {
        Err(error) => ensure!(server_error_code(&error) == Some(1064), "error {error}"),
        Ok(()) => return fail("error query succeeded"),
    }
    conn.query_drop("insert").await?;
    ensure!(
        conn.affected_rows() == 3,
        "affected rows {}",
        conn.affected_rows()
    );
    ensure!(
        conn.last_insert_id() == Some(7),
        "last insert id {:?}",
        conn.last_insert_id()
    );

    let numbers: Vec<i64> = conn.query("select * from big").await?;
    ensure!(
        numbers.len() == 100_000,
        "big result had {} rows",
        numbers.len()
    );
    ensure!(
        numbers
            .iter()
            .enumerate()
            .all(|(index, value)| *value == index as i64),
        "big result out of order"
    );

    match conn.query::<i64, _>("select * from failing").await {
        Err(error) => ensure!(
            server_error_code(&error) == Some(1064),
            "mid-stream error {error}"
        ),
        Ok(rows) => return fail(format!("failing stream returned {rows:?}")),
    }

    conn.ping().await?;
    let reset = conn.reset().await?;
    ensure!(reset, "COM_RESET_CONNECTION was not used");
    let one: Option<i64> = conn.query_first("select 1").await?;
    ensure!(one == Some(1), "select 1 after reset gave {one:?}");
    conn.disconnect().await?;
    Ok(())
}

#[tokio::test]
async fn prepared_statements_with_mysql_async() -> Result<()> {
    let port = start_default_server().await?;
    let mut conn = connect(port).await?;

    // Parameters of several types arrive as escaped literals.
    let date = Value::Date(2024, 2, 29, 0, 0, 0, 0);
    let datetime = Value::Date(2024, 2, 29, 13, 14, 15, 16);
    let sql: Option<String> = conn
        .exec_first(
            "echo ?, ?, ?, ?, ?, ?, ?, ?, ?, '?'",
            (
                42i64,
                -7i8,
                u64::MAX,
                1.5f64,
                "it's \"quoted\" \\ ?",
                Value::NULL,
                date,
                datetime,
                Value::Time(true, 1, 2, 3, 4, 0),
            ),
        )
        .await?;
    let expected = "42, -7, 18446744073709551615, 1.5, 'it\\'s \\\"quoted\\\" \\\\ ?', NULL, '2024-02-29 00:00:00', '2024-02-29 13:14:15.000016', '-26:03:04', '?'";
    ensure!(sql.as_deref() == Some(expected), "substituted {sql:?}");

    // Binary rows decode to typed values.
    let statement = conn.prep("select * from types where id > ?").await?;
    ensure!(
        statement.num_params() == 1,
        "params {}",
        statement.num_params()
    );
    let rows: Vec<Row> = conn.exec(&statement, (0,)).await?;
    ensure!(rows.len() == 3, "binary rows {}", rows.len());
    let expected_first = vec![
        Value::Int(1),
        Value::Int(1),
        Value::Int(-8),
        Value::Int(-16),
        Value::Int(-32),
        Value::UInt(u64::MAX),
        Value::Float(1.5),
        Value::Double(0.1),
        Value::Bytes(b"12.30".to_vec()),
        Value::Date(2024, 1, 2, 0, 0, 0, 0),
        Value::Date(2024, 1, 2, 3, 4, 5, 0),
        Value::Bytes("héllo".as_bytes().to_vec()),
        Value::Bytes(vec![0, 255]),
    ];
    for (index, expected) in expected_first.iter().enumerate() {
        ensure!(
            rows[0].as_ref(index) == Some(expected),
            "binary row 1 column {index}: {:?} instead of {expected:?}",
            rows[0].as_ref(index)
        );
    }
    for index in 1..13 {
        ensure!(
            rows[1].as_ref(index) == Some(&Value::NULL),
            "binary NULL at {index}"
        );
    }
    ensure!(
        rows[2].as_ref(10) == Some(&Value::Date(1999, 12, 31, 23, 59, 59, 500_000)),
        "binary fractional datetime {:?}",
        rows[2].as_ref(10)
    );
    // The driver reads unsigned values that fit an i64 as Int.
    ensure!(
        rows[2].as_ref(5) == Some(&Value::Int(0)),
        "unsigned zero: {:?}",
        rows[2].as_ref(5)
    );
    ensure!(rows[2].as_ref(2) == Some(&Value::Int(127)), "tiny 127");

    // Typed decoding through FromRow.
    let typed: Vec<(i64, Option<String>, Option<f64>)> = conn
        .exec_map(&statement, (1,), |row: Row| {
            (
                row.get::<i64, _>(0).unwrap_or_default(),
                row.get::<Option<String>, _>(11).flatten(),
                row.get::<Option<f64>, _>(7).flatten(),
            )
        })
        .await?;
    ensure!(
        typed[0] == (1, Some("héllo".to_owned()), Some(0.1)),
        "typed {:?}",
        typed[0]
    );

    // Re-executing sends no types the second time; the statement remembers them.
    let again: Vec<Row> = conn.exec(&statement, (5,)).await?;
    ensure!(again.len() == 3, "second execute rows {}", again.len());

    // Errors and OK results through the binary path.
    let failing = conn.prep("error").await?;
    match conn.exec_drop(&failing, ()).await {
        Err(error) => ensure!(
            server_error_code(&error) == Some(1064),
            "exec error {error}"
        ),
        Ok(()) => return fail("error statement succeeded"),
    }
    let insert = conn.prep("insert").await?;
    conn.exec_drop(&insert, ()).await?;
    ensure!(
        conn.affected_rows() == 3,
        "prepared insert affected {}",
        conn.affected_rows()
    );

    conn.close(statement).await?;
    let one: Option<i64> = conn.exec_first("select 1", ()).await?;
    ensure!(one == Some(1), "select 1 prepared {one:?}");
    conn.disconnect().await?;
    Ok(())
}

#[tokio::test]
async fn logins_and_database_selection() -> Result<()> {
    let port = start_default_server().await?;

    let mut alice =
        Conn::new(client_options(port, "alice", "secret").db_name(Some("sales"))).await?;
    let database: Option<String> = alice.query_first("select database()").await?;
    ensure!(
        database.as_deref() == Some("sales"),
        "database {database:?}"
    );
    let first_id: Option<i64> = alice.query_first("select connection_id()").await?;
    ensure!(
        first_id == Some(i64::from(alice.id())),
        "connection id {first_id:?} vs {}",
        alice.id()
    );
    alice.disconnect().await?;

    match Conn::new(client_options(port, "alice", "wrong")).await {
        Err(error) => ensure!(
            server_error_code(&error) == Some(1045),
            "wrong password gave {error}"
        ),
        Ok(_) => return fail("wrong password accepted"),
    }
    match Conn::new(client_options(port, "nobody", "")).await {
        Err(error) => ensure!(
            server_error_code(&error) == Some(1045),
            "unknown user gave {error}"
        ),
        Ok(_) => return fail("unknown user accepted"),
    }
    // Connection ids count up.
    let second = Conn::new(client_options(port, "root", "")).await?;
    ensure!(
        second.id() > first_id.unwrap_or(0) as u32,
        "ids do not increase"
    );
    second.disconnect().await?;
    Ok(())
}

#[tokio::test]
async fn oversized_packet_closes_only_that_connection() -> Result<()> {
    let port = start_default_server().await?;
    let mut conn = connect(port).await?;
    let small = format!("select '{}'", "x".repeat(1000));
    let length: Option<i64> = conn.query_first(small.as_str()).await?;
    ensure!(
        length == Some(small.len() as i64),
        "small query length {length:?}"
    );

    let big = format!("select '{}'", "x".repeat(2 << 20));
    match conn.query_drop(big.as_str()).await {
        Err(error) => ensure!(
            server_error_code(&error) == Some(1153),
            "oversized gave {error}"
        ),
        Ok(()) => return fail("oversized packet accepted"),
    }
    // The old connection is closed; a new one works.
    let mut fresh = connect(port).await?;
    let one: Option<i64> = fresh.query_first("select 1").await?;
    ensure!(
        one == Some(1),
        "new connection after oversized packet gave {one:?}"
    );
    fresh.disconnect().await?;
    Ok(())
}

#[tokio::test]
async fn multi_packet_payloads_both_ways() -> Result<()> {
    let port = start_server(ServerConfig {
        max_allowed_packet: 40 << 20,
        ..ServerConfig::default()
    })
    .await?;
    let mut conn = connect(port).await?;
    // A 17 MiB query arrives as two packets.
    let query = format!("select '{}'", "y".repeat(17 << 20));
    let length: Option<i64> = conn.query_first(query.as_str()).await?;
    ensure!(
        length == Some(query.len() as i64),
        "multi-packet query length {length:?}"
    );
    // And a 17 MiB value goes back as two packets.
    let echoed: Option<String> = conn
        .query_first(format!("echo {}", "z".repeat(17 << 20)))
        .await?;
    ensure!(
        echoed.map(|text| text.len()) == Some(17 << 20),
        "multi-packet row"
    );
    conn.disconnect().await?;
    Ok(())
}

#[tokio::test]
async fn connection_limit() -> Result<()> {
    let port = start_server(ServerConfig {
        max_connections: 2,
        ..ServerConfig::default()
    })
    .await?;
    let first = connect(port).await?;
    let mut second = connect(port).await?;
    match connect(port).await {
        Err(error) => {
            let code = match error.downcast_ref::<mysql_async::Error>() {
                Some(error) => server_error_code(error),
                None => None,
            };
            ensure!(code == Some(1040), "third connection gave {error}");
        }
        Ok(_) => return fail("third connection accepted over max_connections"),
    }
    second.ping().await?;
    first.disconnect().await?;
    // The slot frees once the server has seen the quit.
    let mut attempts = 0;
    let mut third = loop {
        match connect(port).await {
            Ok(conn) => break conn,
            Err(error) if attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = error;
            }
            Err(error) => return Err(error),
        }
    };
    third.ping().await?;
    third.disconnect().await?;
    second.disconnect().await?;
    Ok(())
}

/// The mariadb/mysql command line client, as users run it.
#[tokio::test]
async fn mysql_command_line_client() -> Result<()> {
    let binary = "/usr/bin/mysql";
    ensure!(
        std::path::Path::new(binary).exists(),
        "{binary} is missing: install the mysql or mariadb client (apt-get install mariadb-client)"
    );
    let port = start_default_server().await?;
    let run = |sql: &'static str| {
        tokio::process::Command::new(binary)
            .args([
                "-h127.0.0.1",
                &format!("-P{port}"),
                "-uroot",
                "--batch",
                "-e",
                sql,
            ])
            .kill_on_drop(true)
            .output()
    };
    let output = tokio::time::timeout(Duration::from_secs(20), run("select 1")).await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success() && stdout == "1\n1\n",
        "mysql -e 'select 1': status {}, stdout {stdout:?}, stderr {:?}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );

    let output = tokio::time::timeout(
        Duration::from_secs(20),
        run("select @@version_comment limit 1"),
    )
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        stdout.contains("Cairn test server"),
        "version comment: {stdout:?} {:?}",
        String::from_utf8_lossy(&output.stderr)
    );

    // `use` in the client sends COM_INIT_DB.
    let output = tokio::time::timeout(Duration::from_secs(20), run("use sales; select database()"))
        .await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        stdout.contains("sales"),
        "after use: {stdout:?} {:?}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = tokio::time::timeout(Duration::from_secs(20), run("error")).await??;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        !output.status.success() && stderr.contains("ERROR 1064 (42000)"),
        "error statement: {stderr:?}"
    );
    Ok(())
}

/// A raw client for the corners drivers do not reach.
struct RawClient {
    stream: TcpStream,
    scramble: [u8; 20],
    sequence: u8,
}

const CLIENT_PROTOCOL_41: u32 = 1 << 9;
const CLIENT_CONNECT_WITH_DB: u32 = 1 << 3;
const CLIENT_SECURE_CONNECTION: u32 = 1 << 15;
const CLIENT_PLUGIN_AUTH: u32 = 1 << 19;
const CLIENT_DEPRECATE_EOF: u32 = 1 << 24;

impl RawClient {
    async fn connect(port: u16) -> Result<RawClient> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let mut client = RawClient {
            stream,
            scramble: [0; 20],
            sequence: 0,
        };
        let handshake = client.read().await?;
        ensure!(
            handshake.first() == Some(&10),
            "not a v10 handshake: {handshake:?}"
        );
        let version_end = handshake.iter().position(|byte| *byte == 0).unwrap_or(0);
        let part1 = version_end + 1 + 4;
        client.scramble[..8].copy_from_slice(&handshake[part1..part1 + 8]);
        let part2 = part1 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
        client.scramble[8..].copy_from_slice(&handshake[part2..part2 + 12]);
        Ok(client)
    }

    async fn read(&mut self) -> Result<Vec<u8>> {
        let mut header = [0u8; 4];
        self.stream.read_exact(&mut header).await?;
        let length =
            usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
        self.sequence = header[3].wrapping_add(1);
        let mut payload = vec![0; length];
        self.stream.read_exact(&mut payload).await?;
        Ok(payload)
    }

    async fn write(&mut self, payload: &[u8]) -> Result<()> {
        let length = payload.len() as u32;
        let mut packet = length.to_le_bytes()[..3].to_vec();
        packet.push(self.sequence);
        packet.extend_from_slice(payload);
        self.stream.write_all(&packet).await?;
        self.sequence = self.sequence.wrapping_add(1);
        Ok(())
    }

    async fn command(&mut self, payload: &[u8]) -> Result<Vec<u8>> {
        self.sequence = 0;
        self.write(payload).await?;
        self.read().await
    }

    async fn login(
        &mut self,
        capabilities: u32,
        user: &str,
        auth: &[u8],
        database: Option<&str>,
        plugin: &str,
    ) -> Result<Vec<u8>> {
        let mut payload = capabilities.to_le_bytes().to_vec();
        payload.extend_from_slice(&(1u32 << 24).to_le_bytes());
        payload.push(33);
        payload.extend_from_slice(&[0; 23]);
        payload.extend_from_slice(user.as_bytes());
        payload.push(0);
        payload.push(auth.len() as u8);
        payload.extend_from_slice(auth);
        if let Some(database) = database {
            payload.extend_from_slice(database.as_bytes());
            payload.push(0);
        }
        payload.extend_from_slice(plugin.as_bytes());
        payload.push(0);
        self.write(&payload).await?;
        self.read().await
    }
}

/// What a client computes for mysql_native_password.
fn native_answer(scramble: &[u8; 20], password: &str) -> Vec<u8> {
    use sha1::{Digest, Sha1};
    let stage1: [u8; 20] = Sha1::digest(password.as_bytes()).into();
    let stage2: [u8; 20] = Sha1::digest(stage1).into();
    let mut hasher = Sha1::new();
    hasher.update(scramble);
    hasher.update(stage2);
    let mask: [u8; 20] = hasher.finalize().into();
    stage1
        .iter()
        .zip(mask.iter())
        .map(|(left, right)| left ^ right)
        .collect()
}

#[tokio::test]
async fn auth_switch_init_db_field_list_and_unknown_commands() -> Result<()> {
    let port = start_default_server().await?;
    let mut client = RawClient::connect(port).await?;
    let capabilities =
        CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_WITH_DB;
    // A MySQL 8 client answering for caching_sha2_password is switched to native.
    let reply = client
        .login(
            capabilities,
            "alice",
            &[1; 32],
            Some("sales"),
            "caching_sha2_password",
        )
        .await?;
    ensure!(
        reply.first() == Some(&0xFE),
        "expected auth switch, got {reply:?}"
    );
    let plugin_end = reply
        .iter()
        .skip(1)
        .position(|byte| *byte == 0)
        .unwrap_or(0)
        + 1;
    ensure!(
        &reply[1..plugin_end] == b"mysql_native_password",
        "switch plugin {reply:?}"
    );
    ensure!(
        reply[plugin_end + 1..plugin_end + 21] == client.scramble,
        "switch scramble differs"
    );
    let scramble = client.scramble;
    client.write(&native_answer(&scramble, "secret")).await?;
    let ok = client.read().await?;
    ensure!(ok.first() == Some(&0x00), "login after switch: {ok:?}");

    // COM_INIT_DB, good and bad.
    let reply = client.command(b"\x02warehouse").await?;
    ensure!(reply.first() == Some(&0x00), "init db: {reply:?}");
    let reply = client.command(b"\x02missing").await?;
    ensure!(
        reply.first() == Some(&0xFF) && reply[1..3] == 1049u16.to_le_bytes(),
        "bad init db: {reply:?}"
    );

    // Unknown command: 1047, then the connection still answers.
    let reply = client.command(&[0x09]).await?;
    ensure!(
        reply.first() == Some(&0xFF) && reply[1..3] == 1047u16.to_le_bytes(),
        "unknown command: {reply:?}"
    );
    ensure!(
        &reply[3..9] == b"#08S01",
        "unknown command state: {reply:?}"
    );
    let reply = client.command(&[0x0E]).await?;
    ensure!(reply == vec![0, 0, 0, 2, 0, 0, 0], "ping: {reply:?}");

    // A malformed execute is an error for that command only.
    let reply = client.command(&[0x17, 1]).await?;
    ensure!(reply.first() == Some(&0xFF), "malformed execute: {reply:?}");
    let reply = client.command(b"\x03select database()").await?;
    ensure!(reply == vec![1], "column count: {reply:?}");
    let _definition = client.read().await?;
    let eof = client.read().await?;
    ensure!(
        eof.first() == Some(&0xFE) && eof.len() == 5,
        "EOF without DEPRECATE_EOF: {eof:?}"
    );
    let row = client.read().await?;
    ensure!(row == b"\x09warehouse", "row: {row:?}");
    let eof = client.read().await?;
    ensure!(
        eof.first() == Some(&0xFE) && eof.len() == 5,
        "final EOF: {eof:?}"
    );

    // COM_FIELD_LIST: definitions and an EOF.
    let definition = client.command(b"\x04orders\0").await?;
    ensure!(
        definition.starts_with(b"\x03def"),
        "field definition: {definition:?}"
    );
    let eof = client.read().await?;
    ensure!(eof.first() == Some(&0xFE), "field list end: {eof:?}");

    // COM_SET_OPTION and COM_STMT_CLOSE of an unknown statement (no reply), then quit.
    let reply = client.command(&[0x1B, 0, 0]).await?;
    ensure!(reply.first() == Some(&0x00), "set option: {reply:?}");
    client.sequence = 0;
    client.write(&[0x19, 9, 9, 9, 9]).await?;
    let reply = client.command(&[0x0E]).await?;
    ensure!(
        reply.first() == Some(&0x00),
        "ping after stmt close: {reply:?}"
    );
    client.sequence = 0;
    client.write(&[0x01]).await?;
    let mut rest = Vec::new();
    client.stream.read_to_end(&mut rest).await?;
    ensure!(rest.is_empty(), "data after quit: {rest:?}");

    // With CLIENT_DEPRECATE_EOF there is no EOF after columns and an OK-as-EOF at the end.
    let mut client = RawClient::connect(port).await?;
    let reply = client
        .login(
            capabilities | CLIENT_DEPRECATE_EOF,
            "root",
            &[],
            None,
            "mysql_native_password",
        )
        .await?;
    ensure!(reply.first() == Some(&0x00), "root login: {reply:?}");
    let reply = client.command(b"\x03select 1").await?;
    ensure!(reply == vec![1], "column count: {reply:?}");
    let _definition = client.read().await?;
    let row = client.read().await?;
    ensure!(row == b"\x011", "row right after the definition: {row:?}");
    let end = client.read().await?;
    ensure!(end == vec![0xFE, 0, 0, 2, 0, 0, 0], "OK-as-EOF: {end:?}");

    // Garbage instead of a handshake response closes only that connection.
    let mut client = RawClient::connect(port).await?;
    client.write(b"\x01\x02").await?;
    let reply = client.read().await?;
    ensure!(reply.first() == Some(&0xFF), "garbage login: {reply:?}");
    Ok(())
}
