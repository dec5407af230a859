//! Demo data shared by the demo command, tests and benchmarks. Every
//! person, number and ID number here is made up.

use serde_json::json;

use crate::form::FormValues;

/// A complete 户口变更登记表 for a name correction (主项, so it goes up to
/// the county), without attachments: add `scans` before submitting.
pub fn name_change_form() -> FormValues {
    let v = json!({
        "applicant_name": "张秀英",
        "applicant_id": "522634198503120044",
        "applicant_relation": "10",
        "applicant_phone": "13985500123",
        "subject_name": "王德勇",
        "subject_id": "522634198503120116",
        "subject_sex": "1",
        "subject_ethnicity": "06",
        "subject_birth": "1985-03-12",
        "address_township": "522634204",
        "address_committee": "方祥村村民委员会",
        "business_category": "107",
        "change_item": "姓名",
        "change_category": "21",
        "before": "王德永",
        "after": "王德勇",
        "reason": "户口登记时姓名用字错误，有出生医学证明为证",
        "evidence": [{"name": "出生医学证明", "copies": 1, "original": "1"}],
        "committee_stamp": "1",
        "investigation_opinion": "经调查，情况属实，建议同意。"
    });
    match v {
        serde_json::Value::Object(m) => m.into_iter().collect(),
        _ => FormValues::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::form::{Mode, DRAFT_STEP};
    use crate::registry::Registry;

    #[test]
    fn the_demo_form_is_valid_but_for_its_scans() {
        let reg = Registry::builtin_demo().unwrap();
        let t = reg.template_latest("hukou_change").unwrap();
        let ctx = crate::form::Context {
            today: time::macros::date!(2026 - 11 - 27),
            dictionaries: &reg.dicts,
            org: Some(&reg.org),
        };
        assert!(t
            .validate(&name_change_form(), Mode::Draft, DRAFT_STEP, &ctx)
            .is_empty());
        let errs = t.validate(&name_change_form(), Mode::Submit, DRAFT_STEP, &ctx);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "scans");
    }
}
