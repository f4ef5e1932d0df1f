//! A Routine Load job as the catalog keeps it: its definition (target table, load
//! properties, job properties, Kafka source), its state, and its progress: the next Kafka
//! offset to consume in each partition. Progress changes only in the journal record that
//! commits a batch's rows (or resolves a symbolic start offset), so it is exactly what was
//! loaded.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use cairn_common::ids::{DatabaseId, TableId};
use cairn_load::RoutineLoadCommit;

/// StarRocks' job states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoutineLoadState {
    NeedSchedule,
    Running,
    Paused,
    Stopped,
    Cancelled,
}

impl RoutineLoadState {
    pub fn name(self) -> &'static str {
        match self {
            RoutineLoadState::NeedSchedule => "NEED_SCHEDULE",
            RoutineLoadState::Running => "RUNNING",
            RoutineLoadState::Paused => "PAUSED",
            RoutineLoadState::Stopped => "STOPPED",
            RoutineLoadState::Cancelled => "CANCELLED",
        }
    }

    /// Stopped and cancelled jobs never run again; SHOW ROUTINE LOAD hides them without ALL.
    pub fn is_final(self) -> bool {
        matches!(self, RoutineLoadState::Stopped | RoutineLoadState::Cancelled)
    }
}

/// The load properties of the statement (`COLUMNS TERMINATED BY`, `COLUMNS (...)`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadDescription {
    pub column_separator: Option<String>,
    pub row_delimiter: Option<String>,
    pub columns: Option<String>,
    pub where_clause: Option<String>,
    pub partitions: Vec<String>,
}

/// The Kafka source of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaDefinition {
    pub broker_list: String,
    pub topic: String,
    /// `kafka_partitions`: only these partitions. `None`: every partition of the topic,
    /// including partitions added later.
    pub partitions: Option<Vec<i32>>,
    /// `property.kafka_default_offsets`: where partitions without an explicit offset start
    /// ([`cairn_kafka::OFFSET_BEGINNING`], [`cairn_kafka::OFFSET_END`] or a number).
    pub default_offset: i64,
    /// `property.group.id`, or one made from the job name.
    pub group_id: String,
    /// The other `property.*` entries, without the prefix, for librdkafka.
    pub client_properties: BTreeMap<String, String>,
}

/// Counters over the job's life, as SHOW ROUTINE LOAD's Statistic shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutineLoadStatistics {
    pub received_bytes: u64,
    pub total_rows: u64,
    pub loaded_rows: u64,
    pub error_rows: u64,
    pub unselected_rows: u64,
    pub committed_task_count: u64,
    pub task_execute_time_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutineLoadJob {
    pub id: u64,
    pub name: String,
    pub database_id: DatabaseId,
    pub table_id: TableId,
    pub table: String,
    /// The creator, whose privileges the batches load with.
    pub user: String,
    pub user_host: String,
    pub state: RoutineLoadState,
    /// ReasonOfStateChanged.
    pub reason: String,
    /// Set when the job paused because Kafka failed: it resumes by itself once Kafka answers.
    pub auto_resume: bool,
    pub create_time: i64,
    pub pause_time: Option<i64>,
    pub end_time: Option<i64>,
    pub description: LoadDescription,
    /// Job properties as given, names lower-cased, already checked.
    pub properties: BTreeMap<String, String>,
    pub kafka: KafkaDefinition,
    /// Partition to the next offset to consume; negative for a start not yet resolved
    /// ([`cairn_kafka::OFFSET_BEGINNING`], [`cairn_kafka::OFFSET_END`]).
    #[serde(with = "cairn_common::offset_map")]
    pub progress: BTreeMap<i32, i64>,
    pub statistics: RoutineLoadStatistics,
    /// Raised by every ALTER, so a batch planned with the old definition can not commit.
    #[serde(default)]
    pub definition_version: u64,
}

/// Defaults of the job properties, as in StarRocks.
pub const DEFAULT_DESIRED_CONCURRENT_NUMBER: u64 = 3;
pub const DEFAULT_MAX_BATCH_INTERVAL_SECONDS: u64 = 10;
pub const DEFAULT_MAX_BATCH_ROWS: u64 = 200_000;
pub const DEFAULT_MAX_BATCH_SIZE: u64 = 100 * 1024 * 1024;
pub const DEFAULT_TASK_TIMEOUT_SECONDS: u64 = 60;

impl RoutineLoadJob {
    fn number(&self, name: &str, default: u64) -> u64 {
        self.properties
            .get(name)
            .and_then(|value| value.trim().parse::<i64>().ok())
            .filter(|value| *value > 0)
            .map_or(default, |value| value as u64)
    }

    pub fn desired_concurrent_number(&self) -> u64 {
        self.number("desired_concurrent_number", DEFAULT_DESIRED_CONCURRENT_NUMBER)
    }

