//! Electronic seals (电子印章) and signatures-with-seal (电子签章): a
//! simplified, documented form of GB/T 38540-2020 《信息安全技术 安全电子签章密码技术规范》.
//!
//! # Electronic seal — [`Seal`]
//!
//! GB/T 38540 defines the seal (`SES_Seal`) as seal information (header,
//! seal identifier, property, picture), the seal maker's certificate, the
//! signature algorithm and the maker's signature over all of that. Here:
//!
//! | GB/T 38540                                   | Jingwu                                         |
//! |----------------------------------------------|------------------------------------------------|
//! | header (ID, version, vendor)                 | [`SealInfo::format`] = `"jingwu-seal/1"`       |
//! | esID (印章标识)                              | [`SealInfo::id`]                               |
//! | property: type (单位/个人)                   | [`SealInfo::kind`] ([`SealKind`])              |
//! | property: name (印章名称)                    | [`SealInfo::name`]                             |
//! | property: certList (签章人证书列表)          | [`SealInfo::holder`] + [`SealInfo::holder_key`] (one SM2 public key) |
//! | property: createDate / validStart / validEnd | [`SealInfo::valid_from`] / [`SealInfo::valid_to`] (RFC 3339) |
//! | picture (type, data, width, height)          | [`Seal::image_png`] (PNG only; size is in the PNG), bound into the signed info by [`SealInfo::image_png_sm3`] |
//! | cert (制章人证书)                            | [`SealInfo::maker`] + [`SealInfo::maker_key`] (SM3 fingerprint of the maker's SM2 key) |
//! | signAlgID                                    | fixed: SM2 with SM3, default ID `1234567812345678` |
//! | signedValue (制章人签名)                     | [`Seal::maker_signature`]: DER SM2 signature over the RFC 8785 canonical JSON of [`SealInfo`], base64 |
//!
//! # Signature with seal — [`SignedStamp`]
//!
//! GB/T 38540's `SES_Signature` is the to-be-signed `TBS_Sign` (version,
//! the whole seal, time, hash of the signed data, property) plus the signer's
//! certificate and the signature. Here [`SealStamp`] is `TBS_Sign`:
//!
//! - the seal is referenced by [`SealStamp::seal_id`] and
//!   [`SealStamp::seal_sm3`] (SM3 of the canonical JSON of the whole
//!   [`Seal`], picture and maker signature included) instead of being
//!   embedded — binding is the same, the slip carries the seal once;
//! - `timeInfo` → [`SealStamp::time`] (RFC 3339, the signer's clock);
//! - `dataHash` → [`SealStamp::data_hash`] (hex SM3; in Jingwu the hash of
//!   the decision event);
//! - `propertyInfo` → [`SealStamp::property`] (e.g. `"户口变更审批"`);
//! - the signer's certificate is the seal's [`SealInfo::holder_key`]; the
//!   signature ([`SignedStamp::signature`]) is a DER SM2 signature over the
//!   canonical JSON of the stamp, base64.
//!
//! # What is simplified
//!
//! - No ASN.1/DER structures and no X.509 certificates: SM2 public keys (and
//!   their SM3 fingerprints) stand in for certificates, and trust in them
//!   comes from the platform's key registry instead of a CA chain, CRL or
//!   OCSP. Encodings are JSON canonicalised with RFC 8785
//!   ([`jingwu_core::event::canonical_bytes`]) instead of DER.
//! - One holder key per seal instead of a certificate list.
//! - The seal picture is PNG only (GB/T 38540 also allows GIF, JPEG, OFD).
//! - No RFC 3161 time-stamp token and no extension data (`extDatas`).
//!
//! Verification follows the standard's order where it applies: the maker's
//! signature over the seal, the picture's integrity, the seal's validity
//! at the signing time, the signer being the seal's holder, the signature
//! over the stamp. [`SignedStamp::verify_with_maker`] does all of it.
//!
//! # Pictures
//!
//! [`render_unit_seal`] draws a round official seal (公章/专用章): red ring,
//! five-pointed star, the unit's name upright along the upper arc reading
//! clockwise, optional horizontal text under the star.
//! [`render_personal_seal`] draws a square name seal (名章) with the name in
//! columns read right to left, top to bottom, as traditional seals are.
//! Both are seal red on a transparent background, antialiased: glyph
//! outlines and the star come from `ab_glyph` (outline → coverage → alpha);
//! the ring and square border are computed analytically per pixel.

