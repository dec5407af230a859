//! Synthetic scan corpus: A4 户口变更登记表 pages rendered with the CJK
//! font found at run time, village-committee seals drawn by
//! `jingwu_slip::seal`, QR blank-form codes, then "scanned": rotated by a
//! known angle, optionally laid on a dark scanner background, noised,
//! and written as JPEG, PNG, multi-page TIFF and image-per-page PDF.
//! `manifest.json` records the truth per page. Every name is made up.
//!
//! Shared by `tests/scan.rs` and `examples/make-corpus.rs`.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Cursor;
use std::path::Path;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use image::{Rgb, RgbImage, RgbaImage};
use jingwu_slip::font::CjkFont;
use serde::Serialize;

pub const PAPER: Rgb<u8> = Rgb([246, 244, 237]);
pub const INK: Rgb<u8> = Rgb([32, 32, 38]);
pub const BLUE_INK: Rgb<u8> = Rgb([30, 45, 120]);
pub const SCANNER_BLACK: Rgb<u8> = Rgb([26, 26, 29]);
pub const RED_PEN: Rgb<u8> = Rgb([200, 35, 40]);

/// What to draw on one page and how to "scan" it.
#[derive(Debug, Clone)]
pub struct PageSpec {
    /// Counter-clockwise skew of the scanned page, degrees.
    pub skew: f32,
    pub stamp: bool,
    /// Seal faded to pink.
    pub faded_stamp: bool,
    pub qr: Option<String>,
    /// No text at all.
    pub blank: bool,
    /// Dark scanner background around the paper.
    pub border: bool,
    /// Gaussian noise sigma (grey levels).
    pub noise: f32,
    /// Red handwriting and a red underline that are not a seal.
    pub red_distractor: bool,
    /// Applicant (made up) — varies the text between pages.
    pub applicant: &'static str,
}

impl PageSpec {
    pub fn form(skew: f32) -> Self {
        PageSpec {
            skew,
            stamp: true,
            faded_stamp: false,
            qr: None,
            blank: false,
            border: false,
            noise: 5.0,
            red_distractor: false,
            applicant: "王小明",
        }
    }

