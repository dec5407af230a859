#!/usr/bin/env bash
# Builds the Windows x86_64 installer on Linux:
#
#   bash scripts/package-windows.sh [--debug] [--no-desktop]
#
# cross-builds jingwu-station.exe and the desktop app jingwu.exe for
# x86_64-pc-windows-gnu with Debian's mingw-w64, then the setup program
# dist/Jingwu-<version>-setup.exe from packaging/windows/jingwu.nsi with
# Debian's makensis (per-user install, Chinese UI, Start-menu entries,
# uninstaller, WebView2 check; see docs/platforms.md "Windows").
#
#   --debug       package the debug builds instead of release ones (what
#                 scripts/test-windows.sh does, to reuse the tests' output)
#   --no-desktop  leave the desktop app out (command-line program only)
#
# The desktop app built with mingw loads WebView2Loader.dll at start; the
# DLL is Microsoft's redistributable shipped inside the webview2-com-sys
# crate (the version in Cargo.lock) and goes beside jingwu.exe.
# Prints the setup program's path as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

profile=release
desktop=1
for arg in "$@"; do
  case "$arg" in
    --debug) profile=debug ;;
    --no-desktop) desktop=0 ;;
    *) echo "用法：$0 [--debug] [--no-desktop]" >&2; exit 2 ;;
  esac
done
for tool in cargo x86_64-w64-mingw32-gcc x86_64-w64-mingw32-strip makensis; do
  command -v "$tool" >/dev/null || { echo "找不到 $tool（请先运行 scripts/setup.sh）" >&2; exit 1; }
done

meta="$(cargo metadata --locked --format-version 1 --filter-platform x86_64-pc-windows-gnu)"
field() { python3 -c "import json, sys; m = json.load(sys.stdin); $1" <<<"$meta"; }
TARGET_DIR="$(field 'print(m["target_directory"])')"
VERSION="$(field 'print(next(p["version"] for p in m["packages"] if p["name"] == "jingwu-station"))')"
# Tests only: the version the installer records (its update path is tested
# by installing a "newer" installer over an older one).
VERSION="${JINGWU_SETUP_VERSION:-$VERSION}"

flags=(--locked --target x86_64-pc-windows-gnu -p jingwu-station)
[ "$desktop" = 1 ] && flags+=(-p jingwu-desktop)
[ "$profile" = release ] && flags+=(--release)
cargo build "${flags[@]}"
OUT_DIR="$TARGET_DIR/x86_64-pc-windows-gnu/$profile"

# The programs as shipped: copies without symbols and debug information
# (a debug build's desktop app shrinks from ~750 MB to ~120 MB).
STAGE="$OUT_DIR/package"
rm -rf "$STAGE"
mkdir -p "$STAGE"
x86_64-w64-mingw32-strip -o "$STAGE/jingwu-station.exe" "$OUT_DIR/jingwu-station.exe"
defines=(-DVERSION="$VERSION" -DSTATION_EXE="$STAGE/jingwu-station.exe")
if [ "$desktop" = 1 ]; then
  x86_64-w64-mingw32-strip -o "$STAGE/jingwu.exe" "$OUT_DIR/jingwu.exe"
  loader_crate="$(field 'import os; print(os.path.dirname(next(p["manifest_path"] for p in m["packages"] if p["name"] == "webview2-com-sys")))')"
  defines+=(-DDESKTOP_EXE="$STAGE/jingwu.exe" -DWEBVIEW2_LOADER="$loader_crate/x64/WebView2Loader.dll")
fi
# Test packages compress quickly; release packages small.
[ "$profile" = debug ] && defines+=(-DFAST)

mkdir -p dist
SETUP="$PWD/dist/Jingwu-$VERSION-setup.exe"
makensis -V2 -INPUTCHARSET UTF8 "${defines[@]}" -DOUTFILE="$SETUP" packaging/windows/jingwu.nsi
echo "$SETUP"
