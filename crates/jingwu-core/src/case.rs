//! A case's state is a fold over its events. [`CaseState::apply`] is the
//! one place that decides whether an event is allowed: the desktop calls it
//! before writing an event locally, the hub before accepting one. An event
//! the rules forbid is rejected with a reason in Chinese, never a panic.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::caseno::CaseNo;
use crate::event::{Action, Decision, Event};
use crate::form::{
    self, AttachmentRef, CaseType, FieldError, FieldType, FormValues, Mode, TemplateRef, DRAFT_STEP,
};
use crate::org::UnitKind;
use crate::registry::Registry;
use crate::workflow::{StepDef, WorkflowRef};
use crate::SHANGHAI;

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    // 户口变更
    /// 草稿: being filled by the initiator.
    Draft,
    /// 审批中: waiting at `step_index` of the route.
    InReview,
    /// 退回补正: back with the initiator for correction.
    Returned,
    /// 已撤回: the initiator took it back; editable, can be resubmitted.
    Withdrawn,
    /// 已同意 (final).
    Approved,
    /// 不同意 (final).
    Rejected,
    /// 已作废: abandoned by the initiator (final).
    Cancelled,
    // 110 接处警
    /// 受理
    Received,
    /// 已下达
    Dispatched,
    /// 已签收
    Acknowledged,
    /// 已出警
    Departed,
    /// 已到达现场
    Arrived,
    /// 已反馈
    FeedbackFiled,
    /// 已终结
    Concluded,
    /// 已归档
    Archived,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Draft => "草稿",
            Status::InReview => "审批中",
            Status::Returned => "退回补正",
            Status::Withdrawn => "已撤回",
            Status::Approved => "已同意",
            Status::Rejected => "不同意",
            Status::Cancelled => "已作废",
            Status::Received => "受理",
            Status::Dispatched => "已下达",
            Status::Acknowledged => "已签收",
            Status::Departed => "已出警",
            Status::Arrived => "已到达现场",
            Status::FeedbackFiled => "已反馈",
            Status::Concluded => "已终结",
            Status::Archived => "已归档",
        }
    }

    /// Whether the initiator may edit the form.
    pub fn editable_by_initiator(self) -> bool {
        matches!(self, Status::Draft | Status::Returned | Status::Withdrawn)
    }
}

/// One entry of the approval trail (审批记录).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailEntry {
    pub event_id: Uuid,
    /// Step id, or `draft` for the initiator's own sends.
    pub step: String,
    /// The role shown, e.g. 派出所所长.
    pub role: String,
    pub person: String,
    /// `submit`, `withdraw`, or a decision.
    pub action: String,
    pub decision: Option<Decision>,
    pub opinion: String,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
}

/// One dispatch (派警单) of an incident to a handling unit, and what that
/// unit did with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchInfo {
    /// 派警单编号: the incident's number and the dispatch's place, e.g.
    /// `J5226340800002026112000001-P1`.
    #[serde(default)]
    pub no: String,
    pub unit: String,
    pub by: String,
    pub opinion: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub acknowledged_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub acknowledged_by: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub departed_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub arrived_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub officers: Vec<String>,
    #[serde(default)]
    pub vehicles: Vec<String>,
    /// 反馈单: the handling unit's own report (the template's `feedback`
    /// fields).
    #[serde(default)]
    pub feedback: FormValues,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub feedback_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub feedback_by: Option<String>,
    /// 退单: (person, reason) and when.
    #[serde(default)]
    pub returned: Option<(String, String)>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub returned_at: Option<OffsetDateTime>,
    /// Registered and handled by the unit itself (自接警).
    #[serde(default)]
    pub own: bool,
}

impl DispatchInfo {
    /// A new dispatch of `unit` by `by` at `at`, nothing done yet.
    pub fn new(
        no: String,
        unit: &str,
        by: &str,
        opinion: &str,
        at: OffsetDateTime,
    ) -> DispatchInfo {
        DispatchInfo {
            no,
            unit: unit.to_string(),
            by: by.to_string(),
            opinion: opinion.to_string(),
            at,
            acknowledged_at: None,
            acknowledged_by: None,
            departed_at: None,
            arrived_at: None,
            officers: Vec::new(),
            vehicles: Vec::new(),
            feedback: FormValues::new(),
            feedback_at: None,
            feedback_by: None,
            returned: None,
            returned_at: None,
            own: false,
        }
    }

    /// Where this dispatch stands: 已下达 → 已签收 → 已出警 → 已到达现场 →
    /// 已反馈; `None` once returned (退单).
    pub fn status(&self) -> Option<Status> {
        if self.returned.is_some() {
            None
        } else if self.feedback_at.is_some() {
            Some(Status::FeedbackFiled)
        } else if self.arrived_at.is_some() {
            Some(Status::Arrived)
        } else if self.departed_at.is_some() {
            Some(Status::Departed)
        } else if self.acknowledged_at.is_some() {
            Some(Status::Acknowledged)
        } else {
            Some(Status::Dispatched)
        }
    }

    /// The label of [`DispatchInfo::status`] (已退单 when returned).
    pub fn status_label(&self) -> &'static str {
        self.status().map(Status::label).unwrap_or("已退单")
    }

    /// When the latest step of this dispatch happened.
    fn last_step_at(&self) -> OffsetDateTime {
        self.arrived_at
            .or(self.departed_at)
            .or(self.acknowledged_at)
            .unwrap_or(self.at)
    }
}

/// The 110 steps of one dispatch a person may take now (see
/// [`CaseState::allowed_actions`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchActions {
    /// The dispatch's unit code.
    pub unit: String,
    pub can_reject_dispatch: bool,
    pub can_acknowledge: bool,
    pub can_depart: bool,
    pub can_arrive: bool,
    pub can_feedback: bool,
}

/// The last forward send, which its author may still withdraw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LastSend {
    author: String,
    /// The step index to return to (`None`: back to the initiator).
    back_to: Option<usize>,
}

/// The state of a case, rebuilt from its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseState {
    pub case_id: Uuid,
    pub case_type: CaseType,
    pub template: TemplateRef,
    pub workflow: Option<WorkflowRef>,
    pub case_no: String,
    pub unit: String,
    pub initiator: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub form: FormValues,
    pub status: Status,
    /// The route chosen at the last submission.
    pub route: Option<String>,
    /// Index of the current step in the route while in review.
    pub step_index: Option<usize>,
    /// When the current step (or status) began, by event time.
    #[serde(with = "time::serde::rfc3339")]
    pub step_since: OffsetDateTime,
    pub trail: Vec<TrailEntry>,
    /// 落实.
    pub implemented: Option<(String, String)>,
    /// 告知申请人: (time, channel).
    pub informed: Option<(String, String)>,
    /// 110: every dispatch of the incident (一警多处), in order, returned
    /// ones included.
    #[serde(default, alias = "dispatch_history")]
    pub dispatches: Vec<DispatchInfo>,
    /// 110: 终结 (person, time).
    #[serde(default)]
    pub concluded: Option<(String, String)>,
    /// 110: the unit the record is filed at (归档): the bureau's 110
    /// brigade.
    #[serde(default)]
    pub archive_unit: Option<String>,
    /// 110: what the old system recorded of an imported record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<crate::import::ImportedRecord>,
    /// The published registry version the case was created with
    /// (`Action::Create::registry`); its org decides the case for its
    /// whole life ([`Registry::for_case`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<u32>,
    /// Number of events folded.
    pub next_seq: u64,
    /// SM3 hex of the last event.
    pub head: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    last_send: Option<LastSend>,
}

/// Why an event was refused. Shown to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("事件不属于该案件")]
    WrongCase,
    #[error("事件序号应为 {expected}，实际为 {found}")]
    WrongSeq { expected: u64, found: u64 },
    #[error("案件已有新的处理，请刷新后再操作")]
    StaleHead { head: Option<String> },
    #[error("案件必须以“创建”开始")]
    NotCreated,
    #[error("案件已创建，不能重复创建")]
    AlreadyCreated,
    #[error("未知的表单模板 {0}")]
    UnknownTemplate(String),
    #[error("未知的流程 {0}")]
    UnknownWorkflow(String),
    /// The event's device time is earlier than the case's previous event:
    /// a device clock set back, or a backdated decision.
    #[error("事件时间 {} 早于该案件上一事件的时间 {}，不予受理（请核对本机时钟）", rfc3339_shanghai(*.time), rfc3339_shanghai(*.previous))]
    Backdated {
        time: OffsetDateTime,
        previous: OffsetDateTime,
    },
    #[error("{0}")]
    NotAllowed(String),
    #[error("表单有 {} 处需要修改：{}", .0.len(), .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("；"))]
    Invalid(Vec<FieldError>),
}

/// How far a device clock may be behind a case's previous event and
/// still act on the case (with that event's time; see
/// [`CaseState::signing_time`]).
pub const CLOCK_SLACK_SECS: i64 = 300;

fn deny<T>(msg: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection::NotAllowed(msg.into()))
}

/// The longest approval opinion, in characters.
pub const MAX_OPINION_CHARS: usize = 1000;

