#!/usr/bin/env bash
# The SSB + TPC-H benchmark of issue 4: Cairn against DuckDB, DataFusion and chDB.
# Usage: e2e/bench/run.sh [--scale 1|10|0.1] [--engines cairn,duckdb,datafusion,chdb]
#                         [--queries ssb-flat,ssb,tpch,micro or globs like 'tpch/q0*']
# Makes the pinned venv of e2e/bench/requirements.txt, builds the release binary of cairn
# (unless CAIRN_BIN names one, or cairn is not among the engines), generates and caches the
# data under $CAIRN_CACHE/bench, then runs e2e/bench/bench.py (--help lists every option).
# Results: the console, and JSON under e2e/.work/bench/. Exit status 1 on any failed load,
# query error or result that differs from DuckDB's.
#
# e2e/bench/run.sh ingest [--parts throughput,small,freshness] [--scale 1] ...: the ingest
# benchmarks of issue 3 (e2e/bench/ingest.py --help), with the same venv and release build.
set -euo pipefail

repository="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repository"
source e2e/tools/common.sh
export PYTHONDONTWRITEBYTECODE=1

# mysqlclient (requirements.txt) compiles against libmariadb and the Python headers.
bash e2e/tools/apt.sh libmariadb-dev python3-dev gcc >&2
venv="$(bash e2e/tools/python.sh e2e/bench/requirements.txt)"

script=e2e/bench/bench.py
engines="cairn,duckdb,datafusion,chdb"
if [ "${1:-}" = ingest ]; then
  # Every part of the ingest benchmark runs cairn.
  shift
  script=e2e/bench/ingest.py
else
  previous=""
  for argument in "$@"; do
    case "$previous" in --engines) engines="$argument" ;; esac
    case "$argument" in --engines=*) engines="${argument#--engines=}" ;; esac
    previous="$argument"
  done
fi

if [[ ",$engines," == *",cairn,"* ]] && [ -z "${CAIRN_BIN:-}" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CAIRN_CACHE/target}"
  if command -v mold >/dev/null 2>&1; then
    export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C link-arg=-fuse-ld=mold"
  fi
  log "building cairn (release) into $CARGO_TARGET_DIR"
  cargo build --release -p cairn >&2
  export CAIRN_BIN="$CARGO_TARGET_DIR/release/cairn"
fi

# tpchgen-cli lives in the venv.
export PATH="$venv/bin:$PATH"
exec "$venv/bin/python" "$script" "$@"
