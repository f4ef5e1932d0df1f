"""Ingest benchmarks of issue 3: Stream Load throughput, small synchronous loads, freshness.

Run it through `e2e/bench/run.sh ingest [options]`, which makes the venv and builds a release
cairn (or takes $CAIRN_BIN). Three parts, each on a fresh `cairn allin1` so that one part's
background work (compaction of a big load) does not blur the next part's figures:

  throughput  TPC-H lineitem (data.py's cached '|'-separated CSV) by Stream Load in chunks of
              --load-chunk-mb, each its own label; timed from the first byte sent to the last
              Success. DuckDB (threads = 2) loads the same file with CREATE TABLE AS
              SELECT * FROM read_csv(...) in the same run, for a ratio on the same machine.
  small       --small-loads Stream Loads of --small-rows lineitem rows each, one after the
              other, each timed from the request's start to its Success answer. A Success
              means the rows are visible, so the count is checked once at the end.
  freshness   a Kafka topic, a Routine Load job on it, a producer thread sending numbered
              rows at a steady rate and a poller thread running SELECT max(seq) as fast as it
              can. Rows go to partition seq % P in order (an idempotent producer), and a
              batch commits whole offset ranges, so a partition's max(seq) is a watermark:
              row seq is visible at the first poll whose max for its partition is >= seq.
              Its latency is that poll's completion time minus the row's produce time.

Benchmarks are not tests: no thresholds. A failed load, or a row count that differs from
what was sent, makes the exit status 1 (after the other parts have run). Figures go to the
console and, as JSON, to e2e/.work/bench/ingest-<time>.json and ingest-latest.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import shutil
import signal
import statistics
import sys
import threading
import time
import traceback
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench import REPOSITORY, WORK, git_commit, machine, report_failures, save_results, say  # noqa: E402
from data import ALL_TABLES, Dataset, ensure_data, scale_name  # noqa: E402
from engines import Cairn, DuckDB, EngineError, _duckdb_type, cairn_binary, fresh_dir  # noqa: E402
from stream_load import StreamLoadError, stream_load_bytes  # noqa: E402

# The Kafka broker and the Routine Load statement builders of the Kafka tests (which import
# the client tests' CairnServer module).
sys.path.append(str(REPOSITORY / "e2e" / "kafka"))
sys.path.append(str(REPOSITORY / "e2e" / "clients"))

LINEITEM = ALL_TABLES[("tpch", "lineitem")]
SEPARATOR = "|"  # data.py writes every CSV with it (tpchgen-cli itself writes Parquet here)
MB = 1e6

# References printed next to the figures; they were not measured here.
STARROCKS_STREAM_LOAD_MB_S = 82  # StarRocks Stream Load on 2 vCPU
STARROCKS_DEFAULT_BATCH_INTERVAL_S = 10  # StarRocks' default max_batch_interval

# Untimed loads before the small-load series: the first requests of a fresh server open
# files and warm caches, which is not what the series measures.
SMALL_WARMUP_LOADS = 3

FRESHNESS_DATABASE = "ingest"
FRESHNESS_TABLE = "events"
FRESHNESS_JOB = "freshness"
FRESHNESS_TOPIC = "freshness"
FRESHNESS_BUCKETS = 2
# Each row: "seq,produced_us,payload" with a payload of this many characters (VARCHAR(64)).
PAYLOAD = ("cairn-ingest-benchmark-" * 3)[:48]
# The producer paces itself in bursts this far apart.
PRODUCE_TICK_SECONDS = 0.005
# Producer settings: small linger so a burst leaves at once; idempotence keeps each
# partition in send order across retries, which the max(seq) watermark relies on.
PRODUCER_SETTINGS = {
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 1,
    "batch.num.messages": 10000,
    "queue.buffering.max.messages": 1_000_000,
    "compression.type": "none",
    "delivery.report.only.error": True,
}
# The job's first batch (consumers created, offsets resolved) may take long on a debug build.
FIRST_BATCH_TIMEOUT_SECONDS = 180
# After the producer stops, every row must become visible within this.
DRAIN_TIMEOUT_SECONDS = 120

PARTS = ("throughput", "small", "freshness")


class BenchmarkError(RuntimeError):
    """A load failed or the rows in a table are not those sent: the run's exit status is 1."""


