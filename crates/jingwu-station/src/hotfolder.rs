//! The hot folder: many office scanners save into a network or local
//! folder. A watcher thread polls the folder; a file is taken once it is
//! complete (its size and modification time unchanged over one polling
//! interval; names ending `.part`, `.tmp`, `.crdownload` and hidden files
//! are left until renamed), run through the scan pipeline, and moved to `已导入/` on
//! success or to `未能导入/` with a `.txt` beside it giving the reason.
//! With a station configured ([`Attach`]), pages whose QR names a local
//! draft are attached to it ([`Station::attach_matched`]).
//!
//! The watcher survives every bad input: the pipeline refuses bad files
//! with a message, within its caps (file size checked before reading,
//! pixel counts before decoding, one page in memory), and a panic while
//! processing one file is caught and reported like a refusal. Each
//! outcome is handed to the callback; dropping the [`HotFolder`] stops
//! the watcher.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use jingwu_core::registry::Registry;
use serde::Serialize;
use uuid::Uuid;

use crate::scan::{process, ScanPage};
use crate::station::{Result, Station, StationError};

/// Subfolder for files imported.
pub const DONE_DIR: &str = "已导入";
/// Subfolder for files refused (with a `.txt` giving the reason).
pub const FAILED_DIR: &str = "未能导入";

/// Attach QR-matched scans to drafts in this station's store.
#[derive(Clone)]
pub struct Attach {
    pub data_dir: PathBuf,
    pub reg: Registry,
    pub pin: String,
}

impl std::fmt::Debug for Attach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attach")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// How the watcher works.
#[derive(Debug, Clone)]
pub struct Config {
    /// How often the folder is looked at (a file must keep its size for
    /// one interval to be taken).
    pub poll: Duration,
    pub attach: Option<Attach>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            poll: Duration::from_secs(1),
            attach: None,
        }
    }
}

/// One page of an imported file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomePage {
    /// The draft it was attached to (`None`: processed, not attached).
    pub case: Option<Uuid>,
    #[serde(flatten)]
    pub page: ScanPage,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The file as found in the folder.
    pub file: PathBuf,
    /// Where it was moved.
    pub moved_to: Option<PathBuf>,
    pub imported: bool,
    /// Why it was refused.
    pub error: Option<String>,
    pub pages: Vec<OutcomePage>,
}

