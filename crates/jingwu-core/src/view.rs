//! The UI's JSON view of cases: list rows, the four lists, the form
//! template and the case page (approval trail with per-event signature
//! marks, ID numbers masked). Pure: the caller checks the signatures and
//! passes the result in. The hub's browser API builds its answers here;
//! the shapes are those of the desktop's commands (`src-tauri/src/app/`),
//! so the same `ui/` code renders both.

use std::collections::HashSet;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use time::OffsetDateTime;

use crate::case::{Actions, CaseState, DispatchInfo, Status};
use crate::form::{CaseType, FieldDef, FieldType, Permission, DRAFT_STEP};
use crate::money::Money;
use crate::org::UnitKind;
use crate::registry::Registry;
use crate::SHANGHAI;

pub fn local_time(t: time::OffsetDateTime) -> String {
    t.to_offset(SHANGHAI).format(&Rfc3339).unwrap_or_default()
}

/// Masks ID numbers in every string inside `v`.
fn mask_strings(v: &mut Value) {
    match v {
        Value::String(s) => *s = crate::idnum::mask_in_text(s),
        Value::Array(a) => a.iter_mut().for_each(mask_strings),
        Value::Object(o) => o.values_mut().for_each(mask_strings),
        _ => {}
    }
}

/// The current review step's time limit at `now`, as fields of a list
/// row and of the case page: `due` (the end of the last working day, local
/// time, counted with the registry's holiday calendar), `overdue` (`now` is
/// past it), `due_in_days` (calendar days from today to the due day in
/// China, negative once overdue), `time_limit_working_days`, and
/// `due_estimated` (a year the count runs through has no official
/// arrangement in the registry, so its holidays are not counted). All
/// null / false outside review.
pub fn step_due(
    reg: &Registry,
    s: &CaseState,
    now: OffsetDateTime,
) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    let due = s.step_deadline(reg, reg.calendar());
    let limit = due
        .and(s.current_step(reg))
        .map(|x| x.time_limit_working_days);
    m.insert("due".into(), due.map(local_time).into());
    m.insert("overdue".into(), due.is_some_and(|d| now > d).into());
    m.insert(
        "due_in_days".into(),
        due.map(|d| (d.date() - now.to_offset(SHANGHAI).date()).whole_days())
            .into(),
    );
    m.insert("time_limit_working_days".into(), limit.into());
    m.insert(
        "due_estimated".into(),
        due.is_some_and(|d| {
            // Every year the count runs through must be known.
            let from = s.step_since.to_offset(SHANGHAI).year();
            (from..=d.year()).any(|y| !reg.calendar_covers(y))
        })
        .into(),
    );
    m
}

/// One row of a case list at `now` (the time limit of the current step
/// is judged against it: [`step_due`]).
pub fn list_row(reg: &Registry, s: &CaseState, now: OffsetDateTime) -> Value {
    let mut row = json!({
        "id": s.case_id,
        "case_no": s.case_no,
        "kind": match s.case_type { CaseType::Incident => "incident", CaseType::HukouChange => "hukou" },
        "summary": s.display_summary(),
        "subject_name": s.form.get("subject_name").and_then(Value::as_str).unwrap_or_default(),
        "status": s.status.label(),
        "step": s.current_step(reg).map(|x| x.name.clone()),
        "updated_at": local_time(s.updated_at),
    });
    if let Value::Object(o) = &mut row {
        o.extend(step_due(reg, s, now));
    }
    row
}

