//! Lists, the form, the case actions (create, update, submit, decide,
//! withdraw, implement, inform) and the case page.

use std::collections::HashSet;

use base64::Engine as _;
use jingwu_core::crypto::PublicKey;
use jingwu_core::event::{Action, Decision};
use jingwu_core::form::{FormValues, Mode, DRAFT_STEP};
use jingwu_core::SHANGHAI;
use jingwu_station::station::sniff_mime;
use serde_json::{json, Value};
use tauri::State;
use uuid::Uuid;

use super::{err, parse_case, pin_err, queued, AppState, B64};

#[tauri::command]
pub async fn lists(state: State<'_, AppState>) -> Result<Value, String> {
    let st = state.station.lock().await;
    let me = st.person().map_err(err)?;
    let mut cases = Vec::new();
    for c in st.store.list_cases(5000).map_err(err)? {
        if let Some(s) = st.store.case(&c.id).map_err(err)? {
            cases.push(s);
        }
    }
    // The same view the hub gives browsers.
    Ok(jingwu_core::view::lists(
        &st.reg,
        &me,
        &cases,
        time::OffsetDateTime::now_utc(),
    ))
}

// ----- the form -------------------------------------------------------

#[tauri::command]
pub async fn template(state: State<'_, AppState>) -> Result<Value, String> {
    let st = state.station.lock().await;
    jingwu_core::view::hukou_template(&st.reg).ok_or_else(|| "缺少户口变更登记表模板".to_string())
}

/// Turns UI values into form values: empty strings and nulls are dropped,
/// everything else (strings, numbers, table rows) goes to the core as is.
pub(super) fn form_values(values: Value) -> Result<FormValues, String> {
    let Value::Object(m) = values else {
        return Err("表单数据格式错误".into());
    };
    Ok(m.into_iter()
        .filter(|(_, v)| !matches!(v, Value::Null) && v.as_str() != Some(""))
        .collect())
}

#[tauri::command]
pub async fn validate(
    state: State<'_, AppState>,
    values: Value,
    mode: String,
) -> Result<Value, String> {
    let st = state.station.lock().await;
    let t = st
        .reg
        .template_latest("hukou_change")
        .ok_or("缺少户口变更登记表模板")?;
    let values = form_values(values)?;
    let ctx = jingwu_core::form::Context {
        today: time::OffsetDateTime::now_utc().to_offset(SHANGHAI).date(),
        dictionaries: &st.reg.dicts,
        org: Some(&st.reg.org),
    };
    let mode = if mode == "submit" {
        Mode::Submit
    } else {
        Mode::Draft
    };
    let mut errs = t.validate(&values, mode, DRAFT_STEP, &ctx);
    // Scans are attached after the case is created; the UI checks them.
    errs.retain(|e| e.field != "scans");
    serde_json::to_value(errs).map_err(err)
}

#[tauri::command]
pub async fn create(
    state: State<'_, AppState>,
    values: Value,
    pin: String,
) -> Result<Value, String> {
    let values = form_values(values)?;
    let mut st = state.station.lock().await;
    let s = st.create_hukou(&pin, values).map_err(pin_err)?;
    let q = queued(&st);
    drop(st);
    state.poke.notify_one();
    Ok(json!({"case_id": s.case_id, "case_no": s.case_no, "queued": q}))
}

/// Records the fields the initiator changed (drafting, or correcting a
/// returned case). Only differences are signed; removed fields become null.
#[tauri::command]
pub async fn update(
    state: State<'_, AppState>,
    case_id: String,
    values: Value,
    pin: String,
) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    let new = form_values(values)?;
    let mut st = state.station.lock().await;
    let s = st.store.case(&id).map_err(err)?.ok_or("本机没有该案件")?;
    let mut changes = FormValues::new();
    for (k, v) in &new {
        if k != "scans" && s.form.get(k) != Some(v) {
            changes.insert(k.clone(), v.clone());
        }
    }
    for k in s.form.keys() {
        if k != "scans" && !new.contains_key(k) {
            changes.insert(k.clone(), Value::Null);
        }
    }
    if !changes.is_empty() {
        st.act(&pin, id, Action::UpdateForm { changes })
            .map_err(pin_err)?;
    }
    let q = queued(&st);
    drop(st);
    state.poke.notify_one();
    Ok(json!({"case_id": id, "queued": q}))
}

