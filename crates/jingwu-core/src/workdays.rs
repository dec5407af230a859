//! Time limits counted in working days (工作日).
//!
//! A [`WorkCalendar`] is Monday–Friday, minus public holidays, plus the
//! official make-up working days (调休, always a Saturday or Sunday). The
//! State Council publishes the arrangement each year (国务院办公厅关于
//! 20XX年部分节假日安排的通知); each year is data, a [`YearCalendar`] that
//! cites its notice. The published years ship in `data/calendar.json` and
//! are part of the registry (`Registry::calendar`); later years are merged
//! in with `Registry::import_calendar_json`. A plain calendar's JSON form:
//!
//! ```json
//! {"holidays": ["2026-10-01", "2026-10-02"], "extra_workdays": ["2026-09-27"]}
//! ```
//!
//! (dates `YYYY-MM-DD`; both fields optional; unknown fields rejected).
//! A holiday may fall on a weekend (official holiday ranges often do); a
//! date may not be both a holiday and a make-up working day.
//!
//! Counting rule: the day a time limit starts is not counted; the deadline
//! of "n working days" is the n-th working day after it, to the end of that
//! day in China Standard Time (UTC+08:00, Asia/Shanghai has no DST).

use std::collections::BTreeSet;
use std::ops::Bound;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::BorrowedFormatItem;
use time::{Date, OffsetDateTime, Time, UtcOffset, Weekday};

/// China Standard Time, the offset of Asia/Shanghai (no DST since 1991).
pub const CHINA_OFFSET: UtcOffset = time::macros::offset!(+8);

/// The last instant of a day.
const END_OF_DAY: Time = time::macros::time!(23:59:59.999_999_999);

/// `YYYY-MM-DD`.
const DATE_FORMAT: &[BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// Why a calendar is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkCalendarError {
    /// A date string that is not `YYYY-MM-DD` or not a real date.
    #[error("日期“{value}”无效，应为 YYYY-MM-DD 格式的有效日期，例如 2026-10-01")]
    BadDate {
        /// The offending text.
        value: String,
    },
    /// The same date listed as holiday and as make-up working day.
    #[error("日期 {date} 同时被列为节假日和调休工作日")]
    Conflict {
        /// The date.
        date: Date,
    },
    /// A make-up working day that is a weekday (it would change nothing).
    #[error("调休工作日 {date} 不是周六或周日")]
    ExtraWorkdayNotWeekend {
        /// The date.
        date: Date,
    },
    /// A year's arrangement with a year out of the supported range.
    #[error("年份 {year} 无效，应在 {MIN_YEAR} 至 {MAX_YEAR} 之间")]
    BadYear {
        /// The year given.
        year: i32,
    },
    /// A year's arrangement without its source.
    #[error("{year} 年放假安排未注明来源：请写明国务院办公厅通知的标题、文号和发布日期")]
    NoSource {
        /// The year.
        year: i32,
    },
    /// A year's arrangement without any holiday.
    #[error("{year} 年放假安排没有列出任何节假日")]
    NoHolidays {
        /// The year.
        year: i32,
    },
    /// A date outside the year it is listed under (December of the year
    /// before is allowed: a notice can make a late-December weekend a
    /// working day before 元旦).
    #[error("日期 {date} 不属于 {year} 年的放假安排")]
    OutsideYear {
        /// The date.
        date: Date,
        /// The year it was listed under.
        year: i32,
    },
}

/// The first year a [`YearCalendar`] may be for.
pub const MIN_YEAR: i32 = 2000;
/// The last year a [`YearCalendar`] may be for.
pub const MAX_YEAR: i32 = 2200;

/// Which days are working days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    holidays: BTreeSet<Date>,
    extra_workdays: BTreeSet<Date>,
}

