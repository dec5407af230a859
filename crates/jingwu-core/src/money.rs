//! Amounts of money in CNY, as a whole number of 分 (fen, 0.01 yuan).
//!
//! Never a float. A [`Money`] is always ≥ 0 (the only amounts the domain
//! records, e.g. 财产损失金额, are non-negative); arithmetic is checked.
//!
//! Text form ([`Money::parse`]), decided here:
//! - ASCII whitespace around the amount is ignored;
//! - an integer part is required (`0.5`, not `.5`), without redundant
//!   leading zeros (`12`, not `012`);
//! - thousands separators: ASCII `,` is accepted, but only in the correct
//!   positions (`1,234,567.89`); if one `,` is present the whole integer
//!   part must be grouped in threes. Full-width `，` is rejected;
//! - at most two decimals (`12`, `12.3`, `12.30`; not `12.` nor `12.345`,
//!   nor `12.300`);
//! - rejected: signs (`-` → [`MoneyError::Negative`], `+`), currency signs
//!   (`¥`), exponents, `NaN`/`inf`, full-width digits, anything else.
//!
//! [`fmt::Display`] is canonical: no separators, always two decimals
//! (`1234.56`, `0.00`). Serde uses that string (never a JSON number) and
//! accepts only JSON strings, parsed with [`Money::parse`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an amount is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Nothing but whitespace.
    #[error("金额不能为空")]
    Empty,
    /// A negative amount (a leading `-`, or a negative number of fen).
    #[error("金额不能为负数")]
    Negative,
    /// Not a plain decimal number.
    #[error("金额格式不正确：只能填写数字，可带小数点和千位分隔符“,”，例如 1234.56")]
    Invalid,
    /// More than two decimals.
    #[error("金额最多保留两位小数（精确到分）")]
    TooManyDecimals,
    /// A `,` that does not separate groups of three digits.
    #[error("金额中千位分隔符“,”的位置不正确，应从个位起每三位一组，例如 1,234,567.89")]
    BadGrouping,
    /// `012` instead of `12`.
    #[error("金额的整数部分不能以0开头，例如应写 12 而不是 012")]
    LeadingZero,
    /// Beyond the largest representable amount.
    #[error("金额超出允许范围，最大为 92233720368547758.07 元")]
    Overflow,
}

/// A non-negative amount of CNY, stored as fen (分).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Money {
    fen: i64,
}

const DIGITS_UPPER: [char; 10] = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];

impl Money {
    /// 0.00.
    pub const ZERO: Money = Money { fen: 0 };
    /// The largest amount: `i64::MAX` fen = 92233720368547758.07.
    pub const MAX: Money = Money { fen: i64::MAX };

    /// An amount of `fen` 分.
    ///
    /// # Errors
    /// [`MoneyError::Negative`] if `fen < 0`.
    pub const fn from_fen(fen: i64) -> Result<Money, MoneyError> {
        if fen < 0 {
            Err(MoneyError::Negative)
        } else {
            Ok(Money { fen })
        }
    }

    /// The amount in fen (always ≥ 0).
    #[must_use]
    pub const fn fen(self) -> i64 {
        self.fen
    }