use ab_glyph::{
    point, Font, FontRef, Glyph, GlyphId, Outline, OutlineCurve, OutlinedGlyph, Point, PxScale,
    PxScaleFactor, Rect,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use image::RgbaImage;
use jingwu_core::crypto::{sm3_hex, CryptoError, PublicKey, Signer};
use jingwu_core::event::canonical_bytes;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::font::{CjkFont, FontError};

/// Value of [`SealInfo::format`].
pub const SEAL_FORMAT: &str = "jingwu-seal/1";

/// Seal red (朱红), RGB.
pub const SEAL_RED: [u8; 3] = [216, 30, 36];

/// Smallest and largest picture size, in pixels.
pub const MIN_SIZE_PX: u32 = 128;
/// See [`MIN_SIZE_PX`].
pub const MAX_SIZE_PX: u32 = 1024;

/// Longest unit name on a round seal, in characters.
pub const MAX_UNIT_NAME_CHARS: usize = 24;
/// Longest horizontal text under the star, in characters.
pub const MAX_BOTTOM_CHARS: usize = 10;
/// Longest name on a personal seal, in characters.
pub const MAX_PERSONAL_NAME_CHARS: usize = 4;

/// Errors of seal drawing, making and verification. Messages are shown to
/// users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("{what}不能为空")]
    Empty { what: &'static str },
    #[error("{what}过长：{got} 个字，最多 {max} 个字")]
    TooLong {
        what: &'static str,
        got: usize,
        max: usize,
    },
    #[error("{what}含有控制字符（U+{code:04X}）")]
    ControlChar { what: &'static str, code: u32 },
    #[error("{what}不能含有空格等空白字符")]
    Whitespace { what: &'static str },
    #[error("字体中没有“{ch}”（U+{code:04X}）的字形，无法刻入印章", code = u32::from(*.ch))]
    MissingGlyph { ch: char },
    #[error("印章图像尺寸 {0} 像素超出范围（128–1024 像素）")]
    SizeOutOfRange(u32),
    #[error(transparent)]
    Font(#[from] FontError),
    #[error("印章图片处理失败：{0}")]
    Image(String),
    #[error("签名失败：{0}")]
    Crypto(#[from] CryptoError),
    #[error("规范化编码失败：{0}")]
    Canonical(String),
    #[error("不支持的印章格式“{0}”")]
    BadFormat(String),
    #[error("时间格式错误（应为 RFC 3339）：{0}")]
    BadTime(String),
    #[error("印章有效期起始时间晚于截止时间")]
    BadValidity,
    #[error("Base64 编码错误：{0}")]
    Base64(String),
    #[error("制章人密钥与印章中记录的制章人密钥指纹不符")]
    MakerKeyMismatch,
    #[error("制章人签名无效：印章信息可能被改动")]
    MakerSignatureInvalid,
    #[error("印章图片与印章信息中的 SM3 摘要不符，图片可能被替换")]
    ImageTampered,
    #[error("印章在 {at} 尚未生效（生效时间 {from}）")]
    NotYetValid { at: String, from: String },
    #[error("印章在 {at} 已过有效期（有效期至 {to}）")]
    Expired { at: String, to: String },
    #[error("签章人的密钥不是该印章绑定的密钥")]
    HolderKeyMismatch,
    #[error("签章引用的印章与所给印章不符")]
    SealMismatch,
    #[error("被签数据摘要应为 64 位小写十六进制 SM3 值")]
    BadDataHash,
    #[error("签章签名无效：签章内容可能被改动")]
    StampSignatureInvalid,
    #[error("印章图片过大：{got} 字节，最大 {max} 字节")]
    PictureTooLarge { got: usize, max: usize },
    #[error("印章图片须为 PNG 或 JPEG 图片（按文件内容判断）")]
    PictureNotImage,
    #[error("印章图片尺寸 {w}×{h} 像素不合要求：每边须在 128–1024 像素之间")]
    PictureDimensions { w: u32, h: u32 },
    #[error("印章图片长宽比 {w}×{h} 不合要求：印章应近似方形或圆形（长边不超过短边的 1.5 倍）")]
    PictureAspect { w: u32, h: u32 },
    #[error("印章图片中几乎没有红色印泥（红色部分仅占 {permille}‰，至少应占 {min}‰），请上传清晰的红色印模")]
    PictureNoRedInk { permille: u32, min: u32 },
}

// ---------------------------------------------------------------------------
// Pictures
// ---------------------------------------------------------------------------

/// Geometry of a round unit seal picture, in pixels (origin top left).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitSealLayout {
    /// Picture width and height.
    pub size: u32,
    /// Centre (x and y).
    pub centre: f32,
    /// Outer radius of the ring; nothing is drawn beyond it.
    pub ring_outer: f32,
    /// Inner radius of the ring.
    pub ring_inner: f32,
    /// Circumradius of the star.
    pub star_outer: f32,
    /// Radius of the star's inner vertices.
    pub star_inner: f32,
    /// Radius of the tops of the arc characters.
    pub text_outer: f32,
    /// Radius of the feet of the arc characters.
    pub text_inner: f32,
    /// Largest angle the arc text spans, in degrees.
    pub max_span_deg: f32,
    /// Largest angular step between arc characters, in degrees.
    pub max_step_deg: f32,
    /// Centre line (y) of the horizontal text under the star.
    pub bottom_y: f32,
    /// Height of the horizontal text under the star.
    pub bottom_height: f32,
}

impl UnitSealLayout {
    /// The layout for a `size_px` square picture.
    pub fn for_size(size_px: u32) -> Self {
        let size = size_px as f32;
        let centre = size / 2.0;
        let r = centre - (size * 0.01).max(1.5);
        let ring_inner = r * 0.94;
        let text_outer = ring_inner - r * 0.05;
        let text_inner = text_outer - r * 0.25;
        let star_outer = r * 0.32;
        UnitSealLayout {
            size: size_px,
            centre,
            ring_outer: r,
            ring_inner,
            star_outer,
            star_inner: star_outer * 0.381_966,
            text_outer,
            text_inner,
            max_span_deg: 240.0,
            max_step_deg: 36.0,
            bottom_y: centre + r * 0.55,
            bottom_height: r * 0.19,
        }
    }
}

/// Geometry of a square personal seal picture, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PersonalSealLayout {
    /// Picture width and height.
    pub size: u32,
    /// Distance from the picture's edge to the border's outer edge.
    pub border_inset: f32,
    /// Border thickness.
    pub border_width: f32,
    /// Distance from the picture's edge to the text area.
    pub text_inset: f32,
    /// Gap between the two text columns (and the two rows).
    pub gap: f32,
}

impl PersonalSealLayout {
    /// The layout for a `size_px` square picture.
    pub fn for_size(size_px: u32) -> Self {
        let s = size_px as f32;
        let border_inset = (s * 0.03).max(2.0);
        let border_width = s * 0.075;
        PersonalSealLayout {
            size: size_px,
            border_inset,
            border_width,
            text_inset: border_inset + border_width + s * 0.045,
            gap: s * 0.04,
        }
    }
}

/// Draws a round unit seal: red ring, star, `name` along the upper arc and
/// optionally `bottom` (e.g. "专用章") horizontally under the star.
pub fn render_unit_seal(
    name: &str,
    bottom: Option<&str>,
    font: &CjkFont,
    size_px: u32,
) -> Result<RgbaImage, SealError> {
    check_size(size_px)?;
    let face = font.font_ref()?;
    let name: Vec<char> = check_text("印章名称", name, MAX_UNIT_NAME_CHARS, &face)?;
    let bottom: Option<Vec<char>> = match bottom {
        Some(b) => Some(check_text("印章横排文字", b, MAX_BOTTOM_CHARS, &face)?),
        None => None,
    };
    let reference = RefBox::of(&face);
    let l = UnitSealLayout::for_size(size_px);
    let mut canvas = Canvas::new(size_px);

    // Ring.
    canvas.fill_annulus(l.centre, l.centre, l.ring_inner, l.ring_outer);

    // Star, one point up.
    let star: Vec<Point> = (0..10)
        .map(|k| {
            let a = (-90.0 + 36.0 * k as f32).to_radians();
            let rad = if k % 2 == 0 {
                l.star_outer
            } else {
                l.star_inner
            };
            point(l.centre + rad * a.cos(), l.centre + rad * a.sin())
        })
        .collect();
    canvas.fill_path(&polygon(&star));

    // Name along the upper arc, clockwise, glyph tops outwards.
    let n = name.len() as f32;
    let h = l.text_outer - l.text_inner;
    let r_mid = (l.text_outer + l.text_inner) / 2.0;
    let step = (l.max_span_deg / n).min(l.max_step_deg).to_radians();
    let w = (h * 0.92).min(r_mid * step * 0.88);
    for (i, ch) in name.iter().enumerate() {
        let phi = (i as f32 - (n - 1.0) / 2.0) * step;
        let b = GlyphBox {
            x: l.centre + r_mid * phi.sin(),
            y: l.centre - r_mid * phi.cos(),
            w,
            h,
            angle: phi,
        };
        canvas.fill_path(&glyph_curves(&face, &reference, *ch, &b)?);
    }

    // Horizontal text under the star, fitted inside the ring.
    if let Some(bottom) = bottom {
        let n = bottom.len() as f32;
        let h = l.bottom_height;
        let lowest = l.bottom_y + h / 2.0 - l.centre;
        let half_chord = (l.ring_inner * l.ring_inner - lowest * lowest)
            .max(0.0)
            .sqrt();
        let avail = 2.0 * (half_chord - l.ring_outer * 0.12);
        let pitch = (h * 1.05).min(avail / n);
        let w = (h * 0.92).min(pitch * 0.9);
        for (i, ch) in bottom.iter().enumerate() {
            let b = GlyphBox {
                x: l.centre + (i as f32 - (n - 1.0) / 2.0) * pitch,
                y: l.bottom_y,
                w,
                h,
                angle: 0.0,
            };
            canvas.fill_path(&glyph_curves(&face, &reference, *ch, &b)?);
        }
    }
    Ok(canvas.into_image())
}

/// Draws a square personal seal (名章): a square border and the name in
/// columns read right to left, each top to bottom. One character fills
/// the square; two stand side by side, each a full column; three put the
/// first (the surname) alone in the right column and the other two in the
/// left column; four make a 2×2 grid.
pub fn render_personal_seal(
    name: &str,
    font: &CjkFont,
    size_px: u32,
) -> Result<RgbaImage, SealError> {
    check_size(size_px)?;
    let face = font.font_ref()?;
    let name: Vec<char> = check_text("姓名", name, MAX_PERSONAL_NAME_CHARS, &face)?;
    let reference = RefBox::of(&face);
    let l = PersonalSealLayout::for_size(size_px);
    let s = size_px as f32;
    let mut canvas = Canvas::new(size_px);

    let o = l.border_inset;
    let i = o + l.border_width;
    canvas.fill_frame(o, s - o, i, s - i);

    let (x0, x1) = (l.text_inset, s - l.text_inset);
    let full = x1 - x0;
    let half = (full - l.gap) / 2.0;
    // Column centres: right column first.
    let right = x1 - half / 2.0;
    let left = x0 + half / 2.0;
    let mid = (x0 + x1) / 2.0;
    let top = x0 + half / 2.0;
    let low = x1 - half / 2.0;
    let cells: Vec<(f32, f32, f32, f32)> = match name.len() {
        1 => vec![(mid, mid, full, full)],
        2 => vec![(right, mid, half, full), (left, mid, half, full)],
        3 => vec![
            (right, mid, half, full),
            (left, top, half, half),
            (left, low, half, half),
        ],
        _ => vec![
            (right, top, half, half),
            (right, low, half, half),
            (left, top, half, half),
            (left, low, half, half),
        ],
    };
    for (ch, (x, y, w, h)) in name.iter().zip(cells) {
        let b = GlyphBox {
            x,
            y,
            w,
            h,
            angle: 0.0,
        };
        canvas.fill_path(&glyph_curves(&face, &reference, *ch, &b)?);
    }
    Ok(canvas.into_image())
}

/// Encodes a seal picture as PNG (deterministic for a given picture).
pub fn png_bytes(img: &RgbaImage) -> Result<Vec<u8>, SealError> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| SealError::Image(e.to_string()))?;
    Ok(out.into_inner())
}

fn check_size(size_px: u32) -> Result<(), SealError> {
    if (MIN_SIZE_PX..=MAX_SIZE_PX).contains(&size_px) {
        Ok(())
    } else {
        Err(SealError::SizeOutOfRange(size_px))
    }
}

/// Text rules shared by the seal pictures and [`SealInfo::name`].
fn check_chars(what: &'static str, text: &str, max: usize) -> Result<Vec<char>, SealError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Err(SealError::Empty { what });
    }
    if chars.len() > max {
        return Err(SealError::TooLong {
            what,
            got: chars.len(),
            max,
        });
    }
    if let Some(c) = chars.iter().find(|c| c.is_control()) {
        return Err(SealError::ControlChar {
            what,
            code: *c as u32,
        });
    }
    if chars.iter().any(|c| c.is_whitespace()) {
        return Err(SealError::Whitespace { what });
    }
    Ok(chars)
}

