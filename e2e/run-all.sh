#!/usr/bin/env bash
# Runs every test of the repository: installs the tools, builds once (debug), then
#   cargo-test    cargo test --workspace
#   sqllogictest  the .slt suite against real cairn allin1 processes
#   clients       pytest e2e/clients: mysql CLI, PyMySQL, mysql-connector, Go driver,
#                 Stream Load with curl and requests, bad input, crash and compaction tests
#   differential  every SSB and TPC-H query of the benchmark, Cairn (loaded by Stream Load)
#                 against DuckDB at SF0.1
#   kafka         pytest e2e/kafka: a real Apache Kafka broker (KRaft, from Maven Central jars)
#   kubernetes    e2e/kubernetes/run.sh, when it exists
# and ends with the line `N passed, M failed` (counting suites). Exits non-zero if any failed.
#
# Usage: e2e/run-all.sh [SUITE...]     (default: all; e.g. `e2e/run-all.sh sqllogictest`)
# Environment: CAIRN_CACHE (tool cache, default ~/.cache/cairn), CARGO_TARGET_DIR (default
# $CAIRN_CACHE/target, so a fresh clone reuses compiled dependencies), PYTEST_ARGS (extra pytest arguments, e.g. "-k pymysql").
set -euo pipefail

repository="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repository"

export CAIRN_CACHE="${CAIRN_CACHE:-$HOME/.cache/cairn}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CAIRN_CACHE/target}"
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C link-arg=-fuse-ld=mold"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CAIRN_BIN="$CARGO_TARGET_DIR/debug/cairn"
export PYTHONDONTWRITEBYTECODE=1
logs="$repository/e2e/.work/logs"
mkdir -p "$logs"

all_suites=(cargo-test sqllogictest clients differential kafka kubernetes)
if [ "$#" -gt 0 ]; then selected=("$@"); else selected=("${all_suites[@]}"); fi
for suite in "${selected[@]}"; do
  case " ${all_suites[*]} " in
    *" $suite "*) ;;
    *) echo "unknown suite '$suite'; choose from: ${all_suites[*]}" >&2; exit 2 ;;
  esac
done
wants() { case " ${selected[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

passed=0
failed=0
failed_names=()
started_at=$(date +%s)

banner() { printf '\n==================== %s ====================\n' "$*"; }

# run_step NAME COMMAND...: runs a step with its output on the console and in $logs/NAME.log.
run_step() {
  local name="$1"; shift
  local step_start status
  step_start=$(date +%s)
  banner "$name"
  set +e
  "$@" 2>&1 | tee "$logs/$name.log"
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -eq 0 ]; then
    passed=$((passed + 1))
    echo "--- $name: PASSED in $(( $(date +%s) - step_start ))s"
  else
    failed=$((failed + 1))
    failed_names+=("$name")
    echo "--- $name: FAILED (exit $status) in $(( $(date +%s) - step_start ))s; log: $logs/$name.log"
  fi
  return "$status"
}

finish() {
  banner "summary ($(( $(date +%s) - started_at ))s)"
  if [ "$failed" -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
  fi
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# Step functions run where `set -e` does not apply (under `if`), so each line checks itself.
install_tools() {
  bash e2e/tools/apt.sh || return 1
  local venv
  venv="$(bash e2e/tools/python.sh)" || return 1
  echo "$venv" > "$logs/venv-path" || return 1
  bash e2e/tools/go.sh > /dev/null || return 1
}

build() {
  cargo build --workspace --all-targets || return 1
  test -x "$CAIRN_BIN" || { echo "the build did not produce $CAIRN_BIN" >&2; return 1; }
}

sqllogictest_suite() {
  "$CARGO_TARGET_DIR/debug/cairn-sqllogictest" --cairn-bin "$CAIRN_BIN" \
    --slt-dir "$repository/engine/sqllogictest/slt" \
    --work-dir "$repository/e2e/.work/sqllogictest"
}

clients_suite() {
  local venv
  venv="$(cat "$logs/venv-path")" || return 1
  # shellcheck disable=SC2086 # PYTEST_ARGS is a list of words on purpose.
  (cd e2e/clients && "$venv/bin/python" -m pytest -v --basetemp="$repository/e2e/.work/pytest" ${PYTEST_ARGS:-})
  # pytest exits 5 when it collected no test; that fails here too, as any non-zero exit does.
}

differential_suite() {
  local venv
  venv="$(cat "$logs/venv-path")" || return 1
  (cd e2e/bench && "$venv/bin/python" -m pytest -v --basetemp="$repository/e2e/.work/pytest-differential" test_differential.py)
}

kafka_suite() {
  local venv
  venv="$(cat "$logs/venv-path")" || return 1
  bash e2e/tools/kafka.sh install > /dev/null || return 1
  (cd e2e/kafka && "$venv/bin/python" -m pytest -v --basetemp="$repository/e2e/.work/pytest-kafka")
}

kubernetes_suite() {
  bash e2e/kubernetes/run.sh
}

# Setup failures stop the run: nothing after them could pass.
if ! run_step tools install_tools; then finish || exit 1; fi
if ! run_step build build; then finish || exit 1; fi

if wants cargo-test; then run_step cargo-test cargo test --workspace || true; fi
if wants sqllogictest; then run_step sqllogictest sqllogictest_suite || true; fi
if wants clients; then run_step clients clients_suite || true; fi
if wants differential; then run_step differential differential_suite || true; fi
if wants kafka; then run_step kafka kafka_suite || true; fi
if wants kubernetes; then
  if [ -f e2e/kubernetes/run.sh ]; then
    run_step kubernetes kubernetes_suite || true
  else
    echo "e2e/kubernetes/run.sh does not exist yet: no Kubernetes suite to run"
  fi
fi

finish