    pub fn max_batch_interval(&self) -> Duration {
        Duration::from_secs(self.number("max_batch_interval", DEFAULT_MAX_BATCH_INTERVAL_SECONDS))
    }

    /// How long one batch consumes: `task_consume_second` when set, else the interval.
    pub fn batch_consume_time(&self) -> Duration {
        match self.number("task_consume_second", 0) {
            0 => self.max_batch_interval(),
            seconds => Duration::from_secs(seconds),
        }
    }

    pub fn max_batch_rows(&self) -> u64 {
        self.number("max_batch_rows", DEFAULT_MAX_BATCH_ROWS)
    }

    pub fn max_batch_size(&self) -> u64 {
        self.number("max_batch_size", DEFAULT_MAX_BATCH_SIZE)
    }

    pub fn task_timeout(&self) -> Duration {
        Duration::from_secs(self.number("task_timeout_second", DEFAULT_TASK_TIMEOUT_SECONDS))
    }

    /// Error rows allowed within each window of `max_batch_rows * 10` rows.
    pub fn max_error_number(&self) -> u64 {
        self.properties
            .get("max_error_number")
            .and_then(|value| value.trim().parse::<u64>().ok())
            .unwrap_or(0)
    }

    pub fn max_filter_ratio(&self) -> f64 {
        self.properties
            .get("max_filter_ratio")
            .and_then(|value| value.trim().parse::<f64>().ok())
            .unwrap_or(1.0)
    }

    pub fn format(&self) -> &str {
        self.properties.get("format").map_or("csv", String::as_str)
    }

    /// The parameters of the batches' [`cairn_load::LoadOptions`], in Stream Load's names.
    pub fn load_parameters(&self) -> Vec<(String, String)> {
        let mut parameters: Vec<(String, String)> = Vec::new();
        for name in [
            "format",
            "jsonpaths",
            "json_root",
            "strip_outer_array",
            "strict_mode",
            "timezone",
            "partial_update",
        ] {
            if let Some(value) = self.properties.get(name) {
                parameters.push((name.to_string(), value.clone()));
            }
        }
        parameters.push(("max_filter_ratio".to_string(), self.max_filter_ratio().to_string()));
        let description = &self.description;
        if let Some(separator) = &description.column_separator {
            parameters.push(("column_separator".to_string(), separator.clone()));
        } else if self.format().eq_ignore_ascii_case("csv") {
            // Routine Load's CSV default is a comma, not Stream Load's tab.
            parameters.push(("column_separator".to_string(), ",".to_string()));
        }
        if let Some(delimiter) = &description.row_delimiter {
            parameters.push(("row_delimiter".to_string(), delimiter.clone()));
        }
        if let Some(columns) = &description.columns {
            parameters.push(("columns".to_string(), columns.clone()));
        }
        if let Some(condition) = &description.where_clause {
            parameters.push(("where".to_string(), condition.clone()));
        }
        if !description.partitions.is_empty() {
            parameters.push(("partitions".to_string(), description.partitions.join(",")));
        }
        parameters
    }

    /// Checks a batch's commit against the job as it is now; see [`RoutineLoadCommit`].
    pub fn check_commit(&self, commit: &RoutineLoadCommit) -> Result<(), String> {
        if self.state != RoutineLoadState::Running {
            return Err(format!(
                "routine load job '{}' is {} now; the batch is not committed",
                self.name,
                self.state.name()
            ));
        }
        if commit.definition_version != self.definition_version {
            return Err(format!(
                "routine load job '{}' was altered while the batch ran; the batch is not committed",
                self.name
            ));
        }
        for (partition, begin) in &commit.begin_offsets {
            if self.progress.get(partition) != Some(begin) {
                return Err(format!(
                    "routine load job '{}' moved past offset {begin} of partition {partition} meanwhile; the batch is not committed",
                    self.name
                ));
            }
        }
        Ok(())
    }

    /// Applies a committed batch.
    pub fn apply_commit(&mut self, commit: &RoutineLoadCommit) {
        for (partition, end) in &commit.end_offsets {
            self.progress.insert(*partition, *end);
        }
        let statistics = &mut self.statistics;
        statistics.received_bytes += commit.received_bytes;
        statistics.total_rows += commit.total_rows;
        statistics.loaded_rows += commit.loaded_rows;
        statistics.error_rows += commit.error_rows;
        statistics.unselected_rows += commit.unselected_rows;
        statistics.committed_task_count += 1;
        statistics.task_execute_time_ms += commit.execute_time_ms;
    }
}

/// Offsets as SHOW ROUTINE LOAD prints them: the last offset consumed, or the symbolic start.
pub fn progress_text(offset: i64) -> String {
    match offset {
        cairn_kafka::OFFSET_BEGINNING => "OFFSET_BEGINNING".to_string(),
        cairn_kafka::OFFSET_END => "OFFSET_END".to_string(),
        0 => "OFFSET_ZERO".to_string(),
        next => (next - 1).to_string(),
    }
}
