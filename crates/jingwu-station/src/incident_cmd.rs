//! `jingwu-station incident …`: 110 接处警 without a window — 接警 and
//! 派警 at the desk, 签收 / 出警 / 到达 / 反馈 / 退单 at a unit, 终结 by
//! the 值班长 or 所长, the lists and the whole record. Every step is
//! signed and recorded locally first (so a station with no link keeps
//! working) and reaches the hub with `sync`. What is allowed is the
//! core's to say: the field errors come from `check_intake` /
//! `check_feedback` before the PIN is asked, the rest from the rules when
//! the event is recorded; a refused step saves nothing.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use jingwu_core::case::{check_intake, CaseState, IncidentStep};
use jingwu_core::form::{CaseType, FieldError, FieldType, FormValues, Permission, Template};
use jingwu_core::money::Money;
use jingwu_core::registry::Registry;
use jingwu_core::view;
use jingwu_core::SHANGHAI;
use jingwu_station::station::Station;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::secret;

#[derive(Subcommand)]
pub enum IncidentCmd {
    /// 接警 (at a 110 desk) or 自接警 (at a 派出所 or another handling
    /// unit: the unit handles it itself, 签收 at once). Values from
    /// `--form` (a JSON object of field keys) and `--field key=value`;
    /// 报警时间 and 接警时间 default to now. Earlier records the report may
    /// repeat (same phone, or same 乡镇 and category within 30 minutes)
    /// are printed as a warning.
    New {
        /// A JSON file of intake values (field key → value).
        #[arg(long)]
        form: Option<PathBuf>,
        /// One intake value (repeatable; overrides --form).
        #[arg(long = "field", value_name = "KEY=VALUE")]
        fields: Vec<String>,
        /// The registering unit (code or name; default: your 110 desk,
        /// else your handling unit).
        #[arg(long)]
        unit: Option<String>,
    },
    /// 派警 to one or more units (一警多处), all dispatches in one step.
    Dispatch {
        /// Case id or 接警单编号.
        case: String,
        /// A unit to dispatch to (code or name; repeatable).
        #[arg(long = "unit", value_name = "UNIT")]
        units: Vec<String>,
        /// 派警意见.
        #[arg(long, default_value = "")]
        opinion: String,
    },
    /// 签收 your unit's dispatch.
    Ack {
        case: String,
        /// Which dispatch, when you belong to several dispatched units.
        #[arg(long)]
        unit: Option<String>,
    },
    /// 出警: who set out, in which vehicles, and when (default now).
    Depart {
        case: String,
        /// 出警人员 (警号 or name; repeatable).
        #[arg(long = "officer", value_name = "ID")]
        officers: Vec<String>,
        /// 出警车辆 (repeatable).
        #[arg(long = "vehicle", value_name = "PLATE")]
        vehicles: Vec<String>,
        /// When they set out, e.g. `2026-12-03 08:30` (Beijing time).
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        unit: Option<String>,
    },
    /// 到达现场, now or `--at`.
    Arrive {
        case: String,
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        unit: Option<String>,
    },
    /// 反馈: the handling report of your unit's dispatch. The 财产损失金额
    /// is the sum of the `--loss` items (0.00 without items); 核实后的类别
    /// defaults to the reported category.
    Feedback {
        case: String,
        /// 处警结果 code (dictionary handling_result).
        #[arg(long)]
        result: Option<String>,
        /// 处警情况.
        #[arg(long)]
        handling: Option<String>,
        /// 核实后的类别 code.
        #[arg(long)]
        category: Option<String>,
        /// A loss item with its amount in yuan, e.g. `电动车=1234.56`
        /// (repeatable).
        #[arg(long = "loss", value_name = "ITEM=AMOUNT")]
        losses: Vec<String>,
        /// 受伤人数.
        #[arg(long, allow_negative_numbers = true)]
        injured: Option<i64>,
        /// 死亡人数.
        #[arg(long, allow_negative_numbers = true)]
        dead: Option<i64>,
        /// 抓获人数.
        #[arg(long, allow_negative_numbers = true)]
        arrested: Option<i64>,
        /// Any other report value (repeatable).
        #[arg(long = "field", value_name = "KEY=VALUE")]
        fields: Vec<String>,
        #[arg(long)]
        unit: Option<String>,
    },
    /// 退单: return your unit's dispatch to the desk, with the reason.
    Return {
        case: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long)]
        unit: Option<String>,
    },
    /// 终结 (值班长, or the 所长 for a 自接警): the record is filed at the
    /// 110 brigade at once.
    Close { case: String },
    /// Your 110 lists with their counts: at a desk 待派警, 已派未签收,
    /// 处置中, 待终结, 已归档; at a unit 待签收, 处置中, 已反馈.
    List {
        /// Search text for 已归档 (编号, 地点, 内容, 报警人, 电话).
        #[arg(long, default_value = "")]
        q: String,
    },
    /// The whole record: intake, every dispatch with its steps and
    /// report, the loss total with 大写, the signed trail.
    Show { case: String },
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().to_offset(SHANGHAI)
}

