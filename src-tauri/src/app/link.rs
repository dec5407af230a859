//! The background link to the hub: sync, the live channel, desktop
//! notifications of new tasks and returned results, and the time-limit
//! reminders of 户口变更 steps.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jingwu_core::case::{CaseState, DispatchInfo, Status};
use jingwu_core::form::CaseType;
use jingwu_core::registry::Registry;
use jingwu_station::station::{Station, StationError};
use serde::Serialize;
use serde_json::{json, Value};
use tauri::{AppHandle, Emitter as _, State};
use tokio::sync::Notify;
use uuid::Uuid;

use super::{
    err, now_text, open_case, profile_dirs, refresh_tray, registry, schedule_tray_refresh, AppState,
};

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

/// What was already announced, so each task and result is notified once:
/// case states by (case, next seq), 110 dispatches by their 派警单编号.
#[derive(Default)]
struct Announced(HashSet<(Uuid, u64)>, HashSet<String>);

impl Announced {
    /// Marks what `s` holds now as told, without telling it.
    fn mark(&mut self, s: &CaseState) {
        self.0.insert((s.case_id, s.next_seq));
        self.1.extend(s.dispatches.iter().map(|d| d.no.clone()));
    }
}

/// The dispatches of `s` to a unit of `me` that wait for 签收 and were
/// not announced yet (marked announced now).
fn new_dispatches<'a>(
    me: &str,
    reg: &Registry,
    s: &'a CaseState,
    seen: &mut Announced,
) -> Vec<&'a DispatchInfo> {
    if s.case_type != CaseType::Incident || s.is_final() {
        return Vec::new();
    }
    s.standing_dispatches()
        .filter(|d| d.acknowledged_at.is_none() && !d.own && reg.org.is_member(me, &d.unit))
        .filter(|d| seen.1.insert(d.no.clone()))
        .collect()
}

/// What a notification is: an ordinary task or result, or a 110 dispatch
/// to the user's unit (critical urgency, a sound, no expiry: it stays
/// until clicked).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Urgency {
    Normal,
    Dispatch,
}

fn announce(app: &AppHandle, me: &str, reg: &Registry, s: &CaseState, seen: &mut Announced) {
    let dispatched = new_dispatches(me, reg, s, seen);
    if !seen.0.insert((s.case_id, s.next_seq)) && dispatched.is_empty() {
        return;
    }
    let (title, body, urgency) = if !dispatched.is_empty() {
        let units: Vec<String> = dispatched
            .iter()
            .map(|d| {
                reg.org
                    .unit(&d.unit)
                    .map_or(d.unit.clone(), |u| u.name.clone())
            })
            .collect();
        (
            "110 警情 · 请立即签收",
            format!(
                "{}（派{}）：{}",
                s.case_no,
                units.join("、"),
                s.display_summary()
            ),
            Urgency::Dispatch,
        )
    } else if s.assignees(reg).iter().any(|a| a == me) {
        (
            "新的待办",
            format!("{}：{}", s.case_no, s.display_summary()),
            Urgency::Normal,
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
            Urgency::Normal,
        )
    } else {
        return;
    };
    let kind = if s.case_type == CaseType::Incident {
        "incident"
    } else {
        "hukou"
    };
    notify(app, title, body, s.case_id, kind, urgency);
}

