//! QR codes: encoding the slip payload, and finding and decoding it again
//! in a PDF we wrote or in a photo or scan of the printed page.

use image::GrayImage;

/// Pixels per QR module in the image embedded in the PDF.
pub const MODULE_PX: u32 = 4;
/// Quiet zone around the code, in modules.
pub const QUIET: u32 = 4;

/// Errors of QR handling. Shown to users.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("内容过长，无法生成二维码：{0}")]
    TooLong(String),
    #[error("图片中没有找到可识别的二维码")]
    NotFound,
    #[error("无法读取图片：{0}")]
    Image(String),
    #[error("无法读取 PDF：{0}")]
    Pdf(String),
}

/// Renders `text` as a QR code (error correction M, alphanumeric mode for
/// Base45 payloads): black modules on white, [`MODULE_PX`] pixels each.
/// Returns the image and the number of modules per side.
pub fn encode(text: &str) -> Result<(GrayImage, u32), QrError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::L)
        .map_err(|e| QrError::TooLong(e.to_string()))?;
    let n = code.width() as u32;
    let colors = code.to_colors();
    let side = (n + 2 * QUIET) * MODULE_PX;
    let img = GrayImage::from_fn(side, side, |x, y| {
        let mx = (x / MODULE_PX).checked_sub(QUIET);
        let my = (y / MODULE_PX).checked_sub(QUIET);
        match (mx, my) {
            (Some(mx), Some(my)) if mx < n && my < n => {
                let dark = colors
                    .get((my * n + mx) as usize)
                    .is_some_and(|c| *c == qrcode::Color::Dark);
                image::Luma([if dark { 0 } else { 255 }])
            }
            _ => image::Luma([255]),
        }
    });
    Ok((img, n))
}

/// Finds and decodes every QR code in a greyscale image; returns their
/// texts. Tries the image as is, then binarised and scaled variants, so
/// photos and 150-dpi scans of a printed slip decode too.
pub fn decode_image(img: &GrayImage) -> Vec<String> {
    let mut found = decode_once(img);
    if found.is_empty() {
        let bin = binarise(img);
        found = decode_once(&bin);
    }
    if found.is_empty() && img.width().max(img.height()) > 1600 {
        let small = image::imageops::resize(
            img,
            img.width() / 2,
            img.height() / 2,
            image::imageops::FilterType::Triangle,
        );
        found = decode_once(&binarise(&small));
    }
    // Photos and low-resolution scans: small modules decode better when
    // enlarged first (a 150-dpi page is about 1,300 × 1,800 pixels); a
    // slightly rotated module grid samples differently at each scale, so
    // several are tried.
    if img.width().max(img.height()) <= 2400 {
        for (num, den) in [(2u32, 1u32), (3, 2), (5, 2), (3, 1)] {
            if !found.is_empty() {
                break;
            }
            let big = image::imageops::resize(
                img,
                img.width() * num / den,
                img.height() * num / den,
                image::imageops::FilterType::CatmullRom,
            );
            found = decode_once(&binarise(&big));
            if found.is_empty() {
                found = decode_once(&big);
            }
        }
    }
    found
}

fn decode_once(img: &GrayImage) -> Vec<String> {
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        img.width() as usize,
        img.height() as usize,
        |x, y| img.get_pixel(x as u32, y as u32).0[0],
    );
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, text)| text))
        .collect()
}

/// Otsu threshold: separates ink from paper whatever the exposure.
fn binarise(img: &GrayImage) -> GrayImage {
    let mut hist = [0u64; 256];
    for p in img.pixels() {
        hist[p.0[0] as usize] += 1;
    }
    let total: u64 = hist.iter().sum();
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, h)| i as f64 * *h as f64)
        .sum();
    let (mut w_b, mut sum_b, mut best, mut threshold) = (0f64, 0f64, 0f64, 128u8);
    for (t, h) in hist.iter().enumerate() {
        w_b += *h as f64;
        if w_b == 0.0 {
            continue;
        }
        let w_f = total as f64 - w_b;
        if w_f == 0.0 {
            break;
        }
        sum_b += t as f64 * *h as f64;
        let m_b = sum_b / w_b;
        let m_f = (sum_all - sum_b) / w_f;
        let between = w_b * w_f * (m_b - m_f) * (m_b - m_f);
        if between > best {
            best = between;
            threshold = t as u8;
        }
    }
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        image::Luma([if img.get_pixel(x, y).0[0] > threshold {
            255
        } else {
            0
        }])
    })
}

/// Decodes the QR codes in an image file (PNG, JPEG …).
pub fn decode_file_image(bytes: &[u8]) -> Result<Vec<String>, QrError> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| QrError::Image(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(12_000);
    limits.max_image_height = Some(12_000);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| QrError::Image(e.to_string()))?;
    let found = decode_image(&img.to_luma8());
    if found.is_empty() {
        return Err(QrError::NotFound);
    }
    Ok(found)
}

/// Finds the QR code image we embed in a slip PDF (an 8-bit greyscale
/// image XObject) and decodes it. No rasteriser needed.
pub fn decode_pdf(bytes: &[u8]) -> Result<Vec<String>, QrError> {
    let doc = lopdf::Document::load_mem(bytes).map_err(|e| QrError::Pdf(e.to_string()))?;
    let mut found = Vec::new();
    for obj in doc.objects.values() {
        let lopdf::Object::Stream(stream) = obj else {
            continue;
        };
        let d = &stream.dict;
        let is_image = d
            .get(b"Subtype")
            .and_then(|s| s.as_name())
            .is_ok_and(|n| n == b"Image");
        let is_gray = d
            .get(b"ColorSpace")
            .and_then(|s| s.as_name())
            .is_ok_and(|n| n == b"DeviceGray");
        if !is_image || !is_gray {
            continue;
        }
        let (Ok(w), Ok(h)) = (
            d.get(b"Width").and_then(|x| x.as_i64()),
            d.get(b"Height").and_then(|x| x.as_i64()),
        ) else {
            continue;
        };
        let data = stream
            .decompressed_content()
            .unwrap_or_else(|_| stream.content.clone());
        let (Ok(w), Ok(h)) = (u32::try_from(w), u32::try_from(h)) else {
            continue;
        };
        if data.len() != (w as usize) * (h as usize) {
            continue;
        }
        if let Some(img) = GrayImage::from_raw(w, h, data) {
            found.extend(decode_image(&img));
        }
    }
    if found.is_empty() {
        return Err(QrError::NotFound);
    }
    Ok(found)
}
