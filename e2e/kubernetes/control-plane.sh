# Starts a real Kubernetes control plane on this machine: etcd (3.6, built from its Go module), kube-apiserver,
# kube-controller-manager, kube-scheduler, and kwok simulating nodes (pods get scheduled and are
# marked Running/Ready without a kubelet). A small loop stands in for a volume provisioner by
# creating a hostPath PersistentVolume pre-bound to each pending PVC.
#
# Source it, then: control_plane_start <work-dir> <bin-dir>; it exports KUBECONFIG. Stop with
# control_plane_stop. Written to grow: a later harness can start a real kubelet with containerd
# next to (or instead of) kwok.
# shellcheck shell=bash

CONTROL_PLANE_PIDS=()

cp_log() { echo "control-plane: $*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for() {
  local what="$1" timeout="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ "${SECONDS}" -ge "${deadline}" ]; then
      cp_log "timed out after ${timeout}s waiting for ${what}"
      return 1
    fi
    sleep 0.5
  done
}

control_plane_start() {
  local work="$1" bin="$2"
  mkdir -p "${work}/pki" "${work}/logs" "${work}/volumes"
  local pki="${work}/pki"
  local etcd_port etcd_peer_port api_port
  etcd_port="$(free_port)"; etcd_peer_port="$(free_port)"; api_port="$(free_port)"

  # Service-account signing key and a CA for the API server's serving certificate.
  openssl genrsa -out "${pki}/sa.key" 2048 2>/dev/null
  openssl rsa -in "${pki}/sa.key" -pubout -out "${pki}/sa.pub" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cairn-e2e-ca" \
    -keyout "${pki}/ca.key" -out "${pki}/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout "${pki}/apiserver.key" -out "${pki}/apiserver.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc,IP:10.96.0.1\n' > "${pki}/san.ext"
  openssl x509 -req -in "${pki}/apiserver.csr" -CA "${pki}/ca.crt" -CAkey "${pki}/ca.key" \
    -CAcreateserial -days 2 -extfile "${pki}/san.ext" -out "${pki}/apiserver.crt" 2>/dev/null
  local token
  token="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  echo "${token},cairn-e2e-admin,cairn-e2e-admin,system:masters" > "${pki}/tokens.csv"

  cp_log "starting etcd on ${etcd_port}"
  "${bin}/etcd" --data-dir "${work}/etcd" \
    --listen-client-urls "http://127.0.0.1:${etcd_port}" --advertise-client-urls "http://127.0.0.1:${etcd_port}" \
    --listen-peer-urls "http://127.0.0.1:${etcd_peer_port}" --initial-advertise-peer-urls "http://127.0.0.1:${etcd_peer_port}" \
    --initial-cluster "default=http://127.0.0.1:${etcd_peer_port}" --name default \
    --unsafe-no-fsync --quota-backend-bytes 2147483648 \
    > "${work}/logs/etcd.log" 2>&1 &
  CONTROL_PLANE_PIDS+=($!)
  echo $! >> "${work}/pids"
  wait_for etcd 30 curl -sf "http://127.0.0.1:${etcd_port}/health"

  cp_log "starting kube-apiserver on ${api_port}"
  "${bin}/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:${etcd_port}" \
    --secure-port "${api_port}" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --tls-cert-file "${pki}/apiserver.crt" --tls-private-key-file "${pki}/apiserver.key" \
    --client-ca-file "${pki}/ca.crt" \
    --token-auth-file "${pki}/tokens.csv" \
    --authorization-mode Node,RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "${pki}/sa.pub" --service-account-signing-key-file "${pki}/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --enable-priority-and-fairness=false \
    --profiling=false \
    > "${work}/logs/kube-apiserver.log" 2>&1 &
  CONTROL_PLANE_PIDS+=($!)
  echo $! >> "${work}/pids"

  export KUBECONFIG="${work}/kubeconfig"
  cat > "${KUBECONFIG}" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:${api_port}
    certificate-authority: ${pki}/ca.crt
users:
- name: admin
  user:
    token: ${token}
contexts:
- name: e2e
  context: {cluster: e2e, user: admin, namespace: default}
current-context: e2e
EOF
  wait_for kube-apiserver 120 "${bin}/kubectl" get --raw /readyz

  cp_log "starting kube-controller-manager and kube-scheduler"
  "${bin}/kube-controller-manager" \
    --kubeconfig "${KUBECONFIG}" --authentication-kubeconfig "${KUBECONFIG}" --authorization-kubeconfig "${KUBECONFIG}" \
    --service-account-private-key-file "${pki}/sa.key" --root-ca-file "${pki}/ca.crt" \
    --use-service-account-credentials=false \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port 0 \
    --controllers '*,-nodeipam,-cloud-node-lifecycle,-service,-route' \
    > "${work}/logs/kube-controller-manager.log" 2>&1 &
  CONTROL_PLANE_PIDS+=($!)
  echo $! >> "${work}/pids"
  "${bin}/kube-scheduler" \
    --kubeconfig "${KUBECONFIG}" --authentication-kubeconfig "${KUBECONFIG}" --authorization-kubeconfig "${KUBECONFIG}" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port 0 \
    > "${work}/logs/kube-scheduler.log" 2>&1 &
  CONTROL_PLANE_PIDS+=($!)
  echo $! >> "${work}/pids"

  cp_log "starting kwok"
  "${bin}/kwok" \
    --kubeconfig "${KUBECONFIG}" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom \
    --cidr=10.244.0.0/16 --node-ip=10.0.0.1 --node-lease-duration-seconds=40 \
    > "${work}/logs/kwok.log" 2>&1 &
  CONTROL_PLANE_PIDS+=($!)
  echo $! >> "${work}/pids"

  local node
  for node in kwok-node-0 kwok-node-1 kwok-node-2; do
    "${bin}/kubectl" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: ${node}
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {type: kwok, kubernetes.io/hostname: ${node}, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti}
  capacity: {cpu: "64", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti}
EOF
  done
  wait_for "kwok nodes Ready" 60 sh -c \
    "[ \"\$('${bin}/kubectl' get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}' | grep -c True)\" -eq 3 ]"

  volume_provisioner "${work}" "${bin}" > "${work}/logs/provisioner.log" 2>&1 &
  CONTROL_PLANE_PIDS+=($!)
  echo $! >> "${work}/pids"
  cp_log "control plane ready (KUBECONFIG=${KUBECONFIG})"
}

