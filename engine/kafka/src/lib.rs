//! The Kafka side of Routine Load, on librdkafka (rdkafka). A [`KafkaSource`] is a job's
//! brokers, topic and `property.*` settings; a [`MetadataClient`] lists the topic's partitions
//! and their watermarks. A [`BatchReader`] reads one batch of messages from given offsets, until the
//! batch is full, its time is up, or it has caught up with every partition.
//!
//! Offsets are never committed to Kafka: the FE journal owns them and commits each batch's end
//! offsets together with its rows, which is what makes a Routine Load exactly once. So the
//! consumer assigns partitions itself at the journal's offsets and never joins a group
//! rebalance.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::time::Instant;

/// Where a partition starts when the job has not consumed it yet, as Kafka's special offsets.
pub const OFFSET_BEGINNING: i64 = -2;
pub const OFFSET_END: i64 = -1;

#[derive(Debug, Clone, thiserror::Error)]
pub enum KafkaError {
    /// A `property.*` librdkafka refuses, or a broker list it cannot use.
    #[error("invalid Kafka client configuration: {0}")]
    Configuration(String),
    /// The brokers can not be reached (or refuse us); the job waits and retries.
    #[error("failed to reach Kafka at '{brokers}': {reason}")]
    Unreachable { brokers: String, reason: String },
    #[error("topic '{topic}' does not exist in Kafka at '{brokers}'")]
    UnknownTopic { topic: String, brokers: String },
    #[error("partition {partition} does not exist in topic '{topic}'")]
    UnknownPartition { topic: String, partition: i32 },
}

impl KafkaError {
    /// Whether waiting may fix it: an unreachable broker comes back, a missing topic may be
    /// created; a configuration error needs the user.
    pub fn is_transient(&self) -> bool {
        // A partition named in kafka_partitions that the topic lacks needs an ALTER.
        !matches!(self, KafkaError::Configuration(_) | KafkaError::UnknownPartition { .. })
    }
}

/// A job's Kafka source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSource {
    pub broker_list: String,
    pub topic: String,
    /// librdkafka settings from the job's `property.*` (SASL, SSL, client.id ...), without the
    /// prefix. Settings that only make sense to Routine Load itself are removed by the FE.
    pub properties: BTreeMap<String, String>,
}

impl KafkaSource {
    fn config(&self, group_id: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.broker_list)
            .set("group.id", group_id)
            // The FE journal holds the offsets (see the crate docs).
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            // An offset retention already deleted: continue from the oldest message left.
            .set("auto.offset.reset", "earliest")
            .set("socket.timeout.ms", "10000")
            .set("reconnect.backoff.max.ms", "2000");
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }

    fn unreachable(&self, error: impl std::fmt::Display) -> KafkaError {
        KafkaError::Unreachable {
            brokers: self.broker_list.clone(),
            reason: error.to_string(),
        }
    }

    fn metadata_client(&self) -> Result<BaseConsumer, KafkaError> {
        self.config("cairn-routine-load-metadata")
            .create::<BaseConsumer>()
            .map_err(|error| KafkaError::Configuration(error.to_string()))
    }

    fn unknown_topic(&self) -> KafkaError {
        KafkaError::UnknownTopic {
            topic: self.topic.clone(),
            brokers: self.broker_list.clone(),
        }
    }

    /// Checks the client settings (a `property.*` librdkafka does not know, say) without
    /// waiting for Kafka.
    pub fn check(&self) -> Result<(), KafkaError> {
        self.metadata_client().map(drop)
    }
}

/// A client for the topic's partitions and watermarks, kept by a job's scheduler so each
/// round asks over an open connection instead of connecting again.
pub struct MetadataClient {
    source: KafkaSource,
    client: BaseConsumer,
}

impl MetadataClient {
    pub async fn connect(source: &KafkaSource) -> Result<Arc<MetadataClient>, KafkaError> {
        let source = source.clone();
        run_blocking(move || {
            let client = source.metadata_client()?;
            Ok(Arc::new(MetadataClient { source, client }))
        })
        .await
    }

    pub fn source(&self) -> &KafkaSource {
        &self.source
    }