/// Shows a notification in the window (`jingwu://notified`) and on the
/// desktop; a click on the desktop one opens the case.
fn notify(app: &AppHandle, title: &str, body: String, case_id: Uuid, kind: &str, urgency: Urgency) {
    let _ = app.emit(
        "jingwu://notified",
        json!({
            "title": title, "body": body.clone(), "case_id": case_id,
            "kind": kind,
            "dispatch": urgency == Urgency::Dispatch,
        }),
    );
    let app = app.clone();
    let title = title.to_string();
    // Its own thread: on Linux the handle waits for the click (or for the
    // notification to close), which may take as long as the user likes.
    let spawned = std::thread::Builder::new()
        .name("jingwu-notify".into())
        .spawn(move || {
            let mut n = notify_rust::Notification::new();
            n.appname("警务协同")
                .summary(&title)
                .body(&body)
                .action("default", "查看");
            if urgency == Urgency::Dispatch {
                // A dispatch must not go unseen: critical (the server
                // keeps it on screen; on Windows a reminder toast, which
                // stays until dismissed), no expiry, the alarm sound.
                n.timeout(notify_rust::Timeout::Never);
                #[cfg(all(unix, not(target_os = "macos")))]
                n.hint(notify_rust::Hint::SoundName("message-new-instant".into()))
                    .hint(notify_rust::Hint::Category("im.received".into()));
                #[cfg(windows)]
                n.sound_name("Alarm");
                #[cfg(any(windows, all(unix, not(target_os = "macos"))))]
                n.urgency(notify_rust::Urgency::Critical);
            }
            match n.show() {
                #[cfg(any(windows, all(unix, not(target_os = "macos"))))]
                Ok(handle) => handle.wait_for_action(|action| {
                    // "default" is a click on the notification itself
                    // (on Windows, on the toast's 查看 button);
                    // "__closed" means it went away unclicked.
                    if action == "default" {
                        open_case(&app, case_id);
                    }
                }),
                #[cfg(not(any(windows, all(unix, not(target_os = "macos")))))]
                Ok(_) => {}
                Err(e) => eprintln!("jingwu: 桌面通知失败：{e}"),
            }
        });
    if let Err(e) = spawned {
        eprintln!("jingwu: 桌面通知失败：{e}");
    }
}

// ----- time-limit reminders -------------------------------------------------

/// How often the reminders are looked at besides after each sync.
const REMIND_EVERY: Duration = Duration::from_secs(60);

/// Gives the time-limit reminders of the active profile's user that are
/// due and not given before ([`Station::take_due_alerts`], judged by
/// [`jingwu_station::station::reminder_clock`]): after every sync or
/// change the link reports through `wake`, and every minute. Each is shown
/// once, ever: the store records it in the same transaction.
fn start_reminders(app: AppHandle, active: Arc<std::sync::Mutex<PathBuf>>, wake: Arc<Notify>) {
    tauri::async_runtime::spawn(async move {
        let Ok(reg) = registry() else { return };
        loop {
            let dir = active.lock().ok().map(|a| a.clone());
            let st = dir.and_then(|d| Station::open(&d, reg.clone()).ok());
            if let Some(mut st) = st.filter(|st| st.person().is_ok()) {
                match st.take_due_alerts(jingwu_station::station::reminder_clock()) {
                    Ok(alerts) => {
                        for a in alerts {
                            notify(&app, &a.title, a.body, a.case_id, "hukou", Urgency::Normal);
                        }
                    }
                    Err(e) => eprintln!("jingwu: 办理时限提醒失败：{e}"),
                }
            }
            let _ = tokio::time::timeout(REMIND_EVERY, wake.notified()).await;
        }
    });
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
/// again; when the hub is unreachable it retries every 10 s. Starts the
/// reminders beside it ([`start_reminders`]), woken after each sync and
/// each change the live channel brings.
pub fn start_link(
    app: AppHandle,
    root: PathBuf,
    active: Arc<std::sync::Mutex<PathBuf>>,
    link: Arc<std::sync::Mutex<LinkStatus>>,
    poke: Arc<Notify>,
) {
    let remind = Arc::new(Notify::new());
    start_reminders(app.clone(), active.clone(), remind.clone());
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
            // Local cases can be due also when the hub is out of reach.
            remind.notify_one();
            if synced.is_err() {
                let _ = tokio::time::timeout(Duration::from_secs(10), poke.notified()).await;
                continue;
            }
            // Whatever is already waiting is announced once.
            if let Ok(cases) = st.store.list_cases(5000) {
                for c in cases {
                    if let Ok(Some(s)) = st.store.case(&c.id) {
                        seen.mark(&s);
                    }
                }
            }
            let reg = st.reg.clone();
            let a = app.clone();
            let seen_now = &mut seen;
            let follow = st.follow(None, |s| {
                announce(&a, &me, &reg, s, seen_now);
                remind.notify_one();
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
