//! The 警情通报 as a printable A4 PDF: the same PDF library and Chinese
//! font as the slip (printpdf, the face embedded as a subset), tables that
//! run over pages with their headers repeated, and two charts drawn with
//! vector operations.

use ab_glyph::{Font as _, FontRef};
use jingwu_core::stats::{Report, SpeedKind, SpeedTable};
use jingwu_slip::font::CjkFont;
use printpdf::{
    Color, FontId, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle,
    PdfPage, PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};

use crate::tables::{info_rows, report_tables, speed_title, CATEGORY_TITLE, TOTAL_LABEL};
use crate::{span_start, Cell, ReportError, Table};

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const MARGIN: f32 = 15.0;
const LEFT: f32 = MARGIN;
const RIGHT: f32 = PAGE_W - MARGIN;
const TOP: f32 = PAGE_H - MARGIN;
/// Nothing but the page number goes below this line (mm).
const BOTTOM: f32 = 20.0;
const WIDTH: f32 = RIGHT - LEFT;

type Rgb3 = (f32, f32, f32);
const BLACK: Rgb3 = (0.0, 0.0, 0.0);
const GREY: Rgb3 = (0.35, 0.35, 0.35);
const RULE: Rgb3 = (0.55, 0.55, 0.55);
const GRID: Rgb3 = (0.85, 0.85, 0.85);
const HEAD_FILL: Rgb3 = (0.90, 0.90, 0.90);
const TOTAL_FILL: Rgb3 = (0.96, 0.96, 0.96);
const BAR: Rgb3 = (0.20, 0.42, 0.69);
/// Speed buckets, fastest to slowest: green to red.
const BUCKET_COLORS: [Rgb3; 5] = [
    (0.18, 0.60, 0.30),
    (0.56, 0.76, 0.33),
    (0.98, 0.80, 0.25),
    (0.96, 0.55, 0.20),
    (0.84, 0.19, 0.15),
];

/// Table text sizes tried in turn until the widest row fits (pt).
const TABLE_SIZES: [f32; 5] = [9.0, 8.0, 7.0, 6.5, 6.0];
/// Space between a cell's border and its text (mm).
const PAD_X: f32 = 1.2;
const PAD_Y: f32 = 1.1;
/// Rounding room when text is measured against the width it was sized
/// for (mm).
const FIT_SLACK: f32 = 0.01;

fn pt(mm: f32) -> Pt {
    Mm(mm).into_pt()
}

fn point(x: f32, y: f32) -> LinePoint {
    LinePoint {
        p: Point { x: pt(x), y: pt(y) },
        bezier: false,
    }
}

fn rgb((r, g, b): Rgb3) -> Color {
    Color::Rgb(Rgb {
        r,
        g,
        b,
        icc_profile: None,
    })
}

/// Punctuation that may not start a line (it joins the piece before).
const CLOSING: &str = "）》」』”’，。、：；！？%)]}";
/// Punctuation that may not end a line (it joins the piece after).
const OPENING: &str = "（《「『“‘([{";

/// The pieces a line may break between: each Chinese character, each run
/// of Latin letters, digits and signs (`0-30s`, `1234.50`), with opening
/// brackets joined to what follows and closing punctuation to what
/// precedes (`（%）`, `秒）、`).
fn tokens(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut glue = false;
    let mut prev_word = false;
    for c in s.chars() {
        let word = c.is_ascii_graphic() && !OPENING.contains(c) && !CLOSING.contains(c);
        let join = glue || CLOSING.contains(c) || (prev_word && word);
        match out.last_mut() {
            Some(t) if join => t.push(c),
            _ => out.push(c.to_string()),
        }
        glue = OPENING.contains(c);
        prev_word = word;
    }
    out
}

/// Line height (mm) of text of `size` pt.
fn pitch(size: f32) -> f32 {
    size * 25.4 / 72.0 * 1.3
}

/// `上升12.5%`, `下降50.0%`, `持平`; `None` names the empty base.
fn change_words(p: Option<f64>, base: &str) -> String {
    match p {
        Some(v) if v > 0.0 => format!("上升{v:.1}%"),
        Some(v) if v < 0.0 => format!("下降{:.1}%", -v),
        Some(_) => "持平".into(),
        None => format!("无法计算（{base}为0）"),
    }
}

