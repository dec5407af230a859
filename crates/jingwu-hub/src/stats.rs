//! 110 queries, statistics, the 警情通报 and historical imports on the
//! hub. Every path starts from the caller's [`Scope`] (the core's
//! `query_scope`, the one gate), narrows the conditions to it and asks
//! the store (`db/incidents.rs`), which adds up the typed table written
//! in the same transaction as the events. The command line runs the same
//! functions with the scope of the hub's operator ([`Scope::All`]) or of
//! a person it names.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use jingwu_core::case::CaseState;
use jingwu_core::crypto::Signer as _;
use jingwu_core::event::{Event, SignedEvent};
use jingwu_core::import::{header_map, Importer, RowError};
use jingwu_core::stats::{
    query_scope, Conditions, Dim, Filter, Period, Report, ReportData, Scope, SpeedKind,
};
use jingwu_core::SHANGHAI;
use jingwu_proto::{
    ImportOutcome, QueryPage, QueryRequest, SavedQuery, SpeedRow, StatsAccess, StatsRow, WireEvent,
    MAX_PER_PAGE,
};
use rayon::prelude::*;

use crate::db::{DbResult, HubDb};
use crate::error::{ApiError, ErrorCode};
use crate::hosted::HOSTED_DEVICE;
use crate::hub::{Caller, Hub};

/// The largest import file the API takes (the command line takes any).
pub const MAX_IMPORT_BYTES: usize = 24 * 1024 * 1024;

fn bad(errs: Vec<String>) -> ApiError {
    ApiError::new(ErrorCode::BadArguments, errs.join("；"))
}

/// The report's sums for `period`, from the store, within `base` (the
/// scope's conditions without a time range).
pub fn report_data(db: &dyn HubDb, base: &Conditions, period: &Period) -> DbResult<ReportData> {
    let periods = [*period, period.previous(), period.year_earlier()];
    let mut data = ReportData::default();
    for (i, p) in periods.iter().enumerate() {
        let c = base.between(p.first, p.last);
        let total = db
            .incident_stats(&c, &[])?
            .into_iter()
            .next()
            .map(|(_, m)| m)
            .unwrap_or_default();
        match i {
            0 => data.current = total,
            1 => data.previous = total,
            _ => data.year_earlier = total,
        }
        let grouped = db.incident_stats(&c, &[Dim::Category, Dim::Unit, Dim::Township])?;
        for (keys, m) in grouped {
            for (slot, key) in [
                (&mut data.by_category[i], &keys[0]),
                (&mut data.by_unit[i], &keys[1]),
                (&mut data.by_township[i], &keys[2]),
            ] {
                slot.entry(key.clone()).or_default().add(&m);
            }
        }
    }
    let cur = base.between(period.first, period.last);
    for (i, k) in SpeedKind::ALL.iter().enumerate() {
        data.speed[i] = db.incident_speed(&cur, *k)?;
    }
    let mut unfinished = cur.clone();
    unfinished.statuses = Some(
        jingwu_core::stats::UNFINISHED
            .iter()
            .map(|s| jingwu_core::stats::status_name(*s))
            .collect(),
    );
    data.unfinished = db.incident_statuses(&unfinished)?;
    Ok(data)
}

/// A table read from an import file: the header row and the data rows,
/// every cell as text.
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Reads `.csv` (UTF-8, or GB18030 as Excel in Chinese saves it) or
/// `.xlsx` (the first sheet) by the file's name.
pub fn read_table(name: &str, bytes: &[u8]) -> Result<Table, String> {
    let lower = name.to_lowercase();
    let mut rows: Vec<Vec<String>> = if lower.ends_with(".xlsx") {
        read_xlsx(bytes)?
    } else if lower.ends_with(".csv") || lower.ends_with(".txt") {
        read_csv(bytes)?
    } else {
        return Err(format!("不支持的文件“{name}”：请使用 .xlsx 或 .csv 文件"));
    };
    // Trailing empty rows (Excel keeps formatted ones) are not rows.
    while rows
        .last()
        .is_some_and(|r| r.iter().all(|c| c.trim().is_empty()))
    {
        rows.pop();
    }
    if rows.is_empty() {
        return Err("文件是空的：没有表头行".into());
    }
    let headers = rows.remove(0);
    Ok(Table { headers, rows })
}

