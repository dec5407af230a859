//! Status, enrolment and the users of this PC (profiles, switching).

use std::path::PathBuf;

use jingwu_core::crypto::KdfParams;
use jingwu_station::station::Station;
use serde_json::{json, Value};
use tauri::{AppHandle, Emitter as _, Manager as _, State};

use super::{err, registry, schedule_tray_refresh, AppState, LinkStatus, TrayState};

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
        "redo": st.store.redo_pending().map_err(err)?.len(),
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
    let rules = registry_line(&st);
    drop(st);
    state.poke.notify_one();
    let message = match e.status.as_str() {
        "approved" => "本机已登记，可以使用",
        _ => "本机已登记，等待县局系统管理员批准签名密钥",
    };
    Ok(json!({"status": e.status, "message": format!("{message}。{rules}")}))
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
    if known.iter().any(|(_, p, _)| *p == person) {
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
    let rules = registry_line(&next);
    activate(&state, next, dir).await;
    let message = match e.status.as_str() {
        "approved" => "已添加用户，可以使用",
        _ => "已添加用户，等待县局系统管理员批准签名密钥",
    };
    Ok(json!({"status": e.status, "message": format!("{message}。{rules}")}))
}

/// What the station took from the hub at enrolment, for the officer to
/// compare with the county's administrator: the registry version and the
/// fingerprint of the key that signed its first version.
fn registry_line(st: &Station) -> String {
    match jingwu_station::registry::summary(&st.store) {
        Ok(Some((v, fp, name))) => {
            format!("已取得县局发布的规则数据第 {v} 版（{name}），签名密钥指纹 {fp}，请与县局系统管理员核对")
        }
        Ok(None) => "县局尚未发布规则数据：请县局系统管理员发布后再同步，否则无法办理业务".into(),
        Err(e) => e.to_string(),
    }
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

/// The enrolled users of this PC: (directory, 警号, name and unit as
/// that profile's registry has them).
fn profiles_of(root: &std::path::Path) -> Vec<(PathBuf, String, Value)> {
    let Ok(reg) = registry() else { return vec![] };
    profile_dirs(root)
        .into_iter()
        .filter_map(|d| {
            let st = Station::open(&d, reg.clone()).ok()?;
            let p = st.person().ok()?;
            let who = json!({
                "name": st.reg.org.person(&p).map(|x| x.name.clone()),
                "unit": st.reg.org.units_of(&p).first().map(|u| u.name.clone()),
            });
            Some((d, p, who))
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
    Ok(json!(list
        .iter()
        .map(|(dir, p, who)| json!({
            "person": p,
            "name": who["name"],
            "unit": who["unit"],
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
        .find(|(_, p, _)| *p == person)
        .map(|(d, p, _)| (d, p))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
