"""A real single-node Apache Kafka broker for tests, run by e2e/tools/kafka.sh.

    broker = KafkaBroker().start(workdir)
    broker.create_topic("events", partitions=3)
    broker.produce("events", ["a", "b"], partition=0)
    broker.produce("events", [b"c"], sasl=True)          # over SASL_PLAINTEXT (PLAIN)
    assert [m.value for m in broker.consume("events")] == [b"a", b"b", b"c"]
    broker.kill(); broker.restart()                        # an outage: same ports, same data
    broker.stop()

Clients are confluent-kafka (librdkafka). `client_config()` gives the settings of either
listener, to build other clients (or to hand Cairn the same bootstrap and credentials).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Union

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

REPOSITORY = Path(__file__).resolve().parents[2]
KAFKA_SH = REPOSITORY / "e2e" / "tools" / "kafka.sh"
# kafka.sh waits up to CAIRN_KAFKA_START_TIMEOUT (120 s) itself; this only bounds a hang.
SCRIPT_TIMEOUT_SECONDS = 600
CLIENT_TIMEOUT_SECONDS = 60

Payload = Union[str, bytes]


class KafkaBrokerError(RuntimeError):
    """kafka.sh failed, or a client operation did not complete; the message says why."""


@dataclass(frozen=True)
class Record:
    """One consumed message."""

    topic: str
    partition: int
    offset: int
    key: Optional[bytes]
    value: Optional[bytes]


def _as_bytes(payload: Optional[Payload]) -> Optional[bytes]:
    if payload is None or isinstance(payload, bytes):
        return payload
    return payload.encode()


def install() -> Path:
    """Resolves the broker's jars once (kafka.sh install); returns the install directory."""
    return Path(_run_script("install").strip())


