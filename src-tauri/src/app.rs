//! The app's commands over the station core (`jingwu_station::Station`),
//! and the background link to the hub: sync, the live channel, desktop
//! notifications. Thin by design: every rule is decided by the core.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use jingwu_core::case::{CaseState, Status};
use jingwu_core::crypto::{KdfParams, PublicKey};
use jingwu_core::event::{Action, Decision};
use jingwu_core::form::{FieldDef, FieldType, FormValues, Mode, DRAFT_STEP};
use jingwu_core::registry::Registry;
use jingwu_core::SHANGHAI;
use jingwu_station::station::{sniff_mime, Station, StationError};
use serde::Serialize;
use serde_json::{json, Value};
use tauri::{AppHandle, Emitter as _, State};
use tokio::sync::{Mutex, Notify};
use uuid::Uuid;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Largest file accepted from the UI (the hub's own limit is 20 MiB).
const MAX_FILE: usize = 20 * 1024 * 1024;

/// What the background link last saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LinkStatus {
    pub online: bool,
    pub last_sync: Option<String>,
    pub last_error: Option<String>,
    pub uploading: Option<Uploading>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Uploading {
    pub name: String,
    pub done: u64,
    pub total: u64,
}

/// The app's state: the UI's station, the link's status, a poke for the
/// background link.
pub struct AppState {
    pub data_dir: PathBuf,
    pub station: Mutex<Station>,
    pub link: Arc<std::sync::Mutex<LinkStatus>>,
    pub poke: Arc<Notify>,
}

fn registry() -> Result<Registry, String> {
    Registry::builtin_demo().map_err(|e| format!("规则数据加载失败：{e}"))
}

impl AppState {
    pub fn open(data_dir: PathBuf) -> Result<AppState, String> {
        let station = Station::open(&data_dir, registry()?).map_err(|e| e.to_string())?;
        Ok(AppState {
            data_dir,
            station: Mutex::new(station),
            link: Arc::new(std::sync::Mutex::new(LinkStatus::default())),
            poke: Arc::new(Notify::new()),
        })
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .to_offset(SHANGHAI)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn parse_case(id: &str) -> Result<Uuid, String> {
    Uuid::parse_str(id).map_err(|_| "案件编号格式错误".to_string())
}

// ----- status and enrolment ------------------------------------------

/// When the process started (for the start-up benchmark).
pub static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// The UI calls this once its first interactive screen is shown; the
/// start-up time goes to stderr for the benchmark.
#[tauri::command]
pub fn ui_ready() {
    if let Some(t) = STARTED.get() {
        eprintln!("JINGWU_UI_READY ms={}", t.elapsed().as_millis());
    }
}

#[tauri::command]
pub async fn status(state: State<'_, AppState>) -> Result<Value, String> {
    let st = state.station.lock().await;
    let person = st.store.meta("person").map_err(err)?;
    let link = state.link.lock().map(|l| l.clone()).unwrap_or_default();
    let (name, unit) = match &person {
        Some(p) => (
            st.reg.org.person(p).map(|x| x.name.clone()),
            st.reg.org.units_of(p).first().map(|u| u.name.clone()),
        ),
        None => (None, None),
    };
    Ok(json!({
        "enrolled": person.is_some(),
        "person": person,
        "name": name,
        "unit": unit,
        "hub_url": st.store.meta("hub_url").map_err(err)?,
        "online": link.online,
        "pending": st.store.outbox_len().map_err(err)?,
        "uploading": link.uploading,
        "last_sync": link.last_sync,
        "last_error": link.last_error,
    }))
}

#[tauri::command]
#[allow(clippy::too_many_arguments)]
pub async fn enrol(
    state: State<'_, AppState>,
    hub: String,
    fingerprint: Option<String>,
    person: String,
    password: String,
    pin: String,
    device_name: Option<String>,
) -> Result<Value, String> {
    let hub = hub.trim().to_string();
    let person = person.trim().to_string();
    if hub.is_empty() || person.is_empty() || password.is_empty() {
        return Err("请填写县局服务器地址、警号和登录密码".into());
    }
    jingwu_core::crypto::check_pin_strength(&pin)
        .map_err(|_| "签名 PIN 至少 6 位，且不能是同一个字符重复".to_string())?;
    let fp = fingerprint
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty());
    let mut st = state.station.lock().await;
    if st.reg.org.person(&person).is_none() {
        return Err(format!("组织机构中没有警号 {person}"));
    }
    let e = st
        .enrol(
            &hub,
            fp.as_deref(),
            &person,
            &password,
            &pin,
            device_name.as_deref().unwrap_or("户籍室工作站"),
            kdf(),
        )
        .await
        .map_err(err)?;
    drop(st);
    state.poke.notify_one();
    let message = match e.status.as_str() {
        "approved" => "本机已登记，可以使用",
        _ => "本机已登记，等待县局系统管理员批准签名密钥",
    };
    Ok(json!({"status": e.status, "message": message}))
}

/// Argon2 parameters for new keys: the real ones, unless a debug build
/// (the end-to-end test) asks for fast ones through the environment.
/// Release builds ignore the variable.
fn kdf() -> KdfParams {
    if cfg!(debug_assertions) && std::env::var("JINGWU_TEST_FAST_KDF").as_deref() == Ok("1") {
        KdfParams::TEST_ONLY
    } else {
        KdfParams::DEFAULT
    }
}

// ----- lists ----------------------------------------------------------

fn row(st: &Station, s: &CaseState) -> Value {
    json!({
        "id": s.case_id,
        "case_no": s.case_no,
        "summary": s.summary(),
        "subject_name": s.form.get("subject_name").and_then(Value::as_str).unwrap_or_default(),
        "status": s.status.label(),
        "step": s.current_step(&st.reg).map(|x| x.name.clone()),
        "updated_at": s.updated_at.to_offset(SHANGHAI).format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    })
}

#[tauri::command]
pub async fn lists(state: State<'_, AppState>) -> Result<Value, String> {
    let st = state.station.lock().await;
    let me = st.person().map_err(err)?;
    let (mut todo, mut done, mut sent, mut drafts) = (vec![], vec![], vec![], vec![]);
    for c in st.store.list_cases(5000).map_err(err)? {
        let Some(s) = st.store.case(&c.id).map_err(err)? else {
            continue;
        };
        let r = row(&st, &s);
        if s.assignees(&st.reg).contains(&me) {
            todo.push(r);
        } else if s.initiator == me && s.status.editable_by_initiator() {
            drafts.push(r);
        } else if s.initiator == me {
            sent.push(r);
        } else if s.trail.iter().any(|t| t.person == me) {
            done.push(r);
        }
    }
    Ok(json!({"todo": todo, "done": done, "sent": sent, "drafts": drafts}))
}

// ----- the form -------------------------------------------------------

fn field_json(reg: &Registry, f: &FieldDef) -> Value {
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

#[tauri::command]
pub async fn template(state: State<'_, AppState>) -> Result<Value, String> {
    let st = state.station.lock().await;
    let t = st
        .reg
        .template_latest("hukou_change")
        .ok_or("缺少户口变更登记表模板")?;
    // Only what the initiator may see while drafting.
    let perms = t.permissions.get(DRAFT_STEP);
    let fields: Vec<Value> = t
        .fields
        .iter()
        .filter(|f| {
            perms.is_none_or(|p| {
                p.fields.get(&f.key).copied().unwrap_or(p.default)
                    == jingwu_core::form::Permission::Editable
            })
        })
        .map(|f| field_json(&st.reg, f))
        .collect();
    Ok(json!({"id": t.id, "version": t.version, "name": t.name, "fields": fields}))
}

/// Turns UI values into form values: empty strings and nulls are dropped,
/// everything else (strings, numbers, table rows) goes to the core as is.
fn form_values(values: Value) -> Result<FormValues, String> {
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

// ----- making cases ---------------------------------------------------

fn queued(st: &Station) -> bool {
    st.store.outbox_len().unwrap_or(0) > 0
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

fn pin_err(e: StationError) -> String {
    match e {
        StationError::Key(jingwu_core::crypto::CryptoError::WrongPin) => "签名 PIN 不正确".into(),
        other => other.to_string(),
    }
}

#[tauri::command]
pub async fn attach(
    state: State<'_, AppState>,
    case_id: String,
    name: String,
    data_b64: String,
    pin: String,
) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    if data_b64.len() > MAX_FILE / 3 * 4 + 8 {
        return Err(format!(
            "文件“{name}”过大，上限 {} MB",
            MAX_FILE / 1024 / 1024
        ));
    }
    let data = B64
        .decode(data_b64.as_bytes())
        .map_err(|_| "文件内容无法读取".to_string())?;
    if data.is_empty() {
        return Err(format!("文件“{name}”是空的"));
    }
    if sniff_mime(&data).is_none() {
        return Err(format!(
            "“{name}”不是 JPEG、PNG、TIFF 图片或 PDF 文件（按文件内容判断，不看扩展名）"
        ));
    }
    // Through a file so the station's import path is the one used.
    let dir = state.data_dir.join("import");
    std::fs::create_dir_all(&dir).map_err(err)?;
    let safe: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    // A plain file name inside the import folder, whatever the UI sent.
    let safe = safe.trim_start_matches('.').to_string();
    let path = dir.join(if safe.is_empty() {
        "附件".into()
    } else {
        safe
    });
    std::fs::write(&path, &data).map_err(err)?;
    let mut st = state.station.lock().await;
    let r = st.attach(&pin, id, "scans", &path).map_err(pin_err);
    let _ = std::fs::remove_file(&path);
    let s = r?;
    drop(st);
    state.poke.notify_one();
    let att = s
        .form
        .get("scans")
        .and_then(Value::as_array)
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or(Value::Null);
    Ok(json!({"sm3": att["sm3"], "mime": att["mime"], "size": att["size"]}))
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

#[tauri::command]
pub async fn decide(
    state: State<'_, AppState>,
    case_id: String,
    decision: String,
    opinion: String,
    pin: String,
) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    let d = match decision.as_str() {
        "agree" => Decision::Agree,
        "disagree" => Decision::Disagree,
        "return" => Decision::Return,
        _ => return Err("审批意见应为同意、不同意或退回补正".into()),
    };
    if opinion.trim().is_empty() {
        return Err("请填写审批意见".into());
    }
    let mut st = state.station.lock().await;
    st.decide(&pin, id, d, opinion.trim()).map_err(pin_err)?;
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
    let mut ok_events: HashSet<String> = HashSet::new();
    for e in &events {
        let key: Option<PublicKey> = st
            .store
            .public_key(&e.event.author, &e.event.key)
            .map_err(err)?;
        if key.is_some_and(|k| e.verify(&k).is_ok()) {
            ok_events.insert(e.event.id.to_string());
        }
    }
    let chain_ok = st.store.verified_events(&id).is_ok();
    let trail: Vec<Value> = s
        .trail
        .iter()
        .map(|t| {
            let step_name = st
                .reg
                .workflow(s.workflow.as_ref().unwrap_or(&jingwu_core::workflow::WorkflowRef {
                    id: String::new(),
                    version: 0,
                }))
                .and_then(|w| w.routes.iter().flat_map(|r| r.steps.iter()).find(|x| x.id == t.step))
                .map(|x| x.name.clone())
                .unwrap_or_else(|| if t.step == DRAFT_STEP { "受理".into() } else { t.step.clone() });
            json!({
                "step": step_name,
                "person": t.person,
                "name": st.reg.org.person(&t.person).map(|p| p.name.clone()),
                "role": t.role,
                "decision": t.decision.map(|d| d.label()).unwrap_or(match t.action.as_str() {
                    "submit" => "提交",
                    "withdraw" => "撤回",
                    _ => "",
                }),
                "opinion": t.opinion,
                "time": t.time.to_offset(SHANGHAI).format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "verified": chain_ok && ok_events.contains(&t.event_id.to_string()),
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
    // ID numbers are shown masked on screen.
    for k in ["applicant_id", "subject_id"] {
        if let Some(Value::String(v)) = values.get(k) {
            if let Ok(id) = jingwu_core::idnum::IdNumber::parse_structure(v) {
                values.insert(k.to_string(), Value::String(id.masked()));
            }
        }
    }
    Ok(json!({
        "id": s.case_id,
        "case_no": s.case_no,
        "status": s.status.label(),
        "step": s.current_step(&st.reg).map(|x| x.name.clone()),
        "summary": s.summary(),
        "values": values,
        "attachments": attachments,
        "trail": trail,
        "can_decide": s.assignees(&st.reg).contains(&me),
        "can_edit": s.initiator == me && s.status.editable_by_initiator(),
        "edit_values": if s.initiator == me && s.status.editable_by_initiator() { Value::from(serde_json::Map::from_iter(edit_values)) } else { Value::Null },
        "can_withdraw": s.initiator == me && s.status == Status::InReview,
        "can_implement": s.initiator == me && s.status == Status::Approved && s.implemented.is_none(),
        "can_inform": s.initiator == me
            && s.informed.is_none()
            && (s.status == Status::Rejected
                || (s.status == Status::Approved && s.implemented.is_some())),
    }))
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

#[tauri::command]
pub async fn sync_now(state: State<'_, AppState>, app: AppHandle) -> Result<Value, String> {
    let mut st = state.station.lock().await;
    let r = run_sync(&mut st, &state.link, &app).await?;
    serde_json::to_value(r).map_err(err)
}

async fn run_sync(
    st: &mut Station,
    link: &Arc<std::sync::Mutex<LinkStatus>>,
    app: &AppHandle,
) -> Result<jingwu_station::station::SyncReport, String> {
    let l = link.clone();
    let a = app.clone();
    let r = st
        .sync(move |name, done, total| {
            if let Ok(mut s) = l.lock() {
                s.uploading = (done < total).then(|| Uploading {
                    name: name.to_string(),
                    done,
                    total,
                });
            }
            let _ = a.emit("jingwu://sync", ());
        })
        .await;
    if let Ok(mut s) = link.lock() {
        s.uploading = None;
        match &r {
            Ok(_) => {
                s.online = true;
                s.last_sync = Some(now_text());
                s.last_error = None;
            }
            Err(e) => {
                s.online = !matches!(
                    e,
                    StationError::Client(jingwu_station::client::ClientError::Offline(_))
                );
                s.last_error = Some(e.to_string());
            }
        }
    }
    let _ = app.emit("jingwu://sync", ());
    let _ = app.emit("jingwu://changed", ());
    r.map_err(err)
}

// ----- the background link ----------------------------------------------

/// What was already announced, so each task and result is notified once.
#[derive(Default)]
struct Announced(HashSet<(Uuid, u64)>);

fn announce(app: &AppHandle, me: &str, reg: &Registry, s: &CaseState, seen: &mut Announced) {
    if !seen.0.insert((s.case_id, s.next_seq)) {
        return;
    }
    let (title, body) = if s.assignees(reg).iter().any(|a| a == me) {
        ("新的待办", format!("{}：{}", s.case_no, s.summary()))
    } else if s.initiator == me
        && matches!(
            s.status,
            Status::Approved | Status::Rejected | Status::Returned
        )
    {
        (
            "审批结果",
            format!("{} {}：{}", s.case_no, s.status.label(), s.summary()),
        )
    } else {
        return;
    };
    let body_for_ui = body.clone();
    let _ = app.emit(
        "jingwu://notified",
        json!({"title": title, "body": body_for_ui, "case_id": s.case_id}),
    );
    tauri::async_runtime::spawn_blocking(move || {
        let r = notify_rust::Notification::new()
            .appname("警务协同")
            .summary(title)
            .body(&body)
            .show();
        if let Err(e) = r {
            eprintln!("jingwu: 桌面通知失败：{e}");
        }
    });
}

/// Syncs, then follows the live channel; any local change pokes it to sync
/// again; when the hub is unreachable it retries every 10 s.
pub fn start_link(
    app: AppHandle,
    data_dir: PathBuf,
    link: Arc<std::sync::Mutex<LinkStatus>>,
    poke: Arc<Notify>,
) {
    tauri::async_runtime::spawn(async move {
        let Ok(reg) = registry() else { return };
        let mut st = match Station::open(&data_dir, reg) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("jingwu: 后台同步无法打开本地库：{e}");
                return;
            }
        };
        let mut seen = Announced::default();
        loop {
            let Ok(me) = st.person() else {
                // Not enrolled yet.
                poke.notified().await;
                continue;
            };
            if run_sync(&mut st, &link, &app).await.is_err() {
                let _ = tokio::time::timeout(Duration::from_secs(10), poke.notified()).await;
                continue;
            }
            // Whatever is already waiting is announced once.
            if let Ok(cases) = st.store.list_cases(5000) {
                for c in cases {
                    if let Ok(Some(s)) = st.store.case(&c.id) {
                        seen.0.insert((s.case_id, s.next_seq));
                    }
                }
            }
            let reg = st.reg.clone();
            let a = app.clone();
            let seen_now = &mut seen;
            let follow = st.follow(None, |s| {
                announce(&a, &me, &reg, s, seen_now);
                let _ = a.emit("jingwu://changed", ());
                true
            });
            tokio::select! {
                r = follow => {
                    if let Err(e) = r {
                        eprintln!("jingwu: 实时通道中断：{e}");
                        if let Ok(mut l) = link.lock() {
                            l.online = false;
                            l.last_error = Some(e.to_string());
                        }
                        let _ = app.emit("jingwu://sync", ());
                        let _ = tokio::time::timeout(Duration::from_secs(10), poke.notified()).await;
                    }
                }
                _ = poke.notified() => {}
            }
        }
    });
}
