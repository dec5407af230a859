//! The 户口变更 chain on every branch.

use serde_json::json;

use super::{decide, hukou_form, World};
use crate::case::{Rejection, Status};
use crate::event::{Action, Decision};
use crate::form::{AttachmentRef, FormValues};

const STATION: &str = "方祥派出所";

struct People {
    officer: String,
    chief: String,
    section: String,
    deputy: String,
    other_officer: String,
}

fn people(w: &World) -> People {
    People {
        officer: w.holder(STATION, "户籍民警"),
        chief: w.holder(STATION, "所长"),
        section: w.holder("户政股", "股长"),
        deputy: w.deputy(),
        other_officer: w.holder("西江派出所", "户籍民警"),
    }
}

fn p_chief(w: &World) -> String {
    w.holder(STATION, "所长")
}

fn submitted() -> (World, People) {
    let mut w = World::new();
    let p = people(&w);
    w.create_hukou(STATION, &p.officer, hukou_form()).unwrap();
    assert_eq!(w.state().status, Status::Draft);
    w.act(&p.officer, Action::Submit {}).unwrap();
    assert_eq!(w.state().status, Status::InReview);
    assert_eq!(w.state().route.as_deref(), Some("county"));
    assert_eq!(w.state().assignees(&w.reg), vec![p.chief.clone()]);
    (w, p)
}

fn not_allowed(r: Result<&crate::case::CaseState, Rejection>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(s) => panic!("expected a rejection, got status {:?}", s.status),
    }
}

#[test]
fn agreed_at_every_step() {
    let (mut w, p) = submitted();
    w.act(
        &p.chief,
        decide("station_chief", Decision::Agree, "同意上报"),
    )
    .unwrap();
    assert_eq!(w.state().assignees(&w.reg), vec![p.section.clone()]);
    w.act(
        &p.section,
        decide("household_section", Decision::Agree, "材料齐全"),
    )
    .unwrap();
    assert_eq!(w.state().assignees(&w.reg), vec![p.deputy.clone()]);
    w.act(&p.deputy, decide("deputy_director", Decision::Agree, ""))
        .unwrap();
    let s = w.state();
    assert_eq!(s.status, Status::Approved);
    assert!(s.is_final());
    let trail: Vec<_> = s
        .trail
        .iter()
        .map(|t| (t.role.as_str(), t.action.as_str()))
        .collect();
    assert_eq!(
        trail,
        [
            ("承办民警", "submit"),
            ("派出所所长", "decide"),
            ("户政股股长", "decide"),
            ("分管局长", "decide")
        ]
    );
    // No more decisions once final.
    assert!(
        not_allowed(w.act(&p.deputy, decide("deputy_director", Decision::Agree, "")))
            .contains("不能审批")
    );
    // Inform before implement is refused; then 落实 and 告知.
    let at = w.clock;
    let inform = Action::InformApplicant {
        at,
        channel: "phone".into(),
        note: "已电话告知".into(),
    };
    assert!(not_allowed(w.act(&p.officer, inform.clone())).contains("落实"));
    assert!(not_allowed(w.act(
        &p.other_officer,
        Action::Implement {
            note: String::new()
        }
    ))
    .contains("受理派出所"));
    w.act(
        &p.officer,
        Action::Implement {
            note: "已在系统中变更".into(),
        },
    )
    .unwrap();
    w.act(&p.officer, inform).unwrap();
    assert!(w.state().implemented.is_some() && w.state().informed.is_some());
    assert_eq!(&w.replay(), w.state());
}

