"""Kafka Routine Load end to end: the session's real Kafka broker, a real `cairn allin1`, and
StarRocks' statements over MySQL (CREATE / PAUSE / RESUME / STOP / ALTER / SHOW ROUTINE LOAD).

Every test checks the rows in the table, not only what SHOW ROUTINE LOAD says, and checks
exactly-once: as many rows as messages and no id twice. SHOW ROUTINE LOAD's Progress and
Statistic are committed in the same journal record as a batch's rows, so once the rows are
visible they are asserted exactly; what only the running scheduler knows (LatestSourcePosition,
OffsetLag) is waited for.
"""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Iterable, Optional

import pymysql
import pytest
import requests
from confluent_kafka import Producer

from cairn_server import CairnServer, create_duplicate_table
from kafka_broker import KafkaBroker
from routine_load import (
    LOAD_TIMEOUT_SECONDS,
    SHOW_ROUTINE_LOAD_COLUMNS,
    SHOW_ROUTINE_LOAD_TASK_COLUMNS,
    RoutineLoadJob,
    Session,
    assert_unchanged,
    create_statement,
    is_unset,
    kafka_source,
    properties_clause,
    show_jobs,
    wait_until,
)

# Showing that a paused or stopped job loads nothing needs a bounded wait: with
# task_consume_second=1 a running job would have loaded waiting messages well within this.
ABSENCE_SECONDS = 3
# A killed broker: the job's next metadata request fails after its 10 s timeout at most.
OUTAGE_DETECTION_SECONDS = 90
# After the broker is back: the job probes Kafka every 2, 4, 8, 16 then 30 s.
OUTAGE_RECOVERY_SECONDS = 150
CRASH_CYCLES = 3


# --- helpers ---------------------------------------------------------------------------------


def csv_row(number: int) -> str:
    return f"{number},name{number},{number * 10}"


def csv_rows(numbers: Iterable[int]) -> list[str]:
    return [csv_row(number) for number in numbers]


def expected_scores(numbers: Iterable[int]) -> list[tuple]:
    return [(number, f"name{number}", number * 10) for number in sorted(numbers)]


def create_scores(sql: Session, name: str = "scores") -> str:
    """The table most tests load: one CSV message `id,name,score` is one row."""
    with sql.connection.cursor() as cursor:
        create_duplicate_table(cursor, name, "id INT NOT NULL, name VARCHAR(32), score BIGINT", "id", buckets=3)
    return name


def scores(sql: Session, table: str = "scores") -> list[tuple]:
    return sql.rows(f"SELECT id, name, score FROM {table} ORDER BY id")


def produce_spread(broker: KafkaBroker, topic: str, numbers: Iterable[int], partitions: int, **options) -> None:
    """Row `number` goes to partition number % PARTITIONS, so each partition's offsets are known."""
    numbers = list(numbers)
    for partition in range(partitions):
        mine = [number for number in numbers if number % partitions == partition]
        if mine:
            broker.produce(topic, csv_rows(mine), partition=partition, **options)


def assert_server_error(error: BaseException) -> None:
    """A MySQL error the server sent (code below 2000), not a client-side failure."""
    assert isinstance(error, pymysql.err.MySQLError), repr(error)
    code = error.args[0] if error.args else None
    assert isinstance(code, int) and 1000 <= code < 2000, f"not a server error: {error!r}"


def error_log_urls(row: dict) -> list[str]:
    value = row["ErrorLogUrls"] or ""
    return [url.strip() for url in value.split(",") if url.strip()]


def fetch_error_logs(row: dict) -> list[str]:
    """The text behind each of the job's ErrorLogUrls (they are served by the BE's HTTP port)."""
    texts = []
    for url in error_log_urls(row):
        response = requests.get(url, timeout=10)
        assert response.status_code == 200, f"{url}: HTTP {response.status_code} {response.text[:200]}"
        texts.append(response.text)
    return texts


# --- loading ---------------------------------------------------------------------------------


