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
//! `JINGWU_BENCH_SCAN_DPI` the corpus resolution (300);
//! `JINGWU_BENCH_SCAN_CORPUS=DIR` keeps the corpus in DIR (reused when
//! its manifest exists); `JINGWU_BENCH_SCAN_IM=0` runs ours only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use jingwu_scan::corpus::{self, FileKind};

struct Row {
    file: String,
    page: u32,
    /// CPU time (user + system) and wall time.
    ours_cpu: f64,
    ours_ms: f64,
    im_cpu: Option<f64>,
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

/// CPU milliseconds (user + system) of this process and of its waited-for
/// children, from /proc/self/stat (clock ticks of 10 ms).
fn cpu_ms() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<f64> = stat
        .rsplit_once(')')
        .map(|x| x.1)
        .unwrap_or_default()
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    let get = |i: usize| f.get(i).copied().unwrap_or(0.0) * 10.0;
    (get(11) + get(12), get(13) + get(14))
}

/// (CPU ms, wall ms, output bytes) of one `convert` run.
fn imagemagick(convert: &str, input: &str, out: &Path) -> Result<(f64, f64, u64)> {
    let c0 = cpu_ms().1;
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
    Ok((cpu_ms().1 - c0, ms, std::fs::metadata(out)?.len()))
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
    let corpus_dir = match std::env::var_os("JINGWU_BENCH_SCAN_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => dir.path().join("corpus"),
    };
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out)?;
    let t = Instant::now();
    let specs = corpus::standard();
    let manifest = corpus_dir.join("manifest.json");
    // (file, page, true skew) from the manifest, written now or reused.
    if !manifest.exists() {
        corpus::write_corpus(&corpus_dir, &specs, dpi);
    }
    let truth: Vec<(String, u32, f32)> =
        serde_json::from_slice::<Vec<serde_json::Value>>(&std::fs::read(&manifest)?)?
            .iter()
            .map(|t| {
                (
                    t["file"].as_str().unwrap_or_default().to_string(),
                    t["page"].as_u64().unwrap_or_default() as u32,
                    t["skew_degrees"].as_f64().unwrap_or_default() as f32,
                )
            })
            .collect();
    eprintln!(
        "语料：{} 个文件 {} 页，{dpi} dpi，{:.1} s",
        specs.len(),
        truth.len(),
        t.elapsed().as_secs_f64()
    );
    // JINGWU_BENCH_SCAN_IM=0: ours only (for profiling).
    let with_im = std::env::var("JINGWU_BENCH_SCAN_IM").map_or(true, |v| v != "0");
    let convert = convert_bin();
    let opts = jingwu_scan::Options::default();
    let mut rows = Vec::new();
    for spec in &specs {
        let path: PathBuf = corpus_dir.join(&spec.name);
        // Ours, one thread; the file's wall time shared out by page.
        let c0 = cpu_ms().0;
        let t = Instant::now();
        let pages = jingwu_scan::process_file(&path, &opts)
            .map_err(|e| anyhow::anyhow!("{}: {e}", spec.name))?;
        let wall = t.elapsed().as_secs_f64() * 1000.0;
        let cpu = cpu_ms().0 - c0;
        let sum: u64 = pages.iter().map(|p| p.millis.max(1)).sum();
        for p in &pages {
            let share = wall * p.millis.max(1) as f64 / sum as f64;
            let tr = truth
                .iter()
                .find(|t| t.0 == spec.name && t.1 == p.page)
                .context("语料真值缺失")?;
            let im = match spec.kind {
                _ if !with_im => None,
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
                ours_cpu: cpu * share / wall.max(1e-9),
                ours_ms: share,
                im_cpu: im.map(|x| x.0),
                ours_bytes: p.output_bytes,
                skew_true: tr.2,
                skew_found: p.skew_degrees,
                im_ms: im.map(|x| x.1),
                im_bytes: im.map(|x| x.2),
            });
        }
    }

    println!("CPU time (user + system, one thread each) is the measure; wall time in brackets (the machine may be shared).");
    println!();
    println!("| page | skew (true / found) | ours ms | ImageMagick ms | time ratio | ours KB | ImageMagick KB | size ratio |");
    println!("|---|---|---|---|---|---|---|---|");
    let kb = |b: f64| b / 1000.0;
    for r in &rows {
        let (im_ms, t_ratio) = match (r.im_cpu, r.im_ms) {
            (Some(c), Some(m)) => (
                format!("{c:.0} ({m:.0})"),
                format!("{:.2}", r.ours_cpu / c.max(1.0)),
            ),
            _ => ("— (PDF)".into(), "—".into()),
        };
        let (im_kb, s_ratio) = match r.im_bytes {
            Some(b) => (
                format!("{:.0}", kb(b as f64)),
                format!("{:.2}", r.ours_bytes as f64 / b as f64),
            ),
            None => ("—".into(), "—".into()),
        };
        println!(
            "| {} p{} | {:.1}° / {:.2}° | {:.0} ({:.0}) | {im_ms} | {t_ratio} | {:.0} | {im_kb} | {s_ratio} |",
            r.file,
            r.page,
            r.skew_true,
            r.skew_found,
            r.ours_cpu,
            r.ours_ms,
            kb(r.ours_bytes as f64)
        );
    }
    let both: Vec<&Row> = rows.iter().filter(|r| r.im_cpu.is_some()).collect();
    let ours_cpu: Vec<f64> = both.iter().map(|r| r.ours_cpu).collect();
    let im_cpu: Vec<f64> = both.iter().filter_map(|r| r.im_cpu).collect();
    let ours_bytes: f64 = both.iter().map(|r| r.ours_bytes as f64).sum();
    let im_bytes: f64 = both
        .iter()
        .filter_map(|r| r.im_bytes)
        .map(|b| b as f64)
        .sum();
    let all_cpu: Vec<f64> = rows.iter().map(|r| r.ours_cpu).collect();
    let max_cpu = all_cpu.iter().copied().fold(0.0, f64::max);
    let max_kb = rows.iter().map(|r| r.ours_bytes).max().unwrap_or(0);
    let n = both.len().max(1) as f64;
    println!();
    println!("| measure | ours | ImageMagick | ratio | target |");
    println!("|---|---|---|---|---|");
    // Without ImageMagick (JINGWU_BENCH_SCAN_IM=0) only our own row.
    if !both.is_empty() {
        println!(
            "| median CPU ms per page ({} pages both ran) | {:.0} | {:.0} | {:.2} | faster than ImageMagick |",
            both.len(),
            median(ours_cpu.clone()),
            median(im_cpu.clone()),
            median(ours_cpu.clone()) / median(im_cpu.clone())
        );
        println!(
            "| total CPU ms ({} pages) | {:.0} | {:.0} | {:.2} | — |",
            both.len(),
            ours_cpu.iter().sum::<f64>(),
            im_cpu.iter().sum::<f64>(),
            ours_cpu.iter().sum::<f64>() / im_cpu.iter().sum::<f64>()
        );
        println!(
            "| mean KB per page | {:.0} | {:.0} | {:.2} | ≤ 300 KB |",
            kb(ours_bytes) / n,
            kb(im_bytes) / n,
            ours_bytes / im_bytes
        );
    }
    println!(
        "| ours, all {} pages: median / max CPU ms, max KB | {:.0} / {:.0} ms, {:.0} KB | — | — | < 400 ms per {dpi}-dpi page |",
        rows.len(),
        median(all_cpu),
        max_cpu,
        kb(max_kb as f64)
    );
    Ok(())
}
