//! The slip as an A4 PDF (printpdf), laid out like an official form, with
//! the Chinese font embedded as a subset.

use ab_glyph::{Font as _, FontRef};
use image::{GrayImage, RgbaImage};
use printpdf::{
    Color, FontId, Line, LinePoint, Mm, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, RawImage, RawImageData, RawImageFormat, Rgb, TextItem,
    XObjectTransform,
};

use crate::font::CjkFont;

/// Errors while making the PDF. Shown to users.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("无法解析中文字体 {0}")]
    Font(String),
}

/// One labelled value of the form part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub label: String,
    pub value: String,
}

/// One line of the approval trail.
#[derive(Debug, Clone)]
pub struct TrailRow {
    /// e.g. 派出所所长审批
    pub step: String,
    /// e.g. 派出所所长 谭凤英
    pub who: String,
    /// 同意 / 不同意 / 退回补正
    pub decision: String,
    pub opinion: String,
    /// `2026-11-27 10:42`
    pub time: String,
    /// The approver's personal seal, stamped over the entry.
    pub seal: Option<RgbaImage>,
    /// A small grey note under the approver (e.g. 未登记印章).
    pub note: Option<String>,
}

/// Everything printed on a slip.
#[derive(Debug, Clone)]
pub struct SlipDoc {
    /// e.g. 雷山县公安局
    pub issuer: String,
    /// e.g. 户口变更审批结果通知单
    pub title: String,
    pub case_no: String,
    pub station: String,
    pub rows: Vec<Row>,
    /// 同意 / 不同意; `None` for a blank form.
    pub result: Option<String>,
    pub trail: Vec<TrailRow>,
    /// The issuing unit's seal, stamped over the result.
    pub unit_seal: Option<RgbaImage>,
    /// The verification QR code.
    pub qr: Option<GrayImage>,
    /// Text under the QR code.
    pub qr_caption: Vec<String>,
    /// Footer line (e.g. the verification code).
    pub footer: String,
}

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const MARGIN: f32 = 18.0;
const BLACK: (f32, f32, f32) = (0.0, 0.0, 0.0);
const GREY: (f32, f32, f32) = (0.35, 0.35, 0.35);

/// Parses the CJK font once; reuse it for many slips (parsing a 19 MB
/// collection takes tens of milliseconds).
pub struct FontSet {
    parsed: ParsedFont,
    bytes: Vec<u8>,
    index: u32,
}

impl FontSet {
    pub fn new(font: &CjkFont) -> Result<FontSet, PdfError> {
        let mut warnings = Vec::new();
        let parsed = ParsedFont::from_bytes(font.bytes(), font.index() as usize, &mut warnings)
            .ok_or_else(|| PdfError::Font(font.path().display().to_string()))?;
        Ok(FontSet {
            parsed,
            bytes: font.bytes().to_vec(),
            index: font.index(),
        })
    }

    fn metrics(&self) -> Result<FontRef<'_>, PdfError> {
        FontRef::try_from_slice_and_index(&self.bytes, self.index)
            .map_err(|e| PdfError::Font(e.to_string()))
    }
}

struct Page<'a> {
    ops: Vec<Op>,
    font: FontId,
    metrics: FontRef<'a>,
}

fn pt(mm: f32) -> Pt {
    Mm(mm).into_pt()
}