/// 待办 (waiting for `me`), 已办 (`me` acted on it), 已发 and 草稿 (`me`
/// started it), each case in one list; time limits judged at `now`.
pub fn lists<'a>(
    reg: &Registry,
    me: &str,
    cases: impl IntoIterator<Item = &'a CaseState>,
    now: OffsetDateTime,
) -> Value {
    let (mut todo, mut done, mut sent, mut drafts) = (vec![], vec![], vec![], vec![]);
    for s in cases {
        let r = list_row(reg, s, now);
        if s.assignees(reg).iter().any(|a| a == me) {
            todo.push(r);
        } else if s.initiator == me && s.status.editable_by_initiator() {
            drafts.push(r);
        } else if s.initiator == me {
            sent.push(r);
        } else if s.trail.iter().any(|t| t.person == me) {
            done.push(r);
        }
    }
    json!({"todo": todo, "done": done, "sent": sent, "drafts": drafts})
}

/// The 督办 list at `now`: every 户口变更 among `cases` that is in review,
/// in `scope` (by the unit that started it) and past its current step's
/// time limit, most overdue first. Each row is a [`list_row`] plus who
/// must act (`assignees`, names), the unit that started it
/// (`unit_name`) and `overdue_days` (calendar days since the due day,
/// China time; 1 the day after).
pub fn overdue_list<'a>(
    reg: &Registry,
    scope: &crate::stats::Scope,
    cases: impl IntoIterator<Item = &'a CaseState>,
    now: OffsetDateTime,
) -> Value {
    // The row's own time-limit fields (`step_due`) decide: the deadline
    // is counted once per case.
    let mut rows: Vec<(String, &str, Value)> = cases
        .into_iter()
        .filter(|s| s.case_type == CaseType::HukouChange && scope.covers(&reg.org, &s.unit))
        .filter_map(|s| {
            let mut row = list_row(reg, s, now);
            if row["overdue"] != true {
                return None;
            }
            // Every due time is the end of a day in China, written the
            // same way: the text sorts as the time does.
            let due = row["due"].as_str()?.to_string();
            let days_over = -row["due_in_days"].as_i64()?;
            if let Value::Object(o) = &mut row {
                let names: Vec<String> = s
                    .assignees(reg)
                    .iter()
                    .map(|p| person_name(reg, p))
                    .collect();
                o.insert("assignees".into(), json!(names));
                o.insert(
                    "unit_name".into(),
                    json!(reg.org.unit(&s.unit).map(|u| u.name.clone())),
                );
                o.insert("overdue_days".into(), json!(days_over));
            }
            Some((due, s.case_no.as_str(), row))
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    json!({
        "scope": scope.name(),
        "rows": rows.into_iter().map(|(_, _, r)| r).collect::<Vec<_>>(),
    })
}

/// A template field as the UI's form renders it.
pub fn field_json(reg: &Registry, f: &FieldDef) -> Value {
    let (ty, options, extra) = match &f.ty {
        FieldType::Text { max_len } => ("text", Value::Null, json!({"max_len": max_len})),
        FieldType::LongText { max_len } => ("textarea", Value::Null, json!({"max_len": max_len})),
        FieldType::Integer { min, max } => ("number", Value::Null, json!({"min": min, "max": max})),
        FieldType::Money => ("money", Value::Null, json!({})),
        FieldType::Date { .. } => ("date", Value::Null, json!({})),
        FieldType::DateTime { .. } => ("datetime", Value::Null, json!({})),
        FieldType::Dict { dict } => (
            "select",
            reg.dicts
                .get(dict)
                .map(|d| {
                    d.entries
                        .iter()
                        .map(|e| {
                            json!({
                                "code": e.code, "label": e.label,
                                "initials": crate::dict::initials(&e.label),
                                "parent": crate::dict::parent_code(&e.code),
                            })
                        })
                        .collect::<Vec<_>>()
                        .into()
                })
                .unwrap_or(Value::Null),
            json!({}),
        ),
        FieldType::Person => ("text", Value::Null, json!({})),
        FieldType::Unit => ("text", Value::Null, json!({})),
        FieldType::IdNumber { .. } => ("id_number", Value::Null, json!({})),
        FieldType::Phone => ("phone", Value::Null, json!({})),
        FieldType::Attachments { min, max } => {
            ("attachments", Value::Null, json!({"min": min, "max": max}))
        }
        FieldType::Table { columns, .. } => (
            "table",
            Value::Null,
            json!({"columns": columns.iter().map(|c| field_json(reg, c)).collect::<Vec<_>>()}),
        ),
    };
    json!({
        "key": f.key, "label": f.label, "type": ty, "required": f.required,
        "options": options, "help": f.help, "section": f.section, "extra": extra,
    })
}

/// The latest 户口变更 template: the fields the initiator edits while
/// drafting (the case page uses them for labels).
pub fn hukou_template(reg: &Registry) -> Option<Value> {
    let t = reg.template_latest("hukou_change")?;
    let perms = t.permissions.get(DRAFT_STEP);
    let fields: Vec<Value> = t
        .fields
        .iter()
        .filter(|f| {
            perms.is_none_or(|p| {
                p.fields.get(&f.key).copied().unwrap_or(p.default) == Permission::Editable
            })
        })
        .map(|f| field_json(reg, f))
        .collect();
    Some(json!({"id": t.id, "version": t.version, "name": t.name, "fields": fields}))
}

/// The case page for a person who may take `actions` (from
/// [`CaseState::allowed_actions`]; their `can_*` flags and
/// `submit_errors` go out as they are). `verified` holds the ids of
/// events whose signature checked against their author's key; `chain_ok`
/// whether the whole hash chain did. ID numbers are masked; the unmasked
/// values go out only as `edit_values`, to someone who may edit. The
/// current step's time limit is judged at `now` ([`step_due`]).
pub fn case_detail(
    reg: &Registry,
    s: &CaseState,
    actions: &Actions,
    verified: &HashSet<Uuid>,
    chain_ok: bool,
    now: OffsetDateTime,
) -> Value {
    let workflow = s.workflow.as_ref().and_then(|w| reg.workflow(w));
    let trail: Vec<Value> = s
        .trail
        .iter()
        .map(|t| {
            let step_name = workflow
                .and_then(|w| {
                    w.routes
                        .iter()
                        .flat_map(|r| r.steps.iter())
                        .find(|x| x.id == t.step)
                })
                .map(|x| x.name.clone())
                .unwrap_or_else(|| {
                    if t.step == DRAFT_STEP {
                        "受理".into()
                    } else {
                        t.step.clone()
                    }
                });
            json!({
                "step": step_name,
                "person": t.person,
                "name": reg.org.person(&t.person).map(|p| p.name.clone()),
                "role": t.role,
                "decision": t.decision.map(|d| d.label()).unwrap_or(match t.action.as_str() {
                    "submit" => "提交",
                    "withdraw" => "撤回",
                    _ => "",
                }),
                "opinion": crate::idnum::mask_in_text(&t.opinion),
                "time": local_time(t.time),
                "verified": chain_ok && verified.contains(&t.event_id),
            })
        })
        .collect();
    let attachments: Vec<Value> = s
        .form
        .get("scans")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut values = s.form.clone();
    values.remove("scans");
    let edit_values = values.clone();
    // Every ID number masked: the ID fields, the before/after of a
    // 公民身份号码 change, and any ID-number-like run in free text.
    let text_of = |k: &str| values.get(k).and_then(Value::as_str).unwrap_or_default();
    // 变更更正类别 10–19 are the 公民身份号码 ones.
    let id_change = text_of("change_item").contains("公民身份号码")
        || (text_of("change_category").len() == 2 && text_of("change_category").starts_with('1'));
    for (k, v) in values.iter_mut() {
        let whole_id = ["applicant_id", "subject_id"].contains(&k.as_str())
            || (id_change && ["before", "after"].contains(&k.as_str()));
        match v {
            Value::String(text) if whole_id => {
                *text = crate::idnum::IdNumber::parse_structure(text)
                    .map(|id| id.masked())
                    .unwrap_or_else(|_| crate::idnum::mask_in_text(text));
            }
            v => mask_strings(v),
        }
    }
    let mut page = json!({
        "id": s.case_id,
        "case_no": s.case_no,
        "status": s.status.label(),
        "step": s.current_step(reg).map(|x| x.name.clone()),
        "summary": s.display_summary(),
        "values": values,
        "attachments": attachments,
        "trail": trail,
        "edit_values": if actions.can_edit { Value::from(serde_json::Map::from_iter(edit_values)) } else { Value::Null },
    });
    if let (Value::Object(page), Ok(Value::Object(flags))) =
        (&mut page, serde_json::to_value(actions))
    {
        page.extend(flags);
    }
    if let Value::Object(page) = &mut page {
        page.extend(step_due(reg, s, now));
    }
    page
}

// ---------------------------------------------------------------- 110

fn unit_name(reg: &Registry, code: &str) -> String {
    reg.org
        .unit(code)
        .map(|u| u.name.clone())
        .unwrap_or_else(|| code.to_string())
}

fn person_name(reg: &Registry, id: &str) -> String {
    reg.org
        .person(id)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| id.to_string())
}

fn dict_label(reg: &Registry, dict: &str, code: &str) -> String {
    reg.dicts
        .get(dict)
        .and_then(|d| d.label(code))
        .unwrap_or(code)
        .to_string()
}

fn form_text<'a>(f: &'a crate::form::FormValues, k: &str) -> &'a str {
    f.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// A dispatch's loss total from its report, or zero.
