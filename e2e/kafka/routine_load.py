"""Helpers of the Routine Load tests: SQL sessions on a `cairn allin1`, CREATE ROUTINE LOAD
statements, SHOW ROUTINE LOAD rows as dicts, and waiting on state.

Tests wait on what the server shows (a row count, a job state), never for a fixed time: a
debug build on a two-core machine is slow, and a fixed sleep is either too short there or
wasted everywhere else. When a wait times out, the failure carries the job's SHOW ROUTINE
LOAD row and the server's log tail, which is what one needs to tell why.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Mapping, Optional, TypeVar

import pymysql
import pymysql.cursors

from cairn_server import CairnServer

T = TypeVar("T")

POLL_SECONDS = 0.25
# Data produced to Kafka shows up in the table within this (a debug build's first round
# creates its consumers and resolves offsets; later rounds are much faster).
LOAD_TIMEOUT_SECONDS = 60
STATE_TIMEOUT_SECONDS = 60

# Routine Load settings that keep idle rounds short: a batch waits at most
# task_consume_second for messages, and max_batch_interval is the smallest StarRocks allows.
FAST_PROPERTIES = {"max_batch_interval": "5", "task_consume_second": "1"}

# SHOW ROUTINE LOAD columns that hold JSON, decoded by RoutineLoadJob.show().
JSON_COLUMNS = (
    "JobProperties", "DataSourceProperties", "CustomProperties", "Statistic", "Progress",
    "TimestampProgress", "LatestSourcePosition", "OffsetLag",
)
SHOW_ROUTINE_LOAD_COLUMNS = [
    "Id", "Name", "CreateTime", "PauseTime", "EndTime", "DbName", "TableName", "State",
    "DataSourceType", "CurrentTaskNum", "JobProperties", "DataSourceProperties",
    "CustomProperties", "Statistic", "Progress", "TimestampProgress", "ReasonOfStateChanged",
    "ErrorLogUrls", "TrackingSQL", "OtherMsg", "LatestSourcePosition", "OffsetLag",
]
SHOW_ROUTINE_LOAD_TASK_COLUMNS = [
    "TaskId", "TxnId", "TxnStatus", "JobId", "CreateTime", "LastScheduledTime",
    "ExecuteStartTime", "Timeout", "BeId", "DataSourceProperties", "Message",
]
FINAL_STATES = ("STOPPED", "CANCELLED")


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    what: str,
    context: Optional[Callable[[], str]] = None,
) -> T:
    """Polls PREDICATE until it returns something truthy, and returns that. After TIMEOUT
    seconds raises AssertionError naming WHAT, the last value seen and CONTEXT()."""
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            details = context() if context is not None else ""
            raise AssertionError(
                f"waited {time.monotonic() - started:.1f}s for {what}; last value: {value!r}\n{details}"
            )
        time.sleep(POLL_SECONDS)


def assert_unchanged(
    probe: Callable[[], T],
    seconds: float,
    what: str,
    context: Optional[Callable[[], str]] = None,
) -> T:
    """Asserts PROBE() keeps its first value for SECONDS: to show that something does NOT
    happen (a paused or stopped job loading), a bounded wait is the only way."""
    first = probe()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        now = probe()
        if now != first:
            details = context() if context is not None else ""
            raise AssertionError(f"{what}: changed from {first!r} to {now!r}\n{details}")
    return first


def sql_string(value: str) -> str:
    """VALUE as a single-quoted SQL string (jsonpaths hold double quotes)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def properties_clause(properties: Mapping[str, str]) -> str:
    """`("name" = 'value', ...)` as StarRocks' PROPERTIES and FROM KAFKA take them."""
    return "(" + ", ".join(f'"{name}" = {sql_string(value)}' for name, value in properties.items()) + ")"


def is_unset(value: Any) -> bool:
    """A time column with nothing in it (NULL, empty, or StarRocks' "NULL" text)."""
    return value is None or value == "" or value == "NULL"


