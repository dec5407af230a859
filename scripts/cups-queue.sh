#!/usr/bin/env bash
# Starts CUPS (if it is not running) and creates the `JingwuPDF` queue,
# a cups-pdf printer whose output lands in /var/spool/cups-pdf/jingwu.
# Used by the test suite; safe to run again.
set -euo pipefail
OUT=/var/spool/cups-pdf/jingwu
mkdir -p "$OUT"
chmod 1777 "$OUT"
conf=/etc/cups/cups-pdf.conf
if ! grep -q "^Out $OUT\$" "$conf"; then
  sed -i -E "s|^#?Out .*|Out $OUT|; s|^#?AnonDirName .*|AnonDirName $OUT|" "$conf"
  grep -q "^AnonDirName" "$conf" || echo "AnonDirName $OUT" >>"$conf"
fi
# Every file named "<title>-job_N.pdf": tests printing at the same time
# find their own job, and same-titled jobs never overwrite each other.
if ! grep -q "^Label 1\$" "$conf"; then
  sed -i -E "s|^#?Label .*|Label 1|" "$conf"
  grep -q "^Label 1\$" "$conf" || echo "Label 1" >>"$conf"
fi
if ! lpstat -r 2>/dev/null | grep -q "is running"; then
  mkdir -p /run/cups
  cupsd
  for _ in $(seq 100); do
    lpstat -r 2>/dev/null | grep -q "is running" && break
    sleep 0.1
  done
fi
lpstat -r | grep -q "is running" || { echo "CUPS 未能启动" >&2; exit 1; }
if ! lpstat -p JingwuPDF >/dev/null 2>&1; then
  lpadmin -p JingwuPDF -v cups-pdf:/ -E -P /usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd
fi
echo "==> 打印队列 JingwuPDF 就绪，输出目录 $OUT"