#[test]
fn disagreed_at_step_two() {
    let (mut w, p) = submitted();
    w.act(&p.chief, decide("station_chief", Decision::Agree, "同意"))
        .unwrap();
    // Disagreeing needs an opinion.
    assert!(not_allowed(w.act(
        &p.section,
        decide("household_section", Decision::Disagree, " ")
    ))
    .contains("意见"));
    w.act(
        &p.section,
        decide(
            "household_section",
            Decision::Disagree,
            "证明材料不足以证明用字错误",
        ),
    )
    .unwrap();
    assert_eq!(w.state().status, Status::Rejected);
    assert!(
        not_allowed(w.act(&p.deputy, decide("deputy_director", Decision::Agree, "")))
            .contains("不能审批")
    );
    assert!(not_allowed(w.act(
        &p.officer,
        Action::Implement {
            note: String::new()
        }
    ))
    .contains("同意"));
    // The applicant is told of the refusal.
    let at = w.clock;
    w.act(
        &p.officer,
        Action::InformApplicant {
            at,
            channel: "sms".into(),
            note: String::new(),
        },
    )
    .unwrap();
    assert_eq!(&w.replay(), w.state());
}

#[test]
fn returned_corrected_resubmitted_agreed() {
    let (mut w, p) = submitted();
    w.act(&p.chief, decide("station_chief", Decision::Agree, "同意"))
        .unwrap();
    w.act(
        &p.section,
        decide(
            "household_section",
            Decision::Return,
            "请补充村委会证明原件扫描件",
        ),
    )
    .unwrap();
    assert_eq!(w.state().status, Status::Returned);
    // Nobody but the officer may correct; the section chief cannot edit.
    let fix: FormValues = [("remarks".to_string(), json!("已补充村委会证明"))].into();
    assert!(not_allowed(w.act(
        &p.section,
        Action::UpdateForm {
            changes: fix.clone()
        }
    ))
    .contains("承办民警"));
    w.act(&p.officer, Action::UpdateForm { changes: fix })
        .unwrap();
    w.act(
        &p.officer,
        Action::Attach {
            field: "scans".into(),
            attachment: AttachmentRef {
                sm3: "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732".into(),
                name: "村委会证明.jpg".into(),
                mime: "image/jpeg".into(),
                size: 120_000,
                pages: Some(1),
            },
        },
    )
    .unwrap();
    assert_eq!(w.state().form["scans"].as_array().unwrap().len(), 2);
    w.act(&p.officer, Action::Submit {}).unwrap();
    // The chain starts again at the station chief.
    assert_eq!(w.state().assignees(&w.reg), vec![p.chief.clone()]);
    w.act(&p.chief, decide("station_chief", Decision::Agree, "同意"))
        .unwrap();
    w.act(
        &p.section,
        decide("household_section", Decision::Agree, "同意"),
    )
    .unwrap();
    w.act(
        &p.deputy,
        decide("deputy_director", Decision::Agree, "同意"),
    )
    .unwrap();
    assert_eq!(w.state().status, Status::Approved);
    assert_eq!(w.state().trail.len(), 7);
    assert_eq!(&w.replay(), w.state());
}

#[test]
fn withdrawn_while_next_step_untouched() {
    let (mut w, p) = submitted();
    // Only the sender may withdraw.
    assert!(not_allowed(w.act(
        &p.chief,
        Action::Withdraw {
            reason: String::new()
        }
    ))
    .contains("撤回"));
    w.act(
        &p.officer,
        Action::Withdraw {
            reason: "漏填材料".into(),
        },
    )
    .unwrap();
    assert_eq!(w.state().status, Status::Withdrawn);
    // The chief can no longer decide.
    assert!(
        not_allowed(w.act(&p.chief, decide("station_chief", Decision::Agree, "")))
            .contains("不能审批")
    );
    // Edit and send again.
    let fix: FormValues = [("remarks".to_string(), json!("补充说明"))].into();
    w.act(&p.officer, Action::UpdateForm { changes: fix })
        .unwrap();
    w.act(&p.officer, Action::Submit {}).unwrap();
    // The chief agrees, then withdraws his agreement before the section acts.
    w.act(&p.chief, decide("station_chief", Decision::Agree, "同意"))
        .unwrap();
    w.act(
        &p.chief,
        Action::Withdraw {
            reason: "意见需修改".into(),
        },
    )
    .unwrap();
    assert_eq!(w.state().status, Status::InReview);
    assert_eq!(w.state().assignees(&w.reg), vec![p.chief.clone()]);
    w.act(
        &p.chief,
        decide("station_chief", Decision::Agree, "同意，请县局审批"),
    )
    .unwrap();
    // Once the next step has acted, withdrawing is no longer possible.
    w.act(
        &p.section,
        decide("household_section", Decision::Agree, "同意"),
    )
    .unwrap();
    assert!(not_allowed(w.act(
        &p.chief,
        Action::Withdraw {
            reason: String::new()
        }
    ))
    .contains("撤回"));
    // And the officer cannot withdraw after the chief acted either.
    assert!(not_allowed(w.act(
        &p.officer,
        Action::Withdraw {
            reason: String::new()
        }
    ))
    .contains("撤回"));
    assert_eq!(&w.replay(), w.state());
}

