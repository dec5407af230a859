//! Skew detection and correction.
//!
//! The page is reduced (longer side 1400 px), its ink pixels found (dark,
//! not coloured — the red stamp does not vote — not part of the scanner
//! border, not isolated specks), and for each candidate angle the ink is
//! projected onto the axis perpendicular to the text lines. When the
//! angle matches the lines, the profile is a comb of tall peaks (lines)
//! and empty gaps, and the sum of squared bin counts is largest. The
//! search is coarse to fine: 0.25° steps over ±`max`, then 0.05° steps
//! around the best, then a parabola through the best three.

use image::{Rgb, RgbImage};
use serde::Serialize;

use crate::analysis;
use crate::geometry;

/// Longer side of the analysis image.
const ANALYSIS_SIDE: u32 = 1400;
/// Most ink points used for the fine search (a regular subsample beyond
/// that), and for the coarse search.
const MAX_POINTS: usize = 80_000;
const MAX_COARSE_POINTS: usize = 20_000;

/// What [`detect_skew`] found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Skew {
    /// Counter-clockwise rotation of the text lines, in degrees (0 when
    /// no text was found).
    pub degrees: f32,
    /// Whether the page has enough line structure to measure.
    pub text_found: bool,
}

/// Detects the text-line angle within ±`max_degrees`.
pub fn detect_skew(img: &RgbImage, max_degrees: f32) -> Skew {
    let none = Skew {
        degrees: 0.0,
        text_found: false,
    };
    let (small, _) = analysis::shrink(img, ANALYSIS_SIDE);
    let (w, h) = (small.width() as usize, small.height() as usize);
    if w < 16 || h < 16 {
        return none;
    }
    let hist = analysis::histogram(&small);
    let paper = analysis::paper_luma(&hist);
    let mask = analysis::border_mask(&small, paper);
    let limit = (f32::from(paper) * 0.6) as u8;
    let ink: Vec<bool> = small
        .as_raw()
        .chunks_exact(3)
        .zip(&mask)
        .map(|(p, m)| {
            let chroma = p[0].max(p[1]).max(p[2]) - p[0].min(p[1]).min(p[2]);
            !m && analysis::luma3(p) < limit && chroma < 70
        })
        .collect();
    let mut points: Vec<(f32, f32)> = Vec::new();
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            if !ink[i] {
                continue;
            }
            // Drop isolated specks (scanner noise).
            let neighbours = [
                i - w - 1,
                i - w,
                i - w + 1,
                i - 1,
                i + 1,
                i + w - 1,
                i + w,
                i + w + 1,
            ]
            .iter()
            .filter(|j| ink[**j])
            .count();
            if neighbours >= 2 {
                points.push((x as f32, y as f32));
            }
        }
    }
    if points.len() < 300.max(w * h / 2000) {
        return none;
    }
    if points.len() > MAX_POINTS {
        let step = points.len().div_ceil(MAX_POINTS);
        points = points.into_iter().step_by(step).collect();
    }
    let mut profile = Profile::new(w, h);
    let max = max_degrees.clamp(0.0, 45.0);
    let coarse_steps = (max / 0.25).round() as i32;
    let coarse_points: Vec<(f32, f32)> = points
        .iter()
        .copied()
        .step_by(points.len().div_ceil(MAX_COARSE_POINTS))
        .collect();
    let coarse: Vec<(f32, f64)> = (-coarse_steps..=coarse_steps)
        .map(|k| {
            let a = k as f32 * 0.25;
            (a, profile.score(&coarse_points, a))
        })
        .collect();
    let Some(&(best, best_score)) = coarse.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
        return none;
    };
    // A flat score over all angles means no lines (noise, a photo).
    let mut sorted: Vec<f64> = coarse.iter().map(|c| c.1).collect();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    if median <= 0.0 || best_score < median * 1.15 {
        return none;
    }
    let fine: Vec<(f32, f64)> = (-6..=6)
        .map(|k| {
            let a = best + k as f32 * 0.05;
            (a, profile.score(&points, a))
        })
        .collect();
    let Some(i) = fine
        .iter()
        .enumerate()
        .max_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
        .map(|(i, _)| i)
    else {
        return none;
    };
    let mut angle = fine[i].0;
    if i > 0 && i + 1 < fine.len() {
        let (l, m, r) = (fine[i - 1].1, fine[i].1, fine[i + 1].1);
        let denom = l - 2.0 * m + r;
        if denom < 0.0 {
            let off = (0.5 * (l - r) / denom).clamp(-0.5, 0.5);
            angle += off as f32 * 0.05;
        }
    }
    Skew {
        degrees: angle.clamp(-max, max),
        text_found: true,
    }
}

