"""One-phase aggregation on bucketed data, over PyMySQL: grouped by keys that hold a table's
hash distribution column, every group's rows are in one scan partition (each reads whole
buckets, across range partitions too), so EXPLAIN shows one SinglePartitioned aggregation
instead of a partial one, a repartition and a final one. Every result is checked against
Python's own answer: a group split between two partitions would come out twice."""

from __future__ import annotations

from collections import defaultdict

from cairn_server import create_duplicate_table

IDS = 6_000
COPIES = 4


def explain(cursor, query: str) -> str:
    cursor.execute("EXPLAIN " + query)
    return "\n".join(str(value[-1]) for value in cursor.fetchall())


def insert(cursor, table: str, rows) -> None:
    cursor.execute(f"INSERT INTO {table} VALUES " + ", ".join(
        "(" + ", ".join(f"'{value}'" if isinstance(value, str) else str(value) for value in row) + ")"
        for row in rows))


def test_grouping_by_the_distribution_column_aggregates_in_one_phase(connection):
    with connection.cursor() as cursor:
        create_duplicate_table(cursor, "events", "id BIGINT NOT NULL, kind INT NOT NULL, v INT NOT NULL", "id", buckets=4)
        rows = [(number % IDS, number % 7, number % 101) for number in range(IDS * COPIES)]
        # One load per copy: each id's rows are spread over four rowsets of its tablet.
        for copy in range(COPIES):
            insert(cursor, "events", rows[copy * IDS:(copy + 1) * IDS])
        sums = defaultdict(int)
        kinds = defaultdict(int)
        for identifier, kind, value in rows:
            sums[identifier] += value
            kinds[(identifier, kind)] += 1

        query = "SELECT id, count(*), sum(v) FROM events GROUP BY id"
        plan = explain(cursor, query)
        assert "mode=SinglePartitioned, gby=[id@" in plan and "mode=Partial" not in plan, plan
        cursor.execute(query)
        got = cursor.fetchall()
        assert len(got) == IDS, "a group split between partitions comes out twice"
        assert {identifier: (count, int(total)) for identifier, count, total in got} == {
            identifier: (COPIES, total) for identifier, total in sums.items()}

        # More keys than the distribution column: still one phase.
        query = "SELECT kind, id, count(*) FROM events GROUP BY kind, id"
        assert "mode=SinglePartitioned" in explain(cursor, query)
        cursor.execute(query)
        assert {(identifier, kind): count for kind, identifier, count in cursor.fetchall()} == dict(kinds)

        # Not grouped by the distribution column: two phases.
        query = "SELECT kind, count(*) FROM events GROUP BY kind"
        plan = explain(cursor, query)
        assert "mode=Partial" in plan and "mode=SinglePartitioned" not in plan, plan
        cursor.execute(query)
        assert sorted(cursor.fetchall()) == sorted(
            (kind, sum(count for (_, other), count in kinds.items() if other == kind)) for kind in range(7))

        # TPC-H q18's shape: the grouped subquery feeds a join.
        threshold = sorted(sums.values())[-50]
        query = ("SELECT count(*), sum(v) FROM events WHERE id IN "
                 f"(SELECT id FROM events GROUP BY id HAVING sum(v) >= {threshold})")
        assert "mode=SinglePartitioned" in explain(cursor, query)
        cursor.execute(query)
        chosen = {identifier for identifier, total in sums.items() if total >= threshold}
        count, total = cursor.fetchone()
        assert (count, int(total)) == (COPIES * len(chosen), sum(sums[identifier] for identifier in chosen))

        # A partitioned join pairs its inputs' partitions by DataFusion's hash of the key: the
        # aggregations under it keep the final phase that partitions them so.
        cursor.execute("SET broadcast_row_limit = 0")
        query = ("SELECT count(*), sum(a.c * b.c) FROM (SELECT id, count(*) AS c FROM events GROUP BY id) a "
                 "JOIN (SELECT id, sum(v) AS c FROM events GROUP BY id) b ON a.id = b.id")
        plan = explain(cursor, query)
        assert "HashJoinExec: mode=Partitioned" in plan and "mode=SinglePartitioned" not in plan, plan
        cursor.execute(query)
        count, total = cursor.fetchone()
        assert (count, int(total)) == (IDS, sum(COPIES * value for value in sums.values()))
        cursor.execute("SET broadcast_row_limit = DEFAULT")

        # Bucket pruning leaves some buckets; equal ids still meet.
        cursor.execute("SELECT id, count(*) FROM events WHERE id IN (3, 4, 5, 1003) GROUP BY id ORDER BY id")
        assert cursor.fetchall() == ((3, COPIES), (4, COPIES), (5, COPIES), (1003, COPIES))


def test_one_bucket_number_meets_across_range_partitions(connection):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE visits (day DATE NOT NULL, id BIGINT NOT NULL, v INT NOT NULL) DUPLICATE KEY(day, id) "
            "PARTITION BY RANGE(day) (PARTITION p1 VALUES LESS THAN ('2024-02-01'), "
            "PARTITION p2 VALUES LESS THAN ('2024-03-01'), PARTITION p3 VALUES LESS THAN ('2024-04-01')) "
            'DISTRIBUTED BY HASH(id) BUCKETS 3 PROPERTIES ("replication_num" = "1")')
        rows = [(f"2024-0{1 + number % 3}-1{number % 10}", number % 2_000, number % 13) for number in range(12_000)]
        insert(cursor, "visits", rows)
        totals = defaultdict(lambda: [0, 0])
        for _, identifier, value in rows:
            totals[identifier][0] += 1
            totals[identifier][1] += value
        query = "SELECT id, count(*), sum(v) FROM visits GROUP BY id"
        assert "mode=SinglePartitioned" in explain(cursor, query)
        cursor.execute(query)
        got = cursor.fetchall()
        assert len(got) == len(totals), "an id's rows in two range partitions must share a scan partition"
        assert {identifier: [count, int(total)] for identifier, count, total in got} == dict(totals)
