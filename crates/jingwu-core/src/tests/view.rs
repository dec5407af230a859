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
    let d = view::case_detail(&w.reg, &s, &section, &all, true);
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
    let d = view::case_detail(&w.reg, &s, &section, &some, true);
    assert_eq!(d["trail"][1]["verified"], false);
    assert_eq!(d["trail"][0]["verified"], true);
    let d = view::case_detail(&w.reg, &s, &section, &all, false);
    assert_eq!(d["trail"][0]["verified"], false);

    // The initiator may withdraw while it is in review; nobody else.
    let d = view::case_detail(&w.reg, &s, &officer, &all, true);
    assert_eq!(d["can_withdraw"], true);
    assert_eq!(d["can_decide"], false);

    let t = view::hukou_template(&w.reg).unwrap();
    assert!(t["fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["key"] == "subject_id"));
}