pub fn dispatch_loss(d: &DispatchInfo) -> Money {
    Money::parse(form_text(&d.feedback, "loss_amount")).unwrap_or(Money::ZERO)
}

/// An incident's property loss: the sum over its reports (each handling
/// unit reports the losses it found).
pub fn incident_loss(s: &CaseState) -> Money {
    Money::sum(s.standing_dispatches().map(dispatch_loss)).unwrap_or(Money::MAX)
}

/// How long, in seconds at `now`, the oldest standing dispatch of `s` has
/// waited for 签收; `None` when none waits.
pub fn waiting_for_ack(s: &CaseState, now: OffsetDateTime) -> Option<i64> {
    s.standing_dispatches()
        .filter(|d| d.acknowledged_at.is_none())
        .map(|d| (now - d.at).whole_seconds().max(0))
        .max()
}

/// After how many seconds without 签收 a dispatch is shown as overdue.
pub const ACK_OVERDUE_SECS: i64 = 180;

fn dispatch_row(reg: &Registry, d: &DispatchInfo, now: OffsetDateTime) -> Value {
    json!({
        "no": d.no,
        "unit": d.unit,
        "unit_name": unit_name(reg, &d.unit),
        "status": d.status_label(),
        "own": d.own,
        "at": local_time(d.at),
        "waiting_secs": d.acknowledged_at.is_none().then(|| (now - d.at).whole_seconds().max(0)),
    })
}