fn read_csv(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    let text: String = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let (s, _, bad) = encoding_rs::GB18030.decode(bytes);
            if bad {
                return Err("文件编码无法识别：请保存为 UTF-8 或 GBK 编码的 CSV".into());
            }
            s.into_owned()
        }
    };
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| format!("CSV 第 {} 行格式错误：{e}", i + 1))?;
        rows.push(rec.iter().map(str::to_string).collect());
    }
    Ok(rows)
}

pub(crate) fn read_xlsx(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    use calamine::{Data, Reader as _};
    let mut wb = calamine::Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("无法读取 xlsx 文件：{e}"))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or("xlsx 文件中没有工作表")?
        .map_err(|e| format!("无法读取 xlsx 工作表：{e}"))?;
    let cell = |d: &Data| -> String {
        match d {
            Data::Empty => String::new(),
            Data::String(s) => s.clone(),
            Data::Int(i) => i.to_string(),
            // Shortest text that reads back as the same number: 1234.5,
            // 13985501234, 0.1 — never rounded, so 12.345 stays wrong.
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Data::Float(f) => format!("{f}"),
            Data::Bool(b) => if *b { "1" } else { "0" }.into(),
            Data::DateTime(dt) => excel_time(dt.as_f64()),
            Data::DateTimeIso(s) | Data::DurationIso(s) => s.replace('T', " "),
            Data::Error(e) => format!("#{e:?}"),
        }
    };
    Ok(range.rows().map(|r| r.iter().map(cell).collect()).collect())
}

/// An Excel serial date-time (days since 1899-12-30, the 1900 system)
/// as `YYYY-MM-DD HH:MM:SS`, to the nearest second.
fn excel_time(serial: f64) -> String {
    let base = time::macros::datetime!(1899-12-30 00:00);
    let secs = (serial * 86_400.0).round();
    if !secs.is_finite() || secs.abs() > 1e12 {
        return format!("{serial}");
    }
    let t = base + time::Duration::seconds(secs as i64);
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    t.format(f).unwrap_or_default()
}

fn sm3_hex(bytes: &[u8]) -> String {
    use sm3::Digest as _;
    hex::encode(sm3::Sm3::digest(bytes))
}

impl Hub {
    /// What `caller` may query (refused with the core's reason).
    pub fn stats_scope(&self, caller: &Caller) -> Result<Scope, ApiError> {
        query_scope(&self.reg().org, &caller.person)
            .map_err(|m| ApiError::new(ErrorCode::NotAllowed, m))
    }

    /// `filter` checked and narrowed to `scope`.
    pub fn conditions(&self, scope: &Scope, filter: &Filter) -> Result<Conditions, ApiError> {
        Ok(filter
            .check(&self.reg())
            .map_err(bad)?
            .within(scope, &self.reg().org))
    }

    /// A page of the records meeting the request's conditions.
    pub fn incident_query(&self, scope: &Scope, q: &QueryRequest) -> Result<QueryPage, ApiError> {
        let c = self.conditions(scope, &q.filter)?;
        let per_page = match q.per_page {
            0 => 50,
            n => n.min(MAX_PER_PAGE),
        };
        let page = q.page.max(1);
        let (total, rows) = self.db.incident_rows(
            &c,
            q.sort,
            q.desc,
            i64::from(per_page),
            i64::from(page - 1) * i64::from(per_page),
        )?;
        Ok(QueryPage {
            total,
            page,
            per_page,
            rows,
        })
    }

