//! Statistics: periods, percentages, speed buckets, who may query, the
//! facts of a record, and historical imports.

use proptest::prelude::*;
use serde_json::json;
use time::macros::{date, datetime};

use super::incident::{create, feedback};
use super::World;
use crate::case::{CaseState, Status};
use crate::event::Action;
use crate::import::{case_id_for, header_map, Importer, HEADERS};
use crate::stats::*;

#[test]
fn period_keys_are_read_in_iso_weeks_and_calendar_quarters() {
    let d = date!(2026 - 03 - 05);
    assert_eq!(PeriodKind::Day.key(d), "2026-03-05");
    assert_eq!(PeriodKind::Week.key(d), "2026-W10");
    assert_eq!(PeriodKind::Month.key(d), "2026-03");
    assert_eq!(PeriodKind::Quarter.key(d), "2026-Q1");
    assert_eq!(PeriodKind::Year.key(d), "2026");
    // ISO weeks across the turn of the year.
    assert_eq!(PeriodKind::Week.key(date!(2024 - 12 - 30)), "2025-W01");
    assert_eq!(PeriodKind::Week.key(date!(2027 - 01 - 01)), "2026-W53");
    assert_eq!(PeriodKind::Week.key(date!(2026 - 01 - 01)), "2026-W01");
}

#[test]
fn periods_parse_and_compare_with_the_one_before_and_a_year_earlier() {
    let w = Period::parse("2026-W48").unwrap();
    assert_eq!(
        (w.first, w.last),
        (date!(2026 - 11 - 23), date!(2026 - 11 - 29))
    );
    assert_eq!(w.previous().key(), "2026-W47");
    assert_eq!(w.year_earlier().key(), "2025-W48");
    let m = Period::parse("2026-03").unwrap();
    assert_eq!(
        (m.first, m.last),
        (date!(2026 - 03 - 01), date!(2026 - 03 - 31))
    );
    assert_eq!(m.previous().key(), "2026-02");
    assert_eq!(
        Period::parse("2026-01").unwrap().previous().key(),
        "2025-12"
    );
    let q = Period::parse("2026-Q4").unwrap();
    assert_eq!(
        (q.first, q.last),
        (date!(2026 - 10 - 01), date!(2026 - 12 - 31))
    );
    assert_eq!(q.previous().key(), "2026-Q3");
    assert_eq!(q.year_earlier().key(), "2025-Q4");
    assert_eq!(Period::parse("2026").unwrap().previous().key(), "2025");
    // A week 53 compares with week 52 of a year that has none.
    assert_eq!(
        Period::parse("2026-W53").unwrap().year_earlier().key(),
        "2025-W52"
    );
    assert_eq!(
        Period::parse("2028-02-29").unwrap().year_earlier().key(),
        "2027-02-28"
    );
    for bad in [
        "",
        "2026-W54",
        "2026-13",
        "2026-Q5",
        "26",
        "2026-1",
        "2026-W5",
        "2026-02-30",
        "abc",
    ] {
        assert!(Period::parse(bad).is_err(), "{bad} parsed");
    }
    assert!(Period::parse("2026-W54")
        .unwrap_err()
        .to_string()
        .contains("统计期"));
}

#[test]
fn percentages_round_half_away_from_zero_and_say_nothing_over_zero() {
    assert_eq!(pct_change(120, 100), Some(20.0));
    assert_eq!(pct_change(9, 8), Some(12.5));
    assert_eq!(pct_change(1, 3), Some(-66.7));
    assert_eq!(pct_change(2, 3), Some(-33.3));
    assert_eq!(pct_change(5, 0), None);
    assert_eq!(share(1, 8), Some(12.5));
    assert_eq!(share(1, 16), Some(6.3));
    assert_eq!(share(1, 0), None);
    assert_eq!(pct_text(None), "—");
    assert_eq!(pct_text(Some(-3.0)), "-3.0%");
    // 0.05% rounds up to 0.1%, -0.05% down to -0.1%.
    assert_eq!(pct_change(20001, 20000), Some(0.0));
    assert_eq!(pct_change(2001, 2000), Some(0.1));
    assert_eq!(pct_change(1999, 2000), Some(-0.1));
}

