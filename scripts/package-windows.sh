#!/usr/bin/env bash
# Builds the Windows x86_64 installer on Linux:
#
#   bash scripts/package-windows.sh [--debug]
#
# cross-builds jingwu-station.exe (and the desktop app jingwu.exe, see
# below) for x86_64-pc-windows-gnu with Debian's mingw-w64, then the
# setup program dist/Jingwu-<version>-setup.exe from
# packaging/windows/jingwu.nsi with Debian's makensis (per-user install,
# Chinese UI, Start-menu entries, uninstaller; see docs/platforms.md).
# The release profile by default; --debug packages the debug build
# (what scripts/test-windows.sh does, to reuse the tests' compiled output).
# Prints the setup program's path as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

profile=release
case "${1:-}" in
  "") ;;
  --debug) profile=debug ;;
  *) echo "用法：$0 [--debug]" >&2; exit 2 ;;
esac
for tool in cargo x86_64-w64-mingw32-gcc makensis; do
  command -v "$tool" >/dev/null || { echo "找不到 $tool（请先运行 scripts/setup.sh）" >&2; exit 1; }
done

meta="$(cargo metadata --format-version 1 --no-deps)"
field() { python3 -c "import json, sys; m = json.load(sys.stdin); $1" <<<"$meta"; }
TARGET_DIR="$(field 'print(m["target_directory"])')"
VERSION="$(field 'print(next(p["version"] for p in m["packages"] if p["name"] == "jingwu-station"))')"

flags=(--locked --target x86_64-pc-windows-gnu -p jingwu-station)
[ "$profile" = release ] && flags+=(--release)
cargo build "${flags[@]}"
OUT_DIR="$TARGET_DIR/x86_64-pc-windows-gnu/$profile"

mkdir -p dist
SETUP="$PWD/dist/Jingwu-$VERSION-setup.exe"
makensis -V2 -INPUTCHARSET UTF8 \
  -DVERSION="$VERSION" \
  -DSTATION_EXE="$OUT_DIR/jingwu-station.exe" \
  -DOUTFILE="$SETUP" \
  packaging/windows/jingwu.nsi
echo "$SETUP"
