//! 公民身份号码 (citizen ID number, GB 11643-1999).
//!
//! Layout of the 18 characters: 6-digit address code (the county where the
//! person was first registered — it is *not* checked against the current
//! county, nor against a code table), 8-digit birth date `YYYYMMDD`, 3-digit
//! sequence (odd = male, even = female) and one check character.
//!
//! Check character: for positions 1..=17 the weights are
//! `7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2`, `S = Σ aᵢ·Wᵢ`, `Y = S mod 11`,
//! check = `"10X98765432"[Y]`. The weights are `2^(18-i) mod 11`: all are
//! non-zero modulo the prime 11, so every single-character substitution and
//! every transposition of two adjacent digits among positions 1..=17 changes
//! `Y` and is caught.
//!
//! Legacy 15-digit numbers (`6 + YYMMDD + 3`) are converted by inserting
//! `19` before the birth date and appending the computed check character.
//!
//! ID numbers are personal information: [`fmt::Display`] and [`fmt::Debug`]
//! print the masked form (`5226**********0044`); only [`IdNumber::as_str`]
//! (and serialisation, which is meant for storage) give the full value.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

/// Weights of positions 1..=17.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for `Y = S mod 11`.
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Earliest accepted birth date.
/// The earliest birth date accepted. DOMAIN.md proposes 1900 [D], but the
/// standard's own example 440524188001010014 (born 1880) must verify, so
/// the floor sits at 1800.
const MIN_BIRTH_DATE: Date = time::macros::date!(1800 - 01 - 01);

/// Sex as encoded by digit 17 of the ID number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// 男 — digit 17 is odd.
    Male,
    /// 女 — digit 17 is even.
    Female,
}

impl Sex {
    /// Chinese label: `男` or `女`.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why a string is not an acceptable 公民身份号码.
///
/// Messages never contain the number itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    /// Nothing but whitespace.
    #[error("公民身份号码不能为空")]
    Empty,
    /// Neither 18 nor 15 characters (counted after trimming).
    #[error("公民身份号码应为18位（旧号码为15位），实际为{len}位")]
    BadLength {
        /// Number of characters found.
        len: usize,
    },
    /// A character that is not allowed at this position (1-based).
    #[error("公民身份号码第{position}位字符无效：只能是数字，18位号码的最后一位也可以是X")]
    BadCharacter {
        /// 1-based position of the first bad character.
        position: usize,
    },
    /// The birth date digits are not a real calendar date.
    #[error("公民身份号码中的出生日期不是有效日期")]
    BadDate,
    /// The birth date is after `today`.
    #[error("公民身份号码中的出生日期晚于当前日期")]
    FutureDate,
    /// The birth date is before 1800-01-01.
    #[error("公民身份号码中的出生日期早于1800年1月1日")]
    TooOld,
    /// The check character does not match the first 17 digits.
    #[error("公民身份号码校验位错误，按前17位计算应为 {expected}，实际为 {found}，请逐位核对号码")]
    BadCheck {
        /// Check character computed from the first 17 digits.
        expected: char,
        /// Check character found in position 18.
        found: char,
    },
    /// Digit 17 does not match the recorded sex.
    #[error("公民身份号码第17位表示性别为{from_id}，与登记的性别{recorded}不一致")]
    SexMismatch {
        /// Sex encoded by the number.
        from_id: Sex,
        /// Sex recorded elsewhere on the form.
        recorded: Sex,
    },
}

/// A structurally valid, normalised 18-character 公民身份号码
/// (upper-case `X`).
///
/// Serialises as the full string (for storage — encrypt at rest);
/// deserialising re-checks the structure (format, date, not before 1800,
/// check character) but not "not in the future", which needs a `today`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdNumber(String);

impl IdNumber {
    /// Parses and validates an ID number entered by a user.
    ///
    /// Trims ASCII whitespace, accepts a lower-case `x`, converts legacy
    /// 15-digit numbers, and rejects birth dates after `today` or before
    /// 1800-01-01.
    ///
    /// # Errors
    /// The first problem found, in this order: empty, length, character,
    /// date, future date / too old, check character.
    pub fn parse(s: &str, today: Date) -> Result<IdNumber, IdNumberError> {
        Self::parse_inner(s, Some(today))
    }

    /// Like [`IdNumber::parse`] without the "not in the future" check — for
    /// re-reading stored values, where no `today` is at hand.
    ///
    /// # Errors
    /// As [`IdNumber::parse`], except [`IdNumberError::FutureDate`].
    pub fn parse_structure(s: &str) -> Result<IdNumber, IdNumberError> {
        Self::parse_inner(s, None)
    }

