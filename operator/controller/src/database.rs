//! The operator's client of the FE: MySQL protocol to the FE Service on port 9030, the way any
//! client connects. It registers backends, runs Routine Load jobs and creates the read-only
//! Grafana user. Statements are built by pure functions (tested below); [`MysqlConnector`]
//! executes them. The [`Database`] trait lets the controller be tested without an FE.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mysql_async::prelude::Queryable;

use crate::validate::{GRAFANA_USER, ValidatedKafkaJob};
use cairn_operator_types::IngestFormat;

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("failed to connect to the FE at {address}")]
    Connect {
        address: String,
        #[source]
        source: mysql_async::Error,
    },
    #[error("timed out connecting to the FE at {address}")]
    ConnectTimeout { address: String },
    #[error("the FE rejected statement {statement:?}")]
    Statement {
        statement: String,
        #[source]
        source: mysql_async::Error,
    },
    #[error("failed to read column {column:?} of {statement:?}")]
    Column { statement: String, column: String },
}

impl DatabaseError {
    /// The FE answered and refused (an error packet), as opposed to not answering: the
    /// statement, not the connection, needs attention.
    pub fn is_rejection(&self) -> bool {
        matches!(self, DatabaseError::Statement { source: mysql_async::Error::Server(_), .. } | DatabaseError::Column { .. })
    }
}

/// A backend as `SHOW BACKENDS` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    pub host: String,
    pub heartbeat_port: u16,
    pub alive: bool,
    pub decommissioned: bool,
    pub tablets: i64,
}

/// A Routine Load job as `SHOW ROUTINE LOAD` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutineLoad {
    pub name: String,
    pub database: String,
    pub state: String,
    pub reason: Option<String>,
}

/// What the controller asks of the FE.
#[async_trait]
pub trait Database: Send + Sync {
    async fn show_backends(&self) -> Result<Vec<Backend>, DatabaseError>;
    async fn show_routine_loads(&self, database: &str) -> Result<Vec<RoutineLoad>, DatabaseError>;
    async fn execute(&self, statement: &str) -> Result<(), DatabaseError>;
}

/// Opens [`Database`] sessions; one per reconcile.
#[async_trait]
pub trait Connector: Send + Sync {
    async fn connect(&self, host: &str, port: u16, password: &str) -> Result<Box<dyn Database>, DatabaseError>;
}

/// The real connector over `mysql_async`.
#[derive(Clone, Debug)]
pub struct MysqlConnector {
    pub connect_timeout: Duration,
    /// Replaces the FE Service host, for running the operator outside the cluster
    /// (`--fe-address-override`): `host:port`.
    pub address_override: Option<String>,
    /// One pool per FE address and password, kept across reconciles so a steady reconcile
    /// reuses an open connection instead of a TCP connect and a MySQL handshake.
    pub pools: Arc<Mutex<HashMap<(String, u16, String), mysql_async::Pool>>>,
}

impl MysqlConnector {
    pub fn new(connect_timeout: Duration, address_override: Option<String>) -> MysqlConnector {
        MysqlConnector { connect_timeout, address_override, pools: Arc::default() }
    }
}

struct MysqlDatabase {
    pool: mysql_async::Pool,
}