/// One row of a 110 list at `now`.
pub fn incident_row(reg: &Registry, s: &CaseState, now: OffsetDateTime) -> Value {
    let f = &s.form;
    let waiting = if s.is_final() {
        None
    } else {
        waiting_for_ack(s, now)
    };
    json!({
        "id": s.case_id,
        "case_no": s.case_no,
        "kind": "incident",
        "status": s.status.label(),
        "report_time": form_text(f, "report_time"),
        "category": dict_label(reg, "alarm_category", form_text(f, "alarm_category")),
        "township": dict_label(reg, "township", form_text(f, "township")),
        "location": crate::idnum::mask_in_text(form_text(f, "location")),
        "summary": crate::idnum::mask_in_text(&form_text(f, "summary").chars().take(60).collect::<String>()),
        "level": dict_label(reg, "incident_level", form_text(f, "level")),
        "unit_name": unit_name(reg, &s.unit),
        "dispatches": s.standing_dispatches().map(|d| dispatch_row(reg, d, now)).collect::<Vec<_>>(),
        "waiting_secs": waiting,
        "overdue": waiting.is_some_and(|w| w >= ACK_OVERDUE_SECS),
        "updated_at": local_time(s.updated_at),
    })
}

/// Whether a 110 record matches a search text (编号, 地点, 内容, 报警人,
/// 电话; every space-separated word must match).
pub fn incident_matches(s: &CaseState, q: &str) -> bool {
    let f = &s.form;
    let hay = [
        s.case_no.as_str(),
        form_text(f, "location"),
        form_text(f, "summary"),
        form_text(f, "caller_name"),
        form_text(f, "alarm_phone"),
        form_text(f, "contact_phone"),
    ]
    .join("\n");
    q.split_whitespace().all(|w| hay.contains(w))
}

