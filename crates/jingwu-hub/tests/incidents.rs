//! 110 接处警 through the hub: the whole lifecycle across station clients
//! (一警多处, 退单, 终结 files the record at the 110 brigade), who may read
//! an incident, a unit acting on another unit's dispatch, 50 concurrent
//! 签收, 自接警 while the hub is down, and the browser's hosted-key 110
//! commands.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt as _;
use jingwu_core::case::{CaseState, IncidentStep, Status};
use jingwu_core::event::{Action, SignedEvent};
use jingwu_core::form::FormValues;
use jingwu_station::client::{HubClient, LiveMsg};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::*;

/// 局长.
const DIRECTOR: &str = "052601";
/// 110巡警大队: 接警员 ×2, 值班长, 副大队长.
const DESK: &str = "052608";
const DESK2: &str = "052609";
const DESK_CHIEF: &str = "052645";
const BRIGADE_DEPUTY: &str = "052607";
/// 指挥中心: 值班长, 接警员.
const COMMAND_CHIEF: &str = "052646";
const COMMAND_DESK: &str = "052647";
/// 丹江派出所: 值班民警, 所长, 户籍民警, 民警.
const DJ_DUTY: &str = "052648";
const DJ_CHIEF: &str = "052616";
const DJ_CLERK: &str = "052617";
const DJ_OFFICER: &str = "052618";
/// 消防大队 (external): 值班民警.
const FIRE_DUTY: &str = "052659";
/// 西江派出所 值班民警 (never dispatched here).
const XJ_DUTY: &str = "052649";
/// 大塘派出所 户籍民警.
const DT_CLERK: &str = "052629";

const DANJIANG: &str = "522634510000";
const FIRE: &str = "522634100000";
const BRIGADE: &str = "522634080000";

fn values(v: Value) -> FormValues {
    match v {
        Value::Object(m) => m.into_iter().collect(),
        _ => FormValues::new(),
    }
}