/// The one rule for an approval opinion: trimmed, required for 不同意 and
/// 退回补正 (they must say why), at most [`MAX_OPINION_CHARS`] characters.
/// Returns the opinion as it is signed and recorded. `apply` checks every
/// decision with it; adapters call it (through
/// [`CaseState::decision_action`], or directly to check an opinion as it
/// is typed) before asking for a PIN.
pub fn check_opinion(decision: Decision, opinion: &str) -> Result<String, Rejection> {
    let opinion = opinion.trim();
    if decision != Decision::Agree && opinion.is_empty() {
        return deny(format!("{}时必须填写意见", decision.label()));
    }
    if opinion.chars().count() > MAX_OPINION_CHARS {
        return deny(format!("审批意见不能超过 {MAX_OPINION_CHARS} 字"));
    }
    Ok(opinion.to_string())
}

/// What a person may do to a case now (see
/// [`CaseState::allowed_actions`]): each `can_*` is true exactly when
/// [`CaseState::apply`] would accept that person's event of that kind.
/// The UI shows a button only for a true flag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actions {
    /// 同意 / 不同意 / 退回补正 at the current step.
    pub can_decide: bool,
    /// Change the form's fields (修改申请; 110: the intake record).
    pub can_edit: bool,
    /// Add, remove, turn or reorder attachments.
    pub can_attach: bool,
    /// Send the case into review as it stands.
    pub can_submit: bool,
    /// When submitting is this person's to do but the form is not ready:
    /// what to fix (empty otherwise).
    pub submit_errors: Vec<FieldError>,
    /// 撤回 the last send.
    pub can_withdraw: bool,
    /// 作废.
    pub can_cancel: bool,
    /// 落实.
    pub can_implement: bool,
    /// 告知申请人.
    pub can_inform: bool,
    /// 110: 退单.
    pub can_reject_dispatch: bool,
    /// 110: 签收.
    pub can_acknowledge: bool,
    /// 110: 出警 (with this person among the officers).
    pub can_depart: bool,
    /// 110: 到达现场.
    pub can_arrive: bool,
    /// 110: 派警 to another unit.
    pub can_dispatch: bool,
    /// 110: 反馈 (or amend the report).
    pub can_feedback: bool,
    /// 110: 终结 (which files the record at once).
    pub can_conclude: bool,
    /// 110: 归档 — never by hand any more; kept for the wire.
    pub can_archive: bool,
    /// 110: the steps open to this person on each standing dispatch of a
    /// unit they belong to.
    pub dispatches: Vec<DispatchActions>,
}

impl Actions {
    /// Only the decision: what a shell offers where the initiator's
    /// actions are not available (the hub's browser UI).
    pub fn decide_only(&self) -> Actions {
        Actions {
            can_decide: self.can_decide,
            ..Actions::default()
        }
    }
}

/// The one-line summary of a 户口变更 from its parts (see
/// [`CaseState::summary`]); a slip checker rebuilds it from a printed page.
pub fn hukou_summary(
    subject_name: &str,
    masked_id: &str,
    change_item: &str,
    before: &str,
    after: &str,
) -> String {
    format!("{subject_name}（{masked_id}）{change_item}：{before} → {after}")
}

/// `action` with its form values in canonical form
/// ([`crate::form::Template::canonicalise`]): a create's form by its
/// template, an update's or feedback's changes by the case's. Adapters
/// call it on every action before signing; `apply` refuses non-canonical
/// ID numbers, so nothing else gets signed.
pub fn canonical_action(reg: &Registry, state: Option<&CaseState>, mut action: Action) -> Action {
    match &mut action {
        Action::Create { template, form, .. } => {
            if let Some(t) = reg.template(template) {
                t.canonicalise(form);
            }
        }
        Action::UpdateForm { changes } | Action::Feedback { changes, .. } => {
            if let Some(t) = state.and_then(|s| reg.template(&s.template)) {
                t.canonicalise(changes);
            }
        }
        _ => {}
    }
    action
}

impl CaseState {
    /// Starts a case from its first event.
    pub fn create(ev: &Event, hash: &str, reg: &Registry) -> Result<CaseState, Rejection> {
        if let Action::ImportIncident { .. } = &ev.action {
            return CaseState::create_imported(ev, hash, reg);
        }
        let Action::Create {
            case_type,
            template,
            workflow,
            case_no,
            unit,
            form,
            registry,
        } = &ev.action
        else {
            return Err(Rejection::NotCreated);
        };
        let Some(at) = reg.at(*registry) else {
            return deny(format!(
                "案件所依据的规则数据第 {} 版在此尚未取得：请先与县局同步规则数据后再试",
                registry.unwrap_or_default()
            ));
        };
        let reg: &Registry = &at;
        let t = opening_template(ev, reg, template)?;
        if t.case_type != *case_type {
            return deny("表单模板与案件类型不符");
        }
        let org = &reg.org;
        let Some(u) = org.unit(unit) else {
            return deny(format!("受理单位 {unit} 不存在"));
        };
        if !org.is_member(&ev.author, unit) {
            return deny(format!(
                "{} 不是 {} 的人员，不能以该单位名义受理",
                ev.author, u.name
            ));
        }
        let cn = CaseNo::parse(case_no).map_err(|e| Rejection::NotAllowed(e.to_string()))?;
        if cn.unit != *unit {
            return deny("编号中的单位编码与受理单位不符");
        }
        let issuer = crate::caseno::issuer_of(&ev.key, &ev.device);
        if cn.issuer.as_deref() != Some(issuer.as_str()) {
            return deny(format!(
                "编号 {case_no} 不是本机本人的签名密钥所签发（应含签发码 {issuer}），不能使用"
            ));
        }
        match case_type {
            CaseType::HukouChange => {
                if u.kind != UnitKind::Station {
                    return deny("户口变更只能由派出所受理");
                }
                let Some(w) = workflow else {
                    return deny("户口变更案件必须指定审批流程");
                };
                let wf = reg.workflow(w).ok_or_else(|| {
                    Rejection::UnknownWorkflow(format!("{} v{}", w.id, w.version))
                })?;
                if wf.template != template.id {
                    return deny("审批流程与表单模板不匹配");
                }
            }
            CaseType::Incident => {
                if workflow.is_some() {
                    return deny("接处警记录不使用审批流程");
                }
                let org = &reg.org;
                if !org.registers_incidents(unit) {
                    return deny("接处警应由 110 巡警大队、指挥中心或处警单位登记");
                }
                if !org.is_member(&ev.author, unit) {
                    return deny("只有接警单位的人员可以登记警情");
                }
            }
        }
        let ctx = form_ctx(reg, ev);
        // An incident is registered whole (the desk dispatches at once);
        // a 户口变更 starts as a draft.
        let mode = match case_type {
            CaseType::HukouChange => Mode::Draft,
            CaseType::Incident => Mode::Submit,
        };
        let mut errs = t.validate(form, mode, DRAFT_STEP, &ctx);
        if *case_type == CaseType::Incident {
            errs.extend(intake_time_errors(form, ev.time));
        }
        if !errs.is_empty() {
            return Err(Rejection::Invalid(errs));
        }
        let status = match case_type {
            CaseType::HukouChange => Status::Draft,
            CaseType::Incident => Status::Received,
        };
        let mut state = CaseState::opened(ev, hash, *case_type, template, case_no, unit, form);
        state.workflow = workflow.clone();
        state.registry = *registry;
        state.status = status;
        // 自接警: a unit other than the desk registers a report it received
        // itself and handles it: its own dispatch, acknowledged at once.
        if state.case_type == CaseType::Incident && !reg.org.is_desk(unit) {
            let mut own =
                DispatchInfo::new(format!("{case_no}-P1"), unit, &ev.author, "自接警", ev.time);
            own.acknowledged_at = Some(ev.time);
            own.acknowledged_by = Some(ev.author.clone());
            own.own = true;
            state.dispatches.push(own);
            state.status = state.incident_status();
        }
        state.push_intake_trail(ev);
        Ok(state)
    }

    /// A case just opened by `ev` (hash `hash`), before the case type's
    /// own settings: received, no trail, nothing done.
    fn opened(
        ev: &Event,
        hash: &str,
        case_type: CaseType,
        template: &TemplateRef,
        case_no: &str,
        unit: &str,
        form: &FormValues,
    ) -> CaseState {
        CaseState {
            case_id: ev.case_id,
            case_type,
            template: template.clone(),
            workflow: None,
            case_no: case_no.to_string(),
            unit: unit.to_string(),
            initiator: ev.author.clone(),
            created_at: ev.time,
            form: form.clone(),
            status: Status::Received,
            route: None,
            step_index: None,
            step_since: ev.time,
            trail: Vec::new(),
            implemented: None,
            informed: None,
            dispatches: Vec::new(),
            concluded: None,
            archive_unit: None,
            imported: None,
            registry: None,
            next_seq: 1,
            head: hash.to_string(),
            updated_at: ev.time,
            last_send: None,
        }
    }