#[test]
fn each_step_has_a_working_day_deadline() {
    let (mut w, p) = submitted();
    let cal = crate::workdays::WorkCalendar::weekends_only();
    // Submitted on Friday 2026-11-20: the chief has 20 working days.
    let d = w.state().step_deadline(&w.reg, &cal).unwrap();
    assert_eq!(d.date(), time::macros::date!(2026 - 12 - 18));
    assert_eq!(d.offset(), crate::SHANGHAI);
    w.act(&p.chief, decide("station_chief", Decision::Agree, "同意"))
        .unwrap();
    // The section has 10 working days from the chief's decision.
    let d = w.state().step_deadline(&w.reg, &cal).unwrap();
    assert_eq!(d.date(), time::macros::date!(2026 - 12 - 04));
    w.act(
        &p.section,
        decide("household_section", Decision::Disagree, "不符合条件"),
    )
    .unwrap();
    assert!(w.state().step_deadline(&w.reg, &cal).is_none());
}

#[test]
fn non_main_change_ends_at_the_station_chief() {
    let mut w = World::new();
    let p = people(&w);
    let mut form = hukou_form();
    form.insert("change_item".into(), json!("职业"));
    form.insert("change_category".into(), json!("92"));
    form.insert("before".into(), json!("农民"));
    form.insert("after".into(), json!("个体工商户"));
    w.create_hukou(STATION, &p.officer, form).unwrap();
    w.act(&p.officer, Action::Submit {}).unwrap();
    assert_eq!(w.state().route.as_deref(), Some("station"));
    w.act(&p.chief, decide("station_chief", Decision::Agree, "同意"))
        .unwrap();
    assert_eq!(w.state().status, Status::Approved);
    assert_eq!(&w.replay(), w.state());
}

#[test]
fn wrong_people_and_wrong_steps_are_refused_with_reasons() {
    let mut w = World::new();
    let p = people(&w);
    // An officer of another station cannot register for 方祥.
    let e = w
        .create_hukou(STATION, &p.other_officer, hukou_form())
        .unwrap_err();
    assert!(e.to_string().contains("不是"), "{e}");
    w.create_hukou(STATION, &p.officer, hukou_form()).unwrap();
    // Another officer cannot submit someone else's case.
    assert!(not_allowed(w.act(&p.other_officer, Action::Submit {})).contains("承办民警"));
    w.act(&p.officer, Action::Submit {}).unwrap();
    // The section chief cannot jump the queue, nor decide at a step that is not current.
    assert!(
        not_allowed(w.act(&p.section, decide("station_chief", Decision::Agree, "")))
            .contains("审批人")
    );
    assert!(
        not_allowed(w.act(&p.section, decide("household_section", Decision::Agree, "")))
            .contains("不在该环节")
    );
    // Another station's chief is not this case's chief.
    let xj_chief = w.holder("西江派出所", "所长");
    assert!(
        not_allowed(w.act(&xj_chief, decide("station_chief", Decision::Agree, "")))
            .contains("审批人")
    );
    // A decision must sign this case's number and the summary as it stands.
    let chief = p_chief(&w);
    let mut d = w
        .state()
        .decision_action(&w.reg, Decision::Agree, "同意")
        .unwrap();
    if let Action::Decide { summary, .. } = &mut d {
        *summary = summary.replace("王德勇", "王德用");
    }
    assert!(not_allowed(w.act(&chief, d)).contains("摘要"));
    let mut d = w
        .state()
        .decision_action(&w.reg, Decision::Agree, "同意")
        .unwrap();
    if let Action::Decide { case_no, .. } = &mut d {
        *case_no = "522634510000-20261120-0009".into();
    }
    assert!(not_allowed(w.act(&chief, d)).contains("受理编号"));
    // Nothing was recorded by the refusals.
    assert_eq!(w.log.len(), 2);
    assert_eq!(&w.replay(), w.state());
}

