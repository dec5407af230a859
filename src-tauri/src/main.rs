//! Jingwu 协同警务 — station desktop app (Tauri 2 shell).
//!
//! The shell resolves its data directory, opens the station core there
//! (`app/`: the commands the UI calls, and the background link to the
//! county hub with desktop notifications) and serves the static UI in
//! `../ui`.

// Release builds on Windows must not open a console window next to the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;
use tauri::Manager as _;
use tauri_plugin_window_state::StateFlags;

mod app;

/// Environment variable naming the data directory.
const DATA_DIR_ENV: &str = "JINGWU_DATA_DIR";
/// Command-line flag naming the data directory; wins over [`DATA_DIR_ENV`].
const DATA_DIR_FLAG: &str = "--data-dir";

/// What `app_info` returns to the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct AppInfo {
    name: String,
    version: String,
}

/// Returns the application's name and version.
#[tauri::command]
fn app_info(app: tauri::AppHandle) -> AppInfo {
    let package = app.package_info();
    AppInfo {
        name: package.name.clone(),
        version: package.version.to_string(),
    }
}

/// Errors in the command line.
#[derive(Debug, PartialEq, Eq)]
enum ArgsError {
    MissingValue,
    EmptyValue,
}

impl std::fmt::Display for ArgsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingValue => write!(f, "{DATA_DIR_FLAG} needs a directory"),
            Self::EmptyValue => write!(f, "{DATA_DIR_FLAG} must not be empty"),
        }
    }
}

impl std::error::Error for ArgsError {}

/// The data directory asked for on the command line (`--data-dir DIR` or
/// `--data-dir=DIR`, the last one wins) or else in the environment variable
/// `JINGWU_DATA_DIR` (ignored when empty). `None` means "use the platform
/// default". Other arguments are left alone (a WebDriver may pass its own).
fn data_dir_override(
    args: impl IntoIterator<Item = OsString>,
    env_value: Option<OsString>,
) -> Result<Option<PathBuf>, ArgsError> {
    let mut from_args = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == DATA_DIR_FLAG {
            let value = args.next().ok_or(ArgsError::MissingValue)?;
            from_args = Some(value);
        } else if let Some(value) = arg
            .to_str()
            .and_then(|text| text.strip_prefix(DATA_DIR_FLAG))
            .and_then(|rest| rest.strip_prefix('='))
        {
            from_args = Some(OsString::from(value));
        }
    }
    match from_args {
        Some(value) if value.is_empty() => Err(ArgsError::EmptyValue),
        Some(value) => Ok(Some(PathBuf::from(value))),
        None => Ok(env_value
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)),
    }
}

/// Creates the data directory (and its parents) if it does not exist yet;
/// on Unix it is the user's only (0700, tightened if looser).
fn ensure_data_dir(dir: &Path) -> anyhow::Result<()> {
    jingwu_station::private_fs::create_dir(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))
}

/// The name under which the running instance is found (the D-Bus name on
/// Linux, with `.SingleInstance` appended by the plugin): the app's
/// identifier for the platform's default data directory, so one instance
/// per OS user, and the identifier with a digest of the canonical path for
/// a data directory given with `--data-dir` or `JINGWU_DATA_DIR`, so each
/// data directory has its own instance (two stations' profiles on one PC,
/// and the tests). On Windows the plugin keys by the identifier alone.
fn instance_id(identifier: &str, data_dir: Option<&Path>) -> String {
    match data_dir {
        None => identifier.to_string(),
        Some(dir) => {
            let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
            let digest = jingwu_core::crypto::sm3_hex(dir.as_os_str().as_encoded_bytes());
            // A D-Bus name element must not start with a digit.
            format!("{identifier}.dir_{}", digest.get(..16).unwrap_or(&digest))
        }
    }
}

