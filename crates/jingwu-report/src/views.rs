//! The hub's query, statistics and speed results as tables (for CSV and
//! xlsx exports): codes shown with their names beside them.

use jingwu_core::registry::Registry;
use jingwu_proto::{IncidentRow, SpeedRow, StatsRow};

use crate::{Cell, Table};

pub(crate) fn dict(reg: &Registry, d: &str, code: &str) -> String {
    reg.dicts
        .get(d)
        .and_then(|x| x.label(code))
        .unwrap_or_default()
        .to_string()
}

pub(crate) fn unit(reg: &Registry, code: &str) -> String {
    reg.org
        .unit(code)
        .map(|u| u.name.clone())
        .unwrap_or_default()
}

pub(crate) fn status(code: &str) -> String {
    serde_json::from_value::<jingwu_core::case::Status>(serde_json::Value::String(code.into()))
        .map(|s| s.label().to_string())
        .unwrap_or_else(|_| code.to_string())
}

/// 报警时间 as `YYYY-MM-DD HH:MM:SS` in Asia/Shanghai.
pub(crate) fn local(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map(jingwu_core::import::format_local_time)
        .unwrap_or_default()
}

/// The records of a query, one row each.
pub fn query_table(reg: &Registry, rows: &[IncidentRow]) -> Table {
    let headers = [
        "接警单编号",
        "报警时间",
        "管辖单位代码",
        "管辖单位",
        "警情类别代码",
        "警情类别",
        "乡镇代码",
        "乡镇",
        "报警方式",
        "警情级别",
        "处警结果",
        "状态",
        "是否有效",
        "受伤人数",
        "死亡人数",
        "损失金额（元）",
        "案发地点",
        "报警内容",
        "历史导入",
    ];
    Table {
        title: "警情查询结果".into(),
        headers: headers.iter().map(|h| h.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(r.case_no.clone()),
                    Cell::Text(local(r.report_at)),
                    Cell::Text(r.unit.clone()),
                    Cell::Text(unit(reg, &r.unit)),
                    Cell::Text(r.category.clone()),
                    Cell::Text(dict(reg, "alarm_category", &r.category)),
                    Cell::Text(r.township.clone()),
                    Cell::Text(dict(reg, "township", &r.township)),
                    Cell::Text(dict(reg, "alarm_method", &r.method)),
                    Cell::Text(dict(reg, "incident_level", &r.level)),
                    Cell::Text(dict(reg, "handling_result", &r.result)),
                    Cell::Text(status(&r.status)),
                    Cell::Text(if r.valid { "是" } else { "否" }.into()),
                    Cell::Int(r.injured),
                    Cell::Int(r.dead),
                    Cell::Fen(r.loss_fen),
                    Cell::Text(r.location.clone()),
                    Cell::Text(r.summary.clone()),
                    Cell::Text(if r.imported { "是" } else { "否" }.into()),
                ]
            })
            .collect(),
    }
}

fn dim_label(d: &str) -> &'static str {
    match d {
        "day" => "日期",
        "week" => "周",
        "month" => "月份",
        "quarter" => "季度",
        "year" => "年份",
        "unit" => "管辖单位",
        "category" => "警情类别",
        "township" => "乡镇",
        _ => "维度",
    }
}

/// Grouped statistics: the dimensions (codes with names) and the
/// measures.
pub fn stats_table(reg: &Registry, by: &str, rows: &[StatsRow]) -> Table {
    let dims: Vec<&str> = by
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    let mut headers = Vec::new();
    for d in &dims {
        headers.push(dim_label(d).to_string());
        if matches!(*d, "unit" | "category" | "township") {
            headers.push(format!("{}名称", dim_label(d)));
        }
    }
    for h in [
        "警情数",
        "有效报警",
        "损失金额（元）",
        "受伤人数",
        "死亡人数",
    ] {
        headers.push(h.into());
    }
    Table {
        title: "警情统计".into(),
        headers,
        rows: rows
            .iter()
            .map(|r| {
                let mut v = Vec::new();
                for d in &dims {
                    let k = r.keys.get(*d).cloned().unwrap_or_default();
                    let name = match *d {
                        "unit" => Some(unit(reg, &k)),
                        "category" => Some(dict(reg, "alarm_category", &k)),
                        "township" => Some(dict(reg, "township", &k)),
                        _ => None,
                    };
                    v.push(Cell::Text(k));
                    if let Some(n) = name {
                        v.push(Cell::Text(n));
                    }
                }
                let m = &r.measures;
                v.extend([
                    Cell::Int(m.count),
                    Cell::Int(m.valid),
                    Cell::Fen(m.loss_fen),
                    Cell::Int(m.injured),
                    Cell::Int(m.dead),
                ]);
                v
            })
            .collect(),
    }
}

/// Response speed per unit and bucket.
pub fn speed_table(reg: &Registry, rows: &[SpeedRow]) -> Table {
    Table {
        title: "处警速度".into(),
        headers: ["管辖单位代码", "管辖单位", "时段", "派警单数"]
            .iter()
            .map(|h| h.to_string())
            .collect(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(r.unit.clone()),
                    Cell::Text(unit(reg, &r.unit)),
                    Cell::Text(r.bucket.clone()),
                    Cell::Int(r.count),
                ]
            })
            .collect(),
    }
}
