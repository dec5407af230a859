//! `jingwu-bench-scan`: the scan pipeline against ImageMagick, page for
//! page, in the same run, on the synthetic 300-dpi corpus
//! (`jingwu_scan::corpus::standard`).
//!
//! Ours: `jingwu_scan::process_file` with the station's default options
//! on one thread (the pipeline does not spawn threads): decode, deskew,
//! border crop, 200-dpi normalisation, whitening, stamp and QR checks,
//! JPEG within 300 KB, thumbnail.
//! ImageMagick (Debian's `convert`, `-limit thread 1`): the same
//! geometric operations — `-deskew 40% -trim +repage -resize 1654x2339>
//! -quality 85` — without the checks. Each page is a separate `convert`
//! run (TIFF pages as `file.tif[i]`); Debian's ImageMagick policy refuses
//! PDF, so PDF pages are timed for ours only.
//!
//! `JINGWU_BENCH_CONVERT` names the convert binary (default
//! `/usr/bin/convert` when present, else `convert` on the PATH);
//! `JINGWU_BENCH_SCAN_DPI` the corpus resolution (300).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use jingwu_scan::corpus::{self, FileKind};

struct Row {
    file: String,
    page: u32,
    ours_ms: f64,
    ours_bytes: usize,
    skew_true: f32,
    skew_found: f32,
    im_ms: Option<f64>,
    im_bytes: Option<u64>,
}

fn convert_bin() -> String {
    if let Ok(c) = std::env::var("JINGWU_BENCH_CONVERT") {
        return c;
    }
    if Path::new("/usr/bin/convert").exists() {
        "/usr/bin/convert".into()
    } else {
        "convert".into()
    }
}

fn imagemagick(convert: &str, input: &str, out: &Path) -> Result<(f64, u64)> {
    let t = Instant::now();
    let o = Command::new(convert)
        .args(["-limit", "thread", "1", input])
        .args([
            "-deskew",
            "40%",
            "-trim",
            "+repage",
            "-resize",
            "1654x2339>",
            "-quality",
            "85",
        ])
        .arg(out)
        .output()
        .with_context(|| format!("无法运行 {convert}（请安装 imagemagick）"))?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    if !o.status.success() {
        bail!(
            "ImageMagick 处理 {input} 失败：{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Ok((ms, std::fs::metadata(out)?.len()))
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> Result<()> {
    let dpi: u32 = std::env::var("JINGWU_BENCH_SCAN_DPI")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir()?;
    let corpus_dir = dir.path().join("corpus");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out)?;
    let t = Instant::now();
    let specs = corpus::standard();
    let truth = corpus::write_corpus(&corpus_dir, &specs, dpi);
    eprintln!(
        "语料：{} 个文件 {} 页，{dpi} dpi，生成用时 {:.1} s",
        specs.len(),
        truth.len(),
        t.elapsed().as_secs_f64()
    );
    let convert = convert_bin();
    let opts = jingwu_scan::Options::default();
    let mut rows = Vec::new();
    for spec in &specs {
        let path: PathBuf = corpus_dir.join(&spec.name);
        // Ours, one thread; the file's wall time shared out by page.
        let t = Instant::now();
        let pages = jingwu_scan::process_file(&path, &opts)
            .map_err(|e| anyhow::anyhow!("{}: {e}", spec.name))?;
        let wall = t.elapsed().as_secs_f64() * 1000.0;
        let sum: u64 = pages.iter().map(|p| p.millis.max(1)).sum();
        for p in &pages {
            let share = wall * p.millis.max(1) as f64 / sum as f64;
            let tr = truth
                .iter()
                .find(|t| t.file == spec.name && t.page == p.page)
                .context("语料真值缺失")?;
            let im = match spec.kind {
                FileKind::Pdf => None,
                _ => {
                    let input = if spec.kind == FileKind::Tiff {
                        format!("{}[{}]", path.display(), p.page - 1)
                    } else {
                        path.display().to_string()
                    };
                    let o = out.join(format!("im-{}-{}.jpg", spec.name, p.page));
                    Some(imagemagick(&convert, &input, &o)?)
                }
            };
            rows.push(Row {
                file: spec.name.clone(),
                page: p.page,
                ours_ms: share,
                ours_bytes: p.output_bytes,
                skew_true: tr.skew_degrees,
                skew_found: p.skew_degrees,
                im_ms: im.map(|x| x.0),
                im_bytes: im.map(|x| x.1),
            });
        }
    }

    println!("| page | skew (true / found) | ours ms | ImageMagick ms | time ratio | ours KB | ImageMagick KB | size ratio |");
    println!("|---|---|---|---|---|---|---|---|");
    let kb = |b: f64| b / 1000.0;
    for r in &rows {
        let (im_ms, t_ratio) = match r.im_ms {
            Some(m) => (format!("{m:.0}"), format!("{:.2}", r.ours_ms / m)),
            None => ("— (PDF)".into(), "—".into()),
        };
        let (im_kb, s_ratio) = match r.im_bytes {
            Some(b) => (
                format!("{:.0}", kb(b as f64)),
                format!("{:.2}", r.ours_bytes as f64 / b as f64),
            ),
            None => ("—".into(), "—".into()),
        };
        println!(
            "| {} p{} | {:.1}° / {:.2}° | {:.0} | {im_ms} | {t_ratio} | {:.0} | {im_kb} | {s_ratio} |",
            r.file,
            r.page,
            r.skew_true,
            r.skew_found,
            r.ours_ms,
            kb(r.ours_bytes as f64)
        );
    }
    let both: Vec<&Row> = rows.iter().filter(|r| r.im_ms.is_some()).collect();
    let ours_all: Vec<f64> = rows.iter().map(|r| r.ours_ms).collect();
    let ours_both: f64 = both.iter().map(|r| r.ours_ms).sum();
    let im_both: f64 = both.iter().filter_map(|r| r.im_ms).sum();
    let ours_bytes: f64 = both.iter().map(|r| r.ours_bytes as f64).sum();
    let im_bytes: f64 = both
        .iter()
        .filter_map(|r| r.im_bytes)
        .map(|b| b as f64)
        .sum();
    let max_ours = ours_all.iter().copied().fold(0.0, f64::max);
    let max_kb = rows.iter().map(|r| r.ours_bytes).max().unwrap_or(0);
    println!();
    println!("| measure | ours | ImageMagick | ratio | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| median ms per page ({} pages both ran) | {:.0} | {:.0} | {:.2} | faster than ImageMagick |",
        both.len(),
        median(both.iter().map(|r| r.ours_ms).collect()),
        median(both.iter().filter_map(|r| r.im_ms).collect()),
        median(both.iter().map(|r| r.ours_ms).collect())
            / median(both.iter().filter_map(|r| r.im_ms).collect())
    );
    println!(
        "| total ms ({} pages) | {:.0} | {:.0} | {:.2} | — |",
        both.len(),
        ours_both,
        im_both,
        ours_both / im_both
    );
    println!(
        "| mean KB per page | {:.0} | {:.0} | {:.2} | ≤ 300 KB |",
        kb(ours_bytes) / both.len().max(1) as f64,
        kb(im_bytes) / both.len().max(1) as f64,
        ours_bytes / im_bytes
    );
    println!(
        "| ours, all {} pages: median / max ms, max KB | {:.0} / {:.0} ms, {:.0} KB | — | — | < 400 ms per {dpi}-dpi page |",
        rows.len(),
        median(ours_all.clone()),
        max_ours,
        kb(max_kb as f64)
    );
    Ok(())
}
