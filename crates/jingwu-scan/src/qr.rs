//! QR codes on scanned pages: the project's blank forms carry
//! `JWF1:<form id>` (see `jingwu_slip::slip::BLANK_FORM_PREFIX`), which
//! matches the scan to the draft it was printed for.

use image::{imageops, GrayImage, Luma};

use crate::analysis;

/// Prefix of a blank form's QR payload.
pub const BLANK_FORM_PREFIX: &str = "JWF1:";

/// Every QR payload found on the page. Tries the picture as is, then
/// binarised (Otsu), then at half size for large pages — scanner noise
/// and JPEG ringing defeat the detector now and then.
pub fn decode_qr(img: &GrayImage) -> Vec<String> {
    let mut found = decode_once(img);
    if found.is_empty() {
        let bin = binarise(img);
        found = decode_once(&bin);
        if found.is_empty() && img.width().max(img.height()) > 1800 {
            let half = imageops::thumbnail(img, img.width() / 2, img.height() / 2);
            found = decode_once(&binarise(&half));
        }
    }
    found.dedup();
    found
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

fn decode_once(img: &GrayImage) -> Vec<String> {
    let w = img.width() as usize;
    let raw = img.as_raw();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w, img.height() as usize, |x, y| {
            raw.get(y * w + x).copied().unwrap_or(255)
        });
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, text)| text))
        .collect()
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
