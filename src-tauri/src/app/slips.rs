//! The result slip (and a draft's blank form): preview, print, verify.

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{json, Value};
use tauri::State;
use uuid::Uuid;

use super::{decode_upload, err, parse_case, AppState, B64};

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
        jingwu_slip::print::system().preview_pngs(&pdf, PREVIEW_DPI)
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
    let list = tauri::async_runtime::spawn_blocking(|| jingwu_slip::print::system().printers())
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
        jingwu_slip::print::system().print_pdf(&file, printer.as_deref())
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
