//! Attachments through the scan pipeline: chosen files, scanners (SANE),
//! the hot folder, and the page tools (rotate, arrange).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use jingwu_core::SHANGHAI;
use jingwu_station::scan::{ProcessedFile, ScanPage, SCANS_FIELD};
use jingwu_station::station::{sniff_mime, Station};
use serde_json::{json, Value};
use tauri::{AppHandle, Emitter as _, Manager as _, State};

use super::{err, now_text, parse_case, pin_err, registry, AppState, B64};

/// Largest file accepted from the UI (the hub's own limit is 20 MiB).
const MAX_FILE: usize = 20 * 1024 * 1024;

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
    let me = st.person().ok()?;
    c.allowed_actions(&me, &st.reg, time::OffsetDateTime::now_utc())
        .can_attach
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
pub(super) fn decode_upload(name: &str, data_b64: &str) -> Result<Vec<u8>, String> {
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