    /// Takes the client's queued events (errors while Kafka is down), which would otherwise
    /// pile up for as long as the client lives.
    fn serve_events(&self) {
        while let Some(event) = self.client.poll(Duration::ZERO) {
            drop(event);
        }
    }

    /// The topic's partition ids, ascending.
    pub async fn partitions(self: &Arc<Self>, timeout: Duration) -> Result<Vec<i32>, KafkaError> {
        let this = Arc::clone(self);
        run_blocking(move || {
            this.serve_events();
            let source = &this.source;
            let metadata = this
                .client
                .fetch_metadata(Some(&source.topic), timeout)
                .map_err(|error| source.unreachable(error))?;
            let Some(topic) = metadata.topics().iter().find(|topic| topic.name() == source.topic) else {
                return Err(source.unknown_topic());
            };
            if topic.error().is_some() || topic.partitions().is_empty() {
                return Err(source.unknown_topic());
            }
            let mut partitions: Vec<i32> = topic.partitions().iter().map(|partition| partition.id()).collect();
            partitions.sort_unstable();
            Ok(partitions)
        })
        .await
    }

    /// The low and high watermarks (oldest offset kept, offset of the next message) of each
    /// partition.
    pub async fn watermarks(self: &Arc<Self>, partitions: &[i32], timeout: Duration) -> Result<BTreeMap<i32, (i64, i64)>, KafkaError> {
        let this = Arc::clone(self);
        let partitions = partitions.to_vec();
        run_blocking(move || {
            this.serve_events();
            let source = &this.source;
            let mut watermarks = BTreeMap::new();
            for partition in partitions {
                let marks = this
                    .client
                    .fetch_watermarks(&source.topic, partition, timeout)
                    .map_err(|error| match error {
                        RdKafkaError::MetadataFetch(RDKafkaErrorCode::UnknownPartition)
                        | RdKafkaError::MetadataFetch(RDKafkaErrorCode::UnknownTopicOrPartition) => {
                            KafkaError::UnknownPartition {
                                topic: source.topic.clone(),
                                partition,
                            }
                        }
                        other => source.unreachable(other),
                    })?;
                watermarks.insert(partition, marks);
            }
            Ok(watermarks)
        })
        .await
    }
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, KafkaError> + Send + 'static,
) -> Result<T, KafkaError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| KafkaError::Configuration(format!("the Kafka client task failed: {error}")))?
}

/// When a batch is complete.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_rows: u64,
    pub max_bytes: u64,
    /// The longest a batch waits for messages.
    pub max_interval: Duration,
    /// The longest the first message of a batch waits for more. Under a steady stream the
    /// partitions' ends are never reached, so this is what bounds freshness.
    pub max_linger: Duration,
    /// How long a batch whose partitions are all at their end waits for a first message.
    pub max_idle: Duration,
}

#[derive(Debug, Clone)]
pub struct KafkaMessage {
    pub partition: i32,
    pub offset: i64,
    /// Empty for a message without a value.
    pub payload: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Batch {
    pub messages: Vec<KafkaMessage>,
    /// For each partition read, the offset after its last message in the batch.
    pub next_offsets: BTreeMap<i32, i64>,
    pub bytes: u64,
}

/// One task's consumer, kept between batches so a batch that continues where the previous one
/// ended starts from already fetched messages.
pub struct BatchReader {
    source: KafkaSource,
    consumer: Arc<StreamConsumer>,
    /// The offsets the consumer will deliver next, when it is assigned.
    positions: BTreeMap<i32, i64>,
    /// Partitions whose last event was "end of partition". librdkafka says so once per
    /// arrival at the end, so this is carried from one batch to the next.
    caught_up: BTreeMap<i32, bool>,
}

impl BatchReader {
    pub fn new(source: &KafkaSource, group_id: &str) -> Result<BatchReader, KafkaError> {
        let consumer = source
            .config(group_id)
            .create::<StreamConsumer>()
            .map_err(|error| KafkaError::Configuration(error.to_string()))?;
        Ok(BatchReader {
            source: source.clone(),
            consumer: Arc::new(consumer),
            positions: BTreeMap::new(),
            caught_up: BTreeMap::new(),
        })
    }

