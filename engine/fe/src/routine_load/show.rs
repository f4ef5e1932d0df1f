//! SHOW [ALL] ROUTINE LOAD and SHOW ROUTINE LOAD TASK, with StarRocks' columns.

use std::collections::BTreeMap;

use cairn_mysql::QueryResponse;
use cairn_sql::ShowFilter;
use serde_json::json;

use super::job::{RoutineLoadJob, progress_text};
use super::{JobRuntime, find_job};
use crate::error::FeError;
use crate::frontend::Frontend;
use crate::show::{Row, cell, filter_rows, filtered, millis_text, text_result};

const ROUTINE_LOAD_COLUMNS: &[&str] = &[
    "Id",
    "Name",
    "CreateTime",
    "PauseTime",
    "EndTime",
    "DbName",
    "TableName",
    "State",
    "DataSourceType",
    "CurrentTaskNum",
    "JobProperties",
    "DataSourceProperties",
    "CustomProperties",
    "Statistic",
    "Progress",
    "TimestampProgress",
    "ReasonOfStateChanged",
    "ErrorLogUrls",
    "TrackingSQL",
    "OtherMsg",
    "LatestSourcePosition",
    "OffsetLag",
];

/// librdkafka settings whose values are secrets.
fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("password") || key.contains("secret") || key.ends_with(".key") || key.contains("key.pem")
}

