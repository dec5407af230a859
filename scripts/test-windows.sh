#!/usr/bin/env bash
# Windows acceptance on the Linux build machine (issue 17): the station CLI
# cross-built for x86_64-pc-windows-gnu runs under Wine and gives the same
# results as the Linux build, and the NSIS installer installs and
# uninstalls silently.
#
#   bash scripts/test-windows.sh        (scripts/test.sh runs it too)
#
#  1. builds jingwu-station for Linux and for Windows (debug profile, the
#     one the rest of the tests use, so CI compiles little) and lints the
#     Windows-only code (clippy for x86_64-pc-windows-gnu);
#  2. in a throw-away Wine prefix: `demo`, `verify`, `slip`, `verify-slip`
#     under Wine; each store verified by the other platform's binary; the
#     slip of the same signed case made by both binaries carries the same
#     QR payload, byte for byte; each slip checks on the other platform;
#     the Wine-made slip embeds its CJK font subset; without --data-dir
#     the .exe keeps its data under %APPDATA%\Jingwu\station;
#  3. builds the installer (scripts/package-windows.sh --debug, with the
#     desktop app unless JINGWU_WIN_DESKTOP=0), installs it with /S, checks
#     files, Start-menu shortcuts, the uninstall entry and the programs'
#     imports, runs the installed station exe, uninstalls with /S and
#     checks that all is gone but the user's data.
#
# Debian 12's Wine 8.0 has no bcryptprimitives.dll, which Rust's standard
# library needs on Windows (ProcessPrng). The test builds a stand-in from
# tests/windows/bcryptprimitives-shim.c and puts it beside its own copies
# of the .exe only; it never goes into the product or the installer.
#
# Needs: cargo with the x86_64-pc-windows-gnu target, mingw-w64, wine
# (64-bit), makensis, pdftoppm, pdffonts (poppler-utils), zbarimg
# (zbar-tools) -- all from scripts/setup.sh. Artefacts (the slips, the
# outputs, the install log) go to $JINGWU_ARTIFACTS/windows; the setup
# program stays in dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

die() {
  echo "Windows 测试失败 / Windows test FAILED: $*" >&2
  exit 1
}
step() { echo "--> $*"; }

for tool in cargo x86_64-w64-mingw32-gcc wine wineserver makensis pdftoppm pdffonts zbarimg; do
  command -v "$tool" >/dev/null || die "找不到 $tool（请先运行 scripts/setup.sh） / '$tool' not found"
done

TARGET_DIR="$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
ARTIFACTS="${JINGWU_ARTIFACTS:-$PWD/test-artifacts}/windows"
mkdir -p "$ARTIFACTS"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/jingwu-windows.XXXXXX")"

export WINEPREFIX="$WORK/prefix" WINEARCH=win64 WINEDEBUG=-all
# No Mono or Gecko (Wine would offer to download them), and no Linux menu
# entries for the Start-menu shortcuts the installer makes.
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
unset DISPLAY JINGWU_DATA_DIR
cleanup() {
  local rc=$?
  wineserver -k >/dev/null 2>&1 || true
  if [ "$rc" -eq 0 ]; then
    rm -rf "$WORK"
  else
    echo "保留现场 / work kept for inspection: $WORK" >&2
  fi
}
trap cleanup EXIT

# A Unix path as Wine's Z: drive sees it.
winpath() { printf 'Z:%s' "${1//\//\\}"; }
# wine_run <exe> <args…>: one program under Wine, bounded; its standard
# output and error pass through as the program wrote them (UTF-8).
wine_run() { timeout 300 wine "$@"; }

# ----- builds ---------------------------------------------------------------
step "编译 Linux 版与 Windows 版 / building for Linux and Windows (debug)"
# The same command as scripts/test.sh's desktop phase: nothing rebuilds.
cargo build --locked --workspace --bins -q
# The same set as package-windows.sh --debug builds, so it reuses this.
if [ "${JINGWU_WIN_DESKTOP:-1}" = 1 ]; then
  win_pkgs=(-p jingwu-station -p jingwu-desktop)
  package_flags=(--debug)
else
  win_pkgs=(-p jingwu-station)
  package_flags=(--debug --no-desktop)