/// The 110 lists of `me` at `now`. At a desk (`desk` true when `me`
/// works at a bureau's 110 desk): 待派警 (`to_dispatch`), 已派未签收
/// (`unacked`, oldest wait first), 处置中 (`handling`), 待终结
/// (`to_close`), 已归档 (`archived`, filtered by `q`). At a handling unit:
/// 待签收 (`to_ack`, newest first), 处置中 (`in_progress`), 已反馈
/// (`fed_back`). `counts` has each list's length.
pub fn incident_lists<'a>(
    reg: &Registry,
    me: &str,
    cases: impl IntoIterator<Item = &'a CaseState>,
    now: OffsetDateTime,
    q: &str,
) -> Value {
    let org = &reg.org;
    let mut lists: std::collections::BTreeMap<&str, Vec<(OffsetDateTime, Value)>> =
        std::collections::BTreeMap::new();
    for k in [
        "to_dispatch",
        "unacked",
        "handling",
        "to_close",
        "archived",
        "to_ack",
        "in_progress",
        "fed_back",
    ] {
        lists.insert(k, Vec::new());
    }
    // At a desk by post, with or without records yet (an empty desk still
    // gets the desk's lists, not a unit's).
    let mut desk = org.units_of(me).iter().any(|u| org.is_desk(&u.code));
    let mut push = |k: &'static str, t: OffsetDateTime, v: Value| {
        if let Some(l) = lists.get_mut(k) {
            l.push((t, v));
        }
    };
    for s in cases {
        if s.case_type != CaseType::Incident {
            continue;
        }
        let bureau = org
            .bureau_of(&s.unit)
            .map(|b| b.code.clone())
            .unwrap_or_default();
        let at_desk = org.is_desk_member(me, &bureau);
        desk |= at_desk;
        let row = incident_row(reg, s, now);
        let waits = s.assignees(reg).iter().any(|a| a == me);
        if at_desk || (waits && s.status == Status::FeedbackFiled) {
            let k = match s.status {
                Status::Archived | Status::Concluded => "archived",
                Status::Received => "to_dispatch",
                Status::FeedbackFiled => "to_close",
                _ if s.standing_dispatches().any(|d| d.acknowledged_at.is_none()) => "unacked",
                _ => "handling",
            };
            if k != "archived" || incident_matches(s, q) {
                // Oldest wait first for unacked; newest first elsewhere.
                let t = match k {
                    "unacked" => s
                        .standing_dispatches()
                        .filter(|d| d.acknowledged_at.is_none())
                        .map(|d| d.at)
                        .min()
                        .unwrap_or(s.updated_at),
                    _ => s.updated_at,
                };
                push(k, t, row.clone());
            }
        }
        // The unit's own view of its dispatches.
        for d in s.standing_dispatches() {
            if !org.is_member(me, &d.unit) {
                continue;
            }
            let k = match d.status() {
                Some(Status::Dispatched) => "to_ack",
                Some(Status::FeedbackFiled) => "fed_back",
                _ if s.is_final() => "fed_back",
                _ => "in_progress",
            };
            push(k, d.at, row.clone());
        }
    }
    let mut out = serde_json::Map::new();
    let mut counts = serde_json::Map::new();
    for (k, mut rows) in lists {
        if k == "unacked" {
            rows.sort_by_key(|x| x.0);
        } else {
            rows.sort_by_key(|x| std::cmp::Reverse(x.0));
        }
        rows.dedup_by(|a, b| a.1["id"] == b.1["id"]);
        counts.insert(k.into(), rows.len().into());
        out.insert(k.into(), rows.into_iter().map(|r| r.1).collect());
    }
    out.insert("counts".into(), counts.into());
    out.insert("desk".into(), desk.into());
    Value::Object(out)
}