fn stamp(t: OffsetDateTime) -> String {
    t.to_offset(SHANGHAI)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn template(reg: &Registry) -> Result<&Template> {
    reg.template_latest("incident")
        .context("缺少接处警登记表模板")
}

/// Runs one `incident` command.
pub fn run(st: &mut Station, cmd: IncidentCmd, as_json: bool) -> Result<()> {
    match cmd {
        IncidentCmd::New { form, fields, unit } => new(st, form, fields, unit, as_json),
        IncidentCmd::Dispatch {
            case,
            units,
            opinion,
        } => {
            let s = incident(st, &case)?;
            let units = units
                .iter()
                .map(|u| unit_code(&st.reg, u))
                .collect::<Result<Vec<_>>>()?;
            let pin = secret("JINGWU_PIN", "签名 PIN")?;
            let s = st.incident_dispatch(&pin, s.case_id, &units, &opinion)?;
            print_record(st, &s, as_json, None)
        }
        IncidentCmd::Ack { case, unit } => {
            let unit = unit.map(|u| unit_code(&st.reg, &u)).transpose()?;
            step(st, &case, IncidentStep::Ack { unit }, as_json)
        }
        IncidentCmd::Depart {
            case,
            officers,
            vehicles,
            at,
            unit,
        } => {
            let unit = unit.map(|u| unit_code(&st.reg, &u)).transpose()?;
            let officers = officers
                .iter()
                .map(|o| person_id(&st.reg, o))
                .collect::<Result<Vec<_>>>()?;
            step(
                st,
                &case,
                IncidentStep::Depart {
                    unit,
                    officers,
                    vehicles,
                    at,
                },
                as_json,
            )
        }
        IncidentCmd::Arrive { case, at, unit } => {
            let unit = unit.map(|u| unit_code(&st.reg, &u)).transpose()?;
            step(st, &case, IncidentStep::Arrive { unit, at }, as_json)
        }
        IncidentCmd::Feedback {
            case,
            result,
            handling,
            category,
            losses,
            injured,
            dead,
            arrested,
            fields,
            unit,
        } => {
            let s = incident(st, &case)?;
            let unit = unit.map(|u| unit_code(&st.reg, &u)).transpose()?;
            let mut changes = FormValues::new();
            let t = template(&st.reg)?;
            for kv in &fields {
                let (k, v) = key_value(kv, "--field")?;
                changes.insert(k.to_string(), typed_value(t, k, v));
            }
            for (k, v) in [
                ("result", result),
                ("handling", handling),
                ("verified_category", category),
            ] {
                if let Some(v) = v {
                    changes.insert(k.into(), Value::String(v));
                }
            }
            for (k, v) in [("injured", injured), ("dead", dead), ("arrested", arrested)] {
                if let Some(v) = v {
                    changes.insert(k.into(), json!(v));
                }
            }
            let me = st.person()?;
            // The dispatch this report is for: the one named, else the
            // one standing dispatch of a unit of mine.
            let mine: Vec<&str> = s
                .standing_dispatches()
                .filter(|d| st.reg.org.is_member(&me, &d.unit))
                .map(|d| d.unit.as_str())
                .collect();
            let target = unit
                .clone()
                .or_else(|| (mine.len() == 1).then(|| mine[0].to_string()));
            let report = target
                .as_deref()
                .and_then(|u| s.standing_dispatches().find(|d| d.unit == u))
                .map(|d| d.feedback.clone())
                .unwrap_or_default();
            if !losses.is_empty() {
                let (items, total) = loss_items(&losses)?;
                changes.insert("loss_items".into(), Value::Array(items));
                changes.insert("loss_amount".into(), Value::String(total));
            } else if !changes.contains_key("loss_amount") && !report.contains_key("loss_amount") {
                changes.insert("loss_amount".into(), Value::String(Money::ZERO.to_string()));
            }
            if !changes.contains_key("verified_category")
                && !report.contains_key("verified_category")
            {
                if let Some(c) = s.form.get("alarm_category") {
                    changes.insert("verified_category".into(), c.clone());
                }
            }
            if let Some(u) = &target {
                let errs = s.check_feedback(&st.reg, u, &changes, now());
                if !errs.is_empty() {
                    bail!(field_errors(t, "反馈单", &errs));
                }
            }
            step(st, &case, IncidentStep::Feedback { unit, changes }, as_json)
        }
        IncidentCmd::Return { case, reason, unit } => {
            let unit = unit.map(|u| unit_code(&st.reg, &u)).transpose()?;
            step(st, &case, IncidentStep::Return { unit, reason }, as_json)
        }
        IncidentCmd::Close { case } => step(st, &case, IncidentStep::Conclude {}, as_json),
        IncidentCmd::List { q } => list(st, &q, as_json),
        IncidentCmd::Show { case } => {
            let s = incident(st, &case)?;
            show(st, &s, as_json)
        }
    }
}

/// `new`: the form from the file and the `--field`s, checked, the repeat
/// hints told, then signed.
fn new(
    st: &mut Station,
    file: Option<PathBuf>,
    fields: Vec<String>,
    unit: Option<String>,
    as_json: bool,
) -> Result<()> {
    let t = template(&st.reg)?.clone();
    let mut form = match &file {
        Some(f) => {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("无法读取 {}", f.display()))?;
            serde_json::from_str::<FormValues>(&text).with_context(|| {
                format!(
                    "{} 不是有效的表单 JSON（应为字段名到值的对象）",
                    f.display()
                )
            })?
        }
        None => FormValues::new(),
    };
    for kv in &fields {
        let (k, v) = key_value(kv, "--field")?;
        form.insert(k.to_string(), typed_value(&t, k, v));
    }
    let at = now();
    for k in ["report_time", "receive_time"] {
        form.entry(k.to_string())
            .or_insert_with(|| Value::String(stamp(at)));
    }
    let unit = unit.map(|u| unit_code(&st.reg, &u)).transpose()?;
    let unit = st.incident_unit(unit.as_deref())?;
    let errs = check_intake(&st.reg, &form, at);
    if !errs.is_empty() {
        bail!(field_errors(&t, "接警信息", &errs));
    }
    let repeats = st.repeat_calls(&form)?;
    if !as_json {
        for r in &repeats {
            eprintln!(
                "注意：可能是重复报警（{}）：{}  报警时间 {}  {}",
                r.reason, r.case_no, r.report_time, r.summary
            );
        }
    }
    let pin = secret("JINGWU_PIN", "签名 PIN")?;
    let s = st.incident_create(&pin, form, Some(&unit))?;
    print_record(st, &s, as_json, Some(json!({ "repeats": repeats })))
}

