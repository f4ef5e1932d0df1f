"""The benchmark's data: TPC-H from tpchgen-cli, SSB derived from it with SQL in DuckDB.

Every table is written twice from the same DuckDB relation, so all engines see the same rows:
  <dir>/csv/<table>.csv          '|'-separated, no header, no quotes, no trailing separator
                                 (Stream Load, DuckDB and chDB load these)
  <dir>/parquet/<table>.parquet  (DataFusion queries these)
The files are cached by scale: $CAIRN_CACHE/bench/tpch-sf<scale> and .../ssb-sf<scale>, each
with a manifest.json (row counts) written last, so an interrupted generation starts again.

SSB follows the SSB specification (O'Neil et al.) with the usual derivation from TPC-H:
  lineorder  = lineitem join orders join partsupp; prices are integer cents, discount and tax
               integer percent, dates yyyymmdd integers (d_datekey), as in SSB's dbgen
  customer/supplier: c_city = the first 9 characters of the nation name, padded with spaces,
               plus one digit (a hash of the key mod 10), so 'UNITED KI1' is a city of
               UNITED KINGDOM
  part       p_mfgr 'MFGR#m', p_category 'MFGR#mn' (from TPC-H's Manufacturer#m, Brand#mn),
               p_brand1 = category plus 1..40 (a hash of the key), p_color = first word of
               p_name
  dates      every day of 1992-1998; d_weeknuminyear is the ISO week, the week that
               StarRocks' weekofyear() and EXTRACT(WEEK ...) give, so flat and multi-table
               Q1.3 select the same days
  lineorder_flat: lineorder joined with customer, supplier and part, dates as DATE, column
               names and order of StarRocks' SSB lineorder_flat (p_brand, not p_brand1)

The scan suite's table, scan.numbers, is one BIGINT column of 100M rows at every scale
(issue 4 states its SUM target for 100M rows), cached once in $CAIRN_CACHE/bench/scan-100m.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Column types are written in StarRocks' spelling; engines.py renders them per engine.
INT, BIGINT, DATE, MONEY = "INT", "BIGINT", "DATE", "DECIMAL(15,2)"


def CHAR(n: int) -> str:
    return f"CHAR({n})"


def VARCHAR(n: int) -> str:
    return f"VARCHAR({n})"


@dataclass(frozen=True)
class Table:
    name: str
    dataset: str  # "tpch" or "ssb"
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]  # DUPLICATE KEY / MergeTree ORDER BY: a prefix of the columns
    distribution: str  # HASH column of DISTRIBUTED BY
    buckets: int
    # An INT yyyymmdd column the table is partitioned on by year, as StarRocks' SSB DDL
    # partitions lineorder on lo_orderdate (and ClickHouse's on toYear(LO_ORDERDATE)).
    yearly_partitions: str | None = None

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


def _table(name, dataset, columns, key, distribution=None, buckets=1, yearly_partitions=None) -> Table:
    key = tuple(key)
    assert [c for c, _ in columns[: len(key)]] == list(key), f"{name}: key must lead the columns"
    return Table(name, dataset, tuple(columns), key, distribution or key[0], buckets, yearly_partitions)


# The years SSB's dates cover (its dates table and lo_orderdate).
SSB_YEARS = range(1992, 1999)


# Fact tables get more buckets than dimensions; the machine has 2 cores.
FACT_BUCKETS = 4
# Buckets of each partition of a partitioned fact table: two, so that the one year a query
# reads still splits across both cores. More, the tablets' fixed costs outweigh what a
# partition saves: with 4, SSB q2.1-q4.1, which read every year, took 7-30% more CPU than
# unpartitioned.
PARTITION_BUCKETS = 2

TPCH_TABLES = [
    _table("region", "tpch", [
        ("r_regionkey", INT), ("r_name", CHAR(25)), ("r_comment", VARCHAR(152)),
    ], ["r_regionkey"]),
    _table("nation", "tpch", [
        ("n_nationkey", INT), ("n_name", CHAR(25)), ("n_regionkey", INT),
        ("n_comment", VARCHAR(152)),
    ], ["n_nationkey"]),
    _table("part", "tpch", [
        ("p_partkey", INT), ("p_name", VARCHAR(55)), ("p_mfgr", CHAR(25)),
        ("p_brand", CHAR(10)), ("p_type", VARCHAR(25)), ("p_size", INT),
        ("p_container", CHAR(10)), ("p_retailprice", MONEY), ("p_comment", VARCHAR(23)),
    ], ["p_partkey"], buckets=2),
    _table("supplier", "tpch", [
        ("s_suppkey", INT), ("s_name", CHAR(25)), ("s_address", VARCHAR(40)),
        ("s_nationkey", INT), ("s_phone", CHAR(15)), ("s_acctbal", MONEY),
        ("s_comment", VARCHAR(101)),
    ], ["s_suppkey"]),
    _table("partsupp", "tpch", [
        ("ps_partkey", INT), ("ps_suppkey", INT), ("ps_availqty", INT),
        ("ps_supplycost", MONEY), ("ps_comment", VARCHAR(199)),
    ], ["ps_partkey", "ps_suppkey"], buckets=FACT_BUCKETS),
    _table("customer", "tpch", [
        ("c_custkey", INT), ("c_name", VARCHAR(25)), ("c_address", VARCHAR(40)),
        ("c_nationkey", INT), ("c_phone", CHAR(15)), ("c_acctbal", MONEY),
        ("c_mktsegment", CHAR(10)), ("c_comment", VARCHAR(117)),
    ], ["c_custkey"], buckets=2),
    _table("orders", "tpch", [
        ("o_orderkey", BIGINT), ("o_custkey", INT), ("o_orderstatus", CHAR(1)),
        ("o_totalprice", MONEY), ("o_orderdate", DATE), ("o_orderpriority", CHAR(15)),
        ("o_clerk", CHAR(15)), ("o_shippriority", INT), ("o_comment", VARCHAR(79)),
    ], ["o_orderkey"], buckets=FACT_BUCKETS),
    _table("lineitem", "tpch", [
        ("l_orderkey", BIGINT), ("l_partkey", INT), ("l_suppkey", INT),
        ("l_linenumber", INT), ("l_quantity", MONEY), ("l_extendedprice", MONEY),
        ("l_discount", MONEY), ("l_tax", MONEY), ("l_returnflag", CHAR(1)),
        ("l_linestatus", CHAR(1)), ("l_shipdate", DATE), ("l_commitdate", DATE),
        ("l_receiptdate", DATE), ("l_shipinstruct", CHAR(25)), ("l_shipmode", CHAR(10)),
        ("l_comment", VARCHAR(44)),
    ], ["l_orderkey", "l_partkey"], "l_orderkey", FACT_BUCKETS),
]

_LINEORDER_MEASURES = [
    ("lo_orderpriority", VARCHAR(15)), ("lo_shippriority", INT), ("lo_quantity", INT),
    ("lo_extendedprice", INT), ("lo_ordtotalprice", INT), ("lo_discount", INT),
    ("lo_revenue", INT), ("lo_supplycost", INT), ("lo_tax", INT),
]

SSB_TABLES = [
    _table("dates", "ssb", [
        ("d_datekey", INT), ("d_date", VARCHAR(18)), ("d_dayofweek", VARCHAR(9)),
        ("d_month", VARCHAR(9)), ("d_year", INT), ("d_yearmonthnum", INT),
        ("d_yearmonth", VARCHAR(7)), ("d_daynuminweek", INT), ("d_daynuminmonth", INT),
        ("d_daynuminyear", INT), ("d_monthnuminyear", INT), ("d_weeknuminyear", INT),
        ("d_sellingseason", VARCHAR(12)), ("d_lastdayinweekfl", INT),
        ("d_lastdayinmonthfl", INT), ("d_holidayfl", INT), ("d_weekdayfl", INT),
    ], ["d_datekey"]),
    _table("customer", "ssb", [
        ("c_custkey", INT), ("c_name", VARCHAR(25)), ("c_address", VARCHAR(40)),
        ("c_city", VARCHAR(10)), ("c_nation", VARCHAR(15)), ("c_region", VARCHAR(12)),
        ("c_phone", VARCHAR(15)), ("c_mktsegment", VARCHAR(10)),
    ], ["c_custkey"], buckets=2),
    _table("supplier", "ssb", [
        ("s_suppkey", INT), ("s_name", VARCHAR(25)), ("s_address", VARCHAR(40)),
        ("s_city", VARCHAR(10)), ("s_nation", VARCHAR(15)), ("s_region", VARCHAR(12)),
        ("s_phone", VARCHAR(15)),
    ], ["s_suppkey"]),
    _table("part", "ssb", [
        ("p_partkey", INT), ("p_name", VARCHAR(22)), ("p_mfgr", VARCHAR(6)),
        ("p_category", VARCHAR(7)), ("p_brand1", VARCHAR(9)), ("p_color", VARCHAR(11)),
        ("p_type", VARCHAR(25)), ("p_size", INT), ("p_container", VARCHAR(10)),
    ], ["p_partkey"], buckets=2),
    _table("lineorder", "ssb", [
        ("lo_orderkey", BIGINT), ("lo_linenumber", INT), ("lo_custkey", INT),
        ("lo_partkey", INT), ("lo_suppkey", INT), ("lo_orderdate", INT),
        *_LINEORDER_MEASURES,
        ("lo_commitdate", INT), ("lo_shipmode", VARCHAR(10)),
    ], ["lo_orderkey", "lo_linenumber"], "lo_orderkey", PARTITION_BUCKETS, yearly_partitions="lo_orderdate"),
    _table("lineorder_flat", "ssb", [
        ("lo_orderdate", DATE), ("lo_orderkey", BIGINT), ("lo_linenumber", INT),
        ("lo_custkey", INT), ("lo_partkey", INT), ("lo_suppkey", INT),
        *_LINEORDER_MEASURES,
        ("lo_commitdate", DATE), ("lo_shipmode", VARCHAR(10)),
        ("c_name", VARCHAR(25)), ("c_address", VARCHAR(40)), ("c_city", VARCHAR(10)),
        ("c_nation", VARCHAR(15)), ("c_region", VARCHAR(12)), ("c_phone", VARCHAR(15)),
        ("c_mktsegment", VARCHAR(10)),
        ("s_name", VARCHAR(25)), ("s_address", VARCHAR(40)), ("s_city", VARCHAR(10)),
        ("s_nation", VARCHAR(15)), ("s_region", VARCHAR(12)), ("s_phone", VARCHAR(15)),
        ("p_name", VARCHAR(22)), ("p_mfgr", VARCHAR(6)), ("p_category", VARCHAR(7)),
        ("p_brand", VARCHAR(9)), ("p_color", VARCHAR(11)), ("p_type", VARCHAR(25)),
        ("p_size", INT), ("p_container", VARCHAR(10)),
    ], ["lo_orderdate", "lo_orderkey"], "lo_orderkey", FACT_BUCKETS),
]

# The scan suite's rows, the same at every scale.
SCAN_ROWS = 100_000_000
SCAN_TABLES = [_table("numbers", "scan", [("v", BIGINT)], ["v"], buckets=FACT_BUCKETS)]
# Distinct values below 10^9 in no order (2654435761 is prime to 10^9, so i -> i * 2654435761
# mod 10^9 is one to one): each engine sorts or compresses them as its storage does, and the
# sum stays far inside BIGINT.
SCAN_SQL = f"SELECT (i * 2654435761) % 1000000000 AS v FROM range({SCAN_ROWS}) t(i)"

# The TPC-H and SSB schemas both have customer, supplier and part: each dataset is loaded
# into its own database (engines.py), tables keyed by (dataset, name).
ALL_TABLES = {(t.dataset, t.name): t for t in TPCH_TABLES + SSB_TABLES + SCAN_TABLES}
DATASETS = ("tpch", "ssb", "scan")

# SQL (DuckDB) deriving each SSB table from the TPC-H views of the same names.
_YMD = "CAST(strftime({0}, '%Y%m%d') AS INTEGER)"
# TPC-H ties a part's suppliers to its key (l_suppkey is a function of l_partkey and 0..3),
# so digits taken from the keys modulo 10 or 40 would correlate brands with supplier cities;
# hash() (DuckDB's, fixed by the pinned version) spreads them like SSB's random draws.
_CITY = "rpad(left(trim(n_name), 9), 9, ' ') || CAST(hash({0}) % 10 AS VARCHAR)"

SSB_SQL = {
    "dates": """
        SELECT {ymd_d} AS d_datekey,
               strftime(d, '%B ') || CAST(day(d) AS VARCHAR) || strftime(d, ', %Y') AS d_date,
               dayname(d) AS d_dayofweek,
               monthname(d) AS d_month,
               year(d) AS d_year,
               year(d) * 100 + month(d) AS d_yearmonthnum,
               strftime(d, '%b%Y') AS d_yearmonth,
               dayofweek(d) + 1 AS d_daynuminweek,
               day(d) AS d_daynuminmonth,
               dayofyear(d) AS d_daynuminyear,
               month(d) AS d_monthnuminyear,
               weekofyear(d) AS d_weeknuminyear,
               CASE WHEN month(d) = 12 THEN 'Christmas'
                    WHEN month(d) IN (1, 2) THEN 'Winter'
                    WHEN month(d) IN (3, 4, 5) THEN 'Spring'
                    WHEN month(d) IN (6, 7, 8) THEN 'Summer'
                    ELSE 'Fall' END AS d_sellingseason,
               CAST(dayofweek(d) = 6 AS INTEGER) AS d_lastdayinweekfl,
               CAST(d = last_day(d) AS INTEGER) AS d_lastdayinmonthfl,
               CAST((month(d) = 12 AND day(d) IN (24, 25, 31)) OR (month(d) = 1 AND day(d) = 1)
                    OR (month(d) = 7 AND day(d) = 4) AS INTEGER) AS d_holidayfl,
               CAST(dayofweek(d) BETWEEN 1 AND 5 AS INTEGER) AS d_weekdayfl
        FROM (SELECT CAST(range AS DATE) AS d
              FROM range(DATE '1992-01-01', DATE '1999-01-01', INTERVAL 1 DAY))
        ORDER BY d_datekey
    """.format(ymd_d=_YMD.format("d")),
    "customer": f"""
        SELECT c_custkey, c_name, c_address,
               {_CITY.format("c_custkey")} AS c_city,
               trim(n_name) AS c_nation, trim(r_name) AS c_region, c_phone, c_mktsegment
        FROM tpch_customer JOIN tpch_nation ON c_nationkey = n_nationkey
                           JOIN tpch_region ON n_regionkey = r_regionkey
        ORDER BY c_custkey
    """,
    "supplier": f"""
        SELECT s_suppkey, s_name, s_address,
               {_CITY.format("s_suppkey")} AS s_city,
               trim(n_name) AS s_nation, trim(r_name) AS s_region, s_phone
        FROM tpch_supplier JOIN tpch_nation ON s_nationkey = n_nationkey
                           JOIN tpch_region ON n_regionkey = r_regionkey
        ORDER BY s_suppkey
    """,
    "part": """
        SELECT p_partkey,
               rtrim(left(p_name, 22)) AS p_name,
               'MFGR#' || right(trim(p_mfgr), 1) AS p_mfgr,
               'MFGR#' || right(trim(p_brand), 2) AS p_category,
               'MFGR#' || right(trim(p_brand), 2) || CAST(hash(p_partkey) % 40 + 1 AS VARCHAR)
                   AS p_brand1,
               split_part(p_name, ' ', 1) AS p_color,
               p_type, p_size, p_container
        FROM tpch_part
        ORDER BY p_partkey
    """,
    "lineorder": f"""
        SELECT l_orderkey AS lo_orderkey, l_linenumber AS lo_linenumber,
               o_custkey AS lo_custkey, l_partkey AS lo_partkey, l_suppkey AS lo_suppkey,
               {_YMD.format("o_orderdate")} AS lo_orderdate,
               o_orderpriority AS lo_orderpriority, o_shippriority AS lo_shippriority,
               CAST(l_quantity AS INTEGER) AS lo_quantity,
               CAST(l_extendedprice * 100 AS INTEGER) AS lo_extendedprice,
               CAST(o_totalprice * 100 AS INTEGER) AS lo_ordtotalprice,
               CAST(l_discount * 100 AS INTEGER) AS lo_discount,
               CAST(floor(l_extendedprice * (100 - l_discount * 100)) AS INTEGER)
                   AS lo_revenue,
               CAST(ps_supplycost * 100 AS INTEGER) AS lo_supplycost,
               CAST(l_tax * 100 AS INTEGER) AS lo_tax,
               {_YMD.format("l_commitdate")} AS lo_commitdate,
               l_shipmode AS lo_shipmode
        FROM tpch_lineitem
        JOIN tpch_orders ON l_orderkey = o_orderkey
        JOIN tpch_partsupp ON l_partkey = ps_partkey AND l_suppkey = ps_suppkey
        ORDER BY lo_orderkey, lo_linenumber
    """,
    "lineorder_flat": """
        SELECT strptime(CAST(lo_orderdate AS VARCHAR), '%Y%m%d')::DATE AS lo_orderdate,
               lo_orderkey, lo_linenumber, lo_custkey, lo_partkey, lo_suppkey,
               lo_orderpriority, lo_shippriority, lo_quantity, lo_extendedprice,
               lo_ordtotalprice, lo_discount, lo_revenue, lo_supplycost, lo_tax,
               strptime(CAST(lo_commitdate AS VARCHAR), '%Y%m%d')::DATE AS lo_commitdate,
               lo_shipmode,
               c_name, c_address, c_city, c_nation, c_region, c_phone, c_mktsegment,
               s_name, s_address, s_city, s_nation, s_region, s_phone,
               p_name, p_mfgr, p_category, p_brand1 AS p_brand, p_color, p_type, p_size,
               p_container
        FROM ssb_lineorder
        JOIN ssb_customer ON lo_custkey = c_custkey
        JOIN ssb_supplier ON lo_suppkey = s_suppkey
        JOIN ssb_part ON lo_partkey = p_partkey
        ORDER BY lo_orderkey, lo_linenumber
    """,
}


# The CSV and Parquet files of one scale factor take about 4.7 GB per SF, and generation
# needs the raw tpchgen-cli files (1/4 of that) besides.
GENERATED_BYTES_PER_SF = 6e9
# TPC-H's own files take 1.4 GB per SF of those 4.7, besides the raw files.
TPCH_GENERATED_BYTES_PER_SF = 2e9
# The scan table's CSV and Parquet files.
SCAN_GENERATED_BYTES = 2e9


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def scale_name(scale: str) -> str:
    """'1', '10', '0.1': validated, in a canonical spelling used in directory names."""
    value = float(scale)
    if value <= 0:
        raise ValueError(f"scale must be positive, not {scale}")
    return f"{value:g}"


def cache_root() -> Path:
    return Path(os.environ.get("CAIRN_CACHE", Path.home() / ".cache" / "cairn")) / "bench"


@dataclass
class Dataset:
    """The generated files of one scale: paths and row counts per (dataset, table)."""

    scale: str
    dirs: dict[str, Path]
    rows: dict[tuple[str, str], int]

    def csv(self, table: Table) -> Path:
        return self.dirs[table.dataset] / "csv" / f"{table.name}.csv"

    def parquet(self, table: Table) -> Path:
        return self.dirs[table.dataset] / "parquet" / f"{table.name}.parquet"


def _duckdb_type(sql_type: str) -> str:
    if sql_type.startswith(("CHAR", "VARCHAR")):
        return "VARCHAR"
    return {"INT": "INTEGER"}.get(sql_type, sql_type)


def _tpchgen(scale: str, raw: Path) -> None:
    tpchgen = shutil.which("tpchgen-cli") or str(Path(sys.executable).parent / "tpchgen-cli")
    if not Path(tpchgen).exists():
        raise SystemExit("tpchgen-cli is not installed: run through e2e/bench/run.sh")
    if raw.exists():
        shutil.rmtree(raw)
    raw.mkdir(parents=True)
    started = time.monotonic()
    subprocess.run(
        [tpchgen, "parquet", "-s", scale, "-o", str(raw), "--quiet"], check=True,
    )
    log(f"tpchgen-cli SF{scale}: {time.monotonic() - started:.1f}s")


def _write(con, relation_sql: str, table: Table, out: Path) -> int:
    """Writes one table's Parquet from a SELECT, then its CSV from the Parquet, and leaves a
    view {dataset}_{table} over the Parquet for the derivations that follow (so the work
    database stays small). Returns the row count."""
    (out / "csv").mkdir(parents=True, exist_ok=True)
    (out / "parquet").mkdir(parents=True, exist_ok=True)
    casts = ", ".join(
        f"CAST({name} AS {_duckdb_type(sql_type)}) AS {name}" for name, sql_type in table.columns
    )
    name = f"{table.dataset}_{table.name}"
    csv_path = out / "csv" / f"{table.name}.csv"
    parquet_path = out / "parquet" / f"{table.name}.parquet"
    con.execute(f"COPY (SELECT {casts} FROM ({relation_sql})) TO '{parquet_path}.tmp' "
                "(FORMAT parquet, COMPRESSION snappy)")
    os.replace(f"{parquet_path}.tmp", parquet_path)
    con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{parquet_path}')")
    strings = [n for n, sql_type in table.columns if _duckdb_type(sql_type) == "VARCHAR"]
    if strings:
        joined = " || ".join(strings)
        bad = con.execute(f"SELECT count(*) FROM {name} WHERE contains({joined}, '|') "
                          f"OR contains({joined}, '\"') OR contains({joined}, chr(10)) "
                          f"OR contains({joined}, chr(13))").fetchone()[0]
        if bad:
            raise SystemExit(f"{name}: {bad} rows hold a separator, quote or line break; "
                             "the unquoted CSV cannot carry them")
    # Unquoted: Stream Load, like StarRocks, does not remove quotes unless told to.
    con.execute(f"COPY {name} TO '{csv_path}.tmp' "
                "(FORMAT csv, HEADER false, DELIMITER '|', QUOTE '')")
    os.replace(f"{csv_path}.tmp", csv_path)
    return con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]


def verify_ssb(con, scale: str) -> None:
    """Every SSB query selects rows (from SF1 up: below, the narrowest ones, such as
    Q3.4, may find none), and the flat and multi-table forms agree."""
    from compare import diff
    from queries import load_queries

    con.execute("CREATE SCHEMA IF NOT EXISTS ssb")
    for table in SSB_TABLES:
        con.execute(f"CREATE OR REPLACE VIEW ssb.{table.name} AS SELECT * FROM ssb_{table.name}")
    con.execute("SET search_path = 'ssb'")
    flat = {q.name: q for q in load_queries(suites=["ssb-flat"])}
    for query in load_queries(suites=["ssb"]):
        multi_rows = con.execute(query.sql).fetchall()
        flat_rows = con.execute(flat[query.name].sql).fetchall()
        if (not multi_rows or any(None in row for row in multi_rows)) and float(scale) >= 1:
            raise SystemExit(f"SSB derivation: {query.id} selects nothing: {multi_rows}")
        difference = diff(multi_rows, flat_rows, "multi-table", "flat")
        if difference:
            raise SystemExit(f"SSB derivation: {query.name} differs between the flat and the "
                             f"multi-table schema:\n{difference}")
        log(f"SSB {query.name}: {len(multi_rows)} rows, flat and multi-table agree")
    con.execute("SET search_path = 'main'")


def ensure_data(scale: str, root: Path | None = None,
                datasets: tuple[str, ...] = ("tpch", "ssb")) -> Dataset:
    """Generates, once per scale, the TPC-H and SSB files, and, once, the scan table's when
    `datasets` names "scan"; returns where they are. TPC-H alone is generated without SSB,
    which takes two thirds of the disk (SF10 of both needs about 60 GB)."""
    scale = scale_name(scale)
    root = root or cache_root()
    unknown = set(datasets) - set(DATASETS)
    if unknown:
        raise ValueError(f"unknown datasets {sorted(unknown)}; choose from {DATASETS}")
    dirs: dict[str, Path] = {}
    rows: dict[tuple[str, str], int] = {}
    if "tpch" in datasets or "ssb" in datasets:
        # SSB is derived from TPC-H's tables, so it always comes with them.
        names = ("tpch", "ssb") if "ssb" in datasets else ("tpch",)
        generated = {name: root / f"{name}-sf{scale}" for name in names}
        dirs.update(generated)
        rows.update(_cached_rows(generated) or _generate_tpch_ssb(scale, root, generated))
    if "scan" in datasets:
        scan_dirs = {"scan": root / "scan-100m"}
        dirs.update(scan_dirs)
        rows.update(_cached_rows(scan_dirs) or _generate_scan(root, scan_dirs))
    return Dataset(scale, dirs, rows)


def _cached_rows(dirs: dict[str, Path]) -> dict[tuple[str, str], int] | None:
    """The row counts of datasets whose every manifest exists, else None."""
    manifests = {name: path / "manifest.json" for name, path in dirs.items()}
    if not all(m.exists() for m in manifests.values()):
        return None
    rows = {}
    for name, manifest in manifests.items():
        for table, count in json.loads(manifest.read_text())["rows"].items():
            rows[(name, table)] = count
    return rows


def _start_generation(root: Path, dirs: dict[str, Path], needed: float, what: str) -> None:
    """Drops the manifests (so an interrupted generation starts again) and checks the disk."""
    for path in dirs.values():
        (path / "manifest.json").unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    if free < needed:
        raise SystemExit(f"generating {what} takes about {needed / 1e9:.0f} GB under {root}; "
                         f"{free / 1e9:.0f} GB are free")


def _write_manifests(dirs: dict[str, Path], rows: dict[tuple[str, str], int], scale: str) -> None:
    for name, path in dirs.items():
        counts = {t: n for (d, t), n in rows.items() if d == name}
        (path / "manifest.json").write_text(
            json.dumps({"scale": scale, "rows": counts}, indent=1) + "\n")


def _generate_scan(root: Path, dirs: dict[str, Path]) -> dict[tuple[str, str], int]:
    import duckdb

    _start_generation(root, dirs, SCAN_GENERATED_BYTES, f"the scan table ({SCAN_ROWS} rows)")
    started = time.monotonic()
    con = duckdb.connect()
    rows = {}
    for table in SCAN_TABLES:
        rows[(table.dataset, table.name)] = _write(con, SCAN_SQL, table, dirs[table.dataset])
    con.close()
    _write_manifests(dirs, rows, "any")
    log(f"scan data ({SCAN_ROWS} rows) ready in {time.monotonic() - started:.1f}s under {root}")
    return rows


def _generate_tpch_ssb(scale: str, root: Path, dirs: dict[str, Path]) -> dict[tuple[str, str], int]:
    import duckdb

    with_ssb = "ssb" in dirs
    per_scale = GENERATED_BYTES_PER_SF if with_ssb else TPCH_GENERATED_BYTES_PER_SF
    what = f"SF{scale}" if with_ssb else f"TPC-H SF{scale}"
    _start_generation(root, dirs, per_scale * float(scale), what)
    started = time.monotonic()
    raw = dirs["tpch"] / "raw"
    _tpchgen(scale, raw)
    work = root / f"derive-sf{scale}.duckdb"
    work.unlink(missing_ok=True)
    con = duckdb.connect(str(work))
    con.execute("SET preserve_insertion_order = true")
    rows: dict[tuple[str, str], int] = {}
    for table in TPCH_TABLES:
        rows[("tpch", table.name)] = _write(
            con, f"SELECT * FROM read_parquet('{raw / (table.name + '.parquet')}')",
            table, dirs["tpch"])
        log(f"tpch.{table.name}: {rows[('tpch', table.name)]} rows")
    if with_ssb:
        for table in SSB_TABLES:
            rows[("ssb", table.name)] = _write(con, SSB_SQL[table.name], table, dirs["ssb"])
            log(f"ssb.{table.name}: {rows[('ssb', table.name)]} rows")
        verify_ssb(con, scale)
    con.close()
    work.unlink(missing_ok=True)
    Path(f"{work}.wal").unlink(missing_ok=True)
    shutil.rmtree(raw)
    _write_manifests(dirs, rows, scale)
    log(f"data for SF{scale} ready in {time.monotonic() - started:.1f}s under {root}")
    return rows


if __name__ == "__main__":
    dataset = ensure_data(sys.argv[1] if len(sys.argv) > 1 else "1", datasets=DATASETS)
    for (name, table), count in sorted(dataset.rows.items()):
        print(f"{name}.{table}\t{count}")
