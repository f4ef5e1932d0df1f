"""Low-cardinality strings over PyMySQL: filters on a string column run on its dictionary in
the scan, and GROUP BY on such a column groups by codes that are decoded after the
aggregation. EXPLAIN shows both; every result is checked against Python's own answer,
NULLs, several rowsets, a high-cardinality column and loads after the cache is warm
included."""

from __future__ import annotations

from collections import defaultdict

from cairn_server import create_duplicate_table

ROWS = 60_000
CITIES = [f"city{number}" for number in range(10)]
DEVICES = ["phone", "desktop", "tablet"]


def row(number: int) -> tuple[int, str | None, str, str, int]:
    city = None if number % 17 == 0 else CITIES[number * 7 % len(CITIES)]
    return number, city, DEVICES[number % 3], f"note {number % 5000}", number % 101


def insert(cursor, rows) -> None:
    def text(value):
        return "NULL" if value is None else f"'{value}'" if isinstance(value, str) else str(value)
    cursor.execute("INSERT INTO visits VALUES " + ", ".join(
        "(" + ", ".join(text(value) for value in values) + ")" for values in rows))


def load(cursor) -> list[tuple]:
    create_duplicate_table(cursor, "visits",
                           "id BIGINT NOT NULL, city VARCHAR(16), device VARCHAR(16), note VARCHAR(32), amount INT",
                           "id", buckets=2)
    rows = [row(number) for number in range(ROWS)]
    # Three loads: three rowsets per tablet.
    for start in range(0, ROWS, 20_000):
        insert(cursor, rows[start:start + 20_000])
    return rows


def explain(cursor, query: str) -> str:
    cursor.execute("EXPLAIN " + query)
    return "\n".join(str(value[-1]) for value in cursor.fetchall())


def sorted_nulls_first(keys):
    """StarRocks' ascending order: NULL first."""
    return sorted(keys, key=lambda key: tuple((value is not None, value) for value in key))


def test_group_by_low_cardinality_strings_groups_codes_and_returns_strings(connection):
    with connection.cursor() as cursor:
        rows = load(cursor)
        query = ("SELECT city, device, count(*), sum(amount) FROM visits WHERE amount > 10 "
                 "GROUP BY city, device ORDER BY city, device")
        plan = explain(cursor, query)
        assert "group_by_codes=[city, device]" in plan, plan
        expected = defaultdict(lambda: [0, 0])
        for _, city, device, _, amount in rows:
            if amount > 10:
                expected[(city, device)][0] += 1
                expected[(city, device)][1] += amount
        cursor.execute(query)
        assert [(city, device, count, int(total)) for city, device, count, total in cursor.fetchall()] == [
            (*key, *expected[key]) for key in sorted_nulls_first(expected)]

        # Two codes are grouped as one 64-bit pair, whichever key is NULL, between keys that
        # stay as they are, and a third code stays alone.
        cases = {
            "city, amount % 2, device": lambda city, device, note, amount: (city, amount % 2, device),
            "device, city": lambda city, device, note, amount: (device, city),
            "device, note, city": lambda city, device, note, amount: (device, note, city),
        }
        for keys, key_of in cases.items():
            query = f"SELECT {keys}, count(*), sum(amount) FROM visits GROUP BY {keys}"
            plan = explain(cursor, query)
            assert "gby=[pair(" in plan, plan
            expected = defaultdict(lambda: [0, 0])
            for _, city, device, note, amount in rows:
                expected[key_of(city, device, note, amount)][0] += 1
                expected[key_of(city, device, note, amount)][1] += amount
            cursor.execute(query)
            got = {tuple(values[:-2]): [values[-2], int(values[-1])] for values in cursor.fetchall()}
            assert got == dict(expected), keys

        # A column an aggregate reads stays a string; the other key is still coded.
        query = "SELECT device, min(city), max(city), count(DISTINCT city) FROM visits GROUP BY device ORDER BY device"
        plan = explain(cursor, query)
        assert "group_by_codes=[device]" in plan, plan
        cursor.execute(query)
        by_device = defaultdict(set)
        for _, city, device, _, _ in rows:
            by_device[device].add(city)
        assert list(cursor.fetchall()) == [
            (device, min(c for c in cities if c), max(c for c in cities if c), len([c for c in cities if c]))
            for device, cities in sorted(by_device.items())]

        # 5 000 distinct notes: too many for a row group's dictionary, coded row by row.
        query = "SELECT note, count(*) FROM visits GROUP BY note ORDER BY count(*) DESC, note LIMIT 3"
        notes = defaultdict(int)
        for _, _, _, note, _ in rows:
            notes[note] += 1
        cursor.execute(query)
        assert list(cursor.fetchall()) == sorted(notes.items(), key=lambda item: (-item[1], item[0]))[:3]

        # Ordered by the key under a limit: the codes must not decide the order.
        cursor.execute("SELECT DISTINCT city FROM visits ORDER BY city DESC LIMIT 3")
        assert [city for (city,) in cursor.fetchall()] == sorted(CITIES, reverse=True)[:3]

        # A load after the cache is warm brings a new value and a new rowset.
        insert(cursor, [(ROWS, "atlantis", "phone", "note x", 50)])
        cursor.execute("SELECT city, count(*) FROM visits GROUP BY city ORDER BY count(*), city LIMIT 1")
        assert cursor.fetchall() == (("atlantis", 1),)


