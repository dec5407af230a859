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
        view::lists(&w.reg, who, [&s])[list]
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
    );
    assert_eq!(d["trail"][1]["verified"], false);
    assert_eq!(d["trail"][0]["verified"], true);
    let d = view::case_detail(
        &w.reg,
        &s,
        &s.allowed_actions(&section, &w.reg, w.clock),
        &all,
        false,
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
    );
    let row = view::list_row(&w.reg, &s);
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