def test_csv_from_three_partitions_loads_every_message_once(kafka_broker, sql, database, new_topic):
    topic = new_topic(3)
    create_scores(sql)
    numbers = range(300)
    produce_spread(kafka_broker, topic, numbers, 3)

    job = RoutineLoadJob.create(
        sql, "csv_job", "scores", kafka_source(kafka_broker.bootstrap, topic),
        load="COLUMNS TERMINATED BY ','", properties={"desired_concurrent_number": "2"},
    )
    job.wait_for_count("scores", 300)
    assert scores(sql) == expected_scores(numbers)
    distinct, total = sql.rows("SELECT count(DISTINCT id), sum(id) FROM scores")[0]
    assert (int(distinct), int(total)) == (300, sum(numbers))

    row = job.show()
    assert row["State"] == "RUNNING", job.describe()
    assert (row["Name"], row["DbName"], row["TableName"], row["DataSourceType"]) == (
        "csv_job", database, "scores", "KAFKA"
    )
    assert not is_unset(row["CreateTime"])
    assert is_unset(row["PauseTime"]) and is_unset(row["EndTime"])
    assert error_log_urls(row) == []
    statistic = row["Statistic"]
    assert statistic["loadedRows"] == 300, statistic
    assert statistic["totalRows"] == 300, statistic
    assert statistic["errorRows"] == 0 and statistic["unselectedRows"] == 0, statistic
    assert statistic["committedTaskNum"] >= 1, statistic
    assert statistic["receivedBytes"] >= sum(len(message) for message in csv_rows(numbers)), statistic
    # Progress is the last offset loaded in each partition: 100 messages each, offsets 0..99.
    assert row["Progress"] == {"0": "99", "1": "99", "2": "99"}, row["Progress"]
    source = row["DataSourceProperties"]
    assert source["topic"] == topic and source["brokerList"] == kafka_broker.bootstrap, source
    assert source["currentKafkaPartitions"] == "0,1,2", source
    assert row["CustomProperties"].get("group.id"), row["CustomProperties"]
    assert row["JobProperties"]["desireTaskConcurrentNum"] == "2", row["JobProperties"]
    assert row["JobProperties"]["maxBatchIntervalS"] == "5", row["JobProperties"]
    assert row["JobProperties"]["format"].lower() == "csv", row["JobProperties"]

    caught_up = job.wait_for_row(
        lambda row: row["OffsetLag"] == {"0": "0", "1": "0", "2": "0"}, "OffsetLag 0 in every partition"
    )
    assert caught_up["LatestSourcePosition"] == {"0": "99", "1": "99", "2": "99"}, caught_up

    # The forms of SHOW ROUTINE LOAD: by name, by database, and in the current database.
    names, rows = sql.columns_and_rows(f"SHOW ROUTINE LOAD FOR {database}.csv_job")
    assert names == SHOW_ROUTINE_LOAD_COLUMNS
    assert len(rows) == 1
    assert [r["Name"] for r in show_jobs(sql, all_jobs=False)] == ["csv_job"]
    assert [r["Name"] for r in sql.query("SHOW ROUTINE LOAD")] == ["csv_job"]

    # Tasks: StarRocks' columns; a task exists only while a batch runs, so there may be none.
    for statement in (
        "SHOW ROUTINE LOAD TASK WHERE JobName = 'csv_job'",
        f"SHOW ROUTINE LOAD TASK FROM {database} WHERE JobName = 'csv_job'",
    ):
        names, tasks = sql.columns_and_rows(statement)
        assert names == SHOW_ROUTINE_LOAD_TASK_COLUMNS, statement
        for task in tasks:
            assert str(task[names.index("JobId")]) == job.id, task


def test_json_with_jsonpaths_root_and_outer_array(kafka_broker, sql, new_topic):
    topic = new_topic(2)
    sql.execute(
        "CREATE TABLE readings (id INT NOT NULL, name VARCHAR(32), v BIGINT) "
        'DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 2 PROPERTIES ("replication_num" = "1")'
    )
    # Each message is one document holding an array of four rows under "data".
    documents = []
    for message in range(6):
        rows = [
            {"id": message * 4 + k, "who": {"n": f"n{message * 4 + k}"}, "v": (message * 4 + k) * 7, "noise": [1, 2]}
            for k in range(4)
        ]
        documents.append(json.dumps({"meta": {"message": message}, "data": rows}))
    kafka_broker.produce(topic, documents[:3], partition=0)
    kafka_broker.produce(topic, documents[3:], partition=1)

    job = RoutineLoadJob.create(
        sql, "json_job", "readings", kafka_source(kafka_broker.bootstrap, topic),
        properties={
            "format": "json",
            "jsonpaths": '["$.id", "$.who.n", "$.v"]',
            "json_root": "$.data",
            "strip_outer_array": "true",
        },
    )
    job.wait_for_count("readings", 24)
    assert sql.rows("SELECT id, name, v FROM readings ORDER BY id") == [(i, f"n{i}", i * 7) for i in range(24)]
    row = job.show()
    assert row["Statistic"]["loadedRows"] == 24 and row["Statistic"]["totalRows"] == 24, row["Statistic"]
    assert row["Progress"] == {"0": "2", "1": "2"}, row["Progress"]
    properties = row["JobProperties"]
    assert properties["format"].lower() == "json", properties
    assert json.loads(properties["jsonpaths"]) == ["$.id", "$.who.n", "$.v"], properties
    assert properties["json_root"] == "$.data", properties
    assert properties["strip_outer_array"] == "true", properties


