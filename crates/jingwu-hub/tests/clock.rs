//! The hub's clock is the authority: device times in the future or before
//! the case's previous event are refused, and every accepted event carries
//! the hub's signed receipt of when it was accepted.

use base64::Engine as _;
use jingwu_core::crypto::{PublicKey, SoftwareKey};
use jingwu_core::event::{Decision, SignedEvent};
use jingwu_core::receipt::{ReceiptBody, SignedReceipt};
use jingwu_station::client::StoredEvent;
use time::macros::datetime;
use time::OffsetDateTime;

use crate::common::*;

/// The chief's decision on `case` as the chief's store sees it, dated
/// `time` by the chief's device.
fn decision_at(chief: &Client, case: uuid::Uuid, time: OffsetDateTime) -> SignedEvent {
    let state = chief.st.store.case(&case).unwrap().unwrap();
    decision_on(chief, &state, time)
}

fn decision_on(
    chief: &Client,
    state: &jingwu_core::case::CaseState,
    time: OffsetDateTime,
) -> SignedEvent {
    let action = state
        .decision_action(&chief.st.reg, Decision::Agree, "同意。")
        .unwrap();
    chief.sign_event(state.case_id, Some(state), "chief-pc", time, action)
}

async fn device_times_are_checked(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, CHIEF]);
    let hub = RunningHub::start(&place).await;
    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    let mut chief = Client::enrol(&hub.url, CHIEF).await;
    hub.approve_all().await;
    let case = officer.apply();
    officer.sync().await;
    chief.sync().await;
    let db = hub.hub.db.clone();
    let before = db.counts().unwrap();
    let cc = chief.st.client().unwrap();

    // Dated 2099-12-31: far ahead of the hub's clock.
    let future = decision_at(&chief, case, datetime!(2099-12-31 10:00 +8));
    let e = cc.push(&[future]).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(422), Some(&ErrorCode::ClockFuture)),
        "{e}"
    );
    let msg = e.to_string();
    assert!(msg.contains("2099-12-31T10:00:00+08:00"), "{msg}");
    assert!(msg.contains("县局服务器时间"), "{msg}");

    // Dated 2001-01-01: before the case existed.
    let past = decision_at(&chief, case, datetime!(2001-01-01 09:00 +8));
    let e = cc.push(&[past]).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(422), Some(&ErrorCode::ClockPast)),
        "{e}"
    );
    assert!(e.to_string().contains("早于该案件上一事件的时间"), "{e}");
    assert_eq!(db.counts().unwrap(), before, "nothing stored");

    let hub_view = chief.st.store.case(&case).unwrap().unwrap();
    // A station whose clock runs a day fast records the decision locally;
    // its sync sets the case aside and shows the hub's reason.
    let key = chief.signing_key();
    let state = chief.st.store.case(&case).unwrap().unwrap();
    let action = state
        .decision_action(&chief.st.reg, Decision::Agree, "同意。")
        .unwrap();
    chief
        .st
        .store
        .record(
            &chief.st.reg,
            &key,
            CHIEF,
            Some(case),
            action,
            OffsetDateTime::now_utc() + time::Duration::days(1),
        )
        .unwrap();
    let report = chief.sync().await;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(
        report.failed[0].contains("晚于县局服务器时间")
            && report.failed[0].contains("请校准本机时钟"),
        "{report:?}"
    );
    assert_eq!(db.counts().unwrap(), before, "nothing stored");

    // A decision dated by a right clock is accepted.
    let good = decision_on(&chief, &hub_view, OffsetDateTime::now_utc());
    cc.push(&[good]).await.unwrap();
    hub.stop().await;
}

crate::both_backends!(
    future_and_backdated_events_are_refused,
    device_times_are_checked
);

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn receipt_of(e: &StoredEvent) -> SignedReceipt {
    e.receipt
        .as_ref()
        .expect("every event has a receipt")
        .signed()
        .unwrap()
}

