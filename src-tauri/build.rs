//! Build script: compiles `tauri.conf.json` (a symlink to the top-level
//! `../tauri.conf.json`) and the ACL capabilities into the binary.

/// The UI's command table (`ui/commands.json`): its `desktop` list is every
/// Tauri command the app defines. Listing them makes the ACL explicit: a
/// command is reachable from the UI only when a capability in
/// `capabilities/` grants its generated `allow-<command>` permission
/// (`tests/commands.rs` checks the capability, `generate_handler!` and the
/// `#[tauri::command]` functions against the same list).
const COMMANDS: &str = "../ui/commands.json";

fn desktop_commands() -> Result<&'static [&'static str], String> {
    let text = std::fs::read_to_string(COMMANDS).map_err(|e| format!("{COMMANDS}: {e}"))?;
    let table: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{COMMANDS}: {e}"))?;
    let names: Vec<&'static str> = table["desktop"]
        .as_array()
        .ok_or_else(|| format!("{COMMANDS}: no desktop list"))?
        .iter()
        .map(|v| {
            v.as_str()
                .map(|s| &*Box::leak(s.to_string().into_boxed_str()))
                .ok_or_else(|| format!("{COMMANDS}: a command name is not a string"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Box::leak(names.into_boxed_slice()))
}

fn main() {
    println!("cargo:rerun-if-changed={COMMANDS}");
    let commands = match desktop_commands() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("the UI's command table: {e}");
            std::process::exit(1);
        }
    };
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(commands));
    if let Err(error) = tauri_build::try_build(attributes) {
        // A build script reports failure by exiting non-zero; cargo shows stderr.
        eprintln!("tauri-build failed: {error:#}");
        std::process::exit(1);
    }
}
