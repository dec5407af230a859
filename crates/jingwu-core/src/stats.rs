//! 110 statistics: the typed facts of a record that queries and reports
//! read, the periods they group by (Asia/Shanghai), who may query what,
//! the response-speed buckets, 同比 / 环比 and shares, and the 警情通报
//! assembled from grouped measures.
//!
//! The hub keeps one row of [`IncidentFacts`] per record, written in the
//! same transaction as the record's events, and adds them up in SQL;
//! every rule about what a figure means lives here. See
//! `docs/statistics.md`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, Duration, Month, OffsetDateTime, Weekday};

use crate::case::{category_level1, CaseState, DispatchInfo, Status};
use crate::form::{parse_datetime, CaseType};
use crate::money::Money;
use crate::org::{Org, UnitKind};
use crate::SHANGHAI;

// ----- periods ------------------------------------------------------------

/// A time dimension of statistics, read in Asia/Shanghai.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl PeriodKind {
    pub const ALL: [PeriodKind; 5] = [
        PeriodKind::Day,
        PeriodKind::Week,
        PeriodKind::Month,
        PeriodKind::Quarter,
        PeriodKind::Year,
    ];

    /// The dimension's name in the API (`day`, `week` …).
    pub fn name(self) -> &'static str {
        match self {
            PeriodKind::Day => "day",
            PeriodKind::Week => "week",
            PeriodKind::Month => "month",
            PeriodKind::Quarter => "quarter",
            PeriodKind::Year => "year",
        }
    }

    /// 日 / 周 / 月 / 季 / 年.
    pub fn label(self) -> &'static str {
        match self {
            PeriodKind::Day => "日",
            PeriodKind::Week => "周",
            PeriodKind::Month => "月",
            PeriodKind::Quarter => "季",
            PeriodKind::Year => "年",
        }
    }

    /// The key of the period of this kind that holds `d`: `2026-03-05`,
    /// `2026-W09` (ISO week), `2026-03`, `2026-Q1`, `2026`.
    pub fn key(self, d: Date) -> String {
        match self {
            PeriodKind::Day => format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
            PeriodKind::Week => {
                let (y, w, _) = d.to_iso_week_date();
                format!("{y:04}-W{w:02}")
            }
            PeriodKind::Month => format!("{:04}-{:02}", d.year(), u8::from(d.month())),
            PeriodKind::Quarter => {
                format!("{:04}-Q{}", d.year(), (u8::from(d.month()) - 1) / 3 + 1)
            }
            PeriodKind::Year => format!("{:04}", d.year()),
        }
    }
}

/// One period: its kind and its first and last day (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    pub kind: PeriodKind,
    pub first: Date,
    pub last: Date,
}

/// A period key that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("统计期“{0}”无效，应为 2026-W48（周）、2026-11（月）、2026-Q4（季）或 2026（年）")]
pub struct BadPeriod(pub String);

