//! The loop that runs one Routine Load job: each round lists the topic's partitions (picking
//! up new ones), resolves symbolic start offsets, splits the partitions over
//! `desired_concurrent_number` tasks and runs one batch per task on the BE. A Kafka failure
//! pauses the job with the reason, and the loop keeps probing Kafka and resumes the job by
//! itself when Kafka answers again. Too many error rows pause it for the user to look at.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use cairn_be::routine_load::{RoutineLoadTask, RoutineLoadTaskError};
use cairn_kafka::{BatchLimits, KafkaError, KafkaSource, MetadataClient, OFFSET_BEGINNING, OFFSET_END};
use cairn_load::LoadTarget;

use super::job::{RoutineLoadJob, RoutineLoadState};
use super::{TaskInfo, kafka_source, now_millis};
use crate::catalog::JournalEntry;
use crate::error::FeError;
use crate::frontend::Frontend;

/// How long a metadata request to Kafka may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// Probing a Kafka that failed: first after this, doubling up to the maximum.
const FIRST_PROBE_DELAY: Duration = Duration::from_secs(2);
const MAX_PROBE_DELAY: Duration = Duration::from_secs(30);
/// Rounds in a row whose batches all failed to load before the job pauses.
const FAILED_ROUNDS_BEFORE_PAUSE: u32 = 3;
/// How long a batch's first message waits for more. Under a steady stream this bounds the time
/// from produce to visible; shorter means more, smaller transactions (compaction merges them).
const BATCH_LINGER: Duration = Duration::from_millis(100);
/// How long a batch with nothing to read waits for a first message. Short, so one idle task
/// does not hold a round (and the busy tasks in it) for the whole batch interval.
const BATCH_IDLE_WAIT: Duration = Duration::from_millis(500);
/// StarRocks caps a job's concurrent tasks.
const MAX_TASKS_PER_JOB: u64 = 5;

/// Why a round ended without loading, or why the job must pause after it.
enum RoundError {
    /// Kafka failed; `transient` errors resume by themselves.
    Source(KafkaError),
    TableGone(String),
    /// The batches loaded, but the error rows of the window passed `max_error_number`.
    TooManyErrors { reason: String },
    /// The job's offset is past the partition's newest message: the topic was re-created or
    /// truncated, and reading on would silently skip or repeat messages.
    OffsetOutOfRange { reason: String },
    /// Batches failed to load (a schema change, a commit refused); retried.
    Load(String),
    /// The job's state could not be journaled.
    Journal(FeError),
}

