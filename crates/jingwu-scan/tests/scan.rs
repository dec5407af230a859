//! Acceptance tests of the scan pipeline on a generated corpus (see
//! `tests/corpus/mod.rs`), and refusals of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod corpus;

use std::time::{Duration, Instant};

use image::GenericImageView;
use jingwu_scan::{process_bytes, process_file, Options, PageResult, ScanError};

/// Test pages are rendered at 150 dpi to keep the debug-build suite fast.
const DPI: u32 = 150;

fn luma(p: [u8; 3]) -> f32 {
    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
}

/// Mean luminance of the dark (ink) and light (paper) classes of the
/// output, split by Otsu's threshold; coloured pixels (the stamp) left out.
fn contrast(jpeg: &[u8]) -> (f32, f32) {
    let img = image::load_from_memory(jpeg).unwrap().to_rgb8();
    let mut hist = [0u64; 256];
    let grey: Vec<u8> = img
        .pixels()
        .filter(|p| {
            let [r, g, b] = p.0;
            r.max(g).max(b) - r.min(g).min(b) < 40
        })
        .map(|p| luma(p.0) as u8)
        .collect();
    for v in &grey {
        hist[usize::from(*v)] += 1;
    }
    let t = jingwu_scan::analysis::otsu(&hist);
    let (mut dark, mut nd, mut light, mut nl) = (0f64, 0u64, 0f64, 0u64);
    for v in grey {
        if v <= t {
            dark += f64::from(v);
            nd += 1;
        } else {
            light += f64::from(v);
            nl += 1;
        }
    }
    (
        (dark / nd.max(1) as f64) as f32,
        (light / nl.max(1) as f64) as f32,
    )
}

/// Mean luminance of the outermost 2 % on each side of the output.
fn edge_luma(jpeg: &[u8]) -> f32 {
    let img = image::load_from_memory(jpeg).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    let (bx, by) = ((w / 50).max(1), (h / 50).max(1));
    let mut sum = 0f64;
    let mut n = 0u64;
    for (x, y, p) in img.enumerate_pixels() {
        if x < bx || y < by || x >= w - bx || y >= h - by {
            sum += f64::from(luma(p.0));
            n += 1;
        }
    }
    (sum / n as f64) as f32
}

