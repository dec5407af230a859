//! Historical 110 records imported from an earlier system (历史数据导入):
//! one row per record, read from xlsx or CSV by the adapters, checked
//! here cell by cell, and turned into an [`Action::ImportIncident`]: the
//! first (and only) event of the record's case, signed by the importing
//! officer. The event is honest provenance: it says who imported what,
//! from which file and row, and carries the old system's times; it does
//! not pretend to be the original people's signatures.
//!
//! The record's own rules (times in order, the handling unit one the desk
//! dispatches to, a result when reported) are [`ImportedRecord::check`],
//! which [`crate::case::CaseState::create`] applies: a row is refused
//! here for exactly what the fold would refuse.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::{OffsetDateTime, PrimitiveDateTime};
use uuid::Uuid;

use crate::event::Action;
use crate::form::{CaseType, FieldError, FormValues, TemplateRef};
use crate::money::Money;
use crate::org::Org;
use crate::registry::Registry;
use crate::SHANGHAI;

/// The columns of an import file, in order.
pub const HEADERS: [&str; 22] = [
    "接警单编号",
    "报警时间",
    "报警方式",
    "报警人",
    "联系电话",
    "案发地点",
    "乡镇代码",
    "警情类别代码",
    "警情级别",
    "报警内容",
    "管辖单位代码",
    "派警时间",
    "签收时间",
    "出警时间",
    "到达时间",
    "反馈时间",
    "终结时间",
    "处警结果代码",
    "受伤人数",
    "死亡人数",
    "损失金额",
    "是否有效",
];

/// Column indexes in [`HEADERS`].
mod col {
    pub const CASE_NO: usize = 0;
    pub const REPORT_TIME: usize = 1;
    pub const METHOD: usize = 2;
    pub const CALLER: usize = 3;
    pub const PHONE: usize = 4;
    pub const LOCATION: usize = 5;
    pub const TOWNSHIP: usize = 6;
    pub const CATEGORY: usize = 7;
    pub const LEVEL: usize = 8;
    pub const SUMMARY: usize = 9;
    pub const UNIT: usize = 10;
    pub const STEPS: usize = 11; // 派警 … 终结: 11..=16
    pub const RESULT: usize = 17;
    pub const INJURED: usize = 18;
    pub const DEAD: usize = 19;
    pub const LOSS: usize = 20;
    pub const VALID: usize = 21;
}

/// The longest 接警单编号 of an import.
pub const MAX_CASE_NO: usize = 40;

/// What the old system recorded of a record besides the intake: who it
/// belonged to, when each step happened, how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedRecord {
    /// 管辖单位: a unit the bureau's desk dispatches to.
    pub handling_unit: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub dispatched_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub acknowledged_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub departed_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub arrived_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub feedback_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub concluded_at: Option<OffsetDateTime>,
    /// 处警结果 code (with a report).
    #[serde(default)]
    pub result: Option<String>,
    pub injured: u32,
    pub dead: u32,
    pub loss_amount: Money,
    /// 是否有效.
    pub valid: bool,
    /// Where it came from: the file's name and SM3, and the row.
    pub source: String,
}

/// The field names of [`ImportedRecord::check`]'s errors, and their
/// columns.
const RECORD_FIELDS: [(&str, usize); 12] = [
    ("injured", col::INJURED),
    ("dead", col::DEAD),
    ("loss_amount", col::LOSS),
    ("handling_unit", col::UNIT),
    ("dispatched_at", col::STEPS),
    ("acknowledged_at", col::STEPS + 1),
    ("departed_at", col::STEPS + 2),
    ("arrived_at", col::STEPS + 3),
    ("feedback_at", col::STEPS + 4),
    ("concluded_at", col::STEPS + 5),
    ("result", col::RESULT),
    ("case_no", col::CASE_NO),
];

