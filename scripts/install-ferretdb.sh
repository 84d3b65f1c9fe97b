#!/usr/bin/env bash
# Builds FerretDB v1.24.2 (a MongoDB-wire-compatible server with an SQLite
# backend) from the Go module proxy into $FERRETDB_BIN (default
# ~/.local/bin/ferretdb). The tests and the local cluster use it in place of
# mongod, which no package registry here serves.
#
# Two changes to the module as served:
# - it lacks the generated build/version/version.txt, which FerretDB refuses
#   to start without: we write it;
# - SCRAM login: MongoDB ends a SCRAM-SHA-256 conversation one round trip
#   early when the client asks for it (`skipEmptyExchange`), and the official
#   Rust driver (3.x) relies on that; FerretDB 1.24 ignores the option and
#   answers `done: false`, so the driver cannot log in. The patch makes
#   FerretDB answer `done: true` as soon as the conversation is valid, as
#   MongoDB does. The nodes then talk to FerretDB and to mongod with the
#   same, unmodified driver.
set -euo pipefail
version=v1.24.2
stamp="$version+skip-empty-exchange"
bin=${FERRETDB_BIN:-$HOME/.local/bin/ferretdb}
if [ -x "$bin" ] && [ "$(cat "$bin.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "ferretdb $stamp already at $bin"; exit 0
fi
command -v go >/dev/null || { echo "install-ferretdb: go is required" >&2; exit 1; }
command -v python3 >/dev/null || { echo "install-ferretdb: python3 is required" >&2; exit 1; }
src=$(go mod download -json "github.com/FerretDB/FerretDB@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "install-ferretdb: module download failed" >&2; exit 1; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$src/." "$work/"
chmod -R u+w "$work"
echo "$version" > "$work/build/version/version.txt"
python3 "$(dirname "$0")/ferretdb-skip-empty-exchange.py" "$work/internal/handler/msg_saslcontinue.go"
mkdir -p "$(dirname "$bin")"
(cd "$work" && GOFLAGS=-mod=mod go build -ldflags=-checklinkname=0 -o "$bin" ./cmd/ferretdb)
echo "$stamp" > "$bin.stamp"
echo "ferretdb $stamp installed at $bin"
