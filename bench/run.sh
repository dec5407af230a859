#!/usr/bin/env bash
# Runs every benchmark and prints a table. Usage: bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
bash scripts/postgres.sh >/dev/null
cargo build --locked --release -q -p jingwu-station -p jingwu-bench -p jingwu-desktop
# The statistics benchmark's peer DuckDB: its Python package, pinned, in a
# venv under target/ (the benchmark's only; not a project dependency).
DUCKDB_VERSION=2.0.1
venv=target/bench-venv
if ! "$venv/bin/python" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$DUCKDB_VERSION')" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "duckdb==$DUCKDB_VERSION"
fi
target/release/jingwu-bench target/release/jingwu-station
echo
target/release/jingwu-bench-hub
echo
target/release/jingwu-bench-desktop target/release/jingwu
echo
target/release/jingwu-bench-scan
echo
JINGWU_BENCH_PYTHON="$venv/bin/python" target/release/jingwu-bench-stats
