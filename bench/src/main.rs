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

    // The same slip stamped with registered seals (stored PNGs instead of
    // pictures drawn from names on every slip).
    let book = registered_book(&store, &reg, &events, &font)?;
    let mut sealed = Vec::with_capacity(runs);
    let mut sealed_size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let pdf =
            jingwu_slip::slip::hukou_slip_pdf_sealed(&state, &events, &reg, &font, &fonts, &book)?;
        sealed.push(t.elapsed().as_secs_f64() * 1000.0);
        sealed_size = pdf.len();
    }
    sealed.sort_by(f64::total_cmp);
    let spct = |p: f64| sealed[((sealed.len() - 1) as f64 * p).round() as usize];
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
    println!(
        "| slip, registered seals | generation, median of {runs} | {:.1} ms | < 100 ms |",
        spct(0.5)
    );
    println!(
        "| slip, registered seals | generation, p95 | {:.1} ms | < 100 ms |",
        spct(0.95)
    );
    println!(
        "| slip, registered seals | PDF size | {:.1} KB | < 300 KB |",
        sealed_size as f64 / 1024.0
    );
    Ok(())
}

/// Registered seals for every approver of the case and its final unit,
/// bound to the keys that signed (made by a throwaway administrator key:
/// the slip does not re-check makers, the station did on arrival).
fn registered_book(
    store: &Store,
    reg: &Registry,
    events: &[jingwu_core::event::SignedEvent],
    font: &jingwu_slip::font::CjkFont,
) -> Result<jingwu_slip::sealbook::SealBook> {
    use jingwu_core::crypto::{Signer, SoftwareKey};
    use jingwu_slip::seal::{png_bytes, render_personal_seal, render_unit_seal, Seal, SealDraft};
    use time::format_description::well_known::Rfc3339;
    let maker = SoftwareKey::generate(&mut getrandom::SysRng)?;
    let mut seals = Vec::new();
    let decisions = jingwu_slip::slip::standing_decisions(events);
    for (i, d) in decisions.iter().enumerate() {
        let e = &d.event;
        let key = store
            .public_key(&e.author, &e.key)?
            .context("缺少审批人公钥")?;
        let name = reg
            .org
            .person(&e.author)
            .map(|p| p.name.clone())
            .unwrap_or_default();
        let mut pics = vec![(
            format!("P-{i}"),
            jingwu_slip::seal::SealKind::Personal,
            name.clone(),
            e.author.clone(),
            png_bytes(&render_personal_seal(&name, font, 240)?)?,
        )];
        if i + 1 == decisions.len() {
            let unit = reg
                .org
                .units_of(&e.author)
                .first()
                .map(|u| u.code.clone())
                .unwrap_or_default();
            let bureau = reg
                .org
                .ancestor_of_kind(&unit, jingwu_core::org::UnitKind::Bureau)
                .map(|b| b.code.clone())
                .unwrap_or_default();
            let unit = if reg.org.unit(&unit).map(|u| u.kind)
                == Some(jingwu_core::org::UnitKind::Station)
            {
                unit
            } else {
                bureau
            };
            let seal_name = reg.org.unit_seal_name(&unit).unwrap_or_default();
            pics.push((
                "U-0".into(),
                jingwu_slip::seal::SealKind::Unit,
                seal_name.clone(),
                unit,
                png_bytes(&render_unit_seal(
                    &seal_name,
                    Some("户口专用章"),
                    font,
                    480,
                )?)?,
            ));
        }
        for (id, kind, name, holder, png) in pics {
            let draft = SealDraft {
                id,
                kind,
                name,
                holder,
                holder_key: key.clone(),
                valid_from: (e.time - time::Duration::days(1)).format(&Rfc3339)?,
                valid_to: (e.time + time::Duration::days(365)).format(&Rfc3339)?,
                maker: "052644".into(),
                maker_key: maker.public_key().fingerprint(),
            };
            seals.push(jingwu_slip::sealbook::RegisteredSeal {
                seal: Seal::make(draft, png, &maker)?,
                registered_at: e.time.format(&Rfc3339)?,
                revoked_at: None,
                revoked_by: None,
            });
        }
    }
    Ok(jingwu_slip::sealbook::SealBook::new(seals))
}