def test_json_columns_expressions_and_where_count_unselected_rows(kafka_broker, sql, new_topic):
    topic = new_topic(1)
    sql.execute(
        "CREATE TABLE derived (id INT NOT NULL, raw BIGINT, doubled BIGINT) "
        'DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1 PROPERTIES ("replication_num" = "1")'
    )
    kafka_broker.produce(topic, [json.dumps({"id": i, "raw": i * 3}) for i in range(1, 21)], partition=0)

    job = RoutineLoadJob.create(
        sql, "derived_job", "derived", kafka_source(kafka_broker.bootstrap, topic),
        load="COLUMNS (id, raw, doubled = raw * 2), WHERE raw > 15",
        properties={"format": "json"},
    )
    # raw = 3 * id > 15 keeps ids 6..20: 15 rows; ids 1..5 are unselected, not errors.
    job.wait_for_count("derived", 15)
    assert sql.rows("SELECT id, raw, doubled FROM derived ORDER BY id") == [(i, i * 3, i * 6) for i in range(6, 21)]
    statistic = job.show()["Statistic"]
    assert statistic["unselectedRows"] == 5, statistic
    assert statistic["loadedRows"] == 15, statistic
    assert statistic["totalRows"] == 20, statistic
    assert statistic["errorRows"] == 0, statistic
    properties = job.show()["JobProperties"]
    assert "doubled" in properties["columnToColumnExpr"], properties
    assert "raw > 15" in properties["whereExpr"], properties


def test_default_start_is_the_end_of_the_topic(kafka_broker, sql, new_topic):
    """Without kafka_offsets or property.kafka_default_offsets a job starts at OFFSET_END,
    as in StarRocks: what the topic held before is skipped, what comes after is loaded."""
    topic = new_topic(1)
    create_scores(sql)
    kafka_broker.produce(topic, csv_rows(range(5)), partition=0)

    job = RoutineLoadJob.create(
        sql, "tail_job", "scores", kafka_source(kafka_broker.bootstrap, topic, default_offsets=None)
    )
    # The end is where the job first saw it: after offset 4.
    job.wait_for_row(lambda row: row["Progress"] == {"0": "4"}, "the start offset resolved to the end")
    kafka_broker.produce(topic, csv_rows(range(5, 10)), partition=0)
    job.wait_for_count("scores", 5)
    assert scores(sql) == expected_scores(range(5, 10))
    assert job.show()["Progress"] == {"0": "9"}


def test_partitions_added_to_the_topic_are_picked_up(kafka_broker, sql, new_topic):
    topic = new_topic(1)
    create_scores(sql)
    kafka_broker.produce(topic, csv_rows(range(10)), partition=0)
    job = RoutineLoadJob.create(sql, "growing_job", "scores", kafka_source(kafka_broker.bootstrap, topic))
    job.wait_for_count("scores", 10)

    kafka_broker.add_partitions(topic, 3)
    kafka_broker.produce(topic, csv_rows(range(10, 20)), partition=1)
    kafka_broker.produce(topic, csv_rows(range(20, 30)), partition=2)
    # New partitions start at kafka_default_offsets (OFFSET_BEGINNING here), so nothing
    # produced before the job noticed them is skipped.
    job.wait_for_count("scores", 30)
    assert scores(sql) == expected_scores(range(30))
    row = job.show()
    assert row["Progress"] == {"0": "9", "1": "9", "2": "9"}, row["Progress"]
    assert row["DataSourceProperties"]["currentKafkaPartitions"] == "0,1,2", row["DataSourceProperties"]
    assert row["Statistic"]["loadedRows"] == 30, row["Statistic"]


def test_sasl_plaintext_source_with_masked_password(kafka_broker, sql, database, new_topic):
    topic = new_topic(2)
    create_scores(sql)
    kafka_broker.produce(topic, csv_rows(range(30)), sasl=True)
    source = kafka_source(kafka_broker.sasl_bootstrap, topic, **{
        "property.security.protocol": "SASL_PLAINTEXT",
        "property.sasl.mechanism": kafka_broker.sasl_mechanism,
        "property.sasl.username": kafka_broker.sasl_user,
        "property.sasl.password": kafka_broker.sasl_password,
        "property.group.id": "cairn_e2e_sasl",
    })
    job = RoutineLoadJob.create(sql, "sasl_job", "scores", source)
    job.wait_for_count("scores", 30)
    assert scores(sql) == expected_scores(range(30))

    row = job.show()
    custom = row["CustomProperties"]
    assert custom["security.protocol"] == "SASL_PLAINTEXT", custom
    assert custom["sasl.mechanism"] == kafka_broker.sasl_mechanism, custom
    assert custom["sasl.username"] == kafka_broker.sasl_user, custom
    assert custom["sasl.password"] == "******", custom
    assert custom["group.id"] == "cairn_e2e_sasl", custom
    assert row["DataSourceProperties"]["brokerList"] == kafka_broker.sasl_bootstrap
    # The password appears nowhere in what SHOW ROUTINE LOAD returns.
    everything = json.dumps(sql.query(f"SHOW ALL ROUTINE LOAD FROM {database}"), default=str)
    assert kafka_broker.sasl_password not in everything


