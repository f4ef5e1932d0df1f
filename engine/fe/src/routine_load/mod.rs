//! Routine Load: long-running jobs that load a Kafka topic into a table in batches.
//!
//! The job definition and its offsets live in the catalog ([`job`]), so they survive restarts
//! in the journal. Each batch is one transaction whose commit record also moves the job's
//! offsets, so a crash at any point neither loses nor repeats a message. [`scheduler`] runs
//! one loop per running job that plans batches over the topic's partitions and hands them to
//! the BE's [`cairn_be::routine_load::RoutineLoadExecutor`]. This module holds the
//! statements: CREATE, ALTER, PAUSE, RESUME, STOP and SHOW [ALL] ROUTINE LOAD [TASK].

pub mod job;
pub mod scheduler;
mod show;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use cairn_be::routine_load::RoutineLoadExecutor;
use cairn_common::ErrorCode;
use cairn_kafka::{KafkaSource, OFFSET_BEGINNING, OFFSET_END};
use cairn_load::{LoadOptions, LoadPlan};
use cairn_sql::RoutineLoadDescription;

use crate::catalog::{Catalog, JournalEntry};
use crate::error::FeError;
use crate::frontend::Frontend;
use job::{KafkaDefinition, LoadDescription, RoutineLoadJob, RoutineLoadState, RoutineLoadStatistics};

pub use show::{show_routine_load, show_routine_load_tasks};

/// What is known about a job only while this FE runs it: its tasks, the topic's latest
/// offsets, recent error logs and the error-row window of `max_error_number`.
#[derive(Debug, Clone, Default)]
pub struct JobRuntime {
    pub tasks: Vec<TaskInfo>,
    /// Partition to the topic's high watermark (the offset of the next message produced).
    pub latest_offsets: BTreeMap<i32, i64>,
    pub error_log_urls: Vec<String>,
    /// The last failure of a task, for SHOW ROUTINE LOAD's OtherMsg.
    pub other_message: String,
    pub aborted_task_count: u64,
    pub window_rows: u64,
    pub window_error_rows: u64,
}

/// A task that is running, for SHOW ROUTINE LOAD TASK.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    pub task_id: String,
    pub create_time_ms: i64,
    pub timeout_seconds: u64,
    pub offsets: BTreeMap<i32, i64>,
}

/// Error log URLs kept per job for SHOW ROUTINE LOAD.
const ERROR_LOG_URLS_KEPT: usize = 3;

/// The routine load jobs this FE runs.
#[derive(Default)]
pub struct RoutineLoadManager {
    executor: OnceLock<Arc<RoutineLoadExecutor>>,
    /// Job id to its scheduler's generation and stop signal.
    runners: Mutex<HashMap<u64, (u64, tokio::sync::watch::Sender<bool>)>>,
    next_generation: std::sync::atomic::AtomicU64,
    runtime: Mutex<HashMap<u64, JobRuntime>>,
}

impl RoutineLoadManager {
    pub fn runtime(&self, job_id: u64) -> JobRuntime {
        self.runtime.lock().get(&job_id).cloned().unwrap_or_default()
    }

    pub(crate) fn update_runtime(&self, job_id: u64, update: impl FnOnce(&mut JobRuntime)) {
        update(self.runtime.lock().entry(job_id).or_default());
    }

    pub(crate) fn record_error_log(&self, job_id: u64, url: String) {
        self.update_runtime(job_id, |runtime| {
            runtime.error_log_urls.push(url);
            let excess = runtime.error_log_urls.len().saturating_sub(ERROR_LOG_URLS_KEPT);
            runtime.error_log_urls.drain(..excess);
        });
    }

    pub(crate) fn executor(&self) -> Option<Arc<RoutineLoadExecutor>> {
        self.executor.get().cloned()
    }

    /// Tells a job's scheduler to stop after its current batch.
    fn stop_runner(&self, job_id: u64) {
        if let Some((_, stop)) = self.runners.lock().remove(&job_id) {
            let _ = stop.send(true);
        }
        if let Some(executor) = self.executor.get() {
            executor.release(job_id);
        }
    }

