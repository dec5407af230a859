//! Time-limit reminders of 户口变更 steps: the assignee is told one
//! working day before a step's time limit runs out and again once it has,
//! with a copy to the leaders above the step ([`CaseState::step_leaders`]).
//!
//! Pure: `now` is a parameter; which alerts were already shown is the
//! caller's to keep (the station keeps it in its store and shows each alert
//! once, see `jingwu_station::Station::take_due_alerts`). An alert is
//! identified by its case, the step instance ([`DueAlert::step_key`]: a
//! step entered again — after a return and a new submission — is a new
//! instance with new alerts), its kind and the person.
//!
//! When: the due time is the end of a working day D in China
//! ([`crate::workdays::deadline`]). The reminder is due from the start
//! (00:00 China time) of the last working day before D
//! ([`remind_from`]) until the due time; after the due time only the
//! overdue alert is given (a station that first sees a step late does not
//! also remind of what is already past).

use serde::Serialize;
use time::{Date, OffsetDateTime, Time};
use uuid::Uuid;

use crate::case::CaseState;
use crate::form::CaseType;
use crate::registry::Registry;
use crate::workdays::{WorkCalendar, CHINA_OFFSET};

/// Which alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// One working day before the due date.
    DueSoon,
    /// The time limit has run out.
    Overdue,
}

impl AlertKind {
    /// The stable name kept by stores: `due_soon`, `overdue`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::DueSoon => "due_soon",
            AlertKind::Overdue => "overdue",
        }
    }
}

/// Why the person gets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertRole {
    /// The step waits for them.
    Assignee,
    /// A copy: they are a leader above the step.
    Leader,
}

/// One reminder for one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DueAlert {
    pub case_id: Uuid,
    pub case_no: String,
    /// The step's id in the workflow.
    pub step: String,
    /// When the step began (with `step`, the step instance).
    #[serde(with = "time::serde::rfc3339")]
    pub step_since: OffsetDateTime,
    pub kind: AlertKind,
    pub role: AlertRole,
    /// Whom it is for.
    pub person: String,
    /// The step's due time (end of a working day, China time).
    #[serde(with = "time::serde::rfc3339")]
    pub due: OffsetDateTime,
    /// The notification's title and text, in Chinese.
    pub title: String,
    pub body: String,
}

impl DueAlert {
    /// The step instance: `<step id>@<step start, Unix nanoseconds>`.
    #[must_use]
    pub fn step_key(&self) -> String {
        format!("{}@{}", self.step, self.step_since.unix_timestamp_nanos())
    }
}

/// From when the reminder of a step due at `due` is given: the start
/// (00:00 China time) of the last working day before the day `due` falls
/// on in China.
#[must_use]
pub fn remind_from(due: OffsetDateTime, calendar: &WorkCalendar) -> OffsetDateTime {
    let day = due
        .checked_to_offset(CHINA_OFFSET)
        .map_or(Date::MAX, OffsetDateTime::date);
    calendar
        .previous_workday(day)
        .with_time(Time::MIDNIGHT)
        .assume_offset(CHINA_OFFSET)
}

/// Which alert is due at `now` for a step due at `due` with its reminder
/// from `from`: none before `from`, the reminder until `due` (inclusive),
/// the overdue alert after it.
#[must_use]
pub fn alert_kind(
    due: OffsetDateTime,
    from: OffsetDateTime,
    now: OffsetDateTime,
) -> Option<AlertKind> {
    if now > due {
        Some(AlertKind::Overdue)
    } else if now >= from {
        Some(AlertKind::DueSoon)
    } else {
        None
    }
}

fn person_names(reg: &Registry, ids: &[String]) -> String {
    ids.iter()
        .map(|id| reg.org.person(id).map_or(id.as_str(), |p| p.name.as_str()))
        .collect::<Vec<_>>()
        .join("、")
}

fn date_text(t: OffsetDateTime) -> String {
    let d = t.to_offset(CHINA_OFFSET).date();
    format!("{}年{}月{}日", d.year(), u8::from(d.month()), d.day())
}