fn check_text(
    what: &'static str,
    text: &str,
    max: usize,
    face: &FontRef<'_>,
) -> Result<Vec<char>, SealError> {
    let chars = check_chars(what, text, max)?;
    if let Some(ch) = chars
        .iter()
        .copied()
        .find(|c| face.glyph_id(*c).0 == 0 || face.outline(face.glyph_id(*c)).is_none())
    {
        return Err(SealError::MissingGlyph { ch });
    }
    Ok(chars)
}

/// The ink box of a reference ideograph (国) in font units: characters are
/// scaled so that this box fills the cell, and centred vertically on it.
struct RefBox {
    width: f32,
    height: f32,
    centre_y: f32,
}

impl RefBox {
    fn of(face: &FontRef<'_>) -> Self {
        let id = face.glyph_id('国');
        match face.outline(id) {
            // `Outline::bounds` has min = (x_min, y_max), max = (x_max, y_min).
            Some(o) if o.bounds.max.x > o.bounds.min.x && o.bounds.min.y > o.bounds.max.y => {
                RefBox {
                    width: o.bounds.max.x - o.bounds.min.x,
                    height: o.bounds.min.y - o.bounds.max.y,
                    centre_y: (o.bounds.min.y + o.bounds.max.y) / 2.0,
                }
            }
            _ => {
                let em = face.units_per_em().unwrap_or(1000.0);
                RefBox {
                    width: em * 0.9,
                    height: em * 0.9,
                    centre_y: em * 0.38,
                }
            }
        }
    }
}

