//! Direct scanning on Linux through SANE's `scanimage` (Debian package
//! `sane-utils`): list the scanners, acquire one page or a feeder's worth
//! into a folder, with a timeout; failures (no scanner, busy, cancelled,
//! jammed, empty feeder) become Chinese messages. What `scanimage` writes
//! goes through the same pipeline as any file (see [`crate::scan`]).
//!
//! `scanimage` honours `SANE_CONFIG_DIR`; the tests point it at a folder
//! whose `dll.conf` enables SANE's `test` backend.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Why scanning failed. Shown to the officer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaneError {
    #[error("未安装扫描程序 scanimage（请安装 sane-utils）")]
    NotInstalled,
    #[error("找不到扫描仪“{0}”：请检查扫描仪是否已连接并开机")]
    NoDevice(String),
    #[error("没有找到任何扫描仪：请检查扫描仪是否已连接并开机")]
    NoDevices,
    #[error("扫描仪正忙，请稍后再试")]
    Busy,
    #[error("扫描已取消")]
    Cancelled,
    #[error("扫描仪卡纸，请处理后重新扫描")]
    Jammed,
    #[error("进纸器中没有纸，请放入要扫描的表格")]
    NoDocuments,
    #[error("扫描仪盖板未合上")]
    CoverOpen,
    #[error("没有使用扫描仪的权限（请将当前用户加入 scanner 组）")]
    AccessDenied,
    #[error("扫描超时（{0} 秒内未完成），已停止")]
    Timeout(u64),
    #[error("扫描参数无效：{0}")]
    BadOption(String),
    #[error("扫描失败：{0}")]
    Failed(String),
}

/// A scanner as SANE lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The name to pass to [`acquire`] (e.g. `epson2:libusb:001:004`).
    pub name: String,
    pub vendor: String,
    pub model: String,
    pub kind: String,
}

/// File format `scanimage` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Tiff,
}

impl Format {
    fn arg(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Tiff => "tiff",
        }
    }
}

/// What to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acquire {
    pub device: String,
    /// Dots per inch (300 reads handwriting and seals well).
    pub resolution: u32,
    /// `Color` keeps the red stamp; `None` leaves the scanner's default.
    pub mode: Option<String>,
    pub format: Format,
    /// Scan every sheet of the feeder (`--batch`), at most `max_pages`.
    pub batch: bool,
    pub max_pages: u32,
    /// Whole run, all pages.
    pub timeout: Duration,
    /// Device-specific options passed through (e.g. `--source`,
    /// `Automatic Document Feeder`), each a separate argument.
    pub extra: Vec<String>,
}

impl Acquire {
    /// One colour page at 300 dpi from `device`, two minutes at most.
    pub fn page(device: &str) -> Acquire {
        Acquire {
            device: device.to_string(),
            resolution: 300,
            mode: Some("Color".into()),
            format: Format::Png,
            batch: false,
            max_pages: 1,
            timeout: Duration::from_secs(120),
            extra: Vec::new(),
        }
    }
}

fn scanimage() -> Command {
    let mut c = Command::new("scanimage");
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs the command, killing it after `timeout`; returns (status ok,
/// stdout, stderr).
fn run(mut cmd: Command, timeout: Duration) -> Result<(bool, String, String), SaneError> {
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SaneError::NotInstalled,
        _ => SaneError::Failed(e.to_string()),
    })?;
    // Drain the pipes on threads so a chatty child cannot block.
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.take(1 << 20).read_to_string(&mut s);
        }
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.take(1 << 20).read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SaneError::Timeout(timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(SaneError::Failed(e.to_string())),
        }
    };
    let out = out_t.join().unwrap_or_default();
    let err = err_t.join().unwrap_or_default();
    Ok((status.success(), out, err))
}

