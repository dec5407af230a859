//! Red-stamp check: is a round red seal impression on the page, and where.
//!
//! 1. Red pixels: red clearly above green and blue (seal ink, also when
//!    faded to pink or printed over black text).
//! 2. The red mask is reduced by max-pooling into blocks of about 0.5 mm
//!    (thin ring strokes survive), dilated by one block, and split into
//!    8-connected components.
//! 3. A component is a seal when it is about round (bounding box aspect
//!    0.7–1.4), of seal size (18–75 mm across, assuming an A4 page — the
//!    village committee seals are 38–45 mm), and ring-like: red pixels
//!    lie in the outer band (0.75–1.06 of the radius) in at least 70 % of
//!    64 angular sectors, while red covers under 60 % of the box (a red
//!    disc or filled rectangle is not a seal).
//!
//! Red handwriting, a red printed header or a red line fail the ring test.

use image::RgbImage;
use serde::Serialize;

use crate::geometry::Rect;

/// Warning shown when no seal is found.
pub const NO_STAMP_WARNING: &str = "未检测到村（居）委会印章";

/// Result of [`detect_stamp`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stamp {
    pub present: bool,
    /// Bounding box of the best seal, in the output page's pixels.
    pub bbox: Option<Rect>,
    /// Ring coverage of the best candidate (0–1).
    pub score: f32,
}

/// Seal ink: red well above green and blue.
#[inline]
pub fn is_seal_red(p: [u8; 3]) -> bool {
    let [r, g, b] = p.map(i32::from);
    r >= 110 && r - g >= 50 && r - b >= 40 && (r - g.max(b)) * 100 >= 25 * r
}