struct Pages<'a> {
    done: Vec<Vec<Op>>,
    ops: Vec<Op>,
    /// The cursor: the top of what comes next (mm from the bottom).
    y: f32,
    font: FontId,
    metrics: FontRef<'a>,
}

impl Pages<'_> {
    fn width(&self, text: &str, size: f32) -> f32 {
        let upem = self.metrics.units_per_em().unwrap_or(1000.0);
        let units: f32 = text
            .chars()
            .map(|c| self.metrics.h_advance_unscaled(self.metrics.glyph_id(c)))
            .sum();
        units / upem * size * 25.4 / 72.0
    }

    fn fill_color(&mut self, c: Rgb3) {
        self.ops.push(Op::SetFillColor { col: rgb(c) });
    }

    fn stroke_color(&mut self, c: Rgb3) {
        self.ops.push(Op::SetOutlineColor { col: rgb(c) });
    }

    /// Text with its baseline at (x, y) mm from the bottom-left corner,
    /// in black.
    fn text(&mut self, x: f32, y: f32, size: f32, text: &str) {
        if text.is_empty() {
            return;
        }
        self.ops.push(Op::StartTextSection);
        self.ops.push(Op::SetFont {
            font: PdfFontHandle::External(self.font.clone()),
            size: Pt(size),
        });
        self.ops.push(Op::SetTextCursor {
            pos: Point { x: pt(x), y: pt(y) },
        });
        self.ops.push(Op::ShowText {
            items: vec![TextItem::Text(text.to_string())],
        });
        self.ops.push(Op::EndTextSection);
    }

    fn text_in(&mut self, color: Rgb3, x: f32, y: f32, size: f32, text: &str) {
        self.fill_color(color);
        self.text(x, y, size, text);
        self.fill_color(BLACK);
    }

    fn centered(&mut self, cx: f32, y: f32, size: f32, text: &str) {
        let w = self.width(text, size);
        self.text(cx - w / 2.0, y, size, text);
    }

    fn right(&mut self, x: f32, y: f32, size: f32, text: &str) {
        let w = self.width(text, size);
        self.text(x - w, y, size, text);
    }

    /// Breaks `text` into lines no wider than `width` mm, between the
    /// pieces of [`tokens`]; a piece wider than a line breaks anywhere.
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut cur = String::new();
            for tok in tokens(para) {
                let next = format!("{cur}{tok}");
                if self.width(&next, size) <= width + FIT_SLACK {
                    cur = next;
                    continue;
                }
                if !cur.is_empty() {
                    lines.push(std::mem::take(&mut cur));
                }
                if self.width(&tok, size) <= width + FIT_SLACK {
                    cur = tok;
                    continue;
                }
                for c in tok.chars() {
                    let mut next = cur.clone();
                    next.push(c);
                    if self.width(&next, size) > width + FIT_SLACK && !cur.is_empty() {
                        lines.push(std::mem::take(&mut cur));
                        cur.push(c);
                    } else {
                        cur = next;
                    }
                }
            }
            lines.push(cur);
        }
        lines
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width_pt: f32, color: Rgb3) {
        self.stroke_color(color);
        self.ops.push(Op::SetOutlineThickness { pt: Pt(width_pt) });
        self.ops.push(Op::DrawLine {
            line: Line {
                points: vec![point(x1, y1), point(x2, y2)],
                is_closed: false,
            },
        });
    }

    /// A filled rectangle from its lower-left corner; the fill colour is
    /// black again afterwards (text uses it).
    fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb3) {
        if w <= 0.0 || h <= 0.0 {
            return;
        }
        self.fill_color(color);
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: pt(x),
                y: pt(y),
                width: pt(w),
                height: pt(h),
                mode: Some(PaintMode::Fill),
                winding_order: None,
            },
        });
        self.fill_color(BLACK);
    }

    fn new_page(&mut self) {
        self.done.push(std::mem::take(&mut self.ops));
        self.y = TOP;
    }

    /// Starts a new page unless `h` mm still fit above the bottom margin.
    fn ensure(&mut self, h: f32) {
        if self.y - h < BOTTOM {
            self.new_page();
        }
    }

    fn section_title(&mut self, title: &str) {
        let size = 11.0;
        self.y -= pitch(size);
        self.text(LEFT, self.y + 0.8, size, title);
        self.y -= 1.8;
    }

    /// Every page's operations, each with its footer (`title　第 i 页，共
    /// n 页`).
    fn finish(mut self, title: &str) -> Vec<Vec<Op>> {
        if !self.ops.is_empty() || self.done.is_empty() {
            self.done.push(std::mem::take(&mut self.ops));
        }
        let pages = std::mem::take(&mut self.done);
        let n = pages.len();
        let mut out = Vec::with_capacity(n);
        for (i, mut ops) in pages.into_iter().enumerate() {
            let foot = format!("{title}　第 {} 页，共 {n} 页", i + 1);
            self.fill_color(GREY);
            self.centered(PAGE_W / 2.0, 10.0, 8.0, &foot);
            self.fill_color(BLACK);
            ops.append(&mut self.ops);
            out.push(ops);
        }
        out
    }
}

