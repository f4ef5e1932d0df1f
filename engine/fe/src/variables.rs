//! System variables (`@@version_comment`, `@@autocommit`, `@@time_zone`, ...) and user
//! variables (`@x`), as connectors read and set them at connect time.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DataFusionResult, ScalarValue};
use datafusion::error::DataFusionError;
use datafusion::variable::VarProvider;
use parking_lot::RwLock;

use cairn_common::ErrorCode;

use crate::error::FeError;
use crate::frontend::FrontendConfig;

/// What `@@version` and the handshake report. Connectors pick features by this number;
/// StarRocks 3 reports 8.0.33 as well.
pub const SERVER_VERSION: &str = "8.0.33";
pub const VERSION_COMMENT: &str = concat!("Cairn version ", env!("CARGO_PKG_VERSION"), " (StarRocks-compatible)");

/// StarRocks' default `broadcast_row_limit`: a join whose build side is estimated below this
/// many rows builds one hash table all partitions probe, instead of hash-partitioning both
/// sides.
pub const BROADCAST_ROW_LIMIT: i64 = 15_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableValue {
    Integer(i64),
    Text(String),
}

impl VariableValue {
    pub fn as_text(&self) -> String {
        match self {
            VariableValue::Integer(value) => value.to_string(),
            VariableValue::Text(value) => value.clone(),
        }
    }

    fn scalar(&self) -> ScalarValue {
        match self {
            VariableValue::Integer(value) => ScalarValue::Int64(Some(*value)),
            VariableValue::Text(value) => ScalarValue::Utf8(Some(value.clone())),
        }
    }
}

/// The variables every session starts with.
pub fn default_variables(config: &FrontendConfig) -> BTreeMap<String, VariableValue> {
    use VariableValue::{Integer, Text};
    let text = |value: &str| Text(value.to_string());
    let entries: Vec<(&str, VariableValue)> = vec![
        ("auto_increment_increment", Integer(1)),
        ("autocommit", Integer(1)),
        ("character_set_client", text("utf8mb4")),
        ("character_set_connection", text("utf8mb4")),
        ("character_set_database", text("utf8mb4")),
        ("character_set_results", text("utf8mb4")),
        ("character_set_server", text("utf8mb4")),
        ("collation_connection", text("utf8mb4_general_ci")),
        ("collation_database", text("utf8mb4_general_ci")),
        ("collation_server", text("utf8mb4_general_ci")),
        ("default_storage_engine", text("OLAP")),
        ("div_precision_increment", Integer(4)),
        ("event_scheduler", text("OFF")),
        ("have_query_cache", text("YES")),
        ("init_connect", text("")),
        ("interactive_timeout", Integer(3600)),
        ("language", text("/starrocks/share/english/")),
        ("license", text("Apache License 2.0")),
        ("lower_case_table_names", Integer(0)),
        ("max_allowed_packet", Integer(config.max_allowed_packet as i64)),
        ("max_execution_time", Integer(3_000_000)),
        ("net_buffer_length", Integer(16384)),
        ("net_read_timeout", Integer(60)),
        ("net_write_timeout", Integer(60)),
        ("performance_schema", Integer(0)),
        ("port", Integer(i64::from(config.query_port))),
        ("query_cache_size", Integer(1_048_576)),
        ("query_cache_type", text("OFF")),
        ("query_timeout", Integer(300)),
        ("sql_auto_is_null", Integer(0)),
        ("sql_mode", text("ONLY_FULL_GROUP_BY")),
        ("sql_safe_updates", Integer(0)),
        ("sql_select_limit", Integer(i64::MAX)),
        ("storage_engine", text("OLAP")),
        ("system_time_zone", text("UTC")),
        ("time_zone", text(&config.time_zone)),
        ("transaction_isolation", text("REPEATABLE-READ")),
        ("transaction_read_only", Integer(0)),
        ("tx_isolation", text("REPEATABLE-READ")),
        ("tx_read_only", Integer(0)),
        ("version", text(SERVER_VERSION)),
        ("version_comment", text(VERSION_COMMENT)),
        ("wait_timeout", Integer(28800)),
        ("warning_count", Integer(0)),
        ("error_count", Integer(0)),
        ("pipeline_dop", Integer(0)),
        // StarRocks' limit on the build side of a broadcast join, and its default.
        ("broadcast_row_limit", Integer(BROADCAST_ROW_LIMIT)),
        ("parallel_fragment_exec_instance_num", Integer(1)),
        ("enable_insert_strict", Integer(1)),
        ("query_mem_limit", Integer(0)),
        ("resource_group", text("")),
        ("hostname", text(&config.host)),
        ("server_id", Integer(1)),
        ("insert_timeout", Integer(14400)),
        // Read by connectors at connect time.
        ("max_connections", Integer(config.max_connections as i64)),
        // Empty: there is no Unix socket, so drivers that prefer one stay on TCP.
        ("socket", text("")),
        ("have_ssl", text("DISABLED")),
        ("have_openssl", text("DISABLED")),
        ("protocol_version", Integer(10)),
        ("version_compile_os", text("Linux")),
        ("version_compile_machine", text("x86_64")),
        ("default_authentication_plugin", text("mysql_native_password")),
        ("character_set_filesystem", text("binary")),
        ("character_set_system", text("utf8")),
        ("group_concat_max_len", Integer(1024)),
        ("lock_wait_timeout", Integer(31_536_000)),
        ("innodb_lock_wait_timeout", Integer(50)),
        ("long_query_time", Integer(10)),
        ("last_insert_id", Integer(0)),
        ("identity", Integer(0)),
        ("sql_notes", Integer(1)),
        ("sql_quote_show_create", Integer(1)),
        ("net_retry_count", Integer(10)),
        ("query_cache_limit", Integer(1_048_576)),
        ("max_join_size", Integer(i64::MAX)),
        ("thread_handling", text("one-thread-per-connection")),
        ("datadir", text("")),
        ("tmpdir", text("/tmp")),
        ("new_planner_optimize_timeout", Integer(3000)),
        ("cbo_enable_low_cardinality_optimize", Integer(1)),
    ];
    entries.into_iter().map(|(name, value)| (name.to_string(), value)).collect()
}