# --- job control -----------------------------------------------------------------------------


def test_pause_alter_resume_loads_everything_exactly_once(kafka_broker, sql, database, new_topic):
    topic = new_topic(2)
    create_scores(sql)
    produce_spread(kafka_broker, topic, range(50), 2)
    job = RoutineLoadJob.create(sql, "paused_job", "scores", kafka_source(kafka_broker.bootstrap, topic))
    job.wait_for_count("scores", 50)

    with pytest.raises(pymysql.err.MySQLError) as refused:
        job.alter('PROPERTIES ("max_error_number" = "7")')
    assert_server_error(refused.value)
    assert "Only a PAUSED routine load job can be altered" in str(refused.value)

    job.pause()
    row = job.wait_for_state("PAUSED", timeout=10)
    assert "errCode = 100" in row["ReasonOfStateChanged"], row["ReasonOfStateChanged"]
    assert not is_unset(row["PauseTime"]), row
    assert [r["Name"] for r in sql.query("SHOW ROUTINE LOAD WHERE State = 'PAUSED'")] == ["paused_job"]
    assert sql.query("SHOW ROUTINE LOAD WHERE State = 'RUNNING'") == []
    progress_when_paused = row["Progress"]
    assert progress_when_paused == {"0": "24", "1": "24"}, progress_when_paused

    produce_spread(kafka_broker, topic, range(50, 100), 2)
    assert assert_unchanged(
        lambda: (sql.count("scores"), job.state()), ABSENCE_SECONDS, "a paused job must load nothing", job.describe
    ) == (50, "PAUSED")

    job.alter(
        'PROPERTIES ("max_error_number" = "7") '
        f'FROM KAFKA {properties_clause({"property.client.id": "cairn-e2e-altered"})}'
    )
    row = job.show()
    assert row["State"] == "PAUSED", "ALTER must not resume the job"
    assert row["JobProperties"]["maxErrorNum"] == "7", row["JobProperties"]
    assert row["CustomProperties"]["client.id"] == "cairn-e2e-altered", row["CustomProperties"]
    assert row["Progress"] == progress_when_paused, "ALTER without kafka_offsets keeps the offsets"
    assert sql.count("scores") == 50

    job.resume()
    job.wait_for_count("scores", 100)
    job.wait_for_state("RUNNING")
    assert scores(sql) == expected_scores(range(100))
    row = job.show()
    assert row["Statistic"]["loadedRows"] == 100, row["Statistic"]
    assert row["Progress"] == {"0": "49", "1": "49"}, row["Progress"]


def test_stop_ends_the_job_for_good_and_frees_its_name(kafka_broker, sql, database, new_topic):
    topic = new_topic(1)
    create_scores(sql)
    kafka_broker.produce(topic, csv_rows(range(10)), partition=0)
    source = kafka_source(kafka_broker.bootstrap, topic)
    first = RoutineLoadJob.create(sql, "events_job", "scores", source)
    first.wait_for_count("scores", 10)

    with pytest.raises(pymysql.err.MySQLError) as duplicate:
        sql.execute(create_statement(database, "events_job", "scores", source))
    assert_server_error(duplicate.value)
    assert "already exists" in str(duplicate.value)

    first.stop()
    row = first.show()  # SHOW ALL ROUTINE LOAD
    assert row["State"] == "STOPPED", first.describe()
    assert not is_unset(row["EndTime"]), row
    assert "events_job" not in [r["Name"] for r in show_jobs(sql, all_jobs=False)]
    assert "events_job" not in [r["Name"] for r in sql.query("SHOW ROUTINE LOAD")]

    kafka_broker.produce(topic, csv_rows(range(10, 20)), partition=0)
    assert assert_unchanged(
        lambda: (sql.count("scores"), first.state()), ABSENCE_SECONDS, "a stopped job must load nothing", first.describe
    ) == (10, "STOPPED")
    with pytest.raises(pymysql.err.MySQLError) as refused:
        first.resume()
    assert_server_error(refused.value)
    assert first.state() == "STOPPED"

    # The name is free again; this job starts at an explicit offset: right after the first's.
    second = RoutineLoadJob.create(
        sql, "events_job", "scores",
        kafka_source(kafka_broker.bootstrap, topic, default_offsets=None, kafka_partitions="0", kafka_offsets="10"),
    )
    assert second.id != first.id
    second.wait_for_count("scores", 20)
    assert scores(sql) == expected_scores(range(20))
    second.wait_for_state("RUNNING")
    assert second.show()["Progress"] == {"0": "19"}

    everything = show_jobs(sql)
    assert sorted((r["Name"], r["State"]) for r in everything) == [("events_job", "RUNNING"), ("events_job", "STOPPED")]
    assert [str(r["Id"]) for r in show_jobs(sql, all_jobs=False)] == [second.id]
    # WHERE filters before LIMIT counts: the stopped job (the older one) is not the answer.
    running = sql.query(f"SHOW ALL ROUTINE LOAD FROM {database} WHERE State = 'RUNNING' LIMIT 1")
    assert [str(r["Id"]) for r in running] == [second.id]
    stopped = sql.query(f"SHOW ALL ROUTINE LOAD FROM {database} WHERE State = 'STOPPED'")
    assert [str(r["Id"]) for r in stopped] == [first.id]


