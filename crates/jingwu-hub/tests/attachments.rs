//! Chunked, resumable, content-addressed attachments.

use jingwu_core::crypto::sm3_hex;
use jingwu_hub::hub::Limits;
use jingwu_station::client::HubClient;

use crate::common::*;

async fn put(
    url: &str,
    token: &str,
    sm3: &str,
    offset: usize,
    data: &[u8],
) -> (u16, serde_json::Value) {
    let r = jingwu_station::pin::http_client(None)
        .unwrap()
        .put(format!("{url}/api/uploads/{sm3}?offset={offset}"))
        .bearer_auth(token)
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(serde_json::Value::Null))
}

async fn begin(
    url: &str,
    token: &str,
    sm3: &str,
    size: usize,
    mime: &str,
) -> (u16, serde_json::Value) {
    let r = jingwu_station::pin::http_client(None)
        .unwrap()
        .post(format!("{url}/api/uploads"))
        .bearer_auth(token)
        .json(&serde_json::json!({"sm3": sm3, "size": size, "mime": mime}))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(serde_json::Value::Null))
}

async fn uploads(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER]);
    let limits = Limits {
        max_upload_bytes: 3 * 1024 * 1024,
        ..Limits::default()
    };
    let hub = RunningHub::start_with(&place, limits).await;
    let mut c = HubClient::new(&hub.url, None).unwrap();
    c.login(OFFICER, PASSWORD, "d").await.unwrap();
    let token = c.token().unwrap().to_string();
    let url = hub.url.clone();

    // A 1.2 MB "scan" (PNG signature + filler) goes up in chunks.
    let mut file = png_bytes(1);
    file.resize(1_200_000, 7);
    let sm3 = sm3_hex(&file);
    let mut progress = Vec::new();
    c.upload(&sm3, "image/png", &file, |d, t| progress.push((d, t)))
        .await
        .unwrap();
    assert_eq!(progress.last(), Some(&(1_200_000, 1_200_000)));
    assert!(progress.len() >= 3, "{progress:?}");
    assert_eq!(c.download(&sm3).await.unwrap(), file);
    // Ranged download resumes.
    let r = jingwu_station::pin::http_client(None)
        .unwrap()
        .get(format!("{url}/api/attachments/{sm3}"))
        .bearer_auth(&token)
        .header("range", "bytes=1000000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &file[1_000_000..]);
    // Uploading it again is instant: the hub has it.
    let (s, b) = begin(&url, &token, &sm3, file.len(), "image/png").await;
    assert_eq!((s, b["complete"].as_bool()), (200, Some(true)));

    // Resumable: upload half, "lose the connection", resume from status.
    let mut f2 = png_bytes(2);
    f2.resize(600_000, 9);
    let h2 = sm3_hex(&f2);
    let (s, _) = begin(&url, &token, &h2, f2.len(), "image/png").await;
    assert_eq!(s, 200);
    let (s, b) = put(&url, &token, &h2, 0, &f2[..300_000]).await;
    assert_eq!((s, b["received"].as_i64()), (200, Some(300_000)));
    // Reordered: the chunk after next comes first.
    let (s, b) = put(&url, &token, &h2, 450_000, &f2[450_000..]).await;
    assert_eq!(s, 409);
    assert_eq!(b["code"], "offset_mismatch");
    assert_eq!(b["received"], 300_000);
    c.upload(&h2, "image/png", &f2, |_, _| {}).await.unwrap();
    assert_eq!(c.download(&h2).await.unwrap(), f2);

    // Truncated/corrupted: the declared digest does not match the bytes.
    let mut f3 = png_bytes(3);
    f3.resize(100_000, 1);
    let h3 = sm3_hex(&f3);
    begin(&url, &token, &h3, f3.len(), "image/png").await;
    let mut bad = f3.clone();
    bad[50_000] ^= 0xFF;
    let (s, b) = put(&url, &token, &h3, 0, &bad).await;
    assert_eq!(s, 422);
    assert_eq!(b["code"], "digest_mismatch");
    // Nothing was kept; the upload starts over.
    let (s, b) = begin(&url, &token, &h3, f3.len(), "image/png").await;
    assert_eq!((s, b["received"].as_i64()), (200, Some(0)));
    // More than declared.
    let (s, b) = put(&url, &token, &h3, 0, &[f3.clone(), vec![0; 10]].concat()).await;
    assert_eq!(s, 400, "{b}");

    // Oversized: declared above the limit, or a chunk above the chunk limit.
    let (s, b) = begin(&url, &token, &"a".repeat(64), 4 * 1024 * 1024, "image/png").await;
    assert_eq!(s, 413, "{b}");
    assert!(b["error"].as_str().unwrap().contains("过大"));
    let big = vec![0u8; 2 * 1024 * 1024];
    let h4 = sm3_hex(&big);
    begin(&url, &token, &h4, big.len(), "image/png").await;
    let (s, _) = put(&url, &token, &h4, 0, &big).await;
    assert_eq!(s, 413);

    // An executable renamed .png: refused by content.
    let exe = b"\x7fELF\x02\x01\x01\0rest-of-an-executable".to_vec();
    let h5 = sm3_hex(&exe);
    begin(&url, &token, &h5, exe.len(), "image/png").await;
    let (s, b) = put(&url, &token, &h5, 0, &exe).await;
    assert_eq!(s, 415, "{b}");
    // A type we do not take at all; a malformed digest.
    let (s, _) = begin(&url, &token, &h5, exe.len(), "application/x-msdownload").await;
    assert_eq!(s, 415);
    let (s, _) = begin(&url, &token, "XYZ", 10, "image/png").await;
    assert_eq!(s, 400);
    hub.stop().await;
}

