//! 110 查询统计 on the desktop: the same commands, arguments and answers
//! as the hub's browser API (`stats_access`, `incident_query` …), each a
//! call to the county hub over the station's client (statistics are the
//! hub's: the station holds only its own records). The hub decides who
//! may query and narrows every query to the caller's scope; the answers
//! are laid out by `jingwu_report`'s screen views, as in the browser.
//! Files (exports, the 警情通报) come back as `{name, mime, dataB64}`;
//! `save_download` writes one to the user's 下载 folder.

use base64::Engine as _;
use jingwu_proto::{QueryRequest, SavedQuery, SpeedRequest, StatsRequest};
use jingwu_station::client::{ClientError, HubClient, HubFile};
use jingwu_station::station::StationError;
use serde_json::{json, Value};
use tauri::{AppHandle, Manager as _, State};

use super::{AppState, B64};

/// A failure talking to the hub, in words for the officer.
fn hub_err(e: ClientError) -> String {
    match e {
        ClientError::Offline(why) => {
            format!("查询统计需要连接县局服务器，目前无法连接：{why}")
        }
        ClientError::Hub { body, .. } => body.error,
        other => other.to_string(),
    }
}

/// The station's client of the county hub (with its session).
async fn client(state: &State<'_, AppState>) -> Result<HubClient, String> {
    let st = state.station.lock().await;
    st.client().map_err(|e| match e {
        StationError::Client(c) => hub_err(c),
        other => format!("查询统计需要连接县局服务器：{other}"),
    })
}

/// `f` over the station's rules (names of units and codes).
async fn with_reg<T>(
    state: &State<'_, AppState>,
    f: impl FnOnce(&jingwu_core::registry::Registry) -> T,
) -> T {
    let st = state.station.lock().await;
    f(&st.reg)
}

fn filter(v: Option<Value>) -> Result<jingwu_core::stats::Filter, String> {
    match v {
        None | Some(Value::Null) => Ok(Default::default()),
        Some(v) => {
            serde_json::from_value(v).map_err(|e| format!("查询条件（filter）不符合要求：{e}"))
        }
    }
}

fn query(
    filter_v: Option<Value>,
    sort: Option<String>,
    desc: Option<bool>,
    page: Option<u32>,
    per_page: Option<u32>,
) -> Result<QueryRequest, String> {
    let sort = match sort {
        None => Default::default(),
        Some(s) => serde_json::from_value(Value::String(s.clone())).map_err(|_| {
            format!("排序（sort）“{s}”无效，应为 report_time、loss、case_no、unit 或 category")
        })?,
    };
    Ok(QueryRequest {
        filter: filter(filter_v)?,
        sort,
        desc: desc.unwrap_or(false),
        page: page.unwrap_or(0),
        per_page: per_page.unwrap_or(0),
    })
}

fn file_answer(f: HubFile) -> Value {
    json!({"name": f.name, "mime": f.mime, "dataB64": B64.encode(&f.bytes)})
}

/// Whether this user may query (asked of the hub), their scope and the
/// condition form's choices for it.
#[tauri::command]
pub async fn stats_access(state: State<'_, AppState>) -> Result<Value, String> {
    let c = client(&state).await?;
    let a = c.stats_access().await.map_err(hub_err)?;
    let options = with_reg(&state, |reg| {
        a.scope
            .as_ref()
            .map(|s| jingwu_report::stats_options(reg, s))
    })
    .await;
    Ok(json!({
        "allowed": a.allowed,
        "reason": a.reason,
        "scope": a.scope.as_ref().map(|s| s.name().to_string()),
        // Imports need a hosted key: the browser's, not the desktop's.
        "can_import": false,
        "options": options,
    }))
}

/// A page of the records meeting the conditions.
#[tauri::command]
pub async fn incident_query(
    state: State<'_, AppState>,
    filter: Option<Value>,
    sort: Option<String>,
    desc: Option<bool>,
    page: Option<u32>,
    per_page: Option<u32>,
) -> Result<Value, String> {
    let q = query(filter, sort, desc, page, per_page)?;
    let page = client(&state)
        .await?
        .incident_query(&q)
        .await
        .map_err(hub_err)?;
    Ok(with_reg(&state, |reg| jingwu_report::query_page_view(reg, &page)).await)
}

/// Every record meeting the conditions as a file (csv or xlsx).
#[tauri::command]
pub async fn incident_export(
    state: State<'_, AppState>,
    filter: Option<Value>,
    sort: Option<String>,
    desc: Option<bool>,
    format: String,
) -> Result<Value, String> {
    let q = query(filter, sort, desc, None, None)?;
    let f = client(&state)
        .await?
        .incident_export(&q, &format)
        .await
        .map_err(hub_err)?;
    Ok(file_answer(f))
}

/// Statistics grouped by `by`.
#[tauri::command]
pub async fn incident_stats(
    state: State<'_, AppState>,
    filter: Option<Value>,
    by: Option<String>,
) -> Result<Value, String> {
    let q = StatsRequest {
        filter: self::filter(filter)?,
        by: by.unwrap_or_default(),
    };
    let rows = client(&state)
        .await?
        .incident_stats(&q)
        .await
        .map_err(hub_err)?;
    Ok(with_reg(&state, |reg| jingwu_report::stats_view(reg, &q.by, &rows)).await)
}

