//! QR codes on scanned pages: the project's blank forms carry
//! `JWF1:<form id>` (see `jingwu_slip::slip::BLANK_FORM_PREFIX`), which
//! matches the scan to the draft it was printed for.

use image::{imageops, GrayImage};

use crate::analysis;
use crate::geometry::Rect;

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
/// page as scanned (before it was turned and scaled: no interpolation
/// blur, more pixels per module), then to other scales.
///
/// Where the processed page showed no code at all, only the parts of the
/// scanned page that look like one ([`qr_candidates`]) are read, as is
/// and binarised; a page without any such part pays for the search only
/// (a few milliseconds). Where a code was seen but not read, the whole
/// scanned page gets every pass, then the processed page other scales.
pub fn decode_qr_with(img: &GrayImage, scanned: Option<&GrayImage>) -> Vec<String> {
    let (mut found, seen) = decode_passes(img);
    if found.is_empty() {
        if let Some(scanned) = scanned {
            found = if seen > 0 {
                decode_passes(scanned).0
            } else {
                decode_candidates(scanned)
            };
        }
        if found.is_empty() && seen > 0 {
            found = decode_rescaled(img);
        }
    }
    found.dedup();
    found
}

/// The payloads read in the [`qr_candidates`] of the page: each region
/// cut out, read as is, then binarised.
fn decode_candidates(img: &GrayImage) -> Vec<String> {
    let mut found = Vec::new();
    for r in qr_candidates(img) {
        let crop = imageops::crop_imm(img, r.x, r.y, r.width, r.height).to_image();
        let (mut f, _) = decode_once(&crop);
        if f.is_empty() {
            f = decode_once_binarised(&crop, otsu_threshold(&crop)).0;
        }
        found.extend(f);
    }
    found
}

/// The page is reduced for [`qr_candidates`] by the largest whole factor
/// that leaves at least this many pixels a millimetre (3–6; the page's
/// longer side taken as A4's 297 mm): about two pixels per module of
/// the smallest code printed (0.6–0.7-mm modules).
const FINDER_PX_PER_MM: usize = 3;
/// The window judged is this many cells a side …
const FINDER_WINDOW: usize = 7;
/// … and about this many millimetres: smaller than the smallest code (21
/// modules of 0.6 mm, 13 mm), so a window fits inside one.
const FINDER_WINDOW_MM: f32 = 8.0;
/// Fewest colour changes per pixel, across and down, in a window: a code
/// makes about half a change per module width, 0.12–0.25 a pixel for
/// 0.7-mm modules, 0.04–0.08 for the printed form's 1.9-mm ones; text
/// makes many too, a solid bar none across.
const FINDER_MIN_EDGES: f32 = 0.03;
/// Dark fraction of a window inside a code: about half, more in a finder
/// pattern.
const FINDER_DARK: std::ops::RangeInclusive<f32> = 0.3..=0.7;