// ----- tables ------------------------------------------------------------

/// How a table is laid out: text size and column widths (mm).
struct Layout {
    size: f32,
    widths: Vec<f32>,
}

impl Layout {
    fn of(p: &Pages, t: &Table) -> Layout {
        let n = t
            .headers
            .len()
            .max(t.rows.iter().map(Vec::len).max().unwrap_or(0));
        let mut fallback = None;
        for size in TABLE_SIZES {
            let mut body = vec![0.0f32; n];
            let mut head = vec![0.0f32; n];
            for (c, h) in t.headers.iter().enumerate() {
                head[c] = p.width(h, size) + 2.0 * PAD_X;
                // A header may wrap, but not inside a piece (`0-30s`),
                // nor a short one (`合计`).
                let widest = if h.chars().count() <= 4 {
                    p.width(h, size)
                } else {
                    tokens(h)
                        .iter()
                        .map(|t| p.width(t, size))
                        .fold(0.0, f32::max)
                };
                body[c] = body[c].max(widest + 2.0 * PAD_X);
            }
            for row in &t.rows {
                let span = span_start(row);
                for (c, cell) in row.iter().enumerate() {
                    if span.is_some_and(|s| c >= s) {
                        continue;
                    }
                    body[c] = body[c].max(p.width(&cell.text(), size) + 2.0 * PAD_X);
                }
            }
            let natural: Vec<f32> = body.iter().zip(&head).map(|(b, h)| b.max(*h)).collect();
            let sum_natural: f32 = natural.iter().sum();
            if sum_natural <= WIDTH {
                // Everything fits on one line: widen a little, never past
                // the page.
                let k = (WIDTH / sum_natural).min(1.6);
                return Layout {
                    size,
                    widths: natural.iter().map(|w| w * k).collect(),
                };
            }
            let sum_body: f32 = body.iter().sum();
            if sum_body <= WIDTH {
                // Headers wrap: share the room left by their need.
                let need: Vec<f32> = natural.iter().zip(&body).map(|(a, b)| a - b).collect();
                let sum_need: f32 = need.iter().sum();
                let spare = WIDTH - sum_body;
                let widths = body
                    .iter()
                    .zip(&need)
                    .map(|(b, d)| {
                        if sum_need > 0.0 {
                            b + spare * d / sum_need
                        } else {
                            b + spare / n as f32
                        }
                    })
                    .collect();
                return Layout { size, widths };
            }
            fallback = Some((size, body, sum_body));
        }
        // Even the smallest text does not fit: squeeze, cells wrap.
        match fallback {
            Some((size, body, sum)) if sum > 0.0 => Layout {
                size,
                widths: body.iter().map(|w| w * WIDTH / sum).collect(),
            },
            _ => Layout {
                size: TABLE_SIZES[0],
                widths: vec![WIDTH / n.max(1) as f32; n],
            },
        }
    }

    fn edges(&self) -> Vec<f32> {
        let mut x = LEFT;
        let mut out = vec![x];
        for w in &self.widths {
            x += w;
            out.push(x);
        }
        out
    }
}

/// One row ready to draw: each cell's lines, alignment and span.
struct RowLines {
    cells: Vec<(Vec<String>, Align, usize, usize)>,
    height: f32,
    fill: Option<Rgb3>,
}

#[derive(Clone, Copy, PartialEq)]
enum Align {
    Left,
    Right,
    Center,
}

