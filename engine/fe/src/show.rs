//! SHOW statements, DESCRIBE and COM_FIELD_LIST: fixed-shape answers built from the catalog,
//! in StarRocks' column names. `LIKE` and `WHERE` filters run through DataFusion over the
//! built rows, so any expression MySQL allows there works.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::MemTable;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, UnaryOperator, Value};
use futures::StreamExt;

use cairn_common::{
    ColumnType, DefaultValue, DistributionDesc, ErrorCode, PartitionDesc, TableDefinition,
};
use cairn_mysql::{Column, QueryResponse};
use cairn_sql::ast::{QualifiedName, ShowFilter, Statement};

use crate::catalog::Table;
use crate::error::FeError;
use crate::partition::format_key;
use crate::session::FeSession;
use crate::variables::VariableValue;

pub(crate) type Row = Vec<Option<String>>;

pub(crate) fn cell(value: impl ToString) -> Option<String> {
    Some(value.to_string())
}

/// The value of a `SET` right-hand side: numbers, strings, and bare words like `ON`.
pub fn expression_value(expr: &SqlExpr) -> Option<VariableValue> {
    match expr {
        SqlExpr::Value(value) => match &value.value {
            Value::Number(number, _) => Some(
                number
                    .parse::<i64>()
                    .map(VariableValue::Integer)
                    .unwrap_or_else(|_| VariableValue::Text(number.clone())),
            ),
            Value::SingleQuotedString(text) | Value::DoubleQuotedString(text) => Some(VariableValue::Text(text.clone())),
            Value::Boolean(flag) => Some(VariableValue::Integer(i64::from(*flag))),
            Value::Null => None,
            other => Some(VariableValue::Text(other.to_string())),
        },
        SqlExpr::Identifier(identifier) => Some(VariableValue::Text(identifier.value.clone())),
        SqlExpr::UnaryOp { op: UnaryOperator::Minus, expr } => match expression_value(expr) {
            Some(VariableValue::Integer(number)) => Some(VariableValue::Integer(-number)),
            Some(VariableValue::Text(text)) => Some(VariableValue::Text(format!("-{text}"))),
            None => None,
        },
        other => Some(VariableValue::Text(other.to_string())),
    }
}

/// A result set of text columns.
pub(crate) fn text_result(columns: &[&str], rows: Vec<Row>) -> Result<QueryResponse, FeError> {
    let batch = text_batch(columns, rows)?;
    let mysql_columns = batch.schema().fields().iter().map(|field| Column::from_arrow_field(field)).collect();
    Ok(QueryResponse::ResultSet {
        columns: mysql_columns,
        batches: futures::stream::once(async move { Ok(batch) }).boxed(),
    })
}

