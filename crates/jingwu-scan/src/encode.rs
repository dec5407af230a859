//! JPEG output within a byte budget, and the thumbnail.

use image::{imageops, RgbImage};

use crate::error::ScanError;

/// Qualities tried in turn until the page fits the budget.
pub const QUALITIES: [u8; 7] = [85, 78, 70, 62, 55, 48, 42];

/// An encoded JPEG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jpeg {
    pub bytes: Vec<u8>,
    pub quality: u8,
    pub width: u32,
    pub height: u32,
}

/// Encodes at one quality: baseline JPEG, 4:2:0 chroma, standard Huffman
/// tables (optimised tables with 4:2:0 are mis-decoded by zune-jpeg 0.5,
/// the decoder of `image`), the pixel density of an A4 page of this size
/// in the JFIF header; `gray` writes a single-channel JPEG.
pub fn encode_jpeg(img: &RgbImage, quality: u8, gray: bool) -> Result<Jpeg, ScanError> {
    let (w, h) = img.dimensions();
    let (Ok(w16), Ok(h16)) = (u16::try_from(w), u16::try_from(h)) else {
        return Err(ScanError::Encode(format!(
            "图像尺寸 {w}×{h} 超出 JPEG 上限"
        )));
    };
    let mut bytes = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut bytes, quality);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    let dpi = (f64::from(w.min(h)) / (210.0 / 25.4))
        .round()
        .clamp(1.0, 9999.0) as u16;
    enc.set_density(jpeg_encoder::PixelDensity::dpi(dpi));
    let r = if gray {
        let luma = crate::analysis::luma_plane(img);
        enc.encode(luma.as_raw(), w16, h16, jpeg_encoder::ColorType::Luma)
    } else {
        enc.encode(img.as_raw(), w16, h16, jpeg_encoder::ColorType::Rgb)
    };
    r.map_err(|e| ScanError::Encode(e.to_string()))?;
    Ok(Jpeg {
        bytes,
        quality,
        width: w,
        height: h,
    })
}

/// The best of [`QUALITIES`] that fits `max_bytes`; if even the lowest does
/// not, the page is scaled down by 15 % and tried again (at most four
/// times), then the smallest result is returned.
pub fn compress_within(img: &RgbImage, max_bytes: usize, gray: bool) -> Result<Jpeg, ScanError> {
    let mut current = img.clone();
    let mut smallest: Option<Jpeg> = None;
    for _ in 0..5 {
        for q in QUALITIES {
            let j = encode_jpeg(&current, q, gray)?;
            if j.bytes.len() <= max_bytes {
                return Ok(j);
            }
            if smallest
                .as_ref()
                .is_none_or(|s| j.bytes.len() < s.bytes.len())
            {
                smallest = Some(j);
            }
        }
        let (w, h) = current.dimensions();
        let (nw, nh) = ((w * 85 / 100).max(1), (h * 85 / 100).max(1));
        current = imageops::thumbnail(&current, nw, nh);
    }
    smallest.ok_or_else(|| ScanError::Encode("没有可用的压缩结果".into()))
}

/// A JPEG thumbnail whose longer side is at most `max_side`.
pub fn thumbnail(img: &RgbImage, max_side: u32, gray: bool) -> Result<Jpeg, ScanError> {
    let (w, h) = img.dimensions();
    let long = w.max(h).max(1);
    let small = if long > max_side {
        let nw = ((u64::from(w) * u64::from(max_side) / u64::from(long)) as u32).max(1);
        let nh = ((u64::from(h) * u64::from(max_side) / u64::from(long)) as u32).max(1);
        // Block means down to at least twice the size first (cheap, one
        // read of the page), then `thumbnail`'s exact area average.
        if long >= max_side * 4 {
            let (coarse, _) = crate::analysis::shrink(img, max_side * 2);
            imageops::thumbnail(&coarse, nw, nh)
        } else {
            imageops::thumbnail(img, nw, nh)
        }
    } else {
        img.clone()
    };
    encode_jpeg(&small, 75, gray)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use image::Rgb;

    use super::*;

    fn busy(w: u32, h: u32) -> RgbImage {
        let mut s = 7u32;
        RgbImage::from_fn(w, h, |_, _| {
            s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let v = (s >> 16) as u8;
            Rgb([v, v.wrapping_mul(3), v.wrapping_add(90)])
        })
    }

    #[test]
    fn budget_is_respected() {
        let img = busy(400, 400);
        let j = compress_within(&img, 40_000, false).unwrap();
        assert!(j.bytes.len() <= 40_000, "{}", j.bytes.len());
        let decoded = image::load_from_memory(&j.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (j.width, j.height));
    }

    #[test]
    fn easy_page_keeps_high_quality() {
        let img = RgbImage::from_pixel(300, 400, Rgb([255, 255, 255]));
        let j = compress_within(&img, 300_000, false).unwrap();
        assert_eq!(j.quality, QUALITIES[0]);
        assert_eq!((j.width, j.height), (300, 400));
    }

    /// Our output must decode right with the decoder the rest of the
    /// project uses (`image`, i.e. zune-jpeg), colour and grey.
    #[test]
    fn output_round_trips_through_image() {
        let img = RgbImage::from_fn(64, 48, |x, y| {
            if x < 32 {
                Rgb([255, 255, 255])
            } else if y < 24 {
                Rgb([216, 30, 36])
            } else {
                Rgb([30, 30, 30])
            }
        });
        for gray in [false, true] {
            let j = encode_jpeg(&img, 85, gray).unwrap();
            let d = image::load_from_memory(&j.bytes).unwrap().to_rgb8();
            let close = |a: [u8; 3], b: [u8; 3], tol: i32| {
                a.iter()
                    .zip(b)
                    .all(|(x, y)| (i32::from(*x) - i32::from(y)).abs() <= tol)
            };
            assert!(close(d.get_pixel(8, 8).0, [255, 255, 255], 6), "{gray}");
            assert!(close(d.get_pixel(56, 40).0, [30, 30, 30], 8), "{gray}");
            if !gray {
                assert!(close(d.get_pixel(48, 8).0, [216, 30, 36], 12));
            }
        }
    }

    #[test]
    fn thumbnail_size() {
        let img = busy(300, 600);
        let t = thumbnail(&img, 256, true).unwrap();
        assert_eq!((t.width, t.height), (128, 256));
        let d = image::load_from_memory(&t.bytes).unwrap();
        assert_eq!(d.color(), image::ColorType::L8);
        // A full page: reduced in two steps, same size and tone.
        let page = RgbImage::from_fn(1654, 2339, |x, y| {
            if (x / 40 + y / 40) % 2 == 0 {
                Rgb([250, 250, 250])
            } else {
                Rgb([20, 20, 20])
            }
        });
        let t = thumbnail(&page, 256, false).unwrap();
        assert_eq!((t.width, t.height), (181, 256));
        let d = image::load_from_memory(&t.bytes).unwrap().to_rgb8();
        let mean = d.as_raw().iter().map(|v| f64::from(*v)).sum::<f64>() / d.as_raw().len() as f64;
        assert!((mean - 135.0).abs() < 10.0, "{mean}");
    }
}
