"""Join filters in the tablet scan, as EXPLAIN ANALYZE shows them over PyMySQL: a hash join on
one integer key hands the scan under its probe side a runtime filter, a bitmap of its build
side's keys, which cuts rows there whether the join sits right above the scan or other joins
sit in between; joins whose output needs the unmatched probe rows get none. Results are
checked against Python's own answer."""

from __future__ import annotations

import re

from cairn_server import create_duplicate_table

SALES = 100_000
PRODUCTS = 1_000
STORES = 50


def product_category(product: int) -> str:
    return "rare" if product % 100 == 7 else "common"


def store_region(store: int) -> str:
    return f"region{store % 5}"


def load(cursor) -> list[tuple[int, int, int, int]]:
    create_duplicate_table(cursor, "sales", "id BIGINT NOT NULL, store INT, product INT, amount INT", "id", buckets=2)
    create_duplicate_table(cursor, "products", "product_id INT NOT NULL, category VARCHAR(16)", "product_id")
    create_duplicate_table(cursor, "stores", "store_id INT NOT NULL, region VARCHAR(16)", "store_id")
    cursor.execute("INSERT INTO products VALUES " + ", ".join(
        f"({product}, '{product_category(product)}')" for product in range(PRODUCTS)))
    cursor.execute("INSERT INTO stores VALUES " + ", ".join(f"({store}, '{store_region(store)}')" for store in range(STORES)))
    sales = [(row, row * 7 % STORES, row * 13 % PRODUCTS, row % 97) for row in range(SALES)]
    for start in range(0, SALES, 20_000):
        cursor.execute("INSERT INTO sales VALUES " + ", ".join(
            f"({row}, {store}, {product}, {amount})" for row, store, product, amount in sales[start:start + 20_000]))
    return sales


def count(text: str) -> float:
    """A humanized metric value: `6.09 K`, `1.50 M`, `204`."""
    number, _, unit = text.strip().partition(" ")
    return float(number) * {"": 1, "K": 1e3, "M": 1e6}[unit]


def scan_line(cursor, query: str, table: str) -> str:
    cursor.execute("EXPLAIN ANALYZE " + query)
    plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
    lines = [line for line in plan.splitlines() if f"TabletScanExec: table={table}," in line]
    assert len(lines) == 1, plan
    return lines[0]


def metric(line: str, name: str) -> float:
    found = re.search(rf"\b{name}=([0-9.]+(?: [KM])?)", line)
    assert found, line
    return count(found.group(1))


def test_a_star_join_filters_the_fact_scan_with_a_dimension_two_joins_up(connection):
    with connection.cursor() as cursor:
        sales = load(cursor)
        query = ("SELECT s.region, sum(f.amount), count(*) FROM sales f JOIN stores s ON f.store = s.store_id "
                 "JOIN products p ON f.product = p.product_id WHERE p.category = 'rare' GROUP BY s.region ORDER BY s.region")
        expected: dict[str, list[int]] = {}
        for _, store, product, amount in sales:
            if product_category(product) == "rare":
                totals = expected.setdefault(store_region(store), [0, 0])
                totals[0] += amount
                totals[1] += 1
        cursor.execute(query)
        assert [(region, int(total), rows) for region, total, rows in cursor.fetchall()] == [
            (region, totals[0], totals[1]) for region, totals in sorted(expected.items())]

        line = scan_line(cursor, query, "sales")
        # The products join's runtime filter was published (its key count shows) and dropped
        # rows in the scan: 1% of the products are rare, so about 1% of the sales leave it.
        assert re.search(r"runtime_filter\(product@\d+, 10 keys over \d+\)", line), line
        assert metric(line, "rows_read") == SALES, line
        assert metric(line, "output_rows") < SALES / 10, line


