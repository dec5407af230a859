//! Rotating, cropping scanner borders and normalising resolution.

use image::{imageops, Rgb, RgbImage};
use serde::Serialize;

use crate::analysis;

/// An axis-aligned rectangle in pixels (origin top left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// Rotates the picture counter-clockwise (as seen on screen) by `degrees`
/// about its centre, keeping its size; bilinear; uncovered areas take
/// `fill`. `rotate(img, -a, …)` undoes a page scanned `a` degrees
/// counter-clockwise.
pub fn rotate(img: &RgbImage, degrees: f32, fill: Rgb<u8>) -> RgbImage {
    let (w, h) = img.dimensions();
    if degrees == 0.0 || w == 0 || h == 0 {
        return img.clone();
    }
    // 16.16 fixed point: the source position advances by (cos, sin) per
    // destination pixel; the bilinear weights are its top 8 fraction bits.
    const ONE: f64 = 65536.0;
    let (s, c) = f64::from(degrees).to_radians().sin_cos();
    let cx = (f64::from(w) - 1.0) / 2.0;
    let cy = (f64::from(h) - 1.0) / 2.0;
    let (c16, s16) = ((c * ONE).round() as i64, (s * ONE).round() as i64);
    let src = img.as_raw();
    let (wi, hi) = (i64::from(w), i64::from(h));
    let stride = w as usize * 3;
    let mut out = vec![0u8; src.len()];
    for (y, row) in out.chunks_exact_mut(stride).enumerate() {
        let dy = y as f64 - cy;
        // Inverse map: destination (dx, dy) comes from the source point
        // rotated clockwise by the angle.
        let mut sx = ((-c * cx - s * dy + cx) * ONE).round() as i64;
        let mut sy = ((-s * cx + c * dy + cy) * ONE).round() as i64;
        for px in row.chunks_exact_mut(3) {
            let (x0, y0) = (sx >> 16, sy >> 16);
            let fx = ((sx >> 8) & 0xFF) as u32;
            let fy = ((sy >> 8) & 0xFF) as u32;
            if x0 >= 0 && y0 >= 0 && x0 + 1 < wi && y0 + 1 < hi {
                let i = y0 as usize * stride + x0 as usize * 3;
                // One bounds check per source row instead of one per
                // channel and tap (this loop is the pipeline's hottest).
                let (Some(a), Some(b)) = (src.get(i..i + 6), src.get(i + stride..i + stride + 6))
                else {
                    px.copy_from_slice(&fill.0);
                    sx += c16;
                    sy += s16;
                    continue;
                };
                let (wx0, wy0) = (256 - fx, 256 - fy);
                let mix = |k: usize| {
                    let top = u32::from(a[k]) * wx0 + u32::from(a[k + 3]) * fx;
                    let bot = u32::from(b[k]) * wx0 + u32::from(b[k + 3]) * fx;
                    ((top * wy0 + bot * fy + 32768) >> 16) as u8
                };
                px[0] = mix(0);
                px[1] = mix(1);
                px[2] = mix(2);
            } else if x0 >= -1 && y0 >= -1 && x0 < wi && y0 < hi {
                // Edge: blend with the fill colour.
                let get = |x: i64, y: i64, k: usize| -> u32 {
                    if x >= 0 && y >= 0 && x < wi && y < hi {
                        u32::from(src[y as usize * stride + x as usize * 3 + k])
                    } else {
                        u32::from(fill.0[k])
                    }
                };
                for (k, v) in px.iter_mut().enumerate() {
                    let top = get(x0, y0, k) * (256 - fx) + get(x0 + 1, y0, k) * fx;
                    let bot = get(x0, y0 + 1, k) * (256 - fx) + get(x0 + 1, y0 + 1, k) * fx;
                    *v = ((top * (256 - fy) + bot * fy + 32768) >> 16) as u8;
                }
            } else {
                px.copy_from_slice(&fill.0);
            }
            sx += c16;
            sy += s16;
        }
    }
    RgbImage::from_raw(w, h, out).unwrap_or_else(|| img.clone())
}

