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