#[test]
fn incomplete_or_invalid_forms_cannot_be_submitted() {
    let mut w = World::new();
    let p = people(&w);
    let mut form = hukou_form();
    form.remove("investigation_opinion");
    form.remove("scans");
    w.create_hukou(STATION, &p.officer, form).unwrap();
    let e = not_allowed(w.act(&p.officer, Action::Submit {}));
    assert!(e.contains("请填写承办民警调查意见"), "{e}");
    assert!(e.contains("扫描件"), "{e}");
    // An invalid ID number is refused even in a draft edit, at the field.
    let bad: FormValues = [("subject_id".to_string(), json!("522634198503120117"))].into();
    match w.act(&p.officer, Action::UpdateForm { changes: bad }) {
        Err(Rejection::Invalid(errs)) => {
            assert_eq!(errs[0].field, "subject_id");
            assert!(errs[0].message.contains("校验"), "{}", errs[0].message);
        }
        other => panic!("{other:?}"),
    }
    // Sex that contradicts the ID number.
    let bad: FormValues = [("subject_sex".to_string(), json!("2"))].into();
    match w.act(&p.officer, Action::UpdateForm { changes: bad }) {
        Err(Rejection::Invalid(errs)) => assert!(errs[0].message.contains("性别")),
        other => panic!("{other:?}"),
    }
    // An unknown field is refused rather than silently stored.
    let bad: FormValues = [("favourite_colour".to_string(), json!("红"))].into();
    assert!(matches!(
        w.act(&p.officer, Action::UpdateForm { changes: bad }),
        Err(Rejection::Invalid(_))
    ));
    // Cancel needs a reason; then the case is final.
    assert!(not_allowed(w.act(
        &p.officer,
        Action::Cancel {
            reason: String::new()
        }
    ))
    .contains("原因"));
    w.act(
        &p.officer,
        Action::Cancel {
            reason: "申请人撤回申请".into(),
        },
    )
    .unwrap();
    assert_eq!(w.state().status, Status::Cancelled);
    assert!(not_allowed(w.act(&p.officer, Action::Submit {})).contains("已作废"));
}

#[test]
fn prefecture_continuation_when_enabled() {
    let mut w = World::new();
    // Switch on the 州 route as a new workflow version.
    let mut wf = w.reg.workflow_latest("hukou_change").unwrap().clone();
    wf.version = 2;
    for r in &mut wf.routes {
        r.enabled = true;
    }
    w.reg.add_workflow(wf).unwrap();
    let p = people(&w);
    let mut form = hukou_form();
    form.insert("change_item".into(), json!("民族"));
    form.insert("change_category".into(), json!("51"));
    form.insert("before".into(), json!("汉族"));
    form.insert("after".into(), json!("苗族"));
    w.create_hukou(STATION, &p.officer, form).unwrap();
    assert_eq!(w.state().workflow.as_ref().unwrap().version, 2);
    w.act(&p.officer, Action::Submit {}).unwrap();
    assert_eq!(w.state().route.as_deref(), Some("prefecture"));
    w.act(&p.chief, decide("station_chief", Decision::Agree, "同意"))
        .unwrap();
    w.act(
        &p.section,
        decide("household_section", Decision::Agree, "同意"),
    )
    .unwrap();
    w.act(
        &p.deputy,
        decide("deputy_director", Decision::Agree, "同意报州审批"),
    )
    .unwrap();
    assert_eq!(w.state().status, Status::InReview);
    let pref = w.holder("黔东南州公安局人口管理支队", "支队长");
    w.act(&pref, decide("prefecture", Decision::Agree, "同意"))
        .unwrap();
    assert_eq!(w.state().status, Status::Approved);
    assert_eq!(&w.replay(), w.state());
}