/// Finds the paper inside scanner borders: the rows and columns mostly
/// outside [`analysis::border_mask`]. `None` when there is nothing to
/// crop (or the "paper" would be implausibly small).
pub fn find_paper(img: &RgbImage) -> Option<Rect> {
    let (small, scale) = analysis::shrink(img, 800);
    let (w, h) = (small.width() as usize, small.height() as usize);
    if w < 8 || h < 8 {
        return None;
    }
    let paper = analysis::paper_luma(&analysis::histogram(&small));
    let mask = analysis::border_mask(&small, paper);
    let row_frac: Vec<f32> = (0..h)
        .map(|y| mask[y * w..(y + 1) * w].iter().filter(|m| !**m).count() as f32 / w as f32)
        .collect();
    let best_row = row_frac.iter().copied().fold(0.0f32, f32::max);
    let top = row_frac.iter().position(|f| *f > best_row * 0.5)?;
    let bottom = row_frac.iter().rposition(|f| *f > best_row * 0.5)?;
    let col_frac: Vec<f32> = (0..w)
        .map(|x| {
            (top..=bottom).filter(|y| !mask[y * w + x]).count() as f32 / (bottom - top + 1) as f32
        })
        .collect();
    let best_col = col_frac.iter().copied().fold(0.0f32, f32::max);
    let left = col_frac.iter().position(|f| *f > best_col * 0.5)?;
    let right = col_frac.iter().rposition(|f| *f > best_col * 0.5)?;
    // One reduced pixel inside, so the blended edge goes too.
    let (iw, ih) = (img.width() as f32, img.height() as f32);
    let x0 = if left > 0 {
        (left + 1) as f32 * scale
    } else {
        0.0
    };
    let y0 = if top > 0 {
        (top + 1) as f32 * scale
    } else {
        0.0
    };
    let x1 = if right + 1 < w {
        right as f32 * scale
    } else {
        iw
    };
    let y1 = if bottom + 1 < h {
        bottom as f32 * scale
    } else {
        ih
    };
    let (x0, y0) = (x0.round().max(0.0), y0.round().max(0.0));
    let (x1, y1) = (x1.round().min(iw), y1.round().min(ih));
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let rect = Rect {
        x: x0 as u32,
        y: y0 as u32,
        width: (x1 - x0) as u32,
        height: (y1 - y0) as u32,
    };
    let area = f64::from(rect.width) * f64::from(rect.height);
    let whole = f64::from(img.width()) * f64::from(img.height());
    if area >= whole * 0.995 || area < whole * 0.25 {
        return None;
    }
    Some(rect)
}

/// Cuts `rect` out of the picture (clamped to it).
pub fn crop(img: &RgbImage, rect: Rect) -> RgbImage {
    let x = rect.x.min(img.width());
    let y = rect.y.min(img.height());
    let w = rect.width.min(img.width() - x);
    let h = rect.height.min(img.height() - y);
    imageops::crop_imm(img, x, y, w, h).to_image()
}

/// Crops scanner borders ([`find_paper`] then [`crop`]); returns the
/// rectangle kept, if any was cut.
pub fn crop_borders(img: RgbImage) -> (RgbImage, Option<Rect>) {
    match find_paper(&img) {
        Some(rect) => (crop(&img, rect), Some(rect)),
        None => (img, None),
    }
}

/// Paints what is left of the scanner background after cropping — the
/// corners of a skewed page that lay outside the scan area, a lid shadow
/// along one edge — in the paper's colour. Only background connected to
/// the edge is touched (one reduced pixel around it too, for the blended
/// rim); nothing is done when it would cover more than a third of the
/// page.
pub fn fill_border(mut img: RgbImage) -> RgbImage {
    let (small, k) = analysis::shrink(&img, 800);
    let (sw, sh) = (small.width() as usize, small.height() as usize);
    if sw < 4 || sh < 4 {
        return img;
    }
    let paper = analysis::paper_luma(&analysis::histogram(&small));
    let mask = analysis::border_mask(&small, paper);
    let n = mask.iter().filter(|m| **m).count();
    if n == 0 || n * 3 > sw * sh {
        return img;
    }
    let colour = analysis::paper_colour(&small, paper).0;
    let k = k as usize;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw: &mut [u8] = &mut img;
    for by in 0..sh {
        for bx in 0..sw {
            let near = (by.saturating_sub(1)..(by + 2).min(sh))
                .any(|y| (bx.saturating_sub(1)..(bx + 2).min(sw)).any(|x| mask[y * sw + x]));
            if !near {
                continue;
            }
            // The last block row / column also covers the remainder that
            // shrinking dropped.
            let x1 = if bx + 1 == sw { w } else { (bx + 1) * k };
            let y1 = if by + 1 == sh { h } else { (by + 1) * k };
            for y in by * k..y1.min(h) {
                for x in bx * k..x1.min(w) {
                    let i = (y * w + x) * 3;
                    raw[i..i + 3].copy_from_slice(&colour);
                }
            }
        }
    }
    img
}

/// Pixel size of an A4 page at `dpi` (portrait): 1654×2339 at 200 dpi.
pub fn a4_pixels(dpi: u32) -> (u32, u32) {
    let px = |mm: f64| (mm / 25.4 * f64::from(dpi)).round() as u32;
    (px(210.0), px(297.0))
}