#[async_trait]
impl Connector for MysqlConnector {
    async fn connect(&self, host: &str, port: u16, password: &str) -> Result<Box<dyn Database>, DatabaseError> {
        let (host, port) = match self.address_override.as_deref().and_then(|text| text.rsplit_once(':')) {
            Some((host, port)) => (host.to_owned(), port.parse().unwrap_or_else(|_| port_default(port))),
            None => (host.to_owned(), port),
        };
        let address = format!("{host}:{port}");
        let options = |password: Option<String>| {
            mysql_async::OptsBuilder::default()
                .ip_or_hostname(host.clone())
                .tcp_port(port)
                .user(Some("root"))
                .pass(password)
                .prefer_socket(false)
        };
        let key = (host.clone(), port, password.to_owned());
        let cached = self.pools.lock().ok().and_then(|pools| pools.get(&key).cloned());
        if let Some(pool) = cached {
            match tokio::time::timeout(self.connect_timeout, pool.get_conn()).await {
                Ok(Ok(connection)) => {
                    drop(connection);
                    return Ok(Box::new(MysqlDatabase { pool }));
                }
                // A dead or refused pool is forgotten; the fresh attempts below say why.
                _ => {
                    if let Ok(mut pools) = self.pools.lock() {
                        pools.remove(&key);
                    }
                }
            }
        }
        // A fresh FE has an empty root password until the operator sets it.
        for attempt in [Some(password.to_owned()), None] {
            let pool = mysql_async::Pool::new(options(attempt.clone()));
            let connection = tokio::time::timeout(self.connect_timeout, pool.get_conn()).await;
            match connection {
                Err(_) => return Err(DatabaseError::ConnectTimeout { address }),
                Ok(Ok(mut connection)) => {
                    if attempt.is_none() {
                        let statement = set_root_password_statement(password);
                        connection
                            .query_drop(&statement)
                            .await
                            .map_err(|source| DatabaseError::Statement { statement: "SET PASSWORD".into(), source })?;
                        drop(connection);
                        let pool = mysql_async::Pool::new(options(Some(password.to_owned())));
                        self.remember(key, &pool);
                        return Ok(Box::new(MysqlDatabase { pool }));
                    }
                    drop(connection);
                    self.remember(key, &pool);
                    return Ok(Box::new(MysqlDatabase { pool }));
                }
                Ok(Err(mysql_async::Error::Server(server))) if server.code == 1045 && attempt.is_some() => continue,
                Ok(Err(source)) => return Err(DatabaseError::Connect { address, source }),
            }
        }
        Err(DatabaseError::ConnectTimeout { address })
    }
}

impl MysqlConnector {
    fn remember(&self, key: (String, u16, String), pool: &mysql_async::Pool) {
        if let Ok(mut pools) = self.pools.lock() {
            pools.insert(key, pool.clone());
        }
    }
}

fn port_default(text: &str) -> u16 {
    tracing::warn!(port = text, "unparsable port in --fe-address-override; using 9030");
    9030
}

impl MysqlDatabase {
    async fn connection(&self) -> Result<mysql_async::Conn, DatabaseError> {
        // Failing to get a connection is not the FE refusing the statement.
        self.pool.get_conn().await.map_err(|source| DatabaseError::Connect { address: "the FE".to_owned(), source })
    }

    async fn query_rows(&self, statement: &str) -> Result<Vec<mysql_async::Row>, DatabaseError> {
        let mut connection = self.connection().await?;
        connection
            .query(statement)
            .await
            .map_err(|source| DatabaseError::Statement { statement: statement.to_owned(), source })
    }
}

