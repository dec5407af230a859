//! The approved registration slip from the station's store: making it,
//! checking one offline, listing printers. The headless binary and the
//! desktop app both call these, so a slip is made and judged the same way
//! everywhere.

use jingwu_core::attest::SlipResult;
use jingwu_core::case::Status;
pub use jingwu_slip::slip::{PageCheck, SignedDecision};
use serde::Serialize;
use uuid::Uuid;

use crate::station::{Result, Station, StationError};

/// What checking a slip found: the slip is genuine. `summary`, `case_no`,
/// `result` and `decisions` are what the approvers signed; a person shown
/// a photo or scan (`page_check` = `compare_by_eye`) must compare them
/// with the paper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlipCheck {
    pub case_id: Uuid,
    pub case_no: String,
    pub summary: String,
    /// 同意 or 不同意.
    pub result: String,
    /// Each decision as signed: approver, step, decision, opinion, time.
    pub decisions: Vec<SignedDecision>,
    /// Whether this station holds the case and its record matched.
    pub matched_local_record: bool,
    /// `matched`: a PDF whose page shows the signed content;
    /// `compare_by_eye`: a photo or scan, to be compared by a person.
    pub page_check: PageCheck,
}

fn usage<T>(msg: impl Into<String>) -> Result<T> {
    Err(StationError::Usage(msg.into()))
}

impl Station {
    /// The case named by its id or its 受理编号 (an id is taken as it
    /// is; a 受理编号 must be in the local store).
    pub fn find_case(&self, case: &str) -> Result<Uuid> {
        let case = case.trim();
        if let Ok(id) = Uuid::parse_str(case) {
            return Ok(id);
        }
        match self
            .store
            .list_cases(u32::MAX)?
            .into_iter()
            .find(|c| c.case_no == case)
        {
            Some(c) => Ok(c.id),
            None => usage(format!("本地库中没有案件 {case}（请先同步）")),
        }
    }

    /// The slip PDF of a decided case (同意 or 不同意), from the local
    /// record, every signature checked first.
    pub fn slip_pdf(&self, case: &Uuid) -> Result<(String, Vec<u8>)> {
        let Some(state) = self.store.case(case)? else {
            return usage("本地库中没有该案件，请先同步");
        };
        if !matches!(state.status, Status::Approved | Status::Rejected) {
            return usage(format!(
                "案件 {} 尚未审批完毕（{}），不能出具结果通知单",
                state.case_no,
                state.status.label()
            ));
        }
        let font = jingwu_slip::font::CjkFont::locate().map_err(slip_err)?;
        let fonts = jingwu_slip::pdf::FontSet::new(&font).map_err(slip_err)?;
        // Stamped with the registered seals this station holds; the record
        // is verified there (a record that no longer verifies gets no slip).
        let pdf = crate::seals::slip_pdf(&self.store, &self.reg, case, &font, &fonts)?;
        Ok((state.case_no, pdf))
    }

    /// A blank 户口变更登记表 for a draft of this user's, carrying the QR
    /// `JWF1:<form id>` of the draft: filled in by hand, stamped by the
    /// village committee and scanned back, it finds its draft again.
    pub fn blank_form_pdf(&self, case: &Uuid) -> Result<(String, Vec<u8>)> {
        let Some(state) = self.store.case(case)? else {
            return usage("本地库中没有该案件，请先同步");
        };
        let me = self.person()?;
        if !state
            .allowed_actions(&me, &self.reg, time::OffsetDateTime::now_utc())
            .can_attach
        {
            return usage(format!(
                "案件 {} 当前不能补充扫描件，无需打印空白登记表",
                state.case_no
            ));
        }
        let font = jingwu_slip::font::CjkFont::locate().map_err(slip_err)?;
        let fonts = jingwu_slip::pdf::FontSet::new(&font).map_err(slip_err)?;
        let doc = jingwu_slip::slip::blank_form(&self.reg, &state.unit, &Station::form_id(case))
            .map_err(slip_err)?;
        let pdf = jingwu_slip::pdf::render(&doc, &fonts).map_err(slip_err)?;
        Ok((state.case_no, pdf))
    }

    /// Checks a slip offline — a PDF, or a photo or scan of the printed
    /// page — against the approvers' keys in this store; when this store
    /// holds the case too, the slip must match the record and the record
    /// must still verify. `Err` says why the slip is not genuine.
    pub fn verify_slip(&self, bytes: &[u8]) -> Result<SlipCheck> {
        if bytes.is_empty() {
            return usage("无效：文件为空");
        }
        let key_of = |author: &str, fp: &str| self.store.public_key(author, fp).ok().flatten();
        let verdict = jingwu_slip::slip::verify_slip_file(bytes, &self.reg, key_of)
            .map_err(|e| StationError::Usage(format!("无效：{e}")))?;
        let p = &verdict.payload;
        let mut matched = false;
        if let Some(state) = self.store.case(&p.case_id)? {
            let events = self
                .store
                .verified_events(&p.case_id)
                .map_err(|e| StationError::Usage(format!("无效：本机案件记录已被改动：{e}")))?;
            let final_hex = hex::encode(p.final_hash);
            if !events.iter().any(|e| e.hash_hex() == final_hex) {
                return usage("无效：本机案件记录中没有通知单所载的审批事件，记录或通知单已被改动");
            }
            if state.case_no != p.case_no {
                return usage("无效：通知单编号与案件记录不符");
            }
            matched = true;
        }
        Ok(SlipCheck {
            case_id: p.case_id,
            case_no: p.case_no.clone(),
            summary: p.summary.clone(),
            result: match p.result {
                SlipResult::Approved => "同意",
                SlipResult::Rejected => "不同意",
            }
            .to_string(),
            decisions: verdict.decisions.clone(),
            matched_local_record: matched,
            page_check: verdict.page,
        })
    }
}

fn slip_err(e: impl std::fmt::Display) -> StationError {
    StationError::Usage(e.to_string())
}
