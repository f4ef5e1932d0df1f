//! Stream Load on the BE's HTTP port (8040), wire-compatible with StarRocks:
//! `PUT /api/{db}/{table}/_stream_load` with Basic auth and StarRocks' headers, answered
//! with StarRocks' JSON. The FE's 8030 redirects here with a 307. The label is checked before
//! the body is read, so with `Expect: 100-continue` a repeated label costs no upload.
//! Rejected rows are served at `/api/_load_error_log?file=...`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use base64::Engine;
use serde::Serialize;
use tracing::{info, warn};

use crate::error_log::ErrorLogStore;
use cairn_load::{BeginLoad, CommitRequest, LoadError, LoadOptions, LoadPlan, LoadRecord, LoadTarget, LoadTransaction, RowError};

#[derive(Debug, Clone)]
pub struct StreamLoadConfig {
    /// The host clients reach this BE at, for the ErrorURL.
    pub advertised_host: String,
    pub http_port: u16,
    pub error_log_dir: PathBuf,
    /// `streaming_load_max_mb`: the largest body, after decompression.
    pub max_body_bytes: u64,
}

struct StreamLoadState {
    target: Arc<dyn LoadTarget>,
    config: StreamLoadConfig,
    error_logs: ErrorLogStore,
}

pub fn router(target: Arc<dyn LoadTarget>, config: StreamLoadConfig) -> Router {
    let error_logs = ErrorLogStore::new(config.error_log_dir.clone(), config.advertised_host.clone(), config.http_port);
    let state = Arc::new(StreamLoadState {
        target,
        config,
        error_logs,
    });
    Router::new()
        .route("/api/{database}/{table}/_stream_load", put(stream_load))
        .route("/api/_load_error_log", get(error_log))
        .with_state(state)
}

/// StarRocks' Stream Load response.
#[derive(Debug, Default, Serialize)]
pub struct StreamLoadResponse {
    #[serde(rename = "TxnId")]
    pub transaction_id: u64,
    #[serde(rename = "Label")]
    pub label: String,
    #[serde(rename = "Status")]
    pub status: &'static str,
    #[serde(rename = "Message")]
    pub message: String,
    #[serde(rename = "NumberTotalRows")]
    pub total_rows: u64,
    #[serde(rename = "NumberLoadedRows")]
    pub loaded_rows: u64,
    #[serde(rename = "NumberFilteredRows")]
    pub filtered_rows: u64,
    #[serde(rename = "NumberUnselectedRows")]
    pub unselected_rows: u64,
    #[serde(rename = "LoadBytes")]
    pub load_bytes: u64,
    #[serde(rename = "LoadTimeMs")]
    pub load_time_ms: u64,
    #[serde(rename = "BeginTxnTimeMs")]
    pub begin_transaction_time_ms: u64,
    #[serde(rename = "StreamLoadPlanTimeMs")]
    pub plan_time_ms: u64,
    #[serde(rename = "ReadDataTimeMs")]
    pub read_data_time_ms: u64,
    #[serde(rename = "WriteDataTimeMs")]
    pub write_data_time_ms: u64,
    #[serde(rename = "CommitAndPublishTimeMs")]
    pub commit_and_publish_time_ms: u64,
    #[serde(rename = "ErrorURL", skip_serializing_if = "Option::is_none")]
    pub error_url: Option<String>,
    #[serde(rename = "ExistingJobStatus", skip_serializing_if = "Option::is_none")]
    pub existing_job_status: Option<String>,
}

fn json_response(status: StatusCode, body: &StreamLoadResponse) -> Response {
    let text = serde_json::to_string_pretty(body).unwrap_or_else(|_| String::from("{}"));
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// A load that failed before or while it ran: HTTP 200 with `Status: Fail`, as StarRocks
/// answers.
pub fn failure(label: &str, message: String) -> Response {
    json_response(
        StatusCode::OK,
        &StreamLoadResponse {
            label: label.to_string(),
            status: "Fail",
            message,
            ..StreamLoadResponse::default()
        },
    )
}

/// The user and password of HTTP Basic auth.
pub fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// 401 with StarRocks' JSON: a missing or wrong user/password.
pub fn unauthorized(message: String) -> Response {
    let body = StreamLoadResponse {
        status: "Fail",
        message,
        ..StreamLoadResponse::default()
    };
    let mut response = json_response(StatusCode::UNAUTHORIZED, &body);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"cairn\""));
    response
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis().min(u128::from(u64::MAX)) as u64
}