/// Projection profile buffer, reused across angles.
struct Profile {
    bins: Vec<f32>,
    offset: f32,
}

impl Profile {
    fn new(w: usize, h: usize) -> Self {
        Profile {
            bins: vec![0.0; h + 2 * w + 4],
            offset: w as f32 + 1.0,
        }
    }

    /// Sum of squared bin counts of the ink projected on the normal of
    /// lines rising `degrees` counter-clockwise (soft binning).
    fn score(&mut self, points: &[(f32, f32)], degrees: f32) -> f64 {
        self.bins.iter_mut().for_each(|b| *b = 0.0);
        let (s, c) = degrees.to_radians().sin_cos();
        let last = self.bins.len() - 2;
        for &(x, y) in points {
            let r = y * c + x * s + self.offset;
            let i = r.floor();
            let f = r - i;
            let i = (i.max(0.0) as usize).min(last);
            self.bins[i] += 1.0 - f;
            self.bins[i + 1] += f;
        }
        self.bins.iter().map(|&b| f64::from(b) * f64::from(b)).sum()
    }
}

/// Whether a skew is worth turning back (text found, at least 0.05°).
pub fn needs_turn(skew: Skew) -> bool {
    skew.text_found && skew.degrees.abs() >= 0.05
}

/// Detects the skew and rotates it away. Uncovered corners take the
/// scanner border's colour when the page has one (so the border crop
/// removes them too), else the paper's colour.
pub fn deskew(img: RgbImage, max_degrees: f32) -> (RgbImage, Skew) {
    let skew = detect_skew(&img, max_degrees);
    if !needs_turn(skew) {
        return (img, skew);
    }
    let fill = fill_colour(&img);
    (geometry::rotate(&img, -skew.degrees, fill), skew)
}

/// The colour for the corners a turn uncovers: the scanner border's
/// when the page has one (so the border crop removes them too), else the
/// paper's.
pub fn fill_colour(img: &RgbImage) -> Rgb<u8> {
    let (small, _) = analysis::shrink(img, 600);
    let paper = analysis::paper_luma(&analysis::histogram(&small));
    let mask = analysis::border_mask(&small, paper);
    analysis::mask_colour(&small, &mask, 0.01)
        .unwrap_or_else(|| analysis::paper_colour(&small, paper))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const PAPER: Rgb<u8> = Rgb([245, 243, 238]);

    /// Lines of "words" (short dark bars with gaps), like a page of text.
    fn text_page(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let margin = w / 10;
            let in_text = x > margin && x < w - margin && y > h / 10 && y < h - h / 10;
            let line = y % 36 < 14;
            let word = (x / 9) % 7 != 0 && (x * 7 + y / 36 * 13) % 23 > 3;
            if in_text && line && word {
                Rgb([35, 35, 40])
            } else {
                PAPER
            }
        })
    }

    #[test]
    fn finds_the_angle_of_text_lines() {
        let page = text_page(700, 990);
        for truth in [0.0f32, -0.7, 3.4, 6.15, -9.9, 14.5] {
            let rotated = geometry::rotate(&page, truth, PAPER);
            let skew = detect_skew(&rotated, 15.0);
            assert!(skew.text_found);
            assert!(
                (skew.degrees - truth).abs() <= 0.15,
                "truth {truth}, found {}",
                skew.degrees
            );
        }
    }

    #[test]
    fn blank_and_noisy_pages_have_no_angle() {
        let blank = RgbImage::from_pixel(600, 850, PAPER);
        assert!(!detect_skew(&blank, 15.0).text_found);
        let mut seed = 12345u32;
        let noisy = RgbImage::from_fn(600, 850, |_, _| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            if seed.is_multiple_of(97) {
                Rgb([20, 20, 20])
            } else {
                PAPER
            }
        });
        let s = detect_skew(&noisy, 15.0);
        assert!(!s.text_found || s.degrees == 0.0, "{s:?}");
    }

    #[test]
    fn deskew_straightens() {
        let page = text_page(600, 850);
        let rotated = geometry::rotate(&page, 5.5, PAPER);
        let (straight, skew) = deskew(rotated, 15.0);
        assert!((skew.degrees - 5.5).abs() < 0.15, "{skew:?}");
        let again = detect_skew(&straight, 15.0);
        assert!(again.degrees.abs() < 0.15, "{again:?}");
    }
}