    pub fn blank() -> Self {
        PageSpec {
            blank: true,
            stamp: false,
            ..PageSpec::form(0.0)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Jpeg,
    /// JPEG stored turned 90° counter-clockwise with EXIF orientation 6.
    JpegExifRotated,
    Png,
    Tiff,
    /// Image-per-page PDF; pages alternate DCT and Flate images.
    Pdf,
}

#[derive(Debug, Clone)]
pub struct FileSpec {
    pub name: String,
    pub kind: FileKind,
    pub pages: Vec<PageSpec>,
}

/// Truth for one page, as written to `manifest.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    pub file: String,
    pub kind: FileKind,
    pub page: u32,
    pub dpi: u32,
    pub skew_degrees: f32,
    pub text: bool,
    pub stamp: bool,
    pub qr: Option<String>,
    pub border: bool,
    pub noise: f32,
    pub red_distractor: bool,
    /// Fraction of dark pixels (luminance < 128) of the clean page: what
    /// the processed page should keep (±).
    pub ink: f32,
}

fn qr_id(n: u32) -> Option<String> {
    Some(format!("JWF1:FX-20260312-{n:04}"))
}

/// The standard corpus: single JPEG/PNG pages over −12°…+12° (0 and
/// fractional angles included), borders, noise, faded seals, red
/// distractors, blank pages, QR forms, an EXIF-rotated JPEG, a 3-page
/// TIFF and a 3-page PDF.
pub fn standard() -> Vec<FileSpec> {
    let one = |name: &str, kind, page| FileSpec {
        name: name.into(),
        kind,
        pages: vec![page],
    };
    vec![
        one("form-00-straight.jpg", FileKind::Jpeg, PageSpec::form(0.0)),
        one(
            "form-01.jpg",
            FileKind::Jpeg,
            PageSpec {
                border: true,
                applicant: "李春花",
                ..PageSpec::form(0.7)
            },
        ),
        one(
            "form-02-qr.jpg",
            FileKind::Jpeg,
            PageSpec {
                stamp: false,
                qr: qr_id(1),
                applicant: "张建国",
                ..PageSpec::form(-1.3)
            },
        ),
        one(
            "form-03-qr.jpg",
            FileKind::Jpeg,
            PageSpec {
                qr: qr_id(2),
                border: true,
                applicant: "杨秀英",
                ..PageSpec::form(3.0)
            },
        ),
        one(
            "form-04-faded.jpg",
            FileKind::Jpeg,
            PageSpec {
                faded_stamp: true,
                red_distractor: true,
                applicant: "吴志强",
                ..PageSpec::form(-4.6)
            },
        ),
        one(
            "form-05-nostamp.jpg",
            FileKind::Jpeg,
            PageSpec {
                stamp: false,
                red_distractor: true,
                border: true,
                applicant: "龙金妹",
                ..PageSpec::form(7.25)
            },
        ),
        one(
            "form-06-noisy.jpg",
            FileKind::Jpeg,
            PageSpec {
                noise: 10.0,
                applicant: "潘国华",
                ..PageSpec::form(-8.8)
            },
        ),
        one(
            "form-07.jpg",
            FileKind::Jpeg,
            PageSpec {
                border: true,
                qr: qr_id(3),
                applicant: "杨光明",
                ..PageSpec::form(12.0)
            },
        ),
        one(
            "form-08-nostamp.jpg",
            FileKind::Jpeg,
            PageSpec {
                stamp: false,
                applicant: "文丽",
                ..PageSpec::form(-12.0)
            },
        ),
        one(
            "form-09.png",
            FileKind::Png,
            PageSpec {
                applicant: "李德明",
                ..PageSpec::form(2.4)
            },
        ),
        one(
            "form-10-exif.jpg",
            FileKind::JpegExifRotated,
            PageSpec {
                qr: qr_id(4),
                applicant: "吴小燕",
                ..PageSpec::form(-0.4)
            },
        ),
        one(
            "blank-11.jpg",
            FileKind::Jpeg,
            PageSpec {
                border: true,
                ..PageSpec::blank()
            },
        ),
        FileSpec {
            name: "multi-12.tif".into(),
            kind: FileKind::Tiff,
            pages: vec![
                PageSpec {
                    qr: qr_id(5),
                    applicant: "顾明",
                    ..PageSpec::form(-2.2)
                },
                PageSpec::blank(),
                PageSpec {
                    stamp: false,
                    applicant: "蒋红",
                    ..PageSpec::form(5.5)
                },
            ],
        },
        FileSpec {
            name: "multi-13.pdf".into(),
            kind: FileKind::Pdf,
            pages: vec![
                PageSpec {
                    applicant: "唐文",
                    ..PageSpec::form(1.1)
                },
                PageSpec {
                    stamp: false,
                    qr: qr_id(6),
                    border: true,
                    applicant: "宋丽华",
                    ..PageSpec::form(-6.3)
                },
                PageSpec {
                    applicant: "熊大勇",
                    ..PageSpec::form(0.0)
                },
            ],
        },
    ]
}

// ---------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------

pub struct Fonts {
    regular: CjkFont,
    bold: CjkFont,
}

impl Fonts {
    pub fn locate() -> Fonts {
        Fonts {
            regular: CjkFont::locate().expect("中文字体（fonts-noto-cjk）"),
            bold: CjkFont::locate_bold().expect("中文字体（fonts-noto-cjk）"),
        }
    }
}

pub fn a4(dpi: u32) -> (u32, u32) {
    let px = |mm: f64| (mm / 25.4 * f64::from(dpi)).round() as u32;
    (px(210.0), px(297.0))
}

struct Canvas {
    img: RgbImage,
    dpi: u32,
}

impl Canvas {
    fn mm(&self, mm: f32) -> f32 {
        mm * self.dpi as f32 / 25.4
    }

    /// Blends `colour` into a pixel with coverage `a`.
    fn blend(&mut self, x: i64, y: i64, colour: Rgb<u8>, a: f32) {
        if x < 0 || y < 0 || x >= i64::from(self.img.width()) || y >= i64::from(self.img.height()) {
            return;
        }
        let a = a.clamp(0.0, 1.0);
        let p = self.img.get_pixel_mut(x as u32, y as u32);
        for k in 0..3 {
            let v = f32::from(p.0[k]) * (1.0 - a) + f32::from(colour.0[k]) * a;
            p.0[k] = v.round() as u8;
        }
    }