    /// Starts an imported 110 record ([`Action::ImportIncident`]): by a
    /// member of a desk, with a number of the old system's, the intake
    /// checked like a registration's and the record by
    /// [`crate::import::ImportedRecord::check`]. The record stands as the
    /// old system left it: dispatched to its 管辖单位 with the steps it
    /// reached, and filed at the 110 brigade if it was concluded; an
    /// unfinished one goes on like any record.
    fn create_imported(ev: &Event, hash: &str, reg: &Registry) -> Result<CaseState, Rejection> {
        let Action::ImportIncident {
            template,
            case_no,
            unit,
            form,
            record,
        } = &ev.action
        else {
            return Err(Rejection::NotCreated);
        };
        let t = opening_template(ev, reg, template)?;
        if t.case_type != CaseType::Incident {
            return deny("历史数据导入只适用于接处警登记表");
        }
        let org = &reg.org;
        if !org.is_desk(unit) || !org.is_member(&ev.author, unit) {
            return deny("只有 110 巡警大队或指挥中心的人员可以导入历史警情");
        }
        let bad_no = case_no.is_empty()
            || case_no.chars().count() > crate::import::MAX_CASE_NO
            || !case_no
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if bad_no {
            return Err(Rejection::Invalid(vec![FieldError {
                field: "case_no".into(),
                message: "接警单编号只能由字母、数字和“-”组成，最多 40 位".into(),
            }]));
        }
        let bureau = org
            .bureau_of(unit)
            .map(|b| b.code.clone())
            .unwrap_or_default();
        let ctx = form_ctx(reg, ev);
        let mut errs = t.validate(form, Mode::Submit, DRAFT_STEP, &ctx);
        errs.extend(intake_time_errors(form, ev.time));
        let report = form
            .get("report_time")
            .and_then(Value::as_str)
            .and_then(form::parse_datetime);
        if let Some(r) = report {
            errs.extend(record.check(reg, &bureau, r, ev.time));
        }
        if !errs.is_empty() {
            return Err(Rejection::Invalid(errs));
        }
        let mut state =
            CaseState::opened(ev, hash, CaseType::Incident, template, case_no, unit, form);
        state.imported = Some(record.clone());
        if let Some(at) = record.dispatched_at {
            let mut d = DispatchInfo::new(
                format!("{case_no}-P1"),
                &record.handling_unit,
                &ev.author,
                "历史数据导入",
                at,
            );
            d.acknowledged_at = record.acknowledged_at;
            d.acknowledged_by = record.acknowledged_at.map(|_| ev.author.clone());
            d.departed_at = record.departed_at;
            d.arrived_at = record.arrived_at;
            d.feedback_at = record.feedback_at;
            d.feedback_by = record.feedback_at.map(|_| ev.author.clone());
            d.feedback = record.feedback();
            state.dispatches.push(d);
        }
        if let Some(c) = record.concluded_at {
            let Some(archive) = archive_unit(reg, &bureau) else {
                return deny("本局没有 110 巡警大队或指挥中心，无法归档");
            };
            state.concluded = Some((ev.author.clone(), rfc3339(c)));
            state.archive_unit = Some(archive);
        }
        state.status = state.incident_status();
        state.push_trail(ev, "历史数据导入", "导入", "import", None, &record.source);
        Ok(state)
    }

