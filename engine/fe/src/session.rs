//! One MySQL connection: authentication, session state, and the dispatch of each statement
//! to DDL, loads, SHOW, or DataFusion.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::context::SessionConfig;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, Statement as SqlStatement};
use datafusion::variable::VarType;
use futures::{StreamExt, TryStreamExt};
use parking_lot::RwLock;
use tracing::{debug, info};

use cairn_common::ErrorCode;
use cairn_functions::SessionSettings;
use cairn_mysql::{AuthRequest, Column, ErrorPacket, QueryResponse, StatusFlags};
use cairn_sql::ast::{Insert, InsertSource, QualifiedName, SetAssignment, Statement};

use crate::error::FeError;
use crate::frontend::Frontend;
use crate::load::Overwrite;
use crate::process::{CancellationFlag, KillSwitch, ProcessInfo};
use crate::sql_mode::SqlMode;
use crate::table_provider::CairnCatalog;
use crate::variables::{SessionVariables, SharedVariables, SystemVariables, UserVariables, VariableValue, variable_name};

/// The schema DataFusion resolves unqualified names in when no database is selected; it
/// never exists, so such a query fails and is reported as "No database selected".
const NO_DATABASE: &str = "__no_database_selected__";
pub const CATALOG_NAME: &str = "def";

pub struct SessionFactory {
    frontend: Arc<Frontend>,
}

impl SessionFactory {
    pub fn new(frontend: Arc<Frontend>) -> Self {
        SessionFactory { frontend }
    }
}

#[async_trait]
impl cairn_mysql::SessionFactory for SessionFactory {
    async fn open(&self, request: AuthRequest) -> Result<Box<dyn cairn_mysql::Session>, ErrorPacket> {
        let host = request.peer.ip().to_string();
        let denied = || {
            FeError::user(
                ErrorCode::ACCESS_DENIED,
                format!(
                    "Access denied for user '{}'@'{}' (using password: {})",
                    request.user,
                    host,
                    if request.auth_response.is_empty() { "NO" } else { "YES" }
                ),
            )
            .to_packet()
        };
        let user = self.frontend.metadata.read().user(&request.user, &host).cloned().ok_or_else(denied)?;
        let authenticated = if user.password_hash.is_empty() {
            request.auth_response.is_empty()
        } else {
            let stored: Option<[u8; 20]> = user.password_hash.as_slice().try_into().ok();
            stored.is_some_and(|stored| {
                cairn_mysql::verify_native_password(&request.scramble, &request.auth_response, &stored)
            })
        };
        if !authenticated {
            info!(user = %request.user, %host, "login refused");
            return Err(denied());
        }
        let session = FeSession::new(Arc::clone(&self.frontend), request.connection_id.into(), user.name.clone(), host, user.roles.clone())
            .map_err(|error| error.to_packet())?;
        let mut session = session;
        if let Some(database) = request.database.filter(|database| !database.is_empty()) {
            session.use_database(&database).map_err(|error| error.to_packet())?;
        }
        Ok(Box::new(session))
    }
}

pub struct FeSession {
    frontend: Arc<Frontend>,
    connection_id: u64,
    user: String,
    host: String,
    roles: Vec<String>,
    database: Option<String>,
    variables: SharedVariables,
    context: SessionContext,
    cancel: CancellationFlag,
    kill: KillSwitch,
}

