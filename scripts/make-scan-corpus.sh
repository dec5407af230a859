#!/usr/bin/env bash
# Renders the synthetic scan corpus (A4 户口变更登记表 pages with Chinese
# text, village-committee seals, skew, noise, scanner borders, blank pages,
# QR blank forms, multi-page TIFF and PDF) and its manifest.json of truths.
#
#   scripts/make-scan-corpus.sh [OUTDIR] [DPI]
#
# OUTDIR defaults to target/scan-corpus (never commit it), DPI to 300.
# Needs the CJK font from fonts-noto-cjk (scripts/setup.sh installs it) or
# JINGWU_CJK_FONT=/path/to/font.ttc#index. With CHECK=1 the pages are also
# run through the pipeline (`jingwu-station scan`, release build) and one
# JSON line per page is printed, the output JPEGs going to OUTDIR/out.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/scan-corpus}"
dpi="${2:-300}"
cargo run --release -q -p jingwu-scan --example make-corpus -- "$out" "$dpi"
if [ "${CHECK:-0}" = 1 ]; then
    shopt -s nullglob
    files=("$out"/*.jpg "$out"/*.png "$out"/*.tif "$out"/*.pdf)
    cargo run --release -q -p jingwu-station -- scan --out "$out/out" "${files[@]}"
fi
