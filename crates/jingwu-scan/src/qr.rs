//! QR codes on scanned pages: the project's blank forms carry
//! `JWF1:<form id>` (see `jingwu_slip::slip::BLANK_FORM_PREFIX`), which
//! matches the scan to the draft it was printed for.

use image::{imageops, GrayImage, Luma};

use crate::analysis;

/// Prefix of a blank form's QR payload.
pub const BLANK_FORM_PREFIX: &str = "JWF1:";

/// Every QR payload found on the page. Tries the picture as is, then
/// binarised (Otsu), then at half size for large pages — scanner noise
/// and JPEG ringing defeat the detector now and then. When a code's
/// finder patterns were seen but no pass could read it (how well it reads
/// depends on the payload's module pattern against the pixel grid), it
/// is tried again at other scales, as is and binarised. A page without
/// any code pays for three passes only.
pub fn decode_qr(img: &GrayImage) -> Vec<String> {
    decode_qr_with(img, None)
}

/// [`decode_qr`] on the processed page, falling back to `scanned`, the
/// page as scanned
/// (before it was turned and scaled: no interpolation blur, more pixels
/// per module), then to other scales.
pub fn decode_qr_with(img: &GrayImage, scanned: Option<&GrayImage>) -> Vec<String> {
    let (mut found, seen) = decode_passes(img);
    if found.is_empty() {
        // Where no code was even seen, one more look at the scanned page
        // (most pages have no code; they pay one pass); where one was seen,
        // every pass there, then other scales.
        if let Some(scanned) = scanned {
            found = if seen > 0 {
                decode_passes(scanned).0
            } else {
                decode_once(scanned).0
            };
        }
        if found.is_empty() && seen > 0 {
            found = decode_rescaled(img);
        }
    }
    found.dedup();
    found
}

/// As is, binarised, and at half size for large pages: the payloads read
/// and how many codes were seen.
fn decode_passes(img: &GrayImage) -> (Vec<String>, usize) {
    let (mut found, mut seen) = decode_once(img);
    if found.is_empty() {
        let bin = binarise(img);
        let (f, g) = decode_once(&bin);
        found = f;
        seen += g;
        if found.is_empty() && img.width().max(img.height()) > 1800 {
            let half = imageops::thumbnail(img, img.width() / 2, img.height() / 2);
            let (f, g) = decode_once(&binarise(&half));
            found = f;
            seen += g;
        }
    }
    (found, seen)
}

/// Further scales for a code that was seen but not read.
fn decode_rescaled(img: &GrayImage) -> Vec<String> {
    for scale in [0.75f32, 1.5, 0.6, 2.0, 0.5] {
        let w = (img.width() as f32 * scale).round() as u32;
        let h = (img.height() as f32 * scale).round() as u32;
        if w.max(h) > 6000 || w.min(h) < 100 {
            continue;
        }
        let scaled = imageops::resize(img, w, h, imageops::FilterType::Triangle);
        for candidate in [binarise(&scaled), scaled] {
            let (found, _) = decode_once(&candidate);
            if !found.is_empty() {
                return found;
            }
        }
    }
    Vec::new()
}

/// The payload to report: a blank-form payload if there is one, else the
/// first found.
pub fn pick_payload(found: &[String]) -> Option<String> {
    found
        .iter()
        .find(|p| p.starts_with(BLANK_FORM_PREFIX))
        .or_else(|| found.first())
        .cloned()
}

/// The blank form id in a payload (`JWF1:FX-20261127-0007` →
/// `FX-20261127-0007`).
pub fn form_id(payload: &str) -> Option<&str> {
    payload
        .strip_prefix(BLANK_FORM_PREFIX)
        .filter(|id| !id.is_empty())
}

/// The payloads read, and how many codes were seen (read or not).
fn decode_once(img: &GrayImage) -> (Vec<String>, usize) {
    let w = img.width() as usize;
    let raw = img.as_raw();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w, img.height() as usize, |x, y| {
            raw.get(y * w + x).copied().unwrap_or(255)
        });
    let grids = prepared.detect_grids();
    let seen = grids.len();
    let found = grids
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, text)| text))
        .collect();
    (found, seen)
}

fn binarise(img: &GrayImage) -> GrayImage {
    let mut hist = [0u64; 256];
    for v in img.as_raw() {
        hist[usize::from(*v)] += 1;
    }
    let t = analysis::otsu(&hist);
    let raw: Vec<u8> = img
        .as_raw()
        .iter()
        .map(|v| if *v > t { 255 } else { 0 })
        .collect();
    GrayImage::from_raw(img.width(), img.height(), raw)
        .unwrap_or_else(|| GrayImage::from_pixel(img.width(), img.height(), Luma([255])))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn payload_choice() {
        let v = vec!["https://x".to_string(), "JWF1:FX-1".to_string()];
        assert_eq!(pick_payload(&v).as_deref(), Some("JWF1:FX-1"));
        assert_eq!(form_id("JWF1:FX-1"), Some("FX-1"));
        assert_eq!(form_id("JWF1:"), None);
        assert_eq!(form_id("JW1:abc"), None);
        assert_eq!(pick_payload(&[]), None);
    }

    #[test]
    fn blank_page_has_no_qr() {
        let img = GrayImage::from_pixel(400, 560, Luma([250]));
        assert!(decode_qr(&img).is_empty());
    }
}
