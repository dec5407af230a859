//! Everything a rule needs to be decided: the org, the dictionaries,
//! every version of every template and workflow, and the official holiday
//! calendar that working-day time limits count with.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

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
///
/// A registry the hub published ([`crate::published`]) also keeps the org
/// of every earlier version: a case names the version it was created with
/// (`Action::Create::registry`) and is decided with that version's org
/// for its whole life ([`Registry::for_case`]); new cases take the newest.
/// Every part is shared (`Arc`), so a view of an earlier version costs a
/// few reference counts.
#[derive(Debug, Clone)]
pub struct Registry {
    /// The org of the newest version.
    pub org: Arc<Org>,
    pub dicts: Arc<Dictionaries>,
    templates: Arc<BTreeMap<TemplateRef, Template>>,
    workflows: Arc<BTreeMap<WorkflowRef, WorkflowDef>>,
    /// The official arrangements, by year.
    calendar_years: Arc<BTreeMap<i32, YearCalendar>>,
    /// Their union (weekends only when there is none).
    calendar: Arc<WorkCalendar>,
    /// The published version (0: not published, e.g. the built-in demo).
    version: u32,
    /// The org of every published version, the newest included.
    orgs: Arc<BTreeMap<u32, Arc<Org>>>,
}

impl Registry {
    pub fn new(org: Org, dicts: Dictionaries) -> Self {
        Registry {
            org: Arc::new(org),
            dicts: Arc::new(dicts),
            templates: Arc::default(),
            workflows: Arc::default(),
            calendar_years: Arc::default(),
            calendar: Arc::new(WorkCalendar::weekends_only()),
            version: 0,
            orgs: Arc::default(),
        }
    }

    /// The published version this registry is (its newest), or `None` for
    /// one that was never published (the built-in demo, tests). A new case
    /// names it in its `create`.
    pub fn published_version(&self) -> Option<u32> {
        (self.version > 0).then_some(self.version)
    }

    /// The published versions whose org is known, oldest first.
    pub fn versions(&self) -> impl Iterator<Item = u32> + '_ {
        self.orgs.keys().copied()
    }

    /// The rules as of published `version` (its org; templates, workflows
    /// and dictionaries are shared: their versions are immutable and codes
    /// are never withdrawn), or `None` when this registry does not hold
    /// that version. `None` as the version (a case from before versions
    /// were published) means the newest.
    pub fn at(&self, version: Option<u32>) -> Option<Cow<'_, Registry>> {
        match version {
            None => Some(Cow::Borrowed(self)),
            Some(v) if v == self.version => Some(Cow::Borrowed(self)),
            Some(v) => {
                let org = self.orgs.get(&v)?;
                let mut r = self.clone();
                r.org = org.clone();
                r.version = v;
                Some(Cow::Owned(r))
            }
        }
    }

    /// The rules a case created with `version` is decided with: that
    /// version when known, else the newest (a case is refused at its
    /// `create` when its version is unknown, so this only happens for
    /// views of cases held before the version arrived).
    pub fn for_case(&self, version: Option<u32>) -> Cow<'_, Registry> {
        self.at(version).unwrap_or(Cow::Borrowed(self))
    }

    /// Adds published version `version` with its org (the newest so far).
    pub(crate) fn push_version(&mut self, version: u32, org: Org) {
        let org = Arc::new(org);
        Arc::make_mut(&mut self.orgs).insert(version, org.clone());
        self.org = org;
        self.version = version;
    }

    /// Replaces the dictionaries (a newer published version's).
    pub(crate) fn set_dicts(&mut self, dicts: Dictionaries) {
        self.dicts = Arc::new(dicts);
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
        let mut years = (*self.calendar_years).clone();
        years.insert(y.year(), y);
        self.calendar = Arc::new(WorkCalendar::union(years.values())?);
        self.calendar_years = Arc::new(years);
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
                Arc::make_mut(&mut self.templates).insert(t.reference(), t);
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
                Arc::make_mut(&mut self.workflows).insert(w.reference(), w);
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

    /// Every workflow version, by id then version.
    pub fn workflows(&self) -> impl Iterator<Item = &WorkflowDef> {
        self.workflows.values()
    }
}
