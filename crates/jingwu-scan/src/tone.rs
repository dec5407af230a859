//! Paper whitening: a levels stretch that maps the paper to white and
//! the darkest ink towards black, the same curve on every channel so
//! colours (the red stamp) keep their hue. Scanner grey paper and its
//! noise become flat white, which keeps text contrast high and makes the
//! JPEG small.

use image::RgbImage;

use crate::analysis;

/// The black point (from luminance) and the white point of each channel.
/// The white point sits two noise deviations below the paper's median
/// colour (deviation from the median absolute deviation), so tinted or
/// yellowed paper *and* its scanner noise turn flat white. `None` when
/// the page is too dark for a stretch to be safe (a photo, a dark
/// capture).
pub fn levels(img: &RgbImage) -> Option<(u8, [u8; 3])> {
    let (small, _) = analysis::shrink(img, 800);
    let hist = analysis::histogram(&small);
    let paper = analysis::paper_luma(&hist);
    if paper < 128 {
        return None;
    }
    // Never lift the black point past 64: on a near-blank page the darkest
    // pixels are noise, not ink, and stretching them would amplify it.
    let black = analysis::percentile(&hist, 0.005).min(64);
    let floor = paper.saturating_sub(60);
    let mut channel = [[0u64; 256]; 3];
    for p in small.as_raw().chunks_exact(3) {
        if analysis::luma3(p) >= floor {
            for (h, v) in channel.iter_mut().zip(p) {
                h[usize::from(*v)] += 1;
            }
        }
    }
    let white = channel.map(|h| {
        let median = analysis::percentile(&h, 0.5);
        let mut dev = [0u64; 256];
        for (v, n) in h.iter().enumerate() {
            dev[(v as i32 - i32::from(median)).unsigned_abs().min(255) as usize] += n;
        }
        let sigma = 1.4826 * f32::from(analysis::percentile(&dev, 0.5));
        (f32::from(median) - 2.0 * sigma).round().clamp(0.0, 255.0) as u8
    });
    if white.iter().any(|w| *w <= black.saturating_add(64)) {
        return None;
    }
    Some((black, white))
}

/// Applies [`levels`] (or returns the picture as is).
pub fn whiten(mut img: RgbImage) -> RgbImage {
    let Some((black, white)) = levels(&img) else {
        return img;
    };
    let luts: Vec<Vec<u8>> = white
        .iter()
        .map(|w| {
            let span = f32::from(w - black);
            (0..=255u8)
                .map(|v| {
                    let t = (f32::from(v.saturating_sub(black)) / span).min(1.0);
                    (t * 255.0 + 0.5) as u8
                })
                .collect()
        })
        .collect();
    for p in img.chunks_exact_mut(3) {
        for (v, lut) in p.iter_mut().zip(&luts) {
            *v = lut[usize::from(*v)];
        }
    }
    img
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use image::Rgb;

    use super::*;

    #[test]
    fn paper_goes_white_ink_stays_dark_red_stays_red() {
        let img = RgbImage::from_fn(200, 200, |x, y| {
            if y < 20 {
                Rgb([40, 40, 45])
            } else if x < 20 {
                Rgb([200, 40, 45])
            } else {
                Rgb([222 + (x % 5) as u8, 220, 214])
            }
        });
        let out = whiten(img);
        assert!(out.get_pixel(100, 100).0.iter().all(|v| *v >= 248));
        assert!(out.get_pixel(100, 5).0[0] < 40);
        let red = out.get_pixel(5, 100).0;
        assert!(red[0] > 200 && red[1] < 40, "{red:?}");
    }

    #[test]
    fn blank_noisy_page_stays_light_and_dark_capture_is_left_alone() {
        let img = RgbImage::from_fn(100, 100, |x, y| {
            let v = 225 + ((x * 31 + y * 17) % 20) as u8;
            Rgb([v, v, v])
        });
        let (black, _) = levels(&img).unwrap();
        assert!(black <= 64);
        assert!(whiten(img).pixels().all(|p| p.0[0] >= 220));
        let dark = RgbImage::from_fn(100, 100, |x, _| Rgb([(x / 2) as u8, 40, 40]));
        assert_eq!(levels(&dark), None);
    }
}