fn header_lines(p: &Pages, t: &Table, l: &Layout) -> RowLines {
    let cells: Vec<(Vec<String>, Align, usize, usize)> = t
        .headers
        .iter()
        .enumerate()
        .map(|(c, h)| {
            let w = l.widths.get(c).copied().unwrap_or(0.0) - 2.0 * PAD_X;
            (p.wrap(h, l.size, w), Align::Center, c, c)
        })
        .collect();
    let n = cells.iter().map(|c| c.0.len()).max().unwrap_or(1);
    RowLines {
        cells,
        height: pitch(l.size) * n as f32 + 2.0 * PAD_Y,
        fill: Some(HEAD_FILL),
    }
}

fn body_lines(p: &Pages, row: &[Cell], l: &Layout) -> RowLines {
    let span = span_start(row);
    let last = l.widths.len().saturating_sub(1);
    let mut cells = Vec::new();
    for (c, cell) in row.iter().enumerate() {
        let to = match span {
            Some(s) if c > s => continue,
            Some(s) if c == s => last.max(c),
            _ => c,
        };
        let w: f32 = l.widths.get(c..=to).map(|w| w.iter().sum()).unwrap_or(0.0) - 2.0 * PAD_X;
        let align = if cell.is_figure() {
            Align::Right
        } else {
            Align::Left
        };
        cells.push((p.wrap(&cell.text(), l.size, w), align, c, to));
    }
    let n = cells.iter().map(|c| c.0.len()).max().unwrap_or(1);
    let total = matches!(row.first(), Some(Cell::Text(s)) if s == TOTAL_LABEL);
    RowLines {
        cells,
        height: pitch(l.size) * n as f32 + 2.0 * PAD_Y,
        fill: total.then_some(TOTAL_FILL),
    }
}

fn draw_row(p: &mut Pages, r: &RowLines, l: &Layout) {
    let edges = l.edges();
    let top = p.y;
    let bottom = top - r.height;
    let right = edges.last().copied().unwrap_or(RIGHT);
    if let Some(fill) = r.fill {
        p.fill(LEFT, bottom, right - LEFT, r.height, fill);
    }
    let ascent = l.size * 25.4 / 72.0 * 0.88;
    for (lines, align, from, to) in &r.cells {
        let x0 = edges.get(*from).copied().unwrap_or(LEFT);
        let x1 = edges.get(to + 1).copied().unwrap_or(right);
        for (i, s) in lines.iter().enumerate() {
            let base = top - PAD_Y - ascent - pitch(l.size) * i as f32;
            match align {
                Align::Left => p.text(x0 + PAD_X, base, l.size, s),
                Align::Right => p.right(x1 - PAD_X, base, l.size, s),
                Align::Center => p.centered((x0 + x1) / 2.0, base, l.size, s),
            }
        }
        p.line(x0, bottom, x0, top, 0.4, RULE);
    }
    p.line(right, bottom, right, top, 0.4, RULE);
    p.line(LEFT, top, right, top, 0.4, RULE);
    p.line(LEFT, bottom, right, bottom, 0.4, RULE);
    p.y = bottom;
}

/// A table under its title; a row that does not fit goes to the next
/// page under the title (续) and the header again.
fn draw_table(p: &mut Pages, t: &Table) {
    let l = Layout::of(p, t);
    let head = header_lines(p, t, &l);
    let rows: Vec<RowLines> = t.rows.iter().map(|r| body_lines(p, r, &l)).collect();
    let title_h = pitch(11.0) + 1.8 + 4.0;
    let first = rows.first().map(|r| r.height).unwrap_or(0.0);
    p.y -= 4.0;
    p.ensure(title_h + head.height + first);
    p.section_title(&t.title);
    draw_row(p, &head, &l);
    for r in &rows {
        if p.y - r.height < BOTTOM {
            p.new_page();
            p.section_title(&format!("{}（续）", t.title));
            draw_row(p, &head, &l);
        }
        draw_row(p, r, &l);
    }
}

// ----- charts --------------------------------------------------------------

/// A tick step of 1, 2 or 5 × 10^k giving at most `max_ticks` steps up to
/// `max`, and the axis end (a multiple of the step, at least one step).
fn nice_axis(max: i64, max_ticks: i64) -> (i64, i64) {
    let mut step = 1i64;
    'outer: loop {
        for m in [1, 2, 5] {
            let s = step.saturating_mul(m);
            if max <= s.saturating_mul(max_ticks) {
                step = s;
                break 'outer;
            }
        }
        step = step.saturating_mul(10);
        if step >= i64::MAX / 10 {
            break;
        }
    }
    let end = ((max.max(1) + step - 1) / step) * step;
    (step, end)
}

