"""Which side of a hash join is built, as EXPLAIN shows it over PyMySQL: the planner estimates a
join's output from both sides' rows and the join key's distinct values, which each rowset's
footer sketches. Date keys written as yyyymmdd integers leave most of their range empty, so a
range-based guess of their distinct values is far too high; the sketch is not fooled, and the
smaller side goes into the hash table. Results are checked against Python's own answer."""

from __future__ import annotations

import datetime
import re

from cairn_server import create_duplicate_table
from test_scan_filters import metric

FACTS = 60_000
PARTS = 50_000
DAYS = 400


def day_key(day: int) -> int:
    """A yyyymmdd key, as SSB's `d_datekey`: 400 days spread over a range of 10 000+ integers."""
    date = datetime.date(2024, 1, 1) + datetime.timedelta(days=day)
    return date.year * 10_000 + date.month * 100 + date.day


def manufacturer(part: int) -> str:
    return f"MFGR#{part % 5 + 1}"


def insert(cursor, table: str, rows: list[tuple]) -> None:
    for start in range(0, len(rows), 20_000):
        cursor.execute(f"INSERT INTO {table} VALUES " + ", ".join(
            "(" + ", ".join(repr(value) for value in row) + ")" for row in rows[start:start + 20_000]))


def test_the_fact_side_of_a_star_join_probes_and_the_filtered_dimension_is_built(connection):
    with connection.cursor() as cursor:
        create_duplicate_table(cursor, "dates", "date_key INT NOT NULL, year INT", "date_key")
        create_duplicate_table(cursor, "parts", "part_id INT NOT NULL, mfgr VARCHAR(8)", "part_id", buckets=2)
        create_duplicate_table(cursor, "facts", "id BIGINT NOT NULL, date_key INT, part INT, amount INT", "id", buckets=2)
        insert(cursor, "dates", [(day_key(day), day_key(day) // 10_000) for day in range(DAYS)])
        insert(cursor, "parts", [(part, manufacturer(part)) for part in range(PARTS)])
        facts = [(row, day_key(row % DAYS), row * 7 % PARTS, row % 91) for row in range(FACTS)]
        insert(cursor, "facts", facts)

        # SSB q4.1's shape. Every fact matches a date, so the facts side of the upper join has
        # all 60 000 rows; the parts side has the 20 000 parts of two manufacturers. With the
        # key's range taken for its distinct values (10 000+ integers for 400 dates) the facts
        # side came out at 2 400 rows and was built.
        query = ("SELECT d.year, count(*), sum(f.amount) FROM dates d, facts f, parts p "
                 "WHERE f.date_key = d.date_key AND f.part = p.part_id AND (p.mfgr = 'MFGR#1' OR p.mfgr = 'MFGR#2') "
                 "GROUP BY d.year ORDER BY d.year")
        expected: dict[int, list[int]] = {}
        for _, date_key, part, amount in facts:
            if manufacturer(part) in ("MFGR#1", "MFGR#2"):
                totals = expected.setdefault(date_key // 10_000, [0, 0])
                totals[0] += 1
                totals[1] += amount
        cursor.execute(query)
        assert [(year, rows, int(total)) for year, rows, total in cursor.fetchall()] == [
            (year, totals[0], totals[1]) for year, totals in sorted(expected.items())]

        cursor.execute("EXPLAIN " + query)
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
        joins = [line for line in plan.splitlines() if "HashJoinExec" in line]
        assert len(joins) == 2, plan
        # A hash join's `on` pairs read (build key, probe key).
        assert any(re.search(r"on=\[\(part_id@\d+, part@\d+\)\]", line) for line in joins), plan
        assert any(re.search(r"on=\[\(date_key@\d+, date_key@\d+\)\]", line) for line in joins), plan


def test_an_aggregation_grouped_by_the_join_key_probes_so_the_runtime_filter_reaches_it(connection):
    with connection.cursor() as cursor:
        create_duplicate_table(cursor, "items", "item_id INT NOT NULL, maker VARCHAR(8)", "item_id")
        create_duplicate_table(cursor, "sold", "id BIGINT NOT NULL, item INT, amount INT", "id", buckets=2)
        insert(cursor, "items", [(item, manufacturer(item)) for item in range(1_000)])
        sold = [(row, row % 1_000, row * 37 % 101) for row in range(FACTS)]
        insert(cursor, "sold", sold)

        # TPC-H q17's shape: the correlated subquery becomes an aggregation per item, 1 000
        # groups, fewer than the 12 000 estimated rows of the other side, so DataFusion builds
        # it. Those rows hold only 200 items (one maker's): probing instead, the aggregation's
        # scan keeps their sales alone, a fifth of them.
        query = ("SELECT count(*), sum(s.amount) FROM sold s JOIN items i ON i.item_id = s.item "
                 "WHERE i.maker = 'MFGR#1' AND s.amount > (SELECT avg(t.amount) FROM sold t WHERE t.item = i.item_id)")
        totals: dict[int, list[int]] = {}
        for _, item, amount in sold:
            entry = totals.setdefault(item, [0, 0])
            entry[0] += amount
            entry[1] += 1
        matching = [amount for _, item, amount in sold
                    if manufacturer(item) == "MFGR#1" and amount * totals[item][1] > totals[item][0]]
        cursor.execute(query)
        assert cursor.fetchall() == ((len(matching), sum(matching)),)

        cursor.execute("EXPLAIN ANALYZE " + query)
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
        # The scan under the aggregation.
        lines = plan.splitlines()
        below = next(index for index, line in enumerate(lines) if "AggregateExec: mode=Partial, gby=[item@0 as item]" in line)
        grouped = [line for line in lines[below:] if "TabletScanExec: table=sold" in line][:1]
        assert grouped and "runtime_filter(item@0," in grouped[0], plan
        assert metric(grouped[0], "rows_read") == FACTS, grouped[0]
        assert metric(grouped[0], "output_rows") <= FACTS / 4, plan