/// The scanners SANE can see (`scanimage -f`).
pub fn list_devices(timeout: Duration) -> Result<Vec<Device>, SaneError> {
    let mut cmd = scanimage();
    cmd.arg("-f").arg("%d\t%v\t%m\t%t%n");
    let (ok, out, err) = run(cmd, timeout)?;
    if !ok {
        return Err(classify(&err, ""));
    }
    Ok(out
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let name = f.next()?.trim().to_string();
            if name.is_empty() {
                return None;
            }
            Some(Device {
                name,
                vendor: f.next().unwrap_or_default().to_string(),
                model: f.next().unwrap_or_default().to_string(),
                kind: f.next().unwrap_or_default().to_string(),
            })
        })
        .collect())
}

/// The Chinese reason for `scanimage`'s complaint on stderr.
pub fn classify(stderr: &str, device: &str) -> SaneError {
    let s = stderr.to_ascii_lowercase();
    if s.contains("device busy") {
        SaneError::Busy
    } else if s.contains("cancel") {
        SaneError::Cancelled
    } else if s.contains("jammed") {
        SaneError::Jammed
    } else if s.contains("out of documents") {
        SaneError::NoDocuments
    } else if s.contains("cover") {
        SaneError::CoverOpen
    } else if s.contains("access") && s.contains("denied") {
        SaneError::AccessDenied
    } else if s.contains("no sane devices found") {
        SaneError::NoDevices
    } else if s.contains("open of device") || s.contains("no devices available") {
        SaneError::NoDevice(device.to_string())
    } else if s.contains("unrecognized option") || s.contains("invalid argument") {
        SaneError::BadOption(last_line(stderr))
    } else {
        SaneError::Failed(last_line(stderr))
    }
}

fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("scanimage 异常退出")
        .trim()
        .to_string()
}

/// Scans into `dir` (created if needed) and returns the files written, in
/// page order. In batch mode the run ends when the feeder is empty; an
/// empty feeder before the first page is [`SaneError::NoDocuments`].
pub fn acquire(a: &Acquire, dir: &Path) -> Result<Vec<PathBuf>, SaneError> {
    if a.device.is_empty() || a.device.starts_with('-') {
        return Err(SaneError::BadOption(format!("设备名“{}”", a.device)));
    }
    if !(50..=1200).contains(&a.resolution) {
        return Err(SaneError::BadOption(format!(
            "分辨率 {} dpi（应在 50–1200 之间）",
            a.resolution
        )));
    }
    jingwu_store::private_fs::create_dir(dir).map_err(|e| SaneError::Failed(e.to_string()))?;
    let ext = a.format.arg();
    let mut cmd = scanimage();
    cmd.arg("-d")
        .arg(&a.device)
        .arg(format!("--format={ext}"))
        .arg("--resolution")
        .arg(a.resolution.to_string());
    if let Some(m) = &a.mode {
        cmd.arg("--mode").arg(m);
    }
    cmd.args(&a.extra);
    let single = dir.join(format!("scan.{ext}"));
    if a.batch {
        let pattern = dir.join(format!("page-%04d.{ext}"));
        cmd.arg(format!("--batch={}", pattern.display()))
            .arg(format!("--batch-count={}", a.max_pages.max(1)));
    } else {
        cmd.arg("-o").arg(&single);
    }
    let (ok, _, err) = run(cmd, a.timeout)?;
    let files = if a.batch {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| SaneError::Failed(e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy())
                    .is_some_and(|n| n.starts_with("page-") && n.ends_with(ext))
            })
            .collect();
        v.sort();
        v
    } else if single.is_file() {
        vec![single]
    } else {
        Vec::new()
    };
    if !ok {
        let e = classify(&err, &a.device);
        // A feeder that runs empty after some sheets ends a batch.
        if !(a.batch && e == SaneError::NoDocuments && !files.is_empty()) {
            for f in &files {
                let _ = std::fs::remove_file(f);
            }
            return Err(e);
        }
    }
    if files.is_empty() {
        return Err(classify(&err, &a.device));
    }
    // scanimage writes with its own umask: the pages are the owner's only.
    for f in &files {
        jingwu_store::private_fs::tighten(f).map_err(|e| SaneError::Failed(e.to_string()))?;
    }
    Ok(files)
}