/// Scales the page down so that it fits an A4 page at `dpi` (turned
/// landscape for landscape pages), keeping the aspect ratio. Smaller
/// pages are left as they are: enlarging invents no detail and only
/// grows the file.
pub fn normalise(img: RgbImage, dpi: u32) -> RgbImage {
    let (bw, bh) = a4_pixels(dpi);
    let (w, h) = img.dimensions();
    let (bw, bh) = if w > h { (bh, bw) } else { (bw, bh) };
    if w <= bw && h <= bh {
        return img;
    }
    let f = (bw as f32 / w as f32).min(bh as f32 / h as f32);
    let nw = ((w as f32 * f).round() as u32).clamp(1, bw);
    let nh = ((h as f32 * f).round() as u32).clamp(1, bh);
    resize_area(&img, nw, nh)
}

/// Shrinks by area averaging: each output pixel is the mean of the source
/// area it covers (fractional edges weighted) — the right filter for
/// shrinking text, and fast: two separable fixed-point passes. Only for
/// shrinking (`nw ≤ w`, `nh ≤ h`); larger targets are clamped.
pub fn resize_area(img: &RgbImage, nw: u32, nh: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let (nw, nh) = (nw.clamp(1, w.max(1)), nh.clamp(1, h.max(1)));
    if (nw, nh) == (w, h) || w == 0 || h == 0 {
        return img.clone();
    }
    let (w, h, nw, nh) = (w as usize, h as usize, nw as usize, nh as usize);
    let xs = area_weights(w, nw);
    let ys = area_weights(h, nh);
    let src = img.as_raw();
    // Horizontal pass: values × 256 in u16.
    let mut mid = vec![0u16; nw * h * 3];
    for (row, out) in src.chunks_exact(w * 3).zip(mid.chunks_exact_mut(nw * 3)) {
        for ((start, weights), o) in xs.iter().zip(out.chunks_exact_mut(3)) {
            let mut acc = [0u32; 3];
            for (i, wt) in weights.iter().enumerate() {
                let p = &row[(start + i) * 3..(start + i) * 3 + 3];
                for k in 0..3 {
                    acc[k] += u32::from(p[k]) * wt;
                }
            }
            for k in 0..3 {
                o[k] = ((acc[k] + 32) >> 6) as u16;
            }
        }
    }
    // Vertical pass.
    let mut out = vec![0u8; nw * nh * 3];
    let mut acc = vec![0u32; nw * 3];
    for ((start, weights), orow) in ys.iter().zip(out.chunks_exact_mut(nw * 3)) {
        acc.iter_mut().for_each(|a| *a = 0);
        for (j, wt) in weights.iter().enumerate() {
            let mrow = &mid[(start + j) * nw * 3..(start + j + 1) * nw * 3];
            for (a, m) in acc.iter_mut().zip(mrow) {
                *a += u32::from(*m) * wt;
            }
        }
        for (o, a) in orow.iter_mut().zip(&acc) {
            *o = ((a + (1 << 21)) >> 22) as u8;
        }
    }
    RgbImage::from_raw(nw as u32, nh as u32, out).unwrap_or_else(|| img.clone())
}