fn date(y: i32, m: u8, d: u8) -> Option<Date> {
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

fn month_last(y: i32, m: u8) -> Option<Date> {
    let first = date(y, m, 1)?;
    date(y, m, first.month().length(y))
}

impl Period {
    /// The period of `kind` holding `d`.
    pub fn holding(kind: PeriodKind, d: Date) -> Period {
        let (first, last) = match kind {
            PeriodKind::Day => (d, d),
            PeriodKind::Week => {
                let first = d - Duration::days(i64::from(d.weekday().number_days_from_monday()));
                (first, first + Duration::days(6))
            }
            PeriodKind::Month => (
                d.replace_day(1).unwrap_or(d),
                month_last(d.year(), u8::from(d.month())).unwrap_or(d),
            ),
            PeriodKind::Quarter => {
                let q0 = (u8::from(d.month()) - 1) / 3 * 3 + 1;
                (
                    date(d.year(), q0, 1).unwrap_or(d),
                    month_last(d.year(), q0 + 2).unwrap_or(d),
                )
            }
            PeriodKind::Year => (
                date(d.year(), 1, 1).unwrap_or(d),
                date(d.year(), 12, 31).unwrap_or(d),
            ),
        };
        Period { kind, first, last }
    }

    /// Parses `2026-W48`, `2026-11`, `2026-Q4`, `2026` or a day
    /// `2026-11-30`.
    pub fn parse(s: &str) -> Result<Period, BadPeriod> {
        let bad = || BadPeriod(s.to_string());
        let t = s.trim();
        let num = |x: &str| -> Result<u32, BadPeriod> {
            if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            x.parse().map_err(|_| bad())
        };
        let year = |x: &str| -> Result<i32, BadPeriod> {
            let y = num(x)?;
            if x.len() != 4 || !(1900..=9000).contains(&y) {
                return Err(bad());
            }
            Ok(y as i32)
        };
        let parts: Vec<&str> = t.split('-').collect();
        match parts.as_slice() {
            [y] => {
                let y = year(y)?;
                Ok(Period::holding(
                    PeriodKind::Year,
                    date(y, 1, 1).ok_or_else(bad)?,
                ))
            }
            [y, rest] if rest.starts_with('W') => {
                let y = year(y)?;
                let w = num(&rest[1..])?;
                if rest.len() != 3 {
                    return Err(bad());
                }
                let d = Date::from_iso_week_date(
                    y,
                    u8::try_from(w).map_err(|_| bad())?,
                    Weekday::Monday,
                )
                .map_err(|_| bad())?;
                Ok(Period::holding(PeriodKind::Week, d))
            }
            [y, rest] if rest.starts_with('Q') => {
                let y = year(y)?;
                let q = num(&rest[1..])?;
                if rest.len() != 2 || !(1..=4).contains(&q) {
                    return Err(bad());
                }
                let d = date(y, (q as u8 - 1) * 3 + 1, 1).ok_or_else(bad)?;
                Ok(Period::holding(PeriodKind::Quarter, d))
            }
            [y, m] => {
                let y = year(y)?;
                if m.len() != 2 {
                    return Err(bad());
                }
                let m = num(m)?;
                let d = date(y, u8::try_from(m).map_err(|_| bad())?, 1).ok_or_else(bad)?;
                Ok(Period::holding(PeriodKind::Month, d))
            }
            [y, m, d] => {
                let y = year(y)?;
                if m.len() != 2 || d.len() != 2 {
                    return Err(bad());
                }
                let d = date(
                    y,
                    u8::try_from(num(m)?).map_err(|_| bad())?,
                    u8::try_from(num(d)?).map_err(|_| bad())?,
                )
                .ok_or_else(bad)?;
                Ok(Period::holding(PeriodKind::Day, d))
            }
            _ => Err(bad()),
        }
    }

    /// The period's key (see [`PeriodKind::key`]).
    pub fn key(&self) -> String {
        self.kind.key(self.first)
    }

    /// The period just before (环比).
    pub fn previous(&self) -> Period {
        Period::holding(self.kind, self.first - Duration::days(1))
    }

    /// The same period a year earlier (同比): the same day, ISO week,
    /// month, quarter or year of the year before. A week 53 with no week
    /// 53 the year before compares with that year's week 52; 29 February
    /// with 28 February.
    pub fn year_earlier(&self) -> Period {
        match self.kind {
            PeriodKind::Week => {
                let (y, w, _) = self.first.to_iso_week_date();
                let d = Date::from_iso_week_date(y - 1, w, Weekday::Monday)
                    .or_else(|_| Date::from_iso_week_date(y - 1, 52, Weekday::Monday))
                    .unwrap_or(self.first);
                Period::holding(PeriodKind::Week, d)
            }
            _ => {
                let f = self.first;
                let d = date(f.year() - 1, u8::from(f.month()), f.day())
                    .or_else(|| date(f.year() - 1, u8::from(f.month()), f.day() - 1))
                    .unwrap_or(f);
                Period::holding(self.kind, d)
            }
        }
    }

    /// 2026年第48周（11月23日—11月29日）, 2026年11月, 2026年第四季度, 2026年.
    pub fn title(&self) -> String {
        let f = self.first;
        match self.kind {
            PeriodKind::Day => format!("{}年{}月{}日", f.year(), u8::from(f.month()), f.day()),
            PeriodKind::Week => {
                let (y, w, _) = f.to_iso_week_date();
                format!(
                    "{y}年第{w}周（{}月{}日—{}月{}日）",
                    u8::from(f.month()),
                    f.day(),
                    u8::from(self.last.month()),
                    self.last.day()
                )
            }
            PeriodKind::Month => format!("{}年{}月", f.year(), u8::from(f.month())),
            PeriodKind::Quarter => {
                let q = ["一", "二", "三", "四"][usize::from((u8::from(f.month()) - 1) / 3)];
                format!("{}年第{q}季度", f.year())
            }
            PeriodKind::Year => format!("{}年", f.year()),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// A date `YYYY-MM-DD`, with a Chinese error naming `what`.
pub fn parse_date(s: &str, what: &str) -> Result<Date, String> {
    match Period::parse(s) {
        Ok(p) if p.kind == PeriodKind::Day => Ok(p.first),
        _ => Err(format!("{what}“{s}”不是日期，应为 YYYY-MM-DD")),
    }
}

/// The Unix time of the start of `d` in Asia/Shanghai.
pub fn day_start(d: Date) -> i64 {
    d.midnight().assume_offset(SHANGHAI).unix_timestamp()
}

// ----- measures and percentages ------------------------------------------

/// The measures of a group of records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measures {
    /// 警情数.
    pub count: i64,
    /// 有效报警.
    pub valid: i64,
    /// Σ 财产损失, in fen.
    pub loss_fen: i64,
    /// Σ 受伤.
    pub injured: i64,
    /// Σ 死亡.
    pub dead: i64,
}

impl Measures {
    pub fn add(&mut self, o: &Measures) {
        self.count += o.count;
        self.valid += o.valid;
        self.loss_fen += o.loss_fen;
        self.injured += o.injured;
        self.dead += o.dead;
    }
}

/// `n / d` in tenths, rounded half away from zero.
fn tenths(n: i128, d: i128) -> i128 {
    let (n, d) = if d < 0 { (-n, -d) } else { (n, d) };
    let q = n * 10;
    let r = (q.abs() * 2 + d) / (2 * d);
    if q < 0 {
        -r
    } else {
        r
    }
}

fn one_decimal(t: i128) -> f64 {
    // Exact for any count a county produces: t is an integer of tenths.
    t as f64 / 10.0
}

/// The change from `base` to `cur` in percent, one decimal (rounded half
/// away from zero); `None` when `base` is 0 (shown as —).
pub fn pct_change(cur: i64, base: i64) -> Option<f64> {
    if base == 0 {
        return None;
    }
    Some(one_decimal(tenths(
        (i128::from(cur) - i128::from(base)) * 100,
        i128::from(base),
    )))
}

/// `part` of `total` in percent, one decimal; `None` when `total` is 0.
pub fn share(part: i64, total: i64) -> Option<f64> {
    if total == 0 {
        return None;
    }
    Some(one_decimal(tenths(
        i128::from(part) * 100,
        i128::from(total),
    )))
}

/// A percentage as printed: `12.3%`, `—` for none.
pub fn pct_text(p: Option<f64>) -> String {
    match p {
        Some(v) => format!("{v:.1}%"),
        None => "—".into(),
    }
}

/// Fen as yuan text with two decimals (`1234.50`).
pub fn yuan_text(fen: i64) -> String {
    Money::from_fen(fen.max(0))
        .map(|m| m.to_string())
        .unwrap_or_default()
}

// ----- response speed ----------------------------------------------------

/// Which step's speed, measured from 派警时间.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpeedKind {
    /// 签收.
    Ack,
    /// 出警.
    Depart,
    /// 反馈.
    Feedback,
}

impl SpeedKind {
    pub const ALL: [SpeedKind; 3] = [SpeedKind::Ack, SpeedKind::Depart, SpeedKind::Feedback];

    pub fn name(self) -> &'static str {
        match self {
            SpeedKind::Ack => "ack",
            SpeedKind::Depart => "depart",
            SpeedKind::Feedback => "feedback",
        }
    }

    pub fn parse(s: &str) -> Result<SpeedKind, String> {
        match s.trim() {
            "ack" | "签收" => Ok(SpeedKind::Ack),
            "depart" | "出警" => Ok(SpeedKind::Depart),
            "feedback" | "反馈" => Ok(SpeedKind::Feedback),
            o => Err(format!(
                "速度类型“{o}”无效，应为 ack（签收）、depart（出警）或 feedback（反馈）"
            )),
        }
    }

    /// 签收 / 出警 / 反馈.
    pub fn label(self) -> &'static str {
        match self {
            SpeedKind::Ack => "签收",
            SpeedKind::Depart => "出警",
            SpeedKind::Feedback => "反馈",
        }
    }

    /// The buckets' lower bounds in seconds (each bucket runs to the next
    /// bound, lower-inclusive; the last is open).
    pub fn bounds(self) -> [i64; 5] {
        match self {
            SpeedKind::Ack => [0, 30, 60, 120, 180],
            SpeedKind::Depart => [0, 300, 600, 900, 1800],
            SpeedKind::Feedback => [0, 1800, 3600, 7200, 14400],
        }
    }

    /// The buckets' names, in order.
    pub fn buckets(self) -> [&'static str; 5] {
        match self {
            SpeedKind::Ack => ["0-30s", "30-60s", "60-120s", "120-180s", ">180s"],
            SpeedKind::Depart => ["0-5m", "5-10m", "10-15m", "15-30m", ">30m"],
            SpeedKind::Feedback => ["0-30m", "30-60m", "1-2h", "2-4h", ">4h"],
        }
    }

    /// The bucket (index) of `secs`.
    pub fn bucket(self, secs: i64) -> usize {
        self.bounds().iter().rposition(|b| secs >= *b).unwrap_or(0)
    }
}