async fn stream_load(
    State(state): State<Arc<StreamLoadState>>,
    Path((database, table)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let label_header = headers.get("label").and_then(|value| value.to_str().ok()).map(str::to_string);
    let shown_label = label_header.clone().unwrap_or_default();
    let Some((user, password)) = basic_auth(&headers) else {
        return unauthorized("Stream Load needs HTTP Basic auth: curl -u user:password".to_string());
    };
    let host = peer.ip().to_string();
    if let Err(error) = state.target.authenticate(&user, &password, &host) {
        return unauthorized(error.to_string());
    }
    let parameters: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|value| (name.as_str(), value)))
        .collect();
    let mut options = match LoadOptions::from_parameters(parameters) {
        Ok(options) => options,
        Err(error) => return failure(&shown_label, error.to_string()),
    };
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING).and_then(|value| value.to_str().ok()) {
        if let Err(error) = options.apply_content_encoding(encoding) {
            return failure(&shown_label, error.to_string());
        }
    }
    let content_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if content_length.is_some_and(|length| length > state.config.max_body_bytes) {
        return failure(
            &shown_label,
            LoadError::BodyTooLarge {
                limit_bytes: state.config.max_body_bytes,
            }
            .to_string(),
        );
    }
    let begin = BeginLoad {
        user: user.clone(),
        host,
        database,
        table,
        label: label_header,
        load_type: "STREAM_LOAD",
    };
    let transaction = match state.target.begin(begin).await {
        Ok(transaction) => transaction,
        Err(LoadError::LabelAlreadyExists { label, existing_status }) => {
            return json_response(
                StatusCode::OK,
                &StreamLoadResponse {
                    label: label.clone(),
                    status: "Label Already Exists",
                    message: format!("Label [{label}] has already been used."),
                    existing_job_status: Some(existing_status),
                    ..StreamLoadResponse::default()
                },
            );
        }
        Err(error) => return failure(&shown_label, error.to_string()),
    };
    let begin_time = started.elapsed();
    // The load runs in its own task, so a client that goes away mid-body can not cancel it
    // halfway: the body read fails, and the task aborts the transaction.
    let task_state = Arc::clone(&state);
    let task = tokio::spawn(async move {
        let timeout = options.timeout;
        let mut response = StreamLoadResponse {
            transaction_id: transaction.transaction_id,
            label: transaction.label.clone(),
            begin_transaction_time_ms: millis(begin_time),
            ..StreamLoadResponse::default()
        };
        let run = run_load(&task_state, &transaction, options, body, &mut response);
        let result = match tokio::time::timeout(timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(LoadError::Timeout {
                seconds: timeout.as_secs(),
            }),
        };
        response.load_time_ms = millis(started.elapsed());
        let state_name = match &result {
            Ok(()) => {
                response.status = "Success";
                response.message = "OK".to_string();
                "FINISHED"
            }
            Err(LoadError::PublishTimeout(message)) => {
                response.status = "Publish Timeout";
                response.message = message.clone();
                "COMMITTED"
            }
            Err(error) => {
                task_state.target.abort(&transaction, &error.to_string()).await;
                response.status = "Fail";
                response.message = error.to_string();
                response.loaded_rows = 0;
                "CANCELLED"
            }
        };
        info!(
            transaction_id = transaction.transaction_id,
            label = %transaction.label,
            status = response.status,
            total = response.total_rows,
            loaded = response.loaded_rows,
            filtered = response.filtered_rows,
            "stream load finished"
        );
        let now = chrono::Utc::now().timestamp_millis();
        task_state.target.record(LoadRecord {
            transaction_id: transaction.transaction_id,
            label: transaction.label.clone(),
            database: transaction.database.clone(),
            table: transaction.table.clone(),
            load_type: "STREAM_LOAD",
            state: state_name,
            user,
            total_rows: response.total_rows,
            loaded_rows: response.loaded_rows,
            filtered_rows: response.filtered_rows,
            unselected_rows: response.unselected_rows,
            load_bytes: response.load_bytes,
            error_message: if state_name == "FINISHED" { String::new() } else { response.message.clone() },
            error_url: response.error_url.clone().unwrap_or_default(),
            create_time_ms: now - response.load_time_ms as i64,
            finish_time_ms: now,
        });
        response
    });
    match task.await {
        Ok(response) => json_response(StatusCode::OK, &response),
        Err(error) => {
            warn!(%error, "stream load task failed");
            failure(&shown_label, format!("internal error: the load task failed: {error}"))
        }
    }
}