/// The intake fields an import fills, and their columns.
const FORM_FIELDS: [(&str, usize); 9] = [
    ("report_time", col::REPORT_TIME),
    ("alarm_method", col::METHOD),
    ("caller_name", col::CALLER),
    ("contact_phone", col::PHONE),
    ("location", col::LOCATION),
    ("township", col::TOWNSHIP),
    ("alarm_category", col::CATEGORY),
    ("level", col::LEVEL),
    ("summary", col::SUMMARY),
];

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

impl ImportedRecord {
    /// The steps in order, with their field names and labels.
    pub fn steps(&self) -> [(&'static str, &'static str, Option<OffsetDateTime>); 5] {
        [
            ("dispatched_at", "派警时间", self.dispatched_at),
            ("acknowledged_at", "签收时间", self.acknowledged_at),
            ("departed_at", "出警时间", self.departed_at),
            ("arrived_at", "到达时间", self.arrived_at),
            ("feedback_at", "反馈时间", self.feedback_at),
        ]
    }

    /// The record's rules, given its 报警时间, the registering `desk`'s
    /// org and the event's time:
    /// - the 管辖单位 is one the desk's bureau dispatches to;
    /// - the steps reached form a prefix (派警, 签收, 出警, 到达, 反馈):
    ///   a step has a time only if every earlier one has;
    /// - each time is no earlier than the one before (派警 no earlier
    ///   than 报警), and none later than the event;
    /// - 终结 needs the report, or no dispatch at all (e.g. an invalid
    ///   call closed at the desk), and no earlier than the last step;
    /// - 处警结果 is given exactly when there is a report, and is in the
    ///   dictionary; without a report there are no casualties or losses
    ///   (they are what the report found).
    pub fn check(
        &self,
        reg: &Registry,
        bureau: &str,
        report: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Vec<FieldError> {
        let org: &Org = &reg.org;
        let mut errs = Vec::new();
        if !org.is_dispatch_target(bureau, &self.handling_unit) {
            errs.push(err(
                "handling_unit",
                format!("单位 {} 不是本局 110 可派警的处警单位", self.handling_unit),
            ));
        }
        let mut prev = ("报警时间", Some(report));
        let mut gap: Option<&str> = None;
        for (field, label, t) in self.steps() {
            match t {
                Some(t) => {
                    if let Some(missing) = gap {
                        errs.push(err(field, format!("有{label}却没有{missing}")));
                    } else if let (plabel, Some(p)) = prev {
                        if t < p {
                            errs.push(err(field, format!("{label}不能早于{plabel}")));
                        }
                    }
                    if t > now {
                        errs.push(err(field, format!("{label}不能晚于导入时间")));
                    }
                    prev = (label, Some(t));
                }
                None => {
                    if gap.is_none() {
                        gap = Some(label);
                    }
                }
            }
        }
        if let Some(c) = self.concluded_at {
            if self.dispatched_at.is_some() && self.feedback_at.is_none() {
                errs.push(err("concluded_at", "已派警的警情须有反馈时间才能终结"));
            }
            if let (plabel, Some(p)) = prev {
                if c < p {
                    errs.push(err("concluded_at", format!("终结时间不能早于{plabel}")));
                }
            }
            if c > now {
                errs.push(err("concluded_at", "终结时间不能晚于导入时间"));
            }
        }
        if self.feedback_at.is_none() {
            for (field, label, v) in [
                ("injured", "受伤人数", i64::from(self.injured)),
                ("dead", "死亡人数", i64::from(self.dead)),
                ("loss_amount", "损失金额", self.loss_amount.fen()),
            ] {
                if v != 0 {
                    errs.push(err(
                        field,
                        format!("没有反馈时间时{label}应为空或 0（伤亡和损失是反馈的内容）"),
                    ));
                }
            }
        }
        match (&self.result, self.feedback_at) {
            (Some(r), Some(_)) => {
                let ok = reg
                    .dicts
                    .get("handling_result")
                    .is_some_and(|d| d.label(r).is_some());
                if !ok {
                    errs.push(err("result", format!("处警结果代码“{r}”不在字典中")));
                }
            }
            (None, Some(_)) => errs.push(err("result", "有反馈时间时必须填写处警结果代码")),
            (Some(_), None) => errs.push(err("result", "没有反馈时间时不应填写处警结果代码")),
            (None, None) => {}
        }
        errs
    }

    /// The 反馈单 the record's dispatch carries (result, casualties,
    /// loss), empty without a report.
    pub fn feedback(&self) -> FormValues {
        let mut f = FormValues::new();
        if self.feedback_at.is_some() {
            if let Some(r) = &self.result {
                f.insert("result".into(), json!(r));
            }
            f.insert("injured".into(), json!(self.injured));
            f.insert("dead".into(), json!(self.dead));
            f.insert("loss_amount".into(), json!(self.loss_amount.to_string()));
        }
        f
    }
}

/// One problem of one row: the row (1 = the first data row; the header is
/// row 0), the column's header, the cell's text and what is wrong, in
/// Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub value: String,
    pub message: String,
}

