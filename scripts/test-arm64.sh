#!/usr/bin/env bash
# 信创 Arm64: cross-builds jingwu-station and jingwu-hub for
# aarch64-unknown-linux-gnu with Debian's cross compiler (the linker is set
# in .cargo/config.toml) and runs them under qemu-user:
#  - jingwu-station demo and verify on the Arm64 binary (SQLite, SM2, the
#    whole 户口变更 chain and a 110 record);
#  - the same store verified again by the x86_64 binary, and a store made
#    on x86_64 verified by the Arm64 binary: the signed data is the same
#    on both architectures;
#  - jingwu-hub demo on the Arm64 binary (a county hub's database, its
#    registry published and signed), checked with the hub's verify.
# Runnable alone: bash scripts/test-arm64.sh (after scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
TARGET=aarch64-unknown-linux-gnu
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
SYSROOT=/usr/aarch64-linux-gnu

die() { echo "arm64: FAIL: $*" >&2; exit 1; }
command -v qemu-aarch64 >/dev/null || die "找不到 qemu-aarch64（请运行 scripts/setup.sh 安装 qemu-user）"
[ -d "$SYSROOT/lib" ] || die "找不到 Arm64 的 C 库 $SYSROOT（请运行 scripts/setup.sh 安装 libc6-dev-arm64-cross）"

echo "==> 交叉编译 Arm64：jingwu-station、jingwu-hub"
cargo build --locked --target "$TARGET" -p jingwu-station -p jingwu-hub
cargo build --locked -p jingwu-station -p jingwu-hub
arm="$TARGET_DIR/$TARGET/debug"
x86="$TARGET_DIR/debug"
for b in jingwu-station jingwu-hub; do
  file -L "$arm/$b" | grep -q "ARM aarch64" || die "$arm/$b 不是 Arm64 程序：$(file -L "$arm/$b")"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/jingwu-arm64.XXXXXX")"
trap 'rm -rf "$work"' EXIT
run_arm() { qemu-aarch64 -L "$SYSROOT" "$@"; }

echo "==> Arm64 jingwu-station demo（qemu-user）"
run_arm "$arm/jingwu-station" --data-dir "$work/arm" demo >"$work/arm-demo.log" 2>&1 \
  || { cat "$work/arm-demo.log" >&2; die "Arm64 demo failed"; }
tail -n 3 "$work/arm-demo.log"
out=$(run_arm "$arm/jingwu-station" --data-dir "$work/arm" verify) \
  || die "Arm64 verify failed: $out"
echo "$out"
echo "$out" | grep -q "全部通过" || die "Arm64 verify did not pass: $out"

echo "==> 同一本地库：x86_64 校验 Arm64 所签，Arm64 校验 x86_64 所签"
x_out=$("$x86/jingwu-station" --data-dir "$work/arm" verify) || die "x86_64 verify of the Arm64 store failed: $x_out"
[ "$x_out" = "$out" ] || die "x86_64 and Arm64 disagree on the Arm64 store: '$x_out' vs '$out'"
"$x86/jingwu-station" --data-dir "$work/x86" demo >/dev/null
a_out=$(run_arm "$arm/jingwu-station" --data-dir "$work/x86" verify) \
  || die "Arm64 verify of the x86_64 store failed: $a_out"
echo "$a_out" | grep -q "全部通过" || die "Arm64 verify of the x86_64 store did not pass: $a_out"
# Same cases listed by both binaries from the same store.
diff <("$x86/jingwu-station" --data-dir "$work/arm" list) \
     <(run_arm "$arm/jingwu-station" --data-dir "$work/arm" list) \
  || die "the two binaries list the same store differently"

echo "==> Arm64 jingwu-hub demo（qemu-user）"
run_arm "$arm/jingwu-hub" --version
run_arm "$arm/jingwu-hub" --data-dir "$work/hub" demo --kdf test >"$work/hub-demo.log" 2>&1 \
  || { cat "$work/hub-demo.log" >&2; die "Arm64 hub demo failed"; }
tail -n 2 "$work/hub-demo.log"
reg=$(run_arm "$arm/jingwu-hub" --data-dir "$work/hub" admin registry) || die "Arm64 hub registry failed: $reg"
echo "$reg" | head -n 3
# The x86_64 hub reads the registry the Arm64 hub signed, and agrees.
[ "$("$x86/jingwu-hub" --data-dir "$work/hub" admin registry)" = "$reg" ] \
  || die "x86_64 and Arm64 hubs read the registry differently"
echo "==> Arm64 通过"