def test_partial_update_from_kafka_keeps_other_columns(kafka_broker, sql, new_topic):
    topic = new_topic(1)
    sql.execute(
        "CREATE TABLE players (id INT NOT NULL, name VARCHAR(20), score INT) "
        'PRIMARY KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1 PROPERTIES ("replication_num" = "1")'
    )
    sql.execute("INSERT INTO players VALUES (1, 'ann', 10), (2, 'bob', 20)")
    kafka_broker.produce(topic, ["2,25", "3,30"], partition=0)
    job = RoutineLoadJob.create(
        sql, "scores_job", "players", kafka_source(kafka_broker.bootstrap, topic),
        load="COLUMNS (id, score)", properties={"partial_update": "true"},
    )
    job.wait_for_count("players", 3)
    assert sql.rows("SELECT id, name, score FROM players ORDER BY id") == [(1, "ann", 10), (2, "bob", 25), (3, None, 30)]


def test_a_recreated_topic_pauses_the_job_instead_of_skipping(kafka_broker, sql, new_topic):
    """Offsets past the newest message mean the topic was re-created: say so, do not guess."""
    topic = new_topic(1)
    sql.execute(
        "CREATE TABLE points (id INT NOT NULL, score BIGINT) "
        'DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1 PROPERTIES ("replication_num" = "1")'
    )
    kafka_broker.produce(topic, [f"{n},{n}" for n in range(5)], partition=0)
    job = RoutineLoadJob.create(sql, "recreated_job", "points", kafka_source(kafka_broker.bootstrap, topic))
    job.wait_for_count("points", 5)
    kafka_broker.delete_topic(topic)
    wait_until(
        lambda: topic not in kafka_broker.admin().list_topics(timeout=30).topics,
        60, f"topic {topic} to be deleted",
    )
    kafka_broker.create_topic(topic, partitions=1)
    kafka_broker.produce(topic, ["10,10", "11,11"], partition=0)
    row = job.wait_for_row(
        lambda row: row["State"] == "PAUSED" and "errCode = 105" in row["ReasonOfStateChanged"],
        "a pause for the re-created topic",
    )
    assert "newest message is at 1" in row["ReasonOfStateChanged"], row["ReasonOfStateChanged"]
    assert sql.count("points") == 5
    job.alter('FROM KAFKA ("kafka_partitions" = "0", "kafka_offsets" = "0")')
    job.resume()
    job.wait_for_count("points", 7)


def test_a_message_that_is_no_json_document_is_one_error_row(kafka_broker, sql, new_topic):
    """One broken message must not fail the documents around it, and an empty one is no row."""
    topic = new_topic(1)
    sql.execute(
        "CREATE TABLE points (id INT NOT NULL, score BIGINT) "
        'DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1 PROPERTIES ("replication_num" = "1")'
    )
    kafka_broker.produce(topic, ['{"id": 1, "score": 10}', "{broken", "", '{"id": 2, "score": 20}'], partition=0)
    job = RoutineLoadJob.create(
        sql, "json_job", "points", kafka_source(kafka_broker.bootstrap, topic),
        properties={"format": "json", "max_error_number": "2"},
    )
    job.wait_for_count("points", 2)
    assert sql.rows("SELECT id, score FROM points ORDER BY id") == [(1, 10), (2, 20)]
    row = job.wait_for_row(lambda row: row["Progress"] == {"0": "3"}, "progress past the last message")
    assert row["State"] == "RUNNING", job.describe()
    assert row["Statistic"]["errorRows"] == 1, row["Statistic"]
    logs = fetch_error_logs(row)
    assert any("offset 1 is not a JSON document" in text and "{broken" in text for text in logs), logs