fn column(row: &mysql_async::Row, name: &str, statement: &str) -> Result<String, DatabaseError> {
    let index = row
        .columns_ref()
        .iter()
        .position(|column| column.name_str().eq_ignore_ascii_case(name))
        .ok_or_else(|| DatabaseError::Column { statement: statement.to_owned(), column: name.to_owned() })?;
    let value: Option<mysql_async::Value> = row.as_ref(index).cloned();
    Ok(match value {
        Some(mysql_async::Value::Bytes(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Some(mysql_async::Value::Int(number)) => number.to_string(),
        Some(mysql_async::Value::UInt(number)) => number.to_string(),
        _ => String::new(),
    })
}

#[async_trait]
impl Database for MysqlDatabase {
    async fn show_backends(&self) -> Result<Vec<Backend>, DatabaseError> {
        let statement = "SHOW BACKENDS";
        let rows = self.query_rows(statement).await?;
        let mut backends = Vec::new();
        for row in rows {
            backends.push(Backend {
                host: column(&row, "IP", statement)?,
                heartbeat_port: column(&row, "HeartbeatPort", statement)?.parse().unwrap_or(9050),
                alive: column(&row, "Alive", statement)?.eq_ignore_ascii_case("true"),
                decommissioned: column(&row, "SystemDecommissioned", statement)?.eq_ignore_ascii_case("true"),
                // An unreadable count must not read as "empty": scale-in trusts it.
                tablets: column(&row, "TabletNum", statement)?
                    .parse()
                    .map_err(|_| DatabaseError::Column { statement: statement.to_owned(), column: "TabletNum".to_owned() })?,
            });
        }
        Ok(backends)
    }

    async fn show_routine_loads(&self, database: &str) -> Result<Vec<RoutineLoad>, DatabaseError> {
        let statement = format!("SHOW ALL ROUTINE LOAD FROM {}", quote_identifier(database));
        let rows = match self.query_rows(&statement).await {
            // A database that does not exist (yet) has no jobs; creating one says why it fails.
            Err(DatabaseError::Statement { source: mysql_async::Error::Server(error), .. }) if error.code == 1049 => Vec::new(),
            rows => rows?,
        };
        let mut jobs = Vec::new();
        for row in rows {
            let reason = column(&row, "ReasonOfStateChanged", &statement).unwrap_or_default();
            jobs.push(RoutineLoad {
                name: column(&row, "Name", &statement)?,
                database: database.to_owned(),
                state: column(&row, "State", &statement)?,
                reason: (!reason.is_empty()).then_some(reason),
            });
        }
        Ok(jobs)
    }

    async fn execute(&self, statement: &str) -> Result<(), DatabaseError> {
        let mut connection = self.connection().await?;
        connection
            .query_drop(statement)
            .await
            .map_err(|source| DatabaseError::Statement { statement: redact(statement), source })
    }
}

/// Keeps passwords out of error messages and logs.
fn redact(statement: &str) -> String {
    if statement.contains("PASSWORD") || statement.contains("IDENTIFIED BY") || statement.contains("sasl.password") {
        statement.split_whitespace().take(3).collect::<Vec<_>>().join(" ") + " ..."
    } else {
        statement.to_owned()
    }
}

/// Backquotes an identifier.
pub fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Double-quotes a string literal with MySQL escapes.
pub fn quote_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\0' => quoted.push_str("\\0"),
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

pub fn set_root_password_statement(password: &str) -> String {
    format!("SET PASSWORD FOR 'root' = PASSWORD({})", quote_string(password))
}

pub fn add_backend_statement(host: &str, heartbeat_port: u16) -> String {
    format!("ALTER SYSTEM ADD BACKEND {}", quote_string(&format!("{host}:{heartbeat_port}")))
}

pub fn decommission_backend_statement(host: &str, heartbeat_port: u16) -> String {
    format!("ALTER SYSTEM DECOMMISSION BACKEND {}", quote_string(&format!("{host}:{heartbeat_port}")))
}

pub fn drop_backend_statement(host: &str, heartbeat_port: u16) -> String {
    format!("ALTER SYSTEM DROP BACKEND {}", quote_string(&format!("{host}:{heartbeat_port}")))
}

/// Creates (or re-creates) the read-only Grafana user: SELECT on everything, nothing else.
pub fn grafana_user_statements(password: &str) -> Vec<String> {
    vec![
        format!("CREATE USER IF NOT EXISTS '{GRAFANA_USER}'@'%' IDENTIFIED BY {}", quote_string(password)),
        format!("ALTER USER '{GRAFANA_USER}'@'%' IDENTIFIED BY {}", quote_string(password)),
        format!("GRANT SELECT ON *.* TO '{GRAFANA_USER}'@'%'"),
    ]
}

pub fn drop_grafana_user_statement() -> String {
    format!("DROP USER IF EXISTS '{GRAFANA_USER}'@'%'")
}

fn properties_clause(properties: &BTreeMap<String, String>) -> String {
    properties
        .iter()
        .map(|(key, value)| format!("{} = {}", quote_string(key), quote_string(value)))
        .collect::<Vec<_>>()
        .join(",\n    ")
}

/// The Routine Load job properties of a job, with the format-specific ones.
fn job_properties(job: &ValidatedKafkaJob) -> BTreeMap<String, String> {
    let mut properties = job.properties.clone();
    if job.format == IngestFormat::Json {
        properties.insert("format".to_owned(), "json".to_owned());
        if !job.jsonpaths.is_empty() {
            let paths = serde_json::to_string(&job.jsonpaths).unwrap_or_default();
            properties.insert("jsonpaths".to_owned(), paths);
        }
    }
    properties
}

/// `CREATE ROUTINE LOAD db.job ON table ...` for one job.
pub fn create_routine_load_statement(job: &ValidatedKafkaJob) -> String {
    let mut clauses = Vec::new();
    if let Some(separator) = &job.column_separator {
        clauses.push(format!("COLUMNS TERMINATED BY {}", quote_string(separator)));
    }
    if !job.columns.is_empty() {
        clauses.push(format!("COLUMNS ({})", job.columns.join(", ")));
    }
    let mut source = BTreeMap::from([
        ("kafka_broker_list".to_owned(), job.brokers.clone()),
        ("kafka_topic".to_owned(), job.topic.clone()),
    ]);
    source.extend(job.kafka_properties.clone());
    let properties = job_properties(job);
    let mut statement = format!(
        "CREATE ROUTINE LOAD {}.{} ON {}",
        quote_identifier(&job.database),
        quote_identifier(&job.name),
        quote_identifier(&job.table)
    );
    if !clauses.is_empty() {
        statement.push_str(&format!("\n{}", clauses.join(",\n")));
    }
    if !properties.is_empty() {
        statement.push_str(&format!("\nPROPERTIES (\n    {}\n)", properties_clause(&properties)));
    }
    statement.push_str(&format!("\nFROM KAFKA (\n    {}\n)", properties_clause(&source)));
    statement
}

/// Stops a job for good (the FE keeps its record as STOPPED).
pub fn stop_routine_load_statement(database: &str, name: &str) -> String {
    format!("STOP ROUTINE LOAD FOR {}.{}", quote_identifier(database), quote_identifier(name))
}

/// The parts of a job ALTER ROUTINE LOAD can not change: its table, its source and format,
/// and which properties and clauses are set at all (ALTER sets values but can not unset
/// them). Jobs that differ only outside these are altered in place and keep their offsets.
pub fn job_identity_fingerprint(job: &ValidatedKafkaJob) -> String {
    let identity = serde_json::json!({
        "database": job.database,
        "table": job.table,
        "topic": job.topic,
        "brokers": job.brokers,
        "properties": job_properties(job).keys().collect::<Vec<_>>(),
        "kafka_properties": job.kafka_properties.keys().collect::<Vec<_>>(),
        "columns": !job.columns.is_empty(),
        "column_separator": job.column_separator.is_some(),
    });
    crate::build::config_hash(&identity.to_string())[..16].to_owned()
}

/// A stable fingerprint of what the FE was told about a job, stored in status so a changed job
/// is altered or re-created without keeping state elsewhere: `<identity>.<whole statement>`.
pub fn job_fingerprint(job: &ValidatedKafkaJob) -> String {
    format!(
        "{}.{}",
        job_identity_fingerprint(job),
        &crate::build::config_hash(&create_routine_load_statement(job))[..16]
    )
}

/// PAUSE, ALTER and RESUME of a running job whose identity is unchanged: the new columns,
/// separator, properties and `property.*` apply from its current offsets on.
pub fn alter_routine_load_statements(job: &ValidatedKafkaJob) -> Vec<String> {
    let target = format!("{}.{}", quote_identifier(&job.database), quote_identifier(&job.name));
    let mut alter = format!("ALTER ROUTINE LOAD FOR {target}");
    let mut clauses = Vec::new();
    if let Some(separator) = &job.column_separator {
        clauses.push(format!("COLUMNS TERMINATED BY {}", quote_string(separator)));
    }
    if !job.columns.is_empty() {
        clauses.push(format!("COLUMNS ({})", job.columns.join(", ")));
    }
    if !clauses.is_empty() {
        alter.push_str(&format!("\n{}", clauses.join(",\n")));
    }
    let mut properties = job_properties(job);
    // The format is part of the identity; StarRocks refuses to alter it.
    properties.remove("format");
    if !properties.is_empty() {
        alter.push_str(&format!("\nPROPERTIES (\n    {}\n)", properties_clause(&properties)));
    }
    if !job.kafka_properties.is_empty() {
        alter.push_str(&format!("\nFROM KAFKA (\n    {}\n)", properties_clause(&job.kafka_properties)));
    }
    vec![format!("PAUSE ROUTINE LOAD FOR {target}"), alter, format!("RESUME ROUTINE LOAD FOR {target}")]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::tests::{FULL_SPEC, sample_cluster, sample_dereferenced};
    use crate::validate::validate;

    #[test]
    fn routine_load_statements() -> anyhow::Result<()> {
        let cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        insta::assert_snapshot!("clicks_routine_load", create_routine_load_statement(&cluster.kafka_jobs[0]));
        assert_eq!(
            create_routine_load_statement(&cluster.kafka_jobs[1]),
            "CREATE ROUTINE LOAD `shop`.`orders` ON `orders`\nCOLUMNS TERMINATED BY \",\"\n\
             FROM KAFKA (\n    \"kafka_broker_list\" = \"kafka-0:9092,kafka-1:9092\",\n    \"kafka_topic\" = \"orders\"\n)"
        );
        assert_eq!(stop_routine_load_statement("shop", "orders"), "STOP ROUTINE LOAD FOR `shop`.`orders`");
        Ok(())
    }

    #[test]
    fn a_changed_property_keeps_the_identity_and_is_altered() -> anyhow::Result<()> {
        let cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        let job = cluster.kafka_jobs[0].clone();
        let mut changed = job.clone();
        changed.properties.insert("desired_concurrent_number".to_owned(), "3".to_owned());
        assert_eq!(job_identity_fingerprint(&job), job_identity_fingerprint(&changed));
        assert_ne!(job_fingerprint(&job), job_fingerprint(&changed));
        let statements = alter_routine_load_statements(&changed);
        assert_eq!(statements[0], "PAUSE ROUTINE LOAD FOR `web`.`clicks`");
        assert!(statements[1].starts_with("ALTER ROUTINE LOAD FOR `web`.`clicks`\nCOLUMNS (ts, user_id, url)\nPROPERTIES ("), "{}", statements[1]);
        assert!(statements[1].contains("\"desired_concurrent_number\" = \"3\""), "{}", statements[1]);
        assert!(!statements[1].contains("\"format\""), "{}", statements[1]);
        assert!(statements[1].contains("FROM KAFKA (\n    \"property.sasl.mechanism\""), "{}", statements[1]);
        assert_eq!(statements[2], "RESUME ROUTINE LOAD FOR `web`.`clicks`");

        let mut moved = job.clone();
        moved.topic = "other".to_owned();
        assert_ne!(job_identity_fingerprint(&job), job_identity_fingerprint(&moved));
        let mut unset = job.clone();
        unset.properties.remove("desired_concurrent_number");
        assert_ne!(job_identity_fingerprint(&job), job_identity_fingerprint(&unset), "ALTER can not unset a property");
        Ok(())
    }

    #[test]
    fn backend_statements_and_quoting() {
        assert_eq!(
            add_backend_statement("demo-be-0.demo-be-search.ns.svc.cluster.local", 9050),
            "ALTER SYSTEM ADD BACKEND \"demo-be-0.demo-be-search.ns.svc.cluster.local:9050\""
        );
        assert_eq!(decommission_backend_statement("h", 9050), "ALTER SYSTEM DECOMMISSION BACKEND \"h:9050\"");
        assert_eq!(drop_backend_statement("h", 9050), "ALTER SYSTEM DROP BACKEND \"h:9050\"");
        assert_eq!(quote_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote_identifier("we`ird"), "`we``ird`");
        assert_eq!(
            grafana_user_statements("p")[0],
            "CREATE USER IF NOT EXISTS 'grafana_reader'@'%' IDENTIFIED BY \"p\""
        );
        assert_eq!(redact("SET PASSWORD FOR 'root' = PASSWORD(\"x\")"), "SET PASSWORD FOR ...");
    }
}
