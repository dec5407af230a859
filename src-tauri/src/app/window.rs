//! The main window: start-up time, bringing it forward, opening a case.

use serde_json::json;
use tauri::{AppHandle, Emitter as _, Manager as _};
use uuid::Uuid;

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