/// Columns of this period's counts by level-1 category.
fn category_chart(p: &mut Pages, r: &Report) {
    let size = 7.5;
    let label_lines = 2.0;
    let plot_h = 48.0;
    let total_h = pitch(11.0) + 1.8 + 6.0 + plot_h + pitch(size) * label_lines + 4.0;
    p.y -= 4.0;
    p.ensure(total_h);
    p.section_title("图1  本期各类别警情数");
    let max = r.by_category.iter().map(|l| l.m.count).max().unwrap_or(0);
    let (step, end) = nice_axis(max, 5);
    let x0 = LEFT + 12.0;
    let x1 = RIGHT;
    let y1 = p.y - 6.0;
    let y0 = y1 - plot_h;
    let mut v = 0;
    while v <= end {
        let y = y0 + plot_h * v as f32 / end as f32;
        p.line(x0, y, x1, y, 0.3, GRID);
        p.right(x0 - 1.5, y - 1.0, size, &v.to_string());
        v += step;
    }
    let n = r.by_category.len().max(1);
    let slot = (x1 - x0) / n as f32;
    for (i, l) in r.by_category.iter().enumerate() {
        let cx = x0 + slot * (i as f32 + 0.5);
        let h = plot_h * l.m.count as f32 / end as f32;
        let bw = slot * 0.55;
        p.fill(cx - bw / 2.0, y0, bw, h, BAR);
        p.centered(cx, y0 + h + 1.2, size, &l.m.count.to_string());
        for (k, s) in p.wrap(&l.name, size, slot - 1.0).iter().take(2).enumerate() {
            p.centered(cx, y0 - pitch(size) * (k as f32 + 1.0), size, s);
        }
    }
    p.line(x0, y0, x1, y0, 0.6, BLACK);
    p.line(x0, y0, x0, y1, 0.6, BLACK);
    p.y = y0 - pitch(size) * label_lines - 2.0;
}

/// One stacked bar per unit: its measured dispatches in each speed
/// bucket, fastest first; a legend above and the axis below. Runs on to
/// further pages when the units do not fit on one.
fn speed_chart(p: &mut Pages, st: &SpeedTable, number: u32) {
    let size = 7.5;
    let bar_pitch = 6.5;
    let title = format!("图{number}  各单位{}用时分布（起数）", st.kind.label());
    let head_h = pitch(11.0) + 1.8 + 9.0;
    let foot_h = 8.0;
    let max = st.units.iter().map(|l| l.total).max().unwrap_or(0);
    let (step, end) = nice_axis(max, 6);
    let name_w = st
        .units
        .iter()
        .map(|l| p.width(&l.name, size))
        .fold(0.0f32, f32::max)
        .min(40.0);
    let x0 = LEFT + name_w + 2.0;
    let x1 = RIGHT - 10.0;
    let mut rest: &[jingwu_core::stats::SpeedLine] = &st.units;
    let mut first = true;
    loop {
        p.y -= 4.0;
        p.ensure(head_h + bar_pitch + foot_h);
        let fit = ((p.y - BOTTOM - head_h - foot_h) / bar_pitch)
            .floor()
            .max(1.0) as usize;
        let (now, later) = rest.split_at(fit.min(rest.len()));
        p.section_title(&if first {
            title.clone()
        } else {
            format!("{title}（续）")
        });
        // Legend.
        let mut lx = LEFT;
        let ly = p.y - 4.5;
        for (b, color) in st.buckets.iter().zip(BUCKET_COLORS) {
            p.fill(lx, ly, 3.0, 3.0, color);
            p.text(lx + 4.0, ly + 0.4, size, b);
            lx += 4.0 + p.width(b, size) + 5.0;
        }
        let top = p.y - 9.0;
        let bottom = top - bar_pitch * now.len() as f32;
        let scale = (x1 - x0) / end as f32;
        let mut v = 0;
        while v <= end {
            let x = x0 + scale * v as f32;
            p.line(x, bottom, x, top, 0.3, GRID);
            p.centered(x, bottom - pitch(size), size, &v.to_string());
            v += step;
        }
        for (i, l) in now.iter().enumerate() {
            let yb = top - bar_pitch * (i as f32 + 1.0) + 1.2;
            let h = bar_pitch - 2.4;
            let name = p
                .wrap(&l.name, size, name_w)
                .into_iter()
                .next()
                .unwrap_or_default();
            p.right(x0 - 2.0, yb + 1.0, size, &name);
            let mut x = x0;
            for (c, color) in l.counts.iter().zip(BUCKET_COLORS) {
                let w = scale * *c as f32;
                p.fill(x, yb, w, h, color);
                x += w;
            }
            p.text(x + 1.0, yb + 1.0, size, &l.total.to_string());
        }
        p.line(x0, bottom, x1, bottom, 0.6, BLACK);
        p.line(x0, bottom, x0, top, 0.6, BLACK);
        p.y = bottom - foot_h;
        if later.is_empty() {
            break;
        }
        rest = later;
        first = false;
    }
}

