"""Compaction test: thousands of one-row loads, then background compaction bounds the rowset
count while every query answers the same as before.

`SHOW TABLETS FROM <table>` must list one row per tablet with a rowset count column
(`RowsetCount`; StarRocks' `VersionCount` is accepted too)."""

from __future__ import annotations

import os
import time

from cairn_server import create_duplicate_table

LOAD_COUNT = int(os.environ.get("CAIRN_COMPACTION_LOADS", "2000"))
ROWSET_BOUND = int(os.environ.get("CAIRN_COMPACTION_ROWSET_BOUND", "50"))
COMPACTION_TIMEOUT_SECONDS = 300
ROWSET_COLUMNS = ("RowsetCount", "VersionCount")

QUERIES = [
    "SELECT count(*), sum(value), min(id), max(id) FROM tiny",
    "SELECT id % 7 AS bucket, count(*), sum(value) FROM tiny GROUP BY 1 ORDER BY 1",
    "SELECT id, value FROM tiny WHERE id BETWEEN 100 AND 110 ORDER BY id",
]


def answers(cursor) -> list[tuple]:
    results = []
    for query in QUERIES:
        cursor.execute(query)
        results.append(cursor.fetchall())
    return results


def rowset_counts(cursor) -> list[int]:
    cursor.execute("SHOW TABLETS FROM tiny")
    names = [column[0] for column in cursor.description]
    rows = cursor.fetchall()
    column = next((name for name in ROWSET_COLUMNS if name in names), None)
    assert column, f"SHOW TABLETS has none of {ROWSET_COLUMNS}: {names}"
    assert rows, "SHOW TABLETS listed no tablet"
    index = names.index(column)
    return [int(row[index]) for row in rows]


def test_many_tiny_loads_are_compacted_without_changing_results(connection):
    cursor = connection.cursor()
    create_duplicate_table(cursor, "tiny", "id BIGINT NOT NULL, value INT NOT NULL", "id", buckets=1)
    for number in range(LOAD_COUNT):
        cursor.execute(f"INSERT INTO tiny VALUES ({number}, {number % 97})")

    expected_total = (LOAD_COUNT, sum(number % 97 for number in range(LOAD_COUNT)), 0, LOAD_COUNT - 1)
    before = answers(cursor)
    assert before[0] == (expected_total,)

    deadline = time.monotonic() + COMPACTION_TIMEOUT_SECONDS
    while True:
        counts = rowset_counts(cursor)
        # Results never change while compaction runs.
        assert answers(cursor) == before
        if max(counts) <= ROWSET_BOUND:
            break
        assert time.monotonic() < deadline, (
            f"rowset counts {counts} still above {ROWSET_BOUND} "
            f"{COMPACTION_TIMEOUT_SECONDS}s after {LOAD_COUNT} loads"
        )
        time.sleep(2)

    assert answers(cursor) == before
    # New loads after compaction are visible at once and counted once.
    cursor.execute(f"INSERT INTO tiny VALUES ({LOAD_COUNT}, 1)")
    cursor.execute("SELECT count(*) FROM tiny")
    assert cursor.fetchone() == (LOAD_COUNT + 1,)
