#!/usr/bin/env bash
# The main job on the embedded default: sets up the machine, builds, runs
# the station demo on SQLite with the Leishan demo data, then the county
# flow: a hub (SQLite, TLS on loopback) and four station clients carrying
# one 户口变更 through the whole chain, the result arriving live.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
DATA_DIR="${JINGWU_DATA_DIR:-$PWD/jingwu-data}"
cargo build --locked --release -q -p jingwu-station -p jingwu-hub
target/release/jingwu-station --data-dir "$DATA_DIR" demo
echo "数据目录：$DATA_DIR（再次运行会在同一本地库中追加新的演示案件）"
WORK="$DATA_DIR/county-$(date +%Y%m%d-%H%M%S)"
BIN=target/release bash scripts/hub-demo.sh "$WORK"
