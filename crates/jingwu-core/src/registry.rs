//! Everything a rule needs to be decided: the org, the dictionaries, and
//! every version of every template and workflow.

use std::collections::BTreeMap;

use crate::dict::Dictionaries;
use crate::form::{Template, TemplateRef};
use crate::org::Org;
use crate::workflow::{WorkflowDef, WorkflowRef};

/// The built-in templates shipped with the code.
pub const BUILTIN_TEMPLATES_JSON: &str = include_str!("../data/templates.json");
/// The built-in workflow definitions shipped with the code.
pub const BUILTIN_WORKFLOWS_JSON: &str = include_str!("../data/workflows.json");

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
    #[error("{0}")]
    Invalid(String),
}

/// Org + dictionaries + templates + workflows.
#[derive(Debug, Clone)]
pub struct Registry {
    pub org: Org,
    pub dicts: Dictionaries,
    templates: BTreeMap<TemplateRef, Template>,
    workflows: BTreeMap<WorkflowRef, WorkflowDef>,
}

impl Registry {
    pub fn new(org: Org, dicts: Dictionaries) -> Self {
        Registry {
            org,
            dicts,
            templates: BTreeMap::new(),
            workflows: BTreeMap::new(),
        }
    }

    /// The Leishan demo org with the built-in dictionaries, templates and
    /// workflows.
    pub fn builtin_demo() -> Result<Self, RegistryError> {
        Self::builtin_with_org(Org::leishan_demo()?)
    }

    /// The built-in dictionaries, templates and workflows over `org`.
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
        Ok(r)
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