/// For each of `m` output pixels over `n` source pixels: the first source
/// pixel and the weights (summing to 2^14) of the pixels it covers.
fn area_weights(n: usize, m: usize) -> Vec<(usize, Vec<u32>)> {
    let step = n as f64 / m as f64;
    (0..m)
        .map(|o| {
            let (a, b) = (o as f64 * step, ((o + 1) as f64 * step).min(n as f64));
            let first = a.floor() as usize;
            let last = (b.ceil() as usize).clamp(first + 1, n);
            let mut weights: Vec<u32> = (first..last)
                .map(|i| {
                    let overlap = b.min(i as f64 + 1.0) - a.max(i as f64);
                    (overlap.max(0.0) / (b - a) * 16384.0).round() as u32
                })
                .collect();
            let sum: u32 = weights.iter().sum();
            if let Some(big) = weights.iter_mut().max() {
                *big = (*big + 16384).saturating_sub(sum);
            }
            (first, weights)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const WHITE: Rgb<u8> = Rgb([255, 255, 255]);

    #[test]
    fn rotation_direction_and_inverse() {
        // A dark dot right of centre moves up (counter-clockwise) when
        // rotated by +90°.
        let mut img = RgbImage::from_pixel(101, 101, WHITE);
        for y in 48..53 {
            for x in 78..83 {
                img.put_pixel(x, y, Rgb([0, 0, 0]));
            }
        }
        let r = rotate(&img, 90.0, WHITE);
        assert_eq!(r.get_pixel(50, 20).0, [0, 0, 0]);
        assert_eq!(r.get_pixel(80, 50).0, [255, 255, 255]);
        let back = rotate(&r, -90.0, WHITE);
        assert_eq!(back.get_pixel(80, 50).0, [0, 0, 0]);
        // Small angle: the dot rises slightly.
        let r = rotate(&img, 10.0, WHITE);
        let y = (0..101).find(|y| r.get_pixel(80, *y).0[0] < 128);
        assert!(y.is_some_and(|y| y < 48), "{y:?}");
    }

    #[test]
    fn rotation_fills_corners() {
        let img = RgbImage::from_pixel(60, 80, WHITE);
        let r = rotate(&img, 20.0, Rgb([10, 20, 30]));
        assert_eq!(r.dimensions(), (60, 80));
        assert_eq!(r.get_pixel(0, 0).0, [10, 20, 30]);
        assert_eq!(r.get_pixel(30, 40).0, [255, 255, 255]);
    }

    #[test]
    fn dark_borders_are_cropped() {
        let img = RgbImage::from_fn(400, 560, |x, y| {
            if (30..370).contains(&x) && (40..530).contains(&y) {
                if (100..300).contains(&x) && y % 20 < 4 && (80..480).contains(&y) {
                    Rgb([30, 30, 30])
                } else {
                    Rgb([245, 244, 240])
                }
            } else {
                Rgb([25, 25, 28])
            }
        });
        let rect = find_paper(&img).unwrap();
        assert!((30..=33).contains(&rect.x), "{rect:?}");
        assert!((40..=43).contains(&rect.y), "{rect:?}");
        assert!((334..=340).contains(&rect.width), "{rect:?}");
        assert!((484..=490).contains(&rect.height), "{rect:?}");
        let (c, r) = crop_borders(img);
        assert_eq!(Some(rect), r);
        // No dark pixel left on the edges.
        for x in 0..c.width() {
            assert!(analysis::luma(*c.get_pixel(x, 0)) > 200);
            assert!(analysis::luma(*c.get_pixel(x, c.height() - 1)) > 200);
        }
    }

    #[test]
    fn leftover_corners_are_painted_paper() {
        // Paper with a dark triangle in the top-left corner (a skewed
        // page's corner that was outside the scan area) and text.
        let img = RgbImage::from_fn(300, 420, |x, y| {
            if x + y < 60 {
                Rgb([25, 25, 25])
            } else if (100..200).contains(&x) && y % 30 < 4 && (50..380).contains(&y) {
                Rgb([20, 20, 20])
            } else {
                Rgb([240, 238, 232])
            }
        });
        let out = fill_border(img);
        assert!(analysis::luma(*out.get_pixel(0, 0)) > 220);
        assert!(analysis::luma(*out.get_pixel(20, 20)) > 220);
        // Text untouched.
        assert_eq!(out.get_pixel(150, 61).0, [20, 20, 20]);
    }

    #[test]
    fn clean_page_is_not_cropped() {
        let img = RgbImage::from_fn(300, 420, |x, y| {
            if y % 30 < 3 && (20..280).contains(&x) && (20..400).contains(&y) {
                Rgb([0, 0, 0])
            } else {
                WHITE
            }
        });
        assert_eq!(find_paper(&img), None);
    }

    #[test]
    fn area_resize_averages() {
        let img = RgbImage::from_fn(9, 6, |x, y| Rgb([(x * 20) as u8, (y * 30) as u8, 77]));
        let r = resize_area(&img, 3, 2);
        assert_eq!(r.dimensions(), (3, 2));
        // Top-left output = mean of the 3×3 block: x 0..3, y 0..3.
        assert_eq!(r.get_pixel(0, 0).0, [20, 30, 77]);
        assert_eq!(r.get_pixel(2, 1).0, [140, 120, 77]);
        // Fractional: 3 → 2 pixels, weights 2/3 and 1/3.
        let line = RgbImage::from_fn(3, 1, |x, _| Rgb([[0u8, 90, 255][x as usize]; 3]));
        let r = resize_area(&line, 2, 1);
        assert_eq!(r.get_pixel(0, 0).0[0], 30);
        assert_eq!(r.get_pixel(1, 0).0[0], 200);
        let flat = RgbImage::from_pixel(2480, 20, Rgb([250, 249, 3]));
        assert!(resize_area(&flat, 1654, 13)
            .pixels()
            .all(|p| p.0 == [250, 249, 3]));
    }

    #[test]
    fn normalising_fits_a4_and_never_enlarges() {
        assert_eq!(a4_pixels(200), (1654, 2339));
        assert_eq!(a4_pixels(300), (2480, 3508));
        // A 150-dpi page brought to 50 dpi (same arithmetic, less work).
        assert_eq!(a4_pixels(50), (413, 585));
        let big = RgbImage::new(1240, 1754);
        assert_eq!(normalise(big, 50).dimensions(), (413, 584));
        let land = RgbImage::new(1754, 1240);
        assert_eq!(normalise(land, 50).dimensions(), (584, 413));
        let small = RgbImage::new(400, 560);
        assert_eq!(normalise(small, 50).dimensions(), (400, 560));
    }
}
