#!/usr/bin/env bash
# Installs everything Jingwu needs on a Debian 12 machine, as root.
# Idempotent: packages already present are not reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages, one list for building, running and testing:
#  - build: C toolchain, pkg-config, OpenSSL headers
#  - desktop (Tauri 2 on WebKitGTK): webkit2gtk 4.1, appindicator, rsvg, xdo
#  - slips: a CJK font (Noto Sans CJK SC, embedded as a subset), CUPS
#  - tests: OpenSSL 3 CLI (signature interop), Xvfb + xdotool + ImageMagick
#    (the real desktop window), cups-pdf (a real print queue), poppler-utils,
#    qpdf, zbar-tools, qrencode (checking slips with third-party tools),
#    python3-openpyxl (reading 警情通报 workbooks back),
#    jq (unpacks evidence bundles for scripts/verify-bundle-openssl.sh)
#  - desktop end-to-end test: webkit2gtk-driver (WebKitWebDriver, driven
#    through tauri-driver, which this script installs with cargo), a session
#    D-Bus (dbus, dbus-x11) and a notification server (dunst) whose
#    deliveries dbus-monitor records; gdbus (libglib2.0-bin) and python3-gi
#    for a stand-in tray host that the test reads the tray icon through
#  - county hub: postgresql-client (pg_dump / pg_restore for PostgreSQL
#    backups; the hub's PostgreSQL tests use the server on 127.0.0.1:5432)
#  - the hub-served browser UI's test: chromium (headless, driven by
#    playwright-core from tests/browser/, installed below with npm ci)
#  - the statistics benchmark's peers (bench/run.sh): the sqlite3 shell,
#    and python3-venv for DuckDB's Python package in a venv under target/
PACKAGES=(
  build-essential pkg-config libssl-dev openssl ca-certificates
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
  xvfb xdotool imagemagick fonts-noto-cjk
  cups cups-client printer-driver-cups-pdf poppler-utils qpdf zbar-tools qrencode jq
  python3-openpyxl
  postgresql-client webkit2gtk-driver dbus dbus-x11 dunst libglib2.0-bin python3-gi
  chromium
  sqlite3 python3-venv
  # scanimage: direct scanning through SANE (jingwu-station scan --sane)
  sane-utils
  # cross builds (docs/platforms.md): Windows x86_64 with mingw-w64, its
  # NSIS installer (makensis) and Wine to run both in the tests; 信创 Arm64
  # with the aarch64 cross compiler and qemu-user to run the binaries
  gcc-mingw-w64-x86-64 nsis wine wine64
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  # the desktop updater's .deb install runs "sudo dpkg -i" when no polkit
  # agent answers (scripts/test-deb-update.sh, as root)
  sudo
  # Linux packages' test (scripts/test-linux-packages.sh): rpm reads the
  # .rpm's metadata and file list, desktop-file-validate checks the entry
  rpm desktop-file-utils
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "需要以 root 身份安装系统软件包：${missing[*]}" >&2
    exit 1
  fi
  echo "==> 安装系统软件包：${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rust: the machine's rustup toolchain (Debian's own rustc is too old).
if ! command -v cargo >/dev/null 2>&1; then
  for d in "$HOME/.cargo/bin" /usr/local/cargo/bin; do
    [ -x "$d/cargo" ] && export PATH="$d:$PATH"
  done
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "找不到 Rust 工具链（cargo）。请先用 rustup 安装 Rust 1.90 或更新版本。" >&2
  exit 1
fi
need=90
have=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if [ "$have" -lt "$need" ]; then
  echo "Rust 版本过旧（$(rustc --version)），需要 1.$need 或更新。" >&2
  exit 1
fi
# The cross targets' standard libraries (rustup; nothing else downloads).
for t in x86_64-pc-windows-gnu aarch64-unknown-linux-gnu; do
  if ! rustup target list --installed 2>/dev/null | grep -qx "$t"; then
    echo "==> 安装 Rust 目标 $t"
    rustup target add "$t"
  fi
done
# tauri-driver (WebDriver for Tauri apps) from crates.io, pinned.
TAURI_DRIVER_VERSION=2.1.0
if ! cargo install --list 2>/dev/null | grep -q "^tauri-driver v$TAURI_DRIVER_VERSION:"; then
  echo "==> 安装 tauri-driver $TAURI_DRIVER_VERSION"
  cargo install --locked --quiet tauri-driver --version "$TAURI_DRIVER_VERSION"
fi
# playwright-core for the browser test (tests/browser/, pinned by its
# package-lock.json; it drives the system's Chromium, no browser download).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "找不到 Node.js 20 和 npm（浏览器界面测试需要）。" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "Node.js 版本过旧（$(node --version)），需要 20 或更新。" >&2
  exit 1
fi
want_pw=$(node -p 'require("./tests/browser/package.json").dependencies["playwright-core"]')
have_pw=$(node -p 'try { require("./tests/browser/node_modules/playwright-core/package.json").version } catch { "" }')
if [ "$have_pw" != "$want_pw" ]; then
  echo "==> 安装 playwright-core $want_pw（tests/browser）"
  (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
# Tauri's bundler for the .deb and .rpm (packaging/linux/, pinned by its
# package-lock.json; npm installs the CLI's prebuilt Linux binary from the
# registry, and it downloads nothing when it runs: no AppImage).
want_cli=$(node -p 'require("./packaging/linux/package.json").devDependencies["@tauri-apps/cli"]')
have_cli=$(node -p 'try { require("./packaging/linux/node_modules/@tauri-apps/cli/package.json").version } catch { "" }')
if [ "$have_cli" != "$want_cli" ] || [ ! -x packaging/linux/node_modules/.bin/tauri ]; then
  echo "==> 安装 @tauri-apps/cli $want_cli（packaging/linux）"
  (cd packaging/linux && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "==> 环境就绪：$(rustc --version)，$(openssl version)"