#[test]
fn speed_buckets_are_lower_inclusive() {
    let k = SpeedKind::Ack;
    assert_eq!(k.bucket(0), 0);
    assert_eq!(k.bucket(29), 0);
    assert_eq!(k.bucket(30), 1);
    assert_eq!(k.bucket(180), 4);
    assert_eq!(SpeedKind::Depart.bucket(299), 0);
    assert_eq!(SpeedKind::Depart.bucket(300), 1);
    assert_eq!(SpeedKind::Feedback.bucket(14_400), 4);
    assert_eq!(SpeedKind::Feedback.buckets()[2], "1-2h");
}

proptest! {
    #[test]
    fn every_duration_falls_in_the_bucket_whose_bounds_hold_it(secs in 0i64..200_000, k in 0usize..3) {
        let kind = SpeedKind::ALL[k];
        let b = kind.bucket(secs);
        let bounds = kind.bounds();
        prop_assert!(secs >= bounds[b]);
        if b + 1 < bounds.len() {
            prop_assert!(secs < bounds[b + 1]);
        }
    }

    #[test]
    fn a_change_and_its_base_give_back_the_current_value(cur in 0i64..1_000_000, base in 1i64..1_000_000) {
        let p = pct_change(cur, base).unwrap();
        // Within rounding: |base × (1 + p/100) − cur| ≤ base × 0.05 %.
        let back = base as f64 * (1.0 + p / 100.0);
        prop_assert!((back - cur as f64).abs() <= base as f64 * 0.0005 + 1e-6);
    }
}

#[test]
fn who_may_query_what() {
    let w = World::new();
    let org = &w.reg.org;
    let desk = w.holder("110巡警大队", "接警员");
    let centre = w.holder("指挥中心", "接警员");
    let chief = w.holder("丹江派出所", "所长");
    let officer = w.holder("丹江派出所", "民警");
    let bureau = w.unit("雷山县公安局");
    let director = org.holders(&bureau, "局长")[0].id.clone();
    for p in [&desk, &centre, &director] {
        assert!(
            matches!(query_scope(org, p), Ok(Scope::Bureau { .. })),
            "{p}"
        );
    }
    match query_scope(org, &chief).unwrap() {
        Scope::Units { units, name } => {
            assert_eq!(units, vec![w.unit("丹江派出所")]);
            assert_eq!(name, "丹江派出所");
        }
        s => panic!("{s:?}"),
    }
    assert!(query_scope(org, &officer).unwrap_err().contains("没有查询"));
    assert!(query_scope(org, "999999").is_err());
}

fn import_row(
    w: &World,
    author: &str,
    cells: &[(&str, &str)],
) -> Result<CaseState, Vec<crate::import::RowError>> {
    let headers: Vec<String> = HEADERS.iter().map(|h| h.to_string()).collect();
    let map = header_map(&headers).unwrap();
    let mut row: Vec<String> = vec![String::new(); HEADERS.len()];
    let base = [
        ("接警单编号", "J2024-000001"),
        ("报警时间", "2024-03-05 22:10:00"),
        ("报警方式", "1"),
        ("报警人", "王某"),
        ("联系电话", "13985501234"),
        ("案发地点", "丹江镇营上村"),
        ("乡镇代码", "522634100"),
        ("警情类别代码", "010101"),
        ("警情级别", "1"),
        ("报警内容", "报警人称家中被盗"),
        ("管辖单位代码", "522634510000"),
        ("派警时间", "2024-03-05 22:11:00"),
        ("签收时间", "2024-03-05 22:11:40"),
        ("出警时间", "2024-03-05 22:15:00"),
        ("到达时间", "2024-03-05 22:30:00"),
        ("反馈时间", "2024-03-06 01:00:00"),
        ("终结时间", "2024-03-06 08:00:00"),
        ("处警结果代码", "04"),
        ("受伤人数", "1"),
        ("死亡人数", ""),
        ("损失金额", "1234.5"),
        ("是否有效", "1"),
    ];
    for (h, v) in base.iter().chain(cells.iter()) {
        row[HEADERS.iter().position(|x| x == h).unwrap()] = v.to_string();
    }
    let unit = w.unit("110巡警大队");
    let imp = Importer {
        reg: &w.reg,
        unit: &unit,
        author,
        template: w.reg.template_latest("incident").unwrap().reference(),
        now: datetime!(2026-12-01 10:00 +8),
        source: "历史.csv".into(),
    };
    let r = imp.row(1, &map, &row)?;
    let ev = crate::event::Event::new(
        r.case_id, 0, None, author, "d", "k", imp.now, [0; 10], r.action,
    );
    Ok(CaseState::create(&ev, &"0".repeat(64), &w.reg).unwrap())
}

