//! The 警情通报 rendered three ways and read back with other tools: the
//! PDF with poppler (pdftotext, pdffonts), the workbook with Python's
//! openpyxl, CSV with the `csv` crate.
//!
//! These tests need a Chinese font, poppler-utils and python3-openpyxl,
//! all installed by scripts/setup.sh; they FAIL (never skip) without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use jingwu_core::case::Status;
use jingwu_core::registry::Registry;
use jingwu_core::stats::{
    status_name, yuan_text, Measures, Period, Report, ReportData, Scope, SpeedKind,
};
use jingwu_report::{
    fen_text, report_pdf, report_tables, report_xlsx, table_csv, tables_xlsx, Cell, Table,
};
use jingwu_slip::font::CjkFont;
use serde_json::Value;
use time::macros::datetime;

const DANJIANG: &str = "522634510000";
const XIJIANG: &str = "522634520000";
const TRAFFIC: &str = "522634090000";

fn font() -> &'static CjkFont {
    static FONT: OnceLock<CjkFont> = OnceLock::new();
    FONT.get_or_init(|| match CjkFont::locate() {
        Ok(f) => f,
        Err(e) => panic!("没有可用的中文字体（安装 fonts-noto-cjk，见 scripts/setup.sh）：{e}"),
    })
}

fn m(count: i64, valid: i64, loss_fen: i64, injured: i64, dead: i64) -> Measures {
    Measures {
        count,
        valid,
        loss_fen,
        injured,
        dead,
    }
}

fn map(entries: &[(&str, Measures)]) -> BTreeMap<String, Measures> {
    entries.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn bureau() -> Scope {
    Scope::Bureau {
        bureau: "522634000000".into(),
        name: "雷山县公安局".into(),
    }
}

/// Week 48 of 2026 in the demo county: 20 records, 1234.50 yuan lost
/// (all of it in one 刑事 case at 丹江派出所), nothing a year earlier
/// (同比 —), no injuries the week before (受伤 环比 —).
fn demo_data() -> ReportData {
    let mut d = ReportData {
        current: m(20, 18, 123_450, 2, 0),
        previous: m(16, 15, 100_000, 0, 0),
        year_earlier: Measures::default(),
        ..ReportData::default()
    };
    d.by_category[0] = map(&[
        ("010000", m(8, 8, 123_450, 0, 0)),
        ("020000", m(5, 4, 0, 0, 0)),
        ("030000", m(4, 3, 0, 2, 0)),
        ("080000", m(3, 3, 0, 0, 0)),
    ]);
    d.by_category[1] = map(&[
        ("010000", m(4, 4, 100_000, 0, 0)),
        ("020000", m(6, 6, 0, 0, 0)),
        ("030000", m(6, 5, 0, 0, 0)),
    ]);
    d.by_unit[0] = map(&[
        (DANJIANG, m(10, 9, 123_450, 0, 0)),
        (XIJIANG, m(6, 6, 0, 0, 0)),
        (TRAFFIC, m(4, 3, 0, 2, 0)),
    ]);
    d.by_unit[1] = map(&[(DANJIANG, m(8, 8, 0, 0, 0)), (XIJIANG, m(8, 7, 0, 0, 0))]);
    d.by_township[0] = map(&[
        ("522634100", m(12, 11, 123_450, 2, 0)),
        ("522634101", m(8, 7, 0, 0, 0)),
    ]);
    // (unit, bucket, count, Σ seconds)
    d.speed[0] = vec![
        (DANJIANG.into(), 0, 5, 60),
        (DANJIANG.into(), 1, 3, 120),
        (XIJIANG.into(), 4, 2, 500),
        (TRAFFIC.into(), 2, 3, 240),
    ];
    d.speed[1] = vec![(DANJIANG.into(), 0, 6, 900), (XIJIANG.into(), 2, 2, 1300)];
    d.speed[2] = vec![(DANJIANG.into(), 1, 4, 9000)];
    d.unfinished = [
        (status_name(Status::Dispatched), 2),
        (status_name(Status::FeedbackFiled), 1),
    ]
    .into_iter()
    .collect();
    d
}

fn demo_report() -> Report {
    let reg = Registry::builtin_demo().unwrap();
    let period = Period::parse("2026-W48").unwrap();
    Report::assemble(
        &reg,
        &period,
        &bureau(),
        &demo_data(),
        datetime!(2026-11-30 09:00 +8),
    )
}

fn table<'a>(tables: &'a [Table], title: &str) -> &'a Table {
    tables
        .iter()
        .find(|t| t.title == title)
        .unwrap_or_else(|| panic!("no table {title}"))
}