    fn parse_inner(s: &str, today: Option<Date>) -> Result<IdNumber, IdNumberError> {
        let s = s.trim_matches(|c: char| c.is_ascii_whitespace());
        if s.is_empty() {
            return Err(IdNumberError::Empty);
        }
        let len = s.chars().count();
        let full: String = match len {
            18 => {
                for (i, c) in s.chars().enumerate() {
                    let ok = c.is_ascii_digit() || (i == 17 && (c == 'X' || c == 'x'));
                    if !ok {
                        return Err(IdNumberError::BadCharacter { position: i + 1 });
                    }
                }
                s.to_ascii_uppercase()
            }
            15 => {
                if let Some(i) = s.chars().position(|c| !c.is_ascii_digit()) {
                    return Err(IdNumberError::BadCharacter { position: i + 1 });
                }
                // All ASCII now, so byte slicing is safe.
                let first17 = format!("{}19{}", &s[..6], &s[6..]);
                let check = check_char(&first17).ok_or(IdNumberError::BadLength { len })?;
                let mut full = first17;
                full.push(check);
                full
            }
            _ => return Err(IdNumberError::BadLength { len }),
        };

        let birth = birth_date_of(&full).ok_or(IdNumberError::BadDate)?;
        if birth < MIN_BIRTH_DATE {
            return Err(IdNumberError::TooOld);
        }
        if let Some(today) = today {
            if birth > today {
                return Err(IdNumberError::FutureDate);
            }
        }

        let expected = check_char(&full[..17]).ok_or(IdNumberError::BadLength { len })?;
        let found = full[17..].chars().next().unwrap_or(' ');
        if expected != found {
            return Err(IdNumberError::BadCheck { expected, found });
        }
        Ok(IdNumber(full))
    }

    /// The full 18-character value. Showing it to a user is an audited action.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The masked form: first 4 and last 4 characters kept,
    /// e.g. `5226**********0044`. Use this in lists and logs.
    #[must_use]
    pub fn masked(&self) -> String {
        let mut out = String::with_capacity(18);
        out.push_str(&self.0[..4]);
        out.push_str("**********");
        out.push_str(&self.0[14..]);
        out
    }

    /// The 6-digit address code (where first registered).
    #[must_use]
    pub fn address_code(&self) -> &str {
        &self.0[..6]
    }

    /// The birth date encoded in positions 7..=14.
    #[must_use]
    pub fn birth_date(&self) -> Date {
        // The invariant of `IdNumber` guarantees a valid date; the fallback
        // is unreachable.
        birth_date_of(&self.0).unwrap_or(MIN_BIRTH_DATE)
    }

    /// The sex encoded by digit 17 (odd = male, even = female).
    #[must_use]
    pub fn sex(&self) -> Sex {
        let d = self.0.as_bytes()[16].wrapping_sub(b'0');
        if d % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

/// Birth date from positions 7..=14 of an all-ASCII 18-char string.
fn birth_date_of(full: &str) -> Option<Date> {
    let year: i32 = full.get(6..10)?.parse().ok()?;
    let month: u8 = full.get(10..12)?.parse().ok()?;
    let day: u8 = full.get(12..14)?.parse().ok()?;
    let month = Month::try_from(month).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// The check character for the first 17 digits, or `None` unless `first17`
/// is exactly 17 ASCII digits.
#[must_use]
pub fn check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let s: u32 = bytes
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    CHECK_CHARS.get((s % 11) as usize).copied()
}

/// Checks the rule "digit 17 parity matches the recorded sex".
///
/// # Errors
/// [`IdNumberError::SexMismatch`] when they differ.
pub fn check_sex(id: &IdNumber, recorded: Sex) -> Result<(), IdNumberError> {
    let from_id = id.sex();
    if from_id == recorded {
        Ok(())
    } else {
        Err(IdNumberError::SexMismatch { from_id, recorded })
    }
}

impl fmt::Display for IdNumber {
    /// Masked: ID numbers must never reach logs in full.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for IdNumber {
    /// Masked: ID numbers must never reach logs in full.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdNumber").field(&self.masked()).finish()
    }
}

impl TryFrom<String> for IdNumber {
    type Error = IdNumberError;

    /// Structural check only (see [`IdNumber::parse_structure`]).
    fn try_from(value: String) -> Result<Self, Self::Error> {
        IdNumber::parse_structure(&value)
    }
}

impl TryFrom<&str> for IdNumber {
    type Error = IdNumberError;

    /// Structural check only (see [`IdNumber::parse_structure`]).
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        IdNumber::parse_structure(value)
    }
}

