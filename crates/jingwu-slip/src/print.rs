//! Printing through the system's CUPS client (`lp`), to the default or a
//! named printer.

use std::path::Path;
use std::process::Command;

/// Errors of printing. Shown to users.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("找不到打印命令 lp（请安装 cups-client）")]
    NoLp,
    #[error("打印失败：{0}")]
    Failed(String),
    #[error("要打印的文件不存在或为空：{0}")]
    NoFile(String),
}

/// Sends a PDF to `printer` (or the default printer). Returns CUPS's job
/// id (e.g. `PDF-12`).
pub fn print_pdf(file: &Path, printer: Option<&str>) -> Result<String, PrintError> {
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
    cmd.arg("-t")
        .arg("户口变更审批结果通知单")
        .arg("--")
        .arg(file);
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