    /// Folds a whole log. `events` pairs each event with its hash (hex).
    pub fn replay<'a>(
        events: impl IntoIterator<Item = (&'a Event, &'a str)>,
        reg: &Registry,
    ) -> Result<CaseState, (u64, Rejection)> {
        let mut it = events.into_iter();
        let Some((first, h)) = it.next() else {
            return Err((0, Rejection::NotCreated));
        };
        let mut state = CaseState::create(first, h, reg).map_err(|e| (0, e))?;
        for (ev, h) in it {
            state = state.apply(ev, h, reg).map_err(|e| (ev.seq, e))?;
        }
        Ok(state)
    }

    /// The current step definition, while in review.
    pub fn current_step<'r>(&self, reg: &'r Registry) -> Option<&'r StepDef> {
        let wf = reg.workflow(self.workflow.as_ref()?)?;
        let route = wf.route(self.route.as_deref()?)?;
        route.steps.get(self.step_index?)
    }

    /// When the current step's time limit runs out (end of that working
    /// day, Asia/Shanghai), while in review.
    pub fn step_deadline(
        &self,
        reg: &Registry,
        calendar: &crate::workdays::WorkCalendar,
    ) -> Option<OffsetDateTime> {
        let for_case = reg.for_case(self.registry);
        let reg: &Registry = &for_case;
        if self.status != Status::InReview {
            return None;
        }
        let step = self.current_step(reg)?;
        Some(crate::workdays::deadline(
            self.step_since,
            step.time_limit_working_days,
            calendar,
        ))
    }

    /// The one-line summary of a 户口变更 an approver signs with a decision:
    /// `变动人（masked ID）变更项目：变更前 → 变更后`.
    pub fn summary(&self) -> String {
        let f = |k: &str| {
            self.form
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let id = f("subject_id");
        let masked = crate::idnum::IdNumber::parse_structure(&id)
            .map(|i| i.masked())
            .unwrap_or_default();
        hukou_summary(
            &f("subject_name"),
            &masked,
            &f("change_item"),
            &f("before"),
            &f("after"),
        )
    }

    /// The time a new event of this case is signed with, given the signing
    /// device's clock `now`. The rules refuse an event dated before the
    /// case's previous event (`Rejection::Backdated`); clocks of different
    /// devices differ by a little, so a clock at most [`CLOCK_SLACK_SECS`]
    /// behind that event signs with the event's own time instead, and one
    /// further behind is refused here, saying the clock needs setting.
    pub fn signing_time(&self, now: OffsetDateTime) -> Result<OffsetDateTime, Rejection> {
        if now >= self.updated_at {
            return Ok(now);
        }
        if (self.updated_at - now).whole_seconds() <= CLOCK_SLACK_SECS {
            return Ok(self.updated_at);
        }
        Err(Rejection::Backdated {
            time: now,
            previous: self.updated_at,
        })
    }

    /// [`CaseState::summary`] as shown to people: every ID number in it
    /// masked. Only for display — what approvers sign is the summary
    /// itself.
    pub fn display_summary(&self) -> String {
        if self.case_type == CaseType::Incident {
            let f = |k: &str| self.form.get(k).and_then(Value::as_str).unwrap_or_default();
            let brief: String = f("summary").chars().take(40).collect();
            return crate::idnum::mask_in_text(&format!("{}：{brief}", f("location")));
        }
        crate::idnum::mask_in_text(&self.summary())
    }

    /// The decision action for the current step, with the case number and
    /// summary filled in and the opinion checked ([`check_opinion`]).
    pub fn decision_action(
        &self,
        reg: &Registry,
        decision: Decision,
        opinion: &str,
    ) -> Result<Action, Rejection> {
        let for_case = reg.for_case(self.registry);
        let reg: &Registry = &for_case;
        if self.status != Status::InReview {
            return deny(format!("案件当前状态为“{}”，不能审批", self.status.label()));
        }
        let step = self
            .current_step(reg)
            .ok_or_else(|| Rejection::NotAllowed("审批环节不存在".into()))?;
        Ok(Action::Decide {
            step: step.id.clone(),
            decision,
            opinion: check_opinion(decision, opinion)?,
            case_no: self.case_no.clone(),
            summary: self.summary(),
        })
    }

    /// Who may decide now (empty unless in review).
    pub fn assignees(&self, reg: &Registry) -> Vec<String> {
        let for_case = reg.for_case(self.registry);
        let reg: &Registry = &for_case;
        if self.case_type == CaseType::Incident {
            return self.incident_assignees(reg);
        }
        match (self.status, self.current_step(reg)) {
            (Status::InReview, Some(s)) => s.assignee.resolve(&reg.org, &self.unit),
            _ => Vec::new(),
        }
    }

    /// The leaders above the current review step of a 户口变更
    /// ([`crate::org::Org::leaders_above`] of the units acting at it),
    /// without the step's own assignees: they get a copy of its time-limit
    /// reminders. Empty outside review.
    pub fn step_leaders(&self, reg: &Registry) -> Vec<String> {
        let for_case = reg.for_case(self.registry);
        let reg: &Registry = &for_case;
        if self.case_type != CaseType::HukouChange || self.status != Status::InReview {
            return Vec::new();
        }
        let Some(step) = self.current_step(reg) else {
            return Vec::new();
        };
        let assignees = self.assignees(reg);
        let mut v: Vec<String> = step
            .assignee
            .units(&reg.org, &self.unit)
            .iter()
            .flat_map(|u| reg.org.leaders_above(u))
            .map(|p| p.id.clone())
            .filter(|p| !assignees.contains(p))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Who may read the case after an event by `author` (the hub grants
    /// access from this): the author and everyone the case waits for;
    /// for a 户口变更 the registering unit's members (from creation on,
    /// `created`) and the leaders above the step it waits at
    /// ([`CaseState::step_leaders`], copied on its reminders); for a 110
    /// record everyone in [`CaseState::incident_readers`] (the desks, the
    /// bureau's leaders, every unit involved).
    pub fn readers_after(&self, reg: &Registry, created: bool, author: &str) -> Vec<String> {
        let for_case = reg.for_case(self.registry);
        let reg: &Registry = &for_case;
        let mut v = self.assignees(reg);
        v.push(author.to_string());
        match self.case_type {
            CaseType::Incident => v.extend(self.incident_readers(reg)),
            CaseType::HukouChange => {
                if created {
                    v.extend(
                        reg.org
                            .members(&self.unit)
                            .into_iter()
                            .map(|p| p.id.clone()),
                    );
                }
                v.extend(self.step_leaders(reg));
            }
        }
        v.sort();
        v.dedup();
        v
    }

    /// Whether the case has reached an end.
    pub fn is_final(&self) -> bool {
        matches!(
            self.status,
            Status::Approved | Status::Rejected | Status::Cancelled | Status::Archived
        )
    }

    /// What `person` may do now, found by trying [`CaseState::apply`]
    /// with an unsigned trial event of each kind by them, dated as
    /// [`CaseState::signing_time`] would date it at `now` (a clock too far
    /// behind is reported when signing, not by hiding the actions). The
    /// trial events: a decision (同意, no opinion), an empty form change,
    /// an attachment to the template's first attachments field, a submit,
    /// a withdrawal, a cancellation (with a reason), 落实, 告知申请人 (now,
    /// by the first channel of the dictionary), and the 110 steps (a
    /// departure with `person` as the officer).
    pub fn allowed_actions(&self, person: &str, reg: &Registry, now: OffsetDateTime) -> Actions {
        let for_case = reg.for_case(self.registry);
        let reg: &Registry = &for_case;
        let time = self.signing_time(now).unwrap_or(self.updated_at);
        let trial = |action: Action| -> Result<(), Rejection> {
            let ev = Event::new(
                self.case_id,
                self.next_seq,
                Some(self.head.clone()),
                person,
                "",
                "",
                time,
                [0; 10],
                action,
            );
            self.apply(&ev, &self.head, reg).map(|_| ())
        };
        let ok = |action: Action| trial(action).is_ok();
        let attach = self.template(reg).ok().and_then(|t| {
            let field = t
                .fields
                .iter()
                .find(|f| matches!(f.ty, FieldType::Attachments { .. }))?;
            let taken = self
                .form
                .get(&field.key)
                .and_then(|v| serde_json::from_value::<Vec<AttachmentRef>>(v.clone()).ok())
                .unwrap_or_default();
            let sm3 = (0..=taken.len())
                .map(|i| format!("{i:064x}"))
                .find(|h| taken.iter().all(|a| &a.sm3 != h))?;
            Some(Action::Attach {
                field: field.key.clone(),
                attachment: AttachmentRef {
                    sm3,
                    name: "试验".into(),
                    mime: "image/jpeg".into(),
                    size: 1,
                    pages: Some(1),
                },
            })
        });
        let channel = reg
            .dicts
            .get("inform_channel")
            .and_then(|d| d.entries.first())
            .map(|e| e.code.clone())
            .unwrap_or_default();
        let submit = trial(Action::Submit {});
        let dispatches = self.dispatch_actions(person, reg, &trial);
        Actions {
            can_decide: self.decision_action(reg, Decision::Agree, "").is_ok_and(ok),
            can_edit: ok(Action::UpdateForm {
                changes: FormValues::new(),
            }),
            can_attach: attach.is_some_and(ok),
            can_submit: submit.is_ok(),
            submit_errors: match submit {
                Err(Rejection::Invalid(errs)) => errs,
                _ => Vec::new(),
            },
            can_withdraw: ok(Action::Withdraw {
                reason: String::new(),
            }),
            can_cancel: ok(Action::Cancel {
                reason: "作废".into(),
            }),
            can_implement: ok(Action::Implement {
                note: String::new(),
            }),
            can_inform: ok(Action::InformApplicant {
                at: time,
                channel,
                note: String::new(),
            }),
            can_reject_dispatch: dispatches.iter().any(|d| d.can_reject_dispatch),
            can_acknowledge: dispatches.iter().any(|d| d.can_acknowledge),
            can_depart: dispatches.iter().any(|d| d.can_depart),
            can_arrive: dispatches.iter().any(|d| d.can_arrive),
            can_dispatch: self.case_type == CaseType::Incident
                && reg
                    .org
                    .bureau_of(&self.unit)
                    .into_iter()
                    .flat_map(|b| reg.org.dispatch_targets(&b.code))
                    .any(|u| {
                        ok(Action::Dispatch {
                            unit: u.code.clone(),
                            opinion: String::new(),
                            at: None,
                        })
                    }),
            can_feedback: dispatches.iter().any(|d| d.can_feedback),
            can_conclude: ok(Action::Conclude {}),
            can_archive: ok(Action::Archive {}),
            dispatches,
        }
    }

    /// The 110 steps `person` may take on each standing dispatch of a unit
    /// they belong to (trial events as in
    /// [`CaseState::allowed_actions`]; 反馈 with an empty change, which
    /// passes once the dispatch's report is complete or can be amended).
    fn dispatch_actions(
        &self,
        person: &str,
        reg: &Registry,
        try_action: &dyn Fn(Action) -> Result<(), Rejection>,
    ) -> Vec<DispatchActions> {
        let trial = |a: Action| try_action(a).is_ok();
        if self.case_type != CaseType::Incident {
            return Vec::new();
        }
        self.standing_dispatches()
            .filter(|d| reg.org.is_member(person, &d.unit))
            .map(|d| {
                let unit = Some(d.unit.clone());
                DispatchActions {
                    unit: d.unit.clone(),
                    can_reject_dispatch: trial(Action::RejectDispatch {
                        reason: "退单".into(),
                        unit: unit.clone(),
                        at: None,
                    }),
                    can_acknowledge: trial(Action::Acknowledge {
                        unit: unit.clone(),
                        at: None,
                    }),
                    can_depart: trial(Action::Depart {
                        officers: vec![person.to_string()],
                        vehicles: Vec::new(),
                        unit: unit.clone(),
                        at: None,
                    }),
                    can_arrive: trial(Action::Arrive {
                        unit: unit.clone(),
                        at: None,
                    }),
                    // An empty report is refused only for what it lacks.
                    can_feedback: matches!(
                        try_action(Action::Feedback {
                            changes: FormValues::new(),
                            unit: unit.clone(),
                            at: None,
                        }),
                        Ok(()) | Err(Rejection::Invalid(_))
                    ),
                }
            })
            .collect()
    }

    /// Applies the next event, or says why it is not allowed. `self` is
    /// untouched either way; the new state is returned.
    pub fn apply(&self, ev: &Event, hash: &str, reg: &Registry) -> Result<CaseState, Rejection> {
        let for_case = reg.for_case(self.registry);
        let reg: &Registry = &for_case;
        if ev.case_id != self.case_id {
            return Err(Rejection::WrongCase);
        }
        if matches!(
            ev.action,
            Action::Create { .. } | Action::ImportIncident { .. }
        ) {
            return Err(Rejection::AlreadyCreated);
        }
        if ev.prev.as_deref() != Some(self.head.as_str()) {
            return Err(Rejection::StaleHead {
                head: Some(self.head.clone()),
            });
        }
        if ev.seq != self.next_seq {
            return Err(Rejection::WrongSeq {
                expected: self.next_seq,
                found: ev.seq,
            });
        }
        if ev.time < self.updated_at {
            return Err(Rejection::Backdated {
                time: ev.time,
                previous: self.updated_at,
            });
        }
        if reg.org.person(&ev.author).is_none() {
            return deny(format!("人员 {} 不在组织机构中", ev.author));
        }
        let mut s = self.clone();
        match self.case_type {
            CaseType::HukouChange => s.apply_hukou(ev, reg)?,
            CaseType::Incident => s.apply_incident(ev, reg)?,
        }
        s.next_seq += 1;
        s.head = hash.to_string();
        s.updated_at = ev.time;
        Ok(s)
    }

    fn template<'r>(&self, reg: &'r Registry) -> Result<&'r form::Template, Rejection> {
        reg.template(&self.template)
            .ok_or_else(|| Rejection::UnknownTemplate(self.template.id.clone()))
    }

    fn edit_form(
        &mut self,
        ev: &Event,
        reg: &Registry,
        step: &str,
        changes: &FormValues,
    ) -> Result<(), Rejection> {
        let t = self.template(reg)?;
        let errs = t.check_edit(step, changes);
        if !errs.is_empty() {
            return Err(Rejection::Invalid(errs));
        }
        let mut next = self.form.clone();
        for (k, v) in changes {
            if v.is_null() {
                next.remove(k);
            } else {
                next.insert(k.clone(), v.clone());
            }
        }
        let errs = t.validate(&next, Mode::Draft, step, &form_ctx(reg, ev));
        if !errs.is_empty() {
            return Err(Rejection::Invalid(errs));
        }
        self.form = next;
        Ok(())
    }

    fn attachments_field(
        &self,
        reg: &Registry,
        field: &str,
        step: &str,
    ) -> Result<Vec<AttachmentRef>, Rejection> {
        let t = self.template(reg)?;
        match t.field(field).map(|f| &f.ty) {
            Some(FieldType::Attachments { .. }) => {}
            _ => return deny(format!("“{field}”不是附件栏")),
        }
        if t.permission(step, field) != form::Permission::Editable {
            return deny("当前环节不能修改附件");
        }
        let list = match self.form.get(field) {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|_| Rejection::NotAllowed("附件栏数据损坏".into()))?,
        };
        Ok(list)
    }

    fn apply_hukou(&mut self, ev: &Event, reg: &Registry) -> Result<(), Rejection> {
        let is_initiator = ev.author == self.initiator;
        let last_send = self.last_send.take();
        match &ev.action {
            Action::Create { .. } => return Err(Rejection::AlreadyCreated),
            Action::UpdateForm { changes } => {
                self.require_initiator_editing(is_initiator)?;
                self.edit_form(ev, reg, DRAFT_STEP, changes)?;
            }
            Action::Attach { field, attachment } => {
                self.require_initiator_editing(is_initiator)?;
                let mut list = self.attachments_field(reg, field, DRAFT_STEP)?;
                if list.iter().any(|a| a.sm3 == attachment.sm3) {
                    return deny(format!("附件“{}”已添加过", attachment.name));
                }
                list.push(attachment.clone());
                let v =
                    serde_json::to_value(list).map_err(|e| Rejection::NotAllowed(e.to_string()))?;
                let changes = FormValues::from([(field.clone(), v)]);
                self.edit_form(ev, reg, DRAFT_STEP, &changes)?;
            }
            Action::Detach { field, sm3 } => {
                self.require_initiator_editing(is_initiator)?;
                let mut list = self.attachments_field(reg, field, DRAFT_STEP)?;
                let before = list.len();
                list.retain(|a| &a.sm3 != sm3);
                if list.len() == before {
                    return deny("要删除的附件不存在");
                }
                let v =
                    serde_json::to_value(list).map_err(|e| Rejection::NotAllowed(e.to_string()))?;
                let changes = FormValues::from([(field.clone(), v)]);
                self.edit_form(ev, reg, DRAFT_STEP, &changes)?;
            }
            Action::ArrangeAttachments { field, order } => {
                self.require_initiator_editing(is_initiator)?;
                let list = self.attachments_field(reg, field, DRAFT_STEP)?;
                let list = arrange(list, order)?;
                let v =
                    serde_json::to_value(list).map_err(|e| Rejection::NotAllowed(e.to_string()))?;
                let changes = FormValues::from([(field.clone(), v)]);
                self.edit_form(ev, reg, DRAFT_STEP, &changes)?;
            }
            Action::Submit {} => {
                self.require_initiator_editing(is_initiator)?;
                let t = self.template(reg)?;
                let errs = t.validate(&self.form, Mode::Submit, DRAFT_STEP, &form_ctx(reg, ev));
                if !errs.is_empty() {
                    return Err(Rejection::Invalid(errs));
                }
                let wref = self
                    .workflow
                    .clone()
                    .ok_or_else(|| Rejection::UnknownWorkflow(String::new()))?;
                let wf = reg
                    .workflow(&wref)
                    .ok_or_else(|| Rejection::UnknownWorkflow(wref.id.clone()))?;
                let Some(route) = wf.route_for(&self.form, &reg.dicts) else {
                    return deny("没有适用于该变更类别的审批路线");
                };
                let Some(first) = route.steps.first() else {
                    return deny("审批路线没有环节");
                };
                if first.assignee.resolve(&reg.org, &self.unit).is_empty() {
                    return deny(format!("“{}”环节当前无人任职，无法提交", first.name));
                }
                self.route = Some(route.id.clone());
                self.step_index = Some(0);
                self.status = Status::InReview;
                self.step_since = ev.time;
                self.push_trail(ev, DRAFT_STEP, "承办民警", "submit", None, "");
                self.last_send = Some(LastSend {
                    author: ev.author.clone(),
                    back_to: None,
                });
            }
            Action::Decide {
                step,
                decision,
                opinion,
                case_no,
                summary,
            } => {
                if self.status != Status::InReview {
                    return deny(format!("案件当前状态为“{}”，不能审批", self.status.label()));
                }
                if case_no != &self.case_no {
                    return deny("审批所签的受理编号与案件不符");
                }
                if summary != &self.summary() {
                    return deny("审批所见的变更摘要与案件当前内容不符，请刷新后再审批");
                }
                let (idx, sdef, total) = {
                    let wf = self
                        .workflow
                        .as_ref()
                        .and_then(|w| reg.workflow(w))
                        .ok_or_else(|| Rejection::UnknownWorkflow(String::new()))?;
                    let route = self
                        .route
                        .as_deref()
                        .and_then(|r| wf.route(r))
                        .ok_or_else(|| Rejection::UnknownWorkflow(String::new()))?;
                    let idx = self.step_index.unwrap_or(0);
                    let sdef = route
                        .steps
                        .get(idx)
                        .cloned()
                        .ok_or_else(|| Rejection::NotAllowed("审批环节不存在".into()))?;
                    (idx, sdef, route.steps.len())
                };
                if &sdef.id != step {
                    return deny(format!("案件当前在“{}”环节，不在该环节", sdef.name));
                }
                if !sdef
                    .assignee
                    .resolve(&reg.org, &self.unit)
                    .contains(&ev.author)
                {
                    return deny(format!("您不是“{}”环节的审批人", sdef.name));
                }
                let opinion = check_opinion(*decision, opinion)?;
                self.push_trail(
                    ev,
                    &sdef.id,
                    &sdef.role,
                    "decide",
                    Some(*decision),
                    &opinion,
                );
                self.step_since = ev.time;
                match decision {
                    Decision::Agree if idx + 1 < total => {
                        let next_step = idx + 1;
                        self.step_index = Some(next_step);
                        self.last_send = Some(LastSend {
                            author: ev.author.clone(),
                            back_to: Some(idx),
                        });
                    }
                    Decision::Agree => {
                        self.status = Status::Approved;
                        self.step_index = None;
                    }
                    Decision::Disagree => {
                        self.status = Status::Rejected;
                        self.step_index = None;
                    }
                    Decision::Return => {
                        self.status = Status::Returned;
                        self.step_index = None;
                    }
                }
            }
            Action::Withdraw { reason } => {
                let Some(ls) = last_send.filter(|ls| ls.author == ev.author) else {
                    return deny("只能撤回自己刚发出、下一环节尚未处理的案件");
                };
                if self.status != Status::InReview {
                    return deny("案件不在审批中，不能撤回");
                }
                match ls.back_to {
                    None => {
                        self.status = Status::Withdrawn;
                        self.step_index = None;
                        self.route = None;
                        self.push_trail(
                            ev,
                            DRAFT_STEP,
                            "承办民警",
                            "withdraw",
                            None,
                            reason.trim(),
                        );
                    }
                    Some(i) => {
                        self.step_index = Some(i);
                        let role = self
                            .current_step(reg)
                            .map(|s| s.role.clone())
                            .unwrap_or_default();
                        let step = self
                            .current_step(reg)
                            .map(|s| s.id.clone())
                            .unwrap_or_default();
                        self.push_trail(ev, &step, &role, "withdraw", None, reason.trim());
                    }
                }
                self.step_since = ev.time;
            }
            Action::Cancel { reason } => {
                self.require_initiator_editing(is_initiator)?;
                if reason.trim().is_empty() {
                    return deny("作废时必须说明原因");
                }
                self.status = Status::Cancelled;
                self.push_trail(ev, DRAFT_STEP, "承办民警", "cancel", None, reason.trim());
            }
            Action::Implement { note } => {
                if self.status != Status::Approved {
                    return deny("只有审批同意的案件才能落实");
                }
                if !reg.org.is_member(&ev.author, &self.unit) {
                    return deny("只有受理派出所的人员才能落实");
                }
                if self.implemented.is_some() {
                    return deny("该案件已落实");
                }
                self.implemented = Some((rfc3339(ev.time), note.trim().to_string()));
            }
            Action::InformApplicant {
                at,
                channel,
                note: _,
            } => {
                if !matches!(self.status, Status::Approved | Status::Rejected) {
                    return deny("审批结束后才能登记告知申请人");
                }
                if self.status == Status::Approved && self.implemented.is_none() {
                    return deny("请先落实变更，再告知申请人");
                }
                if !reg.org.is_member(&ev.author, &self.unit) {
                    return deny("只有受理派出所的人员才能登记告知");
                }
                if reg
                    .dicts
                    .get("inform_channel")
                    .and_then(|d| d.entry(channel))
                    .is_none()
                {
                    return deny("告知方式不在字典中");
                }
                if *at > ev.time + time::Duration::minutes(5) {
                    return deny("告知时间不能晚于当前时间");
                }
                self.informed = Some((rfc3339(*at), channel.clone()));
            }
            other => return deny(format!("户口变更案件不支持“{}”操作", other.kind())),
        }
        Ok(())
    }

    fn require_initiator_editing(&self, is_initiator: bool) -> Result<(), Rejection> {
        if !is_initiator {
            return deny("只有承办民警本人可以修改、提交或作废案件");
        }
        if !self.status.editable_by_initiator() {
            return deny(format!(
                "案件当前状态为“{}”，不能修改或提交",
                self.status.label()
            ));
        }
        Ok(())
    }

    fn push_trail(
        &mut self,
        ev: &Event,
        step: &str,
        role: &str,
        action: &str,
        decision: Option<Decision>,
        opinion: &str,
    ) {
        self.trail.push(TrailEntry {
            event_id: ev.id,
            step: step.to_string(),
            role: role.to_string(),
            person: ev.author.clone(),
            action: action.to_string(),
            decision,
            opinion: opinion.to_string(),
            time: ev.time,
        });
    }

    /// The intake's own trail entry (受理 / 自接警).
    fn push_intake_trail(&mut self, ev: &Event) {
        if self.case_type == CaseType::Incident {
            let own = self.dispatches.first().is_some_and(|d| d.own);
            let step = if own { "自接警" } else { "接警" };
            self.push_trail(ev, step, "接警", "intake", None, "");
        }
    }

    /// The incident's status, from its dispatches: 受理 while no dispatch
    /// stands (none yet, or every one returned); otherwise the least
    /// advanced standing dispatch's, so 已反馈 means every standing
    /// dispatch reported. 终结 files the record (已归档).
    pub fn incident_status(&self) -> Status {
        if self.archive_unit.is_some() {
            return Status::Archived;
        }
        if self.concluded.is_some() {
            return Status::Concluded;
        }
        let rank = |s: Status| match s {
            Status::Dispatched => 0,
            Status::Acknowledged => 1,
            Status::Departed => 2,
            Status::Arrived => 3,
            _ => 4,
        };
        self.dispatches
            .iter()
            .filter_map(DispatchInfo::status)
            .min_by_key(|s| rank(*s))
            .unwrap_or(Status::Received)
    }

    /// The field errors of a 反馈单 change `changes` by the dispatch of
    /// `unit`, as [`CaseState::apply`] would find them at `now` (the
    /// unit's report so far with the changes, read with the intake).
    pub fn check_feedback(
        &self,
        reg: &Registry,
        unit: &str,
        changes: &FormValues,
        now: OffsetDateTime,
    ) -> Vec<FieldError> {
        let for_case = reg.for_case(self.registry);
        let reg: &Registry = &for_case;
        let i = self
            .dispatches
            .iter()
            .position(|d| d.returned.is_none() && d.unit == unit);
        let mut changes = changes.clone();
        if let Ok(t) = self.template(reg) {
            t.canonicalise(&mut changes);
        }
        self.feedback_report(reg, i, &changes, now)
            .err()
            .unwrap_or_default()
    }

    /// The report of dispatch `i` (none yet: `None`) with `changes`, or
    /// its field errors: the one check of a 反馈单.
    fn feedback_report(
        &self,
        reg: &Registry,
        i: Option<usize>,
        changes: &FormValues,
        now: OffsetDateTime,
    ) -> Result<FormValues, Vec<FieldError>> {
        let t = self.template(reg).map_err(|e| {
            vec![FieldError {
                field: String::new(),
                message: e.to_string(),
            }]
        })?;
        let errs = t.check_edit("feedback", changes);
        if !errs.is_empty() {
            return Err(errs);
        }
        let mut report = i
            .and_then(|i| self.dispatches.get(i))
            .map(|d| d.feedback.clone())
            .unwrap_or_default();
        for (k, v) in changes {
            if v.is_null() {
                report.remove(k);
            } else {
                report.insert(k.clone(), v.clone());
            }
        }
        // Checked as the whole record would read: intake + report.
        let mut whole = self.form.clone();
        whole.extend(report.clone());
        let ctx = form::Context {
            today: now.to_offset(SHANGHAI).date(),
            dictionaries: &reg.dicts,
            org: Some(&reg.org),
        };
        let mut errs = t.validate(&whole, Mode::Submit, "feedback", &ctx);
        errs.extend(loss_total_errors(&report));
        if errs.is_empty() {
            Ok(report)
        } else {
            Err(errs)
        }
    }

    /// The standing (not returned) dispatches.
    pub fn standing_dispatches(&self) -> impl Iterator<Item = &DispatchInfo> {
        self.dispatches.iter().filter(|d| d.returned.is_none())
    }

    /// The standing dispatch `author` acts on: the one to their unit, or
    /// to `unit` when they belong to several dispatched units.
    fn pick_dispatch(
        &self,
        reg: &Registry,
        author: &str,
        unit: Option<&str>,
        what: &str,
    ) -> Result<usize, Rejection> {
        let mine: Vec<usize> = self
            .dispatches
            .iter()
            .enumerate()
            .filter(|(_, d)| d.returned.is_none() && reg.org.is_member(author, &d.unit))
            .filter(|(_, d)| unit.is_none_or(|u| u == d.unit))
            .map(|(i, _)| i)
            .collect();
        match mine.as_slice() {
            [i] => Ok(*i),
            [] => deny(format!("只有被派警单位的人员可以{what}")),
            _ => deny(format!("您在多个被派警单位任职，请指明以哪个单位{what}")),
        }
    }

    fn apply_incident(&mut self, ev: &Event, reg: &Registry) -> Result<(), Rejection> {
        let org = &reg.org;
        if matches!(self.status, Status::Concluded | Status::Archived) {
            return deny(format!(
                "警情已{}，不能再{}",
                self.status.label().trim_start_matches('已'),
                action_label(&ev.action)
            ));
        }
        let bureau = org
            .bureau_of(&self.unit)
            .map(|b| b.code.clone())
            .unwrap_or_default();
        let intake_member = org.is_member(&ev.author, &self.unit);
        match &ev.action {
            Action::UpdateForm { changes } => {
                if !intake_member {
                    return deny("只有接警单位的人员可以修改接警信息");
                }
                if self.status != Status::Received {
                    return deny("警情下达后不能再修改接警信息");
                }
                self.edit_form(ev, reg, DRAFT_STEP, changes)?;
                let t = self.template(reg)?;
                let mut errs = t.validate(&self.form, Mode::Submit, DRAFT_STEP, &form_ctx(reg, ev));
                errs.extend(intake_time_errors(&self.form, ev.time));
                if !errs.is_empty() {
                    return Err(Rejection::Invalid(errs));
                }
            }
            Action::Attach { .. } | Action::Detach { .. } | Action::ArrangeAttachments { .. } => {
                return deny("接处警记录暂不支持附件");
            }
            Action::Dispatch { unit, opinion, at } => {
                if !org.is_desk_member(&ev.author, &bureau) {
                    return deny("只有 110 接警台（110 巡警大队、指挥中心）的人员可以派警");
                }
                let Some(target) = org.unit(unit) else {
                    return deny(format!("处警单位 {unit} 不存在"));
                };
                if !org.is_dispatch_target(&bureau, unit) {
                    return deny(format!("{} 不是本局的处警单位", target.name));
                }
                if self.standing_dispatches().any(|d| &d.unit == unit) {
                    return deny(format!("已向{}派警，不能重复派警", target.name));
                }
                if opinion.trim().chars().count() > MAX_NOTE_CHARS {
                    return deny(format!("派警意见不能超过 {MAX_NOTE_CHARS} 字"));
                }
                let at = step_time(*at, ev.time, self.created_at, "派警时间", "接警登记时间")?;
                let no = format!("{}-P{}", self.case_no, self.dispatches.len() + 1);
                self.dispatches
                    .push(DispatchInfo::new(no, unit, &ev.author, opinion.trim(), at));
                self.push_trail(
                    ev,
                    "派警",
                    "接警台",
                    "dispatch",
                    None,
                    &format!("派往{}", target.name),
                );
            }
            Action::RejectDispatch { reason, unit, at } => {
                let i = self.pick_dispatch(reg, &ev.author, unit.as_deref(), "退单")?;
                let d = &self.dispatches[i];
                if d.own {
                    return deny("自接警不能退单");
                }
                if d.departed_at.is_some() {
                    return deny("已出警，不能退单");
                }
                let reason = reason.trim();
                if reason.is_empty() {
                    return deny("退单必须说明原因");
                }
                if reason.chars().count() > MAX_NOTE_CHARS {
                    return deny(format!("退单原因不能超过 {MAX_NOTE_CHARS} 字"));
                }
                let at = step_time(
                    *at,
                    ev.time,
                    d.last_step_at(),
                    "退单时间",
                    "上一处警步骤时间",
                )?;
                let d = &mut self.dispatches[i];
                d.returned = Some((ev.author.clone(), reason.to_string()));
                d.returned_at = Some(at);
                let unit = d.unit.clone();
                self.push_trail(ev, "退单", &unit, "reject_dispatch", None, reason);
            }
            Action::Acknowledge { unit, at } => {
                let i = self.pick_dispatch(reg, &ev.author, unit.as_deref(), "签收")?;
                let d = &self.dispatches[i];
                if d.acknowledged_at.is_some() {
                    return deny("该派警单已签收");
                }
                let at = step_time(*at, ev.time, d.at, "签收时间", "派警时间")?;
                let d = &mut self.dispatches[i];
                d.acknowledged_at = Some(at);
                d.acknowledged_by = Some(ev.author.clone());
                let unit = d.unit.clone();
                self.push_trail(ev, "签收", &unit, "acknowledge", None, "");
            }
            Action::Depart {
                officers,
                vehicles,
                unit,
                at,
            } => {
                let i = self.pick_dispatch(reg, &ev.author, unit.as_deref(), "出警")?;
                let d = &self.dispatches[i];
                if d.acknowledged_at.is_none() {
                    return deny("签收后才能出警");
                }
                if d.departed_at.is_some() {
                    return deny("已登记出警");
                }
                let at = step_time(*at, ev.time, d.last_step_at(), "出警时间", "签收时间")?;
                if officers.is_empty() {
                    return deny("请填写出警民警");
                }
                for o in officers {
                    if org.person(o).is_none() {
                        return deny(format!("出警民警 {o} 不在组织机构中"));
                    }
                }
                if vehicles.len() > 50
                    || vehicles
                        .iter()
                        .any(|v| v.trim().is_empty() || v.chars().count() > 20)
                {
                    return deny("出动车辆填写有误（每辆不超过 20 字，最多 50 辆）");
                }
                let d = &mut self.dispatches[i];
                d.departed_at = Some(at);
                d.officers = officers.clone();
                d.vehicles = vehicles.iter().map(|v| v.trim().to_string()).collect();
                let unit = d.unit.clone();
                self.push_trail(ev, "出警", &unit, "depart", None, "");
            }
            Action::Arrive { unit, at } => {
                let i = self.pick_dispatch(reg, &ev.author, unit.as_deref(), "登记到达现场")?;
                let d = &self.dispatches[i];
                if d.departed_at.is_none() {
                    return deny("出警后才能登记到达现场");
                }
                if d.arrived_at.is_some() {
                    return deny("已登记到达现场");
                }
                let at = step_time(*at, ev.time, d.last_step_at(), "到达现场时间", "出警时间")?;
                let d = &mut self.dispatches[i];
                d.arrived_at = Some(at);
                let unit = d.unit.clone();
                self.push_trail(ev, "到达现场", &unit, "arrive", None, "");
            }
            Action::Feedback { changes, unit, at } => {
                let i = self.pick_dispatch(reg, &ev.author, unit.as_deref(), "反馈")?;
                if self.dispatches[i].acknowledged_at.is_none() {
                    return deny("签收后才能反馈");
                }
                let at = step_time(
                    *at,
                    ev.time,
                    self.dispatches[i]
                        .feedback_at
                        .unwrap_or(self.dispatches[i].last_step_at()),
                    "反馈时间",
                    "上一处警步骤时间",
                )?;
                let report = self
                    .feedback_report(reg, Some(i), changes, ev.time)
                    .map_err(Rejection::Invalid)?;
                let amended = self.dispatches[i].feedback_at.is_some();
                let d = &mut self.dispatches[i];
                d.feedback = report;
                d.feedback_at = Some(at);
                d.feedback_by = Some(ev.author.clone());
                let unit = d.unit.clone();
                let step = if amended { "修改反馈" } else { "反馈" };
                self.push_trail(ev, step, &unit, "feedback", None, "");
            }
            Action::Conclude {} => {
                if self.status != Status::FeedbackFiled {
                    return deny("所有处警单位反馈后才能终结");
                }
                let own = self.dispatches.first().is_some_and(|d| d.own);
                let mut may = org.commanders_of(&self.unit);
                if own {
                    // A unit's own report may also be concluded at the desk.
                    for u in org.desk_units(&bureau) {
                        may.extend(org.commanders_of(&u.code));
                    }
                }
                if !may.contains(&ev.author) {
                    return deny("只有接警单位的值班长（或所长）可以终结警情");
                }
                let Some(archive) = archive_unit(reg, &bureau) else {
                    return deny("本局没有 110 巡警大队或指挥中心，无法归档");
                };
                self.concluded = Some((ev.author.clone(), rfc3339(ev.time)));
                self.archive_unit = Some(archive);
                self.push_trail(ev, "终结", "值班长", "conclude", None, "");
            }
            Action::Archive {} => {
                return deny("终结时已自动归档，不需要单独归档");
            }
            other => return deny(format!("接处警记录不支持“{}”操作", other.kind())),
        }
        let before = self.status;
        self.status = self.incident_status();
        if self.status != before {
            self.step_since = ev.time;
        }
        Ok(())
    }

    /// The people a 110 record waits for: the registering unit's duty
    /// staff while no dispatch stands (待派警), each standing dispatch's
    /// unit's duty staff until it reports, and once every standing
    /// dispatch reported, whoever may conclude (待终结).
    fn incident_assignees(&self, reg: &Registry) -> Vec<String> {
        let org = &reg.org;
        let mut v: Vec<String> = match self.status {
            Status::Received => org.duty_of(&self.unit),
            Status::FeedbackFiled => org.commanders_of(&self.unit),
            Status::Concluded | Status::Archived => Vec::new(),
            _ => self
                .standing_dispatches()
                .filter(|d| d.feedback_at.is_none())
                .flat_map(|d| org.duty_of(&d.unit))
                .collect(),
        };
        v.sort();
        v.dedup();
        v
    }

    /// Everyone who may read the record: the registering unit, every unit
    /// it was dispatched to (returned ones too), the bureau's 110 desks
    /// and the bureau's leaders.
    fn incident_readers(&self, reg: &Registry) -> Vec<String> {
        let org = &reg.org;
        let bureau = org
            .bureau_of(&self.unit)
            .map(|b| b.code.clone())
            .unwrap_or_default();
        let mut units: Vec<String> = vec![self.unit.clone(), bureau.clone()];
        units.extend(self.dispatches.iter().map(|d| d.unit.clone()));
        units.extend(self.imported.iter().map(|r| r.handling_unit.clone()));
        units.extend(org.desk_units(&bureau).map(|u| u.code.clone()));
        let mut v: Vec<String> = units
            .iter()
            .flat_map(|u| org.members(u))
            .map(|p| p.id.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// A 110 step as the UI and the CLI name it, turned into its [`Action`]
/// by [`IncidentStep::into_action`]. JSON: `{"step": "ack", "unit": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum IncidentStep {
    /// 签收.
    Ack {
        #[serde(default)]
        unit: Option<String>,
    },
    /// 出警.
    Depart {
        #[serde(default)]
        unit: Option<String>,
        officers: Vec<String>,
        #[serde(default)]
        vehicles: Vec<String>,
        /// When they set out, if recorded afterwards.
        #[serde(default)]
        at: Option<String>,
    },
    /// 到达现场.
    Arrive {
        #[serde(default)]
        unit: Option<String>,
        #[serde(default)]
        at: Option<String>,
    },
    /// 退单.
    Return {
        #[serde(default)]
        unit: Option<String>,
        reason: String,
    },
    /// 反馈.
    Feedback {
        #[serde(default)]
        unit: Option<String>,
        changes: FormValues,
    },
    /// 终结 (files the record).
    Conclude {},
}

/// Parses a step time typed by a person: RFC 3339, or `YYYY-MM-DD HH:MM`
/// / `YYYY-MM-DD HH:MM:SS` (also with `T`) in Beijing time.
pub fn parse_step_time(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Some(t) = form::parse_datetime(s) {
        return Some(t);
    }
    let s = s.replacen('T', " ", 1);
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let f2 = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    time::PrimitiveDateTime::parse(&s, &f)
        .or_else(|_| time::PrimitiveDateTime::parse(&s, &f2))
        .ok()
        .map(|p| p.assume_offset(SHANGHAI))
}

impl IncidentStep {
    /// The event action of this step.
    pub fn into_action(self) -> Result<Action, Rejection> {
        let time = |name: &str, at: Option<String>| -> Result<Option<OffsetDateTime>, Rejection> {
            match at.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(t) => parse_step_time(t).map(Some).ok_or_else(|| {
                    Rejection::NotAllowed(format!("{name}“{t}”格式不对，应如 2026-12-03 08:30"))
                }),
            }
        };
        Ok(match self {
            IncidentStep::Ack { unit } => Action::Acknowledge { unit, at: None },
            IncidentStep::Depart {
                unit,
                officers,
                vehicles,
                at,
            } => Action::Depart {
                officers,
                vehicles,
                unit,
                at: time("出警时间", at)?,
            },
            IncidentStep::Arrive { unit, at } => Action::Arrive {
                unit,
                at: time("到达现场时间", at)?,
            },
            IncidentStep::Return { unit, reason } => Action::RejectDispatch {
                reason,
                unit,
                at: None,
            },
            IncidentStep::Feedback { unit, changes } => Action::Feedback {
                changes,
                unit,
                at: None,
            },
            IncidentStep::Conclude {} => Action::Conclude {},
        })
    }
}

