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
/// Where the form part's labels and values start (mm from the left edge)
/// and their sizes (pt); [`crate::slip::check_page`] reads rows by them.
pub(crate) const LABEL_X: f32 = MARGIN + 1.0;
pub(crate) const LABEL_SIZE: f32 = 10.0;
pub(crate) const VALUE_X: f32 = MARGIN + 38.0 + 2.0;
pub(crate) const VALUE_SIZE: f32 = 10.5;
/// Line pitch of wrapped values (mm).
pub(crate) const VALUE_PITCH: f32 = 4.6;
/// The 受理编号 line starts with this.
pub(crate) const CASE_NO_PREFIX: &str = "受理编号：";
/// The result line starts with this.
pub(crate) const RESULT_PREFIX: &str = "审批结果：";
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
    p.text(left, y, 10.5, &format!("{CASE_NO_PREFIX}{}", slip.case_no));
    let station = format!("受理单位：{}", slip.station);
    let sw = p.width_mm(&station, 10.5);
    p.text(right - sw, y, 10.5, &station);
    y -= 3.0;
    p.line(left, y, right, y, 1.2);

    // The form part: label | value rows with wrapped values.
    let label_w = 38.0;
    let value_x = VALUE_X;
    for row in &slip.rows {
        let lines = p.wrap(&row.value, VALUE_SIZE, right - value_x - 1.0);
        let h = VALUE_PITCH * lines.len().max(1) as f32 + 2.6;
        y -= h;
        p.color(GREY);
        p.text(LABEL_X, y + h - 5.2, LABEL_SIZE, &row.label);
        p.color(BLACK);
        for (i, l) in lines.iter().enumerate() {
            p.text(value_x, y + h - 5.2 - VALUE_PITCH * i as f32, VALUE_SIZE, l);
        }
        p.line(left, y, right, y, 0.4);
        p.line(left + label_w, y, left + label_w, y + h, 0.4);
    }

    // The result, with the issuing unit's seal over it.
    y -= 13.0;
    let result_y = y;
    if let Some(result) = &slip.result {
        p.text(left + 1.0, y, 14.0, &format!("{RESULT_PREFIX}{result}"));
    } else {
        p.text(left + 1.0, y, 14.0, RESULT_PREFIX);
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
            // The approver's name seal, stamped just after the name, on
            // the name's line (notes under the name stay readable).
            let name_w = who_lines.last().map(|l| p.width_mm(l, 9.5)).unwrap_or(0.0);
            let sx = (cols[1] + name_w - 2.0).min(cols[2] - 8.0);
            let name_line = top - 4.4 * (who_lines.len().max(1) - 1) as f32;
            seals.push((seal.clone(), sx, name_line - 2.0));
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

/// One piece of text shown on a PDF page, as read back from its content.
#[derive(Debug, Clone, PartialEq)]
pub struct PageText {
    /// Where it starts, in mm from the page's bottom-left corner.
    pub x: f32,
    pub y: f32,
    /// Font size in pt.
    pub size: f32,
    /// The characters, through the font's ToUnicode map.
    pub text: String,
}

/// A rectangle on the page, in mm from its bottom-left corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl Rect {
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
}

/// What a slip page shows: its text in drawing order and where pictures
/// lie on it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageContent {
    pub texts: Vec<PageText>,
    pub images: Vec<Rect>,
}

/// Why a page's text could not be read. Shown to users.
#[derive(Debug, thiserror::Error)]
pub enum PageTextError {
    #[error("无法读取 PDF：{0}")]
    Pdf(String),
    #[error("通知单应只有一页，此文件有 {0} 页")]
    Pages(usize),
    #[error("页面上有无法读出的文字（{0}），无法与签名内容核对")]
    Unreadable(String),
    #[error("页面上有隐藏、变色或变形的文字，无法与签名内容核对")]
    Hidden,
    #[error("页面上有嵌入的表单对象，无法与签名内容核对")]
    Form,
    #[error("页面上有填充图形或内嵌图片，可能遮盖文字，无法与签名内容核对")]
    Covered,
}

