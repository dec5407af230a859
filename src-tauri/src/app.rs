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
use jingwu_core::form::{FormValues, Mode, DRAFT_STEP};
use jingwu_core::registry::Registry;
use jingwu_core::SHANGHAI;
use jingwu_station::scan::{ProcessedFile, ScanPage, SCANS_FIELD};
use jingwu_station::station::{sniff_mime, Station, StationError};
use serde::Serialize;
use serde_json::{json, Value};
use tauri::{AppHandle, Emitter as _, Manager as _, State};
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
///
/// Several users may share a station PC. Each has a profile of their own —
/// a data directory with its own store (signing key, hub session, outbox,
/// pull cursor): the first user's is the data directory itself, later
/// users' are `users/<警号>/` under it. `station` is the active profile's;
/// `active` names its directory for the background link.
pub struct AppState {
    pub data_dir: PathBuf,
    pub station: Mutex<Station>,
    /// Scans run through the pipeline when chosen, by the SM3 of the file,
    /// so attaching them does not process them again.
    pub scans: std::sync::Mutex<Vec<(String, Arc<ProcessedFile>)>>,
    /// The hot folder scanners save into, and what it took last.
    pub hot: std::sync::Mutex<HotState>,
    pub active: Arc<std::sync::Mutex<PathBuf>>,
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
            active: Arc::new(std::sync::Mutex::new(data_dir.clone())),
            data_dir,
            station: Mutex::new(station),
            scans: std::sync::Mutex::new(Vec::new()),
            hot: std::sync::Mutex::new(HotState::default()),
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
        "hub_fingerprint": st.store.meta("hub_fingerprint").map_err(err)?,
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
    new_user: Option<bool>,
) -> Result<Value, String> {
    let form = EnrolForm::checked(hub, fingerprint, person, password, pin, device_name)?;
    if new_user == Some(true) {
        return enrol_new_user(state, form).await;
    }
    let mut st = state.station.lock().await;
    let e = form.enrol(&mut st).await?;
    drop(st);
    state.poke.notify_one();
    let message = match e.status.as_str() {
        "approved" => "本机已登记，可以使用",
        _ => "本机已登记，等待县局系统管理员批准签名密钥",
    };
    Ok(json!({"status": e.status, "message": message}))
}

/// What the enrolment screen sent, checked.
struct EnrolForm {
    hub: String,
    fingerprint: Option<String>,
    person: String,
    password: String,
    pin: String,
    device_name: String,
}

impl EnrolForm {
    fn checked(
        hub: String,
        fingerprint: Option<String>,
        person: String,
        password: String,
        pin: String,
        device_name: Option<String>,
    ) -> Result<EnrolForm, String> {
        let hub = hub.trim().to_string();
        let person = person.trim().to_string();
        if hub.is_empty() || person.is_empty() || password.is_empty() {
            return Err("请填写县局服务器地址、警号和登录密码".into());
        }
        jingwu_core::crypto::check_pin_strength(&pin)
            .map_err(|_| "签名 PIN 至少 6 位，且不能是同一个字符重复".to_string())?;
        if registry()?.org.person(&person).is_none() {
            return Err(format!("组织机构中没有警号 {person}"));
        }
        Ok(EnrolForm {
            hub,
            fingerprint: fingerprint
                .map(|f| f.trim().to_string())
                .filter(|f| !f.is_empty()),
            person,
            password,
            pin,
            device_name: device_name
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| "户籍室工作站".into()),
        })
    }

    /// Logs in, makes the signing key and registers the device.
    async fn enrol(&self, st: &mut Station) -> Result<jingwu_station::client::Enrolment, String> {
        st.enrol(
            &self.hub,
            self.fingerprint.as_deref(),
            &self.person,
            &self.password,
            &self.pin,
            &self.device_name,
            kdf(),
        )
        .await
        .map_err(err)
    }
}

/// Makes `station` (the profile in `dir`) the one the UI and the
/// background link work with.
async fn activate(state: &AppState, station: Station, dir: PathBuf) {
    *state.station.lock().await = station;
    if let Ok(mut a) = state.active.lock() {
        *a = dir;
    }
    if let Ok(mut l) = state.link.lock() {
        *l = LinkStatus::default();
    }
    state.poke.notify_one();
}