    /// Forgets a runner that ended and closes its Kafka consumers, unless a newer runner
    /// took its place (and uses them).
    pub(crate) fn runner_ended(&self, job_id: u64, generation: u64) {
        let mut runners = self.runners.lock();
        let replaced = runners.get(&job_id).is_some_and(|(current, _)| *current != generation);
        if replaced {
            return;
        }
        runners.remove(&job_id);
        drop(runners);
        if let Some(executor) = self.executor.get() {
            executor.release(job_id);
        }
    }
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Job properties Cairn knows, as StarRocks names them.
const JOB_PROPERTIES: &[&str] = &[
    "desired_concurrent_number",
    "max_batch_interval",
    "max_batch_rows",
    "max_batch_size",
    "max_error_number",
    "max_filter_ratio",
    "strict_mode",
    "timezone",
    "format",
    "jsonpaths",
    "json_root",
    "strip_outer_array",
    "task_consume_second",
    "task_timeout_second",
    "partial_update",
];

fn bad_property(message: impl Into<String>) -> FeError {
    FeError::analysis(message)
}

fn parse_integer(name: &str, value: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, FeError> {
    let number: i64 = value
        .trim()
        .parse()
        .map_err(|_| bad_property(format!("{name} should be an integer, not '{value}'")))?;
    if !range.contains(&number) {
        return Err(bad_property(format!(
            "{name} should be between {} and {}, not {number}",
            range.start(),
            range.end()
        )));
    }
    Ok(number)
}

/// Checks job properties the way StarRocks does; the load options are checked by building
/// the load plan.
fn check_job_properties(properties: &BTreeMap<String, String>) -> Result<(), FeError> {
    for (name, value) in properties {
        match name.as_str() {
            "desired_concurrent_number" => {
                parse_integer(name, value, 1..=i64::from(i32::MAX))?;
            }
            "max_batch_interval" => {
                parse_integer(name, value, 5..=60)?;
            }
            "max_batch_rows" => {
                parse_integer(name, value, 200_000..=i64::MAX)?;
            }
            "max_batch_size" => {
                parse_integer(name, value, 100 * 1024 * 1024..=1024 * 1024 * 1024)?;
            }
            "max_error_number" => {
                parse_integer(name, value, 0..=i64::MAX)?;
            }
            "task_consume_second" | "task_timeout_second" => {
                parse_integer(name, value, 1..=86_400)?;
            }
            "max_filter_ratio" => {
                let ratio: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| bad_property(format!("max_filter_ratio should be a number from 0 to 1, not '{value}'")))?;
                if !(0.0..=1.0).contains(&ratio) {
                    return Err(bad_property(format!("max_filter_ratio should be a number from 0 to 1, not '{value}'")));
                }
            }
            known if JOB_PROPERTIES.contains(&known) => {}
            unknown => {
                return Err(bad_property(format!(
                    "Unknown routine load property '{unknown}'; the properties are: {}",
                    JOB_PROPERTIES.join(", ")
                )));
            }
        }
    }
    if let (Some(consume), Some(timeout)) = (properties.get("task_consume_second"), properties.get("task_timeout_second")) {
        if consume.trim().parse::<i64>().ok() >= timeout.trim().parse::<i64>().ok() {
            return Err(bad_property("task_consume_second should be less than task_timeout_second"));
        }
    }
    Ok(())
}

fn parse_offset(text: &str) -> Result<i64, FeError> {
    match text.trim().to_ascii_uppercase().as_str() {
        "OFFSET_BEGINNING" => Ok(OFFSET_BEGINNING),
        "OFFSET_END" => Ok(OFFSET_END),
        number => number.parse::<i64>().ok().filter(|offset| *offset >= 0).ok_or_else(|| {
            bad_property(format!(
                "Invalid kafka offset '{text}': use OFFSET_BEGINNING, OFFSET_END or a number from 0"
            ))
        }),
    }
}

fn parse_partitions(text: &str) -> Result<Vec<i32>, FeError> {
    let mut partitions = Vec::new();
    for item in text.split(',') {
        let partition: i32 = item
            .trim()
            .parse()
            .ok()
            .filter(|partition| *partition >= 0)
            .ok_or_else(|| bad_property(format!("Invalid kafka partition '{}' in kafka_partitions", item.trim())))?;
        if partitions.contains(&partition) {
            return Err(bad_property(format!("kafka partition {partition} is listed twice")));
        }
        partitions.push(partition);
    }
    Ok(partitions)
}

/// Applies `FROM KAFKA (...)` properties to a source definition and the job's progress.
/// `creating` allows the broker list and topic, which ALTER may not change.
fn apply_source_properties(
    kafka: &mut KafkaDefinition,
    progress: &mut BTreeMap<i32, i64>,
    properties: &BTreeMap<String, String>,
    creating: bool,
) -> Result<(), FeError> {
    let mut partitions: Option<Vec<i32>> = None;
    let mut offsets: Option<Vec<i64>> = None;
    for (name, value) in properties {
        match name.as_str() {
            "kafka_broker_list" | "kafka_topic" if !creating => {
                return Err(bad_property(format!("{name} of a routine load job can not be changed")));
            }
            "kafka_broker_list" => {
                if value.trim().is_empty() {
                    return Err(bad_property("kafka_broker_list must not be empty"));
                }
                kafka.broker_list = value.trim().to_string();
            }
            "kafka_topic" => {
                if value.trim().is_empty() {
                    return Err(bad_property("kafka_topic must not be empty"));
                }
                kafka.topic = value.trim().to_string();
            }
            "kafka_partitions" => partitions = Some(parse_partitions(value)?),
            "kafka_offsets" => offsets = Some(value.split(',').map(parse_offset).collect::<Result<_, _>>()?),
            "property.kafka_default_offsets" => kafka.default_offset = parse_offset(value)?,
            "property.group.id" => kafka.group_id = value.clone(),
            other => match other.strip_prefix("property.") {
                Some(key) if !key.is_empty() => {
                    kafka.client_properties.insert(key.to_string(), value.clone());
                }
                _ => {
                    return Err(bad_property(format!(
                        "Unknown data source property '{other}'; Kafka sources take kafka_broker_list, kafka_topic, \
                         kafka_partitions, kafka_offsets and property.* for the Kafka client"
                    )));
                }
            },
        }
    }
    if creating && (kafka.broker_list.is_empty() || kafka.topic.is_empty()) {
        return Err(bad_property("kafka_broker_list and kafka_topic are required"));
    }
    if !creating {
        // As in StarRocks, ALTER moves the offsets of partitions the job already consumes; it
        // neither adds partitions nor drops the others.
        if let Some(listed) = &partitions {
            let known: Vec<i32> = match &kafka.partitions {
                Some(partitions) => partitions.clone(),
                None => progress.keys().copied().collect(),
            };
            if let Some(unknown) = listed.iter().find(|partition| !known.contains(partition)) {
                return Err(bad_property(format!(
                    "kafka partition {unknown} is not consumed by this job; ALTER can only move the offsets of its partitions"
                )));
            }
            let Some(offsets) = offsets else {
                return Err(bad_property("ALTER with kafka_partitions needs kafka_offsets"));
            };
            if listed.len() != offsets.len() {
                return Err(bad_property("kafka_offsets must give one offset per partition of kafka_partitions"));
            }
            progress.extend(listed.iter().copied().zip(offsets));
        } else if offsets.is_some() {
            return Err(bad_property("kafka_offsets needs kafka_partitions"));
        }
        return Ok(());
    }
    match (partitions, offsets) {
        (Some(partitions), Some(offsets)) => {
            if partitions.len() != offsets.len() {
                return Err(bad_property(format!(
                    "kafka_offsets has {} offsets for {} kafka_partitions; give one offset per partition",
                    offsets.len(),
                    partitions.len()
                )));
            }
            progress.extend(partitions.iter().copied().zip(offsets));
            kafka.partitions = Some(partitions);
        }
        (Some(partitions), None) => {
            for partition in &partitions {
                progress.entry(*partition).or_insert(kafka.default_offset);
            }
            kafka.partitions = Some(partitions);
        }
        (None, Some(_)) => return Err(bad_property("kafka_offsets needs kafka_partitions")),
        (None, None) => {}
    }
    if let Some(partitions) = &kafka.partitions {
        progress.retain(|partition, _| partitions.contains(partition));
    }
    Ok(())
}

fn kafka_source(kafka: &KafkaDefinition) -> KafkaSource {
    KafkaSource {
        broker_list: kafka.broker_list.clone(),
        topic: kafka.topic.clone(),
        properties: kafka.client_properties.clone(),
    }
}

fn merge_description(description: &mut LoadDescription, changes: RoutineLoadDescription) {
    if changes.column_separator.is_some() {
        description.column_separator = changes.column_separator;
    }
    if changes.row_delimiter.is_some() {
        description.row_delimiter = changes.row_delimiter;
    }
    if changes.columns.is_some() {
        description.columns = changes.columns;
    }
    if changes.where_clause.is_some() {
        description.where_clause = changes.where_clause;
    }
    if !changes.partitions.is_empty() {
        description.partitions = changes.partitions;
    }
}

fn not_in_state_for(job: &RoutineLoadJob, action: &str) -> FeError {
    FeError::analysis(format!(
        "routine load job [{}] is {} and can not be {action}",
        job.name,
        job.state.name()
    ))
}

/// The name a job is found by: unique among a database's jobs that are not stopped.
fn find_job<'a>(catalog: &'a Catalog, database_id: u64, name: &str) -> Option<&'a RoutineLoadJob> {
    let mut jobs: Vec<&RoutineLoadJob> = catalog
        .routine_load_jobs
        .values()
        .filter(|job| job.database_id == database_id && job.name == name)
        .collect();
    // A stopped job's name may be reused: the live one wins, else the newest.
    jobs.sort_by_key(|job| (!job.state.is_final(), job.id));
    jobs.pop()
}