# ------------------------------------------------------------------------------------- helpers

def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated parts to run (default {','.join(PARTS)})")
    parser.add_argument("--scale", default="1",
                        help="TPC-H scale factor of the lineitem file (default 1: 6M rows, 0.77 GB)")
    parser.add_argument("--load-chunk-mb", type=int, default=256,
                        help="MiB of CSV per Stream Load in the throughput part (default 256)")
    parser.add_argument("--small-loads", type=int, default=200,
                        help="timed Stream Loads in the small part (default 200)")
    parser.add_argument("--small-rows", type=int, default=1000,
                        help="rows per small Stream Load (default 1000)")
    parser.add_argument("--rates", default="10000,50000",
                        help="rows per second the freshness producer sends, one run per rate "
                             "(default 10000,50000)")
    parser.add_argument("--seconds", type=float, default=20,
                        help="seconds each freshness rate is sent for (default 20)")
    parser.add_argument("--freshness-partitions", type=int, default=1,
                        help="partitions of the freshness topic (default 1)")
    parser.add_argument("--work-dir", type=Path, default=WORK,
                        help="storage of the engines and the broker, and the JSON results "
                             "(default e2e/.work/bench)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the engines' storage under --work-dir after the run")
    args = parser.parse_args(argv)
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    for part in args.parts:
        if part not in PARTS:
            parser.error(f"unknown part {part!r}; choose from {', '.join(PARTS)}")
    try:
        args.rates = [int(float(r)) for r in args.rates.split(",") if r.strip()]
    except ValueError:
        parser.error(f"--rates takes numbers, not {args.rates!r}")
    if not args.rates or min(args.rates) <= 0:
        parser.error("--rates needs positive rates")
    if args.small_loads <= 0 or args.small_rows <= 0 or args.seconds <= 0:
        parser.error("--small-loads, --small-rows and --seconds must be positive")
    if args.freshness_partitions <= 0:
        parser.error("--freshness-partitions must be positive")
    return args


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that occurred, so p99 of 200 loads is the 2nd worst."""
    if not sorted_values:
        return math.nan
    index = max(0, math.ceil(fraction * len(sorted_values)) - 1)
    return sorted_values[min(index, len(sorted_values) - 1)]


def distribution_ms(values_ms: list[float]) -> dict:
    """The summary every latency gets: count, p50, p90, p99, max and mean in ms."""
    ordered = sorted(values_ms)
    return {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50), 3),
        "p90_ms": round(percentile(ordered, 0.90), 3),
        "p99_ms": round(percentile(ordered, 0.99), 3),
        "max_ms": round(ordered[-1], 3) if ordered else math.nan,
        "mean_ms": round(statistics.fmean(ordered), 3) if ordered else math.nan,
    }


def count_rows(engine: Cairn, database: str, table: str) -> int:
    return int(engine.query(database, f"SELECT count(*) FROM {table}")[0][0])


def start_cairn(work: Path, name: str, chunk_bytes: int = 256 << 20) -> Cairn:
    """A fresh `cairn allin1` in WORK/NAME (the bench's engine class: release binary or
    $CAIRN_BIN, free ports, log file). Closed by the caller."""
    engine = Cairn(fresh_dir(work / name), chunk_bytes=chunk_bytes)
    try:
        engine.start()
    except BaseException:
        engine.close()
        raise
    return engine


def finish_engine_dir(engine_dir: Path, keep: bool) -> None:
    if not keep:
        shutil.rmtree(engine_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------- throughput

def duckdb_read_csv(path: Path) -> str:
    """read_csv(...) of the lineitem file with the benchmark's types: no sniffing, so DuckDB
    parses what Cairn parses."""
    columns = ", ".join(f"'{name}': '{_duckdb_type(sql_type)}'"
                        for name, sql_type in LINEITEM.columns)
    return (f"read_csv('{path}', delim = '{SEPARATOR}', header = false, quote = '', "
            f"escape = '', auto_detect = false, columns = {{{columns}}})")


def throughput_part(args: argparse.Namespace, dataset: Dataset, work: Path) -> dict:
    """Cairn's Stream Load and DuckDB's CSV load of the same lineitem file."""
    path = dataset.csv(LINEITEM)
    size = path.stat().st_size
    rows = dataset.rows[("tpch", "lineitem")]
    result: dict = {"file": str(path), "bytes": size, "rows": rows,
                    "chunk_mb": args.load_chunk_mb}
    say(f"[throughput] lineitem SF{dataset.scale}: {size / MB:.1f} MB, {rows} rows")

    engine = start_cairn(work, "cairn-throughput", chunk_bytes=args.load_chunk_mb << 20)
    try:
        engine.create(LINEITEM)
        engine.load(LINEITEM, dataset)  # raises unless every chunk is a Success of all its rows
        stats = engine.load_stats["tpch.lineitem"]
        counted = engine.count(LINEITEM)
        if counted != rows:
            raise BenchmarkError(f"cairn: tpch.lineitem has {counted} rows after the load, "
                                 f"expected {rows}")
        seconds = stats["seconds"]
        result["cairn"] = {
            "version": str(engine.version), "binary": str(engine.binary),
            "loads": stats["loads"], "seconds": round(seconds, 3),
            "mb_per_s": round(size / MB / seconds, 2), "rows_per_s": round(rows / seconds),
            "size_on_disk_bytes": engine.size_bytes(),
        }
    finally:
        engine.close()
        finish_engine_dir(engine.work_dir, args.keep)
    say(f"[throughput] cairn: {result['cairn']['seconds']:.2f}s, "
        f"{result['cairn']['mb_per_s']:.1f} MB/s")

    duck = DuckDB(fresh_dir(work / "duckdb-throughput"))
    try:
        duck.start()  # a database file, SET threads = 2
        started = time.perf_counter()
        duck.con.execute(f"CREATE TABLE tpch.lineitem AS SELECT * FROM {duckdb_read_csv(path)}")
        duck.finish_load()  # CHECKPOINT: the rows are on disk, as Cairn's are
        seconds = time.perf_counter() - started
        counted = duck.count(LINEITEM)
        if counted != rows:
            raise BenchmarkError(f"duckdb: lineitem has {counted} rows, expected {rows}")
        result["duckdb"] = {
            "version": duck.version, "seconds": round(seconds, 3),
            "mb_per_s": round(size / MB / seconds, 2), "rows_per_s": round(rows / seconds),
            "size_on_disk_bytes": duck.size_bytes(),
        }
    finally:
        duck.close()
        finish_engine_dir(duck.work_dir, args.keep)
    say(f"[throughput] duckdb: {result['duckdb']['seconds']:.2f}s, "
        f"{result['duckdb']['mb_per_s']:.1f} MB/s")
    result["cairn_vs_duckdb"] = round(result["cairn"]["mb_per_s"] / result["duckdb"]["mb_per_s"], 3)
    return result


def print_throughput(result: dict) -> None:
    say()
    say(f"== Stream Load throughput: lineitem, {result['bytes'] / MB:.1f} MB, {result['rows']} "
        f"rows, Cairn in {result['cairn']['loads']} load(s) of <= {result['chunk_mb']} MiB ==")
    say(f"{'engine':<12}{'seconds':>10}{'MB/s':>10}{'rows/s':>12}")
    for name in ("cairn", "duckdb"):
        figures = result[name]
        say(f"{name:<12}{figures['seconds']:>10.2f}{figures['mb_per_s']:>10.1f}"
            f"{figures['rows_per_s']:>12,}")
    say(f"Cairn/DuckDB throughput: {result['cairn_vs_duckdb']:.3f}")
    say(f"reference: StarRocks Stream Load, about {STARROCKS_STREAM_LOAD_MB_S} MB/s on 2 vCPU "
        "(not measured here)")


# --------------------------------------------------------------------------------------- small

def small_bodies(path: Path, rows_per_load: int, loads: int) -> list[bytes]:
    """Bodies of ROWS_PER_LOAD whole lines from the start of PATH: as many distinct ones as
    LOADS needs, or as the file holds (the loads then reuse them in turn)."""
    bodies: list[bytes] = []
    lines: list[bytes] = []
    with open(path, "rb") as handle:
        for line in handle:
            lines.append(line if line.endswith(b"\n") else line + b"\n")
            if len(lines) == rows_per_load:
                bodies.append(b"".join(lines))
                lines = []
                if len(bodies) == loads:
                    break
    if not bodies:
        raise BenchmarkError(f"{path} has fewer than {rows_per_load} lines")
    return bodies


def small_part(args: argparse.Namespace, dataset: Dataset, work: Path) -> dict:
    """One small Stream Load after the other, each timed to its Success answer."""
    bodies = small_bodies(dataset.csv(LINEITEM), args.small_rows,
                          args.small_loads + SMALL_WARMUP_LOADS)
    stamp = time.time_ns()
    engine = start_cairn(work, "cairn-small")
    try:
        engine.create(LINEITEM)
        latencies_ms: list[float] = []
        server_ms: list[float] = []
        total = SMALL_WARMUP_LOADS + args.small_loads
        for number in range(total):
            body = bodies[number % len(bodies)]
            started = time.perf_counter()
            answer = stream_load_bytes(
                engine.host, engine.http_port, LINEITEM.dataset, LINEITEM.name, body,
                f"ingest_small_{stamp}_{number}", args.small_rows, SEPARATOR,
                what=f"{args.small_rows} lineitem rows")
            elapsed_ms = (time.perf_counter() - started) * 1000
            if number >= SMALL_WARMUP_LOADS:
                latencies_ms.append(elapsed_ms)
                if isinstance(answer.get("LoadTimeMs"), (int, float)):
                    server_ms.append(float(answer["LoadTimeMs"]))
        expected = total * args.small_rows
        counted = engine.count(LINEITEM)
        if counted != expected:
            raise BenchmarkError(f"cairn: tpch.lineitem has {counted} rows after {total} small "
                                 f"loads of {args.small_rows} rows, expected {expected}")
        result = {
            "loads": args.small_loads, "rows_per_load": args.small_rows,
            "warmup_loads": SMALL_WARMUP_LOADS, "bytes_per_load": round(
                statistics.fmean(len(b) for b in bodies)),
            "client_ms": distribution_ms(latencies_ms),
            "server_load_time_ms": distribution_ms(server_ms) if server_ms else None,
            "version": str(engine.version), "binary": str(engine.binary),
        }
    finally:
        engine.close()
        finish_engine_dir(engine.work_dir, args.keep)
    return result


def print_small(result: dict) -> None:
    figures = result["client_ms"]
    say()
    say(f"== Small synchronous Stream Loads: {result['loads']} x {result['rows_per_load']} rows "
        f"(~{result['bytes_per_load'] / 1000:.0f} kB), request start to Success, one at a time ==")
    say(f"{'':<12}{'p50':>10}{'p90':>10}{'p99':>10}{'max':>10}{'mean':>10}")
    say(f"{'ms':<12}" + "".join(f"{figures[k]:>10.2f}" for k in
                                 ("p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms")))
    server = result.get("server_load_time_ms")
    if server:
        say(f"{'LoadTimeMs':<12}" + "".join(f"{server[k]:>10.2f}" for k in
                                             ("p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms"))
            + "   (the server's own LoadTimeMs)")
    say(f"after {result['warmup_loads']} untimed warm-up loads; every Success was visible "
        "(count checked at the end)")


# ----------------------------------------------------------------------------------- freshness

@dataclass
class Burst:
    """Rows first_seq .. first_seq + count - 1, handed to the producer at `at` (perf_counter)."""

    first_seq: int
    count: int
    at: float


@dataclass
class ProduceRun:
    """What one producer run sent, and when."""

    rate: int
    first_seq: int
    rows: int
    bursts: list[Burst] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def last_seq(self) -> int:
        return self.first_seq + self.rows - 1

    def achieved_rate(self) -> float:
        """Rows per second from the first to the last burst handed to the producer."""
        span = self.bursts[-1].at - self.started if self.bursts else 0.0
        return self.rows / span if span > 0 else math.nan


class PacedProducer:
    """confluent-kafka's producer with the benchmark's settings; rows go to seq % partitions."""

    def __init__(self, config: dict, topic: str, partitions: int):
        from confluent_kafka import Producer as KafkaProducer

        self.topic = topic
        self.partitions = partitions
        self.errors: list[str] = []
        self.producer = KafkaProducer({**config, **PRODUCER_SETTINGS,
                                       "on_delivery": self._delivered})

    def _delivered(self, error, message) -> None:  # only failures (delivery.report.only.error)
        if error is not None and len(self.errors) < 100:
            self.errors.append(str(error))

    def send(self, first_seq: int, count: int) -> None:
        """Hands rows first_seq .. first_seq + count - 1 to librdkafka."""
        produced_us = time.time_ns() // 1000
        for seq in range(first_seq, first_seq + count):
            value = f"{seq},{produced_us},{PAYLOAD}".encode()
            while True:
                try:
                    self.producer.produce(self.topic, value, partition=seq % self.partitions)
                    break
                except BufferError:  # the local queue is full: let deliveries drain it
                    self.producer.poll(0.001)
        self.producer.poll(0)

    def flush(self, timeout: float = 60) -> None:
        remaining = self.producer.flush(timeout)
        if remaining or self.errors:
            raise BenchmarkError(f"Kafka producer: {remaining} rows undelivered after "
                                 f"{timeout}s, errors: {self.errors[:5]}")

    def close(self) -> None:
        """Drops the client now: it holds a bound method of this object, so without this the
        cycle lives until a garbage collection, and a live client keeps reconnecting (and
        logging) to a broker that has stopped."""
        self.producer = None

    def run_at_rate(self, run: ProduceRun, stop: threading.Event) -> None:
        """Sends run.rows rows at run.rate rows/s in bursts every PRODUCE_TICK_SECONDS: each
        tick sends what is due by then, so a late tick catches up rather than drifting."""
        run.started = time.perf_counter()
        sent, tick = 0, 0
        while sent < run.rows and not stop.is_set():
            now = time.perf_counter()
            due = min(run.rows, int((now - run.started) * run.rate) + 1)
            if due > sent:
                run.bursts.append(Burst(run.first_seq + sent, due - sent, now))
                self.send(run.first_seq + sent, due - sent)
                sent = due
            tick += 1
            pause = run.started + tick * PRODUCE_TICK_SECONDS - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        self.flush()
        run.finished = time.perf_counter()


class Poller(threading.Thread):
    """Runs the watermark query back to back on one persistent connection and records each
    poll's completion time and the max(seq) of every partition (-1 while it has no row)."""

    def __init__(self, connect: Callable[[], object], partitions: int):
        super().__init__(name="freshness-poller", daemon=True)
        self.connect = connect
        self.partitions = partitions
        if partitions == 1:
            self.sql = f"SELECT max(seq) FROM {FRESHNESS_TABLE}"
        else:
            self.sql = (f"SELECT seq % {partitions}, max(seq) FROM {FRESHNESS_TABLE} "
                        f"GROUP BY seq % {partitions}")
        self.times: list[float] = []
        self.durations: list[float] = []
        self.marks: list[tuple[int, ...]] = []
        self.stop_event = threading.Event()
        self.error: Optional[BaseException] = None
        self.lock = threading.Lock()

    def run(self) -> None:
        try:
            connection = self.connect()
            try:
                with connection.cursor() as cursor:
                    while not self.stop_event.is_set():
                        started = time.perf_counter()
                        cursor.execute(self.sql)
                        rows = cursor.fetchall()
                        finished = time.perf_counter()
                        marks = [-1] * self.partitions
                        if self.partitions == 1:
                            if rows and rows[0][0] is not None:
                                marks[0] = int(rows[0][0])
                        else:
                            for partition, highest in rows:
                                if highest is not None:
                                    marks[int(partition)] = int(highest)
                        with self.lock:
                            self.times.append(finished)
                            self.durations.append(finished - started)
                            self.marks.append(tuple(marks))
            finally:
                connection.close()
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            self.error = error

    def latest(self) -> tuple[int, ...]:
        with self.lock:
            return self.marks[-1] if self.marks else (-1,) * self.partitions

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=60)


