#!/usr/bin/env bash
# End-to-end test of the StarRocksCluster operator on a real control plane (etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler built from k8s.io/kubernetes, kwok
# nodes). The operator runs as a local process against the kubeconfig, because no kubelet runs
# images yet; the Helm chart is installed too, so its templates and RBAC meet a real API server.
# kwok pods run nothing, so a local `cairn allin1` stands in for the cluster's FE
# (--fe-address-override) and a real Kafka broker feeds the Routine Load job the operator
# creates: the database-side steps (backends, jobs, the Grafana user, scale-in) run for real.
#
# Usage: e2e/kubernetes/run.sh   (from anywhere; installs and caches its tools on first run)
# Prints "N passed, N failed" at the end and exits non-zero on any failure.
set -euo pipefail

repository="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="$(bash "${repository}/e2e/tools/kubernetes.sh" | tail -n 1)"
export PATH="${bin}:${PATH}"
work="${repository}/e2e/.work/kubernetes"

# shellcheck source=control-plane.sh
source "${repository}/e2e/kubernetes/control-plane.sh"
# shellcheck source=stand-in.sh
source "${repository}/e2e/kubernetes/stand-in.sh"
control_plane_reap "${work}"
rm -rf "${work}"
mkdir -p "${work}/logs"

passed=0
failed=0
OPERATOR_PID=""
say() { echo "e2e-kubernetes: $*" >&2; }
pass() { passed=$((passed + 1)); say "ok: $*"; }
fail() { failed=$((failed + 1)); say "FAILED: $*"; }
check() { local name="$1"; shift; if "$@"; then pass "${name}"; else fail "${name}"; fi; }

