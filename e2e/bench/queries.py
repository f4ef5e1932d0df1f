"""The benchmark's queries: e2e/bench/queries/<suite>/<name>.sql.

Suites and the database (dataset) each runs in:
  ssb-flat  the 13 SSB queries on lineorder_flat (StarRocks' flat form)   database ssb
  ssb       the 13 SSB queries on the multi-table schema (the spec's form) database ssb
  tpch      the 22 TPC-H queries, validation parameters                  database tpch
  micro     count(*), SUM of an int64 column, filtered SUMs               database ssb
  scan      SUM over 100M int64 values, against memory bandwidth          database scan

One SQL text serves every engine. Where an engine needs another spelling, the file
<name>.<engine>.sql next to <name>.sql holds that engine's text; keep such files few and
say in their first line why they exist.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

QUERY_DIR = Path(__file__).resolve().parent / "queries"

SUITES = {
    # suite: (database, tables it reads)
    "ssb-flat": ("ssb", ["lineorder_flat"]),
    "ssb": ("ssb", ["lineorder", "dates", "customer", "supplier", "part"]),
    "tpch": ("tpch", ["lineitem", "orders", "customer", "part", "partsupp", "supplier",
                      "nation", "region"]),
    "micro": ("ssb", ["lineorder_flat"]),
    # Each query reads the whole column once: bench.py sets its time against the time the
    # machine's cores take to read as many bytes.
    "scan": ("scan", ["numbers"]),
}


@dataclass
class Query:
    suite: str
    name: str
    database: str
    sql: str
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.name}"

    def text_for(self, engine: str) -> str:
        return self.overrides.get(engine, self.sql)


def clean(text: str) -> str:
    """Drops comment lines and the final semicolon."""
    lines = [line for line in text.splitlines() if not line.strip().startswith("--")]
    return "\n".join(lines).strip().rstrip(";").strip()


def load_queries(patterns: list[str] | None = None, suites: list[str] | None = None) -> list[Query]:
    """All queries, in suite order, filtered by suite and by glob patterns on their ids
    (`tpch/q01`, `ssb*/q3.*`, `micro/*`); a bare suite name selects the whole suite."""
    queries = []
    for suite, (database, _) in SUITES.items():
        if suites and suite not in suites:
            continue
        for path in sorted((QUERY_DIR / suite).glob("*.sql")):
            stem_parts = path.name[: -len(".sql")].split(".")
            if stem_parts[-1] in ("cairn", "duckdb", "datafusion", "chdb"):
                continue  # an override, attached below
            name = path.name[: -len(".sql")]
            overrides = {}
            for engine in ("cairn", "duckdb", "datafusion", "chdb"):
                override = path.with_name(f"{name}.{engine}.sql")
                if override.exists():
                    overrides[engine] = clean(override.read_text())
            queries.append(Query(suite, name, database, clean(path.read_text()), overrides))
    if patterns:
        def wanted(query: Query) -> bool:
            return any(pattern == query.suite or fnmatch.fnmatch(query.id, pattern)
                       for pattern in patterns)
        queries = [q for q in queries if wanted(q)]
    return queries


def tables_for(queries: list[Query]) -> set[tuple[str, str]]:
    """(dataset, table) pairs the queries read."""
    needed = set()
    for query in queries:
        database, tables = SUITES[query.suite]
        needed.update((database, table) for table in tables)
    return needed
