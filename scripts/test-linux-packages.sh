#!/usr/bin/env bash
# The Linux packages, end to end (as root; run by scripts/test.sh):
#  1. makes the .deb and .rpm from the debug build (scripts/package-linux.sh
#     --debug) and checks their metadata: name, version, architecture,
#     declared dependencies (every library the binary links, and the tray's
#     libayatana-appindicator3-1, which is loaded at run time), the desktop
#     entry and the icons;
#  2. installs the .deb with apt-get (a package left by an earlier run is
#     removed first), checks the installed desktop entry and icons, and
#     starts the INSTALLED app (/usr/bin/jingwu) under Xvfb
#     (src-tauri/smoke.sh) as a user with its own home directories;
#  3. removes it with apt-get remove and checks that every path the package
#     installed is gone (directories that other packages own excepted)
#     while the user's data directory is kept.
# Screenshot: $JINGWU_ARTIFACTS (default test-artifacts/)/package-start.png.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
ARTIFACTS="${JINGWU_ARTIFACTS:-$root/test-artifacts}"
mkdir -p "$ARTIFACTS"

fail() { echo "Linux 软件包测试失败：$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "需要 root 权限（安装和卸载 .deb）"

pkg=jingwu
version=$(cargo metadata --no-deps --format-version 1 --locked |
  jq -r '.packages[] | select(.name == "jingwu-desktop") | .version')
[ -n "$version" ] || fail "读不到 jingwu-desktop 的版本号"

t0=$SECONDS
bash scripts/package-linux.sh --debug
echo "==> 打包用时 $((SECONDS - t0)) s"
deb="dist/Jingwu_${version}_amd64.deb"
rpm="dist/Jingwu-${version}-1.x86_64.rpm"
[ -f "$deb" ] || fail "没有生成 $deb"
[ -f "$rpm" ] || fail "没有生成 $rpm"

# ---- 1. metadata ----------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = "$pkg" ] || fail ".deb 的包名是 '$(field Package)'"
[ "$(field Version)" = "$version" ] || fail ".deb 的版本是 '$(field Version)'"
[ "$(field Architecture)" = amd64 ] || fail ".deb 的架构是 '$(field Architecture)'"
[ -n "$(field Description)" ] || fail ".deb 没有说明"
depends=$(field Depends | tr ',' '\n' | sed -E 's/^ +//; s/ .*//' | sort -u)
has_dep() { grep -qx "$1" <<<"$depends"; }
for d in libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1; do
  has_dep "$d" || fail ".deb 没有声明依赖 $d（Depends: $(field Depends)）"
done
# Every library the packed binary links comes from a declared dependency
# or from one of theirs (libc6 through libgtk-3-0, and so on).
unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
indirect=$(for d in $depends; do
  dpkg-query -W -f='${Depends}\n' "$d" 2>/dev/null | tr ',|' '\n\n' | sed -E 's/^ +//; s/[ :].*//'
done | sort -u)
for lib in $(readelf -d "$unpacked/usr/bin/jingwu" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p'); do
  # (awk reads to the end: an early exit would kill ldconfig with SIGPIPE,
  # which pipefail turns into a failure)
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ && p == "" {p = $NF} END {print p}')
  [ -n "$path" ] || fail "找不到 $lib"
  # dpkg knows a library by the path its package installed (/lib or
  # /usr/lib on a merged /usr): ask for the link and for its target.
  owner=$({ dpkg -S "$path" || dpkg -S "$(readlink -f "$path")"; } 2>/dev/null |
    head -n 1 | cut -d: -f1 || true)
  [ -n "$owner" ] || fail "找不到 $lib 属于哪个软件包"
  has_dep "$owner" || grep -qx "$owner" <<<"$indirect" ||
    fail "程序链接的 $lib（软件包 $owner）不在 .deb 声明的依赖里"
done
contents=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./||')
for f in usr/bin/jingwu usr/share/applications/Jingwu.desktop \
  usr/share/icons/hicolor/32x32/apps/jingwu.png \
  usr/share/icons/hicolor/128x128/apps/jingwu.png \
  usr/share/icons/hicolor/512x512/apps/jingwu.png; do
  grep -qx "$f" <<<"$contents" || fail ".deb 里没有 $f"
done
desktop-file-validate "$unpacked/usr/share/applications/Jingwu.desktop" ||
  fail "桌面启动项不合规范"

q() { rpm -qp --nosignature --queryformat "$1" "$rpm" 2>/dev/null; }
[ "$(q '%{NAME} %{VERSION} %{ARCH}')" = "$pkg $version x86_64" ] ||
  fail ".rpm 的名称、版本、架构是 '$(q '%{NAME} %{VERSION} %{ARCH}')'"
requires=$(rpm -qpR --nosignature "$rpm" 2>/dev/null | sed -E 's/ .*//')
for d in webkit2gtk4.1 gtk3 libayatana-appindicator-gtk3; do
  grep -qx "$d" <<<"$requires" || fail ".rpm 没有声明依赖 $d"
done
files=$(rpm -qpl --nosignature "$rpm" 2>/dev/null)
for f in /usr/bin/jingwu /usr/share/applications/Jingwu.desktop \
  /usr/share/icons/hicolor/128x128/apps/jingwu.png; do
  grep -qx "$f" <<<"$files" || fail ".rpm 里没有 $f"
done
echo "==> .deb 与 .rpm 的元数据、依赖和文件清单正确"

# ---- 2. install and start the installed app ------------------------------
export DEBIAN_FRONTEND=noninteractive
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "installed"; then
  echo "==> 先卸载上次留下的 $pkg"
  apt-get purge -y -qq "$pkg" >/dev/null
fi
apt-get install -y -qq "./$deb" >/dev/null
dpkg-query -W -f='${Status} ${Version}' "$pkg" | grep -qx "install ok installed $version" ||
  fail "$pkg $version 没有装上"
dpkg --verify "$pkg" || fail "装上的文件与 .deb 不一致"
[ "$(command -v jingwu)" = /usr/bin/jingwu ] || fail "jingwu 不在 /usr/bin"
entry=/usr/share/applications/Jingwu.desktop
[ -f "$entry" ] || fail "没有装上桌面启动项 $entry"
exec_cmd=$(sed -n 's/^Exec=//p' "$entry")
icon=$(sed -n 's/^Icon=//p' "$entry")
[ "$(command -v "$exec_cmd")" = /usr/bin/jingwu ] || fail "启动项的 Exec=$exec_cmd 找不到程序"
for size in 32x32 128x128 512x512; do
  [ -f "/usr/share/icons/hicolor/$size/apps/$icon.png" ] || fail "没有装上 $size 图标"
done

user_dir="$(mktemp -d)"
trap 'rm -rf "$unpacked" "$user_dir"' EXIT
SMOKE_USER_DIR="$user_dir" bash src-tauri/smoke.sh /usr/bin/jingwu "$ARTIFACTS/package-start.png"
data_dir="$user_dir/data/cn.gov.leishan.jingwu"
[ -n "$(ls -A "$data_dir")" ] || fail "装上的程序没有在 $data_dir 写下数据"

# ---- 3. remove: nothing left but the user's data -------------------------
dpkg -L "$pkg" >"$unpacked/installed.txt"
apt-get remove -y -qq "$pkg" >/dev/null
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q " installed"; then
  fail "apt-get remove 之后 $pkg 仍是已安装状态"
fi
left=()
while IFS= read -r p; do
  [ -e "$p" ] || [ -L "$p" ] || continue
  # A directory other packages also own (/usr/bin, hicolor's) stays.
  if [ -d "$p" ] && dpkg -S "$p" >/dev/null 2>&1; then continue; fi
  left+=("$p")
done <"$unpacked/installed.txt"
[ ${#left[@]} -eq 0 ] || fail "卸载后留下了：${left[*]}"
[ -n "$(ls -A "$data_dir")" ] || fail "卸载时用户数据 $data_dir 被删了"
echo "==> .deb 装上、从安装路径启动、卸载干净（用户数据保留）；用时 $((SECONDS - t0)) s"
