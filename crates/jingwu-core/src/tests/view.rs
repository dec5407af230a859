//! The UI's JSON view: which list a case is in for whom, the case page's
//! signature marks, masked ID numbers and per-person actions.

use std::collections::HashSet;

use serde_json::Value;

use super::{decide, hukou_form, World};
use crate::event::{Action, Decision};
use crate::view;

const STATION: &str = "方祥派出所";

#[test]
fn lists_and_case_page_for_each_person() {
    let mut w = World::new();
    let officer = w.holder(STATION, "户籍民警");
    let chief = w.holder(STATION, "所长");
    let section = w.holder("户政股", "股长");
    w.create_hukou(STATION, &officer, hukou_form()).unwrap();
    w.act(&officer, Action::Submit {}).unwrap();
    w.act(&chief, decide("station_chief", Decision::Agree, "同意上报"))
        .unwrap();
    let s = w.state().clone();
    let id = Value::String(s.case_id.to_string());
    let in_list = |who: &str, list: &str| {
        view::lists(&w.reg, who, [&s], w.clock)[list]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == id)
    };
    assert!(in_list(&section, "todo"));
    assert!(in_list(&chief, "done"));
    assert!(in_list(&officer, "sent"));
    assert!(!in_list(&section, "done") && !in_list(&officer, "todo"));

    let all: HashSet<_> = w.log.iter().map(|e| e.event.id).collect();
    let d = view::case_detail(
        &w.reg,
        &s,
        &s.allowed_actions(&section, &w.reg, w.clock),
        &all,
        true,
        w.clock,
    );
    assert_eq!(d["can_decide"], true);
    assert_eq!(d["can_withdraw"], false);
    assert_eq!(d["edit_values"], Value::Null);
    let trail = d["trail"].as_array().unwrap();
    assert_eq!(trail.len(), 2);
    assert!(trail.iter().all(|t| t["verified"] == true));
    assert_eq!(trail[1]["opinion"], "同意上报");
    for k in ["applicant_id", "subject_id"] {
        let v = d["values"][k].as_str().unwrap();
        assert!(v.contains('*') && v.len() == 18, "{k} shown as {v}");
    }
    // Scans are listed apart from the values.
    assert_eq!(d["attachments"][0]["name"], "登记表扫描件.jpg");
    assert_eq!(d["values"].get("scans"), None);

    // An event whose signature did not check, or a broken chain: no mark.
    let last = w.log.last().unwrap().event.id;
    let mut some = all.clone();
    some.remove(&last);
    let d = view::case_detail(
        &w.reg,
        &s,
        &s.allowed_actions(&section, &w.reg, w.clock),
        &some,
        true,
        w.clock,
    );
    assert_eq!(d["trail"][1]["verified"], false);
    assert_eq!(d["trail"][0]["verified"], true);
    let d = view::case_detail(
        &w.reg,
        &s,
        &s.allowed_actions(&section, &w.reg, w.clock),
        &all,
        false,
        w.clock,
    );
    assert_eq!(d["trail"][0]["verified"], false);

    // The last sender (the chief, who agreed) may withdraw while the next
    // step is untouched; the initiator no longer can, and decides nothing.
    let d = view::case_detail(
        &w.reg,
        &s,
        &s.allowed_actions(&officer, &w.reg, w.clock),
        &all,
        true,
        w.clock,
    );
    assert_eq!(d["can_withdraw"], false);
    assert_eq!(d["can_decide"], false);
    assert_eq!(d["can_edit"], false);
    let d = view::case_detail(
        &w.reg,
        &s,
        &s.allowed_actions(&chief, &w.reg, w.clock),
        &all,
        true,
        w.clock,
    );
    assert_eq!(d["can_withdraw"], true);
    assert_eq!(d["can_decide"], false);

    let t = view::hukou_template(&w.reg).unwrap();
    assert!(t["fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["key"] == "subject_id"));
}

/// A 公民身份号码 change: before, after, the reason and opinions carry full
/// ID numbers. The view masks every one of them (values, summary, list
/// row, trail); what approvers sign stays the unmasked summary.
#[test]
fn id_numbers_are_masked_everywhere_in_the_view_but_signed_in_full() {
    let mut w = World::new();
    let officer = w.holder(STATION, "户籍民警");
    let chief = w.holder(STATION, "所长");
    let mut form = hukou_form();
    for (k, v) in [
        ("change_item", "公民身份号码"),
        ("change_category", "12"),
        ("before", "522634198503120116"),
        ("after", "52263419900101123X"),
        (
            "reason",
            "原号码 522634198503120116 与 52263419900101123X 重号",
        ),
    ] {
        form.insert(k.into(), Value::String(v.into()));
    }
    w.create_hukou(STATION, &officer, form).unwrap();
    w.act(&officer, Action::Submit {}).unwrap();
    w.act(
        &chief,
        decide(
            "station_chief",
            Decision::Agree,
            "核对 522634198503120044 无误",
        ),
    )
    .unwrap();
    let s = w.state().clone();
    // Signed in full: the decision carries the unmasked summary.
    let signed = w
        .log
        .iter()
        .find_map(|e| match &e.event.action {
            Action::Decide { summary, .. } => Some(summary.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(signed, s.summary());
    assert!(signed.contains("522634198503120116 → 52263419900101123X"));

    let all: HashSet<_> = w.log.iter().map(|e| e.event.id).collect();
    let d = view::case_detail(
        &w.reg,
        &s,
        &s.allowed_actions(&chief, &w.reg, w.clock),
        &all,
        true,
        w.clock,
    );
    let row = view::list_row(&w.reg, &s, w.clock);
    for shown in [d.to_string(), row.to_string()] {
        for full in [
            "522634198503120116",
            "52263419900101123X",
            "522634198503120044",
            "522634198503120116",
        ] {
            assert!(!shown.contains(full), "{full} shown in {shown}");
        }
    }
    assert_eq!(d["values"]["before"], "5226**********0116");
    assert_eq!(d["values"]["after"], "5226**********123X");
    assert_eq!(
        d["values"]["reason"],
        "原号码 5226**********0116 与 5226**********123X 重号"
    );
    assert!(d["summary"]
        .as_str()
        .unwrap()
        .contains("5226**********0116 → 5226**********123X"));
    assert_eq!(d["trail"][1]["opinion"], "核对 5226**********0044 无误");
}

/// An ID number is signed only in its canonical form: a lower-case check
/// character is refused by the rules, and `canonical_action` (which every
/// adapter applies) stores `X`.
#[test]
fn a_lower_case_x_is_refused_and_canonicalised() {
    let mut w = World::new();
    let officer = w.holder(STATION, "户籍民警");
    let mut form = hukou_form();
    form.insert(
        "applicant_id".into(),
        Value::String("11010519491231002x".into()),
    );
    let err = w
        .create_hukou(STATION, &officer, form.clone())
        .unwrap_err()
        .to_string();
    assert!(err.contains("标准形式"), "{err}");

    let t = w.reg.template_latest("hukou_change").unwrap().reference();
    let create = Action::Create {
        case_type: crate::form::CaseType::HukouChange,
        template: t,
        workflow: None,
        case_no: String::new(),
        unit: String::new(),
        form,
        registry: None,
    };
    let Action::Create { form, .. } = crate::case::canonical_action(&w.reg, None, create) else {
        panic!()
    };
    assert_eq!(form["applicant_id"], "11010519491231002X");
    let s = w.create_hukou(STATION, &officer, form).unwrap();
    assert_eq!(s.form["applicant_id"], "11010519491231002X");

    // An update with a lower-case x: refused as it is, canonicalised by
    // canonical_action against the case's template.
    let changes: crate::form::FormValues = [(
        "applicant_id".to_string(),
        Value::String(" 11010519491231002x ".into()),
    )]
    .into();
    let err = w
        .act(
            &officer,
            Action::UpdateForm {
                changes: changes.clone(),
            },
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("标准形式"), "{err}");
    let s = w.state().clone();
    let a = crate::case::canonical_action(&w.reg, Some(&s), Action::UpdateForm { changes });
    w.act(&officer, a).unwrap();
    assert_eq!(w.state().form["applicant_id"], "11010519491231002X");
}

/// The 110 lists at the desk and at the units, the overdue mark, and the
/// record page with per-dispatch steps, losses in 大写 and signature marks.
#[test]
fn incident_lists_and_page() {
    use super::incident::{create, feedback};
    use serde_json::json;
    let mut w = World::new();
    let desk = w.holder("110巡警大队", "接警员");
    let danjiang = w.holder("丹江派出所", "值班民警");
    let fire = w.holder("消防大队", "值班民警");
    let director = w.holder("雷山县公安局", "局长");
    // A desk without any record yet is still a desk.
    let none: [&crate::case::CaseState; 0] = [];
    let l = view::incident_lists(&w.reg, &desk, none, w.clock, "");
    assert_eq!(l["desk"], true, "{l}");
    assert_eq!(l["counts"]["to_dispatch"], 0);
    let l = view::incident_lists(&w.reg, &danjiang, none, w.clock, "");
    assert_eq!(l["desk"], false, "{l}");
    create(&mut w, "110巡警大队", &desk).unwrap();
    let tabs =
        |w: &World, who: &str, q: &str, now| view::incident_lists(&w.reg, who, [w.state()], now, q);
    let count = |v: &Value, k: &str| v["counts"][k].as_u64().unwrap();
    let l = tabs(&w, &desk, "", w.clock);
    assert_eq!(l["desk"], true);
    assert_eq!(count(&l, "to_dispatch"), 1);
    assert_eq!(tabs(&w, &danjiang, "", w.clock)["desk"], false);
    for u in ["丹江派出所", "消防大队"] {
        let unit = w.unit(u);
        w.act(
            &desk,
            Action::Dispatch {
                at: None,
                unit,
                opinion: "请出警".into(),
            },
        )
        .unwrap();
    }
    // Unacknowledged for 3 minutes: overdue at the desk.
    let at = w.state().dispatches[0].at;
    let l = tabs(&w, &desk, "", at + time::Duration::seconds(179));
    assert_eq!(count(&l, "unacked"), 1);
    assert_eq!(l["unacked"][0]["overdue"], false);
    let l = tabs(&w, &desk, "", at + time::Duration::seconds(181));
    assert_eq!(l["unacked"][0]["overdue"], true);
    // Each unit sees it to acknowledge.
    assert_eq!(count(&tabs(&w, &danjiang, "", at), "to_ack"), 1);
    assert_eq!(count(&tabs(&w, &fire, "", at), "to_ack"), 1);
    w.act(
        &danjiang,
        Action::Acknowledge {
            at: None,
            unit: None,
        },
    )
    .unwrap();
    assert_eq!(count(&tabs(&w, &danjiang, "", at), "in_progress"), 1);
    assert_eq!(count(&tabs(&w, &desk, "", at), "unacked"), 1);
    w.act(
        &fire,
        Action::RejectDispatch {
            at: None,
            reason: "无需消防".into(),
            unit: None,
        },
    )
    .unwrap();
    assert_eq!(count(&tabs(&w, &desk, "", at), "handling"), 1);
    w.act(
        &danjiang,
        Action::Depart {
            officers: vec![danjiang.clone()],
            vehicles: vec![],
            unit: None,
            at: None,
        },
    )
    .unwrap();
    w.act(
        &danjiang,
        Action::Arrive {
            unit: None,
            at: None,
        },
    )
    .unwrap();
    let mut report = feedback();
    report.insert(
        "loss_items".into(),
        json!([{"item": "电动车", "amount": "1234.56"}, {"item": "手机", "amount": "300.00"}]),
    );
    report.insert("loss_amount".into(), json!("1534.56"));
    w.act(
        &danjiang,
        Action::Feedback {
            at: None,
            changes: report,
            unit: None,
        },
    )
    .unwrap();
    assert_eq!(count(&tabs(&w, &danjiang, "", at), "fed_back"), 1);
    assert_eq!(count(&tabs(&w, &desk, "", at), "to_close"), 1);
    let commander = w.holder("110巡警大队", "值班长");
    w.act(&commander, Action::Conclude {}).unwrap();
    assert_eq!(count(&tabs(&w, &desk, "", at), "archived"), 1);
    assert_eq!(count(&tabs(&w, &desk, "耕牛", at), "archived"), 1);
    assert_eq!(count(&tabs(&w, &desk, "电动车 不存在", at), "archived"), 0);
    assert_eq!(count(&tabs(&w, &danjiang, "", at), "fed_back"), 1);
    // The page: every dispatch, the losses, every step verified.
    let s = w.state().clone();
    let all: HashSet<_> = w.log.iter().map(|e| e.event.id).collect();
    let a = s.allowed_actions(&director, &w.reg, w.clock);
    let p = view::incident_detail(&w.reg, &s, &a, &all, true, w.clock);
    assert_eq!(p["status"], "已归档");
    assert_eq!(p["archive_unit"], "110巡警大队");
    assert_eq!(p["loss"], "1534.56");
    assert_eq!(p["loss_upper"], "壹仟伍佰叁拾肆元伍角陆分");
    assert_eq!(p["dispatches"][1]["status"], "已退单");
    assert_eq!(p["dispatches"][1]["return_reason"], "无需消防");
    let trail = p["trail"].as_array().unwrap();
    assert_eq!(trail.len(), w.log.len());
    assert!(trail.iter().all(|t| t["verified"] == true));
    // One event not verified: marked so.
    let mut some = all.clone();
    some.remove(&w.log[3].event.id);
    let p = view::incident_detail(&w.reg, &s, &a, &some, true, w.clock);
    assert_eq!(p["trail"][3]["verified"], false);
    // The general lists show a readable summary, not a 户口变更 one.
    let row = view::list_row(&w.reg, &s, w.clock);
    assert_eq!(row["kind"], "incident");
    assert!(row["summary"]
        .as_str()
        .unwrap()
        .starts_with("方祥乡平祥村二组："));
    // The template offers the dispatch targets and searchable categories.
    let t = view::incident_template(&w.reg, Some(&w.unit("110巡警大队"))).unwrap();
    let targets: Vec<&str> = t["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert!(
        targets.contains(&"丹江派出所")
            && targets.contains(&"消防大队")
            && !targets.contains(&"户政股")
    );
    let cat = t["intake"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "alarm_category")
        .unwrap();
    let theft = cat["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["code"] == "010101")
        .unwrap();
    assert_eq!(theft["initials"], "rsdq");
    assert_eq!(theft["parent"], "010100");
    assert_eq!(
        view::money_total(&["1234.56".into(), "300.00".into()]).unwrap()["upper"],
        "壹仟伍佰叁拾肆元伍角陆分"
    );
    assert!(view::money_total(&["1.234".into()])
        .unwrap_err()
        .contains("第 1 项"));
}

/// A unit's flags sit on its own dispatch of the page.
#[test]
fn incident_page_puts_each_units_flags_on_its_dispatch() {
    use super::incident::create;
    let mut w = World::new();
    let desk = w.holder("110巡警大队", "接警员");
    let danjiang = w.holder("丹江派出所", "值班民警");
    create(&mut w, "110巡警大队", &desk).unwrap();
    for u in ["丹江派出所", "消防大队"] {
        let unit = w.unit(u);
        w.act(
            &desk,
            Action::Dispatch {
                at: None,
                unit,
                opinion: String::new(),
            },
        )
        .unwrap();
    }
    let s = w.state().clone();
    let a = s.allowed_actions(&danjiang, &w.reg, w.clock);
    let p = view::incident_detail(&w.reg, &s, &a, &HashSet::new(), true, w.clock);
    assert_eq!(p["dispatches"][0]["can_acknowledge"], true);
    assert_eq!(p["dispatches"][0]["unit_name"], "丹江派出所");
    assert!(p["dispatches"][1].get("can_acknowledge").is_none());
    assert_eq!(p["can_acknowledge"], true);
    assert_eq!(p["can_dispatch"], false);
    assert_eq!(p["dispatches"].as_array().unwrap().len(), 2);
}

/// The current step's time limit in the lists and on the case page,
/// counted with the registry's official calendar and judged at `now`.
#[test]
fn due_and_overdue_in_lists_and_case_page() {
    use time::macros::datetime;
    let mut w = World::new();
    let officer = w.holder(STATION, "户籍民警");
    let chief = w.holder(STATION, "所长");
    let section = w.holder("户政股", "股长");
    let deputy = w.deputy();
    // Everything up to the 分管局长 on Tuesday 2026-09-29 (events are 7
    // minutes apart from 09:00 China time).
    w.clock = datetime!(2026-09-29 09:00 +8);
    w.create_hukou(STATION, &officer, hukou_form()).unwrap();
    w.act(&officer, Action::Submit {}).unwrap();
    w.act(&chief, decide("station_chief", Decision::Agree, "同意上报"))
        .unwrap();
    w.act(
        &section,
        decide("household_section", Decision::Agree, "同意"),
    )
    .unwrap();
    let s = w.state().clone();
    assert_eq!(s.assignees(&w.reg), vec![deputy.clone()]);
    // 分管局长审批 has 5 working days. By 国办发明电〔2025〕7号: Wed 09-30
    // (1); 10-01…10-07 国庆节 holidays; Thu 10-08 (2), Fri 10-09 (3),
    // Sat 10-10 make-up working day (4); Sun 10-11 rest; Mon 10-12 (5).
    let row = |now| view::list_row(&w.reg, &s, now);
    let r = row(datetime!(2026-09-29 10:00 +8));
    assert_eq!(r["due"], "2026-10-12T23:59:59.999999999+08:00");
    assert_eq!(r["time_limit_working_days"], 5);
    assert_eq!(r["overdue"], false);
    assert_eq!(r["due_in_days"], 13);
    assert_eq!(r["due_estimated"], false);
    // The day before: due tomorrow.
    assert_eq!(row(datetime!(2026-10-11 23:00 +8))["due_in_days"], 1);
    // Due today, to the last instant of the day in China.
    let r = row(datetime!(2026-10-12 23:59:59.999_999_999 +8));
    assert_eq!(
        (r["overdue"].clone(), r["due_in_days"].clone()),
        (false.into(), 0.into())
    );
    // 16:00 UTC is midnight in China: overdue from that instant.
    assert_eq!(row(datetime!(2026-10-12 15:59:59 UTC))["overdue"], false);
    let r = row(datetime!(2026-10-12 16:00 UTC));
    assert_eq!(
        (r["overdue"].clone(), r["due_in_days"].clone()),
        (true.into(), (-1).into())
    );
    // The 待办 list and the case page carry the same fields.
    let now = datetime!(2026-10-13 08:00 +8);
    let todo = &view::lists(&w.reg, &deputy, [&s], now)["todo"][0];
    assert_eq!(todo["overdue"], true);
    let all: HashSet<_> = w.log.iter().map(|e| e.event.id).collect();
    let d = view::case_detail(
        &w.reg,
        &s,
        &s.allowed_actions(&deputy, &w.reg, now),
        &all,
        true,
        now,
    );
    assert_eq!(d["due"], "2026-10-12T23:59:59.999999999+08:00");
    assert_eq!(d["overdue"], true);
    assert_eq!(d["time_limit_working_days"], 5);
    // Once decided, no time limit runs.
    w.act(&deputy, decide("deputy_director", Decision::Agree, "同意"))
        .unwrap();
    let s = w.state().clone();
    let r = view::list_row(&w.reg, &s, now);
    assert_eq!(r["due"], Value::Null);
    assert_eq!(r["overdue"], false);
    assert_eq!(r["due_in_days"], Value::Null);
}

/// A time limit running into a year whose arrangement is not in the
/// registry is marked as estimated (weekends only there).
#[test]
fn due_estimated_beyond_the_known_years() {
    use time::macros::datetime;
    let mut w = World::new();
    let officer = w.holder(STATION, "户籍民警");
    // Submitted Friday 2026-12-18: the chief's 20 working days run into 2027.
    w.clock = datetime!(2026-12-18 09:00 +8);
    w.create_hukou(STATION, &officer, hukou_form()).unwrap();
    w.act(&officer, Action::Submit {}).unwrap();
    let s = w.state().clone();
    let r = view::list_row(&w.reg, &s, w.clock);
    assert_eq!(r["time_limit_working_days"], 20);
    assert_eq!(r["due_estimated"], !w.reg.calendar_covers(2027));
    // Inside 2026 it is not.
    let mut w = World::new();
    w.create_hukou(STATION, &officer, hukou_form()).unwrap();
    w.act(&officer, Action::Submit {}).unwrap();
    let r = view::list_row(&w.reg, w.state(), w.clock);
    assert_eq!(r["due"], "2026-12-18T23:59:59.999999999+08:00");
    assert_eq!(r["due_estimated"], false);
}

/// The 督办 list: 户口变更 past their step's time limit, for the bureau's
/// leaders (the whole bureau) and a station's leaders (their station);
/// nobody else may see it, not the 110 desks.
#[test]
fn overdue_list_by_scope() {
    use crate::stats::{supervision_scope, Scope};
    use time::macros::datetime;
    let mut w = World::new();
    let officer = w.holder(STATION, "户籍民警");
    let chief = w.holder(STATION, "所长");
    let other_chief = w.holder("丹江派出所", "所长");
    let deputy = w.deputy();
    let desk = w.holder("110巡警大队", "副大队长");
    // Submitted Tuesday 2026-09-29: the 所长's step (20 working days) runs
    // over 国庆节: 09-30 (1), 10-08 (2), 10-09 (3), Sat 10-10 make-up day
    // (4), 10-12…10-16 (5–9), 10-19…10-23 (10–14), 10-26…10-30 (15–19),
    // Mon 11-02 (20).
    w.clock = datetime!(2026-09-29 09:00 +8);
    w.create_hukou(STATION, &officer, hukou_form()).unwrap();
    w.act(&officer, Action::Submit {}).unwrap();
    let s = w.state().clone();
    let step_days = s.current_step(&w.reg).unwrap().time_limit_working_days;
    let due = view::list_row(&w.reg, &s, w.clock)["due"].clone();
    let org = &w.reg.org;

    let bureau = supervision_scope(org, &deputy).unwrap();
    assert!(matches!(bureau, Scope::Bureau { .. }), "{bureau:?}");
    let station = supervision_scope(org, &chief).unwrap();
    let elsewhere = supervision_scope(org, &other_chief).unwrap();
    for p in [&desk, &officer] {
        let e = supervision_scope(org, p).unwrap_err();
        assert!(e.contains("没有查看督办清单的权限"), "{p}: {e}");
    }
    assert!(supervision_scope(org, "999999")
        .unwrap_err()
        .contains("不在组织机构中"));

    let list = |scope: &Scope, now| view::overdue_list(&w.reg, scope, [&s], now);
    // Not yet overdue on its last day.
    let last = due.as_str().unwrap()[..10].to_string();
    assert_eq!(step_days, 20, "the 所长's time limit in the demo workflow");
    assert_eq!(last, "2026-11-02");
    let r = list(&bureau, datetime!(2026-11-02 23:59 +8));
    assert_eq!(r["rows"].as_array().unwrap().len(), 0, "{r}");
    // The day after: on the bureau's and the station's list, not on
    // another station's.
    let now = datetime!(2026-11-03 08:30 +8);
    for scope in [&bureau, &station] {
        let r = list(scope, now);
        let rows = r["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{r}");
        assert_eq!(rows[0]["case_no"], s.case_no.as_str());
        assert_eq!(rows[0]["overdue"], true);
        assert_eq!(rows[0]["overdue_days"], 1);
        assert_eq!(rows[0]["unit_name"], STATION);
        let chief_name = &org.person(&chief).unwrap().name;
        assert_eq!(rows[0]["assignees"][0], chief_name.as_str());
    }
    assert_eq!(list(&elsewhere, now)["rows"].as_array().unwrap().len(), 0);
    // Decided: off the list.
    w.clock = now;
    w.act(&chief, decide("station_chief", Decision::Agree, "同意上报"))
        .unwrap();
    let s = w.state().clone();
    let r = view::overdue_list(&w.reg, &bureau, [&s], now);
    assert_eq!(r["rows"].as_array().unwrap().len(), 0, "{r}");
}
