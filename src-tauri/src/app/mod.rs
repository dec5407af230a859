//! The app's commands over the station core (`jingwu_station::Station`),
//! and the background link to the hub: sync, the live channel, desktop
//! notifications. Thin by design: every rule is decided by the core.
//!
//! By concern: `session` (status, enrolment, the users of this PC),
//! `cases` (lists, the form, case actions, the case page), `incidents`
//! (110 接处警: intake, dispatch, handling steps, lists, the record page),
//! `stats` (110 查询统计, asked of the county hub), `scans`
//! (attachments through the scan pipeline, scanners, the hot folder,
//! page tools), `slips` (preview, print, verify), `link` (sync and the
//! live channel, notifications), `tray` (the tray icon), `updates` (updates from
//! the county hub), `window` (the main window, start-up).

use std::path::PathBuf;
use std::sync::Arc;

use jingwu_core::registry::Registry;
use jingwu_core::SHANGHAI;
use jingwu_station::scan::ProcessedFile;
use jingwu_station::station::{Station, StationError};
use tokio::sync::{Mutex, Notify};
use uuid::Uuid;

mod cases;
mod incidents;
mod link;
mod scans;
mod session;
mod slips;
mod stats;
mod tray;
mod updates;
mod window;

pub use cases::*;
pub use incidents::*;
pub use link::*;
pub use scans::*;
pub use session::*;
pub use slips::*;
pub use stats::*;
pub use tray::*;
pub use updates::*;
pub use window::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The app's state: the UI's station, the link's status, a poke for the
/// background link.
///
/// Several users may share a station PC. Each has a profile of their own —
/// a data directory with its own store (signing key, hub session, outbox,
/// pull cursor): the first user's is the data directory itself, later
/// users' are `users/<警号>/` under it. `station` is the active profile's;
/// `active` names its directory for the background link.
pub struct AppState {
    pub data_dir: PathBuf,
    pub station: Mutex<Station>,
    /// Scans run through the pipeline when chosen, by the SM3 of the file,
    /// so attaching them does not process them again.
    pub scans: std::sync::Mutex<Vec<(String, Arc<ProcessedFile>)>>,
    /// The hot folder scanners save into, and what it took last.
    pub hot: std::sync::Mutex<HotState>,
    pub active: Arc<std::sync::Mutex<PathBuf>>,
    pub link: Arc<std::sync::Mutex<LinkStatus>>,
    pub poke: Arc<Notify>,
}

/// The rules a profile runs with until its hub's published registry is
/// in its store (which `Station::open` prefers): an empty org, under
/// which nobody can act.
fn registry() -> Result<Registry, String> {
    jingwu_station::registry::unpublished().map_err(|e| format!("规则数据加载失败：{e}"))
}

impl AppState {
    pub fn open(data_dir: PathBuf) -> Result<AppState, String> {
        let station = Station::open(&data_dir, registry()?).map_err(|e| e.to_string())?;
        Ok(AppState {
            active: Arc::new(std::sync::Mutex::new(data_dir.clone())),
            data_dir,
            station: Mutex::new(station),
            scans: std::sync::Mutex::new(Vec::new()),
            hot: std::sync::Mutex::new(HotState::default()),
            link: Arc::new(std::sync::Mutex::new(LinkStatus::default())),
            poke: Arc::new(Notify::new()),
        })
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .to_offset(SHANGHAI)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn parse_case(id: &str) -> Result<Uuid, String> {
    Uuid::parse_str(id).map_err(|_| "案件编号格式错误".to_string())
}

fn queued(st: &Station) -> bool {
    st.store.outbox_len().unwrap_or(0) > 0
}

fn pin_err(e: StationError) -> String {
    match e {
        StationError::Key(jingwu_core::crypto::CryptoError::WrongPin) => "签名 PIN 不正确".into(),
        other => other.to_string(),
    }
}