crate::both_backends!(chunked_resumable_uploads_with_limits, uploads);

// ----- scope ------------------------------------------------------------

async fn login(url: &str, person: &str) -> String {
    let mut c = HubClient::new(url, None).unwrap();
    c.login(person, PASSWORD, "browser").await.unwrap();
    c.token().unwrap().to_string()
}

/// `GET /api/attachments/{sm3}` (with `range`): status, body.
async fn get(url: &str, token: &str, sm3: &str, range: Option<&str>) -> (u16, Vec<u8>) {
    let mut r = jingwu_station::pin::http_client(None)
        .unwrap()
        .get(format!("{url}/api/attachments/{sm3}"))
        .bearer_auth(token);
    if let Some(range) = range {
        r = r.header("range", range);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// `GET /api/uploads/{sm3}`: status, body.
async fn upload_status(url: &str, token: &str, sm3: &str) -> (u16, serde_json::Value) {
    let r = jingwu_station::pin::http_client(None)
        .unwrap()
        .get(format!("{url}/api/uploads/{sm3}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// The browser UI's `attachment_data` (session in the UI cookie):
/// status, body.
async fn ui_attachment(url: &str, token: &str, sm3: &str) -> (u16, serde_json::Value) {
    let r = jingwu_station::pin::http_client(None)
        .unwrap()
        .post(format!("{url}/api/ui/attachment_data"))
        .header("X-Jingwu-UI", "1")
        .header("Cookie", format!("{}={token}", jingwu_hub::webui::COOKIE))
        .json(&serde_json::json!({ "sm3": sm3 }))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// A PNG of `len` bytes, different for each `n`.
fn png_of(n: u32, len: usize) -> Vec<u8> {
    let mut f = png_bytes(n);
    f.resize(len, (n % 251) as u8);
    f
}

/// Events recorded on a station but not pushed, pushed as they are
/// (without the station's upload step).
async fn push_outbox(c: &Client) -> Result<(), jingwu_station::client::ClientError> {
    let batch: Vec<_> =
        c.st.store
            .outbox(u32::MAX)
            .unwrap()
            .into_iter()
            .map(|p| p.event)
            .collect();
    c.st.client().unwrap().push(&batch).await.map(|_| ())
}

fn scan_ref(sm3: &str, size: usize) -> jingwu_core::form::AttachmentRef {
    jingwu_core::form::AttachmentRef {
        sm3: sm3.into(),
        name: "别人的扫描件.png".into(),
        mime: "image/png".into(),
        size: size as u64,
        pages: None,
    }
}

fn attach_ref(sm3: &str, size: usize) -> jingwu_core::event::Action {
    jingwu_core::event::Action::Attach {
        field: "scans".into(),
        attachment: scan_ref(sm3, size),
    }
}

async fn downloads(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, CHIEF, SECTION, OTHER_OFFICER]);
    let hub = RunningHub::start(&place).await;
    let url = hub.url.clone();
    let mut officer = Client::enrol(&url, OFFICER).await;
    let mut chief = Client::enrol(&url, CHIEF).await;
    let mut other = Client::enrol(&url, OTHER_OFFICER).await;
    hub.approve_all().await;
    let (ot, ct, xt, st) = (
        login(&url, OFFICER).await,
        login(&url, CHIEF).await,
        login(&url, OTHER_OFFICER).await,
        login(&url, SECTION).await,
    );

    // The officer's application with a scan, not yet pushed.
    let scan = png_of(5, 600);
    let sm3 = sm3_hex(&scan);
    let path = officer.st.data_dir().join("scan5.png");
    std::fs::write(&path, &scan).unwrap();
    let case = officer
        .st
        .create_hukou(PIN, jingwu_core::demo::name_change_form())
        .unwrap()
        .case_id;
    officer.st.attach(PIN, case, "scans", &path).unwrap();
    officer.st.submit(PIN, case).unwrap();

    // Uploaded, not yet attached on the hub: only its uploader reads it.
    let oc = HubClient::new(&url, None)
        .unwrap()
        .with_token(Some(ot.clone()));
    oc.upload(&sm3, "image/png", &scan, |_, _| {})
        .await
        .unwrap();
    assert_eq!(get(&url, &ot, &sm3, None).await, (200, scan.clone()));
    // To anyone else it is exactly as missing as a file never uploaded.
    let missing = get(&url, &xt, &"0".repeat(64), None).await;
    assert_eq!(missing.0, 404);
    let missing_status = upload_status(&url, &xt, &"0".repeat(64)).await;
    assert_eq!(missing_status.0, 404);
    for t in [&ct, &xt, &st] {
        assert_eq!(get(&url, t, &sm3, None).await, missing);
        assert_eq!(get(&url, t, &sm3, Some("bytes=100-")).await, missing);
        assert_eq!(upload_status(&url, t, &sm3).await, missing_status);
    }

    // Pushed: whoever may see the case reads its scan (the 所长 at once).
    let r = officer.sync().await;
    assert_eq!((r.uploaded, r.pushed, r.pending), (1, 3, 0), "{r:?}");
    assert_eq!(get(&url, &ct, &sm3, None).await, (200, scan.clone()));
    assert_eq!(
        get(&url, &ct, &sm3, Some("bytes=400-")).await,
        (206, scan[400..].to_vec())
    );
    let (s, b) = upload_status(&url, &ct, &sm3).await;
    assert_eq!((s, b["complete"].as_bool()), (200, Some(true)));
    // Another station's officer, and the county before it reaches them: no.
    for t in [&xt, &st] {
        assert_eq!(get(&url, t, &sm3, None).await, missing);
        assert_eq!(get(&url, t, &sm3, Some("bytes=0-")).await, missing);
        assert_eq!(upload_status(&url, t, &sm3).await, missing_status);
    }
    // The browser UI answers the same.
    let ui_missing = ui_attachment(&url, &xt, &"0".repeat(64)).await;
    assert_eq!(ui_missing.0, 404);
    assert_eq!(ui_attachment(&url, &xt, &sm3).await, ui_missing);
    assert_eq!(ui_attachment(&url, &st, &sm3).await, ui_missing);
    let (s, b) = ui_attachment(&url, &ct, &sm3).await;
    assert_eq!((s, b["mime"].as_str()), (200, Some("image/png")));
    // Once the case waits for the 户政股股长, they read it too.
    chief.sync().await;
    chief.agree(case);
    assert_eq!(chief.sync().await.pushed, 1);
    assert_eq!(get(&url, &st, &sm3, None).await, (200, scan.clone()));
    assert_eq!(ui_attachment(&url, &st, &sm3).await.0, 200);
    assert_eq!(get(&url, &xt, &sm3, None).await, missing);

    // Naming the file in a form field of one's own case (not through an
    // attach event) reaches it neither.
    let own = other
        .st
        .create_hukou(PIN, jingwu_core::demo::name_change_form())
        .unwrap()
        .case_id;
    let changes = jingwu_core::form::FormValues::from([(
        "scans".to_string(),
        serde_json::to_value([scan_ref(&sm3, scan.len())]).unwrap(),
    )]);
    other
        .st
        .act(PIN, own, jingwu_core::event::Action::UpdateForm { changes })
        .unwrap();
    push_outbox(&other).await.unwrap();
    other.sync().await;
    assert_eq!(ui_attachment(&url, &xt, &sm3).await, ui_missing);
    assert_eq!(get(&url, &xt, &sm3, None).await, missing);

    // Attaching a file by its SM3 alone is refused: the author neither
    // uploaded it nor may see a case it is in.
    let own = other
        .st
        .create_hukou(PIN, jingwu_core::demo::name_change_form())
        .unwrap()
        .case_id;
    other
        .st
        .act(PIN, own, attach_ref(&sm3, scan.len()))
        .unwrap();
    match push_outbox(&other).await {
        Err(jingwu_station::client::ClientError::Hub { status, body }) => {
            assert_eq!((status, body.code.as_str()), (422, "attachment_missing"));
            assert_eq!(body.index, Some(1));
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(get(&url, &xt, &sm3, None).await, missing);
    // The 所长 sees the officer's case: they may attach its scan to a case
    // of theirs without uploading it again.
    let chiefs = chief
        .st
        .create_hukou(PIN, jingwu_core::demo::name_change_form())
        .unwrap()
        .case_id;
    chief
        .st
        .act(PIN, chiefs, attach_ref(&sm3, scan.len()))
        .unwrap();
    push_outbox(&chief).await.unwrap();
    hub.stop().await;
}

crate::both_backends!(attachments_are_read_only_within_scope, downloads);

async fn private_uploads(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, OTHER_OFFICER]);
    let hub = RunningHub::start(&place).await;
    let url = hub.url.clone();
    let (ot, xt) = (login(&url, OFFICER).await, login(&url, OTHER_OFFICER).await);
    let oc = HubClient::new(&url, None)
        .unwrap()
        .with_token(Some(ot.clone()));
    let xc = HubClient::new(&url, None)
        .unwrap()
        .with_token(Some(xt.clone()));

    // The officer is half-way through an upload.
    let f = png_of(2, 600_000);
    let h = sm3_hex(&f);
    begin(&url, &ot, &h, f.len(), "image/png").await;
    let (s, b) = put(&url, &ot, &h, 0, &f[..300_000]).await;
    assert_eq!((s, b["received"].as_i64()), (200, Some(300_000)));
    // Another user learns nothing of it and cannot touch it.
    let (s, b) = upload_status(&url, &xt, &h).await;
    assert_eq!(s, 404, "{b}");
    let (s, b) = put(&url, &xt, &h, 300_000, &f[300_000..]).await;
    assert_eq!(s, 404, "{b}");
    assert!(b.get("received").is_none(), "{b}");
    // Their begin is an upload of their own: from 0, and resetting it
    // (another size) leaves the officer's alone.
    let (s, b) = begin(&url, &xt, &h, f.len(), "image/png").await;
    assert_eq!(
        (s, b["received"].as_i64(), b["complete"].as_bool()),
        (200, Some(0), Some(false))
    );
    let (s, _) = begin(&url, &xt, &h, f.len() - 1, "image/png").await;
    assert_eq!(s, 200);
    let (s, b) = put(&url, &xt, &h, 0, &f[..100]).await;
    assert_eq!((s, b["received"].as_i64()), (200, Some(100)));
    let (s, b) = upload_status(&url, &ot, &h).await;
    assert_eq!((s, b["received"].as_i64()), (200, Some(300_000)));
    // The officer resumes where they were and finishes.
    let mut progress = Vec::new();
    oc.upload(&h, "image/png", &f, |d, _| progress.push(d))
        .await
        .unwrap();
    assert_eq!(progress.first(), Some(&300_000));
    assert_eq!(oc.download(&h).await.unwrap(), f);
    // Finished by the officer, it is still no concern of the other user.
    assert_eq!(get(&url, &xt, &h, None).await.0, 404);
    let (s, b) = upload_status(&url, &xt, &h).await;
    assert_eq!(
        (s, b["received"].as_i64(), b["complete"].as_bool()),
        (200, Some(100), Some(false))
    );

    // The same bytes uploaded by a second person (proof that they have
    // them): stored once, and now theirs to read too.
    let (s, b) = begin(&url, &xt, &h, f.len(), "image/png").await;
    assert_eq!(
        (s, b["received"].as_i64(), b["complete"].as_bool()),
        (200, Some(0), Some(false))
    );
    xc.upload(&h, "image/png", &f, |_, _| {}).await.unwrap();
    assert_eq!(xc.download(&h).await.unwrap(), f);
    let (s, b) = upload_status(&url, &xt, &h).await;
    assert_eq!((s, b["complete"].as_bool()), (200, Some(true)));
    // Claiming a stored file with bytes that are not it fails as ever.
    let g = png_of(3, 1000);
    let hg = sm3_hex(&g);
    oc.upload(&hg, "image/png", &g, |_, _| {}).await.unwrap();
    begin(&url, &xt, &hg, g.len(), "image/png").await;
    let mut wrong = g.clone();
    wrong[500] ^= 1;
    let (s, b) = put(&url, &xt, &hg, 0, &wrong).await;
    assert_eq!((s, b["code"].as_str()), (422, Some("digest_mismatch")));
    assert_eq!(get(&url, &xt, &hg, None).await.0, 404);
    hub.stop().await;
}

crate::both_backends!(uploads_belong_to_their_uploader, private_uploads);

async fn quota(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, OTHER_OFFICER]);
    let limits = Limits {
        upload_quota_bytes: 1000,
        ..Limits::default()
    };
    let hub = RunningHub::start_with(&place, limits).await;
    let url = hub.url.clone();
    let (ot, xt) = (login(&url, OFFICER).await, login(&url, OTHER_OFFICER).await);
    let a = png_of(10, 600);
    let ha = sm3_hex(&a);
    let hb = sm3_hex(&png_of(11, 500));
    let (s, _) = begin(&url, &ot, &ha, 600, "image/png").await;
    assert_eq!(s, 200);
    // Beginning the same upload again resumes it: not counted twice.
    let (s, _) = begin(&url, &ot, &ha, 600, "image/png").await;
    assert_eq!(s, 200);
    let (s, b) = begin(&url, &ot, &hb, 500, "image/png").await;
    assert_eq!((s, b["code"].as_str()), (507, Some("upload_quota")), "{b}");
    assert!(b["error"].as_str().unwrap().contains("上限"), "{b}");
    // The quota is per account.
    let (s, _) = begin(&url, &xt, &hb, 500, "image/png").await;
    assert_eq!(s, 200);
    // A finished upload no longer counts.
    let (s, b) = put(&url, &ot, &ha, 0, &a).await;
    assert_eq!((s, b["complete"].as_bool()), (200, Some(true)));
    let (s, _) = begin(&url, &ot, &hb, 500, "image/png").await;
    assert_eq!(s, 200);
    hub.stop().await;
}

crate::both_backends!(unfinished_uploads_count_against_a_quota, quota);

async fn expiry(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER]);
    let limits = Limits {
        upload_quota_bytes: 1000,
        ..Limits::default()
    };
    let ttl = limits.upload_ttl_secs;
    let hub = RunningHub::start_with(&place, limits).await;
    let url = hub.url.clone();
    let ot = login(&url, OFFICER).await;
    let a = png_of(20, 600);
    let ha = sm3_hex(&a);
    begin(&url, &ot, &ha, 600, "image/png").await;
    put(&url, &ot, &ha, 0, &a[..100]).await;
    // Not yet stale at the limit, gone after it.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert_eq!(hub.hub.expire_uploads_at(now + ttl - 5).unwrap(), 0);
    let (s, b) = upload_status(&url, &ot, &ha).await;
    assert_eq!((s, b["received"].as_i64()), (200, Some(100)));
    assert_eq!(hub.hub.expire_uploads_at(now + ttl + 5).unwrap(), 1);
    assert_eq!(upload_status(&url, &ot, &ha).await.0, 404);
    let (s, b) = begin(&url, &ot, &ha, 600, "image/png").await;
    assert_eq!((s, b["received"].as_i64()), (200, Some(0)));
    hub.stop().await;

    // With a one-second lifetime, the next upload call removes a stale
    // upload by itself (and its quota is free again).
    let limits = Limits {
        upload_quota_bytes: 1000,
        upload_ttl_secs: 1,
        ..Limits::default()
    };
    let hub = RunningHub::start_with(&place, limits).await;
    let url = hub.url.clone();
    let ot = login(&url, OFFICER).await;
    let hb = sm3_hex(&png_of(21, 600));
    let started = std::time::Instant::now();
    loop {
        let (s, b) = begin(&url, &ot, &hb, 600, "image/png").await;
        if s == 200 {
            break;
        }
        assert_eq!((s, b["code"].as_str()), (507, Some("upload_quota")), "{b}");
        assert!(
            started.elapsed().as_secs() < 10,
            "the stale upload was never removed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(upload_status(&url, &ot, &ha).await.0, 404);
    hub.stop().await;
}

crate::both_backends!(unfinished_uploads_expire, expiry);
