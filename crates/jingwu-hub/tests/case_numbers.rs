//! 受理编号 without coordination: many officers, PCs and profiles number
//! their cases offline and never collide; a number that is taken anyway
//! (a store restored from a backup, a forged event) is refused for that
//! case alone, and every other case keeps syncing.

use std::collections::BTreeSet;

use jingwu_core::crypto::Signer;
use jingwu_core::event::{Action, SignedEvent};
use jingwu_station::client::HubClient;
use uuid::Uuid;

use crate::common::*;

/// 方祥派出所 民警 and 大塘派出所 所长, 民警 (besides OFFICER and
/// OTHER_OFFICER).
const FANGXIANG_POLICE: &str = "052639";
const DATANG_POLICE: &str = "052618";

async fn officers_on_many_pcs(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, FANGXIANG_POLICE, OTHER_OFFICER, DATANG_POLICE]);
    let hub = RunningHub::start(&place).await;
    // Per station: its 户籍民警 on two PCs and a 民警 on the first.
    let mut profiles = Vec::new();
    for person in [
        OFFICER,
        OFFICER,
        FANGXIANG_POLICE,
        OTHER_OFFICER,
        OTHER_OFFICER,
        DATANG_POLICE,
    ] {
        profiles.push(Client::enrol(&hub.url, person).await);
    }
    hub.approve_all().await;
    hub.stop().await;

    // The link is down: 200 drafts, round robin over the six profiles,
    // all on the same day.
    let mut cases = BTreeSet::new();
    for i in 0..200 {
        let p = &mut profiles[i % 6];
        let s =
            p.st.create_hukou(PIN, jingwu_core::demo::name_change_form())
                .unwrap();
        cases.insert(s.case_id);
    }
    let local: BTreeSet<String> = profiles
        .iter()
        .flat_map(|p| p.st.store.list_cases(u32::MAX).unwrap())
        .map(|c| c.case_no)
        .collect();
    assert_eq!(local.len(), 200, "distinct numbers before any sync");

    let hub = RunningHub::start(&place).await;
    for p in &mut profiles {
        p.st.store.set_meta("hub_url", Some(&hub.url)).unwrap();
        let r = p.sync().await;
        assert!(r.failed.is_empty(), "{r:?}");
        assert_eq!(r.pending, 0, "{r:?}");
    }
    let db = &hub.hub.db;
    assert_eq!(db.counts().unwrap().1, 200);
    let on_hub: BTreeSet<String> = cases
        .iter()
        .map(|c| db.case_state(c).unwrap().unwrap().case_no)
        .collect();
    assert_eq!(on_hub, local);

    // One PC's store is backed up, goes on working, and is then restored
    // from that backup: its counter goes back, and its next number is one
    // it already gave a case the hub holds.
    let backup = tempfile::tempdir().unwrap();
    let raw = rusqlite::Connection::open(profiles[1].st.data_dir().join("station.db")).unwrap();
    raw.execute(
        "VACUUM INTO ?1",
        [backup.path().join("station.db").display().to_string()],
    )
    .unwrap();
    drop(raw);
    let lost = profiles[1]
        .st
        .create_hukou(PIN, jingwu_core::demo::name_change_form())
        .unwrap();
    let r = profiles[1].sync().await;
    assert!(r.failed.is_empty(), "{r:?}");
    let mut restored = jingwu_station::station::Station::open(
        backup.path(),
        jingwu_core::registry::Registry::builtin_demo().unwrap(),
    )
    .unwrap();
    restored.store.set_meta("hub_url", Some(&hub.url)).unwrap();
    let reused = restored
        .create_hukou(PIN, jingwu_core::demo::name_change_form())
        .unwrap();
    assert_eq!(reused.case_no, lost.case_no);
    // Everyone else goes on working.
    let mut fresh = vec![lost.case_id];
    for p in profiles.iter_mut() {
        fresh.push(
            p.st.create_hukou(PIN, jingwu_core::demo::name_change_form())
                .unwrap()
                .case_id,
        );
    }
    for round in 0..2 {
        let r = restored.sync(|_, _, _| {}).await.unwrap();
        if round == 0 {
            assert_eq!(r.failed.len(), 1, "{r:?}");
            assert!(
                r.failed[0].contains("受理编号") && r.failed[0].contains("已被另一案件使用"),
                "{r:?}"
            );
        } else {
            assert!(r.failed.is_empty(), "set aside once: {r:?}");
        }
        assert_eq!(r.pending, 0, "{r:?}");
        for p in &mut profiles {
            let r = p.sync().await;
            assert!(r.failed.is_empty(), "round {round}: {r:?}");
            assert_eq!(r.pending, 0, "{r:?}");
        }
    }
    // The refused application is kept aside with the reason.
    let aside = restored.store.conflicts().unwrap();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(aside[0].1, reused.case_id.to_string());
    assert!(aside[0].2.contains("已被另一案件使用"), "{aside:?}");
    // The restored PC still pulls what the hub sends it.
    assert!(restored.store.case(&lost.case_id).unwrap().is_some());
    assert!(db.case_state(&reused.case_id).unwrap().is_none());
    for c in &fresh {
        assert!(db.case_state(c).unwrap().is_some(), "{c} reached the hub");
    }
    assert_eq!(db.counts().unwrap().1, 200 + fresh.len() as i64);
    hub.stop().await;
}