async fn receipts_are_signed_by_the_hub(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, CHIEF]);
    let hub = RunningHub::start(&place).await;
    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    let mut chief = Client::enrol(&hub.url, CHIEF).await;
    hub.approve_all().await;
    let start = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let case = officer.apply();
    officer.sync().await;
    chief.sync().await;
    chief.agree(case);
    chief.sync().await;
    let end = OffsetDateTime::now_utc() + time::Duration::seconds(1);

    let cc = chief.st.client().unwrap();
    let info = cc.hub_key().await.unwrap();
    let hub_key = PublicKey::from_pem(&info.pem).unwrap();
    assert_eq!(hub_key.fingerprint(), info.fingerprint);
    // Logged-in clients only.
    let anon = jingwu_station::client::HubClient::new(&hub.url, None).unwrap();
    assert_eq!(anon.hub_key().await.unwrap_err().status(), Some(401));

    let log = cc.case_events(&case).await.unwrap();
    assert_eq!(log.len(), 4, "create, attach, submit, agree");
    let mut last = start;
    for e in &log {
        let r = receipt_of(e);
        r.verify(&hub_key, &e.signed().unwrap()).unwrap();
        assert_eq!(r.body.gseq, e.gseq);
        assert_eq!(r.body.case_id, case);
        let t = r.body.received_at;
        assert!(t >= last && t <= end, "{t} not in order within the test");
        last = t;
    }
    // Pull and the live feed serve the same receipts.
    let pulled = cc.pull(0, 100).await.unwrap().events;
    assert_eq!(
        pulled.iter().map(|e| e.receipt.clone()).collect::<Vec<_>>(),
        log.iter().map(|e| e.receipt.clone()).collect::<Vec<_>>()
    );
    let feed = hub.hub.db.feed_after(0, 100).unwrap();
    assert!(feed.iter().all(|(row, _)| row.receipt.is_some()));
    // A receipt served for one event does not verify for another.
    assert!(receipt_of(&log[0])
        .verify(&hub_key, &log[1].signed().unwrap())
        .is_err());

    // The stations keep the receipts, checked against the hub's key: the
    // officer's own events came back with theirs, the chief's decision
    // with its own.
    officer.sync().await;
    for c in [&officer, &chief] {
        let times = c.st.store.receipt_times(&case).unwrap();
        assert_eq!(times.len(), 4, "{}", c.person);
        for e in &log {
            assert_eq!(
                times[&e.signed().unwrap().event.id],
                receipt_of(e).body.received_at
            );
        }
    }
    let wrong = officer
        .st
        .store
        .save_receipt(&log[1].signed().unwrap(), &receipt_of(&log[0]));
    assert!(wrong.is_err(), "a receipt of another event is refused");

    // OpenSSL checks a receipt's signed tree head with the served key, as
    // an auditor would (the head's exact bytes are the receipt's `head`
    // string: `jq -j .head`).
    let dir = tempfile::tempdir().unwrap();
    let rec = log[3].receipt.as_ref().unwrap();
    let wire: serde_json::Value = serde_json::from_slice(&b64(&rec.bytes)).unwrap();
    assert_eq!(wire["v"], 2, "group receipts");
    let head = wire["head"].as_str().unwrap();
    assert_eq!(head.as_bytes(), receipt_of(&log[3]).signed_bytes());
    std::fs::write(dir.path().join("receipt.json"), head).unwrap();
    std::fs::write(dir.path().join("receipt.sig"), b64(&rec.signature)).unwrap();
    std::fs::write(dir.path().join("hub.pem"), &info.pem).unwrap();
    let out = std::process::Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "hub.pem",
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            "distid:1234567812345678",
            "-in",
            "receipt.json",
            "-sigfile",
            "receipt.sig",
        ])
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A format-1 receipt (one signature per event, as hubs made them
    // before group commit) stored for an event is served, and a station
    // checks and keeps it like a group receipt.
    let old_key =
        SoftwareKey::from_pkcs8_pem(&hub.hub.db.meta_get("hub_receipt_key").unwrap().unwrap())
            .unwrap();
    let first = log[0].signed().unwrap();
    let at = datetime!(2026-11-20 01:07:30.125 UTC);
    let v1 = SignedReceipt::sign(
        ReceiptBody::for_event(&first, log[0].gseq, at, &info.fingerprint),
        &old_key,
    )
    .unwrap();
    hub.hub
        .db
        .push::<jingwu_hub::db::DbError>(&mut |tx| {
            tx.set_receipt(log[0].gseq, v1.bytes(), v1.signature())?;
            Ok(())
        })
        .unwrap();
    let mut second = Client::enrol(&hub.url, OFFICER).await;
    hub.approve_all().await;
    second.sync().await;
    let times = second.st.store.receipt_times(&case).unwrap();
    assert_eq!(times.len(), 4);
    assert_eq!(times[&first.event.id], at);
    assert_eq!(
        times[&log[3].signed().unwrap().event.id],
        receipt_of(&log[3]).body.received_at
    );

    // The same database keeps the same hub key across restarts.
    hub.stop().await;
    let hub = RunningHub::start(&place).await;
    assert_eq!(hub.hub.hub_key.public_key().fingerprint(), info.fingerprint);
    hub.stop().await;
}

crate::both_backends!(
    every_event_gets_a_signed_receipt,
    receipts_are_signed_by_the_hub
);
