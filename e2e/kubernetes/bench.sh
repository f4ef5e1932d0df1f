#!/usr/bin/env bash
# The reconcile benchmark of the StarRocksCluster operator, on the same real control plane as
# the e2e test (etcd, kube-apiserver, controller-manager, scheduler, kwok nodes), with a local
# `cairn allin1` standing in for the FE and a real Kafka broker for the Routine Load job.
#
# It measures:
#   1. the time from `kubectl apply` of a cluster (1 FE, 3 BE, a Kafka job, Grafana in both
#      forms) until Available=True, Progressing=False and Degraded=False;
#   2. the duration of steady reconciles of that settled cluster: the operator logs each
#      reconcile's exact duration (target cairn_operator::reconcile_timing); annotating the
#      cluster N times triggers them. Prints p50, p90, p99 and max (goal: p99 <= 50 ms).
#
# Usage: e2e/kubernetes/bench.sh [--reconciles N]    (release builds; N defaults to 200)
# Not part of the test suite: it measures, it does not judge, apart from failing when the
# cluster never settles.
set -euo pipefail

reconciles=200
while [ "$#" -gt 0 ]; do
  case "$1" in
    --reconciles) reconciles="$2"; shift 2 ;;
    *) echo "unknown argument $1; usage: $0 [--reconciles N]" >&2; exit 2 ;;
  esac
done

repository="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="$(bash "${repository}/e2e/tools/kubernetes.sh" | tail -n 1)"
export PATH="${bin}:${PATH}"
work="${repository}/e2e/.work/kubernetes-bench"
export CAIRN_CACHE="${CAIRN_CACHE:-${HOME}/.cache/cairn}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${CAIRN_CACHE}/target}"