#[test]
fn chain_tampering_is_detected() {
    let (mut w, p) = submitted();
    w.act(&p.chief, decide("station_chief", Decision::Agree, "同意"))
        .unwrap();
    // Re-sending an event that does not extend the head is refused as stale.
    let old = w.log[1].clone();
    let state = w.state().clone();
    let err = state
        .apply(&old.event, &old.hash_hex(), &w.reg)
        .unwrap_err();
    assert!(matches!(err, Rejection::StaleHead { .. }));
}

fn page(n: u8) -> AttachmentRef {
    AttachmentRef {
        sm3: format!("{n:02x}").repeat(32),
        name: format!("扫描-第{n}页.jpg"),
        mime: "image/jpeg".into(),
        size: 100_000,
        pages: Some(1),
    }
}

fn scan_order(w: &World) -> Vec<String> {
    w.state().form["scans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sm3"].as_str().unwrap().to_string())
        .collect()
}

/// Scanned pages can be put in a new order exactly when they could be
/// attached or removed; the order must name the same pages once each.
#[test]
fn attachments_are_rearranged_while_editable() {
    let mut w = World::new();
    let p = people(&w);
    w.create_hukou(STATION, &p.officer, hukou_form()).unwrap();
    for n in 1..=3 {
        w.act(
            &p.officer,
            Action::Attach {
                field: "scans".into(),
                attachment: page(n),
            },
        )
        .unwrap();
    }
    let mut order = scan_order(&w);
    assert_eq!(order.len(), 4);
    order.reverse();
    let arrange = |order: Vec<String>| Action::ArrangeAttachments {
        field: "scans".into(),
        order,
    };
    w.act(&p.officer, arrange(order.clone())).unwrap();
    assert_eq!(scan_order(&w), order);
    // Same set, nothing missing, nothing twice, nothing foreign.
    let mut dup = order.clone();
    dup[0] = dup[1].clone();
    assert!(not_allowed(w.act(&p.officer, arrange(dup))).contains("重复"));
    assert!(not_allowed(w.act(&p.officer, arrange(order[1..].to_vec()))).contains("附件"));
    let mut foreign = order.clone();
    foreign[0] = page(9).sm3;
    assert!(not_allowed(w.act(&p.officer, arrange(foreign))).contains("没有"));
    // Only a field of attachments; only the initiator.
    assert!(not_allowed(w.act(
        &p.officer,
        Action::ArrangeAttachments {
            field: "remarks".into(),
            order: order.clone()
        }
    ))
    .contains("不是附件栏"));
    assert!(!not_allowed(w.act(&p.other_officer, arrange(order.clone()))).is_empty());
    // Under review: no more than Attach may.
    w.act(&p.officer, Action::Submit {}).unwrap();
    let mut again = order.clone();
    again.reverse();
    let why = not_allowed(w.act(&p.officer, arrange(again.clone())));
    let attach_why = not_allowed(w.act(
        &p.officer,
        Action::Attach {
            field: "scans".into(),
            attachment: page(7),
        },
    ));
    assert_eq!(why, attach_why);
    assert_eq!(scan_order(&w), order);
    assert_eq!(&w.replay(), w.state());
}