fn is_weekend(d: Date) -> bool {
    matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// Number of Monday–Friday days with Julian day number `< j`, counted from
/// Julian day 0 (a Monday); negative for `j < 0`. Differences of this
/// function count weekdays in a half-open range.
fn weekdays_before(j: i64) -> i64 {
    5 * j.div_euclid(7) + j.rem_euclid(7).min(5)
}

impl WorkCalendar {
    /// Monday–Friday, no holidays.
    #[must_use]
    pub fn weekends_only() -> WorkCalendar {
        WorkCalendar::default()
    }

    /// A calendar from holiday dates and make-up working days (调休).
    ///
    /// # Errors
    /// [`WorkCalendarError::Conflict`] if a date is in both lists,
    /// [`WorkCalendarError::ExtraWorkdayNotWeekend`] if a make-up working
    /// day is not a Saturday or Sunday.
    pub fn new(
        holidays: impl IntoIterator<Item = Date>,
        extra_workdays: impl IntoIterator<Item = Date>,
    ) -> Result<WorkCalendar, WorkCalendarError> {
        let holidays: BTreeSet<Date> = holidays.into_iter().collect();
        let extra_workdays: BTreeSet<Date> = extra_workdays.into_iter().collect();
        for &date in &extra_workdays {
            if holidays.contains(&date) {
                return Err(WorkCalendarError::Conflict { date });
            }
            if !is_weekend(date) {
                return Err(WorkCalendarError::ExtraWorkdayNotWeekend { date });
            }
        }
        Ok(WorkCalendar {
            holidays,
            extra_workdays,
        })
    }

    /// The public holidays.
    #[must_use]
    pub fn holidays(&self) -> &BTreeSet<Date> {
        &self.holidays
    }

    /// The make-up working days (调休).
    #[must_use]
    pub fn extra_workdays(&self) -> &BTreeSet<Date> {
        &self.extra_workdays
    }

    /// Whether `date` is a working day.
    #[must_use]
    pub fn is_workday(&self, date: Date) -> bool {
        if self.extra_workdays.contains(&date) {
            return true;
        }
        !self.holidays.contains(&date) && !is_weekend(date)
    }

    /// The n-th working day after `start` (`start` itself is not counted;
    /// `n = 0` gives `start`). For `n ≥ 1` the result is a working day.
    ///
    /// Saturates at [`Date::MAX`] (9999-12-31) if the count runs past it.
    #[must_use]
    pub fn add_workdays(&self, start: Date, n: u32) -> Date {
        let mut day = start;
        let mut left = n;
        while left > 0 {
            match day.next_day() {
                Some(next) => day = next,
                None => return Date::MAX,
            }
            if self.is_workday(day) {
                left -= 1;
            }
        }
        day
    }

    /// The last working day before `date` (`date` itself not counted).
    ///
    /// Saturates at [`Date::MIN`] if the search runs past it.
    #[must_use]
    pub fn previous_workday(&self, date: Date) -> Date {
        let mut day = date;
        loop {
            match day.previous_day() {
                Some(prev) => day = prev,
                None => return Date::MIN,
            }
            if self.is_workday(day) {
                return day;
            }
        }
    }

    /// The number of working days in `(a, b]`; negative (minus the number
    /// in `(b, a]`) when `b < a`. Runs in time proportional to the number
    /// of holidays and make-up days in the range, not its length.
    #[must_use]
    pub fn workdays_between(&self, a: Date, b: Date) -> i64 {
        if b < a {
            return -self.workdays_between(b, a);
        }
        let ja = i64::from(a.to_julian_day());
        let jb = i64::from(b.to_julian_day());
        let mut count = weekdays_before(jb + 1) - weekdays_before(ja + 1);
        let range = (Bound::Excluded(a), Bound::Included(b));
        let correction = |d: &Date| i64::from(self.is_workday(*d)) - i64::from(!is_weekend(*d));
        count += self.holidays.range(range).map(correction).sum::<i64>();
        count += self
            .extra_workdays
            .range(range)
            .filter(|d| !self.holidays.contains(d))
            .map(correction)
            .sum::<i64>();
        count
    }
}

/// The deadline of a time limit of `n` working days starting at `start`:
/// the end (23:59:59.999999999) of the n-th working day after the day
/// `start` falls on in China Standard Time, as a `+08:00` date-time.
///
/// Saturates at the end of 9999-12-31 (see [`WorkCalendar::add_workdays`]).
#[must_use]
pub fn deadline(start: OffsetDateTime, n: u32, calendar: &WorkCalendar) -> OffsetDateTime {
    let start_day = start
        .checked_to_offset(CHINA_OFFSET)
        .map_or(Date::MAX, OffsetDateTime::date);
    calendar
        .add_workdays(start_day, n)
        .with_time(END_OF_DAY)
        .assume_offset(CHINA_OFFSET)
}

/// The JSON form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarWire {
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(default)]
    extra_workdays: Vec<String>,
}

fn format_date(d: Date) -> String {
    // Years 0..=9999 always format; fall back to Display otherwise.
    d.format(DATE_FORMAT).unwrap_or_else(|_| d.to_string())
}

fn parse_date(s: &str) -> Result<Date, WorkCalendarError> {
    Date::parse(s, DATE_FORMAT).map_err(|_| WorkCalendarError::BadDate {
        value: s.chars().take(40).collect(),
    })
}

impl TryFrom<CalendarWire> for WorkCalendar {
    type Error = WorkCalendarError;