// ----- who may query -----------------------------------------------------

/// Posts that lead a station (its records are theirs to query).
pub const STATION_LEADER_POSTS: [&str; 4] = ["所长", "副所长", "教导员", "副教导员"];

/// Which records a person may query and count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// Every record on the hub: its operator's command line.
    All { name: String },
    /// Every record of the bureau (110 brigade, 指挥中心, bureau leaders).
    Bureau { bureau: String, name: String },
    /// The records of these units (a station's leaders: the station and
    /// the units under it).
    Units { units: Vec<String>, name: String },
}

impl Scope {
    /// Whether a record of `unit` is in scope.
    pub fn covers(&self, org: &Org, unit: &str) -> bool {
        match self {
            Scope::All { .. } => true,
            Scope::Bureau { bureau, .. } => org.bureau_of(unit).is_some_and(|b| &b.code == bureau),
            Scope::Units { units, .. } => units.iter().any(|u| u == unit),
        }
    }

    /// 全局 name shown on reports: the bureau's or the station's.
    pub fn name(&self) -> &str {
        match self {
            Scope::All { name } | Scope::Bureau { name, .. } | Scope::Units { name, .. } => name,
        }
    }
}

/// What `person` may query: the whole bureau for members of a 110 desk
/// (110 brigade, 指挥中心) and the bureau's leaders; their station (and
/// the units under it) for a station's leaders ([`STATION_LEADER_POSTS`]);
/// nothing for anyone else (the error says so in Chinese).
pub fn query_scope(org: &Org, person: &str) -> Result<Scope, String> {
    leaders_scope(org, person, true).ok_or_else(|| {
        if org.person(person).is_none() {
            format!("人员 {person} 不在组织机构中")
        } else {
            "您没有查询警情和统计的权限（限 110 巡警大队、指挥中心、局领导和派出所所长）".into()
        }
    })
}

/// Who may see the 督办 list (户口变更 steps past their time limit): a
/// bureau's leaders the whole bureau; a station's leaders
/// ([`STATION_LEADER_POSTS`]) their station and the units under it;
/// nobody else — not the 110 desks, who see no 户口变更.
pub fn supervision_scope(org: &Org, person: &str) -> Result<Scope, String> {
    leaders_scope(org, person, false).ok_or_else(|| {
        if org.person(person).is_none() {
            format!("人员 {person} 不在组织机构中")
        } else {
            "您没有查看督办清单的权限（限局领导和派出所所长、教导员）".into()
        }
    })
}

