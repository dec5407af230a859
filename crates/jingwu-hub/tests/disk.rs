//! A full disk (a small tmpfs holding the data and the log): pushes fail
//! cleanly while it is full, `/healthz` says so, new uploads get 507, and
//! once space returns the same hub process takes pushes again; no
//! acknowledged event is lost.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use jingwu_hub::hub::Hub;
use jingwu_station::client::HubClient;

use crate::common::*;
use crate::durability::HubProcess;

/// A tmpfs mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Fills the filesystem of `dir` with a file until writing fails.
fn fill(dir: &Path) {
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    let block = vec![0x5au8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
}

fn free(dir: &Path) {
    std::fs::remove_file(dir.join("filler")).unwrap();
}

async fn health(url: &str) -> (u16, serde_json::Value) {
    let r = jingwu_station::pin::http_client(None)
        .unwrap()
        .get(format!("{url}/healthz"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_disk_then_freed_recovers_without_restart() {
    let fs = match Tmpfs::mount("16m") {
        Ok(fs) => fs,
        Err(e) => {
            eprintln!("SKIPPED: cannot mount a tmpfs here: {e}");
            return;
        }
    };
    let place = HubPlace {
        dir: tempfile::tempdir_in(fs.dir.path()).unwrap(),
        database_url: None,
    };
    place.init(&[OFFICER]);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jingwu-hub"));
    cmd.arg("--data-dir")
        .arg(place.dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--insecure-http"])
        .env("JINGWU_HUB_LIMITS__MIN_FREE_BYTES", "1048576")
        .env("JINGWU_LOG", "info")
        .stdout(Stdio::piped())
        // The log on the same (soon full) filesystem.
        .stderr(std::fs::File::create(place.dir.path().join("hub.log")).unwrap());
    let mut hub = HubProcess::spawn(cmd);
    let url = hub.url.clone();
    assert_eq!(health(&url).await.0, 200);

    let mut officer = Client::enrol(&url, OFFICER).await;
    let mut admin = HubClient::new(&url, None).unwrap();
    admin.login("admin", PASSWORD, "console").await.unwrap();
    for e in admin.enrolments(Some("pending")).await.unwrap() {
        admin.decide_enrolment(&e.id, "approve").await.unwrap();
    }
    let mut cases = vec![officer.apply()];
    officer.sync().await;

    // Full: pushes fail (not acknowledged), the hub says so.
    fill(fs.dir.path());
    // Several failures, so that the log's last page fills up too and
    // log writes fail as well.
    let mut failed = 0;
    for _ in 0..300 {
        let c = officer
            .st
            .create_hukou(PIN, jingwu_core::demo::name_change_form())
            .unwrap();
        cases.push(c.case_id);
        if officer.st.sync(|_, _, _| {}).await.is_err() {
            failed += 1;
            if failed == 30 {
                break;
            }
        }
    }
    assert_eq!(failed, 30, "pushes did not keep failing on a full disk");

    // Space returns: the same process takes pushes and logins again.
    free(fs.dir.path());
    let report = officer.st.sync(|_, _, _| {}).await.unwrap();
    assert!(report.pushed > 0, "{report:?}");
    let mut again = HubClient::new(&url, None).unwrap();
    again.login("admin", PASSWORD, "console").await.unwrap();

    // Low on space: the hub says so, and refuses new uploads with 507
    // and a clear message.
    fill(fs.dir.path());
    let (s, h) = health(&url).await;
    assert_eq!(s, 503, "{h}");
    assert_ne!(h["status"], "ok", "{h}");
    assert_eq!(h["disk"], "low", "{h}");
    // No counts without login.
    assert!(h.get("events").is_none() && h.get("cases").is_none(), "{h}");
    let r = jingwu_station::pin::http_client(None)
        .unwrap()
        .post(format!("{url}/api/uploads"))
        .bearer_auth(admin.token().unwrap())
        .json(&serde_json::json!({"sm3": "a".repeat(64), "size": 1000, "mime": "image/png"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 507);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["code"], "insufficient_storage", "{b}");
    assert!(b["error"].as_str().unwrap().contains("空间"), "{b}");

    free(fs.dir.path());
    let (s, h) = health(&url).await;
    assert_eq!((s, &h["status"]), (200, &serde_json::json!("ok")), "{h}");
    cases.push(officer.apply());
    officer.sync().await;

    // Nothing acknowledged is lost: every event the station holds is on
    // the hub (read after the hub has stopped).
    hub.kill();
    let db = place.open_db();
    let reg = jingwu_hub::server::registry(db.as_ref()).unwrap();
    let hubv = Hub::new(
        db.clone(),
        std::sync::Arc::new(reg),
        jingwu_hub::hub::Limits::default(),
    )
    .unwrap();
    for c in &cases {
        let local = officer.st.store.events(c).unwrap();
        let stored = hubv.signed_events(c).unwrap();
        assert_eq!(local.len(), stored.len(), "case {c}");
        for (a, b) in local.iter().zip(&stored) {
            assert_eq!(a.hash_hex(), b.hash_hex());
        }
    }
    drop(hubv);
    drop(db);
    drop(place);
    drop(fs);
}