#[test]
fn an_imported_record_stands_as_the_old_system_left_it() {
    let w = World::new();
    let desk = w.holder("110巡警大队", "接警员");
    let s = import_row(&w, &desk, &[]).unwrap();
    assert_eq!(s.status, Status::Archived);
    assert_eq!(s.case_no, "J2024-000001");
    assert_eq!(s.case_id, case_id_for("J2024-000001"));
    assert_eq!(s.dispatches.len(), 1);
    assert_eq!(s.trail[0].step, "历史数据导入");
    assert!(s.trail[0].opinion.contains("历史.csv 第 1 行"));
    let f = IncidentFacts::of(&s).unwrap();
    assert_eq!(f.unit, "522634510000");
    assert_eq!(f.category, "010101");
    assert_eq!(f.category1, "010000");
    assert_eq!(
        (f.day.as_str(), f.week.as_str(), f.quarter.as_str()),
        ("2024-03-05", "2024-W10", "2024-Q1")
    );
    assert_eq!(f.loss_fen, 123_450);
    assert_eq!((f.injured, f.dead, f.valid), (1, 0, true));
    assert_eq!(f.result, "04");
    assert_eq!(f.status, "archived");
    let d = &f.dispatches[0];
    assert_eq!(
        (d.ack_secs, d.depart_secs, d.feedback_secs),
        (Some(40), Some(240), Some(10_140))
    );
    assert!(f.imported);
    // Unfinished: stopped after 出警, invalid.
    let s = import_row(
        &w,
        &desk,
        &[
            ("到达时间", ""),
            ("反馈时间", ""),
            ("终结时间", ""),
            ("处警结果代码", ""),
            ("是否有效", "否"),
            ("受伤人数", ""),
            ("损失金额", ""),
        ],
    )
    .unwrap();
    assert_eq!(s.status, Status::Departed);
    let f = IncidentFacts::of(&s).unwrap();
    assert_eq!(
        (f.status.as_str(), f.valid, f.loss_fen, f.injured),
        ("departed", false, 0, 0)
    );
    // Never dispatched, closed at the desk.
    let s = import_row(
        &w,
        &desk,
        &[
            ("派警时间", ""),
            ("签收时间", ""),
            ("出警时间", ""),
            ("到达时间", ""),
            ("反馈时间", ""),
            ("终结时间", "2024-03-05 22:20:00"),
            ("处警结果代码", ""),
            ("受伤人数", "0"),
            ("损失金额", "0.00"),
        ],
    )
    .unwrap();
    assert_eq!(s.status, Status::Archived);
    assert!(s.dispatches.is_empty());
    assert_eq!(IncidentFacts::of(&s).unwrap().unit, "522634510000");
    // Readers include the handling unit.
    let readers = s.readers_after(&w.reg, true, &desk);
    assert!(readers.contains(&w.holder("丹江派出所", "所长")));
}

