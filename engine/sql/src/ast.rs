//! The statements Cairn understands. StarRocks-only statements are parsed by our own code into
//! the variants below; everything else is a sqlparser [`SqlStatement`] parsed with the MySQL
//! dialect and handed to DataFusion.

use std::collections::BTreeMap;

use cairn_common::TableDefinition;
use datafusion::sql::sqlparser::ast::{Expr, Query, Statement as SqlStatement};

/// `db.name` or `name`, with the original spelling kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualifiedName {
    pub database: Option<String>,
    pub name: String,
}

/// A `LIKE 'pattern'` or `WHERE expr` after a SHOW statement.
// Built once per SHOW statement, so the size of `Expr` costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ShowFilter {
    Like(String),
    Where(Expr),
}

/// One item of a `SET` statement.
#[derive(Debug, Clone, PartialEq)]
pub enum SetAssignment {
    /// `SET NAMES charset [COLLATE collation]`.
    Names { charset: String, collation: Option<String> },
    /// `SET [GLOBAL|SESSION] var = expr`, `SET @@session.var = expr`, `SET @@var = expr`.
    /// The variable name is lower-cased and stripped of `@@` and the scope prefix.
    Variable { scope: VariableScope, name: String, value: Expr },
    /// `SET @user_var = expr`.
    UserVariable { name: String, value: Expr },
    /// `SET PASSWORD [FOR user] = PASSWORD('x')` or `= 'x'`.
    Password { user: Option<UserIdentity>, password: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariableScope {
    Session,
    Global,
}

/// `'name'@'host'`; host defaults to `%`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIdentity {
    pub name: String,
    pub host: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterTableOperation {
    /// `ADD COLUMN col_def [AFTER col | FIRST]`.
    AddColumn {
        column: cairn_common::ColumnDefinition,
        position: ColumnPosition,
    },
    /// `DROP COLUMN name`.
    DropColumn { name: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnPosition {
    Last,
    First,
    After(String),
}

/// The source of an INSERT.
#[derive(Debug, Clone, PartialEq)]
pub enum InsertSource {
    /// `VALUES (...), (...)`, and any other query (`SELECT ...`, `WITH ...`).
    Query(Box<Query>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    pub table: QualifiedName,
    /// `INSERT OVERWRITE` replaces the partitions' data atomically.
    pub overwrite: bool,
    /// `WITH LABEL label`.
    pub label: Option<String>,
    /// `PARTITION (p1, p2)` after the table name.
    pub partitions: Vec<String>,
    /// The column list, empty when the statement has none.
    pub columns: Vec<String>,
    pub source: InsertSource,
}

/// Privileges of GRANT/REVOKE, as StarRocks names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantTarget {
    /// `GRANT role TO user`: built-in roles are `root`, `db_admin`, `user_admin`, `public`,
    /// and Cairn's read-only role `read_only`.
    Role { role: String },
    /// `GRANT SELECT, INSERT ON db.table TO user`; `*` stands for all.
    Privileges {
        privileges: Vec<String>,
        database: String,
        table: String,
    },
}

/// The load properties of CREATE/ALTER ROUTINE LOAD, as written. `columns` and
/// `where_clause` use the same syntax as Stream Load's `columns` and `where` headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutineLoadDescription {
    /// `COLUMNS TERMINATED BY 'x'`.
    pub column_separator: Option<String>,
    /// `ROWS TERMINATED BY 'x'`.
    pub row_delimiter: Option<String>,
    /// The text inside `COLUMNS (...)`.
    pub columns: Option<String>,
    /// The text of the `WHERE` condition.
    pub where_clause: Option<String>,
    /// `PARTITION (p1, p2)`.
    pub partitions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `CREATE DATABASE [IF NOT EXISTS] name`.
    CreateDatabase { name: String, if_not_exists: bool },
    /// `DROP DATABASE [IF EXISTS] name [FORCE]`.
    DropDatabase { name: String, if_exists: bool },
    /// StarRocks `CREATE TABLE` (a `TableDefinition` whose `name` is `table.name`).
    CreateTable {
        table: QualifiedName,
        if_not_exists: bool,
        definition: TableDefinition,
    },
    /// `CREATE TABLE t [PROPERTIES] AS SELECT ...` (CTAS). Columns come from the query.
    CreateTableAsSelect {
        table: QualifiedName,
        if_not_exists: bool,
        /// Key, partition, distribution and properties as written; `columns` is empty.
        definition: TableDefinition,
        query: Box<Query>,
    },
    /// `DROP TABLE [IF EXISTS] name [FORCE]`.
    DropTable { table: QualifiedName, if_exists: bool },
    /// `TRUNCATE TABLE name [PARTITION (p, ...)]`.
    TruncateTable { table: QualifiedName, partitions: Vec<String> },
    /// `ALTER TABLE name op[, op...]`.
    AlterTable {
        table: QualifiedName,
        operations: Vec<AlterTableOperation>,
    },
    Insert(Insert),
    /// `DELETE FROM t [PARTITION (p)] WHERE expr`.
    Delete {
        table: QualifiedName,
        partitions: Vec<String>,
        selection: Option<Expr>,
    },
    /// `USE db` (also `USE catalog.db`, keeping only the database).
    Use { database: String },
    Set(Vec<SetAssignment>),
    ShowDatabases { filter: Option<ShowFilter> },
    /// `SHOW [FULL] TABLES [FROM db] [LIKE|WHERE]`.
    ShowTables {
        full: bool,
        database: Option<String>,
        filter: Option<ShowFilter>,
    },
    /// `SHOW [FULL] COLUMNS|FIELDS FROM t [FROM db] [LIKE|WHERE]`.
    ShowColumns {
        full: bool,
        table: QualifiedName,
        filter: Option<ShowFilter>,
    },
    /// `DESC t` / `DESCRIBE t` (also `DESC t ALL`).
    Describe { table: QualifiedName, all: bool },
    ShowCreateTable { table: QualifiedName },
    ShowCreateDatabase { name: String },
    /// `SHOW [GLOBAL|SESSION] VARIABLES [LIKE|WHERE]`.
    ShowVariables {
        scope: VariableScope,
        filter: Option<ShowFilter>,
    },
    /// `SHOW [GLOBAL|SESSION] STATUS [LIKE|WHERE]`.
    ShowStatus { filter: Option<ShowFilter> },
    ShowProcesslist { full: bool },
    /// `SHOW PARTITIONS FROM t`.
    ShowPartitions { table: QualifiedName },
    /// `SHOW TABLET FROM t` / `SHOW TABLETS FROM t`.
    ShowTablets { table: QualifiedName },
    ShowBackends,
    ShowFrontends,
    /// `ALTER SYSTEM ADD|DROP|DECOMMISSION BACKEND "host:heartbeat_port"[, ...]`; the
    /// addresses are kept as written and checked by the FE.
    AlterSystem { operation: BackendOperation, backends: Vec<String> },
    /// `SHOW DATA [FROM db.t]`.
    ShowData { table: Option<QualifiedName> },
    /// `SHOW ENGINES`, `SHOW CHARSET`, `SHOW COLLATION`, `SHOW WARNINGS`, `SHOW ERRORS`:
    /// statements connectors send whose answers are fixed tables. `what` is one of
    /// `engines`, `charset` (also for `CHARACTER SET`), `collation`, `warnings`, `errors`,
    /// `plugins`, `table status` and `index` (also for `INDEXES` and `KEYS`); their
    /// `FROM db`, `FROM table` and `LIMIT` arguments are accepted and dropped.
    ShowFixed { what: String, filter: Option<ShowFilter> },
    /// `SHOW GRANTS [FOR user]`.
    ShowGrants { user: Option<UserIdentity> },
    ShowUsers,
    /// `SHOW LOAD [FROM db] [WHERE ...] [LIMIT n]`: recent loads (Stream Load, INSERT,
    /// Routine Load batches) of the database.
    ShowLoad {
        database: Option<String>,
        filter: Option<ShowFilter>,
        limit: Option<u64>,
    },
    /// `CREATE ROUTINE LOAD [db.]job ON table [load properties] [PROPERTIES (...)]
    /// FROM KAFKA (...)`. Property names are lower-cased.
    CreateRoutineLoad {
        job: QualifiedName,
        table: String,
        description: RoutineLoadDescription,
        properties: BTreeMap<String, String>,
        /// `KAFKA`, the one source there is.
        source_type: String,
        source_properties: BTreeMap<String, String>,
    },
    /// `ALTER ROUTINE LOAD FOR [db.]job [load properties] [PROPERTIES (...)]
    /// [FROM KAFKA (...)]`: only on a paused job.
    AlterRoutineLoad {
        job: QualifiedName,
        description: RoutineLoadDescription,
        properties: BTreeMap<String, String>,
        source_properties: BTreeMap<String, String>,
    },
    /// `PAUSE ROUTINE LOAD FOR job`; `None` for `PAUSE ALL ROUTINE LOAD`.
    PauseRoutineLoad { job: Option<QualifiedName> },
    /// `RESUME ROUTINE LOAD FOR job`; `None` for `RESUME ALL ROUTINE LOAD`.
    ResumeRoutineLoad { job: Option<QualifiedName> },
    /// `STOP ROUTINE LOAD FOR job`: the job ends for good.
    StopRoutineLoad { job: QualifiedName },
    /// `SHOW [ALL] ROUTINE LOAD [FOR [db.]job | FROM db] [WHERE ...] [LIMIT n]`; `ALL`
    /// includes stopped and cancelled jobs.
    ShowRoutineLoad {
        all: bool,
        job: Option<QualifiedName>,
        database: Option<String>,
        filter: Option<ShowFilter>,
        limit: Option<u64>,
    },
    /// `SHOW ROUTINE LOAD TASK [FROM db] WHERE JobName = 'job'`.
    ShowRoutineLoadTask {
        database: Option<String>,
        filter: Option<ShowFilter>,
    },
    /// `CREATE USER [IF NOT EXISTS] 'u'@'h' [IDENTIFIED BY 'p'] [DEFAULT ROLE r]`.
    CreateUser {
        user: UserIdentity,
        if_not_exists: bool,
        password: Option<String>,
        default_role: Option<String>,
    },
    /// `ALTER USER 'u'@'h' IDENTIFIED BY 'p'`.
    AlterUser { user: UserIdentity, password: String },
    /// `DROP USER [IF EXISTS] 'u'@'h'`.
    DropUser { user: UserIdentity, if_exists: bool },
    Grant { target: GrantTarget, user: UserIdentity },
    Revoke { target: GrantTarget, user: UserIdentity },
    /// `KILL [CONNECTION|QUERY] id`.
    Kill { connection_id: u64, query_only: bool },
    /// `EXPLAIN [VERBOSE|COSTS|ANALYZE] query`.
    Explain { analyze: bool, verbose: bool, query: Box<Statement> },
    /// `ADMIN ...`, `ANALYZE TABLE ...` and other maintenance statements that Cairn accepts
    /// without doing anything, because its storage needs no such step. The text names it.
    NoOp { statement: String },
    /// `BEGIN`, `START TRANSACTION`, `COMMIT`, `ROLLBACK`: StarRocks runs every statement in
    /// its own transaction and accepts these for driver compatibility.
    TransactionControl,
    /// A query or anything else for DataFusion, already rewritten for MySQL functions.
    Query(Box<SqlStatement>),
}

/// What `ALTER SYSTEM` does to the listed backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendOperation {
    Add,
    Drop,
    Decommission,
}