# shellcheck source=control-plane.sh
source "${repository}/e2e/kubernetes/control-plane.sh"
# shellcheck source=stand-in.sh
source "${repository}/e2e/kubernetes/stand-in.sh"
control_plane_reap "${work}"
rm -rf "${work}"
mkdir -p "${work}/logs"
say() { echo "bench-kubernetes: $*" >&2; }
OPERATOR_PID=""
cleanup() {
  if [ -n "${OPERATOR_PID}" ]; then kill "${OPERATOR_PID}" 2>/dev/null || true; wait "${OPERATOR_PID}" 2>/dev/null || true; fi
  stand_in_stop
  control_plane_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building release cairn-operator and cairn"
# Two invocations: building both packages at once unifies their dependencies' features
# differently from every other build, which would recompile DataFusion.
(cd "${repository}" && cargo build -q --release -p cairn --bin cairn && cargo build -q --release -p cairn-operator --bin cairn-operator)
operator_bin="${CARGO_TARGET_DIR}/release/cairn-operator"
cairn_bin="${CARGO_TARGET_DIR}/release/cairn"
venv="$(bash "${repository}/e2e/tools/python.sh" | tail -n 1)"

control_plane_start "${work}" "${bin}"
namespace=bench
kubectl create namespace "${namespace}" >/dev/null
kubectl create namespace cairn-system >/dev/null
kubectl apply -f "${repository}/crds/" >/dev/null
kubectl wait --for=condition=Established --timeout=60s crd/starrocksclusters.starrocks.cairn.dev >/dev/null
stand_in_start_kafka "${work}/kafka" "${venv}" clicks
stand_in_start_frontend "${cairn_bin}" "${work}"
wait_for "the FE" 60 stand_in_sql "SELECT 1"
stand_in_sql "CREATE DATABASE web; CREATE TABLE web.clicks (ts DATETIME NOT NULL, url VARCHAR(256)) DUPLICATE KEY(ts) DISTRIBUTED BY HASH(ts) BUCKETS 1 PROPERTIES ('replication_num' = '1')"
metrics_port="$(free_port)"
"${operator_bin}" run --log-level "info,cairn_operator::reconcile_timing=debug" \
  --metrics-address "127.0.0.1:${metrics_port}" --lease-namespace cairn-system \
  --fe-address-override "127.0.0.1:${STAND_IN_QUERY_PORT}" > "${work}/logs/operator.log" 2>&1 &
OPERATOR_PID=$!
echo "${OPERATOR_PID}" >> "${work}/pids"
wait_for "the operator" 60 curl -sf "http://127.0.0.1:${metrics_port}/healthz"

settled() {
  local conditions
  conditions="$(kubectl -n "${namespace}" get src/demo -o 'jsonpath={range .status.conditions[*]}{.type}={.status} {end}' 2>/dev/null)"
  [ "${conditions}" = "Available=True Progressing=False Degraded=False " ]
}
say "applying a cluster"
started="$(date +%s%N)"
kubectl apply -f - >/dev/null <<EOF
apiVersion: starrocks.cairn.dev/v1alpha1
kind: StarRocksCluster
metadata: {name: demo, namespace: ${namespace}}
spec:
  fe: {replicas: 1, image: cairn, storage: {data: {size: 1Gi}}}
  be: {replicas: 3, image: cairn, storage: {data: {size: 2Gi}}}
  kafkaIngest:
    - {name: clicks, table: web.clicks, topic: clicks, format: json, jsonpaths: ["\$.ts", "\$.url"], columns: [ts, url], source: {brokers: ["${KAFKA_BOOTSTRAP}"]}}
  grafana: {enabled: true, mode: Both, tables: [web.clicks]}
EOF
deadline=$((SECONDS + 300))
until settled; do
  if [ "${SECONDS}" -ge "${deadline}" ]; then
    say "the cluster did not settle in 300 s"; kubectl -n "${namespace}" get src/demo -o yaml >&2; exit 1
  fi
  sleep 0.2
done
settle_milliseconds=$(( ($(date +%s%N) - started) / 1000000 ))

say "timing ${reconciles} steady reconciles"
before="$(grep -c '"message":"reconcile finished"' "${work}/logs/operator.log" || true)"
for number in $(seq 1 "${reconciles}"); do
  kubectl -n "${namespace}" annotate src/demo "bench/poke=${number}" --overwrite >/dev/null
done
sleep 2
settled || { say "the cluster left its settled state during the steady phase"; exit 1; }
"${venv}/bin/python" - "${work}/logs/operator.log" "${before}" "${settle_milliseconds}" <<'EOF'
import json, sys
path, skip, settle = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) / 1000
durations = []
phases = []
for line in open(path):
    if "reconcile_timing" not in line:
        continue
    try:
        record = json.loads(line)
    except ValueError:
        continue
    if record.get("target") != "cairn_operator::reconcile_timing":
        continue
    fields = record.get("fields", record)
    if "dereference_ms" in fields:
        phases.append((fields["dereference_ms"], fields["apply_ms"], fields["database_ms"]))
        continue
    skip -= 1
    if skip >= 0:
        continue
    # The operator's JSON logs put event fields at the top level.
    durations.append(float(record.get("fields", record)["duration_ms"]))
if len(durations) < 10:
    sys.exit(f"only {len(durations)} steady reconciles were logged")
durations.sort()
def percentile(p):
    return durations[min(len(durations) - 1, int(round(p / 100 * (len(durations) - 1))))]
print(f"apply to all conditions settled: {settle:.1f} s (1 FE, 3 BE on kwok nodes; FE already answering)")
steady_phases = phases[-len(durations):]
if steady_phases:
    for index, name in enumerate(["dereference", "apply", "database"]):
        values = sorted(phase[index] for phase in steady_phases)
        print(f"  {name}: p50 {values[len(values) // 2]:.1f} ms, p90 {values[int(len(values) * 0.9)]:.1f} ms")
print(f"steady reconciles: {len(durations)}; p50 {percentile(50):.1f} ms, p90 {percentile(90):.1f} ms, "
      f"p99 {percentile(99):.1f} ms, max {durations[-1]:.1f} ms (goal: p99 <= 50 ms)")
EOF