    /// Every record meeting the conditions, for an export (in pages, so
    /// memory stays bounded by the result, not by the query).
    pub fn incident_query_all(
        &self,
        scope: &Scope,
        q: &QueryRequest,
    ) -> Result<Vec<jingwu_proto::IncidentRow>, ApiError> {
        let c = self.conditions(scope, &q.filter)?;
        let mut out = Vec::new();
        let per = i64::from(MAX_PER_PAGE) * 10;
        loop {
            let (_, rows) = self
                .db
                .incident_rows(&c, q.sort, q.desc, per, out.len() as i64)?;
            let n = rows.len() as i64;
            out.extend(rows);
            if n < per {
                return Ok(out);
            }
        }
    }

    /// Statistics grouped by `by` (see `jingwu_proto::StatsRequest`).
    pub fn incident_stats(
        &self,
        scope: &Scope,
        filter: &Filter,
        by: &str,
    ) -> Result<Vec<StatsRow>, ApiError> {
        let dims = Dim::parse_list(by).map_err(|m| bad(vec![m]))?;
        let c = self.conditions(scope, filter)?;
        Ok(self
            .db
            .incident_stats(&c, &dims)?
            .into_iter()
            .map(|(keys, measures)| StatsRow {
                keys: dims
                    .iter()
                    .map(|d| d.name().to_string())
                    .zip(keys)
                    .collect(),
                measures,
            })
            .collect())
    }

    /// Response speed of `kind` per unit: every bucket of every unit
    /// measured, zeros included, units by code.
    pub fn incident_speed(
        &self,
        scope: &Scope,
        filter: &Filter,
        kind: &str,
    ) -> Result<Vec<SpeedRow>, ApiError> {
        let kind = SpeedKind::parse(kind).map_err(|m| bad(vec![m]))?;
        let c = self.conditions(scope, filter)?;
        let mut per: BTreeMap<String, [i64; 5]> = BTreeMap::new();
        for (unit, b, n, _) in self.db.incident_speed(&c, kind)? {
            if let Some(x) = per.entry(unit).or_default().get_mut(b) {
                *x += n;
            }
        }
        Ok(per
            .into_iter()
            .flat_map(|(unit, counts)| {
                kind.buckets()
                    .into_iter()
                    .zip(counts)
                    .map(move |(b, count)| SpeedRow {
                        unit: unit.clone(),
                        bucket: b.to_string(),
                        count,
                    })
            })
            .collect())
    }

    /// The 警情通报 of `period` (`2026-W48`, `2026-11`, `2026-Q4`,
    /// `2026`) within `scope`.
    pub fn incident_report(&self, scope: &Scope, period: &str) -> Result<Report, ApiError> {
        let p = Period::parse(period).map_err(|e| bad(vec![e.to_string()]))?;
        let base = Conditions::default().within(scope, &self.reg().org);
        let data = report_data(self.db.as_ref(), &base, &p)?;
        Ok(Report::assemble(
            &self.reg(),
            &p,
            scope,
            &data,
            time::OffsetDateTime::now_utc(),
        ))
    }

    /// The caller's saved queries.
    pub fn saved_queries(&self, caller: &Caller) -> Result<Vec<SavedQuery>, ApiError> {
        self.stats_scope(caller)?;
        self.db
            .saved_queries(&caller.person)?
            .into_iter()
            .map(|(name, json)| {
                Ok(SavedQuery {
                    name,
                    filter: serde_json::from_str(&json)
                        .map_err(|e| ApiError::internal(format!("保存的查询已损坏：{e}")))?,
                })
            })
            .collect()
    }

    /// Saves (or replaces) one of the caller's queries, checked first.
    pub fn save_query(&self, caller: &Caller, q: &SavedQuery) -> Result<(), ApiError> {
        let scope = self.stats_scope(caller)?;
        let name = q.name.trim();
        if name.is_empty() || name.chars().count() > 50 {
            return Err(bad(vec!["查询名称应为 1 到 50 个字".into()]));
        }
        self.conditions(&scope, &q.filter)?;
        let json =
            serde_json::to_string(&q.filter).map_err(|e| ApiError::internal(e.to_string()))?;
        self.db
            .save_query(&caller.person, name, &json, &crate::now_rfc3339())?;
        Ok(())
    }

