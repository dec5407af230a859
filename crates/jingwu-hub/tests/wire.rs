//! The wire contract (`jingwu-proto`): every error code the hub sends, its
//! HTTP status, and that the station client reads every error body the
//! hub makes.

use axum::response::IntoResponse;
use jingwu_hub::error::{status, ApiError, ErrorBody, ErrorCode};

/// The status each code has always been sent with. A change here changes
/// what stations see: make it on purpose, and in docs/sync-protocol.md.
const STATUSES: &[(&str, u16)] = &[
    ("unauthorized", 401),
    ("disabled", 403),
    ("not_admin", 403),
    ("locked_out", 429),
    ("busy", 429),
    ("weak_password", 400),
    ("bad_person", 400),
    ("user_exists", 409),
    ("bad_device", 400),
    ("bad_key", 400),
    ("key_issuer_taken", 409),
    ("bad_decision", 400),
    ("enrolment_state", 409),
    ("not_json", 415),
    ("malformed_json", 400),
    ("body", 413),
    ("bad_id", 400),
    ("not_found", 404),
    ("batch_too_large", 413),
    ("malformed_event", 400),
    ("not_author", 403),
    ("key_not_enrolled", 403),
    ("device_not_enrolled", 403),
    ("bad_signature", 400),
    ("id_reused", 409),
    ("out_of_scope", 403),
    ("stale_head", 409),
    ("already_created", 409),
    ("unknown_case", 409),
    ("wrong_case", 400),
    ("not_allowed", 403),
    ("invalid", 422),
    ("clock_past", 422),
    ("clock_future", 422),
    ("case_no_taken", 409),
    ("attachment_missing", 422),
    ("bad_digest", 400),
    ("empty_upload", 400),
    ("too_large", 413),
    ("unsupported_type", 415),
    ("upload_quota", 507),
    ("empty_chunk", 400),
    ("offset_mismatch", 409),
    ("upload_overflow", 400),
    ("type_mismatch", 415),
    ("digest_mismatch", 422),
    ("insufficient_storage", 507),
    ("not_seal_admin", 403),
    ("bad_seal_id", 400),
    ("seal_maker_mismatch", 403),
    ("seal_maker_key", 403),
    ("seal_invalid", 400),
    ("seal_expired", 400),
    ("seal_picture", 400),
    ("seal_holder_unknown", 400),
    ("seal_name_mismatch", 400),
    ("seal_holder_key", 403),
    ("seal_exists", 409),
    ("seal_revoked", 409),
    ("missing_ui_header", 403),
    ("bad_arguments", 400),
    ("desktop_only", 403),
    ("not_in_org", 403),
    ("weak_pin", 400),
    ("key_exists", 409),
    ("no_hosted_key", 403),
    ("wrong_pin", 403),
    ("pin_locked", 429),
    ("bad_opinion", 400),
    ("update_not_newer", 409),
    ("storage", 500),
    ("internal", 500),
];

/// Every code round-trips through JSON as its snake_case string, and has
/// the status it has always had (the mapping is total: every code has
/// one, an error status).
#[test]
fn every_error_code_round_trips_and_has_its_status() {
    assert_eq!(ErrorCode::ALL.len(), STATUSES.len());
    for (text, want) in STATUSES {
        let code = ErrorCode::parse(text);
        assert!(code.is_known(), "{text} is not an ErrorCode");
        assert!(ErrorCode::ALL.contains(&code), "{text}");
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        let s = status(&code);
        assert_eq!(s.as_u16(), *want, "{text}");
        assert!(s.is_client_error() || s.is_server_error(), "{text}");
        assert_eq!(ApiError::new(code, "x").status, s, "{text}");
    }
    // What the hub never sends still has a status: a server error.
    assert_eq!(status(&ErrorCode::Unknown("x".into())).as_u16(), 500);
}

/// For every code, the body the hub answers with (details and all) is
/// read back by the station client unchanged, as a `ClientError::Hub`
/// with the response's status.
#[tokio::test]
async fn the_station_client_reads_every_error_body_the_hub_makes() {
    for code in ErrorCode::ALL {
        let mut e = ApiError::new(code.clone(), format!("说明：{code}"))
            .at(3, Some("0192f0c8-0000-7000-8000-000000000000".into()));
        e.body.case_id = Some("0192f0c8-0000-7000-8000-000000000001".into());
        e.body.head = Some("ab".repeat(32));
        e.body.next_seq = Some(7);
        e.body.received = Some(1024);
        let want: ErrorBody = (*e.body).clone();
        let resp = e.clone().into_response();
        assert_eq!(resp.status(), e.status);
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let got = jingwu_station::client::error_body(&bytes);
        assert_eq!(*got, want, "{code}");
        assert_eq!(&got.code, code);

        // Without details, as most errors go.
        let plain = ApiError::new(code.clone(), "只有说明").into_response();
        let bytes = axum::body::to_bytes(plain.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert_eq!(
            text,
            format!(r#"{{"code":"{code}","error":"只有说明"}}"#),
            "the JSON on the wire"
        );
        assert_eq!(jingwu_station::client::error_body(&bytes).code, *code);
    }
    // A newer hub's code, and an answer that is no error body at all.
    let newer = jingwu_station::client::error_body(r#"{"code":"later","error":"新"}"#.as_bytes());
    assert_eq!(newer.code, ErrorCode::Unknown("later".into()));
    let page = jingwu_station::client::error_body(b"<html>502 Bad Gateway</html>");
    assert_eq!(page.code.as_str(), "http");
    assert!(page.error.contains("502"), "{page:?}");
}
