//! Small helpers shared by the analysis steps: luminance, a reduced copy
//! of the page, percentiles, the paper level and the scanner-border mask.

use image::{Rgb, RgbImage};

/// Integer Rec. 601 luminance.
#[inline]
pub fn luma(p: Rgb<u8>) -> u8 {
    let [r, g, b] = p.0;
    ((77 * u32::from(r) + 150 * u32::from(g) + 29 * u32::from(b)) >> 8) as u8
}

/// Colourfulness: spread between the strongest and weakest channel.
#[inline]
pub fn chroma(p: Rgb<u8>) -> u8 {
    let [r, g, b] = p.0;
    r.max(g).max(b) - r.min(g).min(b)
}

/// Luminance of a raw RGB triple.
#[inline]
pub fn luma3(p: &[u8]) -> u8 {
    ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2])) >> 8) as u8
}

/// A reduced copy whose longer side is at most `max_side`: each output
/// pixel is the mean of a k×k block (k the smallest integer that fits;
/// the remainder rows and columns are dropped), and k itself.
pub fn shrink(img: &RgbImage, max_side: u32) -> (RgbImage, f32) {
    let (w, h) = img.dimensions();
    let long = w.max(h);
    if long <= max_side || max_side == 0 {
        return (img.clone(), 1.0);
    }
    let k = long.div_ceil(max_side) as usize;
    let (nw, nh) = (w as usize / k, h as usize / k);
    if nw == 0 || nh == 0 {
        return (img.clone(), 1.0);
    }
    let out = block_means::<3>(img.as_raw(), w as usize, k);
    match RgbImage::from_raw(nw as u32, nh as u32, out) {
        Some(small) => (small, k as f32),
        None => (img.clone(), 1.0),
    }
}

/// Block means of a picture of `C` interleaved channels, `width` pixels
/// a row: each output pixel the mean (rounded) of a `k` × `k` block,
/// channel by channel; a partial block at the right or bottom edge is
/// dropped. Column sums of `k` rows first (contiguous, vectorises), then
/// the `k` column sums of each block.
pub fn block_means<const C: usize>(raw: &[u8], width: usize, k: usize) -> Vec<u8> {
    let k = k.max(1);
    let stride = width * C;
    let (nw, nh) = (width / k, raw.len().checked_div(stride).unwrap_or(0) / k);
    let mut out = vec![0u8; nw * nh * C];
    if nw == 0 || nh == 0 {
        return out;
    }
    let used = nw * k * C;
    let mut cols = vec![0u32; used];
    let area = (k * k) as u32;
    for (rows, out_row) in raw
        .chunks_exact(k * stride)
        .zip(out.chunks_exact_mut(nw * C))
    {
        cols.fill(0);
        for row in rows.chunks_exact(stride) {
            for (c, v) in cols.iter_mut().zip(&row[..used]) {
                *c += u32::from(*v);
            }
        }
        for (block, o) in cols.chunks_exact(k * C).zip(out_row.chunks_exact_mut(C)) {
            let mut sums = [0u32; C];
            for px in block.chunks_exact(C) {
                for (s, v) in sums.iter_mut().zip(px) {
                    *s += v;
                }
            }
            for (o, s) in o.iter_mut().zip(sums) {
                *o = ((s + area / 2) / area) as u8;
            }
        }
    }
    out
}

/// Luminance histogram.
pub fn histogram(img: &RgbImage) -> [u64; 256] {
    let mut hist = [0u64; 256];
    for p in img.as_raw().chunks_exact(3) {
        hist[usize::from(luma3(p))] += 1;
    }
    hist
}

/// Luminance of every pixel.
pub fn luma_plane(img: &RgbImage) -> image::GrayImage {
    let plane: Vec<u8> = img.as_raw().chunks_exact(3).map(luma3).collect();
    image::GrayImage::from_raw(img.width(), img.height(), plane)
        .unwrap_or_else(|| image::GrayImage::new(img.width(), img.height()))
}

/// The luminance below which `q` (0–1) of the pixels lie.
pub fn percentile(hist: &[u64; 256], q: f64) -> u8 {
    let total: u64 = hist.iter().sum();
    let target = (total as f64 * q).ceil() as u64;
    let mut acc = 0u64;
    for (v, n) in hist.iter().enumerate() {
        acc += n;
        if acc >= target.max(1) {
            return v as u8;
        }
    }
    255
}

/// Luminance of the paper: most of a scanned form is paper, so a high
/// percentile finds it even with dark scanner borders and dense text.
pub fn paper_luma(hist: &[u64; 256]) -> u8 {
    percentile(hist, 0.90)
}

