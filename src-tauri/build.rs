//! Build script: compiles `tauri.conf.json` (a symlink to the top-level
//! `../tauri.conf.json`) and the ACL capabilities into the binary.

/// Every Tauri command the app defines. Listing them here makes the ACL
/// explicit: a command is reachable from the UI only when a capability in
/// `capabilities/` grants its generated `allow-<command>` permission.
const APP_COMMANDS: &[&str] = &[
    "app_info",
    "status",
    "enrol",
    "lists",
    "template",
    "validate",
    "create",
    "attach",
    "submit",
    "update",
    "decide",
    "act",
    "case_detail",
    "attachment_data",
    "sync_now",
    "ui_ready",
    "tray_state",
    "slip_preview",
    "printers",
    "print_slip",
    "verify_slip",
    "profiles",
    "switch_user",
    "scan_check",
    "rotate_page",
    "arrange_pages",
    "scanners",
    "scan_device",
    "hot_folder",
    "take_scan_file",
    "attach_hot_file",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(APP_COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        // A build script reports failure by exiting non-zero; cargo shows stderr.
        eprintln!("tauri-build failed: {error:#}");
        std::process::exit(1);
    }
}