fn stamp(t: time::OffsetDateTime) -> String {
    t.to_offset(jingwu_core::SHANGHAI)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A complete 接警单 reported two minutes ago from `phone`.
pub fn intake(phone: &str) -> FormValues {
    let t = stamp(time::OffsetDateTime::now_utc() - time::Duration::minutes(2));
    values(json!({
        "report_time": t, "receive_time": t,
        "alarm_method": "1", "alarm_phone": phone, "caller_name": "李春生",
        "location": "丹江镇营上村三组", "township": "522634100",
        "summary": "报警人称邻居家起火，火势较大", "alarm_category": "040000", "level": "1"
    }))
}

/// 丹江's 反馈单 with two loss items.
fn report() -> FormValues {
    values(json!({
        "verified_category": "040000",
        "handling": "到场协助疏散群众，配合扑救，火已扑灭",
        "result": "04",
        "loss_items": [
            {"item": "木质厢房一间", "amount": "1234.56"},
            {"item": "家具", "amount": "300.00"}
        ],
        "loss_amount": "1534.56"
    }))
}

fn step(c: &mut Client, case: Uuid, s: IncidentStep) -> CaseState {
    c.st.incident_step(PIN, case, s).unwrap()
}

fn hub_state(hub: &RunningHub, case: &Uuid) -> CaseState {
    hub.hub.db.case_state(case).unwrap().unwrap()
}

/// The cases `person` gets from the hub's pull (the station read path).
async fn pulled(url: &str, person: &str) -> BTreeSet<Uuid> {
    let mut c = HubClient::new(url, None).unwrap();
    c.login(person, PASSWORD, "scope-check").await.unwrap();
    c.pull(0, 1000)
        .await
        .unwrap()
        .events
        .iter()
        .map(|e| e.case_id)
        .collect()
}

async fn lifecycle(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[DESK, DESK_CHIEF, DJ_DUTY, FIRE_DUTY]);
    let hub = RunningHub::start(&place).await;
    let mut desk = Client::enrol(&hub.url, DESK).await;
    let mut chief = Client::enrol(&hub.url, DESK_CHIEF).await;
    let mut dj = Client::enrol(&hub.url, DJ_DUTY).await;
    let mut fire = Client::enrol(&hub.url, FIRE_DUTY).await;
    hub.approve_all().await;

    // 丹江 follows the live channel, as its desktop does.
    let live = dj.st.client().unwrap();
    let stream = live.live(hub.hub.db.max_gseq().unwrap()).await.unwrap();
    let (live_tx, mut live_rx) = tokio::sync::mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        futures_util::pin_mut!(stream);
        let mut ready = Some(ready_tx);
        while let Some(Ok(m)) = stream.next().await {
            match m {
                LiveMsg::Ready(_) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                LiveMsg::Event(e) => {
                    let _ = live_tx.send(e.case_id);
                }
            }
        }
    });
    ready_rx.await.unwrap();

    // The desk takes the call and dispatches to 丹江 and 消防 at once.
    let s = desk
        .st
        .incident_create(PIN, intake("13985501234"), None)
        .unwrap();
    let id = s.case_id;
    assert_eq!(s.unit, BRIGADE);
    assert_eq!(s.status, Status::Received);
    desk.st
        .incident_dispatch(
            PIN,
            id,
            &[DANJIANG.to_string(), FIRE.to_string()],
            "请丹江派出所、消防大队立即出警",
        )
        .unwrap();
    let r = desk.sync().await;
    assert_eq!(r.pushed, 3, "{r:?}");
    let got = tokio::time::timeout(Duration::from_secs(5), live_rx.recv())
        .await
        .expect("the dispatch reaches 丹江's live channel")
        .unwrap();
    assert_eq!(got, id);
    let st = hub_state(&hub, &id);
    assert_eq!(st.status, Status::Dispatched);
    assert_eq!(st.dispatches.len(), 2);
    assert!(st.assignees(&hub.hub.reg()).contains(&DJ_DUTY.to_string()));

    // 丹江: 签收, 出警, 到达, 反馈 with two loss items.
    dj.sync().await;
    assert_eq!(
        dj.st.store.case(&id).unwrap().unwrap().status,
        Status::Dispatched
    );
    step(&mut dj, id, IncidentStep::Ack { unit: None });
    step(
        &mut dj,
        id,
        IncidentStep::Depart {
            unit: None,
            officers: vec![DJ_DUTY.into()],
            vehicles: vec!["贵H·0110警".into()],
            at: None,
        },
    );
    step(
        &mut dj,
        id,
        IncidentStep::Arrive {
            unit: None,
            at: None,
        },
    );
    let mine = step(
        &mut dj,
        id,
        IncidentStep::Feedback {
            unit: None,
            changes: report(),
        },
    );
    assert_eq!(
        mine.dispatches
            .iter()
            .find(|d| d.unit == DANJIANG)
            .unwrap()
            .status(),
        Some(Status::FeedbackFiled)
    );
    let r = dj.sync().await;
    assert_eq!(r.pushed, 4, "{r:?}");

    // 消防 returns its dispatch with a reason.
    fire.sync().await;
    step(
        &mut fire,
        id,
        IncidentStep::Return {
            unit: None,
            reason: "火情已由派出所配合扑灭，无需消防出动".into(),
        },
    );
    fire.sync().await;
    let st = hub_state(&hub, &id);
    assert_eq!(
        st.status,
        Status::FeedbackFiled,
        "the standing dispatch reported"
    );
    assert_eq!(jingwu_core::view::incident_loss(&st).to_string(), "1534.56");

    // The desk's 值班长 concludes: filed at once at the 110 brigade.
    chief.sync().await;
    step(&mut chief, id, IncidentStep::Conclude {});
    chief.sync().await;
    let st = hub_state(&hub, &id);
    assert_eq!(st.status, Status::Archived);
    assert_eq!(st.archive_unit.as_deref(), Some(BRIGADE));
    assert_eq!(hub.hub.db.case_events(&id).unwrap().len(), 9);

    // Every station converges on the hub's record.
    for c in [&mut desk, &mut dj, &mut fire, &mut chief] {
        c.sync().await;
        let local = c.st.store.case(&id).unwrap().unwrap();
        assert_eq!(local.head, st.head, "{}", c.person);
        assert_eq!(local.status, Status::Archived, "{}", c.person);
        c.st.store.verified_events(&id).unwrap();
    }
    let fire_dispatch = st.dispatches.iter().find(|d| d.unit == FIRE).unwrap();
    assert!(fire_dispatch.returned.is_some());
    hub.stop().await;
}