#[test]
fn a_bad_row_is_refused_cell_by_cell_in_chinese() {
    let w = World::new();
    let desk = w.holder("110巡警大队", "接警员");
    let cols = |r: Result<CaseState, Vec<crate::import::RowError>>| -> Vec<String> {
        r.unwrap_err()
            .into_iter()
            .map(|e| format!("{}:{}", e.column, e.message))
            .collect()
    };
    let e = cols(import_row(&w, &desk, &[("损失金额", "12.345")]));
    assert!(e.len() == 1 && e[0].starts_with("损失金额:"), "{e:?}");
    let e = cols(import_row(&w, &desk, &[("乡镇代码", "522634999")]));
    assert!(e.len() == 1 && e[0].starts_with("乡镇代码:"), "{e:?}");
    let e = cols(import_row(
        &w,
        &desk,
        &[("签收时间", "2024-03-05 22:10:30")],
    ));
    assert!(
        e.len() == 1 && e[0].contains("签收时间:签收时间不能早于派警时间"),
        "{e:?}"
    );
    let e = cols(import_row(&w, &desk, &[("签收时间", "")]));
    assert!(
        e.iter()
            .any(|x| x.starts_with("出警时间:有出警时间却没有签收时间")),
        "{e:?}"
    );
    let e = cols(import_row(&w, &desk, &[("报警时间", "2024/03/05 22:10")]));
    assert!(e[0].starts_with("报警时间:"), "{e:?}");
    let e = cols(import_row(&w, &desk, &[("管辖单位代码", "522634070000")]));
    assert!(e[0].starts_with("管辖单位代码:"), "{e:?}");
    let e = cols(import_row(&w, &desk, &[("处警结果代码", "")]));
    assert!(e[0].starts_with("处警结果代码:"), "{e:?}");
    let e = cols(import_row(&w, &desk, &[("接警单编号", "J 1")]));
    assert!(e[0].starts_with("接警单编号:"), "{e:?}");
    let e = cols(import_row(&w, &desk, &[("是否有效", "2")]));
    assert!(e[0].starts_with("是否有效:"), "{e:?}");
    let e = cols(import_row(&w, &desk, &[("联系电话", "2345")]));
    assert!(e[0].starts_with("联系电话:"), "{e:?}");
    let e = cols(import_row(
        &w,
        &desk,
        &[("报警时间", "2027-01-01 00:00:00")],
    ));
    assert!(!e.is_empty());
    // Casualties and losses come with the report.
    let e = cols(import_row(
        &w,
        &desk,
        &[
            ("反馈时间", ""),
            ("终结时间", ""),
            ("处警结果代码", ""),
            ("受伤人数", "2"),
        ],
    ));
    assert!(
        e.iter().any(|x| x.starts_with("受伤人数:没有反馈时间")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|x| x.starts_with("损失金额:没有反馈时间")),
        "{e:?}"
    );
    // Only a desk's member imports.
    let officer = w.holder("丹江派出所", "民警");
    let e = cols(import_row(&w, &officer, &[]));
    assert!(e[0].contains("只有 110 巡警大队或指挥中心"), "{e:?}");
    // Missing columns.
    let errs = header_map(&["接警单编号".to_string()]).unwrap_err();
    assert_eq!(errs.len(), HEADERS.len() - 1);
}

#[test]
fn the_facts_of_a_live_record_follow_its_reports() {
    let mut w = World::new();
    let desk = w.holder("110巡警大队", "接警员");
    let officer = w.holder("方祥派出所", "民警");
    create(&mut w, "110巡警大队", &desk).unwrap();
    let f = IncidentFacts::of(w.state()).unwrap();
    assert_eq!(f.unit, w.unit("110巡警大队"));
    assert_eq!((f.status.as_str(), f.valid), ("received", true));
    assert_eq!(f.day, "2026-11-20");
    let unit = w.unit("方祥派出所");
    w.act(
        &desk,
        Action::Dispatch {
            unit: unit.clone(),
            opinion: "速去".into(),
            at: None,
        },
    )
    .unwrap();
    w.act(
        &officer,
        Action::Acknowledge {
            unit: None,
            at: None,
        },
    )
    .unwrap();
    w.act(
        &officer,
        Action::Depart {
            officers: vec![officer.clone()],
            vehicles: vec![],
            unit: None,
            at: None,
        },
    )
    .unwrap();
    w.act(
        &officer,
        Action::Arrive {
            unit: None,
            at: None,
        },
    )
    .unwrap();
    let mut fb = feedback();
    fb.insert("injured".into(), json!(2));
    w.act(
        &officer,
        Action::Feedback {
            changes: fb,
            unit: None,
            at: None,
        },
    )
    .unwrap();
    let f = IncidentFacts::of(w.state()).unwrap();
    assert_eq!(f.unit, unit);
    assert_eq!(
        (f.loss_fen, f.injured, f.result.as_str()),
        (1_280_000, 2, "04")
    );
    let d = &f.dispatches[0];
    // The World's clock moves 7 minutes an event.
    assert_eq!(
        (d.ack_secs, d.depart_secs, d.feedback_secs),
        (Some(420), Some(840), Some(1680))
    );
    let mut fb = feedback();
    fb.insert("result".into(), json!("06"));
    w.act(
        &officer,
        Action::Feedback {
            changes: fb,
            unit: None,
            at: None,
        },
    )
    .unwrap();
    assert!(!IncidentFacts::of(w.state()).unwrap().valid);
    let c = w.state().clone();
    let mut h = c.clone();
    h.case_type = crate::form::CaseType::HukouChange;
    assert!(IncidentFacts::of(&h).is_none());
}