fi
cargo build --locked --target x86_64-pc-windows-gnu "${win_pkgs[@]}" -q
# The Windows-only code (printing in jingwu-winprint, the %APPDATA% data
# directory, the desktop's toasts) cannot run under Wine; it must at least
# pass clippy.
cargo clippy --locked --target x86_64-pc-windows-gnu -q \
  -p jingwu-winprint -p jingwu-slip "${win_pkgs[@]}" -- -D warnings
LINUX_BIN="$TARGET_DIR/debug/jingwu-station"
WIN_EXE="$TARGET_DIR/x86_64-pc-windows-gnu/debug/jingwu-station.exe"
[ -x "$LINUX_BIN" ] || die "缺少 $LINUX_BIN"
[ -f "$WIN_EXE" ] || die "缺少 $WIN_EXE"

# The test's own copy of the exe, with the stand-in DLL beside it.
mkdir -p "$WORK/bin"
cp "$WIN_EXE" "$WORK/bin/jingwu-station.exe"
x86_64-w64-mingw32-gcc -shared -O2 -Wall -Wextra -Werror -Wl,--kill-at \
  -o "$WORK/bin/bcryptprimitives.dll" tests/windows/bcryptprimitives-shim.c -ladvapi32
EXE="$WORK/bin/jingwu-station.exe"

step "新建 Wine 前缀 / fresh Wine prefix"
timeout 300 wine wineboot -i >"$WORK/wineboot.log" 2>&1 ||
  die "wineboot 失败（见 $WORK/wineboot.log）"
timeout 120 wineserver -w

# ----- the station CLI: Linux and Windows side by side ----------------------
lin() { "$LINUX_BIN" "$@"; }
win() { wine_run "$EXE" "$@"; }

step "--version"
lv="$(lin --version)"
wv="$(win --version)"
[ "$lv" = "$wv" ] || die "版本不一致 / versions differ: Linux '$lv', Windows '$wv'"

# Drops what differs by design between two runs of the demo (ids, 受理编号
# and times are new each run; the wording, order and checks are not).
normalise() {
  sed -E \
    -e 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/<id>/g' \
    -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+([+-][0-9:]+|Z)?/<time>/g' \
    -e 's/[0-9]{12}-[0-9]{8}-[0-9A-F]{8}-[0-9]{4}/<no>/g' \
    -e 's/[0-9]{8,}/<n>/g'
}

LSTORE="$WORK/linux-store"
WSTORE="$WORK/windows-store"
step "demo：Linux 与 Wine 各跑一次 / demo on both"
lin --data-dir "$LSTORE" demo >"$ARTIFACTS/demo-linux.txt"
win --data-dir "$(winpath "$WSTORE")" demo >"$ARTIFACTS/demo-windows.txt" ||
  die "Wine 下 demo 失败 / demo failed under Wine"
diff <(normalise <"$ARTIFACTS/demo-linux.txt") <(normalise <"$ARTIFACTS/demo-windows.txt") ||
  die "demo 输出不一致 / demo output differs (Linux vs Windows)"

step "verify：各自的库，再交叉校验 / verify own and the other's store"
want="$(lin --data-dir "$LSTORE" verify)"
[[ "$want" =~ ^已校验\ [1-9][0-9]*\ 个案件，全部通过。$ ]] ||
  die "Linux 版 verify 结果不对 / unexpected verify output: $want"
check_verify() { # check_verify <lin|win> <store>
  local got store="$2"
  [ "$1" = win ] && store="$(winpath "$2")"
  got="$("$1" --data-dir "$store" verify)" || die "verify 失败 / verify failed: $1 $2"
  [ "$got" = "$want" ] || die "verify 结果不一致 / verify output differs ($1 $2): $got"
}
check_verify lin "$WSTORE"
check_verify win "$LSTORE"
check_verify win "$WSTORE"

step "slip：同一签名案件，两个平台各出一张通知单 / slip of one case on both"
case_line="$(lin --data-dir "$LSTORE" list | grep '  已同意 ' | head -1)" ||
  die "演示库中没有已同意的户口变更案件 / no approved case in the demo store"