/// One handling step on the record `case`.
fn step(st: &mut Station, case: &str, step: IncidentStep, as_json: bool) -> Result<()> {
    let s = incident(st, case)?;
    let pin = secret("JINGWU_PIN", "签名 PIN")?;
    let s = st.incident_step(&pin, s.case_id, step)?;
    print_record(st, &s, as_json, None)
}

/// The 110 record named by `case` (id or 接警单编号) in the local store.
fn incident(st: &Station, case: &str) -> Result<CaseState> {
    let id = st.find_case(case)?;
    let s = st
        .store
        .case(&id)?
        .with_context(|| format!("本地库中没有案件 {case}（请先同步）"))?;
    if s.case_type != CaseType::Incident {
        bail!("{} 不是接处警记录", s.case_no);
    }
    Ok(s)
}

/// `key=value`, split at the first `=`.
fn key_value<'a>(kv: &'a str, flag: &str) -> Result<(&'a str, &'a str)> {
    match kv.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim(), v)),
        _ => bail!("{flag} 应写成 字段=值，收到“{kv}”"),
    }
}

/// A typed `--field` value as the form holds it: integers as numbers,
/// tables as JSON, everything else as text. A value that does not read
/// as its type stays text, for the rules to name.
fn typed_value(t: &Template, key: &str, v: &str) -> Value {
    match t.field(key).map(|f| &f.ty) {
        Some(FieldType::Integer { .. }) => v
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(v.into())),
        Some(FieldType::Table { .. } | FieldType::Attachments { .. }) => {
            serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.into()))
        }
        _ => Value::String(v.into()),
    }
}

