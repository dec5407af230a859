//! Everything a rule needs to be decided: the org, the dictionaries,
//! every version of every template and workflow, and the official holiday
//! calendar that working-day time limits count with.

use std::collections::BTreeMap;

use crate::dict::Dictionaries;
use crate::form::{Template, TemplateRef};
use crate::org::Org;
use crate::workdays::{WorkCalendar, YearCalendar};
use crate::workflow::{WorkflowDef, WorkflowRef};

/// The built-in templates shipped with the code.
pub const BUILTIN_TEMPLATES_JSON: &str = include_str!("../data/templates.json");
/// The built-in workflow definitions shipped with the code.
pub const BUILTIN_WORKFLOWS_JSON: &str = include_str!("../data/workflows.json");
/// The official holiday arrangements shipped with the code (one entry per
/// year, each citing its State Council notice).
pub const BUILTIN_CALENDAR_JSON: &str = include_str!("../data/calendar.json");

/// Why configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Org(#[from] crate::org::OrgError),
    #[error(transparent)]
    Dict(#[from] crate::dict::DictError),
    #[error("表单模板文件格式错误：{0}")]
    TemplateJson(String),
    #[error("流程定义文件格式错误：{0}")]
    WorkflowJson(String),
    #[error("节假日安排文件格式错误：{0}")]
    CalendarJson(String),
    #[error(transparent)]
    Calendar(#[from] crate::workdays::WorkCalendarError),
    #[error("{0}")]
    Invalid(String),
}

/// Org + dictionaries + templates + workflows + holiday calendar.
#[derive(Debug, Clone)]
pub struct Registry {
    pub org: Org,
    pub dicts: Dictionaries,
    templates: BTreeMap<TemplateRef, Template>,
    workflows: BTreeMap<WorkflowRef, WorkflowDef>,
    /// The official arrangements, by year.
    calendar_years: BTreeMap<i32, YearCalendar>,
    /// Their union (weekends only when there is none).
    calendar: WorkCalendar,
}

impl Registry {
    pub fn new(org: Org, dicts: Dictionaries) -> Self {
        Registry {
            org,
            dicts,
            templates: BTreeMap::new(),
            workflows: BTreeMap::new(),
            calendar_years: BTreeMap::new(),
            calendar: WorkCalendar::weekends_only(),
        }
    }

    /// The Leishan demo org with the built-in dictionaries, templates and
    /// workflows.
    pub fn builtin_demo() -> Result<Self, RegistryError> {
        Self::builtin_with_org(Org::leishan_demo()?)
    }

    /// The built-in dictionaries, templates, workflows and holiday
    /// calendar over `org`.
    pub fn builtin_with_org(org: Org) -> Result<Self, RegistryError> {
        let mut r = Registry::new(org, Dictionaries::builtin()?);
        let templates: Vec<Template> = serde_json::from_str(BUILTIN_TEMPLATES_JSON)
            .map_err(|e| RegistryError::TemplateJson(e.to_string()))?;
        for t in templates {
            r.add_template(t)?;
        }
        let workflows: Vec<WorkflowDef> = serde_json::from_str(BUILTIN_WORKFLOWS_JSON)
            .map_err(|e| RegistryError::WorkflowJson(e.to_string()))?;
        for w in workflows {
            r.add_workflow(w)?;
        }
        r.import_calendar_json(BUILTIN_CALENDAR_JSON)?;
        Ok(r)
    }

    /// The working-day calendar time limits count with: Monday–Friday,
    /// minus the official holidays, plus the make-up working days of every
    /// year known ([`Registry::calendar_years`]). Weekends only for a
    /// registry without any (e.g. [`Registry::new`]).
    pub fn calendar(&self) -> &WorkCalendar {
        &self.calendar
    }

    /// The years whose official arrangement is known, oldest first.
    pub fn calendar_years(&self) -> impl Iterator<Item = &YearCalendar> {
        self.calendar_years.values()
    }

    /// Whether the official arrangement of `year` is known (else dates in
    /// it count as weekends only).
    pub fn calendar_covers(&self, year: i32) -> bool {
        self.calendar_years.contains_key(&year)
    }

    /// Adds one year's official arrangement. Re-adding a year with the same
    /// dates changes nothing; a year already known with different dates is
    /// refused (like template versions, a known year is not silently
    /// rewritten).
    pub fn add_calendar_year(&mut self, y: YearCalendar) -> Result<(), RegistryError> {
        if let Some(old) = self.calendar_years.get(&y.year()) {
            if old.calendar() == y.calendar() {
                return Ok(());
            }
            return Err(RegistryError::Invalid(format!(
                "{} 年的放假安排已存在且日期不同（已有来源：{}）；未导入",
                y.year(),
                old.source()
            )));
        }
        let mut years = self.calendar_years.clone();
        years.insert(y.year(), y);
        self.calendar = WorkCalendar::union(years.values())?;
        self.calendar_years = years;
        Ok(())
    }

    /// Merges a JSON file of one year's arrangement (an object) or of
    /// several (an array), all or nothing. Returns the years it holds.
    pub fn import_calendar_json(&mut self, json: &str) -> Result<Vec<i32>, RegistryError> {
        let years = YearCalendar::parse_json(json).map_err(RegistryError::CalendarJson)?;
        if years.is_empty() {
            return Err(RegistryError::CalendarJson("没有任何年份".into()));
        }
        let mut next = self.clone();
        let mut seen = Vec::new();
        for y in years {
            if seen.contains(&y.year()) {
                return Err(RegistryError::CalendarJson(format!(
                    "{} 年出现了不止一次",
                    y.year()
                )));
            }
            seen.push(y.year());
            next.add_calendar_year(y)?;
        }
        self.calendar_years = next.calendar_years;
        self.calendar = next.calendar;
        Ok(seen)
    }

    /// Adds a template version. Versions are immutable: re-adding an
    /// existing version with different content is refused.
    pub fn add_template(&mut self, t: Template) -> Result<(), RegistryError> {
        t.check(&self.dicts).map_err(RegistryError::Invalid)?;
        match self.templates.get(&t.reference()) {
            Some(old) if old != &t => Err(RegistryError::Invalid(format!(
                "表单模板 {} 第 {} 版已存在且内容不同；修改模板请升版本号",
                t.id, t.version
            ))),
            _ => {
                self.templates.insert(t.reference(), t);
                Ok(())
            }
        }
    }

    /// Adds a workflow version (immutable like templates).
    pub fn add_workflow(&mut self, w: WorkflowDef) -> Result<(), RegistryError> {
        w.check().map_err(RegistryError::Invalid)?;
        if !self.templates.keys().any(|k| k.id == w.template) {
            return Err(RegistryError::Invalid(format!(
                "流程 {} 引用了不存在的表单模板 {}",
                w.id, w.template
            )));
        }
        match self.workflows.get(&w.reference()) {
            Some(old) if old != &w => Err(RegistryError::Invalid(format!(
                "流程 {} 第 {} 版已存在且内容不同；修改流程请升版本号",
                w.id, w.version
            ))),
            _ => {
                self.workflows.insert(w.reference(), w);
                Ok(())
            }
        }
    }

    pub fn template(&self, r: &TemplateRef) -> Option<&Template> {
        self.templates.get(r)
    }

    pub fn workflow(&self, r: &WorkflowRef) -> Option<&WorkflowDef> {
        self.workflows.get(r)
    }

    /// The newest version of template `id` (for new cases).
    pub fn template_latest(&self, id: &str) -> Option<&Template> {
        self.templates
            .iter()
            .rev()
            .find(|(k, _)| k.id == id)
            .map(|(_, t)| t)
    }

    /// The newest version of workflow `id` (for new cases).
    pub fn workflow_latest(&self, id: &str) -> Option<&WorkflowDef> {
        self.workflows
            .iter()
            .rev()
            .find(|(k, _)| k.id == id)
            .map(|(_, w)| w)
    }

    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        self.templates.values()
    }
}
