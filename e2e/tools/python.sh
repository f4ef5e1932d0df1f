#!/usr/bin/env bash
# Builds (once) a virtualenv with the pinned packages of a requirements file and prints its
# path. The default file is e2e/requirements.txt (the client tests); another one, such as
# e2e/bench/requirements.txt, may be given as the only argument. The venv lives at
# $CAIRN_CACHE/venv-<hash of requirements and python version>, so a rerun with unchanged
# requirements is instant.
# Usage: venv="$(e2e/tools/python.sh)"; "$venv/bin/pytest" ...
#        venv="$(e2e/tools/python.sh e2e/bench/requirements.txt)"
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

default_requirements="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/requirements.txt"
[ "$#" -le 1 ] || die "usage: $0 [REQUIREMENTS_FILE]"
requirements="${1:-$default_requirements}"
[ -f "$requirements" ] || die "missing $requirements"
requirements="$(cd "$(dirname "$requirements")" && pwd)/$(basename "$requirements")"
python="${CAIRN_PYTHON:-python3}"
command -v "$python" >/dev/null || die "$python not found; install Python 3.11 (it comes with the machine image)"
python_version="$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"

venv="$CAIRN_CACHE/venv-$(content_hash "$requirements" "$python_version")"
if [ -f "$venv/.complete" ]; then
  log "venv up to date: $venv"
  echo "$venv"
  exit 0
fi

log "creating $venv from $requirements (python $python_version)"
rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements" >&2
if [ "$requirements" = "$default_requirements" ]; then
  "$venv/bin/python" -c 'import pymysql, mysql.connector, pytest, requests, pexpect, confluent_kafka' \
    || die "the venv $venv cannot import the client packages"
  # The C extension links the system's OpenSSL; a wheel built for a newer one fails here.
  "$venv/bin/python" -c 'import mysql.connector.connection_cext' >&2 \
    || die "mysql-connector-python's C extension does not load in $venv"
fi
touch "$venv/.complete"
echo "$venv"
