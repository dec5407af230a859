#!/usr/bin/env bash
# Checks a Jingwu evidence bundle (jingwu-evidence-bundle/1) with OpenSSL 3
# alone — no Jingwu code. jq and coreutils' base64 only unpack the JSON.
#
#   scripts/verify-bundle-openssl.sh BUNDLE.json
#
# For every event, in order, it writes the signed bytes and the DER
# signature to files and checks:
#   - SM3 of the bytes (openssl dgst -sm3) equals the recorded sm3_hex;
#   - the signed bytes' own fields: case_id is the bundle's, seq counts
#     from 0, prev is the SM3 of the previous event's bytes (null first),
#     and id / author / key / kind / prev agree with the bundle's copies;
#   - the signing key is in the bundle under that author, and its PEM's
#     fingerprint (SM3 of the SEC1 point) is the one the event names;
#   - the SM2 signature, with GB/T 32918's default distinguishing ID:
#       openssl pkeyutl -verify -pubin -inkey KEY.pem -rawin -digest sm3 \
#         -pkeyopt distid:1234567812345678 -in BYTES -sigfile SIG
#     (OpenSSL 3.0 does not apply that ID by default; it must be passed.)
# It prints one line per event and exits 1 naming the first bad event
# (numbered from 0, the event's seq), 2 on a usage or tool problem.
#
# The keys travel in the bundle: a pass proves the log is intact and
# signed by the holders of those keys. Compare the fingerprints printed at
# the start with the keys you already hold for those people.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -r "$1" ]; then
  echo "用法：$0 证据包.json" >&2
  exit 2
fi
BUNDLE=$1
for tool in openssl jq base64; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "缺少 $tool（scripts/setup.sh 会安装）" >&2
    exit 2
  fi
done
case "$(openssl version)" in
  "OpenSSL 3."*) ;;
  *) echo "需要 OpenSSL 3（当前：$(openssl version)）" >&2; exit 2 ;;
esac

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

bundle_fail() {
  echo "证据包校验失败：$1" >&2
  exit 1
}

# jq over the bundle; a bundle that is not JSON fails here.
bq() { jq -r "$@" "$BUNDLE"; }

jq -e 'type == "object"' "$BUNDLE" >/dev/null 2>&1 || bundle_fail "不是有效的 JSON"
format=$(bq '.format // ""')
[ "$format" = "jingwu-evidence-bundle/1" ] ||
  bundle_fail "不支持的证据包格式“$format”（应为 jingwu-evidence-bundle/1）"
case_id=$(bq '.case_id // ""')
case_no=$(bq '.case_no // ""')
n=$(bq '.events | if type == "array" then length else 0 end')
[ "$n" -gt 0 ] || bundle_fail "证据包中没有任何事件"
nkeys=$(bq '.keys | if type == "array" then length else 0 end')

# Keys: keys/K.pem for every key whose PEM parses and whose fingerprint
# matches; keys/K.bad holds the reason otherwise.
mkdir -p "$WORK/keys"
for ((k = 0; k < nkeys; k++)); do
  person=$(bq --argjson k "$k" '.keys[$k].person')
  fp=$(bq --argjson k "$k" '.keys[$k].fingerprint')
  bq --argjson k "$k" '.keys[$k].pem' >"$WORK/keys/$k.in"
  if ! openssl pkey -pubin -in "$WORK/keys/$k.in" -outform DER -out "$WORK/keys/$k.der" 2>/dev/null; then
    echo "PEM 无法解析" >"$WORK/keys/$k.bad"
    continue
  fi
  # The SubjectPublicKeyInfo ends with the 65-byte uncompressed SEC1 point.
  actual=$(tail -c 65 "$WORK/keys/$k.der" | openssl dgst -sm3 -r | cut -d' ' -f1)
  if [ "$actual" != "$fp" ]; then
    echo "PEM 公钥的指纹为 $actual，与记载的指纹不符" >"$WORK/keys/$k.bad"
    continue
  fi
  mv "$WORK/keys/$k.in" "$WORK/keys/$k.pem"
  echo "公钥 $k：$person  SM3 指纹 $fp"
done