    fn try_from(wire: CalendarWire) -> Result<Self, Self::Error> {
        let holidays = wire
            .holidays
            .iter()
            .map(|s| parse_date(s))
            .collect::<Result<Vec<_>, _>>()?;
        let extra = wire
            .extra_workdays
            .iter()
            .map(|s| parse_date(s))
            .collect::<Result<Vec<_>, _>>()?;
        WorkCalendar::new(holidays, extra)
    }
}

impl Serialize for WorkCalendar {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        CalendarWire {
            holidays: self.holidays.iter().map(|d| format_date(*d)).collect(),
            extra_workdays: self
                .extra_workdays
                .iter()
                .map(|d| format_date(*d))
                .collect(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for WorkCalendar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = CalendarWire::deserialize(deserializer)?;
        WorkCalendar::try_from(wire).map_err(serde::de::Error::custom)
    }
}

/// One year's official arrangement (放假调休安排): the holidays and make-up
/// working days of one State Council notice, with the notice cited.
///
/// JSON: `{"year": 2026, "source": "国务院办公厅关于2026年部分节假日安排的通知（国办发明电〔2025〕7号）…",
/// "holidays": ["2026-01-01", …], "extra_workdays": ["2026-01-04", …]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCalendar {
    year: i32,
    source: String,
    calendar: WorkCalendar,
}

impl YearCalendar {
    /// A year's arrangement, checked: the year in range, a source cited, at
    /// least one holiday, every date in `year` (or December of the year
    /// before), and the rules of [`WorkCalendar::new`].
    ///
    /// # Errors
    /// The first rule broken, as a [`WorkCalendarError`].
    pub fn new(
        year: i32,
        source: &str,
        holidays: impl IntoIterator<Item = Date>,
        extra_workdays: impl IntoIterator<Item = Date>,
    ) -> Result<YearCalendar, WorkCalendarError> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return Err(WorkCalendarError::BadYear { year });
        }
        let source = source.trim();
        if source.is_empty() {
            return Err(WorkCalendarError::NoSource { year });
        }
        let calendar = WorkCalendar::new(holidays, extra_workdays)?;
        if calendar.holidays.is_empty() {
            return Err(WorkCalendarError::NoHolidays { year });
        }
        let belongs = |d: &Date| {
            d.year() == year || (d.year() == year - 1 && d.month() == time::Month::December)
        };
        if let Some(&date) = calendar
            .holidays
            .iter()
            .chain(&calendar.extra_workdays)
            .find(|d| !belongs(d))
        {
            return Err(WorkCalendarError::OutsideYear { date, year });
        }
        Ok(YearCalendar {
            year,
            source: source.to_string(),
            calendar,
        })
    }

    /// The year.
    #[must_use]
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The notice it comes from.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Its holidays and make-up working days.
    #[must_use]
    pub fn calendar(&self) -> &WorkCalendar {
        &self.calendar
    }

    /// Parses a JSON file of one year (an object) or of several (an array
    /// of objects), each checked as by [`YearCalendar::new`].
    ///
    /// # Errors
    /// A message in Chinese naming what is wrong.
    pub fn parse_json(json: &str) -> Result<Vec<YearCalendar>, String> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("不是有效的 JSON：{e}"))?;
        let wires = match value {
            serde_json::Value::Array(_) => {
                serde_json::from_value::<Vec<YearWire>>(value).map_err(|e| e.to_string())?
            }
            _ => vec![serde_json::from_value::<YearWire>(value).map_err(|e| e.to_string())?],
        };
        wires
            .into_iter()
            .map(|w| YearCalendar::try_from(w).map_err(|e| e.to_string()))
            .collect()
    }
}

/// The JSON form of a [`YearCalendar`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct YearWire {
    year: i32,
    source: String,
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(default)]
    extra_workdays: Vec<String>,
}

impl TryFrom<YearWire> for YearCalendar {
    type Error = WorkCalendarError;

    fn try_from(w: YearWire) -> Result<Self, Self::Error> {
        let parse = |v: &[String]| {
            v.iter()
                .map(|s| parse_date(s))
                .collect::<Result<Vec<_>, _>>()
        };
        YearCalendar::new(
            w.year,
            &w.source,
            parse(&w.holidays)?,
            parse(&w.extra_workdays)?,
        )
    }
}

impl Serialize for YearCalendar {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let dates = |set: &BTreeSet<Date>| set.iter().map(|d| format_date(*d)).collect();
        YearWire {
            year: self.year,
            source: self.source.clone(),
            holidays: dates(&self.calendar.holidays),
            extra_workdays: dates(&self.calendar.extra_workdays),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for YearCalendar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = YearWire::deserialize(deserializer)?;
        YearCalendar::try_from(wire).map_err(serde::de::Error::custom)
    }
}

