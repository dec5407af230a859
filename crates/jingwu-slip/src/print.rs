//! Printing and print preview, behind one trait ([`PrintBackend`]) with
//! one implementation per platform; [`system`] gives this platform's.
//!
//! - [`Cups`] (Linux and other Unix systems): the CUPS client `lp` /
//!   `lpstat` prints and lists queues, poppler's `pdftoppm` draws the
//!   preview.
//! - `WindowsPrint` (Windows): Windows' own PDF renderer
//!   (`Windows.Data.Pdf`) draws the pages, the Win32 print API sends them
//!   to the printer (crate `jingwu-winprint`, the one place with unsafe
//!   code). See docs/platforms.md.

use std::path::Path;
use std::process::Command;

/// Title of a print job in the printer's queue.
const JOB_TITLE: &str = "户口变更审批结果通知单";

/// What the station needs from a platform's printing: the printers, a
/// PDF sent to one of them, and the pages as pictures for the preview.
pub trait PrintBackend: Send + Sync {
    /// The printers the system knows, the default first. No printer is
    /// an empty list, not an error.
    fn printers(&self) -> Result<Vec<Printer>, PrintError>;
    /// Sends a PDF file to `printer` (or the default printer); returns the
    /// print job's id.
    fn print_pdf(&self, file: &Path, printer: Option<&str>) -> Result<String, PrintError>;
    /// Each page of a PDF as a PNG at `dpi` (clamped to 30..=300): the
    /// print preview shows exactly the file that is printed.
    fn preview_pngs(&self, pdf: &[u8], dpi: u32) -> Result<Vec<Vec<u8>>, PreviewError>;
}

/// This platform's printing.
pub fn system() -> &'static dyn PrintBackend {
    #[cfg(windows)]
    {
        &WindowsPrint
    }
    #[cfg(not(windows))]
    {
        &Cups
    }
}

/// [`PrintBackend::printers`] of this platform's backend.
pub fn printers() -> Result<Vec<Printer>, PrintError> {
    system().printers()
}

/// [`PrintBackend::print_pdf`] of this platform's backend.
pub fn print_pdf(file: &Path, printer: Option<&str>) -> Result<String, PrintError> {
    system().print_pdf(file, printer)
}

/// [`PrintBackend::preview_pngs`] of this platform's backend.
pub fn preview_pngs(pdf: &[u8], dpi: u32) -> Result<Vec<Vec<u8>>, PreviewError> {
    system().preview_pngs(pdf, dpi)
}

/// Printing through CUPS and poppler (Linux).
#[derive(Debug, Clone, Copy, Default)]
pub struct Cups;

impl PrintBackend for Cups {
    fn printers(&self) -> Result<Vec<Printer>, PrintError> {
        cups_printers()
    }
    fn print_pdf(&self, file: &Path, printer: Option<&str>) -> Result<String, PrintError> {
        cups_print_pdf(file, printer)
    }
    fn preview_pngs(&self, pdf: &[u8], dpi: u32) -> Result<Vec<Vec<u8>>, PreviewError> {
        pdftoppm_pngs(pdf, dpi)
    }
}

/// Printing through Windows' PDF renderer and the Win32 print API.
#[cfg(windows)]
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowsPrint;

#[cfg(windows)]
impl PrintBackend for WindowsPrint {
    fn printers(&self) -> Result<Vec<Printer>, PrintError> {
        Ok(jingwu_winprint::printers()
            .map_err(|e| PrintError::Windows(e.to_string()))?
            .into_iter()
            .map(|p| Printer {
                name: p.name,
                is_default: p.is_default,
            })
            .collect())
    }
    fn print_pdf(&self, file: &Path, printer: Option<&str>) -> Result<String, PrintError> {
        let pdf = read_nonempty(file)?;
        jingwu_winprint::print_pdf(&pdf, printer, JOB_TITLE)
            .map_err(|e| PrintError::Windows(e.to_string()))
    }
    fn preview_pngs(&self, pdf: &[u8], dpi: u32) -> Result<Vec<Vec<u8>>, PreviewError> {
        jingwu_winprint::preview_pngs(pdf, dpi).map_err(|e| PreviewError::Windows(e.to_string()))
    }
}

/// The bytes of a file to print; a missing or empty file is an error.
#[cfg(windows)]
fn read_nonempty(file: &Path) -> Result<Vec<u8>, PrintError> {
    match std::fs::read(file) {
        Ok(b) if !b.is_empty() => Ok(b),
        _ => Err(PrintError::NoFile(file.display().to_string())),
    }
}

