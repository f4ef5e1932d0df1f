"""The engines under test. Each loads the benchmark files into its own storage and runs SQL.

  cairn       `cairn allin1` on free loopback ports; StarRocks DDL; Stream Load (HTTP) of the
              CSV files; queries over the MySQL protocol with mysqlclient (the C driver on
              libmariadb that Django uses) in the benchmark, PyMySQL in the differential test
  duckdb      a DuckDB database file, tables loaded from the CSV files, SET threads = 2
  datafusion  DataFusion (Python) over the Parquet files, target_partitions = 2
  chdb        chDB (embedded ClickHouse) MergeTree tables loaded from the CSV files,
              max_threads = 2

Each dataset (tpch, ssb) is a database (a schema in DuckDB, a SessionContext in DataFusion).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from data import DATASETS, SSB_YEARS, Dataset, Table
from stream_load import stream_load_file

# The client tests' server helper, for its port picking.
sys.path.append(str(Path(__file__).resolve().parents[1] / "clients"))
from cairn_server import free_ports  # noqa: E402

THREADS = 2
# Engine.settle: how long an engine's background work must have stopped, and the most it
# waits for that.
SETTLE_QUIET_SECONDS = 6.0
SETTLE_AT_MOST_SECONDS = 600


def wait_until_quiet(progress) -> None:
    """Polls `progress()`, a value that changes while the work goes on (a count of work done,
    time spent on work running), until it has stayed the same for SETTLE_QUIET_SECONDS, or
    SETTLE_AT_MOST_SECONDS have passed."""
    deadline = time.monotonic() + SETTLE_AT_MOST_SECONDS
    last, quiet_since = progress(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = progress()
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= SETTLE_QUIET_SECONDS:
            return


class EngineError(RuntimeError):
    """An engine could not start or load; the message says why."""


def directory_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


class Engine:
    name = "?"

    def __init__(self, work_dir: Path):
        self.work_dir = work_dir
        self.version = "?"

    def start(self) -> None:
        pass

    def create(self, table: Table) -> None:
        raise NotImplementedError

    def load(self, table: Table, dataset: Dataset) -> None:
        raise NotImplementedError

    def count(self, table: Table) -> int:
        rows = self.query(table.dataset, f"SELECT count(*) FROM {table.name}")
        return int(rows[0][0])

    def size_bytes(self) -> int:
        return directory_size(self.work_dir)

    def settle(self) -> None:
        """Waits for what the engine goes on doing in the background after its load (merges,
        compaction): the engines share two cores, so work left running would slow every
        engine's queries, not only its own."""

    def query(self, database: str, sql: str) -> list[tuple]:
        """Runs one query and returns its rows as tuples of Python values."""
        raise NotImplementedError

    def timed_query(self, database: str, sql: str) -> tuple[float, list[tuple]]:
        """(seconds, rows): the time covers execution and fetching the result."""
        started = time.perf_counter()
        rows = self.query(database, sql)
        return time.perf_counter() - started, rows

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------- Cairn

def cairn_binary(profile: str = "release") -> Path:
    """$CAIRN_BIN, else <target>/<profile>/cairn with <target> = $CARGO_TARGET_DIR or
    $CAIRN_CACHE/target (where e2e/run-all.sh builds)."""
    if os.environ.get("CAIRN_BIN"):
        return Path(os.environ["CAIRN_BIN"])
    cache = Path(os.environ.get("CAIRN_CACHE", Path.home() / ".cache" / "cairn"))
    target = Path(os.environ.get("CARGO_TARGET_DIR", cache / "target"))
    return target / profile / "cairn"


def starrocks_ddl(table: Table) -> str:
    columns = ",\n  ".join(f"{name} {sql_type} NOT NULL" for name, sql_type in table.columns)
    partitions = ""
    if table.yearly_partitions:
        # StarRocks' SSB DDL: the first partition takes everything before the second year.
        lower = ["-2147483648", *(f"{year}0101" for year in SSB_YEARS[1:])]
        upper = [f"{year + 1}0101" for year in SSB_YEARS]
        ranges = ",\n  ".join(f'PARTITION p{year} VALUES [("{low}"), ("{high}"))'
                              for year, low, high in zip(SSB_YEARS, lower, upper))
        partitions = f"PARTITION BY RANGE({table.yearly_partitions}) (\n  {ranges}\n)\n"
    return (
        f"CREATE TABLE {table.dataset}.{table.name} (\n  {columns}\n)\n"
        f"DUPLICATE KEY({', '.join(table.key)})\n"
        f"{partitions}"
        f"DISTRIBUTED BY HASH({table.distribution}) BUCKETS {table.buckets}\n"
        'PROPERTIES ("replication_num" = "1")'
    )