/// The 接处警登记表 for the intake form and the 反馈单: each section's
/// fields (dictionary options with pinyin initials and parent codes), and
/// the units the desk of `unit`'s bureau dispatches to.
pub fn incident_template(reg: &Registry, unit: Option<&str>) -> Option<Value> {
    let t = reg.template_latest("incident")?;
    let editable = |step: &str, key: &str| {
        t.permissions.get(step).is_some_and(|p| {
            p.fields.get(key).copied().unwrap_or(p.default) == Permission::Editable
        })
    };
    let part = |step: &str| -> Vec<Value> {
        t.fields
            .iter()
            .filter(|f| editable(step, &f.key))
            .map(|f| field_json(reg, f))
            .collect()
    };
    let org = &reg.org;
    let bureau = unit.and_then(|u| org.bureau_of(u)).map(|b| b.code.clone());
    let targets: Vec<Value> = bureau
        .iter()
        .flat_map(|b| org.dispatch_targets(b))
        .map(|u| {
            json!({
                "code": u.code, "name": u.name,
                "kind": match u.kind { UnitKind::Station => "station", UnitKind::External => "external", _ => "internal" },
                "initials": crate::dict::initials(&u.name),
            })
        })
        .collect();
    Some(json!({
        "id": t.id, "version": t.version, "name": t.name,
        "intake": part(DRAFT_STEP),
        "feedback": part("feedback"),
        "targets": targets,
        "no_phone": crate::form::NO_PHONE,
        "ack_overdue_secs": ACK_OVERDUE_SECS,
    }))
}

