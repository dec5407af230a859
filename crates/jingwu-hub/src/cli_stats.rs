//! `jingwu-hub import-incidents`, `stats` and `report`: the hub's own
//! functions ([`jingwu_hub::stats`]) on its database, headless.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use jingwu_core::stats::{Filter, Scope};
use jingwu_hub::hub::{Caller, Hub};
use jingwu_hub::server::{self, Config};
use jingwu_hub::stats::{ImportRun, ImportSigner};

fn open(cfg: &Config) -> Result<Arc<Hub>> {
    let db = server::open_db(cfg)?;
    let reg = server::registry(db.as_ref())?;
    Ok(Hub::new(db, Arc::new(reg), cfg.limits.clone())?)
}

fn caller(person: &str) -> Caller {
    Caller {
        person: person.to_string(),
        is_admin: false,
        device: None,
        token_hash: String::new(),
    }
}

/// The scope of `person`, or every record for the hub's operator.
fn scope(hub: &Hub, person: Option<&str>) -> Result<Scope> {
    match person {
        Some(p) => Ok(hub.stats_scope(&caller(p))?),
        None => {
            let org = &hub.reg().org;
            let name = org
                .units()
                .find(|u| u.kind == jingwu_core::org::UnitKind::Bureau)
                .map(|u| u.name.clone())
                .unwrap_or_else(|| org.data().name.clone());
            Ok(Scope::All { name })
        }
    }
}

fn write_out(out: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match out {
        Some(p) => jingwu_store::private_fs::write_atomically(p, bytes)
            .with_context(|| format!("无法写入 {}", p.display())),
        None => {
            let mut o = std::io::stdout().lock();
            o.write_all(bytes)?;
            o.flush()?;
            Ok(())
        }
    }
}

pub fn import(
    cfg: &Config,
    file: &Path,
    person: &str,
    only_valid: bool,
    dry_run: bool,
    errors: Option<&Path>,
    key: Option<&Path>,
) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("无法读取 {}", file.display()))?;
    let hub = open(cfg)?;
    let pin = if dry_run {
        String::new()
    } else {
        match std::env::var("JINGWU_PIN") {
            Ok(p) => p,
            Err(_) => {
                eprintln!("请输入 {person} 的签名 PIN：");
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_string()
            }
        }
    };
    let name = file.to_string_lossy();
    let progress = |done: usize, total: usize| {
        eprintln!("已导入 {done} / {total}");
    };
    let unsealed = match key {
        Some(path) => {
            let json = std::fs::read_to_string(path)
                .with_context(|| format!("无法读取密钥文件 {}", path.display()))?;
            let sealed: jingwu_core::crypto::EncryptedKey =
                serde_json::from_str(&json).context("密钥文件格式错误")?;
            Some(
                sealed
                    .unlock(&pin)
                    .map_err(|e| anyhow::anyhow!("无法打开密钥文件（PIN 是否正确？）：{e}"))?,
            )
        }
        None => None,
    };
    let signer = match &unsealed {
        Some(k) => ImportSigner::Key {
            key: k,
            device: "jingwu-hub-cli",
        },
        None => ImportSigner::Hosted { pin: &pin },
    };
    let o = hub.import_incidents(
        &caller(person),
        &ImportRun {
            name: &name,
            bytes: &bytes,
            only_valid,
            dry_run,
            signer,
            progress: &progress,
        },
    )?;
    if let Some(p) = errors {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["行", "列", "值", "错误"])?;
        for e in &o.errors {
            w.write_record([
                e.row.to_string(),
                e.column.clone(),
                e.value.clone(),
                e.message.clone(),
            ])?;
        }
        let mut bytes = "\u{feff}".as_bytes().to_vec();
        bytes.extend(w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?);
        write_out(Some(p), &bytes)?;
    }
    for e in o.errors.iter().take(50) {
        eprintln!("第 {} 行 {}“{}”：{}", e.row, e.column, e.value, e.message);
    }
    if o.errors.len() > 50 {
        eprintln!("……另有 {} 处错误", o.errors.len() - 50);
    }
    println!(
        "{}",
        serde_json::to_string(&serde_json::json!({
            "rows": o.rows,
            "imported": o.imported,
            "already": o.already,
            "refused": o.refused,
            "errors": o.errors.len(),
        }))?
    );
    if o.refused > 0 && !only_valid && !dry_run {
        bail!(
            "{} 行有错误，未导入任何记录；改正后重新导入，或加 --only-valid 只导入正确的行",
            o.refused
        );
    }
    Ok(())
}

pub struct StatsArgs {
    pub from: Option<String>,
    pub to: Option<String>,
    pub by: String,
    pub speed: Option<String>,
    pub filter: Option<String>,
    pub format: String,
    pub out: Option<PathBuf>,
    pub person: Option<String>,
}

pub fn stats(cfg: &Config, a: StatsArgs) -> Result<()> {
    let hub = open(cfg)?;
    let scope = scope(&hub, a.person.as_deref())?;
    let mut filter: Filter = match &a.filter {
        Some(j) => serde_json::from_str(j).context("--filter 不是有效的查询条件 JSON")?,
        None => Filter::default(),
    };
    if a.from.is_some() {
        filter.from = a.from.clone();
    }
    if a.to.is_some() {
        filter.to = a.to.clone();
    }
    let table = match &a.speed {
        Some(kind) => {
            let rows = hub.incident_speed(&scope, &filter, kind)?;
            if a.format == "json" {
                return write_json(a.out.as_deref(), &rows);
            }
            jingwu_report::speed_table(&hub.reg(), &rows)
        }
        None => {
            let rows = hub.incident_stats(&scope, &filter, &a.by)?;
            if a.format == "json" {
                return write_json(a.out.as_deref(), &rows);
            }
            jingwu_report::stats_table(&hub.reg(), &a.by, &rows)
        }
    };
    match a.format.as_str() {
        "csv" => write_out(
            a.out.as_deref(),
            jingwu_report::table_csv(&table).as_bytes(),
        ),
        "xlsx" => {
            let Some(out) = a.out.as_deref() else {
                bail!("xlsx 格式须用 --out 指定输出文件");
            };
            write_out(Some(out), &jingwu_report::tables_xlsx(&[table])?)
        }
        f => bail!("未知的格式 {f}（应为 json、csv 或 xlsx）"),
    }
}

fn write_json<T: serde::Serialize>(out: Option<&Path>, v: &T) -> Result<()> {
    let mut s = serde_json::to_string_pretty(v)?;
    s.push('\n');
    write_out(out, s.as_bytes())
}

pub fn report(cfg: &Config, period: &str, out: &Path, person: Option<&str>) -> Result<()> {
    let hub = open(cfg)?;
    let scope = scope(&hub, person)?;
    let r = hub.incident_report(&scope, period)?;
    let ext = out
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let bytes = match ext.as_str() {
        "json" => {
            let mut s = serde_json::to_string_pretty(&r)?;
            s.push('\n');
            s.into_bytes()
        }
        "xlsx" => jingwu_report::report_xlsx(&r)?,
        "pdf" => {
            let font = jingwu_slip::font::locate()
                .map_err(|e| anyhow::anyhow!("找不到中文字体，无法生成 PDF：{e}"))?;
            jingwu_report::report_pdf(&r, &font)?
        }
        _ => bail!("输出文件应以 .pdf、.xlsx 或 .json 结尾"),
    };
    write_out(Some(out), &bytes)?;
    println!("已生成 {}：{}", r.title, out.display());
    Ok(())
}
