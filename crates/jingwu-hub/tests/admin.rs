//! The administration console's hub side (`jingwu_hub::admin`, the
//! browser's `admin_*` commands): only administrators pass the gate;
//! disabling an account, resetting its password and ending its sessions
//! sign it out at once; a revoked device's key signs nothing new; 30
//! people imported from xlsx — with 2 bad rows exactly those 2 errors and
//! nothing changed, then fixed: a new published registry version with
//! them and their accounts.

use jingwu_core::crypto::Signer as _;
use jingwu_core::published::RegistryDoc;
use jingwu_hub::admin::{plan_people, Admin};
use serde_json::json;

use crate::common::*;

pub const ADMIN_PIN: &str = "Admin-PIN-2468";
pub const INITIAL_PASSWORD: &str = "Start-Passw0rd-1";
/// The new people: 052701 … 052730.
pub const FIRST_NEW: u32 = 52701;
pub const NEW_PEOPLE: u32 = 30;

const STATIONS: [&str; 4] = [
    "522634510000",
    "522634520000",
    "522634530000",
    "522634550000",
];

/// The import sheet: 30 new people in 31 rows (052701 holds two posts;
/// 052702 is a 副局长 分管 two stations). `bad`: row 6 names a unit
/// that does not exist and row 10 a 警号 with a letter.
pub fn people_xlsx(bad: bool) -> Vec<u8> {
    let mut rows: Vec<[String; 5]> = Vec::new();
    for n in 0..NEW_PEOPLE {
        let id = format!("0{}", FIRST_NEW + n);
        let name = format!("新警{:02}", n + 1);
        let unit = STATIONS[(n as usize) % STATIONS.len()].to_string();
        match n {
            0 => {
                rows.push([
                    id.clone(),
                    name.clone(),
                    unit.clone(),
                    "民警".into(),
                    String::new(),
                ]);
                rows.push([id, name, unit, "户籍民警".into(), String::new()]);
            }
            1 => rows.push([
                id,
                name,
                "522634000000".into(),
                "副局长".into(),
                format!("{};{}", STATIONS[0], STATIONS[1]),
            ]),
            _ => rows.push([id, name, unit, "民警".into(), String::new()]),
        }
    }
    if bad {
        rows[4][2] = "522634999999".into();
        rows[8][0] = "05270A".into();
    }
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, head) in ["警号", "姓名", "单位代码", "职务", "分管单位代码"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *head).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, v).unwrap();
        }
    }
    wb.save_to_buffer().unwrap()
}

fn new_ids() -> Vec<String> {
    (0..NEW_PEOPLE)
        .map(|n| format!("0{}", FIRST_NEW + n))
        .collect()
}

async fn refused(b: &Browser, command: &str, args: serde_json::Value) -> (u16, String) {
    let (status, body) = b.call(command, args).await;
    assert_ne!(status, 200, "{command} should be refused: {body}");
    (
        status,
        body["code"].as_str().unwrap_or_default().to_string(),
    )
}