/// The bureau for its leaders (and, with `desks`, the members of its 110
/// desks); a station and the units under it for the station's leaders.
fn leaders_scope(org: &Org, person: &str, desks: bool) -> Option<Scope> {
    let p = org.person(person)?;
    for u in org.units_of(person) {
        let Some(b) = org.bureau_of(&u.code) else {
            continue;
        };
        if (desks && org.is_desk_member(person, &b.code)) || org.is_bureau_leader(person, &b.code) {
            return Some(Scope::Bureau {
                bureau: b.code.clone(),
                name: b.name.clone(),
            });
        }
    }
    let mut units = Vec::new();
    let mut names = Vec::new();
    for h in &p.posts {
        let Some(u) = org.unit(&h.unit) else { continue };
        if u.kind == UnitKind::Station && STATION_LEADER_POSTS.contains(&h.post.as_str()) {
            names.push(u.name.clone());
            units.push(u.code.clone());
            units.extend(org.units_under(&u.code).into_iter().map(|c| c.code.clone()));
        }
    }
    if units.is_empty() {
        return None;
    }
    units.sort();
    units.dedup();
    Some(Scope::Units {
        units,
        name: names.join("、"),
    })
}

// ----- a record's facts ----------------------------------------------------

/// One dispatch's times, in seconds after its 派警时间.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchFacts {
    /// 派警单编号.
    pub no: String,
    /// The handling unit.
    pub unit: String,
    /// 派警时间, Unix seconds.
    pub dispatched_at: i64,
    pub ack_secs: Option<i64>,
    pub depart_secs: Option<i64>,
    pub feedback_secs: Option<i64>,
}

impl DispatchFacts {
    /// The measured seconds of `kind`, if reached.
    pub fn secs(&self, kind: SpeedKind) -> Option<i64> {
        match kind {
            SpeedKind::Ack => self.ack_secs,
            SpeedKind::Depart => self.depart_secs,
            SpeedKind::Feedback => self.feedback_secs,
        }
    }
}

/// What statistics know of one 110 record: the typed row the hub keeps
/// beside the events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentFacts {
    pub case_no: String,
    /// 报警时间, Unix seconds.
    pub report_at: i64,
    /// The period keys of 报警时间, by [`PeriodKind`] (Asia/Shanghai).
    pub day: String,
    pub week: String,
    pub month: String,
    pub quarter: String,
    pub year: String,
    /// 管辖单位: the unit the record counts for (see [`IncidentFacts::of`]).
    pub unit: String,
    /// The registering unit.
    pub registered_by: String,
    /// 报警类别 as registered (any level) and its level-1 class.
    pub category: String,
    pub category1: String,
    pub township: String,
    pub method: String,
    pub level: String,
    /// The latest report's 处警结果 code (empty before any report).
    pub result: String,
    /// [`Status`] in snake case (`archived` …).
    pub status: String,
    pub valid: bool,
    pub injured: i64,
    pub dead: i64,
    pub loss_fen: i64,
    /// 报警内容 and 案发地点, for free-text search.
    pub summary: String,
    pub location: String,
    pub imported: bool,
    /// Measured dispatches: standing (not returned) ones, registered by
    /// the desk (a unit's own record, 自接警, has no dispatch time to
    /// measure from).
    pub dispatches: Vec<DispatchFacts>,
}

/// Results that make a record 无效: 无效警情 and 重复报警.
pub const INVALID_RESULTS: [&str; 2] = ["06", "07"];

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn count(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0).max(0),
        Some(Value::String(s)) => s.trim().parse::<i64>().unwrap_or(0).max(0),
        _ => 0,
    }
}

fn status_code(s: Status) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn secs_after(d: &DispatchInfo, t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(|t| (t - d.at).whole_seconds())
}

impl IncidentFacts {
    /// The facts of an incident record; `None` for any other case.
    ///
    /// - 报警时间 is the intake's; periods are its Asia/Shanghai dates.
    /// - 管辖单位 is the imported record's own; otherwise the unit of the
    ///   first standing dispatch, else the registering unit.
    /// - Category, 乡镇, 报警方式, 警情级别 are the intake's.
    /// - 受伤 / 死亡 / 损失 add up every standing dispatch's report (each
    ///   unit reports what it found), as the record's loss does
    ///   ([`crate::view::incident_loss`]).
    /// - 有效: the imported flag; otherwise no report says 无效警情 or
    ///   重复报警 ([`INVALID_RESULTS`]).
    pub fn of(s: &CaseState) -> Option<IncidentFacts> {
        if s.case_type != CaseType::Incident {
            return None;
        }
        let f = &s.form;
        let report = f
            .get("report_time")
            .and_then(Value::as_str)
            .and_then(parse_datetime)
            .unwrap_or(s.created_at)
            .to_offset(SHANGHAI);
        let d = report.date();
        let standing: Vec<&DispatchInfo> = s.standing_dispatches().collect();
        let reports: Vec<&DispatchInfo> = standing
            .iter()
            .copied()
            .filter(|d| d.feedback_at.is_some())
            .collect();
        let latest = reports.iter().max_by_key(|d| d.feedback_at);
        let result = latest
            .map(|d| text(d.feedback.get("result")))
            .unwrap_or_default();
        let imported = s.imported.as_ref();
        let unit = match imported {
            Some(r) => r.handling_unit.clone(),
            None => standing
                .first()
                .map(|d| d.unit.clone())
                .unwrap_or_else(|| s.unit.clone()),
        };
        let valid = match imported {
            Some(r) => r.valid,
            None => !reports
                .iter()
                .any(|d| INVALID_RESULTS.contains(&text(d.feedback.get("result")).as_str())),
        };
        let loss: i64 = reports
            .iter()
            .map(|d| crate::view::dispatch_loss(d).fen())
            .fold(0i64, i64::saturating_add);
        let category = text(f.get("alarm_category"));
        Some(IncidentFacts {
            case_no: s.case_no.clone(),
            report_at: report.unix_timestamp(),
            day: PeriodKind::Day.key(d),
            week: PeriodKind::Week.key(d),
            month: PeriodKind::Month.key(d),
            quarter: PeriodKind::Quarter.key(d),
            year: PeriodKind::Year.key(d),
            unit,
            registered_by: s.unit.clone(),
            category1: category_level1(&category),
            category,
            township: text(f.get("township")),
            method: text(f.get("alarm_method")),
            level: text(f.get("level")),
            result,
            status: status_code(s.status),
            valid,
            injured: reports
                .iter()
                .map(|d| count(d.feedback.get("injured")))
                .sum(),
            dead: reports.iter().map(|d| count(d.feedback.get("dead"))).sum(),
            loss_fen: loss,
            summary: text(f.get("summary")),
            location: text(f.get("location")),
            imported: imported.is_some(),
            dispatches: standing
                .iter()
                .filter(|d| !d.own)
                .map(|d| DispatchFacts {
                    no: d.no.clone(),
                    unit: d.unit.clone(),
                    dispatched_at: d.at.unix_timestamp(),
                    ack_secs: secs_after(d, d.acknowledged_at),
                    depart_secs: secs_after(d, d.departed_at),
                    feedback_secs: secs_after(d, d.feedback_at),
                })
                .collect(),
        })
    }