    /// Whether the amount is 0.00.
    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.fen == 0
    }

    /// Parses a user-entered amount; see the module docs for the rules.
    ///
    /// # Errors
    /// A [`MoneyError`] describing the first problem.
    pub fn parse(s: &str) -> Result<Money, MoneyError> {
        let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
        if t.is_empty() {
            return Err(MoneyError::Empty);
        }
        if let Some(rest) = t.strip_prefix('-') {
            // "-12.30" is a negative amount; "-abc" is just malformed.
            return match parse_unsigned(rest) {
                Ok(_) => Err(MoneyError::Negative),
                Err(e) => Err(e),
            };
        }
        parse_unsigned(t)
    }

    /// `self + other`, or `None` on overflow.
    #[must_use]
    pub const fn checked_add(self, other: Money) -> Option<Money> {
        match self.fen.checked_add(other.fen) {
            Some(fen) => Some(Money { fen }),
            None => None,
        }
    }

    /// The sum of all amounts.
    ///
    /// # Errors
    /// [`MoneyError::Overflow`] if the total exceeds [`Money::MAX`].
    pub fn sum<I: IntoIterator<Item = Money>>(iter: I) -> Result<Money, MoneyError> {
        iter.into_iter().try_fold(Money::ZERO, |acc, m| {
            acc.checked_add(m).ok_or(MoneyError::Overflow)
        })
    }

    /// 中文大写金额 following the banking rules (《正确填写票据和结算凭证的
    /// 基本规定》): `1234.56` → `壹仟贰佰叁拾肆元伍角陆分`, `100` →
    /// `壹佰元整`, `0` → `零元整`, `10.5` → `壹拾元伍角`.
    ///
    /// Conventions chosen where the rules allow a choice:
    /// - a leading ten is written `壹拾` (the rules require the `壹`);
    /// - `整` after `元` only; nothing after `角` or `分`;
    /// - without yuan, no `零元`: `0.07` → `柒分`, `0.5` → `伍角`;
    /// - `零` is written for every run of zeros inside the number
    ///   (`100100` → `壹拾万零壹佰元整`), and after `元` when 角 is 0 but 分
    ///   is not (`1000000.05` → `壹佰万元零伍分`); the optional `零` is
    ///   omitted when only the 元 (or 万/亿) digit is 0 and the next digit
    ///   is not (`1680.32` → `壹仟陆佰捌拾元叁角贰分`, `107000` →
    ///   `壹拾万柒仟元整`).
    ///
    /// No `人民币` prefix; add it where the form needs it.
    #[must_use]
    pub fn to_chinese_upper(self) -> String {
        // `fen` is never negative, so `unsigned_abs` is the value itself.
        let fen = self.fen.unsigned_abs();
        let yuan = fen / 100;
        let jiao = fen / 10 % 10;
        let fen_digit = fen % 10;
        let mut out = String::new();
        if yuan > 0 {
            integer_upper(yuan, &mut out);
            out.push('元');
        }
        if jiao == 0 && fen_digit == 0 {
            if yuan == 0 {
                out.push_str("零元");
            }
            out.push('整');
            return out;
        }
        if jiao > 0 {
            out.push(upper_digit(jiao));
            out.push('角');
        } else if yuan > 0 {
            out.push('零');
        }
        if fen_digit > 0 {
            out.push(upper_digit(fen_digit));
            out.push('分');
        }
        out
    }
}

/// Parses a non-negative amount (no sign).
fn parse_unsigned(t: &str) -> Result<Money, MoneyError> {
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return Err(MoneyError::Invalid);
    }
    let (int_part, frac_part) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    if int_part.is_empty() {
        return Err(MoneyError::Invalid);
    }
    let frac_fen: i64 = match frac_part {
        None => 0,
        Some(f) => {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                // "12." or a second '.' / a ',' in the decimals.
                return Err(MoneyError::Invalid);
            }
            let b = f.as_bytes();
            match b.len() {
                1 => i64::from(b[0] - b'0') * 10,
                2 => i64::from(b[0] - b'0') * 10 + i64::from(b[1] - b'0'),
                _ => return Err(MoneyError::TooManyDecimals),
            }
        }
    };
    if int_part.contains(',') {
        let mut groups = int_part.split(',');
        let first = groups.next().unwrap_or("");
        if first.is_empty() || first.len() > 3 || groups.any(|g| g.len() != 3) {
            return Err(MoneyError::BadGrouping);
        }
    }
    let digits = int_part.bytes().filter(|b| *b != b',');
    if int_part.len() > 1 && int_part.starts_with('0') {
        return Err(MoneyError::LeadingZero);
    }
    let mut yuan: i64 = 0;
    for b in digits {
        yuan = yuan
            .checked_mul(10)
            .and_then(|y| y.checked_add(i64::from(b - b'0')))
            .ok_or(MoneyError::Overflow)?;
    }
    let fen = yuan
        .checked_mul(100)
        .and_then(|f| f.checked_add(frac_fen))
        .ok_or(MoneyError::Overflow)?;
    Ok(Money { fen })
}

