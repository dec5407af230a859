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

/// 110 dispatch details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchInfo {
    pub unit: String,
    pub by: String,
    pub opinion: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub acknowledged_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub departed_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub arrived_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub officers: Vec<String>,
    #[serde(default)]
    pub vehicles: Vec<String>,
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
    /// 110: the current dispatch.
    pub dispatch: Option<DispatchInfo>,
    /// 110: every unit the incident was dispatched to, in order.
    pub dispatch_history: Vec<DispatchInfo>,
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
    /// 110: 终结.
    pub can_conclude: bool,
    /// 110: 归档.
    pub can_archive: bool,
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
        Action::UpdateForm { changes } | Action::Feedback { changes } => {
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
        let Action::Create {
            case_type,
            template,
            workflow,
            case_no,
            unit,
            form,
        } = &ev.action
        else {
            return Err(Rejection::NotCreated);
        };
        if ev.seq != 0 {
            return Err(Rejection::WrongSeq {
                expected: 0,
                found: ev.seq,
            });
        }
        if ev.prev.is_some() {
            return Err(Rejection::StaleHead { head: None });
        }
        let t = reg.template(template).ok_or_else(|| {
            Rejection::UnknownTemplate(format!("{} v{}", template.id, template.version))
        })?;
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
                if u.kind == UnitKind::Prefecture || u.kind == UnitKind::Bureau {
                    return deny("接处警应由 110 巡警大队、指挥中心或处警单位登记");
                }
            }
        }
        let ctx = form_ctx(reg, ev);
        let errs = t.validate(form, Mode::Draft, DRAFT_STEP, &ctx);
        if !errs.is_empty() {
            return Err(Rejection::Invalid(errs));
        }
        let status = match case_type {
            CaseType::HukouChange => Status::Draft,
            CaseType::Incident => Status::Received,
        };
        Ok(CaseState {
            case_id: ev.case_id,
            case_type: *case_type,
            template: template.clone(),
            workflow: workflow.clone(),
            case_no: case_no.clone(),
            unit: unit.clone(),
            initiator: ev.author.clone(),
            created_at: ev.time,
            form: form.clone(),
            status,
            route: None,
            step_index: None,
            step_since: ev.time,
            trail: Vec::new(),
            implemented: None,
            informed: None,
            dispatch: None,
            dispatch_history: Vec::new(),
            next_seq: 1,
            head: hash.to_string(),
            updated_at: ev.time,
            last_send: None,
        })
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
        match (self.status, self.current_step(reg)) {
            (Status::InReview, Some(s)) => s.assignee.resolve(&reg.org, &self.unit),
            _ => Vec::new(),
        }
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
            can_reject_dispatch: ok(Action::RejectDispatch {
                reason: "退单".into(),
            }),
            can_acknowledge: ok(Action::Acknowledge {}),
            can_depart: ok(Action::Depart {
                officers: vec![person.to_string()],
                vehicles: Vec::new(),
            }),
            can_arrive: ok(Action::Arrive {}),
            can_conclude: ok(Action::Conclude {}),
            can_archive: ok(Action::Archive {}),
        }
    }

    /// Applies the next event, or says why it is not allowed. `self` is
    /// untouched either way; the new state is returned.
    pub fn apply(&self, ev: &Event, hash: &str, reg: &Registry) -> Result<CaseState, Rejection> {
        if ev.case_id != self.case_id {
            return Err(Rejection::WrongCase);
        }
        if matches!(ev.action, Action::Create { .. }) {
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

    fn apply_incident(&mut self, ev: &Event, reg: &Registry) -> Result<(), Rejection> {
        let org = &reg.org;
        let intake_member = org.is_member(&ev.author, &self.unit);
        let handling_unit = self.dispatch.as_ref().map(|d| d.unit.clone());
        let handler = handling_unit
            .as_deref()
            .is_some_and(|u| org.is_member(&ev.author, u));
        match &ev.action {
            Action::UpdateForm { changes } => {
                if !intake_member {
                    return deny("只有接警单位的人员可以修改接警信息");
                }
                if self.status != Status::Received {
                    return deny("警情下达后不能再修改接警信息");
                }
                self.edit_form(ev, reg, DRAFT_STEP, changes)?;
            }
            Action::Attach { .. } | Action::Detach { .. } | Action::ArrangeAttachments { .. } => {
                return deny("接处警记录暂不支持附件");
            }
            Action::Dispatch { unit, opinion } => {
                if !intake_member {
                    return deny("只有接警单位的人员可以下达派警");
                }
                if self.status != Status::Received {
                    return deny(format!("警情当前状态为“{}”，不能下达", self.status.label()));
                }
                let t = self.template(reg)?;
                let errs = t.validate(&self.form, Mode::Submit, DRAFT_STEP, &form_ctx(reg, ev));
                if !errs.is_empty() {
                    return Err(Rejection::Invalid(errs));
                }
                let Some(target) = org.unit(unit) else {
                    return deny(format!("处警单位 {unit} 不存在"));
                };
                if matches!(target.kind, UnitKind::Bureau | UnitKind::Prefecture) {
                    return deny("处警单位应为派出所或大队");
                }
                let d = DispatchInfo {
                    unit: unit.clone(),
                    by: ev.author.clone(),
                    opinion: opinion.trim().to_string(),
                    at: ev.time,
                    acknowledged_at: None,
                    departed_at: None,
                    arrived_at: None,
                    officers: Vec::new(),
                    vehicles: Vec::new(),
                };
                self.dispatch = Some(d.clone());
                self.dispatch_history.push(d);
                self.status = Status::Dispatched;
            }
            Action::RejectDispatch { reason } => {
                if self.status != Status::Dispatched || !handler {
                    return deny("只有被派警单位可以在签收前退单");
                }
                if reason.trim().is_empty() {
                    return deny("退单必须说明原因");
                }
                self.dispatch = None;
                self.status = Status::Received;
            }
            Action::Acknowledge {} => {
                if self.status != Status::Dispatched || !handler {
                    return deny("只有被派警单位可以签收");
                }
                self.set_dispatch(|d| d.acknowledged_at = Some(ev.time));
                self.status = Status::Acknowledged;
            }
            Action::Depart { officers, vehicles } => {
                // A unit that registered the report itself departs directly.
                let direct = self.status == Status::Received && intake_member;
                if direct {
                    let d = DispatchInfo {
                        unit: self.unit.clone(),
                        by: ev.author.clone(),
                        opinion: "自接自处".into(),
                        at: ev.time,
                        acknowledged_at: Some(ev.time),
                        departed_at: None,
                        arrived_at: None,
                        officers: Vec::new(),
                        vehicles: Vec::new(),
                    };
                    self.dispatch = Some(d.clone());
                    self.dispatch_history.push(d);
                } else if self.status != Status::Acknowledged || !handler {
                    return deny("签收后才能出警");
                }
                if officers.is_empty() {
                    return deny("请填写出警民警");
                }
                for o in officers {
                    if org.person(o).is_none() {
                        return deny(format!("出警民警 {o} 不在组织机构中"));
                    }
                }
                let (o, v) = (officers.clone(), vehicles.clone());
                self.set_dispatch(|d| {
                    d.departed_at = Some(ev.time);
                    d.officers = o.clone();
                    d.vehicles = v.clone();
                });
                self.status = Status::Departed;
            }
            Action::Arrive {} => {
                if self.status != Status::Departed || !handler {
                    return deny("出警后才能登记到达现场");
                }
                self.set_dispatch(|d| d.arrived_at = Some(ev.time));
                self.status = Status::Arrived;
            }
            Action::Feedback { changes } => {
                if !handler {
                    return deny("只有处警单位可以填写反馈");
                }
                if !matches!(
                    self.status,
                    Status::Acknowledged
                        | Status::Departed
                        | Status::Arrived
                        | Status::FeedbackFiled
                ) {
                    return deny(format!("警情当前状态为“{}”，不能反馈", self.status.label()));
                }
                self.edit_form(ev, reg, "feedback", changes)?;
                let t = self.template(reg)?;
                let errs = t.validate(&self.form, Mode::Submit, "feedback", &form_ctx(reg, ev));
                if !errs.is_empty() {
                    return Err(Rejection::Invalid(errs));
                }
                self.status = Status::FeedbackFiled;
            }
            Action::Conclude {} => {
                if self.status != Status::FeedbackFiled || !(handler || intake_member) {
                    return deny("反馈后由处警或接警单位终结");
                }
                self.status = Status::Concluded;
            }
            Action::Archive {} => {
                if self.status != Status::Concluded {
                    return deny("终结后才能归档");
                }
                let bureau = org.ancestor_of_kind(&self.unit, UnitKind::Bureau);
                let at_110 = bureau.is_some_and(|b| {
                    org.units_with_function(&b.code, "patrol110")
                        .any(|u| org.is_member(&ev.author, &u.code))
                });
                if !at_110 {
                    return deny("接处警记录由 110 巡警大队归档");
                }
                self.status = Status::Archived;
            }
            other => return deny(format!("接处警记录不支持“{}”操作", other.kind())),
        }
        self.step_since = ev.time;
        Ok(())
    }

    fn set_dispatch(&mut self, f: impl Fn(&mut DispatchInfo)) {
        if let Some(d) = self.dispatch.as_mut() {
            f(d);
        }
        if let Some(d) = self.dispatch_history.last_mut() {
            f(d);
        }
    }
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
