//! QR codes on scanned pages: the project's blank forms carry
//! `JWF1:<form id>` (see `jingwu_slip::slip::BLANK_FORM_PREFIX`), which
//! matches the scan to the draft it was printed for.

use image::{imageops, GrayImage};

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
        let (f, g) = decode_once_binarised(img, otsu_threshold(img));
        found = f;
        seen += g;
        if found.is_empty() && img.width().max(img.height()) > 1800 {
            let half = imageops::thumbnail(img, img.width() / 2, img.height() / 2);
            let (f, g) = decode_once_binarised(&half, otsu_threshold(&half));
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
        let (found, _) = decode_once_binarised(&scaled, otsu_threshold(&scaled));
        if !found.is_empty() {
            return found;
        }
        let (found, _) = decode_once(&scaled);
        if !found.is_empty() {
            return found;
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
    decode_bitmap(img.width() as usize, &threshold(img, |v| v))
}

/// [`decode_once`] on the picture binarised at `t` (dark: `v <= t`),
/// without a binarised copy.
fn decode_once_binarised(img: &GrayImage, t: u8) -> (Vec<String>, usize) {
    decode_bitmap(
        img.width() as usize,
        &threshold(img, |v| if v > t { 255 } else { 0 }),
    )
}

/// Runs rqrr's detector and decoder on a thresholded picture (`true` =
/// black).
fn decode_bitmap(w: usize, black: &[bool]) -> (Vec<String>, usize) {
    if w == 0 || black.is_empty() {
        return (Vec::new(), 0);
    }
    let h = black.len() / w;
    let mut prepared = rqrr::PreparedImage::prepare_from_bitmap(w, h, |x, y| {
        black.get(y * w + x).copied().unwrap_or(false)
    });
    let grids = prepared.detect_grids();
    let seen = grids.len();
    let found = grids
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, text)| text))
        .collect();
    (found, seen)
}

/// rqrr's adaptive threshold (`PreparedImage::prepare`, the one
/// `prepare_from_greyscale` applies), bit for bit, on `map` of each
/// pixel: a running average over `w / 8` pixels, run along each row in
/// both directions (serpentine, carried from row to row), and a pixel is
/// black below 95 % of the mean of the two. rqrr divides by the window
/// length three times per pixel (a 64-bit division each, most of its
/// time on a page); here the same quotients come from a multiplication.
fn threshold(img: &GrayImage, map: impl Fn(u8) -> u8) -> Vec<bool> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut black = vec![false; w * h];
    if w == 0 || h == 0 {
        return black;
    }
    let s = (w / 8).max(1) as u64;
    let by_s = Divisor::new(s);
    let by_200s = Divisor::new(200 * s);
    let lut: Vec<u64> = (0..=255u8).map(|v| u64::from(map(v))).collect();
    let mut row_average = vec![0u64; w];
    let mut line = vec![0u64; w];
    let (mut avg_v, mut avg_u) = (0u64, 0u64);
    for ((y, row), out) in img
        .as_raw()
        .chunks_exact(w)
        .enumerate()
        .zip(black.chunks_exact_mut(w))
    {
        for (l, v) in line.iter_mut().zip(row) {
            *l = lut[usize::from(*v)];
        }
        row_average.fill(0);
        // Even rows: v runs right to left, u left to right; odd rows the
        // other way round.
        let even = y % 2 == 0;
        for x in 0..w {
            let (v, u) = if even { (w - 1 - x, x) } else { (x, w - 1 - x) };
            avg_v = by_s.div(avg_v * (s - 1)) + line[v];
            avg_u = by_s.div(avg_u * (s - 1)) + line[u];
            row_average[v] += avg_v;
            row_average[u] += avg_u;
        }
        for ((o, l), a) in out.iter_mut().zip(&line).zip(&row_average) {
            *o = *l < by_200s.div(a * 95);
        }
    }
    black
}

/// Division by a fixed divisor through a multiplication: `n / d` equals
/// `n × ⌈2^64 / d⌉ / 2^64` (rounded down) for every `n < 2^32` and
/// `1 < d < 2^32` (Lemire, Kaser & Kurz 2019). Other numerators and
/// divisors are divided.
#[derive(Debug, Clone, Copy)]
struct Divisor {
    d: u64,
    /// ⌈2^64 / d⌉; 0 when `d` is 1 or too large for the multiplication.
    m: u64,
}

impl Divisor {
    fn new(d: u64) -> Self {
        let d = d.max(1);
        let m = if d > 1 && d >> 32 == 0 {
            u64::MAX / d + 1
        } else {
            0
        };
        Divisor { d, m }
    }

    #[inline]
    fn div(self, n: u64) -> u64 {
        if n >> 32 == 0 && self.m != 0 {
            ((u128::from(n) * u128::from(self.m)) >> 64) as u64
        } else {
            n / self.d
        }
    }
}

/// Otsu's threshold of the picture: [`decode_once_binarised`] makes
/// `v > t` white.
fn otsu_threshold(img: &GrayImage) -> u8 {
    let mut hist = [0u64; 256];
    for v in img.as_raw() {
        hist[usize::from(*v)] += 1;
    }
    analysis::otsu(&hist)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use image::Luma;

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

    /// rqrr's own preparation, pixel by pixel (`true` = black).
    fn rqrr_threshold(img: &GrayImage) -> Vec<bool> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
            img.get_pixel(x as u32, y as u32).0[0]
        });
        (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| format!("{:?}", prepared.get_pixel_at(x, y)) == "Black")
            .collect()
    }

    #[test]
    fn threshold_is_rqrrs_bit_for_bit() {
        let mut seed = 99u32;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for (w, h) in [(1, 1), (7, 5), (16, 9), (203, 61), (1654, 40)] {
            let noise = GrayImage::from_fn(w, h, |_, _| Luma([(rand() >> 24) as u8]));
            let text = GrayImage::from_fn(w, h, |x, y| {
                if (x / 3 + y / 5) % 4 == 0 || (x * 7 + y) % 31 < 4 {
                    Luma([(20 + rand() % 40) as u8])
                } else {
                    Luma([(200 + rand() % 56) as u8])
                }
            });
            for img in [noise, text] {
                assert_eq!(threshold(&img, |v| v), rqrr_threshold(&img), "{w}x{h}");
                let t = otsu_threshold(&img);
                let bin = GrayImage::from_fn(w, h, |x, y| {
                    Luma([if img.get_pixel(x, y).0[0] > t { 255 } else { 0 }])
                });
                assert_eq!(
                    threshold(&img, |v| if v > t { 255 } else { 0 }),
                    rqrr_threshold(&bin)
                );
            }
        }
    }

    #[test]
    fn division_by_multiplication_is_exact() {
        for d in [1u64, 2, 3, 4, 7, 200, 206, 310, 1499, 41_400, 299_800] {
            let div = Divisor::new(d);
            for n in (0..5000u64).chain([u64::from(u32::MAX), 1 << 32, 1 << 40, 123_456_789_012]) {
                assert_eq!(div.div(n), n / d, "{n} / {d}");
            }
            for k in 1..2000u64 {
                let n = k * d;
                assert_eq!(div.div(n - 1), (n - 1) / d);
                assert_eq!(div.div(n), k);
            }
        }
    }

    #[test]
    fn blank_page_has_no_qr() {
        let img = GrayImage::from_pixel(400, 560, Luma([250]));
        assert!(decode_qr(&img).is_empty());
    }
}