async fn console(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, CHIEF]);
    let running = RunningHub::start(&place).await;
    let url = running.url.clone();
    let admin = Browser::login(&url, "admin").await;

    // The gate: a non-administrator is refused every admin command.
    let officer = Browser::login(&url, OFFICER).await;
    for (cmd, args) in [
        ("admin_users", json!({})),
        (
            "admin_user_create",
            json!({"person": "x1", "password": PASSWORD}),
        ),
        ("admin_end_sessions", json!({"person": CHIEF})),
        ("admin_devices", json!({})),
        ("admin_registry", json!({})),
        (
            "admin_import_people",
            json!({"dataB64": "", "dryRun": true}),
        ),
    ] {
        let (status, code) = refused(&officer, cmd, args).await;
        assert_eq!((status, code.as_str()), (403, "not_admin"), "{cmd}");
    }
    assert!(Admin::by_account(running.hub.db.as_ref(), OFFICER).is_err());
    assert!(Admin::by_account(running.hub.db.as_ref(), "admin").is_ok());

    // Accounts: create, listed with the org's name.
    admin
        .ok(
            "admin_user_create",
            json!({"person": "052699", "password": PASSWORD}),
        )
        .await;
    let users = admin.ok("admin_users", json!({})).await;
    let chief = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["person"] == CHIEF)
        .unwrap();
    assert_eq!(chief["disabled"], false);
    assert!(chief["name"].is_string());
    assert!(users
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["person"] == "052699"));

    // Disable: the session ends at once, no new login; enable: back.
    let chief_b = Browser::login(&url, CHIEF).await;
    chief_b.ok("status", json!({})).await;
    let r = admin
        .ok("admin_user_disable", json!({"person": CHIEF}))
        .await;
    assert_eq!(r["ended"], 1);
    assert_ne!(chief_b.call("status", json!({})).await.0, 200);
    let login = running.hub.login(CHIEF, PASSWORD, None);
    assert_eq!(login.unwrap_err().code(), &ErrorCode::Disabled);
    let (_, code) = refused(&admin, "admin_user_disable", json!({"person": "admin"})).await;
    assert_eq!(
        code, "bad_person",
        "an administrator cannot disable themself"
    );
    admin
        .ok("admin_user_enable", json!({"person": CHIEF}))
        .await;
    let chief_b = Browser::login(&url, CHIEF).await;

    // End sessions.
    let r = admin
        .ok("admin_end_sessions", json!({"person": CHIEF}))
        .await;
    assert_eq!(r["ended"], 1);
    assert_ne!(chief_b.call("status", json!({})).await.0, 200);

    // Devices: the station's enrolment is listed with its key's
    // fingerprint; approved, it signs; revoked, its key is no longer one.
    let client = Client::enrol(&url, OFFICER).await;
    let fp = client.signing_key().public_key().fingerprint();
    let pending = admin
        .ok("admin_devices", json!({"status": "pending"}))
        .await;
    let e = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["person"] == OFFICER)
        .unwrap()
        .clone();
    assert_eq!(e["fingerprint"], fp.as_str());
    let id = e["id"].as_str().unwrap();
    let r = admin
        .ok(
            "admin_device_decide",
            json!({"id": id, "decision": "approve"}),
        )
        .await;
    assert_eq!(r["status"], "approved");
    assert!(running.hub.key(OFFICER, &fp).unwrap().is_some());
    let (_, code) = refused(
        &admin,
        "admin_device_decide",
        json!({"id": id, "decision": "reject"}),
    )
    .await;
    assert_eq!(code, "enrolment_state");
    let r = admin
        .ok(
            "admin_device_decide",
            json!({"id": id, "decision": "revoke"}),
        )
        .await;
    assert_eq!(r["status"], "revoked");
    assert!(running.hub.key(OFFICER, &fp).unwrap().is_none());
    // Kept on record (old events must verify), listed as revoked.
    let all = admin.ok("admin_devices", json!({})).await;
    assert!(all
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["id"] == id && e["status"] == "revoked" && e["pem"].is_string()));

    // Reset password: old sessions end, the new password logs in.
    let officer_again = Browser::login(&url, OFFICER).await;
    let r = admin
        .ok(
            "admin_reset_password",
            json!({"person": OFFICER, "password": "New-Passw0rd-9"}),
        )
        .await;
    assert!(r["ended"].as_u64().unwrap() >= 1);
    assert_ne!(officer_again.call("status", json!({})).await.0, 200);
    assert!(running.hub.login(OFFICER, PASSWORD, None).is_err());
    assert!(running.hub.login(OFFICER, "New-Passw0rd-9", None).is_ok());
    let (_, code) = refused(
        &admin,
        "admin_reset_password",
        json!({"person": OFFICER, "password": "short"}),
    )
    .await;
    assert_eq!(code, "weak_password");

    // Import: 2 bad rows → exactly those 2 errors, nothing changed.
    let b64 = |bytes: Vec<u8>| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let before = running.hub.reg().org.data().people.len();
    let versions = admin.ok("admin_registry", json!({})).await;
    assert_eq!(versions.as_array().unwrap().len(), 1);
    let r = admin
        .ok(
            "admin_import_people",
            json!({"dataB64": b64(people_xlsx(true)), "pin": ADMIN_PIN, "password": INITIAL_PASSWORD}),
        )
        .await;
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{r}");
    assert_eq!(
        (
            errors[0]["row"].as_u64(),
            errors[0]["column"].as_str(),
            errors[0]["value"].as_str()
        ),
        (Some(6), Some("单位代码"), Some("522634999999"))
    );
    assert_eq!(
        (
            errors[1]["row"].as_u64(),
            errors[1]["column"].as_str(),
            errors[1]["value"].as_str()
        ),
        (Some(10), Some("警号"), Some("05270A"))
    );
    assert!(r["version"].is_null());
    assert_eq!(running.hub.reg().org.data().people.len(), before);
    assert_eq!(
        jingwu_hub::publish::latest_version(running.hub.db.as_ref()).unwrap(),
        1
    );
    for id in new_ids() {
        assert!(running.hub.db.user(&id).unwrap().is_none());
    }

    // A wrong PIN: nothing imported either.
    let (_, code) = refused(
        &admin,
        "admin_import_people",
        json!({"dataB64": b64(people_xlsx(false)), "pin": "Wrong-PIN-1357", "password": INITIAL_PASSWORD}),
    )
    .await;
    assert_eq!(code, "invalid");
    assert_eq!(
        jingwu_hub::publish::latest_version(running.hub.db.as_ref()).unwrap(),
        1
    );

    // Fixed: checked clean, then imported as version 2 with accounts.
    let check = admin
        .ok(
            "admin_import_people",
            json!({"dataB64": b64(people_xlsx(false)), "dryRun": true}),
        )
        .await;
    assert_eq!(check["errors"].as_array().unwrap().len(), 0, "{check}");
    assert_eq!(
        (check["rows"].as_u64(), check["people"].as_u64()),
        (Some(31), Some(30))
    );
    assert!(check["version"].is_null());
    let r = admin
        .ok(
            "admin_import_people",
            json!({"dataB64": b64(people_xlsx(false)), "pin": ADMIN_PIN, "password": INITIAL_PASSWORD}),
        )
        .await;
    assert_eq!(r["errors"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(r["version"], 2);
    assert_eq!(r["added"].as_array().unwrap().len(), 30);
    assert_eq!(r["accounts_created"].as_array().unwrap().len(), 30);
    let chain = jingwu_hub::publish::chain(running.hub.db.as_ref()).unwrap();
    assert_eq!(chain.len(), 2);
    let doc: RegistryDoc = serde_json::from_str(&chain[1].doc).unwrap();
    assert_eq!(doc.org.people.len(), before + 30);
    assert_eq!(doc.publisher, "admin");
    let org = &running.hub.reg().org;
    for id in new_ids() {
        assert!(org.person(&id).is_some(), "{id} in the hub's rules");
        assert!(running.hub.db.user(&id).unwrap().is_some(), "{id} account");
    }
    assert_eq!(org.person("052701").unwrap().posts.len(), 2);
    assert!(doc
        .org
        .in_charge
        .iter()
        .any(|c| c.person == "052702" && c.unit == STATIONS[1]));
    assert!(running.hub.login("052705", INITIAL_PASSWORD, None).is_ok());
    let versions = admin.ok("admin_registry", json!({})).await;
    assert_eq!(versions[0]["version"], 2);
    assert_eq!(versions[0]["people"].as_u64(), Some(before as u64 + 30));

    // 规则数据: a new workflow version, published from its JSON.
    let reg = running.hub.reg();
    let mut wf = reg.workflows().next().unwrap().clone();
    let id = wf.id.clone();
    wf.version = reg.workflow_latest(&id).unwrap().version + 1;
    wf.name = format!("{}（调整）", wf.name);
    let next = wf.version;
    let text = serde_json::to_string(&vec![wf.clone()]).unwrap();
    let chief_b = Browser::login(&url, CHIEF).await;
    let (_, code) = refused(
        &chief_b,
        "admin_publish",
        json!({"kind": "workflows", "json": text, "pin": ADMIN_PIN}),
    )
    .await;
    assert_eq!(code, "not_admin");
    let (_, code) = refused(
        &admin,
        "admin_publish",
        json!({"kind": "workflows", "json": "[{", "pin": ADMIN_PIN}),
    )
    .await;
    assert_eq!(code, "bad_arguments");
    let v = admin
        .ok(
            "admin_publish",
            json!({"kind": "workflows", "json": text, "note": "流程调整", "pin": ADMIN_PIN}),
        )
        .await;
    assert_eq!(
        (v["version"].as_u64(), v["note"].as_str()),
        (Some(3), Some("流程调整"))
    );
    assert_eq!(
        running.hub.reg().workflow_latest(&id).unwrap().version,
        next
    );
    // A published workflow version is immutable: the same again is refused.
    let (_, code) = refused(
        &admin,
        "admin_publish",
        json!({"kind": "workflows", "json": text, "pin": ADMIN_PIN}),
    )
    .await;
    assert_eq!(code, "bad_arguments");
    // An org that does not hold together is refused by the check.
    let mut org = running.hub.reg().org.data().clone();
    org.people[0].posts[0].unit = "522634999999".into();
    let (_, code) = refused(
        &admin,
        "admin_publish",
        json!({"kind": "org", "json": serde_json::to_string(&org).unwrap(), "pin": ADMIN_PIN}),
    )
    .await;
    assert_eq!(code, "invalid");
    assert_eq!(
        jingwu_hub::publish::latest_version(running.hub.db.as_ref()).unwrap(),
        3
    );

    running.stop().await;
}

crate::both_backends!(admin_console, console);

/// Row checks beyond the two above, on the org alone.
#[test]
fn row_errors_name_row_column_and_value() {
    let org = jingwu_core::org::Org::leishan_demo().unwrap();
    let row = |v: [&str; 4]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let rows = vec![
        row(["警号", "姓名", "单位代码", "职务"]),
        row(["052801", "甲", "522634510000", "民警"]),
        row(["052801", "乙", "522634510000", "户籍民警"]),
        row(["052802", "丙", "522634510000", "厨师"]),
        row(["052601", "别人", "522634510000", "民警"]),
        row(["052803", "丁", "522634510000", "民警"]),
        row(["052803", "丁", "522634510000", "民警"]),
        row(["", "", "", ""]),
    ];
    let (r, plan) = plan_people(org.data(), &rows);
    assert!(plan.is_none(), "errors expected");
    let got: Vec<(usize, &str)> = r
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(3, "姓名"), (4, "职务"), (5, "姓名"), (7, "职务")],
        "{:?}",
        r.errors
    );
    assert_eq!(r.rows, 6, "the blank row is skipped");
    // A missing column is named.
    let (r, plan) = plan_people(org.data(), &[row(["警号", "姓名", "单位", "职务"])]);
    assert!(plan.is_none(), "errors expected");
    assert_eq!(r.errors[0].column, "单位代码");
}

