//! Tables as an Excel workbook (rust_xlsxwriter), one sheet per table.

use jingwu_core::stats::Report;
use rust_xlsxwriter::{
    Chart, ChartDataLabel, ChartType, Color, DocProperties, Format, FormatAlign, FormatBorder,
    Workbook, Worksheet,
};

use crate::tables::{info_rows, report_tables, CATEGORY_TITLE, TOTAL_LABEL};
use crate::{span_start, Cell, ReportError, Table, NONE_TEXT};

/// Excel's number format for money in yuan.
pub(crate) const MONEY_FORMAT: &str = "#,##0.00";
/// Excel's number format for percentages and other one-decimal figures.
pub(crate) const ONE_DECIMAL_FORMAT: &str = "0.0";
/// Row of a sheet's title and of its header row (0-based); data follow.
const TITLE_ROW: u32 = 0;
const HEADER_ROW: u32 = 1;
const FIRST_DATA_ROW: u32 = 2;
/// The first sheet of [`report_xlsx`].
const INFO_SHEET: &str = "通报信息";

struct Formats {
    title: Format,
    header: Format,
    text: Format,
    int: Format,
    money: Format,
    pct: Format,
    none: Format,
}

impl Formats {
    fn new() -> Formats {
        let cell = Format::new().set_border(FormatBorder::Thin);
        Formats {
            title: Format::new().set_bold().set_font_size(13),
            header: cell
                .clone()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_background_color(Color::RGB(0xE7E6E6)),
            text: cell.clone(),
            int: cell.clone().set_num_format("0"),
            money: cell.clone().set_num_format(MONEY_FORMAT),
            pct: cell.clone().set_num_format(ONE_DECIMAL_FORMAT),
            none: cell.set_align(FormatAlign::Right),
        }
    }
}

/// A sheet name Excel accepts: no `[]:*?/\`, at most 31 characters,
/// unique (case-insensitively) among `taken`.
fn sheet_name(title: &str, taken: &[String]) -> String {
    let clean: String = title
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let clean = clean.trim_matches('\'').trim();
    let base = if clean.is_empty() { "表" } else { clean };
    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    let mut name = cut(base, 31);
    let mut i = 2;
    while taken
        .iter()
        .any(|t| t.to_lowercase() == name.to_lowercase())
    {
        let suffix = format!("（{i}）");
        name = cut(base, 31 - suffix.chars().count()) + &suffix;
        i += 1;
    }
    name
}

/// Column width in Excel's units (about one Latin character): a Chinese
/// character takes two.
fn display_width(s: &str) -> f64 {
    s.chars()
        .map(|c| if c.is_ascii() { 1.1 } else { 2.1 })
        .sum()
}

fn write_table(ws: &mut Worksheet, name: &str, t: &Table, f: &Formats) -> Result<(), ReportError> {
    ws.set_name(name)?;
    ws.write_string_with_format(TITLE_ROW, 0, &t.title, &f.title)?;
    let mut widths: Vec<f64> = t.headers.iter().map(|h| display_width(h) + 2.0).collect();
    for (c, h) in t.headers.iter().enumerate() {
        ws.write_string_with_format(HEADER_ROW, col(c)?, h, &f.header)?;
    }
    for (r, row) in t.rows.iter().enumerate() {
        let xr = FIRST_DATA_ROW + u32::try_from(r).map_err(|_| too_big())?;
        let span = span_start(row);
        for (c, cell) in row.iter().enumerate() {
            let xc = col(c)?;
            if let Some(s) = span {
                if c == s {
                    let last = col(row.len() - 1)?;
                    ws.merge_range(xr, xc, xr, last, &cell.text(), &f.text)?;
                    continue;
                }
                if c > s {
                    continue;
                }
            }
            match cell {
                Cell::Text(s) => {
                    ws.write_string_with_format(xr, xc, s, &f.text)?;
                }
                // Counts are far below 2^53: exact as doubles.
                Cell::Int(n) => {
                    ws.write_number_with_format(xr, xc, *n as f64, &f.int)?;
                }
                // fen < 2^53 is exact as a double, and one correctly
                // rounded division gives the double nearest the decimal
                // yuan amount.
                Cell::Fen(fen) => {
                    ws.write_number_with_format(xr, xc, *fen as f64 / 100.0, &f.money)?;
                }
                Cell::Pct(Some(p)) if p.is_finite() => {
                    ws.write_number_with_format(xr, xc, *p, &f.pct)?;
                }
                Cell::Pct(_) => {
                    ws.write_string_with_format(xr, xc, NONE_TEXT, &f.none)?;
                }
            }
            if let Some(w) = widths.get_mut(c) {
                *w = w.max(display_width(&cell.text()) + 2.0);
            }
        }
    }
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(col(c)?, w.min(40.0))?;
    }
    ws.set_freeze_panes(FIRST_DATA_ROW, 1)?;
    Ok(())
}

