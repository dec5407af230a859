//! The 110 警情通报 and statistics tables as people read them: plain
//! tables ([`report_tables`]), an Excel workbook ([`tables_xlsx`],
//! [`report_xlsx`]), CSV ([`table_csv`]) and a printable A4 PDF
//! ([`report_pdf`]).
//!
//! Every figure comes from [`jingwu_core::stats::Report`]; nothing here
//! computes a statistic. Money stays integer fen until it is printed as
//! yuan with two decimals (`1234.50`, no thousands separator, the same in
//! the PDF and in CSV); Excel gets it as a number with the format
//! `#,##0.00`. Percentages and other one-decimal figures are printed
//! without a `%` sign (`12.5`, `-50.0`), the column header says `（%）`;
//! a change against a base of 0 is `—`.

mod csv_out;
mod pdf;
mod screens;
mod tables;
mod views;
mod xlsx;

pub use csv_out::table_csv;
pub use pdf::report_pdf;
pub use screens::{
    query_page_view, report_view, speed_view, stats_options, stats_view, table_view,
};
pub use tables::report_tables;
pub use views::{query_table, speed_table, stats_table};
pub use xlsx::{report_xlsx, tables_xlsx};

/// One cell of a [`Table`].
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// Money in fen, shown as yuan with two decimals.
    Fen(i64),
    /// A percentage (or another one-decimal figure such as a mean time
    /// in seconds), shown with one decimal; `None` is shown as `—`.
    Pct(Option<f64>),
}

impl Cell {
    /// The cell as printed in the PDF and in CSV.
    pub fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Fen(f) => fen_text(*f),
            Cell::Pct(p) => pct_figure(*p),
        }
    }

    /// Whether the cell is a figure (right-aligned).
    pub fn is_figure(&self) -> bool {
        !matches!(self, Cell::Text(_))
    }
}

/// A titled table: a header row and rows of cells (as many as headers).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Where a row's closing text starts when it runs on over the empty text
/// cells after it (the 排名靠后 line): the last non-empty cell, when at
/// least one empty cell follows it.
pub(crate) fn span_start(row: &[Cell]) -> Option<usize> {
    let last = row
        .iter()
        .rposition(|c| !matches!(c, Cell::Text(s) if s.is_empty()))?;
    (last + 1 < row.len()).then_some(last)
}

/// Shown for a change whose base is 0 (and any figure that has none).
pub const NONE_TEXT: &str = "—";

/// Fen as yuan with two decimals: `1234.50`, `-0.05`.
pub fn fen_text(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// A one-decimal figure without a unit: `12.5`, `-50.0`, `—` for none.
pub fn pct_figure(p: Option<f64>) -> String {
    match p {
        Some(v) if v.is_finite() => format!("{v:.1}"),
        _ => NONE_TEXT.into(),
    }
}

/// Why a report could not be written. Shown to users.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("无法生成 Excel 文件：{0}")]
    Xlsx(String),
    #[error("无法解析中文字体 {0}，不能生成 PDF 通报")]
    Font(String),
    #[error("无法生成 PDF 通报：{0}")]
    Pdf(String),
}

impl From<rust_xlsxwriter::XlsxError> for ReportError {
    fn from(e: rust_xlsxwriter::XlsxError) -> Self {
        ReportError::Xlsx(e.to_string())
    }
}