// ----- the document --------------------------------------------------------

/// The 警情通报 as an A4 PDF: the title, period, scope and generation
/// time, a summary sentence, every table of [`report_tables`] (long tables
/// run over pages, repeating their header), a column chart of the counts
/// by category after the 警情类别 table and a stacked bar per unit of the
/// 签收 speed buckets after that speed table; page numbers at the foot.
/// The Chinese face is embedded as a subset, so the text can be searched
/// and copied.
pub fn report_pdf(r: &Report, font: &CjkFont) -> Result<Vec<u8>, ReportError> {
    let bad_font = || ReportError::Font(font.path().display().to_string());
    let mut warnings = Vec::new();
    let parsed = ParsedFont::from_bytes(font.bytes(), font.index() as usize, &mut warnings)
        .ok_or_else(bad_font)?;
    let metrics = font.font_ref().map_err(|_| bad_font())?;
    let mut doc = PdfDocument::new(&r.title);
    let font_id = doc.add_font(&parsed);
    let mut p = Pages {
        done: Vec::new(),
        ops: Vec::new(),
        y: TOP,
        font: font_id,
        metrics,
    };

    // Heading.
    let mut size = 16.0;
    let w = p.width(&r.title, size);
    if w > WIDTH {
        size = (size * WIDTH / w).max(9.0);
    }
    p.y -= pitch(size);
    let mid = (LEFT + RIGHT) / 2.0;
    p.centered(mid, p.y, size, &r.title);
    p.y -= 3.0;
    for (label, value) in info_rows(r).into_iter().skip(1) {
        p.y -= pitch(9.5);
        p.text_in(GREY, LEFT, p.y, 9.5, &format!("{label}："));
        p.text(LEFT + 20.0, p.y, 9.5, &value);
    }
    p.y -= 2.5;
    p.line(LEFT, p.y, RIGHT, p.y, 1.0, BLACK);
    let t = &r.totals;
    let summary = format!(
        "本期共接报警情{}起，环比{}，同比{}；其中有效报警{}起。损失金额{}元，受伤{}人，死亡{}人。本期警情中未办结{}起。",
        t.current.count,
        change_words(t.mom_pct.count, "上期"),
        change_words(t.yoy_pct.count, "去年同期"),
        t.current.valid,
        crate::fen_text(t.current.loss_fen),
        t.current.injured,
        t.current.dead,
        r.unfinished_total,
    );
    p.y -= 2.0;
    for line in p.wrap(&summary, 10.0, WIDTH) {
        p.y -= pitch(10.0);
        p.text(LEFT, p.y, 10.0, &line);
    }

    let ack = r.speed.iter().find(|s| s.kind == SpeedKind::Ack);
    let ack_title = ack.map(speed_title);
    for table in report_tables(r) {
        draw_table(&mut p, &table);
        if table.title == CATEGORY_TITLE {
            category_chart(&mut p, r);
        }
        if let (Some(st), Some(title)) = (ack, &ack_title) {
            if &table.title == title && !st.units.is_empty() {
                speed_chart(&mut p, st, 2);
            }
        }
    }

    let pages: Vec<PdfPage> = p
        .finish(&r.title)
        .into_iter()
        .map(|ops| PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), ops))
        .collect();
    let opts = PdfSaveOptions {
        optimize: true,
        subset_fonts: true,
        secure: true,
        image_optimization: None,
    };
    let mut warnings = Vec::new();
    Ok(doc.with_pages(pages).save(&opts, &mut warnings))
}