cleanup() {
  stop_operator
  stand_in_stop
  control_plane_stop
  echo "${passed} passed, ${failed} failed"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building cairn-operator and cairn"
target_dir="${CARGO_TARGET_DIR:-${repository}/target}"
# The build e2e/run-all.sh makes, so that under it this is a no-op: `-p cairn` alone resolves
# the dependencies' features without the workspace's dev-dependencies, and CI's first run on a
# fresh machine compiled DataFusion and every crate above it a second time here.
(cd "${repository}" && cargo build -q --workspace --all-targets)
operator_bin="${target_dir}/debug/cairn-operator"
cairn_bin="${target_dir}/debug/cairn"
venv="$(bash "${repository}/e2e/tools/python.sh" | tail -n 1)"

sql() { stand_in_sql "$@"; }
# Column 8 of SHOW [ALL] ROUTINE LOAD is State.
job_state() { sql "SHOW ALL ROUTINE LOAD FOR web.clicks" | cut -f8 | tail -n 1; }
backend_hosts() { sql "SHOW BACKENDS" | cut -f2 | grep -c "^demo-be-[0-9]*\.demo-be-search\.${namespace}\.svc\.cluster\.local$"; }
backend_ordinals() { sql "SHOW BACKENDS" | cut -f2 | grep '^demo-be-' | cut -d. -f1 | sort | paste -sd' '; }

start_operator() {
  # Picked right before the bind, so the control plane's own connections can not take it.
  metrics_port="$(free_port)"
  "${operator_bin}" run --plain-logs --log-level info,cairn_operator=debug \
    --metrics-address "127.0.0.1:${metrics_port}" --lease-namespace cairn-system \
    --fe-address-override "127.0.0.1:${STAND_IN_QUERY_PORT}" \
    --lease-duration-seconds 6 >> "${work}/logs/operator.log" 2>&1 &
  OPERATOR_PID=$!
  echo "${OPERATOR_PID}" >> "${work}/pids"
}
stop_operator() {
  if [ -n "${OPERATOR_PID}" ]; then
    kill "${OPERATOR_PID}" 2>/dev/null || true
    wait "${OPERATOR_PID}" 2>/dev/null || true
    OPERATOR_PID=""
  fi
}

# Polls until the command succeeds or the timeout passes.
eventually() {
  local timeout="$1"; shift
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ "${SECONDS}" -lt "${deadline}" ] || return 1
    sleep 0.5
  done
}
jsonpath() { kubectl get "$1" -n "${namespace}" -o "jsonpath=$2" 2>/dev/null; }
condition_is() { # resource type status reason
  [ "$(jsonpath "$1" "{.status.conditions[?(@.type==\"$2\")].status}/{.status.conditions[?(@.type==\"$2\")].reason}")" = "$3/$4" ]
}
equals() { [ "$("${@:2}")" = "$1" ]; }

control_plane_start "${work}" "${bin}"
say "starting a Kafka broker"
stand_in_start_kafka "${work}/kafka" "${venv}" clicks
# The FE's port is chosen now; the FE itself starts after the cluster is applied, so the
# operator is seen waiting for it first.
STAND_IN_QUERY_PORT="$(free_port)"
namespace=analytics
kubectl create namespace "${namespace}" >/dev/null
kubectl create namespace cairn-system >/dev/null

say "installing the CRDs and the chart"
check "kubectl apply -f crds/" kubectl apply -f "${repository}/crds/"
# Right after creation the CRD has no status.conditions yet, and kubectl wait then errors
# instead of waiting.
check "CRD is established" eventually 60 kubectl wait --for=condition=Established --timeout=5s crd/starrocksclusters.starrocks.cairn.dev
check "helm lint" helm lint "${repository}/charts/cairn-operator"
check "helm install" helm install cairn-operator "${repository}/charts/cairn-operator" -n cairn-system --wait --timeout 120s
check "chart Deployment is available" eventually 60 kubectl -n cairn-system wait --for=condition=Available --timeout=5s deployment/cairn-operator
# The in-cluster operator pod is simulated by kwok and does nothing; scale it away so the
# Lease is ours.
kubectl -n cairn-system scale deployment/cairn-operator --replicas=0 >/dev/null
start_operator
check "operator serves /healthz" eventually 60 curl -sf "http://127.0.0.1:${metrics_port}/healthz"

say "invalid clusters"
invalid() { # name spec-yaml expected-message
  local output
  output="$(printf 'apiVersion: starrocks.cairn.dev/v1alpha1\nkind: StarRocksCluster\nmetadata: {name: %s, namespace: %s}\nspec:\n%b\n' "$1" "${namespace}" "$2" | kubectl apply -f - 2>&1)" && return 1
  grep -qF "$3" <<<"${output}" || { say "unexpected rejection: ${output}"; return 1; }
}
check "FE count of 2 is rejected" invalid bad-fe "  fe: {replicas: 2, image: cairn}\n  be: {replicas: 1, image: cairn}" "fe.replicas must be 1, 3 or 5"
check "FE count of 0 is rejected" invalid bad-fe "  fe: {replicas: 0, image: cairn}\n  be: {replicas: 1, image: cairn}" "fe.replicas must be 1, 3 or 5"
check "missing image is rejected" invalid bad-image "  fe: {replicas: 1, image: \"\"}\n  be: {replicas: 1, image: cairn}" "image must not be empty"
check "malformed storage size is rejected" invalid bad-size "  fe: {replicas: 1, image: cairn}\n  be: {replicas: 1, image: cairn, storage: {data: {size: lots}}}" "storage size must be a positive Kubernetes quantity"
# Valid at admission, invalid to the operator: a Kafka credentials Secret that does not exist.
kubectl apply -f - >/dev/null <<EOF
apiVersion: starrocks.cairn.dev/v1alpha1
kind: StarRocksCluster
metadata: {name: missing-secret, namespace: ${namespace}}
spec:
  fe: {replicas: 1, image: cairn}
  be: {replicas: 1, image: cairn}
  kafkaIngest:
    - {name: j, table: d.t, topic: t, source: {brokers: ["k:9092"], credentials: {secretName: nope}}}
EOF
check "unresolvable reference marks the cluster Degraded" eventually 60 condition_is src/missing-secret Degraded True InvalidSpec
check "and builds nothing" equals "" jsonpath statefulsets "{.items[?(@.metadata.labels.app\.kubernetes\.io/instance==\"missing-secret\")].metadata.name}"
kubectl delete src/missing-secret -n "${namespace}" --wait=true --timeout=60s >/dev/null

say "a valid cluster"
apply_demo() { # be-config-value image be-replicas
  kubectl apply -f - >/dev/null <<EOF
apiVersion: starrocks.cairn.dev/v1alpha1
kind: StarRocksCluster
metadata: {name: demo, namespace: ${namespace}}
spec:
  fe: {replicas: 1, image: "$2", storage: {data: {size: 1Gi}}}
  be: {replicas: $3, image: "$2", storage: {data: {size: 2Gi}}, config: {mem_limit: "$1"}}
  kafkaIngest:
    - name: clicks
      table: web.clicks
      topic: clicks
      format: json
      jsonpaths: ["\$.ts", "\$.url"]
      columns: [ts, url]
      source: {brokers: ["${KAFKA_BOOTSTRAP}"]}
      kafkaProperties: {kafka_default_offsets: OFFSET_BEGINNING}
  grafana: {enabled: true, mode: Both, tables: [web.clicks]}
EOF
}
all_conditions_settled() {
  condition_is src/demo Available True QueriesServed && condition_is src/demo Progressing False RolloutComplete \
    && condition_is src/demo Degraded False AsExpected
}
be_settled_at() { [ "$(jsonpath src/demo '{.status.be.readiness}')" = "$1" ] && all_conditions_settled; }
apply_demo "80%" "cairn:0.1.0" 3
applied_at="${SECONDS}"
check "FE StatefulSet appears" eventually 60 kubectl -n "${namespace}" get statefulset/demo-fe
check "BE StatefulSet appears after FE is ready" eventually 120 kubectl -n "${namespace}" get statefulset/demo-be
check "BE pods become ready (status 3/3)" eventually 120 equals "3/3" jsonpath src/demo "{.status.be.readiness}"
check "FE status 1/1" eventually 60 equals "1/1" jsonpath src/demo "{.status.fe.readiness}"
check "Available=False while no FE answers (FrontendUnreachable)" eventually 60 condition_is src/demo Available False FrontendUnreachable
check "Progressing waits for the FE connection" eventually 60 condition_is src/demo Progressing True WaitingForFrontendConnection
check "Degraded=False" condition_is src/demo Degraded False AsExpected

say "the FE answers"
# The operator sets the root password from the admin Secret as soon as it reaches the FE.
STAND_IN_ROOT_PASSWORD="$(kubectl -n "${namespace}" get secret/demo-admin -o jsonpath='{.data.password}' | base64 -d)"
stand_in_start_frontend "${cairn_bin}" "${work}"
check "FE serves MySQL with the root password the operator set from the admin Secret" eventually 60 sql "SELECT 1"
check "the job's table is created" sql "CREATE DATABASE web; CREATE TABLE web.clicks (ts DATETIME NOT NULL, url VARCHAR(256)) DUPLICATE KEY(ts) DISTRIBUTED BY HASH(ts) BUCKETS 1 PROPERTIES ('replication_num' = '1')"
fe_started_at="${SECONDS}"
check "all conditions settle: Available=True, Progressing=False, Degraded=False" eventually 120 all_conditions_settled
say "apply to settled: $((SECONDS - applied_at)) s, of which $((SECONDS - fe_started_at)) s after the FE started"
check "the FE lists the 3 BE pods as backends" equals "3" backend_hosts
check "status counts the FE's backends (3 pods and the FE's own)" equals "4" jsonpath src/demo '{.status.backends.total}'
check "the Routine Load job runs in the FE" eventually 60 equals "RUNNING" job_state
check "Kafka messages arrive through the operator's job" eventually 90 equals "3" sql "SELECT COUNT(*) FROM web.clicks"
grafana_password="$(kubectl -n "${namespace}" get secret/demo-grafana-datasource -o jsonpath='{.data.cairn-analytics-demo\.yaml}' | base64 -d | sed -n 's/^ *password: *//p' | tr -d "\"'")"
grafana_sql() { mysql -h 127.0.0.1 -P "${STAND_IN_QUERY_PORT}" -u grafana_reader -p"${grafana_password}" --batch --skip-column-names -e "$1"; }
check "the Grafana user reads with the data source's password" equals "3" grafana_sql "SELECT COUNT(*) FROM web.clicks"
grafana_can_not_write() { ! grafana_sql "DROP TABLE web.clicks" 2>/dev/null; }
check "and can not write" grafana_can_not_write
check "observedGeneration follows generation" equals "$(jsonpath src/demo '{.metadata.generation}')" jsonpath src/demo '{.status.observedGeneration}'
check "services exist" kubectl -n "${namespace}" get service/demo-fe service/demo-fe-search service/demo-be service/demo-be-search
check "client service exposes 9030 and 8030" equals "9030 8030" jsonpath service/demo-fe '{.spec.ports[*].port}'
check "config maps hold fe.conf and be.conf" equals "mem_limit = 80%" sh -c "kubectl -n ${namespace} get cm/demo-be-config -o jsonpath='{.data.be\.conf}' | grep mem_limit"
check "PDBs exist" kubectl -n "${namespace}" get pdb/demo-fe pdb/demo-be
check "admin Secret was created" kubectl -n "${namespace}" get secret/demo-admin
check "PVCs were created for BE" eventually 30 equals "3" sh -c "kubectl -n ${namespace} get pvc -o name | grep -c data-demo-be-"
check "an event was recorded" eventually 30 sh -c "kubectl -n ${namespace} get events -o jsonpath='{.items[*].reason}' | grep -q FrontendUnreachable"

say "config change rolls BE"
old_hash="$(jsonpath statefulset/demo-be '{.spec.template.metadata.annotations.starrocks\.cairn\.dev/config-hash}')"
apply_demo "70%" "cairn:0.1.0" 3
check "BE config hash changes" eventually 60 sh -c "[ \"\$(kubectl -n ${namespace} get sts/demo-be -o jsonpath='{.spec.template.metadata.annotations.starrocks\.cairn\.dev/config-hash}')\" != '${old_hash}' ]"
check "BE rolls out" kubectl -n "${namespace}" rollout status statefulset/demo-be --timeout=120s
# Steady reconciles skip applies that would change nothing; a hand edit must still be undone.
kubectl -n "${namespace}" patch cm/demo-be-config --type merge -p '{"data":{"be.conf":"tampered"}}' >/dev/null
check "a hand edit of an applied object is undone" eventually 60 sh -c "kubectl -n ${namespace} get cm/demo-be-config -o jsonpath='{.data.be\.conf}' | grep -q 'mem_limit = 70%'"

say "image change rolls FE before BE"
samples="${work}/image-samples.txt"
( for _ in $(seq 1 400); do
    # BE first: a later FE read can only be newer, so a sample never shows BE ahead falsely.
    be_image="$(jsonpath sts/demo-be '{.spec.template.spec.containers[0].image}')"
    fe_image="$(jsonpath sts/demo-fe '{.spec.template.spec.containers[0].image}')"
    echo "${fe_image} ${be_image}"
    sleep 0.1
  done > "${samples}" ) &
sampler=$!
apply_demo "70%" "cairn:0.2.0" 3
check "BE reaches the new image" eventually 120 equals "cairn:0.2.0" jsonpath sts/demo-be '{.spec.template.spec.containers[0].image}'
kill "${sampler}" 2>/dev/null || true; wait "${sampler}" 2>/dev/null || true
check "BE never ran ahead of FE" sh -c "! grep -q 'cairn:0.1.0 cairn:0.2.0' '${samples}'"
if grep -q 'cairn:0.2.0 cairn:0.1.0' "${samples}"; then say "observed FE on the new image while BE waited"; fi
check "both roll out" kubectl -n "${namespace}" rollout status statefulset/demo-be --timeout=120s

say "scaling"
check "scale subresource scales BE up" kubectl -n "${namespace}" scale src/demo --replicas=4
check "BE StatefulSet grows to 4" eventually 60 equals "4" jsonpath sts/demo-be '{.spec.replicas}'
check "status reports 4/4" eventually 120 equals "4/4" jsonpath src/demo '{.status.be.readiness}'
check "the FE lists 4 backends" eventually 60 equals "4" backend_hosts
kubectl -n "${namespace}" scale src/demo --replicas=2 >/dev/null
check "scale-in shrinks the StatefulSet to 2" eventually 90 equals "2" jsonpath sts/demo-be '{.spec.replicas}'
decommissioned() { kubectl -n "${namespace}" get events -o jsonpath='{range .items[?(@.reason=="BackendDecommissioning")]}{.message}{"\n"}{end}' | grep -o 'demo-be-[0-9][0-9]*' | sort | paste -sd' '; }
check "after the FE decommissioned ordinals 2 and 3" equals "demo-be-2 demo-be-3" decommissioned
check "the FE drops the decommissioned backends" eventually 60 equals "demo-be-0 demo-be-1" backend_ordinals
check "status reports 2/2 and settles" eventually 120 be_settled_at 2/2
kubectl -n "${namespace}" scale src/demo --replicas=4 >/dev/null
check "scaling out again registers ordinals 2 and 3 anew" eventually 90 equals "4" backend_hosts
check "and settles at 4/4" eventually 120 be_settled_at 4/4

say "Grafana and Kafka wiring"
check "datasource Secret labelled for the sidecar" equals "1" jsonpath secret/demo-grafana-datasource '{.metadata.labels.grafana_datasource}'
check "datasource points at the FE service" sh -c "kubectl -n ${namespace} get secret/demo-grafana-datasource -o jsonpath='{.data.cairn-analytics-demo\.yaml}' | base64 -d | grep -q 'url: demo-fe.analytics.svc:9030'"
check "dashboard ConfigMaps labelled" equals "2" sh -c "kubectl -n ${namespace} get cm -l grafana_dashboard=1 -o name | wc -l | tr -d ' '"
# grafana-operator's CRDs appear later: the operator must notice and publish its resources.
for kind in GrafanaDatasource GrafanaDashboard; do
  plural="$(echo "${kind}" | tr '[:upper:]' '[:lower:]')s"
  kubectl apply -f - >/dev/null <<EOF
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ${plural}.grafana.integreatly.org}
spec:
  group: grafana.integreatly.org
  scope: Namespaced
  names: {kind: ${kind}, plural: ${plural}, singular: $(echo "${kind}" | tr '[:upper:]' '[:lower:]')}
  versions:
    - name: v1beta1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
EOF
done
kubectl annotate src/demo -n "${namespace}" e2e/poke="$(date +%s)" --overwrite >/dev/null
check "GrafanaDatasource published once its CRD exists" eventually 120 kubectl -n "${namespace}" get grafanadatasources.grafana.integreatly.org/demo
check "GrafanaDashboards published" eventually 60 kubectl -n "${namespace}" get grafanadashboards.grafana.integreatly.org/demo-health grafanadashboards.grafana.integreatly.org/demo-tables
check "Kafka job listed in status as running" eventually 60 equals "clicks RUNNING" jsonpath src/demo '{.status.kafkaIngest[0].name} {.status.kafkaIngest[0].state}'

say "operator restart mid-reconcile"
apply_demo "60%" "cairn:0.2.0" 4
sleep 0.3
kill -9 "${OPERATOR_PID}" 2>/dev/null || true
wait "${OPERATOR_PID}" 2>/dev/null || true
OPERATOR_PID=""
start_operator
# The killed leader never released the Lease: the new process takes it once it expires.
check "restarted operator takes the Lease" eventually 60 equals "cairn-operator-${OPERATOR_PID}" kubectl -n cairn-system get lease cairn-operator -o 'jsonpath={.spec.holderIdentity}'
check "restarted operator converges (BE on the new config)" eventually 120 sh -c "kubectl -n ${namespace} get cm/demo-be-config -o jsonpath='{.data.be\.conf}' | grep -q 'mem_limit = 60%'"
check "rollout completes" kubectl -n "${namespace}" rollout status statefulset/demo-be --timeout=120s
apply_demo "50%" "cairn:0.2.0" 4
check "the new leader acts on later changes" eventually 60 sh -c "kubectl -n ${namespace} get cm/demo-be-config -o jsonpath='{.data.be\.conf}' | grep -q 'mem_limit = 50%'"
check "no duplicate StatefulSets" equals "2" sh -c "kubectl -n ${namespace} get sts -l app.kubernetes.io/instance=demo -o name | wc -l | tr -d ' '"
check "no duplicate Services" equals "4" sh -c "kubectl -n ${namespace} get svc -l app.kubernetes.io/instance=demo -o name | wc -l | tr -d ' '"
check "one field manager owns the StatefulSet" sh -c "kubectl -n ${namespace} get sts/demo-be -o jsonpath='{.metadata.managedFields[*].manager}' | grep -q cairn-operator"

say "metrics"
check "/metrics counts reconciles" eventually 30 sh -c "curl -sf http://127.0.0.1:${metrics_port}/metrics > '${work}/metrics.txt' && grep -q '^cairn_operator_reconciliations_total [1-9]' '${work}/metrics.txt'"
check "/metrics has the duration histogram" grep -q '^cairn_operator_reconcile_duration_seconds_count [1-9]' "${work}/metrics.txt"

say "deletion"
check "cluster deletes (finalizer completes)" kubectl -n "${namespace}" delete src/demo --wait=true --timeout=120s
check "StatefulSets are garbage-collected" eventually 120 equals "" sh -c "kubectl -n ${namespace} get sts -l app.kubernetes.io/instance=demo -o name"
check "Services, ConfigMaps, PDBs and Secrets other than the admin one are garbage-collected" eventually 120 equals "secret/demo-admin" sh -c "kubectl -n ${namespace} get svc,cm,secret,pdb -l app.kubernetes.io/instance=demo -o name"
check "PVCs are retained (pvcRetentionPolicy.whenDeleted: Retain)" sh -c "kubectl -n ${namespace} get pvc -o name | grep -q data-demo-be-0"
check "and the admin Secret with them: the retained FE metadata has its root password" equals "${STAND_IN_ROOT_PASSWORD}" sh -c "kubectl -n ${namespace} get secret/demo-admin -o jsonpath='{.data.password}' | base64 -d"
check "the finalizer stopped the Routine Load job" equals "STOPPED" job_state
check "and dropped the Grafana user" sh -c "! mysql -h 127.0.0.1 -P ${STAND_IN_QUERY_PORT} -u grafana_reader -p'${grafana_password}' -e 'SELECT 1' 2>/dev/null"

[ "${failed}" -eq 0 ]