/// Enrols another user of this PC in a profile of their own, then makes
/// it the active one. A failed enrolment leaves no profile behind.
async fn enrol_new_user(state: State<'_, AppState>, form: EnrolForm) -> Result<Value, String> {
    let person = form.person.clone();
    let root = state.data_dir.clone();
    let known = tauri::async_runtime::spawn_blocking(move || profiles_of(&root))
        .await
        .map_err(err)?;
    if known.iter().any(|(_, p)| *p == person) {
        return Err(format!("{person} 已在本机登记，请用“切换用户”"));
    }
    let dir = profile_dir_for(&state.data_dir, &person)?;
    let fresh = !dir.exists();
    let result = async {
        let mut next = Station::open(&dir, registry()?).map_err(err)?;
        let e = form.enrol(&mut next).await?;
        Ok::<_, String>((next, e))
    }
    .await;
    let (next, e) = match result {
        Ok(x) => x,
        Err(m) => {
            if fresh {
                let _ = std::fs::remove_dir_all(&dir);
            }
            return Err(m);
        }
    };
    activate(&state, next, dir).await;
    let message = match e.status.as_str() {
        "approved" => "已添加用户，可以使用",
        _ => "已添加用户，等待县局系统管理员批准签名密钥",
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

// ----- users of this PC ---------------------------------------------------

/// The profile directories under `root`: `root` itself, then `users/*`
/// that hold a station store, in name order.
pub fn profile_dirs(root: &std::path::Path) -> Vec<PathBuf> {
    let mut dirs = vec![root.to_path_buf()];
    if let Ok(rd) = std::fs::read_dir(root.join("users")) {
        let mut more: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("station.db").is_file())
            .collect();
        more.sort();
        dirs.extend(more);
    }
    dirs
}

/// The enrolled users of this PC: (directory, 警号).
fn profiles_of(root: &std::path::Path) -> Vec<(PathBuf, String)> {
    let Ok(reg) = registry() else { return vec![] };
    profile_dirs(root)
        .into_iter()
        .filter_map(|d| {
            let st = Station::open(&d, reg.clone()).ok()?;
            let p = st.person().ok()?;
            Some((d, p))
        })
        .collect()
}

/// A directory name for a new user's profile: the 警号, which the org
/// model keeps to letters and digits.
fn profile_dir_for(root: &std::path::Path, person: &str) -> Result<PathBuf, String> {
    if person.is_empty()
        || person.len() > 32
        || !person
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("警号格式不正确".into());
    }
    Ok(root.join("users").join(person))
}

/// The users of this PC, the active one marked.
#[tauri::command]
pub async fn profiles(state: State<'_, AppState>) -> Result<Value, String> {
    let active = state.active.lock().map(|a| a.clone()).map_err(err)?;
    let root = state.data_dir.clone();
    let list = tauri::async_runtime::spawn_blocking(move || profiles_of(&root))
        .await
        .map_err(err)?;
    let reg = registry()?;
    Ok(json!(list
        .iter()
        .map(|(dir, p)| json!({
            "person": p,
            "name": reg.org.person(p).map(|x| x.name.clone()),
            "unit": reg.org.units_of(p).first().map(|u| u.name.clone()),
            "current": *dir == active,
        }))
        .collect::<Vec<_>>()))
}

/// Switches to another user of this PC, who proves it with their signing
/// PIN. Their profile's hub session, outbox and lists come with them.
#[tauri::command]
pub async fn switch_user(
    state: State<'_, AppState>,
    app: AppHandle,
    person: String,
    pin: String,
) -> Result<Value, String> {
    let person = person.trim().to_string();
    let root = state.data_dir.clone();
    let (dir, _) = tauri::async_runtime::spawn_blocking(move || profiles_of(&root))
        .await
        .map_err(err)?
        .into_iter()
        .find(|(_, p)| *p == person)
        .ok_or_else(|| format!("本机没有登记用户 {person}"))?;
    let next = Station::open(&dir, registry()?).map_err(err)?;
    let sealed = next
        .store
        .key(&person)
        .map_err(err)?
        .ok_or_else(|| format!("本机没有 {person} 的签名密钥"))?;
    // Argon2id: off the async threads.
    tauri::async_runtime::spawn_blocking(move || sealed.unlock(&pin).map(|_| ()))
        .await
        .map_err(err)?
        .map_err(|_| "签名 PIN 不正确".to_string())?;
    if let Some(t) = app.try_state::<TrayState>() {
        if let Ok(mut m) = t.0.lock() {
            *m = None;
        }
    }
    activate(&state, next, dir).await;
    schedule_tray_refresh(&app);
    let _ = app.emit("jingwu://changed", ());
    Ok(json!({"person": person}))
}

// ----- lists ----------------------------------------------------------

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
    Ok(jingwu_core::view::lists(&st.reg, &me, &cases))
}

// ----- the form -------------------------------------------------------

#[tauri::command]
pub async fn template(state: State<'_, AppState>) -> Result<Value, String> {
    let st = state.station.lock().await;
    jingwu_core::view::hukou_template(&st.reg).ok_or_else(|| "缺少户口变更登记表模板".to_string())
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
    data_b64: Option<String>,
    scan_id: Option<String>,
    pin: String,
) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    // A scan from the scanner or the hot folder is already processed and
    // kept here; a chosen file comes with its bytes.
    let processed = match (scan_id, data_b64) {
        (Some(key), _) => cached_scan(&state, &key)
            .ok_or_else(|| format!("扫描件“{name}”已失效，请重新扫描或导入"))?,
        (None, Some(b64)) => {
            let data = decode_upload(&name, &b64)?;
            scan_of(&state, &name, &data).await?
        }
        (None, None) => return Err("没有附件内容".into()),
    };
    let mut st = state.station.lock().await;
    let r = st
        .attach_processed(&pin, id, SCANS_FIELD, &processed, &processed.pages)
        .map_err(pin_err)?;
    drop(st);
    forget_scan(&state, &processed);
    state.poke.notify_one();
    let first = r.pages.first();
    Ok(json!({
        "sm3": first.map(|p| p.sm3.clone()),
        "mime": "image/jpeg",
        "size": first.map(|p| p.bytes),
        "original_sm3": r.original_sm3,
        "pages": r.pages.iter().map(page_json).collect::<Vec<_>>(),
    }))
}

/// Most scans kept processed between choosing and attaching.
const SCAN_CACHE: usize = 16;