/// Builds the app, prepares its data directory, then runs the event loop.
/// Returns the app's exit code.
///
/// The data directory is prepared here, between `build` and `run_return`,
/// rather than in a `setup` hook: Tauri panics when a setup hook fails, and a
/// missing or unwritable data directory deserves a clean error and exit code.
fn run() -> anyhow::Result<i32> {
    let _ = app::STARTED.set(std::time::Instant::now());
    let requested = data_dir_override(std::env::args_os().skip(1), std::env::var_os(DATA_DIR_ENV))?;
    if let Some(dir) = &requested {
        // Created first so its canonical path names the instance.
        ensure_data_dir(dir)?;
    }
    let context = tauri::generate_context!();
    let instance = instance_id(&context.config().identifier, requested.as_deref());

    let app = tauri::Builder::default()
        // First among the plugins: a second launch hands over and exits
        // before anything else is set up.
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(instance)
                .callback(|app, _args, _cwd| app::show_main(app))
                .build(),
        )
        .plugin(
            tauri_plugin_window_state::Builder::new()
                .with_state_flags(StateFlags::SIZE | StateFlags::POSITION | StateFlags::MAXIMIZED)
                .build(),
        )
        .plugin(tauri_plugin_updater::Builder::new().build())
        .invoke_handler(tauri::generate_handler![
            app_info,
            app::status,
            app::enrol,
            app::lists,
            app::template,
            app::validate,
            app::create,
            app::attach,
            app::submit,
            app::update,
            app::check_opinion,
            app::decide,
            app::act,
            app::case_detail,
            app::attachment_data,
            app::sync_now,
            app::ui_ready,
            app::tray_state,
            app::slip_preview,
            app::printers,
            app::print_slip,
            app::verify_slip,
            app::profiles,
            app::switch_user,
            app::scan_check,
            app::rotate_page,
            app::arrange_pages,
            app::scanners,
            app::scan_device,
            app::hot_folder,
            app::take_scan_file,
            app::attach_hot_file,
            app::incident_template,
            app::incident_lists,
            app::incident_detail,
            app::incident_repeats,
            app::incident_validate,
            app::money_total,
            app::incident_create,
            app::incident_update,
            app::incident_dispatch,
            app::incident_step,
            app::redo,
            app::stats_access,
            app::incident_query,
            app::incident_export,
            app::incident_stats,
            app::incident_stats_export,
            app::incident_speed,
            app::incident_report,
            app::incident_report_file,
            app::saved_queries,
            app::save_query,
            app::delete_query,
            app::save_download,
            app::update_check,
            app::update_install
        ])
        .build(context)
        .context("cannot build the desktop app")?;

    let dir = match requested {
        Some(dir) => dir,
        None => app
            .path()
            .app_data_dir()
            .context("cannot determine the platform data directory")?,
    };
    ensure_data_dir(&dir)?;
    eprintln!(
        "jingwu {}: data directory {}",
        app.package_info().version,
        dir.display()
    );
    let state = app::AppState::open(dir.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (active, link, poke) = (state.active.clone(), state.link.clone(), state.poke.clone());
    app.manage(state);
    app.manage(app::TrayState::default());
    app::manage_updates(app.handle());
    app::build_tray(app.handle());
    app::start_hot_folder(app.handle());
    app::start_link(app.handle().clone(), dir, active, link, poke);

    Ok(app.run_return(|_app, _event| {}))
}

/// WebKitGTK renders the page in non-composited mode unless the user or
/// the packager says otherwise (`WEBKIT_DISABLE_COMPOSITING_MODE` already
/// set, or `JINGWU_GPU=1`).
///
/// Jingwu's pages are forms and lists: nothing animates, nothing needs the
/// GPU. Composited mode keeps GPU (or, without one, llvmpipe) buffers for
/// the page alive in the web process — about 90 MB of the idle app on the
/// reference machine (bench/README.md). Set before anything else runs, so
/// no thread can read the environment while it changes.
const GPU_ENV: &str = "JINGWU_GPU";
const COMPOSITING_ENV: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

fn prefer_light_rendering(gpu: Option<OsString>, compositing: Option<OsString>) -> bool {
    compositing.is_none() && gpu.as_deref() != Some(std::ffi::OsStr::new("1"))
}

