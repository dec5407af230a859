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
# Compiled output lives outside the clone, so a run after a developer's
# build (or an earlier CI run) on this machine reuses it. Only cargo's own
# output is kept: system packages, Rust targets, tauri-driver and the npm
# packages are checked and installed above and below on every run, so the
# cache cannot hide a missing install step. A fresh clone's own crates are
# always compiled afresh (their sources are newer than any earlier build);
# two clones must not run at once on one cache (docs/platforms.md). When
# the disk runs short the cache is dropped and the run is a cold one.
own_cache=0
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  own_cache=1
  if [ -w /var/cache ]; then
    CARGO_TARGET_DIR=/var/cache/jingwu/target
  else
    CARGO_TARGET_DIR="$HOME/.cache/jingwu/target"
  fi
fi
export CARGO_TARGET_DIR
# Incremental state is kept per crate and clone path: a new clone cannot
# reuse it, so CI does not write it.
export CARGO_INCREMENTAL=0
mkdir -p "$CARGO_TARGET_DIR"
free_kb=$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR==2 {print $4}')
if [ "$own_cache" = 1 ] && [ "$free_kb" -lt $((25 * 1024 * 1024)) ]; then
  echo "==> 磁盘剩余不足 25 GB：清空编译缓存 $CARGO_TARGET_DIR"
  rm -rf "$CARGO_TARGET_DIR"
  mkdir -p "$CARGO_TARGET_DIR"
fi
echo "==> 编译输出目录：$CARGO_TARGET_DIR"
phase_start=$SECONDS
phase() { # phase NAME: prints how long the previous phase took
  echo "==> [$((SECONDS - phase_start)) s] $1"
}
ARTIFACTS="${JINGWU_ARTIFACTS:-$PWD/test-artifacts}"
mkdir -p "$ARTIFACTS"

bash scripts/cups-queue.sh
bash scripts/postgres.sh
phase "cargo fmt --check"
cargo fmt --all -- --check
phase "cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
phase "the statistics reference's own tests (Python, stdlib)"
python3 -m unittest discover -s tests/stats -p 'test_*.py'
phase "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --workspace --no-fail-fast
else
  cargo test --locked --workspace --no-fail-fast
fi
phase "desktop window under Xvfb"
# Same feature set as the workspace test build, so nothing recompiles.
cargo build --locked --workspace --bins
bash src-tauri/smoke.sh "$CARGO_TARGET_DIR/debug/jingwu" "$ARTIFACTS/desktop-start.png"
phase "信创 Arm64 under qemu-user"
bash scripts/test-arm64.sh
phase "Linux packages (.deb and .rpm made from the debug build; the .deb installed, started, removed)"
JINGWU_ARTIFACTS="$ARTIFACTS" bash scripts/test-linux-packages.sh
phase "the installed .deb updates itself from a county hub (N → N+1, consent, restart)"
JINGWU_ARTIFACTS="$ARTIFACTS" bash scripts/test-deb-update.sh
phase "Windows build under Wine"
JINGWU_ARTIFACTS="$ARTIFACTS" bash scripts/test-windows.sh
echo "==> all tests passed in $SECONDS s; artefacts in $ARTIFACTS"