impl Page<'_> {
    fn width_mm(&self, text: &str, size: f32) -> f32 {
        let upem = self.metrics.units_per_em().unwrap_or(1000.0);
        let units: f32 = text
            .chars()
            .map(|c| self.metrics.h_advance_unscaled(self.metrics.glyph_id(c)))
            .sum();
        units / upem * size * 25.4 / 72.0
    }

    fn color(&mut self, (r, g, b): (f32, f32, f32)) {
        self.ops.push(Op::SetFillColor {
            col: Color::Rgb(Rgb {
                r,
                g,
                b,
                icc_profile: None,
            }),
        });
    }

    /// Text with its baseline at (x, y) mm from the bottom-left corner.
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

    fn centered(&mut self, cx: f32, y: f32, size: f32, text: &str) {
        let w = self.width_mm(text, size);
        self.text(cx - w / 2.0, y, size, text);
    }

    /// Breaks `text` into lines no wider than `width` mm.
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut cur = String::new();
            for c in para.chars() {
                let mut next = cur.clone();
                next.push(c);
                if self.width_mm(&next, size) > width && !cur.is_empty() {
                    lines.push(std::mem::take(&mut cur));
                    cur.push(c);
                } else {
                    cur = next;
                }
            }
            lines.push(cur);
        }
        lines
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width_pt: f32) {
        self.ops.push(Op::SetOutlineThickness { pt: Pt(width_pt) });
        self.ops.push(Op::DrawLine {
            line: Line {
                points: vec![
                    LinePoint {
                        p: Point {
                            x: pt(x1),
                            y: pt(y1),
                        },
                        bezier: false,
                    },
                    LinePoint {
                        p: Point {
                            x: pt(x2),
                            y: pt(y2),
                        },
                        bezier: false,
                    },
                ],
                is_closed: false,
            },
        });
    }

    /// Places an image so that it is `w_mm` wide with its lower-left corner
    /// at (x, y).
    fn image(&mut self, doc: &mut PdfDocument, img: RawImage, x: f32, y: f32, w_mm: f32) {
        let px = img.width as f32;
        let id = doc.add_image(&img);
        // At `dpi`, the image's pixel width maps to w_mm.
        let dpi = px / (w_mm / 25.4);
        self.ops.push(Op::UseXobject {
            id,
            transform: XObjectTransform {
                translate_x: Some(pt(x)),
                translate_y: Some(pt(y)),
                dpi: Some(dpi),
                ..Default::default()
            },
        });
    }
}

fn rgba_raw(img: &RgbaImage) -> RawImage {
    RawImage {
        pixels: RawImageData::U8(img.as_raw().clone()),
        width: img.width() as usize,
        height: img.height() as usize,
        data_format: RawImageFormat::RGBA8,
        tag: Vec::new(),
    }
}

fn gray_raw(img: &GrayImage) -> RawImage {
    RawImage {
        pixels: RawImageData::U8(img.as_raw().clone()),
        width: img.width() as usize,
        height: img.height() as usize,
        data_format: RawImageFormat::R8,
        tag: Vec::new(),
    }
}