/// The field errors of a 110 intake form as [`CaseState::create`] would
/// find them at `now`: what the UI shows at the fields before asking for
/// the PIN. Empty when the form would be accepted.
pub fn check_intake(reg: &Registry, form: &FormValues, now: OffsetDateTime) -> Vec<FieldError> {
    let Some(t) = reg.template_latest("incident") else {
        return vec![FieldError {
            field: String::new(),
            message: "缺少接处警登记表模板".into(),
        }];
    };
    let ctx = form::Context {
        today: now.to_offset(SHANGHAI).date(),
        dictionaries: &reg.dicts,
        org: Some(&reg.org),
    };
    let mut form = form.clone();
    t.canonicalise(&mut form);
    let mut errs = t.validate(&form, Mode::Submit, DRAFT_STEP, &ctx);
    errs.extend(intake_time_errors(&form, now));
    errs
}

/// The longest 派警意见 or 退单 reason, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// How long after an earlier report a call counts as a repeat (see
/// [`repeat_calls`]).
pub const REPEAT_WINDOW_MINUTES: i64 = 30;

/// What an action is called in a refusal ("不能再…").
fn action_label(a: &Action) -> &'static str {
    match a {
        Action::UpdateForm { .. } => "修改接警信息",
        Action::Dispatch { .. } => "派警",
        Action::RejectDispatch { .. } => "退单",
        Action::Acknowledge { .. } => "签收",
        Action::Depart { .. } => "登记出警",
        Action::Arrive { .. } => "登记到达现场",
        Action::Feedback { .. } => "反馈",
        Action::Conclude {} => "终结",
        Action::Archive {} => "归档",
        _ => "操作",
    }
}

