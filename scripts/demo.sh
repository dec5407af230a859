#!/usr/bin/env bash
# The main job on the embedded default: sets up the machine, builds, and
# runs the station demo on SQLite with the Leishan demo data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
DATA_DIR="${JINGWU_DATA_DIR:-$PWD/jingwu-data}"
cargo run --locked --release -q -p jingwu-station -- --data-dir "$DATA_DIR" demo
echo "数据目录：$DATA_DIR（再次运行会在同一本地库中追加新的演示案件）"
