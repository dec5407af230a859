//! The UI's command table (`ui/commands.json`) against every place that
//! lists commands: the desktop's `#[tauri::command]` functions, its
//! `generate_handler!`, its capability file, the hub's browser API and
//! every call the JavaScript makes. A command in one list and not the
//! others fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn table() -> (BTreeSet<String>, BTreeSet<String>) {
    let t: serde_json::Value = serde_json::from_str(&read("ui/commands.json")).unwrap();
    let list = |k: &str| -> BTreeSet<String> {
        t[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    (list("desktop"), list("browser"))
}

/// Every `.rs` file under `dir` (relative to the workspace), recursively.
fn rust_files(dir: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root().join(dir)];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn set(v: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    v.into_iter().collect()
}

#[test]
fn the_desktop_defines_handles_and_permits_exactly_the_tables_commands() {
    let (desktop, _) = table();
    // #[tauri::command] functions.
    let mut defined = BTreeSet::new();
    for file in rust_files("src-tauri/src") {
        let text = std::fs::read_to_string(&file).unwrap();
        for part in text.split("#[tauri::command]").skip(1) {
            let f = part.find("fn ").unwrap();
            let name: String = part[f + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            defined.insert(name);
        }
    }
    assert_eq!(defined, desktop, "#[tauri::command] functions");
    // generate_handler!
    let main = read("src-tauri/src/main.rs");
    let start = main.find("generate_handler![").unwrap() + "generate_handler![".len();
    let end = start + main[start..].find(']').unwrap();
    let handled = set(main[start..end]
        .split(',')
        .map(|s| s.trim().trim_start_matches("app::").to_string())
        .filter(|s| !s.is_empty()));
    assert_eq!(handled, desktop, "generate_handler!");
    // The capability.
    let cap: serde_json::Value =
        serde_json::from_str(&read("src-tauri/capabilities/default.json")).unwrap();
    let permitted = set(cap["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .filter_map(|p| p.strip_prefix("allow-"))
        .map(|p| p.replace('-', "_")));
    assert_eq!(permitted, desktop, "capabilities/default.json");
}

#[test]
fn the_browser_api_answers_exactly_the_tables_commands() {
    let (_, browser) = table();
    let webui = read("crates/jingwu-hub/src/webui.rs");
    // The arms of `answer`'s `match command` (one indentation level in),
    // and the two commands handled before it.
    let f = webui.find("\nfn answer(").unwrap();
    let body = &webui[f..f + webui[f..].find("\n}\n").unwrap()];
    let mut answered = set(body.lines().filter_map(|l| {
        let arm = l.strip_prefix("        \"")?;
        let (name, rest) = arm.split_once('"')?;
        rest.trim_start()
            .starts_with("=>")
            .then(|| name.to_string())
    }));
    for special in ["login", "logout"] {
        assert!(
            webui.contains(&format!("command == \"{special}\"")),
            "{special} handled"
        );
        answered.insert(special.to_string());
    }
    assert_eq!(answered, browser, "webui.rs");
}

#[test]
fn every_call_the_ui_makes_is_in_the_table() {
    let (desktop, browser) = table();
    let mut calls = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("ui")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("js") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for open in ["call(\"", "invoke(\""] {
            for part in text.split(open).skip(1) {
                calls.insert(part.split('"').next().unwrap().to_string());
            }
        }
    }
    assert!(calls.len() > 20, "{calls:?}");
    let unknown: Vec<_> = calls
        .iter()
        .filter(|c| !desktop.contains(*c) && !browser.contains(*c))
        .collect();
    assert!(
        unknown.is_empty(),
        "calls not in ui/commands.json: {unknown:?}"
    );
}