/// `壹` … `玖` for 1..=9 (`零` otherwise).
fn upper_digit(d: u64) -> char {
    usize::try_from(d)
        .ok()
        .and_then(|i| DIGITS_UPPER.get(i))
        .copied()
        .unwrap_or('零')
}

/// Chinese upper-case digits of `n > 0`, with units, without `元`.
fn integer_upper(n: u64, out: &mut String) {
    const YI: u64 = 1_0000_0000;
    const WAN: u64 = 1_0000;
    if n >= YI {
        integer_upper(n / YI, out);
        out.push('亿');
        let low = n % YI;
        if low > 0 {
            if low < YI / 10 {
                out.push('零');
            }
            integer_upper(low, out);
        }
    } else if n >= WAN {
        section_upper(n / WAN, out);
        out.push('万');
        let low = n % WAN;
        if low > 0 {
            if low < WAN / 10 {
                out.push('零');
            }
            section_upper(low, out);
        }
    } else {
        section_upper(n, out);
    }
}

/// One section `1..=9999`: `壹仟零壹拾`, `壹拾`, …
fn section_upper(n: u64, out: &mut String) {
    const UNITS: [&str; 4] = ["仟", "佰", "拾", ""];
    let digits = [n / 1000 % 10, n / 100 % 10, n / 10 % 10, n % 10];
    let mut started = false;
    let mut pending_zero = false;
    for (d, unit) in digits.into_iter().zip(UNITS) {
        if d == 0 {
            pending_zero = started;
        } else {
            if pending_zero {
                out.push('零');
                pending_zero = false;
            }
            out.push(upper_digit(d));
            out.push_str(unit);
            started = true;
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.fen / 100, self.fen % 100)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

impl TryFrom<String> for Money {
    type Error = MoneyError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Money::parse(&value)
    }
}

impl From<Money> for String {
    fn from(value: Money) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;

    fn m(fen: i64) -> Money {
        Money::from_fen(fen).unwrap()
    }

    fn p(s: &str) -> Result<i64, MoneyError> {
        Money::parse(s).map(Money::fen)
    }

    #[test]
    fn parse_accepts() {
        assert_eq!(p("0"), Ok(0));
        assert_eq!(p("0.00"), Ok(0));
        assert_eq!(p("0.5"), Ok(50));
        assert_eq!(p("0.07"), Ok(7));
        assert_eq!(p("12"), Ok(1200));
        assert_eq!(p("12.3"), Ok(1230));
        assert_eq!(p("12.30"), Ok(1230));
        assert_eq!(p("12.03"), Ok(1203));
        assert_eq!(p(" 1234.56\n"), Ok(123_456));
        assert_eq!(p("1,234.56"), Ok(123_456));
        assert_eq!(p("12,345,678"), Ok(1_234_567_800));
        assert_eq!(p("999"), Ok(99_900));
        assert_eq!(p("92233720368547758.07"), Ok(i64::MAX));
        assert_eq!(p("92,233,720,368,547,758.07"), Ok(i64::MAX));
    }

    #[test]
    fn parse_rejects() {
        use MoneyError::*;
        assert_eq!(p(""), Err(Empty));
        assert_eq!(p("  "), Err(Empty));
        assert_eq!(p("-1"), Err(Negative));
        assert_eq!(p("-0.01"), Err(Negative));
        assert_eq!(p("-0"), Err(Negative));
        assert_eq!(p("-abc"), Err(Invalid));
        assert_eq!(p("--1"), Err(Invalid));
        assert_eq!(p("+1"), Err(Invalid));
        assert_eq!(p("¥12"), Err(Invalid));
        assert_eq!(p("12元"), Err(Invalid));
        assert_eq!(p("1e5"), Err(Invalid));
        assert_eq!(p("1E5"), Err(Invalid));
        assert_eq!(p("NaN"), Err(Invalid));
        assert_eq!(p("inf"), Err(Invalid));
        assert_eq!(p("１２"), Err(Invalid));
        assert_eq!(p("1 234"), Err(Invalid));
        assert_eq!(p("1，234"), Err(Invalid));
        assert_eq!(p(".5"), Err(Invalid));
        assert_eq!(p("12."), Err(Invalid));
        assert_eq!(p("1.2.3"), Err(Invalid));
        assert_eq!(p("1.2,3"), Err(Invalid));
        assert_eq!(p("12.345"), Err(TooManyDecimals));
        assert_eq!(p("12.300"), Err(TooManyDecimals));
        assert_eq!(p("12,34"), Err(BadGrouping));
        assert_eq!(p("1234,567"), Err(BadGrouping));
        assert_eq!(p("1,234567"), Err(BadGrouping));
        assert_eq!(p(",123"), Err(BadGrouping));
        assert_eq!(p("123,"), Err(BadGrouping));
        assert_eq!(p("1,,234"), Err(BadGrouping));
        assert_eq!(p("012"), Err(LeadingZero));
        assert_eq!(p("00.5"), Err(LeadingZero));
        assert_eq!(p("0,123"), Err(LeadingZero));
        assert_eq!(p("92233720368547758.08"), Err(Overflow));
        assert_eq!(p("92233720368547759"), Err(Overflow));
        assert_eq!(p("99999999999999999999999999"), Err(Overflow));
    }

    #[test]
    fn error_messages() {
        assert_eq!(MoneyError::Negative.to_string(), "金额不能为负数");
        assert_eq!(
            MoneyError::Overflow.to_string(),
            format!("金额超出允许范围，最大为 {} 元", Money::MAX)
        );
    }

    #[test]
    fn from_fen_and_display() {
        assert_eq!(Money::from_fen(-1), Err(MoneyError::Negative));
        assert_eq!(m(0).to_string(), "0.00");
        assert_eq!(m(7).to_string(), "0.07");
        assert_eq!(m(50).to_string(), "0.50");
        assert_eq!(m(123_456).to_string(), "1234.56");
        assert_eq!(m(100_000_000).to_string(), "1000000.00");
        assert_eq!(Money::MAX.to_string(), "92233720368547758.07");
        assert_eq!(Money::default(), Money::ZERO);
        assert!(Money::ZERO.is_zero());
        assert!(m(1) < m(2));
        assert_eq!("1,234.56".parse::<Money>(), Ok(m(123_456)));
    }

    #[test]
    fn serde_is_a_string() {
        assert_eq!(serde_json::to_string(&m(123_456)).unwrap(), "\"1234.56\"");
        assert_eq!(serde_json::to_string(&m(0)).unwrap(), "\"0.00\"");
        assert_eq!(
            serde_json::from_str::<Money>("\"1234.5\"").unwrap(),
            m(123_450)
        );
        assert!(serde_json::from_str::<Money>("1234.56").is_err());
        assert!(serde_json::from_str::<Money>("1234").is_err());
        assert!(serde_json::from_str::<Money>("\"-1\"").is_err());
        assert!(serde_json::from_str::<Money>("\"1.234\"").is_err());
        assert!(serde_json::from_str::<Money>("null").is_err());
        let err = serde_json::from_str::<Money>("\"-1\"").unwrap_err();
        assert!(err.to_string().contains("金额不能为负数"));
    }

    #[test]
    fn checked_add_and_sum() {
        assert_eq!(m(1).checked_add(m(2)), Some(m(3)));
        assert_eq!(Money::MAX.checked_add(m(1)), None);
        assert_eq!(Money::MAX.checked_add(Money::ZERO), Some(Money::MAX));
        assert_eq!(Money::sum([m(1), m(2), m(3)]), Ok(m(6)));
        assert_eq!(Money::sum(Vec::new()), Ok(Money::ZERO));
        assert_eq!(Money::sum([Money::MAX, m(1)]), Err(MoneyError::Overflow));
    }

    #[test]
    fn chinese_upper() {
        let cases: &[(&str, &str)] = &[
            ("0", "零元整"),
            ("0.07", "柒分"),
            ("0.5", "伍角"),
            ("0.57", "伍角柒分"),
            ("1", "壹元整"),
            ("10", "壹拾元整"),
            ("10.5", "壹拾元伍角"),
            ("15", "壹拾伍元整"),
            ("100", "壹佰元整"),
            ("110", "壹佰壹拾元整"),
            ("1234.56", "壹仟贰佰叁拾肆元伍角陆分"),
            ("1409.50", "壹仟肆佰零玖元伍角"),
            ("6007.14", "陆仟零柒元壹角肆分"),
            ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
            ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
            ("325.04", "叁佰贰拾伍元零肆分"),
            ("107000.53", "壹拾万柒仟元伍角叁分"),
            ("100100", "壹拾万零壹佰元整"),
            ("100010", "壹拾万零壹拾元整"),
            ("1000001", "壹佰万零壹元整"),
            ("1000000.05", "壹佰万元零伍分"),
            ("10000", "壹万元整"),
            ("10001", "壹万零壹元整"),
            ("100000000", "壹亿元整"),
            ("100000001", "壹亿零壹元整"),
            ("101000000", "壹亿零壹佰万元整"),
            ("110000000", "壹亿壹仟万元整"),
            ("1000000000000", "壹万亿元整"),
            (
                "123456789012.34",
                "壹仟贰佰叁拾肆亿伍仟陆佰柒拾捌万玖仟零壹拾贰元叁角肆分",
            ),
            (
                "92233720368547758.07",
                // Beyond 10^16 yuan the 亿 unit repeats (万亿 / 亿亿 readings).
                "玖亿贰仟贰佰叁拾叁万柒仟贰佰零叁亿陆仟捌佰伍拾肆万柒仟柒佰伍拾捌元零柒分",
            ),
        ];
        for (amount, upper) in cases {
            assert_eq!(
                Money::parse(amount).unwrap().to_chinese_upper(),
                *upper,
                "{amount}"
            );
        }
    }

    fn arb_money() -> impl Strategy<Value = Money> {
        prop_oneof![
            (0i64..1_000_000).prop_map(|f| Money { fen: f }),
            (0i64..=i64::MAX).prop_map(|f| Money { fen: f }),
            (i64::MAX - 1000..=i64::MAX).prop_map(|f| Money { fen: f }),
        ]
    }

    /// Thousands-separated form of the canonical display.
    fn grouped(money: Money) -> String {
        let s = money.to_string();
        let (int, frac) = s.split_once('.').unwrap();
        let mut out = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{out}.{frac}")
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(money in arb_money()) {
            prop_assert_eq!(Money::parse(&money.to_string()), Ok(money));
            prop_assert_eq!(Money::parse(&grouped(money)), Ok(money));
        }

        #[test]
        fn serde_round_trip(money in arb_money()) {
            let json = serde_json::to_string(&money).unwrap();
            prop_assert!(json.starts_with('"'));
            prop_assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), money);
        }

        #[test]
        fn sum_matches_i128(items in proptest::collection::vec(arb_money(), 0..8)) {
            let exact: i128 = items.iter().map(|x| i128::from(x.fen())).sum();
            let got = Money::sum(items.iter().copied());
            if exact > i128::from(i64::MAX) {
                prop_assert_eq!(got, Err(MoneyError::Overflow));
            } else {
                prop_assert_eq!(got.map(|x| i128::from(x.fen())), Ok(exact));
            }
        }

        #[test]
        fn checked_add_matches_i128(a in arb_money(), b in arb_money()) {
            let exact = i128::from(a.fen()) + i128::from(b.fen());
            match a.checked_add(b) {
                Some(s) => prop_assert_eq!(i128::from(s.fen()), exact),
                None => prop_assert!(exact > i128::from(i64::MAX)),
            }
        }

        #[test]
        fn negative_fen_rejected(fen in i64::MIN..0) {
            prop_assert_eq!(Money::from_fen(fen), Err(MoneyError::Negative));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,30}") {
            let _ = Money::parse(&s);
        }

        #[test]
        fn upper_uses_only_allowed_chars(money in arb_money()) {
            let u = money.to_chinese_upper();
            prop_assert!(u.chars().all(|c| "零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整".contains(c)));
            prop_assert!(!u.contains("零零"));
            prop_assert!(!u.starts_with('零') || u == "零元整");
        }
    }
}