def test_the_join_right_above_a_scan_filters_it_by_its_keys(connection):
    with connection.cursor() as cursor:
        sales = load(cursor)
        query = "SELECT count(*) FROM sales f JOIN products p ON f.product = p.product_id WHERE p.category = 'rare'"
        cursor.execute(query)
        assert cursor.fetchall() == ((sum(1 for _, _, product, _ in sales if product_category(product) == "rare"),),)
        line = scan_line(cursor, query, "sales")
        assert "runtime_filter(product@" in line, line
        assert metric(line, "output_rows") < SALES / 10, line

        # Three keys spread over the whole id range: only their rows leave the scan.
        create_duplicate_table(cursor, "picked", "id BIGINT NOT NULL", "id")
        cursor.execute("INSERT INTO picked VALUES (5), (77), (99999)")
        query = "SELECT count(*) FROM sales f JOIN picked p ON f.id = p.id"
        cursor.execute(query)
        assert cursor.fetchall() == ((3,),)
        line = scan_line(cursor, query, "sales")
        assert "runtime_filter(id@0, 3 keys over 99995)" in line, line
        assert metric(line, "rows_read") == SALES, line
        assert metric(line, "output_rows") == 3, line


def test_runtime_filters_keep_every_join_types_answer_with_nulls(connection):
    """Inner, outer, semi and anti joins (NOT IN with a NULL among its values included) give
    SQL's answer when a runtime filter may drop probe rows; NULL keys on either side never
    match."""
    with connection.cursor() as cursor:
        create_duplicate_table(cursor, "visits", "id BIGINT NOT NULL, member INT", "id", buckets=2)
        create_duplicate_table(cursor, "members", "member_id INT, tier VARCHAR(8)", "member_id")
        visits = [(row, None if row % 10 == 3 else row % 5_000) for row in range(20_000)]
        members = [(member, "gold" if member % 50 == 1 else "basic") for member in range(0, 6_000, 3)]
        members.append((None, "gold"))
        cursor.execute("INSERT INTO visits VALUES " + ", ".join(
            f"({row}, {'NULL' if member is None else member})" for row, member in visits))
        cursor.execute("INSERT INTO members VALUES " + ", ".join(
            f"({'NULL' if member is None else member}, '{tier}')" for member, tier in members))
        gold = {member for member, tier in members if tier == "gold" and member is not None}
        every_member = {member for member, _ in members if member is not None}

        def rows(query: str) -> int:
            cursor.execute(query)
            return cursor.fetchall()[0][0]

        inner = "SELECT count(*) FROM visits v JOIN members m ON v.member = m.member_id WHERE m.tier = 'gold'"
        assert rows(inner) == sum(1 for _, member in visits if member in gold)
        line = scan_line(cursor, inner, "visits")
        assert "runtime_filter(member@" in line, line
        assert metric(line, "output_rows") < len(visits) / 10, line

        semi = "SELECT count(*) FROM visits WHERE member IN (SELECT member_id FROM members WHERE tier = 'gold')"
        assert rows(semi) == sum(1 for _, member in visits if member in gold)
        assert "runtime_filter(member@" in scan_line(cursor, semi, "visits")

        anti = ("SELECT count(*) FROM visits v WHERE NOT EXISTS "
                "(SELECT 1 FROM members m WHERE m.member_id = v.member AND m.tier = 'gold')")
        assert rows(anti) == sum(1 for _, member in visits if member not in gold)

        # A NULL among NOT IN's values makes the condition unknown for every visit.
        assert rows("SELECT count(*) FROM visits WHERE member NOT IN "
                    "(SELECT member_id FROM members WHERE tier = 'gold')") == 0
        assert rows("SELECT count(*) FROM visits WHERE member NOT IN "
                    "(SELECT member_id FROM members WHERE member_id IS NOT NULL AND tier = 'gold')") == sum(
            1 for _, member in visits if member is not None and member not in gold)

        # Every visit survives an outer join from the visits' side, matched or not.
        outer = ("SELECT count(*), count(m.member_id) FROM visits v LEFT JOIN members m "
                 "ON v.member = m.member_id AND m.tier = 'gold'")
        cursor.execute(outer)
        assert cursor.fetchall() == ((len(visits), sum(1 for _, member in visits if member in gold)),)
        outer = "SELECT count(*), count(v.id) FROM members m LEFT JOIN visits v ON v.member = m.member_id"
        cursor.execute(outer)
        matched = sum(1 for _, member in visits if member in every_member)
        unmatched_members = sum(1 for member, _ in members if member is None or member not in {m for _, m in visits})
        assert cursor.fetchall() == ((matched + unmatched_members, matched),)


