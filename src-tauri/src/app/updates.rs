//! Updates from the county hub (docs/updates.md), through
//! `tauri-plugin-updater`: the hub this station is enrolled with serves
//! the manifest and the package to its sessions; the connection is pinned
//! to the hub's certificate exactly as sync's is
//! (`jingwu_station::pin::pin_builder`), never trusting anything else; the
//! package must carry a minisign signature by the county's update key,
//! whose public half is built into the app (`plugins.updater.pubkey` in
//! tauri.conf.json) — the plugin checks it after the download and refuses
//! a package that does not match. Only versions above the installed one
//! are offered (the plugin's comparison, and the hub's). Nothing is
//! installed until the user asks (`update_install`); then the app
//! restarts as the new version.

use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Manager as _, State};
use tauri_plugin_updater::{Error as UpdaterError, Update, Updater, UpdaterExt as _};

use super::{err, AppState};

/// How long a check or a download may take.
const TIMEOUT: Duration = Duration::from_secs(600);

/// Debug builds only (the end-to-end tests): the update public key from
/// this variable instead of the configuration. Release builds trust only
/// the key they were built with.
const TEST_PUBKEY_ENV: &str = "JINGWU_TEST_UPDATE_PUBKEY";

/// The update found by the last check, waiting for the user's consent.
#[derive(Default)]
pub struct PendingUpdate(tokio::sync::Mutex<Option<Update>>);

/// What a check found, for the UI.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateInfo {
    /// The installed version.
    pub current: String,
    /// A newer version the hub offers, if any.
    pub version: Option<String>,
    /// Its notes.
    pub notes: Option<String>,
    /// When it was published (RFC 3339).
    pub date: Option<String>,
    /// Why nothing could be checked (not an error: e.g. not enrolled).
    pub idle: Option<String>,
}

/// The public key the app trusts for updates; empty when the build has
/// none.
fn pubkey(app: &AppHandle) -> String {
    if cfg!(debug_assertions) {
        if let Ok(k) = std::env::var(TEST_PUBKEY_ENV) {
            return k;
        }
    }
    app.config()
        .plugins
        .0
        .get("updater")
        .and_then(|u| u.get("pubkey"))
        .and_then(|k| k.as_str())
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// How this copy was installed, as the hub's platform keys name it: what
/// Tauri's bundler wrote into the binary; on Windows, where the project's
/// own NSIS script makes the installer, `nsis`; `unknown` for a build not
/// installed from a package.
fn installer() -> &'static str {
    use tauri::utils::config::BundleType as B;
    match tauri::utils::platform::bundle_type() {
        Some(B::Deb) => "deb",
        Some(B::Rpm) => "rpm",
        Some(B::AppImage) => "appimage",
        Some(B::Msi) => "msi",
        Some(B::Nsis) => "nsis",
        Some(B::App | B::Dmg) => "app",
        None if cfg!(windows) => "nsis",
        None => "unknown",
    }
}

/// Plain Chinese for the updater's errors.
fn describe(e: UpdaterError) -> String {
    match e {
        UpdaterError::Minisign(_) | UpdaterError::SignatureUtf8(_) | UpdaterError::Base64(_) => {
            "更新包的签名与本机内置的县局更新公钥不符，已拒绝安装（安装包可能被篡改，或不是县局发布的）。请联系县局系统管理员".into()
        }
        UpdaterError::InvalidUpdaterFormat => {
            "更新包不是本机安装方式所用的安装包，已拒绝安装。请联系县局系统管理员".into()
        }
        UpdaterError::ReleaseNotFound => {
            "县局没有提供更新信息：登录可能已失效，或本机未获批准。请重新登录后再试".into()
        }
        UpdaterError::AuthenticationFailed => "安装需要管理员权限，授权未通过或已取消".into(),
        UpdaterError::DebInstallFailed | UpdaterError::PackageInstallFailed => {
            "安装更新包失败，本机程序未改变".into()
        }
        UpdaterError::Reqwest(r) => match jingwu_station::pin::fingerprint_mismatch(&r) {
            Some(m) => m.to_string(),
            None => format!("无法连接县局服务器检查更新：{r}"),
        },
        UpdaterError::Network(n) => format!("下载更新失败：{n}"),
        other => format!("更新失败：{other}"),
    }
}