    /// The record's measures (one record).
    pub fn measures(&self) -> Measures {
        Measures {
            count: 1,
            valid: i64::from(self.valid),
            loss_fen: self.loss_fen,
            injured: self.injured,
            dead: self.dead,
        }
    }

    /// The key of the period of `kind` (already computed).
    pub fn period(&self, kind: PeriodKind) -> &str {
        match kind {
            PeriodKind::Day => &self.day,
            PeriodKind::Week => &self.week,
            PeriodKind::Month => &self.month,
            PeriodKind::Quarter => &self.quarter,
            PeriodKind::Year => &self.year,
        }
    }
}

/// Unfinished statuses, in lifecycle order, for the report's table.
pub const UNFINISHED: [Status; 7] = [
    Status::Received,
    Status::Dispatched,
    Status::Acknowledged,
    Status::Departed,
    Status::Arrived,
    Status::FeedbackFiled,
    Status::Concluded,
];

/// The snake-case code of a status (`feedback_filed` …).
pub fn status_name(s: Status) -> String {
    status_code(s)
}

// ----- grouping and filters ---------------------------------------------

/// A dimension of `stats --by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dim {
    Period(PeriodKind),
    Unit,
    Category,
    Township,
}

impl Dim {
    pub fn name(self) -> &'static str {
        match self {
            Dim::Period(k) => k.name(),
            Dim::Unit => "unit",
            Dim::Category => "category",
            Dim::Township => "township",
        }
    }

    /// `--by month,unit,category,township` → dimensions, at most one of
    /// them a period, none twice.
    pub fn parse_list(s: &str) -> Result<Vec<Dim>, String> {
        let mut v = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let d = match part {
                "unit" | "单位" => Dim::Unit,
                "category" | "类别" => Dim::Category,
                "township" | "乡镇" => Dim::Township,
                p => match PeriodKind::ALL.iter().find(|k| k.name() == p) {
                    Some(k) => Dim::Period(*k),
                    None => {
                        return Err(format!(
                            "分组维度“{p}”无效，可选 day、week、month、quarter、year、unit、category、township"
                        ))
                    }
                },
            };
            if v.contains(&d) {
                return Err(format!("分组维度“{part}”重复"));
            }
            if matches!(d, Dim::Period(_)) && v.iter().any(|x| matches!(x, Dim::Period(_))) {
                return Err("时间维度（日、周、月、季、年）只能选一个".into());
            }
            v.push(d);
        }
        Ok(v)
    }
}

/// The conditions of a query, as the UI, the API and saved queries send
/// them. Every field is optional; given ones all apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    /// 报警时间 from this date (YYYY-MM-DD, inclusive).
    pub from: Option<String>,
    /// 报警时间 up to this date (inclusive).
    pub to: Option<String>,
    /// 管辖单位, with the units under it.
    pub unit: Option<String>,
    /// 报警类别 at any level: `010000` matches its whole class,
    /// `010100` its types.
    pub category: Option<String>,
    pub township: Option<String>,
    pub method: Option<String>,
    pub level: Option<String>,
    /// 处警结果 code.
    pub result: Option<String>,
    /// Status code (`archived`, `dispatched` …) or `unfinished`.
    pub status: Option<String>,
    pub valid: Option<bool>,
    /// With 受伤 (true) or without (false).
    pub injured: Option<bool>,
    /// With 死亡 (true) or without (false).
    pub dead: Option<bool>,
    /// 损失金额 range in yuan (text, at most 2 decimals).
    pub loss_min: Option<String>,
    pub loss_max: Option<String>,
    /// Words that must all appear in 报警内容 or 案发地点.
    pub text: Option<String>,
}

/// A query's conditions, checked and made ready for SQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// 报警时间 in `[from, to)`, Unix seconds.
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// 管辖单位 in this list.
    pub units: Option<Vec<String>>,
    /// 报警类别: exactly this code, or codes starting with `prefix`.
    pub category_exact: Option<String>,
    pub category_prefix: Option<String>,
    pub township: Option<String>,
    pub method: Option<String>,
    pub level: Option<String>,
    pub result: Option<String>,
    /// Status codes, any of.
    pub statuses: Option<Vec<String>>,
    pub valid: Option<bool>,
    pub injured: Option<bool>,
    pub dead: Option<bool>,
    pub loss_min: Option<i64>,
    pub loss_max: Option<i64>,
    /// Each must occur in 报警内容 or 案发地点.
    pub terms: Vec<String>,
}

/// At most this many free-text words.
pub const MAX_TERMS: usize = 5;

