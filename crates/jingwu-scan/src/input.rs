//! Reading scanner output: sniffing the format from the bytes (never the
//! file name), checking sizes before anything is decoded, and handing out
//! the pages one at a time — JPEG and PNG (one page), TIFF (every page),
//! PDF (the largest image on each page).

use std::io::Cursor;
use std::time::Instant;

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};
use serde::Serialize;

use crate::error::ScanError;

/// The container formats accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    Jpeg,
    Png,
    Tiff,
    Pdf,
}

impl InputFormat {
    /// Upper-case name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Jpeg => "JPEG",
            InputFormat::Png => "PNG",
            InputFormat::Tiff => "TIFF",
            InputFormat::Pdf => "PDF",
        }
    }
}

/// Size caps applied before and while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Largest width or height of one page, in pixels.
    pub max_side: u32,
    /// Largest number of pixels of one page.
    pub max_pixels: u64,
    /// Largest number of pages in one file.
    pub max_pages: usize,
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            max_side: 12_000,
            max_pixels: 200_000_000,
            max_pages: 200,
        }
    }
}

impl InputLimits {
    /// Refuses a page of `width`×`height` pixels that exceeds the caps.
    pub fn check(&self, width: u64, height: u64) -> Result<(), ScanError> {
        let too_big = width == 0
            || height == 0
            || width > u64::from(self.max_side)
            || height > u64::from(self.max_side)
            || width.saturating_mul(height) > self.max_pixels;
        if too_big {
            return Err(ScanError::TooManyPixels {
                width: u32::try_from(width).unwrap_or(u32::MAX),
                height: u32::try_from(height).unwrap_or(u32::MAX),
                max_side: self.max_side,
                max_mpx: self.max_pixels / 1_000_000,
            });
        }
        Ok(())
    }

    fn image_limits(&self) -> image::Limits {
        let mut l = image::Limits::default();
        l.max_image_width = Some(self.max_side);
        l.max_image_height = Some(self.max_side);
        // Output image (up to 8 bytes a pixel for 16-bit RGBA) plus slack.
        l.max_alloc = Some(self.max_pixels.saturating_mul(8).min(2 << 30));
        l
    }
}

/// Identifies the format from the first bytes. Executables, archives and
/// anything else are refused with a message saying what the file seems
/// to be.
pub fn sniff(bytes: &[u8]) -> Result<InputFormat, ScanError> {
    if bytes.is_empty() {
        return Err(ScanError::Empty);
    }
    let starts = |m: &[u8]| bytes.starts_with(m);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(InputFormat::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(InputFormat::Png);
    }
    if starts(b"II*\0") || starts(b"MM\0*") || starts(b"II+\0") || starts(b"MM\0+") {
        return Ok(InputFormat::Tiff);
    }
    // PDF readers accept the header anywhere in the first kilobyte.
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Ok(InputFormat::Pdf);
    }
    let kind = if starts(b"MZ") {
        Some("Windows 可执行程序")
    } else if starts(b"\x7fELF") {
        Some("Linux 可执行程序")
    } else if starts(&[0xCF, 0xFA, 0xED, 0xFE])
        || starts(&[0xCE, 0xFA, 0xED, 0xFE])
        || starts(&[0xCA, 0xFE, 0xBA, 0xBE])
    {
        Some("macOS 可执行程序")
    } else if starts(b"#!") {
        Some("脚本")
    } else if starts(b"PK\x03\x04") || starts(b"Rar!") || starts(b"7z\xBC\xAF") {
        Some("压缩包或 Office 文档")
    } else {
        None
    };
    match kind {
        Some(kind) => Err(ScanError::NotAnImage { kind }),
        None => Err(ScanError::UnknownFormat),
    }
}

/// One decoded page, before any processing.
#[derive(Debug, Clone)]
pub struct RawPage {
    /// 1-based page number in the file.
    pub page: u32,
    /// The pixels as stored in the file.
    pub image: DynamicImage,
    /// How the pixels must be turned to stand upright (EXIF / TIFF
    /// orientation, or a PDF page's `/Rotate`).
    pub orientation: Orientation,
    /// When decoding of this page started.
    pub started: Instant,
}

