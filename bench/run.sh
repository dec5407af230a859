#!/usr/bin/env bash
# Runs every benchmark and prints a table. Usage: bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
bash scripts/postgres.sh >/dev/null
cargo build --locked --release -q -p jingwu-station -p jingwu-bench -p jingwu-desktop
target/release/jingwu-bench target/release/jingwu-station
echo
target/release/jingwu-bench-hub
echo
target/release/jingwu-bench-desktop target/release/jingwu
echo
target/release/jingwu-bench-scan
