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

use crate::case::{Actions, CaseState};
use crate::form::{FieldDef, FieldType, Permission, DRAFT_STEP};
use crate::registry::Registry;
use crate::SHANGHAI;

fn local_time(t: time::OffsetDateTime) -> String {
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

/// One row of a case list.
pub fn list_row(reg: &Registry, s: &CaseState) -> Value {
    json!({
        "id": s.case_id,
        "case_no": s.case_no,
        "summary": s.display_summary(),
        "subject_name": s.form.get("subject_name").and_then(Value::as_str).unwrap_or_default(),
        "status": s.status.label(),
        "step": s.current_step(reg).map(|x| x.name.clone()),
        "updated_at": local_time(s.updated_at),
    })
}

/// 待办 (waiting for `me`), 已办 (`me` acted on it), 已发 and 草稿 (`me`
/// started it), each case in one list.
pub fn lists<'a>(
    reg: &Registry,
    me: &str,
    cases: impl IntoIterator<Item = &'a CaseState>,
) -> Value {
    let (mut todo, mut done, mut sent, mut drafts) = (vec![], vec![], vec![], vec![]);
    for s in cases {
        let r = list_row(reg, s);
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
                        .map(|e| json!({"code": e.code, "label": e.label}))
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
/// values go out only as `edit_values`, to someone who may edit.
pub fn case_detail(
    reg: &Registry,
    s: &CaseState,
    actions: &Actions,
    verified: &HashSet<Uuid>,
    chain_ok: bool,
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
    page
}