/// The alerts due at `now` for `me` among `cases`: for every 户口变更 in
/// review whose current step waits for `me` (as [`AlertRole::Assignee`])
/// or that `me` is a leader above ([`AlertRole::Leader`]), the reminder or
/// the overdue alert by [`alert_kind`]. Whether one was shown before is
/// not known here.
pub fn due_alerts<'a>(
    reg: &Registry,
    cases: impl IntoIterator<Item = &'a CaseState>,
    me: &str,
    now: OffsetDateTime,
) -> Vec<DueAlert> {
    let calendar = reg.calendar();
    let mut out = Vec::new();
    for s in cases {
        if s.case_type != CaseType::HukouChange {
            continue;
        }
        let (Some(due), Some(step)) = (s.step_deadline(reg, calendar), s.current_step(reg)) else {
            continue;
        };
        let Some(kind) = alert_kind(due, remind_from(due, calendar), now) else {
            continue;
        };
        let assignees = s.assignees(reg);
        let role = if assignees.iter().any(|a| a == me) {
            AlertRole::Assignee
        } else if s.step_leaders(reg).iter().any(|l| l == me) {
            AlertRole::Leader
        } else {
            continue;
        };
        let what = format!("{} {}：“{}”", s.case_no, s.display_summary(), step.name);
        let date = date_text(due);
        let (title, body) = match (kind, role) {
            (AlertKind::DueSoon, AlertRole::Assignee) => (
                "办理时限提醒",
                format!("{what}将于 {date} 到期，请及时办理。"),
            ),
            (AlertKind::Overdue, AlertRole::Assignee) => (
                "已超期 · 请尽快办理",
                format!("{what}已于 {date} 到期，请尽快办理。"),
            ),
            (AlertKind::DueSoon, AlertRole::Leader) => (
                "办理时限提醒（抄送）",
                format!(
                    "{what}（{}）将于 {date} 到期。",
                    person_names(reg, &assignees)
                ),
            ),
            (AlertKind::Overdue, AlertRole::Leader) => (
                "超期督办（抄送）",
                format!(
                    "{what}（{}）已于 {date} 到期未办，请督促办理。",
                    person_names(reg, &assignees)
                ),
            ),
        };
        out.push(DueAlert {
            case_id: s.case_id,
            case_no: s.case_no.clone(),
            step: step.id.clone(),
            step_since: s.step_since,
            kind,
            role,
            person: me.to_string(),
            due,
            title: title.to_string(),
            body,
        });
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    fn cal() -> WorkCalendar {
        Registry::builtin_demo().unwrap().calendar().clone()
    }

    #[test]
    fn reminder_day_skips_national_day() {
        let c = cal();
        // Due Thursday 2026-10-08, the first working day after 国庆节: the
        // reminder is from Wednesday 09-30, before the holiday.
        let due = crate::workdays::deadline(datetime!(2026-09-29 10:00 +8), 2, &c);
        assert_eq!(due.date(), date!(2026 - 10 - 08));
        assert_eq!(remind_from(due, &c), datetime!(2026-09-30 00:00 +8));
        // Due Monday 10-12: the day before is the make-up Saturday 10-10.
        let due = crate::workdays::deadline(datetime!(2026-09-29 10:00 +8), 5, &c);
        assert_eq!(due.date(), date!(2026 - 10 - 12));
        assert_eq!(remind_from(due, &c), datetime!(2026-10-10 00:00 +8));
        // An ordinary Tuesday: Monday.
        assert_eq!(
            remind_from(datetime!(2026-11-03 23:59:59.999_999_999 +8), &c),
            datetime!(2026-11-02 00:00 +8)
        );
    }

    #[test]
    fn kind_by_time() {
        let due = datetime!(2026-10-12 23:59:59.999_999_999 +8);
        let from = datetime!(2026-10-10 00:00 +8);
        assert_eq!(alert_kind(due, from, datetime!(2026-10-09 23:59 +8)), None);
        assert_eq!(
            alert_kind(due, from, from),
            Some(AlertKind::DueSoon),
            "from the first instant of the day before"
        );
        assert_eq!(alert_kind(due, from, due), Some(AlertKind::DueSoon));
        assert_eq!(
            alert_kind(due, from, datetime!(2026-10-12 16:00 UTC)),
            Some(AlertKind::Overdue),
            "midnight in China"
        );
    }

    proptest! {
        /// The reminder starts on a working day before the due day, with
        /// no working day between them.
        #[test]
        fn reminder_is_the_working_day_before(start in 0i64..(730 * 86_400), n in 1u32..40) {
            let c = cal();
            let start = datetime!(2026-01-01 00:00 +8) + time::Duration::seconds(start);
            let due = crate::workdays::deadline(start, n, &c);
            let from = remind_from(due, &c);
            prop_assert!(from < due);
            prop_assert_eq!(from.time(), Time::MIDNIGHT);
            prop_assert!(c.is_workday(from.date()));
            prop_assert_eq!(c.workdays_between(from.date(), due.date()), 1);
        }

        /// At most one kind at a time; the reminder never after the due
        /// time, the overdue alert never before it.
        #[test]
        fn one_kind_at_a_time(due_s in 0i64..1_000_000, back in 0i64..400_000, now_s in -500_000i64..1_500_000) {
            let base = datetime!(2026-06-01 00:00 +8);
            let due = base + time::Duration::seconds(due_s);
            let from = due - time::Duration::seconds(back);
            let now = base + time::Duration::seconds(now_s);
            match alert_kind(due, from, now) {
                Some(AlertKind::DueSoon) => prop_assert!(from <= now && now <= due),
                Some(AlertKind::Overdue) => prop_assert!(now > due),
                None => prop_assert!(now < from),
            }
        }
    }
}