def test_bad_messages_pause_the_job_and_are_logged(kafka_broker, sql, new_topic):
    """Bad rows count against max_error_number; past it the job pauses with the rows logged."""
    topic = new_topic(1)
    sql.execute(
        "CREATE TABLE points (id INT NOT NULL, score BIGINT) "
        'DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1 PROPERTIES ("replication_num" = "1")'
    )
    # Both are in the topic before the job starts, so its first batch holds both.
    kafka_broker.produce(topic, ["1,10", "2,20,extra"], partition=0)
    job = RoutineLoadJob.create(
        sql, "strict_job", "points", kafka_source(kafka_broker.bootstrap, topic), properties={"strict_mode": "true"}
    )

    # max_error_number defaults to 0. As in StarRocks, the batch commits without its bad row,
    # then the job pauses for the user to look at the error log.
    row = job.wait_for_state("PAUSED")
    assert "errCode = 102" in row["ReasonOfStateChanged"], row["ReasonOfStateChanged"]
    assert "current error rows: 1 is more than max error num: 0" in row["ReasonOfStateChanged"], row
    assert sql.rows("SELECT id, score FROM points ORDER BY id") == [(1, 10)]
    statistic = row["Statistic"]
    assert statistic["loadedRows"] == 1 and statistic["errorRows"] == 1 and statistic["committedTaskNum"] == 1, statistic
    assert row["Progress"] == {"0": "1"}, row["Progress"]
    logs = fetch_error_logs(row)
    assert logs, f"no ErrorLogUrls: {row}"
    rejected = [line for text in logs for line in text.splitlines() if "2,20,extra" in line]
    assert rejected and "Expect 2, but got 3" in rejected[0], logs
    assert not any(line.rstrip().endswith(": 1,10") for text in logs for line in text.splitlines()), logs

    # Allow some errors, and resume after the bad batch: nothing of it loads twice.
    job.alter('PROPERTIES ("max_error_number" = "5")')
    job.resume()
    job.wait_for_state("RUNNING")

    # A non-numeric id (strict mode) and a row with too few columns among good rows.
    kafka_broker.produce(topic, ["3,30", "abc,40", "4,40", "5", "6,60", "7,70", "8,80", "9,90"], partition=0)
    job.wait_for_count("points", 7)
    assert sql.rows("SELECT id, score FROM points ORDER BY id") == [
        (1, 10), (3, 30), (4, 40), (6, 60), (7, 70), (8, 80), (9, 90)
    ]
    row = job.show()
    assert row["State"] == "RUNNING", job.describe()
    statistic = row["Statistic"]
    assert statistic["errorRows"] == 3, statistic
    assert statistic["loadedRows"] == 7, statistic
    assert statistic["totalRows"] == 10, statistic
    assert row["OffsetLag"] == {"0": "0"}, row["OffsetLag"]
    logs = fetch_error_logs(row)
    assert any("abc,40" in text for text in logs), logs
    assert any("Expect 2, but got 1" in text for text in logs), logs


STATEMENT_ERRORS = [
    pytest.param(
        "CREATE ROUTINE LOAD {db}.bad ON scores PROPERTIES (\"desired_concurrency\" = \"2\") FROM KAFKA {source}",
        ("Unknown routine load property 'desired_concurrency'",), None, id="unknown-property",
    ),
    pytest.param(
        "CREATE ROUTINE LOAD {db}.bad ON scores PROPERTIES (\"max_batch_interval\" = \"2\") FROM KAFKA {source}",
        ("max_batch_interval should be between 5 and 60",), None, id="max-batch-interval-too-short",
    ),
    pytest.param(
        "CREATE ROUTINE LOAD {db}.bad ON scores PROPERTIES (\"max_batch_interval\" = \"61\") FROM KAFKA {source}",
        ("max_batch_interval should be between 5 and 60",), None, id="max-batch-interval-too-long",
    ),
    pytest.param(
        "CREATE ROUTINE LOAD {db}.bad ON scores PROPERTIES (\"max_batch_rows\" = \"1000\") FROM KAFKA {source}",
        ("max_batch_rows", "200000"), None, id="max-batch-rows-too-small",
    ),
    pytest.param(
        "CREATE ROUTINE LOAD {db}.bad ON scores FROM KAFKA (\"kafka_broker_list\" = \"{broker}\")",
        ("kafka_broker_list and kafka_topic are required",), None, id="no-topic",
    ),
    pytest.param(
        "CREATE ROUTINE LOAD {db}.bad ON scores FROM KAFKA (\"kafka_topic\" = \"{topic}\")",
        ("kafka_broker_list and kafka_topic are required",), None, id="no-broker-list",
    ),
    pytest.param(
        "CREATE ROUTINE LOAD {db}.bad ON no_such_table FROM KAFKA {source}",
        ("no_such_table",), 1146, id="unknown-table",
    ),
    pytest.param(
        "CREATE ROUTINE LOAD {db}.bad ON scores FROM KAFKA (\"kafka_broker_list\" = \"{broker}\", "
        "\"kafka_topic\" = \"{topic}\", \"kafka_partitions\" = \"0,1\", \"kafka_offsets\" = \"OFFSET_BEGINNING\")",
        ("kafka_offsets",), None, id="fewer-offsets-than-partitions",
    ),
    pytest.param(
        "CREATE ROUTINE LOAD {db}.bad ON scores FROM KAFKA (\"kafka_broker_list\" = \"{broker}\", "
        "\"kafka_topic\" = \"{topic}\", \"kafka_brokers\" = \"{broker}\")",
        ("kafka_brokers",), None, id="unknown-data-source-property",
    ),
    pytest.param(
        "PAUSE ROUTINE LOAD FOR {db}.no_such_job", ("no_such_job",), None, id="pause-unknown-job",
    ),
    pytest.param(
        "ALTER ROUTINE LOAD FOR {db}.no_such_job PROPERTIES (\"max_error_number\" = \"1\")",
        ("no_such_job",), None, id="alter-unknown-job",
    ),
]


