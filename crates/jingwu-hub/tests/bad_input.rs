//! Bad input gets a clear 4xx and changes nothing.

use base64::Engine as _;
use jingwu_core::event::Decision;
use jingwu_station::client::HubClient;

use crate::common::*;

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

async fn post_raw(url: &str, token: &str, body: &str) -> (u16, serde_json::Value) {
    let r = jingwu_station::pin::http_client(None)
        .unwrap()
        .post(format!("{url}/api/events"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

async fn bad_input_changes_nothing(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, CHIEF, SECTION, OTHER_OFFICER]);
    let hub = RunningHub::start(&place).await;
    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    let mut chief = Client::enrol(&hub.url, CHIEF).await;
    let mut section = Client::enrol(&hub.url, SECTION).await;
    let mut other = Client::enrol(&hub.url, OTHER_OFFICER).await;
    hub.approve_all().await;
    let case = officer.apply();
    officer.sync().await;
    chief.sync().await;
    section.sync().await;
    other.sync().await;
    let db = hub.hub.db.clone();
    let counts = || db.counts().unwrap();
    let before = counts();
    let chief_token = chief.st.client().unwrap().token().unwrap().to_string();

    // Malformed JSON.
    let (s, body) = post_raw(&hub.url, &chief_token, "{\"events\": [").await;
    assert_eq!(s, 400);
    assert_eq!(body["code"], "malformed_json");
    assert!(body["error"].as_str().unwrap().contains("JSON"));
    // Well-formed JSON, not an event.
    let (s, body) = post_raw(
        &hub.url,
        &chief_token,
        &serde_json::json!({"events": [{"bytes": b64(b"{}"), "signature": b64(b"x")}]}).to_string(),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(body["code"], "malformed_event");
    assert_eq!(body["index"], 0);
    // Not base64.
    let (s, _) = post_raw(
        &hub.url,
        &chief_token,
        &serde_json::json!({"events": [{"bytes": "%%%", "signature": "%%%"}]}).to_string(),
    )
    .await;
    assert_eq!(s, 400);

    // A bad signature: a real decision with one signature byte changed.
    let good = crate::race::competing_decisions(&chief, case, 1).remove(0);
    let mut sig = good.signature().to_vec();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    let (s, body) = post_raw(
        &hub.url,
        &chief_token,
        &serde_json::json!({"events": [{"bytes": b64(good.bytes()), "signature": b64(&sig)}]})
            .to_string(),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(body["code"], "bad_signature");
    // Changed bytes (re-canonicalised is impossible without re-signing).
    let mut bytes = good.bytes().to_vec();
    let pos = bytes.len() / 2;
    bytes[pos] ^= 0x01;
    let (s, _) = post_raw(
        &hub.url,
        &chief_token,
        &serde_json::json!({"events": [{"bytes": b64(&bytes), "signature": b64(good.signature())}]}).to_string(),
    )
    .await;
    assert!(s == 400, "tampered bytes: {s}");

    // Someone else's event pushed by the chief.
    let section_token = section.st.client().unwrap().token().unwrap().to_string();
    let c = HubClient::new(&hub.url, None)
        .unwrap()
        .with_token(Some(section_token));
    let e = c.push(std::slice::from_ref(&good)).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(403), Some(&ErrorCode::NotAuthor))
    );

    // The wrong role: 户政股股长 deciding at the 所长 step with his own key.
    let wrong_role = crate::race::decisions_signed_by(&chief, &section, case, 1).remove(0);
    let e = c.push(&[wrong_role]).await.unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    assert!(
        e.to_string().contains("不") || e.to_string().contains("无"),
        "{e}"
    );

    // A case outside the caller's scope: another station's officer.
    let state = chief.st.store.case(&case).unwrap().unwrap();
    let action = state
        .decision_action(&chief.st.reg, Decision::Agree, "越权")
        .unwrap();
    let ev = other.sign_event(
        case,
        Some(&state),
        "x",
        time::OffsetDateTime::now_utc(),
        action,
    );
    let oc = other.st.client().unwrap();
    let e = oc.push(&[ev]).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(403), Some(&ErrorCode::OutOfScope)),
        "{e}"
    );
    // ... nor can they read it.
    let e = oc.case_events(&case).await.unwrap_err();
    assert_eq!(e.status(), Some(404));

    // No token, a made-up token.
    let anon = HubClient::new(&hub.url, None).unwrap();
    assert_eq!(
        anon.push(std::slice::from_ref(&good))
            .await
            .unwrap_err()
            .status(),
        Some(401)
    );
    let fake = HubClient::new(&hub.url, None)
        .unwrap()
        .with_token(Some("nope".into()));
    assert_eq!(fake.pull(0, 10).await.unwrap_err().status(), Some(401));

    assert_eq!(counts(), before, "nothing changed");
    // After all that, the good event is still accepted.
    let cc = chief.st.client().unwrap();
    cc.push(&[good]).await.unwrap();
    hub.stop().await;
}

crate::both_backends!(
    bad_input_gets_4xx_and_changes_nothing,
    bad_input_changes_nothing
);

/// The OpenAPI document is served and describes the sync endpoints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_generated_from_the_handlers() {
    let place = HubPlace::new(Backend::Sqlite);
    place.init(&[]);
    let hub = RunningHub::start(&place).await;
    let doc: serde_json::Value = jingwu_station::pin::http_client(None)
        .unwrap()
        .get(format!("{}/api/openapi.json", hub.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/events",
        "/api/live",
        "/api/uploads/{sm3}",
        "/api/login",
        "/api/hub-key",
        "/healthz",
    ] {
        assert!(doc["paths"].get(p).is_some(), "missing {p}");
    }
    assert!(doc["paths"]["/api/events"]["post"]["responses"]
        .get("409")
        .is_some());
    // Every error code, from jingwu-proto's ErrorCode, and the error body
    // pointing at them.
    let schemas = &doc["components"]["schemas"];
    let codes: Vec<&str> = schemas["ErrorCode"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", schemas["ErrorCode"]))
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let all: Vec<&str> = ErrorCode::ALL.iter().map(ErrorCode::as_str).collect();
    assert_eq!(codes, all);
    assert_eq!(
        schemas["ErrorBody"]["properties"]["code"]["$ref"], "#/components/schemas/ErrorCode",
        "{}",
        schemas["ErrorBody"]
    );
    let health: serde_json::Value = jingwu_station::pin::http_client(None)
        .unwrap()
        .get(format!("{}/healthz", hub.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let nf = jingwu_station::pin::http_client(None)
        .unwrap()
        .get(format!("{}/api/nothing", hub.url))
        .send()
        .await
        .unwrap();
    assert_eq!(nf.status().as_u16(), 404);
    hub.stop().await;
}