# Stands in for a storage provisioner: every pending PVC gets a hostPath PV pre-bound to it, which
# the PV controller then binds.
volume_provisioner() {
  local work="$1" bin="$2"
  while true; do
    "${bin}/kubectl" get pvc -A -o jsonpath='{range .items[?(@.status.phase=="Pending")]}{.metadata.namespace} {.metadata.name} {.metadata.uid} {.spec.resources.requests.storage}{"\n"}{end}' 2>/dev/null \
    | while read -r namespace name uid size; do
        [ -n "${uid}" ] || continue
        "${bin}/kubectl" apply -f - <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-${uid}, labels: {cairn-e2e: provisioned}}
spec:
  capacity: {storage: ${size}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Delete
  hostPath: {path: ${work}/volumes/${uid}}
  claimRef: {namespace: ${namespace}, name: ${name}, uid: ${uid}}
EOF
      done
    sleep 1
  done
}

# Ends processes a previous, interrupted run left behind (their PIDs are in <work>/pids).
control_plane_reap() {
  local work="$1" pid
  [ -f "${work}/pids" ] || return 0
  while read -r pid; do kill "${pid}" 2>/dev/null || true; done < "${work}/pids"
  sleep 1
  rm -f "${work}/pids"
}

control_plane_stop() {
  local index
  for ((index = ${#CONTROL_PLANE_PIDS[@]} - 1; index >= 0; index--)); do
    kill "${CONTROL_PLANE_PIDS[index]}" 2>/dev/null || true
  done
  for index in "${CONTROL_PLANE_PIDS[@]}"; do
    wait "${index}" 2>/dev/null || true
  done
  CONTROL_PLANE_PIDS=()
}