    pub fn source(&self) -> &KafkaSource {
        &self.source
    }

    /// Reads messages from `start` (partition to the next offset to read; offsets are
    /// concrete, not [`OFFSET_BEGINNING`]/[`OFFSET_END`]). Returns what was read when
    /// `limits` are reached, when every partition has been read to its end and something was
    /// read, when the first message has lingered long enough, or when the interval is over
    /// (possibly with nothing). A broker failure with nothing
    /// read is an error; with something read, the batch ends early with it. When `stop`
    /// turns true (or its sender goes away), the read ends at once with an empty batch.
    pub async fn read(
        &mut self,
        start: &BTreeMap<i32, i64>,
        limits: BatchLimits,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<Batch, KafkaError> {
        if *start != self.positions {
            let mut assignment = TopicPartitionList::new();
            for (partition, offset) in start {
                assignment
                    .add_partition_offset(&self.source.topic, *partition, Offset::Offset(*offset))
                    .map_err(|error| KafkaError::Configuration(error.to_string()))?;
            }
            self.consumer
                .assign(&assignment)
                .map_err(|error| self.source.unreachable(error))?;
            self.positions = start.clone();
            self.caught_up = start.keys().map(|partition| (*partition, false)).collect();
        }
        let mut batch = Batch::default();
        let mut deadline = Instant::now() + limits.max_interval;
        if !self.caught_up.is_empty() && self.caught_up.values().all(|done| *done) {
            deadline = deadline.min(Instant::now() + limits.max_idle);
        }
        let mut failure: Option<KafkaError> = None;
        loop {
            if *stop.borrow() {
                return Ok(self.abandon());
            }
            let received = tokio::select! {
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return Ok(self.abandon());
                    }
                    continue;
                }
                received = tokio::time::timeout_at(deadline, self.consumer.recv()) => match received {
                    Err(_elapsed) => break,
                    Ok(received) => received,
                },
            };
            match received {
                Ok(message) => {
                    let partition = message.partition();
                    let offset = message.offset();
                    let Some(expected) = self.positions.get(&partition).copied() else {
                        continue;
                    };
                    // A message before the position was delivered before a re-assignment.
                    if offset < expected {
                        continue;
                    }
                    if batch.messages.is_empty() {
                        deadline = deadline.min(Instant::now() + limits.max_linger);
                    }
                    let payload = message.payload().unwrap_or_default().to_vec();
                    batch.bytes += payload.len() as u64;
                    batch.messages.push(KafkaMessage {
                        partition,
                        offset,
                        payload,
                    });
                    self.positions.insert(partition, offset + 1);
                    batch.next_offsets.insert(partition, offset + 1);
                    self.caught_up.insert(partition, false);
                    failure = None;
                    if batch.messages.len() as u64 >= limits.max_rows || batch.bytes >= limits.max_bytes {
                        break;
                    }
                }
                Err(RdKafkaError::PartitionEOF(partition)) => {
                    self.caught_up.insert(partition, true);
                    if self.caught_up.values().all(|done| *done) {
                        if !batch.messages.is_empty() {
                            break;
                        }
                        // Idle: wait a little for new messages, but do not hold the job's
                        // other tasks (which may have data) for the whole interval.
                        deadline = deadline.min(Instant::now() + limits.max_idle);
                    }
                }
                Err(error) => {
                    let error = self.source.unreachable(error);
                    if !batch.messages.is_empty() {
                        tracing::warn!(%error, "Kafka failed during a batch; committing what was read");
                        break;
                    }
                    // librdkafka reports a broker that went away and then reconnects by
                    // itself; give it until the end of the interval before calling it down.
                    failure = Some(error);
                }
            }
        }
        match failure {
            Some(error) if batch.messages.is_empty() => {
                // The consumer's fetch state after a failure is unknown: assign again next time.
                self.positions.clear();
                self.caught_up.clear();
                Err(error)
            }
            _ => Ok(batch),
        }
    }

    /// Drops what a stopped read consumed: the next read assigns its start offsets again.
    fn abandon(&mut self) -> Batch {
        self.positions.clear();
        self.caught_up.clear();
        Batch::default()
    }
}