/// A row read and ready to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub row: usize,
    pub case_id: Uuid,
    pub action: Action,
}

impl ImportRow {
    /// The 接警单编号.
    pub fn case_no(&self) -> &str {
        match &self.action {
            Action::ImportIncident { case_no, .. } => case_no,
            _ => "",
        }
    }
}

/// The case id of an imported 接警单编号: the same number always makes
/// the same case, so an import run twice (or retried) cannot make two.
pub fn case_id_for(case_no: &str) -> Uuid {
    use sm3::Digest;
    let d = sm3::Sm3::digest(format!("jingwu/import-incident/{case_no}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid()
}

/// The header row's columns in [`HEADERS`] order, or what is missing.
/// Extra columns are ignored; headers are trimmed (and a BOM dropped).
pub fn header_map(headers: &[String]) -> Result<[usize; 22], Vec<RowError>> {
    let clean: Vec<String> = headers
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let mut map = [0usize; 22];
    let mut errs = Vec::new();
    for (i, h) in HEADERS.iter().enumerate() {
        match clean.iter().position(|c| c == h) {
            Some(p) => map[i] = p,
            None => errs.push(RowError {
                row: 0,
                column: h.to_string(),
                value: String::new(),
                message: format!("缺少列“{h}”"),
            }),
        }
    }
    if errs.is_empty() {
        Ok(map)
    } else {
        Err(errs)
    }
}

/// `YYYY-MM-DD HH:MM:SS` in Asia/Shanghai.
pub fn parse_local_time(s: &str) -> Option<OffsetDateTime> {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(s.trim(), f)
        .ok()
        .map(|t| t.assume_offset(SHANGHAI))
}

/// The text a time is written as in an import file.
pub fn format_local_time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    t.to_offset(SHANGHAI).format(f).unwrap_or_default()
}

/// Everything needed to read rows: the registry, the importing officer's
/// desk, the template, the event time and the file's provenance.
pub struct Importer<'a> {
    pub reg: &'a Registry,
    /// The desk unit registering the records.
    pub unit: &'a str,
    /// The importing officer (the events' author).
    pub author: &'a str,
    pub template: TemplateRef,
    pub now: OffsetDateTime,
    /// e.g. `历史警情.xlsx（SM3 1a2b…）`.
    pub source: String,
}