    /// Deletes one of the caller's queries.
    pub fn delete_query(&self, caller: &Caller, name: &str) -> Result<(), ApiError> {
        self.stats_scope(caller)?;
        if self.db.delete_query(&caller.person, name)? {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::NotFound,
                format!("没有名为“{name}”的查询"),
            ))
        }
    }

    /// Imports historical 110 records from a file (`name` says xlsx or
    /// csv) as `caller`, a member of a desk, each record one event
    /// signed with the caller's hosted key.
    ///
    /// Every row is checked first (cell by cell, then by the core's fold).
    /// With any error nothing is imported unless `only_valid`; with
    /// `dry_run` nothing is imported at all. Rows whose 接警单编号 is on
    /// the hub already are counted and skipped, so importing a file twice
    /// adds nothing. Records go to the store in pushes of the batch
    /// size, each all or none; `progress(done, total)` is called after
    /// each. An import stopped half way (a lost database) is finished
    /// by importing the same file again.
    pub fn import_incidents(
        &self,
        caller: &Caller,
        run: &ImportRun<'_>,
    ) -> Result<ImportOutcome, ApiError> {
        let ImportRun {
            name,
            bytes,
            only_valid,
            dry_run,
            ref signer,
            progress,
        } = *run;
        let reg = &self.reg();
        let unit = self.import_unit(caller)?;
        let table = read_table(name, bytes).map_err(|m| bad(vec![m]))?;
        let mut outcome = ImportOutcome {
            rows: table.rows.len(),
            imported: 0,
            already: 0,
            refused: 0,
            errors: Vec::new(),
        };
        let map = match header_map(&table.headers) {
            Ok(m) => m,
            Err(errs) => {
                outcome.refused = outcome.rows;
                outcome.errors = errs;
                return Ok(outcome);
            }
        };
        let template = reg
            .template_latest("incident")
            .ok_or_else(|| ApiError::internal("缺少接处警登记表模板"))?
            .reference();
        let now = time::OffsetDateTime::now_utc().to_offset(SHANGHAI);
        let sm3 = sm3_hex(bytes);
        let file = std::path::Path::new(name)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_string());
        let importer = Importer {
            reg,
            unit: &unit,
            author: &caller.person,
            template,
            now,
            source: format!("{file}（SM3 {}）", &sm3[..16]),
        };
        let checked: Vec<_> = table
            .rows
            .par_iter()
            .enumerate()
            .map(|(i, cells)| importer.row(i + 1, &map, cells))
            .collect();
        let mut good = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for r in checked {
            match r {
                Ok(row) => {
                    if let Some(first) = seen.get(row.case_no()) {
                        outcome.errors.push(RowError {
                            row: row.row,
                            column: "接警单编号".into(),
                            value: row.case_no().to_string(),
                            message: format!("与第 {first} 行的接警单编号重复"),
                        });
                        outcome.refused += 1;
                    } else {
                        seen.insert(row.case_no().to_string(), row.row);
                        good.push(row);
                    }
                }
                Err(errs) => {
                    outcome.refused += 1;
                    outcome.errors.extend(errs);
                }
            }
        }
        let taken: std::collections::HashSet<String> = self
            .db
            .taken_case_nos(
                &good
                    .iter()
                    .map(|r| r.case_no().to_string())
                    .collect::<Vec<_>>(),
            )?
            .into_iter()
            .collect();
        good.retain(|r| !taken.contains(r.case_no()));
        outcome.already = taken.len();
        if dry_run || (outcome.refused > 0 && !only_valid) || good.is_empty() {
            return Ok(outcome);
        }
        let hosted;
        let (key, device): (&jingwu_core::crypto::SoftwareKey, &str) = match signer {
            ImportSigner::Hosted { pin } => {
                self.db.hosted_key(&caller.person)?.ok_or_else(|| {
                    ApiError::new(ErrorCode::NoHostedKey, "尚未创建签名密钥，请先创建")
                })?;
                hosted = self.unseal(caller, pin)?;
                (&hosted, HOSTED_DEVICE)
            }
            ImportSigner::Key { key, device } => (key, device),
        };
        let fingerprint = key.public_key().fingerprint();
        let total = good.len();
        for chunk in good.chunks(self.limits.max_batch.max(1)) {
            let signed: Result<Vec<SignedEvent>, ApiError> = chunk
                .par_iter()
                .map(|r| {
                    let mut random = [0u8; 10];
                    getrandom::fill(&mut random)
                        .map_err(|_| ApiError::internal("无法取得随机数"))?;
                    let ev = Event::new(
                        r.case_id,
                        0,
                        None,
                        &caller.person,
                        device,
                        &fingerprint,
                        now,
                        random,
                        r.action.clone(),
                    );
                    debug_assert_eq!(ev.key, key.public_key().fingerprint());
                    SignedEvent::sign(ev, key)
                        .map_err(|e| ApiError::internal(format!("签名失败：{e}")))
                })
                .collect();
            let wire: Vec<WireEvent> = signed?.iter().map(WireEvent::of).collect();
            self.push(caller, &wire).map_err(|e| {
                let mut e = e;
                e.body.error = format!(
                    "已导入 {} 条后中断：{}（再次导入同一文件可继续，已导入的不会重复）",
                    outcome.imported, e.body.error
                );
                e
            })?;
            outcome.imported += chunk.len();
            progress(outcome.imported, total);
        }
        // The tables grew in one go: the planner learns their new shape.
        self.db.refresh_statistics()?;
        Ok(outcome)
    }

    /// The desk `caller` imports for (their 110 brigade or 指挥中心):
    /// only a desk's members import historical records.
    pub fn import_unit(&self, caller: &Caller) -> Result<String, ApiError> {
        let org = &self.reg().org;
        org.units_of(&caller.person)
            .into_iter()
            .find(|u| org.is_desk(&u.code))
            .map(|u| u.code.clone())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotAllowed,
                    "只有 110 巡警大队或指挥中心的人员可以导入历史警情",
                )
            })
    }

    /// Whether `caller` may query (and their scope), and import.
    pub fn stats_access(&self, caller: &Caller) -> StatsAccess {
        let (scope, reason) = match self.stats_scope(caller) {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e.body.error)),
        };
        StatsAccess {
            allowed: scope.is_some(),
            reason,
            scope,
            can_import: self.import_unit(caller).is_ok(),
        }
    }

    /// Every record meeting the conditions as a file: `csv` (UTF-8 with
    /// a BOM) or `xlsx`.
    pub fn export_file(
        &self,
        scope: &Scope,
        q: &QueryRequest,
        format: &str,
        person: &str,
    ) -> Result<FileOut, ApiError> {
        check_format(format, &["csv", "xlsx"])?;
        let rows = self.incident_query_all(scope, q)?;
        tracing::info!(person = %person, rows = rows.len(), "110 records exported");
        let table = jingwu_report::query_table(&self.reg(), &rows);
        table_file(table, format, "incidents")
    }

    /// Grouped statistics as a file (`csv` or `xlsx`).
    pub fn stats_file(
        &self,
        scope: &Scope,
        filter: &Filter,
        by: &str,
        format: &str,
    ) -> Result<FileOut, ApiError> {
        check_format(format, &["csv", "xlsx"])?;
        let rows = self.incident_stats(scope, filter, by)?;
        table_file(
            jingwu_report::stats_table(&self.reg(), by, &rows),
            format,
            "stats",
        )
    }

    /// The 警情通报 of `period` as a printable PDF or an xlsx workbook.
    pub fn report_file(
        &self,
        scope: &Scope,
        period: &str,
        format: &str,
    ) -> Result<FileOut, ApiError> {
        if !["pdf", "xlsx"].contains(&format) {
            return Err(ApiError::new(
                ErrorCode::BadArguments,
                format!("未知的格式“{format}”，应为 pdf 或 xlsx"),
            ));
        }
        let r = self.incident_report(scope, period)?;
        let name = format!("jingqing-{}.{format}", r.period);
        if format == "xlsx" {
            return Ok(FileOut {
                name,
                mime: XLSX,
                bytes: jingwu_report::report_xlsx(&r).map_err(render)?,
            });
        }
        let font = jingwu_slip::font::locate().map_err(|e| {
            ApiError::internal(format!("县局服务器找不到中文字体，无法生成 PDF：{e}"))
        })?;
        Ok(FileOut {
            name,
            mime: "application/pdf",
            bytes: jingwu_report::report_pdf(&r, &font).map_err(render)?,
        })
    }

    /// An imported record as stored (for tests and the command line).
    pub fn incident_state(&self, case_id: &uuid::Uuid) -> Result<Option<CaseState>, ApiError> {
        Ok(self.db.case_state(case_id)?)
    }
}