class Session:
    """A PyMySQL connection to one database of a server. reconnect() after a restart."""

    def __init__(self, server: CairnServer, database: Optional[str] = None):
        self.server = server
        self.database = database
        self.connection = server.connect(**({"database": database} if database else {}))

    def reconnect(self) -> None:
        try:
            self.connection.close()
        except pymysql.err.Error:
            pass  # the server that owned it is gone: nothing to close politely
        self.connection = self.server.connect(**({"database": self.database} if self.database else {}))

    def close(self) -> None:
        try:
            self.connection.close()
        except pymysql.err.Error:
            pass

    def execute(self, sql: str) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(sql)

    def query(self, sql: str) -> list[dict]:
        """Rows as dicts by column name."""
        with self.connection.cursor(pymysql.cursors.DictCursor) as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    def columns_and_rows(self, sql: str) -> tuple[list[str], list[tuple]]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql)
            names = [column[0] for column in cursor.description or ()]
            return names, [tuple(row) for row in cursor.fetchall()]

    def rows(self, sql: str) -> list[tuple]:
        return self.columns_and_rows(sql)[1]

    def scalar(self, sql: str) -> Any:
        rows = self.rows(sql)
        assert len(rows) == 1 and len(rows[0]) == 1, f"{sql} gave {rows!r}, not one value"
        return rows[0][0]

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {table}"))


def decode_show_row(row: dict) -> dict:
    """A SHOW ROUTINE LOAD row with its JSON columns decoded."""
    decoded = dict(row)
    for name in JSON_COLUMNS:
        value = decoded.get(name)
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, str) and value.strip():
            try:
                decoded[name] = json.loads(value)
            except ValueError as error:
                raise AssertionError(f"SHOW ROUTINE LOAD column {name} is not JSON: {value!r}") from error
    return decoded


def show_jobs(session: Session, all_jobs: bool = True, database: Optional[str] = None) -> list[dict]:
    """SHOW [ALL] ROUTINE LOAD FROM the session's database, rows decoded."""
    database = database or session.database
    keyword = "SHOW ALL ROUTINE LOAD" if all_jobs else "SHOW ROUTINE LOAD"
    return [decode_show_row(row) for row in session.query(f"{keyword} FROM {database}")]


def describe_jobs(server: CairnServer, database: str) -> str:
    """Every job of DATABASE as SHOW ALL ROUTINE LOAD shows it, and the server's log tail;
    never raises (the server may be what failed)."""
    lines = [f"--- SHOW ALL ROUTINE LOAD FROM {database} ---"]
    try:
        session = Session(server, database)
        try:
            for row in session.query(f"SHOW ALL ROUTINE LOAD FROM {database}"):
                lines.append(json.dumps(row, default=str, indent=1))
        finally:
            session.close()
    except Exception as error:  # noqa: BLE001 - a description must not hide the real failure
        lines.append(f"(SHOW ROUTINE LOAD failed: {error!r})")
    lines.append(server.log_tail(60))
    return "\n".join(lines)


def stop_live_jobs(server: CairnServer, database: str) -> None:
    """STOPs every job of DATABASE that still runs (or may run again), so that no job of a
    finished test keeps polling Kafka on a two-core machine."""
    session = Session(server, database)
    try:
        for row in session.query(f"SHOW ALL ROUTINE LOAD FROM {database}"):
            if row["State"] not in FINAL_STATES:
                session.execute(f"STOP ROUTINE LOAD FOR {database}.{row['Name']}")
    finally:
        session.close()


def create_statement(
    database: str,
    name: str,
    table: str,
    source: Mapping[str, str],
    load: str = "",
    properties: Optional[Mapping[str, str]] = None,
) -> str:
    """CREATE ROUTINE LOAD db.name ON table [LOAD] PROPERTIES (FAST + PROPERTIES) FROM KAFKA (SOURCE)."""
    merged = {**FAST_PROPERTIES, **(properties or {})}
    return (
        f"CREATE ROUTINE LOAD {database}.{name} ON {table} {load} "
        f"PROPERTIES {properties_clause(merged)} FROM KAFKA {properties_clause(source)}"
    )