/// Where a character goes: centre, ink width and height, and rotation
/// (radians, clockwise; 0 = upright).
struct GlyphBox {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
    angle: f32,
}

/// The outline of `ch`, scaled, rotated and placed in picture coordinates.
fn glyph_curves(
    face: &FontRef<'_>,
    reference: &RefBox,
    ch: char,
    b: &GlyphBox,
) -> Result<Vec<OutlineCurve>, SealError> {
    let id = face.glyph_id(ch);
    let outline = face.outline(id).ok_or(SealError::MissingGlyph { ch })?;
    let cx = face.h_advance_unscaled(id) / 2.0;
    let cy = reference.centre_y;
    let sx = b.w / reference.width;
    let sy = b.h / reference.height;
    let (sin, cos) = b.angle.sin_cos();
    let map = |p: &Point| {
        let lx = (p.x - cx) * sx;
        let ly = -(p.y - cy) * sy;
        point(b.x + lx * cos - ly * sin, b.y + lx * sin + ly * cos)
    };
    Ok(outline
        .curves
        .iter()
        .map(|c| match c {
            OutlineCurve::Line(a, z) => OutlineCurve::Line(map(a), map(z)),
            OutlineCurve::Quad(a, m, z) => OutlineCurve::Quad(map(a), map(m), map(z)),
            OutlineCurve::Cubic(a, m, n, z) => OutlineCurve::Cubic(map(a), map(m), map(n), map(z)),
        })
        .collect())
}