def last_seq_per_partition(last_seq: int, partitions: int) -> list[int]:
    """The highest seq <= last_seq of each partition (rows go to seq % partitions)."""
    return [last_seq - ((last_seq - p) % partitions) for p in range(partitions)]


def wait_visible(poller: Poller, last_seq: int, timeout: float, what: str,
                 describe: Callable[[], str]) -> float:
    """Until the poller has seen every row up to last_seq; returns the seconds waited."""
    wanted = last_seq_per_partition(last_seq, poller.partitions)
    started = time.monotonic()
    while True:
        if poller.error is not None:
            raise BenchmarkError(f"the freshness poller failed: {poller.error!r}\n{describe()}")
        marks = poller.latest()
        if all(mark >= want for mark, want in zip(marks, wanted)):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise BenchmarkError(f"{what}: rows up to seq {last_seq} were not all visible after "
                                 f"{timeout:.0f}s (max seq per partition {list(marks)}, wanted "
                                 f"{wanted})\n{describe()}")
        time.sleep(0.05)


def row_latencies_ms(run: ProduceRun, times: list[float], marks: list[tuple[int, ...]],
                     partitions: int) -> list[float]:
    """Per row of RUN: the first poll completion whose partition max reaches its seq, minus
    the time it was handed to the producer. One pointer per partition walks the polls, since
    a partition's rows are visible in seq order."""
    first = bisect_right(times, run.started)
    pointers = [first] * partitions
    latencies: list[float] = []
    for burst in run.bursts:
        for seq in range(burst.first_seq, burst.first_seq + burst.count):
            partition = seq % partitions
            index = pointers[partition]
            while marks[index][partition] < seq:
                index += 1  # wait_visible made sure some poll sees every row
            pointers[partition] = index
            latencies.append((times[index] - burst.at) * 1000)
    return latencies


