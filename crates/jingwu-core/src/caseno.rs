//! 受理编号 / 接警单编号: unique by construction, never by asking the hub.
//!
//! Format: `<12-digit unit code>-<YYYYMMDD>-<4+ digit sequence>`, e.g.
//! `522634580000-20261127-0001`. The unit allocates its own sequence per
//! day from its local store, so an offline station still issues numbers
//! that can never collide with another unit's.

use time::Date;

/// A parsed case number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseNo {
    pub unit: String,
    pub date: Date,
    pub seq: u32,
}

/// Why a case number is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("编号格式错误：{0}（应为 单位编码-年月日-序号，如 522634580000-20261127-0001）")]
pub struct CaseNoError(pub String);

impl CaseNo {
    /// Formats a case number. `seq` starts at 1.
    pub fn format(unit: &str, date: Date, seq: u32) -> String {
        format!(
            "{unit}-{:04}{:02}{:02}-{seq:04}",
            date.year(),
            u8::from(date.month()),
            date.day()
        )
    }

    /// Parses and checks a case number.
    pub fn parse(s: &str) -> Result<CaseNo, CaseNoError> {
        let err = || CaseNoError(s.chars().take(40).collect());
        let mut parts = s.split('-');
        let (Some(unit), Some(day), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
        if unit.len() != 12 || !digits(unit) || day.len() != 8 || !digits(day) {
            return Err(err());
        }
        if seq.len() < 4 || seq.len() > 9 || !digits(seq) {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| day.get(r).and_then(|x| x.parse::<u32>().ok());
        let (Some(y), Some(m), Some(d)) = (num(0..4), num(4..6), num(6..8)) else {
            return Err(err());
        };
        let month = u8::try_from(m)
            .ok()
            .and_then(|m| time::Month::try_from(m).ok())
            .ok_or_else(err)?;
        let date = Date::from_calendar_date(y as i32, month, d as u8).map_err(|_| err())?;
        let seq: u32 = seq.parse().map_err(|_| err())?;
        if seq == 0 {
            return Err(err());
        }
        Ok(CaseNo {
            unit: unit.to_string(),
            date,
            seq,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn format_and_parse() {
        let s = CaseNo::format("522634580000", date!(2026 - 11 - 27), 1);
        assert_eq!(s, "522634580000-20261127-0001");
        let c = CaseNo::parse(&s).unwrap();
        assert_eq!(
            (c.unit.as_str(), c.date, c.seq),
            ("522634580000", date!(2026 - 11 - 27), 1)
        );
        for bad in [
            "",
            "522634580000-20261127",
            "522634580000-20261131-0001",
            "52263458000-20261127-0001",
            "522634580000-20261127-0000",
            "522634580000-20261127-001",
            "522634580000-20261127-0001-1",
            "52263458000a-20261127-0001",
        ] {
            assert!(CaseNo::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(unit in 0u64..1_000_000_000_000, days in 0i32..40000, seq in 1u32..100_000_000) {
            let unit = format!("{unit:012}");
            let d = date!(1990 - 01 - 01) + time::Duration::days(days as i64);
            let s = CaseNo::format(&unit, d, seq);
            let c = CaseNo::parse(&s).unwrap();
            prop_assert_eq!(c, CaseNo { unit, date: d, seq });
        }
    }
}
