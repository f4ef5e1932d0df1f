# Shared helpers for the e2e installer scripts. Source it; it does nothing on its own.
# shellcheck shell=bash

CAIRN_CACHE="${CAIRN_CACHE:-$HOME/.cache/cairn}"
export CAIRN_CACHE
mkdir -p "$CAIRN_CACHE"

# Messages go to stderr so that scripts can print their result on stdout.
log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root (or passwordless sudo) to run: $*"
  fi
}

# Short content hash of files and strings, for cache keys.
content_hash() {
  { for item in "$@"; do if [ -f "$item" ]; then cat "$item"; else printf '%s' "$item"; fi; done; } \
    | sha256sum | cut -c1-16
}
