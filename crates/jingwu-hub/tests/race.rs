//! 50 concurrent decisions on the same step: exactly one wins.

use jingwu_core::event::{Decision, SignedEvent};
use jingwu_station::client::HubClient;

use crate::common::*;

/// `n` different signed decisions by `c` on the case's current step, all
/// extending the same head.
pub fn competing_decisions(c: &Client, case: uuid::Uuid, n: usize) -> Vec<SignedEvent> {
    decisions_signed_by(c, c, case, n)
}

/// Decisions built on `seer`'s view of the case, signed by `c`.
pub fn decisions_signed_by(
    seer: &Client,
    c: &Client,
    case: uuid::Uuid,
    n: usize,
) -> Vec<SignedEvent> {
    let state = seer.st.store.case(&case).unwrap().unwrap();
    (0..n)
        .map(|i| {
            let decision = if i % 2 == 0 {
                Decision::Agree
            } else {
                Decision::Return
            };
            let action = state
                .decision_action(&c.st.reg, decision, &format!("意见 {i}"))
                .unwrap();
            c.sign_event(
                case,
                Some(&state),
                "race-device",
                time::OffsetDateTime::now_utc(),
                action,
            )
        })
        .collect()
}

async fn fifty_concurrent_decisions(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, CHIEF]);
    let hub = RunningHub::start(&place).await;
    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    let mut chief = Client::enrol(&hub.url, CHIEF).await;
    hub.approve_all().await;
    let case = officer.apply();
    officer.sync().await;
    chief.sync().await;
    let before = hub.hub.db.case_events(&case).unwrap().len();
    let trail_before = hub.hub.db.case_state(&case).unwrap().unwrap().trail.len();

    let events = competing_decisions(&chief, case, 50);
    let token = chief.st.client().unwrap().token().unwrap().to_string();
    let mut tasks = Vec::new();
    for ev in events {
        let c = HubClient::new(&hub.url, None)
            .unwrap()
            .with_token(Some(token.clone()));
        tasks.push(tokio::spawn(async move { c.push(&[ev]).await }));
    }
    let mut ok = 0;
    let mut stale = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => {
                assert!(!r.results[0].duplicate);
                ok += 1;
            }
            Err(e) => {
                assert_eq!(e.status(), Some(409), "{e}");
                assert_eq!(e.code(), Some(&ErrorCode::StaleHead));
                stale += 1;
            }
        }
    }
    assert_eq!((ok, stale), (1, 49));
    let after = hub.hub.db.case_events(&case).unwrap();
    assert_eq!(after.len(), before + 1, "exactly one event recorded");
    let state = hub.hub.db.case_state(&case).unwrap().unwrap();
    assert_eq!(state.next_seq as usize, before + 1);
    // Exactly one successor: either the next step (agree) or back to the
    // officer (return), once.
    assert_eq!(state.trail.len(), trail_before + 1);
    hub.stop().await;
}

crate::both_backends!(
    fifty_concurrent_decisions_one_wins,
    fifty_concurrent_decisions
);

/// A station whose decision lost the race gets the hub's version of the
/// case and keeps its own attempt as a recorded conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_loser_of_a_race_rebases_on_the_hub() {
    let place = HubPlace::new(Backend::Sqlite);
    place.init(&[OFFICER, CHIEF]);
    let hub = RunningHub::start(&place).await;
    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    let mut chief = Client::enrol(&hub.url, CHIEF).await;
    hub.approve_all().await;
    let case = officer.apply();
    officer.sync().await;
    chief.sync().await;
    // The officer withdraws while the chief, offline, agrees.
    officer
        .st
        .act(
            PIN,
            case,
            jingwu_core::event::Action::Withdraw {
                reason: "材料有误".into(),
            },
        )
        .unwrap();
    chief.agree(case);
    officer.sync().await;
    let r = chief.sync().await;
    assert_eq!(r.rebased, vec![case.to_string()], "{r:?}");
    assert_eq!(r.pending, 0);
    let conflicts = chief.st.store.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1);
    let local = chief.st.store.case(&case).unwrap().unwrap();
    let remote = hub.hub.db.case_state(&case).unwrap().unwrap();
    assert_eq!(local.head, remote.head);
    hub.stop().await;
}