/// Regions of the page (in its pixels) that may hold a QR code: on a copy
/// reduced by a whole factor to 3–6 pixels a millimetre (block means; the
/// page's longer side taken as A4's 297 mm) and binarised (Otsu, but at
/// least 48 levels below the paper), every window of about 8 × 8 mm with
/// many dark/light changes both across and down and 30–70 % dark;
/// overlapping windows joined, each region widened by a quarter of its
/// size (at least a window) on every side and clipped to the page;
/// overlapping regions merged. Blank paper (no changes), solid bars (too
/// dark, few changes across) and most text (too light) give none; a stamp
/// or a heading in large bold type may give one, which costs a small
/// decode. A page too small for one
/// window (under 8 mm or 14 px a side) is one region.
pub fn qr_candidates(img: &GrayImage) -> Vec<Rect> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let whole = Rect {
        x: 0,
        y: 0,
        width: img.width(),
        height: img.height(),
    };
    let px_per_mm = w.max(h) as f32 / 297.0;
    let k = (px_per_mm as usize / FINDER_PX_PER_MM).max(1);
    let cell =
        ((FINDER_WINDOW_MM * px_per_mm / k as f32 / FINDER_WINDOW as f32).round() as usize).max(2);
    let (sw, sh) = (w / k, h / k);
    let (gw, gh) = (sw / cell, sh / cell);
    if gw < FINDER_WINDOW || gh < FINDER_WINDOW {
        return if w == 0 || h == 0 {
            Vec::new()
        } else {
            vec![whole]
        };
    }
    let small = analysis::block_means::<1>(img.as_raw(), w, k);
    let hist = grey_histogram(&small);
    let t = analysis::otsu(&hist).min(analysis::paper_luma(&hist).saturating_sub(48));
    let dark: Vec<bool> = small.iter().map(|v| *v <= t).collect();

    // Per cell: dark pixels and changes to the right and downwards.
    let mut cells = vec![[0u32; 3]; gw * gh];
    for y in 0..gh * cell {
        let row = &dark[y * sw..(y + 1) * sw];
        let below = dark.get((y + 1) * sw..(y + 2) * sw);
        let cell_row = &mut cells[(y / cell) * gw..(y / cell + 1) * gw];
        for x in 0..gw * cell {
            let c = &mut cell_row[x / cell];
            let d = row[x];
            c[0] += u32::from(d);
            c[1] += u32::from(row.get(x + 1).is_some_and(|r| *r != d));
            c[2] += u32::from(below.is_some_and(|b| b[x] != d));
        }
    }
    // Summed-area table of the cells.
    let sw1 = gw + 1;
    let mut sat = vec![[0u32; 3]; sw1 * (gh + 1)];
    for cy in 0..gh {
        let mut run = [0u32; 3];
        for cx in 0..gw {
            let c = cells[cy * gw + cx];
            for i in 0..3 {
                run[i] += c[i];
                sat[(cy + 1) * sw1 + cx + 1][i] = sat[cy * sw1 + cx + 1][i] + run[i];
            }
        }
    }
    let n = ((FINDER_WINDOW * cell).pow(2)) as f32;
    let mut marked = vec![false; gw * gh];
    for cy in 0..=gh - FINDER_WINDOW {
        for cx in 0..=gw - FINDER_WINDOW {
            let (x1, y1) = (cx + FINDER_WINDOW, cy + FINDER_WINDOW);
            let sum = |i: usize| {
                (sat[y1 * sw1 + x1][i] + sat[cy * sw1 + cx][i]
                    - sat[cy * sw1 + x1][i]
                    - sat[y1 * sw1 + cx][i]) as f32
                    / n
            };
            if FINDER_DARK.contains(&sum(0))
                && sum(1) >= FINDER_MIN_EDGES
                && sum(2) >= FINDER_MIN_EDGES
            {
                for row in marked[cy * gw..y1 * gw].chunks_exact_mut(gw) {
                    row[cx..x1].fill(true);
                }
            }
        }
    }

    // Connected marked cells (8-neighbours): their bounding boxes, in
    // pixels of the page, widened.
    let px = cell * k;
    let mut regions: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut stack = Vec::new();
    for start in 0..marked.len() {
        if !marked[start] {
            continue;
        }
        marked[start] = false;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (gw, gh, 0, 0);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % gw, i / gw);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
            for ny in y.saturating_sub(1)..(y + 2).min(gh) {
                for nx in x.saturating_sub(1)..(x + 2).min(gw) {
                    if marked[ny * gw + nx] {
                        marked[ny * gw + nx] = false;
                        stack.push(ny * gw + nx);
                    }
                }
            }
        }
        let (x0, y0, x1, y1) = (x0 * px, y0 * px, x1 * px, y1 * px);
        let margin = ((x1 - x0).max(y1 - y0) / 4).max(FINDER_WINDOW * px);
        regions.push((
            x0.saturating_sub(margin),
            y0.saturating_sub(margin),
            (x1 + margin).min(w),
            (y1 + margin).min(h),
        ));
    }
    // Merge overlapping regions until none overlap.
    let mut merged = true;
    while merged {
        merged = false;
        'outer: for i in 0..regions.len() {
            for j in i + 1..regions.len() {
                let (a, b) = (regions[i], regions[j]);
                if a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3 {
                    regions[i] = (a.0.min(b.0), a.1.min(b.1), a.2.max(b.2), a.3.max(b.3));
                    regions.swap_remove(j);
                    merged = true;
                    break 'outer;
                }
            }
        }
    }
    regions
        .into_iter()
        .map(|(x0, y0, x1, y1)| Rect {
            x: x0 as u32,
            y: y0 as u32,
            width: (x1 - x0) as u32,
            height: (y1 - y0) as u32,
        })
        .collect()
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
    analysis::otsu(&grey_histogram(img.as_raw()))
}

