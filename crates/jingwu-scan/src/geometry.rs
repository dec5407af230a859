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
    let whole = Rect {
        x: 0,
        y: 0,
        width: w,
        height: h,
    };
    rotate_crop_scale(img, degrees, fill, whole, w, h)
}

/// [`rotate`], then [`crop`] to `rect` (in the rotated picture's pixels)
/// and a resize of that to `nw × nh` — in one pass, so a page is turned
/// straight into its smaller output grid (fewer pixels interpolated, no
/// intermediate copies). Without scaling each output pixel is one
/// bilinear sample (exactly [`rotate`]); when shrinking by more than
/// 1.2, the mean of two bilinear samples 0.3 of an output pixel either
/// side of its centre (along its diagonal), which blurs about as much as
/// turning at full size and then area averaging did — one sample alone
/// leaves the page sharper and its JPEG larger (most skewed corpus pages
/// then fell from quality 85 to 78).
pub fn rotate_crop_scale(
    img: &RgbImage,
    degrees: f32,
    fill: Rgb<u8>,
    rect: Rect,
    nw: u32,
    nh: u32,
) -> RgbImage {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 || nw == 0 || nh == 0 {
        return RgbImage::from_pixel(nw, nh, fill);
    }
    // 16.16 fixed point: the source position advances by (cos, sin) × the
    // scale per destination pixel; the bilinear weights are its top 8
    // fraction bits.
    const ONE: f64 = 65536.0;
    let (s, c) = f64::from(degrees).to_radians().sin_cos();
    let cx = (f64::from(w) - 1.0) / 2.0;
    let cy = (f64::from(h) - 1.0) / 2.0;
    let kx = f64::from(rect.width) / f64::from(nw);
    let ky = f64::from(rect.height) / f64::from(nh);
    let (cx16, sx16) = ((c * kx * ONE).round() as i64, (s * kx * ONE).round() as i64);
    // The second sample's offset from the first (0.6 of an output pixel
    // along both axes), when there are two.
    let two = kx.max(ky) > 1.2;
    let (ox, oy) = if two {
        let (du, dv) = (0.6 * kx, 0.6 * ky);
        (
            ((c * du - s * dv) * ONE).round() as i64,
            ((s * du + c * dv) * ONE).round() as i64,
        )
    } else {
        (0, 0)
    };
    let first = if two { -0.3 } else { 0.0 };
    let src = img.as_raw();
    let (wi, hi) = (i64::from(w), i64::from(h));
    let stride = w as usize * 3;
    // One bilinear sample at (sx, sy), each channel × 65536.
    let sample = |sx: i64, sy: i64| -> [u32; 3] {
        let (x0, y0) = (sx >> 16, sy >> 16);
        let fx = ((sx >> 8) & 0xFF) as u32;
        let fy = ((sy >> 8) & 0xFF) as u32;
        let (wx0, wy0) = (256 - fx, 256 - fy);
        if x0 >= 0 && y0 >= 0 && x0 + 1 < wi && y0 + 1 < hi {
            let i = y0 as usize * stride + x0 as usize * 3;
            // One bounds check per source row instead of one per channel
            // and tap (this loop is the pipeline's hottest).
            if let (Some(a), Some(b)) = (src.get(i..i + 6), src.get(i + stride..i + stride + 6)) {
                let mix = |k: usize| {
                    let top = u32::from(a[k]) * wx0 + u32::from(a[k + 3]) * fx;
                    let bot = u32::from(b[k]) * wx0 + u32::from(b[k + 3]) * fx;
                    top * wy0 + bot * fy
                };
                return [mix(0), mix(1), mix(2)];
            }
        } else if x0 >= -1 && y0 >= -1 && x0 < wi && y0 < hi {
            // Edge: blend with the fill colour.
            let get = |x: i64, y: i64, k: usize| -> u32 {
                if x >= 0 && y >= 0 && x < wi && y < hi {
                    u32::from(src[y as usize * stride + x as usize * 3 + k])
                } else {
                    u32::from(fill.0[k])
                }
            };
            let mix = |k: usize| {
                let top = get(x0, y0, k) * wx0 + get(x0 + 1, y0, k) * fx;
                let bot = get(x0, y0 + 1, k) * wx0 + get(x0 + 1, y0 + 1, k) * fx;
                top * wy0 + bot * fy
            };
            return [mix(0), mix(1), mix(2)];
        }
        fill.0.map(|v| u32::from(v) << 16)
    };
    let mut out = vec![0u8; nw as usize * nh as usize * 3];
    for (v, row) in out.chunks_exact_mut(nw as usize * 3).enumerate() {
        // The (first) sample point in the rotated picture…
        let x = f64::from(rect.x) + (0.5 + first) * kx - 0.5;
        let y = f64::from(rect.y) + (v as f64 + 0.5 + first) * ky - 0.5;
        let (dx, dy) = (x - cx, y - cy);
        // …comes from the source point rotated clockwise by the angle.
        let mut sx = ((c * dx - s * dy + cx) * ONE).round() as i64;
        let mut sy = ((s * dx + c * dy + cy) * ONE).round() as i64;
        if two {
            for px in row.chunks_exact_mut(3) {
                let (a, b) = (sample(sx, sy), sample(sx + ox, sy + oy));
                for ((p, a), b) in px.iter_mut().zip(a).zip(b) {
                    *p = ((a + b + 65536) >> 17) as u8;
                }
                sx += cx16;
                sy += sx16;
            }
        } else {
            for px in row.chunks_exact_mut(3) {
                for (p, a) in px.iter_mut().zip(sample(sx, sy)) {
                    *p = ((a + 32768) >> 16) as u8;
                }
                sx += cx16;
                sy += sx16;
            }
        }
    }
    RgbImage::from_raw(nw, nh, out).unwrap_or_else(|| RgbImage::from_pixel(nw, nh, fill))
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

/// [`find_paper`] on the picture as [`rotate`] would turn it, found on a
/// turned reduced copy (the full-size turn is not needed to see where
/// the scanner border is): the rectangle in the turned picture's pixels.
pub fn find_paper_rotated(img: &RgbImage, degrees: f32, fill: Rgb<u8>) -> Option<Rect> {
    let (small, k) = analysis::shrink(img, 800);
    let r = find_paper(&rotate(&small, degrees, fill))?;
    let (w, h) = img.dimensions();
    let scale = |v: u32| (v as f32 * k).round() as u32;
    let (x0, y0) = (scale(r.x).min(w), scale(r.y).min(h));
    // A side on the reduced copy's far edge stays on the picture's (the
    // reduction drops the last few rows and columns).
    let x1 = if r.x + r.width >= small.width() {
        w
    } else {
        scale(r.x + r.width).min(w)
    };
    let y1 = if r.y + r.height >= small.height() {
        h
    } else {
        scale(r.y + r.height).min(h)
    };
    (x1 > x0 && y1 > y0).then_some(Rect {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    })
}

/// Turns a page by `degrees` (as [`rotate`]), cuts its scanner border
/// (when `crop_borders`: [`find_paper_rotated`], then [`fill_border`])
/// and brings it to `dpi` (as [`normalise`]) — the same steps as
/// `rotate`, `crop_borders`, `fill_border` and `normalise` one after the
/// other, with the turn, cut and scaling done in one pass
/// ([`rotate_crop_scale`]). Returns the page and the rectangle kept (in
/// the turned full-size picture's pixels), if any was cut.
pub fn straighten(
    img: &RgbImage,
    degrees: f32,
    fill: Rgb<u8>,
    crop_borders: bool,
    dpi: u32,
) -> (RgbImage, Option<Rect>) {
    let (w, h) = img.dimensions();
    let crop = if crop_borders {
        find_paper_rotated(img, degrees, fill)
    } else {
        None
    };
    let rect = crop.unwrap_or(Rect {
        x: 0,
        y: 0,
        width: w,
        height: h,
    });
    let (nw, nh) = normalised_size(rect.width, rect.height, dpi);
    let out = rotate_crop_scale(img, degrees, fill, rect, nw, nh);
    let out = if crop_borders { fill_border(out) } else { out };
    (out, crop)
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
    let (w, h) = img.dimensions();
    let (nw, nh) = normalised_size(w, h, dpi);
    if (nw, nh) == (w, h) {
        return img;
    }
    resize_area(&img, nw, nh)
}

/// The size [`normalise`] gives a `w × h` page.
pub fn normalised_size(w: u32, h: u32, dpi: u32) -> (u32, u32) {
    let (bw, bh) = a4_pixels(dpi);
    let (bw, bh) = if w > h { (bh, bw) } else { (bw, bh) };
    if w <= bw && h <= bh {
        return (w, h);
    }
    let f = (bw as f32 / w as f32).min(bh as f32 / h as f32);
    let nw = ((w as f32 * f).round() as u32).clamp(1, bw);
    let nh = ((h as f32 * f).round() as u32).clamp(1, bh);
    (nw, nh)
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
    let stride = w * 3;
    // Vertical pass first (whole rows at a time: contiguous, vectorises),
    // on nh rows of w pixels, values × 256 in u16; then the horizontal
    // pass on the nh rows only.
    let mut mid = vec![0u16; stride * nh];
    let mut acc = vec![0u32; stride];
    for ((start, weights), mrow) in ys.iter().zip(mid.chunks_exact_mut(stride)) {
        acc.fill(0);
        for (j, wt) in weights.iter().enumerate() {
            let row = &src[(start + j) * stride..(start + j + 1) * stride];
            for (a, v) in acc.iter_mut().zip(row) {
                *a += u32::from(*v) * wt;
            }
        }
        for (m, a) in mrow.iter_mut().zip(&acc) {
            *m = ((a + 32) >> 6) as u16;
        }
    }
    let mut out = vec![0u8; nw * nh * 3];
    for (mrow, orow) in mid.chunks_exact(stride).zip(out.chunks_exact_mut(nw * 3)) {
        for ((start, weights), o) in xs.iter().zip(orow.chunks_exact_mut(3)) {
            let taps = &mrow[start * 3..(start + weights.len()) * 3];
            let mut a = [0u32; 3];
            for (p, wt) in taps.chunks_exact(3).zip(weights) {
                a[0] += u32::from(p[0]) * wt;
                a[1] += u32::from(p[1]) * wt;
                a[2] += u32::from(p[2]) * wt;
            }
            for (o, a) in o.iter_mut().zip(a) {
                *o = ((a + (1 << 21)) >> 22) as u8;
            }
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

    /// Lines of dark "words" on paper, a dark scanner border around.
    fn bordered_text_page(w: u32, h: u32, border: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            if x < border || y < border || x >= w - border || y >= h - border {
                Rgb([30, 30, 32])
            } else if y % 24 < 6
                && (x / 7) % 5 != 0
                && (w / 8..w - w / 8).contains(&x)
                && (h / 10..h - h / 10).contains(&y)
            {
                Rgb([25, 25, 25])
            } else {
                Rgb([245, 243, 238])
            }
        })
    }

    fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
        assert_eq!(a.dimensions(), b.dimensions());
        let sum: u64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        sum as f64 / a.as_raw().len() as f64
    }

    #[test]
    fn one_pass_turn_crop_scale_matches_the_steps() {
        let img = bordered_text_page(600, 840, 0);
        let fill = Rgb([245, 243, 238]);
        let rect = Rect {
            x: 40,
            y: 60,
            width: 510,
            height: 720,
        };
        for degrees in [0.0f32, 0.8, -4.5, 12.0] {
            // Same size, whole picture: exactly `rotate`.
            let whole = Rect {
                x: 0,
                y: 0,
                width: 600,
                height: 840,
            };
            let r = rotate(&img, degrees, fill);
            if degrees != 0.0 {
                assert_eq!(rotate_crop_scale(&img, degrees, fill, whole, 600, 840), r);
            }
            // Cut and scaled by 2/3: close to rotate → crop → resize.
            let steps = resize_area(&crop(&r, rect), 340, 480);
            let one = rotate_crop_scale(&img, degrees, fill, rect, 340, 480);
            let d = mean_abs_diff(&steps, &one);
            assert!(d < 12.0, "{degrees}°: mean difference {d}");
            // Nothing shifted: the ink of each row band agrees.
            let ink = |im: &RgbImage, y0: u32| -> u32 {
                (y0..y0 + 40)
                    .flat_map(|y| (0..340).map(move |x| (x, y)))
                    .filter(|(x, y)| im.get_pixel(*x, *y).0[0] < 128)
                    .count() as u32
            };
            for y0 in [40, 200, 400] {
                let (a, b) = (ink(&steps, y0), ink(&one, y0));
                assert!(
                    a.abs_diff(b) * 5 <= a.max(b).max(20),
                    "{degrees}° y {y0}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn paper_is_found_on_a_turned_reduced_copy() {
        let img = bordered_text_page(1200, 1700, 60);
        let fill = Rgb([30, 30, 32]);
        for degrees in [-6.0f32, 2.5, 11.0] {
            let full = find_paper(&rotate(&img, degrees, fill)).unwrap();
            let fast = find_paper_rotated(&img, degrees, fill).unwrap();
            for (a, b) in [
                (full.x, fast.x),
                (full.y, fast.y),
                (full.width, fast.width),
                (full.height, fast.height),
            ] {
                assert!(a.abs_diff(b) <= 6, "{degrees}°: {full:?} vs {fast:?}");
            }
        }
        let clean = bordered_text_page(600, 840, 0);
        assert_eq!(find_paper_rotated(&clean, 3.0, Rgb([245, 243, 238])), None);
    }

    #[test]
    fn straighten_turns_cuts_and_scales() {
        // A page scanned 4° askew on a dark scanner lid.
        let fill = Rgb([30, 30, 32]);
        let img = rotate(&bordered_text_page(1200, 1700, 60), 4.0, fill);
        let (out, kept) = straighten(&img, -4.0, fill, true, 100);
        let rect = kept.unwrap();
        // The cut: about the paper inside the border.
        assert!(rect.width < 1200 && rect.height < 1700, "{rect:?}");
        // The scale: fits A4 at 100 dpi (827 × 1169), aspect kept.
        assert_eq!(
            out.dimensions(),
            normalised_size(rect.width, rect.height, 100)
        );
        assert!(out.width() <= 827 && out.height() <= 1169);
        // The border gone: light edges.
        for x in 0..out.width() {
            for y in [0, out.height() - 1] {
                assert!(analysis::luma(*out.get_pixel(x, y)) > 200, "({x}, {y})");
            }
        }
        // Against the steps one by one.
        let r = rotate(&img, -4.0, fill);
        let stepwise = normalise(fill_border(crop(&r, rect)), 100);
        assert!(mean_abs_diff(&stepwise, &out) < 12.0);
        // Without cropping: the whole turned page, scaled.
        let (whole, none) = straighten(&img, -4.0, fill, false, 100);
        assert_eq!(none, None);
        assert_eq!(whole.dimensions(), normalised_size(1200, 1700, 100));
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
        // Against a direct area average (f64), fractional both ways.
        let busy = RgbImage::from_fn(37, 29, |x, y| {
            Rgb([
                (x * 7 + y * 3) as u8,
                ((x * y) % 251) as u8,
                ((x ^ y) * 8) as u8,
            ])
        });
        let r = resize_area(&busy, 23, 17);
        let (sx, sy) = (37.0 / 23.0, 29.0 / 17.0);
        for (ox, oy, p) in r.enumerate_pixels() {
            for k in 0..3 {
                let (mut sum, mut area) = (0.0f64, 0.0f64);
                for y in 0..29 {
                    for x in 0..37 {
                        let ovx = ((f64::from(ox) + 1.0) * sx).min(f64::from(x) + 1.0)
                            - (f64::from(ox) * sx).max(f64::from(x));
                        let ovy = ((f64::from(oy) + 1.0) * sy).min(f64::from(y) + 1.0)
                            - (f64::from(oy) * sy).max(f64::from(y));
                        if ovx > 0.0 && ovy > 0.0 {
                            sum += ovx * ovy * f64::from(busy.get_pixel(x, y).0[k]);
                            area += ovx * ovy;
                        }
                    }
                }
                let want = sum / area;
                assert!((f64::from(p.0[k]) - want).abs() <= 1.0, "({ox}, {oy}) {k}");
            }
        }
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