/// Decodes the pages of `bytes` in order and hands each to `f`; only one
/// decoded page is held at a time.
pub fn for_each_page(
    bytes: &[u8],
    format: InputFormat,
    limits: &InputLimits,
    mut f: impl FnMut(RawPage) -> Result<(), ScanError>,
) -> Result<(), ScanError> {
    match format {
        InputFormat::Jpeg | InputFormat::Png => {
            let started = Instant::now();
            let (image, orientation) = decode_single(bytes, format, limits)?;
            f(RawPage {
                page: 1,
                image,
                orientation,
                started,
            })
        }
        InputFormat::Tiff => tiff_pages(bytes, limits, f),
        InputFormat::Pdf => pdf_pages(bytes, limits, f),
    }
}

/// Decodes a JPEG or PNG after checking that it is complete and that its
/// declared size is within the caps (read from the header, before any
/// pixel buffer is allocated).
pub fn decode_single(
    bytes: &[u8],
    format: InputFormat,
    limits: &InputLimits,
) -> Result<(DynamicImage, Orientation), ScanError> {
    let image_format = match format {
        InputFormat::Jpeg => ImageFormat::Jpeg,
        InputFormat::Png => ImageFormat::Png,
        InputFormat::Tiff => ImageFormat::Tiff,
        InputFormat::Pdf => return Err(ScanError::UnknownFormat),
    };
    let name = format.name();
    if format == InputFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(ScanError::Truncated { format: name });
    }
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), image_format)
        .into_dimensions()
        .map_err(|e| image_error(name, e))?;
    limits.check(u64::from(w), u64::from(h))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    reader.limits(limits.image_limits());
    let mut decoder = reader.into_decoder().map_err(|e| image_error(name, e))?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(|e| image_error(name, e))?;
    Ok((image, orientation))
}

fn image_error(format: &'static str, e: image::ImageError) -> ScanError {
    use image::ImageError as E;
    match e {
        E::Limits(_) => ScanError::TooMuchMemory { format },
        E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ScanError::Truncated { format }
        }
        other => {
            let reason = other.to_string();
            let lower = reason.to_ascii_lowercase();
            if lower.contains("eof")
                || lower.contains("end of file")
                || lower.contains("unexpected end")
                || lower.contains("no more data")
            {
                ScanError::Truncated { format }
            } else {
                ScanError::Decode { format, reason }
            }
        }
    }
}