fn page_json(p: &ScanPage) -> Value {
    json!({
        "page": p.page,
        "sm3": p.sm3,
        "name": p.name,
        "bytes": p.bytes,
        "width": p.width,
        "height": p.height,
        "skew_degrees": p.skew_degrees,
        "stamp_present": p.stamp_present,
        "stamp_bbox": p.stamp_bbox,
        "form_id": p.form_id,
        "warnings": p.warnings,
        "millis": p.millis,
    })
}

/// A chosen file run through the scan pipeline (or the result kept from
/// `scan_check`). Refusals are the pipeline's Chinese messages.
async fn scan_of(
    state: &State<'_, AppState>,
    name: &str,
    data: &[u8],
) -> Result<Arc<ProcessedFile>, String> {
    let key = jingwu_core::crypto::sm3_hex(data);
    if let Ok(cache) = state.scans.lock() {
        if let Some((_, p)) = cache.iter().find(|(k, p)| *k == key && p.name == name) {
            return Ok(p.clone());
        }
    }
    // Through a file in the import folder, so the station's own file
    // import (size limits from the file's metadata) is the one used.
    let dir = state.data_dir.join("import");
    jingwu_station::private_fs::create_dir(&dir).map_err(err)?;
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
    let sub = dir.join(&key[..16]);
    jingwu_station::private_fs::create_dir(&sub).map_err(err)?;
    let path = sub.join(if safe.is_empty() {
        "扫描件".into()
    } else {
        safe
    });
    jingwu_station::private_fs::write(&path, data).map_err(err)?;
    let p2 = path.clone();
    let r = tauri::async_runtime::spawn_blocking(move || jingwu_station::scan::process(&p2)).await;
    let _ = std::fs::remove_dir_all(&sub);
    let processed = Arc::new(r.map_err(err)?.map_err(err)?);
    keep_scan(state, key, processed.clone());
    Ok(processed)
}

fn keep_scan(state: &AppState, key: String, processed: Arc<ProcessedFile>) {
    if let Ok(mut cache) = state.scans.lock() {
        cache.retain(|(k, _)| *k != key);
        cache.push((key, processed));
        let extra = cache.len().saturating_sub(SCAN_CACHE);
        cache.drain(..extra);
    }
}

fn cached_scan(state: &AppState, key: &str) -> Option<Arc<ProcessedFile>> {
    state
        .scans
        .lock()
        .ok()?
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, p)| p.clone())
}

/// The pipeline's findings per page of a processed file, before storing.
fn pages_json(p: &ProcessedFile) -> Vec<Value> {
    p.pages
        .iter()
        .map(|r| {
            page_json(&ScanPage::from_result(
                r,
                jingwu_core::crypto::sm3_hex(&r.jpeg),
                jingwu_station::scan::page_name(&p.name, r.page),
            ))
        })
        .collect()
}

/// A processed scan as the UI's attachment list shows it before saving:
/// its id here, a preview of the first page, the pages' checks, and the
/// draft a blank-form QR names, if any.
fn scanned_item(st: &Station, key: &str, p: &ProcessedFile) -> Value {
    let pages = pages_json(p);
    let draft = p
        .pages
        .iter()
        .filter_map(|r| r.form_id.as_deref())
        .find_map(|f| st.case_for_form(f).ok().flatten())
        .and_then(|id| st.store.case(&id).ok().flatten())
        .map(|c| json!({"case_id": c.case_id, "case_no": c.case_no}));
    let preview = p.pages.first().map(|r| {
        if r.thumbnail.is_empty() {
            B64.encode(&r.jpeg)
        } else {
            B64.encode(&r.thumbnail)
        }
    });
    json!({
        "scan_id": key,
        "name": p.name,
        "size": p.bytes.len(),
        "mime": "image/jpeg",
        "preview_b64": preview,
        "pages": pages,
        "draft": draft,
    })
}

/// Processes a file on this machine (from the scanner or the hot folder)
/// and keeps the result for attaching.
async fn process_kept(state: &State<'_, AppState>, path: PathBuf) -> Result<Value, String> {
    let processed =
        tauri::async_runtime::spawn_blocking(move || jingwu_station::scan::process(&path))
            .await
            .map_err(err)?
            .map_err(err)?;
    let key = jingwu_core::crypto::sm3_hex(&processed.bytes);
    let processed = Arc::new(processed);
    keep_scan(state, key.clone(), processed.clone());
    let st = state.station.lock().await;
    Ok(scanned_item(&st, &key, &processed))
}

// ----- scanners (SANE) and the hot folder ------------------------------------

/// The scanners SANE sees.
#[tauri::command]
pub async fn scanners() -> Result<Value, String> {
    let list = tauri::async_runtime::spawn_blocking(|| {
        jingwu_station::sane::list_devices(Duration::from_secs(30))
    })
    .await
    .map_err(err)?
    .map_err(err)?;
    Ok(json!(list))
}

