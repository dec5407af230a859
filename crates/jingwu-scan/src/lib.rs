//! Scan import: from the stamped paper form to a clean, verifiable
//! attachment.
//!
//! A 户口变更登记表 arrives at the station filled in by hand and stamped
//! by the village committee; the officer scans it (flatbed, office MFP,
//! sometimes a phone) and attaches the scan to the case. This crate turns
//! whatever the scanner wrote into one clean JPEG per page and reports
//! what it saw — pure functions over bytes and pixels, no clock except
//! the per-page timing, no files except in [`process_file`].
//!
//! # Inputs ([`input`])
//!
//! JPEG, PNG, TIFF (every page, read with the `tiff` crate; 1-bit fax/G4,
//! 8/16-bit grey, RGB, CMYK) and PDFs that office scanners write — one
//! image per page: the largest image XObject of each page is taken, DCT
//! (JPEG) or Flate/LZW/uncompressed grey, RGB or CMYK, and the page's
//! `/Rotate` is honoured. Pages keep their order.
//!
//! The format is sniffed from the bytes, never from the name: an
//! executable renamed `.jpg` is refused as such. Limits are checked before
//! anything large is allocated: the file size ([`Options::max_file_bytes`],
//! 50 MB, checked from the file's metadata before reading), each page's
//! declared size from its header (12,000 px a side, 200 MP —
//! a 50,000 × 50,000 "decompression bomb" is refused before decoding), the
//! number of pages (200), and the size of decompressed PDF streams. A
//! JPEG without its end marker is refused as truncated (decoders would
//! silently paint the missing part grey). Only one decoded page is in
//! memory at a time. Every refusal is a [`ScanError`] with a Chinese
//! message for the officer.
//!
//! # Pipeline (per page, each step a pure function with its own tests)
//!
//! 1. **Orientation** — EXIF / TIFF orientation or PDF `/Rotate`
//!    (`image`'s `DynamicImage::apply_orientation`).
//! 2. **Deskew** ([`deskew`]) — the text-line angle within ±15° by
//!    projection-profile maximisation on a reduced, binarised copy
//!    (coarse 0.25° then 0.05° steps and a parabola; within 0.1° on
//!    typical forms), then a bilinear rotation back — for a skewed page
//!    done in one pass with steps 3 and 4 ([`geometry::straighten`]): the
//!    border is found on a turned reduced copy and each pixel of the
//!    200-dpi output is sampled straight from the page as scanned.
//! 3. **Border crop** ([`geometry::find_paper`], [`geometry::fill_border`])
//!    — dark or grey scanner background connected to the image edge is cut
//!    away; what remains of it (corners of a skewed page that lay outside
//!    the scan area) is painted in the paper's colour.
//! 4. **Resolution** ([`geometry::normalise`]) — scaled down to fit A4 at
//!    200 dpi (1654 × 2339 px) by area averaging; never enlarged.
//! 5. **Whitening** ([`tone`]) — a levels stretch that makes the paper white
//!    and keeps ink dark and the stamp red.
//! 6. **Red stamp** ([`stamp`]) — present/absent and its bounding box: red
//!    pixels, connected components, a round ring of seal size. Absent is a
//!    warning ([`stamp::NO_STAMP_WARNING`]), not a refusal.
//! 7. **QR** ([`qr`]) — payloads decoded with `rqrr`; the project's blank
//!    forms carry `JWF1:<form id>` ([`PageResult::form_id`]). Where the
//!    processed page shows no code, the regions of the page as scanned
//!    that look like one ([`qr::qr_candidates`]: many dark/light changes
//!    both ways, about half dark) are cut out and read at full
//!    resolution; a page with no such region is not read again.
//! 8. **Compression** ([`encode`]) — colour JPEG (grey for grey input;
//!    baseline, 4:2:0, with the page's dpi in the JFIF header, written by
//!    `jpeg-encoder`) at the highest quality in 85…42 that fits 300 KB,
//!    scaled down by 15 % steps only if even 42 does not; plus a 256-px
//!    thumbnail. Whitening makes a typical form fit at 85.
//!
//! A 300-dpi A4 colour page takes about 0.3–0.5 s of one core in a
//! release build (decode, deskew, crop, resize, checks, encode; median
//! about 0.36 s) — about a seventh of ImageMagick's time for the same
//! geometry (`jingwu-bench-scan`, see bench/README.md).
//!
//! # Output
//!
//! [`process_file`] and [`process_bytes`] return one [`PageResult`] per
//! page; it serialises (serde) to the JSON object the station's
//! `scan FILE… --out DIR` prints per page, without the JPEG and thumbnail
//! bytes, which the caller writes to files.
//!
//! # Test corpus
//!
//! `cargo run -p jingwu-scan --example make-corpus -- OUTDIR [DPI]` (or
//! `scripts/make-scan-corpus.sh`) renders synthetic A4 forms with Chinese
//! text, village-committee seals, skew, noise, scanner borders, blank
//! pages, QR blank forms, multi-page TIFFs and image-per-page PDFs, and
//! writes `manifest.json` with the truth for each page. The generator
//! lives in `tests/corpus/mod.rs`; `tests/scan.rs` builds a small corpus
//! with it and checks the pipeline against the manifest. All names in it
//! are made up.

