//! Workflow definitions as versioned data: routes chosen by conditions on
//! the form, sequential steps, assignee rules resolved against the org
//! relative to the case, and a time limit per step in working days.

use serde::{Deserialize, Serialize};

use crate::dict::Dictionaries;
use crate::form::FormValues;
use crate::org::{Org, UnitKind};

/// Identifies one version of a workflow definition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WorkflowRef {
    pub id: String,
    pub version: u32,
}

/// A condition on the form's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Condition {
    Always,
    /// The field's string value equals `value`.
    Equals {
        field: String,
        value: String,
    },
    /// The field's string value is one of `values`.
    In {
        field: String,
        values: Vec<String>,
    },
    /// The field holds a code of `dict` whose entry carries `tag`.
    DictTag {
        field: String,
        dict: String,
        tag: String,
    },
    All {
        of: Vec<Condition>,
    },
    Any {
        of: Vec<Condition>,
    },
    Not {
        cond: Box<Condition>,
    },
}

impl Condition {
    pub fn holds(&self, values: &FormValues, dicts: &Dictionaries) -> bool {
        let s = |f: &str| values.get(f).and_then(|v| v.as_str()).map(str::to_owned);
        match self {
            Condition::Always => true,
            Condition::Equals { field, value } => s(field).as_deref() == Some(value.as_str()),
            Condition::In { field, values: vs } => {
                s(field).is_some_and(|x| vs.iter().any(|v| v == &x))
            }
            Condition::DictTag { field, dict, tag } => s(field).is_some_and(|code| {
                dicts
                    .get(dict)
                    .and_then(|d| d.entry(&code))
                    .is_some_and(|e| e.tags.iter().any(|t| t == tag))
            }),
            Condition::All { of } => of.iter().all(|c| c.holds(values, dicts)),
            Condition::Any { of } => of.iter().any(|c| c.holds(values, dicts)),
            Condition::Not { cond } => !cond.holds(values, dicts),
        }
    }
}

/// Who may act at a step, relative to the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum AssigneeRule {
    /// Holders of `post` in the case's own unit (e.g. the station's 所长).
    CaseUnitPost { post: String },
    /// Holders of `post` in the unit with `function` directly under the
    /// case's bureau (e.g. 户政股 股长).
    BureauFunctionPost { function: String, post: String },
    /// The leaders 分管 the unit with `function` under the case's bureau.
    InChargeOfFunction { function: String },
    /// Holders of `post` in the unit with `function` under the prefecture
    /// above the case's bureau (e.g. 州 人口管理支队 支队长).
    PrefectureFunctionPost { function: String, post: String },
}

impl AssigneeRule {
    /// The units whose people act at this step, for a case belonging to
    /// `case_unit`: the case's unit, the function units under its bureau
    /// or prefecture, or the bureau itself for its 分管 leaders.
    pub fn units(&self, org: &Org, case_unit: &str) -> Vec<String> {
        let codes = |v: Vec<&crate::org::Unit>| v.into_iter().map(|u| u.code.clone()).collect();
        match self {
            AssigneeRule::CaseUnitPost { .. } => vec![case_unit.to_string()],
            AssigneeRule::BureauFunctionPost { function, .. } => org
                .ancestor_of_kind(case_unit, UnitKind::Bureau)
                .map(|b| codes(org.units_with_function(&b.code, function).collect()))
                .unwrap_or_default(),
            AssigneeRule::InChargeOfFunction { .. } => org
                .ancestor_of_kind(case_unit, UnitKind::Bureau)
                .map(|b| vec![b.code.clone()])
                .unwrap_or_default(),
            AssigneeRule::PrefectureFunctionPost { function, .. } => org
                .ancestor_of_kind(case_unit, UnitKind::Prefecture)
                .map(|p| codes(org.units_with_function(&p.code, function).collect()))
                .unwrap_or_default(),
        }
    }

