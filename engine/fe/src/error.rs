//! FE errors, and their one mapping to what MySQL clients see.

use cairn_common::ErrorCode;
use cairn_mysql::ErrorPacket;
use datafusion::error::DataFusionError;

use crate::journal::JournalError;

#[derive(Debug, thiserror::Error)]
pub enum FeError {
    /// An error a user caused, with the MySQL code it maps to.
    #[error("{message}")]
    User { code: ErrorCode, message: String },
    #[error("{0}")]
    Query(#[from] DataFusionError),
    #[error("metadata journal failed: {0}")]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Backend(#[from] cairn_be::BackendError),
    /// The label names a committed or running transaction of the database; `state` is that
    /// transaction's: VISIBLE, COMMITTED or RUNNING.
    #[error("Label [{label}] has already been used, existing job state: {state}")]
    LabelAlreadyExists { label: String, state: &'static str },
    /// Committed and durable, but publishing failed: StarRocks' "Publish Timeout".
    #[error("{0}")]
    PublishTimeout(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl FeError {
    pub fn user(code: ErrorCode, message: impl Into<String>) -> Self {
        FeError::User {
            code,
            message: message.into(),
        }
    }

    /// StarRocks' analysis error: code 1064, SQLSTATE HY000.
    pub fn analysis(message: impl Into<String>) -> Self {
        Self::user(ErrorCode::ANALYSIS, message)
    }

    pub fn not_supported(what: impl std::fmt::Display) -> Self {
        Self::user(ErrorCode::NOT_SUPPORTED, format!("{what} is not supported yet"))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        FeError::Internal(message.into())
    }

    pub fn unknown_database(name: &str) -> Self {
        Self::user(ErrorCode::BAD_DATABASE, format!("Unknown database '{name}'"))
    }

    pub fn unknown_table(database: &str, table: &str) -> Self {
        Self::user(ErrorCode::NO_SUCH_TABLE, format!("Table '{database}.{table}' doesn't exist"))
    }

    pub fn no_database_selected() -> Self {
        Self::user(ErrorCode::NO_DATABASE_SELECTED, "No database selected")
    }

    /// The code and message a MySQL client receives.
    pub fn to_packet(&self) -> ErrorPacket {
        let (code, message) = match self {
            FeError::User { code, message } => (*code, message.clone()),
            FeError::Query(error) => map_datafusion_error(error),
            FeError::LabelAlreadyExists { .. } => (ErrorCode::LABEL_ALREADY_EXISTS, self.to_string()),
            FeError::Journal(_) | FeError::Backend(_) | FeError::Internal(_) | FeError::PublishTimeout(_) => {
                (ErrorCode::INTERNAL, self.to_string())
            }
        };
        ErrorPacket {
            code: code.code,
            sql_state: code.sql_state.to_string(),
            message,
        }
    }
}

fn quoted_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let start = text.find(marker)? + marker.len();
    let rest = &text[start..];
    let end = rest.find(['\'', '"'])?;
    Some(&rest[..end])
}

/// The MySQL code of a parse error: most are syntax errors, a few name a schema problem.
pub fn parse_error(error: &cairn_sql::ParseError) -> FeError {
    let message = error.to_string();
    let code = if message.starts_with("Duplicate column name") {
        ErrorCode::DUPLICATE_FIELD_NAME
    } else if message.starts_with("Query was empty") {
        ErrorCode::EMPTY_QUERY
    } else {
        ErrorCode::PARSE
    };
    FeError::user(code, message)
}

/// DataFusion's text for something it does not implement. Most of its texts already say so
/// in a sentence ("Multiple recursive references to the same CTE are not supported",
/// "Unsupported SQL type ..."), which a suffix would double; a bare name gets one.
fn not_supported_message(message: &str) -> String {
    // "Unsupported ast node TableFunction { expr: Function(...), alias: None }": the Debug
    // dump of the parsed statement (over 500 characters for StarRocks'
    // `FROM TABLE(generate_series(1, 10))`) says less to a client than the node's name.
    if let Some(node) = message.strip_prefix("Unsupported ast node ") {
        let name: String = node.chars().take_while(char::is_ascii_alphanumeric).collect();
        if !name.is_empty() {
            return format!("Unsupported SQL construct {name}");
        }
    }
    let lowered = message.to_ascii_lowercase();
    if lowered.contains("support") || lowered.contains("implement") {
        message.to_string()
    } else {
        format!("{message} is not supported yet")
    }
}

/// Maps DataFusion's errors to the MySQL codes clients switch on.
fn map_datafusion_error(error: &DataFusionError) -> (ErrorCode, String) {
    let root = error.find_root();
    match root {
        DataFusionError::SQL(parser_error, _) => (
            ErrorCode::PARSE,
            format!("You have an error in your SQL syntax: {parser_error}"),
        ),
        DataFusionError::SchemaError(schema_error, _) => match schema_error.as_ref() {
            datafusion::common::SchemaError::FieldNotFound { field, .. } => (
                ErrorCode::BAD_FIELD,
                format!("Unknown column '{}' in 'field list'", field.name),
            ),
            other => (ErrorCode::ANALYSIS, other.to_string()),
        },
        DataFusionError::Plan(message) if message.contains("has no type information") => {
            let name = quoted_after(message, "[\"").map(|name| name.trim_start_matches('@').to_string());
            let name = name.unwrap_or_else(|| message.clone());
            (ErrorCode::UNKNOWN_SYSTEM_VARIABLE, format!("Unknown system variable '{name}'"))
        }
        DataFusionError::Plan(message) => {
            if let Some(name) = quoted_after(message, "table '") {
                // DataFusion names the table `catalog.database.table`.
                let parts: Vec<&str> = name.split('.').collect();
                let shown = match parts.as_slice() {
                    [_, database, table] => format!("{database}.{table}"),
                    _ => name.to_string(),
                };
                if message.contains("not found") {
                    return (ErrorCode::NO_SUCH_TABLE, format!("Table '{shown}' doesn't exist"));
                }
            }
            (ErrorCode::ANALYSIS, message.clone())
        }
        DataFusionError::ArrowError(arrow_error, _) => {
            let text = arrow_error.to_string();
            if text.contains("Divide by zero") {
                (ErrorCode::DIVISION_BY_ZERO, "Division by 0".to_string())
            } else if text.contains("Cast error") || text.contains("Parser error") {
                // A value of the wrong kind: 1292 for dates and times, 1366 for the rest.
                if text.contains("Date") || text.contains("Timestamp") || text.contains("Time") {
                    (ErrorCode::TRUNCATED_WRONG_VALUE, format!("Incorrect datetime value: {text}"))
                } else {
                    (ErrorCode::TRUNCATED_WRONG_VALUE_FOR_FIELD, format!("Incorrect value: {text}"))
                }
            } else if text.contains("overflow") {
                (ErrorCode::WARN_DATA_OUT_OF_RANGE, text)
            } else {
                (ErrorCode::INTERNAL, text)
            }
        }
        DataFusionError::NotImplemented(message) => (ErrorCode::NOT_SUPPORTED, not_supported_message(message)),
        DataFusionError::Execution(message) if message.contains("Cancelled") => {
            (ErrorCode::QUERY_INTERRUPTED, "Query execution was interrupted".to_string())
        }
        other => (ErrorCode::ANALYSIS, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sentence of DataFusion's that says it does not support something is kept as it is;
    /// a bare name is made one, and a dump of the parsed statement is cut to its node's name.
    #[test]
    fn not_implemented_reads_as_one_sentence() {
        let cases = [
            (
                "Multiple recursive references to the same CTE are not supported",
                "Multiple recursive references to the same CTE are not supported",
            ),
            ("Unsupported SQL type Interval", "Unsupported SQL type Interval"),
            ("Physical plan does not support logical expression Wildcard", "Physical plan does not support logical expression Wildcard"),
            ("Not implemented: GROUPS frames", "Not implemented: GROUPS frames"),
            ("NATURAL JOIN", "NATURAL JOIN is not supported yet"),
            (
                "Unsupported ast node TableFunction { expr: Function(Function { name: ObjectName([Identifier(Ident { value: \"generate_series\" })]) }), alias: None }",
                "Unsupported SQL construct TableFunction",
            ),
        ];
        for (message, expected) in cases {
            let (code, text) = map_datafusion_error(&DataFusionError::NotImplemented(message.to_string()));
            assert_eq!(code, ErrorCode::NOT_SUPPORTED, "{message}");
            assert_eq!(text, expected);
        }
    }
}