use std::io::Read;
use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};
use serde::Serialize;

pub mod analysis;
/// The synthetic test corpus (feature `corpus`): test-data generation,
/// not used by the pipeline; it panics on a missing CJK font.
#[cfg(feature = "corpus")]
#[path = "../tests/corpus/mod.rs"]
pub mod corpus;
pub mod deskew;
pub mod encode;
pub mod error;
pub mod geometry;
pub mod input;
pub mod qr;
pub mod stamp;
pub mod tone;

pub use deskew::Skew;
pub use error::ScanError;
pub use geometry::Rect;
pub use input::{InputFormat, InputLimits};
pub use stamp::Stamp;

/// Processing options. [`Options::default`] is what the station uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Largest accepted file, in bytes (50 MB).
    pub max_file_bytes: u64,
    /// Per-page and per-file caps.
    pub limits: InputLimits,
    /// Largest skew corrected, in degrees (15).
    pub max_skew_degrees: f32,
    /// Detect and correct skew.
    pub deskew: bool,
    /// Cut dark scanner borders.
    pub crop_borders: bool,
    /// Target resolution for an A4 page (200 dpi).
    pub target_dpi: u32,
    /// Whiten the paper (levels stretch).
    pub whiten: bool,
    /// Byte budget of one output page (300 KB).
    pub max_output_bytes: usize,
    /// Longer side of the thumbnail (256 px).
    pub thumbnail_px: u32,
    /// Warn when no seal is found (forms that must carry the village
    /// committee's seal).
    pub expect_stamp: bool,
    /// Look for QR codes.
    pub decode_qr: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_file_bytes: 50 * 1024 * 1024,
            limits: InputLimits::default(),
            max_skew_degrees: 15.0,
            deskew: true,
            crop_borders: true,
            target_dpi: 200,
            whiten: true,
            max_output_bytes: 300 * 1000,
            thumbnail_px: 256,
            expect_stamp: true,
            decode_qr: true,
        }
    }
}

/// One processed page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageResult {
    /// The file (or label) the page came from.
    pub source: String,
    /// 1-based page number within the source.
    pub page: u32,
    /// Container format of the source.
    pub format: InputFormat,
    /// Size of the page as stored.
    pub input_width: u32,
    pub input_height: u32,
    /// EXIF orientation applied (1 = none; 6 = turned 90° clockwise …).
    pub orientation: u8,
    /// Detected skew in degrees, counter-clockwise positive, corrected in
    /// the output (0 when `text_found` is false).
    pub skew_degrees: f32,
    /// Whether the page had text lines to measure the skew from.
    pub text_found: bool,
    /// Part of the deskewed page kept after cutting scanner borders.
    pub crop: Option<Rect>,
    /// The red-stamp check.
    pub stamp: Stamp,
    /// QR payload (a blank form's `JWF1:…` preferred).
    pub qr: Option<String>,
    /// Blank form id when the QR is one of ours.
    pub form_id: Option<String>,
    /// Messages for the officer (not refusals).
    pub warnings: Vec<String>,
    /// Output JPEG size in pixels, quality and bytes.
    pub width: u32,
    pub height: u32,
    pub jpeg_quality: u8,
    pub output_bytes: usize,
    /// The output JPEG (not serialised).
    #[serde(skip)]
    pub jpeg: Vec<u8>,
    /// Thumbnail size and bytes.
    pub thumbnail_width: u32,
    pub thumbnail_height: u32,
    #[serde(skip)]
    pub thumbnail: Vec<u8>,
    /// Time spent on this page (decoding included), in milliseconds.
    pub millis: u64,
}