    /// Text with its baseline at (x, y) mm, `size` mm high; returns the
    /// advance in mm.
    fn text(&mut self, font: &CjkFont, s: &str, x: f32, y: f32, size: f32, colour: Rgb<u8>) -> f32 {
        let face: FontRef = font.font_ref().unwrap();
        let scale = PxScale::from(self.mm(size));
        let scaled = face.as_scaled(scale);
        let mut pen = self.mm(x);
        let base = self.mm(y);
        for c in s.chars() {
            let id = face.glyph_id(c);
            let glyph = id.with_scale_and_position(scale, point(pen, base));
            if let Some(og) = face.outline_glyph(glyph) {
                let bb = og.px_bounds();
                let mut cov = Vec::new();
                og.draw(|gx, gy, v| cov.push((gx, gy, v)));
                for (gx, gy, v) in cov {
                    self.blend(
                        bb.min.x as i64 + i64::from(gx),
                        bb.min.y as i64 + i64::from(gy),
                        colour,
                        v,
                    );
                }
            }
            pen += scaled.h_advance(id);
        }
        pen / self.dpi as f32 * 25.4 - x
    }

    fn hline(&mut self, x0: f32, x1: f32, y: f32, width: f32, colour: Rgb<u8>) {
        let (x0, x1) = (self.mm(x0) as i64, self.mm(x1) as i64);
        let (y0, y1) = (
            self.mm(y) as i64,
            (self.mm(y + width) as i64).max(self.mm(y) as i64 + 1),
        );
        for y in y0..y1 {
            for x in x0..x1 {
                self.blend(x, y, colour, 1.0);
            }
        }
    }

    fn vline(&mut self, x: f32, y0: f32, y1: f32, width: f32, colour: Rgb<u8>) {
        let (y0, y1) = (self.mm(y0) as i64, self.mm(y1) as i64);
        let (x0, x1) = (
            self.mm(x) as i64,
            (self.mm(x + width) as i64).max(self.mm(x) as i64 + 1),
        );
        for y in y0..y1 {
            for x in x0..x1 {
                self.blend(x, y, colour, 1.0);
            }
        }
    }
}

/// Renders the upright, clean page at `dpi`.
pub fn render_page(spec: &PageSpec, fonts: &Fonts, dpi: u32) -> RgbImage {
    let (w, h) = a4(dpi);
    let mut c = Canvas {
        img: RgbImage::from_pixel(w, h, PAPER),
        dpi,
    };
    if !spec.blank {
        draw_form(&mut c, spec, fonts);
    }
    if let Some(payload) = &spec.qr {
        draw_qr(&mut c, payload, 165.0, 12.0);
    }
    if spec.stamp {
        draw_seal(&mut c, fonts, spec, 150.0, 252.0);
    }
    c.img
}

fn draw_form(c: &mut Canvas, spec: &PageSpec, fonts: &Fonts) {
    let r = &fonts.regular;
    c.text(&fonts.bold, "户口变更登记表", 66.0, 30.0, 9.0, INK);
    c.text(r, "受理单位：方祥派出所", 20.0, 42.0, 4.0, INK);
    c.text(r, "填表日期：2026年3月12日", 120.0, 42.0, 4.0, INK);
    let rows: [(&str, String); 14] = [
        ("申报人姓名", spec.applicant.to_string()),
        ("与变动人关系", "本人".into()),
        ("联系电话", "138 0000 0000".into()),
        ("变动人姓名", spec.applicant.to_string()),
        ("性别", "男".into()),
        ("民族", "苗族".into()),
        ("出生日期", "1990年1月1日".into()),
        ("住址", "方祥乡云岭村二组18号".into()),
        ("户主姓名", "王大山".into()),
        ("与户主关系", "子".into()),
        ("业务类别", "变更更正".into()),
        ("变更更正项目", "姓名".into()),
        ("变更前内容", format!("{}（曾用名）", spec.applicant)),
        ("变更后内容", spec.applicant.to_string()),
    ];
    let (top, row_h, x0, x1, split) = (48.0, 10.0, 18.0, 192.0, 62.0);
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = top + i as f32 * row_h;
        c.hline(x0, x1, y, 0.35, INK);
        c.text(r, label, x0 + 3.0, y + 7.0, 4.2, INK);
        c.text(r, value, split + 4.0, y + 7.2, 4.8, BLUE_INK);
    }
    let bottom = top + rows.len() as f32 * row_h;
    c.hline(x0, x1, bottom, 0.35, INK);
    c.vline(x0, top, bottom, 0.35, INK);
    c.vline(split, top, bottom, 0.35, INK);
    c.vline(x1, top, bottom + 0.35, 0.35, INK);

