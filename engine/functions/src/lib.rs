//! MySQL and StarRocks SQL dialect support on top of DataFusion: the scalar
//! functions dashboards and StarRocks users call, and AST rewrites for syntax
//! DataFusion's planner does not accept.
//!
//! Entry points:
//! - [`register_functions`] registers every function on a `SessionContext` once.
//! - [`rewrite_statement`] rewrites one parsed statement (sqlparser MySQL dialect)
//!   before `SessionState::statement_to_plan`, using per-session [`SessionSettings`].
//! - [`set_session_time_zone`] stores the session's `time_zone` in DataFusion's
//!   `datafusion.execution.time_zone`, which the time zone dependent functions read
//!   at execution (DataFusion 55 passes `ConfigOptions` to every function call and to
//!   constant folding, so no extra argument is injected).
//! - [`execute_sql`] / [`plan_sql`]: parse, rewrite and plan or run one statement;
//!   used by the tests and usable by the FE.
//!
//! StarRocks types map to Arrow as DATETIME = `Timestamp(Microsecond, None)` (a wall
//! clock in no particular zone) and DATE = `Date32`.

mod arithmetic;
mod control;
mod datetime;
mod format;
mod rewrite;
mod session;
mod string;
mod temporal;
mod udf;
mod zone;

#[cfg(test)]
mod tests;

use datafusion::prelude::SessionContext;

pub use rewrite::rewrite_statement;
pub use session::{QueryError, execute_sql, plan_sql};

/// What `VERSION()` and `@@version` report: MySQL 8 compatible, so clients and
/// Grafana enable their MySQL 8 code paths.
pub const MYSQL_VERSION: &str = "8.0.33-cairn";

/// Per-session settings the functions and rewrites need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// MySQL `time_zone`: `+00:00`, `Asia/Shanghai`, or `SYSTEM` (UTC in Cairn).
    pub time_zone: String,
    /// `USE db`; `DATABASE()` is NULL without one.
    pub current_database: Option<String>,
    /// The authenticated user name, without host.
    pub current_user: String,
    /// `CONNECTION_ID()`.
    pub connection_id: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            time_zone: "SYSTEM".to_string(),
            current_database: None,
            current_user: "root".to_string(),
            connection_id: 0,
        }
    }
}

/// Why a statement could not be rewritten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    /// MySQL error 1582 wording.
    #[error("Incorrect parameter count in the call to native function '{0}'")]
    WrongArgumentCount(String),
    #[error("unsupported MySQL syntax: {0}")]
    Unsupported(String),
    /// MySQL error 1298 wording.
    #[error("Unknown or incorrect time zone: '{0}'")]
    UnknownTimeZone(String),
}

/// Registers every MySQL/StarRocks function on `context`, replacing DataFusion's
/// functions of the same name where the semantics differ (`now`, `current_date`,
/// `date_format`, `from_unixtime`, `to_date`, `length`, ...).
pub fn register_functions(context: &SessionContext) {
    string::register_aliases(context);
    let functions = datetime::functions()
        .into_iter()
        .chain(arithmetic::functions())
        .chain(control::functions())
        .chain(string::functions());
    for function in functions {
        context.register_udf(function);
    }
}

/// Validates a MySQL `time_zone` value and returns the spelling to store in
/// `datafusion.execution.time_zone` (`SYSTEM` becomes `+00:00`, so DataFusion's own
/// functions understand it too).
pub fn normalize_time_zone(time_zone: &str) -> Result<String, RewriteError> {
    zone::normalize(time_zone).ok_or_else(|| RewriteError::UnknownTimeZone(time_zone.to_string()))
}

/// The wall-clock time now in a MySQL `time_zone` (`None` for an unknown zone): what
/// `NOW()` returns there, and what a `DEFAULT CURRENT_TIMESTAMP` column gets.
pub fn wall_clock_now(time_zone: &str) -> Option<chrono::NaiveDateTime> {
    zone::SessionZone::parse(time_zone).map(|zone| zone.wall_clock(chrono::Utc::now()))
}

/// Stores the session time zone in `context`'s DataFusion configuration, where the
/// functions read it. Call it when the session starts and on `SET time_zone`.
pub fn set_session_time_zone(
    context: &SessionContext,
    time_zone: &str,
) -> Result<(), RewriteError> {
    let normalized = normalize_time_zone(time_zone)?;
    let state = context.state_ref();
    let mut state = state.write();
    state.config_mut().options_mut().execution.time_zone = Some(normalized);
    Ok(())
}