#[test]
fn corpus_pages_match_their_truth() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let truth = corpus::write_corpus(dir.path(), &corpus::standard(), DPI);
    eprintln!("corpus: {} pages in {:?}", truth.len(), started.elapsed());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest.as_array().map(Vec::len), Some(truth.len()));

    let mut files: Vec<&str> = truth.iter().map(|t| t.file.as_str()).collect();
    files.dedup();
    // Two files at a time (the machines have two cores).
    let failures: Vec<String> = std::thread::scope(|scope| {
        let lanes: Vec<_> = (0..2)
            .map(|lane| {
                let (files, truth, dir) = (&files, &truth, dir.path());
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for file in files.iter().skip(lane).step_by(2) {
                        check_file(dir, file, truth, &mut failures);
                    }
                    failures
                })
            })
            .collect();
        lanes.into_iter().flat_map(|l| l.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check_file(
    dir: &std::path::Path,
    file: &str,
    truth: &[corpus::Truth],
    failures: &mut Vec<String>,
) {
    let opts = Options::default();
    let pages: Vec<&corpus::Truth> = truth.iter().filter(|t| t.file == file).collect();
    let results: Vec<PageResult> = match process_file(dir.join(file), &opts) {
        Ok(r) => r,
        Err(e) => {
            failures.push(format!("{file}: {e}"));
            return;
        }
    };
    if results.len() != pages.len() {
        failures.push(format!(
            "{file}: {} pages, expected {}",
            results.len(),
            pages.len()
        ));
        return;
    }
    for (t, r) in pages.iter().zip(&results) {
        let at = format!("{file} p{}", t.page);
        eprintln!(
            "{at}: skew {:+.2} (truth {:+.2}) stamp {} ({:.2}) qr {:?} {}x{} q{} {} B {} ms",
            r.skew_degrees,
            t.skew_degrees,
            r.stamp.present,
            r.stamp.score,
            r.qr,
            r.width,
            r.height,
            r.jpeg_quality,
            r.output_bytes,
            r.millis
        );
        assert_eq!(r.page, t.page, "{at}: page order");
        if t.text {
            if !r.text_found || (r.skew_degrees - t.skew_degrees).abs() > 0.5 {
                failures.push(format!(
                    "{at}: skew {} (text found {}), truth {}",
                    r.skew_degrees, r.text_found, t.skew_degrees
                ));
            }
            // Content kept: as much ink as the clean page had (nothing
            // erased as "border", no border left as "ink").
            let out = image::load_from_memory(&r.jpeg).unwrap().to_rgb8();
            let ratio = corpus::ink_fraction(&out) / t.ink;
            if !(0.75..=1.3).contains(&ratio) {
                failures.push(format!(
                    "{at}: ink {:.4} vs clean page {:.4}",
                    corpus::ink_fraction(&out),
                    t.ink
                ));
            }
            let (dark, light) = contrast(&r.jpeg);
            if light - dark <= 100.0 {
                failures.push(format!("{at}: contrast ink {dark:.0} paper {light:.0}"));
            }
        } else if r.text_found && r.skew_degrees.abs() > 0.5 {
            failures.push(format!("{at}: blank page rotated by {}", r.skew_degrees));
        }
        if r.stamp.present != t.stamp {
            failures.push(format!(
                "{at}: stamp {} (score {:.2}), truth {}",
                r.stamp.present, r.stamp.score, t.stamp
            ));
        }
        if r.stamp.present != r.stamp.bbox.is_some() {
            failures.push(format!("{at}: bbox {:?}", r.stamp.bbox));
        }
        if t.stamp
            == r.warnings
                .iter()
                .any(|w| w.contains("未检测到村（居）委会印章"))
        {
            failures.push(format!("{at}: warnings {:?}", r.warnings));
        }
        if r.qr != t.qr {
            failures.push(format!("{at}: qr {:?}, truth {:?}", r.qr, t.qr));
        }
        let expected_id = t.qr.as_deref().and_then(|q| q.strip_prefix("JWF1:"));
        if r.form_id.as_deref() != expected_id {
            failures.push(format!("{at}: form id {:?}", r.form_id));
        }
        if r.output_bytes > 300_000 || r.output_bytes != r.jpeg.len() {
            failures.push(format!("{at}: output {} bytes", r.output_bytes));
        }
        let out = image::load_from_memory(&r.jpeg).unwrap();
        if out.dimensions() != (r.width, r.height) || r.height <= r.width {
            failures.push(format!("{at}: output {:?} not portrait", out.dimensions()));
        }
        if t.border && edge_luma(&r.jpeg) < 200.0 {
            failures.push(format!(
                "{at}: scanner border left (edge luminance {:.0})",
                edge_luma(&r.jpeg)
            ));
        }
        let thumb = image::load_from_memory(&r.thumbnail).unwrap();
        if thumb.width().max(thumb.height()) != 256 {
            failures.push(format!("{at}: thumbnail {:?}", thumb.dimensions()));
        }
        let json = serde_json::to_value(r).unwrap();
        for key in [
            "source",
            "page",
            "skew_degrees",
            "stamp",
            "qr",
            "output_bytes",
            "millis",
        ] {
            if json.get(key).is_none() {
                failures.push(format!("{at}: JSON lacks {key}"));
            }
        }
        if json.get("jpeg").is_some() || json.get("thumbnail").is_some() {
            failures.push(format!("{at}: JSON carries the image bytes"));
        }
    }
}

/// A full-size A4 colour page at the target 200 dpi, noisy, stamped:
/// the output stays within 300 KB at the target size and keeps its text.
#[test]
fn a4_colour_page_fits_300_kb() {
    let fonts = corpus::Fonts::locate();
    let spec = corpus::PageSpec {
        noise: 9.0,
        qr: Some("JWF1:FX-20260312-0099".into()),
        ..corpus::PageSpec::form(1.8)
    };
    let page = corpus::render_page(&spec, &fonts, 200);
    let scanned = corpus::scan(&page, &spec, 200, 99);
    let bytes = corpus::jpeg_bytes(&scanned, 95);
    let r = process_bytes(&bytes, "a4.jpg", &Options::default()).unwrap();
    let r = &r[0];
    assert!(r.output_bytes <= 300_000, "{} bytes", r.output_bytes);
    assert!(
        r.width >= 1600 && r.height >= 2260,
        "{}x{}",
        r.width,
        r.height
    );
    assert!(r.stamp.present);
    assert_eq!(r.qr.as_deref(), Some("JWF1:FX-20260312-0099"));
    assert!((r.skew_degrees - 1.8).abs() <= 0.5, "{}", r.skew_degrees);
    let (dark, light) = contrast(&r.jpeg);
    assert!(light - dark > 100.0, "ink {dark} paper {light}");
}

fn refused(name: &str, bytes: &[u8]) -> (ScanError, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let t = Instant::now();
    let e = process_file(&path, &Options::default()).unwrap_err();
    (e, t.elapsed())
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A 60-byte PNG declaring 50,000 × 50,000 RGB pixels.
fn png_bomb() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1]);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A small JPEG whose frame header declares 50,000 × 50,000.
fn jpeg_bomb() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(16, 16, image::Rgb([200, 200, 200]));
    let mut j = corpus::jpeg_bytes(&img, 80);
    let sof = j.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    j[sof + 5..sof + 7].copy_from_slice(&50_000u16.to_be_bytes());
    j[sof + 7..sof + 9].copy_from_slice(&50_000u16.to_be_bytes());
    j
}