/// Switches SHOW VARIABLES prints as ON/OFF while `@@name` reads 1/0, as in MySQL.
const SWITCHES: [&str; 6] = [
    "autocommit",
    "sql_auto_is_null",
    "sql_safe_updates",
    "transaction_read_only",
    "tx_read_only",
    "performance_schema",
];

pub fn show_value(name: &str, value: &VariableValue) -> String {
    match value {
        VariableValue::Integer(number) if SWITCHES.contains(&name) => {
            if *number == 0 { "OFF" } else { "ON" }.to_string()
        }
        other => other.as_text(),
    }
}

/// `@@session.autocommit`, `@@GLOBAL.x`, `@@x` and `x` all name `x`.
pub fn variable_name(parts: &[String]) -> String {
    let joined = parts.join(".");
    let name = joined.trim_start_matches('@').to_lowercase();
    for scope in ["session.", "global.", "local."] {
        if let Some(rest) = name.strip_prefix(scope) {
            return rest.to_string();
        }
    }
    name
}

/// Checks a `time_zone` value the way MySQL accepts it: an offset, `SYSTEM`, or a zone name.
pub fn validate_time_zone(value: &str) -> Result<String, FeError> {
    let trimmed = value.trim();
    let bad = || {
        FeError::user(
            ErrorCode::new_code(1298, "HY000"),
            format!("Unknown or incorrect time zone: '{value}'"),
        )
    };
    if trimmed.eq_ignore_ascii_case("SYSTEM") || trimmed.eq_ignore_ascii_case("UTC") {
        return Ok(trimmed.to_uppercase());
    }
    if let Some(rest) = trimmed.strip_prefix('+').or_else(|| trimmed.strip_prefix('-')) {
        let (hours, minutes) = rest.split_once(':').ok_or_else(bad)?;
        let hours: u32 = hours.parse().map_err(|_| bad())?;
        let minutes: u32 = minutes.parse().map_err(|_| bad())?;
        if hours > 14 || minutes > 59 {
            return Err(bad());
        }
        return Ok(format!("{}{hours:02}:{minutes:02}", &trimmed[..1]));
    }
    trimmed.parse::<chrono_tz::Tz>().map(|_| trimmed.to_string()).map_err(|_| bad())
}

/// The zone DataFusion's `datafusion.execution.time_zone` understands.
pub fn datafusion_time_zone(value: &str) -> String {
    if value.eq_ignore_ascii_case("SYSTEM") || value.eq_ignore_ascii_case("UTC") {
        "+00:00".to_string()
    } else {
        value.to_string()
    }
}

/// One session's variables, shared with the planner through [`VarProvider`]s.
#[derive(Default)]
pub struct SessionVariables {
    pub system: BTreeMap<String, VariableValue>,
    pub user: BTreeMap<String, ScalarValue>,
}

pub type SharedVariables = Arc<RwLock<SessionVariables>>;

pub struct SystemVariables(pub SharedVariables);

impl fmt::Debug for SystemVariables {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("SystemVariables")
    }
}

impl VarProvider for SystemVariables {
    fn get_value(&self, var_names: Vec<String>) -> DataFusionResult<ScalarValue> {
        let name = variable_name(&var_names);
        self.0
            .read()
            .system
            .get(&name)
            .map(VariableValue::scalar)
            .ok_or_else(|| DataFusionError::Plan(format!("Unknown system variable '{name}'")))
    }

    fn get_type(&self, var_names: &[String]) -> Option<DataType> {
        let name = variable_name(var_names);
        self.0.read().system.get(&name).map(|value| value.scalar().data_type())
    }
}

pub struct UserVariables(pub SharedVariables);

impl fmt::Debug for UserVariables {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("UserVariables")
    }
}

impl VarProvider for UserVariables {
    fn get_value(&self, var_names: Vec<String>) -> DataFusionResult<ScalarValue> {
        let name = variable_name(&var_names);
        // An unset user variable is NULL in MySQL.
        Ok(self.0.read().user.get(&name).cloned().unwrap_or(ScalarValue::Utf8(None)))
    }

    fn get_type(&self, var_names: &[String]) -> Option<DataType> {
        let name = variable_name(var_names);
        Some(
            self.0
                .read()
                .user
                .get(&name)
                .map(ScalarValue::data_type)
                .unwrap_or(DataType::Utf8),
        )
    }
}