    let reason = [
        "变更原因：申报人因出生登记时姓名录入有误，现持出生医学证明",
        "及村民委员会证明，申请将户口登记项目中的姓名予以更正。",
        "所附材料：出生医学证明复印件一份、居民户口簿原件一份。",
        "申报人承诺以上内容真实，如有虚假愿承担相应责任。",
    ];
    for (i, line) in reason.iter().enumerate() {
        c.text(r, line, 20.0, bottom + 12.0 + i as f32 * 8.0, 4.2, INK);
    }
    c.text(r, "申报人签名：", 20.0, bottom + 50.0, 4.2, INK);
    c.text(r, spec.applicant, 46.0, bottom + 50.0, 6.0, BLUE_INK);
    c.hline(18.0, 192.0, 241.0, 0.35, INK);
    c.text(r, "村（居）委会意见及盖章：", 20.0, 249.0, 4.2, INK);
    c.text(r, "情况属实，同意变更。", 30.0, 258.0, 5.0, BLUE_INK);
    c.text(r, "2026年3月10日", 120.0, 272.0, 4.2, INK);
    if spec.red_distractor {
        c.text(r, "加急", 22.0, 22.0, 8.0, RED_PEN);
        c.hline(60.0, 150.0, 33.5, 0.6, RED_PEN);
        c.text(r, "材料已核", 140.0, 282.0, 5.0, RED_PEN);
    }
}

fn draw_qr(c: &mut Canvas, payload: &str, x_mm: f32, y_mm: f32) {
    let code = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)
        .unwrap();
    let n = code.width() as i64;
    let colours = code.to_colors();
    let module = c.mm(0.7).round().max(3.0) as i64;
    let (ox, oy) = (c.mm(x_mm) as i64, c.mm(y_mm) as i64);
    let quiet = 4 * module;
    for y in -quiet..n * module + quiet {
        for x in -quiet..n * module + quiet {
            let (mx, my) = (x.div_euclid(module), y.div_euclid(module));
            let dark = (0..n).contains(&mx)
                && (0..n).contains(&my)
                && colours[(my * n + mx) as usize] == qrcode::Color::Dark;
            let colour = if dark { INK } else { Rgb([252, 252, 250]) };
            c.blend(ox + x, oy + y, colour, 1.0);
        }
    }
}

/// A 42-mm village committee seal centred at (x, y) mm, turned a little,
/// multiplied onto the page like ink.
fn draw_seal(c: &mut Canvas, fonts: &Fonts, spec: &PageSpec, x_mm: f32, y_mm: f32) {
    let size = c.mm(42.0).round() as u32;
    let seal = jingwu_slip::seal::render_unit_seal(
        "雷山县方祥乡云岭村民委员会",
        None,
        &fonts.bold,
        size.clamp(128, 1024),
    )
    .unwrap();
    let turn = 7.0 + spec.skew * 3.0;
    let seal = rotate_rgba(&seal, turn);
    let (opacity, tint) = if spec.faded_stamp {
        (0.55, [226.0, 60.0, 70.0])
    } else {
        (0.9, [216.0, 30.0, 36.0])
    };
    let half = seal.width() as i64 / 2;
    let (cx, cy) = (c.mm(x_mm) as i64, c.mm(y_mm) as i64);
    for (sx, sy, p) in seal.enumerate_pixels() {
        let a = f32::from(p.0[3]) / 255.0 * opacity;
        if a <= 0.0 {
            continue;
        }
        let (x, y) = (cx - half + i64::from(sx), cy - half + i64::from(sy));
        if x < 0 || y < 0 || x >= i64::from(c.img.width()) || y >= i64::from(c.img.height()) {
            continue;
        }
        let q = c.img.get_pixel_mut(x as u32, y as u32);
        for (v, t) in q.0.iter_mut().zip(tint) {
            let under = f32::from(*v);
            let multiplied = under * t / 255.0;
            *v = (under * (1.0 - a) + multiplied * a).round() as u8;
        }
    }
}

fn rotate_rgba(img: &RgbaImage, degrees: f32) -> RgbaImage {
    let (w, h) = img.dimensions();
    let (s, co) = degrees.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    RgbaImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
        let sx = co * dx - s * dy + cx;
        let sy = s * dx + co * dy + cy;
        if sx >= 0.0 && sy >= 0.0 && (sx as u32) < w && (sy as u32) < h {
            *img.get_pixel(sx as u32, sy as u32)
        } else {
            image::Rgba([0, 0, 0, 0])
        }
    })
}