/// Scans one page on `device` (colour, 300 dpi) and runs it through the
/// scan pipeline; the result waits here until it is attached.
#[tauri::command]
pub async fn scan_device(state: State<'_, AppState>, device: String) -> Result<Value, String> {
    let device = device.trim().to_string();
    if device.is_empty() || device.len() > 200 || device.chars().any(char::is_control) {
        return Err("请选择扫描仪".into());
    }
    let dir = tempfile::tempdir_in(state.data_dir.join("import"))
        .or_else(|_| tempfile::tempdir())
        .map_err(err)?;
    let d = dir.path().to_path_buf();
    let files = tauri::async_runtime::spawn_blocking(move || {
        jingwu_station::sane::acquire(&jingwu_station::sane::Acquire::page(&device), &d)
    })
    .await
    .map_err(err)?
    .map_err(err)?;
    let mut items = Vec::new();
    for f in files {
        // A name the officer recognises: 扫描件-时分秒.
        let stamp = time::OffsetDateTime::now_utc().to_offset(SHANGHAI);
        let ext = f
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("png")
            .to_string();
        let named = f.with_file_name(format!(
            "扫描件-{:02}{:02}{:02}-{}.{ext}",
            stamp.hour(),
            stamp.minute(),
            stamp.second(),
            items.len() + 1
        ));
        std::fs::rename(&f, &named).map_err(err)?;
        items.push(process_kept(&state, named).await?);
    }
    Ok(json!(items))
}

/// The hot folder and what it has taken lately.
#[derive(Default)]
pub struct HotState {
    pub dir: Option<PathBuf>,
    pub error: Option<String>,
    pub outcomes: Vec<Value>,
    pub handle: Option<jingwu_station::hotfolder::HotFolder>,
}

/// Most hot-folder outcomes remembered.
const HOT_KEEP: usize = 30;

/// Watches the hot folder (`JINGWU_SCAN_FOLDER`, else `扫描文件夹` in
/// the data directory): each complete file is processed and moved to
/// `已导入/` (or `未能导入/` with the reason); the UI is told.
pub fn start_hot_folder(app: &AppHandle) {
    let state = app.state::<AppState>();
    let dir = std::env::var_os("JINGWU_SCAN_FOLDER")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| state.data_dir.join("扫描文件夹"));
    let a = app.clone();
    let started = jingwu_station::hotfolder::HotFolder::start(
        &dir,
        jingwu_station::hotfolder::Config::default(),
        move |o| {
            // A page whose blank-form QR names a draft of this user's.
            let draft = o
                .pages
                .iter()
                .filter_map(|p| p.page.form_id.clone())
                .find_map(|f| draft_for_form(&a, &f));
            let v = json!({
                "draft": draft,
                "file": o.file.file_name().map(|n| n.to_string_lossy().into_owned()),
                "moved_to": o.moved_to,
                "imported": o.imported,
                "error": o.error,
                "pages": o.pages.len(),
                "warnings": o.pages.iter().flat_map(|p| p.page.warnings.clone()).collect::<Vec<_>>(),
                "time": now_text(),
            });
            if let Ok(mut h) = a.state::<AppState>().hot.lock() {
                h.outcomes.insert(0, v.clone());
                h.outcomes.truncate(HOT_KEEP);
            }
            let _ = a.emit("jingwu://scanned", v);
        },
    );
    let locked = state.hot.lock();
    if let Ok(mut h) = locked {
        h.dir = Some(dir);
        match started {
            Ok(handle) => h.handle = Some(handle),
            Err(e) => {
                eprintln!("jingwu: 扫描文件夹无法使用：{e}");
                h.error = Some(e.to_string());
            }
        }
    };
}

/// The draft (id and 受理编号) of the active user's that a blank-form id
/// names, if any.
fn draft_for_form(app: &AppHandle, form_id: &str) -> Option<Value> {
    let dir = app.state::<AppState>().active.lock().ok()?.clone();
    let st = Station::open(&dir, registry().ok()?).ok()?;
    let id = st.case_for_form(form_id).ok()??;
    let c = st.store.case(&id).ok()??;
    (c.status.editable_by_initiator() && st.person().ok()? == c.initiator)
        .then(|| json!({"case_id": c.case_id, "case_no": c.case_no}))
}

/// The hot folder: where it is, and the files it took (newest first).
#[tauri::command]
pub fn hot_folder(state: State<'_, AppState>) -> Result<Value, String> {
    let h = state.hot.lock().map_err(err)?;
    Ok(json!({"dir": h.dir, "error": h.error, "files": h.outcomes}))
}

/// Takes a file the hot folder imported (from its `已导入/`) for
/// attaching: processed again here and kept until saved.
#[tauri::command]
pub async fn take_scan_file(state: State<'_, AppState>, path: String) -> Result<Value, String> {
    let real = hot_done_file(&state, &path)?;
    process_kept(&state, real).await
}

/// A file the hot folder itself moved to its `已导入/`, and nothing else.
fn hot_done_file(state: &AppState, path: &str) -> Result<PathBuf, String> {
    let done = {
        let h = state.hot.lock().map_err(err)?;
        h.dir
            .as_ref()
            .map(|d| d.join(jingwu_station::hotfolder::DONE_DIR))
            .ok_or("扫描文件夹未启用")?
    };
    let real = PathBuf::from(path)
        .canonicalize()
        .map_err(|_| "该扫描件已不在扫描文件夹中".to_string())?;
    let done = done.canonicalize().map_err(err)?;
    if real.parent() != Some(done.as_path()) {
        return Err("只能导入扫描文件夹中的扫描件".into());
    }
    Ok(real)
}