crate::both_backends!(incident_lifecycle_across_stations, lifecycle);

async fn scope(backend: Backend) {
    let people = [
        DIRECTOR,
        DESK,
        DESK2,
        DESK_CHIEF,
        BRIGADE_DEPUTY,
        COMMAND_CHIEF,
        COMMAND_DESK,
        DJ_DUTY,
        DJ_CHIEF,
        DJ_CLERK,
        FIRE_DUTY,
        XJ_DUTY,
        OFFICER,
        DT_CLERK,
    ];
    let place = HubPlace::new(backend);
    place.init(&people);
    let hub = RunningHub::start(&place).await;
    let mut desk = Client::enrol(&hub.url, DESK).await;
    let mut dj = Client::enrol(&hub.url, DJ_DUTY).await;
    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    hub.approve_all().await;

    // An incident dispatched to 丹江 only; a 自接警 registered by 丹江; a
    // 户口变更 at 方祥.
    let dispatched = desk
        .st
        .incident_create(PIN, intake("13985501111"), None)
        .unwrap()
        .case_id;
    desk.st
        .incident_dispatch(PIN, dispatched, &[DANJIANG.to_string()], "请出警")
        .unwrap();
    desk.sync().await;
    let own = dj
        .st
        .incident_create(PIN, intake("13985502222"), None)
        .unwrap()
        .case_id;
    dj.sync().await;
    let hukou = officer.apply();
    officer.sync().await;

    let all = BTreeSet::from([dispatched, own]);
    let none = BTreeSet::new();
    let expect: Vec<(&str, BTreeSet<Uuid>)> = vec![
        // Bureau leaders, the desks and the 110 brigade: every incident.
        (DIRECTOR, all.clone()),
        (DESK, all.clone()),
        (DESK2, all.clone()),
        (DESK_CHIEF, all.clone()),
        (BRIGADE_DEPUTY, all.clone()),
        (COMMAND_CHIEF, all.clone()),
        (COMMAND_DESK, all.clone()),
        // 丹江: what was dispatched to it and what it registered.
        (DJ_DUTY, all.clone()),
        (DJ_CHIEF, all.clone()),
        (DJ_CLERK, all.clone()),
        // Units not involved: nothing.
        (FIRE_DUTY, none.clone()),
        (XJ_DUTY, none.clone()),
        (DT_CLERK, none.clone()),
        // 方祥: its 户口变更 only.
        (OFFICER, BTreeSet::from([hukou])),
    ];
    for (person, want) in &expect {
        assert_eq!(&pulled(&hub.url, person).await, want, "pull of {person}");
        // The one gate answers the same on every read path.
        for c in [dispatched, own, hukou] {
            assert_eq!(
                hub.hub.db.can_see(person, &c).unwrap(),
                want.contains(&c),
                "{person} on {c}"
            );
        }
    }
    // No 110 desk officer sees a 户口变更.
    for p in [DESK, DESK2, DESK_CHIEF, COMMAND_DESK, COMMAND_CHIEF] {
        assert!(!pulled(&hub.url, p).await.contains(&hukou), "{p}");
        assert!(!hub.hub.db.can_see(p, &hukou).unwrap(), "{p}");
    }
    // Queries and statistics read the same typed rows through the same
    // scope: the desks and the 局长 both incidents and never a 户口变更;
    // 丹江's 所长 丹江's records; a 户籍民警 nothing.
    let query = |person: &str| -> Result<BTreeSet<Uuid>, String> {
        let caller = jingwu_hub::hub::Caller {
            person: person.into(),
            is_admin: false,
            device: None,
            token_hash: String::new(),
        };
        let scope = hub.hub.stats_scope(&caller).map_err(|e| e.body.error)?;
        let page = hub
            .hub
            .incident_query(&scope, &jingwu_proto::QueryRequest::default())
            .map_err(|e| e.body.error)?;
        Ok(page
            .rows
            .iter()
            .map(|r| Uuid::parse_str(&r.case_id).unwrap())
            .collect())
    };
    for p in [DIRECTOR, DESK, COMMAND_DESK, DJ_CHIEF] {
        assert_eq!(query(p).unwrap(), all, "query of {p}");
    }
    assert!(query(DJ_CLERK).unwrap_err().contains("没有查询"));
    assert!(query(OFFICER).unwrap_err().contains("没有查询"));
    // Out of scope reads as "not found" on the case log too.
    let mut xj = HubClient::new(&hub.url, None).unwrap();
    xj.login(XJ_DUTY, PASSWORD, "scope-check").await.unwrap();
    let e = xj.case_events(&dispatched).await.unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    hub.stop().await;
}

