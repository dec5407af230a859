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
            registry: None,
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

fn dispatch(w: &mut World, desk: &str, unit_name: &str) -> Result<(), Rejection> {
    let unit = w.unit(unit_name);
    w.act(
        desk,
        Action::Dispatch {
            at: None,
            unit,
            opinion: "请速出警".into(),
        },
    )
    .map(|_| ())
}

fn depart(officers: Vec<String>) -> Action {
    Action::Depart {
        officers,
        vehicles: vec!["贵H·1234警".into()],
        unit: None,
        at: None,
    }
}

const ACK: Action = Action::Acknowledge {
    at: None,
    unit: None,
};
const ARRIVE: Action = Action::Arrive {
    unit: None,
    at: None,
};

fn fb(changes: FormValues) -> Action {
    Action::Feedback {
        at: None,
        changes,
        unit: None,
    }
}

fn invalid_fields(r: Result<&CaseState, Rejection>) -> Vec<String> {
    match r {
        Err(Rejection::Invalid(errs)) => errs.into_iter().map(|e| e.field).collect(),
        Err(e) => panic!("expected field errors, got {e}"),
        Ok(s) => panic!("expected field errors, got {:?}", s.status),
    }
}

#[test]
fn full_lifecycle_through_every_state() {
    let mut w = World::new();
    let desk = w.holder("110巡警大队", "接警员");
    let commander = w.holder("110巡警大队", "值班长");
    let chief = w.holder("方祥派出所", "所长");
    let officer = w.holder("方祥派出所", "民警");
    create(&mut w, "110巡警大队", &desk).unwrap();
    assert_eq!(status(&w), Status::Received);
    // The record waits for the desk's duty staff.
    let duty = w.reg.org.duty_of(&w.unit("110巡警大队"));
    assert!(duty.contains(&desk) && duty.contains(&commander));
    assert_eq!(w.state().assignees(&w.reg), {
        let mut d = duty.clone();
        d.sort();
        d
    });
    // The station cannot act before dispatch.
    assert!(refused(w.act(&chief, ACK)).contains("签收"));
    dispatch(&mut w, &desk, "方祥派出所").unwrap();
    assert_eq!(status(&w), Status::Dispatched);
    assert_eq!(
        w.state().dispatches[0].no,
        format!("{}-P1", w.state().case_no)
    );
    // Now it waits for the station's 值班民警, not the desk.
    let station_duty = w.holder("方祥派出所", "值班民警");
    assert_eq!(w.state().assignees(&w.reg), vec![station_duty.clone()]);
    // Another station cannot acknowledge.
    let other = w.holder("西江派出所", "所长");
    assert!(refused(w.act(&other, ACK)).contains("签收"));
    w.act(&chief, ACK).unwrap();
    assert_eq!(status(&w), Status::Acknowledged);
    assert!(refused(w.act(&chief, ACK)).contains("已签收"));
    // The intake cannot change once dispatched.
    assert!(matches!(
        w.act(
            &desk,
            Action::UpdateForm {
                changes: FormValues::from([("summary".to_string(), json!("改"))])
            }
        ),
        Err(Rejection::NotAllowed(_))
    ));
    w.act(&chief, depart(vec![chief.clone(), officer.clone()]))
        .unwrap();
    assert_eq!(status(&w), Status::Departed);
    w.act(&officer, ARRIVE).unwrap();
    assert_eq!(status(&w), Status::Arrived);
    // Feedback must be complete: the result code and the loss are required.
    let mut partial = feedback();
    partial.remove("result");
    assert!(invalid_fields(w.act(&officer, fb(partial))).contains(&"result".to_string()));
    let mut partial = feedback();
    partial.remove("loss_amount");
    assert!(invalid_fields(w.act(&officer, fb(partial))).contains(&"loss_amount".to_string()));
    // A negative loss, or one with 3 decimals, is refused at the field.
    for bad in ["-5.00", "12.345"] {
        let mut f = feedback();
        f.insert("loss_amount".into(), json!(bad));
        assert_eq!(
            invalid_fields(w.act(&officer, fb(f))),
            vec!["loss_amount"],
            "{bad}"
        );
    }
    // Intake fields are not the unit's to change.
    let mut f = feedback();
    f.insert("summary".into(), json!("改写"));
    assert!(w.act(&officer, fb(f)).is_err());
    // The 值班长 cannot conclude before the report.
    assert!(refused(w.act(&commander, Action::Conclude {})).contains("反馈"));
    w.act(&officer, fb(feedback())).unwrap();
    assert_eq!(status(&w), Status::FeedbackFiled);
    // Now it waits for whoever concludes at the desk.
    assert!(w.state().assignees(&w.reg).contains(&commander));
    // The report may be amended until concluded.
    let mut amend = FormValues::new();
    amend.insert(
        "handling".into(),
        json!("民警到场勘查，已立案侦查，嫌疑人在逃"),
    );
    w.act(&officer, fb(amend)).unwrap();
    // A 接警员 or the station cannot conclude a desk record; the 值班长 does.
    assert!(refused(w.act(&desk, Action::Conclude {})).contains("值班长"));
    assert!(refused(w.act(&chief, Action::Conclude {})).contains("值班长"));
    w.act(&commander, Action::Conclude {}).unwrap();
    // Concluding files the record at the 110 brigade at once.
    assert_eq!(status(&w), Status::Archived);
    assert_eq!(w.state().archive_unit, Some(w.unit("110巡警大队")));
    assert!(w.state().is_final());
    assert!(w.state().assignees(&w.reg).is_empty());
    assert!(refused(w.act(&commander, Action::Archive {})).contains("归档"));
    assert!(refused(w.act(&officer, fb(feedback()))).contains("归档"));
    let d = &w.state().dispatches[0];
    assert!(d.acknowledged_at.is_some() && d.departed_at.is_some() && d.arrived_at.is_some());
    assert_eq!(d.feedback["loss_amount"], json!("12800.00"));
    assert_eq!(
        d.feedback["handling"],
        json!("民警到场勘查，已立案侦查，嫌疑人在逃")
    );
    // Every step is in the trail, by whom.
    let steps: Vec<&str> = w.state().trail.iter().map(|t| t.step.as_str()).collect();
    assert_eq!(
        steps,
        [
            "接警",
            "派警",
            "签收",
            "出警",
            "到达现场",
            "反馈",
            "修改反馈",
            "终结"
        ]
    );
    assert_eq!(&w.replay(), w.state());
}

