#!/usr/bin/env bash
# Installs the Kubernetes tools the control-plane e2e test needs, built from the Go module proxy
# and Debian's packages only, into a cache that later runs reuse:
#
#   ${CAIRN_CACHE:-$HOME/.cache/cairn}/kubernetes/<version>/bin/
#     etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm
#
# kube-* and kubectl come from k8s.io/kubernetes at a pinned release. That module's go.mod points
# its staging modules (k8s.io/api, k8s.io/client-go, ...) at ./staging/src, which a dependent
# module cannot use, so a wrapper go.mod replaces each staging module with its published v0.N.M.
#
# Prints the bin directory on stdout as its last line; everything else goes to stderr.
# Usage: e2e/tools/kubernetes.sh            (install if missing, print bin dir)
set -euo pipefail

KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.34.4}"
KWOK_VERSION="${KWOK_VERSION:-v0.7.0}"
# Debian's etcd-server is 3.4, which lacks the watch progress requests Kubernetes 1.34 relies on:
# watch streams end with "RequestWatchProgress is disabled" and kwok sees pod changes only on
# re-list, tens of seconds late. So etcd is built from its Go module, the version
# k8s.io/kubernetes itself requires.
ETCD_VERSION="${ETCD_VERSION:-v3.6.4}"
HELM_VERSION="${HELM_VERSION:-v3.19.5}"

cache_root="${CAIRN_CACHE:-$HOME/.cache/cairn}/kubernetes/${KUBERNETES_VERSION}"
bin_dir="${cache_root}/bin"
mkdir -p "${bin_dir}"

log() { echo "kubernetes.sh: $*" >&2; }

# Go builds are niced so that other builds on the machine keep a core.
go_build() { nice -n 19 go "$@"; }

build_kubernetes() {
  local work="${cache_root}/wrapper"
  mkdir -p "${work}"
  log "building kubernetes ${KUBERNETES_VERSION} (once per version; this takes a while)"
  local minor="${KUBERNETES_VERSION#v1.}"  # 34.4
  local staging_version="v0.${minor}"
  # Read the staging module list from the release's own go.mod.
  local module_json
  module_json="$(cd "${work}" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@${KUBERNETES_VERSION}")"
  local kubernetes_go_mod
  kubernetes_go_mod="$(printf '%s' "${module_json}" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
  local staging_modules
  staging_modules="$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "${kubernetes_go_mod}" | sort -u)"
  if [ -z "${staging_modules}" ]; then
    log "found no staging modules in ${kubernetes_go_mod}"; exit 1
  fi
  local go_directive
  go_directive="$(sed -n 's/^go \(.*\)/\1/p' "${kubernetes_go_mod}")"
  {
    echo "module cairn.dev/e2e/kubernetes-tools"
    echo
    echo "go ${go_directive}"
    echo
    echo "require k8s.io/kubernetes ${KUBERNETES_VERSION}"
    echo
    echo "replace ("
    for module in ${staging_modules}; do
      echo "	${module} => ${module} ${staging_version}"
    done
    echo ")"
  } > "${work}/go.mod"
  # The release's go.mod also carries replace lines for a few third-party modules; keep them.
  sed -n '/^replace (/,/^)/p' "${kubernetes_go_mod}" | grep -v './staging' | grep '=>' \
    | sed 's/^[[:space:]]*/replace /' >> "${work}/go.mod" || true
  cat > "${work}/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  (cd "${work}" && GOFLAGS=-mod=mod go mod tidy -e >&2)
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*} -X k8s.io/client-go/pkg/version.gitVersion=${KUBERNETES_VERSION}"
  for command in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    if [ ! -x "${bin_dir}/${command}" ]; then
      log "go build ${command}"
      (cd "${work}" && CGO_ENABLED=0 go_build build -trimpath -ldflags "${ldflags}" \
        -o "${bin_dir}/${command}.partial" "k8s.io/kubernetes/cmd/${command}" >&2)
      mv "${bin_dir}/${command}.partial" "${bin_dir}/${command}"
    fi
  done
}

for command in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  if [ ! -x "${bin_dir}/${command}" ]; then build_kubernetes; break; fi
done

if [ ! -x "${bin_dir}/etcd" ]; then
  # go.etcd.io/etcd/server/v3 has a main package but replace directives, which `go install
  # module@version` refuses; a wrapper module builds it with the published dependencies.
  log "building etcd ${ETCD_VERSION}"
  etcd_work="${cache_root}/etcd-wrapper"
  mkdir -p "${etcd_work}"
  printf 'module cairn.dev/e2e/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "${ETCD_VERSION}" > "${etcd_work}/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > "${etcd_work}/tools.go"
  (cd "${etcd_work}" && GOFLAGS=-mod=mod go mod tidy -e >&2 \
    && CGO_ENABLED=0 go_build build -trimpath -ldflags "-s -w" -o "${bin_dir}/etcd.partial" go.etcd.io/etcd/server/v3 >&2)
  mv "${bin_dir}/etcd.partial" "${bin_dir}/etcd"
fi
if [ ! -x "${bin_dir}/kwok" ]; then
  log "go install kwok ${KWOK_VERSION}"
  GOBIN="${bin_dir}" CGO_ENABLED=0 go_build install "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}" >&2
fi
if [ ! -x "${bin_dir}/helm" ]; then
  log "go install helm ${HELM_VERSION}"
  GOBIN="${bin_dir}" CGO_ENABLED=0 go_build install "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" >&2
fi

echo "${bin_dir}"