/// Walks the JPEG's marker segments (skipping APPn payloads such as EXIF
/// thumbnails, which are whole JPEGs themselves) and the entropy-coded
/// data after each SOS, and answers whether an EOI marker ends the image.
/// Decoders often accept a truncated file and paint the missing part
/// grey; a scan must be complete.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let n = bytes.len();
    let mut i = 2usize;
    loop {
        // Find the next marker (skip fill bytes 0xFF).
        while i < n && bytes[i] != 0xFF {
            i += 1;
        }
        while i < n && bytes[i] == 0xFF {
            i += 1;
        }
        if i >= n {
            return false;
        }
        let marker = bytes[i];
        i += 1;
        match marker {
            0xD9 => return true,
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        if i + 2 > n {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i], bytes[i + 1]]));
        if len < 2 {
            return false;
        }
        i += len;
        if i > n {
            return false;
        }
        if marker == 0xDA {
            // Entropy-coded data runs until a marker that is neither a
            // stuffed zero nor a restart marker.
            loop {
                while i < n && bytes[i] != 0xFF {
                    i += 1;
                }
                if i + 1 >= n {
                    return false;
                }
                let next = bytes[i + 1];
                if next == 0x00 || (0xD0..=0xD7).contains(&next) || next == 0xFF {
                    i += if next == 0xFF { 1 } else { 2 };
                    continue;
                }
                break;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// TIFF
// ---------------------------------------------------------------------------

fn tiff_error(page: u32, e: tiff::TiffError) -> ScanError {
    use tiff::TiffError as T;
    match e {
        T::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ScanError::Truncated { format: "TIFF" }
        }
        T::LimitsExceeded => ScanError::TooMuchMemory { format: "TIFF" },
        T::UnsupportedError(u) => ScanError::TiffUnsupported {
            page,
            detail: u.to_string(),
        },
        other => ScanError::Decode {
            format: "TIFF",
            reason: format!("第 {page} 页：{other}"),
        },
    }
}

fn tiff_pages(
    bytes: &[u8],
    limits: &InputLimits,
    mut f: impl FnMut(RawPage) -> Result<(), ScanError>,
) -> Result<(), ScanError> {
    let mut tl = tiff::decoder::Limits::default();
    let buffer = limits.max_pixels.saturating_mul(8);
    tl.decoding_buffer_size = usize::try_from(buffer).unwrap_or(usize::MAX);
    let mut started = Instant::now();
    let mut decoder = tiff::decoder::Decoder::new(Cursor::new(bytes))
        .map_err(|e| tiff_error(1, e))?
        .with_limits(tl);
    let mut page: u32 = 1;
    loop {
        let (w, h) = decoder.dimensions().map_err(|e| tiff_error(page, e))?;
        limits.check(u64::from(w), u64::from(h))?;
        let colortype = decoder.colortype().map_err(|e| tiff_error(page, e))?;
        let orientation = decoder
            .find_tag(tiff::tags::Tag::Orientation)
            .ok()
            .flatten()
            .and_then(|v| v.into_u16().ok())
            .and_then(|v| u8::try_from(v).ok())
            .and_then(Orientation::from_exif)
            .unwrap_or(Orientation::NoTransforms);
        let data = decoder.read_image().map_err(|e| tiff_error(page, e))?;
        let image = tiff_to_image(page, w, h, colortype, data)?;
        f(RawPage {
            page,
            image,
            orientation,
            started,
        })?;
        if !decoder.more_images() {
            return Ok(());
        }
        if page as usize >= limits.max_pages {
            return Err(ScanError::TooManyPages {
                pages: page as usize + 1,
                max: limits.max_pages,
            });
        }
        started = Instant::now();
        decoder.next_image().map_err(|e| tiff_error(page + 1, e))?;
        page += 1;
    }
}

fn tiff_to_image(
    page: u32,
    w: u32,
    h: u32,
    colortype: tiff::ColorType,
    data: tiff::decoder::DecodingResult,
) -> Result<DynamicImage, ScanError> {
    use tiff::decoder::DecodingResult as D;
    use tiff::ColorType as C;
    let unsupported = || ScanError::TiffUnsupported {
        page,
        detail: format!("{colortype:?}"),
    };
    let bad_len = || ScanError::Decode {
        format: "TIFF",
        reason: format!("第 {page} 页像素数据长度与尺寸不符"),
    };
    let (wu, hu) = (w as usize, h as usize);
    let img = match (colortype, data) {
        (C::Gray(8), D::U8(v)) => {
            DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, v).ok_or_else(bad_len)?)
        }
        (C::Gray(1), D::U8(v)) => {
            // Bilevel (fax / G4) pages: rows padded to whole bytes; the
            // decoder has already made 0 black.
            let stride = wu.div_ceil(8);
            if v.len() < stride * hu {
                return Err(bad_len());
            }
            DynamicImage::ImageLuma8(GrayImage::from_fn(w, h, |x, y| {
                let byte = v[y as usize * stride + x as usize / 8];
                let bit = (byte >> (7 - (x % 8))) & 1;
                image::Luma([if bit == 1 { 255 } else { 0 }])
            }))
        }
        (C::Gray(16), D::U16(v)) => DynamicImage::ImageLuma8(
            GrayImage::from_raw(w, h, v.iter().map(|p| (p >> 8) as u8).collect())
                .ok_or_else(bad_len)?,
        ),
        (C::RGB(8), D::U8(v)) => {
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, v).ok_or_else(bad_len)?)
        }
        (C::RGB(16), D::U16(v)) => DynamicImage::ImageRgb8(
            RgbImage::from_raw(w, h, v.iter().map(|p| (p >> 8) as u8).collect())
                .ok_or_else(bad_len)?,
        ),
        (C::RGBA(8), D::U8(v)) => {
            DynamicImage::ImageRgba8(image::RgbaImage::from_raw(w, h, v).ok_or_else(bad_len)?)
        }
        (C::GrayA(8), D::U8(v)) => {
            DynamicImage::ImageLumaA8(image::GrayAlphaImage::from_raw(w, h, v).ok_or_else(bad_len)?)
        }
        (C::CMYK(8), D::U8(v)) => {
            if v.len() < wu * hu * 4 {
                return Err(bad_len());
            }
            let rgb: Vec<u8> = v
                .chunks_exact(4)
                .flat_map(|p| {
                    let k = 255 - u16::from(p[3]);
                    [p[0], p[1], p[2]].map(|c| ((255 - u16::from(c)) * k / 255) as u8)
                })
                .collect();
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, rgb).ok_or_else(bad_len)?)
        }
        _ => return Err(unsupported()),
    };
    Ok(img)
}