fn row<'a>(t: &'a Table, first: &str) -> &'a [Cell] {
    t.rows
        .iter()
        .find(|r| matches!(r.first(), Some(Cell::Text(s)) if s == first))
        .unwrap_or_else(|| panic!("no row {first} in {}", t.title))
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd} (scripts/setup.sh installs it): {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn artefact(name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[test]
fn the_tables_carry_the_report_figures() {
    let r = demo_report();
    let tables = report_tables(&r);
    let titles: Vec<&str> = tables.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "总体情况",
            "警情类别",
            "管辖单位",
            "乡镇",
            "签收速度（派警至签收）",
            "出警速度（派警至出警）",
            "反馈速度（派警至反馈）",
            "未办结警情"
        ]
    );
    for t in &tables {
        for r in &t.rows {
            assert_eq!(r.len(), t.headers.len(), "{}: {r:?}", t.title);
        }
    }

    let totals = table(&tables, "总体情况");
    assert_eq!(
        row(totals, "警情数"),
        [
            Cell::Text("警情数".into()),
            Cell::Int(20),
            Cell::Int(16),
            Cell::Int(0),
            Cell::Pct(Some(25.0)),
            Cell::Pct(None),
        ]
    );
    let loss = row(totals, "损失金额（元）");
    assert_eq!(loss[1], Cell::Fen(123_450));
    assert_eq!(loss[4], Cell::Pct(Some(23.5)));
    assert_eq!(row(totals, "受伤")[4], Cell::Pct(None));

    let cat = table(&tables, "警情类别");
    // Every level-1 class of the dictionary, then 合计.
    assert_eq!(cat.rows.len(), 9);
    let crime = row(cat, "刑事");
    assert_eq!(crime[1], Cell::Int(8));
    assert_eq!(crime[2], Cell::Pct(Some(40.0)));
    assert_eq!(crime[3], Cell::Pct(Some(100.0)));
    assert_eq!(crime[4], Cell::Pct(None));
    assert_eq!(crime[6], Cell::Fen(123_450));
    assert_eq!(crime[6].text(), "1234.50");
    assert_eq!(row(cat, "纠纷")[3], Cell::Pct(None));
    assert_eq!(row(cat, "火灾")[2], Cell::Pct(Some(0.0)));
    let total = row(cat, "合计");
    assert_eq!(total[1], Cell::Int(20));
    assert_eq!(total[2], Cell::Pct(Some(100.0)));

    let units = table(&tables, "管辖单位");
    assert_eq!(row(units, "丹江派出所")[2], Cell::Pct(Some(50.0)));
    assert_eq!(row(units, "交警大队")[3], Cell::Pct(None));
    assert_eq!(row(table(&tables, "乡镇"), "丹江镇")[1], Cell::Int(12));

    let ack = table(&tables, "签收速度（派警至签收）");
    assert_eq!(ack.headers.len(), 1 + 5 * 2 + 2);
    assert_eq!(ack.headers[1], "0-30s");
    assert_eq!(ack.headers[2], "0-30s占比（%）");
    let dj = row(ack, "丹江派出所");
    assert_eq!(dj[1], Cell::Int(5));
    assert_eq!(dj[2], Cell::Pct(Some(62.5)));
    assert_eq!(dj[11], Cell::Int(8));
    assert_eq!(dj[12], Cell::Pct(Some(22.5)));
    assert_eq!(row(ack, "合计")[11], Cell::Int(13));
    // 西江 250 s, 交警大队 80 s, 丹江 22.5 s on average.
    assert_eq!(
        row(ack, "排名靠后")[1],
        Cell::Text("西江派出所（250.0秒）、交警大队（80.0秒）、丹江派出所（22.5秒）".into())
    );
    assert_eq!(
        r.speed.iter().map(|s| s.kind).collect::<Vec<_>>(),
        SpeedKind::ALL
    );

    let open = table(&tables, "未办结警情");
    assert_eq!(open.headers, ["状态", "数量"]);
    assert_eq!(row(open, "合计")[1], Cell::Int(3));
    assert_eq!(open.rows.len(), 8);
}