// ---------------------------------------------------------------------------
// "Scanning"
// ---------------------------------------------------------------------------

/// xorshift64*: deterministic noise without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next_u32(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }
    pub fn unit(&mut self) -> f32 {
        self.next_u32() as f32 / u32::MAX as f32
    }
    /// Approximately normal, mean 0, sd 1.
    pub fn normal(&mut self) -> f32 {
        (self.unit() + self.unit() + self.unit() + self.unit() - 2.0) * 1.732
    }
}

/// Simulates the scanner: the paper turned `skew` degrees
/// counter-clockwise about its centre (bilinear), laid on a dark
/// background with margins when `border`, on white otherwise; noise and
/// dust specks added.
pub fn scan(page: &RgbImage, spec: &PageSpec, dpi: u32, seed: u64) -> RgbImage {
    let (pw, ph) = page.dimensions();
    let margin = |mm: f32| (mm / 25.4 * dpi as f32).round() as u32;
    let (mx, my) = if spec.border {
        (margin(7.0), margin(9.0))
    } else {
        (0, 0)
    };
    let (w, h) = (pw + 2 * mx, ph + 2 * my);
    let bg = if spec.border { SCANNER_BLACK } else { PAPER }
        .0
        .map(f32::from);
    let (s, co) = spec.skew.to_radians().sin_cos();
    let (ccx, ccy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (pcx, pcy) = (pw as f32 / 2.0, ph as f32 / 2.0);
    let (pwi, phi) = (pw as i64, ph as i64);
    let src = page.as_raw();
    let stride = pw as usize * 3;
    let mut rng = Rng::new(seed);
    let mut out = vec![0u8; w as usize * h as usize * 3];
    for (y, row) in out.chunks_exact_mut(w as usize * 3).enumerate() {
        let dy = y as f32 + 0.5 - ccy;
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            let dx = x as f32 + 0.5 - ccx;
            // Inverse of a counter-clockwise turn on screen (y down).
            let sx = co * dx - s * dy + pcx - 0.5;
            let sy = s * dx + co * dy + pcy - 0.5;
            let (x0, y0) = (sx.floor() as i64, sy.floor() as i64);
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            let mut v = [0f32; 3];
            if x0 >= 0 && y0 >= 0 && x0 + 1 < pwi && y0 + 1 < phi {
                let i = y0 as usize * stride + x0 as usize * 3;
                let j = i + stride;
                for k in 0..3 {
                    let top = f32::from(src[i + k]) * (1.0 - fx) + f32::from(src[i + 3 + k]) * fx;
                    let bot = f32::from(src[j + k]) * (1.0 - fx) + f32::from(src[j + 3 + k]) * fx;
                    v[k] = top * (1.0 - fy) + bot * fy;
                }
            } else {
                v = bg;
            }
            let n = rng.normal() * spec.noise;
            let speck = rng.next_u32().is_multiple_of(20_000);
            for k in 0..3 {
                px[k] = if speck {
                    40
                } else {
                    (v[k] + n).clamp(0.0, 255.0) as u8
                };
            }
        }
    }
    RgbImage::from_raw(w, h, out).unwrap()
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

pub fn jpeg_bytes(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
    out
}

fn png_bytes(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// Inserts an EXIF APP1 segment with the given orientation after SOI.
pub fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0\x08\0\0\0");
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn tiff_bytes(pages: &[RgbImage]) -> Vec<u8> {
    use tiff::encoder::{colortype, Compression, DeflateLevel, TiffEncoder};
    let mut out = Cursor::new(Vec::new());
    {
        let mut enc = TiffEncoder::new(&mut out)
            .unwrap()
            .with_compression(Compression::Deflate(DeflateLevel::Fast));
        for p in pages {
            enc.write_image::<colortype::RGB8>(p.width(), p.height(), p.as_raw())
                .unwrap();
        }
    }
    out.into_inner()
}

/// An image-per-page PDF like office scanners write: odd pages DCT
/// (JPEG), even pages Flate-compressed raw RGB.
pub fn pdf_bytes(pages: &[RgbImage], dpi: u32) -> Vec<u8> {
    use lopdf::{dictionary, Stream};
    let streams = pages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (w, h) = p.dimensions();
            let mut dict = dictionary! {
                "Type" => "XObject",
                "Subtype" => "Image",
                "Width" => i64::from(w),
                "Height" => i64::from(h),
                "ColorSpace" => "DeviceRGB",
                "BitsPerComponent" => 8,
            };
            let stream = if i % 2 == 0 {
                dict.set("Filter", "DCTDecode");
                Stream::new(dict, jpeg_bytes(p, 88)).with_compression(false)
            } else {
                dict.set("Filter", "FlateDecode");
                Stream::new(dict, zlib(p.as_raw())).with_compression(false)
            };
            let size = (w as f32 / dpi as f32 * 72.0, h as f32 / dpi as f32 * 72.0);
            (stream, size)
        })
        .collect();
    pdf_from_images(streams)
}