// ---------------------------------------------------------------------------
// PDF
// ---------------------------------------------------------------------------

fn pdf_pages(
    bytes: &[u8],
    limits: &InputLimits,
    mut f: impl FnMut(RawPage) -> Result<(), ScanError>,
) -> Result<(), ScanError> {
    let options = lopdf::LoadOptions {
        max_decompressed_size: Some(64 << 20),
        ..Default::default()
    };
    let doc = lopdf::Document::load_mem_with_options(bytes, options)
        .map_err(|e| ScanError::Pdf(e.to_string()))?;
    if doc.is_encrypted() {
        return Err(ScanError::Pdf("文件已加密，请导出未加密的 PDF".into()));
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(ScanError::NoPages);
    }
    if pages.len() > limits.max_pages {
        return Err(ScanError::TooManyPages {
            pages: pages.len(),
            max: limits.max_pages,
        });
    }
    for (&page, &page_id) in &pages {
        let started = Instant::now();
        let stream = largest_image(&doc, page_id).ok_or(ScanError::PdfPageWithoutImage { page })?;
        let image = pdf_image(page, stream, limits)?;
        let orientation = match page_rotation(&doc, page_id).rem_euclid(360) {
            90 => Orientation::Rotate90,
            180 => Orientation::Rotate180,
            270 => Orientation::Rotate270,
            _ => Orientation::NoTransforms,
        };
        f(RawPage {
            page,
            image,
            orientation,
            started,
        })?;
    }
    Ok(())
}

/// `/Rotate` of the page or the nearest ancestor that has it.
fn page_rotation(doc: &lopdf::Document, page_id: lopdf::ObjectId) -> i64 {
    let mut id = page_id;
    for _ in 0..32 {
        let Ok(dict) = doc.get_dictionary(id) else {
            return 0;
        };
        if let Ok(r) = dict.get(b"Rotate").and_then(|o| o.as_i64()) {
            return r;
        }
        match dict.get(b"Parent").and_then(|o| o.as_reference()) {
            Ok(parent) => id = parent,
            Err(_) => return 0,
        }
    }
    0
}

fn deref<'a>(doc: &'a lopdf::Document, o: &'a lopdf::Object) -> Option<&'a lopdf::Object> {
    doc.dereference(o).ok().map(|(_, o)| o)
}

/// The image XObject with the most pixels among the page's resources
/// (scanners put one image per page; some add a small logo or mask).
fn largest_image(doc: &lopdf::Document, page_id: lopdf::ObjectId) -> Option<&lopdf::Stream> {
    let (inline, ids) = doc.get_page_resources(page_id).ok()?;
    let mut dicts: Vec<&lopdf::Dictionary> = inline.into_iter().collect();
    dicts.extend(ids.iter().filter_map(|id| doc.get_dictionary(*id).ok()));
    let mut best: Option<(i64, &lopdf::Stream)> = None;
    for res in dicts {
        let Some(xobjects) = res
            .get(b"XObject")
            .ok()
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_dict().ok())
        else {
            continue;
        };
        for (_, v) in xobjects.iter() {
            let Some(stream) = deref(doc, v).and_then(|o| o.as_stream().ok()) else {
                continue;
            };
            let d = &stream.dict;
            let is_image = d
                .get(b"Subtype")
                .and_then(|s| s.as_name())
                .is_ok_and(|n| n == b"Image");
            if !is_image {
                continue;
            }
            let w = d.get(b"Width").and_then(|x| x.as_i64()).unwrap_or(0);
            let h = d.get(b"Height").and_then(|x| x.as_i64()).unwrap_or(0);
            let area = w.saturating_mul(h);
            if best.is_none_or(|(a, _)| area > a) {
                best = Some((area, stream));
            }
        }
    }
    best.map(|(_, s)| s)
}

