//! What the applicant of a 户口变更 is told from outside the police
//! network: the hub's public status page (status and date of the last
//! change, found by 受理编号 + the last four characters of the applicant's
//! ID number) and the SMS sent when the result is final. Pure: the hub
//! stores and sends what these functions decide.
//!
//! Deliberately absent: names, form values, opinions, the step a case
//! waits at. A 110 record and a draft are never shown.

use time::{Date, OffsetDateTime};

use crate::case::{CaseState, Status};
use crate::form::CaseType;
use crate::SHANGHAI;

/// The form field holding the applicant's 公民身份号码.
pub const APPLICANT_ID_FIELD: &str = "applicant_id";
/// The form field holding the applicant's phone (申报人联系电话).
pub const APPLICANT_PHONE_FIELD: &str = "applicant_phone";

/// What the status page may show of one case, and the key it is found by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicStatus {
    pub case_no: String,
    /// The last four characters of the applicant's ID number, `X`
    /// upper-case.
    pub id_tail: String,
    pub status: Status,
    /// The local (Asia/Shanghai) date of the last change.
    pub changed_on: Date,
}

impl PublicStatus {
    /// The public face of a case: `None` for a 110 record, a draft, or a
    /// form without a usable applicant ID number.
    pub fn of(s: &CaseState) -> Option<PublicStatus> {
        if s.case_type != CaseType::HukouChange || s.status == Status::Draft {
            return None;
        }
        let id = s.form.get(APPLICANT_ID_FIELD)?.as_str()?;
        Some(PublicStatus {
            case_no: s.case_no.clone(),
            id_tail: id_tail(id)?,
            status: s.status,
            changed_on: local_date(s.updated_at),
        })
    }

    /// The status as the page says it: the core's label.
    pub fn label(&self) -> &'static str {
        self.status.label()
    }
}

/// The local date of a time, `YYYY-MM-DD`.
pub fn date_text(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn local_date(t: OffsetDateTime) -> Date {
    t.to_offset(SHANGHAI).date()
}

/// The last four characters of an ID number as entered or stored (digits,
/// the last one may be `X` or `x`), normalised to upper-case `X`; `None`
/// when they are not of that form.
pub fn id_tail(s: &str) -> Option<String> {
    let chars: Vec<char> = s.trim().chars().collect();
    let tail = chars.get(chars.len().checked_sub(4)?..)?;
    let ok = tail
        .iter()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || (i == 3 && matches!(c, 'X' | 'x')));
    ok.then(|| tail.iter().map(char::to_ascii_uppercase).collect())
}

/// A 受理编号 as a citizen types it (spaces around it, lower-case hex),
/// normalised; `None` when it is not a case number at all.
pub fn case_no(s: &str) -> Option<String> {
    let n = s.trim().to_ascii_uppercase();
    (n.len() <= 64 && crate::caseno::CaseNo::parse(&n).is_ok()).then_some(n)
}

/// Whether two normalised tails are equal, in time independent of where
/// they differ (both are 4 ASCII bytes; other lengths never match, also
/// compared over 4 bytes).
pub fn tails_match(stored: &str, given: &str) -> bool {
    let (a, b) = (stored.as_bytes(), given.as_bytes());
    let mut diff = u8::from(a.len() != 4) | u8::from(b.len() != 4);
    for i in 0..4 {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xFF);
    }
    std::hint::black_box(diff) == 0
}

/// The SMS that tells the applicant the final result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultNotice {
    pub case_no: String,
    /// The applicant's mobile number, digits only.
    pub phone: String,
    /// 同意 (approved) or 不同意.
    pub agreed: bool,
    /// The local date the result became final.
    pub date: Date,
}

impl ResultNotice {
    /// The notice owed when an event takes a 户口变更 from `before` to
    /// `after`: the case became final ([`CaseState::is_final`]) with a
    /// result (approved or disagreed; a cancellation tells no one), and
    /// the form carries a mobile number (a fixed line or 无 gets no SMS).
    pub fn on_change(before: Option<&CaseState>, after: &CaseState) -> Option<ResultNotice> {
        if after.case_type != CaseType::HukouChange || !after.is_final() {
            return None;
        }
        if before.is_some_and(CaseState::is_final) {
            return None;
        }
        let agreed = match after.status {
            Status::Approved => true,
            Status::Rejected => false,
            _ => return None,
        };
        let phone = mobile(after.form.get(APPLICANT_PHONE_FIELD)?.as_str()?)?;
        Some(ResultNotice {
            case_no: after.case_no.clone(),
            phone,
            agreed,
            date: local_date(after.updated_at),
        })
    }

    /// The result as the SMS says it.
    pub fn result_text(&self) -> &'static str {
        if self.agreed {
            "同意"
        } else {
            "不同意"
        }
    }
}

/// A mainland mobile number's 11 digits (spaces and dashes dropped), if
/// `s` is one.
fn mobile(s: &str) -> Option<String> {
    let d: String = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let b = d.as_bytes();
    let ok = b.len() == 11
        && b.iter().all(u8::is_ascii_digit)
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1]);
    ok.then_some(d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn tails_are_normalised_and_checked() {
        assert_eq!(id_tail("52263419900101123x").as_deref(), Some("123X"));
        assert_eq!(id_tail(" 0044 ").as_deref(), Some("0044"));
        assert_eq!(id_tail("12X4"), None);
        assert_eq!(id_tail("123"), None);
        assert_eq!(id_tail("１２３４"), None);
        assert!(tails_match("123X", "123X"));
        assert!(!tails_match("123X", "1230"));
        assert!(!tails_match("123X", "123"));
        assert!(!tails_match("", ""));
        assert_eq!(
            case_no(" 522634580000-20261127-3fa90c1b-0001 ").as_deref(),
            Some("522634580000-20261127-3FA90C1B-0001")
        );
        assert_eq!(case_no("x' OR 1=1"), None);
    }

    #[test]
    fn mobiles_only() {
        assert_eq!(mobile("139 8550-0123").as_deref(), Some("13985500123"));
        assert_eq!(mobile("0855-3331234"), None);
        assert_eq!(mobile("无"), None);
        assert_eq!(mobile("12985500123"), None);
    }
}
