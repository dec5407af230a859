#!/usr/bin/env bash
# Sets up the machine and runs every test: formatting, lints, the Rust
# test suite (unit, property, store crash, OpenSSL interop, CLI, the county
# hub on SQLite and on PostgreSQL at 127.0.0.1:5432, the real binaries over
# TLS, the hub-served UI in headless Chromium) and the real desktop window
# under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
ARTIFACTS="${JINGWU_ARTIFACTS:-$PWD/test-artifacts}"
mkdir -p "$ARTIFACTS"

bash scripts/cups-queue.sh
bash scripts/postgres.sh
echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "==> the statistics reference's own tests (Python, stdlib)"
python3 -m unittest discover -s tests/stats -p 'test_*.py'
echo "==> tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --workspace --no-fail-fast
else
  cargo test --locked --workspace --no-fail-fast
fi
echo "==> desktop window under Xvfb"
# Same feature set as the workspace test build, so nothing recompiles.
cargo build --locked --workspace --bins
bash src-tauri/smoke.sh target/debug/jingwu "$ARTIFACTS/desktop-start.png"
echo "==> all tests passed; artefacts in $ARTIFACTS"
