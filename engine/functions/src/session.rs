//! Parse, rewrite, plan and run one MySQL statement: the path the FE takes, in one
//! place so tests stay short.

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DataFusionStatement;
use datafusion::sql::sqlparser::dialect::MySqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};

use crate::{RewriteError, SessionSettings, rewrite_statement, set_session_time_zone};

/// Why [`plan_sql`] or [`execute_sql`] failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("syntax error: {0}")]
    Parse(#[from] ParserError),
    #[error("expected exactly one statement, found {0}")]
    StatementCount(usize),
    #[error(transparent)]
    Rewrite(#[from] RewriteError),
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

/// Parses `sql` with the MySQL dialect, applies the session time zone to `context`,
/// rewrites and plans it.
pub async fn plan_sql(
    context: &SessionContext,
    sql: &str,
    settings: &SessionSettings,
) -> Result<LogicalPlan, QueryError> {
    let mut statements = Parser::parse_sql(&MySqlDialect {}, sql)?;
    if statements.len() != 1 {
        return Err(QueryError::StatementCount(statements.len()));
    }
    let mut statement = statements.remove(0);
    set_session_time_zone(context, &settings.time_zone)?;
    rewrite_statement(&mut statement, settings)?;
    let plan = context
        .state()
        .statement_to_plan(DataFusionStatement::Statement(Box::new(statement)))
        .await?;
    Ok(plan)
}

/// [`plan_sql`], then optimise, execute and collect the result.
pub async fn execute_sql(
    context: &SessionContext,
    sql: &str,
    settings: &SessionSettings,
) -> Result<Vec<RecordBatch>, QueryError> {
    let plan = plan_sql(context, sql, settings).await?;
    let frame = context.execute_logical_plan(plan).await?;
    Ok(frame.collect().await?)
}