async fn run_load(
    state: &StreamLoadState,
    transaction: &LoadTransaction,
    options: LoadOptions,
    body: Body,
    response: &mut StreamLoadResponse,
) -> Result<(), LoadError> {
    let read_started = Instant::now();
    let limit = state.config.max_body_bytes;
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let bytes = axum::body::to_bytes(body, limit_usize).await.map_err(|error| {
        let error = error.into_inner();
        if error.is::<http_body_util::LengthLimitError>() {
            LoadError::BodyTooLarge { limit_bytes: limit }
        } else {
            LoadError::MalformedBody(format!("Failed to read the request body: {error}"))
        }
    })?;
    response.load_bytes = bytes.len() as u64;
    let compression = options.compression;
    let data = tokio::task::spawn_blocking(move || cairn_load::decompress(Vec::from(bytes), compression, limit))
        .await
        .map_err(|error| LoadError::Internal(format!("decompression task failed: {error}")))??;
    response.read_data_time_ms = millis(read_started.elapsed());

    let plan_started = Instant::now();
    let partitions = options.partitions.clone();
    let max_filter_ratio = options.max_filter_ratio;
    let plan = LoadPlan::new(options, transaction.columns.clone())?;
    let partial_update = plan.partial_update_columns(transaction)?;
    response.plan_time_ms = millis(plan_started.elapsed());

    let write_started = Instant::now();
    let parallelism = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let prepared = Arc::new(plan).prepare_parallel(Arc::new(data), parallelism).await?;
    response.total_rows = prepared.total_rows;
    response.unselected_rows = prepared.unselected_rows;
    let mut errors = prepared.errors;
    response.write_data_time_ms = millis(write_started.elapsed());

    let commit_started = Instant::now();
    let commit = CommitRequest {
        rows: prepared.rows,
        partitions,
        total_rows: prepared.total_rows,
        filtered_rows: errors.len() as u64,
        max_filter_ratio,
        routine_load: None,
        partial_update,
    };
    let result = state.target.commit(transaction, commit).await;
    response.commit_and_publish_time_ms = millis(commit_started.elapsed());
    let result = match result {
        Ok(outcome) => {
            errors.extend(outcome.filtered.into_iter().map(|(row_number, reason)| RowError {
                row_number,
                reason,
                row: String::new(),
            }));
            response.loaded_rows = outcome.loaded_rows;
            Ok(())
        }
        Err(error) => Err(error),
    };
    response.filtered_rows = match &result {
        Err(LoadError::TooManyFilteredRows { filtered, .. }) => *filtered,
        _ => errors.len() as u64,
    };
    if !errors.is_empty() {
        response.error_url = state.error_logs.write(&transaction.label, transaction.transaction_id, &errors);
    }
    result
}

#[derive(serde::Deserialize)]
struct ErrorLogQuery {
    file: Option<String>,
}

async fn error_log(State(state): State<Arc<StreamLoadState>>, Query(query): Query<ErrorLogQuery>) -> Response {
    let Some(name) = query.file else {
        return (StatusCode::BAD_REQUEST, "missing the 'file' parameter\n").into_response();
    };
    let Some(path) = cairn_load::error_log::path(state.error_logs.directory(), &name) else {
        return (StatusCode::BAD_REQUEST, format!("invalid error log name '{name}'\n")).into_response();
    };
    match tokio::fs::read(&path).await {
        Ok(contents) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], contents).into_response(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            (StatusCode::NOT_FOUND, format!("error log '{name}' does not exist (or has expired)\n")).into_response()
        }
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to read error log '{name}': {error}\n")).into_response(),
    }
}
