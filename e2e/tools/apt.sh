#!/usr/bin/env bash
# Installs the Debian packages the tests need, skipping what is already installed.
# apt-get update runs at most once per CAIRN_CACHE per day, and only when something is missing.
# Usage: e2e/tools/apt.sh [EXTRA_PACKAGE...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# mariadb-client: the `mysql` CLI under test. mold: the linker run-all.sh builds with.
# libssl-dev, pkg-config, zlib1g-dev: librdkafka (Routine Load) links OpenSSL and zlib.
# curl: HTTP checks. procps: ps/pkill-free process inspection (ps, free).
# ca-certificates: TLS to the package registries.
packages=(mariadb-client mold curl procps ca-certificates python3-venv libssl-dev pkg-config zlib1g-dev "$@")

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  log "all Debian packages present: ${packages[*]}"
  exit 0
fi

stamp="$CAIRN_CACHE/apt-update-$(date +%Y%m%d)"
# The stamp lives in the cache, but a fresh image may have no package lists at all.
if [ ! -f "$stamp" ] || ! compgen -G "/var/lib/apt/lists/*_Packages" > /dev/null; then
  log "apt-get update"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  touch "$stamp"
fi
log "installing: ${missing[*]}"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2

for package in "${missing[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
    || die "package $package did not install"
done
command -v mysql >/dev/null || die "the mysql CLI is not on PATH after installing mariadb-client"
command -v mold >/dev/null || die "mold is not on PATH after installing it"