/// 一警多处: two units, each with its own dispatch; one returns it, the
/// other handles it; the losses add up per report.
#[test]
fn several_units_each_with_their_own_dispatch() {
    let mut w = World::new();
    let desk = w.holder("110巡警大队", "接警员");
    let commander = w.holder("110巡警大队", "值班长");
    let danjiang = w.holder("丹江派出所", "值班民警");
    let fire = w.holder("消防大队", "值班民警");
    create(&mut w, "110巡警大队", &desk).unwrap();
    dispatch(&mut w, &desk, "丹江派出所").unwrap();
    dispatch(&mut w, &desk, "消防大队").unwrap();
    // The same unit twice is refused while its dispatch stands.
    assert!(refused(dispatch(&mut w, &desk, "消防大队").map(|_| w.state())).contains("重复"));
    // A unit that is not a dispatch target is refused.
    assert!(dispatch(&mut w, &desk, "户政股").is_err());
    assert_eq!(w.state().dispatches.len(), 2);
    assert_eq!(
        w.state().dispatches[1].no,
        format!("{}-P2", w.state().case_no)
    );
    let mut waiting = w.state().assignees(&w.reg);
    waiting.sort();
    let mut want = vec![
        danjiang.clone(),
        w.holder("消防大队", "值班民警"),
        w.reg.org.holders(&w.unit("消防大队"), "值班民警")[1]
            .id
            .clone(),
    ];
    want.sort();
    want.dedup();
    assert_eq!(waiting, want);
    // 丹江 cannot act on 消防's dispatch, even naming it.
    assert!(w
        .act(
            &danjiang,
            Action::Acknowledge {
                at: None,
                unit: Some(w.unit("消防大队"))
            }
        )
        .is_err());
    w.act(&danjiang, ACK).unwrap();
    // Still 已下达 overall: 消防 has not acknowledged.
    assert_eq!(status(&w), Status::Dispatched);
    // 退单 needs a reason.
    assert!(refused(w.act(
        &fire,
        Action::RejectDispatch {
            at: None,
            reason: " ".into(),
            unit: None
        }
    ))
    .contains("原因"));
    w.act(
        &fire,
        Action::RejectDispatch {
            at: None,
            reason: "非火灾警情，无需消防出动".into(),
            unit: None,
        },
    )
    .unwrap();
    assert_eq!(status(&w), Status::Acknowledged);
    assert_eq!(w.state().dispatches[1].status_label(), "已退单");
    // A returned dispatch can no longer be acted on.
    assert!(w.act(&fire, ACK).is_err());
    w.act(&danjiang, depart(vec![danjiang.clone()])).unwrap();
    // Arrival may be recorded afterwards, but not before the departure.
    let before = w.state().dispatches[0].departed_at.unwrap() - time::Duration::minutes(1);
    assert!(refused(w.act(
        &danjiang,
        Action::Arrive {
            unit: None,
            at: Some(before)
        }
    ))
    .contains("不能早于出警时间"));
    let later = w.clock + time::Duration::hours(1);
    assert!(refused(w.act(
        &danjiang,
        Action::Arrive {
            unit: None,
            at: Some(later)
        }
    ))
    .contains("不能晚于"));
    w.act(&danjiang, ARRIVE).unwrap();
    // Loss items in yuan with fen, and their total.
    let mut report = feedback();
    report.insert(
        "loss_items".into(),
        json!([{"item": "电动车一辆", "amount": "1234.56"}, {"item": "手机", "amount": "300.00"}]),
    );
    report.insert("loss_amount".into(), json!("1534.50"));
    assert_eq!(
        invalid_fields(w.act(&danjiang, fb(report.clone()))),
        vec!["loss_amount"]
    );
    report.insert("loss_amount".into(), json!("1534.56"));
    w.act(&danjiang, fb(report)).unwrap();
    // Every standing dispatch reported: 待终结 at the desk.
    assert_eq!(status(&w), Status::FeedbackFiled);
    // The desk may still send another unit, which reopens the record.
    dispatch(&mut w, &desk, "交警大队").unwrap();
    assert_eq!(status(&w), Status::Dispatched);
    let traffic = w.holder("交警大队", "值班民警");
    w.act(
        &traffic,
        Action::RejectDispatch {
            at: None,
            reason: "无交通事故".into(),
            unit: None,
        },
    )
    .unwrap();
    assert_eq!(status(&w), Status::FeedbackFiled);
    w.act(&commander, Action::Conclude {}).unwrap();
    assert_eq!(status(&w), Status::Archived);
    assert_eq!(crate::view::incident_loss(w.state()).to_string(), "1534.56");
    assert_eq!(
        crate::view::incident_loss(w.state()).to_chinese_upper(),
        "壹仟伍佰叁拾肆元伍角陆分"
    );
    assert_eq!(&w.replay(), w.state());
}