    /// The people who may act, for a case belonging to `case_unit`.
    /// Empty when the org has nobody in that position (the case then waits
    /// and the hub reports the gap).
    pub fn resolve(&self, org: &Org, case_unit: &str) -> Vec<String> {
        let ids = |v: Vec<&crate::org::Person>| v.into_iter().map(|p| p.id.clone()).collect();
        let bureau = org.ancestor_of_kind(case_unit, UnitKind::Bureau);
        match self {
            AssigneeRule::CaseUnitPost { post } => ids(org.holders(case_unit, post)),
            AssigneeRule::BureauFunctionPost { function, post } => bureau
                .map(|b| {
                    org.units_with_function(&b.code, function)
                        .flat_map(|u| org.holders(&u.code, post))
                        .map(|p| p.id.clone())
                        .collect()
                })
                .unwrap_or_default(),
            AssigneeRule::InChargeOfFunction { function } => bureau
                .map(|b| {
                    org.units_with_function(&b.code, function)
                        .flat_map(|u| org.in_charge_of(&u.code))
                        .map(|p| p.id.clone())
                        .collect()
                })
                .unwrap_or_default(),
            AssigneeRule::PrefectureFunctionPost { function, post } => org
                .ancestor_of_kind(case_unit, UnitKind::Prefecture)
                .map(|pref| {
                    org.units_with_function(&pref.code, function)
                        .flat_map(|u| org.holders(&u.code, post))
                        .map(|p| p.id.clone())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// One approval step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepDef {
    /// Stable id; also the template's permission key for this step.
    pub id: String,
    /// Shown to users, e.g. 派出所所长审批.
    pub name: String,
    /// The post shown in the approval trail, e.g. 派出所所长.
    pub role: String,
    pub assignee: AssigneeRule,
    /// Time limit in working days.
    pub time_limit_working_days: u32,
}

/// A chain of steps used when its condition holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub id: String,
    pub name: String,
    /// A disabled route is skipped (e.g. the 州 continuation in provinces
    /// that decide at the county).
    #[serde(default = "yes")]
    pub enabled: bool,
    pub when: Condition,
    pub steps: Vec<StepDef>,
}

fn yes() -> bool {
    true
}

/// A workflow definition, versioned. A running case keeps its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowDef {
    pub id: String,
    pub version: u32,
    pub name: String,
    /// The template id the workflow serves.
    pub template: String,
    /// Tried in order; the first enabled route whose condition holds wins.
    pub routes: Vec<Route>,
}

impl WorkflowDef {
    pub fn reference(&self) -> WorkflowRef {
        WorkflowRef {
            id: self.id.clone(),
            version: self.version,
        }
    }

    /// The route for a form.
    pub fn route_for(&self, values: &FormValues, dicts: &Dictionaries) -> Option<&Route> {
        self.routes
            .iter()
            .find(|r| r.enabled && r.when.holds(values, dicts))
    }

    pub fn route(&self, id: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.id == id)
    }

    /// Checks the definition: at least one route, every route non-empty,
    /// unique step ids within a route, and an always-matching last route so
    /// that every form has a chain.
    pub fn check(&self) -> Result<(), String> {
        if self.routes.is_empty() {
            return Err(format!("流程 {} 没有任何路线", self.id));
        }
        for r in &self.routes {
            if r.steps.is_empty() {
                return Err(format!("流程 {} 路线 {} 没有审批环节", self.id, r.id));
            }
            let mut seen = std::collections::BTreeSet::new();
            for s in &r.steps {
                if !seen.insert(s.id.as_str()) || s.id == crate::form::DRAFT_STEP {
                    return Err(format!(
                        "流程 {} 路线 {} 环节编号重复或非法：{}",
                        self.id, r.id, s.id
                    ));
                }
            }
        }
        match self.routes.iter().rfind(|r| r.enabled) {
            Some(r) if r.when == Condition::Always => Ok(()),
            _ => Err(format!(
                "流程 {} 最后一条启用的路线必须无条件（兜底）",
                self.id
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn vals(pairs: &[(&str, &str)]) -> FormValues {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect()
    }

    #[test]
    fn routes_by_change_type() {
        let reg = crate::registry::Registry::builtin_demo().unwrap();
        let wf = reg.workflow_latest("hukou_change").unwrap();
        let d = &reg.dicts;
        let main = vals(&[("business_category", "107"), ("change_category", "21")]);
        let r = wf.route_for(&main, d).unwrap();
        assert_eq!(
            r.steps.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["station_chief", "household_section", "deputy_director"]
        );
        let minor = vals(&[("business_category", "107"), ("change_category", "92")]);
        assert_eq!(wf.route_for(&minor, d).unwrap().steps.len(), 1);
        let moved = vals(&[("business_category", "103")]);
        assert_eq!(wf.route_for(&moved, d).unwrap().steps.len(), 1);
        // The prefecture continuation is off by default; switched on it
        // takes sex / birth date / ethnicity changes up to the 州.
        let sex = vals(&[("business_category", "107"), ("change_category", "31")]);
        assert_eq!(wf.route_for(&sex, d).unwrap().steps.len(), 3);
        let mut wf2 = wf.clone();
        for r in &mut wf2.routes {
            r.enabled = true;
        }
        assert_eq!(wf2.route_for(&sex, d).unwrap().steps.len(), 4);
        assert_eq!(wf2.route_for(&main, d).unwrap().steps.len(), 3);
    }

    #[test]
    fn assignees_resolve_relative_to_the_case() {
        let reg = crate::registry::Registry::builtin_demo().unwrap();
        let org = &reg.org;
        let fangxiang = org.units().find(|u| u.name == "方祥派出所").unwrap();
        let xijiang = org.units().find(|u| u.name == "西江派出所").unwrap();
        let chief = AssigneeRule::CaseUnitPost {
            post: "所长".into(),
        };
        let a = chief.resolve(org, &fangxiang.code);
        let b = chief.resolve(org, &xijiang.code);
        assert_eq!(a.len(), 1);
        assert_ne!(a, b);
        let sec = AssigneeRule::BureauFunctionPost {
            function: "household".into(),
            post: "股长".into(),
        };
        assert_eq!(
            sec.resolve(org, &fangxiang.code),
            sec.resolve(org, &xijiang.code)
        );
        assert_eq!(sec.resolve(org, &fangxiang.code).len(), 1);
        let dep = AssigneeRule::InChargeOfFunction {
            function: "household".into(),
        };
        assert_eq!(dep.resolve(org, &fangxiang.code).len(), 1);
        let pref = AssigneeRule::PrefectureFunctionPost {
            function: "household".into(),
            post: "支队长".into(),
        };
        assert_eq!(pref.resolve(org, &fangxiang.code).len(), 1);
        let nobody = AssigneeRule::CaseUnitPost {
            post: "局长".into(),
        };
        assert!(nobody.resolve(org, &fangxiang.code).is_empty());
    }

    #[test]
    fn check_refuses_incomplete_definitions() {
        let reg = crate::registry::Registry::builtin_demo().unwrap();
        let mut wf = reg.workflow_latest("hukou_change").unwrap().clone();
        assert!(wf.check().is_ok());
        wf.routes.pop();
        assert!(wf.check().is_err());
        let mut wf = reg.workflow_latest("hukou_change").unwrap().clone();
        wf.routes[1].steps[1].id = "station_chief".into();
        assert!(wf.check().is_err());
    }
}
