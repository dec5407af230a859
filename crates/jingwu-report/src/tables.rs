//! The report's tables, in the order the 警情通报 prints them.

use jingwu_core::stats::{share, Changes, Line, Measures, Report, SpeedLine, SpeedTable};

use crate::{pct_figure, Cell, Table};

/// Title of the table of counts by level-1 category (the chart reads it).
pub(crate) const CATEGORY_TITLE: &str = "警情类别";
/// Title of the first row of each speed table's closing line.
pub(crate) const SLOWEST_LABEL: &str = "排名靠后";
/// The name of every 合计 row.
pub(crate) const TOTAL_LABEL: &str = "合计";

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

/// The report as tables: 总体情况, 警情类别, 管辖单位, 乡镇, one per speed
/// kind (签收, 出警, 反馈) and 未办结警情.
///
/// The tables of lines (类别, 单位, 乡镇) end with a 合计 row of the
/// period's totals; each speed table ends with its 合计 row and a
/// 排名靠后 row naming the units with the longest mean time.
pub fn report_tables(r: &Report) -> Vec<Table> {
    let mut out = vec![totals_table(r)];
    for (title, head, lines) in [
        (CATEGORY_TITLE, "类别", &r.by_category),
        ("管辖单位", "管辖单位", &r.by_unit),
        ("乡镇", "乡镇", &r.by_township),
    ] {
        out.push(lines_table(title, head, lines, r));
    }
    out.extend(r.speed.iter().map(speed_table));
    let mut rows: Vec<Vec<Cell>> = r
        .unfinished
        .iter()
        .map(|s| vec![text(&s.label), Cell::Int(s.count)])
        .collect();
    rows.push(vec![text(TOTAL_LABEL), Cell::Int(r.unfinished_total)]);
    out.push(Table {
        title: "未办结警情".into(),
        headers: vec!["状态".into(), "数量".into()],
        rows,
    });
    out
}

fn totals_table(r: &Report) -> Table {
    let t = &r.totals;
    type Pick = fn(&Measures) -> i64;
    type PickChange = fn(&Changes) -> Option<f64>;
    let measures: [(&str, Pick, PickChange, bool); 5] = [
        ("警情数", |m| m.count, |c| c.count, false),
        ("有效报警", |m| m.valid, |c| c.valid, false),
        ("损失金额（元）", |m| m.loss_fen, |c| c.loss_fen, true),
        ("受伤", |m| m.injured, |c| c.injured, false),
        ("死亡", |m| m.dead, |c| c.dead, false),
    ];
    let rows = measures
        .iter()
        .map(|(name, pick, change, money)| {
            let fig = |m: &Measures| {
                if *money {
                    Cell::Fen(pick(m))
                } else {
                    Cell::Int(pick(m))
                }
            };
            vec![
                text(name),
                fig(&t.current),
                fig(&t.previous),
                fig(&t.year_earlier),
                Cell::Pct(change(&t.mom_pct)),
                Cell::Pct(change(&t.yoy_pct)),
            ]
        })
        .collect();
    Table {
        title: "总体情况".into(),
        headers: ["项目", "本期", "上期", "去年同期", "环比（%）", "同比（%）"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

fn line_cells(
    name: &str,
    m: &Measures,
    share: Option<f64>,
    mom: Option<f64>,
    yoy: Option<f64>,
) -> Vec<Cell> {
    vec![
        text(name),
        Cell::Int(m.count),
        Cell::Pct(share),
        Cell::Pct(mom),
        Cell::Pct(yoy),
        Cell::Int(m.valid),
        Cell::Fen(m.loss_fen),
        Cell::Int(m.injured),
        Cell::Int(m.dead),
    ]
}

fn lines_table(title: &str, head: &str, lines: &[Line], r: &Report) -> Table {
    let mut rows: Vec<Vec<Cell>> = lines
        .iter()
        .map(|l| line_cells(&l.name, &l.m, l.share_pct, l.mom_pct, l.yoy_pct))
        .collect();
    let t = &r.totals;
    rows.push(line_cells(
        TOTAL_LABEL,
        &t.current,
        share(t.current.count, t.current.count),
        t.mom_pct.count,
        t.yoy_pct.count,
    ));
    Table {
        title: title.into(),
        headers: [
            head,
            "警情数",
            "占比（%）",
            "环比（%）",
            "同比（%）",
            "有效报警",
            "损失金额（元）",
            "受伤",
            "死亡",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

fn speed_row(l: &SpeedLine, buckets: usize) -> Vec<Cell> {
    let mut row = vec![text(&l.name)];
    for i in 0..buckets {
        row.push(Cell::Int(l.counts.get(i).copied().unwrap_or(0)));
        row.push(Cell::Pct(l.shares_pct.get(i).copied().flatten()));
    }
    row.push(Cell::Int(l.total));
    row.push(Cell::Pct(l.mean_secs));
    row
}

/// `西江派出所（400.0秒）、交警大队（45.0秒）`, `—` when no unit was measured.
pub(crate) fn slowest_text(st: &SpeedTable) -> String {
    if st.slowest.is_empty() {
        return crate::NONE_TEXT.into();
    }
    st.slowest
        .iter()
        .map(|l| format!("{}（{}秒）", l.name, pct_figure(l.mean_secs)))
        .collect::<Vec<_>>()
        .join("、")
}

/// `签收速度（派警至签收）`.
pub(crate) fn speed_title(st: &SpeedTable) -> String {
    format!("{}（派警至{}）", st.label, st.kind.label())
}

fn speed_table(st: &SpeedTable) -> Table {
    let n = st.buckets.len();
    let mut headers = vec!["单位".to_string()];
    for b in &st.buckets {
        headers.push(b.clone());
        headers.push(format!("{b}占比（%）"));
    }
    headers.push("合计".into());
    headers.push("平均用时（秒）".into());
    let mut rows: Vec<Vec<Cell>> = st.units.iter().map(|l| speed_row(l, n)).collect();
    rows.push(speed_row(&st.overall, n));
    // The closing line: its text runs on over the empty cells after it.
    let mut last = vec![text(SLOWEST_LABEL), Cell::Text(slowest_text(st))];
    last.resize(headers.len(), Cell::Text(String::new()));
    rows.push(last);
    Table {
        title: speed_title(st),
        headers,
        rows,
    }
}

/// The report's heading facts, as (label, value).
pub(crate) fn info_rows(r: &Report) -> Vec<(&'static str, String)> {
    vec![
        ("标题", r.title.clone()),
        ("统计期", format!("{}（{} 至 {}）", r.period, r.from, r.to)),
        ("环比期", r.previous_period.clone()),
        ("同比期", r.year_earlier_period.clone()),
        ("统计范围", r.scope.clone()),
        ("生成时间", time_text(&r.generated_at)),
    ]
}

/// `2026-11-30T09:00:00+08:00` → `2026-11-30 09:00:00`; anything else as
/// it is.
pub(crate) fn time_text(t: &str) -> String {
    match (t.get(..10), t.get(10..11), t.get(11..19)) {
        (Some(d), Some("T"), Some(hms)) => format!("{d} {hms}"),
        _ => t.to_string(),
    }
}