def freshness_part(args: argparse.Namespace, work: Path) -> dict:
    """Routine Load freshness at each rate of args.rates, on one broker, server and job.
    The broker lives in --work-dir/kafka (its broker.log stays there after the run)."""
    import pymysql
    from cairn_server import create_duplicate_table
    from kafka_broker import KafkaBroker
    from routine_load import (
        SHOW_ROUTINE_LOAD_COLUMNS, create_statement, decode_show_row, kafka_source,
    )

    partitions = args.freshness_partitions
    broker = KafkaBroker()
    broker_dir = args.work_dir / "kafka"
    engine: Optional[Cairn] = None
    poller: Optional[Poller] = None
    producer: Optional[PacedProducer] = None
    job = f"{FRESHNESS_DATABASE}.{FRESHNESS_JOB}"
    result: dict = {"partitions": partitions, "seconds_per_rate": args.seconds, "runs": []}
    try:
        say("[freshness] starting a Kafka broker (e2e/tools/kafka.sh) ...")
        broker.start(broker_dir)
        broker.create_topic(FRESHNESS_TOPIC, partitions=partitions)
        engine = start_cairn(work, "cairn-freshness")
        result["version"], result["binary"] = str(engine.version), str(engine.binary)

        def connect() -> pymysql.connections.Connection:
            return pymysql.connect(host=engine.host, port=engine.query_port, user="root",
                                   password="", database=FRESHNESS_DATABASE, autocommit=True,
                                   connect_timeout=10, read_timeout=600, write_timeout=600)

        def show_job() -> dict:
            rows = engine.query(FRESHNESS_DATABASE, f"SHOW ROUTINE LOAD FOR {job}")
            if len(rows) != 1:
                return {"rows": rows}
            return decode_show_row(dict(zip(SHOW_ROUTINE_LOAD_COLUMNS, rows[0])))

        def describe() -> str:
            try:
                text = json.dumps(show_job(), default=str, indent=1)
            except Exception as error:  # noqa: BLE001 - must not hide the failure described
                text = f"(SHOW ROUTINE LOAD failed: {error!r})"
            return f"--- SHOW ROUTINE LOAD FOR {job} ---\n{text}\n{engine.log_tail()}"

        engine.query(None, f"CREATE DATABASE {FRESHNESS_DATABASE}")
        setup = connect()
        try:
            with setup.cursor() as cursor:
                create_duplicate_table(
                    cursor, FRESHNESS_TABLE,
                    "seq BIGINT NOT NULL, produced_us BIGINT NOT NULL, payload VARCHAR(64)",
                    "seq", buckets=FRESHNESS_BUCKETS)
                # task_consume_second = 1, max_batch_interval = 5: the Kafka tests' settings.
                cursor.execute(create_statement(
                    FRESHNESS_DATABASE, FRESHNESS_JOB, FRESHNESS_TABLE,
                    kafka_source(broker.bootstrap, FRESHNESS_TOPIC),
                    load="COLUMNS TERMINATED BY ','"))
        finally:
            setup.close()

        producer = PacedProducer(broker.client_config(), FRESHNESS_TOPIC, partitions)
        poller = Poller(connect, partitions)
        poller.start()
        # One row per partition first: the job's first batch creates its consumers, which is
        # start-up, not freshness.
        producer.send(0, partitions)
        producer.flush()
        waited = wait_visible(poller, partitions - 1, FIRST_BATCH_TIMEOUT_SECONDS,
                              "the first batch", describe)
        result["first_batch_seconds"] = round(waited, 3)
        say(f"[freshness] job {job} running; first rows visible after {waited:.1f}s")
        next_seq = partitions

        for rate in args.rates:
            run = ProduceRun(rate, next_seq, int(rate * args.seconds))
            stop = threading.Event()
            failure: list[BaseException] = []

            def produce() -> None:
                try:
                    producer.run_at_rate(run, stop)
                except BaseException as error:  # noqa: BLE001 - reported below
                    failure.append(error)

            say(f"[freshness] {rate} rows/s for {args.seconds:g}s ({run.rows} rows) ...")
            thread = threading.Thread(target=produce, name="freshness-producer", daemon=True)
            thread.start()
            try:
                while thread.is_alive():
                    thread.join(0.2)
                    if poller.error is not None:
                        raise BenchmarkError(f"the freshness poller failed: {poller.error!r}")
            finally:
                stop.set()
                thread.join()
            if failure:
                raise failure[0]
            drain = wait_visible(poller, run.last_seq, DRAIN_TIMEOUT_SECONDS,
                                 f"rate {rate}", describe)
            next_seq = run.last_seq + 1
            counted = count_rows(engine, FRESHNESS_DATABASE, FRESHNESS_TABLE)
            if counted != next_seq:
                raise BenchmarkError(f"{FRESHNESS_TABLE} has {counted} rows after {next_seq} were "
                                     f"produced (exactly once expected)\n{describe()}")

            with poller.lock:
                times, marks = list(poller.times), list(poller.marks)
                durations = list(poller.durations)
            latencies = row_latencies_ms(run, times, marks, partitions)
            window = slice(bisect_right(times, run.started), len(times))
            in_window = times[window]
            periods = [(b - a) * 1000 for a, b in zip(in_window, in_window[1:])]
            figures = {
                "rate": rate, "rows": run.rows, "first_seq": run.first_seq,
                "achieved_rows_per_s": round(run.achieved_rate(), 1),
                "send_seconds": round(run.finished - run.started, 3),
                "drain_seconds_after_flush": round(drain, 3),
                "latency_ms": distribution_ms(latencies),
                "poll_period_ms": distribution_ms(periods),
                "poll_query_ms": distribution_ms([d * 1000 for d in durations[window]]),
                "polls": len(in_window),
            }
            result["runs"].append(figures)
            latency = figures["latency_ms"]
            say(f"[freshness] {rate} rows/s: achieved {figures['achieved_rows_per_s']:.0f}, "
                f"p50 {latency['p50_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms, "
                f"max {latency['max_ms']:.0f} ms")

        poller.stop()
        if poller.error is not None:
            raise BenchmarkError(f"the freshness poller failed: {poller.error!r}")
        distinct = int(engine.query(
            FRESHNESS_DATABASE, f"SELECT count(DISTINCT seq) FROM {FRESHNESS_TABLE}")[0][0])
        counted = count_rows(engine, FRESHNESS_DATABASE, FRESHNESS_TABLE)
        if counted != next_seq or distinct != next_seq:
            raise BenchmarkError(f"{FRESHNESS_TABLE}: {counted} rows, {distinct} distinct seq, "
                                 f"after {next_seq} produced (exactly once expected)\n{describe()}")
        result["rows_total"] = next_seq
        statistic = show_job().get("Statistic")
        result["job_statistic"] = statistic
        engine.query(None, f"STOP ROUTINE LOAD FOR {job}")
        return result
    finally:
        if poller is not None and poller.is_alive():
            poller.stop()
        if engine is not None:
            engine.close()
            finish_engine_dir(engine.work_dir, args.keep)
        if producer is not None:
            producer.close()  # before the broker goes
        broker.stop()  # raises if a broker it did not start held the directory
        if not args.keep:
            shutil.rmtree(broker_dir / "data", ignore_errors=True)