/// Runs until the job stops running here: paused by the user, stopped, cancelled, or another
/// scheduler took over (`stop`).
pub async fn run(frontend: Arc<Frontend>, job_id: u64, generation: u64, mut stop: watch::Receiver<bool>) {
    let mut probe_delay = FIRST_PROBE_DELAY;
    let mut failed_rounds = 0u32;
    let mut metadata: Option<Arc<MetadataClient>> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        let Some(job) = frontend.metadata.read().routine_load_jobs.get(&job_id).cloned() else {
            break;
        };
        match job.state {
            RoutineLoadState::Stopped | RoutineLoadState::Cancelled => break,
            RoutineLoadState::Paused if !job.auto_resume => break,
            RoutineLoadState::Paused => {
                if wait_or_stop(&mut stop, probe_delay).await {
                    break;
                }
                probe_delay = (probe_delay * 2).min(MAX_PROBE_DELAY);
                let probe = match metadata_client(&mut metadata, kafka_source(&job.kafka)).await {
                    Ok(client) => client.partitions(METADATA_TIMEOUT).await,
                    Err(error) => Err(error),
                };
                match probe {
                    Ok(_) => {
                        info!(job = %job.name, "Kafka answers again; resuming the routine load job");
                        let still_waiting = |job: &RoutineLoadJob| job.state == RoutineLoadState::Paused && job.auto_resume;
                        if let Err(error) = frontend.change_routine_load_state(job_id, still_waiting, RoutineLoadState::NeedSchedule, String::new(), false) {
                            warn!(job = %job.name, %error, "failed to resume the routine load job");
                        }
                    }
                    Err(error) => {
                        frontend.routine_loads.update_runtime(job_id, |runtime| runtime.other_message = error.to_string());
                    }
                }
                continue;
            }
            RoutineLoadState::NeedSchedule => {
                let waiting = |job: &RoutineLoadJob| job.state == RoutineLoadState::NeedSchedule;
                if let Err(error) = frontend.change_routine_load_state(job_id, waiting, RoutineLoadState::Running, String::new(), false) {
                    // Paused or stopped meanwhile: the next turn of the loop sees it.
                    info!(job = %job.name, %error, "routine load job did not start");
                }
                continue;
            }
            RoutineLoadState::Running => {}
        }
        let result = run_round(&frontend, &job, &mut metadata, &stop).await;
        if *stop.borrow() {
            break;
        }
        let pause = |reason: String, auto_resume: bool| {
            warn!(job = %job.name, %reason, "pausing the routine load job");
            let running = |job: &RoutineLoadJob| job.state == RoutineLoadState::Running;
            if let Err(error) = frontend.change_routine_load_state(job_id, running, RoutineLoadState::Paused, reason, auto_resume) {
                warn!(job = %job.name, %error, "failed to pause the routine load job");
            }
        };
        match result {
            Ok(()) => {
                failed_rounds = 0;
                probe_delay = FIRST_PROBE_DELAY;
            }
            Err(RoundError::Source(error)) => {
                // A consumer reports a dropped connection that librdkafka then re-opens by
                // itself; pause only when Kafka does not answer a metadata request either.
                let confirmed = match metadata_client(&mut metadata, kafka_source(&job.kafka)).await {
                    Ok(client) => client.partitions(METADATA_TIMEOUT).await.err(),
                    Err(error) => Some(error),
                };
                let error = match (error.is_transient(), confirmed) {
                    (true, None) => {
                        frontend.routine_loads.update_runtime(job_id, |runtime| runtime.other_message = error.to_string());
                        continue;
                    }
                    (true, Some(confirmed)) => confirmed,
                    (false, _) => error,
                };
                let transient = error.is_transient();
                let advice = if transient {
                    "; the job resumes by itself when Kafka answers"
                } else {
                    "; fix the job with ALTER ROUTINE LOAD, then RESUME it"
                };
                frontend.routine_loads.update_runtime(job_id, |runtime| runtime.other_message = error.to_string());
                pause(format!("ErrorReason{{errCode = 4, msg='{error}{advice}'}}"), transient);
            }
            Err(RoundError::TooManyErrors { reason }) => {
                pause(format!("ErrorReason{{errCode = 102, msg='{reason}'}}"), false);
            }
            Err(RoundError::OffsetOutOfRange { reason }) => {
                pause(format!("ErrorReason{{errCode = 105, msg='{reason}'}}"), false);
            }
            Err(RoundError::TableGone(message)) => {
                warn!(job = %job.name, %message, "cancelling the routine load job");
                let reason = format!("ErrorReason{{errCode = 103, msg='{message}'}}");
                if let Err(error) = frontend.change_routine_load_state(job_id, |_| true, RoutineLoadState::Cancelled, reason, false) {
                    warn!(job = %job.name, %error, "failed to cancel the routine load job");
                }
            }
            Err(RoundError::Load(message)) => {
                failed_rounds += 1;
                frontend.routine_loads.update_runtime(job_id, |runtime| {
                    runtime.other_message = message.clone();
                    runtime.aborted_task_count += 1;
                });
                if failed_rounds >= FAILED_ROUNDS_BEFORE_PAUSE {
                    pause(
                        format!("ErrorReason{{errCode = 101, msg='{failed_rounds} batches in a row failed to load, the last with: {message}'}}"),
                        false,
                    );
                    failed_rounds = 0;
                } else if wait_or_stop(&mut stop, FIRST_PROBE_DELAY).await {
                    break;
                }
            }
            Err(RoundError::Journal(error)) => {
                warn!(job = %job.name, %error, "routine load job could not record its state");
                if wait_or_stop(&mut stop, FIRST_PROBE_DELAY).await {
                    break;
                }
            }
        }
    }
    frontend.routine_loads.update_runtime(job_id, |runtime| runtime.tasks.clear());
    frontend.routine_loads.runner_ended(job_id, generation);
}

/// The scheduler's metadata client for the job's source, connected again when the source
/// changed (an ALTER of `property.*`).
async fn metadata_client(
    cached: &mut Option<Arc<MetadataClient>>,
    source: KafkaSource,
) -> Result<Arc<MetadataClient>, KafkaError> {
    if let Some(client) = cached.as_ref().filter(|client| *client.source() == source) {
        return Ok(Arc::clone(client));
    }
    let client = MetadataClient::connect(&source).await?;
    *cached = Some(Arc::clone(&client));
    Ok(client)
}