/// What [`process_image`] makes of one upright-to-be page.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedPage {
    pub orientation: u8,
    pub skew: Skew,
    pub crop: Option<Rect>,
    pub stamp: Stamp,
    pub qr: Option<String>,
    pub warnings: Vec<String>,
    pub jpeg: encode::Jpeg,
    pub thumbnail: encode::Jpeg,
}

/// Reads and processes a file. The size is checked from the metadata
/// before reading; the read itself is capped too.
pub fn process_file(path: impl AsRef<Path>, opts: &Options) -> Result<Vec<PageResult>, ScanError> {
    let path = path.as_ref();
    let bytes = read_file(path, opts)?;
    process_bytes(&bytes, &path.display().to_string(), opts)
}

/// Reads a file for [`process_bytes`]: the size is checked from the
/// metadata before reading (an empty or oversized file is refused without
/// reading it) and the read itself is capped.
pub fn read_file(path: impl AsRef<Path>, opts: &Options) -> Result<Vec<u8>, ScanError> {
    let path = path.as_ref();
    let io = |e: std::io::Error| ScanError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    check_size(len, opts)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(opts.max_file_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    check_size(bytes.len() as u64, opts)?;
    Ok(bytes)
}

/// Processes a file already in memory; `source` names it in the results.
pub fn process_bytes(
    bytes: &[u8],
    source: &str,
    opts: &Options,
) -> Result<Vec<PageResult>, ScanError> {
    check_size(bytes.len() as u64, opts)?;
    let format = input::sniff(bytes)?;
    let mut results = Vec::new();
    input::for_each_page(bytes, format, &opts.limits, |raw| {
        let (input_width, input_height) = (raw.image.width(), raw.image.height());
        let p = process_image(raw.image, raw.orientation, opts)?;
        let form_id = p.qr.as_deref().and_then(qr::form_id).map(str::to_string);
        results.push(PageResult {
            source: source.to_string(),
            page: raw.page,
            format,
            input_width,
            input_height,
            orientation: p.orientation,
            skew_degrees: (p.skew.degrees * 100.0).round() / 100.0,
            text_found: p.skew.text_found,
            crop: p.crop,
            stamp: p.stamp,
            qr: p.qr,
            form_id,
            warnings: p.warnings,
            width: p.jpeg.width,
            height: p.jpeg.height,
            jpeg_quality: p.jpeg.quality,
            output_bytes: p.jpeg.bytes.len(),
            jpeg: p.jpeg.bytes,
            thumbnail_width: p.thumbnail.width,
            thumbnail_height: p.thumbnail.height,
            thumbnail: p.thumbnail.bytes,
            millis: u64::try_from(raw.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        Ok(())
    })?;
    if results.is_empty() {
        return Err(ScanError::NoPages);
    }
    Ok(results)
}

/// Turns a processed page (a JPEG this pipeline wrote) clockwise by
/// `quarter_turns` × 90° (1, 2 or 3) and encodes it again within
/// `max_bytes`; a grey page stays grey. For pages the officer finds
/// upside down or sideways.
pub fn rotate_page(
    jpeg: &[u8],
    quarter_turns: u8,
    max_bytes: usize,
) -> Result<encode::Jpeg, ScanError> {
    if !(1..=3).contains(&quarter_turns) {
        return Err(ScanError::BadRotation(quarter_turns));
    }
    if input::sniff(jpeg)? != InputFormat::Jpeg {
        return Err(ScanError::UnknownFormat);
    }
    let (image, _) = input::decode_single(jpeg, InputFormat::Jpeg, &InputLimits::default())?;
    let gray = !image.color().has_color();
    let rgb = image.into_rgb8();
    let turned = match quarter_turns {
        1 => image::imageops::rotate90(&rgb),
        2 => image::imageops::rotate180(&rgb),
        _ => image::imageops::rotate270(&rgb),
    };
    encode::compress_within(&turned, max_bytes, gray)
}

fn check_size(len: u64, opts: &Options) -> Result<(), ScanError> {
    if len == 0 {
        return Err(ScanError::Empty);
    }
    if len > opts.max_file_bytes {
        let mb = |b: u64| b.div_ceil(1024 * 1024);
        return Err(ScanError::TooLarge {
            size_mb: mb(len),
            max_mb: mb(opts.max_file_bytes),
        });
    }
    Ok(())
}

/// The whole per-page pipeline on a decoded page.
pub fn process_image(
    image: DynamicImage,
    orientation: Orientation,
    opts: &Options,
) -> Result<ProcessedPage, ScanError> {
    let gray = !image.color().has_color();
    let mut image = image;
    image.apply_orientation(orientation);
    let rgb: RgbImage = image.into_rgb8();
    // The page as scanned (upright, not yet turned or scaled), for a QR
    // code the processed page no longer reads: interpolation blurs small
    // modules. Kept only while this page is processed.
    let scanned_luma = opts.decode_qr.then(|| analysis::luma_plane(&rgb));

    let skew = if opts.deskew {
        deskew::detect_skew(&rgb, opts.max_skew_degrees)
    } else {
        Skew {
            degrees: 0.0,
            text_found: false,
        }
    };
    let (rgb, crop) = if deskew::needs_turn(skew) {
        // Turned, cut and scaled in one pass.
        let fill = deskew::fill_colour(&rgb);
        geometry::straighten(
            &rgb,
            -skew.degrees,
            fill,
            opts.crop_borders,
            opts.target_dpi,
        )
    } else {
        let (rgb, crop) = if opts.crop_borders {
            let (rgb, crop) = geometry::crop_borders(rgb);
            (geometry::fill_border(rgb), crop)
        } else {
            (rgb, None)
        };
        (geometry::normalise(rgb, opts.target_dpi), crop)
    };
    let rgb = if opts.whiten { tone::whiten(rgb) } else { rgb };

    let stamp = if gray {
        Stamp {
            present: false,
            bbox: None,
            score: 0.0,
        }
    } else {
        stamp::detect_stamp(&rgb)
    };
    let qr = if opts.decode_qr {
        qr::pick_payload(&qr::decode_qr_with(
            &analysis::luma_plane(&rgb),
            scanned_luma.as_ref(),
        ))
    } else {
        None
    };
    let mut warnings = Vec::new();
    if opts.expect_stamp && !stamp.present {
        warnings.push(if gray {
            format!(
                "{}（黑白扫描无法识别红色印章，请用彩色模式扫描）",
                stamp::NO_STAMP_WARNING
            )
        } else {
            stamp::NO_STAMP_WARNING.to_string()
        });
    }
    let mut jpeg = encode::compress_within(&rgb, opts.max_output_bytes, gray)?;
    let mut stamp = stamp;
    if jpeg.width != rgb.width() {
        // The page had to be scaled down to fit the budget: scale the box.
        let f = jpeg.width as f32 / rgb.width() as f32;
        stamp.bbox = stamp.bbox.map(|b| Rect {
            x: (b.x as f32 * f) as u32,
            y: (b.y as f32 * f) as u32,
            width: (b.width as f32 * f) as u32,
            height: (b.height as f32 * f) as u32,
        });
    }
    let thumbnail = encode::thumbnail(&rgb, opts.thumbnail_px, gray)?;
    jpeg.bytes.shrink_to_fit();
    Ok(ProcessedPage {
        orientation: orientation.to_exif(),
        skew,
        crop,
        stamp,
        qr,
        warnings,
        jpeg,
        thumbnail,
    })
}