case_id="${case_line%% *}"
lin --data-dir "$LSTORE" slip "$case_id" --out "$ARTIFACTS/slip-linux.pdf" >/dev/null
win --data-dir "$(winpath "$LSTORE")" slip "$case_id" \
  --out "$(winpath "$ARTIFACTS/slip-windows.pdf")" >/dev/null ||
  die "Wine 下 slip 失败 / slip failed under Wine"

qr_payload() { # qr_payload <pdf> <out>: the raw QR text of page 1
  pdftoppm -r 200 -png -f 1 -l 1 "$1" "$WORK/qr-page"
  zbarimg --raw -q -Sdisable -Sqrcode.enable "$WORK"/qr-page*.png >"$2" 2>"$WORK/zbarimg.log" ||
    die "读不出 $1 的二维码 / no QR code found in $1: $(cat "$WORK/zbarimg.log")"
  rm -f "$WORK"/qr-page*.png
}
qr_payload "$ARTIFACTS/slip-linux.pdf" "$ARTIFACTS/qr-linux.txt"
qr_payload "$ARTIFACTS/slip-windows.pdf" "$ARTIFACTS/qr-windows.txt"
[ -s "$ARTIFACTS/qr-linux.txt" ] || die "二维码内容为空 / empty QR payload"
cmp "$ARTIFACTS/qr-linux.txt" "$ARTIFACTS/qr-windows.txt" ||
  die "同一案件的二维码内容不一致 / the QR payloads of the same case differ (Linux vs Windows)"

step "verify-slip：交叉核验 / each slip checked on the other platform"
lin --data-dir "$LSTORE" verify-slip "$ARTIFACTS/slip-windows.pdf" >"$ARTIFACTS/verify-slip-linux.txt" ||
  die "Linux 版核验 Wine 生成的通知单失败 / Linux rejects the Windows-made slip"
win --data-dir "$(winpath "$LSTORE")" verify-slip "$(winpath "$ARTIFACTS/slip-linux.pdf")" \
  >"$ARTIFACTS/verify-slip-windows.txt" ||
  die "Wine 下核验 Linux 生成的通知单失败 / Windows build rejects the Linux-made slip"
head -1 "$ARTIFACTS/verify-slip-linux.txt" | grep -q '^有效：' ||
  die "核验结果不是“有效” / slip not valid: $(head -1 "$ARTIFACTS/verify-slip-linux.txt")"
cmp "$ARTIFACTS/verify-slip-linux.txt" "$ARTIFACTS/verify-slip-windows.txt" ||
  die "两个平台的核验结果不一致 / verify-slip output differs (Linux vs Windows)"

step "Wine 生成的通知单嵌入了中文字体子集 / CJK font subset embedded"
pdffonts "$ARTIFACTS/slip-windows.pdf" >"$ARTIFACTS/pdffonts-windows.txt"
# name (SUBSET+Face) type encoding emb sub uni object ID
awk 'NR > 2 && $1 ~ /^[A-Z]{6}\+/ && $(NF-4) == "yes" && $(NF-3) == "yes" { ok = 1 }
     END { exit !ok }' "$ARTIFACTS/pdffonts-windows.txt" ||
  die "通知单没有嵌入字体子集 / no embedded font subset: $(cat "$ARTIFACTS/pdffonts-windows.txt")"

step "未指定数据目录时数据在 %APPDATA%\\Jingwu\\station / default data dir"
( cd "$WORK" && win list >/dev/null ) || die "Wine 下 list 失败 / list failed under Wine"
compgen -G "$WINEPREFIX/drive_c/users/*/AppData/Roaming/Jingwu/station/station.db" >/dev/null ||
  die "默认数据目录不在 %APPDATA%\\Jingwu\\station / station.db not under %APPDATA%\\Jingwu\\station"
[ ! -e "$WORK/jingwu-data" ] || die "数据写到了当前目录 / data went to the working directory"

echo "==> Windows 版派出所端在 Wine 下与 Linux 版结果一致 / the Windows build agrees with Linux"