def test_filters_on_low_cardinality_strings_run_on_the_dictionary(connection):
    with connection.cursor() as cursor:
        rows = load(cursor)
        cases = {
            "city = 'city3'": lambda city, device: city == "city3",
            "city <> 'city3'": lambda city, device: city is not None and city != "city3",
            "city IN ('city1', 'city4', 'nowhere')": lambda city, device: city in ("city1", "city4"),
            "city IS NULL": lambda city, device: city is None,
            "city LIKE '%ty7' OR city IS NULL": lambda city, device: city is None or city.endswith("ty7"),
            "city >= 'city8' AND device = 'tablet'": lambda city, device: city is not None and city >= "city8" and device == "tablet",
            "concat(city, device) = 'city2phone'": lambda city, device: city == "city2" and device == "phone",
        }
        for condition, holds in cases.items():
            query = f"SELECT count(*), sum(amount) FROM visits WHERE {condition}"
            kept = [amount for _, city, device, _, amount in rows if holds(city, device)]
            cursor.execute(query)
            count, total = cursor.fetchone()
            assert (count, int(total or 0)) == (len(kept), sum(kept)), condition
        plan = explain(cursor, "SELECT count(*) FROM visits WHERE city = 'city3' AND device = 'phone'")
        assert "dictionary=[city, device]" in plan, plan


COLOURS = ["red", "green", "blue", "amber"]


def load_dimensions(cursor) -> tuple[dict, dict]:
    """`amounts` describes amounts 0-89 (90-100 have no row, for outer joins), keyed by an
    integer; `city_labels` labels seven of the ten cities, keyed by the city string."""
    create_duplicate_table(cursor, "amounts", "amount INT NOT NULL, band VARCHAR(16), colour VARCHAR(16)", "amount")
    amounts = {amount: (f"band{amount // 10}", None if amount % 9 == 0 else COLOURS[amount % 4])
               for amount in range(90)}
    cursor.execute("INSERT INTO amounts VALUES " + ", ".join(
        f"({amount}, '{band}', {'NULL' if colour is None else repr(colour)})"
        for amount, (band, colour) in amounts.items()))
    create_duplicate_table(cursor, "city_labels", "city VARCHAR(16) NOT NULL, label VARCHAR(16)", "city")
    labels = {city: f"label{number % 3}" for number, city in enumerate(CITIES[:7])}
    cursor.execute("INSERT INTO city_labels VALUES " + ", ".join(
        f"('{city}', '{label}')" for city, label in labels.items()))
    return amounts, labels


def counted(rows, key_of) -> dict:
    """count(*) and sum(amount) per key, skipping rows whose key_of is None."""
    totals = defaultdict(lambda: [0, 0])
    for values in rows:
        key = key_of(*values)
        if key is not None:
            totals[key][0] += 1
            totals[key][1] += values[4]
    return dict(totals)


def test_group_by_strings_carried_through_joins_groups_codes_from_each_scan(connection):
    with connection.cursor() as cursor:
        rows = load(cursor)
        amounts, labels = load_dimensions(cursor)

        def fetched(query) -> dict:
            cursor.execute(query)
            return {tuple(values[:-2]): [values[-2], int(values[-1])] for values in cursor.fetchall()}

        # Keys from two scans, the dimension's through the join: both scans hand out codes.
        query = ("SELECT a.band, v.device, count(*), sum(v.amount) FROM visits v "
                 "JOIN amounts a ON v.amount = a.amount GROUP BY a.band, v.device")
        plan = explain(cursor, query)
        assert "group_by_codes=[band]" in plan and "group_by_codes=[device]" in plan, plan
        assert fetched(query) == counted(rows, lambda id, city, device, note, amount: (
            (amounts[amount][0], device) if amount in amounts else None))

        # An outer join pads the missing dimension rows with NULL codes, and NULL colours
        # stay NULL beside them.
        query = ("SELECT a.colour, v.city, count(*), sum(v.amount) FROM visits v "
                 "LEFT JOIN amounts a ON v.amount = a.amount GROUP BY a.colour, v.city")
        plan = explain(cursor, query)
        assert "group_by_codes=[colour]" in plan and "group_by_codes=[city]" in plan, plan
        assert fetched(query) == counted(rows, lambda id, city, device, note, amount: (
            amounts[amount][1] if amount in amounts else None, city))

        # A string the join matches on stays a string; the other side's label is coded.
        query = ("SELECT v.city, l.label, count(*), sum(v.amount) FROM visits v "
                 "JOIN city_labels l ON v.city = l.city GROUP BY v.city, l.label")
        plan = explain(cursor, query)
        assert "group_by_codes=[label]" in plan, plan
        assert "group_by_codes=[city" not in plan, plan
        assert fetched(query) == counted(rows, lambda id, city, device, note, amount: (
            (city, labels[city]) if city in labels else None))

        # Through a join, a string with more distinct values than the coding limit (4096)
        # stays a string: 5 000 notes.
        query = ("SELECT v.note, a.band, count(*), sum(v.amount) FROM visits v "
                 "JOIN amounts a ON v.amount = a.amount GROUP BY v.note, a.band")
        plan = explain(cursor, query)
        assert "group_by_codes=[band]" in plan and "group_by_codes=[note" not in plan, plan
        assert fetched(query) == counted(rows, lambda id, city, device, note, amount: (
            (note, amounts[amount][0]) if amount in amounts else None))

        # A string the join's filter tests stays a string.
        query = ("SELECT a.band, count(*), sum(v.amount) FROM visits v "
                 "JOIN amounts a ON v.amount = a.amount AND a.band <> concat('band', v.device) "
                 "GROUP BY a.band")
        plan = explain(cursor, query)
        assert "group_by_codes=[band]" not in plan, plan
        assert fetched(query) == counted(rows, lambda id, city, device, note, amount: (
            (amounts[amount][0],) if amount in amounts else None))