#[test]
fn a_returned_dispatch_goes_back_to_the_desk() {
    let mut w = World::new();
    let desk = w.holder("110巡警大队", "接警员");
    create(&mut w, "110巡警大队", &desk).unwrap();
    dispatch(&mut w, &desk, "方祥派出所").unwrap();
    let chief = w.holder("方祥派出所", "所长");
    w.act(&chief, ACK).unwrap();
    w.act(
        &chief,
        Action::RejectDispatch {
            at: None,
            reason: "属交通事故，应由交警处置".into(),
            unit: None,
        },
    )
    .unwrap();
    assert_eq!(status(&w), Status::Received);
    assert!(w.state().assignees(&w.reg).contains(&desk));
    // The same unit may be sent again once its dispatch was returned.
    dispatch(&mut w, &desk, "交警大队").unwrap();
    let tj = w.holder("交警大队", "大队长");
    w.act(&tj, ACK).unwrap();
    // After departure there is no 退单.
    w.act(&tj, depart(vec![tj.clone()])).unwrap();
    assert!(refused(w.act(
        &tj,
        Action::RejectDispatch {
            at: None,
            reason: "x".into(),
            unit: None
        }
    ))
    .contains("已出警"));
    assert_eq!(w.state().dispatches.len(), 2);
    assert_eq!(&w.replay(), w.state());
}

/// 自接警: a station registers a report it received itself, handles it and
/// its 所长 concludes; the record is filed at the 110 brigade all the same.
#[test]
fn a_station_registers_a_report_itself() {
    let mut w = World::new();
    let officer = w.holder("方祥派出所", "值班民警");
    let chief = w.holder("方祥派出所", "所长");
    create(&mut w, "方祥派出所", &officer).unwrap();
    assert_eq!(status(&w), Status::Acknowledged);
    assert!(w.state().dispatches[0].own);
    // The desk cannot return a station's own report for it.
    assert!(w
        .act(
            &officer,
            Action::RejectDispatch {
                at: None,
                reason: "x".into(),
                unit: None
            }
        )
        .is_err());
    w.act(&officer, depart(vec![officer.clone()])).unwrap();
    w.act(&officer, ARRIVE).unwrap();
    w.act(&officer, fb(feedback())).unwrap();
    // A 值班民警 does not conclude; the 所长 does.
    assert!(refused(w.act(&officer, Action::Conclude {})).contains("所长"));
    w.act(&chief, Action::Conclude {}).unwrap();
    assert_eq!(status(&w), Status::Archived);
    assert_eq!(w.state().archive_unit, Some(w.unit("110巡警大队")));
    assert_eq!(w.state().trail[0].step, "自接警");
    assert_eq!(&w.replay(), w.state());
}