/// The 110 record page: the intake, every dispatch with its steps and
/// report, the loss totals (with 大写), the trail with per-event signature
/// marks, and what the viewer may do (`actions`).
pub fn incident_detail(
    reg: &Registry,
    s: &CaseState,
    actions: &Actions,
    verified: &HashSet<Uuid>,
    chain_ok: bool,
    now: OffsetDateTime,
) -> Value {
    let opt = |t: Option<OffsetDateTime>| t.map(local_time);
    let mut values = s.form.clone();
    values.values_mut().for_each(mask_strings);
    if let Some(Value::String(id)) = values.get_mut("caller_id") {
        if let Ok(x) = crate::idnum::IdNumber::parse_structure(id) {
            *id = x.masked();
        }
    }
    let dispatches: Vec<Value> = s
        .dispatches
        .iter()
        .map(|d| {
            let mut report = d.feedback.clone();
            report.values_mut().for_each(mask_strings);
            let loss = dispatch_loss(d);
            json!({
                "no": d.no,
                "unit": d.unit,
                "unit_name": unit_name(reg, &d.unit),
                "status": d.status_label(),
                "own": d.own,
                "by": person_name(reg, &d.by),
                "opinion": d.opinion,
                "at": local_time(d.at),
                "acknowledged_at": opt(d.acknowledged_at),
                "acknowledged_by": d.acknowledged_by.as_deref().map(|p| person_name(reg, p)),
                "departed_at": opt(d.departed_at),
                "arrived_at": opt(d.arrived_at),
                "officers": d.officers.iter().map(|o| person_name(reg, o)).collect::<Vec<_>>(),
                "vehicles": d.vehicles,
                "feedback": report,
                "feedback_at": opt(d.feedback_at),
                "feedback_by": d.feedback_by.as_deref().map(|p| person_name(reg, p)),
                "loss": loss.to_string(),
                "loss_upper": loss.to_chinese_upper(),
                "returned_by": d.returned.as_ref().map(|r| person_name(reg, &r.0)),
                "return_reason": d.returned.as_ref().map(|r| r.1.clone()),
                "returned_at": opt(d.returned_at),
                "waiting_secs": (d.acknowledged_at.is_none() && d.returned.is_none() && !s.is_final())
                    .then(|| (now - d.at).whole_seconds().max(0)),
            })
        })
        .collect();
    // Each standing dispatch carries the viewer's flags for it.
    let mut dispatches = dispatches;
    for (d, v) in s.dispatches.iter().zip(dispatches.iter_mut()) {
        let Some(f) = actions
            .dispatches
            .iter()
            .find(|a| a.unit == d.unit && d.returned.is_none())
        else {
            continue;
        };
        if let (Value::Object(v), Ok(Value::Object(fj))) = (v, serde_json::to_value(f)) {
            v.extend(fj.into_iter().filter(|(k, _)| k != "unit"));
        }
    }
    let trail: Vec<Value> = s
        .trail
        .iter()
        .map(|t| {
            json!({
                "step": t.step,
                "person": t.person,
                "name": person_name(reg, &t.person),
                "role": reg.org.unit(&t.role).map(|u| u.name.clone()).unwrap_or_else(|| t.role.clone()),
                "opinion": crate::idnum::mask_in_text(&t.opinion),
                "time": local_time(t.time),
                "verified": chain_ok && verified.contains(&t.event_id),
            })
        })
        .collect();
    let loss = incident_loss(s);
    let mut page = json!({
        "id": s.case_id,
        "kind": "incident",
        "case_no": s.case_no,
        "status": s.status.label(),
        "unit": s.unit,
        "unit_name": unit_name(reg, &s.unit),
        "initiator": person_name(reg, &s.initiator),
        "created_at": local_time(s.created_at),
        "values": values,
        "labels": {
            "alarm_method": dict_label(reg, "alarm_method", form_text(&s.form, "alarm_method")),
            "alarm_category": dict_label(reg, "alarm_category", form_text(&s.form, "alarm_category")),
            "township": dict_label(reg, "township", form_text(&s.form, "township")),
            "level": dict_label(reg, "incident_level", form_text(&s.form, "level")),
        },
        "dispatches": dispatches,
        "loss": loss.to_string(),
        "loss_upper": loss.to_chinese_upper(),
        "concluded_by": s.concluded.as_ref().map(|c| person_name(reg, &c.0)),
        "archive_unit": s.archive_unit.as_deref().map(|u| unit_name(reg, u)),
        "trail": trail,
        "chain_ok": chain_ok,
        "edit_values": if actions.can_edit { Value::from(serde_json::Map::from_iter(s.form.clone())) } else { Value::Null },
    });
    // The overall flags at the top; the per-dispatch ones are on each
    // dispatch above.
    if let (Value::Object(page), Ok(Value::Object(flags))) =
        (&mut page, serde_json::to_value(actions))
    {
        page.extend(flags.into_iter().filter(|(k, _)| k != "dispatches"));
    }
    page
}

/// The total of loss amounts typed into a 反馈单 (yuan strings), with its
/// 大写, or the first amount's error: what the form shows under the items.
pub fn money_total(amounts: &[String]) -> Result<Value, String> {
    let mut parsed = Vec::new();
    for (i, a) in amounts.iter().enumerate() {
        match Money::parse(a) {
            Ok(m) => parsed.push(m),
            Err(e) => return Err(format!("第 {} 项金额{}", i + 1, e)),
        }
    }
    let total = Money::sum(parsed).map_err(|e| e.to_string())?;
    Ok(json!({"total": total.to_string(), "upper": total.to_chinese_upper()}))
}