/// Attaches a hot-folder scan of a QR-coded blank form to the draft its
/// QR names (each page after a QR page goes with it), signed with the PIN.
#[tauri::command]
pub async fn attach_hot_file(
    state: State<'_, AppState>,
    path: String,
    pin: String,
) -> Result<Value, String> {
    let real = hot_done_file(&state, &path)?;
    let mut st = state.station.lock().await;
    let done = st.import_matched(&pin, &real).map_err(pin_err)?;
    drop(st);
    state.poke.notify_one();
    let attached: Vec<Value> = done
        .iter()
        .filter_map(|(case, imp)| case.map(|c| json!({"case_id": c, "pages": imp.pages.len()})))
        .collect();
    if attached.is_empty() {
        return Err("扫描件上的二维码不对应本机的草稿，未附加".into());
    }
    Ok(json!({"attached": attached}))
}

fn forget_scan(state: &State<'_, AppState>, p: &ProcessedFile) {
    let key = jingwu_core::crypto::sm3_hex(&p.bytes);
    if let Ok(mut cache) = state.scans.lock() {
        cache.retain(|(k, _)| *k != key);
    }
}

/// Checks a chosen file before it is saved: decodes it by its content and
/// runs the scan pipeline (deskew, crop, stamp and QR checks), so the
/// officer sees warnings such as 未检测到村（居）委会印章 before submitting.
#[tauri::command]
pub async fn scan_check(
    state: State<'_, AppState>,
    name: String,
    data_b64: String,
) -> Result<Value, String> {
    let data = decode_upload(&name, &data_b64)?;
    let p = scan_of(&state, &name, &data).await?;
    let pages = pages_json(&p);
    Ok(json!({"name": name, "pages": pages}))
}

/// A file from the UI: size-limited, base64, not empty, an image or PDF by
/// its content.
fn decode_upload(name: &str, data_b64: &str) -> Result<Vec<u8>, String> {
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
    Ok(data)
}

/// Turns a scanned page of an editable case by quarter turns clockwise.
#[tauri::command]
pub async fn rotate_page(
    state: State<'_, AppState>,
    case_id: String,
    sm3: String,
    quarter_turns: u8,
    pin: String,
) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    if !(1..=3).contains(&quarter_turns) {
        return Err("旋转角度只能是 90°、180° 或 270°".into());
    }
    let mut st = state.station.lock().await;
    let a = st
        .rotate_page(&pin, id, SCANS_FIELD, &sm3, quarter_turns)
        .map_err(pin_err)?;
    drop(st);
    state.poke.notify_one();
    Ok(json!({"sm3": a.sm3, "size": a.size}))
}

/// Puts the scanned pages of an editable case in a new order.
#[tauri::command]
pub async fn arrange_pages(
    state: State<'_, AppState>,
    case_id: String,
    order: Vec<String>,
    pin: String,
) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    let mut st = state.station.lock().await;
    st.arrange_pages(&pin, id, SCANS_FIELD, order)
        .map_err(pin_err)?;
    drop(st);
    state.poke.notify_one();
    Ok(json!({"ok": true}))
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
    Ok(jingwu_core::view::case_detail(
        &st.reg, &s, &me, &ok_events, chain_ok,
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

// ----- the result slip: preview, print, verify -------------------------------

/// Resolution of the print preview's page images.
const PREVIEW_DPI: u32 = 80;

/// Makes the slip of a decided case, keeps it under `slips/` in the data
/// directory (the file that is printed) and returns its preview pages.
#[tauri::command]
pub async fn slip_preview(
    state: State<'_, AppState>,
    case_id: String,
    kind: Option<String>,
) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    let (case_no, file, pdf) = document(&state, &id, kind.as_deref()).await?;
    let pages = tauri::async_runtime::spawn_blocking(move || {
        jingwu_slip::print::preview_pngs(&pdf, PREVIEW_DPI)
    })
    .await
    .map_err(err)?
    .map_err(err)?;
    Ok(json!({
        "case_no": case_no,
        "file": file.display().to_string(),
        "bytes": std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0),
        "pages": pages.iter().map(|p| B64.encode(p)).collect::<Vec<_>>(),
    }))
}

/// The printable document of a case, made afresh from the record and
/// saved under `slips/`: the result slip of a decided case, or (`kind`
/// `blank`) the blank QR-coded form of a draft.
async fn document(
    state: &AppState,
    id: &Uuid,
    kind: Option<&str>,
) -> Result<(String, PathBuf, Vec<u8>), String> {
    let st = state.station.lock().await;
    let (title, (case_no, pdf)) = match kind {
        None | Some("slip") => ("户口变更审批结果通知单", st.slip_pdf(id).map_err(err)?),
        Some("blank") => ("户口变更登记表-空白", st.blank_form_pdf(id).map_err(err)?),
        Some(_) => return Err("不认识的文书种类".into()),
    };
    drop(st);
    let file = save_slip(&state.data_dir, title, &case_no, &pdf)?;
    Ok((case_no, file, pdf))
}

/// Writes a printable PDF completely or not at all.
fn save_slip(
    data_dir: &std::path::Path,
    title: &str,
    case_no: &str,
    pdf: &[u8],
) -> Result<PathBuf, String> {
    let dir = data_dir.join("slips");
    jingwu_station::private_fs::create_dir(&dir).map_err(|e| format!("无法创建通知单目录：{e}"))?;
    let safe: String = case_no
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let file = dir.join(format!("{title}-{safe}.pdf"));
    jingwu_station::private_fs::write_atomically(&file, pdf)
        .map_err(|e| format!("无法保存通知单：{e}"))?;
    Ok(file)
}