fn too_big() -> ReportError {
    ReportError::Xlsx("表格过大".into())
}

fn col(c: usize) -> Result<u16, ReportError> {
    u16::try_from(c).map_err(|_| too_big())
}

/// Writes `tables`, one sheet each, after the sheets named in `taken`;
/// returns the tables' sheet names.
fn add_tables(
    wb: &mut Workbook,
    tables: &[Table],
    mut taken: Vec<String>,
) -> Result<Vec<String>, ReportError> {
    let f = Formats::new();
    let mut names = Vec::with_capacity(tables.len());
    for t in tables {
        let name = sheet_name(&t.title, &taken);
        write_table(wb.add_worksheet(), &name, t, &f)?;
        taken.push(name.clone());
        names.push(name);
    }
    Ok(names)
}

/// The tables as an xlsx workbook, one sheet per table (named after its
/// title): the title in the first row, the bold header in the second, the
/// rows after. Counts are numbers, money is yuan as a number formatted
/// `#,##0.00`, percentages numbers formatted `0.0` or the text `—`.
pub fn tables_xlsx(tables: &[Table]) -> Result<Vec<u8>, ReportError> {
    let mut wb = Workbook::new();
    add_tables(&mut wb, tables, Vec::new())?;
    Ok(wb.save_to_buffer()?)
}

/// The report as an xlsx workbook: a first sheet 通报信息 (title, period,
/// scope, generation time), then [`report_tables`] as in [`tables_xlsx`],
/// with a column chart of the counts by category beside the 警情类别
/// table.
pub fn report_xlsx(r: &Report) -> Result<Vec<u8>, ReportError> {
    let mut wb = Workbook::new();
    wb.set_properties(&DocProperties::new().set_title(&r.title));
    let f = Formats::new();
    let info = Table {
        title: r.title.clone(),
        headers: vec!["项目".into(), "内容".into()],
        rows: info_rows(r)
            .into_iter()
            .map(|(k, v)| vec![Cell::Text(k.into()), Cell::Text(v)])
            .collect(),
    };
    write_table(wb.add_worksheet(), INFO_SHEET, &info, &f)?;
    let tables = report_tables(r);
    let names = add_tables(&mut wb, &tables, vec![INFO_SHEET.to_string()])?;
    if let Some((t, name)) = tables
        .iter()
        .zip(&names)
        .find(|(t, _)| t.title == CATEGORY_TITLE)
    {
        let n = t
            .rows
            .iter()
            .filter(|row| !matches!(row.first(), Some(Cell::Text(s)) if s == TOTAL_LABEL))
            .count();
        if n > 0 {
            let last = FIRST_DATA_ROW + u32::try_from(n - 1).map_err(|_| too_big())?;
            let mut chart = Chart::new(ChartType::Column);
            chart
                .add_series()
                .set_name("警情数")
                .set_categories((name.as_str(), FIRST_DATA_ROW, 0, last, 0))
                .set_values((name.as_str(), FIRST_DATA_ROW, 1, last, 1))
                .set_data_label(ChartDataLabel::new().show_value());
            chart.title().set_name("各类别警情数");
            chart.legend().set_hidden();
            chart.set_width(560).set_height(320);
            let ws = wb.worksheet_from_name(name)?;
            ws.insert_chart(HEADER_ROW, col(t.headers.len() + 1)?, &chart)?;
        }
    }
    Ok(wb.save_to_buffer()?)
}
