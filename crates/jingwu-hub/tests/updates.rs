//! Updates of the desktop app: an administrator uploads signed packages
//! (command line and the admin gate), the hub refuses downgrades and bad
//! input, and enrolled stations read the updater's manifest (the newest
//! version above theirs, or 204) and download the package.

use std::process::Command;

use base64::Engine as _;
use jingwu_hub::admin::Admin;
use jingwu_hub::updates::UpdateUpload;

use crate::common::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A file that starts like a .deb (the hub checks the first bytes).
fn deb(tag: &str) -> Vec<u8> {
    let mut v =
        b"!<arch>\ndebian-binary   1733300000  0     0     100644  4         `\n2.0\n".to_vec();
    v.extend_from_slice(tag.as_bytes());
    v
}

/// The `.sig` text `tauri signer sign` writes: base64 of the minisign
/// signature.
fn sign(kp: &minisign::KeyPair, data: &[u8]) -> String {
    let sig = minisign::sign(
        None,
        &kp.sk,
        std::io::Cursor::new(data),
        Some("景务 test"),
        None,
    )
    .unwrap();
    B64.encode(sig.into_string())
}

fn upload(platform: &str, version: &str, sig: &str, name: &str, package: Vec<u8>) -> UpdateUpload {
    UpdateUpload {
        platform: platform.into(),
        version: version.into(),
        notes: "修正了打印审批单时的字体问题".into(),
        signature: sig.into(),
        file_name: name.into(),
        package,
    }
}

fn hub_cmd(place: &HubPlace) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jingwu-hub"));
    c.arg("--data-dir").arg(place.dir.path());
    if let Some(u) = &place.database_url {
        c.arg("--database-url").arg(u);
    }
    c
}