crate::both_backends!(officers_on_many_pcs_never_collide, officers_on_many_pcs);

/// Creates of different cases that all carry one number.
fn creates_with_one_number(c: &Client, n: usize) -> Vec<SignedEvent> {
    let device = c.st.store.meta("device_id").unwrap().unwrap();
    creates_on_device(c, n, &device)
}

/// Creates of different cases, one number, signed as from `device`.
fn creates_on_device(c: &Client, n: usize, device: &str) -> Vec<SignedEvent> {
    let key = c.signing_key();
    let reg = &c.st.reg;
    let unit = "522634580000";
    let no = jingwu_core::caseno::CaseNo::format(
        unit,
        time::OffsetDateTime::now_utc().date(),
        &jingwu_core::caseno::issuer_of(&key.public_key().fingerprint(), device),
        1,
    );
    (0..n)
        .map(|_| {
            c.sign_event(
                Uuid::now_v7(),
                None,
                device,
                time::OffsetDateTime::now_utc(),
                Action::Create {
                    case_type: jingwu_core::form::CaseType::HukouChange,
                    template: reg.template_latest("hukou_change").unwrap().reference(),
                    workflow: Some(reg.workflow_latest("hukou_change").unwrap().reference()),
                    case_no: no.clone(),
                    unit: unit.into(),
                    form: jingwu_core::demo::name_change_form(),
                    registry: None,
                },
            )
        })
        .collect()
}

async fn twenty_creates_one_number(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER]);
    let hub = RunningHub::start(&place).await;
    let officer = Client::enrol(&hub.url, OFFICER).await;
    hub.approve_all().await;
    let token = officer.st.client().unwrap().token().unwrap().to_string();
    let mut tasks = Vec::new();
    for ev in creates_with_one_number(&officer, 20) {
        let c = HubClient::new(&hub.url, None)
            .unwrap()
            .with_token(Some(token.clone()));
        tasks.push(tokio::spawn(async move { c.push(&[ev]).await }));
    }
    let (mut ok, mut taken) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(e.status(), Some(409), "{e}");
                assert_eq!(e.code(), Some(&ErrorCode::CaseNoTaken), "{e}");
                assert!(!e.to_string().contains("UNIQUE"), "{e}");
                taken += 1;
            }
        }
    }
    assert_eq!((ok, taken), (1, 19));
    // Two creates with one number in a single batch: refused whole,
    // naming the second.
    let two = creates_with_one_number(&officer, 2);
    let c = officer.st.client().unwrap();
    let e = c.push(&two).await.unwrap_err();
    assert_eq!(e.code(), Some(&ErrorCode::CaseNoTaken), "{e}");
    // A device id made up to reach another issuer (any device string
    // gives some issuer) is refused: numbers come from enrolled devices.
    let e = c
        .push(&creates_on_device(&officer, 1, "made-up-device"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&ErrorCode::DeviceNotEnrolled), "{e}");
    assert_eq!(hub.hub.db.counts().unwrap().1, 1);
    hub.stop().await;
}

crate::both_backends!(twenty_creates_with_one_number, twenty_creates_one_number);