# The Python MySQL drivers Cairn's queries can go through. PyMySQL decodes rows in Python: on
# TPC-H q16's 18 314 rows that is 70-100 ms of the client's CPU against about 10 ms in
# mysqlclient's C, while the peers hand their rows over in-process from C++ or Rust.
CLIENTS = ("mysqlclient", "pymysql")


class Cairn(Engine):
    name = "cairn"
    host = "127.0.0.1"
    startup_seconds = 120

    def __init__(self, work_dir: Path, binary: Path | None = None, chunk_bytes: int = 256 << 20,
                 query_timeout: int = 3600, client: str = "pymysql"):
        super().__init__(work_dir)
        if client not in CLIENTS:
            raise EngineError(f"unknown MySQL client {client!r}: one of {', '.join(CLIENTS)}")
        self.binary = binary or cairn_binary()
        self.client = client
        self.chunk_bytes = chunk_bytes
        self.query_timeout = query_timeout
        self.process: subprocess.Popen | None = None
        self.connections: dict[str, object] = {}
        (self.query_port, self.http_port, self.be_http_port, self.be_port, self.rpc_port,
         self.edit_log_port) = free_ports(6)
        self.data_dir = work_dir / "data"
        self.log_path = work_dir / "cairn.log"
        self.load_stats: dict[str, dict] = {}

    def start(self) -> None:
        if not self.binary.is_file():
            raise EngineError(
                f"cairn binary {self.binary} does not exist: build it with "
                "`CARGO_TARGET_DIR=$CAIRN_CACHE/target cargo build --release -p cairn` "
                "(e2e/bench/run.sh does) or set CAIRN_BIN")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            str(self.binary), "allin1", "--data-dir", str(self.data_dir),
            "--query-port", str(self.query_port), "--http-port", str(self.http_port),
            "--be-http-port", str(self.be_http_port), "--be-port", str(self.be_port),
            "--rpc-port", str(self.rpc_port), "--edit-log-port", str(self.edit_log_port),
        ]
        with open(self.log_path, "ab") as log:
            log.write(f"=== {' '.join(command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=log, start_new_session=True)
        deadline = time.monotonic() + self.startup_seconds
        while not (self._healthy() and self._mysql_accepts()):
            if self.process.poll() is not None:
                raise EngineError(f"cairn exited with {self.process.returncode} before it was "
                                  f"ready\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.close()
                raise EngineError(f"cairn was not ready in {self.startup_seconds}s\n"
                                  + self.log_tail())
            time.sleep(0.2)
        self.version = self.query(None, "SELECT version()")[0][0]
        for database in DATASETS:
            self.query(None, f"CREATE DATABASE IF NOT EXISTS {database}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(
                    f"http://{self.host}:{self.http_port}/api/health", timeout=2) as response:
                return response.status == 200 and json.loads(response.read()).get("status") == "OK"
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def _mysql_accepts(self) -> bool:
        try:
            with socket.create_connection((self.host, self.query_port), timeout=1):
                return True
        except OSError:
            return False

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return f"(no log at {self.log_path})"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text[-lines:])

    def _connection(self, database: str | None):
        key = database or ""
        connection = self.connections.get(key)
        if connection is None:
            options = dict(host=self.host, port=self.query_port, user="root", password="",
                           autocommit=True, connect_timeout=10,
                           read_timeout=self.query_timeout, write_timeout=self.query_timeout)
            if database:
                options["database"] = database
            if self.client == "mysqlclient":
                import MySQLdb

                connection = MySQLdb.connect(**options)
            else:
                import pymysql

                connection = pymysql.connect(**options)
            self.connections[key] = connection
        return connection

    def create(self, table: Table) -> None:
        self.query(None, starrocks_ddl(table))

    def load(self, table: Table, dataset: Dataset) -> None:
        self.load_stats[f"{table.dataset}.{table.name}"] = stream_load_file(
            self.host, self.http_port, table.dataset, table.name, dataset.csv(table),
            label_prefix=f"bench_{table.dataset}_{table.name}_{time.time_ns()}",
            chunk_bytes=self.chunk_bytes,
            expected_rows=dataset.rows[(table.dataset, table.name)])

    def size_bytes(self) -> int:
        return directory_size(self.data_dir)

    def settle(self) -> None:
        """Until the BE's count of compactions has not moved for SETTLE_QUIET_SECONDS (three
        rounds of its 2 s compaction interval): the 9 Stream Loads of SF1's lineorder_flat
        leave 9 rowsets per tablet, compacted in the 8 s after the load."""
        def compactions() -> str:
            url = f"http://{self.host}:{self.be_http_port}/metrics"
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode()
            counts = [line.split()[-1] for line in text.splitlines()
                      if line.startswith("starrocks_be_compactions_total ")]
            if not counts:
                raise EngineError(f"cairn: {url} has no starrocks_be_compactions_total")
            return counts[0]
        wait_until_quiet(compactions)

    def query(self, database, sql):
        connection = self._connection(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        except Exception:
            # A broken connection must not poison the next query.
            self.connections.pop(database or "", None)
            try:
                connection.close()
            except Exception:
                pass
            if self.process is not None and self.process.poll() is not None:
                raise EngineError(f"cairn died (exit {self.process.returncode})\n"
                                  + self.log_tail()) from None
            raise

    def close(self) -> None:
        for connection in self.connections.values():
            try:
                connection.close()
            except Exception:
                pass
        self.connections.clear()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


# --------------------------------------------------------------------------------------- DuckDB

def _duckdb_type(sql_type: str) -> str:
    if sql_type.startswith(("CHAR", "VARCHAR")):
        return "VARCHAR"
    return {"INT": "INTEGER"}.get(sql_type, sql_type)


class DuckDB(Engine):
    name = "duckdb"

    def start(self) -> None:
        import duckdb

        self.version = duckdb.__version__
        self.path = self.work_dir / "bench.duckdb"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path))
        self.con.execute(f"SET threads = {THREADS}")
        for database in DATASETS:
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {database}")
        self.schema = None

    def create(self, table: Table) -> None:
        columns = ", ".join(f"{n} {_duckdb_type(t)} NOT NULL" for n, t in table.columns)
        self.con.execute(f"CREATE TABLE {table.dataset}.{table.name} ({columns})")

    def load(self, table: Table, dataset: Dataset) -> None:
        self.con.execute(f"COPY {table.dataset}.{table.name} FROM '{dataset.csv(table)}' "
                         "(FORMAT csv, DELIMITER '|', HEADER false, QUOTE '', ESCAPE '')")

    def finish_load(self) -> None:
        self.con.execute("CHECKPOINT")

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.work_dir.glob("bench.duckdb*"))

    def query(self, database, sql):
        if database and database != self.schema:
            self.con.execute(f"SET search_path = '{database}'")
            self.schema = database
        return self.con.execute(sql).fetchall()

    def close(self) -> None:
        if getattr(self, "con", None) is not None:
            self.con.close()
            self.con = None