/// The `--loss ITEM=AMOUNT` items as 损失明细 rows and their total
/// (`view::money_total`), or the first bad amount named.
fn loss_items(losses: &[String]) -> Result<(Vec<Value>, String)> {
    let mut items = Vec::new();
    let mut amounts = Vec::new();
    for (i, kv) in losses.iter().enumerate() {
        let Some((item, amount)) = kv.rsplit_once('=') else {
            bail!("损失明细第 {} 项应写成 物品=金额，收到“{kv}”", i + 1);
        };
        let (item, amount) = (item.trim(), amount.trim());
        if let Err(e) = Money::parse(amount) {
            bail!(
                "损失明细（loss_items）第 {} 项“{item}”的金额“{amount}”有误：{e}",
                i + 1
            );
        }
        items.push(json!({"item": item, "amount": amount}));
        amounts.push(amount.to_string());
    }
    let total = view::money_total(&amounts).map_err(|e| anyhow::anyhow!("损失明细：{e}"))?;
    let total = total["total"].as_str().unwrap_or_default().to_string();
    Ok((items, total))
}

/// The field errors as one message: each with its field's label and key.
fn field_errors(t: &Template, what: &str, errs: &[FieldError]) -> String {
    let mut out = format!("{what}有 {} 处需要修改：", errs.len());
    for e in errs {
        let label = t.field(&e.field).map(|f| f.label.as_str()).unwrap_or("");
        out.push_str("\n  ");
        if !label.is_empty() && !e.message.contains(label) {
            out.push_str(label);
            out.push('：');
        }
        out.push_str(&e.message);
        if !e.field.is_empty() {
            out.push_str(&format!("（{}）", e.field));
        }
    }
    out
}

/// A unit code from a code or a unit's name.
fn unit_code(reg: &Registry, u: &str) -> Result<String> {
    let u = u.trim();
    if reg.org.unit(u).is_some() {
        return Ok(u.to_string());
    }
    reg.org
        .units()
        .find(|x| x.name == u)
        .map(|x| x.code.clone())
        .with_context(|| format!("组织机构中没有单位“{u}”"))
}

/// A person id from a 警号 or a name (a name must be unique).
fn person_id(reg: &Registry, p: &str) -> Result<String> {
    let p = p.trim();
    if reg.org.person(p).is_some() {
        return Ok(p.to_string());
    }
    let found: Vec<_> = reg.org.people().filter(|x| x.name == p).collect();
    match found.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => bail!("组织机构中没有人员“{p}”"),
        _ => bail!("有多名“{p}”，请写警号"),
    }
}

/// The page of `s` as the UI gets it (`view::incident_detail`), with
/// this machine's signature checks and what this user may do.
fn detail(st: &Station, s: &CaseState) -> Result<Value> {
    let me = st.person()?;
    let (verified, chain_ok) = st.signature_marks(&s.case_id)?;
    let actions = s.allowed_actions(&me, &st.reg, OffsetDateTime::now_utc());
    Ok(view::incident_detail(
        &st.reg,
        s,
        &actions,
        &verified,
        chain_ok,
        now(),
    ))
}