/// The print queues, the default first.
#[tauri::command]
pub async fn printers() -> Result<Value, String> {
    let list = tauri::async_runtime::spawn_blocking(jingwu_slip::print::printers)
        .await
        .map_err(err)?
        .map_err(err)?;
    Ok(json!(list))
}

/// Prints the slip of a decided case (made afresh from the record) to
/// `printer`, or to the system's default printer.
#[tauri::command]
pub async fn print_slip(
    state: State<'_, AppState>,
    case_id: String,
    printer: Option<String>,
    kind: Option<String>,
) -> Result<Value, String> {
    let id = parse_case(&case_id)?;
    let printer = printer
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty());
    if let Some(p) = &printer {
        if !p
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        {
            return Err("打印机名称不正确".into());
        }
    }
    let (case_no, file, _) = document(&state, &id, kind.as_deref()).await?;
    let job = tauri::async_runtime::spawn_blocking(move || {
        jingwu_slip::print::print_pdf(&file, printer.as_deref())
    })
    .await
    .map_err(err)?
    .map_err(err)?;
    Ok(json!({ "job": job, "case_no": case_no }))
}

/// Checks a slip offline: a PDF, or a photo or scan of the printed page.
/// An invalid slip is an answer (`valid: false` and why), not an error.
#[tauri::command]
pub async fn verify_slip(
    state: State<'_, AppState>,
    name: String,
    data_b64: String,
) -> Result<Value, String> {
    let data = decode_upload(&name, &data_b64)?;
    let st = state.station.lock().await;
    Ok(match st.verify_slip(&data) {
        Ok(c) => json!({"valid": true, "name": name, "check": c}),
        Err(e) => json!({"valid": false, "name": name, "reason": e.to_string()}),
    })
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
            Ok(r) => {
                s.online = true;
                s.last_sync = Some(now_text());
                // What the hub refused (a case set aside, a rule) stays in
                // the status bar until a sync goes through cleanly.
                s.last_error = (!r.failed.is_empty())
                    .then(|| format!("县局未接受 {} 项：{}", r.failed.len(), r.failed.join("；")));
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
        (
            "新的待办",
            format!("{}：{}", s.case_no, s.display_summary()),
        )
    } else if s.initiator == me
        && matches!(
            s.status,
            Status::Approved | Status::Rejected | Status::Returned
        )
    {
        (
            "审批结果",
            format!(
                "{} {}：{}",
                s.case_no,
                s.status.label(),
                s.display_summary()
            ),
        )
    } else {
        return;
    };
    let body_for_ui = body.clone();
    let _ = app.emit(
        "jingwu://notified",
        json!({"title": title, "body": body_for_ui, "case_id": s.case_id}),
    );
    let case_id = s.case_id;
    let app = app.clone();
    // Its own thread: on Linux the handle waits for the click (or for the
    // notification to close), which may take as long as the user likes.
    let spawned = std::thread::Builder::new()
        .name("jingwu-notify".into())
        .spawn(move || {
            let shown = notify_rust::Notification::new()
                .appname("警务协同")
                .summary(title)
                .body(&body)
                .action("default", "查看")
                .show();
            match shown {
                #[cfg(all(unix, not(target_os = "macos")))]
                Ok(handle) => handle.wait_for_action(|action| {
                    // "default" is a click on the notification itself;
                    // "__closed" means it went away unclicked.
                    if action == "default" {
                        open_case(&app, case_id);
                    }
                }),
                #[cfg(not(all(unix, not(target_os = "macos"))))]
                Ok(_) => {}
                Err(e) => eprintln!("jingwu: 桌面通知失败：{e}"),
            }
        });
    if let Err(e) = spawned {
        eprintln!("jingwu: 桌面通知失败：{e}");
    }
}

/// Brings the main window forward and asks the UI to open a case (a click
/// on a notification or on a tray menu entry).
pub fn open_case(app: &AppHandle, case_id: Uuid) {
    show_main(app);
    let _ = app.emit("jingwu://open-case", json!({ "case_id": case_id }));
}

/// Shows, un-minimises and focuses the main window.
pub fn show_main(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

// ----- the tray icon --------------------------------------------------------

/// Most cases listed in the tray menu.
pub const TRAY_MAX_ITEMS: usize = 8;

/// What the tray shows: the count of pending tasks (as the icon's label
/// and tooltip) and a menu entry per task, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrayModel {
    pub count: usize,
    /// The label beside the icon (Linux app indicators): the count, or
    /// nothing when there is no task.
    pub title: Option<String>,
    pub tooltip: String,
    /// (menu id `case:<uuid>`, text) per listed task.
    pub items: Vec<(String, String)>,
    /// Tasks not listed (more than [`TRAY_MAX_ITEMS`]).
    pub more: usize,
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The tray for the tasks waiting for `me` among `cases`. Pure.
pub fn tray_model(me: &str, reg: &Registry, cases: &[CaseState]) -> TrayModel {
    let mut todo: Vec<&CaseState> = cases
        .iter()
        .filter(|s| s.assignees(reg).iter().any(|a| a == me))
        .collect();
    todo.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then(b.case_no.cmp(&a.case_no))
    });
    let count = todo.len();
    let items = todo
        .iter()
        .take(TRAY_MAX_ITEMS)
        .map(|s| {
            (
                format!("case:{}", s.case_id),
                clip(&format!("{}  {}", s.case_no, s.display_summary()), 40),
            )
        })
        .collect();
    TrayModel {
        count,
        title: (count > 0).then(|| count.to_string()),
        tooltip: if count == 0 {
            "警务协同：没有待办".to_string()
        } else {
            format!("警务协同：{count} 件待办")
        },
        items,
        more: count.saturating_sub(TRAY_MAX_ITEMS),
    }
}

