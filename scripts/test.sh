#!/usr/bin/env bash
# Runs every test of the workspace. Tests start their own redis-server and
# FerretDB processes on free loopback ports and remove them afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export PATH="$HOME/.local/bin:$PATH"
export FERRETDB_BIN="${FERRETDB_BIN:-$HOME/.local/bin/ferretdb}"
cargo build --workspace --all-targets
cargo test --workspace
