//! 督办清单: the 户口变更 whose current step is past its time limit, for
//! the bureau's leaders and a station's leaders, asked of the hub at a
//! given time (the clock is the caller's), over both stores; and the
//! browser command's gate.

use jingwu_hub::hub::Caller;
use serde_json::Value;

use crate::common::*;

/// 丹江派出所's 所长 (another station than the officer's).
const OTHER_CHIEF: &str = "052616";
/// 110巡警大队's 接警员: sees no 户口变更.
const DESK: &str = "052608";

fn caller(person: &str) -> Caller {
    Caller {
        person: person.into(),
        is_admin: false,
        device: None,
        token_hash: String::new(),
    }
}

fn rows(v: &Value) -> Vec<String> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["case_no"].as_str().unwrap().to_string())
        .collect()
}

async fn overdue_by_scope(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, CHIEF, DEPUTY, OTHER_CHIEF, DESK]);
    let running = RunningHub::start(&place).await;
    let hub = running.hub.clone();
    let mut officer = Client::enrol(&running.url, OFFICER).await;
    running.approve_all().await;
    let case = officer.apply();
    let r = officer.sync().await;
    assert_eq!(r.pending, 0, "{r:?}");
    let state = hub.db.case_state(&case).unwrap().unwrap();
    let now = time::OffsetDateTime::now_utc();

    // Today it is not overdue for anyone.
    let deputy = hub.overdue(&caller(DEPUTY), now).unwrap();
    assert!(rows(&deputy).is_empty(), "{deputy}");
    // Half a year later it is: on the bureau's and the station's lists,
    // not on another station's.
    let later = now + time::Duration::days(183);
    for p in [DEPUTY, CHIEF] {
        let v = hub.overdue(&caller(p), later).unwrap();
        assert_eq!(rows(&v), vec![state.case_no.clone()], "{p}: {v}");
        let r = &v["rows"][0];
        assert_eq!(r["overdue"], true);
        assert_eq!(r["assignees"][0], "谭凤英", "the station's 所长 must act");
        assert!(r["overdue_days"].as_i64().unwrap() > 100, "{r}");
    }
    let other = hub.overdue(&caller(OTHER_CHIEF), later).unwrap();
    assert!(rows(&other).is_empty(), "{other}");
    // Not a leader: refused, with the reason.
    for p in [OFFICER, DESK] {
        let e = hub.overdue(&caller(p), later).unwrap_err();
        assert!(e.to_string().contains("没有查看督办清单的权限"), "{p}: {e}");
    }
    // The boundary: the last instant of the due day is not overdue.
    let due = state
        .step_deadline(&hub.reg(), hub.reg().calendar())
        .expect("in review");
    assert!(rows(&hub.overdue(&caller(DEPUTY), due).unwrap()).is_empty());
    let after = due + time::Duration::nanoseconds(1);
    assert_eq!(rows(&hub.overdue(&caller(DEPUTY), after).unwrap()).len(), 1);
    running.stop().await;
}

crate::both_backends!(overdue_list, overdue_by_scope);

/// The copy to the leader above: the station's 分管 leader may read a case
/// waiting at the station's 所长, so his station pulls it and gives him the
/// reminder and the overdue notice (once each) from there; another
/// station's 所长 gets neither the case nor a reminder.
async fn leader_above_pulls_and_is_reminded(backend: Backend) {
    use jingwu_core::reminders::{remind_from, AlertKind, AlertRole};
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, CHIEF, DEPUTY, OTHER_CHIEF]);
    let running = RunningHub::start(&place).await;
    let hub = running.hub.clone();
    let mut officer = Client::enrol(&running.url, OFFICER).await;
    let mut deputy = Client::enrol(&running.url, DEPUTY).await;
    let mut other = Client::enrol(&running.url, OTHER_CHIEF).await;
    running.approve_all().await;
    let case = officer.apply();
    assert_eq!(officer.sync().await.pending, 0);
    let state = hub.db.case_state(&case).unwrap().unwrap();
    assert!(hub.visible_case(&caller(DEPUTY), &case).is_ok());
    assert!(hub.visible_case(&caller(OTHER_CHIEF), &case).is_err());

    assert!(deputy.sync().await.pulled > 0);
    assert!(deputy.st.store.case(&case).unwrap().is_some());
    other.sync().await;
    assert!(other.st.store.case(&case).unwrap().is_none());
    let reg = hub.reg();
    let due = state.step_deadline(&reg, reg.calendar()).unwrap();
    let from = remind_from(due, reg.calendar());
    for (now, kind) in [
        (from, AlertKind::DueSoon),
        (due + time::Duration::seconds(1), AlertKind::Overdue),
    ] {
        let a = deputy.st.take_due_alerts(now).unwrap();
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!((a[0].kind, a[0].role), (kind, AlertRole::Leader));
        assert!(deputy.st.take_due_alerts(now).unwrap().is_empty());
        assert!(other.st.take_due_alerts(now).unwrap().is_empty());
    }
    running.stop().await;
}

crate::both_backends!(leader_above_copied, leader_above_pulls_and_is_reminded);

/// The browser's `status` says who may open the list; `overdue` over HTTP
/// answers a leader and refuses anyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_browser_command_asks_the_gate() {
    let place = HubPlace::new(Backend::Sqlite);
    place.init(&[OFFICER, DEPUTY]);
    let running = RunningHub::start(&place).await;
    for (person, allowed) in [(DEPUTY, true), (OFFICER, false)] {
        let b = Browser::login(&running.url, person).await;
        let status = b.ok("status", serde_json::json!({})).await;
        assert_eq!(status["can_supervise"], allowed, "{person}: {status}");
        let (code, body) = b.call("overdue", serde_json::json!({})).await;
        if allowed {
            assert_eq!(code, 200, "{body}");
            assert!(body["rows"].is_array(), "{body}");
        } else {
            assert_eq!(code, 403, "{body}");
            assert!(body.to_string().contains("督办清单"), "{body}");
        }
    }
    running.stop().await;
}