def print_freshness(result: dict) -> None:
    say()
    say(f"== Freshness: Kafka ({result['partitions']} partition(s)) -> Routine Load -> visible "
        "to SELECT max(seq), per row, ms ==")
    say(f"{'rate/s':>9}{'achieved':>10}{'rows':>10}{'p50':>9}{'p99':>9}{'max':>9}"
        f"{'poll p50':>10}{'poll max':>10}")
    for run in result["runs"]:
        latency, poll = run["latency_ms"], run["poll_period_ms"]
        say(f"{run['rate']:>9}{run['achieved_rows_per_s']:>10.0f}{run['rows']:>10}"
            f"{latency['p50_ms']:>9.0f}{latency['p99_ms']:>9.0f}{latency['max_ms']:>9.0f}"
            f"{poll['p50_ms']:>10.1f}{poll['max_ms']:>10.1f}")
    say("latency = completion of the first poll that sees the row - when it was handed to the "
        "producer; the poll period bounds the resolution (the poller queries back to back and "
        "takes CPU from the load)")
    say(f"job: task_consume_second 1, max_batch_interval 5; reference: StarRocks' default "
        f"max_batch_interval is {STARROCKS_DEFAULT_BATCH_INTERVAL_S} s (not measured here)")


# ---------------------------------------------------------------------------------------- main