@pytest.mark.parametrize("statement, expected, code", STATEMENT_ERRORS)
def test_statement_errors_name_the_problem(kafka_broker, sql, database, statement, expected, code):
    """Each wrong statement fails with a MySQL error that says what is wrong, and leaves no
    job behind. None of them needs Kafka: the topic need not exist."""
    create_scores(sql)
    topic = "rl_statement_errors_never_created"
    text = statement.format(
        db=database, broker=kafka_broker.bootstrap, topic=topic,
        source=properties_clause(kafka_source(kafka_broker.bootstrap, topic)),
    )
    with pytest.raises(pymysql.err.MySQLError) as failure:
        sql.execute(text)
    assert_server_error(failure.value)
    message = str(failure.value)
    for part in expected:
        assert part in message, f"{text}\n-> {message}\nshould contain {part!r}"
    if code is not None:
        assert failure.value.args[0] == code, message
    assert show_jobs(sql) == [], f"{text} left a job behind"


# --- failures --------------------------------------------------------------------------------


def test_kafka_outage_pauses_the_job_and_it_resumes_by_itself(kafka_broker, sql, new_topic):
    topic = new_topic(2)
    create_scores(sql)
    produce_spread(kafka_broker, topic, range(20), 2)
    job = RoutineLoadJob.create(sql, "outage_job", "scores", kafka_source(kafka_broker.bootstrap, topic))
    job.wait_for_count("scores", 20)

    try:
        kafka_broker.kill()
        row = job.wait_for_state("PAUSED", timeout=OUTAGE_DETECTION_SECONDS)
        assert "errCode = 4" in row["ReasonOfStateChanged"], row["ReasonOfStateChanged"]
        assert "Kafka" in row["ReasonOfStateChanged"], row["ReasonOfStateChanged"]
        assert sql.count("scores") == 20
    finally:
        # The broker is the session's: the tests after this one (and the fixture's final
        # check) need it back even when an assertion above failed.
        kafka_broker.restart()

    produce_spread(kafka_broker, topic, range(20, 40), 2)
    # No RESUME: the job probes Kafka by itself.
    job.wait_for_count("scores", 40, timeout=OUTAGE_RECOVERY_SECONDS)
    job.wait_for_state("RUNNING")
    assert scores(sql) == expected_scores(range(40))
    row = job.show()
    assert row["Statistic"]["loadedRows"] == 40, row["Statistic"]
    assert row["Progress"] == {"0": "19", "1": "19"}, row["Progress"]


class NumberedProducer(threading.Thread):
    """Produces rows `n,partition` for n = 0, 1, 2, ... into partition n % PARTITIONS until
    finish(). The producer is idempotent, so each partition holds its numbers in order: the
    rows a job loaded from a partition must be a prefix of that sequence."""

    def __init__(self, broker: KafkaBroker, topic: str, partitions: int, rows_per_round: int = 10, pause: float = 0.05):
        super().__init__(daemon=True)
        self.broker = broker
        self.topic = topic
        self.partitions = partitions
        self.rows_per_round = rows_per_round
        self.pause = pause
        self.stopping = threading.Event()
        self.sent = 0
        self.acknowledged = 0
        self.errors: list[str] = []
        self.failure: Optional[BaseException] = None

    def _delivered(self, error, message) -> None:
        if error is not None:
            self.errors.append(str(error))
        else:
            self.acknowledged += 1

    def run(self) -> None:
        try:
            settings = {"acks": "all", "enable.idempotence": True, "linger.ms": 5}
            producer = Producer(self.broker.client_config(**settings))
            while not self.stopping.is_set():
                for _ in range(self.rows_per_round):
                    partition = self.sent % self.partitions
                    while True:
                        try:
                            producer.produce(
                                self.topic, value=f"{self.sent},{partition}".encode(), partition=partition,
                                on_delivery=self._delivered,
                            )
                            break
                        except BufferError:
                            producer.poll(0.1)
                    self.sent += 1
                producer.poll(0)
                self.stopping.wait(self.pause)
            remaining = producer.flush(60)
            if remaining:
                self.errors.append(f"{remaining} messages were never delivered")
        except BaseException as error:  # noqa: BLE001 - finish() reports it
            self.failure = error

    def finish(self) -> int:
        """Stops producing and returns how many rows Kafka holds; raises if any was lost."""
        self.stopping.set()
        self.join(timeout=90)
        assert not self.is_alive(), "the producer did not stop"
        assert self.failure is None, f"the producer failed: {self.failure!r}"
        assert not self.errors, f"deliveries failed: {self.errors[:5]}"
        assert self.acknowledged == self.sent, f"{self.sent} sent, {self.acknowledged} acknowledged"
        return self.sent