fn dict_ok(reg: &crate::registry::Registry, dict: &str, code: &str) -> bool {
    reg.dicts.get(dict).is_some_and(|d| d.label(code).is_some())
}

impl Filter {
    /// Checks every condition against the registry; the errors name the
    /// condition in Chinese.
    pub fn check(&self, reg: &crate::registry::Registry) -> Result<Conditions, Vec<String>> {
        let mut errs = Vec::new();
        let mut c = Conditions::default();
        let nonempty = |o: &Option<String>| {
            o.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let from = nonempty(&self.from).map(|s| parse_date(&s, "起始日期"));
        let to = nonempty(&self.to).map(|s| parse_date(&s, "截止日期"));
        match from {
            Some(Ok(d)) => c.from = Some(day_start(d)),
            Some(Err(e)) => errs.push(e),
            None => {}
        }
        match to {
            Some(Ok(d)) => c.to = Some(day_start(d + Duration::days(1))),
            Some(Err(e)) => errs.push(e),
            None => {}
        }
        if let (Some(a), Some(b)) = (c.from, c.to) {
            if a >= b {
                errs.push("起始日期不能晚于截止日期".into());
            }
        }
        if let Some(u) = nonempty(&self.unit) {
            match reg.org.unit(&u) {
                Some(unit) => {
                    let mut v = vec![unit.code.clone()];
                    v.extend(reg.org.units_under(&u).into_iter().map(|x| x.code.clone()));
                    c.units = Some(v);
                }
                None => errs.push(format!("单位“{u}”不存在")),
            }
        }
        if let Some(cat) = nonempty(&self.category) {
            if !dict_ok(reg, "alarm_category", &cat) {
                errs.push(format!("报警类别“{cat}”不在字典中"));
            } else if cat.len() == 6 && cat.ends_with("0000") {
                c.category_prefix = Some(cat[..2].to_string());
            } else if cat.len() == 6 && cat.ends_with("00") {
                c.category_prefix = Some(cat[..4].to_string());
            } else {
                c.category_exact = Some(cat);
            }
        }
        for (v, dict, what, slot) in [
            (&self.township, "township", "乡镇", &mut c.township),
            (&self.method, "alarm_method", "报警方式", &mut c.method),
            (&self.level, "incident_level", "警情级别", &mut c.level),
            (&self.result, "handling_result", "处警结果", &mut c.result),
        ] {
            if let Some(code) = nonempty(v) {
                if dict_ok(reg, dict, &code) {
                    *slot = Some(code);
                } else {
                    errs.push(format!("{what}“{code}”不在字典中"));
                }
            }
        }
        if let Some(st) = nonempty(&self.status) {
            if st == "unfinished" {
                c.statuses = Some(UNFINISHED.iter().map(|s| status_name(*s)).collect());
            } else if UNFINISHED
                .iter()
                .chain([Status::Archived].iter())
                .any(|s| status_name(*s) == st)
            {
                c.statuses = Some(vec![st]);
            } else {
                errs.push(format!("状态“{st}”无效"));
            }
        }
        c.valid = self.valid;
        c.injured = self.injured;
        c.dead = self.dead;
        for (v, what, slot) in [
            (&self.loss_min, "损失金额下限", &mut c.loss_min),
            (&self.loss_max, "损失金额上限", &mut c.loss_max),
        ] {
            if let Some(t) = nonempty(v) {
                match Money::parse(&t) {
                    Ok(m) => *slot = Some(m.fen()),
                    Err(e) => errs.push(format!("{what}：{e}")),
                }
            }
        }
        if let (Some(a), Some(b)) = (c.loss_min, c.loss_max) {
            if a > b {
                errs.push("损失金额下限不能大于上限".into());
            }
        }
        if let Some(t) = nonempty(&self.text) {
            let terms: Vec<String> = t.split_whitespace().map(str::to_string).collect();
            if terms.len() > MAX_TERMS {
                errs.push(format!("关键词最多 {MAX_TERMS} 个"));
            } else if terms.iter().any(|w| w.chars().count() > 50) {
                errs.push("关键词过长（每个最多 50 字）".into());
            } else {
                c.terms = terms;
            }
        }
        if errs.is_empty() {
            Ok(c)
        } else {
            Err(errs)
        }
    }
}

impl Conditions {
    /// The conditions narrowed to what `scope` may see: the 管辖单位
    /// must be in scope as well as in the condition's own units.
    pub fn within(mut self, scope: &Scope, org: &Org) -> Conditions {
        if matches!(scope, Scope::All { .. }) {
            return self;
        }
        let allowed: Vec<String> = match scope {
            Scope::Units { units, .. } => units.clone(),
            _ => org
                .units()
                .filter(|u| scope.covers(org, &u.code))
                .map(|u| u.code.clone())
                .collect(),
        };
        self.units = Some(match self.units.take() {
            Some(want) => want.into_iter().filter(|u| allowed.contains(u)).collect(),
            None => allowed,
        });
        self
    }

    /// The same conditions over another 报警时间 range (a report's
    /// previous period, or a year earlier).
    pub fn between(&self, first: Date, last: Date) -> Conditions {
        let mut c = self.clone();
        c.from = Some(day_start(first));
        c.to = Some(day_start(last + Duration::days(1)));
        c
    }