crate::both_backends!(incident_scope_by_role, scope);

/// The hub's answer to `events` pushed by `c`.
async fn push_raw(
    c: &Client,
    events: &[SignedEvent],
) -> Result<jingwu_station::client::PushResult, jingwu_station::client::ClientError> {
    c.st.client().unwrap().push(events).await
}

async fn another_units_dispatch(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[DESK, DJ_DUTY, FIRE_DUTY, XJ_DUTY]);
    let hub = RunningHub::start(&place).await;
    let mut desk = Client::enrol(&hub.url, DESK).await;
    let fire = Client::enrol(&hub.url, FIRE_DUTY).await;
    let xj = Client::enrol(&hub.url, XJ_DUTY).await;
    hub.approve_all().await;
    let id = desk
        .st
        .incident_create(PIN, intake("13985503333"), None)
        .unwrap()
        .case_id;
    desk.st
        .incident_dispatch(PIN, id, &[DANJIANG.to_string(), FIRE.to_string()], "请出警")
        .unwrap();
    desk.sync().await;
    let state = hub_state(&hub, &id);
    let now = time::OffsetDateTime::now_utc();

    // 消防 signs 丹江's 签收 and 反馈: the core refuses, the hub says so.
    for action in [
        Action::Acknowledge {
            at: None,
            unit: Some(DANJIANG.into()),
        },
        Action::Feedback {
            at: None,
            changes: report(),
            unit: Some(DANJIANG.into()),
        },
    ] {
        let ev = fire.sign_event(id, Some(&state), "test-device", now, action);
        let want = state
            .apply(&ev.event, &ev.hash_hex(), &hub.hub.reg())
            .unwrap_err()
            .to_string();
        let e = push_raw(&fire, &[ev]).await.unwrap_err();
        assert_eq!(e.status(), Some(403), "{e}");
        assert_eq!(e.code(), Some(&ErrorCode::NotAllowed), "{e}");
        assert!(e.to_string().starts_with(&want), "{e} / {want}");
        assert!(want.contains("只有被派警单位的人员"), "{want}");
    }
    // 西江, not dispatched, cannot even see the record.
    let ev = xj.sign_event(
        id,
        Some(&state),
        "test-device",
        now,
        Action::Acknowledge {
            at: None,
            unit: None,
        },
    );
    let e = push_raw(&xj, &[ev]).await.unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    assert_eq!(e.code(), Some(&ErrorCode::OutOfScope), "{e}");
    // Nothing was recorded.
    assert_eq!(hub_state(&hub, &id).head, state.head);
    hub.stop().await;
}

crate::both_backends!(
    a_unit_acting_on_another_units_dispatch_is_refused,
    another_units_dispatch
);