def test_the_filters_the_scan_applies_are_not_evaluated_again(connection):
    with connection.cursor() as cursor:
        sales = load(cursor)
        cursor.execute("INSERT INTO products VALUES (5000, NULL)")
        # A regular expression (two wildcards inside), a comparison and IS NOT NULL: all run in
        # the scan, and the FilterExec above only makes its projection.
        query = ("SELECT count(*), sum(product_id) FROM products "
                 "WHERE category NOT LIKE '%ar%e%' AND product_id >= 10 AND category IS NOT NULL")
        cursor.execute("EXPLAIN " + query)
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
        assert "FilterExec: true" in plan and "NOT LIKE %ar%e%" in plan, plan
        kept = [product for product in range(10, PRODUCTS) if "ar" not in product_category(product)]
        cursor.execute(query)
        assert cursor.fetchone() == (len(kept), sum(kept))

        # An equality stays in the FilterExec while its column leaves it (the plan above may
        # rely on the column being constant), and goes with the column.
        cursor.execute("EXPLAIN SELECT category, count(*) FROM products WHERE category = 'rare' GROUP BY category")
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
        assert re.search(r"FilterExec: category@\d+ = rare", plan), plan
        query = "SELECT count(*), sum(product_id) FROM products WHERE category = 'rare' AND product_id >= 10"
        cursor.execute("EXPLAIN " + query)
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
        assert "FilterExec: true" in plan, plan
        rare = [product for product in range(10, PRODUCTS) if product_category(product) == "rare"]
        cursor.execute(query)
        assert cursor.fetchone() == (len(rare), sum(rare))

        # A volatile filter is left to FilterExec alone: evaluating it twice would change
        # the answer.
        query = "SELECT count(*) FROM sales WHERE rand() < 2 AND amount < 10"
        cursor.execute("EXPLAIN " + query)
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
        assert re.search(r"FilterExec: .*random\(\) < 2", plan), plan
        cursor.execute(query)
        assert cursor.fetchone() == (sum(1 for sale in sales if sale[3] < 10),)


def test_a_runtime_filter_reaches_through_a_grouped_subquery(connection):
    with connection.cursor() as cursor:
        sales = load(cursor)
        # TPC-H q2's shape: the correlated subquery becomes an aggregation grouped by product,
        # joined on two keys. The join's runtime filter on one of them reaches the scan under
        # the aggregation: rows of products it can not match go, and with them their groups.
        query = ("SELECT s.id, s.amount FROM sales s JOIN products p ON p.product_id = s.product "
                 "WHERE p.category = 'rare' AND s.amount = "
                 "(SELECT max(t.amount) FROM sales t WHERE t.product = s.product)")
        cursor.execute("EXPLAIN ANALYZE " + query)
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
        # The scan under the aggregation starts as the plan executes (a repartition pulls
        # it), before the join above has read its build side; it waits for the filter, so
        # only the sales of the 10 rare products (1%) leave it.
        grouped = [line for line in plan.splitlines() if "TabletScanExec: table=sales, tablets=2, columns=[product, amount]" in line]
        assert len(grouped) == 1 and "runtime_filter(product@0," in grouped[0], plan
        assert metric(grouped[0], "rows_read") == SALES, grouped[0]
        assert metric(grouped[0], "output_rows") <= SALES / 100, grouped[0]
        best = {}
        for _, _, product, amount in sales:
            best[product] = max(best.get(product, amount), amount)
        expected = sorted((row, amount) for row, _, product, amount in sales
                          if product_category(product) == "rare" and amount == best[product])
        cursor.execute(query)
        assert sorted(cursor.fetchall()) == expected