/// `jingwu-hub admin …`: the same actions from the hub's command line.
#[test]
fn command_line() {
    let place = HubPlace::new(Backend::Sqlite);
    place.init(&[OFFICER]);
    let dir = place.dir.path();
    let bad = dir.join("bad.xlsx");
    let good = dir.join("good.xlsx");
    std::fs::write(&bad, people_xlsx(true)).unwrap();
    std::fs::write(&good, people_xlsx(false)).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_jingwu-hub"))
            .arg("--data-dir")
            .arg(dir)
            .arg("admin")
            .args(args)
            .env("JINGWU_PIN", ADMIN_PIN)
            .env("JINGWU_PASSWORD", INITIAL_PASSWORD)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Only an administrator account may act.
    let (ok, _, err) = run(&["user", "list", "--as", OFFICER]);
    assert!(!ok && err.contains("不是有效的系统管理员"), "{err}");
    // Row errors printed, nothing imported.
    let (ok, out, err) = run(&["import-people", bad.to_str().unwrap(), "--as", "admin"]);
    assert!(!ok, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("第 ")).count(),
        2,
        "{out}"
    );
    assert!(out.contains("第 6 行 单位代码“522634999999”"), "{out}");
    assert!(out.contains("第 10 行 警号“05270A”"), "{out}");
    assert!(err.contains("未导入任何人员"), "{err}");
    let db = place.open_db();
    assert_eq!(jingwu_hub::publish::latest_version(db.as_ref()).unwrap(), 1);
    // --dry-run only checks.
    let (ok, out, _) = run(&[
        "import-people",
        good.to_str().unwrap(),
        "--as",
        "admin",
        "--dry-run",
    ]);
    assert!(ok && out.contains("检查通过：31 行，30 人"), "{out}");
    assert_eq!(jingwu_hub::publish::latest_version(db.as_ref()).unwrap(), 1);
    let (ok, out, err) = run(&["import-people", good.to_str().unwrap(), "--as", "admin"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("已导入并发布规则数据第 2 版；新建账号 30 个"),
        "{out}"
    );
    assert!(db.user("052730").unwrap().is_some());
    // Accounts.
    let (ok, out, _) = run(&["user", "disable", "052730", "--as", "admin"]);
    assert!(ok, "{out}");
    assert!(db.user("052730").unwrap().unwrap().disabled);
    let (ok, _, _) = run(&["user", "enable", "052730", "--as", "admin"]);
    assert!(ok && !db.user("052730").unwrap().unwrap().disabled);
    let (ok, out, _) = run(&["user", "list", "--as", "admin"]);
    assert!(ok && out.contains("052730\t新警30\t用户"), "{out}");
    let (ok, _, _) = run(&["user", "reset-password", OFFICER, "--as", "admin"]);
    assert!(ok);
    let (ok, _, _) = run(&["user", "end-sessions", OFFICER, "--as", "admin"]);
    assert!(ok);
    let (ok, out, _) = run(&["device", "list", "--as", "admin"]);
    assert!(ok, "{out}");
    let (ok, _, err) = run(&["device", "approve", "no-such-id", "--as", "admin"]);
    assert!(!ok && err.contains("没有该设备登记"), "{err}");
}
