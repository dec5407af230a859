//! The tray icon: the count of pending tasks and a menu entry per task.

use jingwu_core::case::CaseState;
use jingwu_core::registry::Registry;
use jingwu_station::station::Station;
use serde::Serialize;
use tauri::{AppHandle, Manager as _, State};
use uuid::Uuid;

use super::{open_case, show_main, AppState};

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::B64;
    use super::*;
    use base64::Engine as _;
    use jingwu_core::crypto::{KdfParams, SoftwareKey};

    const PIN: &str = "135790";
    const OFFICER: &str = "052638";
    const CHIEF: &str = "052637";

    /// An officer's station with `n` submitted applications.
    fn submitted(n: usize) -> (tempfile::TempDir, Station) {
        let dir = tempfile::tempdir().unwrap();
        let mut st = Station::open(dir.path(), Registry::builtin_demo().unwrap()).unwrap();
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
}
