#!/usr/bin/env bash
# Runs every benchmark and prints a table. Usage: bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
cargo build --locked --release -q -p jingwu-station -p jingwu-bench
exec target/release/jingwu-bench target/release/jingwu-station