impl Frontend {
    /// Starts the schedulers of jobs that were running (or waiting to resume by themselves)
    /// when the FE last stopped. Jobs created later start when created.
    pub fn start_routine_loads(self: &Arc<Self>, executor: Arc<RoutineLoadExecutor>) {
        if self.routine_loads.executor.set(executor).is_err() {
            return;
        }
        let jobs: Vec<u64> = self
            .metadata
            .read()
            .routine_load_jobs
            .values()
            .filter(|job| {
                matches!(job.state, RoutineLoadState::Running | RoutineLoadState::NeedSchedule)
                    || (job.state == RoutineLoadState::Paused && job.auto_resume)
            })
            .map(|job| job.id)
            .collect();
        for job_id in jobs {
            self.spawn_routine_load(job_id);
        }
    }

    fn spawn_routine_load(self: &Arc<Self>, job_id: u64) {
        if self.routine_loads.executor.get().is_none() {
            // No BE executor (a bare FE in tests): the job waits in NEED_SCHEDULE.
            return;
        }
        let generation = self
            .routine_loads
            .next_generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        if let Some((_, previous)) = self.routine_loads.runners.lock().insert(job_id, (generation, stop)) {
            let _ = previous.send(true);
        }
        tokio::spawn(scheduler::run(Arc::clone(self), job_id, generation, stopped));
    }