#[test]
fn money_is_printed_as_exact_yuan() {
    for fen in [0, 5, 50, 100, 8_808, 123_450, 99_999_999_999_999, i64::MAX] {
        assert_eq!(fen_text(fen), yuan_text(fen), "{fen}");
    }
    assert_eq!(fen_text(123_450), "1234.50");
    assert_eq!(fen_text(-5), "-0.05");
    assert_eq!(Cell::Pct(Some(-50.0)).text(), "-50.0");
    assert_eq!(Cell::Pct(None).text(), "—");
}

#[test]
fn csv_is_rfc4180_with_a_bom() {
    let r = demo_report();
    let tables = report_tables(&r);
    let cat = table(&tables, "警情类别");
    let text = table_csv(cat);
    let body = text
        .strip_prefix('\u{feff}')
        .expect("CSV starts with a UTF-8 byte order mark");
    assert!(body.contains("\r\n"), "CRLF line ends");
    let mut rd = csv::ReaderBuilder::new().from_reader(body.as_bytes());
    let headers: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers, cat.headers);
    let records: Vec<Vec<String>> = rd
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(records.len(), cat.rows.len());
    let crime = records.iter().find(|r| r[0] == "刑事").unwrap();
    assert_eq!(
        crime,
        &["刑事", "8", "40.0", "100.0", "—", "8", "1234.50", "0", "0"]
    );

    // Fields that need quoting survive the round trip; short rows are
    // padded.
    let odd = Table {
        title: "t".into(),
        headers: vec!["名称".into(), "说明".into(), "金额".into()],
        rows: vec![
            vec![
                Cell::Text("a,b".into()),
                Cell::Text("他说\"好\"\n第二行".into()),
                Cell::Fen(5),
            ],
            vec![Cell::Text("短".into())],
        ],
    };
    let text = table_csv(&odd);
    let mut rd =
        csv::ReaderBuilder::new().from_reader(text.strip_prefix('\u{feff}').unwrap().as_bytes());
    let rows: Vec<Vec<String>> = rd
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(rows[0], ["a,b", "他说\"好\"\n第二行", "0.05"]);
    assert_eq!(rows[1], ["短", "", ""]);
}

/// Debian's Python, where python3-openpyxl installs (a python3 earlier
/// on PATH may be another one).
const PYTHON: &str = "/usr/bin/python3";

const READ_XLSX: &str = r#"
import json, sys, zipfile
import openpyxl
path = sys.argv[1]
wb = openpyxl.load_workbook(path)
out = {"sheets": wb.sheetnames, "cells": {}, "formats": {}, "bold": {}}
for ws in wb.worksheets:
    out["cells"][ws.title] = [[c.value for c in row] for row in ws.iter_rows()]
    out["formats"][ws.title] = [[c.number_format for c in row] for row in ws.iter_rows()]
    out["bold"][ws.title] = [bool(c.font and c.font.b) for c in ws[2]]