#[test]
fn intake_is_checked_whole() {
    let mut w = World::new();
    let desk = w.holder("110巡警大队", "接警员");
    let t = w.reg.template_latest("incident").unwrap().reference();
    let unit = w.unit("110巡警大队");
    let mut form = intake_form();
    form.insert("alarm_phone".into(), json!("1398550"));
    form.remove("township");
    form.insert("receive_time".into(), json!("2026-11-20T08:50:00+08:00"));
    let case_no = CaseNo::format(&unit, w.clock.date(), &w.issuer(&desk), 1);
    let r = w.act(
        &desk,
        Action::Create {
            case_type: CaseType::Incident,
            template: t.clone(),
            workflow: None,
            case_no,
            unit: unit.clone(),
            form: form.clone(),
            registry: None,
        },
    );
    let mut fields = invalid_fields(r);
    fields.sort();
    assert_eq!(fields, ["alarm_phone", "receive_time", "township"]);
    // The same errors, before any PIN, from check_intake.
    let mut pre: Vec<String> = crate::case::check_intake(&w.reg, &form, w.clock)
        .into_iter()
        .map(|e| e.field)
        .collect();
    pre.sort();
    assert_eq!(pre, fields);
    // 无 is a valid phone; a category at level 3 is accepted.
    let mut ok = intake_form();
    ok.insert("alarm_phone".into(), json!("无"));
    ok.insert("contact_phone".into(), json!("0855-3331234"));
    ok.insert("alarm_category".into(), json!("010103"));
    assert!(crate::case::check_intake(&w.reg, &ok, w.clock).is_empty());
    create(&mut w, "110巡警大队", &desk).unwrap();
}

#[test]
fn bureau_itself_cannot_register() {
    let mut w = World::new();
    let director = w.holder("雷山县公安局", "局长");
    let e = create(&mut w, "雷山县公安局", &director).unwrap_err();
    assert!(e.to_string().contains("110"), "{e}");
    // Nor someone outside the unit.
    let mut w = World::new();
    let chief = w.holder("方祥派出所", "所长");
    assert!(create(&mut w, "110巡警大队", &chief).is_err());
}

#[test]
fn readers_are_the_desks_the_leaders_and_the_units_involved() {
    let mut w = World::new();
    let desk = w.holder("110巡警大队", "接警员");
    create(&mut w, "110巡警大队", &desk).unwrap();
    dispatch(&mut w, &desk, "丹江派出所").unwrap();
    let r = w.state().readers_after(&w.reg, false, &desk);
    let has = |id: &str| r.iter().any(|x| x == id);
    assert!(has(&w.holder("丹江派出所", "所长")));
    assert!(has(&w.holder("指挥中心", "接警员")));
    assert!(has(&w.holder("雷山县公安局", "局长")));
    assert!(!has(&w.holder("方祥派出所", "所长")));
    assert!(!has(&w.holder("户政股", "股长")));
}

#[test]
fn repeat_calls_by_phone_or_place_within_half_an_hour() {
    let mut w = World::new();
    let desk = w.holder("110巡警大队", "接警员");
    create(&mut w, "110巡警大队", &desk).unwrap();
    let earlier = w.state().clone();
    let mut again = intake_form();
    again.insert("report_time".into(), json!("2026-11-20T09:20:00+08:00"));
    let hits = crate::case::repeat_calls(&again, [&earlier]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].reason, "同一电话");
    // Another phone, same 乡镇 and level-1 category (a level-3 code).
    again.insert("alarm_phone".into(), json!("13800000000"));
    again.insert("contact_phone".into(), json!("无"));
    again.insert("alarm_category".into(), json!("010103"));
    let hits = crate::case::repeat_calls(&again, [&earlier]);
    assert_eq!(hits[0].reason, "同一乡镇同类警情");
    // Another category: no hint; and outside 30 minutes: no hint.
    again.insert("alarm_category".into(), json!("050000"));
    assert!(crate::case::repeat_calls(&again, [&earlier]).is_empty());
    let mut late = intake_form();
    late.insert("report_time".into(), json!("2026-11-20T09:26:00+08:00"));
    assert!(crate::case::repeat_calls(&late, [&earlier]).is_empty());
}