def test_a_scan_read_before_the_join_above_has_built_waits_for_its_runtime_filter(connection):
    with connection.cursor() as cursor:
        sales = load(cursor)
        # TPC-H q7's shape: the lower join's build side (b, the sales with a small amount) is
        # read as soon as the plan executes, before the products join above it has read the
        # rare products. Its scan waits for that join's runtime filter, so only the rare
        # products' sales leave it, not the first batches unfiltered.
        query = ("SELECT count(*), sum(a.amount) FROM sales a JOIN sales b ON a.id = b.id "
                 "JOIN products p ON b.product = p.product_id WHERE p.category = 'rare' AND b.amount < 48")
        matching = [amount for _, _, product, amount in sales if product_category(product) == "rare" and amount < 48]
        cursor.execute(query)
        assert cursor.fetchall() == ((len(matching), sum(matching)),)
        cursor.execute("EXPLAIN ANALYZE " + query)
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
        filtered = [line for line in plan.splitlines() if "TabletScanExec: table=sales" in line and "runtime_filter(product@" in line]
        assert len(filtered) == 1 and "10 keys over" in filtered[0], plan
        assert metric(filtered[0], "rows_read") == SALES, filtered[0]
        assert metric(filtered[0], "output_rows") <= SALES / 100, plan


def test_a_runtime_filters_key_range_skips_the_partitions_it_rules_out(connection):
    """StarRocks' SSB DDL partitions lineorder by year of lo_orderdate and q1.1 joins it with a
    year of dates: the runtime filter's smallest and largest key let storage skip the other
    years' rowsets before reading them, where the bitmap alone would test every row."""
    import datetime

    first = datetime.date(2020, 1, 1)
    days = [first + datetime.timedelta(days=offset) for offset in range(3 * 366)]
    days = [day for day in days if day.year <= 2022]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE orders_by_year (id BIGINT NOT NULL, day DATE NOT NULL, day_key INT NOT NULL, amount INT) "
            "DUPLICATE KEY(id) PARTITION BY RANGE(day) ("
            "PARTITION p2020 VALUES LESS THAN ('2021-01-01'), PARTITION p2021 VALUES LESS THAN ('2022-01-01'), "
            "PARTITION p2022 VALUES LESS THAN ('2023-01-01')) "
            'DISTRIBUTED BY HASH(id) BUCKETS 2 PROPERTIES ("replication_num" = "1")')
        create_duplicate_table(cursor, "calendar", "day DATE NOT NULL, day_key INT NOT NULL, year INT NOT NULL", "day")
        cursor.execute("INSERT INTO calendar VALUES " + ", ".join(
            f"('{day}', {day:%Y%m%d}, {day.year})" for day in days))
        # Order ids do not follow the day, as TPC-H's order keys do not follow the order date.
        rows = [(row, days[row * 7919 % len(days)], row % 89) for row in range(30_000)]
        for start in range(0, len(rows), 10_000):
            cursor.execute("INSERT INTO orders_by_year VALUES " + ", ".join(
                f"({row}, '{day}', {day:%Y%m%d}, {amount})" for row, day, amount in rows[start:start + 10_000]))
        in_2021 = [amount for _, day, amount in rows if day.year == 2021]

        # By the partition column (DATE) and by an INT yyyymmdd key that follows it.
        for key in ("day", "day_key"):
            query = (f"SELECT count(*), sum(o.amount) FROM orders_by_year o JOIN calendar c ON o.{key} = c.{key} "
                     "WHERE c.year = 2021")
            cursor.execute(query)
            assert cursor.fetchall() == ((len(in_2021), sum(in_2021)),)
            line = scan_line(cursor, query, "orders_by_year")
            assert re.search(rf"runtime_filter\({key}@\d+, 365 keys over \d+\)", line), line
            # Only 2021's partition is read (a third of the rows); without the key range
            # every row would be. EXPLAIN rounds to three digits.
            for name in ("rows_read", "output_rows"):
                assert abs(metric(line, name) - len(in_2021)) <= len(in_2021) / 100, line