/// Upper bound of a page's decompressed content (our slips have a few KB).
const MAX_CONTENT: usize = 4 << 20;

type Matrix = [f32; 6];
const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `m` applied after `n` (PDF row-vector convention: `m × n`).
fn concat(m: &Matrix, n: &Matrix) -> Matrix {
    [
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    ]
}

fn is_identity(m: &Matrix) -> bool {
    m.iter()
        .zip(IDENTITY.iter())
        .all(|(a, b)| (a - b).abs() < 1e-4)
}

/// Reads what the one page of a slip PDF shows: the text in drawing order,
/// each piece decoded through its font's ToUnicode map, and where its
/// pictures lie. Refuses what would let the visible page differ from this
/// text without a trace in it: a glyph no map names, text drawn invisible
/// (render mode), light or in an unknown colour, or under a
/// transformation, text-state operators our renderer never writes, and
/// form objects (which could draw text of their own).
pub fn page_content(pdf: &[u8]) -> Result<PageContent, PageTextError> {
    use lopdf::{content::Content, Document, Object};
    let bad = |e: lopdf::Error| PageTextError::Pdf(e.to_string());
    let doc = Document::load_mem(pdf).map_err(bad)?;
    let pages = doc.get_pages();
    let page = match (pages.len(), pages.values().next()) {
        (1, Some(id)) => *id,
        (n, _) => return Err(PageTextError::Pages(n)),
    };
    let fonts = doc.get_page_fonts(page).map_err(bad)?;
    let mut encodings = std::collections::BTreeMap::new();
    for (name, font) in fonts {
        let enc = font
            .get_font_encoding_with_limit(&doc, MAX_CONTENT)
            .map_err(bad)?;
        encodings.insert(name, enc);
    }
    let (resources, resource_ids) = doc.get_page_resources(page).map_err(bad)?;
    let resources: Vec<&lopdf::Dictionary> = resources
        .into_iter()
        .chain(
            resource_ids
                .iter()
                .filter_map(|id| doc.get_dictionary(*id).ok()),
        )
        .collect();
    fn deref<'a>(doc: &'a Document, o: &'a Object) -> Option<&'a Object> {
        match o {
            Object::Reference(id) => doc.get_object(*id).ok(),
            o => Some(o),
        }
    }
    let is_image = |name: &[u8]| {
        resources
            .iter()
            .filter_map(|r| r.get(b"XObject").ok().and_then(|o| deref(&doc, o)))
            .filter_map(|x| x.as_dict().ok())
            .find_map(|x| x.get(name).ok().and_then(|o| deref(&doc, o)))
            .and_then(|o| o.as_stream().ok())
            .and_then(|s| s.dict.get(b"Subtype").and_then(Object::as_name).ok())
            .is_some_and(|n| n == b"Image")
    };
    let content = doc
        .get_page_content_with_limit(page, MAX_CONTENT)
        .map_err(bad)?;
    let ops = Content::decode(&content).map_err(bad)?.operations;
    let num = |o: Option<&Object>| o.and_then(|o| o.as_float().ok()).unwrap_or(0.0);
    let nums = |a: &[Object]| {
        a.iter()
            .map(|o| o.as_float().unwrap_or(0.0))
            .collect::<Vec<_>>()
    };
    let to_mm = |v: f32| v * 25.4 / 72.0;
    let mut out = PageContent::default();
    // The graphics state that matters here: the transformation and
    // whether the fill colour is dark enough to read; saved by `q`.
    let (mut ctm, mut dark) = (IDENTITY, true);
    let mut saved: Vec<(Matrix, bool)> = Vec::new();
    let (mut font, mut size) = (Vec::new(), 0.0f32);
    let (mut x, mut y, mut mode) = (0.0f32, 0.0f32, 0i64);
    for op in &ops {
        let a = op.operands.as_slice();
        match op.operator.as_str() {
            "q" => saved.push((ctm, dark)),
            "Q" => (ctm, dark) = saved.pop().unwrap_or((IDENTITY, true)),
            "cm" => {
                let v = nums(a);
                if v.len() == 6 {
                    ctm = concat(&[v[0], v[1], v[2], v[3], v[4], v[5]], &ctm);
                }
            }
            // Luminance under one half: black and our grey read; white or
            // pale text would hide.
            "g" => dark = num(a.first()) < 0.5,
            "rg" => {
                let v = nums(a);
                dark = v.len() == 3 && 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2] < 0.5;
            }
            "k" => {
                let v = nums(a);
                dark = v.len() == 4 && (1.0 - v[0].max(v[1]).max(v[2])) * (1.0 - v[3]) < 0.5;
            }
            "cs" | "sc" | "scn" => dark = false,
            "BT" => (x, y) = (0.0, 0.0),
            "Tf" => {
                font = a
                    .first()
                    .and_then(|o| o.as_name().ok())
                    .unwrap_or_default()
                    .to_vec();
                size = num(a.get(1));
            }
            "Td" => {
                x += num(a.first());
                y += num(a.get(1));
            }
            "Tr" => mode = a.first().and_then(|o| o.as_i64().ok()).unwrap_or(0),
            "Tm" | "TD" | "T*" | "'" | "\"" | "Tz" | "Ts" | "TL" => {
                // Never written by our renderer; each could move, squeeze
                // or hide text where this reading would not follow.
                return Err(PageTextError::Hidden);
            }
            "Tc" | "Tw" if num(a.first()) != 0.0 => return Err(PageTextError::Hidden),
            // Our renderer strokes lines and places images, nothing else:
            // a filled shape or an inline image could cover text.
            "f" | "F" | "f*" | "B" | "B*" | "b" | "b*" | "sh" | "BI" | "ID" | "EI" => {
                return Err(PageTextError::Covered)
            }
            "Tj" | "TJ" => {
                if mode != 0 || !dark || !is_identity(&ctm) || size < 4.0 {
                    return Err(PageTextError::Hidden);
                }
                let enc = encodings
                    .get(&font)
                    .ok_or_else(|| PageTextError::Unreadable("未知字体".into()))?;
                let mut parts: Vec<&Object> = Vec::new();
                match a.first() {
                    Some(Object::Array(items)) => parts.extend(items.iter()),
                    Some(o) => parts.push(o),
                    None => {}
                }
                let mut text = String::new();
                for part in parts {
                    match part {
                        Object::String(bytes, _) => {
                            let s = Document::decode_text(enc, bytes).map_err(bad)?;
                            if s.contains('\u{fffd}') || s.chars().count() * 2 < bytes.len() {
                                return Err(PageTextError::Unreadable(s));
                            }
                            text.push_str(&s);
                        }
                        // Kerning inside TJ: also never ours.
                        _ => return Err(PageTextError::Hidden),
                    }
                }
                out.texts.push(PageText {
                    x: to_mm(x),
                    y: to_mm(y),
                    size,
                    text,
                });
            }
            "Do" => {
                let name = a.first().and_then(|o| o.as_name().ok()).unwrap_or_default();
                if !is_image(name) {
                    return Err(PageTextError::Form);
                }
                // An image fills the unit square under the CTM.
                let corners = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)].map(|(u, v)| {
                    (
                        u * ctm[0] + v * ctm[2] + ctm[4],
                        u * ctm[1] + v * ctm[3] + ctm[5],
                    )
                });
                let xs = corners.map(|c| to_mm(c.0));
                let ys = corners.map(|c| to_mm(c.1));
                out.images.push(Rect {
                    x0: xs.iter().copied().fold(f32::INFINITY, f32::min),
                    y0: ys.iter().copied().fold(f32::INFINITY, f32::min),
                    x1: xs.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                    y1: ys.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                });
            }
            _ => {}
        }
    }
    Ok(out)
}
