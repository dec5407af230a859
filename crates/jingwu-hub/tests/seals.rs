//! The seal registry: a seal administrator issues seals bound to approved
//! keys, the hub refuses anything it cannot check, stations fetch and
//! verify them, revocation reaches every station.

use jingwu_core::crypto::{Signer, SoftwareKey};
use jingwu_hub::db::SealRow;
use jingwu_slip::font::CjkFont;
use jingwu_slip::seal::{png_bytes, render_personal_seal, Seal, SealDraft, SealKind};
use jingwu_station::client::ClientError;
use jingwu_station::seals::IssueRequest;

use crate::common::*;

/// 陈天佑, 印章管理员 at 办公室 in the demo org.
const SEAL_ADMIN: &str = "052644";
/// 方祥派出所.
const STATION: &str = "522634580000";

fn picture(font: &CjkFont, name: &str) -> Vec<u8> {
    png_bytes(&render_personal_seal(name, font, 240).unwrap()).unwrap()
}

fn now_plus(days: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::days(days);
    t.replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A personal seal for `holder` made and signed by `maker`.
#[allow(clippy::too_many_arguments)]
fn personal(
    id: &str,
    name: &str,
    holder: &str,
    holder_key: &SoftwareKey,
    maker: &str,
    maker_key: &SoftwareKey,
    png: Vec<u8>,
    valid_to: String,
) -> Seal {
    let draft = SealDraft {
        id: id.into(),
        kind: SealKind::Personal,
        name: name.into(),
        holder: holder.into(),
        holder_key: holder_key.public_key().clone(),
        valid_from: now_plus(-2),
        valid_to,
        maker: maker.into(),
        maker_key: maker_key.public_key().fingerprint(),
    };
    Seal::make(draft, png, maker_key).unwrap()
}

fn refused(e: ClientError, status: u16, code: ErrorCode) {
    assert_eq!(e.status(), Some(status), "{e}");
    assert_eq!(e.code(), Some(&code), "{e}");
}

async fn registry(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, CHIEF, DEPUTY, SEAL_ADMIN]);
    let hub = RunningHub::start(&place).await;
    let mut admin = Client::enrol(&hub.url, SEAL_ADMIN).await;
    let chief = Client::enrol(&hub.url, CHIEF).await;
    let deputy = Client::enrol(&hub.url, DEPUTY).await;
    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    let font = CjkFont::locate().unwrap();
    let (admin_key, chief_key, deputy_key) = (
        admin.signing_key(),
        chief.signing_key(),
        deputy.signing_key(),
    );
    let admin_http = admin.st.client().unwrap();

    // A seal administrator whose own key is not approved yet cannot
    // register anything.
    let s = personal(
        "T-1",
        "谭凤英",
        CHIEF,
        &chief_key,
        SEAL_ADMIN,
        &admin_key,
        picture(&font, "谭凤英"),
        now_plus(30),
    );
    refused(
        admin_http.register_seal(&s).await.unwrap_err(),
        403,
        ErrorCode::SealMakerKey,
    );
    hub.approve_all().await;

    // Issued with the station CLI's library: the picture drawn from the
    // name, bound to the holder's approved key.
    let req = |holder: &str| IssueRequest {
        holder: holder.into(),
        valid_days: 365,
        ..IssueRequest::default()
    };
    let p = admin
        .st
        .issue_seal(PIN, req(CHIEF), Some(&font))
        .await
        .unwrap();
    assert_eq!(p.seal.info.kind, SealKind::Personal);
    assert_eq!(p.seal.info.name, "谭凤英");
    assert_eq!(p.seal.info.holder_key, *chief_key.public_key());
    // A unit seal: held by the station's head (所长) by default.
    let u = admin
        .st
        .issue_seal(PIN, req(STATION), Some(&font))
        .await
        .unwrap();
    assert_eq!(u.seal.info.kind, SealKind::Unit);
    assert_eq!(u.seal.info.name, "雷山县公安局方祥派出所");
    assert_eq!(u.seal.info.holder_key, *chief_key.public_key());
    // An uploaded picture without red ink is refused before anything is
    // signed.
    let blue = png_bytes(&image::RgbaImage::from_pixel(
        200,
        200,
        image::Rgba([20, 40, 200, 255]),
    ))
    .unwrap();
    let e = admin
        .st
        .issue_seal(
            PIN,
            IssueRequest {
                image: Some(blue.clone()),
                ..req(CHIEF)
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("红色印泥"), "{e}");
    // Only a seal administrator issues seals.
    let mut chief = chief;
    let e = chief
        .st
        .issue_seal(PIN, req(CHIEF), Some(&font))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("不是印章管理员"), "{e}");

    // What the hub itself refuses, whatever the station does.
    let chief_http = chief.st.client().unwrap();
    let good = |id: &str| {
        personal(
            id,
            "谭凤英",
            CHIEF,
            &chief_key,
            SEAL_ADMIN,
            &admin_key,
            picture(&font, "谭凤英"),
            now_plus(30),
        )
    };
    // Posted by someone who is not a seal administrator.
    refused(
        chief_http.register_seal(&good("T-2")).await.unwrap_err(),
        403,
        ErrorCode::NotSealAdmin,
    );
    // Made by another key than the caller's.
    let other = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();
    let s = personal(
        "T-3",
        "谭凤英",
        CHIEF,
        &chief_key,
        SEAL_ADMIN,
        &other,
        picture(&font, "谭凤英"),
        now_plus(30),
    );
    refused(
        admin_http.register_seal(&s).await.unwrap_err(),
        403,
        ErrorCode::SealMakerKey,
    );
    // Bound to a key that is not the holder's.
    let s = personal(
        "T-4",
        "谭凤英",
        CHIEF,
        &deputy_key,
        SEAL_ADMIN,
        &admin_key,
        picture(&font, "谭凤英"),
        now_plus(30),
    );
    refused(
        admin_http.register_seal(&s).await.unwrap_err(),
        403,
        ErrorCode::SealHolderKey,
    );
    // Someone else's name on the seal.
    let s = personal(
        "T-5",
        "赵永福",
        CHIEF,
        &chief_key,
        SEAL_ADMIN,
        &admin_key,
        picture(&font, "赵永福"),
        now_plus(30),
    );
    refused(
        admin_http.register_seal(&s).await.unwrap_err(),
        400,
        ErrorCode::SealNameMismatch,
    );
    // The picture swapped after signing.
    let mut s = good("T-6");
    s.image_png = base64_of(&picture(&font, "赵永福"));
    refused(
        admin_http.register_seal(&s).await.unwrap_err(),
        400,
        ErrorCode::SealInvalid,
    );
    // A signed picture that is no seal (no red ink).
    let s = personal(
        "T-7",
        "谭凤英",
        CHIEF,
        &chief_key,
        SEAL_ADMIN,
        &admin_key,
        blue,
        now_plus(30),
    );
    refused(
        admin_http.register_seal(&s).await.unwrap_err(),
        400,
        ErrorCode::SealPicture,
    );
    // Expired.
    let s = personal(
        "T-8",
        "谭凤英",
        CHIEF,
        &chief_key,
        SEAL_ADMIN,
        &admin_key,
        picture(&font, "谭凤英"),
        now_plus(-1),
    );
    refused(
        admin_http.register_seal(&s).await.unwrap_err(),
        400,
        ErrorCode::SealExpired,
    );
    // A unit seal held by someone outside the unit.
    let draft = SealDraft {
        id: "T-9".into(),
        kind: SealKind::Unit,
        name: "雷山县公安局方祥派出所".into(),
        holder: STATION.into(),
        holder_key: deputy_key.public_key().clone(),
        valid_from: now_plus(0),
        valid_to: now_plus(30),
        maker: SEAL_ADMIN.into(),
        maker_key: admin_key.public_key().fingerprint(),
    };
    let s = Seal::make(draft, picture(&font, "谭凤英"), &admin_key).unwrap();
    refused(
        admin_http.register_seal(&s).await.unwrap_err(),
        403,
        ErrorCode::SealHolderKey,
    );
    // A taken id.
    let dup = good(&p.seal.info.id);
    refused(
        admin_http.register_seal(&dup).await.unwrap_err(),
        409,
        ErrorCode::SealExists,
    );
    // Only the two good seals are registered.
    let all = admin_http.seals().await.unwrap();
    assert_eq!(all.len(), 2, "{all:?}");

    // Pictures travel only when the registry changed.
    let mut deputy = deputy;
    assert_eq!(deputy.sync().await.seals, 2);
    assert_eq!(deputy.sync().await.seals, 0);

    // A station fetches them, verifying each against its maker's key; a
    // row forged straight into the database is refused.
    let mut forged = good("T-10");
    forged.info.valid_to = now_plus(3000);
    hub.hub
        .db
        .insert_seal(&SealRow {
            id: "T-10".into(),
            kind: "personal".into(),
            holder: CHIEF.into(),
            holder_key: chief_key.public_key().fingerprint(),
            seal_json: serde_json::to_string(&forged).unwrap(),
            registered_at: now_plus(0),
            registered_by: SEAL_ADMIN.into(),
            revoked_at: None,
            revoked_by: None,
        })
        .unwrap();
    let r = officer.sync().await;
    assert_eq!(r.seals, 2, "{r:?}");
    assert_eq!(r.refused_seals.len(), 1, "{r:?}");
    assert!(r.refused_seals[0].contains("T-10"), "{r:?}");
    let book = officer.st.seal_book().unwrap();
    assert_eq!(book.seals().len(), 2);
    // A refused row is looked at again at the next sync.
    let r = officer.sync().await;
    assert_eq!((r.seals, r.refused_seals.len()), (2, 1), "{r:?}");
    let at = time::OffsetDateTime::now_utc();
    let fp = chief_key.public_key().fingerprint();
    assert!(book.personal(CHIEF, &fp, at).is_some());
    assert!(book.unit(STATION, &fp, at).is_some());
    // Not for another key.
    let dfp = deputy_key.public_key().fingerprint();
    assert!(book.personal(CHIEF, &dfp, at).is_none());

    // Revocation: only a seal administrator, once; stations learn it.
    let id = p.seal.info.id.clone();
    refused(
        chief_http.revoke_seal(&id).await.unwrap_err(),
        403,
        ErrorCode::NotSealAdmin,
    );
    let r = admin.st.revoke_seal(&id).await.unwrap();
    assert!(r.revoked_at.is_some());
    refused(
        admin_http.revoke_seal(&id).await.unwrap_err(),
        409,
        ErrorCode::SealRevoked,
    );
    refused(
        admin_http.revoke_seal("NOPE-1").await.unwrap_err(),
        404,
        ErrorCode::NotFound,
    );
    officer.sync().await;
    assert_eq!(deputy.sync().await.seals, 2, "the registry changed");
    let book = officer.st.seal_book().unwrap();
    let revoked = book.seals().iter().find(|s| s.seal.info.id == id).unwrap();
    assert!(revoked.is_revoked());
    // Decisions before the revocation keep their seal; later ones do not.
    let before = time::OffsetDateTime::parse(
        &p.seal.info.valid_from,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(book.personal(CHIEF, &fp, before).is_some());
    let after = time::OffsetDateTime::now_utc() + time::Duration::seconds(5);
    assert!(book.personal(CHIEF, &fp, after).is_none());
    hub.stop().await;
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

crate::both_backends!(seal_registry, registry);
