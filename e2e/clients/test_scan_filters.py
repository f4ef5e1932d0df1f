"""Join filters in the tablet scan, as EXPLAIN ANALYZE shows them over PyMySQL: a hash join's
dynamic filter reaches the fact table's scan and cuts rows there when a join sits between the
scan and the filter's join; the filter of the join right above a scan, when it would be that
scan's only one, is left to the join unless its key spans few enough integers to be computed
once per key. Results are checked against Python's own answer."""

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
        # The products join's filter was filled (not "empty") and dropped rows in the scan:
        # 1% of the products are rare, so about 1% of the sales leave it.
        assert "DynamicFilter [" in line and "DynamicFilter [ empty ]" not in line, line
        assert metric(line, "rows_read") == SALES, line
        assert metric(line, "output_rows") < SALES / 10, line


def test_the_filter_of_the_join_right_above_a_scan_runs_there_only_as_a_table(connection):
    with connection.cursor() as cursor:
        sales = load(cursor)
        # Product ids span 1 000 integers: the join's filter is computed once per id and costs
        # the scan a bit test a row, so it stays and cuts the scan.
        query = "SELECT count(*) FROM sales f JOIN products p ON f.product = p.product_id WHERE p.category = 'rare'"
        cursor.execute(query)
        assert cursor.fetchall() == ((sum(1 for _, _, product, _ in sales if product_category(product) == "rare"),),)
        line = scan_line(cursor, query, "sales")
        assert "DynamicFilter [" in line, line
        assert metric(line, "output_rows") < SALES / 10, line

        # Sale ids span 100 000 integers, more than a 100 000-row scan tabulates: the filter
        # would be the join's own probe done twice, so it is left to the join.
        create_duplicate_table(cursor, "picked", "id BIGINT NOT NULL", "id")
        cursor.execute("INSERT INTO picked VALUES (5), (77), (99999)")
        query = "SELECT count(*) FROM sales f JOIN picked p ON f.id = p.id"
        cursor.execute(query)
        assert cursor.fetchall() == ((3,),)
        line = scan_line(cursor, query, "sales")
        assert "DynamicFilter" not in line, line
        assert metric(line, "output_rows") == SALES, line