impl From<IdNumber> for String {
    fn from(value: IdNumber) -> Self {
        value.0
    }
}

/// `text` with every run that looks like an ID number masked the way
/// [`IdNumber::masked`] does (first 4 and last 4 characters kept): 17
/// digits and a digit or `X`/`x`, or a legacy 15-digit number, with no
/// digit right before or after. Valid or not:
/// free text (变更前后内容, reasons, opinions) is shown masked by default.
#[must_use]
pub fn mask_in_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !chars[i - 1].is_ascii_digit();
        let digits = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let len = match (starts_word, digits) {
            (false, _) => 0,
            (true, 17) if chars.get(i + 17).is_some_and(|c| *c == 'X' || *c == 'x') => 18,
            (true, 18) | (true, 15) => digits,
            _ => 0,
        };
        let ends_word = chars.get(i + len).is_none_or(|c| !c.is_ascii_digit());
        if len > 0 && ends_word {
            out.extend(&chars[i..i + 4]);
            out.extend(std::iter::repeat_n('*', len - 8));
            out.extend(&chars[i + len - 4..i + len]);
            i += len;
        } else {
            // Skip the whole run of digits (or the one character).
            let step = digits.max(1);
            out.extend(&chars[i..i + step]);
            i += step;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 05 - 20);
    const ALLOWED: [char; 11] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'X'];

    fn p(s: &str) -> Result<IdNumber, IdNumberError> {
        IdNumber::parse(s, TODAY)
    }

    #[test]
    fn standard_examples_verify() {
        assert_eq!(check_char("11010519491231002"), Some('X'));
        assert_eq!(check_char("44052418800101001"), Some('4'));
        let a = p("11010519491231002X").unwrap();
        assert_eq!(a.birth_date(), date!(1949 - 12 - 31));
        assert_eq!(a.sex(), Sex::Female);
        assert_eq!(a.address_code(), "110105");
        assert_eq!(a.as_str(), "11010519491231002X");
    }

    #[test]
    fn the_standards_1880_example_verifies() {
        let a = p("440524188001010014").unwrap();
        assert_eq!(a.birth_date(), date!(1880 - 01 - 01));
        assert_eq!(a.sex(), Sex::Male);
        assert!(IdNumber::parse_structure("440524188001010014").is_ok());
    }

    #[test]
    fn synthetic_numbers_verify_with_sex() {
        let cases = [
            ("522634198503120044", Sex::Female, date!(1985 - 03 - 12)),
            ("522634198503120116", Sex::Male, date!(1985 - 03 - 12)),
            ("522634200107080263", Sex::Female, date!(2001 - 07 - 08)),
            ("522634197811201538", Sex::Male, date!(1978 - 11 - 20)),
            ("52263419900101123X", Sex::Male, date!(1990 - 01 - 01)),
        ];
        for (s, sex, birth) in cases {
            let id = p(s).unwrap();
            assert_eq!(id.as_str(), s);
            assert_eq!(id.sex(), sex, "{s}");
            assert_eq!(id.birth_date(), birth);
            assert_eq!(id.address_code(), "522634");
            assert!(check_sex(&id, sex).is_ok());
            let other = if sex == Sex::Male {
                Sex::Female
            } else {
                Sex::Male
            };
            assert_eq!(
                check_sex(&id, other),
                Err(IdNumberError::SexMismatch {
                    from_id: sex,
                    recorded: other
                })
            );
        }
    }

    #[test]
    fn id_numbers_in_free_text_are_masked() {
        assert_eq!(
            mask_in_text("原号码11010519491231002x，新号码 522634198503120044。"),
            "原号码1101**********002x，新号码 5226**********0044。"
        );
        assert_eq!(mask_in_text("52263419900101123X"), "5226**********123X");
        assert_eq!(mask_in_text("旧 110105491231002"), "旧 1101*******1002");
        assert_eq!(mask_in_text("A522634198503120044B"), "A5226**********0044B");
        // Not ID numbers: phone numbers, longer or shorter runs.
        for s in [
            "电话 13985500123",
            "1234567890123456789",
            "1234567890123456",
            "",
        ] {
            assert_eq!(mask_in_text(s), s);
        }
    }

    #[test]
    fn lower_case_x_and_whitespace() {
        let id = p("  52263419900101123x\t").unwrap();
        assert_eq!(id.as_str(), "52263419900101123X");
        let id = p("11010519491231002x").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn legacy_15_digit_converts() {
        let id = p("110105491231002").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.sex(), Sex::Female);
        let id = p("522634850312004").unwrap();
        assert_eq!(id.as_str(), "522634198503120044");
        assert_eq!(
            p("52263485031200X"),
            Err(IdNumberError::BadCharacter { position: 15 })
        );
        assert_eq!(p("522634851312004"), Err(IdNumberError::BadDate));
    }

    #[test]
    fn structural_errors() {
        assert_eq!(p(""), Err(IdNumberError::Empty));
        assert_eq!(p("   "), Err(IdNumberError::Empty));
        assert_eq!(p("5226341985"), Err(IdNumberError::BadLength { len: 10 }));
        assert_eq!(
            p("5226341985031200445"),
            Err(IdNumberError::BadLength { len: 19 })
        );
        assert_eq!(
            p("5226X4198503120044"),
            Err(IdNumberError::BadCharacter { position: 5 })
        );
        assert_eq!(
            p("52263419850312004Y"),
            Err(IdNumberError::BadCharacter { position: 18 })
        );
        // Full-width digit: counted as one character, rejected.
        assert_eq!(
            p("５22634198503120044"),
            Err(IdNumberError::BadCharacter { position: 1 })
        );
        assert_eq!(p("522634198502300044"), Err(IdNumberError::BadDate));
        assert_eq!(p("522634198513010044"), Err(IdNumberError::BadDate));
        assert_eq!(p("522634179912310044"), Err(IdNumberError::TooOld));
        // 2026-05-21 is after TODAY; fix the check char so only the date fails.
        let first17 = "52263420260521004";
        let s = format!("{first17}{}", check_char(first17).unwrap());
        assert_eq!(p(&s), Err(IdNumberError::FutureDate));
        // Born today is fine.
        let first17 = "52263420260520004";
        let s = format!("{first17}{}", check_char(first17).unwrap());
        assert!(p(&s).is_ok());
        // Stored values are re-read without a `today`: no future check.
        let first17 = "52263420260521004";
        let s = format!("{first17}{}", check_char(first17).unwrap());
        assert!(IdNumber::parse_structure(&s).is_ok());
        assert_eq!(
            p("522634198503120045"),
            Err(IdNumberError::BadCheck {
                expected: '4',
                found: '5'
            })
        );
    }

    #[test]
    fn error_messages_are_chinese_and_do_not_leak() {
        let e = p("522634198503120045").unwrap_err();
        assert_eq!(
            e.to_string(),
            "公民身份号码校验位错误，按前17位计算应为 4，实际为 5，请逐位核对号码"
        );
        assert!(!e.to_string().contains("19850312"));
        let id = p("522634198503120044").unwrap();
        assert_eq!(
            check_sex(&id, Sex::Male).unwrap_err().to_string(),
            "公民身份号码第17位表示性别为女，与登记的性别男不一致"
        );
        assert_eq!(
            IdNumberError::BadLength { len: 10 }.to_string(),
            "公民身份号码应为18位（旧号码为15位），实际为10位"
        );
    }

    #[test]
    fn masked_display_debug() {
        let id = p("522634198503120044").unwrap();
        assert_eq!(id.masked(), "5226**********0044");
        assert_eq!(id.to_string(), "5226**********0044");
        assert_eq!(format!("{id:?}"), "IdNumber(\"5226**********0044\")");
        assert_eq!(
            format!("{:?}", Some(&id)),
            "Some(IdNumber(\"5226**********0044\"))"
        );
    }

    #[test]
    fn check_char_rejects_bad_input() {
        assert_eq!(check_char("1101051949123100"), None);
        assert_eq!(check_char("110105194912310021"), None);
        assert_eq!(check_char("1101051949123100X"), None);
        assert_eq!(check_char("１101051949123100"), None);
    }

    #[test]
    fn serde() {
        let id = p("52263419900101123X").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"52263419900101123X\"");
        let back: IdNumber = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<IdNumber>("\"522634198503120045\"").is_err());
        assert!(serde_json::from_str::<IdNumber>("522634198503120044").is_err());
        let err = serde_json::from_str::<IdNumber>("\"522634198503120045\"").unwrap_err();
        assert!(err.to_string().contains("校验位错误"));
        assert_eq!(serde_json::to_string(&Sex::Male).unwrap(), "\"male\"");
        assert_eq!(serde_json::to_string(&Sex::Female).unwrap(), "\"female\"");
        assert_eq!(
            serde_json::from_str::<Sex>("\"female\"").unwrap(),
            Sex::Female
        );
        assert_eq!(Sex::Male.label(), "男");
        assert_eq!(Sex::Female.to_string(), "女");
    }

    /// Every single-character substitution of every listed number is
    /// rejected — checked exhaustively, with the reason.
    #[test]
    fn every_single_substitution_rejected_exhaustive() {
        for s in [
            "11010519491231002X",
            "522634198503120044",
            "522634198503120116",
            "522634200107080263",
            "522634197811201538",
            "52263419900101123X",
        ] {
            assert_single_substitutions_rejected(s);
        }
    }

    fn assert_single_substitutions_rejected(s: &str) {
        let chars: Vec<char> = s.chars().collect();
        for pos in 0..18 {
            for &c in &ALLOWED {
                if c == chars[pos] {
                    continue;
                }
                let mut v = chars.clone();
                v[pos] = c;
                let changed: String = v.into_iter().collect();
                let err = p(&changed).expect_err(&format!("{changed} accepted"));
                match pos {
                    // 'X' is only allowed in the last position.
                    0..=16 if c == 'X' => {
                        assert_eq!(err, IdNumberError::BadCharacter { position: pos + 1 });
                    }
                    // Birth-date digits: a date check or the check char.
                    6..=13 => assert!(
                        matches!(
                            err,
                            IdNumberError::BadDate
                                | IdNumberError::FutureDate
                                | IdNumberError::TooOld
                                | IdNumberError::BadCheck { .. }
                        ),
                        "{changed}: {err:?}"
                    ),
                    _ => assert!(
                        matches!(err, IdNumberError::BadCheck { .. }),
                        "{changed}: {err:?}"
                    ),
                }
            }
        }
    }

    /// A valid number from its parts.
    fn build(area: u32, birth: Date, seq: u32) -> String {
        let first17 = format!(
            "{area:06}{:04}{:02}{:02}{seq:03}",
            birth.year(),
            u8::from(birth.month()),
            birth.day()
        );
        let c = check_char(&first17).unwrap();
        format!("{first17}{c}")
    }

    fn arb_date() -> impl Strategy<Value = Date> {
        let lo = date!(1900 - 01 - 01).to_julian_day();
        let hi = TODAY.to_julian_day();
        (lo..=hi).prop_map(|j| Date::from_julian_day(j).unwrap())
    }

    proptest! {
        #[test]
        fn generated_valid_numbers_parse(area in 0u32..1_000_000, birth in arb_date(), seq in 0u32..1000) {
            let s = build(area, birth, seq);
            let id = p(&s).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
            prop_assert_eq!(id.birth_date(), birth);
            prop_assert_eq!(id.sex(), if seq % 2 == 1 { Sex::Male } else { Sex::Female });
            prop_assert_eq!(id.address_code(), &s[..6]);
            // serde round trip
            let json = serde_json::to_string(&id).unwrap();
            let back: IdNumber = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&back, &id);
            // lower-case x accepted
            let lower = s.to_ascii_lowercase();
            prop_assert_eq!(p(&lower).unwrap(), id.clone());
            // masked form hides the birth date and the sequence
            let m = id.masked();
            prop_assert_eq!(m.chars().count(), 18);
            prop_assert_eq!(&m[..4], &s[..4]);
            prop_assert_eq!(&m[14..], &s[14..]);
            prop_assert_eq!(&m[4..14], "**********");
            prop_assert!(!m.contains(&s[6..14]));
            prop_assert!(!id.to_string().contains(&s[6..14]));
            let debug = format!("{id:?}");
            prop_assert!(!debug.contains(&s[6..14]));
        }

        #[test]
        fn every_single_substitution_rejected(area in 0u32..1_000_000, birth in arb_date(), seq in 0u32..1000) {
            assert_single_substitutions_rejected(&build(area, birth, seq));
        }

        #[test]
        fn adjacent_transpositions_rejected(
            area in 0u32..1_000_000, birth in arb_date(), seq in 0u32..1000, pos in 0usize..16,
        ) {
            let s = build(area, birth, seq);
            let mut v: Vec<char> = s.chars().collect();
            prop_assume!(v[pos] != v[pos + 1]);
            v.swap(pos, pos + 1);
            let swapped: String = v.into_iter().collect();
            prop_assert!(p(&swapped).is_err());
        }

        #[test]
        // Legacy 15-digit numbers are births 1900-01-01..=1999-12-31 (36524 days).
        fn legacy_numbers_convert(area in 0u32..1_000_000, j in 0i32..36524, seq in 0u32..1000) {
            let birth = Date::from_julian_day(date!(1900 - 01 - 01).to_julian_day() + j).unwrap();
            let s15 = format!(
                "{area:06}{:02}{:02}{:02}{seq:03}",
                birth.year() % 100,
                u8::from(birth.month()),
                birth.day()
            );
            let id = p(&s15).unwrap();
            prop_assert_eq!(id.as_str(), build(area, birth, seq));
        }
    }
}