    fn routine_load_database(&self, database: &str) -> Result<u64, FeError> {
        self.metadata
            .read()
            .database(database)
            .map(|database| database.id)
            .ok_or_else(|| FeError::unknown_database(database))
    }

    fn routine_load_job(&self, database: &str, name: &str) -> Result<RoutineLoadJob, FeError> {
        let database_id = self.routine_load_database(database)?;
        find_job(&self.metadata.read(), database_id, name)
            .cloned()
            .ok_or_else(|| FeError::user(ErrorCode::WRONG_OBJECT, format!("Routine load job [{name}] not found in database '{database}'")))
    }

    /// Builds the job's load plan against the table as it is, which checks the format
    /// options, `COLUMNS` and `WHERE` before the job is saved.
    fn check_load_plan(&self, database: &str, job: &RoutineLoadJob) -> Result<(), FeError> {
        let (_, table) = self.table_snapshot(database, &job.table)?;
        let parameters = job.load_parameters();
        let options = LoadOptions::from_parameters(parameters.iter().map(|(name, value)| (name.as_str(), value.as_str())))
            .map_err(|error| FeError::analysis(error.to_string()))?;
        if let Some(partitions) = &options.partitions {
            for partition in partitions {
                if !table.partitions.contains_key(partition) {
                    return Err(FeError::user(
                        ErrorCode::UNKNOWN_PARTITION,
                        format!("Unknown partition '{partition}' in table '{}'", job.table),
                    ));
                }
            }
        }
        let plan = LoadPlan::new(options, table.columns().to_vec()).map_err(|error| FeError::analysis(error.to_string()))?;
        let target = cairn_load::LoadTransaction {
            transaction_id: 0,
            label: String::new(),
            database: database.to_string(),
            table: job.table.clone(),
            columns: table.columns().to_vec(),
            primary_key: table.keys_type() == cairn_common::KeysType::Primary,
        };
        plan.partial_update_columns(&target)
            .map_err(|error| FeError::analysis(error.to_string()))?;
        kafka_source(&job.kafka)
            .check()
            .map_err(|error| FeError::analysis(error.to_string()))?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn create_routine_load(
        self: &Arc<Self>,
        user: &str,
        user_host: &str,
        database: &str,
        name: &str,
        table_name: &str,
        description: RoutineLoadDescription,
        properties: BTreeMap<String, String>,
        source_properties: BTreeMap<String, String>,
    ) -> Result<(), FeError> {
        let (database_id, table) = self.table_snapshot(database, table_name)?;
        check_job_properties(&properties)?;
        let id = self.metadata.allocate_id();
        let mut kafka = KafkaDefinition {
            broker_list: String::new(),
            topic: String::new(),
            partitions: None,
            default_offset: OFFSET_END,
            group_id: String::new(),
            client_properties: BTreeMap::new(),
        };
        let mut progress = BTreeMap::new();
        apply_source_properties(&mut kafka, &mut progress, &source_properties, true)?;
        if kafka.group_id.is_empty() {
            kafka.group_id = format!("{name}_{id}");
        }
        let mut empty = LoadDescription::default();
        merge_description(&mut empty, description);
        let job = RoutineLoadJob {
            id,
            name: name.to_string(),
            database_id,
            table_id: table.id,
            table: table.name().to_string(),
            user: user.to_string(),
            user_host: user_host.to_string(),
            state: RoutineLoadState::NeedSchedule,
            reason: String::new(),
            auto_resume: false,
            create_time: now_millis(),
            pause_time: None,
            end_time: None,
            description: empty,
            properties,
            kafka,
            progress,
            statistics: RoutineLoadStatistics::default(),
            definition_version: 0,
        };
        self.check_load_plan(database, &job)?;
        self.metadata.log_checked(JournalEntry::CreateRoutineLoad { job }, |catalog| {
            match find_job(catalog, database_id, name) {
                Some(existing) if !existing.state.is_final() => Err(FeError::user(
                    ErrorCode::WRONG_OBJECT,
                    format!("Routine load job [{name}] already exists in database '{database}' (it is {})", existing.state.name()),
                )),
                _ => Ok(()),
            }
        })?;
        self.spawn_routine_load(id);
        Ok(())
    }

    pub fn alter_routine_load(
        self: &Arc<Self>,
        database: &str,
        name: &str,
        description: RoutineLoadDescription,
        properties: BTreeMap<String, String>,
        source_properties: BTreeMap<String, String>,
    ) -> Result<(), FeError> {
        let mut job = self.routine_load_job(database, name)?;
        if job.state != RoutineLoadState::Paused {
            return Err(FeError::analysis(format!(
                "Only a PAUSED routine load job can be altered; job [{name}] is {}",
                job.state.name()
            )));
        }
        if properties.contains_key("format") {
            return Err(bad_property("format of a routine load job can not be changed"));
        }
        // The job as read is what the new definition is made from; the journal takes it only
        // if nothing (a RESUME and a batch, say) changed the job since.
        let original = job.clone();
        job.properties.extend(properties);
        check_job_properties(&job.properties)?;
        merge_description(&mut job.description, description);
        apply_source_properties(&mut job.kafka, &mut job.progress, &source_properties, false)?;
        job.definition_version += 1;
        self.check_load_plan(database, &job)?;
        let job_id = job.id;
        self.metadata.log_checked(JournalEntry::AlterRoutineLoad { job }, |catalog| {
            if catalog.routine_load_jobs.get(&job_id) != Some(&original) {
                return Err(FeError::analysis(format!("routine load job [{name}] changed meanwhile; try again")));
            }
            Ok(())
        })
    }

    /// PAUSE: the job keeps its offsets and loads nothing until RESUME.
    pub fn pause_routine_load(self: &Arc<Self>, user: &str, database: &str, name: Option<&str>) -> Result<(), FeError> {
        for job in self.routine_load_targets(database, name)? {
            match job.state {
                RoutineLoadState::Paused if !job.auto_resume => continue,
                state if state.is_final() => {
                    if name.is_some() {
                        return Err(not_in_state_for(&job, "paused"));
                    }
                    continue;
                }
                _ => {}
            }
            self.change_routine_load_state(
                job.id,
                |_| true,
                RoutineLoadState::Paused,
                format!("ErrorReason{{errCode = 100, msg='User {user} pauses routine load job'}}"),
                false,
            )?;
            self.routine_loads.stop_runner(job.id);
        }
        Ok(())
    }

    pub fn resume_routine_load(self: &Arc<Self>, database: &str, name: Option<&str>) -> Result<(), FeError> {
        for job in self.routine_load_targets(database, name)? {
            match job.state {
                RoutineLoadState::Paused => {}
                RoutineLoadState::Running | RoutineLoadState::NeedSchedule => continue,
                _ => {
                    if name.is_some() {
                        return Err(not_in_state_for(&job, "resumed"));
                    }
                    continue;
                }
            }
            self.change_routine_load_state(
                job.id,
                |job| job.state == RoutineLoadState::Paused,
                RoutineLoadState::NeedSchedule,
                String::new(),
                false,
            )?;
            // The user looked at the errors: the max_error_number window starts again.
            self.routine_loads.update_runtime(job.id, |runtime| {
                runtime.window_rows = 0;
                runtime.window_error_rows = 0;
            });
            self.spawn_routine_load(job.id);
        }
        Ok(())
    }

    pub fn stop_routine_load(self: &Arc<Self>, user: &str, database: &str, name: &str) -> Result<(), FeError> {
        let job = self.routine_load_job(database, name)?;
        if job.state.is_final() {
            return Err(FeError::analysis(format!("routine load job [{name}] is already {}", job.state.name())));
        }
        self.change_routine_load_state(
            job.id,
            |_| true,
            RoutineLoadState::Stopped,
            format!("ErrorReason{{errCode = 100, msg='User {user} stops routine load job'}}"),
            false,
        )?;
        self.routine_loads.stop_runner(job.id);
        Ok(())
    }

    fn routine_load_targets(&self, database: &str, name: Option<&str>) -> Result<Vec<RoutineLoadJob>, FeError> {
        match name {
            Some(name) => Ok(vec![self.routine_load_job(database, name)?]),
            None => {
                let database_id = self.routine_load_database(database)?;
                Ok(self
                    .metadata
                    .read()
                    .routine_load_jobs
                    .values()
                    .filter(|job| job.database_id == database_id)
                    .cloned()
                    .collect())
            }
        }
    }

    /// Journals a state change if the job is still as `from` expects, so a PAUSE can not be
    /// overwritten by a scheduler that read the job just before it (and the other way round).
    /// A stopped or cancelled job never changes again.
    pub(crate) fn change_routine_load_state(
        &self,
        job_id: u64,
        from: impl FnOnce(&RoutineLoadJob) -> bool,
        state: RoutineLoadState,
        reason: String,
        auto_resume: bool,
    ) -> Result<(), FeError> {
        let entry = JournalEntry::ChangeRoutineLoadState {
            job_id,
            state,
            reason,
            auto_resume,
            time: now_millis(),
        };
        self.metadata.log_checked(entry, |catalog| match catalog.routine_load_jobs.get(&job_id) {
            Some(job) if job.state.is_final() || !from(job) => Err(FeError::analysis(format!(
                "routine load job [{}] is {} now and can not become {}",
                job.name,
                job.state.name(),
                state.name()
            ))),
            Some(_) => Ok(()),
            None => Err(FeError::internal(format!("routine load job {job_id} does not exist"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition() -> KafkaDefinition {
        KafkaDefinition {
            broker_list: String::new(),
            topic: String::new(),
            partitions: None,
            default_offset: OFFSET_END,
            group_id: String::new(),
            client_properties: BTreeMap::new(),
        }
    }

    fn properties(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    #[test]
    fn source_properties_set_partitions_offsets_and_client_settings() {
        let mut kafka = definition();
        let mut progress = BTreeMap::new();
        apply_source_properties(
            &mut kafka,
            &mut progress,
            &properties(&[
                ("kafka_broker_list", "127.0.0.1:9092"),
                ("kafka_topic", "readings"),
                ("kafka_partitions", "0, 1,2"),
                ("kafka_offsets", "OFFSET_BEGINNING,5,offset_end"),
                ("property.security.protocol", "SASL_PLAINTEXT"),
            ]),
            true,
        )
        .expect("valid");
        assert_eq!(kafka.partitions, Some(vec![0, 1, 2]));
        assert_eq!(progress, BTreeMap::from([(0, OFFSET_BEGINNING), (1, 5), (2, OFFSET_END)]));
        assert_eq!(kafka.client_properties.get("security.protocol").map(String::as_str), Some("SASL_PLAINTEXT"));
    }

    #[test]
    fn source_property_errors_are_precise() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("kafka_topic", "t")], "kafka_broker_list and kafka_topic are required"),
            (&[("kafka_broker_list", "b"), ("kafka_topic", "t"), ("kafka_partitions", "0,x")], "Invalid kafka partition 'x'"),
            (
                &[("kafka_broker_list", "b"), ("kafka_topic", "t"), ("kafka_partitions", "0,1"), ("kafka_offsets", "1")],
                "kafka_offsets has 1 offsets for 2 kafka_partitions",
            ),
            (&[("kafka_broker_list", "b"), ("kafka_topic", "t"), ("kafka_offsets", "1")], "kafka_offsets needs kafka_partitions"),
            (&[("kafka_broker_list", "b"), ("kafka_topic", "t"), ("brokers", "x")], "Unknown data source property 'brokers'"),
            (
                &[("kafka_broker_list", "b"), ("kafka_topic", "t"), ("kafka_partitions", "0"), ("kafka_offsets", "-5")],
                "Invalid kafka offset '-5'",
            ),
        ];
        for (given, expected) in cases {
            let error = apply_source_properties(&mut definition(), &mut BTreeMap::new(), &properties(given), true)
                .expect_err("invalid");
            assert!(error.to_string().contains(expected), "{error} should contain {expected}");
        }
    }

    #[test]
    fn job_properties_are_checked_like_starrocks() {
        check_job_properties(&properties(&[("max_batch_interval", "5"), ("format", "json")])).expect("valid");
        let error = check_job_properties(&properties(&[("max_batch_interval", "2")])).expect_err("too short");
        assert!(error.to_string().contains("max_batch_interval should be between 5 and 60"), "{error}");
        let error = check_job_properties(&properties(&[("max_batch_rows", "10")])).expect_err("too small");
        assert!(error.to_string().contains("max_batch_rows should be between 200000"), "{error}");
        let error = check_job_properties(&properties(&[("desired_concurrency", "2")])).expect_err("unknown");
        assert!(error.to_string().contains("Unknown routine load property 'desired_concurrency'"), "{error}");
    }

    #[test]
    fn alter_moves_offsets_of_partitions_the_job_has_and_nothing_else() {
        let mut kafka = definition();
        let mut progress = BTreeMap::from([(0, 5), (1, 7)]);
        apply_source_properties(
            &mut kafka,
            &mut progress,
            &properties(&[("kafka_partitions", "1"), ("kafka_offsets", "2")]),
            false,
        )
        .expect("valid");
        assert_eq!(progress, BTreeMap::from([(0, 5), (1, 2)]));
        assert_eq!(kafka.partitions, None, "the job still follows every partition");
        let error = apply_source_properties(
            &mut kafka,
            &mut progress,
            &properties(&[("kafka_partitions", "4"), ("kafka_offsets", "0")]),
            false,
        )
        .expect_err("not a partition of the job");
        assert!(error.to_string().contains("kafka partition 4 is not consumed by this job"), "{error}");
    }

    #[test]
    fn alter_may_not_move_the_source() {
        let mut kafka = definition();
        let error = apply_source_properties(&mut kafka, &mut BTreeMap::new(), &properties(&[("kafka_topic", "other")]), false)
            .expect_err("topic is fixed");
        assert!(error.to_string().contains("kafka_topic of a routine load job can not be changed"), "{error}");
    }
}
