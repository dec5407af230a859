#!/usr/bin/env bash
# Issue 17's update acceptance on the installed package, as root:
#  1. builds the .deb of the next version (N+1: the same sources, the
#     version raised through Tauri's configuration, TAURI_CONFIG) and the
#     .deb of this version (N), both from the debug build;
#  2. installs N with apt-get;
#  3. runs the desktop end-to-end test that drives the installed
#     /usr/bin/jingwu: a real hub serves N+1 signed with a key made in the
#     test, the app offers it, installs it on consent (the updater plugin's
#     dpkg -i through sudo) and restarts as N+1;
#  4. removes the package.
# Runnable alone after scripts/setup.sh: bash scripts/test-deb-update.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
die() { echo "deb-update: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "需要 root（安装、更新与卸载软件包）"
command -v sudo >/dev/null || die "找不到 sudo（请运行 scripts/setup.sh）"

version="$(cargo metadata --locked --no-deps --format-version 1 |
  python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "jingwu-desktop"))')"
next="${version%.*}.$(( ${version##*.} + 1 ))"
work="$(mktemp -d "${TMPDIR:-/tmp}/jingwu-deb-update.XXXXXX")"
cleanup() {
  local status=$?
  apt-get purge -y -qq jingwu >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

echo "==> 版本 $next 的 .deb（同一份源码，版本号经 TAURI_CONFIG 提高）"
TAURI_CONFIG="{\"version\":\"$next\"}" bash scripts/package-linux.sh --debug >/dev/null
mv "dist/Jingwu_${next}_amd64.deb" "$work/" || die "没有生成 Jingwu_${next}_amd64.deb"
echo "==> 版本 $version 的 .deb"
bash scripts/package-linux.sh --debug >/dev/null
[ -f "dist/Jingwu_${version}_amd64.deb" ] || die "没有生成 Jingwu_${version}_amd64.deb"

echo "==> 安装 $version"
apt-get purge -y -qq jingwu >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./dist/Jingwu_${version}_amd64.deb" >/dev/null
[ "$(dpkg-query -W -f '${Version}' jingwu)" = "$version" ] || die "安装的版本不是 $version"

echo "==> 已安装的程序经县局更新到 $next 并重启"
JINGWU_E2E_APP=/usr/bin/jingwu \
JINGWU_E2E_UPDATE_DEB="$work/Jingwu_${next}_amd64.deb" \
JINGWU_E2E_UPDATE_VERSION="$next" \
  cargo nextest run --locked -p jingwu-desktop --test e2e --run-ignored only \
    the_installed_deb_updates_itself_with_consent_and_restarts
[ "$(dpkg-query -W -f '${Version}' jingwu)" = "$next" ] || die "更新后的软件包版本不是 $next"
echo "==> 已安装的软件包自动更新通过"
