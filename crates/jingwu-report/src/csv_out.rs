//! One table as CSV.

use crate::Table;

/// The UTF-8 byte order mark: without it Excel reads the file in the
/// system's ANSI code page and garbles the Chinese.
const BOM: &str = "\u{feff}";

/// The table as RFC 4180 CSV (CRLF line ends, fields quoted where
/// needed), UTF-8 with a byte order mark: a header row, then one record
/// per row, each as printed ([`crate::Cell::text`]: money as yuan with two
/// decimals, percentages with one decimal or `—`). Rows shorter than the
/// header are padded with empty fields. The title is not written (it is
/// the file's name).
pub fn table_csv(t: &Table) -> String {
    let width = t
        .headers
        .len()
        .max(t.rows.iter().map(Vec::len).max().unwrap_or(0));
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let pad = |mut r: Vec<String>| {
        r.resize(width, String::new());
        r
    };
    let mut records = vec![pad(t.headers.clone())];
    records.extend(
        t.rows
            .iter()
            .map(|row| pad(row.iter().map(|c| c.text()).collect())),
    );
    for r in records {
        // Writing to memory cannot fail, and every record has `width`
        // fields.
        if w.write_record(&r).is_err() {
            break;
        }
    }
    let bytes = w.into_inner().unwrap_or_default();
    let mut out = String::from(BOM);
    out.push_str(&String::from_utf8_lossy(&bytes));
    out
}