# ----- the installer: silent install and uninstall ---------------------------
step "安装包 / building the installer (debug build)"
SETUP="$(bash scripts/package-windows.sh "${package_flags[@]}" | tail -1)"
STAGE="$TARGET_DIR/x86_64-pc-windows-gnu/debug/package"
[ -f "$SETUP" ] || die "没有生成安装包 / no setup program: $SETUP"

USER_DIR="$WINEPREFIX/drive_c/users/$(id -un)"
INST="$USER_DIR/AppData/Local/Programs/Jingwu"
MENU="$USER_DIR/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/警务协同"
KEY='HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\Jingwu'
VERSION="${lv##* }"

lnk_points_to() { # lnk_points_to <lnk> <text>: the shortcut names <text>
  python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); t = sys.argv[2]
sys.exit(0 if t.encode() in d or t.encode("utf-16-le") in d else 1)' "$1" "$2"
}
step "静默安装 / silent install (/S)"
wine_run "$SETUP" /S || die "安装程序返回错误 / the installer failed"
timeout 120 wineserver -w
cmp "$INST/jingwu-station.exe" "$STAGE/jingwu-station.exe" ||
  die "安装的程序不对 / installed exe missing or different"
# What a program loads must be Windows' own or shipped beside it (no
# mingw runtime DLL): checked on the import tables, as the desktop app
# cannot start under Wine (no WebView2).
system_dlls=" $(echo advapi32.dll kernel32.dll userenv.dll ws2_32.dll bcrypt.dll \
  bcryptprimitives.dll combase.dll comctl32.dll crypt32.dll dwmapi.dll gdi32.dll imm32.dll \
  msvcrt.dll ntdll.dll ole32.dll oleaut32.dll propsys.dll rpcrt4.dll shell32.dll shlwapi.dll \
  user32.dll winspool.drv uxtheme.dll version.dll secur32.dll ncrypt.dll dbghelp.dll) "
check_imports() { # check_imports <exe> <dll shipped beside it>…
  local exe="$1" dll
  shift
  for dll in $(x86_64-w64-mingw32-objdump -p "$exe" | awk '/DLL Name:/ { print tolower($3) }' | sort -u); do
    case "$dll" in api-ms-win-*) continue ;; esac
    [[ "$system_dlls" == *" $dll "* ]] && continue
    if [[ " $* " == *" $dll "* ]] && ls "$(dirname "$exe")" | tr 'A-Z' 'a-z' | grep -qxF "$dll"; then
      continue
    fi
    die "$(basename "$exe") 依赖未随附的 $dll / imports $dll, which is neither Windows' nor shipped"
  done
}
check_imports "$INST/jingwu-station.exe"
if [ "${JINGWU_WIN_DESKTOP:-1}" = 1 ]; then
  cmp "$INST/jingwu.exe" "$STAGE/jingwu.exe" || die "桌面程序没有安装 / desktop app missing or different"
  check_imports "$INST/jingwu.exe" webview2loader.dll
  lnk_points_to "$MENU/警务协同.lnk" jingwu.exe ||
    die "开始菜单没有桌面程序快捷方式 / desktop Start-menu shortcut missing or wrong"
fi
[ -f "$INST/uninstall.exe" ] || die "没有卸载程序 / no uninstaller"
[ ! -e "$INST/bcryptprimitives.dll" ] || die "安装包里不该有测试用 DLL / the test DLL is in the package"
iconv -f UTF-16 -t UTF-8 "$INST/install.log" >"$ARTIFACTS/install.log"
# Wine has no WebView2: the silent install notes what to do and goes on.
grep -q '未检测到 WebView2 运行时' "$ARTIFACTS/install.log" ||
  die "安装日志没有 WebView2 提示 / no WebView2 note in the install log"
grep -q '安装完成' "$ARTIFACTS/install.log" || die "安装未完成 / install did not finish"
lnk_points_to "$MENU/警务协同 命令行.lnk" jingwu-station.exe ||
  die "开始菜单没有命令行快捷方式 / Start-menu shortcut missing or wrong"
lnk_points_to "$MENU/卸载警务协同.lnk" uninstall.exe ||
  die "开始菜单没有卸载快捷方式 / uninstall shortcut missing or wrong"

