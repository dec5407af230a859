//! A station works while the hub is down; everything converges when it
//! returns, with no duplicate and no loss.

use std::collections::BTreeSet;

use crate::common::*;

async fn two_hundred_cases_offline(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER]);
    let hub = RunningHub::start(&place).await;
    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    hub.approve_all().await;
    let url = hub.url.clone();
    hub.stop().await;

    // The link is down: 200 applications are created and submitted.
    let mut cases = BTreeSet::new();
    for _ in 0..200 {
        cases.insert(officer.apply());
    }
    let err = officer.st.sync(|_, _, _| {}).await.unwrap_err();
    assert!(err.to_string().contains("无法连接县局服务器"), "{err}");
    assert_eq!(officer.st.store.outbox_len().unwrap(), 600);

    // The hub returns on the same address' database.
    let hub = RunningHub::start(&place).await;
    assert_ne!(
        hub.url, url,
        "a new port; the station is told the new address"
    );
    officer
        .st
        .store
        .set_meta("hub_url", Some(&hub.url))
        .unwrap();
    let r = officer.sync().await;
    assert_eq!(r.pushed, 600, "{r:?}");
    assert_eq!(r.pending, 0);
    // Syncing again changes nothing.
    let r = officer.sync().await;
    assert_eq!((r.pushed, r.pulled, r.pending), (0, 0, 0), "{r:?}");

    let db = &hub.hub.db;
    let (events, n_cases) = db.counts().unwrap();
    assert_eq!((events, n_cases), (600, 200));
    for c in &cases {
        let evs = db.case_events(c).unwrap();
        assert_eq!(evs.len(), 3);
        let state = db.case_state(c).unwrap().unwrap();
        assert_eq!(state.status, jingwu_core::case::Status::InReview);
    }
    // Every case number is distinct.
    let nos: BTreeSet<String> = cases
        .iter()
        .map(|c| db.case_state(c).unwrap().unwrap().case_no)
        .collect();
    assert_eq!(nos.len(), 200);
    hub.stop().await;
}

crate::both_backends!(
    two_hundred_cases_made_offline_converge,
    two_hundred_cases_offline
);
