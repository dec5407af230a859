//! `jingwu-bench STATION_BINARY`: prints a table of measurements.
//!
//! Slip: generation time (font parsed once, as the app does) and size of
//! the approved-case slip, over repeated runs on this machine.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use jingwu_core::case::Status;
use jingwu_core::registry::Registry;
use jingwu_store::Store;

fn main() -> Result<()> {
    let station = std::env::args()
        .nth(1)
        .context("用法：jingwu-bench <jingwu-station 可执行文件>")?;
    let dir = tempfile::tempdir()?;
    let out = Command::new(&station)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("demo")
        .output()
        .context("无法运行 jingwu-station")?;
    if !out.status.success() {
        bail!("演示数据生成失败：{}", String::from_utf8_lossy(&out.stderr));
    }
    let store = Store::open(&dir.path().join("station.db"))?;
    let reg = Registry::builtin_demo()?;
    let case = store
        .list_cases(100)?
        .into_iter()
        .find(|c| c.status == Status::Approved)
        .context("没有已审批的案件")?;
    let state = store.case(&case.id)?.context("案件缺失")?;
    let events = store.events(&case.id)?;

    let t0 = Instant::now();
    let font = jingwu_slip::font::CjkFont::locate()?;
    let fonts = jingwu_slip::pdf::FontSet::new(&font)?;
    let font_ms = t0.elapsed().as_secs_f64() * 1000.0;

    let runs = 30;
    let mut times = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let pdf = jingwu_slip::slip::hukou_slip_pdf(&state, &events, &reg, &font, &fonts)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        size = pdf.len();
    }
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    println!("| benchmark | measure | value | target |");
    println!("|---|---|---|---|");
    println!("| slip | font load + parse (once per process) | {font_ms:.1} ms | — |");
    println!(
        "| slip | generation, median of {runs} | {:.1} ms | < 100 ms |",
        pct(0.5)
    );
    println!(
        "| slip | generation, p95 | {:.1} ms | < 100 ms |",
        pct(0.95)
    );
    println!("| slip | generation, min | {:.1} ms | — |", pct(0.0));
    println!(
        "| slip | PDF size | {:.1} KB | < 300 KB |",
        size as f64 / 1024.0
    );
    Ok(())
}
