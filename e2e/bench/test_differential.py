"""Differential test: every SSB (flat and multi-table), TPC-H and micro query of the benchmark
returns the same rows in Cairn as in DuckDB, at SF0.1 (CAIRN_DIFFERENTIAL_SCALE overrides).

Cairn is loaded the way users load it, by Stream Load of the CSV files; DuckDB loads the same
files. Results are compared as in the benchmark (compare.py): rows sorted, numbers within a
relative 1e-6 or 0.005.

Needs duckdb, tpchgen-cli, PyMySQL and pytest (the test venv of e2e/requirements.txt or the
bench venv) and a cairn binary ($CAIRN_BIN,
default ${CARGO_TARGET_DIR:-$CAIRN_CACHE/target}/debug/cairn):
    venv="$(e2e/tools/python.sh e2e/bench/requirements.txt)"
    CAIRN_BIN=... "$venv/bin/python" -m pytest e2e/bench/test_differential.py
The generated data is cached under $CAIRN_CACHE/bench/{tpch,ssb}-sf0.1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import diff  # noqa: E402
from data import ALL_TABLES, ensure_data  # noqa: E402
from engines import Cairn, DuckDB, cairn_binary, load_engine  # noqa: E402
from queries import load_queries, tables_for  # noqa: E402

SCALE = os.environ.get("CAIRN_DIFFERENTIAL_SCALE", "0.1")
# Not the scan suite: its 100M rows are there to measure memory bandwidth, and micro/sum_int64
# checks the same SUM.
QUERIES = [query for query in load_queries() if query.suite != "scan"]


@pytest.fixture(scope="module")
def engines(tmp_path_factory, request):
    dataset = ensure_data(SCALE)
    tables = [ALL_TABLES[key] for key in sorted(tables_for(QUERIES))]
    tables.sort(key=lambda t: dataset.rows[(t.dataset, t.name)])
    cairn = Cairn(tmp_path_factory.mktemp("cairn"), binary=cairn_binary("debug"),
                  query_timeout=600)
    duckdb = DuckDB(tmp_path_factory.mktemp("duckdb"))
    try:
        cairn.start()
        load_engine(cairn, tables, dataset)  # Stream Load; raises with the server's answer
        duckdb.start()
        load_engine(duckdb, tables, dataset)
        yield cairn, duckdb
        if request.session.testsfailed:
            print("\n" + cairn.log_tail(80), file=sys.stderr)
        assert cairn.process.poll() is None, "cairn died during the test\n" + cairn.log_tail()
    finally:
        cairn.close()
        duckdb.close()


@pytest.mark.parametrize("query", QUERIES, ids=[q.id for q in QUERIES])
def test_cairn_matches_duckdb(engines, query):
    cairn, duckdb = engines
    expected = duckdb.query(query.database, query.text_for("duckdb"))
    actual = cairn.query(query.database, query.text_for("cairn"))
    difference = diff(expected, actual, "duckdb", "cairn")
    assert difference is None, f"{query.id} differs:\n{query.text_for('cairn')}\n\n{difference}"