/// The time a 110 step happened: `at` if recorded afterwards, else the
/// event's own time. It may not precede the dispatch's previous step
/// (`previous`, named `previous_name`) nor follow the event that records it.
fn step_time(
    at: Option<OffsetDateTime>,
    event_time: OffsetDateTime,
    previous: OffsetDateTime,
    name: &str,
    previous_name: &str,
) -> Result<OffsetDateTime, Rejection> {
    let at = at.unwrap_or(event_time);
    if at > event_time {
        return deny(format!(
            "{name}不能晚于登记时间（{}）",
            rfc3339_shanghai(event_time)
        ));
    }
    if at < previous {
        return deny(format!(
            "{name}（{}）不能早于{previous_name}（{}）",
            rfc3339_shanghai(at),
            rfc3339_shanghai(previous)
        ));
    }
    Ok(at)
}

/// The intake's own time rules: 接警时间 not before 报警时间 and not after
/// the registering event.
pub fn intake_time_errors(form: &FormValues, event_time: OffsetDateTime) -> Vec<FieldError> {
    let t = |k: &str| {
        form.get(k)
            .and_then(Value::as_str)
            .and_then(form::parse_datetime)
    };
    let mut errs = Vec::new();
    if let (Some(report), Some(receive)) = (t("report_time"), t("receive_time")) {
        if receive < report {
            errs.push(FieldError {
                field: "receive_time".into(),
                message: "接警时间不能早于报警时间".into(),
            });
        }
    }
    for (k, label) in [("report_time", "报警时间"), ("receive_time", "接警时间")] {
        if t(k).is_some_and(|x| x > event_time + time::Duration::seconds(CLOCK_SLACK_SECS)) {
            errs.push(FieldError {
                field: k.into(),
                message: format!("{label}不能晚于登记时间"),
            });
        }
    }
    errs
}