#[test]
fn bad_input_is_refused_quickly_with_a_clear_message() {
    let limit = Duration::from_secs(5);
    let fonts = corpus::Fonts::locate();
    let spec = corpus::PageSpec::form(2.0);
    let page = corpus::scan(&corpus::render_page(&spec, &fonts, 100), &spec, 100, 7);
    let good = corpus::jpeg_bytes(&page, 85);

    let (e, t) = refused("truncated.jpg", &good[..good.len() * 6 / 10]);
    assert_eq!(e, ScanError::Truncated { format: "JPEG" });
    assert!(e.to_string().contains("不完整"), "{e}");
    assert!(t < limit, "{t:?}");

    for (name, bomb) in [("bomb.png", png_bomb()), ("bomb.jpg", jpeg_bomb())] {
        let (e, t) = refused(name, &bomb);
        assert!(
            matches!(
                e,
                ScanError::TooManyPixels {
                    width: 50_000,
                    height: 50_000,
                    ..
                }
            ),
            "{name}: {e:?}"
        );
        assert!(e.to_string().contains("50000×50000"), "{e}");
        assert!(t < limit, "{name}: {t:?}");
    }

    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
    exe.resize(4096, 0);
    let (e, t) = refused("invoice.jpg", &exe);
    assert!(matches!(e, ScanError::NotAnImage { .. }), "{e:?}");
    assert!(e.to_string().contains("可执行程序"), "{e}");
    assert!(t < limit);

    let (e, t) = refused("empty.jpg", b"");
    assert_eq!(e, ScanError::Empty);
    assert!(e.to_string().contains("文件为空"), "{e}");
    assert!(t < limit);

    let (e, _) = refused("notes.pdf", b"just some text, not a scan");
    assert_eq!(e, ScanError::UnknownFormat);

    // 200 MB, written sparse: refused from its size before reading.
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.jpg");
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len(200 * 1024 * 1024).unwrap();
    drop(f);
    let t = Instant::now();
    let e = process_file(&huge, &Options::default()).unwrap_err();
    assert_eq!(
        e,
        ScanError::TooLarge {
            size_mb: 200,
            max_mb: 50
        }
    );
    assert!(e.to_string().contains("文件过大"), "{e}");
    assert!(t.elapsed() < limit);

    // A PDF page without an image (a text PDF, not a scan).
    let text_pdf = {
        use lopdf::{dictionary, Document, Object, Stream};
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let content = doc.add_object(Stream::new(dictionary! {}, b"BT ET".to_vec()));
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "Resources" => dictionary! {},
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(
                dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 },
            ),
        );
        let cat = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", cat);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    };
    let (e, t) = refused("text.pdf", &text_pdf);
    assert_eq!(e, ScanError::PdfPageWithoutImage { page: 1 });
    assert!(t < limit);

    // PDF bombs: a page declaring a 50,000 × 50,000 image, and a page
    // whose Flate stream inflates to far more than its declared size.
    let bomb = |w: i64, h: i64, raw: usize| {
        use lopdf::dictionary;
        let dict = dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => w, "Height" => h,
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8, "Filter" => "FlateDecode",
        };
        let stream =
            lopdf::Stream::new(dict, corpus::zlib(&vec![0u8; raw])).with_compression(false);
        corpus::pdf_from_images(vec![(stream, (595.0, 842.0))])
    };
    let (e, t) = refused("bomb.pdf", &bomb(50_000, 50_000, 1 << 20));
    assert!(
        matches!(
            e,
            ScanError::TooManyPixels {
                width: 50_000,
                height: 50_000,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(t < limit);
    let (e, t) = refused("inflate-bomb.pdf", &bomb(100, 100, 16 << 20));
    assert!(matches!(e, ScanError::Pdf(_)), "{e:?}");
    assert!(e.to_string().contains("解压"), "{e}");
    assert!(t < limit, "{t:?}");
}

/// A processed page turned by quarter turns: sizes swap, the content turns
/// with it (a dark corner moves clockwise), grey stays grey, four turns of
/// one make the page upright again; anything but 1–3 is refused.
#[test]
fn processed_pages_turn_by_quarter_turns() {
    let mut img = image::RgbImage::from_pixel(120, 80, image::Rgb([255, 255, 255]));
    for y in 0..20 {
        for x in 0..20 {
            img.put_pixel(x, y, image::Rgb([0, 0, 0]));
        }
    }
    let jpeg = jingwu_scan::encode::encode_jpeg(&img, 90, false)
        .unwrap()
        .bytes;
    let dark = |bytes: &[u8], x: u32, y: u32| {
        let d = image::load_from_memory(bytes).unwrap().to_rgb8();
        luma(d.get_pixel(x, y).0) < 64.0
    };
    let once = jingwu_scan::rotate_page(&jpeg, 1, 300_000).unwrap();
    assert_eq!((once.width, once.height), (80, 120));
    // Top-left went to top-right.
    assert!(dark(&once.bytes, 70, 5) && !dark(&once.bytes, 5, 5));
    let half = jingwu_scan::rotate_page(&jpeg, 2, 300_000).unwrap();
    assert_eq!((half.width, half.height), (120, 80));
    assert!(dark(&half.bytes, 110, 70) && !dark(&half.bytes, 5, 5));
    let back = jingwu_scan::rotate_page(&jpeg, 3, 300_000).unwrap();
    assert!(dark(&back.bytes, 5, 110));
    let mut four = once.bytes.clone();
    for _ in 0..3 {
        four = jingwu_scan::rotate_page(&four, 1, 300_000).unwrap().bytes;
    }
    assert!(dark(&four, 5, 5) && !dark(&four, 110, 70));
    let grey = jingwu_scan::encode::encode_jpeg(&img, 90, true)
        .unwrap()
        .bytes;
    let g = jingwu_scan::rotate_page(&grey, 1, 300_000).unwrap();
    assert_eq!(
        image::load_from_memory(&g.bytes).unwrap().color(),
        image::ColorType::L8
    );
    for bad in [0, 4] {
        assert_eq!(
            jingwu_scan::rotate_page(&jpeg, bad, 300_000).unwrap_err(),
            ScanError::BadRotation(bad)
        );
    }
    assert!(jingwu_scan::rotate_page(b"MZ\x90\0not a jpeg", 1, 300_000).is_err());
}

/// The QR candidate finder on rendered forms with Chinese text and a
/// seal: the blank form's code (drawn at 165 mm, 12 mm) is always inside
/// a candidate, and a form without a code gives little to read; on a
/// skewed scan, the code is read from a candidate alone.
#[test]
fn qr_candidates_on_rendered_forms() {
    let fonts = corpus::Fonts::locate();
    let payload = "JWF1:FX-20261127-0042";
    let with_qr = corpus::PageSpec {
        qr: Some(payload.to_string()),
        ..corpus::PageSpec::form(0.0)
    };
    let without = corpus::PageSpec::form(0.0);
    let n = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)
        .unwrap()
        .width() as u32;
    for dpi in [120, 150, 300] {
        let mm = |v: f32| (v / 25.4 * dpi as f32) as u32;
        let module = (0.7 / 25.4 * dpi as f32).round().max(3.0) as u32;
        let (x0, y0) = (mm(165.0), mm(12.0));
        let (x1, y1) = (x0 + n * module, y0 + n * module);
        let page = corpus::render_page(&with_qr, &fonts, dpi);
        let luma = jingwu_scan::analysis::luma_plane(&page);
        let found = jingwu_scan::qr::qr_candidates(&luma);
        assert!(
            found
                .iter()
                .any(|r| r.x <= x0 && r.y <= y0 && r.x + r.width >= x1 && r.y + r.height >= y1),
            "{dpi} dpi: code at {x0},{y0}–{x1},{y1} not in {found:?}"
        );

        let page = corpus::render_page(&without, &fonts, dpi);
        let luma = jingwu_scan::analysis::luma_plane(&page);
        let found = jingwu_scan::qr::qr_candidates(&luma);
        let area: u64 = found
            .iter()
            .map(|r| u64::from(r.width) * u64::from(r.height))
            .sum();
        let page_area = u64::from(luma.width()) * u64::from(luma.height());
        assert!(area * 5 < page_area, "{dpi} dpi: {found:?}");
        assert!(found.len() <= 5, "{dpi} dpi: {found:?}");
    }

    let skewed = corpus::PageSpec {
        skew: 4.5,
        ..with_qr
    };
    let scanned = corpus::scan(&corpus::render_page(&skewed, &fonts, 150), &skewed, 150, 5);
    let scanned = jingwu_scan::analysis::luma_plane(&scanned);
    let processed = image::GrayImage::from_pixel(1654, 2339, image::Luma([250]));
    assert_eq!(
        jingwu_scan::qr::decode_qr_with(&processed, Some(&scanned)),
        vec![payload.to_string()]
    );
}

/// The code the real blank form prints (`jingwu_slip::qr::encode`, 62 mm
/// wide with its quiet zone, about 1.9-mm modules) on a form with text
/// and a seal: a candidate at every scan resolution, read from it alone.
#[test]
fn the_printed_blank_forms_code_is_a_candidate() {
    let fonts = corpus::Fonts::locate();
    let payload = "JWF1:FX-20261127-0042";
    let (code, _) = jingwu_slip::qr::encode(payload).unwrap();
    let spec = corpus::PageSpec::form(0.0);
    for dpi in [100, 150, 200, 300] {
        let mm = |v: f32| (v / 25.4 * dpi as f32).round() as u32;
        let side = mm(62.0);
        let code =
            image::imageops::resize(&code, side, side, image::imageops::FilterType::Triangle);
        let mut luma = jingwu_scan::analysis::luma_plane(&corpus::render_page(&spec, &fonts, dpi));
        let (x0, y0) = (mm(128.0), mm(20.0));
        image::imageops::overlay(&mut luma, &code, i64::from(x0), i64::from(y0));
        let found = jingwu_scan::qr::qr_candidates(&luma);
        assert!(
            found.iter().any(|r| r.x <= x0
                && r.y <= y0
                && r.x + r.width >= x0 + side
                && r.y + r.height >= y0 + side),
            "{dpi} dpi: code at {x0},{y0} ({side} px) not in {found:?}"
        );
        let processed = image::GrayImage::from_pixel(100, 140, image::Luma([250]));
        assert_eq!(
            jingwu_scan::qr::decode_qr_with(&processed, Some(&luma)),
            vec![payload.to_string()],
            "{dpi} dpi"
        );
    }
}
