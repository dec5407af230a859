//! 110 接处警: the commands of the UI's 110 screen (intake, dispatch, the
//! handling steps, the lists and the record page). Thin: the station
//! records (`jingwu_station::incidents`), the core decides and renders
//! (`jingwu_core::case`, `jingwu_core::view`). Argument and result names
//! are the UI command contract shared with the hub's browser API.

use std::collections::HashSet;

use jingwu_core::case::{check_intake, IncidentStep};
use jingwu_core::crypto::PublicKey;
use jingwu_core::event::Action;
use jingwu_core::form::CaseType;
use jingwu_station::station::Station;
use serde_json::{json, Value};
use tauri::State;
use uuid::Uuid;

use super::cases::form_values;

/// Runs a signing action on the station, wakes the sync, and answers
/// `{caseId, queued}`.
async fn signed(
    state: &State<'_, AppState>,
    id: Uuid,
    f: impl FnOnce(&mut Station) -> jingwu_station::station::Result<jingwu_core::case::CaseState>,
) -> Result<Value, String> {
    let mut st = state.station.lock().await;
    f(&mut st).map_err(pin_err)?;
    let q = queued(&st);
    drop(st);
    state.poke.notify_one();
    Ok(json!({"caseId": id, "queued": q}))
}
use super::{err, parse_case, pin_err, queued, AppState};

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// The 接处警登记表 for the user's 110 unit (their desk, or the unit
/// that registers 自接警), with the units the desk dispatches to.
#[tauri::command]
pub async fn incident_template(state: State<'_, AppState>) -> Result<Value, String> {
    let st = state.station.lock().await;
    let unit = st.incident_unit(None).map_err(err)?;
    jingwu_core::view::incident_template(&st.reg, Some(&unit))
        .ok_or_else(|| "缺少接处警登记表模板".to_string())
}

/// The desk's and the unit's 110 lists, with their counts.
#[tauri::command]
pub async fn incident_lists(
    state: State<'_, AppState>,
    q: Option<String>,
) -> Result<Value, String> {
    let st = state.station.lock().await;
    let me = st.person().map_err(err)?;
    let cases = st.incidents().map_err(err)?;
    Ok(jingwu_core::view::incident_lists(
        &st.reg,
        &me,
        &cases,
        now(),
        q.as_deref().unwrap_or_default(),
    ))
}

/// Which of the case's events carry a signature that checks against
/// their author's key, and whether the whole chain does.
fn verified(st: &Station, id: &Uuid) -> Result<(HashSet<Uuid>, bool), String> {
    let mut ok = HashSet::new();
    for e in &st.store.events(id).map_err(err)? {
        let key: Option<PublicKey> = st
            .store
            .public_key(&e.event.author, &e.event.key)
            .map_err(err)?;
        if key.is_some_and(|k| e.verify(&k).is_ok()) {
            ok.insert(e.event.id);
        }
    }
    Ok((ok, st.store.verified_events(id).is_ok()))
}

/// The 110 record page, with what this user may do now.
#[tauri::command]
pub async fn incident_detail(state: State<'_, AppState>, case_id: String) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    let st = state.station.lock().await;
    let me = st.person().map_err(err)?;
    let s = st
        .store
        .case(&id)
        .map_err(err)?
        .ok_or("本机没有该警情记录")?;
    if s.case_type != CaseType::Incident {
        return Err("这不是接处警记录".into());
    }
    let (ok, chain_ok) = verified(&st, &id)?;
    let t = now();
    let actions = s.allowed_actions(&me, &st.reg, t);
    Ok(jingwu_core::view::incident_detail(
        &st.reg, &s, &actions, &ok, chain_ok, t,
    ))
}

/// Earlier records the report being typed may repeat (重复报警).
#[tauri::command]
pub async fn incident_repeats(state: State<'_, AppState>, form: Value) -> Result<Value, String> {
    let form = form_values(form)?;
    let st = state.station.lock().await;
    serde_json::to_value(st.repeat_calls(&form).map_err(err)?).map_err(err)
}