/// The loss items of a 反馈单 and their total: `loss_amount` must equal the
/// sum of `loss_items` when there are items.
pub fn loss_total_errors(report: &FormValues) -> Vec<FieldError> {
    let Some(items) = report.get("loss_items").and_then(Value::as_array) else {
        return Vec::new();
    };
    if items.is_empty() {
        return Vec::new();
    }
    let amounts = items.iter().map(|r| {
        r.get("amount")
            .and_then(Value::as_str)
            .and_then(|a| crate::money::Money::parse(a).ok())
    });
    let Some(amounts) = amounts.collect::<Option<Vec<_>>>() else {
        return Vec::new(); // each bad cell is reported by the template
    };
    let Ok(total) = crate::money::Money::sum(amounts) else {
        return vec![FieldError {
            field: "loss_items".into(),
            message: "损失明细合计超出范围".into(),
        }];
    };
    let given = report
        .get("loss_amount")
        .and_then(Value::as_str)
        .and_then(|a| crate::money::Money::parse(a).ok());
    if given != Some(total) {
        return vec![FieldError {
            field: "loss_amount".into(),
            message: format!("财产损失金额应为损失明细合计 {total} 元"),
        }];
    }
    Vec::new()
}

/// Where a bureau files its 110 records: its 110 brigade, else its command
/// centre.
fn archive_unit(reg: &Registry, bureau: &str) -> Option<String> {
    let org = &reg.org;
    org.units_with_function(bureau, "patrol110")
        .chain(org.units_with_function(bureau, "command"))
        .next()
        .map(|u| u.code.clone())
}