/// The tray's current model (also answered by the `tray_state` command).
#[derive(Default)]
pub struct TrayState(pub std::sync::Mutex<Option<TrayModel>>);

/// Recomputes the tray from the station's store and applies it when it
/// changed. Without a tray (no icon host) only the model is kept.
pub fn refresh_tray(app: &AppHandle, st: &Station) {
    let Ok(me) = st.person() else { return };
    let mut cases = Vec::new();
    if let Ok(list) = st.store.list_cases(10_000) {
        for c in list {
            if let Ok(Some(s)) = st.store.case(&c.id) {
                cases.push(s);
            }
        }
    }
    let model = tray_model(&me, &st.reg, &cases);
    let Some(state) = app.try_state::<TrayState>() else {
        return;
    };
    let Ok(mut last) = state.0.lock() else { return };
    if last.as_ref() == Some(&model) {
        return;
    }
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        match tray_menu(app, &model) {
            Ok(menu) => {
                let _ = tray.set_menu(Some(menu));
            }
            Err(e) => eprintln!("jingwu: 托盘菜单更新失败：{e}"),
        }
        let _ = tray.set_title(model.title.as_deref());
        let _ = tray.set_tooltip(Some(&model.tooltip));
    }
    *last = Some(model);
}

/// Refreshes the tray from the UI's station, outside the caller's borrow.
pub fn schedule_tray_refresh(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let st = state.station.lock().await;
        refresh_tray(&app, &st);
    });
}

/// The tray icon's id.
pub const TRAY_ID: &str = "jingwu";

