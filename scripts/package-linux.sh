#!/usr/bin/env bash
# Makes the desktop app's Linux packages, a .deb and an .rpm, with Tauri's
# bundler (the pinned @tauri-apps/cli in packaging/linux/, installed by
# scripts/setup.sh) into dist/.
#
#   scripts/package-linux.sh            release build (cargo build --release)
#   scripts/package-linux.sh --debug    the debug build scripts/test.sh has
#                                       already made (for the package test)
#
# The bundler packs a binary that is already built (`tauri bundle`), so the
# app is compiled once, by cargo. It writes the package type into the
# binary it packs; it is given a copy in a staging directory, so the build
# in $CARGO_TARGET_DIR is never changed. The --debug package's copy has its
# debug information stripped (it is for the test; the release profile's
# binary is packed as built). No AppImage: its tools would be downloaded.
# Bundle settings (dependencies, desktop entry, icons): tauri.conf.json,
# "bundle"; the desktop entry template: packaging/linux/jingwu.desktop.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

profile=release
case "${1:-}" in
  "") ;;
  --debug) profile=debug ;;
  *) echo "用法：$0 [--debug]" >&2; exit 2 ;;
esac

export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
tauri="$root/packaging/linux/node_modules/.bin/tauri"
if [ ! -x "$tauri" ]; then
  echo "找不到 Tauri 打包工具 $tauri，请先运行 scripts/setup.sh。" >&2
  exit 1
fi

if [ "$profile" = release ]; then
  cargo build --locked --release -p jingwu-desktop --bin jingwu
else
  # The same command as scripts/test.sh: nothing recompiles after it.
  cargo build --locked --workspace --bins
fi
bin="$CARGO_TARGET_DIR/$profile/jingwu"
[ -x "$bin" ] || { echo "找不到编译好的程序 $bin。" >&2; exit 1; }

stage="$(mktemp -d "${TMPDIR:-/tmp}/jingwu-package.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/target/$profile"
if [ "$profile" = debug ]; then
  objcopy --strip-debug "$bin" "$stage/target/$profile/jingwu"
else
  cp "$bin" "$stage/target/$profile/jingwu"
fi

flags=()
[ "$profile" = debug ] && flags+=(--debug)
# A county's build settings (e.g. the update key, docs/updates.md) reach
# both the compiled app (tauri-build reads TAURI_CONFIG) and the package.
[ -n "${TAURI_CONFIG:-}" ] && flags+=(--config "$TAURI_CONFIG")
# The bundler finds the app from src-tauri/ (its tauri.conf.json) and the
# binary under CARGO_TARGET_DIR; --ci: never ask anything.
(cd src-tauri && CARGO_TARGET_DIR="$stage/target" "$tauri" bundle --ci "${flags[@]}" --bundles deb rpm)

mkdir -p dist
# Packages of an earlier run (any version) make way for this run's.
rm -f dist/Jingwu_*.deb dist/Jingwu-*.rpm
out=()
for f in "$stage/target/$profile/bundle/deb/"*.deb "$stage/target/$profile/bundle/rpm/"*.rpm; do
  [ -f "$f" ] || { echo "打包工具没有生成 .deb 和 .rpm。" >&2; exit 1; }
  cp "$f" dist/
  out+=("dist/$(basename "$f")")
done
echo "==> Linux 软件包：${out[*]}"