/// Errors of printing. Shown to users.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("找不到打印命令 lp（请安装 cups-client）")]
    NoLp,
    #[error("打印失败：{0}")]
    Failed(String),
    #[error("要打印的文件不存在或为空：{0}")]
    NoFile(String),
    /// Windows printing's own message (already in Chinese).
    #[error("{0}")]
    Windows(String),
}

/// Sends a PDF to `printer` (or the default printer) with `lp`. Returns
/// CUPS's job id (e.g. `PDF-12`).
fn cups_print_pdf(file: &Path, printer: Option<&str>) -> Result<String, PrintError> {
    let ok = std::fs::metadata(file)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    if !ok {
        return Err(PrintError::NoFile(file.display().to_string()));
    }
    let mut cmd = Command::new("lp");
    if let Some(p) = printer {
        cmd.arg("-d").arg(p);
    }
    cmd.arg("-t").arg(JOB_TITLE).arg("--").arg(file);
    let out = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => PrintError::NoLp,
        _ => PrintError::Failed(e.to_string()),
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(PrintError::Failed(stderr.trim().to_string()));
    }
    // "request id is PDF-3 (1 file(s))"
    Ok(stdout
        .split_whitespace()
        .skip_while(|w| *w != "is")
        .nth(1)
        .unwrap_or_default()
        .to_string())
}

/// A printer (a CUPS queue on Linux).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Printer {
    pub name: String,
    pub is_default: bool,
}

/// The print queues CUPS knows (`lpstat -e`, `lpstat -d`), the default
/// first. No queue is an empty list, not an error.
fn cups_printers() -> Result<Vec<Printer>, PrintError> {
    let run = |args: &[&str]| -> Result<String, PrintError> {
        let out = Command::new("lpstat")
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => PrintError::NoLp,
                _ => PrintError::Failed(e.to_string()),
            })?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let default = parse_default(&run(&["-d"])?);
    let mut list: Vec<Printer> = run(&["-e"])?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|name| Printer {
            name: name.to_string(),
            is_default: default.as_deref() == Some(name),
        })
        .collect();
    list.sort_by(|a, b| b.is_default.cmp(&a.is_default).then(a.name.cmp(&b.name)));
    Ok(list)
}

/// "system default destination: PDF" → `PDF`.
fn parse_default(lpstat_d: &str) -> Option<String> {
    lpstat_d
        .lines()
        .find_map(|l| l.trim().strip_prefix("system default destination:"))
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
}

/// Errors of the print preview.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("找不到 pdftoppm，无法显示打印预览（请安装 poppler-utils）")]
    NoPdftoppm,
    #[error("打印预览生成失败：{0}")]
    Failed(String),
    /// Windows' PDF renderer's message (already in Chinese).
    #[error("打印预览生成失败：{0}")]
    Windows(String),
}

/// Renders each page of a PDF to a PNG at `dpi` with poppler's
/// `pdftoppm`.
fn pdftoppm_pngs(pdf: &[u8], dpi: u32) -> Result<Vec<Vec<u8>>, PreviewError> {
    let failed = |e: std::io::Error| PreviewError::Failed(e.to_string());
    let dir = tempfile::tempdir().map_err(failed)?;
    let input = dir.path().join("slip.pdf");
    std::fs::write(&input, pdf).map_err(failed)?;
    let out = Command::new("pdftoppm")
        .arg("-r")
        .arg(dpi.clamp(30, 300).to_string())
        .arg("-png")
        .arg(&input)
        .arg(dir.path().join("page"))
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PreviewError::NoPdftoppm,
            _ => PreviewError::Failed(e.to_string()),
        })?;
    if !out.status.success() {
        return Err(PreviewError::Failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let mut pages: Vec<_> = std::fs::read_dir(dir.path())
        .map_err(failed)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    // page-1.png, page-2.png … (zero-padded when there are ten or more).
    pages.sort();
    pages
        .iter()
        .map(|p| std::fs::read(p).map_err(failed))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_destination_is_parsed() {
        assert_eq!(
            parse_default("system default destination: PDF\n"),
            Some("PDF".into())
        );
        assert_eq!(parse_default("no system default destination\n"), None);
        assert_eq!(parse_default(""), None);
    }
}
