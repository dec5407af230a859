//! From a decided 户口变更 case to the printed slip, and back: checking a
//! slip's QR code offline.

use jingwu_core::attest::{AttestError, SlipPayload, SlipResult};
use jingwu_core::case::{CaseState, Status};
use jingwu_core::crypto::PublicKey;
use jingwu_core::event::{Action, SignedEvent};
use jingwu_core::form::CaseType;
use jingwu_core::idnum::IdNumber;
use jingwu_core::org::UnitKind;
use jingwu_core::registry::Registry;
use jingwu_core::SHANGHAI;
use serde_json::Value;

use crate::font::CjkFont;
use crate::pdf::{FontSet, Row, SlipDoc, TrailRow};
use crate::sealbook::{slip_picture, SealBook, SLIP_PERSONAL_PX, SLIP_UNIT_PX};

/// Errors of slip making and checking. Shown to users.
#[derive(Debug, thiserror::Error)]
pub enum SlipError {
    #[error("只有户口变更案件有审批结果通知单")]
    NotHukou,
    #[error("案件尚未审批结束（当前：{0}），不能打印结果通知单")]
    NotDecided(&'static str),
    #[error(transparent)]
    Attest(#[from] AttestError),
    #[error(transparent)]
    Qr(#[from] crate::qr::QrError),
    #[error(transparent)]
    Pdf(#[from] crate::pdf::PdfError),
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
    #[error(transparent)]
    Font(#[from] crate::font::FontError),
}

/// The decisions standing at the end of a case: those after the last
/// submission, less any an approver withdrew.
pub fn standing_decisions(events: &[SignedEvent]) -> Vec<&SignedEvent> {
    let mut out: Vec<&SignedEvent> = Vec::new();
    for e in events {
        match &e.event.action {
            Action::Submit {} => out.clear(),
            Action::Decide { .. } => out.push(e),
            // An approver withdrawing takes back their own last decision.
            Action::Withdraw { .. }
                if out.last().is_some_and(|d| d.event.author == e.event.author) =>
            {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn text(state: &CaseState, key: &str) -> String {
    state
        .form
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn dict_label(reg: &Registry, dict: &str, state: &CaseState, key: &str) -> String {
    let code = text(state, key);
    reg.dicts
        .get(dict)
        .and_then(|d| d.label(&code))
        .map(str::to_string)
        .unwrap_or(code)
}

fn masked_id(state: &CaseState, key: &str) -> String {
    IdNumber::parse_structure(&text(state, key))
        .map(|i| i.masked())
        .unwrap_or_default()
}

fn masked_phone(p: &str) -> String {
    let digits: Vec<char> = p.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 {
        return p.to_string();
    }
    let head: String = digits[..3].iter().collect();
    let tail: String = digits[digits.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

fn person_name(reg: &Registry, id: &str) -> String {
    reg.org
        .person(id)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| id.to_string())
}

/// The rows of the form part that show what the approvers signed (the
/// summary: 变动人, masked ID number, 变更更正项目, before and after); the
/// page check reads them back by these labels.
const SUBJECT_LABEL: &str = "变动人";
const ITEM_LABEL: &str = "变更更正项目";
const BEFORE_LABEL: &str = "变更前内容";
const AFTER_LABEL: &str = "变更后内容";
/// Separates the parts of the 变动人 row.
const SEP: char = '\u{3000}';
const ID_PREFIX: &str = "公民身份号码 ";

/// Marks a seal drawn from a name because no registered seal fits.
pub const UNREGISTERED_MARK: &str = "未登记印章";

/// Builds the printable slip of a decided 户口变更 case with no registered
/// seals: every seal is drawn from names and marked [`UNREGISTERED_MARK`].
pub fn hukou_slip(
    state: &CaseState,
    events: &[SignedEvent],
    reg: &Registry,
    font: &CjkFont,
) -> Result<SlipDoc, SlipError> {
    hukou_slip_sealed(state, events, reg, font, &SealBook::empty())
}

/// Builds the printable slip of a decided 户口变更 case, stamping each
/// decision with the approver's registered personal seal and the result
/// with the deciding unit's registered seal — each bound to the key that
/// signed the decision and valid (not revoked) at its time. Where none
/// fits, the seal is drawn from the name and the slip says
/// [`UNREGISTERED_MARK`].
pub fn hukou_slip_sealed(
    state: &CaseState,
    events: &[SignedEvent],
    reg: &Registry,
    font: &CjkFont,
    book: &SealBook,
) -> Result<SlipDoc, SlipError> {
    hukou_slip_timed(state, events, reg, font, book, &HubTimes::new())
}

/// The hub's times of acceptance of events, by event id, from receipts
/// the caller has verified against the hub's key.
pub type HubTimes = std::collections::HashMap<uuid::Uuid, time::OffsetDateTime>;

/// Marks a decision time that is the signer's device time, for a decision
/// with no hub receipt.
pub const DEVICE_TIME_MARK: &str = "时间为设备时间（无县局回执）";

/// As [`hukou_slip_sealed`], with the hub's receipt times: each decision's
/// printed time, and the time at which its seals must be valid and
/// unrevoked, is the hub's time of acceptance. A decision without a
/// receipt falls back to its device time, marked [`DEVICE_TIME_MARK`].
pub fn hukou_slip_timed(
    state: &CaseState,
    events: &[SignedEvent],
    reg: &Registry,
    font: &CjkFont,
    book: &SealBook,
    hub_times: &HubTimes,
) -> Result<SlipDoc, SlipError> {
    if state.case_type != CaseType::HukouChange {
        return Err(SlipError::NotHukou);
    }
    if !matches!(state.status, Status::Approved | Status::Rejected) {
        return Err(SlipError::NotDecided(state.status.label()));
    }
    let decisions = standing_decisions(events);
    let payload = SlipPayload::from_decisions(&decisions)?;
    let (qr, _) = crate::qr::encode(&payload.encode())?;

    let org = &reg.org;
    let station = org.unit(&state.unit);
    let bureau = org.ancestor_of_kind(&state.unit, UnitKind::Bureau);
    let issuer = bureau.map(|b| b.name.clone()).unwrap_or_default();
    let station_name = station.map(|s| s.name.clone()).unwrap_or_default();

    let address = [
        dict_label(reg, "township", state, "address_township"),
        text(state, "address_committee"),
        text(state, "address_street"),
        text(state, "address_number"),
    ]
    .join("");
    let rows = vec![
        Row {
            label: "申报人".into(),
            value: format!(
                "{}（{}）　联系电话 {}",
                text(state, "applicant_name"),
                masked_id(state, "applicant_id"),
                masked_phone(&text(state, "applicant_phone"))
            ),
        },
        Row {
            label: SUBJECT_LABEL.into(),
            value: format!(
                "{}{SEP}{}{SEP}{}{SEP}{ID_PREFIX}{}",
                text(state, "subject_name"),
                dict_label(reg, "sex", state, "subject_sex"),
                dict_label(reg, "ethnicity", state, "subject_ethnicity"),
                masked_id(state, "subject_id")
            ),
        },
        Row {
            label: "住址".into(),
            value: address,
        },
        Row {
            label: "业务类别".into(),
            value: dict_label(reg, "hukou_business", state, "business_category"),
        },
        Row {
            label: ITEM_LABEL.into(),
            value: format!(
                "{}（{}）",
                text(state, "change_item"),
                dict_label(reg, "change_category", state, "change_category")
            ),
        },
        Row {
            label: BEFORE_LABEL.into(),
            value: text(state, "before"),
        },
        Row {
            label: AFTER_LABEL.into(),
            value: text(state, "after"),
        },
        Row {
            label: "变更原因".into(),
            value: text(state, "reason"),
        },
    ];

    let route = state
        .workflow
        .as_ref()
        .and_then(|w| reg.workflow(w))
        .and_then(|wf| state.route.as_deref().and_then(|r| wf.route(r)));
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let mut trail = Vec::new();
    for d in &decisions {
        let Action::Decide {
            step,
            decision,
            opinion,
            ..
        } = &d.event.action
        else {
            continue;
        };
        let sdef = route.and_then(|r| r.steps.iter().find(|s| &s.id == step));
        let name = person_name(reg, &d.event.author);
        let hub_time = hub_times.get(&d.event.id).copied();
        let at = hub_time.unwrap_or(d.event.time);
        let registered = book
            .personal(&d.event.author, &d.event.key, at)
            .and_then(|r| slip_picture(&r.seal, SLIP_PERSONAL_PX).ok());
        let mut notes = Vec::new();
        let seal = match registered {
            Some(img) => Some(img),
            None => {
                notes.push(format!("名章：{UNREGISTERED_MARK}"));
                crate::seal::render_personal_seal(&name, font, SLIP_PERSONAL_PX).ok()
            }
        };
        if hub_time.is_none() {
            notes.push(DEVICE_TIME_MARK.to_string());
        }
        let note = (!notes.is_empty()).then(|| notes.join("；"));
        trail.push(TrailRow {
            step: sdef.map(|s| s.name.clone()).unwrap_or_else(|| step.clone()),
            who: format!(
                "{} {}",
                sdef.map(|s| s.role.as_str()).unwrap_or_default(),
                name
            ),
            decision: decision.label().to_string(),
            opinion: opinion.clone(),
            time: at.to_offset(SHANGHAI).format(&fmt).unwrap_or_default(),
            seal,
            note,
        });
    }
    // The seal of the unit that made the final decision: its station, or
    // else its bureau.
    let last = decisions.last();
    let final_unit = last.and_then(|d| org.units_of(&d.event.author).into_iter().next().cloned());
    let seal_unit = match final_unit.as_ref() {
        Some(u) if u.kind == UnitKind::Station => Some(u.code.clone()),
        Some(u) => org
            .ancestor_of_kind(&u.code, UnitKind::Bureau)
            .map(|b| b.code.clone()),
        None => None,
    };
    let registered = match (last, seal_unit.as_deref()) {
        (Some(d), Some(unit)) => book.unit(
            unit,
            &d.event.key,
            hub_times.get(&d.event.id).copied().unwrap_or(d.event.time),
        ),
        _ => None,
    };
    let (unit_seal, unit_seal_line) = match registered
        .and_then(|r| slip_picture(&r.seal, SLIP_UNIT_PX).ok().map(|img| (r, img)))
    {
        Some((r, img)) => (Some(img), format!("单位印章编码 {}", r.seal.info.id)),
        None => {
            let seal_name = match final_unit.as_ref().map(|u| u.kind) {
                Some(UnitKind::Station) => format!("{issuer}{station_name}"),
                _ => issuer.clone(),
            };
            (
                crate::seal::render_unit_seal(&seal_name, Some("户口专用章"), font, SLIP_UNIT_PX)
                    .ok(),
                format!("单位印章：{UNREGISTERED_MARK}"),
            )
        }
    };
    let result = match payload.result {
        SlipResult::Approved => "同意",
        SlipResult::Rejected => "不同意",
    };
    Ok(SlipDoc {
        issuer,
        title: match payload.result {
            SlipResult::Approved => "户口变更审批结果通知单".into(),
            SlipResult::Rejected => "户口变更审批结果通知单（不予批准）".into(),
        },
        case_no: state.case_no.clone(),
        station: station_name,
        rows,
        result: Some(result.into()),
        trail,
        unit_seal,
        qr: Some(qr),
        qr_caption: vec![
            "本通知单的审批记录均经审批人 SM2 电子签名。".into(),
            "核验真伪：用“警务协同”扫描右侧二维码，".into(),
            "或运行 jingwu-station verify-slip 文件，无需联网。".into(),
            unit_seal_line,
        ],
        footer: format!(
            "核验码 {} · 案件 {}",
            &hex::encode(payload.final_hash)[..16],
            state.case_id
        ),
    })
}

/// Makes the slip PDF of a decided case.
pub fn hukou_slip_pdf(
    state: &CaseState,
    events: &[SignedEvent],
    reg: &Registry,
    font: &CjkFont,
    fonts: &FontSet,
) -> Result<Vec<u8>, SlipError> {
    hukou_slip_pdf_sealed(state, events, reg, font, fonts, &SealBook::empty())
}

/// Makes the slip PDF of a decided case with the registered seals of
/// `book` (see [`hukou_slip_sealed`]).
pub fn hukou_slip_pdf_sealed(
    state: &CaseState,
    events: &[SignedEvent],
    reg: &Registry,
    font: &CjkFont,
    fonts: &FontSet,
    book: &SealBook,
) -> Result<Vec<u8>, SlipError> {
    hukou_slip_pdf_timed(state, events, reg, font, fonts, book, &HubTimes::new())
}

/// Makes the slip PDF of a decided case with the registered seals of
/// `book` and the hub's receipt times (see [`hukou_slip_timed`]).
pub fn hukou_slip_pdf_timed(
    state: &CaseState,
    events: &[SignedEvent],
    reg: &Registry,
    font: &CjkFont,
    fonts: &FontSet,
    book: &SealBook,
    hub_times: &HubTimes,
) -> Result<Vec<u8>, SlipError> {
    let doc = hukou_slip_timed(state, events, reg, font, book, hub_times)?;
    Ok(crate::pdf::render(&doc, fonts)?)
}

/// One decision as its approver signed it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignedDecision {
    /// The approver's name (or id when the org does not know them).
    pub name: String,
    /// The step's name.
    pub step: String,
    /// 同意 / 不同意 / 退回补正.
    pub decision: String,
    pub opinion: String,
    /// Signing time, Asia/Shanghai, `2026-11-27 10:42`.
    pub time: String,
}

/// How the slip's visible text was compared with what was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PageCheck {
    /// A PDF: its page shows the signed case number, change and result.
    Matched,
    /// A photo or scan: no text to read; a person must compare the paper
    /// with the signed content.
    CompareByEye,
}

/// What checking a slip found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub payload: SlipPayload,
    /// Each decision, as signed.
    pub decisions: Vec<SignedDecision>,
    /// Whether the page's text was compared (PDF) or must be by eye.
    pub page: PageCheck,
}

/// Checks QR texts read from a slip against the approvers' keys the
/// verifier holds. Returns the first payload that verifies, or the reason
/// the slip is not genuine. The page itself is not looked at
/// ([`PageCheck::CompareByEye`]); see [`verify_slip_file`].
pub fn verify_texts(
    texts: &[String],
    reg: &Registry,
    key_of: impl Fn(&str, &str) -> Option<PublicKey>,
) -> Result<Verdict, AttestError> {
    let mut last_err = AttestError::NotASlip;
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    for t in texts {
        match SlipPayload::decode(t).and_then(|p| p.verify(&key_of).map(|_| p)) {
            Ok(p) => {
                let step_name = |id: &str| {
                    reg.workflow_latest("hukou_change")
                        .and_then(|w| {
                            w.routes
                                .iter()
                                .flat_map(|r| r.steps.iter())
                                .find(|s| s.id == id)
                        })
                        .map(|s| s.name.clone())
                        .unwrap_or_else(|| id.to_string())
                };
                let decisions = p
                    .decisions
                    .iter()
                    .map(|d| SignedDecision {
                        name: person_name(reg, &d.author),
                        step: step_name(&d.step),
                        decision: d.decision.label().to_string(),
                        opinion: d.opinion.clone(),
                        time: d.time.to_offset(SHANGHAI).format(&fmt).unwrap_or_default(),
                    })
                    .collect();
                return Ok(Verdict {
                    payload: p,
                    decisions,
                    page: PageCheck::CompareByEye,
                });
            }
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}

/// Why a slip file is not genuine. Shown to users (after 无效：).
#[derive(Debug, thiserror::Error)]
pub enum SlipCheckError {
    #[error(transparent)]
    Qr(#[from] crate::qr::QrError),
    #[error(transparent)]
    Attest(#[from] AttestError),
    #[error(transparent)]
    Page(#[from] crate::pdf::PageTextError),
    #[error("页面文字与审批人签名的内容不符：{0}")]
    Mismatch(String),
}

/// Checks a slip file offline: a PDF we wrote, or a photo or scan of the
/// printed page. The QR code must verify against the approvers' keys the
/// verifier holds; for a PDF, the page must also show the signed case
/// number, change summary and result ([`check_page`]), so a PDF whose
/// visible text was edited is refused. A photo or scan has no text to
/// read: the verdict says [`PageCheck::CompareByEye`], and whoever shows
/// it must show the signed content beside it.
pub fn verify_slip_file(
    bytes: &[u8],
    reg: &Registry,
    key_of: impl Fn(&str, &str) -> Option<PublicKey>,
) -> Result<Verdict, SlipCheckError> {
    let is_pdf = bytes.starts_with(b"%PDF");
    let texts = if is_pdf {
        crate::qr::decode_pdf(bytes)?
    } else {
        crate::qr::decode_file_image(bytes)?
    };
    let mut verdict = verify_texts(&texts, reg, key_of)?;
    if is_pdf {
        let page = crate::pdf::page_content(bytes)?;
        check_page(&page, &verdict.payload).map_err(SlipCheckError::Mismatch)?;
        verdict.page = PageCheck::Matched;
    }
    Ok(verdict)
}

/// A text's box on the page (mm), wide enough for full-width characters.
fn text_box(t: &crate::pdf::PageText) -> crate::pdf::Rect {
    let em = t.size * 25.4 / 72.0;
    let width: f32 = t
        .text
        .chars()
        .map(|c| if c.is_ascii() { 0.6 } else { 1.0 })
        .sum::<f32>()
        * em;
    crate::pdf::Rect {
        x0: t.x,
        y0: t.y - 0.2 * em,
        x1: t.x + width,
        y1: t.y + 0.8 * em,
    }
}

/// `s` without its last balanced `（…）` (the category after the item).
fn strip_trailing_paren(s: &str) -> Option<&str> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices().rev() {
        match c {
            '）' => depth += 1,
            '（' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(&s[..i]);
                }
            }
            _ if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// Compares what a slip page shows with what its approvers signed: the
/// 受理编号 line, the rows the summary is made of (变动人 with the masked
/// ID number, 变更更正项目, 变更前内容, 变更后内容) and the result. The
/// rows are read where our renderer puts them — a label, then its value
/// lines at the value column, one line pitch apart — and none of this
/// text may lie under a picture or under other text. `Err` says what
/// differs.
pub fn check_page(page: &crate::pdf::PageContent, payload: &SlipPayload) -> Result<(), String> {
    use crate::pdf::{
        CASE_NO_PREFIX, LABEL_SIZE, LABEL_X, RESULT_PREFIX, VALUE_PITCH, VALUE_SIZE, VALUE_X,
    };
    let texts = &page.texts;
    let near = |a: f32, b: f32, tol: f32| (a - b).abs() <= tol;
    // Items that show signed content; none may be covered.
    let mut signed_items: Vec<usize> = Vec::new();

    let one_line = |prefix: &str, what: &str| -> Result<usize, String> {
        let at: Vec<usize> = (0..texts.len())
            .filter(|&i| texts[i].text.starts_with(prefix))
            .collect();
        match at[..] {
            [i] => Ok(i),
            _ => Err(format!("页面上应有一处{what}，现有 {} 处", at.len())),
        }
    };
    let case_line = one_line(CASE_NO_PREFIX, "受理编号")?;
    let shown = &texts[case_line].text[CASE_NO_PREFIX.len()..];
    if shown != payload.case_no {
        return Err(format!(
            "页面上的受理编号为“{shown}”，签名的是“{}”",
            payload.case_no
        ));
    }
    signed_items.push(case_line);

    let mut row = |label: &str| -> Result<String, String> {
        let at: Vec<usize> = (0..texts.len())
            .filter(|&i| {
                texts[i].text == label
                    && near(texts[i].x, LABEL_X, 0.3)
                    && near(texts[i].size, LABEL_SIZE, 0.01)
            })
            .collect();
        let [at] = at[..] else {
            return Err(format!("页面上应有一栏“{label}”，现有 {} 栏", at.len()));
        };
        let top = texts[at].y;
        let mut value = String::new();
        // Value lines follow their label, one pitch apart (an empty line
        // of a multi-line value prints nothing, so steps may be skipped).
        let mut next_line = 0.0f32;
        for (i, t) in texts.iter().enumerate().skip(at + 1) {
            let line = (top - t.y) / VALUE_PITCH;
            if !(near(t.x, VALUE_X, 0.3)
                && near(t.size, VALUE_SIZE, 0.01)
                && near(line, line.round(), 0.3 / VALUE_PITCH)
                && line.round() >= next_line)
            {
                break;
            }
            next_line = line.round() + 1.0;
            value.push_str(&t.text);
            signed_items.push(i);
        }
        Ok(value)
    };
    let subject = row(SUBJECT_LABEL)?;
    let item = row(ITEM_LABEL)?;
    let before = row(BEFORE_LABEL)?;
    let after = row(AFTER_LABEL)?;
    let mut parts = subject.rsplitn(4, SEP);
    let (id_part, _, _, name) = (parts.next(), parts.next(), parts.next(), parts.next());
    let masked = id_part.and_then(|p| p.strip_prefix(ID_PREFIX));
    let (Some(name), Some(masked)) = (name, masked) else {
        return Err(format!(
            "页面上“{SUBJECT_LABEL}”一栏的格式不对：“{subject}”"
        ));
    };
    let item = strip_trailing_paren(&item)
        .ok_or_else(|| format!("页面上“{ITEM_LABEL}”一栏的格式不对：“{item}”"))?;
    let shown = jingwu_core::case::hukou_summary(name, masked, item, &before, &after);
    // A line break in a value prints as a wrapped line.
    let signed: String = payload
        .summary
        .chars()
        .filter(|c| *c != '\n' && *c != '\r')
        .collect();
    if shown != signed {
        return Err(format!("页面上为“{shown}”，签名的是“{signed}”"));
    }

    let result = match payload.result {
        SlipResult::Approved => "同意",
        SlipResult::Rejected => "不同意",
    };
    let result_line = one_line(RESULT_PREFIX, "审批结果")?;
    let shown = &texts[result_line].text[RESULT_PREFIX.len()..];
    if shown != result {
        return Err(format!("页面上的审批结果为“{shown}”，签名的是“{result}”"));
    }

    for &i in &signed_items {
        let b = text_box(&texts[i]);
        let covered = page.images.iter().any(|r| r.overlaps(&b))
            || (0..texts.len()).any(|j| j != i && text_box(&texts[j]).overlaps(&b));
        if covered {
            return Err(format!("“{}”一处被图片或其他文字覆盖", texts[i].text));
        }
    }
    Ok(())
}

/// The QR prefix of a blank form's id (the scan pipeline matches it).
pub const BLANK_FORM_PREFIX: &str = "JWF1:";

/// A blank 户口变更登记表 carrying a QR code with `form_id`, to be filled
/// by hand, stamped by the village committee and scanned back.
pub fn blank_form(reg: &Registry, station: &str, form_id: &str) -> Result<SlipDoc, SlipError> {
    let bad = |m: &str| SlipError::Attest(AttestError::Malformed(m.into()));
    if form_id.is_empty()
        || form_id.len() > 40
        || !form_id
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase() || c == '-')
    {
        return Err(bad(
            "空白表编号只能由大写字母、数字和短横线组成，最长 40 位",
        ));
    }
    let unit = reg.org.unit(station).ok_or_else(|| bad("受理单位不存在"))?;
    let issuer = reg
        .org
        .ancestor_of_kind(station, UnitKind::Bureau)
        .map(|b| b.name.clone())
        .unwrap_or_default();
    let template = reg
        .template_latest("hukou_change")
        .ok_or_else(|| bad("缺少户口变更登记表模板"))?;
    let rows = template
        .fields
        .iter()
        .filter(|f| {
            !matches!(
                f.ty,
                jingwu_core::form::FieldType::Attachments { .. }
                    | jingwu_core::form::FieldType::Table { .. }
            )
        })
        .map(|f| Row {
            label: f.label.clone(),
            value: String::new(),
        })
        .collect();
    let (qr, _) = crate::qr::encode(&format!("{BLANK_FORM_PREFIX}{form_id}"))?;
    Ok(SlipDoc {
        issuer,
        title: template.name.clone(),
        case_no: String::new(),
        station: unit.name.clone(),
        rows,
        result: None,
        trail: Vec::new(),
        unit_seal: None,
        qr: Some(qr),
        qr_caption: vec![
            format!("空白表编号 {form_id}"),
            "填写后请村（居）委会盖章，扫描时系统".into(),
            "按二维码自动归入对应的草稿。".into(),
        ],
        footer: "村（居）委会意见及盖章：".into(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::collections::BTreeMap;

    use jingwu_core::crypto::{Signer, SoftwareKey};
    use jingwu_core::event::Decision;
    use jingwu_core::form::FormValues;
    use jingwu_store::Store;
    use serde_json::json;

    use super::*;

    fn form() -> FormValues {
        let mut f = jingwu_core::demo::name_change_form();
        f.insert(
            "scans".into(),
            json!([{"sm3": "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
                    "name": "scan.jpg", "mime": "image/jpeg", "size": 10}]),
        );
        f
    }

    /// Opens a 户口变更 draft at 方祥派出所.
    fn new_case(
        store: &mut Store,
        reg: &Registry,
        keys: &BTreeMap<String, SoftwareKey>,
    ) -> CaseState {
        new_case_with(store, reg, keys, form())
    }

    fn new_case_with(
        store: &mut Store,
        reg: &Registry,
        keys: &BTreeMap<String, SoftwareKey>,
        form: FormValues,
    ) -> CaseState {
        let station = reg.org.units().find(|u| u.name == "方祥派出所").unwrap();
        let officer = reg.org.holders(&station.code, "户籍民警")[0].id.clone();
        let now = time::OffsetDateTime::now_utc().to_offset(SHANGHAI);
        let case_no = store
            .next_case_no(
                &station.code,
                &keys[&officer].public_key().fingerprint(),
                now.date(),
            )
            .unwrap();
        let create = Action::Create {
            case_type: CaseType::HukouChange,
            template: reg.template_latest("hukou_change").unwrap().reference(),
            workflow: Some(reg.workflow_latest("hukou_change").unwrap().reference()),
            case_no,
            unit: station.code.clone(),
            form,
            registry: None,
        };
        store
            .record(reg, &keys[&officer], &officer, None, create, now)
            .unwrap()
    }

    /// A case refused by the 户政股 chief, in a fresh store.
    fn rejected() -> (Store, Registry, BTreeMap<String, SoftwareKey>, uuid::Uuid) {
        rejected_with(form())
    }

    fn rejected_with(
        form: FormValues,
    ) -> (Store, Registry, BTreeMap<String, SoftwareKey>, uuid::Uuid) {
        let reg = Registry::builtin_demo().unwrap();
        let keys: BTreeMap<String, SoftwareKey> = reg
            .org
            .people()
            .map(|p| {
                (
                    p.id.clone(),
                    SoftwareKey::generate(&mut getrandom::SysRng).unwrap(),
                )
            })
            .collect();
        let mut store = Store::open_in_memory().unwrap();
        let mut s = new_case_with(&mut store, &reg, &keys, form);
        let (id, officer) = (s.case_id, s.initiator.clone());
        let now = time::OffsetDateTime::now_utc().to_offset(SHANGHAI);
        s = store
            .record(
                &reg,
                &keys[&officer],
                &officer,
                Some(id),
                Action::Submit {},
                now,
            )
            .unwrap();
        for (decision, opinion) in [
            (Decision::Agree, "同意"),
            (Decision::Disagree, "证明材料不足"),
        ] {
            let who = s.assignees(&reg)[0].clone();
            let a = s.decision_action(&reg, decision, opinion).unwrap();
            s = store
                .record(&reg, &keys[&who], &who, Some(id), a, now)
                .unwrap();
        }
        assert_eq!(s.status, Status::Rejected);
        (store, reg, keys, id)
    }

    #[test]
    fn a_rejected_case_gets_a_verifiable_refusal_slip() {
        let (store, reg, keys, id) = rejected();
        let state = store.case(&id).unwrap().unwrap();
        let events = store.events(&id).unwrap();
        let font = CjkFont::locate().unwrap();
        let fonts = FontSet::new(&font).unwrap();
        let doc = hukou_slip(&state, &events, &reg, &font).unwrap();
        assert!(doc.title.contains("不予批准"));
        assert_eq!(doc.result.as_deref(), Some("不同意"));
        assert_eq!(doc.trail.len(), 2);
        assert!(doc.trail.iter().all(|t| t.seal.is_some()));
        assert!(doc.unit_seal.is_some());
        let pdf = crate::pdf::render(&doc, &fonts).unwrap();
        let texts = crate::qr::decode_pdf(&pdf).unwrap();
        let key_of = |a: &str, fp: &str| {
            keys.get(a)
                .map(|k| k.public_key().clone())
                .filter(|k| k.fingerprint() == fp)
        };
        let v = verify_texts(&texts, &reg, key_of).unwrap();
        assert_eq!(v.payload.result, SlipResult::Rejected);
        assert_eq!(v.decisions[1].decision, "不同意");
        // Someone else's keys do not verify it.
        let other = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();
        let wrong = |_: &str, _: &str| Some(other.public_key().clone());
        assert!(verify_texts(&texts, &reg, wrong).is_err());
    }

    /// A registered seal made by `maker`.
    #[allow(clippy::too_many_arguments)]
    fn registered(
        id: &str,
        kind: crate::seal::SealKind,
        name: &str,
        holder: &str,
        holder_key: &SoftwareKey,
        maker: &SoftwareKey,
        at: time::OffsetDateTime,
        revoked_at: Option<time::OffsetDateTime>,
    ) -> crate::sealbook::RegisteredSeal {
        use time::format_description::well_known::Rfc3339;
        // A solid square: easy to tell from a picture drawn from a name.
        let img = image::RgbaImage::from_pixel(200, 200, image::Rgba([216, 30, 36, 255]));
        let draft = crate::seal::SealDraft {
            id: id.into(),
            kind,
            name: name.into(),
            holder: holder.into(),
            holder_key: holder_key.public_key().clone(),
            valid_from: (at - time::Duration::days(1)).format(&Rfc3339).unwrap(),
            valid_to: (at + time::Duration::days(1)).format(&Rfc3339).unwrap(),
            maker: "052644".into(),
            maker_key: maker.public_key().fingerprint(),
        };
        let png = crate::seal::png_bytes(&img).unwrap();
        crate::sealbook::RegisteredSeal {
            seal: crate::seal::Seal::make(draft, png, maker).unwrap(),
            registered_at: at.format(&Rfc3339).unwrap(),
            revoked_at: revoked_at.map(|t| t.format(&Rfc3339).unwrap()),
            revoked_by: revoked_at.map(|_| "052644".into()),
        }
    }

    #[test]
    fn registered_seals_stamp_the_slip_and_missing_ones_are_marked() {
        use crate::seal::SealKind;
        let (store, reg, keys, id) = rejected();
        let state = store.case(&id).unwrap().unwrap();
        let events = store.events(&id).unwrap();
        let font = CjkFont::locate().unwrap();
        let fonts = FontSet::new(&font).unwrap();
        let decisions = standing_decisions(&events);
        let (first, last) = (decisions[0].event.clone(), decisions[1].event.clone());
        let maker = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();

        // Nothing registered: drawn from names, and the slip says so.
        let doc = hukou_slip(&state, &events, &reg, &font).unwrap();
        assert!(doc.trail.iter().all(|t| t
            .note
            .as_deref()
            .is_some_and(|n| n.contains(UNREGISTERED_MARK))));
        assert!(doc.qr_caption.iter().any(|l| l.contains(UNREGISTERED_MARK)));

        // The final decider (户政股股长) decides for the bureau.
        let bureau = "522634000000";
        let mut seals = vec![registered(
            "U-1",
            SealKind::Unit,
            "雷山县公安局",
            bureau,
            &keys[&last.author],
            &maker,
            last.time,
            None,
        )];
        for (i, d) in decisions.iter().enumerate() {
            let name = person_name(&reg, &d.event.author);
            seals.push(registered(
                &format!("P-{i}"),
                SealKind::Personal,
                &name,
                &d.event.author,
                &keys[&d.event.author],
                &maker,
                d.event.time,
                None,
            ));
        }
        let book = SealBook::new(seals.clone());
        let doc = hukou_slip_sealed(&state, &events, &reg, &font, &book).unwrap();
        assert!(doc
            .trail
            .iter()
            .all(|t| t.note.as_deref() == Some(DEVICE_TIME_MARK)));
        for t in &doc.trail {
            // The registered picture (solid), not a drawn one (transparent
            // corner).
            assert_eq!(t.seal.as_ref().unwrap().get_pixel(0, 0).0[3], 255);
        }
        assert_eq!(doc.unit_seal.as_ref().unwrap().get_pixel(0, 0).0[3], 255);
        assert!(doc
            .qr_caption
            .iter()
            .any(|l| l.contains("单位印章编码 U-1")));
        let pdf = crate::pdf::render(&doc, &fonts).unwrap();
        let texts = crate::qr::decode_pdf(&pdf).unwrap();
        let key_of = |a: &str, fp: &str| {
            keys.get(a)
                .map(|k| k.public_key().clone())
                .filter(|k| k.fingerprint() == fp)
        };
        verify_texts(&texts, &reg, key_of).unwrap();

        // A seal revoked before the decision, one bound to another key, a
        // unit seal of another unit: none of them stamps.
        let other = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();
        let name0 = person_name(&reg, &first.author);
        let book = SealBook::new(vec![
            registered(
                "P-r",
                SealKind::Personal,
                &name0,
                &first.author,
                &keys[&first.author],
                &maker,
                first.time,
                Some(first.time - time::Duration::seconds(1)),
            ),
            registered(
                "P-o",
                SealKind::Personal,
                &name0,
                &first.author,
                &other,
                &maker,
                first.time,
                None,
            ),
            registered(
                "U-o",
                SealKind::Unit,
                "雷山县公安局方祥派出所",
                "522634580000",
                &keys[&last.author],
                &maker,
                last.time,
                None,
            ),
        ]);
        let doc = hukou_slip_sealed(&state, &events, &reg, &font, &book).unwrap();
        assert!(doc.trail.iter().all(|t| t
            .note
            .as_deref()
            .is_some_and(|n| n.contains(UNREGISTERED_MARK))));
        assert!(doc.qr_caption.iter().any(|l| l.contains(UNREGISTERED_MARK)));
        // Revoked only after the decision: still stamps it.
        let book = SealBook::new(vec![registered(
            "P-l",
            SealKind::Personal,
            &name0,
            &first.author,
            &keys[&first.author],
            &maker,
            first.time,
            Some(first.time + time::Duration::seconds(1)),
        )]);
        let doc = hukou_slip_sealed(&state, &events, &reg, &font, &book).unwrap();
        assert_eq!(doc.trail[0].note.as_deref(), Some(DEVICE_TIME_MARK));
        assert!(doc.trail[1]
            .note
            .as_deref()
            .is_some_and(|n| n.contains(UNREGISTERED_MARK)));
    }

    /// The hub's receipt time, not the device time, prints on the slip and
    /// decides whether a seal was still valid: a decision its device dated
    /// before the seal's revocation, but that reached the hub after it,
    /// is not stamped.
    #[test]
    fn hub_times_print_and_judge_seals() {
        use crate::seal::SealKind;
        let (store, reg, keys, id) = rejected();
        let state = store.case(&id).unwrap().unwrap();
        let events = store.events(&id).unwrap();
        let font = CjkFont::locate().unwrap();
        let decisions = standing_decisions(&events);
        let first = decisions[0].event.clone();
        let maker = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();
        let name0 = person_name(&reg, &first.author);
        let revoked = first.time + time::Duration::hours(1);
        let book = SealBook::new(vec![registered(
            "P-b",
            SealKind::Personal,
            &name0,
            &first.author,
            &keys[&first.author],
            &maker,
            first.time,
            Some(revoked),
        )]);
        // Without a receipt: the device time, marked, and the seal stamps.
        let doc = hukou_slip_sealed(&state, &events, &reg, &font, &book).unwrap();
        assert_eq!(doc.trail[0].note.as_deref(), Some(DEVICE_TIME_MARK));
        // The hub received it two hours later, after the revocation.
        let hub_at = first.time + time::Duration::hours(2);
        let times = HubTimes::from([(first.id, hub_at)]);
        let doc = hukou_slip_timed(&state, &events, &reg, &font, &book, &times).unwrap();
        let note = doc.trail[0].note.as_deref().unwrap();
        assert!(note.contains(UNREGISTERED_MARK), "{note}");
        assert!(!note.contains(DEVICE_TIME_MARK), "{note}");
        let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
        assert_eq!(
            doc.trail[0].time,
            hub_at.to_offset(SHANGHAI).format(&fmt).unwrap()
        );
        assert_ne!(
            doc.trail[0].time,
            first.time.to_offset(SHANGHAI).format(&fmt).unwrap()
        );
        // The other decision has no receipt: still marked.
        assert!(doc.trail[1]
            .note
            .as_deref()
            .is_some_and(|n| n.contains(DEVICE_TIME_MARK)));
    }

    #[test]
    fn undecided_cases_have_no_slip() {
        let (mut store, reg, keys, _) = rejected();
        let s = new_case(&mut store, &reg, &keys);
        let font = CjkFont::locate().unwrap();
        let events = store.events(&s.case_id).unwrap();
        let err = hukou_slip(&s, &events, &reg, &font).unwrap_err();
        assert!(err.to_string().contains("尚未审批结束"), "{err}");
    }

    /// The 2-byte glyph code of `ch` on the page (Identity-H), read through
    /// the font's ToUnicode map.
    fn glyph_code(doc: &lopdf::Document, page: lopdf::ObjectId, ch: char) -> Vec<u8> {
        let fonts = doc.get_page_fonts(page).unwrap();
        let (_, font) = fonts.iter().next().unwrap();
        let enc = font.get_font_encoding(doc).unwrap();
        let content = doc.get_and_decode_page_content(page).unwrap();
        for op in &content.operations {
            if op.operator != "Tj" {
                continue;
            }
            let bytes = op.operands[0].as_str().unwrap();
            for code in bytes.chunks(2) {
                let s = lopdf::Document::decode_text(&enc, code).unwrap();
                if s == ch.to_string() {
                    return code.to_vec();
                }
            }
        }
        panic!("{ch} is not on the page");
    }

    /// Forges a slip PDF the way a person with a PDF editor would: every
    /// glyph `from` in the page's text becomes the glyph `to`; the QR code
    /// and everything else stay as they were.
    pub(crate) fn forge_glyph(pdf: &[u8], from: char, to: char) -> Vec<u8> {
        let mut doc = lopdf::Document::load_mem(pdf).unwrap();
        let page = *doc.get_pages().values().next().unwrap();
        let (a, b) = (glyph_code(&doc, page, from), glyph_code(&doc, page, to));
        let mut content = doc.get_and_decode_page_content(page).unwrap();
        let mut n = 0;
        for op in &mut content.operations {
            if op.operator != "Tj" {
                continue;
            }
            if let lopdf::Object::String(bytes, _) = &mut op.operands[0] {
                for code in bytes.chunks_mut(2) {
                    if code == a.as_slice() {
                        code.copy_from_slice(&b);
                        n += 1;
                    }
                }
            }
        }
        assert!(n > 0);
        doc.change_page_content(page, content.encode().unwrap())
            .unwrap();
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    fn slip_pdf_of_rejected() -> (Vec<u8>, Registry, BTreeMap<String, SoftwareKey>) {
        slip_pdf_of(form())
    }

    fn slip_pdf_of(form: FormValues) -> (Vec<u8>, Registry, BTreeMap<String, SoftwareKey>) {
        let (store, reg, keys, id) = rejected_with(form);
        let state = store.case(&id).unwrap().unwrap();
        let events = store.events(&id).unwrap();
        let font = CjkFont::locate().unwrap();
        let fonts = FontSet::new(&font).unwrap();
        let pdf = hukou_slip_pdf(&state, &events, &reg, &font, &fonts).unwrap();
        (pdf, reg, keys)
    }

    fn key_of(
        keys: &BTreeMap<String, SoftwareKey>,
    ) -> impl Fn(&str, &str) -> Option<PublicKey> + '_ {
        |a: &str, fp: &str| {
            keys.get(a)
                .map(|k| k.public_key().clone())
                .filter(|k| k.fingerprint() == fp)
        }
    }

    #[test]
    fn a_genuine_slip_pdf_shows_what_was_signed() {
        let (pdf, reg, keys) = slip_pdf_of_rejected();
        let page = crate::pdf::page_content(&pdf).unwrap();
        assert!(page.texts.iter().any(|t| t.text.contains("王德勇")));
        let v = verify_slip_file(&pdf, &reg, key_of(&keys)).unwrap();
        assert_eq!(v.page, PageCheck::Matched);
        assert!(v.payload.summary.contains("王德永 → 王德勇"));
        assert_eq!(v.decisions[1].opinion, "证明材料不足");
    }

    #[test]
    fn a_pdf_with_forged_visible_text_is_refused() {
        let (pdf, reg, keys) = slip_pdf_of_rejected();
        // 变动人 王德勇 → 王德永, in the 变动人 row and in 变更后内容; the QR
        // still carries the signed summary.
        let forged = forge_glyph(&pdf, '勇', '永');
        let page = crate::pdf::page_content(&forged).unwrap();
        assert!(!page.texts.iter().any(|t| t.text.contains("王德勇")));
        assert!(crate::qr::decode_pdf(&forged).is_ok());
        let err = verify_slip_file(&forged, &reg, key_of(&keys)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("页面文字与审批人签名的内容不符"), "{msg}");
        assert!(
            msg.contains("王德永（5226**********0116）姓名：王德永 → 王德永"),
            "{msg}"
        );
        // The 受理编号 changed by one digit: refused too.
        let forged = forge_glyph(&pdf, '1', '7');
        let msg = verify_slip_file(&forged, &reg, key_of(&keys))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("受理编号"), "{msg}");
        // The result changed (不同意 → 同意 needs a glyph removed; 不 → 同
        // gives 同同意).
        let forged = forge_glyph(&pdf, '不', '同');
        let msg = verify_slip_file(&forged, &reg, key_of(&keys))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("审批结果"), "{msg}");
    }

    #[test]
    fn a_photo_of_a_slip_is_to_be_compared_by_eye() {
        let (pdf, reg, keys) = slip_pdf_of_rejected();
        let texts = crate::qr::decode_pdf(&pdf).unwrap();
        let v = verify_texts(&texts, &reg, key_of(&keys)).unwrap();
        assert_eq!(v.page, PageCheck::CompareByEye);
    }

    /// Values wrapped over several lines read back as signed; the rows
    /// after them (a reason with a blank line) do not disturb it.
    #[test]
    fn multi_line_values_read_back() {
        let mut f = form();
        f.insert("reason".into(), json!("用字错误。\n\n有出生医学证明为证。"));
        f.insert("after".into(), json!("王德勇（曾用名王德永）".repeat(8)));
        let (pdf, reg, keys) = slip_pdf_of(f);
        let page = crate::pdf::page_content(&pdf).unwrap();
        let t = &page.texts;
        let i = t.iter().position(|x| x.text == AFTER_LABEL).unwrap();
        // The value's second line, under its first.
        assert!((t[i + 1].x - t[i + 2].x).abs() < 0.01, "not wrapped");
        assert!(t[i + 2].y < t[i + 1].y);
        let v = verify_slip_file(&pdf, &reg, key_of(&keys)).unwrap();
        assert_eq!(v.page, PageCheck::Matched);
    }
}
