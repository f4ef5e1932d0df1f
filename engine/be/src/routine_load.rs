//! Routine Load tasks on the BE: read one batch of Kafka messages from the offsets the FE
//! gives, turn them into rows with the same [`LoadPlan`] as Stream Load, and commit them
//! through the FE together with the batch's end offsets. Each of a job's concurrent tasks
//! keeps its Kafka consumer between batches, so consecutive batches stream on from what the
//! consumer has already fetched.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tracing::warn;

use cairn_kafka::{BatchLimits, BatchReader, KafkaError, KafkaMessage, KafkaSource};
use cairn_load::{BeginLoad, CommitRequest, LoadError, LoadFormat, LoadOptions, LoadPlan, LoadTarget, RoutineLoadCommit, RowError};

use crate::error_log::ErrorLogStore;

/// One batch of a job, as the FE schedules it.
#[derive(Debug, Clone)]
pub struct RoutineLoadTask {
    pub job_id: u64,
    /// Which of the job's concurrent tasks this is.
    pub slot: usize,
    pub label: String,
    pub user: String,
    pub user_host: String,
    pub database: String,
    pub table: String,
    /// Stream Load's names for the load options (`format`, `columns`, `where`, ...).
    pub load_parameters: Vec<(String, String)>,
    pub source: KafkaSource,
    pub group_id: String,
    /// Partition to the first offset to read; all concrete.
    pub offsets: BTreeMap<i32, i64>,
    pub limits: BatchLimits,
    /// The longest converting the batch may take.
    pub timeout: Duration,
    /// The job definition the batch was planned with; an ALTER meanwhile refuses its commit.
    pub definition_version: u64,
}

/// What a task did; a task that read nothing committed nothing.
#[derive(Debug, Clone, Default)]
pub struct RoutineLoadTaskOutcome {
    /// The committed batch (rows, offsets and counts), when there was one.
    pub committed: Option<RoutineLoadCommit>,
    pub error_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RoutineLoadTaskError {
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error("{0}")]
    Load(#[from] LoadError),
}

pub struct RoutineLoadExecutor {
    error_logs: ErrorLogStore,
    readers: Mutex<HashMap<(u64, usize), BatchReader>>,
}

impl RoutineLoadExecutor {
    pub fn new(error_logs: ErrorLogStore) -> RoutineLoadExecutor {
        RoutineLoadExecutor {
            error_logs,
            readers: Mutex::new(HashMap::new()),
        }
    }

    /// Closes the Kafka consumers of a job that stopped running.
    pub fn release(&self, job_id: u64) {
        self.close_where(|job, _| job == job_id);
    }

    /// Closes consumers of task slots a job no longer uses.
    pub fn release_slots_from(&self, job_id: u64, first_unused_slot: usize) {
        self.close_where(|job, slot| job == job_id && slot >= first_unused_slot);
    }

