//! The real binaries on loopback over TLS: `jingwu-hub init`, `serve`
//! with its generated certificate, station clients pinning its
//! fingerprint, the complete chain, export-case / verify-case, backup and
//! restore.

use std::process::Command;

use jingwu_core::case::Status;
use jingwu_core::org::Org;

use crate::common::*;
use crate::durability::HubProcess;

fn hub_cmd(place: &HubPlace) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jingwu-hub"));
    c.arg("--data-dir").arg(place.dir.path());
    if let Some(u) = &place.database_url {
        c.arg("--database-url").arg(u);
    }
    c
}

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn real_binaries_over_tls_on_loopback() {
    let place = HubPlace::new(Backend::Sqlite);
    let org = place.dir.path().join("org.json");
    std::fs::write(
        &org,
        serde_json::to_string(Org::leishan_demo().unwrap().data()).unwrap(),
    )
    .unwrap();
    // A weak password is refused; then init works once.
    let out = hub_cmd(&place)
        .args(["init", "--org"])
        .arg(&org)
        .args(["--admin", "admin"])
        .env("JINGWU_ADMIN_PASSWORD", "weak")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("密码"));
    ok(hub_cmd(&place)
        .args(["init", "--org"])
        .arg(&org)
        .args(["--admin", "admin"])
        .env("JINGWU_ADMIN_PASSWORD", PASSWORD)
        .env("JINGWU_ADMIN_PIN", "Admin-PIN-2468")
        .output()
        .unwrap());
    let again = hub_cmd(&place)
        .args(["init", "--org"])
        .arg(&org)
        .args(["--admin", "admin"])
        .env("JINGWU_ADMIN_PASSWORD", PASSWORD)
        .env("JINGWU_ADMIN_PIN", "Admin-PIN-2468")
        .output()
        .unwrap();
    assert!(!again.status.success(), "init twice must fail");

    // Plain HTTP on a public address is refused.
    let out = hub_cmd(&place)
        .args(["serve", "--listen", "0.0.0.0:0", "--insecure-http"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("回环"));

    let hub = HubProcess::start(&place, true);
    assert!(hub.url.starts_with("https://"));
    let fp = hub.fingerprint.clone().unwrap();
    assert_eq!(fp.len(), 64);

    // Accounts through the admin API, over the pinned TLS connection.
    let mut admin = jingwu_station::client::HubClient::new(&hub.url, Some(&fp)).unwrap();
    admin.login("admin", PASSWORD, "console").await.unwrap();
    for p in [OFFICER, CHIEF, SECTION, DEPUTY] {
        admin.create_user(p, PASSWORD, false).await.unwrap();
    }

    // A wrong pin is refused before any password is sent.
    let mut wrong =
        jingwu_station::client::HubClient::new(&hub.url, Some(&"00".repeat(32))).unwrap();
    let e = wrong.login(OFFICER, PASSWORD, "d").await.unwrap_err();
    assert!(e.to_string().contains("证书指纹不符"), "{e}");

    let enrol = |person: &'static str| {
        let url = hub.url.clone();
        let fp = fp.clone();
        async move {
            let dir = tempfile::tempdir().unwrap();
            let mut st = jingwu_station::station::Station::open(
                dir.path(),
                jingwu_core::registry::Registry::builtin_demo().unwrap(),
            )
            .unwrap();
            st.enrol(
                &url,
                Some(&fp),
                person,
                PASSWORD,
                PIN,
                "回环测试",
                jingwu_core::crypto::KdfParams::TEST_ONLY,
            )
            .await
            .unwrap();
            (st, dir)
        }
    };
    let (mut officer, _d1) = enrol(OFFICER).await;
    let (mut chief, _d2) = enrol(CHIEF).await;
    let (mut section, _d3) = enrol(SECTION).await;
    let (mut deputy, _d4) = enrol(DEPUTY).await;
    for e in admin.enrolments(Some("pending")).await.unwrap() {
        admin.decide_enrolment(&e.id, "approve").await.unwrap();
    }

    let s = officer
        .create_hukou(PIN, jingwu_core::demo::name_change_form())
        .unwrap();
    let case = s.case_id;
    officer
        .attach(PIN, case, "scans", &scan_file(officer.data_dir()))
        .unwrap();
    officer.submit(PIN, case).unwrap();
    officer.sync(|_, _, _| {}).await.unwrap();
    for st in [&mut chief, &mut section, &mut deputy] {
        st.sync(|_, _, _| {}).await.unwrap();
        st.decide(PIN, case, jingwu_core::event::Decision::Agree, "同意。")
            .unwrap();
        st.sync(|_, _, _| {}).await.unwrap();
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    officer
        .follow(None, |s| {
            let _ = tx.send(s.status);
            s.status != Status::Approved
        })
        .await
        .unwrap();
    let mut last = None;
    while let Ok(s) = rx.try_recv() {
        last = Some(s);
    }
    assert_eq!(last, Some(Status::Approved));

    // Evidence bundle through the CLI, checked by the CLI.
    let bundle = place.dir.path().join("bundle.json");
    ok(hub_cmd(&place)
        .args(["export-case", &case.to_string(), "--out"])
        .arg(&bundle)
        .output()
        .unwrap());
    let out = ok(Command::new(env!("CARGO_BIN_EXE_jingwu-hub"))
        .arg("verify-case")
        .arg(&bundle)
        .output()
        .unwrap());
    assert!(out.contains("证据包有效"), "{out}");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    let sig = json["events"][3]["signature_b64"]
        .as_str()
        .unwrap()
        .to_string();
    let mut raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &sig).unwrap();
    let n = raw.len() - 2;
    raw[n] ^= 1;
    json["events"][3]["signature_b64"] =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &raw).into();
    std::fs::write(&bundle, serde_json::to_string(&json).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_jingwu-hub"))
        .arg("verify-case")
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("第 3 个事件"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Online backup while the hub serves; restore into a new place.
    let backup = place.dir.path().join("backup.db");
    ok(hub_cmd(&place)
        .args(["backup", "--out"])
        .arg(&backup)
        .output()
        .unwrap());
    let other = HubPlace::new(Backend::Sqlite);
    ok(hub_cmd(&other)
        .args(["restore", "--from"])
        .arg(&backup)
        .output()
        .unwrap());
    let db = other.open_db();
    assert_eq!(db.counts().unwrap(), place.open_db().counts().unwrap());
    assert_eq!(db.case_events(&case).unwrap().len(), 6);
    drop(hub);
}

/// `scripts/hub-demo.sh` — the county half of the README's main command —
/// with this build's binaries: `jingwu-hub demo`, TLS on loopback, four
/// headless station clients through the whole chain, the result live,
/// the slip, the bundle checked by the hub and by OpenSSL alone.
#[test]
fn the_county_demo_script_runs_end_to_end() {
    let hub_bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_jingwu-hub"));
    let bin_dir = hub_bin.parent().unwrap();
    assert!(
        bin_dir.join("jingwu-station").exists(),
        "jingwu-station is not built next to jingwu-hub; build the workspace first"
    );
    let work = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg(root.join("scripts/hub-demo.sh"))
        .arg(work.path())
        .env("BIN", bin_dir)
        .env("JINGWU_DEMO_KDF", "test")
        .output()
        .unwrap();
    let stdout = ok(out);
    for want in [
        "实时通道收到",
        "已同意",
        "SM2 签名有效",
        "证据包有效",
        "证据包校验通过",
        "演示完成",
        "已登记印章",
        "个人名章",
    ] {
        assert!(stdout.contains(want), "missing {want} in:\n{stdout}");
    }
    // The slip carries the registered seals, none drawn from a name.
    let slip = work.path().join("slip.pdf");
    let text = ok(Command::new("pdftotext")
        .arg("-layout")
        .arg(&slip)
        .arg("-")
        .output()
        .unwrap());
    assert!(text.contains("单位印章编码 522634000000-"), "{text}");
    assert!(!text.contains("未登记印章"), "{text}");
}