def loaded_prefixes(session: Session, partitions: int) -> dict[int, int]:
    """Rows per partition, after checking that each partition's rows are exactly its first
    numbers: no number twice (a duplicate) and no gap (a lost message)."""
    assert session.scalar(f"SELECT count(*) FROM numbers WHERE id % {partitions} <> part") == 0
    counts = {}
    for part, count, distinct, low, high in session.rows(
        "SELECT part, count(*), count(DISTINCT id), min(id), max(id) FROM numbers GROUP BY part ORDER BY part"
    ):
        count, distinct, low, high = int(count), int(distinct), int(low), int(high)
        assert distinct == count, f"partition {part}: {count} rows but {distinct} distinct ids: duplicates"
        assert (low, high) == (part, part + partitions * (count - 1)), (
            f"partition {part}: {count} rows from id {low} to {high}: a message in between was lost"
        )
        counts[int(part)] = count
    return counts


def test_kill_9_during_loading_loses_and_repeats_no_message(kafka_broker, new_topic, tmp_path):
    """The job's offsets commit with its rows, so a crash at any moment neither loses nor
    repeats a message, and the job runs again after the restart without anyone resuming it."""
    partitions = 2
    topic = new_topic(partitions)
    server = CairnServer(tmp_path).start()
    producer = NumberedProducer(kafka_broker, topic, partitions)
    session: Optional[Session] = None
    try:
        admin = Session(server)
        admin.execute("CREATE DATABASE crash")
        admin.close()
        session = Session(server, "crash")
        session.execute(
            "CREATE TABLE numbers (id BIGINT NOT NULL, part INT NOT NULL) "
            'DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 2 PROPERTIES ("replication_num" = "1")'
        )
        job = RoutineLoadJob.create(
            session, "numbers_job", "numbers", kafka_source(kafka_broker.bootstrap, topic),
            properties={"desired_concurrent_number": "2"},
        )
        producer.start()
        chooser = random.Random(20261121)
        seen = 0
        for cycle in range(CRASH_CYCLES):
            floor = seen + 100

            def progressed() -> int:
                assert producer.is_alive(), f"the producer stopped: {producer.failure!r} {producer.errors[:3]}"
                count = session.count("numbers")
                return count if count >= floor else 0

            seen = wait_until(progressed, LOAD_TIMEOUT_SECONDS, f"cycle {cycle}: {floor} rows loaded", job.describe)
            # Kill while batches keep committing: the producer never stops.
            time.sleep(chooser.uniform(0.2, 1.5))
            server.kill()
            server.start()
            session.reconnect()
            counts = loaded_prefixes(session, partitions)
            assert sum(counts.values()) >= seen, (
                f"cycle {cycle}: {seen} rows were visible before the kill, {counts} after the restart"
            )
            job.wait_for_state("RUNNING")

        produced = producer.finish()
        job.wait_for_count("numbers", produced, timeout=120)
        counts = loaded_prefixes(session, partitions)
        assert sum(counts.values()) == produced
        row = job.show()
        assert row["State"] == "RUNNING", job.describe()
        statistic = row["Statistic"]
        assert statistic["loadedRows"] == produced, f"the statistic counted a batch twice or lost one: {statistic}"
        assert statistic["errorRows"] == 0, statistic
        expected_progress = {str(part): str(count - 1) for part, count in counts.items()}
        assert row["Progress"] == expected_progress, (row["Progress"], counts)
        job.wait_for_row(
            lambda row: row["OffsetLag"] == {str(part): "0" for part in range(partitions)}, "no lag once all is loaded"
        )
    except BaseException:
        print(server.log_tail(80))
        raise
    finally:
        producer.stopping.set()
        producer.join(timeout=90)
        if session is not None:
            session.close()
        server.stop()
