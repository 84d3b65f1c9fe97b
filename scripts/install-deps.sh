#!/usr/bin/env bash
# Installs what the local cluster and the tests need and is not there yet:
# redis-server and redis-cli, jq, curl, sqlite3 and nats-server from Debian's
# packages, and
# FerretDB (a MongoDB-wire-compatible server) as a Go module build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v jq >/dev/null || need+=(jq)
command -v curl >/dev/null || need+=(curl)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v nats-server >/dev/null || need+=(nats-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# A system redis-server started by the package is not ours: the nodes start
# their own. Stop it so it does not hold port 6379 needlessly.
for unit in redis-server nats-server; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$unit" 2>/dev/null; then
    systemctl stop "$unit" || true
  fi
done

if [ -z "${SKIP_FERRETDB:-}" ]; then
  "$here/install-ferretdb.sh"
fi
command -v cargo >/dev/null || { echo "install-deps: cargo (Rust) is required" >&2; exit 1; }