impl Importer<'_> {
    /// Reads one data row (`cells` in file order, `map` from
    /// [`header_map`]); `row` is its number for errors.
    pub fn row(
        &self,
        row: usize,
        map: &[usize; 22],
        cells: &[String],
    ) -> Result<ImportRow, Vec<RowError>> {
        let cell = |i: usize| -> String {
            cells
                .get(map[i])
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let mut errs: Vec<RowError> = Vec::new();
        let mut bad = |i: usize, message: String| {
            errs.push(RowError {
                row,
                column: HEADERS[i].to_string(),
                value: cell(i),
                message,
            })
        };
        let case_no = cell(col::CASE_NO);
        if case_no.is_empty() {
            bad(col::CASE_NO, "接警单编号不能为空".into());
        } else if case_no.chars().count() > MAX_CASE_NO
            || !case_no
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            bad(
                col::CASE_NO,
                format!("接警单编号只能由字母、数字和“-”组成，最多 {MAX_CASE_NO} 位"),
            );
        }
        let mut time_of = |i: usize, required: bool| -> Option<OffsetDateTime> {
            let t = cell(i);
            if t.is_empty() {
                if required {
                    bad(i, format!("{}不能为空", HEADERS[i]));
                }
                return None;
            }
            let v = parse_local_time(&t);
            if v.is_none() {
                bad(i, format!("{}应为“YYYY-MM-DD HH:MM:SS”", HEADERS[i]));
            }
            v
        };
        let report = time_of(col::REPORT_TIME, true);
        let mut steps = [None; 6];
        for (k, s) in steps.iter_mut().enumerate() {
            *s = time_of(col::STEPS + k, false);
        }
        let mut int_of = |i: usize| -> u32 {
            let t = cell(i);
            if t.is_empty() {
                return 0;
            }
            match t.parse::<u32>() {
                Ok(n) if n <= 100_000 => n,
                _ => {
                    bad(i, format!("{}应为 0 到 100000 的整数", HEADERS[i]));
                    0
                }
            }
        };
        let injured = int_of(col::INJURED);
        let dead = int_of(col::DEAD);
        let loss = {
            let t = cell(col::LOSS);
            if t.is_empty() {
                Money::ZERO
            } else {
                match Money::parse(&t) {
                    Ok(m) => m,
                    Err(e) => {
                        bad(col::LOSS, format!("损失金额{e}"));
                        Money::ZERO
                    }
                }
            }
        };
        let valid = match cell(col::VALID).as_str() {
            "1" | "是" | "有效" => true,
            "0" | "否" | "无效" => false,
            _ => {
                bad(col::VALID, "是否有效应为 1（是）或 0（否）".into());
                true
            }
        };
        let result = Some(cell(col::RESULT)).filter(|s| !s.is_empty());
        let mut form = FormValues::new();
        for (key, i) in FORM_FIELDS {
            let v = cell(i);
            if !v.is_empty() {
                form.insert(key.into(), Value::String(v));
            }
        }
        if let Some(r) = report {
            let t = crate::view::local_time(r);
            form.insert("report_time".into(), json!(t));
            form.insert("receive_time".into(), json!(t));
        }
        let record = ImportedRecord {
            handling_unit: cell(col::UNIT),
            dispatched_at: steps[0],
            acknowledged_at: steps[1],
            departed_at: steps[2],
            arrived_at: steps[3],
            feedback_at: steps[4],
            concluded_at: steps[5],
            result,
            injured,
            dead,
            loss_amount: loss,
            valid,
            source: format!("{} 第 {row} 行", self.source),
        };
        if !errs.is_empty() {
            return Err(errs);
        }
        let action = Action::ImportIncident {
            template: self.template.clone(),
            case_no: case_no.clone(),
            unit: self.unit.to_string(),
            form,
            record,
        };
        // The fold's own rules, on a trial event.
        let ev = crate::event::Event::new(
            case_id_for(&case_no),
            0,
            None,
            self.author,
            "trial",
            "trial",
            self.now,
            [0; 10],
            action.clone(),
        );
        let errs = crate::case::check_import(self.reg, &ev);
        if !errs.is_empty() {
            return Err(errs
                .into_iter()
                .map(|e| {
                    let i = FORM_FIELDS
                        .iter()
                        .chain(RECORD_FIELDS.iter())
                        .find(|(k, _)| e.field == *k || e.field.starts_with(&format!("{k}[")))
                        .map(|(_, i)| *i);
                    match i {
                        Some(i) => RowError {
                            row,
                            column: HEADERS[i].to_string(),
                            value: cell(i),
                            message: e.message,
                        },
                        None => RowError {
                            row,
                            column: String::new(),
                            value: String::new(),
                            message: e.message,
                        },
                    }
                })
                .collect());
        }
        Ok(ImportRow {
            row,
            case_id: case_id_for(&case_no),
            action,
        })
    }
}

/// The case type of imports.
pub const CASE_TYPE: CaseType = CaseType::Incident;