/// The same statistics as a file (xlsx or csv).
#[tauri::command]
pub async fn incident_stats_export(
    state: State<'_, AppState>,
    filter: Option<Value>,
    by: Option<String>,
    format: String,
) -> Result<Value, String> {
    let q = StatsRequest {
        filter: self::filter(filter)?,
        by: by.unwrap_or_default(),
    };
    let f = client(&state)
        .await?
        .incident_stats_file(&q, &format)
        .await
        .map_err(hub_err)?;
    Ok(file_answer(f))
}

/// Response speed of `kind` per unit.
#[tauri::command]
pub async fn incident_speed(
    state: State<'_, AppState>,
    filter: Option<Value>,
    kind: String,
) -> Result<Value, String> {
    let q = SpeedRequest {
        filter: self::filter(filter)?,
        kind,
    };
    let rows = client(&state)
        .await?
        .incident_speed(&q)
        .await
        .map_err(hub_err)?;
    Ok(with_reg(&state, |reg| jingwu_report::speed_view(reg, &q.kind, &rows)).await)
}

/// The 警情通报 of `period`, with its tables as the PDF prints them.
#[tauri::command]
pub async fn incident_report(state: State<'_, AppState>, period: String) -> Result<Value, String> {
    let r = client(&state)
        .await?
        .incident_report(&period)
        .await
        .map_err(hub_err)?;
    Ok(jingwu_report::report_view(&r))
}

/// The 警情通报 of `period` as a file (pdf or xlsx), made by the hub.
#[tauri::command]
pub async fn incident_report_file(
    state: State<'_, AppState>,
    period: String,
    format: String,
) -> Result<Value, String> {
    let f = client(&state)
        .await?
        .incident_report_file(&period, &format)
        .await
        .map_err(hub_err)?;
    Ok(file_answer(f))
}

/// This user's saved queries (kept on the hub).
#[tauri::command]
pub async fn saved_queries(state: State<'_, AppState>) -> Result<Value, String> {
    let list = client(&state)
        .await?
        .saved_queries()
        .await
        .map_err(hub_err)?;
    serde_json::to_value(list).map_err(|e| e.to_string())
}

/// Saves (or replaces) a query by its name.
#[tauri::command]
pub async fn save_query(
    state: State<'_, AppState>,
    name: String,
    filter: Option<Value>,
) -> Result<Value, String> {
    let q = SavedQuery {
        name: name.trim().to_string(),
        filter: self::filter(filter)?,
    };
    client(&state)
        .await?
        .save_query(&q)
        .await
        .map_err(hub_err)?;
    Ok(json!({"ok": true, "name": q.name}))
}

/// Deletes a saved query.
#[tauri::command]
pub async fn delete_query(state: State<'_, AppState>, name: String) -> Result<Value, String> {
    client(&state)
        .await?
        .delete_query(&name)
        .await
        .map_err(hub_err)?;
    Ok(json!({"ok": true}))
}

/// `name` made safe as a file name, and free in `dir` (`报表 (2).xlsx`).
fn free_path(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let clean: String = name
        .chars()
        .map(|c| {
            if "/\\:*?\"<>|".contains(c) || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    let clean = if clean.is_empty() {
        "jingwu-export".into()
    } else {
        clean
    };
    let (stem, ext) = match clean.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (clean.clone(), String::new()),
    };
    let mut path = dir.join(&clean);
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem} ({n}){ext}"));
        n += 1;
    }
    path
}

/// Saves a file the hub made into the user's 下载 folder (or, without
/// one, `导出/` in the data directory); answers `{path}`.
#[tauri::command]
pub async fn save_download(
    state: State<'_, AppState>,
    app: AppHandle,
    name: String,
    data_b64: String,
) -> Result<Value, String> {
    let bytes = B64
        .decode(data_b64.trim())
        .map_err(|_| "文件内容格式错误".to_string())?;
    let dir = match app.path().download_dir() {
        Ok(d) if d.is_dir() => d,
        _ => {
            let d = state.data_dir.join("导出");
            std::fs::create_dir_all(&d)
                .map_err(|e| format!("无法创建文件夹 {}：{e}", d.display()))?;
            d
        }
    };
    let path = free_path(&dir, &name);
    std::fs::write(&path, &bytes).map_err(|e| format!("无法保存 {}：{e}", path.display()))?;
    Ok(json!({"path": path.display().to_string()}))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_download_never_overwrites_and_stays_in_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let p = free_path(dir.path(), "jingqing-2026-11.pdf");
        assert_eq!(p, dir.path().join("jingqing-2026-11.pdf"));
        std::fs::write(&p, b"x").unwrap();
        assert_eq!(
            free_path(dir.path(), "jingqing-2026-11.pdf"),
            dir.path().join("jingqing-2026-11 (2).pdf")
        );
        assert_eq!(
            free_path(dir.path(), "../../etc/passwd"),
            dir.path().join("_.._etc_passwd")
        );
        assert_eq!(free_path(dir.path(), ""), dir.path().join("jingwu-export"));
    }

    #[test]
    fn an_unreachable_hub_is_explained() {
        let e = hub_err(ClientError::Offline("网络不通".into()));
        assert!(e.starts_with("查询统计需要连接县局服务器"), "{e}");
    }
}
