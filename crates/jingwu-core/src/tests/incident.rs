//! Every state of the 110 record lifecycle.

use serde_json::json;

use super::World;
use crate::case::{CaseState, Rejection, Status};
use crate::caseno::CaseNo;
use crate::event::Action;
use crate::form::{CaseType, FormValues};

pub(crate) fn intake_form() -> FormValues {
    serde_json::from_value(json!({
        "report_time": "2026-11-20T08:55:00+08:00",
        "receive_time": "2026-11-20T08:55:30+08:00",
        "alarm_method": "1",
        "alarm_phone": "13985501234",
        "caller_name": "李春生",
        "caller_sex": "1",
        "contact_phone": "13985501234",
        "location": "方祥乡平祥村二组",
        "township": "522634204",
        "summary": "报警人称其家中耕牛被盗",
        "alarm_category": "010000",
        "level": "1"
    }))
    .unwrap()
}

pub(crate) fn feedback() -> FormValues {
    serde_json::from_value(json!({
        "occurred_time": "2026-11-20T03:00:00+08:00",
        "verified_category": "010000",
        "handling": "民警到场勘查，走访群众，已立案侦查",
        "result": "04",
        "loss_amount": "12800.00",
        "case_no": "A5226340000002026110001"
    }))
    .unwrap()
}

pub(crate) fn create(w: &mut World, unit_name: &str, author: &str) -> Result<(), Rejection> {
    let unit = w.unit(unit_name);
    let t = w.reg.template_latest("incident").unwrap().reference();
    let case_no = CaseNo::format(&unit, w.clock.date(), &w.issuer(author), 1);
    w.act(
        author,
        Action::Create {
            case_type: CaseType::Incident,
            template: t,
            workflow: None,
            case_no,
            unit,
            form: intake_form(),
        },
    )
    .map(|_| ())
}

fn status(w: &World) -> Status {
    w.state().status
}

fn refused(r: Result<&CaseState, Rejection>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(s) => panic!("expected a rejection, got {:?}", s.status),
    }
}

#[test]
fn full_lifecycle_through_every_state() {
    let mut w = World::new();
    let desk = w.holder("110巡警大队", "接警员");
    let station = w.unit("方祥派出所");
    let chief = w.holder("方祥派出所", "所长");
    let officer = w.holder("方祥派出所", "民警");
    let archiver = "system110".to_string();
    create(&mut w, "110巡警大队", &desk).unwrap();
    assert_eq!(status(&w), Status::Received);
    // The station cannot act before dispatch.
    assert!(refused(w.act(&chief, Action::Acknowledge {})).contains("签收"));
    w.act(
        &desk,
        Action::Dispatch {
            unit: station.clone(),
            opinion: "请速出警".into(),
        },
    )
    .unwrap();
    assert_eq!(status(&w), Status::Dispatched);
    // Another station cannot acknowledge.
    let other = w.holder("西江派出所", "所长");
    assert!(refused(w.act(&other, Action::Acknowledge {})).contains("签收"));
    w.act(&chief, Action::Acknowledge {}).unwrap();
    assert_eq!(status(&w), Status::Acknowledged);
    // Feedback fields cannot be filled at intake time by the desk.
    assert!(matches!(
        w.act(
            &desk,
            Action::UpdateForm {
                changes: feedback()
            }
        ),
        Err(Rejection::NotAllowed(_)) | Err(Rejection::Invalid(_))
    ));
    w.act(
        &chief,
        Action::Depart {
            officers: vec![chief.clone(), officer.clone()],
            vehicles: vec!["贵H·1234警".into()],
        },
    )
    .unwrap();
    assert_eq!(status(&w), Status::Departed);
    w.act(&officer, Action::Arrive {}).unwrap();
    assert_eq!(status(&w), Status::Arrived);
    // Feedback must be complete: the loss amount is required.
    let mut partial = feedback();
    partial.remove("loss_amount");
    match w.act(&officer, Action::Feedback { changes: partial }) {
        Err(Rejection::Invalid(errs)) => assert!(errs.iter().any(|e| e.field == "loss_amount")),
        other => panic!("{other:?}"),
    }
    // A negative loss is refused at the field.
    let mut neg = feedback();
    neg.insert("loss_amount".into(), json!("-5.00"));
    match w.act(&officer, Action::Feedback { changes: neg }) {
        Err(Rejection::Invalid(errs)) => assert!(errs[0].message.contains("负")),
        other => panic!("{other:?}"),
    }
    w.act(
        &officer,
        Action::Feedback {
            changes: feedback(),
        },
    )
    .unwrap();
    assert_eq!(status(&w), Status::FeedbackFiled);
    // Archiving before conclusion is refused.
    assert!(refused(w.act(&archiver, Action::Archive {})).contains("终结"));
    w.act(&chief, Action::Conclude {}).unwrap();
    assert_eq!(status(&w), Status::Concluded);
    // A station officer cannot archive: the 110 brigade does.
    assert!(refused(w.act(&officer, Action::Archive {})).contains("110"));
    w.act(&archiver, Action::Archive {}).unwrap();
    assert_eq!(status(&w), Status::Archived);
    assert!(w.state().is_final());
    let d = w.state().dispatch.as_ref().unwrap();
    assert!(d.acknowledged_at.is_some() && d.departed_at.is_some() && d.arrived_at.is_some());
    assert_eq!(w.state().form["loss_amount"], json!("12800.00"));
    assert_eq!(&w.replay(), w.state());
}