fn polygon(points: &[Point]) -> Vec<OutlineCurve> {
    points
        .iter()
        .zip(points.iter().cycle().skip(1))
        .map(|(a, b)| OutlineCurve::Line(*a, *b))
        .collect()
}

/// Coverage (0..=1) per pixel, turned into seal red with that alpha.
struct Canvas {
    size: u32,
    cov: Vec<f32>,
}

impl Canvas {
    fn new(size: u32) -> Self {
        Canvas {
            size,
            cov: vec![0.0; (size as usize) * (size as usize)],
        }
    }

    /// Unites coverage `c` into pixel (x, y).
    fn add(&mut self, x: i64, y: i64, c: f32) {
        let s = i64::from(self.size);
        if x < 0 || y < 0 || x >= s || y >= s {
            return;
        }
        let c = c.clamp(0.0, 1.0);
        let idx = (y * s + x) as usize;
        if let Some(a) = self.cov.get_mut(idx) {
            *a = *a + c - *a * c;
        }
    }

    /// Fills closed outlines given in picture coordinates (y down) with
    /// ab_glyph's rasteriser (non-zero coverage accumulation).
    fn fill_path(&mut self, curves: &[OutlineCurve]) {
        let mut min = point(f32::INFINITY, f32::INFINITY);
        let mut max = point(f32::NEG_INFINITY, f32::NEG_INFINITY);
        let mut grow = |p: &Point| {
            min = point(min.x.min(p.x), min.y.min(p.y));
            max = point(max.x.max(p.x), max.y.max(p.y));
        };
        for c in curves {
            match c {
                OutlineCurve::Line(a, b) => [a, b].into_iter().for_each(&mut grow),
                OutlineCurve::Quad(a, b, d) => [a, b, d].into_iter().for_each(&mut grow),
                OutlineCurve::Cubic(a, b, d, e) => [a, b, d, e].into_iter().for_each(&mut grow),
            }
        }
        if !(min.x < max.x && min.y < max.y) {
            return;
        }
        // ab_glyph expects font orientation (y up) and flips while
        // drawing; feed it y-negated points with a unit scale.
        let flip = |p: &Point| point(p.x, -p.y);
        let flipped = curves
            .iter()
            .map(|c| match c {
                OutlineCurve::Line(a, b) => OutlineCurve::Line(flip(a), flip(b)),
                OutlineCurve::Quad(a, b, d) => OutlineCurve::Quad(flip(a), flip(b), flip(d)),
                OutlineCurve::Cubic(a, b, d, e) => {
                    OutlineCurve::Cubic(flip(a), flip(b), flip(d), flip(e))
                }
            })
            .collect();
        let outline = Outline {
            bounds: Rect {
                min: point(min.x, -min.y),
                max: point(max.x, -max.y),
            },
            curves: flipped,
        };
        let glyph = Glyph {
            id: GlyphId(0),
            scale: PxScale::from(1.0),
            position: point(0.0, 0.0),
        };
        let drawn = OutlinedGlyph::new(
            glyph,
            outline,
            PxScaleFactor {
                horizontal: 1.0,
                vertical: 1.0,
            },
        );
        let origin = drawn.px_bounds().min;
        let (ox, oy) = (origin.x as i64, origin.y as i64);
        drawn.draw(|x, y, c| self.add(ox + i64::from(x), oy + i64::from(y), c));
    }

    /// Fills the ring between radii `r0` < `r1` around (cx, cy), with an
    /// analytic one-pixel antialiasing ramp on both edges.
    fn fill_annulus(&mut self, cx: f32, cy: f32, r0: f32, r1: f32) {
        let s = self.size;
        for y in 0..s {
            for x in 0..s {
                let dx = x as f32 + 0.5 - cx;
                let dy = y as f32 + 0.5 - cy;
                let d = (dx * dx + dy * dy).sqrt();
                let c = (r1 - d + 0.5).clamp(0.0, 1.0) * (d - r0 + 0.5).clamp(0.0, 1.0);
                if c > 0.0 {
                    self.add(i64::from(x), i64::from(y), c);
                }
            }
        }
    }

    /// Fills the square frame between the squares [o0, o1]² (outer) and
    /// [i0, i1]² (inner), with exact pixel-area coverage.
    fn fill_frame(&mut self, o0: f32, o1: f32, i0: f32, i1: f32) {
        let overlap = |p: f32, a: f32, b: f32| ((p + 1.0).min(b) - p.max(a)).max(0.0);
        let s = self.size;
        for y in 0..s {
            for x in 0..s {
                let (px, py) = (x as f32, y as f32);
                let outer = overlap(px, o0, o1) * overlap(py, o0, o1);
                let inner = overlap(px, i0, i1) * overlap(py, i0, i1);
                let c = outer - inner;
                if c > 0.0 {
                    self.add(i64::from(x), i64::from(y), c);
                }
            }
        }
    }

