//! The complete 户口变更 chain across station clients and the hub, with
//! the result reaching the officer through the live channel.

use std::time::Duration;

use jingwu_core::bundle::Bundle;
use jingwu_core::case::Status;

use crate::common::*;

async fn complete_chain(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, CHIEF, SECTION, DEPUTY]);
    let hub = RunningHub::start(&place).await;

    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    let mut chief = Client::enrol(&hub.url, CHIEF).await;
    let mut section = Client::enrol(&hub.url, SECTION).await;
    let mut deputy = Client::enrol(&hub.url, DEPUTY).await;

    // Not approved yet: the hub refuses the officer's events.
    let case = officer.apply();
    let r = officer.sync().await;
    assert_eq!(r.pushed, 0);
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert!(r.failed[0].contains("未登记或未经管理员批准"), "{r:?}");
    assert_eq!(r.pending, 3);

    hub.approve_all().await;
    let r = officer.sync().await;
    assert_eq!((r.uploaded, r.pushed, r.pending), (1, 3, 0), "{r:?}");

    // The officer's desktop follows the live channel from now on.
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
    let follower = tokio::spawn(async move {
        officer
            .st
            .follow(Some(ready_tx), |s| {
                let _ = seen_tx.send((s.case_id, s.status));
                s.status != Status::Approved
            })
            .await
            .unwrap();
        officer
    });

    ready_rx.await.unwrap();

    // 所长 → 户政股股长 → 分管局长, each on their own client.
    for approver in [&mut chief, &mut section, &mut deputy] {
        let r = approver.sync().await;
        assert!(r.pulled >= 1, "{} saw nothing: {r:?}", approver.person);
        let inbox = approver.st.inbox().unwrap();
        assert_eq!(inbox.len(), 1, "{}'s inbox", approver.person);
        assert_eq!(inbox[0].case_id, case);
        approver.agree(case);
        let r = approver.sync().await;
        assert_eq!(r.pushed, 1, "{r:?}");
    }

    // The approval reaches the officer live.
    let mut statuses = Vec::new();
    loop {
        let (id, status) = tokio::time::timeout(Duration::from_secs(20), seen_rx.recv())
            .await
            .expect("the result did not arrive through the live channel")
            .unwrap();
        assert_eq!(id, case);
        statuses.push(status);
        if status == Status::Approved {
            break;
        }
    }
    let officer = follower.await.unwrap();
    let st = &officer.st;
    let state = st.store.case(&case).unwrap().unwrap();
    assert_eq!(state.status, Status::Approved);
    assert_eq!(state.trail.len(), 4, "submission + three decisions");
    // Every signature verifies on the officer's machine too.
    assert_eq!(st.store.verified_events(&case).unwrap().len(), 6);

    // Evidence bundle from the hub and from the station agree, and verify.
    let hub_bundle = jingwu_hub::evidence::bundle_of(&hub.hub, &case).unwrap();
    let report = hub_bundle.verify(Some(&st.reg)).unwrap();
    assert_eq!(report.events, 6);
    let local = st.bundle(&case).unwrap();
    assert_eq!(local.events, hub_bundle.events);
    let json = hub_bundle.to_json_pretty().unwrap();
    Bundle::from_json(&json).unwrap().verify(None).unwrap();

    // The other station never saw the case.
    let db = &hub.hub.db;
    assert!(!db.can_see(OTHER_OFFICER, &case).unwrap());
    assert!(db.can_see(DEPUTY, &case).unwrap());
    hub.stop().await;
}

crate::both_backends!(complete_chain_with_live_result, complete_chain);

/// Two hub processes' worth of hubs on one PostgreSQL: an event pushed
/// through hub A reaches a client following hub B live.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hubs_on_one_postgres_serve_consistently() {
    let place = HubPlace::new(Backend::Postgres);
    place.init(&[OFFICER, CHIEF]);
    let a = RunningHub::start(&place).await;
    let b = RunningHub::start(&place).await;

    let mut officer = Client::enrol(&a.url, OFFICER).await;
    let chief = Client::enrol(&b.url, CHIEF).await;
    a.approve_all().await;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
    let mut chief = chief;
    tokio::spawn(async move {
        let st = &mut chief.st;
        // First sync sets the cursor; then follow hub B.
        st.sync(|_, _, _| {}).await.unwrap();
        st.follow(Some(ready_tx), |s| {
            let _ = tx.send((s.case_id, s.status));
            s.status != Status::InReview
        })
        .await
        .unwrap();
    });
    // The follower is connected to hub B and live.
    ready_rx.await.unwrap();

    let case = officer.apply();
    let r = officer.sync().await; // through hub A
    assert_eq!(r.pushed, 3, "{r:?}");
    loop {
        let (id, status) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("hub B did not push the event pushed through hub A")
            .unwrap();
        assert_eq!(id, case);
        if status == Status::InReview {
            break;
        }
    }
    a.stop().await;
    b.stop().await;
}