/// A case number names the key that issued it: a colleague's number, a
/// number without an issuer (the first format) or one with a made-up
/// issuer is refused; the creator's own is accepted.
#[test]
fn case_numbers_belong_to_the_issuing_key() {
    use crate::caseno::CaseNo;
    let w0 = World::new();
    let p = people(&w0);
    let officer_issuer = w0.issuer(&p.officer);
    let chief_issuer = w0.issuer(&p.chief);
    let create = |w: &mut World, author: &str, case_no: String| {
        let unit = w.unit(STATION);
        let t = w.reg.template_latest("hukou_change").unwrap().reference();
        let wf = w.reg.workflow_latest("hukou_change").unwrap().reference();
        w.act(
            author,
            Action::Create {
                case_type: crate::form::CaseType::HukouChange,
                template: t,
                workflow: Some(wf),
                case_no,
                unit,
                form: hukou_form(),
                registry: None,
            },
        )
        .map(|s| s.case_no.clone())
    };
    let unit = w0.unit(STATION);
    let day = w0.clock.date();
    for (no, why) in [
        (
            CaseNo::format(&unit, day, &chief_issuer, 1),
            "a colleague's issuer",
        ),
        (
            format!(
                "{unit}-{:04}{:02}{:02}-0001",
                day.year(),
                u8::from(day.month()),
                day.day()
            ),
            "no issuer",
        ),
        (CaseNo::format(&unit, day, "00000000", 1), "made-up issuer"),
    ] {
        let mut w = World::new();
        let e = create(&mut w, &p.officer, no.clone()).expect_err(why);
        assert!(e.to_string().contains("签发"), "{why}: {e}");
        assert!(w.log.is_empty(), "{why}: nothing recorded");
    }
    let mut w = World::new();
    let own = CaseNo::format(&unit, day, &officer_issuer, 7);
    assert_eq!(create(&mut w, &p.officer, own.clone()).unwrap(), own);
}

#[test]
fn a_decision_dated_before_the_previous_event_is_refused() {
    let (mut w, p) = submitted();
    let before = w.state().clone();
    // A device clock set back to 2001, long before the case existed.
    w.clock = time::macros::datetime!(2001-01-01 09:00 +8);
    let err = w
        .act(&p.chief, decide("station_chief", Decision::Agree, "同意"))
        .unwrap_err();
    assert!(
        matches!(err, Rejection::Backdated { previous, .. } if previous == before.updated_at),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("早于该案件上一事件的时间"), "{msg}");
    assert!(msg.contains("2001-01-01T09:"), "{msg}");
    assert_eq!(w.state(), &before);
    // One second before the previous event is still too early; the same
    // second is allowed (two actions can share a clock second).
    w.clock = before.updated_at - time::Duration::minutes(7) - time::Duration::seconds(1);
    assert!(matches!(
        w.act(&p.chief, decide("station_chief", Decision::Agree, "同意")),
        Err(Rejection::Backdated { .. })
    ));
    w.clock = before.updated_at - time::Duration::minutes(7);
    w.act(&p.chief, decide("station_chief", Decision::Agree, "同意"))
        .unwrap();
    assert_eq!(w.state().updated_at, before.updated_at);
}

/// A clock a little behind the case's last event (another PC's) signs
/// with that event's time and is accepted; one far behind is refused
/// before anything is signed.
#[test]
fn a_clock_slightly_behind_signs_with_the_previous_events_time() {
    let (w, _) = submitted();
    let s = w.state().clone();
    let last = s.updated_at;
    assert_eq!(
        s.signing_time(last + time::Duration::minutes(1)).unwrap(),
        last + time::Duration::minutes(1)
    );
    assert_eq!(
        s.signing_time(last - time::Duration::minutes(4)).unwrap(),
        last
    );
    assert_eq!(
        s.signing_time(last - time::Duration::seconds(crate::case::CLOCK_SLACK_SECS))
            .unwrap(),
        last
    );
    let e = s
        .signing_time(last - time::Duration::seconds(crate::case::CLOCK_SLACK_SECS + 1))
        .unwrap_err();
    assert!(matches!(e, Rejection::Backdated { .. }), "{e:?}");
}
