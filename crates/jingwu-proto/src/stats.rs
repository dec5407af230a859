//! 110 queries, statistics, the 警情通报 and historical imports
//! (`/api/incidents/query`, `/api/incidents/stats`, `/api/incidents/speed`,
//! `/api/incidents/report`, `/api/incidents/import`, `/api/queries`).
//! What the conditions and figures mean is `jingwu_core::stats`.

use std::collections::BTreeMap;

use jingwu_core::import::RowError;
use jingwu_core::stats::{Filter, Measures, Scope};
use serde::{Deserialize, Serialize};

/// How a query's rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    /// 报警时间 (the default).
    #[default]
    ReportTime,
    /// 损失金额.
    Loss,
    /// 接警单编号.
    CaseNo,
    /// 管辖单位.
    Unit,
    /// 报警类别.
    Category,
}

/// The most rows of one page.
pub const MAX_PER_PAGE: u32 = 500;

/// `POST /api/incidents/query`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct QueryRequest {
    /// The conditions (`jingwu_core::stats::Filter`): from, to (dates,
    /// inclusive), unit (with the units under it), category (any
    /// level), township, method, level, result, status (or
    /// `unfinished`), valid, injured, dead, loss_min, loss_max (yuan),
    /// text (words that must all occur in 报警内容 or 案发地点).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub filter: Filter,
    pub sort: SortBy,
    pub desc: bool,
    /// 1-based.
    pub page: u32,
    /// At most [`MAX_PER_PAGE`]; 0 means 50.
    pub per_page: u32,
}

/// One record of a query's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentRow {
    pub case_id: String,
    pub case_no: String,
    /// 报警时间, Unix seconds.
    pub report_at: i64,
    /// 管辖单位 code.
    pub unit: String,
    pub category: String,
    pub township: String,
    pub method: String,
    pub level: String,
    pub result: String,
    /// Status code (`archived`, `dispatched` …).
    pub status: String,
    pub valid: bool,
    pub injured: i64,
    pub dead: i64,
    /// 损失金额 in fen.
    pub loss_fen: i64,
    pub summary: String,
    pub location: String,
    pub imported: bool,
}

/// A page of a query's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueryPage {
    /// Records meeting the conditions, in all.
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
    pub rows: Vec<IncidentRow>,
}

/// `POST /api/incidents/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct StatsRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub filter: Filter,
    /// Dimensions, comma-separated: at most one of day, week, month,
    /// quarter, year; and unit, category (level 1), township.
    pub by: String,
}

/// One group of a statistics result: the dimension keys named as in
/// `by` (`month`: `2026-03`, `week`: `2026-W09`, `quarter`: `2026-Q1` …;
/// codes for unit, category, township) and the measures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsRow {
    #[serde(flatten)]
    pub keys: BTreeMap<String, String>,
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub measures: Measures,
}

// Read back by hand: two flattened parts cannot tell a key from a
// measure (the keys' map would take `count` too).
impl<'de> Deserialize<'de> for StatsRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<StatsRow, D::Error> {
        struct Row;
        impl<'de> serde::de::Visitor<'de> for Row {
            type Value = StatsRow;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a statistics row: dimension keys and the measures")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<StatsRow, A::Error> {
                let mut keys = BTreeMap::new();
                let mut m = Measures::default();
                while let Some(k) = map.next_key::<String>()? {
                    match k.as_str() {
                        "count" => m.count = map.next_value()?,
                        "valid" => m.valid = map.next_value()?,
                        "loss_fen" => m.loss_fen = map.next_value()?,
                        "injured" => m.injured = map.next_value()?,
                        "dead" => m.dead = map.next_value()?,
                        _ => {
                            let v: String = map.next_value()?;
                            keys.insert(k, v);
                        }
                    }
                }
                Ok(StatsRow { keys, measures: m })
            }
        }
        d.deserialize_map(Row)
    }
}

/// `POST /api/incidents/speed`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SpeedRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub filter: Filter,
    /// `ack` (签收), `depart` (出警) or `feedback` (反馈).
    pub kind: String,
}

/// Dispatches of one unit in one speed bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpeedRow {
    pub unit: String,
    /// e.g. `0-30s`, `5-10m`, `>4h`.
    pub bucket: String,
    pub count: i64,
}

/// `POST /api/incidents/import`: a file of historical records, signed
/// by the caller's hosted key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The file's name (`.xlsx` or `.csv`).
    pub name: String,
    /// The file, base64.
    pub data: String,
    /// Import the valid rows even if some rows have errors.
    #[serde(default)]
    pub only_valid: bool,
    /// Check only; import nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// The signing PIN.
    #[serde(default)]
    pub pin: String,
}

/// What an import came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportOutcome {
    /// Data rows in the file.
    pub rows: usize,
    /// Records imported now.
    pub imported: usize,
    /// Rows whose 接警单编号 was already on the hub (imported before).
    pub already: usize,
    /// Rows with errors (not imported).
    pub refused: usize,
    /// Every error: row, column, value, message (Chinese).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub errors: Vec<RowError>,
}

/// A saved query (`/api/queries`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SavedQuery {
    /// Its name, 1–50 characters, unique per person.
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub filter: Filter,
}

/// `GET /api/incidents/access`: whether the caller may query and count
/// 110 records (the hub's one gate, `jingwu_core::stats::query_scope`),
/// what their scope is, and whether they may import historical records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsAccess {
    pub allowed: bool,
    /// Why not (Chinese), when not allowed.
    pub reason: Option<String>,
    /// The scope (`{"kind": "bureau", "bureau", "name"}` or
    /// `{"kind": "units", "units", "name"}`), when allowed.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub scope: Option<Scope>,
    /// A member of a 110 desk: may import historical records.
    pub can_import: bool,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// A statistics row reads back as it was written: keys apart from
    /// the measures.
    #[test]
    fn a_stats_row_round_trips() {
        let row = StatsRow {
            keys: [("month", "2026-03"), ("unit", "522634510000")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            measures: Measures {
                count: 12,
                valid: 11,
                loss_fen: 123_456,
                injured: 2,
                dead: 0,
            },
        };
        let json = serde_json::to_string(&row).unwrap();
        assert_eq!(
            json,
            r#"{"month":"2026-03","unit":"522634510000","count":12,"valid":11,"loss_fen":123456,"injured":2,"dead":0}"#
        );
        assert_eq!(serde_json::from_str::<StatsRow>(&json).unwrap(), row);
        assert!(serde_json::from_str::<StatsRow>(r#"{"unit":5,"count":1}"#).is_err());
    }
}