    fn into_image(self) -> RgbaImage {
        let [r, g, b] = SEAL_RED;
        let s = self.size;
        RgbaImage::from_fn(s, s, |x, y| {
            let idx = (y as usize) * (s as usize) + (x as usize);
            let c = self.cov.get(idx).copied().unwrap_or(0.0);
            image::Rgba([r, g, b, (c * 255.0).round() as u8])
        })
    }
}

// ---------------------------------------------------------------------------
// Uploaded pictures
// ---------------------------------------------------------------------------

/// Largest uploaded seal picture file.
pub const MAX_UPLOAD_BYTES: usize = 2 * 1024 * 1024;
/// Least share of red-ink pixels in an uploaded picture, in per mille.
pub const MIN_RED_PERMILLE: u32 = 20;

/// Whether an RGBA pixel is seal ink: clearly red and mostly opaque.
fn is_red_ink(p: &image::Rgba<u8>) -> bool {
    let [r, g, b, a] = p.0;
    a >= 128 && r >= 120 && i32::from(r) - i32::from(g.max(b)) >= 60
}

/// Share of red-ink pixels in `img`, in per mille.
pub fn red_ink_permille(img: &RgbaImage) -> u32 {
    let total = u64::from(img.width()) * u64::from(img.height());
    if total == 0 {
        return 0;
    }
    let red = img.pixels().filter(|p| is_red_ink(p)).count() as u64;
    (red * 1000 / total) as u32
}

/// Checks an uploaded seal picture and returns it as a clean PNG.
///
/// The file must be PNG or JPEG by content (not by name), at most
/// [`MAX_UPLOAD_BYTES`], each side within 128–1024 pixels and the long
/// side at most 1.5 times the short one (dimensions are read from the
/// header before anything is decoded), and at least [`MIN_RED_PERMILLE`]
/// of it red ink. Paper-white background (a scanned JPEG has no alpha) is
/// made transparent so the seal prints over text as a stamp does. The
/// result is re-encoded: metadata does not survive.
pub fn check_uploaded_picture(bytes: &[u8]) -> Result<Vec<u8>, SealError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(SealError::PictureTooLarge {
            got: bytes.len(),
            max: MAX_UPLOAD_BYTES,
        });
    }
    let format = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        image::ImageFormat::Png
    } else if bytes.starts_with(b"\xFF\xD8\xFF") {
        image::ImageFormat::Jpeg
    } else {
        return Err(SealError::PictureNotImage);
    };
    let reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let (w, h) = reader
        .into_dimensions()
        .map_err(|_| SealError::PictureNotImage)?;
    let ok = |v: u32| (MIN_SIZE_PX..=MAX_SIZE_PX).contains(&v);
    if !ok(w) || !ok(h) {
        return Err(SealError::PictureDimensions { w, h });
    }
    if u64::from(w.max(h)) * 2 > u64::from(w.min(h)) * 3 {
        return Err(SealError::PictureAspect { w, h });
    }
    let mut img = image::load_from_memory_with_format(bytes, format)
        .map_err(|_| SealError::PictureNotImage)?
        .to_rgba8();
    for p in img.pixels_mut() {
        let [r, g, b, _] = p.0;
        // Paper: light and unsaturated.
        if r.min(g).min(b) >= 200 && r.max(g).max(b) - r.min(g).min(b) <= 40 {
            p.0[3] = 0;
        }
    }
    let permille = red_ink_permille(&img);
    if permille < MIN_RED_PERMILLE {
        return Err(SealError::PictureNoRedInk {
            permille,
            min: MIN_RED_PERMILLE,
        });
    }
    png_bytes(&img)
}

// ---------------------------------------------------------------------------
// Electronic seal (电子印章)
// ---------------------------------------------------------------------------

/// Unit (round, 单位印章) or personal (square, 个人名章) seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SealKind {
    Unit,
    Personal,
}

/// The signed part of a seal (GB/T 38540 seal information, simplified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealInfo {
    /// Always [`SEAL_FORMAT`].
    pub format: String,
    /// Seal identifier (印章编码).
    pub id: String,
    pub kind: SealKind,
    /// The text on the seal: the unit's name, or the person's name.
    pub name: String,
    /// Unit code, or the person's id.
    pub holder: String,
    /// The SM2 key the seal is bound to: only it may stamp with the seal.
    pub holder_key: PublicKey,
    /// Hex SM3 of the PNG picture.
    pub image_png_sm3: String,
    /// RFC 3339.
    pub valid_from: String,
    /// RFC 3339.
    pub valid_to: String,
    /// Person id of the seal administrator who made the seal.
    pub maker: String,
    /// SM3 fingerprint of the maker's key.
    pub maker_key: String,
}

/// Everything of [`SealInfo`] the maker chooses; [`Seal::make`] adds the
/// format and the picture hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealDraft {
    pub id: String,
    pub kind: SealKind,
    pub name: String,
    pub holder: String,
    pub holder_key: PublicKey,
    pub valid_from: String,
    pub valid_to: String,
    pub maker: String,
    pub maker_key: String,
}