    /// Whether `f` meets every condition (the reference for the SQL the
    /// hub runs; used by tests and small stores).
    pub fn matches(&self, f: &IncidentFacts) -> bool {
        let opt_eq = |want: &Option<String>, got: &str| want.as_deref().is_none_or(|w| w == got);
        self.from.is_none_or(|a| f.report_at >= a)
            && self.to.is_none_or(|b| f.report_at < b)
            && self
                .units
                .as_ref()
                .is_none_or(|u| u.iter().any(|x| x == &f.unit))
            && opt_eq(&self.category_exact, &f.category)
            && self
                .category_prefix
                .as_deref()
                .is_none_or(|p| f.category.starts_with(p))
            && opt_eq(&self.township, &f.township)
            && opt_eq(&self.method, &f.method)
            && opt_eq(&self.level, &f.level)
            && opt_eq(&self.result, &f.result)
            && self
                .statuses
                .as_ref()
                .is_none_or(|s| s.iter().any(|x| x == &f.status))
            && self.valid.is_none_or(|v| v == f.valid)
            && self.injured.is_none_or(|v| v == (f.injured > 0))
            && self.dead.is_none_or(|v| v == (f.dead > 0))
            && self.loss_min.is_none_or(|m| f.loss_fen >= m)
            && self.loss_max.is_none_or(|m| f.loss_fen <= m)
            && self
                .terms
                .iter()
                .all(|t| f.summary.contains(t.as_str()) || f.location.contains(t.as_str()))
    }
}

// ----- the 警情通报 -----------------------------------------------------------

/// One line of a report table: a category, unit or 乡镇 with its
/// measures, its share of the period's records and its count's changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub code: String,
    pub name: String,
    #[serde(flatten)]
    pub m: Measures,
    /// Share of the period's records, percent.
    pub share_pct: Option<f64>,
    /// 环比 / 同比 of the count, percent.
    pub mom_pct: Option<f64>,
    pub yoy_pct: Option<f64>,
}

/// The period's measures beside the period before and a year earlier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compared {
    pub current: Measures,
    pub previous: Measures,
    pub year_earlier: Measures,
    /// 环比 of each measure, percent.
    pub mom_pct: Changes,
    /// 同比 of each measure, percent.
    pub yoy_pct: Changes,
}

/// Percent changes of each measure (`None` where the base is 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    pub count: Option<f64>,
    pub valid: Option<f64>,
    pub loss_fen: Option<f64>,
    pub injured: Option<f64>,
    pub dead: Option<f64>,
}

impl Changes {
    pub fn of(cur: &Measures, base: &Measures) -> Changes {
        Changes {
            count: pct_change(cur.count, base.count),
            valid: pct_change(cur.valid, base.valid),
            loss_fen: pct_change(cur.loss_fen, base.loss_fen),
            injured: pct_change(cur.injured, base.injured),
            dead: pct_change(cur.dead, base.dead),
        }
    }
}

/// One unit's response speed of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeedLine {
    pub unit: String,
    pub name: String,
    /// Measured dispatches.
    pub total: i64,
    /// Per bucket, in [`SpeedKind::buckets`] order.
    pub counts: Vec<i64>,
    pub shares_pct: Vec<Option<f64>>,
    /// Mean seconds, one decimal.
    pub mean_secs: Option<f64>,
}

/// Response speed of one kind: per unit, overall, and the slowest units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeedTable {
    pub kind: SpeedKind,
    pub label: String,
    pub buckets: Vec<String>,
    pub units: Vec<SpeedLine>,
    pub overall: SpeedLine,
    /// 排名靠后: the units with the longest mean time, slowest first.
    pub slowest: Vec<SpeedLine>,
}

/// How many of the slowest units a report names.
pub const SLOWEST_NAMED: usize = 3;

/// Unfinished records of the period by status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCount {
    pub status: String,
    pub label: String,
    pub count: i64,
}

/// A 警情通报: everything in it is computed from the records of the
/// period (by 报警时间) in the reader's scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// e.g. 雷山县公安局警情通报（2026年第48周（11月23日—11月29日））.
    pub title: String,
    pub period: String,
    pub kind: PeriodKind,
    /// First and last day, inclusive.
    pub from: String,
    pub to: String,
    pub previous_period: String,
    pub year_earlier_period: String,
    pub scope: String,
    pub generated_at: String,
    pub totals: Compared,
    /// Level-1 categories, every one of the dictionary, in code order.
    pub by_category: Vec<Line>,
    /// 管辖单位 with any record, in code order.
    pub by_unit: Vec<Line>,
    /// 乡镇 with any record, in code order.
    pub by_township: Vec<Line>,
    pub speed: Vec<SpeedTable>,
    /// Every unfinished status, in lifecycle order (zeros included).
    pub unfinished: Vec<StatusCount>,
    pub unfinished_total: i64,
}

/// Speed rows as the store sums them: (unit, bucket index, count, Σ
/// seconds).
pub type SpeedRows = Vec<(String, usize, i64, i64)>;

/// What the store adds up for a report; see [`Report::assemble`].
#[derive(Debug, Clone, Default)]
pub struct ReportData {
    pub current: Measures,
    pub previous: Measures,
    pub year_earlier: Measures,
    /// Level-1 category → measures, for the period, the one before and a
    /// year earlier.
    pub by_category: [BTreeMap<String, Measures>; 3],
    pub by_unit: [BTreeMap<String, Measures>; 3],
    pub by_township: [BTreeMap<String, Measures>; 3],
    /// Per [`SpeedKind::ALL`].
    pub speed: [SpeedRows; 3],
    /// Status code → count of the period's unfinished records.
    pub unfinished: BTreeMap<String, i64>,
}

fn mean_tenths(sum: i64, n: i64) -> Option<f64> {
    (n > 0).then(|| one_decimal(tenths(i128::from(sum), i128::from(n))))
}