/// Which pixels belong to the scanner's background around the paper:
/// regions clearly darker than paper, at least about 2 mm thick, connected
/// to the image's edge. Thin dark things — text, table rules, a signature
/// line running off the page — are never part of it, even when they touch
/// the edge; black or grey scanner lids and shadows are.
///
/// Morphologically: the dark pixels are opened with a square whose radius
/// grows with the image (2 px up to 1000 px, then 1 px per 400), the
/// opened regions touching the edge are kept (4-connected flood fill), and
/// grown back over the dark pixels by the same radius.
pub fn border_mask(img: &RgbImage, paper: u8) -> Vec<bool> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let limit = paper.saturating_sub(45.max(paper / 5));
    let dark: Vec<bool> = img
        .as_raw()
        .chunks_exact(3)
        .map(|p| luma3(p) < limit)
        .collect();
    let r = (w.max(h) / 400).max(2);
    // Core: dark in the whole (2r+1)² window (outside the image counts as
    // dark, so a border touching the edge keeps its core to the edge).
    let core = window_all(&dark, w, h, r);
    let mut mask = vec![false; w * h];
    let mut stack: Vec<usize> = Vec::new();
    let seed = |i: usize, mask: &mut Vec<bool>, stack: &mut Vec<usize>| {
        if core[i] && !mask[i] {
            mask[i] = true;
            stack.push(i);
        }
    };
    for x in 0..w {
        seed(x, &mut mask, &mut stack);
        seed((h - 1) * w + x, &mut mask, &mut stack);
    }
    for y in 0..h {
        seed(y * w, &mut mask, &mut stack);
        seed(y * w + w - 1, &mut mask, &mut stack);
    }
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        let mut visit = |j: usize| {
            if core[j] && !mask[j] {
                mask[j] = true;
                stack.push(j);
            }
        };
        if x > 0 {
            visit(i - 1);
        }
        if x + 1 < w {
            visit(i + 1);
        }
        if y > 0 {
            visit(i - w);
        }
        if y + 1 < h {
            visit(i + w);
        }
    }
    // Grow back over the dark pixels.
    let not_mask: Vec<bool> = mask.iter().map(|m| !m).collect();
    let far = window_all(&not_mask, w, h, r);
    far.iter()
        .zip(&dark)
        .map(|(far, dark)| !far && *dark)
        .collect()
}

/// Whether every pixel of the (2r+1)² window around each pixel is set
/// (pixels outside the image count as set). Separable running counts.
fn window_all(set: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let mut rows = vec![false; w * h];
    for y in 0..h {
        let row = &set[y * w..(y + 1) * w];
        let unset =
            |x: isize| -> usize { usize::from(x >= 0 && (x as usize) < w && !row[x as usize]) };
        let mut count: usize = (-(r as isize)..=r as isize).map(unset).sum();
        for x in 0..w {
            rows[y * w + x] = count == 0;
            let xi = x as isize;
            count = count + unset(xi + r as isize + 1) - unset(xi - r as isize);
        }
    }
    let mut out = vec![false; w * h];
    for x in 0..w {
        let unset = |y: isize| -> usize {
            usize::from(y >= 0 && (y as usize) < h && !rows[y as usize * w + x])
        };
        let mut count: usize = (-(r as isize)..=r as isize).map(unset).sum();
        for y in 0..h {
            out[y * w + x] = count == 0;
            let yi = y as isize;
            count = count + unset(yi + r as isize + 1) - unset(yi - r as isize);
        }
    }
    out
}

/// Mean colour of the masked pixels, if they are more than `min_frac` of
/// the image.
pub fn mask_colour(img: &RgbImage, mask: &[bool], min_frac: f32) -> Option<Rgb<u8>> {
    let mut sum = [0u64; 3];
    let mut n = 0u64;
    for (p, m) in img.pixels().zip(mask) {
        if *m {
            for (s, c) in sum.iter_mut().zip(p.0) {
                *s += u64::from(c);
            }
            n += 1;
        }
    }
    let total = u64::from(img.width()) * u64::from(img.height());
    if n == 0 || (n as f32) < min_frac * total as f32 {
        return None;
    }
    Some(Rgb(sum.map(|s| (s / n) as u8)))
}

/// Mean colour of the pixels at least as light as `paper` − 10 (the paper
/// itself).
pub fn paper_colour(img: &RgbImage, paper: u8) -> Rgb<u8> {
    let floor = paper.saturating_sub(10);
    let mut sum = [0u64; 3];
    let mut n = 0u64;
    for p in img.pixels() {
        if luma(*p) >= floor {
            for (s, c) in sum.iter_mut().zip(p.0) {
                *s += u64::from(c);
            }
            n += 1;
        }
    }
    if n == 0 {
        return Rgb([255, 255, 255]);
    }
    Rgb(sum.map(|s| (s / n) as u8))
}