async fn fifty_acks(backend: Backend) {
    let members = [DJ_DUTY, DJ_CHIEF, DJ_CLERK, DJ_OFFICER];
    let place = HubPlace::new(backend);
    let mut people = vec![DESK];
    people.extend(members);
    place.init(&people);
    let hub = RunningHub::start(&place).await;
    let mut desk = Client::enrol(&hub.url, DESK).await;
    let mut clients = Vec::new();
    for m in members {
        clients.push(Client::enrol(&hub.url, m).await);
    }
    hub.approve_all().await;
    let id = desk
        .st
        .incident_create(PIN, intake("13985504444"), None)
        .unwrap()
        .case_id;
    desk.st
        .incident_dispatch(PIN, id, &[DANJIANG.to_string()], "请出警")
        .unwrap();
    desk.sync().await;
    let state = hub_state(&hub, &id);
    let before = hub.hub.db.case_events(&id).unwrap().len();

    // 50 different 签收 of the one dispatch at the same head, by four
    // members of 丹江, pushed at once.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = &clients[i % clients.len()];
        let ev = c.sign_event(
            id,
            Some(&state),
            "race-device",
            time::OffsetDateTime::now_utc(),
            Action::Acknowledge {
                at: None,
                unit: None,
            },
        );
        let hc = c.st.client().unwrap();
        tasks.push(tokio::spawn(async move { hc.push(&[ev]).await }));
    }
    let (mut ok, mut stale) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => {
                assert!(!r.results[0].duplicate);
                ok += 1;
            }
            Err(e) => {
                assert_eq!(e.status(), Some(409), "{e}");
                assert_eq!(e.code(), Some(&ErrorCode::StaleHead), "{e}");
                assert!(e.to_string().contains("请刷新后再操作"), "{e}");
                stale += 1;
            }
        }
    }
    assert_eq!((ok, stale), (1, 49));
    assert_eq!(hub.hub.db.case_events(&id).unwrap().len(), before + 1);
    let st = hub_state(&hub, &id);
    assert_eq!(st.status, Status::Acknowledged);
    assert_eq!(
        st.trail.iter().filter(|t| t.step == "签收").count(),
        1,
        "one 签收 in the record"
    );
    hub.stop().await;
}

crate::both_backends!(fifty_concurrent_acks_one_wins, fifty_acks);

async fn own_report_offline(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[DJ_DUTY, DJ_CHIEF, DESK]);
    let hub = RunningHub::start(&place).await;
    let mut duty = Client::enrol(&hub.url, DJ_DUTY).await;
    let mut chief = Client::enrol(&hub.url, DJ_CHIEF).await;
    let mut desk = Client::enrol(&hub.url, DESK).await;
    hub.approve_all().await;
    hub.stop().await;

    // The link is down: 来人报警 at the station, handled there.
    let s = duty
        .st
        .incident_create(PIN, intake("13985505555"), None)
        .unwrap();
    let id = s.case_id;
    assert_eq!(s.unit, DANJIANG);
    assert!(s.dispatches[0].own, "自接警: its own dispatch");
    step(
        &mut duty,
        id,
        IncidentStep::Depart {
            unit: None,
            officers: vec![DJ_DUTY.into()],
            vehicles: Vec::new(),
            at: None,
        },
    );
    step(
        &mut duty,
        id,
        IncidentStep::Arrive {
            unit: None,
            at: None,
        },
    );
    step(
        &mut duty,
        id,
        IncidentStep::Feedback {
            unit: None,
            changes: report(),
        },
    );
    let err = duty.st.sync(|_, _, _| {}).await.unwrap_err();
    assert!(err.to_string().contains("无法连接县局服务器"), "{err}");
    assert_eq!(duty.st.store.outbox_len().unwrap(), 4);

    // The hub returns; the station syncs; the 所长 concludes.
    let hub = RunningHub::start(&place).await;
    for c in [&mut duty, &mut chief, &mut desk] {
        c.st.store.set_meta("hub_url", Some(&hub.url)).unwrap();
    }
    let r = duty.sync().await;
    assert_eq!((r.pushed, r.pending), (4, 0), "{r:?}");
    chief.sync().await;
    step(&mut chief, id, IncidentStep::Conclude {});
    let r = chief.sync().await;
    assert_eq!(r.pushed, 1, "{r:?}");
    let st = hub_state(&hub, &id);
    assert_eq!(st.status, Status::Archived);
    assert_eq!(st.archive_unit.as_deref(), Some(BRIGADE));
    // Filed at the 110 brigade: the desk has it.
    desk.sync().await;
    assert_eq!(
        desk.st.store.case(&id).unwrap().unwrap().status,
        Status::Archived
    );
    hub.stop().await;
}