fn pdf_image(
    page: u32,
    stream: &lopdf::Stream,
    limits: &InputLimits,
) -> Result<DynamicImage, ScanError> {
    let d = &stream.dict;
    let unsupported = |detail: String| ScanError::PdfImageUnsupported { page, detail };
    let w = d.get(b"Width").and_then(|x| x.as_i64()).unwrap_or(0);
    let h = d.get(b"Height").and_then(|x| x.as_i64()).unwrap_or(0);
    let (Ok(w), Ok(h)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(unsupported(format!("图像尺寸 {w}×{h} 无效")));
    };
    limits.check(u64::from(w), u64::from(h))?;
    let filters: Vec<String> = stream
        .filters()
        .map(|v| {
            v.iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let last = filters.last().map(String::as_str).unwrap_or("");
    match last {
        "DCTDecode" | "DCT" => {
            if filters.len() > 1 {
                return Err(unsupported(format!("滤镜组合 {}", filters.join("+"))));
            }
            let (img, _) =
                decode_single(&stream.content, InputFormat::Jpeg, limits).map_err(|e| match e {
                    ScanError::Truncated { .. } | ScanError::TooManyPixels { .. } => e,
                    other => unsupported(format!("JPEG 图像无法解码：{other}")),
                })?;
            Ok(img)
        }
        "" | "FlateDecode" | "Fl" | "LZWDecode" | "LZW" => raw_pdf_image(page, stream, w, h),
        "JPXDecode" => Err(unsupported("JPEG 2000".into())),
        "CCITTFaxDecode" | "CCF" => Err(unsupported("CCITT 传真压缩的黑白图像".into())),
        "JBIG2Decode" => Err(unsupported("JBIG2 黑白图像".into())),
        other => Err(unsupported(format!("压缩方式 {other}"))),
    }
}

fn raw_pdf_image(
    page: u32,
    stream: &lopdf::Stream,
    w: u32,
    h: u32,
) -> Result<DynamicImage, ScanError> {
    let d = &stream.dict;
    let unsupported = |detail: String| ScanError::PdfImageUnsupported { page, detail };
    let bpc = d
        .get(b"BitsPerComponent")
        .and_then(|x| x.as_i64())
        .unwrap_or(8);
    let cs = d
        .get(b"ColorSpace")
        .ok()
        .and_then(|o| o.as_name().ok())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let comps: usize = match cs.as_str() {
        "DeviceGray" | "G" => 1,
        "DeviceRGB" | "RGB" => 3,
        "DeviceCMYK" | "CMYK" => 4,
        other => return Err(unsupported(format!("颜色空间 {other}"))),
    };
    let (wu, hu) = (w as usize, h as usize);
    let expected = match bpc {
        8 => wu * hu * comps,
        1 if comps == 1 => wu.div_ceil(8) * hu,
        other => return Err(unsupported(format!("每分量 {other} 位"))),
    };
    let data = stream
        .get_plain_content_with_limit(expected + 1024)
        .map_err(|e| ScanError::Pdf(format!("第 {page} 页图像解压失败：{e}")))?;
    if data.len() < expected {
        return Err(ScanError::Truncated { format: "PDF" });
    }
    let bad_len = || ScanError::Pdf(format!("第 {page} 页图像数据长度与尺寸不符"));
    let img = match (comps, bpc) {
        (1, 1) => {
            let stride = wu.div_ceil(8);
            DynamicImage::ImageLuma8(GrayImage::from_fn(w, h, |x, y| {
                let byte = data[y as usize * stride + x as usize / 8];
                image::Luma([((byte >> (7 - (x % 8))) & 1) * 255])
            }))
        }
        (1, _) => DynamicImage::ImageLuma8(
            GrayImage::from_raw(w, h, data[..expected].to_vec()).ok_or_else(bad_len)?,
        ),
        (3, _) => DynamicImage::ImageRgb8(
            RgbImage::from_raw(w, h, data[..expected].to_vec()).ok_or_else(bad_len)?,
        ),
        _ => {
            let rgb: Vec<u8> = data[..expected]
                .chunks_exact(4)
                .flat_map(|p| {
                    let k = 255 - u16::from(p[3]);
                    [p[0], p[1], p[2]].map(|c| ((255 - u16::from(c)) * k / 255) as u8)
                })
                .collect();
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, rgb).ok_or_else(bad_len)?)
        }
    };
    Ok(img)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 3) as u8, 90]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
            .encode_image(&img)
            .unwrap();
        out
    }

    #[test]
    fn sniffing_ignores_names_and_names_executables() {
        assert_eq!(sniff(&jpeg(8, 8)).unwrap(), InputFormat::Jpeg);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n....").unwrap(), InputFormat::Png);
        assert_eq!(sniff(b"II*\0....").unwrap(), InputFormat::Tiff);
        assert_eq!(sniff(b"%PDF-1.7\n").unwrap(), InputFormat::Pdf);
        assert_eq!(sniff(b"").unwrap_err(), ScanError::Empty);
        let exe = sniff(b"MZ\x90\0\x03\0\0\0").unwrap_err();
        assert!(exe.to_string().contains("可执行程序"), "{exe}");
        let elf = sniff(b"\x7fELF\x02\x01\x01").unwrap_err();
        assert!(elf.to_string().contains("Linux"), "{elf}");
        assert_eq!(sniff(b"hello world").unwrap_err(), ScanError::UnknownFormat);
    }

    #[test]
    fn jpeg_completeness() {
        let j = jpeg(64, 48);
        assert!(jpeg_is_complete(&j));
        for cut in [j.len() - 1, j.len() - 2, j.len() / 2, 300, 3] {
            assert!(!jpeg_is_complete(&j[..cut]), "cut at {cut}");
        }
        // Bytes after EOI (some cameras append data) are fine.
        let mut tail = j.clone();
        tail.extend_from_slice(b"trailing");
        assert!(jpeg_is_complete(&tail));
    }

    #[test]
    fn truncated_jpeg_is_refused() {
        let j = jpeg(64, 48);
        let e = decode_single(
            &j[..j.len() * 2 / 3],
            InputFormat::Jpeg,
            &InputLimits::default(),
        )
        .unwrap_err();
        assert_eq!(e, ScanError::Truncated { format: "JPEG" });
    }

    #[test]
    fn truncated_png_is_refused() {
        let img = RgbImage::from_fn(200, 100, |x, y| image::Rgb([(x ^ y) as u8, 1, 2]));
        let mut png = Vec::new();
        img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let e = decode_single(
            &png[..png.len() / 2],
            InputFormat::Png,
            &InputLimits::default(),
        )
        .unwrap_err();
        assert!(matches!(e, ScanError::Truncated { .. }), "{e:?}");
    }

    #[test]
    fn limits() {
        let l = InputLimits::default();
        assert!(l.check(2480, 3508).is_ok());
        assert!(l.check(12_001, 10).is_err());
        assert!(l.check(50_000, 50_000).is_err());
        assert!(l.check(0, 10).is_err());
        let small = InputLimits {
            max_pixels: 1000,
            ..l
        };
        assert!(small.check(40, 40).is_err());
    }

    fn tiff(pages: &[GrayImage]) -> Vec<u8> {
        use tiff::encoder::{colortype, TiffEncoder};
        let mut out = Cursor::new(Vec::new());
        {
            let mut enc = TiffEncoder::new(&mut out).unwrap();
            for p in pages {
                enc.write_image::<colortype::Gray8>(p.width(), p.height(), p.as_raw())
                    .unwrap();
            }
        }
        out.into_inner()
    }

    fn pages_of(bytes: &[u8], limits: &InputLimits) -> Result<Vec<(u32, u32, u8)>, ScanError> {
        let mut seen = Vec::new();
        for_each_page(bytes, sniff(bytes)?, limits, |p| {
            seen.push((
                p.page,
                p.image.width(),
                p.image.to_luma8().get_pixel(0, 0).0[0],
            ));
            Ok(())
        })?;
        Ok(seen)
    }

    #[test]
    fn multi_page_tiff_keeps_order_and_is_capped() {
        let pages: Vec<GrayImage> = (0..3u8)
            .map(|i| GrayImage::from_pixel(10 + u32::from(i), 8, image::Luma([i * 100])))
            .collect();
        let t = tiff(&pages);
        let seen = pages_of(&t, &InputLimits::default()).unwrap();
        assert_eq!(seen, vec![(1, 10, 0), (2, 11, 100), (3, 12, 200)]);
        let two = InputLimits {
            max_pages: 2,
            ..InputLimits::default()
        };
        let e = pages_of(&t, &two).unwrap_err();
        assert_eq!(e, ScanError::TooManyPages { pages: 3, max: 2 });
    }

    /// An image-per-page PDF: grey Flate pages with the given fill and
    /// `/Rotate`, then one DCT page.
    fn pdf(pages: &[(u8, i64)]) -> Vec<u8> {
        use lopdf::{dictionary, Document, Object, Stream};
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let mut kids: Vec<Object> = Vec::new();
        let mut add = |doc: &mut Document, stream: Stream, rotate: i64| {
            let im = doc.add_object(stream);
            let content = doc.add_object(Stream::new(
                dictionary! {},
                b"q 20 0 0 10 0 0 cm /Im0 Do Q".to_vec(),
            ));
            let page = doc.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id, "Contents" => content, "Rotate" => rotate,
                "MediaBox" => vec![0.into(), 0.into(), 20.into(), 10.into()],
                "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => im } },
            });
            kids.push(page.into());
        };
        for (fill, rotate) in pages {
            let dict = dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => 20, "Height" => 10,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
            };
            let mut stream = Stream::new(dict, vec![*fill; 200]);
            stream.compress().unwrap();
            add(&mut doc, stream, *rotate);
        }
        let dict = dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => 64, "Height" => 48,
            "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8, "Filter" => "DCTDecode",
        };
        add(
            &mut doc,
            Stream::new(dict, jpeg(64, 48)).with_compression(false),
            0,
        );
        let count = kids.len() as i64;
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
        );
        let cat = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", cat);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    #[test]
    fn pdf_pages_in_order_with_rotation() {
        let bytes = pdf(&[(10, 0), (120, 90), (250, 180)]);
        let mut seen = Vec::new();
        for_each_page(&bytes, InputFormat::Pdf, &InputLimits::default(), |p| {
            let first = p.image.to_luma8().get_pixel(0, 0).0[0];
            seen.push((p.page, p.image.width(), first, p.orientation));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[0], (1, 20, 10, Orientation::NoTransforms));
        assert_eq!(seen[1], (2, 20, 120, Orientation::Rotate90));
        assert_eq!(seen[2], (3, 20, 250, Orientation::Rotate180));
        assert_eq!(
            (seen[3].0, seen[3].1, seen[3].3),
            (4, 64, Orientation::NoTransforms)
        );
    }

    #[test]
    fn tiff_declaring_a_huge_page_is_refused_before_decoding() {
        let mut t = tiff(&[GrayImage::new(10, 8)]);
        // Patch ImageWidth (tag 256) and ImageLength (257) to 50,000.
        for tag in [256u16, 257] {
            let pos = (8..t.len() - 12)
                .find(|&i| {
                    t[i..i + 2] == tag.to_le_bytes() && t[i + 4..i + 8] == 1u32.to_le_bytes()
                })
                .unwrap();
            let ty = u16::from_le_bytes([t[pos + 2], t[pos + 3]]);
            if ty == 3 {
                t[pos + 8..pos + 10].copy_from_slice(&50_000u16.to_le_bytes());
            } else {
                t[pos + 8..pos + 12].copy_from_slice(&50_000u32.to_le_bytes());
            }
        }
        let e = pages_of(&t, &InputLimits::default()).unwrap_err();
        assert!(
            matches!(
                e,
                ScanError::TooManyPixels {
                    width: 50_000,
                    height: 50_000,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn exif_orientation_is_read() {
        let j = jpeg(40, 20);
        // APP1 Exif with Orientation = 6 (rotate 90° clockwise).
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"II*\0\x08\0\0\0");
        tiff.extend_from_slice(&1u16.to_le_bytes());
        tiff.extend_from_slice(&0x0112u16.to_le_bytes());
        tiff.extend_from_slice(&3u16.to_le_bytes());
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&6u16.to_le_bytes());
        tiff.extend_from_slice(&[0, 0]);
        tiff.extend_from_slice(&0u32.to_le_bytes());
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let len = (app1.len() + 2) as u16;
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&j[2..]);
        let (img, o) = decode_single(&out, InputFormat::Jpeg, &InputLimits::default()).unwrap();
        assert_eq!(o, Orientation::Rotate90);
        assert_eq!((img.width(), img.height()), (40, 20));
    }
}