#[tauri::command]
pub async fn submit(
    state: State<'_, AppState>,
    case_id: String,
    pin: String,
) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    let mut st = state.station.lock().await;
    st.submit(&pin, id).map_err(pin_err)?;
    let q = queued(&st);
    drop(st);
    state.poke.notify_one();
    Ok(json!({"case_id": id, "queued": q}))
}

/// The opinion rule of the core (`check_opinion`), for the UI to ask
/// before it asks for the PIN: the opinion as it would be signed, or why
/// not.
#[tauri::command]
pub fn check_opinion(decision: String, opinion: String) -> Result<Value, String> {
    let d: Decision = decision.parse().map_err(err)?;
    let opinion = jingwu_core::case::check_opinion(d, &opinion).map_err(err)?;
    Ok(json!({ "opinion": opinion }))
}

#[tauri::command]
pub async fn decide(
    state: State<'_, AppState>,
    case_id: String,
    decision: String,
    opinion: String,
    pin: String,
) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    let d: Decision = decision.parse().map_err(err)?;
    // The opinion is checked by the core's rule before the PIN is tried.
    let mut st = state.station.lock().await;
    st.decide(&pin, id, d, &opinion).map_err(pin_err)?;
    let q = queued(&st);
    drop(st);
    state.poke.notify_one();
    Ok(json!({"case_id": id, "queued": q}))
}

#[tauri::command]
pub async fn act(
    state: State<'_, AppState>,
    case_id: String,
    action: String,
    note: Option<String>,
    channel: Option<String>,
    pin: String,
) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    let note = note.unwrap_or_default();
    let a = match action.as_str() {
        "withdraw" => Action::Withdraw { reason: note },
        "implement" => Action::Implement { note },
        "inform" => Action::InformApplicant {
            at: time::OffsetDateTime::now_utc().to_offset(SHANGHAI),
            channel: channel.unwrap_or_else(|| "in_person".into()),
            note,
        },
        _ => return Err("未知的操作".into()),
    };
    let mut st = state.station.lock().await;
    st.act(&pin, id, a).map_err(pin_err)?;
    let q = queued(&st);
    drop(st);
    state.poke.notify_one();
    Ok(json!({"case_id": id, "queued": q}))
}

// ----- the case page --------------------------------------------------

#[tauri::command]
pub async fn case_detail(state: State<'_, AppState>, case_id: String) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    let st = state.station.lock().await;
    let me = st.person().map_err(err)?;
    let s = st.store.case(&id).map_err(err)?.ok_or("本机没有该案件")?;
    // Each event's signature is checked here, on this machine.
    let events = st.store.events(&id).map_err(err)?;
    let mut ok_events: HashSet<Uuid> = HashSet::new();
    for e in &events {
        let key: Option<PublicKey> = st
            .store
            .public_key(&e.event.author, &e.event.key)
            .map_err(err)?;
        if key.is_some_and(|k| e.verify(&k).is_ok()) {
            ok_events.insert(e.event.id);
        }
    }
    let chain_ok = st.store.verified_events(&id).is_ok();
    // What this user may do now, by the rules (this machine's clock).
    let now = time::OffsetDateTime::now_utc();
    let actions = s.allowed_actions(&me, &st.reg, now);
    Ok(jingwu_core::view::case_detail(
        &st.reg, &s, &actions, &ok_events, chain_ok, now,
    ))
}

#[tauri::command]
pub async fn attachment_data(state: State<'_, AppState>, sm3: String) -> Result<Value, String> {
    let st = state.station.lock().await;
    let data = st
        .store
        .attachment(&sm3)
        .map_err(err)?
        .ok_or("本机没有该附件")?;
    let mime = sniff_mime(&data).unwrap_or("application/octet-stream");
    Ok(json!({"mime": mime, "dataB64": B64.encode(&data)}))
}
