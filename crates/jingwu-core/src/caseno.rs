//! 受理编号 / 接警单编号: unique by construction, never by asking the hub.
//!
//! Format: `<12-digit unit code>-<YYYYMMDD>-<issuer>-<4+ digit sequence>`,
//! e.g. `522634580000-20261127-3FA90C1B-0001`. The **issuer** is the first
//! eight hexadecimal digits (upper case) of SM3 over the signing key's
//! fingerprint and the device (store) id that the case's first event
//! carries, so every store (every PC, every profile, every officer, a key
//! copied to a second PC too) numbers in its own space without asking
//! anyone, and a number can only be issued by the key and device it
//! names: that rule is checked in [`crate::case::CaseState::create`],
//! wherever the fold runs. The hub accepts a case's first event only from
//! an enrolled device and refuses to enrol a key and device whose issuer
//! another enrolment already has, so a colleague cannot take another's
//! numbers either. Each store keeps its own per-day sequence.
//!
//! Numbers of the first format (`<unit>-<YYYYMMDD>-<sequence>`, without an
//! issuer) still parse, so older records can be read; new cases cannot
//! take them.

use time::Date;

/// Length of the issuer component.
pub const ISSUER_LEN: usize = 8;

/// A parsed case number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseNo {
    pub unit: String,
    pub date: Date,
    /// The issuing key's component; `None` in a number of the first
    /// format.
    pub issuer: Option<String>,
    pub seq: u32,
}

/// Why a case number is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "编号格式错误：{0}（应为 单位编码-年月日-签发码-序号，如 522634580000-20261127-3FA90C1B-0001）"
)]
pub struct CaseNoError(pub String);

/// The issuer component of a key (its fingerprint, SM3 hex of the public
/// key) on a device (the store's device id): the first eight hex digits,
/// upper case, of SM3 over `fingerprint:device`.
pub fn issuer_of(fingerprint: &str, device: &str) -> String {
    crate::crypto::sm3_hex(format!("{fingerprint}:{device}").as_bytes())
        .chars()
        .take(ISSUER_LEN)
        .collect::<String>()
        .to_ascii_uppercase()
}

fn is_issuer(s: &str) -> bool {
    s.len() == ISSUER_LEN
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

impl CaseNo {
    /// Formats a case number. `seq` starts at 1; `issuer` is
    /// [`issuer_of`] the signing key.
    pub fn format(unit: &str, date: Date, issuer: &str, seq: u32) -> String {
        format!(
            "{unit}-{:04}{:02}{:02}-{issuer}-{seq:04}",
            date.year(),
            u8::from(date.month()),
            date.day()
        )
    }

    /// Parses and checks a case number (either format).
    pub fn parse(s: &str) -> Result<CaseNo, CaseNoError> {
        let err = || CaseNoError(s.chars().take(48).collect());
        let parts: Vec<&str> = s.split('-').collect();
        let (unit, day, issuer, seq) = match parts.as_slice() {
            [unit, day, seq] => (*unit, *day, None, *seq),
            [unit, day, issuer, seq] if is_issuer(issuer) => {
                (*unit, *day, Some((*issuer).to_string()), *seq)
            }
            _ => return Err(err()),
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
            issuer,
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
        let s = CaseNo::format("522634580000", date!(2026 - 11 - 27), "3FA90C1B", 1);
        assert_eq!(s, "522634580000-20261127-3FA90C1B-0001");
        let c = CaseNo::parse(&s).unwrap();
        assert_eq!(
            (c.unit.as_str(), c.date, c.issuer.as_deref(), c.seq),
            ("522634580000", date!(2026 - 11 - 27), Some("3FA90C1B"), 1)
        );
        // The first format still parses, without an issuer.
        let old = CaseNo::parse("522634580000-20261127-0001").unwrap();
        assert_eq!((old.issuer, old.seq), (None, 1));
        for bad in [
            "",
            "522634580000-20261127",
            "522634580000-20261131-0001",
            "52263458000-20261127-0001",
            "522634580000-20261127-0000",
            "522634580000-20261127-001",
            "522634580000-20261127-0001-1",
            "52263458000a-20261127-0001",
            "522634580000-20261127-3fa90c1b-0001",
            "522634580000-20261127-3FA90C1-0001",
            "522634580000-20261127-3FA90C1BB-0001",
            "522634580000-20261127-3FA90C1G-0001",
            "522634580000-20261127-3FA90C1B-0000",
            "522634580000-20261127-3FA90C1B-0001-0002",
        ] {
            assert!(CaseNo::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn issuer_depends_on_key_and_device() {
        let fp = "ab".repeat(32);
        let a = issuer_of(&fp, "device-1");
        assert!(is_issuer(&a), "{a}");
        assert_eq!(a, issuer_of(&fp, "device-1"));
        assert_ne!(a, issuer_of(&fp, "device-2"));
        assert_ne!(a, issuer_of(&"cd".repeat(32), "device-1"));
    }

    proptest! {
        #[test]
        fn round_trip(unit in 0u64..1_000_000_000_000, days in 0i32..40000,
                      issuer in 0u32..=u32::MAX, seq in 1u32..100_000_000) {
            let unit = format!("{unit:012}");
            let issuer = format!("{issuer:08X}");
            let d = date!(1990 - 01 - 01) + time::Duration::days(days as i64);
            let s = CaseNo::format(&unit, d, &issuer, seq);
            let c = CaseNo::parse(&s).unwrap();
            prop_assert_eq!(c, CaseNo { unit, date: d, issuer: Some(issuer), seq });
        }

        /// Two different issuers never produce the same number, whatever
        /// their sequences.
        #[test]
        fn issuers_never_collide(a in 0u32..=u32::MAX, b in 0u32..=u32::MAX,
                                 sa in 1u32..10_000, sb in 1u32..10_000) {
            prop_assume!(a != b);
            let d = date!(2026 - 12 - 02);
            let x = CaseNo::format("522634580000", d, &format!("{a:08X}"), sa);
            let y = CaseNo::format("522634580000", d, &format!("{b:08X}"), sb);
            prop_assert_ne!(x, y);
        }
    }
}