crate::both_backends!(own_report_while_the_hub_is_down, own_report_offline);

async fn browser_flow(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[DESK, DJ_DUTY]);
    let hub = RunningHub::start(&place).await;
    let desk = Browser::login(&hub.url, DESK).await;
    let dj = Browser::login(&hub.url, DJ_DUTY).await;
    for b in [&desk, &dj] {
        b.ok("enrol_hosted_key", json!({"pin": PIN})).await;
    }
    hub.approve_all().await;

    // The template names the units the desk dispatches to.
    let t = desk.ok("incident_template", json!({})).await;
    let targets: Vec<&str> = t["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap())
        .collect();
    assert!(
        targets.contains(&DANJIANG) && targets.contains(&FIRE),
        "{t}"
    );

    // A bad phone: a field error before the PIN; refused and nothing
    // saved when sent anyway.
    let mut bad = intake("1398550012");
    let errs = desk
        .ok("incident_validate", json!({"step": "intake", "form": bad}))
        .await;
    let fields: Vec<&str> = errs
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["alarm_phone"], "{errs}");
    assert!(!errs[0]["message"].as_str().unwrap().is_empty());
    let (status, body) = desk
        .call("incident_create", json!({"form": bad, "pin": PIN}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "invalid");
    assert_eq!(hub.hub.db.counts().unwrap(), (0, 0), "nothing saved");
    bad.insert("alarm_phone".into(), json!("13985506666"));
    let ok = desk
        .ok("incident_validate", json!({"step": "intake", "form": bad}))
        .await;
    assert_eq!(ok, json!([]));
    // Arguments are checked at the boundary, in Chinese.
    let (status, body) = desk
        .call("incident_create", json!({"form": "x", "pin": PIN}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("接警信息"),
        "{body}"
    );

    // Two reports: numbered by the hosted key, one after the other.
    let first = desk
        .ok("incident_create", json!({"form": bad, "pin": PIN}))
        .await;
    assert_eq!(first["queued"], false);
    let second = desk
        .ok(
            "incident_create",
            json!({"form": intake("13985507777"), "pin": PIN}),
        )
        .await;
    let fp = hub.hub.db.hosted_key(DESK).unwrap().unwrap().fingerprint;
    let issuer = jingwu_core::caseno::issuer_of(&fp, jingwu_hub::hosted::HOSTED_DEVICE);
    for (r, seq) in [(&first, 1), (&second, 2)] {
        let no = jingwu_core::caseno::CaseNo::parse(r["caseNo"].as_str().unwrap()).unwrap();
        assert_eq!(no.issuer.as_deref(), Some(issuer.as_str()));
        assert_eq!((no.unit.as_str(), no.seq), (BRIGADE, seq));
    }
    let id: Uuid = first["caseId"].as_str().unwrap().parse().unwrap();

    // The same phone again within 30 minutes: a repeat.
    let repeats = desk
        .ok("incident_repeats", json!({"form": intake("13985506666")}))
        .await;
    assert!(
        repeats
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["case_id"] == json!(id) && r["reason"] == "同一电话"),
        "{repeats}"
    );

    // 派警 to 丹江 and 消防 in one call: both, or (a unit that does not
    // exist) neither.
    let (status, body) = desk
        .call(
            "incident_dispatch",
            json!({"caseId": id, "units": [DANJIANG, "522634999999"], "opinion": "请出警", "pin": PIN}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        hub_state(&hub, &id).dispatches.len(),
        0,
        "nothing half-saved"
    );
    let (status, body) = desk
        .call(
            "incident_dispatch",
            json!({"caseId": id, "units": [], "opinion": "请出警", "pin": PIN}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let r = desk
        .ok(
            "incident_dispatch",
            json!({"caseId": id, "units": [DANJIANG, FIRE], "opinion": "请出警", "pin": PIN}),
        )
        .await;
    assert_eq!(r["queued"], false);
    let st = hub_state(&hub, &id);
    assert_eq!(st.dispatches.len(), 2);
    assert_eq!(st.status, Status::Dispatched);
    let lists = desk.ok("incident_lists", json!({})).await;
    assert_eq!(lists["desk"], true);
    assert_eq!(lists["counts"]["unacked"], 1, "{lists}");
    assert_eq!(lists["counts"]["to_dispatch"], 1, "{lists}");

    // 丹江 in its browser: 待签收, then 签收 (a wrong PIN first).
    let lists = dj.ok("incident_lists", json!({})).await;
    assert_eq!(lists["counts"]["to_ack"], 1, "{lists}");
    let page = dj.ok("incident_detail", json!({"caseId": id})).await;
    assert_eq!(page["can_acknowledge"], true, "{page}");
    let (status, body) = dj
        .call(
            "incident_step",
            json!({"caseId": id, "step": {"step": "ack"}, "pin": "999999"}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("wrong_pin")));
    let (status, body) = dj
        .call(
            "incident_step",
            json!({"caseId": id, "step": {"step": "fly"}, "pin": PIN}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(hub_state(&hub, &id).head, st.head, "nothing saved");
    dj.ok(
        "incident_step",
        json!({"caseId": id, "step": {"step": "ack"}, "pin": PIN}),
    )
    .await;
    dj.ok(
        "incident_step",
        json!({"caseId": id, "step": {"step": "depart", "officers": [DJ_DUTY]}, "pin": PIN}),
    )
    .await;
    let st = hub_state(&hub, &id);
    let d = st.dispatches.iter().find(|d| d.unit == DANJIANG).unwrap();
    assert_eq!(d.status(), Some(Status::Departed));
    // The 反馈单 is checked before the PIN; the total comes with its 大写.
    let errs = dj
        .ok(
            "incident_validate",
            json!({"step": "feedback", "caseId": id, "form": {"loss_amount": "1.234"}}),
        )
        .await;
    assert!(
        errs.as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "loss_amount"),
        "{errs}"
    );
    let total = dj
        .ok("money_total", json!({"amounts": ["1234.56", "300.00"]}))
        .await;
    assert_eq!(total["total"], "1534.56");
    assert_eq!(total["upper"], "壹仟伍佰叁拾肆元伍角陆分");
    let (status, _) = dj.call("money_total", json!({"amounts": ["-1"]})).await;
    assert_eq!(status, 422);
    // Out of scope is "not found".
    let (status, _) = dj
        .call("incident_detail", json!({"caseId": second["caseId"]}))
        .await;
    assert_eq!(status, 404);

    // The OpenAPI document names the 110 commands and their bodies.
    let doc: Value = desk
        .http
        .get(format!("{}/api/openapi.json", hub.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = doc.to_string();
    for name in [
        "incident_create",
        "incident_dispatch",
        "incident_step",
        "money_total",
    ] {
        assert!(text.contains(name), "{name} in the OpenAPI document");
    }
    for schema in [
        "UiIncidentDispatchArgs",
        "UiIncidentStepArgs",
        "UiIncidentCreated",
        "UiFieldError",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} in the OpenAPI document"
        );
    }
    hub.stop().await;
}

crate::both_backends!(browser_110_with_hosted_keys, browser_flow);