/// A possible repeat of a new report (重复报警): an earlier record from the
/// same phone, or in the same 乡镇 with the same level-1 category, reported
/// within [`REPEAT_WINDOW_MINUTES`] before or after the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatCall {
    pub case_id: Uuid,
    pub case_no: String,
    /// Why it matched: 同一电话 / 同一乡镇同类警情.
    pub reason: String,
    pub report_time: String,
    pub summary: String,
}

/// The digits of a phone number (spaces and dashes dropped); `None` for
/// empty or 无.
fn phone_digits(v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?.trim();
    let d: String = s.chars().filter(char::is_ascii_digit).collect();
    (!d.is_empty()).then_some(d)
}

/// The level-1 报警类别 of a category code at any level (`010101` →
/// `010000`).
pub fn category_level1(code: &str) -> String {
    match code.get(..2) {
        Some(p) if code.len() == 6 => format!("{p}0000"),
        _ => code.to_string(),
    }
}

/// Earlier 110 records a new intake `form` may repeat (see [`RepeatCall`]),
/// newest first.
pub fn repeat_calls<'a>(
    form: &FormValues,
    cases: impl IntoIterator<Item = &'a CaseState>,
) -> Vec<RepeatCall> {
    let text = |f: &FormValues, k: &str| {
        f.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let Some(time) = form
        .get("report_time")
        .and_then(Value::as_str)
        .and_then(form::parse_datetime)
    else {
        return Vec::new();
    };
    let phones: Vec<String> = ["alarm_phone", "contact_phone"]
        .iter()
        .filter_map(|k| phone_digits(form.get(*k)))
        .collect();
    let township = text(form, "township");
    let category = category_level1(&text(form, "alarm_category"));
    let window = time::Duration::minutes(REPEAT_WINDOW_MINUTES);
    let mut out: Vec<(OffsetDateTime, RepeatCall)> = Vec::new();
    for s in cases {
        if s.case_type != CaseType::Incident {
            continue;
        }
        let Some(t) = s
            .form
            .get("report_time")
            .and_then(Value::as_str)
            .and_then(form::parse_datetime)
        else {
            continue;
        };
        if (t - time).abs() > window {
            continue;
        }
        let same_phone = ["alarm_phone", "contact_phone"]
            .iter()
            .filter_map(|k| phone_digits(s.form.get(*k)))
            .any(|p| phones.contains(&p));
        let same_place = !township.is_empty()
            && text(&s.form, "township") == township
            && category_level1(&text(&s.form, "alarm_category")) == category;
        let reason = if same_phone {
            "同一电话"
        } else if same_place {
            "同一乡镇同类警情"
        } else {
            continue;
        };
        out.push((
            t,
            RepeatCall {
                case_id: s.case_id,
                case_no: s.case_no.clone(),
                reason: reason.into(),
                report_time: rfc3339_shanghai(t),
                summary: text(&s.form, "summary").chars().take(60).collect(),
            },
        ));
    }
    out.sort_by_key(|x| std::cmp::Reverse(x.0));
    out.into_iter().map(|(_, r)| r).collect()
}

/// A time as people here read it: Beijing time, to the second.
fn rfc3339_shanghai(t: OffsetDateTime) -> String {
    rfc3339(t.to_offset(SHANGHAI))
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn form_ctx<'r>(reg: &'r Registry, ev: &Event) -> form::Context<'r> {
    form::Context {
        today: ev.time.to_offset(SHANGHAI).date(),
        dictionaries: &reg.dicts,
        org: Some(&reg.org),
    }
}

/// `list` in the order of `order`, which must name every attachment of
/// the list exactly once (by SM3).
pub fn arrange(
    list: Vec<AttachmentRef>,
    order: &[String],
) -> Result<Vec<AttachmentRef>, Rejection> {
    if order.len() != list.len() {
        return deny(format!(
            "新顺序列出 {} 个附件，附件栏中有 {} 个",
            order.len(),
            list.len()
        ));
    }
    let mut rest: Vec<Option<AttachmentRef>> = list.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(rest.len());
    for sm3 in order {
        let slot = rest
            .iter_mut()
            .find(|a| a.as_ref().is_some_and(|a| &a.sm3 == sm3));
        match slot.and_then(Option::take) {
            Some(a) => out.push(a),
            None if out.iter().any(|a: &AttachmentRef| &a.sm3 == sm3) => {
                return deny("新顺序中有重复的附件");
            }
            None => return deny("新顺序中有附件栏里没有的附件"),
        }
    }
    Ok(out)
}

/// The template of a case's opening event `ev`, which must be its first
/// (sequence 0, no previous event).
fn opening_template<'r>(
    ev: &Event,
    reg: &'r Registry,
    template: &TemplateRef,
) -> Result<&'r form::Template, Rejection> {
    if ev.seq != 0 {
        return Err(Rejection::WrongSeq {
            expected: 0,
            found: ev.seq,
        });
    }
    if ev.prev.is_some() {
        return Err(Rejection::StaleHead { head: None });
    }
    reg.template(template)
        .ok_or_else(|| Rejection::UnknownTemplate(format!("{} v{}", template.id, template.version)))
}

/// The field errors an import event `ev` ([`Action::ImportIncident`])
/// would be refused for, as [`CaseState::create`] finds them; a refusal
/// that is not about a field comes as one error without a field.
pub fn check_import(reg: &Registry, ev: &Event) -> Vec<FieldError> {
    match CaseState::create(ev, &"0".repeat(64), reg) {
        Ok(_) => Vec::new(),
        Err(Rejection::Invalid(errs)) => errs,
        Err(e) => vec![FieldError {
            field: String::new(),
            message: e.to_string(),
        }],
    }
}
