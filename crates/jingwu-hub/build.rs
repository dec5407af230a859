//! Embeds the UI (`ui/` at the workspace root) into the hub binary, so
//! the hub serves it to browsers with no file beside it at run time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, base: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        if path.is_dir() {
            files(&path, base, out);
        } else if let Ok(rel) = path.strip_prefix(base) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            if !rel.starts_with('.') && !rel.ends_with('~') {
                out.push((rel, path));
            }
        }
    }
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let ui = Path::new(&manifest).join("../../ui");
    let ui = ui.canonicalize().unwrap_or(ui);
    println!("cargo:rerun-if-changed={}", ui.display());
    let mut list = Vec::new();
    files(&ui, &ui, &mut list);
    let mut code = String::from("/// The UI's files: (path under ui/, content).\npub static UI_FILES: &[(&str, &[u8])] = &[\n");
    for (rel, path) in &list {
        let _ = writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
    }
    code.push_str("];\n");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("ui_files.rs");
    if let Err(e) = std::fs::write(&out, code) {
        println!("cargo:warning=cannot write {}: {e}", out.display());
    }
}