/// Otsu's threshold of a luminance histogram.
pub fn otsu(hist: &[u64; 256]) -> u8 {
    let total: f64 = hist.iter().map(|&h| h as f64).sum();
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &h)| i as f64 * h as f64)
        .sum();
    let (mut w_b, mut sum_b, mut best, mut threshold) = (0f64, 0f64, 0f64, 128u8);
    for (t, &h) in hist.iter().enumerate() {
        w_b += h as f64;
        if w_b == 0.0 {
            continue;
        }
        let w_f = total - w_b;
        if w_f == 0.0 {
            break;
        }
        sum_b += t as f64 * h as f64;
        let m_b = sum_b / w_b;
        let m_f = (sum_all - sum_b) / w_f;
        let between = w_b * w_f * (m_b - m_f) * (m_b - m_f);
        if between > best {
            best = between;
            threshold = t as u8;
        }
    }
    threshold
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn border_mask_takes_the_frame_not_the_text() {
        // 100×100: 10-px dark frame, white paper, a black "text" block in
        // the middle.
        let img = RgbImage::from_fn(100, 100, |x, y| {
            let frame = !(10..90).contains(&x) || !(10..90).contains(&y);
            let text = (40..60).contains(&x) && (45..50).contains(&y);
            if frame || text {
                Rgb([20, 20, 20])
            } else {
                Rgb([240, 240, 235])
            }
        });
        let hist = histogram(&img);
        let paper = paper_luma(&hist);
        assert!(paper > 230, "{paper}");
        let mask = border_mask(&img, paper);
        assert!(mask[0] && mask[5 * 100 + 50] && mask[50 * 100 + 95]);
        assert!(!mask[47 * 100 + 50], "text is not border");
        assert!(!mask[20 * 100 + 20]);
        assert_eq!(mask_colour(&img, &mask, 0.01), Some(Rgb([20, 20, 20])));
    }

    #[test]
    fn block_means_of_one_channel() {
        let (w, h) = (23usize, 17usize);
        let raw: Vec<u8> = (0..w * h).map(|i| (i * 37 % 251) as u8).collect();
        let out = block_means::<1>(&raw, w, 4);
        assert_eq!(out.len(), (w / 4) * (h / 4));
        for (i, v) in out.iter().enumerate() {
            let (bx, by) = (i % (w / 4), i / (w / 4));
            let sum: u32 = (0..4)
                .flat_map(|dy| (0..4).map(move |dx| (bx * 4 + dx, by * 4 + dy)))
                .map(|(x, y)| u32::from(raw[y * w + x]))
                .sum();
            assert_eq!(u32::from(*v), (sum + 8) / 16);
        }
        assert!(block_means::<1>(&raw, w, 30).is_empty());
    }

    #[test]
    fn shrink_averages_blocks() {
        let img = RgbImage::from_fn(10, 7, |x, _| {
            if x % 2 == 0 {
                Rgb([0, 100, 200])
            } else {
                Rgb([100, 200, 0])
            }
        });
        let (small, k) = shrink(&img, 5);
        assert_eq!(k, 2.0);
        assert_eq!(small.dimensions(), (5, 3));
        assert_eq!(small.get_pixel(2, 1).0, [50, 150, 100]);
        // Against block means computed one block at a time.
        let busy = RgbImage::from_fn(53, 41, |x, y| {
            Rgb([(x * 5 + y) as u8, ((x * y) % 253) as u8, (x ^ y) as u8 * 4])
        });
        let (small, k) = shrink(&busy, 12);
        assert_eq!((small.dimensions(), k), ((10, 8), 5.0));
        for (ox, oy, p) in small.enumerate_pixels() {
            for c in 0..3 {
                let sum: u32 = (0..5)
                    .flat_map(|dy| (0..5).map(move |dx| (ox * 5 + dx, oy * 5 + dy)))
                    .map(|(x, y)| u32::from(busy.get_pixel(x, y).0[c]))
                    .sum();
                assert_eq!(u32::from(p.0[c]), (sum + 12) / 25);
            }
        }
        let (same, k) = shrink(&img, 10);
        assert_eq!((same.dimensions(), k), ((10, 7), 1.0));
    }

    #[test]
    fn thin_lines_touching_the_edge_are_not_border() {
        // A table rule and a line running off the page, 2 px thick, and a
        // real 12-px dark strip on the right.
        let img = RgbImage::from_fn(300, 400, |x, y| {
            let rule = (100..102).contains(&y);
            let column = (40..42).contains(&x) && (100..300).contains(&y);
            let strip = x >= 288;
            if rule || column || strip {
                Rgb([20, 20, 20])
            } else {
                Rgb([240, 240, 235])
            }
        });
        let mask = border_mask(&img, 240);
        assert!(!mask[100 * 300 + 150], "rule");
        assert!(!mask[200 * 300 + 40], "column");
        assert!(!mask[100 * 300], "rule at the edge");
        assert!(mask[50 * 300 + 290] && mask[50 * 300 + 299], "strip");
        assert!(mask[100 * 300 + 288], "strip where the rule meets it");
    }

    #[test]
    fn percentiles_and_otsu() {
        let mut hist = [0u64; 256];
        hist[20] = 10;
        hist[240] = 90;
        assert_eq!(percentile(&hist, 0.05), 20);
        assert_eq!(percentile(&hist, 0.5), 240);
        let t = otsu(&hist);
        assert!((20..240).contains(&t), "{t}");
    }
}
