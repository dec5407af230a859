#!/usr/bin/env bash
# The county flow with the real binaries: a hub loaded with the Leishan
# demo (`jingwu-hub demo`) serving TLS on loopback, and four headless
# station clients — 户籍民警, 所长, 户政股股长, 分管局长 — each with its
# own data directory, pinning the hub's certificate fingerprint. One
# 户口变更 goes through the whole chain; the officer's client follows the
# live channel until the approval arrives, then prints the result slip,
# stamped with the seals the seal administrator (印章管理员) registered.
#
# Usage: BIN=target/release bash scripts/hub-demo.sh [WORK_DIR]
# (scripts/demo.sh builds and calls it; the test suite calls it with the
# debug binaries.)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-target/release}"
WORK="${1:-$(mktemp -d)}"
mkdir -p "$WORK"
HUB="$BIN/jingwu-hub"
ST="$BIN/jingwu-station"
export JINGWU_DEMO_PASSWORD="Jingwu-Demo-2026"
export JINGWU_DEMO_PIN="Demo-PIN-2468"
export JINGWU_PASSWORD="$JINGWU_DEMO_PASSWORD"
export JINGWU_PIN="$JINGWU_DEMO_PIN"

echo "==> 县局服务器：载入雷山县演示数据（$WORK/hub）"
"$HUB" --data-dir "$WORK/hub" demo --kdf "${JINGWU_DEMO_KDF:-default}"

"$HUB" --data-dir "$WORK/hub" serve --listen 127.0.0.1:0 >"$WORK/hub.out" 2>"$WORK/hub.log" &
HUB_PID=$!
trap 'kill $HUB_PID 2>/dev/null || true' EXIT
# The hub prints one line when it listens.
for _ in $(seq 1 300); do
  if grep -q JINGWU_HUB_READY "$WORK/hub.out" 2>/dev/null; then break; fi
  if ! kill -0 $HUB_PID 2>/dev/null; then cat "$WORK/hub.log" >&2; exit 1; fi
  sleep 0.1
done
READY=$(grep JINGWU_HUB_READY "$WORK/hub.out")
ADDR=$(sed -E 's/.*addr=([^ ]+).*/\1/' <<<"$READY")
FP=$(sed -E 's/.*fingerprint=([0-9a-f]+).*/\1/' <<<"$READY")
URL="https://$ADDR"
echo "==> 县局服务器已启动：$URL，证书指纹 $FP"

declare -A WHO=([officer]=052638 [chief]=052637 [section]=052605 [deputy]=052602)
for role in officer chief section deputy; do
  p=${WHO[$role]}
  "$ST" --data-dir "$WORK/$role" enrol --hub "$URL" --fingerprint "$FP" --person "$p" \
    --device-name "演示-$role" --key-file "$WORK/hub/demo-keys/$p.json"
done

echo "==> 印章管理员为三位审批人和县局制发电子印章（绑定各自已批准的签名密钥）"
"$ST" --data-dir "$WORK/sealadmin" enrol --hub "$URL" --fingerprint "$FP" --person 052644 \
  --device-name "演示-印章管理" --key-file "$WORK/hub/demo-keys/052644.json"
for p in 052637 052605 052602; do
  "$ST" --data-dir "$WORK/sealadmin" seal issue --holder "$p" --valid-days 365
done
# The bureau's 户口专用章, kept by the deputy director who decides last.
"$ST" --data-dir "$WORK/sealadmin" seal issue --holder 522634000000 --keeper 052602 --valid-days 365

echo "==> 方祥派出所户籍民警受理户口变更（姓名更正）"
cat >"$WORK/form.json" <<'JSON'
{
  "applicant_name": "张秀英", "applicant_id": "522634198503120044", "applicant_relation": "10",
  "applicant_phone": "13985500123", "subject_name": "王德勇", "subject_id": "522634198503120116",
  "subject_sex": "1", "subject_ethnicity": "06", "subject_birth": "1985-03-12",
  "address_township": "522634204", "address_committee": "方祥村村民委员会",
  "business_category": "107", "change_item": "姓名", "change_category": "21",
  "before": "王德永", "after": "王德勇", "reason": "户口登记时姓名用字错误，有出生医学证明为证",
  "evidence": [{"name": "出生医学证明", "copies": 1, "original": "1"}],
  "committee_stamp": "1", "investigation_opinion": "经调查，情况属实，建议同意。"
}
JSON
CASE=$("$ST" --data-dir "$WORK/officer" new --form "$WORK/form.json" | awk '{print $1}')
# A stand-in scan (the scan pipeline is issue 5): the blank form's PDF.
"$ST" --data-dir "$WORK/officer" blank-form --station 522634580000 --form-id DEMO-0001 --out "$WORK/scan.pdf" >/dev/null
"$ST" --data-dir "$WORK/officer" attach "$CASE" "$WORK/scan.pdf"
"$ST" --data-dir "$WORK/officer" submit "$CASE"
"$ST" --data-dir "$WORK/officer" sync

# The officer's client follows the live channel in the background.
"$ST" --data-dir "$WORK/officer" sync --follow --case "$CASE" --status approved --timeout 120 \
  >"$WORK/officer-live.txt" &
FOLLOW_PID=$!

for role in chief section deputy; do
  echo "==> ${role}：同步、审批"
  "$ST" --data-dir "$WORK/$role" sync >/dev/null
  "$ST" --data-dir "$WORK/$role" inbox
  "$ST" --data-dir "$WORK/$role" decide "$CASE" agree --opinion "同意。"
  "$ST" --data-dir "$WORK/$role" sync >/dev/null
done

wait $FOLLOW_PID
echo "==> 户籍民警经实时通道收到："
cat "$WORK/officer-live.txt"
"$ST" --data-dir "$WORK/officer" show "$CASE"
"$ST" --data-dir "$WORK/officer" seal list
"$ST" --data-dir "$WORK/officer" slip "$CASE" --out "$WORK/slip.pdf"
"$ST" --data-dir "$WORK/officer" verify-slip "$WORK/slip.pdf"
"$HUB" --data-dir "$WORK/hub" export-case "$CASE" --out "$WORK/bundle.json"
"$HUB" verify-case "$WORK/bundle.json"
bash scripts/verify-bundle-openssl.sh "$WORK/bundle.json" | tail -1
echo "==> 演示完成。工作目录：$WORK"