/// The field errors of an intake form or a 反馈单, before the PIN is
/// asked (the same checks the record gets when signed).
#[tauri::command]
pub async fn incident_validate(
    state: State<'_, AppState>,
    step: String,
    form: Value,
    case_id: Option<String>,
    unit: Option<String>,
) -> Result<Value, String> {
    let form = form_values(form)?;
    let st = state.station.lock().await;
    let errs = match step.as_str() {
        "intake" => check_intake(&st.reg, &form, now()),
        "feedback" => {
            let id = parse_case(case_id.as_deref().ok_or("缺少警情记录编号")?)?;
            let s = st
                .store
                .case(&id)
                .map_err(err)?
                .ok_or("本机没有该警情记录")?;
            let unit = match unit {
                Some(u) => u,
                None => {
                    let me = st.person().map_err(err)?;
                    s.standing_dispatches()
                        .find(|d| st.reg.org.is_member(&me, &d.unit))
                        .map(|d| d.unit.clone())
                        .ok_or("您所在单位没有这起警情的派警单")?
                }
            };
            s.check_feedback(&st.reg, &unit, &form, now())
        }
        _ => return Err("未知的表单".into()),
    };
    serde_json::to_value(errs).map_err(err)
}

/// The total of loss amounts (yuan, to the fen) and its 大写.
#[tauri::command]
pub fn money_total(amounts: Vec<String>) -> Result<Value, String> {
    jingwu_core::view::money_total(&amounts)
}

/// Registers a report (接警; 自接警 at a handling unit).
#[tauri::command]
pub async fn incident_create(
    state: State<'_, AppState>,
    form: Value,
    unit: Option<String>,
    pin: String,
) -> Result<Value, String> {
    let form = form_values(form)?;
    let mut st = state.station.lock().await;
    let s = st
        .incident_create(&pin, form, unit.as_deref())
        .map_err(pin_err)?;
    let q = queued(&st);
    drop(st);
    state.poke.notify_one();
    Ok(json!({"caseId": s.case_id, "caseNo": s.case_no, "queued": q}))
}

/// Changes the intake record (before dispatch).
#[tauri::command]
pub async fn incident_update(
    state: State<'_, AppState>,
    case_id: String,
    changes: Value,
    pin: String,
) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    let Value::Object(changes) = changes else {
        return Err("表单数据格式错误".into());
    };
    let changes = changes.into_iter().collect();
    signed(&state, id, |st| {
        st.act(&pin, id, Action::UpdateForm { changes })
    })
    .await
}

/// 派警 to one or more units, all in one transaction.
#[tauri::command]
pub async fn incident_dispatch(
    state: State<'_, AppState>,
    case_id: String,
    units: Vec<String>,
    opinion: String,
    pin: String,
) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    signed(&state, id, |st| {
        st.incident_dispatch(&pin, id, &units, &opinion)
    })
    .await
}

/// One handling step: 签收, 出警, 到达现场, 退单, 反馈, 终结.
#[tauri::command]
pub async fn incident_step(
    state: State<'_, AppState>,
    case_id: String,
    step: Value,
    pin: String,
) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    let step: IncidentStep =
        serde_json::from_value(step).map_err(|e| format!("办理内容格式错误：{e}"))?;
    signed(&state, id, |st| st.incident_step(&pin, id, step)).await
}

/// Signs again, with the PIN, the 110 steps a sync set aside because
/// another unit acted on the same record first (each keeps the time it
/// happened); `status` counts them as `redo`.
#[tauri::command]
pub async fn redo(state: State<'_, AppState>, pin: String) -> Result<Value, String> {
    let mut st = state.station.lock().await;
    let done = st.redo(&pin).map_err(pin_err)?;
    let q = queued(&st);
    drop(st);
    state.poke.notify_one();
    Ok(json!({"signed": done.signed, "refused": done.refused, "queued": q}))
}