fn text_batch(columns: &[&str], rows: Vec<Row>) -> Result<RecordBatch, FeError> {
    let schema = Arc::new(Schema::new(
        columns.iter().map(|name| Field::new(*name, DataType::Utf8, true)).collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = (0..columns.len())
        .map(|index| {
            Arc::new(StringArray::from(
                rows.iter().map(|row| row.get(index).cloned().flatten()).collect::<Vec<_>>(),
            )) as ArrayRef
        })
        .collect();
    RecordBatch::try_new(schema, arrays).map_err(|error| FeError::internal(format!("failed to build SHOW result: {error}")))
}

fn like_matches(pattern: &str, text: &str) -> bool {
    fn matches(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('%', rest)) => (0..=text.len()).any(|skip| matches(rest, &text[skip..])),
            Some(('_', rest)) => !text.is_empty() && matches(rest, &text[1..]),
            Some(('\\', rest)) if !rest.is_empty() => {
                !text.is_empty() && rest[0].eq_ignore_ascii_case(&text[0]) && matches(&rest[1..], &text[1..])
            }
            Some((first, rest)) => !text.is_empty() && first.eq_ignore_ascii_case(&text[0]) && matches(rest, &text[1..]),
        }
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    matches(&pattern, &text)
}

/// Applies `LIKE` (to the first column) or `WHERE` (through DataFusion).
pub(crate) async fn filtered(columns: &[&str], rows: Vec<Row>, filter: Option<ShowFilter>) -> Result<QueryResponse, FeError> {
    text_result(columns, filter_rows(columns, rows, filter).await?)
}

/// The rows a SHOW statement's `LIKE` (on the first column) or `WHERE` keeps.
pub(crate) async fn filter_rows(columns: &[&str], rows: Vec<Row>, filter: Option<ShowFilter>) -> Result<Vec<Row>, FeError> {
    match filter {
        None => Ok(rows),
        Some(ShowFilter::Like(pattern)) => Ok(rows
            .into_iter()
            .filter(|row| row.first().cloned().flatten().is_some_and(|value| like_matches(&pattern, &value)))
            .collect()),
        Some(ShowFilter::Where(expr)) => {
            let lower: Vec<String> = columns.iter().map(|name| name.to_lowercase()).collect();
            let lower_refs: Vec<&str> = lower.iter().map(String::as_str).collect();
            let batch = text_batch(&lower_refs, rows)?;
            let context = SessionContext::new();
            let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
            context.register_table("show_result", Arc::new(table))?;
            let sql = format!("SELECT * FROM show_result WHERE {expr}");
            let result = context.sql(&sql).await?.collect().await?;
            let mut kept = Vec::new();
            for batch in result {
                for row in 0..batch.num_rows() {
                    kept.push(
                        (0..batch.num_columns())
                            .map(|column| {
                                batch
                                    .column(column)
                                    .as_any()
                                    .downcast_ref::<StringArray>()
                                    .and_then(|array| (!datafusion::arrow::array::Array::is_null(array, row)).then(|| array.value(row).to_string()))
                            })
                            .collect(),
                    );
                }
            }
            Ok(kept)
        }
    }
}

fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn quote_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `SHOW CREATE TABLE`, as StarRocks prints it and as Cairn parses it back.
pub fn create_table_statement(table: &Table) -> String {
    let definition: &TableDefinition = &table.definition;
    let mut text = format!("CREATE TABLE {} (\n", quote_identifier(table.name()));
    let column_lines: Vec<String> = definition
        .columns
        .iter()
        .map(|column| {
            let mut line = format!(
                "  {} {} {}",
                quote_identifier(&column.name),
                column.column_type,
                if column.nullable { "NULL" } else { "NOT NULL" }
            );
            match &column.default {
                Some(DefaultValue::Literal(value)) => line.push_str(&format!(" DEFAULT {}", quote_string(value))),
                Some(DefaultValue::CurrentTimestamp) => line.push_str(" DEFAULT CURRENT_TIMESTAMP"),
                Some(DefaultValue::Null) | None => {}
            }
            line.push_str(&format!(" COMMENT {}", quote_string(&column.comment)));
            line
        })
        .collect();
    text.push_str(&column_lines.join(",\n"));
    text.push_str("\n) ENGINE=OLAP \n");
    let keys: Vec<String> = definition.key_columns.iter().map(|key| quote_identifier(key)).collect();
    text.push_str(&format!("{}({})\n", definition.keys_type.keyword(), keys.join(", ")));
    if !definition.comment.is_empty() {
        text.push_str(&format!("COMMENT {}\n", quote_string(&definition.comment)));
    }
    match &definition.partition {
        PartitionDesc::Unpartitioned => {}
        PartitionDesc::TimeExpression { column, unit } => {
            text.push_str(&format!("PARTITION BY date_trunc('{unit}', {})\n", quote_identifier(column)));
        }
        PartitionDesc::Range { columns, .. } => {
            let column_type = columns
                .first()
                .and_then(|name| definition.column(name))
                .map(|column| column.column_type)
                .unwrap_or(ColumnType::BigInt);
            let mut partitions: Vec<_> = table.partitions.values().collect();
            partitions.sort_by_key(|partition| partition.range.map(|range| range.lower));
            let parts: Vec<String> = partitions
                .iter()
                .filter_map(|partition| {
                    let range = partition.range?;
                    Some(format!(
                        "PARTITION {} VALUES [(\"{}\"), (\"{}\"))",
                        quote_identifier(&partition.name),
                        format_key(column_type, range.lower),
                        format_key(column_type, range.upper)
                    ))
                })
                .collect();
            let column_list: Vec<String> = columns.iter().map(|name| quote_identifier(name)).collect();
            text.push_str(&format!("PARTITION BY RANGE({})\n({})\n", column_list.join(", "), parts.join(",\n")));
        }
    }
    match &definition.distribution {
        Some(DistributionDesc::Hash { columns, .. }) => {
            let columns: Vec<String> = columns.iter().map(|name| quote_identifier(name)).collect();
            text.push_str(&format!("DISTRIBUTED BY HASH({}) BUCKETS {} \n", columns.join(", "), table.bucket_count));
        }
        _ => text.push_str(&format!("DISTRIBUTED BY RANDOM BUCKETS {} \n", table.bucket_count)),
    }
    let mut properties = definition.properties.clone();
    properties.insert("replication_num".to_string(), table.replication_num.to_string());
    let property_lines: Vec<String> = properties
        .iter()
        .map(|(key, value)| format!("{} = {}", quote_string(key), quote_string(value)))
        .collect();
    text.push_str(&format!("PROPERTIES (\n{}\n);", property_lines.join(",\n")));
    text
}

fn describe_rows(table: &Table) -> Vec<Row> {
    table
        .columns()
        .iter()
        .map(|column| {
            vec![
                cell(&column.name),
                cell(column.column_type.describe()),
                cell(if column.nullable { "YES" } else { "NO" }),
                cell(if column.is_key { "true" } else { "false" }),
                match &column.default {
                    Some(DefaultValue::Literal(value)) => cell(value),
                    Some(DefaultValue::CurrentTimestamp) => cell("CURRENT_TIMESTAMP"),
                    _ => None,
                },
                cell(""),
            ]
        })
        .collect()
}

/// StarRocks answers SHOW COLUMNS like DESCRIBE: key as `true`/`false`, no privileges.
fn show_columns_rows(table: &Table, full: bool) -> Vec<Row> {
    describe_rows(table)
        .into_iter()
        .zip(table.columns())
        .map(|(row, column)| {
            if full {
                let mut full_row = row;
                full_row.insert(2, None);
                full_row.push(cell(""));
                full_row.push(cell(&column.comment));
                full_row
            } else {
                row
            }
        })
        .collect()
}

/// COM_FIELD_LIST: column definitions of a table, which the mysql CLI asks for after `USE`.
pub fn field_list(session: &FeSession, table: &str, wildcard: &str) -> Result<Vec<Column>, FeError> {
    let database = session.database().ok_or_else(FeError::no_database_selected)?.to_string();
    let (_, table) = session.frontend().table_snapshot(&database, table)?;
    let wildcard = if wildcard.is_empty() { "%" } else { wildcard };
    Ok(table
        .columns()
        .iter()
        .filter(|column| like_matches(wildcard, &column.name))
        .map(|column| {
            let mut mysql_column = Column::from_arrow_field(&column.column_type.to_arrow_field(&column.name, column.nullable));
            mysql_column.schema = database.clone();
            mysql_column.table = table.name().to_string();
            mysql_column.org_table = table.name().to_string();
            mysql_column
        })
        .collect())
}

fn table_of(session: &FeSession, name: &QualifiedName) -> Result<(String, Table), FeError> {
    let database = session.database_for(name)?;
    let (_, table) = session.frontend().table_snapshot(&database, &name.name)?;
    Ok((database, table))
}

pub(crate) fn millis_text(millis: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(millis).map(|time| time.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string())
}

/// A time in milliseconds since the epoch as DATETIME text.
pub fn millis_to_datetime(millis: i64) -> String {
    millis_text(millis).unwrap_or_default()
}

pub async fn show(session: &mut FeSession, statement: Statement) -> Result<QueryResponse, FeError> {
    let frontend = Arc::clone(session.frontend());
    match statement {
        Statement::ShowDatabases { filter } => {
            let mut rows: Vec<Row> = vec![vec![cell("information_schema")]];
            rows.extend(frontend.metadata.read().databases.keys().map(|name| vec![cell(name)]));
            filtered(&["Database"], rows, filter).await
        }
        Statement::ShowTables { full, database, filter } => {
            let database = match database {
                Some(database) => database,
                None => session.database().ok_or_else(FeError::no_database_selected)?.to_string(),
            };
            let names: Vec<String> = if database.eq_ignore_ascii_case("information_schema") {
                ["schemata", "tables", "columns", "views", "engines", "character_sets", "collations", "statistics", "table_constraints"]
                    .iter()
                    .map(|name| name.to_string())
                    .collect()
            } else {
                let catalog = frontend.metadata.read();
                let entry = catalog.database(&database).ok_or_else(|| FeError::unknown_database(&database))?;
                entry.tables.keys().cloned().collect()
            };
            let header = format!("Tables_in_{database}");
            if full {
                let rows = names.into_iter().map(|name| vec![cell(name), cell("BASE TABLE")]).collect();
                filtered(&[header.as_str(), "Table_type"], rows, filter).await
            } else {
                let rows = names.into_iter().map(|name| vec![cell(name)]).collect();
                filtered(&[header.as_str()], rows, filter).await
            }
        }
        Statement::ShowColumns { full, table, filter } => {
            let (_, table) = table_of(session, &table)?;
            if full {
                filtered(
                    &["Field", "Type", "Collation", "Null", "Key", "Default", "Extra", "Privileges", "Comment"],
                    show_columns_rows(&table, true),
                    filter,
                )
                .await
            } else {
                filtered(&["Field", "Type", "Null", "Key", "Default", "Extra"], show_columns_rows(&table, false), filter).await
            }
        }
        Statement::Describe { table, .. } => {
            let (_, table) = table_of(session, &table)?;
            text_result(&["Field", "Type", "Null", "Key", "Default", "Extra"], describe_rows(&table))
        }
        Statement::ShowCreateTable { table } => {
            let (_, table) = table_of(session, &table)?;
            text_result(&["Table", "Create Table"], vec![vec![cell(table.name()), cell(create_table_statement(&table))]])
        }
        Statement::ShowCreateDatabase { name } => {
            frontend.database_id(&name)?;
            text_result(
                &["Database", "Create Database"],
                vec![vec![cell(&name), cell(format!("CREATE DATABASE {}", quote_identifier(&name)))]],
            )
        }
        Statement::ShowVariables { scope, filter } => {
            let variables = match scope {
                cairn_sql::ast::VariableScope::Global => frontend.global_variables.read().clone(),
                cairn_sql::ast::VariableScope::Session => session.variables().read().system.clone(),
            };
            let rows = variables.iter().map(|(name, value)| vec![cell(name), cell(crate::variables::show_value(name, value))]).collect();
            filtered(&["Variable_name", "Value"], rows, filter).await
        }
        Statement::ShowStatus { filter } => {
            let uptime = (chrono::Utc::now() - frontend.start_time).num_seconds();
            let rows = vec![
                vec![cell("Uptime"), cell(uptime)],
                vec![cell("Threads_connected"), cell(frontend.processes.list().len())],
            ];
            filtered(&["Variable_name", "Value"], rows, filter).await
        }
        Statement::ShowProcesslist { .. } => {
            let rows = frontend
                .processes
                .list()
                .into_iter()
                .map(|process| {
                    vec![
                        cell(process.connection_id),
                        cell(&process.user),
                        cell(&process.host),
                        process.database.clone(),
                        cell(&process.command),
                        cell(process.started.elapsed().as_secs()),
                        cell(if process.command == "Query" { "RUNNING" } else { "" }),
                        process.info.clone(),
                    ]
                })
                .collect();
            text_result(&["Id", "User", "Host", "Db", "Command", "Time", "State", "Info"], rows)
        }
        Statement::ShowPartitions { table } => {
            let (_, table) = table_of(session, &table)?;
            let statistics = frontend.backend.tablet_statistics().await;
            let partition_column = match &table.definition.partition {
                PartitionDesc::Range { columns, .. } => columns.join(", "),
                PartitionDesc::TimeExpression { column, .. } => column.clone(),
                PartitionDesc::Unpartitioned => String::new(),
            };
            let column_type = table
                .definition
                .column(&partition_column)
                .map(|column| column.column_type)
                .unwrap_or(ColumnType::BigInt);
            let distribution = match &table.definition.distribution {
                Some(DistributionDesc::Hash { columns, .. }) => columns.join(", "),
                _ => "RANDOM".to_string(),
            };
            let rows = table
                .partitions
                .values()
                .map(|partition| {
                    let (rows, size) = partition.tablets.iter().fold((0u64, 0u64), |(rows, size), tablet| {
                        statistics
                            .iter()
                            .find(|stat| stat.tablet_id == tablet.id)
                            .map(|stat| (rows + stat.row_count, size + stat.data_size))
                            .unwrap_or((rows, size))
                    });
                    let range = partition.range.map(|range| {
                        format!(
                            "[types: [{column_type}]; keys: [{}]; ..types: [{column_type}]; keys: [{}]; )",
                            format_key(column_type, range.lower),
                            format_key(column_type, range.upper)
                        )
                    });
                    vec![
                        cell(partition.id),
                        cell(&partition.name),
                        cell(partition.visible_version),
                        millis_text(partition.visible_version_time),
                        cell(0),
                        cell("NORMAL"),
                        cell(&partition_column),
                        range.or_else(|| cell("")),
                        cell(&distribution),
                        cell(partition.tablets.len()),
                        cell(table.replication_num),
                        cell("HDD"),
                        cell("9999-12-31 23:59:59"),
                        None,
                        cell(format!("{size}B")),
                        cell("false"),
                        cell(rows),
                    ]
                })
                .collect();
            text_result(
                &[
                    "PartitionId", "PartitionName", "VisibleVersion", "VisibleVersionTime", "VisibleVersionHash", "State",
                    "PartitionKey", "Range", "DistributionKey", "Buckets", "ReplicationNum", "StorageMedium", "CooldownTime",
                    "LastConsistencyCheckTime", "DataSize", "IsInMemory", "RowCount",
                ],
                rows,
            )
        }
        Statement::ShowTablets { table } => {
            let (_, table) = table_of(session, &table)?;
            let statistics = frontend.backend.tablet_statistics().await;
            let mut rows = Vec::new();
            for partition in table.partitions.values() {
                for tablet in &partition.tablets {
                    let stat = statistics.iter().find(|stat| stat.tablet_id == tablet.id);
                    for backend in &tablet.backends {
                        rows.push(vec![
                            cell(tablet.id),
                            cell(tablet.id),
                            cell(backend),
                            cell(&partition.name),
                            cell(partition.visible_version),
                            cell(stat.map(|stat| stat.max_version).unwrap_or(0)),
                            cell(stat.map(|stat| stat.data_size).unwrap_or(0)),
                            cell(stat.map(|stat| stat.row_count).unwrap_or(0)),
                            cell("NORMAL"),
                            cell(stat.map(|stat| stat.rowset_count).unwrap_or(0)),
                            cell(stat.map(|stat| stat.stale_rowset_count).unwrap_or(0)),
                        ]);
                    }
                }
            }
            text_result(
                &[
                    "TabletId", "ReplicaId", "BackendId", "PartitionName", "Version", "LstSuccessVersion", "DataSize",
                    "RowCount", "State", "VersionCount", "StaleVersionCount",
                ],
                rows,
            )
        }
        Statement::ShowBackends => {
            let statistics = frontend.backend.tablet_statistics().await;
            let data_size: u64 = statistics.iter().map(|stat| stat.data_size).sum();
            let catalog = frontend.metadata.read();
            let rows = catalog
                .backends
                .iter()
                .map(|backend| {
                    let alive = frontend.backend_is_alive(backend);
                    let (started, heartbeat, data, message) = if alive {
                        let now = chrono::Utc::now().timestamp_millis();
                        (millis_text(frontend.start_time.timestamp_millis()), millis_text(now), format!("{data_size} B"), "")
                    } else {
                        (cell(""), cell(""), "0 B".to_string(), crate::membership::REMOTE_BACKEND_MESSAGE)
                    };
                    vec![
                        cell(backend.id), cell(&backend.host), cell(backend.heartbeat_port), cell(frontend.backend.be_port()), cell(backend.http_port),
                        cell(8060), started, heartbeat,
                        cell(alive), cell(backend.decommissioned), cell("false"),
                        cell(crate::membership::tablet_count(&catalog, backend)), cell(data),
                        cell(""), cell(""), cell(""), cell(""), cell(message), cell(env!("CARGO_PKG_VERSION")), cell("{}"),
                        cell(""), cell(""), cell(std::thread::available_parallelism().map(usize::from).unwrap_or(1)), cell(0),
                        cell("0.00 %"), cell("0.0 %"),
                    ]
                })
                .collect();
            text_result(
                &[
                    "BackendId", "IP", "HeartbeatPort", "BePort", "HttpPort", "BrpcPort", "LastStartTime", "LastHeartbeat", "Alive",
                    "SystemDecommissioned", "ClusterDecommissioned", "TabletNum", "DataUsedCapacity", "AvailCapacity",
                    "TotalCapacity", "UsedPct", "MaxDiskUsedPct", "ErrMsg", "Version", "Status", "DataTotalCapacity", "DataUsedPct",
                    "CpuCores", "NumRunningQueries", "MemUsedPct", "CpuUsedPct",
                ],
                rows,
            )
        }
        Statement::ShowFrontends => {
            let config = &frontend.config;
            text_result(
                &[
                    "Name", "IP", "EditLogPort", "HttpPort", "QueryPort", "RpcPort", "Role", "ClusterId", "Join", "Alive",
                    "ReplayedJournalId", "LastHeartbeat", "IsHelper", "ErrMsg", "StartTime", "Version",
                ],
                vec![vec![
                    cell(format!("{}_{}", config.host, config.edit_log_port)), cell(&config.host), cell(config.edit_log_port),
                    cell(config.http_port), cell(config.query_port), cell(config.rpc_port), cell("LEADER"), cell(1), cell("true"),
                    cell("true"), cell(0), millis_text(chrono::Utc::now().timestamp_millis()), cell("true"), cell(""),
                    millis_text(frontend.start_time.timestamp_millis()), cell(env!("CARGO_PKG_VERSION")),
                ]],
            )
        }
        Statement::ShowData { table } => {
            let statistics = frontend.backend.tablet_statistics().await;
            let database = match &table {
                Some(name) => session.database_for(name)?,
                None => session.database().ok_or_else(FeError::no_database_selected)?.to_string(),
            };
            let catalog = frontend.metadata.read();
            let entry = catalog.database(&database).ok_or_else(|| FeError::unknown_database(&database))?;
            let mut rows = Vec::new();
            for candidate in entry.tables.values() {
                if table.as_ref().is_some_and(|name| !name.name.eq_ignore_ascii_case(candidate.name())) {
                    continue;
                }
                let ids = candidate.tablet_ids();
                let (size, row_count) = statistics
                    .iter()
                    .filter(|stat| ids.contains(&stat.tablet_id))
                    .fold((0, 0), |(size, rows), stat| (size + stat.data_size, rows + stat.row_count));
                rows.push(vec![cell(candidate.name()), cell(format!("{size} B")), cell(ids.len()), cell(row_count)]);
            }
            text_result(&["TableName", "Size", "ReplicaCount", "RowCount"], rows)
        }
        Statement::ShowFixed { what, filter } => match what.as_str() {
            "engines" => filtered(
                &["Engine", "Support", "Comment", "Transactions", "XA", "Savepoints"],
                vec![vec![cell("OLAP"), cell("DEFAULT"), cell("Default storage engine of StarRocks"), cell("YES"), cell("NO"), cell("NO")]],
                filter,
            )
            .await,
            "charset" | "character set" => filtered(
                &["Charset", "Description", "Default collation", "Maxlen"],
                vec![
                    vec![cell("utf8"), cell("UTF-8 Unicode"), cell("utf8_general_ci"), cell(3)],
                    vec![cell("utf8mb4"), cell("UTF-8 Unicode"), cell("utf8mb4_general_ci"), cell(4)],
                ],
                filter,
            )
            .await,
            "collation" => filtered(
                &["Collation", "Charset", "Id", "Default", "Compiled", "Sortlen"],
                vec![
                    vec![cell("utf8_general_ci"), cell("utf8"), cell(33), cell("Yes"), cell("Yes"), cell(1)],
                    vec![cell("utf8mb4_general_ci"), cell("utf8mb4"), cell(45), cell("Yes"), cell("Yes"), cell(1)],
                ],
                filter,
            )
            .await,
            "warnings" | "errors" => text_result(&["Level", "Code", "Message"], Vec::new()),
            "plugins" => text_result(&["Name", "Status", "Type", "Library", "License"], Vec::new()),
            "table status" => {
                let database = session.database().ok_or_else(FeError::no_database_selected)?.to_string();
                let rows = {
                    let catalog = frontend.metadata.read();
                    let entry = catalog.database(&database).ok_or_else(|| FeError::unknown_database(&database))?;
                    entry
                        .tables
                        .values()
                        .map(|table| {
                            vec![
                                cell(table.name()), cell("StarRocks"), cell(10), cell("Dynamic"), cell(0), cell(0), cell(0), None,
                                cell(0), cell(0), None, millis_text(table.create_time), millis_text(table.update_time()), None,
                                cell("utf8_general_ci"), None, cell(""), cell(&table.definition.comment),
                            ]
                        })
                        .collect()
                };
                filtered(
                    &[
                        "Name", "Engine", "Version", "Row_format", "Rows", "Avg_row_length", "Data_length", "Max_data_length",
                        "Index_length", "Data_free", "Auto_increment", "Create_time", "Update_time", "Check_time", "Collation",
                        "Checksum", "Create_options", "Comment",
                    ],
                    rows,
                    filter,
                )
                .await
            }
            other => Err(FeError::not_supported(format!("SHOW {}", other.to_uppercase()))),
        },
        Statement::ShowGrants { user } => {
            let (name, host) = match user {
                Some(user) => (user.name, user.host),
                None => (session.user().to_string(), "%".to_string()),
            };
            let catalog = frontend.metadata.read();
            let entry = catalog
                .users
                .iter()
                .find(|candidate| candidate.name == name && (candidate.host == host || host == "%"))
                .ok_or_else(|| FeError::user(ErrorCode::CANNOT_USER, format!("There is no such grant defined for user '{name}' on host '{host}'")))?;
            let mut grants: Vec<String> = entry.roles.iter().map(|role| format!("GRANT '{role}' TO '{}'@'{}'", entry.name, entry.host)).collect();
            grants.extend(
                entry
                    .privileges
                    .iter()
                    .map(|(database, table, privilege)| format!("GRANT {privilege} ON {database}.{table} TO '{}'@'{}'", entry.name, entry.host)),
            );
            text_result(
                &["UserIdentity", "Catalog", "Grants"],
                grants.into_iter().map(|grant| vec![cell(format!("'{}'@'{}'", entry.name, entry.host)), cell("default_catalog"), cell(grant)]).collect(),
            )
        }
        Statement::ShowLoad { database, filter, limit } => {
            let database = match database {
                Some(database) => database,
                None => session.database().ok_or_else(FeError::no_database_selected)?.to_string(),
            };
            if frontend.metadata.read().database(&database).is_none() {
                return Err(FeError::unknown_database(&database));
            }
            let rows: Vec<Row> = frontend
                .loads
                .history()
                .into_iter()
                .filter(|record| record.database == database)
                .map(|record| {
                    let etl_info = format!(
                        "unselected.rows={}; dpp.abnorm.ALL={}; dpp.norm.ALL={}",
                        record.unselected_rows, record.filtered_rows, record.loaded_rows
                    );
                    let job_details = serde_json::json!({
                        "ScannedRows": record.total_rows,
                        "ScannedBytes": record.load_bytes,
                        "FilteredRows": record.filtered_rows,
                        "UnselectedRows": record.unselected_rows,
                        "SinkRows": record.loaded_rows,
                        "Table": record.table,
                        "User": record.user,
                    });
                    vec![
                        cell(record.transaction_id), cell(&record.label), cell(record.state),
                        cell(if record.state == "CANCELLED" { "ETL:N/A; LOAD:N/A" } else { "ETL:100%; LOAD:100%" }),
                        cell(record.load_type), cell("NORMAL"), cell(record.total_rows), cell(record.filtered_rows),
                        cell(record.unselected_rows), cell(record.loaded_rows), cell(etl_info),
                        cell(format!("resource:N/A; timeout(s):600; max_filter_ratio:N/A; table:{}", record.table)),
                        (!record.error_message.is_empty()).then(|| record.error_message.clone()),
                        millis_text(record.create_time_ms), millis_text(record.create_time_ms), millis_text(record.create_time_ms),
                        millis_text(record.create_time_ms), millis_text(record.finish_time_ms),
                        (!record.error_url.is_empty()).then(|| record.error_url.clone()),
                        cell(job_details.to_string()),
                    ]
                })
                .collect();
            let columns = [
                "JobId", "Label", "State", "Progress", "Type", "Priority", "ScanRows", "FilteredRows", "UnselectedRows",
                "SinkRows", "EtlInfo", "TaskInfo", "ErrorMsg", "CreateTime", "EtlStartTime", "EtlFinishTime",
                "LoadStartTime", "LoadFinishTime", "URL", "JobDetails",
            ];
            // LIMIT counts the rows WHERE keeps: the newest of them.
            let mut rows = filter_rows(&columns, rows, filter).await?;
            if let Some(limit) = limit {
                let skip = rows.len().saturating_sub(limit as usize);
                rows.drain(..skip);
            }
            text_result(&columns, rows)
        }
        Statement::ShowRoutineLoad { all, job, database, filter, limit } => {
            let database = match (&job, database) {
                (Some(job), _) => session.database_for(job)?,
                (None, Some(database)) => database,
                (None, None) => session.database().ok_or_else(FeError::no_database_selected)?.to_string(),
            };
            crate::routine_load::show_routine_load(&frontend, all, &database, job.as_ref().map(|job| job.name.as_str()), filter, limit)
                .await
        }
        Statement::ShowRoutineLoadTask { database, filter } => {
            let database = match database {
                Some(database) => database,
                None => session.database().ok_or_else(FeError::no_database_selected)?.to_string(),
            };
            crate::routine_load::show_routine_load_tasks(&frontend, &database, filter).await
        }
        Statement::ShowUsers => {
            let rows = frontend
                .metadata
                .read()
                .users
                .iter()
                .map(|user| vec![cell(format!("'{}'@'{}'", user.name, user.host))])
                .collect();
            text_result(&["User"], rows)
        }
        other => Err(FeError::not_supported(format!("{other:?}").split(['(', ' ', '{']).next().unwrap_or("statement").to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_is_case_insensitive_with_wildcards() {
        assert!(like_matches("time%", "time_zone"));
        assert!(like_matches("TIME\\_ZONE", "time_zone"));
        assert!(!like_matches("time\\_zone", "timezzone"));
        assert!(like_matches("%comment", "version_comment"));
        assert!(like_matches("_", "a"));
        assert!(!like_matches("_", ""));
    }
}