/// An electronic seal (电子印章): information, picture and the maker's
/// signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    pub info: SealInfo,
    /// The PNG picture, base64.
    pub image_png: String,
    /// Base64 DER SM2 signature by the maker over `canonical_bytes(&info)`.
    pub maker_signature: String,
}

impl Seal {
    /// Makes a seal: checks the draft, hashes the picture into the info and
    /// signs the info with the maker's key, whose fingerprint must be
    /// `draft.maker_key`.
    pub fn make(draft: SealDraft, png: Vec<u8>, maker: &dyn Signer) -> Result<Seal, SealError> {
        if maker.public_key().fingerprint() != draft.maker_key {
            return Err(SealError::MakerKeyMismatch);
        }
        for (what, v) in [
            ("印章编码", &draft.id),
            ("印章持有者", &draft.holder),
            ("制章人", &draft.maker),
        ] {
            if v.trim().is_empty() {
                return Err(SealError::Empty { what });
            }
        }
        let max = match draft.kind {
            SealKind::Unit => MAX_UNIT_NAME_CHARS,
            SealKind::Personal => MAX_PERSONAL_NAME_CHARS,
        };
        check_chars("印章名称", &draft.name, max)?;
        let from = parse_time(&draft.valid_from)?;
        let to = parse_time(&draft.valid_to)?;
        if from > to {
            return Err(SealError::BadValidity);
        }
        image::load_from_memory_with_format(&png, image::ImageFormat::Png)
            .map_err(|e| SealError::Image(e.to_string()))?;
        let info = SealInfo {
            format: SEAL_FORMAT.to_string(),
            id: draft.id,
            kind: draft.kind,
            name: draft.name,
            holder: draft.holder,
            holder_key: draft.holder_key,
            image_png_sm3: sm3_hex(&png),
            valid_from: draft.valid_from,
            valid_to: draft.valid_to,
            maker: draft.maker,
            maker_key: draft.maker_key,
        };
        let signature = maker.sign(&canonical(&info)?)?;
        Ok(Seal {
            info,
            image_png: B64.encode(png),
            maker_signature: B64.encode(signature),
        })
    }

    /// Checks the seal: format, the maker's key and signature, the
    /// picture's integrity, and that `at` lies within the validity period
    /// (both ends inclusive).
    pub fn verify(&self, maker_key: &PublicKey, at: OffsetDateTime) -> Result<(), SealError> {
        if self.info.format != SEAL_FORMAT {
            return Err(SealError::BadFormat(self.info.format.clone()));
        }
        if maker_key.fingerprint() != self.info.maker_key {
            return Err(SealError::MakerKeyMismatch);
        }
        let signature = decode_b64(&self.maker_signature)?;
        maker_key
            .verify(&canonical(&self.info)?, &signature)
            .map_err(|_| SealError::MakerSignatureInvalid)?;
        if sm3_hex(&self.image()?) != self.info.image_png_sm3 {
            return Err(SealError::ImageTampered);
        }
        self.check_valid_at(at)
    }

    /// The PNG picture bytes.
    pub fn image(&self) -> Result<Vec<u8>, SealError> {
        decode_b64(&self.image_png)
    }

    /// Hex SM3 of the canonical JSON of the whole seal (what
    /// [`SealStamp::seal_sm3`] refers to).
    pub fn sm3_hex(&self) -> Result<String, SealError> {
        Ok(sm3_hex(&canonical(self)?))
    }

    /// Whether `at` lies within the validity period (inclusive).
    pub fn check_valid_at(&self, at: OffsetDateTime) -> Result<(), SealError> {
        let from = parse_time(&self.info.valid_from)?;
        let to = parse_time(&self.info.valid_to)?;
        if at < from {
            return Err(SealError::NotYetValid {
                at: fmt_time(at),
                from: self.info.valid_from.clone(),
            });
        }
        if at > to {
            return Err(SealError::Expired {
                at: fmt_time(at),
                to: self.info.valid_to.clone(),
            });
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Signature with seal (电子签章)
// ---------------------------------------------------------------------------

/// What a stamp signs (GB/T 38540 `TBS_Sign`, simplified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealStamp {
    pub seal_id: String,
    /// Hex SM3 of the canonical JSON of the whole [`Seal`].
    pub seal_sm3: String,
    /// RFC 3339 signing time.
    pub time: String,
    /// Hex SM3 of what is stamped (the decision event hash).
    pub data_hash: String,
    /// What the stamp is for, e.g. "户口变更审批".
    pub property: String,
}

impl SealStamp {
    /// A stamp of `data_hash` with `seal` at `time`.
    pub fn for_seal(
        seal: &Seal,
        time: OffsetDateTime,
        data_hash: impl Into<String>,
        property: impl Into<String>,
    ) -> Result<SealStamp, SealError> {
        Ok(SealStamp {
            seal_id: seal.info.id.clone(),
            seal_sm3: seal.sm3_hex()?,
            time: fmt_time(time),
            data_hash: data_hash.into(),
            property: property.into(),
        })
    }

    /// Checks the stamp against `seal`: same seal, well-formed hash and
    /// time, seal valid at that time.
    fn check_against(&self, seal: &Seal) -> Result<(), SealError> {
        if self.seal_id != seal.info.id || self.seal_sm3 != seal.sm3_hex()? {
            return Err(SealError::SealMismatch);
        }
        let hex_ok = self.data_hash.len() == 64
            && self
                .data_hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex_ok {
            return Err(SealError::BadDataHash);
        }
        if self.property.trim().is_empty() {
            return Err(SealError::Empty {
                what: "签章用途"
            });
        }
        seal.check_valid_at(parse_time(&self.time)?)
    }
}

/// A signature with seal (电子签章): the stamp signed by the seal holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedStamp {
    pub stamp: SealStamp,
    /// Base64 DER SM2 signature by the seal holder's key over
    /// `canonical_bytes(&stamp)`.
    pub signature: String,
}

impl SignedStamp {
    /// Signs `stamp` with `holder`, which must hold the key `seal` is bound
    /// to; the stamp must refer to `seal` and fall within its validity.
    pub fn make(
        stamp: SealStamp,
        holder: &dyn Signer,
        seal: &Seal,
    ) -> Result<SignedStamp, SealError> {
        if holder.public_key() != &seal.info.holder_key {
            return Err(SealError::HolderKeyMismatch);
        }
        stamp.check_against(seal)?;
        let signature = holder.sign(&canonical(&stamp)?)?;
        Ok(SignedStamp {
            stamp,
            signature: B64.encode(signature),
        })
    }