/// Sleeps, or returns true early when the job is told to stop.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, delay: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => *stop.borrow(),
        changed = stop.changed() => changed.is_err() || *stop.borrow(),
    }
}

async fn run_round(
    frontend: &Arc<Frontend>,
    job: &RoutineLoadJob,
    metadata: &mut Option<Arc<MetadataClient>>,
    stop: &watch::Receiver<bool>,
) -> Result<(), RoundError> {
    let Some(executor) = frontend.routine_loads.executor() else {
        return Err(RoundError::Load("no backend runs routine load tasks".to_string()));
    };
    let (database, table_exists) = {
        let catalog = frontend.metadata.read();
        match catalog.database_by_id(job.database_id) {
            Some(database) => (
                database.name.clone(),
                database.tables.values().any(|table| table.id == job.table_id),
            ),
            None => return Err(RoundError::TableGone("the database of the job was dropped".to_string())),
        }
    };
    if !table_exists {
        return Err(RoundError::TableGone(format!("table '{}' was dropped", job.table)));
    }
    let source = kafka_source(&job.kafka);
    let client = metadata_client(metadata, source.clone()).await.map_err(RoundError::Source)?;
    let partitions = match &job.kafka.partitions {
        Some(partitions) => partitions.clone(),
        None => client.partitions(METADATA_TIMEOUT).await.map_err(RoundError::Source)?,
    };
    let watermarks = client
        .watermarks(&partitions, METADATA_TIMEOUT)
        .await
        .map_err(RoundError::Source)?;
    frontend.routine_loads.update_runtime(job.id, |runtime| {
        runtime.latest_offsets = watermarks.iter().map(|(partition, (_, high))| (*partition, *high)).collect();
    });

    // New partitions start at the default offset; symbolic offsets become numbers, journaled
    // before anything is read, so OFFSET_END means the end when the job first saw it.
    let mut resolved = BTreeMap::new();
    for partition in &partitions {
        let current = job.progress.get(partition).copied();
        let (low, high) = watermarks.get(partition).copied().unwrap_or((0, 0));
        let concrete = match current.unwrap_or(job.kafka.default_offset) {
            OFFSET_BEGINNING => low,
            OFFSET_END => high,
            offset => offset,
        };
        if current != Some(concrete) {
            resolved.insert(*partition, concrete);
        }
    }
    for (partition, next) in &job.progress {
        let Some((low, high)) = watermarks.get(partition).copied() else {
            continue;
        };
        if *next > high {
            return Err(RoundError::OffsetOutOfRange {
                reason: format!(
                    "the job is at offset {next} of partition {partition}, but its newest message is at {}: the topic was \
                     re-created or truncated; set the offset with ALTER ROUTINE LOAD, then RESUME",
                    high - 1
                ),
            });
        }
        if *next >= 0 && *next < low {
            let lost = format!(
                "messages {next} to {} of partition {partition} were deleted by Kafka's retention before they were loaded",
                low - 1
            );
            warn!(job = %job.name, %lost);
            frontend.routine_loads.update_runtime(job.id, |runtime| runtime.other_message = lost);
        }
    }
    let mut progress = job.progress.clone();
    if !resolved.is_empty() {
        let job_id = job.id;
        let expected: BTreeMap<i32, Option<i64>> =
            resolved.keys().map(|partition| (*partition, job.progress.get(partition).copied())).collect();
        frontend
            .metadata
            .log_checked(
                JournalEntry::UpdateRoutineLoadProgress {
                    job_id,
                    offsets: resolved.clone(),
                },
                |catalog| {
                    let job = catalog.routine_load_jobs.get(&job_id);
                    let unchanged = job.is_some_and(|job| {
                        job.state == RoutineLoadState::Running
                            && expected.iter().all(|(partition, offset)| job.progress.get(partition).copied() == *offset)
                    });
                    if unchanged {
                        Ok(())
                    } else {
                        Err(FeError::analysis("the job changed while its offsets were resolved"))
                    }
                },
            )
            .map_err(RoundError::Journal)?;
        info!(job = %job.name, offsets = ?resolved, "routine load start offsets resolved");
        progress.extend(resolved);
    }

    let task_count = job
        .desired_concurrent_number()
        .min(MAX_TASKS_PER_JOB)
        .min(partitions.len() as u64)
        .max(1) as usize;
    executor.release_slots_from(job.id, task_count);
    let mut assignments: Vec<BTreeMap<i32, i64>> = vec![BTreeMap::new(); task_count];
    for (index, partition) in partitions.iter().enumerate() {
        if let Some(offset) = progress.get(partition) {
            assignments[index % task_count].insert(*partition, *offset);
        }
    }
    let limits = BatchLimits {
        max_rows: job.max_batch_rows(),
        max_bytes: job.max_batch_size(),
        max_interval: job.batch_consume_time(),
        max_linger: BATCH_LINGER.min(job.batch_consume_time()),
        max_idle: BATCH_IDLE_WAIT.min(job.batch_consume_time()),
    };
    let load_parameters = job.load_parameters();
    let mut tasks = Vec::new();
    let mut infos = Vec::new();
    for (slot, offsets) in assignments.into_iter().enumerate().filter(|(_, offsets)| !offsets.is_empty()) {
        let task_id = format!("{:016x}", rand::random::<u64>());
        infos.push(TaskInfo {
            task_id: task_id.clone(),
            create_time_ms: now_millis(),
            timeout_seconds: job.task_timeout().as_secs(),
            offsets: offsets.clone(),
        });
        tasks.push(RoutineLoadTask {
            job_id: job.id,
            slot,
            label: format!("{}-{task_id}", job.name),
            user: job.user.clone(),
            user_host: job.user_host.clone(),
            database: database.clone(),
            table: job.table.clone(),
            load_parameters: load_parameters.clone(),
            source: source.clone(),
            group_id: job.kafka.group_id.clone(),
            offsets,
            limits,
            timeout: job.task_timeout(),
            definition_version: job.definition_version,
        });
    }
    frontend.routine_loads.update_runtime(job.id, |runtime| runtime.tasks = infos);
    let target: &dyn LoadTarget = frontend.as_ref();
    let results = futures::future::join_all(
        tasks
            .into_iter()
            .map(|task| executor.execute(task, target, stop.clone())),
    )
    .await;
    frontend.routine_loads.update_runtime(job.id, |runtime| runtime.tasks.clear());

    let mut source_error = None;
    let mut load_error = None;
    let mut any_loaded = false;
    let mut window_errors = None;
    for result in results {
        match result {
            Ok(outcome) => {
                if let Some(url) = outcome.error_url {
                    frontend.routine_loads.record_error_log(job.id, url);
                }
                if let Some(committed) = outcome.committed {
                    any_loaded = true;
                    let window = job.max_batch_rows().saturating_mul(10);
                    let max_error_number = job.max_error_number();
                    frontend.routine_loads.update_runtime(job.id, |runtime| {
                        runtime.window_rows += committed.total_rows;
                        runtime.window_error_rows += committed.error_rows;
                        // As in StarRocks: the batch is committed without its bad rows, then the
                        // job pauses for the user to look at them; the window starts again.
                        if runtime.window_error_rows > max_error_number {
                            window_errors = Some(runtime.window_error_rows);
                            runtime.window_rows = 0;
                            runtime.window_error_rows = 0;
                        } else if runtime.window_rows >= window {
                            runtime.window_rows = 0;
                            runtime.window_error_rows = 0;
                        }
                    });
                }
            }
            Err(RoutineLoadTaskError::Kafka(error)) => {
                source_error.get_or_insert(error);
            }
            Err(RoutineLoadTaskError::Load(error)) => {
                load_error.get_or_insert(error.to_string());
            }
        }
    }
    if let Some(error_rows) = window_errors {
        return Err(RoundError::TooManyErrors {
            reason: format!(
                "current error rows: {error_rows} is more than max error num: {}; the rows are in ErrorLogUrls",
                job.max_error_number()
            ),
        });
    }
    if let Some(error) = source_error {
        return Err(RoundError::Source(error));
    }
    match load_error {
        // Some batches loaded: the failure of another is retried next round.
        Some(message) if any_loaded => {
            frontend.routine_loads.update_runtime(job.id, |runtime| {
                runtime.other_message = message;
                runtime.aborted_task_count += 1;
            });
            Ok(())
        }
        Some(message) => Err(RoundError::Load(message)),
        None => Ok(()),
    }
}