z = zipfile.ZipFile(path)
out["charts"] = {n: z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/charts/chart")}
print(json.dumps(out, ensure_ascii=False))
"#;

fn read_xlsx(bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.xlsx");
    std::fs::write(&path, bytes).unwrap();
    let probe = Command::new(PYTHON)
        .args(["-c", "import openpyxl"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON}: {e}"));
    assert!(
        probe.status.success(),
        "{PYTHON} has no openpyxl: install python3-openpyxl (scripts/setup.sh): {}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let out = run(PYTHON, &["-c", READ_XLSX, path.to_str().unwrap()]);
    serde_json::from_str(&out).unwrap()
}

/// The row of sheet `sheet` whose first cell is `first`.
fn xrow<'a>(v: &'a Value, sheet: &str, first: &str) -> (usize, &'a Vec<Value>) {
    v["cells"][sheet]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .find(|(_, r)| r[0] == first)
        .map(|(i, r)| (i, r.as_array().unwrap()))
        .unwrap_or_else(|| panic!("no row {first} in sheet {sheet}"))
}

#[test]
fn the_workbook_reads_back_in_openpyxl() {
    let r = demo_report();
    let bytes = report_xlsx(&r).unwrap();
    artefact("report-2026-W48.xlsx", &bytes);
    let v = read_xlsx(&bytes);
    let sheets: Vec<&str> = v["sheets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        sheets,
        [
            "通报信息",
            "总体情况",
            "警情类别",
            "管辖单位",
            "乡镇",
            "签收速度（派警至签收）",
            "出警速度（派警至出警）",
            "反馈速度（派警至反馈）",
            "未办结警情"
        ]
    );
    assert_eq!(xrow(&v, "通报信息", "标题").1[1], r.title.as_str());
    assert_eq!(xrow(&v, "通报信息", "统计范围").1[1], "雷山县公安局");

    let cat = &v["cells"]["警情类别"];
    assert_eq!(cat[0][0], "警情类别");
    assert_eq!(cat[1][6], "损失金额（元）");
    assert!(v["bold"]["警情类别"]
        .as_array()
        .unwrap()
        .iter()
        .all(|b| b == true));
    let (i, crime) = xrow(&v, "警情类别", "刑事");
    assert_eq!(crime[1].as_f64(), Some(8.0));
    assert_eq!(crime[2].as_f64(), Some(40.0));
    assert_eq!(crime[4], "—");
    // Money is a number (the double nearest 1234.50), shown #,##0.00.
    assert_eq!(crime[6].as_f64(), Some(1234.5));
    assert_eq!(v["formats"]["警情类别"][i][6], "#,##0.00");
    assert_eq!(v["formats"]["警情类别"][i][2], "0.0");
    let (_, total) = xrow(&v, "警情类别", "合计");
    assert_eq!(total[1].as_f64(), Some(20.0));

    let (_, loss) = xrow(&v, "总体情况", "损失金额（元）");
    assert_eq!(loss[1].as_f64(), Some(1234.5));
    assert_eq!(loss[2].as_f64(), Some(1000.0));
    assert_eq!(loss[4].as_f64(), Some(23.5));
    assert_eq!(loss[5], "—");

    let (_, slow) = xrow(&v, "签收速度（派警至签收）", "排名靠后");
    assert!(slow[1].as_str().unwrap().starts_with("西江派出所"));
    let (_, dj) = xrow(&v, "签收速度（派警至签收）", "丹江派出所");
    assert_eq!(dj[12].as_f64(), Some(22.5));

    // One chart: the counts of the 警情类别 sheet's eight classes.
    let charts = v["charts"].as_object().unwrap();
    assert_eq!(charts.len(), 1, "{:?}", charts.keys());
    let xml = charts.values().next().unwrap().as_str().unwrap();
    assert!(xml.contains("<c:barChart>"), "{xml}");
    assert!(xml.contains("警情类别"), "{xml}");
    assert!(xml.contains("$B$3:$B$10"), "{xml}");
    assert!(xml.contains("$A$3:$A$10"), "{xml}");

    // tables_xlsx alone: the same sheets without 通报信息 or a chart.
    let plain = read_xlsx(&tables_xlsx(&report_tables(&r)).unwrap());
    assert_eq!(plain["sheets"].as_array().unwrap().len(), 8);
    assert_eq!(plain["sheets"][0], "总体情况");
    assert!(plain["charts"].as_object().unwrap().is_empty());
}

#[test]
fn sheet_names_are_made_valid_and_unique() {
    let t = |title: &str| Table {
        title: title.into(),
        headers: vec!["a".into()],
        rows: vec![vec![Cell::Int(1)]],
    };
    let long = "很长的表格标题".repeat(6);
    let bytes = tables_xlsx(&[t("a/b"), t("A/B"), t(&long), t(&long)]).unwrap();
    let v = read_xlsx(&bytes);
    let names: Vec<String> = v["sheets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert_eq!(names[0], "a_b");
    assert_eq!(names[1], "A_B（2）");
    assert_eq!(names[2].chars().count(), 31);
    assert!(names[3].ends_with("（2）") && names[3].chars().count() == 31);
}

fn pdf_text(bytes: &[u8], pages: Option<(u32, u32)>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, bytes).unwrap();
    let mut args = vec!["-layout".to_string(), "-enc".into(), "UTF-8".into()];
    if let Some((f, l)) = pages {
        args.extend(["-f".into(), f.to_string(), "-l".into(), l.to_string()]);
    }
    args.push(path.to_str().unwrap().into());
    args.push("-".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run("pdftotext", &args)
}

fn pdf_fonts(bytes: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = run("pdffonts", &[path.to_str().unwrap()]);
    // Two header lines (names, dashes), then one line per font.
    out.lines().skip(2).map(String::from).collect()
}

fn pdf_pages(bytes: &[u8]) -> u32 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, bytes).unwrap();
    let info = run("pdfinfo", &[path.to_str().unwrap()]);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(|n| n.trim().parse().unwrap())
        .unwrap()
}

/// The line of pdftotext's layout output that starts with `first`.
fn text_line<'a>(text: &'a str, first: &str) -> &'a str {
    text.lines()
        .find(|l| l.trim_start().starts_with(first))
        .unwrap_or_else(|| panic!("no line starting {first} in:\n{text}"))
}