def kafka_source(
    bootstrap: str, topic: str, default_offsets: Optional[str] = "OFFSET_BEGINNING", **extra: str
) -> dict[str, str]:
    """FROM KAFKA properties. DEFAULT_OFFSETS defaults to OFFSET_BEGINNING because StarRocks
    starts at OFFSET_END, which would skip what a test produced before the job runs."""
    source = {"kafka_broker_list": bootstrap, "kafka_topic": topic}
    if default_offsets is not None:
        source["property.kafka_default_offsets"] = default_offsets
    source.update(extra)
    return source


class RoutineLoadJob:
    """One job, found by its Id (a stopped job's name may be reused by a new job)."""

    def __init__(self, session: Session, name: str, job_id: Any):
        self.session = session
        self.name = name
        self.id = str(job_id)

    @classmethod
    def create(
        cls,
        session: Session,
        name: str,
        table: str,
        source: Mapping[str, str],
        load: str = "",
        properties: Optional[Mapping[str, str]] = None,
    ) -> "RoutineLoadJob":
        assert session.database, "a routine load job belongs to a database"
        session.execute(create_statement(session.database, name, table, source, load, properties))
        live = [row for row in show_jobs(session, all_jobs=False) if row["Name"] == name]
        assert len(live) == 1, f"after CREATE, SHOW ROUTINE LOAD lists {len(live)} live jobs named {name}: {live}"
        return cls(session, name, live[0]["Id"])

    @property
    def qualified_name(self) -> str:
        return f"{self.session.database}.{self.name}"

    def show(self) -> dict:
        rows = [row for row in show_jobs(self.session) if str(row["Id"]) == self.id]
        assert len(rows) == 1, f"SHOW ALL ROUTINE LOAD has {len(rows)} rows with Id {self.id}\n{self.describe()}"
        return rows[0]

    def state(self) -> str:
        return self.show()["State"]

    def statistic(self) -> dict:
        return self.show()["Statistic"]

    def describe(self) -> str:
        return describe_jobs(self.session.server, self.session.database)

    def pause(self) -> None:
        self.session.execute(f"PAUSE ROUTINE LOAD FOR {self.qualified_name}")

    def resume(self) -> None:
        self.session.execute(f"RESUME ROUTINE LOAD FOR {self.qualified_name}")

    def stop(self) -> None:
        self.session.execute(f"STOP ROUTINE LOAD FOR {self.qualified_name}")

    def alter(self, clauses: str) -> None:
        self.session.execute(f"ALTER ROUTINE LOAD FOR {self.qualified_name} {clauses}")

    def wait_for_state(self, state: str, timeout: float = STATE_TIMEOUT_SECONDS) -> dict:
        """Until the job is in STATE; returns its row."""
        def in_state() -> Optional[dict]:
            row = self.show()
            return row if row["State"] == state else None
        return wait_until(in_state, timeout, f"routine load job {self.name} to be {state}", self.describe)

    def wait_for_row(self, check: Callable[[dict], bool], what: str, timeout: float = STATE_TIMEOUT_SECONDS) -> dict:
        """Until CHECK(row) holds for the job's SHOW ROUTINE LOAD row; returns the row."""
        def holds() -> Optional[dict]:
            row = self.show()
            return row if check(row) else None
        return wait_until(holds, timeout, f"routine load job {self.name}: {what}", self.describe)

    def wait_for_count(self, table: str, expected: int, timeout: float = LOAD_TIMEOUT_SECONDS) -> None:
        """Until TABLE has EXPECTED rows. More rows than that fail at once: a duplicate."""
        def reached() -> bool:
            count = self.session.count(table)
            if count > expected:
                raise AssertionError(
                    f"{table} has {count} rows, more than the {expected} produced: a message was loaded "
                    f"twice\n{self.describe()}"
                )
            return count == expected
        def context() -> str:
            try:
                rows = f"{table} has {self.session.count(table)} rows"
            except Exception as error:  # noqa: BLE001 - the description must not hide the timeout
                rows = f"(counting {table} failed: {error!r})"
            return f"{rows}\n{self.describe()}"
        wait_until(reached, timeout, f"{table} to have {expected} rows (job {self.name})", context)