/// Lays out and serialises the slip.
pub fn render(slip: &SlipDoc, fonts: &FontSet) -> Result<Vec<u8>, PdfError> {
    let mut doc = PdfDocument::new(&slip.title);
    let font = doc.add_font(&fonts.parsed);
    let mut p = Page {
        ops: Vec::new(),
        font,
        metrics: fonts.metrics()?,
    };
    let left = MARGIN;
    let right = PAGE_W - MARGIN;
    let mid = PAGE_W / 2.0;
    let mut y = PAGE_H - MARGIN - 6.0;

    p.color(BLACK);
    p.centered(mid, y, 12.0, &slip.issuer);
    y -= 11.0;
    p.centered(mid, y, 20.0, &slip.title);
    y -= 10.0;
    p.text(left, y, 10.5, &format!("受理编号：{}", slip.case_no));
    let station = format!("受理单位：{}", slip.station);
    let sw = p.width_mm(&station, 10.5);
    p.text(right - sw, y, 10.5, &station);
    y -= 3.0;
    p.line(left, y, right, y, 1.2);

    // The form part: label | value rows with wrapped values.
    let label_w = 38.0;
    let value_x = left + label_w + 2.0;
    for row in &slip.rows {
        let lines = p.wrap(&row.value, 10.5, right - value_x - 1.0);
        let h = 4.6 * lines.len().max(1) as f32 + 2.6;
        y -= h;
        p.color(GREY);
        p.text(left + 1.0, y + h - 5.2, 10.0, &row.label);
        p.color(BLACK);
        for (i, l) in lines.iter().enumerate() {
            p.text(value_x, y + h - 5.2 - 4.6 * i as f32, 10.5, l);
        }
        p.line(left, y, right, y, 0.4);
        p.line(left + label_w, y, left + label_w, y + h, 0.4);
    }

    // The result, with the issuing unit's seal over it.
    y -= 13.0;
    let result_y = y;
    if let Some(result) = &slip.result {
        p.text(left + 1.0, y, 14.0, &format!("审批结果：{result}"));
    } else {
        p.text(left + 1.0, y, 14.0, "审批结果：");
    }

    // The approval trail.
    y -= 9.0;
    p.text(left + 1.0, y, 12.0, "审批记录");
    y -= 2.5;
    p.line(left, y, right, y, 0.8);
    let cols = [
        left + 1.0,
        left + 34.0,
        left + 74.0,
        left + 92.0,
        right - 30.0,
    ];
    y -= 5.0;
    p.color(GREY);
    for (x, h) in cols.iter().zip(["环节", "审批人", "结论", "意见", "时间"]) {
        p.text(*x, y, 9.5, h);
    }
    p.color(BLACK);
    y -= 2.0;
    p.line(left, y, right, y, 0.4);
    let mut seals: Vec<(RgbaImage, f32, f32)> = Vec::new();
    for t in &slip.trail {
        let op_lines = p.wrap(&t.opinion, 9.5, cols[4] - cols[3] - 3.0);
        let who_lines = p.wrap(&t.who, 9.5, cols[2] - cols[1] - 2.0);
        let step_lines = p.wrap(&t.step, 9.5, cols[1] - cols[0] - 2.0);
        let note_lines = t
            .note
            .as_deref()
            .map(|n| p.wrap(n, 8.0, cols[2] - cols[1] - 2.0))
            .unwrap_or_default();
        let n = op_lines
            .len()
            .max(who_lines.len() + note_lines.len())
            .max(step_lines.len())
            .max(1);
        let h = 4.4 * n as f32 + 3.0;
        y -= h;
        let top = y + h - 5.0;
        for (i, l) in step_lines.iter().enumerate() {
            p.text(cols[0], top - 4.4 * i as f32, 9.5, l);
        }
        for (i, l) in who_lines.iter().enumerate() {
            p.text(cols[1], top - 4.4 * i as f32, 9.5, l);
        }
        if !note_lines.is_empty() {
            p.color(GREY);
            for (i, l) in note_lines.iter().enumerate() {
                p.text(cols[1], top - 4.4 * (who_lines.len() + i) as f32, 8.0, l);
            }
            p.color(BLACK);
        }
        p.text(cols[2], top, 9.5, &t.decision);
        for (i, l) in op_lines.iter().enumerate() {
            p.text(cols[3], top - 4.4 * i as f32, 9.5, l);
        }
        p.text(cols[4], top, 9.0, &t.time);
        p.line(left, y, right, y, 0.3);
        if let Some(seal) = &t.seal {
            // The approver's name seal, stamped just after the name.
            let name_w = who_lines.last().map(|l| p.width_mm(l, 9.5)).unwrap_or(0.0);
            let sx = (cols[1] + name_w - 2.0).min(cols[2] - 8.0);
            seals.push((seal.clone(), sx, y + h / 2.0 - 4.5));
        }
    }
    if slip.trail.is_empty() {
        for _ in 0..3 {
            y -= 12.0;
            p.line(left, y, right, y, 0.3);
        }
    }

    // QR code and caption at the bottom right; footer at the bottom.
    let qr_w = 62.0;
    let qr_x = right - qr_w;
    let qr_y = MARGIN + 10.0;
    let mut doc_images: Vec<(RawImage, f32, f32, f32)> = Vec::new();
    if let Some(qr) = &slip.qr {
        doc_images.push((gray_raw(qr), qr_x, qr_y, qr_w));
        for (i, l) in slip.qr_caption.iter().enumerate() {
            p.color(GREY);
            p.text(left, qr_y + qr_w - 6.0 - 5.0 * i as f32, 9.5, l);
        }
    }
    p.color(GREY);
    p.text(left, MARGIN, 8.5, &slip.footer);
    p.color(BLACK);

    // Seals last, so they lie over the text like ink stamped on paper.
    if let Some(seal) = &slip.unit_seal {
        doc_images.push((rgba_raw(seal), left + 30.0, result_y - 17.0, 36.0));
    }
    for (seal, x, sy) in seals {
        doc_images.push((rgba_raw(&seal), x, sy, 9.0));
    }
    for (img, x, iy, w) in doc_images {
        p.image(&mut doc, img, x, iy, w);
    }

    let page = PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), p.ops);
    let opts = PdfSaveOptions {
        optimize: true,
        subset_fonts: true,
        secure: true,
        // Keep images lossless: the QR code must stay crisp.
        image_optimization: None,
    };
    let mut warnings = Vec::new();
    Ok(doc.with_pages(vec![page]).save(&opts, &mut warnings))
}