    /// Closing a consumer waits for librdkafka to leave the broker, so it happens on a
    /// blocking thread, outside the lock.
    fn close_where(&self, closes: impl Fn(u64, usize) -> bool) {
        let closing: Vec<BatchReader> = {
            let mut readers = self.readers.lock();
            let keys: Vec<(u64, usize)> = readers.keys().filter(|(job, slot)| closes(*job, *slot)).copied().collect();
            keys.iter().filter_map(|key| readers.remove(key)).collect()
        };
        if closing.is_empty() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || drop(closing));
            }
            Err(_) => drop(closing),
        }
    }

    pub async fn execute(
        &self,
        task: RoutineLoadTask,
        target: &dyn LoadTarget,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<RoutineLoadTaskOutcome, RoutineLoadTaskError> {
        let started = Instant::now();
        let key = (task.job_id, task.slot);
        let existing = self.readers.lock().remove(&key);
        let mut reader = match existing {
            Some(reader) if reader.source() == &task.source => reader,
            _ => BatchReader::new(&task.source, &task.group_id)?,
        };
        let batch = reader.read(&task.offsets, task.limits, &mut stop).await;
        self.readers.lock().insert(key, reader);
        let batch = batch?;
        let mut outcome = RoutineLoadTaskOutcome::default();
        // A stopped job loads nothing more; what was read is read again when it resumes.
        if batch.messages.is_empty() || *stop.borrow() {
            return Ok(outcome);
        }

        let options = LoadOptions::from_parameters(
            task.load_parameters
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        )?;
        let (body, rejected) = batch_body(&batch.messages, &options);
        let partitions = options.partitions.clone();
        let max_filter_ratio = options.max_filter_ratio;

        let transaction = target
            .begin(BeginLoad {
                user: task.user.clone(),
                host: task.user_host.clone(),
                database: task.database.clone(),
                table: task.table.clone(),
                label: Some(task.label.clone()),
                load_type: "ROUTINE_LOAD",
            })
            .await?;
        let prepared = async {
            let plan = LoadPlan::new(options, transaction.columns.clone())?;
            let partial_update = plan.partial_update_columns(&transaction)?;
            let runtime = tokio::runtime::Handle::current();
            let conversion = tokio::task::spawn_blocking(move || runtime.block_on(plan.prepare(&body)));
            let prepared = match tokio::time::timeout(task.timeout, conversion).await {
                Err(_) => Err(LoadError::Timeout {
                    seconds: task.timeout.as_secs(),
                }),
                Ok(joined) => joined.map_err(|error| LoadError::Internal(format!("the batch's conversion task failed: {error}")))?,
            }?;
            Ok::<_, LoadError>((prepared, partial_update))
        }
        .await;
        let (prepared, partial_update) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                target.abort(&transaction, &error.to_string()).await;
                return Err(error.into());
            }
        };
        // Messages that were not even one document are error rows too; they count against
        // max_error_number like rows that fail to convert.
        let total_rows = prepared.total_rows + rejected.len() as u64;
        let mut errors: Vec<RowError> = rejected;
        errors.extend(prepared.errors);
        let loaded_rows = prepared.rows.iter().map(|rows| rows.row_numbers.len() as u64).sum();
        let routine_load = RoutineLoadCommit {
            job_id: task.job_id,
            begin_offsets: task.offsets.clone(),
            end_offsets: batch.next_offsets.clone(),
            received_bytes: batch.bytes,
            total_rows,
            loaded_rows,
            error_rows: errors.len() as u64,
            unselected_rows: prepared.unselected_rows,
            execute_time_ms: started.elapsed().as_millis() as u64,
            definition_version: task.definition_version,
        };
        let request = CommitRequest {
            rows: prepared.rows,
            partitions,
            total_rows,
            filtered_rows: errors.len() as u64,
            max_filter_ratio,
            routine_load: Some(routine_load.clone()),
            partial_update,
        };
        match target.commit(&transaction, request).await {
            Ok(committed) => {
                errors.extend(committed.filtered.iter().map(|(row_number, reason)| RowError {
                    row_number: *row_number,
                    reason: reason.clone(),
                    row: String::new(),
                }));
                if !errors.is_empty() {
                    outcome.error_url = self.error_logs.write(&transaction.label, transaction.transaction_id, &errors);
                }
                outcome.committed = Some(RoutineLoadCommit {
                    loaded_rows: committed.loaded_rows,
                    error_rows: errors.len() as u64,
                    ..routine_load
                });
                Ok(outcome)
            }
            // Committed and durable; the publish finishes later and the offsets moved with it.
            Err(LoadError::PublishTimeout(message)) => {
                warn!(label = %transaction.label, %message, "routine load batch committed but not yet visible");
                outcome.committed = Some(routine_load);
                Ok(outcome)
            }
            Err(error) => {
                target.abort(&transaction, &error.to_string()).await;
                Err(error.into())
            }
        }
    }
}

/// The body the load plan reads: each message one CSV row (or several) or one JSON document
/// (or array), each ended by the row delimiter. Empty messages (tombstones) carry no row and
/// are skipped. A JSON message that is not a document is set aside as an error row, so one
/// bad message does not fail the documents around it.
fn batch_body(messages: &[KafkaMessage], options: &LoadOptions) -> (Vec<u8>, Vec<RowError>) {
    let delimiter: &[u8] = match options.format {
        LoadFormat::Csv => &options.csv.row_delimiter,
        LoadFormat::Json => b"\n",
    };
    let size: usize = messages.iter().map(|message| message.payload.len() + delimiter.len()).sum();
    let mut body = Vec::with_capacity(size);
    let mut rejected = Vec::new();
    for message in messages.iter().filter(|message| !message.payload.is_empty()) {
        if options.format == LoadFormat::Json {
            if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(&message.payload) {
                rejected.push(RowError {
                    row_number: 0,
                    reason: format!(
                        "the message at partition {} offset {} is not a JSON document: {error}",
                        message.partition, message.offset
                    ),
                    row: String::from_utf8_lossy(&message.payload).chars().take(1024).collect(),
                });
                continue;
            }
        }
        body.extend_from_slice(&message.payload);
        if !message.payload.ends_with(delimiter) {
            body.extend_from_slice(delimiter);
        }
    }
    (body, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(offset: i64, payload: &str) -> KafkaMessage {
        KafkaMessage {
            partition: 0,
            offset,
            payload: payload.as_bytes().to_vec(),
        }
    }

    #[test]
    fn body_skips_empty_messages_and_sets_bad_json_aside() {
        let json = LoadOptions::from_parameters([("format", "json")]).expect("options");
        let messages = [message(0, r#"{"a":1}"#), message(1, ""), message(2, "{broken"), message(3, r#"[{"a":2}]"#)];
        let (body, rejected) = batch_body(&messages, &json);
        assert_eq!(body, b"{\"a\":1}\n[{\"a\":2}]\n");
        assert_eq!(rejected.len(), 1);
        assert!(rejected[0].reason.contains("partition 0 offset 2 is not a JSON document"), "{}", rejected[0].reason);

        let csv = LoadOptions::from_parameters([("row_delimiter", "|")]).expect("options");
        let (body, rejected) = batch_body(&[message(0, "1,a"), message(1, "2,b|")], &csv);
        assert_eq!(body, b"1,a|2,b|");
        assert!(rejected.is_empty());
    }
}