#[test]
fn filters_are_checked_against_the_registry() {
    let w = World::new();
    let f = Filter {
        from: Some("2026-01-01".into()),
        to: Some("2026-01-31".into()),
        unit: Some(w.unit("雷山县公安局")),
        category: Some("010100".into()),
        loss_min: Some("10".into()),
        text: Some("盗窃 电动车".into()),
        status: Some("unfinished".into()),
        ..Filter::default()
    };
    let c = f.check(&w.reg).unwrap();
    assert_eq!(c.from, Some(day_start(date!(2026 - 01 - 01))));
    assert_eq!(c.to, Some(day_start(date!(2026 - 02 - 01))));
    assert!(c.units.as_ref().unwrap().contains(&w.unit("丹江派出所")));
    assert_eq!(c.category_prefix.as_deref(), Some("0101"));
    assert_eq!(c.loss_min, Some(1000));
    assert_eq!(c.terms, vec!["盗窃", "电动车"]);
    assert_eq!(c.statuses.as_ref().unwrap().len(), UNFINISHED.len());
    let bad = Filter {
        from: Some("2026-02-01".into()),
        to: Some("2026-01-01".into()),
        township: Some("1".into()),
        loss_min: Some("1.234".into()),
        status: Some("nope".into()),
        unit: Some("x".into()),
        ..Filter::default()
    };
    let e = bad.check(&w.reg).unwrap_err();
    assert_eq!(e.len(), 5, "{e:?}");
}

#[test]
fn a_report_lists_every_class_and_names_the_slowest_units() {
    let w = World::new();
    let p = Period::parse("2026-W48").unwrap();
    let mut data = ReportData {
        current: Measures {
            count: 8,
            valid: 7,
            loss_fen: 30,
            injured: 1,
            dead: 0,
        },
        previous: Measures {
            count: 4,
            valid: 4,
            loss_fen: 0,
            injured: 0,
            dead: 0,
        },
        ..ReportData::default()
    };
    data.by_category[0].insert(
        "010000".into(),
        Measures {
            count: 1,
            ..Measures::default()
        },
    );
    data.by_category[2].insert(
        "010000".into(),
        Measures {
            count: 2,
            ..Measures::default()
        },
    );
    let a = w.unit("丹江派出所");
    let b = w.unit("西江派出所");
    let c = w.unit("交警大队");
    data.speed[0] = vec![
        (a.clone(), 0, 2, 20),
        (b.clone(), 4, 1, 400),
        (c.clone(), 1, 2, 90),
        (a.clone(), 1, 1, 40),
    ];
    let scope = query_scope(&w.reg.org, &w.holder("110巡警大队", "接警员")).unwrap();
    let r = Report::assemble(&w.reg, &p, &scope, &data, datetime!(2026-11-30 09:00 +8));
    assert_eq!(r.by_category.len(), 8);
    assert_eq!(r.by_category[0].share_pct, Some(12.5));
    assert_eq!(r.by_category[0].yoy_pct, Some(-50.0));
    assert_eq!(r.by_category[1].mom_pct, None);
    assert_eq!(r.totals.mom_pct.count, Some(100.0));
    assert_eq!(r.totals.yoy_pct.count, None);
    let ack = &r.speed[0];
    assert_eq!(ack.overall.total, 6);
    assert_eq!(ack.slowest[0].unit, b);
    assert_eq!(ack.slowest[1].unit, c);
    assert_eq!(ack.slowest[1].mean_secs, Some(45.0));
    assert_eq!(
        ack.units.iter().find(|l| l.unit == a).unwrap().counts,
        vec![2, 1, 0, 0, 0]
    );
    assert!(r.title.contains("2026年第48周"));
    assert_eq!(r.unfinished.len(), UNFINISHED.len());
    assert_eq!(
        (r.from.as_str(), r.to.as_str()),
        ("2026-11-23", "2026-11-29")
    );
}
