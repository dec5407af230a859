//! What the 查询统计 screens show (in the hub-served browser and in the
//! desktop app alike): the hub's query, statistics and speed results
//! with names beside the codes, 报警时间 as Beijing time, money as yuan
//! text from integer fen, and the choices of the condition form for a
//! scope. Nothing here counts or decides: the figures are the hub's.

use jingwu_core::case::Status;
use jingwu_core::org::UnitKind;
use jingwu_core::registry::Registry;
use jingwu_core::stats::{status_name, PeriodKind, Scope, SpeedKind, UNFINISHED};
use jingwu_proto::{QueryPage, SpeedRow, StatsRow};
use serde_json::{json, Value};

use crate::fen_text;
use crate::views::{dict, local, status, unit};

/// A dictionary's entries as choices: code, label, pinyin initials and
/// the parent code (the 3-level 报警类别 picker shows the path).
fn dict_options(reg: &Registry, d: &str) -> Vec<Value> {
    reg.dicts
        .get(d)
        .map(|x| {
            x.entries
                .iter()
                .map(|e| {
                    json!({
                        "code": e.code, "label": e.label,
                        "initials": jingwu_core::dict::initials(&e.label),
                        "parent": jingwu_core::dict::parent_code(&e.code),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The units a person of `scope` may name as 管辖单位 (each with the
/// units under it): the bureau itself and the units that hold 110
/// records (a desk, a unit the desk dispatches to); or a station and the
/// units under it. `parent` is set only to a unit in the list.
fn scope_units(reg: &Registry, scope: &Scope) -> Vec<Value> {
    let org = &reg.org;
    let mut codes: Vec<String> = match scope {
        Scope::Units { units, .. } => units.clone(),
        Scope::Bureau { bureau, .. } => std::iter::once(bureau.clone())
            .chain(
                org.units_under(bureau)
                    .into_iter()
                    .filter(|u| org.registers_incidents(&u.code))
                    .map(|u| u.code.clone()),
            )
            .collect(),
        Scope::All { .. } => org
            .units()
            .filter(|u| u.kind == UnitKind::Bureau || org.registers_incidents(&u.code))
            .map(|u| u.code.clone())
            .collect(),
    };
    // In the org's order (a unit after its parent).
    let order: Vec<&str> = org.units().map(|u| u.code.as_str()).collect();
    codes.sort_by_key(|c| order.iter().position(|o| o == c).unwrap_or(usize::MAX));
    codes.dedup();
    codes
        .iter()
        .filter_map(|c| org.unit(c))
        .map(|u| {
            let parent = u.parent.as_ref().filter(|p| codes.contains(p)).cloned();
            json!({
                "code": u.code, "label": u.name,
                "initials": jingwu_core::dict::initials(&u.name),
                "parent": parent,
            })
        })
        .collect()
}

/// The choices of the condition form and of the statistics screens for
/// a person of `scope`.
pub fn stats_options(reg: &Registry, scope: &Scope) -> Value {
    let mut statuses = vec![json!({"code": "unfinished", "label": "未办结（全部）"})];
    statuses.extend(
        UNFINISHED
            .iter()
            .chain([Status::Archived].iter())
            .map(|s| json!({"code": status_name(*s), "label": s.label()})),
    );
    json!({
        "scope": scope.name(),
        "units": scope_units(reg, scope),
        "categories": dict_options(reg, "alarm_category"),
        "townships": dict_options(reg, "township"),
        "methods": dict_options(reg, "alarm_method"),
        "levels": dict_options(reg, "incident_level"),
        "results": dict_options(reg, "handling_result"),
        "statuses": statuses,
        "periods": PeriodKind::ALL.iter().map(|k| json!({"code": k.name(), "label": k.label()})).collect::<Vec<_>>(),
        "dims": [
            {"code": "unit", "label": "管辖单位"},
            {"code": "category", "label": "警情类别"},
            {"code": "township", "label": "乡镇"},
        ],
        "speeds": SpeedKind::ALL.iter().map(|k| json!({
            "code": k.name(), "label": k.label(), "buckets": k.buckets(),
        })).collect::<Vec<_>>(),
    })
}

/// A page of a query's result, each record with its names and texts.
pub fn query_page_view(reg: &Registry, page: &QueryPage) -> Value {
    let per = i64::from(page.per_page.max(1));
    let rows: Vec<Value> = page
        .rows
        .iter()
        .map(|r| {
            json!({
                "case_id": r.case_id,
                "case_no": r.case_no,
                "report_time": local(r.report_at),
                "unit": r.unit,
                "unit_name": unit(reg, &r.unit),
                "category": r.category,
                "category_name": dict(reg, "alarm_category", &r.category),
                "township": r.township,
                "township_name": dict(reg, "township", &r.township),
                "method_name": dict(reg, "alarm_method", &r.method),
                "level_name": dict(reg, "incident_level", &r.level),
                "result_name": dict(reg, "handling_result", &r.result),
                "status": r.status,
                "status_label": status(&r.status),
                "valid": r.valid,
                "injured": r.injured,
                "dead": r.dead,
                "loss_fen": r.loss_fen,
                "loss": fen_text(r.loss_fen),
                "summary": r.summary,
                "location": r.location,
                "imported": r.imported,
            })
        })
        .collect();
    json!({
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "pages": (page.total + per - 1) / per,
        "rows": rows,
    })
}

fn dim_name(reg: &Registry, d: &str, key: &str) -> String {
    match d {
        "unit" => unit(reg, key),
        "category" => dict(reg, "alarm_category", key),
        "township" => dict(reg, "township", key),
        _ => key.to_string(),
    }
}

/// Grouped statistics: each group's keys with their names, and its
/// measures (`loss` as yuan text beside `loss_fen`).
pub fn stats_view(reg: &Registry, by: &str, rows: &[StatsRow]) -> Value {
    let dims: Vec<&str> = by
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let names: serde_json::Map<String, Value> = r
                .keys
                .iter()
                .map(|(d, k)| (d.clone(), Value::String(dim_name(reg, d, k))))
                .collect();
            let m = &r.measures;
            json!({
                "keys": r.keys, "names": names,
                "count": m.count, "valid": m.valid, "loss_fen": m.loss_fen,
                "loss": fen_text(m.loss_fen), "injured": m.injured, "dead": m.dead,
            })
        })
        .collect();
    json!({"dims": dims, "rows": rows})
}

/// Response speed of `kind`: per unit (in the hub's order), the counts
/// of its five buckets.
pub fn speed_view(reg: &Registry, kind: &str, rows: &[SpeedRow]) -> Value {
    let k = SpeedKind::parse(kind).ok();
    let mut units: Vec<(String, Vec<i64>)> = Vec::new();
    for r in rows {
        match units.last_mut() {
            Some((u, counts)) if *u == r.unit => counts.push(r.count),
            _ => units.push((r.unit.clone(), vec![r.count])),
        }
    }
    json!({
        "kind": k.map(|k| k.name()),
        "label": k.map(|k| format!("{}速度", k.label())),
        "buckets": k.map(|k| k.buckets().to_vec()).unwrap_or_default(),
        "units": units.into_iter().map(|(u, counts)| json!({
            "unit": u, "name": unit(reg, &u), "counts": counts,
        })).collect::<Vec<_>>(),
    })
}

/// A table as the screens draw it: each cell's printed text (as in the
/// PDF: yuan with two decimals, one-decimal percentages, — where a
/// change has no base) and whether it is a figure (right-aligned).
pub fn table_view(t: &crate::Table) -> Value {
    json!({
        "title": t.title,
        "headers": t.headers,
        "rows": t.rows.iter().map(|r| r.iter().map(|c| json!({
            "text": c.text(), "figure": c.is_figure(),
        })).collect::<Vec<_>>()).collect::<Vec<_>>(),
    })
}

/// The 警情通报 for the screen: the report itself (for its charts) and
/// its tables exactly as the PDF and the workbook print them.
pub fn report_view(r: &jingwu_core::stats::Report) -> Value {
    json!({
        "report": r,
        "tables": crate::report_tables(r).iter().map(table_view).collect::<Vec<_>>(),
    })
}