fn offsets_json(offsets: &BTreeMap<i32, String>) -> String {
    let map: serde_json::Map<String, serde_json::Value> = offsets
        .iter()
        .map(|(partition, offset)| (partition.to_string(), serde_json::Value::String(offset.clone())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

fn job_row(database: &str, job: &RoutineLoadJob, runtime: &JobRuntime) -> Row {
    let description = &job.description;
    let job_properties = json!({
        "partitions": if description.partitions.is_empty() { "*".to_string() } else { description.partitions.join(",") },
        "columnToColumnExpr": description.columns.clone().unwrap_or_else(|| "*".to_string()),
        "whereExpr": description.where_clause.clone().unwrap_or_else(|| "*".to_string()),
        "columnSeparator": description.column_separator.clone().unwrap_or_else(|| "','".to_string()),
        "rowDelimiter": description.row_delimiter.clone().unwrap_or_else(|| "'\\n'".to_string()),
        "format": job.format(),
        "jsonpaths": job.properties.get("jsonpaths").cloned().unwrap_or_default(),
        "json_root": job.properties.get("json_root").cloned().unwrap_or_default(),
        "strip_outer_array": job.properties.get("strip_outer_array").cloned().unwrap_or_else(|| "false".to_string()),
        "strict_mode": job.properties.get("strict_mode").cloned().unwrap_or_else(|| "false".to_string()),
        "timezone": job.properties.get("timezone").cloned().unwrap_or_else(|| "Asia/Shanghai".to_string()),
        "desireTaskConcurrentNum": job.desired_concurrent_number().to_string(),
        "maxBatchIntervalS": job.max_batch_interval().as_secs().to_string(),
        "maxBatchRows": job.max_batch_rows().to_string(),
        "maxBatchSizeBytes": job.max_batch_size().to_string(),
        "maxErrorNum": job.max_error_number().to_string(),
        "maxFilterRatio": job.max_filter_ratio().to_string(),
        "taskTimeoutSecond": job.task_timeout().as_secs().to_string(),
        "taskConsumeSecond": job.batch_consume_time().as_secs().to_string(),
    });
    let partitions: Vec<i32> = match &job.kafka.partitions {
        Some(partitions) => partitions.clone(),
        None => job.progress.keys().copied().collect(),
    };
    let data_source = json!({
        "brokerList": job.kafka.broker_list,
        "topic": job.kafka.topic,
        "currentKafkaPartitions": partitions.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
    });
    let mut custom: serde_json::Map<String, serde_json::Value> = job
        .kafka
        .client_properties
        .iter()
        .map(|(key, value)| {
            let shown = if is_secret(key) { "******".to_string() } else { value.clone() };
            (key.clone(), serde_json::Value::String(shown))
        })
        .collect();
    custom.insert("group.id".to_string(), serde_json::Value::String(job.kafka.group_id.clone()));
    custom.insert(
        "kafka_default_offsets".to_string(),
        serde_json::Value::String(progress_text(job.kafka.default_offset).replace("OFFSET_ZERO", "0")),
    );
    let statistics = &job.statistics;
    let seconds = (statistics.task_execute_time_ms as f64 / 1000.0).max(0.001);
    let statistic = json!({
        "receivedBytes": statistics.received_bytes,
        "errorRows": statistics.error_rows,
        "committedTaskNum": statistics.committed_task_count,
        "loadedRows": statistics.loaded_rows,
        "loadRowsRate": (statistics.loaded_rows as f64 / seconds) as u64,
        "abortedTaskNum": runtime.aborted_task_count,
        "totalRows": statistics.total_rows,
        "unselectedRows": statistics.unselected_rows,
        "receivedBytesRate": (statistics.received_bytes as f64 / seconds) as u64,
        "taskExecuteTimeMs": statistics.task_execute_time_ms,
    });
    let progress: BTreeMap<i32, String> = job
        .progress
        .iter()
        .map(|(partition, offset)| (*partition, progress_text(*offset)))
        .collect();
    let latest: BTreeMap<i32, String> = runtime
        .latest_offsets
        .iter()
        .map(|(partition, high)| (*partition, (high - 1).to_string()))
        .collect();
    let lag: BTreeMap<i32, String> = runtime
        .latest_offsets
        .iter()
        .filter_map(|(partition, high)| {
            let next = *job.progress.get(partition)?;
            (next >= 0).then(|| (*partition, (high - next).max(0).to_string()))
        })
        .collect();
    vec![
        cell(job.id),
        cell(&job.name),
        millis_text(job.create_time),
        job.pause_time.and_then(millis_text),
        job.end_time.and_then(millis_text),
        cell(database),
        cell(&job.table),
        cell(job.state.name()),
        cell("KAFKA"),
        cell(runtime.tasks.len()),
        cell(job_properties),
        cell(data_source),
        cell(serde_json::Value::Object(custom)),
        cell(statistic),
        cell(offsets_json(&progress)),
        cell("{}"),
        cell(&job.reason),
        cell(runtime.error_log_urls.join(", ")),
        cell(""),
        cell(&runtime.other_message),
        cell(offsets_json(&latest)),
        cell(offsets_json(&lag)),
    ]
}

/// `SHOW [ALL] ROUTINE LOAD [FOR job | FROM db]`: jobs of one database, or one job.
pub async fn show_routine_load(
    frontend: &Frontend,
    all: bool,
    database: &str,
    job_name: Option<&str>,
    filter: Option<ShowFilter>,
    limit: Option<u64>,
) -> Result<QueryResponse, FeError> {
    let database_id = frontend.routine_load_database(database)?;
    let jobs: Vec<RoutineLoadJob> = {
        let catalog = frontend.metadata.read();
        match job_name {
            Some(name) => {
                let job = find_job(&catalog, database_id, name)
                    .ok_or_else(|| FeError::analysis(format!("Routine load job [{name}] not found in database '{database}'")))?;
                vec![job.clone()]
            }
            None => catalog
                .routine_load_jobs
                .values()
                .filter(|job| job.database_id == database_id && (all || !job.state.is_final()))
                .cloned()
                .collect(),
        }
    };
    let rows: Vec<Row> = jobs
        .iter()
        .map(|job| job_row(database, job, &frontend.routine_loads.runtime(job.id)))
        .collect();
    let mut rows = filter_rows(ROUTINE_LOAD_COLUMNS, rows, filter).await?;
    if let Some(limit) = limit {
        rows.truncate(limit as usize);
    }
    text_result(ROUTINE_LOAD_COLUMNS, rows)
}

/// The job of `WHERE JobName = 'job'`, which SHOW ROUTINE LOAD TASK requires.
fn task_job_name(filter: Option<ShowFilter>) -> Result<String, FeError> {
    use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr, Value};
    let required = || FeError::analysis("SHOW ROUTINE LOAD TASK needs WHERE JobName = 'job name'");
    let Some(ShowFilter::Where(Expr::BinaryOp { left, op: BinaryOperator::Eq, right })) = filter else {
        return Err(required());
    };
    let Expr::Identifier(column) = *left else {
        return Err(required());
    };
    if !column.value.eq_ignore_ascii_case("JobName") {
        return Err(required());
    }
    match *right {
        Expr::Value(value) => match value.value {
            Value::SingleQuotedString(name) | Value::DoubleQuotedString(name) => Ok(name),
            _ => Err(required()),
        },
        Expr::Identifier(name) => Ok(name.value),
        _ => Err(required()),
    }
}

/// `SHOW ROUTINE LOAD TASK [FROM db] WHERE JobName = 'job'`: the job's tasks running now.
pub async fn show_routine_load_tasks(
    frontend: &Frontend,
    database: &str,
    filter: Option<ShowFilter>,
) -> Result<QueryResponse, FeError> {
    let name = task_job_name(filter)?;
    let database_id = frontend.routine_load_database(database)?;
    let job = find_job(&frontend.metadata.read(), database_id, &name)
        .cloned()
        .ok_or_else(|| FeError::analysis(format!("Routine load job [{name}] not found in database '{database}'")))?;
    let backend_id = frontend.backend.backend_id();
    let rows = frontend
        .routine_loads
        .runtime(job.id)
        .tasks
        .iter()
        .map(|task| {
            let offsets: BTreeMap<i32, String> = task
                .offsets
                .iter()
                .map(|(partition, offset)| (*partition, offset.to_string()))
                .collect();
            vec![
                cell(&task.task_id),
                // The transaction begins once the batch's messages are read.
                cell(-1),
                cell("UNKNOWN"),
                cell(job.id),
                millis_text(task.create_time_ms),
                millis_text(task.create_time_ms),
                millis_text(task.create_time_ms),
                cell(task.timeout_seconds),
                cell(backend_id),
                cell(offsets_json(&offsets)),
                cell(""),
            ]
        })
        .collect();
    filtered(
        &[
            "TaskId", "TxnId", "TxnStatus", "JobId", "CreateTime", "LastScheduledTime", "ExecuteStartTime", "Timeout", "BeId",
            "DataSourceProperties", "Message",
        ],
        rows,
        None,
    )
    .await
}