prev_json=null
head=""
for ((i = 0; i < n; i++)); do
  id=$(bq --argjson i "$i" '.events[$i].id')
  fail() {
    echo "第 $i 个事件（$id）校验失败：$1" >&2
    exit 1
  }
  msg="$WORK/event-$i.json"
  sig="$WORK/event-$i.sig"
  bq --argjson i "$i" '.events[$i].bytes_b64' | base64 -d >"$msg" 2>/dev/null ||
    fail "签名内容不是有效的 Base64"
  bq --argjson i "$i" '.events[$i].signature_b64' | base64 -d >"$sig" 2>/dev/null ||
    fail "签名不是有效的 Base64"

  recorded=$(bq --argjson i "$i" '.events[$i].sm3_hex')
  hash=$(openssl dgst -sm3 -r "$msg" | cut -d' ' -f1)
  [ "$hash" = "$recorded" ] || fail "签名内容的 SM3 为 $hash，与记载的 $recorded 不符"

  # What was signed, read from the signed bytes themselves.
  jq -e 'type == "object"' "$msg" >/dev/null 2>&1 || fail "签名内容不是 JSON 对象"
  s_case=$(jq -r '.case_id' "$msg")
  s_seq=$(jq -r '.seq' "$msg")
  s_id=$(jq -r '.id' "$msg")
  s_author=$(jq -r '.author' "$msg")
  s_key=$(jq -r '.key' "$msg")
  s_kind=$(jq -r '.kind' "$msg")
  s_prev=$(jq -c '.prev' "$msg")
  [ "$s_id" = "$id" ] || fail "签名内容中的事件 id 为 $s_id，与记载不符"
  [ "$s_case" = "$case_id" ] || fail "不属于证据包所记载的案件"
  [ "$s_seq" = "$(bq --argjson i "$i" '.events[$i].seq')" ] ||
    fail "签名内容中的序号为 $s_seq，与记载不符"
  [ "$s_seq" = "$i" ] || fail "序号应为 $i，实际为 $s_seq"
  [ "$s_author" = "$(bq --argjson i "$i" '.events[$i].author')" ] ||
    fail "签名内容中的签名人为 $s_author，与记载不符"
  [ "$s_key" = "$(bq --argjson i "$i" '.events[$i].key')" ] ||
    fail "签名内容中的公钥指纹与记载不符"
  [ "$s_kind" = "$(bq --argjson i "$i" '.events[$i].kind')" ] ||
    fail "签名内容中的操作为 $s_kind，与记载不符"
  [ "$s_prev" = "$(jq -c --argjson i "$i" '.events[$i].prev' "$BUNDLE")" ] ||
    fail "签名内容中的前一事件哈希与记载不符"
  [ "$s_prev" = "$prev_json" ] || fail "前一事件哈希不符，链条断裂"
  if [ "$i" -eq 0 ]; then
    [ "$s_kind" = "create" ] || fail "案件的第一个事件必须是“创建”"
    s_no=$(jq -r '.payload.case_no' "$msg")
    [ "$s_no" = "$case_no" ] ||
      fail "签名内容中的案件编号为 $s_no，与证据包记载的 $case_no 不符"
  fi

  k=$(bq --arg p "$s_author" --arg f "$s_key" \
    '[.keys | to_entries[] | select(.value.person == $p and .value.fingerprint == $f) | .key] | first // ""')
  [ -n "$k" ] || fail "证据包中没有签名人 $s_author 的公钥（$s_key）"
  [ -f "$WORK/keys/$k.bad" ] && fail "签名人 $s_author 的公钥有误：$(cat "$WORK/keys/$k.bad")"
  if ! openssl pkeyutl -verify -pubin -inkey "$WORK/keys/$k.pem" -rawin -digest sm3 \
    -pkeyopt distid:1234567812345678 -in "$msg" -sigfile "$sig" >/dev/null 2>&1; then
    fail "签名无效：签名与内容或公钥不符"
  fi

  echo "第 $i 个事件（$id）通过：$s_kind  签名人 $s_author  SM3 $hash"
  prev_json="\"$hash\""
  head=$hash
done

for ((k = 0; k < nkeys; k++)); do
  if [ -f "$WORK/keys/$k.bad" ]; then
    bundle_fail "$(bq --argjson k "$k" '.keys[$k].person') 的公钥有误：$(cat "$WORK/keys/$k.bad")"
  fi
done

echo "证据包校验通过：案件 $case_no（$case_id），共 $n 个事件，链头 SM3 $head"