    /// Checks that the stamp refers to `seal`, lies within its validity and
    /// is signed by the seal's holder key. Does not check the seal's own
    /// maker signature: see [`SignedStamp::verify_with_maker`].
    pub fn verify(&self, seal: &Seal) -> Result<(), SealError> {
        self.stamp.check_against(seal)?;
        let signature = decode_b64(&self.signature)?;
        seal.info
            .holder_key
            .verify(&canonical(&self.stamp)?, &signature)
            .map_err(|_| SealError::StampSignatureInvalid)
    }

    /// Full check: the seal (maker signature, picture, validity at the
    /// stamp's time), then the stamp.
    pub fn verify_with_maker(&self, seal: &Seal, maker_key: &PublicKey) -> Result<(), SealError> {
        seal.verify(maker_key, parse_time(&self.stamp.time)?)?;
        self.verify(seal)
    }
}

fn canonical<T: Serialize>(value: &T) -> Result<Vec<u8>, SealError> {
    canonical_bytes(value).map_err(|e| SealError::Canonical(e.to_string()))
}

fn decode_b64(s: &str) -> Result<Vec<u8>, SealError> {
    B64.decode(s).map_err(|e| SealError::Base64(e.to_string()))
}

fn parse_time(s: &str) -> Result<OffsetDateTime, SealError> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| SealError::BadTime(s.to_string()))
}

fn fmt_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert_eq!(check_chars("x", "", 4), Err(SealError::Empty { what: "x" }));
        assert!(matches!(
            check_chars("x", "一二三四五", 4),
            Err(SealError::TooLong { got: 5, max: 4, .. })
        ));
        assert!(matches!(
            check_chars("x", "王\u{7}", 4),
            Err(SealError::ControlChar { code: 7, .. })
        ));
        assert!(matches!(
            check_chars("x", "王 勇", 4),
            Err(SealError::Whitespace { .. })
        ));
        assert_eq!(check_chars("x", "王德勇", 4), Ok(vec!['王', '德', '勇']));
    }

    #[test]
    fn polygon_is_closed() {
        let pts = [point(0.0, 0.0), point(1.0, 0.0), point(0.0, 1.0)];
        let curves = polygon(&pts);
        assert_eq!(curves.len(), 3);
        assert!(matches!(curves[2], OutlineCurve::Line(a, b) if a == pts[2] && b == pts[0]));
    }

    #[test]
    fn canvas_fills_a_square_path_exactly() {
        let mut c = Canvas::new(20);
        let sq = [
            point(5.0, 5.0),
            point(15.0, 5.0),
            point(15.0, 15.0),
            point(5.0, 15.0),
        ];
        c.fill_path(&polygon(&sq));
        let img = c.into_image();
        assert_eq!(img.get_pixel(10, 10).0[3], 255);
        assert_eq!(img.get_pixel(5, 5).0[3], 255);
        assert_eq!(img.get_pixel(4, 10).0[3], 0);
        assert_eq!(img.get_pixel(15, 10).0[3], 0);
        let total: u32 = img.pixels().map(|p| u32::from(p.0[3])).sum();
        assert_eq!(total, 100 * 255);
    }

    #[test]
    fn layout_keeps_text_inside_the_ring() {
        for size in [MIN_SIZE_PX, 400, MAX_SIZE_PX] {
            let l = UnitSealLayout::for_size(size);
            assert!(l.ring_outer < l.centre);
            assert!(l.text_outer < l.ring_inner);
            assert!(l.star_outer < l.text_inner);
            assert!(l.bottom_y + l.bottom_height / 2.0 - l.centre < l.ring_inner);
        }
    }
}