impl WorkCalendar {
    /// The union of several years' arrangements.
    ///
    /// # Errors
    /// [`WorkCalendarError::Conflict`] if one year makes a date a holiday
    /// and another a make-up working day.
    pub fn union<'a>(
        years: impl IntoIterator<Item = &'a YearCalendar> + Clone,
    ) -> Result<WorkCalendar, WorkCalendarError> {
        WorkCalendar::new(
            years
                .clone()
                .into_iter()
                .flat_map(|y| y.calendar.holidays.iter().copied()),
            years
                .into_iter()
                .flat_map(|y| y.calendar.extra_workdays.iter().copied()),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    /// A made-up calendar for tests — not the official one.
    fn test_calendar() -> WorkCalendar {
        serde_json::from_str(
            r#"{"holidays": ["2026-10-01","2026-10-02","2026-10-03","2026-10-04",
                             "2026-10-05","2026-10-06","2026-10-07"],
                "extra_workdays": ["2026-09-27", "2026-10-10"]}"#,
        )
        .unwrap()
    }

    #[test]
    fn weekends_only() {
        let c = WorkCalendar::weekends_only();
        assert!(c.is_workday(date!(2026 - 05 - 15))); // Friday
        assert!(!c.is_workday(date!(2026 - 05 - 16))); // Saturday
        assert!(!c.is_workday(date!(2026 - 05 - 17))); // Sunday
        assert!(c.is_workday(date!(2026 - 05 - 18))); // Monday
        assert_eq!(
            c.add_workdays(date!(2026 - 05 - 15), 0),
            date!(2026 - 05 - 15)
        );
        assert_eq!(
            c.add_workdays(date!(2026 - 05 - 15), 1),
            date!(2026 - 05 - 18)
        );
        assert_eq!(
            c.add_workdays(date!(2026 - 05 - 16), 1),
            date!(2026 - 05 - 18)
        );
        assert_eq!(
            c.add_workdays(date!(2026 - 05 - 18), 5),
            date!(2026 - 05 - 25)
        );
        // 20 working days from a Monday: four weeks later.
        assert_eq!(
            c.add_workdays(date!(2026 - 05 - 18), 20),
            date!(2026 - 06 - 15)
        );
        assert_eq!(
            c.workdays_between(date!(2026 - 05 - 15), date!(2026 - 05 - 18)),
            1
        );
        assert_eq!(
            c.workdays_between(date!(2026 - 05 - 18), date!(2026 - 05 - 15)),
            -1
        );
        assert_eq!(
            c.workdays_between(date!(2026 - 05 - 16), date!(2026 - 05 - 17)),
            0
        );
        assert_eq!(
            c.workdays_between(date!(2026 - 05 - 18), date!(2026 - 05 - 18)),
            0
        );
        assert_eq!(
            c.workdays_between(date!(2025 - 12 - 31), date!(2026 - 12 - 31)),
            261
        );
    }

    #[test]
    fn holidays_and_make_up_days() {
        let c = test_calendar();
        assert!(c.is_workday(date!(2026 - 09 - 27))); // make-up Sunday
        assert!(!c.is_workday(date!(2026 - 10 - 01))); // holiday Thursday
        assert!(!c.is_workday(date!(2026 - 10 - 04))); // holiday Sunday
        assert!(c.is_workday(date!(2026 - 10 - 10))); // make-up Saturday
                                                      // From Friday 09-25: Sun 09-27, Mon 28, Tue 29, Wed 30, then Thu 10-08.
        assert_eq!(
            c.add_workdays(date!(2026 - 09 - 25), 1),
            date!(2026 - 09 - 27)
        );
        assert_eq!(
            c.add_workdays(date!(2026 - 09 - 25), 4),
            date!(2026 - 09 - 30)
        );
        assert_eq!(
            c.add_workdays(date!(2026 - 09 - 25), 5),
            date!(2026 - 10 - 08)
        );
        assert_eq!(
            c.add_workdays(date!(2026 - 09 - 30), 3),
            date!(2026 - 10 - 10)
        );
        assert_eq!(
            c.add_workdays(date!(2026 - 09 - 30), 4),
            date!(2026 - 10 - 12)
        );
        assert_eq!(
            c.workdays_between(date!(2026 - 09 - 25), date!(2026 - 10 - 12)),
            8
        );
        let plain = WorkCalendar::weekends_only();
        assert_eq!(
            plain.workdays_between(date!(2026 - 09 - 25), date!(2026 - 10 - 12)),
            11
        );
    }

    #[test]
    fn deadline_end_of_day_in_china() {
        let c = WorkCalendar::weekends_only();
        // Friday 20:00 UTC is Saturday 04:00 in China: the count starts Saturday.
        let d = deadline(datetime!(2026-05-15 20:00 UTC), 1, &c);
        assert_eq!(d, datetime!(2026-05-18 23:59:59.999_999_999 +8));
        assert_eq!(d.offset(), CHINA_OFFSET);
        // Friday 15:00 UTC is Friday 23:00 in China.
        let d = deadline(datetime!(2026-05-15 15:00 UTC), 1, &c);
        assert_eq!(d, datetime!(2026-05-18 23:59:59.999_999_999 +8));
        let d = deadline(datetime!(2026-05-18 09:30 +8), 0, &c);
        assert_eq!(d, datetime!(2026-05-18 23:59:59.999_999_999 +8));
        let d = deadline(datetime!(2026-05-18 09:30 +8), 20, &c);
        assert_eq!(d, datetime!(2026-06-15 23:59:59.999_999_999 +8));
        assert!(datetime!(2026-06-16 00:00 +8) > d);
        // Saturation, no panic.
        let end = deadline(datetime!(9999-12-31 23:00 UTC), 3, &c);
        assert_eq!(end.date(), Date::MAX);
    }

    #[test]
    fn add_workdays_saturates() {
        let c = WorkCalendar::weekends_only();
        assert_eq!(c.add_workdays(date!(9999 - 12 - 20), 100), Date::MAX);
    }

    #[test]
    fn serde_json_form() {
        let c = test_calendar();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"holidays":["2026-10-01","2026-10-02","2026-10-03","2026-10-04","2026-10-05","2026-10-06","2026-10-07"],"extra_workdays":["2026-09-27","2026-10-10"]}"#
        );
        assert_eq!(serde_json::from_str::<WorkCalendar>(&json).unwrap(), c);
        let empty: WorkCalendar = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, WorkCalendar::weekends_only());
        assert_eq!(
            serde_json::to_string(&empty).unwrap(),
            r#"{"holidays":[],"extra_workdays":[]}"#
        );
    }

    #[test]
    fn serde_rejects_bad_data() {
        let err = |j: &str| {
            serde_json::from_str::<WorkCalendar>(j)
                .unwrap_err()
                .to_string()
        };
        assert!(err(r#"{"holiday":["2026-10-01"]}"#).contains("unknown field"));
        assert!(err(r#"{"holidays":["2026-10-1"]}"#).contains("日期“2026-10-1”无效"));
        assert!(err(r#"{"holidays":["2026-02-30"]}"#).contains("无效"));
        assert!(err(r#"{"holidays":["2026/10/01"]}"#).contains("无效"));
        assert!(err(r#"{"holidays":[20261001]}"#).contains("invalid type"));
        assert!(
            err(r#"{"holidays":["2026-09-27"],"extra_workdays":["2026-09-27"]}"#)
                .contains("日期 2026-09-27 同时被列为节假日和调休工作日")
        );
        assert!(err(r#"{"extra_workdays":["2026-09-28"]}"#)
            .contains("调休工作日 2026-09-28 不是周六或周日"));
    }

    #[test]
    fn weekday_counter() {
        // Julian day 0 is a Monday in `time`'s numbering.
        assert_eq!(Date::from_julian_day(0).unwrap().weekday(), Weekday::Monday);
        assert_eq!(weekdays_before(0), 0);
        assert_eq!(weekdays_before(5), 5);
        assert_eq!(weekdays_before(7), 5);
        assert_eq!(weekdays_before(8), 6);
        assert_eq!(weekdays_before(-1), 0);
        assert_eq!(weekdays_before(-2), 0);
        assert_eq!(weekdays_before(-3), -1);
    }

    /// The official calendar as shipped (`data/calendar.json`).
    fn official() -> WorkCalendar {
        let years = YearCalendar::parse_json(crate::registry::BUILTIN_CALENDAR_JSON).unwrap();
        WorkCalendar::union(&years).unwrap()
    }

    #[test]
    fn official_data_loads_and_cites_its_notices() {
        let years = YearCalendar::parse_json(crate::registry::BUILTIN_CALENDAR_JSON).unwrap();
        assert!(years.iter().any(|y| y.year() == 2026));
        for y in &years {
            assert!(
                y.source().contains(&format!(
                    "国务院办公厅关于{}年部分节假日安排的通知",
                    y.year()
                )) && y.source().contains("国办发明电"),
                "{} cites {}",
                y.year(),
                y.source()
            );
            // Every 调休 day is a Saturday or a Sunday, and a working day.
            for &d in y.calendar().extra_workdays() {
                assert!(is_weekend(d), "{d} is a {}", d.weekday());
            }
        }
        let reg = crate::registry::Registry::builtin_demo().unwrap();
        assert_eq!(reg.calendar(), &official());
        assert!(reg.calendar_covers(2026));
        let c = reg.calendar();
        for &d in c.extra_workdays() {
            assert!(is_weekend(d) && c.is_workday(d));
        }
        // 2026 (国办发明电〔2025〕7号): 33 days off, 6 make-up working days.
        let in_2026 = |set: &BTreeSet<Date>| set.iter().filter(|d| d.year() == 2026).count();
        assert_eq!(in_2026(c.holidays()), 33);
        assert_eq!(in_2026(c.extra_workdays()), 6);
        assert!(!c.is_workday(date!(2026 - 02 - 23))); // 春节, a Monday
        assert!(c.is_workday(date!(2026 - 02 - 28))); // Saturday, 上班
        assert!(c.is_workday(date!(2026 - 09 - 20))); // Sunday, 上班
        assert!(!c.is_workday(date!(2026 - 09 - 25))); // 中秋节, a Friday
                                                       // 2026 has 261 Monday–Friday days; 14 of the 33 holidays fall on a
                                                       // weekend (01-03, 02-15, 02-21, 02-22, 04-04, 04-05, 05-02, 05-03,
                                                       // 06-20, 06-21, 09-26, 09-27, 10-03, 10-04), so 19 weekdays are off,
                                                       // and 6 weekend days are worked: 261 − 19 + 6 = 248 working days.
        let weekend_holidays = c
            .holidays()
            .iter()
            .filter(|d| d.year() == 2026 && is_weekend(**d))
            .count();
        assert_eq!(weekend_holidays, 14);
        assert_eq!(
            c.workdays_between(date!(2025 - 12 - 31), date!(2026 - 12 - 31)),
            248
        );
    }

    #[test]
    fn five_working_days_over_national_day_2026() {
        // Started Tuesday 2026-09-29. By 国办发明电〔2025〕7号 (国庆节 10月1日
        // 至7日放假调休, 10月10日（周六）上班): Wed 09-30 is day 1; 10-01…10-07
        // are holidays; Thu 10-08 day 2, Fri 10-09 day 3, Sat 10-10 (调休)
        // day 4, Sun 10-11 rest, Mon 10-12 day 5.
        let c = official();
        assert_eq!(
            c.add_workdays(date!(2026 - 09 - 29), 5),
            date!(2026 - 10 - 12)
        );
        let due = deadline(datetime!(2026-09-29 10:30 +8), 5, &c);
        assert_eq!(due, datetime!(2026-10-12 23:59:59.999_999_999 +8));
        // Overdue exactly after the end of the due day in China.
        assert!(datetime!(2026-10-12 23:59:59.999_999_999 +8) <= due);
        assert!(datetime!(2026-10-13 00:00 +8) > due);
        assert!(datetime!(2026-10-12 16:00 UTC) > due);
        assert!(datetime!(2026-10-12 15:59:59 UTC) <= due);
        // Weekends only it would have been Tue 10-06.
        assert_eq!(
            WorkCalendar::weekends_only().add_workdays(date!(2026 - 09 - 29), 5),
            date!(2026 - 10 - 06)
        );
        // 春节: from Friday 02-13, one working day is Saturday 02-14 (上班),
        // the next Tuesday 02-24 after the nine days off.
        assert_eq!(
            c.add_workdays(date!(2026 - 02 - 13), 1),
            date!(2026 - 02 - 14)
        );
        assert_eq!(
            c.add_workdays(date!(2026 - 02 - 13), 2),
            date!(2026 - 02 - 24)
        );
    }

    #[test]
    fn year_calendar_is_checked() {
        let y = |j: &str| YearCalendar::parse_json(j).map(|v| v.len());
        let ok = r#"{"year": 2030, "source": "国务院办公厅关于2030年部分节假日安排的通知（国办发明电〔2029〕1号）",
                     "holidays": ["2030-01-01"], "extra_workdays": ["2029-12-29"]}"#;
        assert_eq!(y(ok), Ok(1));
        assert_eq!(y(&format!("[{ok}, {ok}]")), Ok(2));
        let err = |j: &str| y(j).unwrap_err();
        assert!(err("{").contains("不是有效的 JSON"));
        assert!(err(r#"{"year": 2030, "holidays": ["2030-01-01"]}"#).contains("source"));
        assert!(
            err(r#"{"year": 2030, "source": " ", "holidays": ["2030-01-01"]}"#)
                .contains("2030 年放假安排未注明来源")
        );
        assert!(err(r#"{"year": 2030, "source": "x", "holidays": []}"#)
            .contains("2030 年放假安排没有列出任何节假日"));
        assert!(
            err(r#"{"year": 1999, "source": "x", "holidays": ["1999-01-01"]}"#)
                .contains("年份 1999 无效")
        );
        assert!(
            err(r#"{"year": 2030, "source": "x", "holidays": ["2031-01-01"]}"#)
                .contains("日期 2031-01-01 不属于 2030 年的放假安排")
        );
        assert!(
            err(r#"{"year": 2030, "source": "x", "holidays": ["2029-11-30"]}"#)
                .contains("不属于 2030 年")
        );
        assert!(err(r#"{"year": 2030, "source": "x", "holidays": ["2030-01-01"], "extra_workdays": ["2030-01-02"]}"#)
            .contains("调休工作日 2030-01-02 不是周六或周日"));
        assert!(
            err(r#"{"year": 2030, "source": "x", "holidays": ["2030-1-1"]}"#)
                .contains("日期“2030-1-1”无效")
        );
        assert!(
            err(r#"{"year": 2030, "source": "x", "holiday": ["2030-01-01"]}"#)
                .contains("unknown field")
        );
        // The JSON form round-trips.
        let parsed = YearCalendar::parse_json(ok).unwrap();
        let back = serde_json::to_string(&parsed[0]).unwrap();
        assert_eq!(YearCalendar::parse_json(&back).unwrap(), parsed);
    }

    #[test]
    fn registry_merges_later_years() {
        use crate::registry::{Registry, RegistryError};
        let mut reg = Registry::builtin_demo().unwrap();
        // Made-up dates for a far year (not an official arrangement).
        let y2030 = r#"{"year": 2030, "source": "测试用（非官方）：国务院办公厅关于2030年部分节假日安排的通知",
                        "holidays": ["2030-01-01"], "extra_workdays": ["2029-12-29"]}"#;
        assert_eq!(reg.import_calendar_json(y2030).unwrap(), vec![2030]);
        assert!(reg.calendar_covers(2030) && reg.calendar_covers(2026));
        assert!(!reg.calendar().is_workday(date!(2030 - 01 - 01)));
        assert!(reg.calendar().is_workday(date!(2029 - 12 - 29)));
        assert!(!reg.calendar().is_workday(date!(2026 - 10 - 01)));
        // Again, the same: nothing changes.
        assert_eq!(reg.import_calendar_json(y2030).unwrap(), vec![2030]);
        // A known year with other dates is refused, and nothing is merged.
        let before = reg.calendar().clone();
        let other = r#"[{"year": 2031, "source": "测试用", "holidays": ["2031-01-01"]},
                        {"year": 2030, "source": "测试用", "holidays": ["2030-01-02"]}]"#;
        let e = reg.import_calendar_json(other).unwrap_err();
        assert!(
            e.to_string().contains("2030 年的放假安排已存在且日期不同"),
            "{e}"
        );
        assert!(matches!(e, RegistryError::Invalid(_)));
        assert_eq!(reg.calendar(), &before);
        assert!(!reg.calendar_covers(2031));
        // A date made a holiday by one year and a working day by another.
        let clash = r#"{"year": 2029, "source": "测试用", "holidays": ["2029-12-29"]}"#;
        let e = reg.import_calendar_json(clash).unwrap_err();
        assert!(
            e.to_string().contains("同时被列为节假日和调休工作日"),
            "{e}"
        );
        // Twice in one file.
        let twice = format!("[{y2030}, {y2030}]");
        assert!(reg
            .import_calendar_json(&twice)
            .unwrap_err()
            .to_string()
            .contains("2030 年出现了不止一次"));
        assert!(reg
            .import_calendar_json("[]")
            .unwrap_err()
            .to_string()
            .contains("没有任何年份"));
        // A registry without a calendar counts weekends only.
        let bare = Registry::new((*reg.org).clone(), (*reg.dicts).clone());
        assert_eq!(bare.calendar(), &WorkCalendar::weekends_only());
        assert!(!bare.calendar_covers(2026));
    }

    fn arb_day() -> impl Strategy<Value = Date> {
        let lo = date!(1990 - 01 - 01).to_julian_day();
        let hi = date!(2060 - 12 - 31).to_julian_day();
        (lo..=hi).prop_map(|j| Date::from_julian_day(j).unwrap())
    }

    /// Random calendars, holidays and make-up days dense around 2026.
    fn arb_calendar() -> impl Strategy<Value = WorkCalendar> {
        let base = date!(2026 - 01 - 01).to_julian_day();
        let near = move || (0i32..400).prop_map(move |o| Date::from_julian_day(base + o).unwrap());
        (
            proptest::collection::vec(near(), 0..60),
            proptest::collection::vec(near(), 0..20),
        )
            .prop_map(|(h, e)| {
                let holidays: BTreeSet<Date> = h.into_iter().collect();
                let extra = e
                    .into_iter()
                    .filter(|d| is_weekend(*d) && !holidays.contains(d))
                    .collect::<Vec<_>>();
                WorkCalendar::new(holidays, extra).unwrap()
            })
    }

    fn arb_start() -> impl Strategy<Value = Date> {
        prop_oneof![
            arb_day(),
            (0i32..400)
                .prop_map(
                    |o| Date::from_julian_day(date!(2025 - 12 - 01).to_julian_day() + o).unwrap()
                ),
        ]
    }

    proptest! {
        #[test]
        fn add_then_count(c in arb_calendar(), start in arb_start(), n in 0u32..300) {
            let end = c.add_workdays(start, n);
            if n >= 1 {
                prop_assert!(c.is_workday(end));
                prop_assert!(end > start);
            } else {
                prop_assert_eq!(end, start);
            }
            prop_assert_eq!(c.workdays_between(start, end), i64::from(n));
            prop_assert_eq!(c.workdays_between(end, start), -i64::from(n));
        }

        #[test]
        fn between_matches_naive_count(c in arb_calendar(), a in arb_start(), len in 0i32..800) {
            let b = Date::from_julian_day(a.to_julian_day() + len).unwrap();
            let mut naive = 0i64;
            let mut d = a;
            while d < b {
                d = d.next_day().unwrap();
                naive += i64::from(c.is_workday(d));
            }
            prop_assert_eq!(c.workdays_between(a, b), naive);
        }

        #[test]
        fn serde_round_trip(c in arb_calendar()) {
            let json = serde_json::to_string(&c).unwrap();
            prop_assert_eq!(serde_json::from_str::<WorkCalendar>(&json).unwrap(), c);
        }

        /// With the official calendar: a time limit never ends on a holiday
        /// or a plain weekend, it ends exactly at midnight China time (one
        /// nanosecond later is the first instant of the next day), and it
        /// is never earlier than counting weekends only.
        #[test]
        fn official_deadlines(secs in 0i64..(400 * 86_400), n in 1u32..30) {
            let c = official();
            let t = datetime!(2025-12-01 00:00 +8) + time::Duration::seconds(secs);
            let d = deadline(t, n, &c);
            prop_assert!(c.is_workday(d.date()));
            prop_assert!(!c.holidays().contains(&d.date()));
            prop_assert!(!is_weekend(d.date()) || c.extra_workdays().contains(&d.date()));
            let after = (d + time::Duration::nanoseconds(1)).to_offset(CHINA_OFFSET);
            prop_assert_eq!(after.time(), Time::MIDNIGHT);
            prop_assert_eq!(Some(after.date()), d.date().next_day());
            let plain = deadline(t, n, &WorkCalendar::weekends_only());
            // Make-up days can only pull a deadline earlier by as many
            // make-up days as fall in the range; holidays push it later.
            let extra_in_range = c.extra_workdays().range(t.date()..=plain.date()).count();
            prop_assert!(d >= plain || extra_in_range > 0);
        }

        #[test]
        fn year_calendar_round_trip(c in arb_calendar()) {
            // arb_calendar's dates run from 2026-01-01 into early 2027: keep 2026's.
            let h: Vec<Date> = c.holidays().iter().copied().filter(|d| d.year() == 2026).collect();
            let e: Vec<Date> = c.extra_workdays().iter().copied().filter(|d| d.year() == 2026).collect();
            prop_assume!(!h.is_empty());
            let y = YearCalendar::new(2026, "测试用", h, e).unwrap();
            let json = serde_json::to_string(&y).unwrap();
            prop_assert_eq!(YearCalendar::parse_json(&json).unwrap(), vec![y.clone()]);
            let back = WorkCalendar::union([&y]).unwrap();
            prop_assert_eq!(&back, y.calendar());
        }

        #[test]
        fn deadline_is_end_of_a_workday(c in arb_calendar(), start in arb_start(),
                                        secs in 0i64..86_400, n in 1u32..40) {
            let t = start.midnight().assume_utc() + time::Duration::seconds(secs);
            let d = deadline(t, n, &c);
            prop_assert_eq!(d.offset(), CHINA_OFFSET);
            prop_assert!(c.is_workday(d.date()));
            prop_assert_eq!(d.time(), END_OF_DAY);
            prop_assert!(d > t);
            let local_start = t.to_offset(CHINA_OFFSET).date();
            prop_assert_eq!(c.workdays_between(local_start, d.date()), i64::from(n));
        }
    }
}