def _run_script(*arguments: str) -> str:
    try:
        completed = subprocess.run(
            ["bash", str(KAFKA_SH), *arguments],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=SCRIPT_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as error:
        raise KafkaBrokerError(f"kafka.sh {' '.join(arguments)} hung: {error}") from error
    if completed.returncode != 0:
        raise KafkaBrokerError(
            f"kafka.sh {' '.join(arguments)} exited with {completed.returncode}\n"
            f"{completed.stderr}{completed.stdout}"
        )
    return completed.stdout


class KafkaBroker:
    """One broker in one work directory: start, stop (SIGTERM), kill (SIGKILL), restart.

    restart() brings it back on the same ports with the same data, so clients and Cairn
    jobs configured with `bootstrap` keep working across an outage.
    """

    def __init__(self) -> None:
        self.workdir: Optional[Path] = None
        self.env: dict[str, str] = {}

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, workdir: Union[str, Path]) -> "KafkaBroker":
        """A fresh broker (new storage, new free ports) in WORKDIR, ready when this returns."""
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._script("start")
        except BaseException as error:
            # kafka.sh kills a broker that does not become ready, but not when it is itself
            # killed (a hang, an interrupt): no broker may outlive a failed start.
            try:
                _run_script("stop", str(self.workdir))
            except KafkaBrokerError as stop_error:
                error.add_note(f"and stopping what the failed start left: {stop_error}")
            raise
        return self

    def stop(self) -> None:
        """Graceful stop; SIGKILL if it does not exit in time. A stopped broker is fine.
        Returns once every thread of the broker has exited and its ports are closed; raises
        when a broker of the directory ran that broker.env does not record (it is ended too),
        or when the broker's ports stay open with no broker of the directory left to end."""
        if self.workdir is not None:
            self._script("stop")

    def kill(self) -> None:
        """SIGKILL: the broker vanishes mid-whatever, as in an outage. Returns once nothing
        listens on its ports any more; raises like stop()."""
        self._require_started()
        self._script("kill")

    def restart(self) -> "KafkaBroker":
        """Stops the broker if it runs, then starts it on the same ports and data."""
        self._require_started()
        self._script("restart")
        return self

    def is_running(self) -> bool:
        if self.workdir is None:
            return False
        completed = subprocess.run(
            ["bash", str(KAFKA_SH), "status", str(self.workdir)],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
        )
        return completed.returncode == 0

    def _require_started(self) -> None:
        if self.workdir is None:
            raise KafkaBrokerError("the broker was never started")

    def _script(self, command: str) -> None:
        assert self.workdir is not None
        _run_script(command, str(self.workdir))
        self._load_env()

    def _load_env(self) -> None:
        assert self.workdir is not None
        env_path = self.workdir / "broker.env"
        if not env_path.exists():
            return
        env = {}
        for line in env_path.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                env[key] = value
        self.env = env

    # --- addresses and credentials -----------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """host:port of the PLAINTEXT listener."""
        return self.env["KAFKA_BOOTSTRAP"]

    @property
    def sasl_bootstrap(self) -> str:
        """host:port of the SASL_PLAINTEXT listener (mechanism PLAIN)."""
        return self.env["KAFKA_SASL_BOOTSTRAP"]

    @property
    def sasl_user(self) -> str:
        return self.env["KAFKA_SASL_USER"]

    @property
    def sasl_password(self) -> str:
        return self.env["KAFKA_SASL_PASSWORD"]

    @property
    def sasl_mechanism(self) -> str:
        return self.env.get("KAFKA_SASL_MECHANISM", "PLAIN")

    @property
    def pid(self) -> int:
        return int(self.env["KAFKA_PID"])

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "broker.log"

    def log_tail(self, line_count: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except (OSError, AssertionError):
            return "(no broker log)"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(lines[-line_count:])

    def client_config(
        self, sasl: bool = False, password: Optional[str] = None, **extra: object
    ) -> dict:
        """librdkafka settings for the PLAINTEXT listener, or the SASL_PLAINTEXT one."""
        if sasl:
            config = {
                "bootstrap.servers": self.sasl_bootstrap,
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": self.sasl_mechanism,
                "sasl.username": self.sasl_user,
                "sasl.password": self.sasl_password if password is None else password,
            }
        else:
            config = {"bootstrap.servers": self.bootstrap}
        config.update(extra)
        return config

    # --- topics ------------------------------------------------------------------------------

    def admin(self, sasl: bool = False) -> AdminClient:
        return AdminClient(self.client_config(sasl))

    def create_topic(self, name: str, partitions: int = 1, sasl: bool = False) -> None:
        """Creates NAME (replication 1) and waits until every partition has a leader."""
        admin = self.admin(sasl)  # the futures need the client alive
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1)],
            operation_timeout=CLIENT_TIMEOUT_SECONDS, request_timeout=CLIENT_TIMEOUT_SECONDS,
        )
        try:
            futures[name].result(timeout=CLIENT_TIMEOUT_SECONDS)
        except KafkaException as error:
            raise KafkaBrokerError(f"creating topic {name}: {error}") from error
        self.wait_for_partitions(name, partitions, sasl)

    def add_partitions(self, topic: str, total: int, sasl: bool = False) -> None:
        """Grows TOPIC to TOTAL partitions and waits until every one has a leader."""
        admin = self.admin(sasl)  # the futures need the client alive
        futures = admin.create_partitions(
            [NewPartitions(topic, total)],
            operation_timeout=CLIENT_TIMEOUT_SECONDS, request_timeout=CLIENT_TIMEOUT_SECONDS,
        )
        try:
            futures[topic].result(timeout=CLIENT_TIMEOUT_SECONDS)
        except KafkaException as error:
            raise KafkaBrokerError(f"growing {topic} to {total} partitions: {error}") from error
        self.wait_for_partitions(topic, total, sasl)

    def delete_topic(self, name: str, sasl: bool = False) -> None:
        admin = self.admin(sasl)  # the futures need the client alive
        futures = admin.delete_topics([name], operation_timeout=CLIENT_TIMEOUT_SECONDS)
        futures[name].result(timeout=CLIENT_TIMEOUT_SECONDS)

    def partition_count(self, topic: str, sasl: bool = False) -> int:
        metadata = self.admin(sasl).list_topics(topic, timeout=CLIENT_TIMEOUT_SECONDS)
        topic_metadata = metadata.topics.get(topic)
        if topic_metadata is None or topic_metadata.error is not None:
            error = None if topic_metadata is None else topic_metadata.error
            raise KafkaBrokerError(f"topic {topic} has no metadata: {error}")
        return len(topic_metadata.partitions)

    def wait_for_partitions(
        self, topic: str, count: int, sasl: bool = False, timeout: float = CLIENT_TIMEOUT_SECONDS
    ) -> None:
        """Until the broker's metadata shows COUNT partitions of TOPIC, each with a leader."""
        admin = self.admin(sasl)
        deadline = time.monotonic() + timeout
        last = "no metadata yet"
        while True:
            try:
                metadata = admin.list_topics(topic, timeout=10)
                topic_metadata = metadata.topics.get(topic)
                if topic_metadata is not None and topic_metadata.error is None:
                    partitions = topic_metadata.partitions
                    leaders = [p.leader for p in partitions.values()]
                    if len(partitions) == count and all(leader >= 0 for leader in leaders):
                        return
                    last = f"{len(partitions)} partitions, leaders {leaders}"
                else:
                    last = f"error {None if topic_metadata is None else topic_metadata.error}"
            except KafkaException as error:
                last = str(error)
            if time.monotonic() > deadline:
                raise KafkaBrokerError(
                    f"topic {topic} did not get {count} partitions with leaders in {timeout}s: {last}"
                )
            time.sleep(0.2)

    # --- messages ----------------------------------------------------------------------------

    def produce(
        self,
        topic: str,
        messages: Iterable[Payload],
        partition: Optional[int] = None,
        key: Optional[Payload] = None,
        sasl: bool = False,
        timeout: float = CLIENT_TIMEOUT_SECONDS,
    ) -> list[tuple[int, int]]:
        """Sends MESSAGES in order (acks=all), flushes, and raises unless every one was
        delivered. Returns the (partition, offset) of each. PARTITION None lets librdkafka's
        partitioner choose (by KEY, or at random without one)."""
        errors: list[str] = []
        delivered: dict[int, tuple[int, int]] = {}

        def on_delivery(index: int):
            def callback(error, message) -> None:
                if error is not None:
                    errors.append(f"message {index}: {error}")
                else:
                    delivered[index] = (message.partition(), message.offset())
            return callback

        producer = Producer(self.client_config(
            sasl, **{"acks": "all", "linger.ms": 5, "message.timeout.ms": int(timeout * 1000)}
        ))
        payloads = list(messages)
        extra = {} if partition is None else {"partition": partition}
        for index, payload in enumerate(payloads):
            while True:
                try:
                    producer.produce(
                        topic, value=_as_bytes(payload), key=_as_bytes(key),
                        on_delivery=on_delivery(index), **extra,
                    )
                    break
                except BufferError:  # the local queue is full: let deliveries drain it
                    producer.poll(0.1)
            producer.poll(0)
        remaining = producer.flush(timeout)
        if remaining:
            producer.purge()
            producer.flush(0)
        # Dropped here, not when a caller's traceback lets go of this frame: a live handle
        # keeps reconnecting (and logging) to a broker that a test has killed.
        producer = None
        if remaining or errors or len(delivered) != len(payloads):
            raise KafkaBrokerError(
                f"producing {len(payloads)} messages to {topic}: {len(delivered)} delivered, "
                f"{remaining} still queued, errors: {errors[:5]}"
            )
        return [delivered[index] for index in range(len(payloads))]

    def consume(
        self, topic: str, sasl: bool = False, timeout: float = CLIENT_TIMEOUT_SECONDS
    ) -> list[Record]:
        """Every message of every partition of TOPIC, from the start to the end as of this
        call (the high watermarks), ordered by (partition, offset). Joins no consumer group
        and commits nothing. Reads with read_committed, so it waits out open transactions."""
        consumer = Consumer(self.client_config(
            sasl, **{
                "group.id": f"cairn-e2e-reader-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": True,
            }
        ))
        try:
            count = self.partition_count(topic, sasl)
            starts, ends = {}, {}
            for partition in range(count):
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout
                )
                if high > low:
                    starts[partition], ends[partition] = low, high
            consumer.assign([TopicPartition(topic, p, starts[p]) for p in starts])
            pending = set(ends)
            records: list[Record] = []
            deadline = time.monotonic() + timeout
            while pending:
                if time.monotonic() > deadline:
                    raise KafkaBrokerError(
                        f"consuming {topic}: partitions {sorted(pending)} did not reach their "
                        f"ends {ends} in {timeout}s ({len(records)} records read)"
                    )
                message = consumer.poll(0.5)
                if message is None:
                    continue
                partition, offset = message.partition(), message.offset()
                if message.error() is not None:
                    # The end of a partition: its offset is the next one to fetch, which is
                    # past control records (transaction markers) that are never delivered.
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        if partition in ends and offset >= ends[partition]:
                            pending.discard(partition)
                        continue
                    raise KafkaBrokerError(f"consuming {topic}: {message.error()}")
                if partition in ends and offset < ends[partition]:
                    records.append(Record(topic, partition, offset, message.key(), message.value()))
                if partition in ends and offset + 1 >= ends[partition]:
                    pending.discard(partition)
            records.sort(key=lambda record: (record.partition, record.offset))
            return records
        finally:
            consumer.close()
