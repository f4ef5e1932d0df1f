#!/usr/bin/env bash
# Prepares Go for the go-sql-driver tests: GOPATH, GOMODCACHE and GOCACHE under $CAIRN_CACHE,
# and the modules of e2e/clients/go downloaded. Prints `export` lines to eval:
#   eval "$(e2e/tools/go.sh)"
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

command -v go >/dev/null || die "go not found; the machine image ships Go (>= 1.22 needed)"
module_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../clients/go" && pwd)"

export GOPATH="$CAIRN_CACHE/go"
export GOMODCACHE="$CAIRN_CACHE/go/pkg/mod"
export GOCACHE="$CAIRN_CACHE/go-build"
export GOTOOLCHAIN=local
export GOFLAGS=-mod=readonly
mkdir -p "$GOPATH" "$GOMODCACHE" "$GOCACHE"

stamp="$CAIRN_CACHE/go-modules-$(content_hash "$module_dir/go.mod" "$module_dir/go.sum")"
if [ ! -f "$stamp" ]; then
  log "downloading Go modules for $module_dir ($(go version))"
  (cd "$module_dir" && go mod download >&2 && go vet ./... >&2)
  touch "$stamp"
else
  log "Go modules up to date"
fi

for name in GOPATH GOMODCACHE GOCACHE GOTOOLCHAIN GOFLAGS; do
  printf 'export %s=%q\n' "$name" "${!name}"
done