#[test]
fn the_pdf_has_every_table_and_an_embedded_font() {
    let r = demo_report();
    let bytes = report_pdf(&r, font()).unwrap();
    artefact("report-2026-W48.pdf", &bytes);
    assert!(bytes.starts_with(b"%PDF-"));
    let text = pdf_text(&bytes, None);
    assert!(text.contains(&r.title), "title missing:\n{text}");
    assert!(text.contains("雷山县公安局"));
    assert!(
        text.contains("2026-W48（2026-11-23 至 2026-11-29）"),
        "{text}"
    );
    assert!(text.contains("2026-11-30 09:00:00"), "{text}");
    for t in report_tables(&r) {
        assert!(
            text.contains(&t.title),
            "table {} missing:\n{text}",
            t.title
        );
    }
    for name in [
        "刑事",
        "行政（治安）",
        "丹江派出所",
        "西江镇",
        "已下达",
        "排名靠后",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    // Money as yuan with two decimals, the same as in CSV.
    let crime = text_line(&text, "刑事");
    assert!(crime.contains("1234.50"), "{crime}");
    assert!(crime.contains("40.0"), "{crime}");
    // A change against a base of 0 is a dash: 受伤 rose from 0.
    let injured = text_line(&text, "受伤");
    assert!(injured.contains('—'), "{injured}");
    assert!(
        !injured.contains("inf") && !injured.contains("NaN"),
        "{injured}"
    );
    assert!(text.contains("图1"), "category chart missing:\n{text}");
    assert!(text.contains("图2"), "speed chart missing:\n{text}");
    assert!(text.contains("120-180s"));
    assert!(text.contains("共接报警情20起"), "{text}");

    let fonts = pdf_fonts(&bytes);
    assert!(!fonts.is_empty(), "no fonts in the PDF");
    for f in &fonts {
        // name type encoding emb sub uni object ID
        let cols: Vec<&str> = f.split_whitespace().collect();
        let n = cols.len();
        assert!(n >= 7, "{f}");
        assert_eq!(cols[n - 5], "yes", "font not embedded: {f}");
        assert_eq!(cols[n - 3], "yes", "font without ToUnicode: {f}");
    }
}

#[test]
fn long_tables_run_over_pages_with_their_header() {
    // Eighty units (codes outside the org show as their code).
    let mut d = demo_data();
    d.by_unit[0] = (0..80)
        .map(|i| (format!("5226349{i:05}"), m(1, 1, 1_000 + i, 0, 0)))
        .collect();
    d.speed[0] = (0..40)
        .map(|i| {
            (
                format!("5226349{i:05}"),
                (i % 5) as usize,
                1 + i % 3,
                30 * i,
            )
        })
        .collect();
    let reg = Registry::builtin_demo().unwrap();
    let r = Report::assemble(
        &reg,
        &Period::parse("2026-11").unwrap(),
        &bureau(),
        &d,
        datetime!(2026-12-01 08:00 +8),
    );
    let bytes = report_pdf(&r, font()).unwrap();
    artefact("report-2026-11-long.pdf", &bytes);
    let pages = pdf_pages(&bytes);
    assert!(pages >= 3, "{pages} pages");
    let all = pdf_text(&bytes, None);
    assert!(all.contains("管辖单位（续）"), "{all}");
    assert!(
        all.contains(&format!("第 {pages} 页，共 {pages} 页")),
        "{all}"
    );
    for i in [0, 41, 79] {
        assert!(all.contains(&format!("5226349{i:05}")), "unit {i} missing");
    }
    // The header row is repeated on the page the table continues on.
    let page = (1..=pages)
        .find(|p| pdf_text(&bytes, Some((*p, *p))).contains("管辖单位（续）"))
        .unwrap();
    let text = pdf_text(&bytes, Some((page, page)));
    assert!(text.contains("损失金额"), "{text}");
    assert!(text.contains("警情数"), "{text}");
    // Every amount is there, exact: 10.00 … 10.79.
    for i in 0..80 {
        assert!(all.contains(&format!(" 10.{i:02} ")), "10.{i:02} missing");
    }
}
