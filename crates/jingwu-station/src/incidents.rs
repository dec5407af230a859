//! 110 接处警 at a station or desk: registering a report, dispatching it,
//! and the handling steps, each recorded locally first like every other
//! event (so a station with no link keeps working) and pushed by
//! [`Station::sync`]. The rules are the core's: what is refused here is
//! refused by [`jingwu_core::case::CaseState::apply`].

use std::collections::HashSet;

use jingwu_core::case::{repeat_calls, CaseState, IncidentStep, RepeatCall};
use jingwu_core::event::Action;
use jingwu_core::form::{CaseType, FormValues};
use jingwu_store::Batch;
use uuid::Uuid;

use crate::station::{signing_time, Result, Station, StationError};

fn usage<T>(msg: impl Into<String>) -> Result<T> {
    Err(StationError::Usage(msg.into()))
}

impl Station {
    /// The unit where this user registers 110 reports: `wanted` if given
    /// (and theirs), else their first 110 desk, else their first unit the
    /// desk dispatches to (自接警).
    pub fn incident_unit(&self, wanted: Option<&str>) -> Result<String> {
        let person = self.person()?;
        self.reg
            .org
            .incident_unit_of(&person, wanted)
            .map_err(StationError::Usage)
    }

    /// Registers a 110 report (接警; 自接警 when the unit is not a desk).
    pub fn incident_create(
        &mut self,
        pin: &str,
        form: FormValues,
        unit: Option<&str>,
    ) -> Result<CaseState> {
        let person = self.person()?;
        let unit = self.incident_unit(unit)?;
        let t = self
            .reg
            .template_latest("incident")
            .ok_or_else(|| StationError::Usage("缺少接处警登记表模板".into()))?
            .reference();
        let case_no = self.next_case_no(&person, &unit)?;
        self.record(
            pin,
            None,
            Action::Create {
                case_type: CaseType::Incident,
                template: t,
                workflow: None,
                case_no,
                unit,
                form,
                registry: self.reg.published_version(),
            },
        )
    }

    /// 派警 to each of `units`, one dispatch each (一警多处), recorded
    /// together: all or none.
    pub fn incident_dispatch(
        &mut self,
        pin: &str,
        case: Uuid,
        units: &[String],
        opinion: &str,
    ) -> Result<CaseState> {
        if units.is_empty() {
            return usage("请选择至少一个处警单位");
        }
        let (person, key) = self.signer(pin)?;
        self.redo_with(&person, &key)?;
        let state = self.store.case(&case)?;
        let at = signing_time(state.as_ref())?;
        let batch = Batch {
            attachments: Vec::new(),
            original: None,
            links: Vec::new(),
            actions: units
                .iter()
                .map(|u| Action::Dispatch {
                    at: None,
                    unit: u.clone(),
                    opinion: opinion.to_string(),
                })
                .collect(),
        };
        Ok(self
            .store
            .record_batch(&self.reg, &key, &person, case, &batch, at)?)
    }

    /// One handling step (签收, 出警, 到达, 退单, 反馈, 终结).
    pub fn incident_step(
        &mut self,
        pin: &str,
        case: Uuid,
        step: IncidentStep,
    ) -> Result<CaseState> {
        let action = step
            .into_action()
            .map_err(|e| StationError::Usage(e.to_string()))?;
        self.act(pin, case, action)
    }

    /// Every 110 record in the local store, newest first.
    pub fn incidents(&self) -> Result<Vec<CaseState>> {
        let mut out = Vec::new();
        for c in self.store.list_cases(u32::MAX)? {
            if let Some(s) = self.store.case(&c.id)? {
                if s.case_type == CaseType::Incident {
                    out.push(s);
                }
            }
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(out)
    }

    /// The signature marks of a case's page: the ids of the events whose
    /// signature checks against its author's key held here, and whether
    /// the whole hash chain does (what "签名已验证" stands on).
    pub fn signature_marks(&self, case: &Uuid) -> Result<(HashSet<Uuid>, bool)> {
        let mut ok = HashSet::new();
        for e in self.store.events(case)? {
            let key = self.store.public_key(&e.event.author, &e.event.key)?;
            if key.is_some_and(|k| e.verify(&k).is_ok()) {
                ok.insert(e.event.id);
            }
        }
        let chain_ok = self.store.verified_events(case).is_ok();
        Ok((ok, chain_ok))
    }

    /// Earlier records a new report may repeat (重复报警 hint).
    pub fn repeat_calls(&self, form: &FormValues) -> Result<Vec<RepeatCall>> {
        Ok(repeat_calls(form, self.incidents()?.iter()))
    }
}