/// Histogram of grey levels.
fn grey_histogram(pixels: &[u8]) -> [u64; 256] {
    let mut hist = [0u64; 256];
    for v in pixels {
        hist[usize::from(*v)] += 1;
    }
    hist
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

    /// A page `w` × `h` of paper (250) with ink (30) where `ink` says.
    fn page(w: u32, h: u32, ink: impl Fn(u32, u32) -> bool) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| Luma([if ink(x, y) { 30 } else { 250 }]))
    }

    /// Whether page pixel (x, y) is dark in `payload`'s code drawn with
    /// its top-left corner at (ox, oy), `module` px a module, turned
    /// `degrees` counter-clockwise about that corner.
    fn qr_ink(
        payload: &str,
        ox: f32,
        oy: f32,
        module: f32,
        degrees: f32,
    ) -> impl Fn(u32, u32) -> bool {
        let code = qrcode::QrCode::new(payload.as_bytes()).unwrap();
        let n = code.width() as i64;
        let colours = code.to_colors();
        let (sin, cos) = degrees.to_radians().sin_cos();
        move |x, y| {
            let (dx, dy) = (x as f32 - ox, y as f32 - oy);
            // Back into the code's own axes.
            let (u, v) = (dx * cos - dy * sin, dx * sin + dy * cos);
            let (mx, my) = ((u / module).floor() as i64, (v / module).floor() as i64);
            (0..n).contains(&mx)
                && (0..n).contains(&my)
                && colours[(my * n + mx) as usize] == qrcode::Color::Dark
        }
    }

    /// Lines of made-up characters: strokes 2 px wide in 24-px boxes
    /// (0.34 mm, 4 mm at 150 dpi), lines 56 px (9.5 mm) apart, from (x0, y0) over `cols` × `lines`.
    fn text_ink(x0: u32, y0: u32, cols: u32, lines: u32) -> impl Fn(u32, u32) -> bool {
        move |x, y| {
            if x < x0 || y < y0 {
                return false;
            }
            let (cx, cy) = ((x - x0) / 28, (y - y0) / 56);
            let (ix, iy) = ((x - x0) % 28, (y - y0) % 56);
            if cx >= cols || cy >= lines || ix >= 24 || iy >= 24 {
                return false;
            }
            let seed = (cx * 7919 + cy * 104_729).wrapping_mul(2_654_435_761);
            let across = [4 + seed % 5, 11 + (seed >> 5) % 4, 18 + (seed >> 9) % 4];
            let down = [3 + (seed >> 13) % 6, 12 + (seed >> 17) % 8];
            across
                .iter()
                .any(|a| iy >= *a && iy < a + 2 && ix > 1 && ix < 22)
                || down
                    .iter()
                    .any(|d| ix >= *d && ix < d + 2 && iy > 1 && iy < 23)
        }
    }

    fn covers(r: &Rect, x0: u32, y0: u32, x1: u32, y1: u32) -> bool {
        r.x <= x0 && r.y <= y0 && r.x + r.width >= x1 && r.y + r.height >= y1
    }

    fn area(rs: &[Rect], img: &GrayImage) -> f32 {
        rs.iter().map(|r| (r.width * r.height) as f32).sum::<f32>()
            / (img.width() * img.height()) as f32
    }

    /// An A4 page at 150 dpi: 1240 × 1754 px; a code of 0.7-mm (4-px)
    /// modules at (165 mm, 12 mm), as the corpus draws it.
    const A4: (u32, u32) = (1240, 1754);
    const PAYLOAD: &str = "JWF1:FX-20261127-0007";

    #[test]
    fn finds_a_code_on_a_blank_page() {
        for (module, at) in [
            (4.0, (975.0, 71.0)),
            (3.0, (600.0, 900.0)),
            (12.0, (100.0, 1200.0)),
        ] {
            let img = page(A4.0, A4.1, qr_ink(PAYLOAD, at.0, at.1, module, 0.0));
            let side = (module * qrcode::QrCode::new(PAYLOAD).unwrap().width() as f32) as u32;
            let (x0, y0) = (at.0 as u32, at.1 as u32);
            let found = qr_candidates(&img);
            assert_eq!(found.len(), 1, "{module}: {found:?}");
            assert!(
                covers(&found[0], x0, y0, x0 + side, y0 + side),
                "{module}: {found:?}"
            );
            // Margin enough for the quiet zone, yet a small part of the page.
            assert!(covers(
                &found[0],
                x0 - 2,
                y0 - 2,
                x0 + side + 2,
                y0 + side + 2
            ));
            assert!(area(&found, &img) < 0.15, "{found:?}");
        }
    }

    #[test]
    fn finds_a_code_among_text() {
        let qr = qr_ink(PAYLOAD, 975.0, 71.0, 4.0, 0.0);
        let text = text_ink(120, 200, 36, 25);
        let img = page(A4.0, A4.1, |x, y| qr(x, y) || text(x, y));
        let found = qr_candidates(&img);
        assert!(
            found.iter().any(|r| covers(r, 975, 71, 1075, 171)),
            "{found:?}"
        );
    }

    #[test]
    fn finds_a_turned_code() {
        for degrees in [-15.0f32, -4.0, 2.5, 12.0, 90.0] {
            let img = page(A4.0, A4.1, qr_ink(PAYLOAD, 600.0, 700.0, 4.0, degrees));
            let found = qr_candidates(&img);
            assert_eq!(found.len(), 1, "{degrees}°: {found:?}");
            // The turned code's corners.
            let (sin, cos) = degrees.to_radians().sin_cos();
            let s = 4.0 * qrcode::QrCode::new(PAYLOAD).unwrap().width() as f32;
            for (u, v) in [(0.0, 0.0), (s, 0.0), (0.0, s), (s, s)] {
                let x = (600.0 + u * cos + v * sin) as u32;
                let y = (700.0 - u * sin + v * cos) as u32;
                assert!(
                    covers(&found[0], x, y, x + 1, y + 1),
                    "{degrees}°: {x},{y} {found:?}"
                );
            }
        }
    }

    #[test]
    fn blank_text_and_bars_are_not_codes() {
        let blank = page(A4.0, A4.1, |_, _| false);
        assert!(qr_candidates(&blank).is_empty());
        // Paper with scanner noise.
        let mut seed = 7u32;
        let noisy = GrayImage::from_fn(A4.0, A4.1, |_, _| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            Luma([235 + (seed % 20) as u8])
        });
        assert!(qr_candidates(&noisy).is_empty());
        let bars = page(A4.0, A4.1, |x, y| {
            (100..1100).contains(&x) && (y % 300) < 120
        });
        assert!(
            qr_candidates(&bars).is_empty(),
            "{:?}",
            qr_candidates(&bars)
        );
        let text = page(A4.0, A4.1, text_ink(120, 200, 36, 30));
        let found = qr_candidates(&text);
        assert!(area(&found, &text) < 0.2, "{found:?}");
    }

    #[test]
    fn tiny_pages_are_one_region() {
        let img = GrayImage::from_pixel(12, 30, Luma([250]));
        assert_eq!(
            qr_candidates(&img),
            vec![Rect {
                x: 0,
                y: 0,
                width: 12,
                height: 30
            }]
        );
        assert!(qr_candidates(&GrayImage::new(0, 0)).is_empty());
    }

    #[test]
    fn the_scanned_page_is_read_where_a_code_may_be() {
        let processed = GrayImage::from_pixel(827, 1170, Luma([250]));
        let scanned = page(A4.0, A4.1, qr_ink(PAYLOAD, 975.0, 71.0, 4.0, 0.0));
        assert_eq!(
            decode_qr_with(&processed, Some(&scanned)),
            vec![PAYLOAD.to_string()]
        );
        let blank = page(A4.0, A4.1, |_, _| false);
        assert!(decode_qr_with(&processed, Some(&blank)).is_empty());
    }

    #[test]
    fn blank_page_has_no_qr() {
        let img = GrayImage::from_pixel(400, 560, Luma([250]));
        assert!(decode_qr(&img).is_empty());
    }
}