/// The tray menu for a model.
pub fn tray_menu(
    app: &AppHandle,
    model: &TrayModel,
) -> tauri::Result<tauri::menu::Menu<tauri::Wry>> {
    use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(
        app,
        "show",
        "打开警务协同",
        true,
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    let head = if model.count == 0 {
        "没有待办".to_string()
    } else {
        format!("待办 {} 件", model.count)
    };
    menu.append(&MenuItem::with_id(app, "count", head, false, None::<&str>)?)?;
    for (id, text) in &model.items {
        menu.append(&MenuItem::with_id(app, id, text, true, None::<&str>)?)?;
    }
    if model.more > 0 {
        menu.append(&MenuItem::with_id(
            app,
            "show-more",
            format!("还有 {} 件…", model.more),
            true,
            None::<&str>,
        )?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(app, "quit", "退出", true, None::<&str>)?)?;
    Ok(menu)
}

/// A click on a tray menu entry.
pub fn on_tray_menu(app: &AppHandle, id: &str) {
    match id {
        "show" | "show-more" => show_main(app),
        "quit" => app.exit(0),
        other => {
            if let Some(case) = other
                .strip_prefix("case:")
                .and_then(|c| Uuid::parse_str(c).ok())
            {
                open_case(app, case);
            }
        }
    }
}

/// Creates the tray icon. A desktop without an icon host still runs the
/// app: the failure is logged and the tray is left out.
pub fn build_tray(app: &AppHandle) {
    let mut b = tauri::tray::TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("警务协同")
        .show_menu_on_left_click(true)
        .on_menu_event(|app, ev| on_tray_menu(app, ev.id().as_ref()));
    if let Some(icon) = app.default_window_icon() {
        b = b.icon(icon.clone());
    }
    let empty = TrayModel {
        count: 0,
        title: None,
        tooltip: "警务协同".into(),
        items: vec![],
        more: 0,
    };
    match tray_menu(app, &empty) {
        Ok(menu) => b = b.menu(&menu),
        Err(e) => eprintln!("jingwu: 托盘菜单创建失败：{e}"),
    }
    if let Err(e) = b.build(app) {
        eprintln!("jingwu: 无法创建托盘图标：{e}");
    }
}

/// The tray's current model, for the UI and for tests.
#[tauri::command]
pub fn tray_state(tray: State<'_, TrayState>) -> Option<TrayModel> {
    tray.0.lock().ok().and_then(|m| m.clone())
}

/// Syncs the profiles other than `active` once, quietly (no notifications:
/// those users are not at the PC), so their queued work reaches the hub.
async fn sync_others(root: &std::path::Path, active: &std::path::Path, reg: &Registry) {
    for dir in profile_dirs(root) {
        if dir == active {
            continue;
        }
        let Ok(mut st) = Station::open(&dir, reg.clone()) else {
            continue;
        };
        if st.person().is_err() || st.store.outbox_len().unwrap_or(0) == 0 {
            continue;
        }
        if let Err(e) = st.sync(|_, _, _| {}).await {
            eprintln!("jingwu: {} 的待上传内容暂未同步：{e}", dir.display());
        }
    }
}

/// Syncs, then follows the live channel; any local change pokes it to sync
/// again; when the hub is unreachable it retries every 10 s.
pub fn start_link(
    app: AppHandle,
    root: PathBuf,
    active: Arc<std::sync::Mutex<PathBuf>>,
    link: Arc<std::sync::Mutex<LinkStatus>>,
    poke: Arc<Notify>,
) {
    tauri::async_runtime::spawn(async move {
        let Ok(reg) = registry() else { return };
        let open = |dir: &std::path::Path| match Station::open(dir, reg.clone()) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("jingwu: 后台同步无法打开本地库：{e}");
                None
            }
        };
        let Some(mut st) = active.lock().ok().and_then(|a| open(&a)) else {
            return;
        };
        let mut seen = Announced::default();
        loop {
            // Another user took over the PC: follow their profile.
            let want = active.lock().map(|a| a.clone()).ok();
            if let Some(want) = want.filter(|w| w.as_path() != st.data_dir()) {
                match open(&want) {
                    Some(next) => {
                        st = next;
                        seen = Announced::default();
                    }
                    None => {
                        poke.notified().await;
                        continue;
                    }
                }
            }
            // Work queued by the users who are not at the PC still leaves.
            sync_others(&root, st.data_dir(), &reg).await;
            let Ok(me) = st.person() else {
                // Not enrolled yet.
                poke.notified().await;
                continue;
            };
            let synced = run_sync(&mut st, &link, &app).await;
            refresh_tray(&app, &st);
            if synced.is_err() {
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
                schedule_tray_refresh(&a);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jingwu_core::crypto::SoftwareKey;

    const PIN: &str = "135790";
    const OFFICER: &str = "052638";
    const CHIEF: &str = "052637";

    /// An officer's station with `n` submitted applications.
    fn submitted(n: usize) -> (tempfile::TempDir, Station) {
        let dir = tempfile::tempdir().unwrap();
        let mut st = Station::open(dir.path(), registry().unwrap()).unwrap();
        let key = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();
        let sealed = key
            .seal(PIN, KdfParams::TEST_ONLY, &mut getrandom::SysRng)
            .unwrap();
        st.store.save_key(OFFICER, &sealed).unwrap();
        st.store.set_meta("person", Some(OFFICER)).unwrap();
        // A 1×1 white PNG as the scan.
        let scan = dir.path().join("scan.png");
        let png = B64
            .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC")
            .unwrap();
        std::fs::write(&scan, png).unwrap();
        for _ in 0..n {
            let c = st
                .create_hukou(PIN, jingwu_core::demo::name_change_form())
                .unwrap();
            st.attach(PIN, c.case_id, "scans", &scan).unwrap();
            st.submit(PIN, c.case_id).unwrap();
        }
        (dir, st)
    }

    fn cases(st: &Station) -> Vec<CaseState> {
        st.store
            .list_cases(100)
            .unwrap()
            .iter()
            .map(|c| st.store.case(&c.id).unwrap().unwrap())
            .collect()
    }

    #[test]
    fn the_tray_counts_the_tasks_of_the_user_only() {
        let (_d, st) = submitted(2);
        let all = cases(&st);
        let chief = tray_model(CHIEF, &st.reg, &all);
        assert_eq!(chief.count, 2);
        assert_eq!(chief.title.as_deref(), Some("2"));
        assert_eq!(chief.tooltip, "警务协同：2 件待办");
        assert_eq!(chief.items.len(), 2);
        assert_eq!(chief.more, 0);
        for (id, text) in &chief.items {
            let case = id.strip_prefix("case:").unwrap();
            let s = all.iter().find(|s| s.case_id.to_string() == case).unwrap();
            assert!(text.starts_with(&s.case_no), "{text}");
        }
        // Newest first.
        assert!(chief.items[0].1 > chief.items[1].1);
        // The officer sent them: nothing waits for her.
        let officer = tray_model(OFFICER, &st.reg, &all);
        assert_eq!(officer.count, 0);
        assert_eq!(officer.title, None);
        assert!(officer.items.is_empty());
        assert_eq!(officer.tooltip, "警务协同：没有待办");
    }

    #[test]
    fn the_tray_lists_at_most_eight_and_counts_the_rest() {
        let (_d, st) = submitted(TRAY_MAX_ITEMS + 2);
        let m = tray_model(CHIEF, &st.reg, &cases(&st));
        assert_eq!(m.count, TRAY_MAX_ITEMS + 2);
        assert_eq!(m.items.len(), TRAY_MAX_ITEMS);
        assert_eq!(m.more, 2);
        assert!(m.items.iter().all(|(_, t)| t.chars().count() <= 40));
    }

    #[test]
    fn long_texts_are_clipped_with_an_ellipsis() {
        assert_eq!(clip("短", 5), "短");
        assert_eq!(clip("一二三四五六", 4), "一二三…");
        assert_eq!(clip("一二三四", 4), "一二三四");
    }

    #[test]
    fn profiles_are_the_data_dir_then_users_with_a_store() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("users/052637")).unwrap();
        std::fs::write(r.join("users/052637/station.db"), b"").unwrap();
        // A folder without a store is not a profile.
        std::fs::create_dir_all(r.join("users/stray")).unwrap();
        assert_eq!(
            profile_dirs(r),
            vec![r.to_path_buf(), r.join("users/052637")]
        );
        assert!(profile_dir_for(r, "052637").is_ok());
        assert!(profile_dir_for(r, "../etc").is_err());
        assert!(profile_dir_for(r, "").is_err());
    }
}