#[test]
fn dispatch_refused_and_redispatched() {
    let mut w = World::new();
    let desk = w.holder("110巡警大队", "接警员");
    let fangxiang = w.unit("方祥派出所");
    let traffic = w.unit("交警大队");
    create(&mut w, "110巡警大队", &desk).unwrap();
    w.act(
        &desk,
        Action::Dispatch {
            unit: fangxiang,
            opinion: "处置".into(),
        },
    )
    .unwrap();
    let chief = w.holder("方祥派出所", "所长");
    assert!(refused(w.act(&chief, Action::RejectDispatch { reason: " ".into() })).contains("原因"));
    w.act(
        &chief,
        Action::RejectDispatch {
            reason: "属交通事故，应由交警处置".into(),
        },
    )
    .unwrap();
    assert_eq!(status(&w), Status::Received);
    w.act(
        &desk,
        Action::Dispatch {
            unit: traffic,
            opinion: "转交警".into(),
        },
    )
    .unwrap();
    let tj = w.holder("交警大队", "大队长");
    w.act(&tj, Action::Acknowledge {}).unwrap();
    assert_eq!(w.state().dispatch_history.len(), 2);
    assert_eq!(&w.replay(), w.state());
}

#[test]
fn a_station_registers_a_report_itself() {
    let mut w = World::new();
    let officer = w.holder("方祥派出所", "民警");
    create(&mut w, "方祥派出所", &officer).unwrap();
    w.act(
        &officer,
        Action::Depart {
            officers: vec![officer.clone()],
            vehicles: vec![],
        },
    )
    .unwrap();
    w.act(&officer, Action::Arrive {}).unwrap();
    w.act(
        &officer,
        Action::Feedback {
            changes: feedback(),
        },
    )
    .unwrap();
    w.act(&officer, Action::Conclude {}).unwrap();
    w.act("system110", Action::Archive {}).unwrap();
    assert_eq!(status(&w), Status::Archived);
    assert_eq!(&w.replay(), w.state());
}

#[test]
fn bureau_itself_cannot_register() {
    let mut w = World::new();
    let director = w.holder("雷山县公安局", "局长");
    let e = create(&mut w, "雷山县公安局", &director).unwrap_err();
    assert!(e.to_string().contains("110"), "{e}");
}