fn main() -> ExitCode {
    if prefer_light_rendering(std::env::var_os(GPU_ENV), std::env::var_os(COMPOSITING_ENV)) {
        std::env::set_var(COMPOSITING_ENV, "1");
    }
    match run() {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(error) => {
            eprintln!("jingwu: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn compositing_is_off_unless_asked_for() {
        assert!(prefer_light_rendering(None, None));
        assert!(prefer_light_rendering(Some("0".into()), None));
        assert!(!prefer_light_rendering(Some("1".into()), None));
        // A value the user set (either way) is left alone.
        assert!(!prefer_light_rendering(None, Some("0".into())));
        assert!(!prefer_light_rendering(None, Some("1".into())));
    }

    #[test]
    fn no_flag_and_no_env_means_platform_default() {
        assert_eq!(data_dir_override(args(&[]), None), Ok(None));
        assert_eq!(
            data_dir_override(args(&[]), Some(OsString::new())),
            Ok(None)
        );
    }

    #[test]
    fn env_is_used_without_flag() {
        assert_eq!(
            data_dir_override(args(&["--other"]), Some("/srv/jingwu".into())),
            Ok(Some(PathBuf::from("/srv/jingwu")))
        );
    }

    #[test]
    fn flag_wins_over_env_in_both_spellings() {
        let env = Some(OsString::from("/from/env"));
        assert_eq!(
            data_dir_override(args(&["--data-dir", "/a"]), env.clone()),
            Ok(Some(PathBuf::from("/a")))
        );
        assert_eq!(
            data_dir_override(args(&["--data-dir=/b"]), env.clone()),
            Ok(Some(PathBuf::from("/b")))
        );
        assert_eq!(
            data_dir_override(args(&["--data-dir=/b", "--data-dir", "/c"]), env),
            Ok(Some(PathBuf::from("/c")))
        );
    }

    #[test]
    fn bad_flags_are_errors() {
        assert_eq!(
            data_dir_override(args(&["--data-dir"]), None),
            Err(ArgsError::MissingValue)
        );
        assert_eq!(
            data_dir_override(args(&["--data-dir="]), None),
            Err(ArgsError::EmptyValue)
        );
    }

    #[test]
    fn each_data_dir_is_its_own_instance() -> anyhow::Result<()> {
        let id = "cn.gov.leishan.jingwu";
        assert_eq!(instance_id(id, None), id, "the default: one per OS user");
        let base = tempfile::tempdir()?;
        let (a, b) = (base.path().join("a"), base.path().join("b"));
        std::fs::create_dir_all(&a)?;
        std::fs::create_dir_all(&b)?;
        let name = instance_id(id, Some(&a));
        assert!(name.starts_with("cn.gov.leishan.jingwu.dir_"), "{name}");
        assert_eq!(name.len(), id.len() + ".dir_".len() + 16);
        assert_ne!(name, instance_id(id, Some(&b)));
        // The same directory spelt another way is the same instance.
        assert_eq!(name, instance_id(id, Some(&b.join("..").join("a"))));
        Ok(())
    }

    #[test]
    fn data_dir_is_created_with_parents() -> anyhow::Result<()> {
        let base = std::env::temp_dir().join(format!("jingwu-desktop-test-{}", std::process::id()));
        let dir = base.join("nested").join("data");
        ensure_data_dir(&dir)?;
        assert!(dir.is_dir());
        ensure_data_dir(&dir)?; // idempotent
        std::fs::remove_dir_all(&base)?;
        Ok(())
    }

    #[test]
    fn app_info_serialises_to_name_and_version() -> anyhow::Result<()> {
        let info = AppInfo {
            name: "jingwu-desktop".into(),
            version: "0.1.0".into(),
        };
        assert_eq!(
            serde_json::to_value(&info)?,
            serde_json::json!({"name": "jingwu-desktop", "version": "0.1.0"})
        );
        Ok(())
    }
}