/// Whose key signs an import's events.
pub enum ImportSigner<'a> {
    /// The caller's hosted key, unsealed with this PIN.
    Hosted { pin: &'a str },
    /// A key the caller holds (the command line: their key file,
    /// unsealed with their PIN), used from `device`.
    Key {
        key: &'a jingwu_core::crypto::SoftwareKey,
        device: &'a str,
    },
}

/// One import: the file, what to do with bad rows, who signs, and where
/// progress goes.
pub struct ImportRun<'a> {
    /// The file's name (`.xlsx` or `.csv` decides how it is read).
    pub name: &'a str,
    pub bytes: &'a [u8],
    /// Import the valid rows even if some rows have errors.
    pub only_valid: bool,
    /// Check only.
    pub dry_run: bool,
    pub signer: ImportSigner<'a>,
    /// Called with (records imported, records to import) after each push.
    pub progress: &'a dyn Fn(usize, usize),
}

/// A file made for a download: its name, type and content.
#[derive(Debug, Clone)]
pub struct FileOut {
    pub name: String,
    pub mime: &'static str,
    pub bytes: Vec<u8>,
}

/// The MIME type of an xlsx workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn check_format(format: &str, known: &[&str]) -> Result<(), ApiError> {
    if known.contains(&format) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::BadArguments,
            format!(
                "未知的格式“{format}”，应为 {}",
                match known.split_last() {
                    Some((last, [])) => last.to_string(),
                    Some((last, rest)) => format!("{} 或 {last}", rest.join("、")),
                    None => String::new(),
                }
            ),
        ))
    }
}

fn render(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("无法生成文件：{e}"))
}

/// A table as `csv` or `xlsx`, named `stem.csv` / `stem.xlsx`.
fn table_file(table: jingwu_report::Table, format: &str, stem: &str) -> Result<FileOut, ApiError> {
    Ok(if format == "csv" {
        FileOut {
            name: format!("{stem}.csv"),
            mime: "text/csv; charset=utf-8",
            bytes: jingwu_report::table_csv(&table).into_bytes(),
        }
    } else {
        FileOut {
            name: format!("{stem}.xlsx"),
            mime: XLSX,
            bytes: jingwu_report::tables_xlsx(&[table]).map_err(render)?,
        }
    })
}

/// An import file sent over the API, decoded.
pub fn decode_upload(data: &str) -> Result<Vec<u8>, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| bad(vec!["文件内容不是有效的 base64".into()]))?;
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "文件超过 {} MB，请分成几个文件，或在县局服务器上用 jingwu-hub import-incidents 导入",
                MAX_IMPORT_BYTES / 1024 / 1024
            ),
        ));
    }
    Ok(bytes)
}