async fn get(url: &str, token: Option<&str>) -> reqwest::Response {
    let http = jingwu_station::pin::http_client(None).unwrap();
    let mut rb = http.get(url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    rb.send().await.unwrap()
}

async fn code_of(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap();
    (
        status,
        v["code"].as_str().unwrap_or_default().to_string(),
        v["error"].as_str().unwrap_or_default().to_string(),
    )
}

async fn uploads_manifests_and_refusals(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER]);
    let hub = RunningHub::start(&place).await;
    let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Version 1.0.0 through the command line, the .sig found beside the
    // package.
    let v1 = deb("version 1.0.0");
    let p1 = dir.path().join("Jingwu_1.0.0_amd64.deb");
    std::fs::write(&p1, &v1).unwrap();
    std::fs::write(
        dir.path().join("Jingwu_1.0.0_amd64.deb.sig"),
        sign(&kp, &v1),
    )
    .unwrap();
    let out = hub_cmd(&place)
        .args([
            "admin",
            "update",
            "upload",
            "--as",
            "admin",
            "--version",
            "1.0.0",
        ])
        .args(["--platform", "linux-x86_64-deb", "--notes", "第一版"])
        .arg(&p1)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("已上传 linux-x86_64-deb 的更新 1.0.0"),
        "{text}"
    );

    // 1.1.0 through the gate the browser console would use too.
    let db = place.open_db();
    let admin = Admin::by_account(db.as_ref(), "admin").unwrap();
    let v2 = deb("version 1.1.0");
    let sig2 = sign(&kp, &v2);
    let row = admin
        .upload_update(&upload(
            "linux-x86_64-deb",
            "1.1.0",
            &sig2,
            "Jingwu_1.1.0_amd64.deb",
            v2.clone(),
        ))
        .unwrap();
    assert_eq!(row.version, "1.1.0");

    // Downgrades and repeats are refused, in Chinese, on the command line
    // and through the gate.
    let p0 = dir.path().join("Jingwu_0.9.0_amd64.deb");
    std::fs::write(&p0, &v1).unwrap();
    std::fs::write(dir.path().join("old.sig"), sign(&kp, &v1)).unwrap();
    let out = hub_cmd(&place)
        .args([
            "admin",
            "update",
            "upload",
            "--version",
            "0.9.0",
            "--platform",
            "linux-x86_64-deb",
        ])
        .args(["--notes", "旧版"])
        .arg("--signature")
        .arg(dir.path().join("old.sig"))
        .arg(&p0)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("已有版本 1.1.0") && err.contains("不能降级"),
        "{err}"
    );
    for v in ["1.1.0", "1.0.5", "1.1.0-rc.1"] {
        let e = admin
            .upload_update(&upload("linux-x86_64-deb", v, &sig2, "J.deb", v2.clone()))
            .unwrap_err();
        assert_eq!(e.code(), &ErrorCode::UpdateNotNewer, "{v}");
        assert_eq!(e.status.as_u16(), 409);
    }
    // Another platform has versions of its own.
    let exe = b"MZ\x90\x00 a windows installer".to_vec();
    admin
        .upload_update(&upload(
            "windows-x86_64-nsis",
            "1.0.5",
            &sign(&kp, &exe),
            "Jingwu_1.0.5_x64-setup.exe",
            exe.clone(),
        ))
        .unwrap();
    // For builds that do not say their installer: the system and
    // architecture's own key.
    let generic = deb("generic");
    admin
        .upload_update(&upload(
            "linux-x86_64",
            "0.9.0",
            &sign(&kp, &generic),
            "J.deb",
            generic.clone(),
        ))
        .unwrap();

    // Bad input, each refused with a message saying what is wrong.
    let cases: Vec<(UpdateUpload, ErrorCode, &str)> = vec![
        (
            upload("linux-amd64-deb", "2.0.0", &sig2, "J.deb", v2.clone()),
            ErrorCode::BadArguments,
            "平台",
        ),
        (
            upload("windows-x86_64-deb", "2.0.0", &sig2, "J.deb", v2.clone()),
            ErrorCode::BadArguments,
            "只用于 linux",
        ),
        (
            upload("linux-x86_64-deb", "v2.0.0", &sig2, "J.deb", v2.clone()),
            ErrorCode::BadArguments,
            "版本号",
        ),
        (
            upload("linux-x86_64-deb", "2.0", &sig2, "J.deb", v2.clone()),
            ErrorCode::BadArguments,
            "版本号",
        ),
        (
            upload(
                "linux-x86_64-deb",
                "2.0.0",
                "bm90IGEgc2lnbmF0dXJl",
                "J.deb",
                v2.clone(),
            ),
            ErrorCode::BadArguments,
            "签名文件",
        ),
        (
            upload("linux-x86_64-deb", "2.0.0", "", "J.deb", v2.clone()),
            ErrorCode::BadArguments,
            "签名文件",
        ),
        (
            upload("linux-x86_64-deb", "2.0.0", &sig2, "J.exe", exe.clone()),
            ErrorCode::TypeMismatch,
            ".deb",
        ),
        (
            upload("linux-x86_64-deb", "2.0.0", &sig2, "J.deb", exe.clone()),
            ErrorCode::TypeMismatch,
            ".deb",
        ),
        (
            upload("linux-x86_64-deb", "2.0.0", &sig2, "J.deb", Vec::new()),
            ErrorCode::EmptyUpload,
            "空文件",
        ),
        (
            UpdateUpload {
                notes: "  ".into(),
                ..upload("linux-x86_64-deb", "2.0.0", &sig2, "J.deb", v2.clone())
            },
            ErrorCode::BadArguments,
            "更新说明",
        ),
    ];
    for (u, code, word) in cases {
        let e = admin.upload_update(&u).unwrap_err();
        assert_eq!(e.code(), &code, "{u:?}");
        assert!(e.body.error.contains(word), "{}: {}", word, e.body.error);
    }
    // Only an administrator passes the gate.
    assert!(Admin::by_account(db.as_ref(), OFFICER).is_err());
    assert_eq!(admin.updates().unwrap().len(), 4);

    // An enrolled, approved station asks.
    let officer = Client::enrol(&hub.url, OFFICER).await;
    let manifest_of = |version: &str, bundle: &str| {
        format!(
            "{}/api/updates/linux/x86_64/{version}?bundle={bundle}",
            hub.url
        )
    };
    let token = officer.st.client().unwrap().token().unwrap().to_string();
    // Not yet approved: no updates.
    let (status, code, msg) = code_of(get(&manifest_of("1.0.0", "deb"), Some(&token)).await).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "device_not_enrolled"),
        "{msg}"
    );
    hub.approve_all().await;

    let r = get(&manifest_of("1.0.0", "deb"), Some(&token)).await;
    assert_eq!(r.status().as_u16(), 200);
    let m: jingwu_proto::UpdateManifest = r.json().await.unwrap();
    assert_eq!(m.version, "1.1.0");
    assert_eq!(m.notes, "修正了打印审批单时的字体问题");
    assert_eq!(m.signature, sig2);
    assert!(time::OffsetDateTime::parse(
        &m.pub_date,
        &time::format_description::well_known::Rfc3339
    )
    .is_ok());
    assert_eq!(m.url, format!("{}/api/updates/file/{}", hub.url, row.id));
    // The package, and its signature checks with the public key.
    let got = get(&m.url, Some(&token)).await;
    assert_eq!(got.status().as_u16(), 200);
    let bytes = got.bytes().await.unwrap().to_vec();
    assert_eq!(bytes, v2);
    let sig_box = minisign::SignatureBox::from_string(
        &String::from_utf8(B64.decode(&m.signature).unwrap()).unwrap(),
    )
    .unwrap();
    minisign::verify(
        &kp.pk,
        &sig_box,
        std::io::Cursor::new(&bytes),
        true,
        false,
        false,
    )
    .unwrap();

    // Up to date, or newer than the hub knows: nothing.
    for v in ["1.1.0", "1.2.0", "2.0.0-beta.1"] {
        let r = get(&manifest_of(v, "deb"), Some(&token)).await;
        assert_eq!(r.status().as_u16(), 204, "{v}");
    }
    // An older pre-release of 1.1.0 is offered 1.1.0.
    assert_eq!(
        get(&manifest_of("1.1.0-rc.1", "deb"), Some(&token))
            .await
            .status()
            .as_u16(),
        200
    );
    // A build without its installer's name gets the generic key's.
    let r = get(&manifest_of("0.1.0", "unknown"), Some(&token)).await;
    let m: jingwu_proto::UpdateManifest = r.json().await.unwrap();
    assert_eq!(m.version, "0.9.0");
    assert_eq!(
        get(&manifest_of("0.9.0", "unknown"), Some(&token))
            .await
            .status()
            .as_u16(),
        204
    );
    // Windows asks for its own.
    let r = get(
        &format!("{}/api/updates/windows/x86_64/1.0.0?bundle=nsis", hub.url),
        Some(&token),
    )
    .await;
    let m: jingwu_proto::UpdateManifest = r.json().await.unwrap();
    assert_eq!(m.version, "1.0.5");
    assert_eq!(
        get(&m.url, Some(&token))
            .await
            .bytes()
            .await
            .unwrap()
            .to_vec(),
        exe
    );

    // Refusals: no session, a session not on an enrolled device (the
    // admin console's), a version that is not one, an unknown package.
    let (status, code, _) = code_of(get(&manifest_of("1.0.0", "deb"), None).await).await;
    assert_eq!((status, code.as_str()), (401, "unauthorized"));
    let (status, _, _) = code_of(get(&m.url, None).await).await;
    assert_eq!(status, 401);
    let admin_client = hub.admin().await;
    let admin_token = admin_client.token().unwrap();
    let (status, code, _) =
        code_of(get(&manifest_of("1.0.0", "deb"), Some(admin_token)).await).await;
    assert_eq!((status, code.as_str()), (403, "device_not_enrolled"));
    let (status, code, _) = code_of(get(&m.url, Some(admin_token)).await).await;
    assert_eq!((status, code.as_str()), (403, "device_not_enrolled"));
    let (status, code, msg) = code_of(get(&manifest_of("one", "deb"), Some(&token)).await).await;
    assert_eq!((status, code.as_str()), (400, "bad_arguments"));
    assert!(msg.contains("版本号"), "{msg}");
    let (status, code, _) =
        code_of(get(&format!("{}/api/updates/file/nope", hub.url), Some(&token)).await).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));

    // The CLI lists them.
    let out = hub_cmd(&place)
        .args(["admin", "update", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("linux-x86_64-deb\t1.1.0") && text.contains("windows-x86_64-nsis\t1.0.5"),
        "{text}"
    );
    hub.stop().await;
}

crate::both_backends!(
    uploads_manifests_and_refusals_on,
    uploads_manifests_and_refusals
);