/// After a step: the record's ids, status and dispatches (JSON: the
/// page's fields without the trail and values, plus `pending`, the events
/// waiting for the hub, and `extra`).
fn print_record(st: &Station, s: &CaseState, as_json: bool, extra: Option<Value>) -> Result<()> {
    let d = detail(st, s)?;
    let pending = st.store.outbox_len()?;
    if as_json {
        let mut out = json!({
            "id": d["id"], "case_no": d["case_no"], "status": d["status"],
            "unit": d["unit"], "unit_name": d["unit_name"],
            "archive_unit": d["archive_unit"],
            "loss": d["loss"], "loss_upper": d["loss_upper"],
            "dispatches": d["dispatches"],
            "pending": pending,
        });
        if let (Some(o), Some(Value::Object(x))) = (out.as_object_mut(), extra) {
            o.extend(x);
        }
        say!("{}", serde_json::to_string(&out)?)?;
        return Ok(());
    }
    say!("{}  {}  {}", s.case_id, s.case_no, s.status.label())?;
    for x in d["dispatches"].as_array().into_iter().flatten() {
        say!(
            "    派警单 {}  {}  {}",
            text(&x["no"]),
            text(&x["unit_name"]),
            text(&x["status"])
        )?;
    }
    if let Some(a) = d["archive_unit"].as_str() {
        say!("    已归档于{a}")?;
    }
    if pending > 0 {
        say!("    本机有 {pending} 个事件待同步到县局")?;
    }
    Ok(())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

/// The lists' tabs: (key, 标题).
const DESK_TABS: [(&str, &str); 5] = [
    ("to_dispatch", "待派警"),
    ("unacked", "已派未签收"),
    ("handling", "处置中"),
    ("to_close", "待终结"),
    ("archived", "已归档"),
];
const UNIT_TABS: [(&str, &str); 3] = [
    ("to_ack", "待签收"),
    ("in_progress", "处置中"),
    ("fed_back", "已反馈"),
];

fn list(st: &Station, q: &str, as_json: bool) -> Result<()> {
    let me = st.person()?;
    let cases = st.incidents()?;
    let lists = view::incident_lists(&st.reg, &me, &cases, now(), q);
    if as_json {
        say!("{}", serde_json::to_string(&lists)?)?;
        return Ok(());
    }
    let desk = lists["desk"].as_bool().unwrap_or(false);
    let unit_rows = UNIT_TABS
        .iter()
        .any(|(k, _)| lists["counts"][k].as_u64().unwrap_or(0) > 0);
    let mut tabs: Vec<(&str, &str)> = Vec::new();
    if desk {
        tabs.extend(DESK_TABS);
    }
    if !desk || unit_rows {
        tabs.extend(UNIT_TABS);
    }
    for (k, title) in tabs {
        let rows = lists[k].as_array().cloned().unwrap_or_default();
        say!("{title}（{}）", rows.len())?;
        for r in rows {
            let units: Vec<String> = r["dispatches"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| format!("{}:{}", text(&d["unit_name"]), text(&d["status"])))
                .collect();
            let overdue = if r["overdue"].as_bool() == Some(true) {
                "  ⚠超时未签收"
            } else {
                ""
            };
            say!(
                "  {}  {}  {}  {}  {}  {}  {}{overdue}",
                text(&r["id"]),
                text(&r["case_no"]),
                text(&r["status"]),
                text(&r["report_time"]),
                text(&r["category"]),
                text(&r["location"]),
                units.join("、")
            )?;
        }
    }
    Ok(())
}

/// A form value as people read it: dictionary labels, unit and person
/// names, loss rows, amounts in 元.
fn show_value(reg: &Registry, t: &Template, key: &str, v: &Value) -> String {
    let ty = t.field(key).map(|f| &f.ty);
    match (ty, v) {
        (Some(FieldType::Dict { dict }), Value::String(code)) => {
            match reg.dicts.get(dict).and_then(|d| d.label(code)) {
                Some(l) => format!("{l}（{code}）"),
                None => code.clone(),
            }
        }
        (Some(FieldType::Unit), Value::String(code)) => reg
            .org
            .unit(code)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| code.clone()),
        (Some(FieldType::Person), Value::String(id)) => reg
            .org
            .person(id)
            .map(|p| format!("{}（{id}）", p.name))
            .unwrap_or_else(|| id.clone()),
        (Some(FieldType::Money), Value::String(m)) => format!("{m} 元"),
        (Some(FieldType::Table { columns, .. }), Value::Array(rows)) => rows
            .iter()
            .map(|r| {
                columns
                    .iter()
                    .map(|c| {
                        let cell = text(&r[&c.key]);
                        if matches!(c.ty, FieldType::Money) {
                            format!("{cell} 元")
                        } else {
                            cell
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("；"),
        (_, v) => text(v),
    }
}

/// The values of `values` editable at `step`, in the template's order,
/// one `label：value` line each.
fn show_fields(
    reg: &Registry,
    t: &Template,
    step: &str,
    values: &Value,
    indent: &str,
) -> Result<()> {
    for f in &t.fields {
        if t.permission(step, &f.key) != Permission::Editable {
            continue;
        }
        match values.get(&f.key) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) if s.is_empty() => continue,
            Some(v) => say!("{indent}{}：{}", f.label, show_value(reg, t, &f.key, v))?,
        }
    }
    Ok(())
}

/// `incident show` (and `show` on a 110 record).
pub fn show(st: &Station, s: &CaseState, as_json: bool) -> Result<()> {
    let d = detail(st, s)?;
    if as_json {
        say!("{}", serde_json::to_string(&d)?)?;
        return Ok(());
    }
    let reg = &st.reg;
    let t = template(reg)?;
    say!(
        "接警单 {}  {}  （{}）",
        text(&d["case_no"]),
        text(&d["status"]),
        text(&d["id"])
    )?;
    say!(
        "登记：{}  {}  {}",
        text(&d["unit_name"]),
        text(&d["initiator"]),
        text(&d["created_at"])
    )?;
    say!("接警信息：")?;
    show_fields(reg, t, jingwu_core::form::DRAFT_STEP, &d["values"], "  ")?;
    let dispatches = d["dispatches"].as_array().cloned().unwrap_or_default();
    say!("派警（{}）：", dispatches.len())?;
    for (i, x) in dispatches.iter().enumerate() {
        let own = if x["own"].as_bool() == Some(true) {
            "（自接警）"
        } else {
            ""
        };
        say!(
            "  [{}] 派警单 {}  {}{own}  {}",
            i + 1,
            text(&x["no"]),
            text(&x["unit_name"]),
            text(&x["status"])
        )?;
        let opinion = text(&x["opinion"]);
        say!(
            "      派警：{}  {}{}",
            text(&x["at"]),
            text(&x["by"]),
            if opinion.is_empty() {
                String::new()
            } else {
                format!("  意见：{opinion}")
            }
        )?;
        if !x["acknowledged_at"].is_null() {
            say!(
                "      签收：{}  {}",
                text(&x["acknowledged_at"]),
                text(&x["acknowledged_by"])
            )?;
        }
        if !x["departed_at"].is_null() {
            let names: Vec<String> = x["officers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            let vehicles: Vec<String> = x["vehicles"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            say!(
                "      出警：{}  人员：{}{}",
                text(&x["departed_at"]),
                names.join("、"),
                if vehicles.is_empty() {
                    String::new()
                } else {
                    format!("  车辆：{}", vehicles.join("、"))
                }
            )?;
        }
        if !x["arrived_at"].is_null() {
            say!("      到达现场：{}", text(&x["arrived_at"]))?;
        }
        if !x["feedback_at"].is_null() {
            say!(
                "      反馈：{}  {}",
                text(&x["feedback_at"]),
                text(&x["feedback_by"])
            )?;
            show_fields(reg, t, "feedback", &x["feedback"], "        ")?;
            say!(
                "        损失合计：{} 元（{}）",
                text(&x["loss"]),
                text(&x["loss_upper"])
            )?;
        }
        if !x["returned_at"].is_null() {
            say!(
                "      退单：{}  {}  理由：{}",
                text(&x["returned_at"]),
                text(&x["returned_by"]),
                text(&x["return_reason"])
            )?;
        }
        if let Some(w) = x["waiting_secs"].as_i64() {
            say!("      待签收：已等待 {} 分 {} 秒", w / 60, w % 60)?;
        }
    }
    say!(
        "财产损失合计：{} 元（大写：{}）",
        text(&d["loss"]),
        text(&d["loss_upper"])
    )?;
    if !d["concluded_by"].is_null() {
        say!("终结：{}", text(&d["concluded_by"]))?;
    }
    if let Some(a) = d["archive_unit"].as_str() {
        say!("归档单位：{a}")?;
    }
    say!("签名记录：")?;
    for e in d["trail"].as_array().into_iter().flatten() {
        let opinion = text(&e["opinion"]);
        say!(
            "  {}  {}  {}（{}，{}）{}  {}",
            text(&e["time"]),
            text(&e["step"]),
            text(&e["name"]),
            text(&e["person"]),
            text(&e["role"]),
            if opinion.is_empty() {
                String::new()
            } else {
                format!("  {opinion}")
            },
            if e["verified"].as_bool() == Some(true) {
                "签名已验证"
            } else {
                "签名未验证"
            }
        )?;
    }
    if d["chain_ok"].as_bool() != Some(true) {
        say!("警告：本记录的签名或哈希链未通过校验")?;
    }
    Ok(())
}