def main(argv: Optional[list[str]] = None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    args = parse_arguments(argv)
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop the servers and the broker.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started_at = datetime.datetime.now(datetime.timezone.utc)
    work = args.work_dir / "ingest"
    failures: list[str] = []
    results: dict = {}
    scale = scale_name(args.scale)
    say(f"ingest benchmark: parts {', '.join(args.parts)}")
    binary = str(cairn_binary())
    if not Path(binary).is_file():
        say(f"cairn binary {binary} does not exist: run through e2e/bench/run.sh (it builds "
            "one) or set CAIRN_BIN")
        return 1
    if "/debug/" in binary:
        say(f"WARNING: {binary} is a debug build: its figures mean nothing")

    dataset: Optional[Dataset] = None
    for part in args.parts:
        try:
            if part in ("throughput", "small") and dataset is None:
                dataset = ensure_data(scale)
            if part == "throughput":
                results[part] = throughput_part(args, dataset, work)
            elif part == "small":
                results[part] = small_part(args, dataset, work)
            else:
                results[part] = freshness_part(args, work)
        except (BenchmarkError, EngineError, StreamLoadError) as error:
            say(f"[{part}] FAILED: {error}")
            failures.append(f"{part}: {str(error).splitlines()[0]}")
            results[part] = {"error": str(error)}
        except Exception as error:  # noqa: BLE001 - the other parts still run
            say(f"[{part}] FAILED:\n{traceback.format_exc()}")
            failures.append(f"{part}: {type(error).__name__}: {error}")
            results[part] = {"error": f"{type(error).__name__}: {error}"}
    if not args.keep:
        try:
            work.rmdir()
        except OSError:
            pass

    for part, printer in (("throughput", print_throughput), ("small", print_small),
                          ("freshness", print_freshness)):
        if part in results and "error" not in results[part]:
            printer(results[part])
    if "/debug/" in binary:
        say(f"\nWARNING: {binary} is a debug build: these figures mean nothing")

    args.work_dir.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": "ingest",
        "started": started_at.isoformat(),
        "command": [sys.argv[0], *argv],
        "commit": git_commit(),
        "machine": machine(),
        "scale": scale,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "references": {"starrocks_stream_load_mb_per_s_2vcpu": STARROCKS_STREAM_LOAD_MB_S,
                       "starrocks_default_max_batch_interval_s":
                           STARROCKS_DEFAULT_BATCH_INTERVAL_S},
        "results": results,
        "failures": failures,
    }
    output = args.work_dir / f"ingest-{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
    save_results(document, output, args.work_dir / "ingest-latest.json")
    return 1 if report_failures(failures) else 0


if __name__ == "__main__":
    sys.exit(main())