# ----------------------------------------------------------------------------------- DataFusion

class DataFusion(Engine):
    name = "datafusion"

    def start(self) -> None:
        import datafusion

        self.version = datafusion.__version__
        config = datafusion.SessionConfig().with_target_partitions(THREADS)
        self.contexts = {d: datafusion.SessionContext(config) for d in DATASETS}
        self.files: list[Path] = []

    def create(self, table: Table) -> None:
        pass

    def load(self, table: Table, dataset: Dataset) -> None:
        path = dataset.parquet(table)
        self.contexts[table.dataset].register_parquet(table.name, str(path))
        self.files.append(path)

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files)

    def timed_query(self, database, sql):
        started = time.perf_counter()
        batches = self.contexts[database].sql(sql).collect()
        seconds = time.perf_counter() - started
        return seconds, _arrow_rows(batches)

    def query(self, database, sql):
        return self.timed_query(database, sql)[1]


def _arrow_rows(batches) -> list[tuple]:
    rows = []
    for batch in batches:
        columns = [column.to_pylist() for column in batch.columns]
        rows.extend(zip(*columns))
    return rows


# ----------------------------------------------------------------------------------------- chDB

def _clickhouse_type(sql_type: str) -> str:
    if sql_type.startswith(("CHAR", "VARCHAR")):
        return "String"
    return {"INT": "Int32", "BIGINT": "Int64", "DATE": "Date"}.get(
        sql_type, sql_type.replace("DECIMAL", "Decimal"))