/// The updater for the hub this station is enrolled with; `Err` with the
/// reason when it cannot check (shown as `idle`, not as a failure).
async fn updater(app: &AppHandle, state: &AppState) -> Result<Result<Updater, String>, String> {
    let key = pubkey(app);
    if key.is_empty() {
        return Ok(Err(
            "本程序未内置县局更新公钥，不能自动更新，请向县局系统管理员索取本县的安装包".into(),
        ));
    }
    let access = state.station.lock().await.hub_access().map_err(err)?;
    let Some(jingwu_station::station::HubAccess {
        url,
        fingerprint,
        token,
    }) = access
    else {
        return Ok(Err("本机尚未登记到县局，登记后才能检查更新".into()));
    };
    let Some(token) = token else {
        return Ok(Err("尚未登录县局，登录后才能检查更新".into()));
    };
    let tls = jingwu_station::pin::tls_config(fingerprint.as_deref()).map_err(err)?;
    let endpoint = format!(
        "{url}/api/updates/{{{{target}}}}/{{{{arch}}}}/{{{{current_version}}}}?bundle={}",
        installer()
    );
    let endpoint = tauri::Url::parse(&endpoint).map_err(|_| format!("县局地址“{url}”无效"))?;
    app.updater_builder()
        .pubkey(key)
        .endpoints(vec![endpoint])
        .and_then(|b| b.header("Authorization", format!("Bearer {token}")))
        .map(|b| {
            b.timeout(TIMEOUT)
                .configure_client(move |c| jingwu_station::pin::pin_builder(c, tls.clone()))
        })
        .and_then(|b| b.build())
        .map(Ok)
        .map_err(describe)
}

/// Asks the hub for a version above the installed one (at start, once a
/// day, and when the user asks). A version found waits for
/// `update_install`.
#[tauri::command]
pub async fn update_check(
    app: AppHandle,
    state: State<'_, AppState>,
    pending: State<'_, PendingUpdate>,
) -> Result<UpdateInfo, String> {
    let mut info = UpdateInfo {
        current: app.package_info().version.to_string(),
        version: None,
        notes: None,
        date: None,
        idle: None,
    };
    let updater = match updater(&app, &state).await? {
        Ok(u) => u,
        Err(why) => {
            info.idle = Some(why);
            return Ok(info);
        }
    };
    let found = updater.check().await.map_err(describe)?;
    if let Some(u) = &found {
        info.version = Some(u.version.clone());
        info.notes = u.body.clone();
        info.date = u.date.map(rfc3339);
    }
    *pending.0.lock().await = found;
    Ok(info)
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Downloads the update the user consented to, has the plugin check its
/// signature, installs it and restarts the app. A package whose signature
/// does not match is refused and nothing changes.
#[tauri::command]
pub async fn update_install(
    app: AppHandle,
    pending: State<'_, PendingUpdate>,
) -> Result<(), String> {
    let Some(update) = pending.0.lock().await.clone() else {
        return Err("没有待安装的更新：请先检查更新".into());
    };
    // The plugin offers only versions above the installed one; checked
    // again here so a downgrade can never be installed.
    let installed = app.package_info().version.clone();
    match semver::Version::parse(&update.version) {
        Ok(v) if v > installed => {}
        _ => {
            return Err(format!(
                "县局提供的版本 {} 不高于本机已安装的 {installed}，不会安装（不允许降级）",
                update.version
            ))
        }
    }
    let bytes = update.download(|_, _| {}, || {}).await.map_err(describe)?;
    // On Linux the updater would take a build not installed from a
    // package for an AppImage and overwrite it: not done.
    if cfg!(target_os = "linux") && installer() == "unknown" {
        return Err(format!(
            "更新包 {} 已下载并通过签名验证，但本程序不是用安装包安装的，不能自动安装",
            update.version
        ));
    }
    update.install(bytes).map_err(describe)?;
    *pending.0.lock().await = None;
    app.request_restart();
    Ok(())
}

/// Registers the pending-update state (the plugin itself is added in
/// `main.rs`).
pub fn manage_updates(app: &AppHandle) {
    app.manage(PendingUpdate::default());
}
