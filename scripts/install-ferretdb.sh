#!/usr/bin/env bash
# Builds FerretDB v1.24.2 (a MongoDB-wire-compatible server with an SQLite
# backend) from the Go module proxy into $FERRETDB_BIN (default
# ~/.local/bin/ferretdb). The module as served lacks the generated
# build/version/version.txt, which FerretDB refuses to start without, so we
# build from a copy of the module with that one file written in.
set -euo pipefail
version=v1.24.2
bin=${FERRETDB_BIN:-$HOME/.local/bin/ferretdb}
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "${version#v}"; then
  echo "ferretdb $version already at $bin"; exit 0
fi
command -v go >/dev/null || { echo "install-ferretdb: go is required" >&2; exit 1; }
src=$(go mod download -json "github.com/FerretDB/FerretDB@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "install-ferretdb: module download failed" >&2; exit 1; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$src/." "$work/"
chmod -R u+w "$work"
echo "$version" > "$work/build/version/version.txt"
mkdir -p "$(dirname "$bin")"
(cd "$work" && GOFLAGS=-mod=mod go build -ldflags=-checklinkname=0 -o "$bin" ./cmd/ferretdb)
"$bin" --version | head -1