/// Looks for a round red seal on an A4 page (any resolution).
pub fn detect_stamp(img: &RgbImage) -> Stamp {
    let (w, h) = img.dimensions();
    let none = Stamp {
        present: false,
        bbox: None,
        score: 0.0,
    };
    if w < 32 || h < 32 {
        return none;
    }
    let mm_per_px = 210.0 / w.min(h) as f32;
    let block = ((0.5 / mm_per_px).round() as u32).max(1);
    let (bw, bh) = (w.div_ceil(block) as usize, h.div_ceil(block) as usize);
    let red: Vec<bool> = img
        .as_raw()
        .chunks_exact(3)
        .map(|p| is_seal_red([p[0], p[1], p[2]]))
        .collect();
    let mut pooled = vec![false; bw * bh];
    for (i, r) in red.iter().enumerate() {
        if *r {
            let (x, y) = (i as u32 % w, i as u32 / w);
            pooled[(y / block) as usize * bw + (x / block) as usize] = true;
        }
    }
    let mut grown = vec![false; bw * bh];
    for y in 0..bh {
        for x in 0..bw {
            if pooled[y * bw + x] {
                for yy in y.saturating_sub(1)..(y + 2).min(bh) {
                    for xx in x.saturating_sub(1)..(x + 2).min(bw) {
                        grown[yy * bw + xx] = true;
                    }
                }
            }
        }
    }
    let mut seen = vec![false; bw * bh];
    let mut best = none;
    let mut stack = Vec::new();
    for start in 0..bw * bh {
        if !grown[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % bw, i / bw);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
            for yy in y.saturating_sub(1)..(y + 2).min(bh) {
                for xx in x.saturating_sub(1)..(x + 2).min(bw) {
                    let j = yy * bw + xx;
                    if grown[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        // Back to pixels; the dilation added one block on each side.
        let b = block as usize;
        let px0 = ((x0 + 1) * b).min(w as usize);
        let py0 = ((y0 + 1) * b).min(h as usize);
        let px1 = (x1 * b).min(w as usize);
        let py1 = (y1 * b).min(h as usize);
        if px1 <= px0 || py1 <= py0 {
            continue;
        }
        let (cw, ch) = ((px1 - px0) as f32, (py1 - py0) as f32);
        let size_mm = cw.max(ch) * mm_per_px;
        let aspect = cw / ch;
        if !(18.0..=75.0).contains(&size_mm) || !(0.7..=1.43).contains(&aspect) {
            continue;
        }
        let score = ring_score(&red, w as usize, (px0, py0, px1, py1));
        if score > best.score {
            best = Stamp {
                present: score >= 0.7,
                bbox: Some(Rect {
                    x: px0 as u32,
                    y: py0 as u32,
                    width: (px1 - px0) as u32,
                    height: (py1 - py0) as u32,
                }),
                score,
            };
        }
    }
    if !best.present {
        best.bbox = None;
    }
    best
}

/// Fraction of 64 angular sectors with red in the outer band of the box's
/// inscribed circle; 0 when red fills too much of the box.
fn ring_score(red: &[bool], w: usize, (x0, y0, x1, y1): (usize, usize, usize, usize)) -> f32 {
    const SECTORS: usize = 64;
    let cx = (x0 + x1) as f32 / 2.0;
    let cy = (y0 + y1) as f32 / 2.0;
    let radius = ((x1 - x0) + (y1 - y0)) as f32 / 4.0;
    let (lo, hi) = ((radius * 0.75).powi(2), (radius * 1.06).powi(2));
    let mut sectors = [false; SECTORS];
    let mut count = 0usize;
    for y in y0..y1 {
        for x in x0..x1 {
            if !red[y * w + x] {
                continue;
            }
            count += 1;
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let d2 = dx * dx + dy * dy;
            if d2 >= lo && d2 <= hi {
                let a = dy.atan2(dx) + std::f32::consts::PI;
                let s = ((a / std::f32::consts::TAU) * SECTORS as f32) as usize;
                sectors[s.min(SECTORS - 1)] = true;
            }
        }
    }
    let area = ((x1 - x0) * (y1 - y0)) as f32;
    if count as f32 > area * 0.6 {
        return 0.0;
    }
    sectors.iter().filter(|s| **s).count() as f32 / SECTORS as f32
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use image::Rgb;

    use super::*;

    const PAPER: Rgb<u8> = Rgb([250, 250, 248]);
    const RED: Rgb<u8> = Rgb([216, 30, 36]);

    /// A4 at 100 dpi.
    fn page() -> RgbImage {
        RgbImage::from_pixel(827, 1169, PAPER)
    }

    /// Ring of radius `r` px, 2 px wide, with a filled star-ish blob.
    fn draw_seal(img: &mut RgbImage, cx: f32, cy: f32, r: f32, colour: Rgb<u8>) {
        for y in 0..img.height() {
            for x in 0..img.width() {
                let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                if (r - 3.0..=r).contains(&d) || d < r * 0.25 {
                    img.put_pixel(x, y, colour);
                }
            }
        }
    }

    #[test]
    fn round_red_seal_is_found_with_its_box() {
        let mut img = page();
        // 42 mm seal at 100 dpi: radius ≈ 82 px.
        draw_seal(&mut img, 600.0, 900.0, 82.0, RED);
        let s = detect_stamp(&img);
        assert!(s.present, "{s:?}");
        let b = s.bbox.unwrap();
        assert!(
            (510..=522).contains(&b.x) && (810..=822).contains(&b.y),
            "{b:?}"
        );
        assert!((158..=172).contains(&b.width), "{b:?}");
    }

    #[test]
    fn faded_pink_seal_counts() {
        let mut img = page();
        draw_seal(&mut img, 300.0, 300.0, 80.0, Rgb([235, 130, 135]));
        assert!(detect_stamp(&img).present);
    }

    #[test]
    fn no_seal_red_text_or_black_ring_is_absent() {
        let mut img = page();
        assert!(!detect_stamp(&img).present);
        // Red rectangle outline and a red underline: not round rings.
        for x in 100..700 {
            img.put_pixel(x, 200, RED);
            img.put_pixel(x, 201, RED);
        }
        for y in 400..560 {
            for x in 100..260 {
                if !(103..257).contains(&x) || !(403..557).contains(&y) {
                    img.put_pixel(x, y, RED);
                }
            }
        }
        // A filled red disc.
        draw_seal(&mut img, 500.0, 480.0, 80.0, RED);
        for y in 400..560 {
            for x in 420..580 {
                let d = ((x as f32 - 500.0).powi(2) + (y as f32 - 480.0).powi(2)).sqrt();
                if d < 80.0 {
                    img.put_pixel(x, y, RED);
                }
            }
        }
        // A black ring.
        draw_seal(&mut img, 400.0, 900.0, 82.0, Rgb([20, 20, 20]));
        let s = detect_stamp(&img);
        assert!(!s.present, "{s:?}");
        assert_eq!(s.bbox, None);
    }

    #[test]
    fn tiny_and_huge_red_circles_are_not_seals() {
        let mut img = page();
        draw_seal(&mut img, 200.0, 200.0, 20.0, RED);
        draw_seal(&mut img, 420.0, 700.0, 380.0, RED);
        assert!(!detect_stamp(&img).present);
    }
}