fn speed_table(kind: SpeedKind, rows: &SpeedRows, name: &dyn Fn(&str) -> String) -> SpeedTable {
    let mut per: BTreeMap<String, ([i64; 5], i64)> = BTreeMap::new();
    for (unit, b, n, sum) in rows {
        let e = per.entry(unit.clone()).or_default();
        if let Some(c) = e.0.get_mut(*b) {
            *c += n;
        }
        e.1 += sum;
    }
    let line = |unit: &str, counts: [i64; 5], sum: i64| {
        let total: i64 = counts.iter().sum();
        SpeedLine {
            unit: unit.to_string(),
            name: if unit.is_empty() {
                "合计".into()
            } else {
                name(unit)
            },
            total,
            counts: counts.to_vec(),
            shares_pct: counts.iter().map(|c| share(*c, total)).collect(),
            mean_secs: mean_tenths(sum, total),
        }
    };
    let units: Vec<SpeedLine> = per.iter().map(|(u, (c, s))| line(u, *c, *s)).collect();
    let mut all = [0i64; 5];
    let mut all_sum = 0;
    for (c, s) in per.values() {
        for (a, x) in all.iter_mut().zip(c) {
            *a += x;
        }
        all_sum += s;
    }
    // Slowest: highest mean (compared exactly, as Σ/n), then code.
    let mut order: Vec<(&String, &([i64; 5], i64))> = per
        .iter()
        .filter(|(_, (c, _))| c.iter().sum::<i64>() > 0)
        .collect();
    order.sort_by(|(ua, (ca, sa)), (ub, (cb, sb))| {
        let na = i128::from(ca.iter().sum::<i64>());
        let nb = i128::from(cb.iter().sum::<i64>());
        (i128::from(*sb) * na)
            .cmp(&(i128::from(*sa) * nb))
            .then_with(|| ua.cmp(ub))
    });
    let slowest = order
        .into_iter()
        .take(SLOWEST_NAMED)
        .map(|(u, (c, s))| line(u, *c, *s))
        .collect();
    SpeedTable {
        kind,
        label: format!("{}速度", kind.label()),
        buckets: kind.buckets().iter().map(|b| b.to_string()).collect(),
        units,
        overall: line("", all, all_sum),
        slowest,
    }
}

fn lines(
    maps: &[BTreeMap<String, Measures>; 3],
    codes: Vec<String>,
    total: i64,
    name: &dyn Fn(&str) -> String,
) -> Vec<Line> {
    codes
        .into_iter()
        .map(|code| {
            let get = |i: usize| maps[i].get(&code).copied().unwrap_or_default();
            let (cur, prev, ly) = (get(0), get(1), get(2));
            Line {
                name: name(&code),
                share_pct: share(cur.count, total),
                mom_pct: pct_change(cur.count, prev.count),
                yoy_pct: pct_change(cur.count, ly.count),
                code,
                m: cur,
            }
        })
        .collect()
}

impl Report {
    /// The report of `period` from the store's sums. Categories list every
    /// level-1 class of the dictionary; units and 乡镇 those with records
    /// in the period; speed every unit measured.
    pub fn assemble(
        reg: &crate::registry::Registry,
        period: &Period,
        scope: &Scope,
        data: &ReportData,
        generated_at: OffsetDateTime,
    ) -> Report {
        let dict_label = |dict: &str, code: &str| {
            reg.dicts
                .get(dict)
                .and_then(|d| d.label(code))
                .map(str::to_string)
                .unwrap_or_else(|| code.to_string())
        };
        let unit_name = |code: &str| {
            reg.org
                .unit(code)
                .map(|u| u.name.clone())
                .unwrap_or_else(|| code.to_string())
        };
        let total = data.current.count;
        let categories: Vec<String> = reg
            .dicts
            .get("alarm_category")
            .map(|d| {
                d.entries
                    .iter()
                    .map(|e| e.code.clone())
                    .filter(|c| category_level1(c) == *c)
                    .collect()
            })
            .unwrap_or_default();
        let mut categories = categories;
        for c in data.by_category[0].keys() {
            if !categories.contains(c) {
                categories.push(c.clone());
            }
        }
        categories.sort();
        let by_category = lines(&data.by_category, categories, total, &|c| {
            dict_label("alarm_category", c)
        });
        let by_unit = lines(
            &data.by_unit,
            data.by_unit[0].keys().cloned().collect(),
            total,
            &unit_name,
        );
        let by_township = lines(
            &data.by_township,
            data.by_township[0].keys().cloned().collect(),
            total,
            &|c| dict_label("township", c),
        );
        let speed = SpeedKind::ALL
            .iter()
            .zip(&data.speed)
            .map(|(k, rows)| speed_table(*k, rows, &unit_name))
            .collect();
        let unfinished: Vec<StatusCount> = UNFINISHED
            .iter()
            .map(|s| StatusCount {
                status: status_name(*s),
                label: s.label().to_string(),
                count: data.unfinished.get(&status_name(*s)).copied().unwrap_or(0),
            })
            .collect();
        let unfinished_total = unfinished.iter().map(|s| s.count).sum();
        let prev = period.previous();
        let ly = period.year_earlier();
        let day = |d: Date| PeriodKind::Day.key(d);
        Report {
            title: format!("{}警情通报（{}）", scope.name(), period.title()),
            period: period.key(),
            kind: period.kind,
            from: day(period.first),
            to: day(period.last),
            previous_period: prev.key(),
            year_earlier_period: ly.key(),
            scope: scope.name().to_string(),
            generated_at: crate::view::local_time(generated_at),
            totals: Compared {
                current: data.current,
                previous: data.previous,
                year_earlier: data.year_earlier,
                mom_pct: Changes::of(&data.current, &data.previous),
                yoy_pct: Changes::of(&data.current, &data.year_earlier),
            },
            by_category,
            by_unit,
            by_township,
            speed,
            unfinished,
            unfinished_total,
        }
    }
}