impl FeSession {
    fn new(frontend: Arc<Frontend>, connection_id: u64, user: String, host: String, roles: Vec<String>) -> Result<Self, FeError> {
        let variables: SharedVariables = Arc::new(RwLock::new(SessionVariables {
            system: frontend.global_variables.read().clone(),
            user: Default::default(),
        }));
        let config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG_NAME, NO_DATABASE)
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(false)
            .with_target_partitions(num_cpus())
            // Tables store strings as Utf8; casts producing Utf8View would only convert back.
            .set_str("datafusion.sql_parser.map_string_types_to_utf8view", "false");
        // Right after DataFusion picks each join's build side, before it places repartitions
        // and hands joins their dynamic filters.
        let mut physical_rules = datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new().rules;
        let after_join_selection =
            physical_rules.iter().position(|rule| rule.name() == "join_selection").map_or(physical_rules.len(), |index| index + 1);
        physical_rules.insert(after_join_selection, Arc::new(crate::aggregation_probe::AggregationsProbe));
        let state = datafusion::execution::SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_physical_optimizer_rules(physical_rules)
            .with_physical_optimizer_rule(Arc::new(crate::redundant_filter::RedundantFilters))
            .with_physical_optimizer_rule(Arc::new(crate::dynamic_filters::DynamicFilterPlacement))
            .with_physical_optimizer_rule(Arc::new(crate::bucket_aggregation::BucketAggregation))
            .with_physical_optimizer_rule(Arc::new(crate::low_cardinality::LowCardinalityGroupBy))
            .with_physical_optimizer_rule(Arc::new(crate::runtime_filter::RuntimeFilters))
            // After the rules that look for DataFusion's partial aggregations, which it replaces.
            .with_physical_optimizer_rule(Arc::new(crate::dense_groups::DenseGroups))
            // After every rule that rewrites the copies it compares.
            .with_physical_optimizer_rule(Arc::new(crate::shared_results::SharedResults))
            .build();
        let context = SessionContext::new_with_state(state);
        context.register_catalog(
            CATALOG_NAME,
            Arc::new(CairnCatalog::new(Arc::clone(&frontend.metadata), Arc::clone(&frontend.backend), Arc::clone(&frontend.loads))),
        );
        cairn_functions::register_functions(&context);
        cairn_optimizer::register_rules(&context);
        context.register_variable(VarType::System, Arc::new(SystemVariables(Arc::clone(&variables))));
        context.register_variable(VarType::UserDefined, Arc::new(UserVariables(Arc::clone(&variables))));
        let time_zone = variables
            .read()
            .system
            .get("time_zone")
            .map(VariableValue::as_text)
            .unwrap_or_else(|| "SYSTEM".to_string());
        cairn_functions::set_session_time_zone(&context, &time_zone)
            .map_err(|error| FeError::internal(error.to_string()))?;
        let sql_mode = variables.read().system.get("sql_mode").map(VariableValue::as_text).unwrap_or_default();
        apply_null_ordering(&context, SqlMode::parse(&sql_mode).unwrap_or(SqlMode::DEFAULT));
        let broadcast_row_limit = match variables.read().system.get("broadcast_row_limit") {
            Some(VariableValue::Integer(limit)) => *limit,
            _ => crate::variables::BROADCAST_ROW_LIMIT,
        };
        apply_broadcast_row_limit(&context, broadcast_row_limit);
        let cancel = CancellationFlag::default();
        let kill = KillSwitch::default();
        frontend.processes.register(ProcessInfo {
            connection_id,
            user: user.clone(),
            host: host.clone(),
            database: None,
            command: "Sleep".to_string(),
            started: Instant::now(),
            state: String::new(),
            info: None,
            cancel_query: cancel.clone(),
            kill_connection: kill.clone(),
        });
        frontend.metrics.connections.inc();
        Ok(FeSession {
            frontend,
            connection_id,
            user,
            host,
            roles,
            database: None,
            variables,
            context,
            cancel,
            kill,
        })
    }

    fn settings(&self) -> SessionSettings {
        SessionSettings {
            time_zone: self.variable_text("time_zone"),
            current_database: self.database.clone(),
            current_user: self.user.clone(),
            connection_id: self.connection_id,
        }
    }

    /// The session's `sql_mode`; a value that no longer parses (it was validated when set)
    /// counts as the default.
    fn sql_mode(&self) -> SqlMode {
        SqlMode::parse(&self.variable_text("sql_mode")).unwrap_or(SqlMode::DEFAULT)
    }

    pub fn variable_text(&self, name: &str) -> String {
        self.variables
            .read()
            .system
            .get(name)
            .map(VariableValue::as_text)
            .unwrap_or_default()
    }

    pub fn frontend(&self) -> &Arc<Frontend> {
        &self.frontend
    }

    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    pub fn connection_id(&self) -> u64 {
        self.connection_id
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn variables(&self) -> &SharedVariables {
        &self.variables
    }

    pub fn use_database(&mut self, name: &str) -> Result<(), FeError> {
        let name = {
            let catalog = self.frontend.metadata.read();
            if name.eq_ignore_ascii_case("information_schema") {
                "information_schema".to_string()
            } else {
                catalog
                    .database(name)
                    .map(|database| database.name.clone())
                    .ok_or_else(|| FeError::unknown_database(name))?
            }
        };
        {
            let state = self.context.state_ref();
            let mut state = state.write();
            state.config_mut().options_mut().catalog.default_schema = name.clone();
        }
        self.frontend.processes.update(self.connection_id, |info| info.database = Some(name.clone()));
        self.database = Some(name);
        Ok(())
    }

    /// The database a statement names, or the current one.
    pub fn database_for(&self, name: &QualifiedName) -> Result<String, FeError> {
        match &name.database {
            Some(database) => Ok(database.clone()),
            None => self.database.clone().ok_or_else(FeError::no_database_selected),
        }
    }

    /// The database and job of PAUSE/RESUME; `ALL` (no job) means the current database's jobs.
    fn routine_load_target(&self, job: Option<&QualifiedName>) -> Result<(String, Option<String>), FeError> {
        match job {
            Some(job) => Ok((self.database_for(job)?, Some(job.name.clone()))),
            None => Ok((self.database.clone().ok_or_else(FeError::no_database_selected)?, None)),
        }
    }

    fn is_admin(&self) -> bool {
        self.roles.iter().any(|role| role == "root" || role == "db_admin")
    }

    /// Whether the user may change data or schema in `database`.
    fn check_write(&self, database: &str, what: &str) -> Result<(), FeError> {
        if self.is_admin() {
            return Ok(());
        }
        let allowed = self
            .frontend
            .metadata
            .read()
            .user(&self.user, &self.host)
            .is_some_and(|user| crate::users::may_write(user, database));
        if allowed {
            Ok(())
        } else {
            Err(FeError::user(
                ErrorCode::new_code(1142, "42000"),
                format!("Access denied; you need the {what} privilege on database {database} for this operation"),
            ))
        }
    }

    fn check_admin(&self, what: &str) -> Result<(), FeError> {
        if self.is_admin() || self.roles.iter().any(|role| role == "user_admin") {
            Ok(())
        } else {
            Err(FeError::user(
                ErrorCode::new_code(1227, "42000"),
                format!("Access denied; you need (at least one of) the {what} privilege(s) for this operation"),
            ))
        }
    }

    /// Plans and runs a query with DataFusion, streaming its rows.
    pub async fn run_query(&mut self, mut statement: SqlStatement) -> Result<QueryResponse, FeError> {
        name_columns_as_written(&mut statement);
        let plan = self.plan(statement).await?;
        self.execute_plan(plan).await
    }

    /// Plans a query: every path (SELECT, INSERT ... SELECT, DELETE, EXPLAIN, CTAS) goes
    /// through the same MySQL rewrites before DataFusion sees it.
    pub async fn plan(&self, mut statement: SqlStatement) -> Result<LogicalPlan, FeError> {
        remove_from_dual(&mut statement);
        crate::table_provider::encode_partition_selection(&mut statement);
        cairn_functions::rewrite_statement(&mut statement, &self.settings())
            .map_err(|error| FeError::analysis(error.to_string()))?;
        let state = self.context.state();
        let plan = state
            .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(statement)))
            .await
            .map_err(|error| self.no_database_error(error))?;
        match &plan {
            LogicalPlan::Ddl(_) | LogicalPlan::Dml(_) | LogicalPlan::Copy(_) | LogicalPlan::Statement(_) => {
                Err(FeError::not_supported(format!("the statement '{}'", plan.display())))
            }
            _ => Ok(plan),
        }
    }

    fn no_database_error(&self, error: datafusion::error::DataFusionError) -> FeError {
        if error.to_string().contains(NO_DATABASE) {
            FeError::no_database_selected()
        } else {
            FeError::Query(error)
        }
    }

    async fn execute_plan(&self, plan: LogicalPlan) -> Result<QueryResponse, FeError> {
        let dataframe = self.context.execute_logical_plan(plan).await?;
        let schema: SchemaRef = Arc::clone(dataframe.schema().inner());
        let stream = dataframe.execute_stream().await?;
        let columns: Vec<Column> = schema.fields().iter().map(|field| Column::from_arrow_field(field)).collect();
        let cancel = self.cancel.clone();
        let batches = stream
            .map(move |batch| {
                if cancel.is_cancelled() {
                    return Err(FeError::user(ErrorCode::QUERY_INTERRUPTED, "Query execution was interrupted").to_packet());
                }
                batch.map_err(|error| FeError::Query(error).to_packet())
            })
            .boxed();
        Ok(QueryResponse::ResultSet { columns, batches })
    }

    /// Runs a query and collects its rows (for INSERT ... SELECT and DELETE).
    pub async fn collect_query(&self, statement: SqlStatement) -> Result<Vec<RecordBatch>, FeError> {
        let plan = self.plan(statement).await?;
        let dataframe = self.context.execute_logical_plan(plan).await?;
        Ok(dataframe.execute_stream().await?.try_collect::<Vec<_>>().await?)
    }

    async fn insert(&mut self, insert: Insert) -> Result<QueryResponse, FeError> {
        let database = self.database_for(&insert.table)?;
        self.check_write(&database, "INSERT")?;
        let (_, table) = self.frontend.table_snapshot(&database, &insert.table.name)?;
        if !insert.partitions.is_empty() {
            return Err(FeError::not_supported("INSERT into named partitions"));
        }
        let target_columns: Vec<usize> = if insert.columns.is_empty() {
            (0..table.columns().len()).collect()
        } else {
            let mut indices = Vec::with_capacity(insert.columns.len());
            for name in &insert.columns {
                let index = table.definition.column_index(name).ok_or_else(|| {
                    FeError::user(ErrorCode::BAD_FIELD, format!("Unknown column '{name}' in 'field list'"))
                })?;
                if indices.contains(&index) {
                    return Err(FeError::user(
                        ErrorCode::new_code(1110, "42000"),
                        format!("Column '{name}' specified twice"),
                    ));
                }
                indices.push(index);
            }
            indices
        };
        let InsertSource::Query(query) = insert.source;
        let table_lock = self.frontend.transactions.table_lock(table.id);
        let _guard = if insert.overwrite { Some(table_lock.lock().await) } else { None };
        let source = match crate::convert::literal_values(&query) {
            Some(rows) => vec![crate::convert::literal_batch(&rows, target_columns.len())?],
            None => self.collect_query(SqlStatement::Query(query)).await?,
        };
        let schema = crate::table_provider::tablet_schema(&table).arrow_schema();
        let now = self.now_text();
        let mut batches = Vec::with_capacity(source.len());
        let mut row_offset = 0;
        for batch in &source {
            batches.push(crate::convert::conform_batch(batch, table.columns(), &target_columns, &schema, row_offset, &now)?);
            row_offset += batch.num_rows();
        }
        let overwrite = if insert.overwrite { Overwrite::AllPartitions } else { Overwrite::No };
        let outcome = self
            .frontend
            .load_rows(&database, table.name(), batches, insert.label, overwrite)
            .await?;
        Ok(QueryResponse::Ok {
            affected_rows: outcome.rows,
            last_insert_id: 0,
            info: format!(
                "{{'label':'{}', 'status':'VISIBLE', 'txnId':'{}'}}",
                outcome.label, outcome.transaction_id
            ),
            warnings: 0,
        })
    }

    /// DELETE rewrites the table without the matching rows, as one transaction.
    async fn delete(&mut self, table: QualifiedName, partitions: Vec<String>, selection: Option<SqlExpr>) -> Result<QueryResponse, FeError> {
        let database = self.database_for(&table)?;
        self.check_write(&database, "DELETE")?;
        let (_, snapshot) = self.frontend.table_snapshot(&database, &table.name)?;
        if !partitions.is_empty() {
            return Err(FeError::not_supported("DELETE with PARTITION"));
        }
        let quoted = format!("`{}`.`{}`", database.replace('`', "``"), snapshot.name().replace('`', "``"));
        let predicate = selection.map(|expr| expr.to_string()).unwrap_or_else(|| "TRUE".to_string());
        let lock = self.frontend.transactions.table_lock(snapshot.id);
        let _guard = lock.lock().await;
        let count_sql = format!("SELECT count(*) FROM {quoted} WHERE COALESCE(({predicate}), FALSE)");
        let counted = self.collect_query(parse_query(&count_sql, self.sql_mode().parse_options())?).await?;
        let deleted = counted
            .first()
            .and_then(|batch| batch.column(0).as_any().downcast_ref::<datafusion::arrow::array::Int64Array>().map(|array| array.value(0)))
            .unwrap_or(0);
        if deleted == 0 {
            return Ok(QueryResponse::Ok { affected_rows: 0, last_insert_id: 0, info: String::new(), warnings: 0 });
        }
        let survivors_sql = format!("SELECT * FROM {quoted} WHERE NOT COALESCE(({predicate}), FALSE)");
        let survivors = self.collect_query(parse_query(&survivors_sql, self.sql_mode().parse_options())?).await?;
        let schema = crate::table_provider::tablet_schema(&snapshot).arrow_schema();
        let batches = survivors
            .iter()
            .map(|batch| {
                RecordBatch::try_new(Arc::clone(&schema), batch.columns().to_vec())
                    .map_err(|error| FeError::internal(format!("failed to rebuild rows for DELETE: {error}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.frontend
            .load_rows(&database, snapshot.name(), batches, None, Overwrite::AllPartitions)
            .await?;
        Ok(QueryResponse::Ok {
            affected_rows: deleted as u64,
            last_insert_id: 0,
            info: String::new(),
            warnings: 0,
        })
    }

    /// The session's wall-clock time, for DEFAULT CURRENT_TIMESTAMP.
    fn now_text(&self) -> String {
        let time_zone = self.variable_text("time_zone");
        let now = chrono::Utc::now();
        let local = match cairn_functions::normalize_time_zone(&time_zone) {
            Ok(zone) => match zone.parse::<chrono_tz::Tz>() {
                Ok(tz) => now.with_timezone(&tz).naive_local(),
                Err(_) => match zone.parse::<chrono::FixedOffset>() {
                    Ok(offset) => now.with_timezone(&offset).naive_local(),
                    Err(_) => now.naive_utc(),
                },
            },
            Err(_) => now.naive_utc(),
        };
        local.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }

    async fn set(&mut self, assignments: Vec<SetAssignment>) -> Result<QueryResponse, FeError> {
        for assignment in assignments {
            match assignment {
                SetAssignment::Names { charset, collation } => {
                    let mut variables = self.variables.write();
                    for name in ["character_set_client", "character_set_connection", "character_set_results"] {
                        variables.system.insert(name.to_string(), VariableValue::Text(charset.clone()));
                    }
                    if let Some(collation) = collation {
                        variables.system.insert("collation_connection".to_string(), VariableValue::Text(collation));
                    }
                }
                SetAssignment::Variable { scope, name, value } => {
                    let name = variable_name(&[name]);
                    let value = self.set_value(&value).await?;
                    let value = self.check_variable(&name, value)?;
                    if scope == cairn_sql::ast::VariableScope::Global {
                        self.check_admin("SYSTEM")?;
                    }
                    if name == "time_zone" {
                        cairn_functions::set_session_time_zone(&self.context, &value.as_text())
                            .map_err(|error| FeError::user(ErrorCode::new_code(1298, "HY000"), error.to_string()))?;
                    }
                    if name == "sql_mode" {
                        apply_null_ordering(&self.context, SqlMode::parse(&value.as_text())?);
                    }
                    if let ("broadcast_row_limit", VariableValue::Integer(limit)) = (name.as_str(), &value) {
                        apply_broadcast_row_limit(&self.context, *limit);
                    }
                    if scope == cairn_sql::ast::VariableScope::Global {
                        self.frontend.global_variables.write().insert(name.clone(), value.clone());
                    }
                    self.variables.write().system.insert(name, value);
                }
                SetAssignment::UserVariable { name, value } => {
                    let scalar = match self.set_value(&value).await? {
                        Some(VariableValue::Integer(number)) => datafusion::common::ScalarValue::Int64(Some(number)),
                        Some(VariableValue::Text(text)) => datafusion::common::ScalarValue::Utf8(Some(text)),
                        None => datafusion::common::ScalarValue::Utf8(None),
                    };
                    self.variables.write().user.insert(variable_name(&[name]), scalar);
                }
                SetAssignment::Password { user, password } => {
                    let target = user.map(|user| (user.name, user.host)).unwrap_or_else(|| (self.user.clone(), "%".to_string()));
                    if target.0 != self.user {
                        self.check_admin("GRANT")?;
                    }
                    crate::users::set_password(&self.frontend, &target.0, &target.1, &password)?;
                }
            }
        }
        Ok(QueryResponse::ok())
    }

    /// The value a `SET` assigns. Literals and bare words are taken as written; anything else
    /// (`CONCAT(@@sql_mode, ',STRICT_TRANS_TABLES')`, `@@time_zone`) is evaluated as a query.
    async fn set_value(&self, expr: &SqlExpr) -> Result<Option<VariableValue>, FeError> {
        let literal = match expr {
            SqlExpr::Value(_) | SqlExpr::UnaryOp { .. } => true,
            SqlExpr::Identifier(identifier) => !identifier.value.starts_with('@'),
            _ => false,
        };
        if literal {
            return Ok(crate::show::expression_value(expr));
        }
        let batches = self.collect_query(parse_query(&format!("SELECT {expr}"), self.sql_mode().parse_options())?).await?;
        let Some(column) = batches.iter().find(|batch| batch.num_rows() > 0).map(|batch| batch.column(0)) else {
            return Ok(None);
        };
        if column.is_null(0) {
            return Ok(None);
        }
        if column.data_type().is_integer() {
            use datafusion::arrow::array::AsArray;
            let number = datafusion::arrow::compute::cast(column, &datafusion::arrow::datatypes::DataType::Int64)
                .map_err(|error| FeError::Query(error.into()))?;
            // A BIGINT UNSIGNED beyond BIGINT does not cast; it stays text below.
            if !number.is_null(0) {
                let number = number.as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(0);
                return Ok(Some(VariableValue::Integer(number)));
            }
        }
        let text = datafusion::arrow::util::display::array_value_to_string(column, 0)
            .map_err(|error| FeError::Query(error.into()))?;
        Ok(Some(VariableValue::Text(text)))
    }

    /// Validates a `SET` value: known variable, right kind of value. `DEFAULT` resets it.
    fn check_variable(&self, name: &str, value: Option<VariableValue>) -> Result<VariableValue, FeError> {
        let defaults = crate::variables::default_variables(&self.frontend.config);
        let Some(default) = defaults.get(name) else {
            return Err(FeError::user(ErrorCode::UNKNOWN_SYSTEM_VARIABLE, format!("Unknown system variable '{name}'")));
        };
        let wrong = |shown: &str| {
            FeError::user(
                ErrorCode::WRONG_VALUE_FOR_VARIABLE,
                format!("Variable '{name}' can't be set to the value of '{shown}'"),
            )
        };
        let value = match value {
            // MySQL refuses NULL for sql_mode (it has no default-by-NULL).
            None if name == "sql_mode" => return Err(wrong("NULL")),
            None => return Ok(default.clone()),
            Some(VariableValue::Text(text)) if text.eq_ignore_ascii_case("DEFAULT") => return Ok(default.clone()),
            Some(value) => value,
        };
        match (default, value) {
            (VariableValue::Integer(_), VariableValue::Integer(number)) => Ok(VariableValue::Integer(number)),
            (VariableValue::Integer(_), VariableValue::Text(text)) => match text.to_ascii_uppercase().as_str() {
                "ON" | "TRUE" => Ok(VariableValue::Integer(1)),
                "OFF" | "FALSE" => Ok(VariableValue::Integer(0)),
                other => other.parse::<i64>().map(VariableValue::Integer).map_err(|_| wrong(&text)),
            },
            (VariableValue::Text(_), VariableValue::Text(text)) if name == "time_zone" => {
                Ok(VariableValue::Text(crate::variables::validate_time_zone(&text)?))
            }
            (VariableValue::Text(_), value) if name == "sql_mode" => {
                Ok(VariableValue::Text(SqlMode::parse(&value.as_text())?.names()))
            }
            (VariableValue::Text(_), value) => Ok(VariableValue::Text(value.as_text())),
        }
    }

    async fn dispatch(&mut self, statement: Statement) -> Result<QueryResponse, FeError> {
        match statement {
            Statement::Query(statement) => self.run_query(*statement).await,
            Statement::Insert(insert) => self.insert(insert).await,
            Statement::Delete { table, partitions, selection } => self.delete(table, partitions, selection).await,
            Statement::Use { database } => {
                self.use_database(&database)?;
                Ok(QueryResponse::ok())
            }
            Statement::Set(assignments) => self.set(assignments).await,
            Statement::CreateDatabase { name, if_not_exists } => {
                self.check_write(&name, "CREATE")?;
                self.frontend.create_database(&name, if_not_exists)?;
                Ok(QueryResponse::ok())
            }
            Statement::DropDatabase { name, if_exists } => {
                self.check_write(&name, "DROP")?;
                self.frontend.drop_database(&name, if_exists).await?;
                if self.database.as_deref() == Some(name.as_str()) {
                    self.database = None;
                }
                Ok(QueryResponse::ok())
            }
            Statement::CreateTable { table, if_not_exists, mut definition } => {
                let database = self.database_for(&table)?;
                self.check_write(&database, "CREATE")?;
                definition.name = table.name;
                self.frontend.create_table(&database, definition, if_not_exists).await?;
                Ok(QueryResponse::ok())
            }
            Statement::CreateTableAsSelect { table, if_not_exists, definition, query } => {
                self.create_table_as_select(table, if_not_exists, definition, *query).await
            }
            Statement::DropTable { table, if_exists } => {
                let database = self.database_for(&table)?;
                self.check_write(&database, "DROP")?;
                self.frontend.drop_table(&database, &table.name, if_exists).await?;
                Ok(QueryResponse::ok())
            }
            Statement::TruncateTable { table, partitions } => {
                let database = self.database_for(&table)?;
                self.check_write(&database, "DELETE")?;
                self.frontend.truncate_table(&database, &table.name, &partitions).await?;
                Ok(QueryResponse::ok())
            }
            Statement::AlterTable { table, operations } => {
                let database = self.database_for(&table)?;
                self.check_write(&database, "ALTER")?;
                self.frontend.alter_table(&database, &table.name, operations).await?;
                Ok(QueryResponse::ok())
            }
            Statement::Explain { analyze, verbose, query } => match *query {
                Statement::Query(statement) => {
                    let plan = self.plan(*statement).await?;
                    let dataframe = self.context.execute_logical_plan(plan).await?.explain(verbose, analyze)?;
                    let plan = dataframe.into_unoptimized_plan();
                    self.execute_plan(plan).await
                }
                other => Err(FeError::not_supported(format!("EXPLAIN of {}", statement_kind(&other)))),
            },
            Statement::Kill { connection_id, query_only } => {
                let Some(process) = self.frontend.processes.get(connection_id) else {
                    return Err(FeError::user(ErrorCode::UNKNOWN_PROCESS, format!("Unknown thread id: {connection_id}")));
                };
                if process.user != self.user {
                    self.check_admin("CONNECTION_ADMIN")?;
                }
                process.cancel_query.cancel();
                if !query_only {
                    process.kill_connection.kill();
                }
                Ok(QueryResponse::ok())
            }
            Statement::AlterSystem { operation, backends } => {
                if !self.roles.iter().any(|role| role == "root" || role == "cluster_admin") {
                    return Err(FeError::user(
                        ErrorCode::new_code(1227, "42000"),
                        "Access denied; you need (at least one of) the NODE privilege(s) for this operation",
                    ));
                }
                self.frontend.alter_backends(operation, &backends)?;
                Ok(QueryResponse::ok())
            }
            Statement::CreateUser { user, if_not_exists, password, default_role } => {
                self.check_admin("GRANT")?;
                crate::users::create_user(&self.frontend, &user, if_not_exists, password.as_deref(), default_role)?;
                Ok(QueryResponse::ok())
            }
            Statement::AlterUser { user, password } => {
                if user.name != self.user {
                    self.check_admin("GRANT")?;
                }
                crate::users::set_password(&self.frontend, &user.name, &user.host, &password)?;
                Ok(QueryResponse::ok())
            }
            Statement::DropUser { user, if_exists } => {
                self.check_admin("GRANT")?;
                crate::users::drop_user(&self.frontend, &user, if_exists)?;
                Ok(QueryResponse::ok())
            }
            Statement::Grant { target, user } => {
                self.check_admin("GRANT")?;
                crate::users::grant(&self.frontend, &target, &user, true)?;
                Ok(QueryResponse::ok())
            }
            Statement::Revoke { target, user } => {
                self.check_admin("GRANT")?;
                crate::users::grant(&self.frontend, &target, &user, false)?;
                Ok(QueryResponse::ok())
            }
            Statement::CreateRoutineLoad { job, table, description, properties, source_type: _, source_properties } => {
                let database = self.database_for(&job)?;
                self.check_write(&database, "LOAD")?;
                self.frontend.create_routine_load(
                    &self.user,
                    &self.host,
                    &database,
                    &job.name,
                    &table,
                    description,
                    properties,
                    source_properties,
                )?;
                Ok(QueryResponse::ok())
            }
            Statement::AlterRoutineLoad { job, description, properties, source_properties } => {
                let database = self.database_for(&job)?;
                self.check_write(&database, "LOAD")?;
                self.frontend.alter_routine_load(&database, &job.name, description, properties, source_properties)?;
                Ok(QueryResponse::ok())
            }
            Statement::PauseRoutineLoad { job } => {
                let (database, name) = self.routine_load_target(job.as_ref())?;
                self.check_write(&database, "LOAD")?;
                self.frontend.pause_routine_load(&self.user, &database, name.as_deref())?;
                Ok(QueryResponse::ok())
            }
            Statement::ResumeRoutineLoad { job } => {
                let (database, name) = self.routine_load_target(job.as_ref())?;
                self.check_write(&database, "LOAD")?;
                self.frontend.resume_routine_load(&database, name.as_deref())?;
                Ok(QueryResponse::ok())
            }
            Statement::StopRoutineLoad { job } => {
                let database = self.database_for(&job)?;
                self.check_write(&database, "LOAD")?;
                self.frontend.stop_routine_load(&self.user, &database, &job.name)?;
                Ok(QueryResponse::ok())
            }
            Statement::NoOp { .. } | Statement::TransactionControl => Ok(QueryResponse::ok()),
            show => crate::show::show(self, show).await,
        }
    }

    async fn create_table_as_select(
        &mut self,
        table: QualifiedName,
        if_not_exists: bool,
        mut definition: cairn_common::TableDefinition,
        query: datafusion::sql::sqlparser::ast::Query,
    ) -> Result<QueryResponse, FeError> {
        let database = self.database_for(&table)?;
        self.check_write(&database, "CREATE")?;
        // StarRocks does nothing when the table exists; re-running a script must not load twice.
        if if_not_exists && self.frontend.table_snapshot(&database, &table.name).is_ok() {
            return Ok(QueryResponse::ok());
        }
        let statement = SqlStatement::Query(Box::new(query));
        let plan = self.plan(statement.clone()).await?;
        definition.name = table.name.clone();
        definition.columns = plan
            .schema()
            .fields()
            .iter()
            .map(|field| {
                let column_type = cairn_common::ColumnType::from_arrow(field.data_type()).ok_or_else(|| {
                    FeError::analysis(format!("column '{}' has type {} which a table can not store", field.name(), field.data_type()))
                })?;
                Ok(cairn_common::ColumnDefinition {
                    name: field.name().clone(),
                    column_type,
                    nullable: true,
                    default: None,
                    comment: String::new(),
                    is_key: false,
                    unique_id: 0,
                })
            })
            .collect::<Result<Vec<_>, FeError>>()?;
        self.frontend.create_table(&database, definition, if_not_exists).await?;
        let SqlStatement::Query(query) = statement else {
            return Err(FeError::internal("CREATE TABLE AS SELECT lost its query"));
        };
        self.insert(Insert {
            table: QualifiedName { database: Some(database), name: table.name },
            overwrite: false,
            label: None,
            partitions: Vec::new(),
            columns: Vec::new(),
            source: InsertSource::Query(query),
        })
        .await
    }

    async fn run_statements(&mut self, sql: &str) -> Result<QueryResponse, FeError> {
        let options = self.sql_mode().parse_options();
        let statements =
            cairn_sql::parse_statements_with(sql, options).map_err(|error| crate::error::parse_error(&error))?;
        if statements.is_empty() {
            return Err(FeError::user(ErrorCode::EMPTY_QUERY, "Query was empty"));
        }
        let count = statements.len();
        let mut last = QueryResponse::ok();
        for (index, statement) in statements.into_iter().enumerate() {
            let response = self.dispatch(statement).await?;
            if index + 1 == count {
                last = response;
            }
        }
        Ok(last)
    }
}

/// Where ORDER BY puts NULLs when the query does not say: MySQL sorts NULL as the smallest
/// value (first ascending, last descending); `SORT_NULLS_LAST` makes it the largest.
fn apply_null_ordering(context: &SessionContext, sql_mode: SqlMode) {
    let ordering = if sql_mode.sort_nulls_last() { "nulls_max" } else { "nulls_min" };
    context.state_ref().write().config_mut().options_mut().sql_parser.default_null_ordering = ordering.to_string();
}

/// Joins whose build side is estimated below `limit` rows run as one shared hash table
/// (DataFusion's CollectLeft) rather than hash-partitioning both inputs. Repartitioning
/// hashes and copies every probe row, which cost a third of TPC-H q5 on 2 cores, while the
/// shared table is built once; StarRocks makes the same choice with the same variable.
/// DataFusion consults a byte estimate first when one exists. Scans report row counts but
/// no byte sizes, so the row limit decides; the byte limit is lifted so that the rare
/// operator that does estimate bytes (an empty input) is not held to DataFusion's 1 MB.
fn apply_broadcast_row_limit(context: &SessionContext, limit: i64) {
    let rows = usize::try_from(limit).unwrap_or(0);
    let state = context.state_ref();
    let mut state = state.write();
    let optimizer = &mut state.config_mut().options_mut().optimizer;
    optimizer.hash_join_single_partition_threshold_rows = rows;
    optimizer.hash_join_single_partition_threshold = if rows == 0 { 0 } else { usize::MAX };
}

/// MySQL names an unaliased result column by the expression's text (`1`, `sum(v)`), where
/// DataFusion would say `Int64(1)` or `sum(t.v)`. Names that would repeat are left alone,
/// since DataFusion needs unique projection names.
fn name_columns_as_written(statement: &mut SqlStatement) {
    use datafusion::sql::sqlparser::ast::{Ident, SelectItem, SetExpr};
    let SqlStatement::Query(query) = statement else {
        return;
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let names: Vec<Option<String>> = select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(SqlExpr::Identifier(identifier)) => Some(identifier.value.to_lowercase()),
            SelectItem::UnnamedExpr(SqlExpr::CompoundIdentifier(parts)) => {
                parts.last().map(|part| part.value.to_lowercase())
            }
            SelectItem::UnnamedExpr(expr) => Some(expr.to_string().to_lowercase()),
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.to_lowercase()),
            _ => None,
        })
        .collect();
    for (index, item) in select.projection.iter_mut().enumerate() {
        let SelectItem::UnnamedExpr(expr) = item else { continue };
        if matches!(expr, SqlExpr::Identifier(_) | SqlExpr::CompoundIdentifier(_)) {
            continue;
        }
        let text = expr.to_string();
        let lower = text.to_lowercase();
        let repeated = names
            .iter()
            .enumerate()
            .any(|(other, name)| other != index && name.as_deref() == Some(lower.as_str()));
        if repeated || text.len() > 256 {
            continue;
        }
        *item = SelectItem::ExprWithAlias {
            expr: expr.clone(),
            alias: Ident::with_quote('`', text),
        };
    }
}

/// MySQL's `SELECT ... FROM DUAL` names no table.
fn remove_from_dual(statement: &mut SqlStatement) {
    use datafusion::sql::sqlparser::ast::{SetExpr, TableFactor};
    let SqlStatement::Query(query) = statement else {
        return;
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    if let [from] = select.from.as_slice() {
        if from.joins.is_empty()
            && matches!(&from.relation, TableFactor::Table { name, .. } if name.to_string().eq_ignore_ascii_case("dual"))
        {
            select.from.clear();
        }
    }
}

fn statement_kind(statement: &Statement) -> String {
    let text = format!("{statement:?}");
    text.split(['(', ' ', '{']).next().unwrap_or("statement").to_string()
}

/// Parses SQL Cairn builds around a user's expression. It must read under the user's
/// `sql_mode`: the expression prints back as written (`"col"`, `||`), and read under another
/// mode it would mean something else, e.g. a DELETE condition on a column becoming a string.
fn parse_query(sql: &str, options: cairn_sql::ParseOptions) -> Result<SqlStatement, FeError> {
    let mut statements = cairn_sql::parse_statements_with(sql, options)
        .map_err(|error| FeError::internal(format!("failed to parse generated SQL: {error}")))?
        .into_iter();
    match (statements.next(), statements.next()) {
        (Some(Statement::Query(statement)), None) => Ok(*statement),
        _ => Err(FeError::internal("generated SQL is not one query")),
    }
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(2)
}

#[async_trait]
impl cairn_mysql::Session for FeSession {
    async fn query(&mut self, sql: &str) -> Result<QueryResponse, ErrorPacket> {
        let started = Instant::now();
        self.cancel.reset();
        let shown: String = sql.chars().take(1024).collect();
        self.frontend.processes.update(self.connection_id, |info| {
            info.command = "Query".to_string();
            info.started = Instant::now();
            info.info = Some(shown);
        });
        let result = self.run_statements(sql).await;
        self.frontend.processes.update(self.connection_id, |info| {
            info.command = "Sleep".to_string();
            info.started = Instant::now();
            info.info = None;
        });
        self.frontend.metrics.record_query(result.is_ok(), started.elapsed().as_secs_f64());
        match result {
            Ok(response) => Ok(response),
            Err(error) => {
                debug!(connection_id = self.connection_id, %error, "statement failed");
                Err(error.to_packet())
            }
        }
    }

    async fn init_db(&mut self, database: &str) -> Result<(), ErrorPacket> {
        self.use_database(database).map_err(|error| error.to_packet())
    }

    async fn field_list(&mut self, table: &str, wildcard: &str) -> Result<Vec<Column>, ErrorPacket> {
        crate::show::field_list(self, table, wildcard).map_err(|error| error.to_packet())
    }

    fn status_flags(&self) -> StatusFlags {
        let autocommit = self.variables.read().system.get("autocommit") != Some(&VariableValue::Integer(0));
        if autocommit { StatusFlags::AUTOCOMMIT } else { StatusFlags::empty() }
    }

    fn killed(&self) -> futures::future::BoxFuture<'static, ()> {
        let kill = self.kill.clone();
        Box::pin(async move { kill.wait().await })
    }

    async fn close(&mut self) {
        self.frontend.processes.remove(self.connection_id);
        self.frontend.metrics.connections.dec();
    }
}