pub fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// A PDF with one page per image XObject, each page the image's size in
/// points.
pub fn pdf_from_images(images: Vec<(lopdf::Stream, (f32, f32))>) -> Vec<u8> {
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut kids: Vec<Object> = Vec::new();
    let count = images.len() as i64;
    for (stream, (pw, ph)) in images {
        let image_id = doc.add_object(stream);
        let content = format!("q {pw:.2} 0 0 {ph:.2} 0 0 cm /Im0 Do Q");
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.into_bytes()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), pw.into(), ph.into()],
            "Contents" => content_id,
            "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image_id } },
        });
        kids.push(page_id.into());
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// Renders, scans and writes every file of `specs` into `dir` at `dpi`
/// (two files at a time), plus `manifest.json`; returns the truth per
/// page.
pub fn write_corpus(dir: &Path, specs: &[FileSpec], dpi: u32) -> Vec<Truth> {
    std::fs::create_dir_all(dir).unwrap();
    let fonts = Fonts::locate();
    let mut ink: Vec<(usize, Vec<f32>)> = std::thread::scope(|scope| {
        let lanes: Vec<_> = (0..2)
            .map(|lane| {
                let fonts = &fonts;
                scope.spawn(move || {
                    specs
                        .iter()
                        .enumerate()
                        .skip(lane)
                        .step_by(2)
                        .map(|(fi, file)| (fi, write_file(dir, file, fi, fonts, dpi)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        lanes.into_iter().flat_map(|l| l.join().unwrap()).collect()
    });
    ink.sort_by_key(|(fi, _)| *fi);
    let mut truth = Vec::new();
    for (file, (_, ink)) in specs.iter().zip(ink) {
        for (pi, p) in file.pages.iter().enumerate() {
            truth.push(Truth {
                file: file.name.clone(),
                kind: file.kind,
                page: pi as u32 + 1,
                dpi,
                skew_degrees: if p.blank { 0.0 } else { p.skew },
                text: !p.blank,
                stamp: p.stamp,
                qr: p.qr.clone(),
                border: p.border,
                noise: p.noise,
                red_distractor: p.red_distractor,
                ink: ink[pi],
            });
        }
    }
    let manifest = serde_json::to_string_pretty(&truth).unwrap();
    std::fs::write(dir.join("manifest.json"), manifest).unwrap();
    truth
}

/// Fraction of pixels with luminance under 128.
pub fn ink_fraction(img: &RgbImage) -> f32 {
    let dark = img
        .as_raw()
        .chunks_exact(3)
        .filter(|p| 77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]) < 128 * 256)
        .count();
    dark as f32 / (img.width() as f32 * img.height() as f32)
}

/// Writes one file; returns the ink fraction of each clean page.
fn write_file(dir: &Path, file: &FileSpec, fi: usize, fonts: &Fonts, dpi: u32) -> Vec<f32> {
    let mut ink = Vec::new();
    let scans: Vec<RgbImage> = file
        .pages
        .iter()
        .enumerate()
        .map(|(pi, p)| {
            let page = render_page(p, fonts, dpi);
            ink.push(ink_fraction(&page));
            scan(&page, p, dpi, 1 + fi as u64 * 100 + pi as u64)
        })
        .collect();
    let bytes = match file.kind {
        FileKind::Jpeg => jpeg_bytes(&scans[0], 90),
        FileKind::JpegExifRotated => {
            let stored = image::imageops::rotate270(&scans[0]);
            with_exif_orientation(&jpeg_bytes(&stored, 90), 6)
        }
        FileKind::Png => png_bytes(&scans[0]),
        FileKind::Tiff => tiff_bytes(&scans),
        FileKind::Pdf => pdf_bytes(&scans, dpi),
    };
    std::fs::write(dir.join(&file.name), bytes).unwrap();
    ink
}