/// A running watcher; dropping it stops the watcher (after the file in
/// hand, if any).
pub struct HotFolder {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl HotFolder {
    /// Starts watching `dir` (created, with its two subfolders, if
    /// needed). `on_outcome` is called on the watcher thread for every
    /// file taken.
    pub fn start(
        dir: &Path,
        config: Config,
        mut on_outcome: impl FnMut(Outcome) + Send + 'static,
    ) -> Result<HotFolder> {
        // The folder itself is shared with the scanner (its mode is the
        // administrator's); what the station took is kept in 0700
        // subfolders.
        std::fs::create_dir_all(dir)
            .map_err(|e| StationError::Usage(format!("无法创建文件夹 {}：{e}", dir.display())))?;
        for d in [dir.join(DONE_DIR), dir.join(FAILED_DIR)] {
            jingwu_store::private_fs::create_dir(&d)
                .map_err(|e| StationError::Usage(format!("无法创建文件夹 {}：{e}", d.display())))?;
        }
        let mut station = match &config.attach {
            Some(a) => {
                let st = Station::open(&a.data_dir, a.reg.clone())?;
                // A wrong PIN would refuse every scan: say so now.
                st.check_pin(&a.pin)?;
                Some(st)
            }
            None => None,
        };
        let dir = dir.to_path_buf();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("jingwu-hot-folder".into())
            .spawn(move || {
                let mut seen: HashMap<PathBuf, (u64, Option<SystemTime>)> = HashMap::new();
                // Files that could not be moved away (permissions): taken
                // once, then left alone.
                let mut stuck: HashSet<PathBuf> = HashSet::new();
                loop {
                    for file in ready_files(&dir, &mut seen) {
                        if stuck.contains(&file) {
                            continue;
                        }
                        let pin = config.attach.as_ref().map(|a| a.pin.as_str());
                        let outcome = take(&dir, &file, station.as_mut().zip(pin));
                        if outcome.moved_to.is_none() {
                            stuck.insert(file.clone());
                        }
                        on_outcome(outcome);
                        if !matches!(stopped.try_recv(), Err(mpsc::TryRecvError::Empty)) {
                            return;
                        }
                    }
                    match stopped.recv_timeout(config.poll) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })
            .map_err(|e| StationError::Usage(format!("无法启动文件夹监视：{e}")))?;
        Ok(HotFolder {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for HotFolder {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Files of `dir` whose size and modification time did not change since
/// the last look (new files are remembered and taken next time).
fn ready_files(dir: &Path, seen: &mut HashMap<PathBuf, (u64, Option<SystemTime>)>) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut now: HashMap<PathBuf, (u64, Option<SystemTime>)> = HashMap::new();
    let mut ready = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        let Ok(meta) = e.metadata() else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        // Folders, hidden files and files still being copied by name.
        if !meta.is_file()
            || name.starts_with('.')
            || name.ends_with(".part")
            || name.ends_with(".tmp")
            || name.ends_with(".crdownload")
        {
            continue;
        }
        let sig = (meta.len(), meta.modified().ok());
        if seen.get(&path) == Some(&sig) {
            ready.push(path.clone());
        }
        now.insert(path, sig);
    }
    *seen = now;
    ready.sort();
    for p in &ready {
        seen.remove(p);
    }
    ready
}

/// Processes one file and moves it; never fails (a failure is an
/// outcome).
fn take(dir: &Path, file: &Path, station: Option<(&mut Station, &str)>) -> Outcome {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| import(file, station)));
    let result = match run {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("处理该文件时程序内部出错，已跳过".to_string()),
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "扫描件".into());
    match result {
        Ok(pages) => {
            let moved = move_into(file, &dir.join(DONE_DIR), &name);
            Outcome {
                file: file.to_path_buf(),
                imported: moved.is_ok(),
                error: moved.as_ref().err().cloned(),
                moved_to: moved.ok(),
                pages,
            }
        }
        Err(reason) => {
            let moved = move_into(file, &dir.join(FAILED_DIR), &name);
            if let Ok(to) = &moved {
                let mut txt = to.clone().into_os_string();
                txt.push(".txt");
                let _ = jingwu_store::private_fs::write(
                    &PathBuf::from(txt),
                    format!("{reason}\n").as_bytes(),
                );
            }
            Outcome {
                file: file.to_path_buf(),
                imported: false,
                error: Some(reason),
                moved_to: moved.ok(),
                pages: Vec::new(),
            }
        }
    }
}

fn import(file: &Path, station: Option<(&mut Station, &str)>) -> Result<Vec<OutcomePage>> {
    let processed = process(file)?;
    let Some((st, pin)) = station else {
        return Ok(processed
            .pages
            .iter()
            .map(|p| OutcomePage {
                case: None,
                page: ScanPage::from_result(
                    p,
                    jingwu_core::crypto::sm3_hex(&p.jpeg),
                    crate::scan::page_name(&processed.name, p.page),
                ),
            })
            .collect());
    };
    let groups = st.attach_matched(pin, &processed)?;
    Ok(groups
        .into_iter()
        .flat_map(|(case, imp)| {
            imp.pages
                .into_iter()
                .map(move |page| OutcomePage { case, page })
        })
        .collect())
}

/// Moves `file` into `to_dir` under `name`, adding `-1`, `-2` … before the
/// extension when the name is taken.
fn move_into(file: &Path, to_dir: &Path, name: &str) -> std::result::Result<PathBuf, String> {
    let p = Path::new(name);
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = p
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    for n in 0..10_000u32 {
        let candidate = if n == 0 {
            to_dir.join(name)
        } else {
            to_dir.join(format!("{stem}-{n}{ext}"))
        };
        if candidate.exists() {
            continue;
        }
        std::fs::rename(file, &candidate)
            .map_err(|e| format!("无法移动 {}：{e}", file.display()))?;
        // The scanner's file, now the station's: the owner's only where
        // it may (a file another account wrote keeps its mode, inside the
        // 0700 folder).
        let _ = jingwu_store::private_fs::tighten(&candidate);
        return Ok(candidate);
    }
    Err(format!("{} 中同名文件过多", to_dir.display()))
}