class Chdb(Engine):
    name = "chdb"
    # SQL semantics where ClickHouse's defaults differ: an outer join's missing side is NULL,
    # not the type's default (join_use_nulls); sum() and the like over no rows are NULL, not
    # 0 (aggregate_functions_null_for_empty; TPC-H Q17 selects no rows at SF0.01).
    settings = {"max_threads": THREADS, "join_use_nulls": 1,
                "aggregate_functions_null_for_empty": 1}

    def start(self) -> None:
        import chdb
        from chdb import session

        self.version = chdb.__version__
        self.path = self.work_dir / "chdb"
        self.path.mkdir(parents=True, exist_ok=True)
        self.session = session.Session(str(self.path))
        for name, value in self.settings.items():
            self.session.query(f"SET {name} = {value}")
        for database in DATASETS:
            self.session.query(f"CREATE DATABASE IF NOT EXISTS {database}")
        self.database = None

    def create(self, table: Table) -> None:
        columns = ", ".join(f"{n} {_clickhouse_type(t)}" for n, t in table.columns)
        partition = (f"PARTITION BY intDiv({table.yearly_partitions}, 10000) "
                     if table.yearly_partitions else "")
        self.session.query(f"CREATE TABLE {table.dataset}.{table.name} ({columns}) "
                           f"ENGINE = MergeTree {partition}ORDER BY ({', '.join(table.key)})")

    def load(self, table: Table, dataset: Dataset) -> None:
        structure = ", ".join(f"{n} {_clickhouse_type(t)}" for n, t in table.columns)
        self.session.query(
            f"INSERT INTO {table.dataset}.{table.name} "
            f"SELECT * FROM file('{dataset.csv(table)}', 'CSV', '{structure}') "
            "SETTINGS format_csv_delimiter = '|', input_format_csv_trim_whitespaces = 0, "
            "format_csv_allow_single_quotes = 0, format_csv_allow_double_quotes = 0")

    def settle(self) -> None:
        """Until MergeTree has run no merge for SETTLE_QUIET_SECONDS: it merges the inserted
        parts in background threads for a while after the INSERTs (4 merges running right
        after the scan suite's 100M rows, 25 parts merged to 5 in 6 s)."""
        # The merges' elapsed time grows while one runs, however long it takes.
        wait_until_quiet(lambda: tuple(self.session.query(
            "SELECT count() AS merges, sum(elapsed) AS elapsed FROM system.merges",
            "ArrowTable").to_pylist()[0].values()))

    def size_bytes(self) -> int:
        databases = ", ".join(f"'{d}'" for d in DATASETS)
        rows = self.session.query(
            "SELECT sum(bytes_on_disk) FROM system.parts "
            f"WHERE active AND database IN ({databases})", "ArrowTable").to_pylist()
        return int(list(rows[0].values())[0] or 0)

    def timed_query(self, database, sql):
        if database and database != self.database:
            self.session.query(f"USE {database}")
            self.database = database
        started = time.perf_counter()
        table = self.session.query(sql, "ArrowTable")
        seconds = time.perf_counter() - started
        return seconds, _arrow_rows(table.to_batches())

    def query(self, database, sql):
        return self.timed_query(database, sql)[1]

    def close(self) -> None:
        if getattr(self, "session", None) is not None:
            try:
                self.session.close()
            except Exception:
                pass
            self.session = None


ENGINES = {cls.name: cls for cls in (Cairn, DuckDB, DataFusion, Chdb)}


def load_engine(engine: Engine, tables: list[Table], dataset: Dataset) -> dict:
    """Creates and loads the tables; checks row counts. Returns load times and size."""
    per_table = {}
    started = time.monotonic()
    for table in tables:
        engine.create(table)
        table_started = time.monotonic()
        engine.load(table, dataset)
        per_table[f"{table.dataset}.{table.name}"] = round(time.monotonic() - table_started, 3)
    if hasattr(engine, "finish_load"):
        engine.finish_load()
    seconds = time.monotonic() - started
    for table in tables:
        expected = dataset.rows[(table.dataset, table.name)]
        got = engine.count(table)
        if got != expected:
            raise EngineError(f"{engine.name}: {table.dataset}.{table.name} has {got} rows "
                              f"after loading, expected {expected}")
    return {"seconds": round(seconds, 3), "tables": per_table, "size_bytes": engine.size_bytes()}


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path