timeout 60 wine reg export "$KEY" "$WORK/uninstall.reg" /y >/dev/null ||
  die "注册表里没有卸载项 / no uninstall entry in the registry"
# The entry's string values as name=value, unescaped.
python3 - "$WORK/uninstall.reg" >"$ARTIFACTS/uninstall-entry.txt" <<'PY'
import re, sys
for line in open(sys.argv[1], encoding="utf-16"):
    m = re.match(r'^"([^"]+)"="(.*)"\s*$', line)
    if m:
        print(m[1] + "=" + re.sub(r'\\(.)', r'\1', m[2]))
PY
inst_win="C:\\users\\$(id -un)\\AppData\\Local\\Programs\\Jingwu"
for line in "DisplayName=警务协同" "DisplayVersion=$VERSION" "Publisher=雷山县公安局" \
  "UninstallString=\"$inst_win\\uninstall.exe\"" \
  "QuietUninstallString=\"$inst_win\\uninstall.exe\" /S"; do
  grep -qxF "$line" "$ARTIFACTS/uninstall-entry.txt" ||
    die "卸载项缺少 / uninstall entry lacks: $line"
done

step "运行安装后的程序 / the installed exe runs"
cp "$WORK/bin/bcryptprimitives.dll" "$INST/"
got="$(wine_run "$INST/jingwu-station.exe" --version)" || die "安装后的程序无法运行 / installed exe does not run"
rm "$INST/bcryptprimitives.dll"
[ "$got" = "$lv" ] || die "安装后的版本不对 / installed version: $got"

step "更新安装 / an update over the installed version (/P /UPDATE /ARGS, as the app's updater starts it)"
next="${VERSION%.*}.$(( ${VERSION##*.} + 1 ))"
SETUP2="$(JINGWU_SETUP_VERSION="$next" bash scripts/package-windows.sh "${package_flags[@]}" | tail -1)"
[ "$SETUP2" != "$SETUP" ] || die "更新安装包与原安装包同名 / the update's setup has the same name"
wine_run "$SETUP2" /P /UPDATE /ARGS || die "更新安装返回错误 / the update install failed"
timeout 120 wineserver -w
iconv -f UTF-16 -t UTF-8 "$INST/install.log" >"$ARTIFACTS/update-install.log"
grep -q '更新：等待警务协同退出后替换程序文件' "$ARTIFACTS/update-install.log" ||
  die "更新安装没有走更新流程 / the update path was not taken"
grep -q '安装完成' "$ARTIFACTS/update-install.log" || die "更新安装未完成 / the update did not finish"
cmp "$INST/jingwu-station.exe" "$STAGE/jingwu-station.exe" ||
  die "更新后程序文件不对 / installed exe missing after the update"
timeout 60 wine reg export "$KEY" "$WORK/uninstall2.reg" /y >/dev/null ||
  die "更新后注册表里没有卸载项 / no uninstall entry after the update"
iconv -f UTF-16 -t UTF-8 "$WORK/uninstall2.reg" | tr -d '\r' | grep -qxF "\"DisplayVersion\"=\"$next\"" ||
  die "更新后版本号不是 $next / DisplayVersion is not $next after the update"
rm -f "$SETUP2"

step "静默卸载 / silent uninstall (/S)"
wine_run "$INST/uninstall.exe" /S || die "卸载程序返回错误 / the uninstaller failed"
# The uninstaller runs on from a copy in %TEMP%: wait for every Wine
# process to end.
timeout 120 wineserver -w
[ ! -e "$INST" ] || die "卸载后仍有程序文件 / files left after uninstall: $(ls -A "$INST")"
[ ! -e "$MENU" ] || die "卸载后开始菜单仍有快捷方式 / Start-menu entries left"
if timeout 60 wine reg query "$KEY" >/dev/null 2>&1; then
  die "卸载后注册表仍有卸载项 / uninstall entry left in the registry"
fi
compgen -G "$USER_DIR/AppData/Roaming/Jingwu/station/station.db" >/dev/null ||
  die "卸载删掉了用户数据 / the uninstaller removed the user's data"
echo "==> 安装包在 Wine 下静默安装、卸载正常 / the installer installs and uninstalls silently"
