//! Seal pictures, electronic seals and signatures-with-seal.
//!
//! These tests need a Chinese font and FAIL (never skip) without one: the
//! project's setup script installs `fonts-noto-cjk`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use image::RgbaImage;
use jingwu_core::crypto::{sm3_hex, Signer, SoftwareKey};
use jingwu_slip::font::CjkFont;
use jingwu_slip::seal::{
    png_bytes, render_personal_seal, render_unit_seal, PersonalSealLayout, Seal, SealDraft,
    SealError, SealKind, SealStamp, SignedStamp, UnitSealLayout, SEAL_RED,
};
use proptest::prelude::*;
use time::macros::datetime;
use time::OffsetDateTime;

const UNIT_NAME: &str = "雷山县公安局方祥派出所";
const UNIT_BOTTOM: &str = "户口专用章";
const PERSON: &str = "王德勇";

fn font() -> &'static CjkFont {
    static FONT: OnceLock<CjkFont> = OnceLock::new();
    FONT.get_or_init(|| match CjkFont::locate_bold() {
        Ok(f) => f,
        Err(e) => panic!("没有可用的中文字体（安装 fonts-noto-cjk）：{e}"),
    })
}

fn alpha(img: &RgbaImage, x: f32, y: f32) -> u8 {
    img.get_pixel(x.round() as u32, y.round() as u32).0[3]
}

/// Pixels with any ink, as (x centre, y centre, alpha).
fn inked(img: &RgbaImage) -> impl Iterator<Item = (f32, f32, u8)> + '_ {
    img.enumerate_pixels()
        .filter(|(_, _, p)| p.0[3] > 0)
        .map(|(x, y, p)| (x as f32 + 0.5, y as f32 + 0.5, p.0[3]))
}

fn artefact_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes the PNG to a temp dir, reloads it with the image crate and checks
/// the pixels survived; also keeps a copy in test-artifacts/ for eyes.
fn save_and_reload(img: &RgbaImage, file: &str) {
    let png = png_bytes(img).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(file);
    std::fs::write(&path, &png).unwrap();
    let back = image::open(&path).unwrap().to_rgba8();
    assert_eq!(back.dimensions(), img.dimensions());
    assert!(back == *img, "PNG round trip changed pixels");
    std::fs::write(artefact_dir().join(file), &png).unwrap();
}

#[test]
fn font_is_simplified_chinese() {
    let f = font();
    for c in ['印', '章', '派', '出', '所', '雷', '户', '勇'] {
        assert!(f.has_glyph(c), "{c}");
    }
    let family = f.family_name().unwrap_or_default();
    assert!(!family.contains("JP") && !family.contains("TC"), "{family}");
    assert!(!f.bytes().is_empty());
    assert!(f.path().exists());
}

#[test]
fn unit_seal_picture() {
    let size = 400;
    let f = font();
    let started = Instant::now();
    let img = render_unit_seal(UNIT_NAME, Some(UNIT_BOTTOM), f, size).unwrap();
    eprintln!("render_unit_seal 400 px: {:?}", started.elapsed());
    assert_eq!(img.dimensions(), (size, size));
    let l = UnitSealLayout::for_size(size);
    let c = l.centre;
    assert!(l.ring_outer > 0.47 * size as f32);

    // Only seal red, at any alpha.
    assert!(img.pixels().all(|p| p.0[..3] == SEAL_RED || p.0[3] == 0));

    // The star fills the centre.
    for dy in -3..=3 {
        for dx in -3..=3 {
            assert_eq!(alpha(&img, c + dx as f32, c + dy as f32), 255);
        }
    }
    assert_eq!(
        alpha(&img, c, c - l.star_outer * 0.8),
        255,
        "upper star point"
    );
    assert_eq!(alpha(&img, c, c - l.star_outer - 6.0), 0, "above the star");

    // A solid ring near the edge.
    let mid = (l.ring_outer + l.ring_inner) / 2.0;
    for k in 0..720 {
        let a = (k as f32 / 2.0).to_radians();
        assert_eq!(
            alpha(&img, c + mid * a.cos(), c + mid * a.sin()),
            255,
            "{k}"
        );
    }

    // Transparent corners.
    for (x0, y0) in [
        (0, 0),
        (size - 12, 0),
        (0, size - 12),
        (size - 12, size - 12),
    ] {
        for y in y0..y0 + 12 {
            for x in x0..x0 + 12 {
                assert_eq!(img.get_pixel(x, y).0[3], 0, "({x},{y})");
            }
        }
    }

    // Nothing outside the ring.
    for (x, y, _) in inked(&img) {
        let d = ((x - c).powi(2) + (y - c).powi(2)).sqrt();
        assert!(d <= l.ring_outer + 1.0, "ink at ({x},{y}), r = {d}");
    }

    // Plenty of ink in the upper arc band (the name).
    let band: usize = inked(&img)
        .filter(|(x, y, a)| {
            let d = ((x - c).powi(2) + (y - c).powi(2)).sqrt();
            *a > 128 && d >= l.text_inner - 2.0 && d <= l.text_outer + 2.0 && *y < c
        })
        .count();
    assert!(band > 4000, "only {band} name pixels in the upper band");

    // The name reads left to right: its first character (雷) starts on the
    // left, its last (所) ends on the right, symmetric about the vertical.
    let left: usize = inked(&img)
        .filter(|(x, y, _)| *x < c && *y < c + l.ring_inner * 0.5)
        .filter(|(x, y, _)| ((x - c).powi(2) + (y - c).powi(2)).sqrt() > l.text_inner - 2.0)
        .count();
    let right: usize = inked(&img)
        .filter(|(x, y, _)| *x >= c && *y < c + l.ring_inner * 0.5)
        .filter(|(x, y, _)| ((x - c).powi(2) + (y - c).powi(2)).sqrt() > l.text_inner - 2.0)
        .count();
    let ratio = left as f32 / right as f32;
    assert!((0.6..1.6).contains(&ratio), "left {left}, right {right}");

    // The horizontal text under the star.
    let bottom: usize = inked(&img)
        .filter(|(x, y, a)| {
            *a > 128 && (y - l.bottom_y).abs() <= l.bottom_height * 0.6 && (x - c).abs() < c * 0.7
        })
        .count();
    assert!(bottom > 1500, "only {bottom} pixels of bottom text");

    // Deterministic pictures (their hash is signed into the seal).
    let again = render_unit_seal(UNIT_NAME, Some(UNIT_BOTTOM), font(), size).unwrap();
    assert_eq!(png_bytes(&img).unwrap(), png_bytes(&again).unwrap());

    save_and_reload(&img, "seal-unit.png");
}

#[test]
fn unit_seal_text_stays_on_the_upper_arc() {
    let size = 300;
    let img = render_unit_seal(UNIT_NAME, None, font(), size).unwrap();
    let l = UnitSealLayout::for_size(size);
    let c = l.centre;
    // The lower 60° sector between star and ring is empty without bottom text.
    for (x, y, _) in inked(&img) {
        let d = ((x - c).powi(2) + (y - c).powi(2)).sqrt();
        let from_bottom = (x - c).atan2(y - c).to_degrees().abs();
        if d > l.star_outer + 2.0 && d < l.ring_inner - 2.0 {
            assert!(from_bottom > 30.0, "ink at ({x},{y})");
        }
    }
    // Short names are drawn too, centred on top.
    let short = render_unit_seal("派出所", None, font(), 200).unwrap();
    let l = UnitSealLayout::for_size(200);
    let top = inked(&short)
        .filter(|(_, y, _)| *y < l.centre - l.text_inner + 4.0)
        .count();
    assert!(top > 300, "{top}");
}

#[test]
fn personal_seal_picture() {
    let size = 400;
    let f = font();
    let started = Instant::now();
    let img = render_personal_seal(PERSON, f, size).unwrap();
    eprintln!("render_personal_seal 400 px: {:?}", started.elapsed());
    assert_eq!(img.dimensions(), (size, size));
    let l = PersonalSealLayout::for_size(size);
    let s = size as f32;
    assert!(img.pixels().all(|p| p.0[..3] == SEAL_RED || p.0[3] == 0));

    // A solid square border on all four sides.
    let b = l.border_inset + l.border_width / 2.0;
    for k in 0..=100 {
        let t = l.border_inset + 1.0 + (s - 2.0 * l.border_inset - 2.0) * k as f32 / 100.0;
        for (x, y) in [(t, b), (t, s - b), (b, t), (s - b, t)] {
            assert_eq!(alpha(&img, x, y), 255, "border at ({x},{y})");
        }
    }
    // Nothing outside it; transparent corners.
    for (x, y, _) in inked(&img) {
        assert!(
            x >= l.border_inset - 1.0 && x <= s - l.border_inset + 1.0,
            "ink at ({x},{y})"
        );
        assert!(
            y >= l.border_inset - 1.0 && y <= s - l.border_inset + 1.0,
            "ink at ({x},{y})"
        );
    }
    // Clear space between border and characters, mostly.
    let inner = l.border_inset + l.border_width;
    let pad_mid = (inner + l.text_inset) / 2.0;
    let mut touched = 0;
    for k in 0..200 {
        let t = inner + (s - 2.0 * inner) * k as f32 / 200.0;
        for (x, y) in [
            (t, pad_mid),
            (t, s - pad_mid),
            (pad_mid, t),
            (s - pad_mid, t),
        ] {
            if alpha(&img, x, y) > 0 {
                touched += 1;
            }
        }
    }
    assert!(touched < 40, "{touched} inked samples in the padding");

    // Right column: 王 alone over the full height; left column: 德 over 勇.
    let count = |x0: f32, x1: f32, y0: f32, y1: f32| {
        inked(&img)
            .filter(|(x, y, a)| *a > 128 && *x >= x0 && *x < x1 && *y >= y0 && *y < y1)
            .count()
    };
    let (t0, t1) = (l.text_inset, s - l.text_inset);
    let midx = s / 2.0;
    let q = (t1 - t0) / 4.0;
    assert!(count(midx, t1, t0, t0 + q) > 800, "王 top");
    assert!(count(midx, t1, t1 - q, t1) > 800, "王 bottom");
    assert!(count(t0, midx, t0, midx) > 2000, "德");
    assert!(count(t0, midx, midx, t1) > 2000, "勇");

    save_and_reload(&img, "seal-personal.png");

    // The other layouts render too.
    for name in ["王", "王勇", "欧阳德勇"] {
        let img = render_personal_seal(name, font(), 200).unwrap();
        assert!(inked(&img).count() > 3000, "{name}");
    }
}

/// Other names and sizes, kept in test-artifacts/ for eyes.
#[test]
fn seal_gallery() {
    let cases: [(&str, Option<&str>, u32, &str); 4] = [
        (
            "黔东南苗族侗族自治州雷山县公安局治安管理大队",
            Some("户口审批专用章"),
            400,
            "seal-unit-long.png",
        ),
        ("丹江派出所", None, 300, "seal-unit-short.png"),
        ("雷山县公安局", Some("专用章"), 128, "seal-unit-128.png"),
        (
            "雷山县公安局方祥派出所",
            Some("户口专用章"),
            1024,
            "seal-unit-1024.png",
        ),
    ];
    for (name, bottom, size, file) in cases {
        let img = render_unit_seal(name, bottom, font(), size).unwrap();
        std::fs::write(artefact_dir().join(file), png_bytes(&img).unwrap()).unwrap();
    }
    for (name, file) in [
        ("李", "seal-personal-1.png"),
        ("李四", "seal-personal-2.png"),
        ("欧阳德勇", "seal-personal-4.png"),
    ] {
        let img = render_personal_seal(name, font(), 200).unwrap();
        std::fs::write(artefact_dir().join(file), png_bytes(&img).unwrap()).unwrap();
    }
}

#[test]
fn picture_input_errors() {
    let f = font();
    assert_eq!(
        render_unit_seal("", None, f, 400).err(),
        Some(SealError::Empty {
            what: "印章名称"
        })
    );
    assert_eq!(
        render_personal_seal("", f, 400).err(),
        Some(SealError::Empty { what: "姓名" })
    );
    assert!(matches!(
        render_unit_seal(UNIT_NAME, Some(""), f, 400),
        Err(SealError::Empty { .. })
    ));
    assert!(matches!(
        render_unit_seal("派出所\u{7}", None, f, 400),
        Err(SealError::ControlChar { code: 7, .. })
    ));
    assert!(matches!(
        render_personal_seal("王\n勇", f, 400),
        Err(SealError::ControlChar { code: 10, .. })
    ));
    assert!(matches!(
        render_unit_seal("方祥 派出所", None, f, 400),
        Err(SealError::Whitespace { .. })
    ));
    assert!(matches!(
        render_unit_seal(&"派".repeat(25), None, f, 400),
        Err(SealError::TooLong {
            got: 25,
            max: 24,
            ..
        })
    ));
    assert!(matches!(
        render_personal_seal("欧阳德勇印", f, 400),
        Err(SealError::TooLong { got: 5, max: 4, .. })
    ));

    // Characters the font lacks are named in the message.
    for missing in ['\u{10FFFF}', '😀'] {
        assert!(!f.has_glyph(missing), "the font unexpectedly has {missing}");
        let err = render_unit_seal(&format!("派出所{missing}"), None, f, 400).err();
        assert_eq!(err, Some(SealError::MissingGlyph { ch: missing }));
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains(missing), "{msg}");
        assert!(msg.contains(&format!("U+{:04X}", missing as u32)), "{msg}");
    }
    assert_eq!(
        render_personal_seal("王😀", f, 400).err(),
        Some(SealError::MissingGlyph { ch: '😀' })
    );
    assert!(matches!(
        render_unit_seal(UNIT_NAME, Some("专用章😀"), f, 400),
        Err(SealError::MissingGlyph { ch: '😀' })
    ));

    for bad in [0, 127, 1025, 4096] {
        assert_eq!(
            render_unit_seal(UNIT_NAME, None, f, bad).err(),
            Some(SealError::SizeOutOfRange(bad))
        );
        assert_eq!(
            render_personal_seal(PERSON, f, bad).err(),
            Some(SealError::SizeOutOfRange(bad))
        );
    }
    assert!(render_unit_seal(UNIT_NAME, Some(UNIT_BOTTOM), f, 128).is_ok());
    assert!(render_personal_seal(PERSON, f, 128).is_ok());
}

// --- electronic seals ------------------------------------------------------

fn key() -> SoftwareKey {
    SoftwareKey::generate(&mut getrandom::SysRng).unwrap()
}

fn small_png(name: &str) -> Vec<u8> {
    png_bytes(&render_personal_seal(name, font(), 128).unwrap()).unwrap()
}

fn draft(holder: &SoftwareKey, maker: &SoftwareKey) -> SealDraft {
    SealDraft {
        id: "5226340000001".into(),
        kind: SealKind::Unit,
        name: UNIT_NAME.into(),
        holder: "522634560000".into(),
        holder_key: holder.public_key().clone(),
        valid_from: "2025-01-01T00:00:00+08:00".into(),
        valid_to: "2030-12-31T23:59:59+08:00".into(),
        maker: "520000198001010011".into(),
        maker_key: maker.public_key().fingerprint(),
    }
}

struct Kit {
    maker: SoftwareKey,
    holder: SoftwareKey,
    seal: Seal,
}

fn kit() -> Kit {
    let (maker, holder) = (key(), key());
    let png =
        png_bytes(&render_unit_seal(UNIT_NAME, Some(UNIT_BOTTOM), font(), 160).unwrap()).unwrap();
    let seal = Seal::make(draft(&holder, &maker), png, &maker).unwrap();
    Kit {
        maker,
        holder,
        seal,
    }
}

const IN_VALIDITY: OffsetDateTime = datetime!(2026-06-01 10:00 +08:00);

#[test]
fn seal_make_and_verify() {
    let k = kit();
    let info = &k.seal.info;
    assert_eq!(info.format, "jingwu-seal/1");
    assert_eq!(info.image_png_sm3, sm3_hex(&k.seal.image().unwrap()));
    assert_eq!(info.maker_key, k.maker.public_key().fingerprint());
    k.seal.verify(k.maker.public_key(), IN_VALIDITY).unwrap();
    // Validity is inclusive at both ends, whatever the offset.
    k.seal
        .verify(k.maker.public_key(), datetime!(2024-12-31 16:00 UTC))
        .unwrap();
    k.seal
        .verify(k.maker.public_key(), datetime!(2030-12-31 23:59:59 +08:00))
        .unwrap();
}

#[test]
fn seal_tampering_is_detected() {
    let k = kit();
    let mk = k.maker.public_key();

    // Another picture.
    let mut s = k.seal.clone();
    s.image_png = B64.encode(small_png("李四"));
    assert_eq!(s.verify(mk, IN_VALIDITY), Err(SealError::ImageTampered));
    // One byte of the picture changed.
    let mut s = k.seal.clone();
    let mut png = s.image().unwrap();
    let last = png.len() - 20;
    png[last] ^= 1;
    s.image_png = B64.encode(&png);
    assert_eq!(s.verify(mk, IN_VALIDITY), Err(SealError::ImageTampered));
    // A new picture with its hash updated: the maker signature breaks.
    let mut s = k.seal.clone();
    let png = small_png("李四");
    s.info.image_png_sm3 = sm3_hex(&png);
    s.image_png = B64.encode(&png);
    assert_eq!(
        s.verify(mk, IN_VALIDITY),
        Err(SealError::MakerSignatureInvalid)
    );

    // Info fields.
    let mut s = k.seal.clone();
    s.info.name = "雷山县公安局丹江派出所".into();
    assert_eq!(
        s.verify(mk, IN_VALIDITY),
        Err(SealError::MakerSignatureInvalid)
    );
    let mut s = k.seal.clone();
    s.info.valid_to = "2099-12-31T23:59:59+08:00".into();
    assert_eq!(
        s.verify(mk, IN_VALIDITY),
        Err(SealError::MakerSignatureInvalid)
    );
    let mut s = k.seal.clone();
    s.info.holder_key = key().public_key().clone();
    assert_eq!(
        s.verify(mk, IN_VALIDITY),
        Err(SealError::MakerSignatureInvalid)
    );
    let mut s = k.seal.clone();
    s.info.format = "jingwu-seal/2".into();
    assert!(matches!(
        s.verify(mk, IN_VALIDITY),
        Err(SealError::BadFormat(_))
    ));
    let mut s = k.seal.clone();
    s.maker_signature = "不是base64".into();
    assert!(matches!(
        s.verify(mk, IN_VALIDITY),
        Err(SealError::Base64(_))
    ));
}

#[test]
fn seal_wrong_maker_key() {
    let k = kit();
    let other = key();
    assert_eq!(
        k.seal.verify(other.public_key(), IN_VALIDITY),
        Err(SealError::MakerKeyMismatch)
    );
    // Claiming another maker's fingerprint does not help a forger.
    let mut s = k.seal.clone();
    s.info.maker_key = other.public_key().fingerprint();
    assert_eq!(
        s.verify(other.public_key(), IN_VALIDITY),
        Err(SealError::MakerSignatureInvalid)
    );
    // Making with a key other than the draft's maker_key is refused.
    let r = Seal::make(draft(&k.holder, &k.maker), small_png("王五"), &other);
    assert_eq!(r.err(), Some(SealError::MakerKeyMismatch));
}

#[test]
fn seal_outside_validity() {
    let k = kit();
    let mk = k.maker.public_key();
    assert!(matches!(
        k.seal.verify(mk, datetime!(2024-12-31 23:59:59 +08:00)),
        Err(SealError::NotYetValid { .. })
    ));
    let err = k.seal.verify(mk, datetime!(2031-01-01 00:00 +08:00)).err();
    assert!(matches!(err, Some(SealError::Expired { .. })), "{err:?}");
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("2030-12-31T23:59:59+08:00"), "{msg}");
}

#[test]
fn seal_draft_checks() {
    let (maker, holder) = (key(), key());
    let png = small_png(PERSON);
    let mut d = draft(&holder, &maker);
    d.valid_from = "2025-01-01".into();
    assert!(matches!(
        Seal::make(d, png.clone(), &maker),
        Err(SealError::BadTime(_))
    ));
    let mut d = draft(&holder, &maker);
    d.valid_from = "2031-01-01T00:00:00+08:00".into();
    assert_eq!(
        Seal::make(d, png.clone(), &maker).err(),
        Some(SealError::BadValidity)
    );
    let mut d = draft(&holder, &maker);
    d.kind = SealKind::Personal;
    assert!(matches!(
        Seal::make(d, png.clone(), &maker),
        Err(SealError::TooLong { max: 4, .. })
    ));
    let mut d = draft(&holder, &maker);
    d.id = " ".into();
    assert!(matches!(
        Seal::make(d, png.clone(), &maker),
        Err(SealError::Empty { .. })
    ));
    assert!(matches!(
        Seal::make(draft(&holder, &maker), b"GIF89a".to_vec(), &maker),
        Err(SealError::Image(_))
    ));
    let mut d = draft(&holder, &maker);
    d.kind = SealKind::Personal;
    d.name = PERSON.into();
    let seal = Seal::make(d, png, &maker).unwrap();
    seal.verify(maker.public_key(), IN_VALIDITY).unwrap();
}

#[test]
fn seal_json_round_trip() {
    let k = kit();
    let json = serde_json::to_string(&k.seal).unwrap();
    assert!(json.contains("\"kind\":\"unit\""), "{json}");
    assert!(json.contains("BEGIN PUBLIC KEY"), "{json}");
    let back: Seal = serde_json::from_str(&json).unwrap();
    assert_eq!(back, k.seal);
    back.verify(k.maker.public_key(), IN_VALIDITY).unwrap();
    assert_eq!(back.sm3_hex().unwrap(), k.seal.sm3_hex().unwrap());

    // Unsigned extra fields are refused, not silently dropped.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["info"]["extra"] = serde_json::json!("x");
    assert!(serde_json::from_value::<Seal>(v).is_err());
    let personal = serde_json::to_string(&SealKind::Personal).unwrap();
    assert_eq!(personal, "\"personal\"");
}

// --- signatures with seal ----------------------------------------------------

fn decision_hash() -> String {
    sm3_hex(b"decision event 42")
}

#[test]
fn stamp_make_and_verify() {
    let k = kit();
    let stamp = SealStamp::for_seal(&k.seal, IN_VALIDITY, decision_hash(), "户口变更审批").unwrap();
    assert_eq!(stamp.seal_id, k.seal.info.id);
    assert_eq!(stamp.seal_sm3, k.seal.sm3_hex().unwrap());
    assert_eq!(stamp.time, "2026-06-01T10:00:00+08:00");
    let signed = SignedStamp::make(stamp, &k.holder, &k.seal).unwrap();
    signed.verify(&k.seal).unwrap();
    signed
        .verify_with_maker(&k.seal, k.maker.public_key())
        .unwrap();

    let json = serde_json::to_string(&signed).unwrap();
    let back: SignedStamp = serde_json::from_str(&json).unwrap();
    assert_eq!(back, signed);
    back.verify(&k.seal).unwrap();
}

#[test]
fn stamp_wrong_holder_refused() {
    let k = kit();
    let stamp = SealStamp::for_seal(&k.seal, IN_VALIDITY, decision_hash(), "户口变更审批").unwrap();
    for wrong in [&k.maker, &key()] {
        assert_eq!(
            SignedStamp::make(stamp.clone(), wrong, &k.seal).err(),
            Some(SealError::HolderKeyMismatch)
        );
    }
}

#[test]
fn stamp_tampering_is_detected() {
    let k = kit();
    let stamp = SealStamp::for_seal(&k.seal, IN_VALIDITY, decision_hash(), "户口变更审批").unwrap();
    let signed = SignedStamp::make(stamp, &k.holder, &k.seal).unwrap();

    let mut t = signed.clone();
    t.stamp.data_hash = sm3_hex(b"decision event 43");
    assert_eq!(t.verify(&k.seal), Err(SealError::StampSignatureInvalid));
    let mut t = signed.clone();
    t.stamp.property = "户口迁出审批".into();
    assert_eq!(t.verify(&k.seal), Err(SealError::StampSignatureInvalid));
    let mut t = signed.clone();
    t.stamp.time = "2026-06-02T10:00:00+08:00".into();
    assert_eq!(t.verify(&k.seal), Err(SealError::StampSignatureInvalid));
    let mut t = signed.clone();
    t.stamp.data_hash = "XYZ".into();
    assert_eq!(t.verify(&k.seal), Err(SealError::BadDataHash));
    // A signature by someone else, over the right content.
    let mut t = signed.clone();
    t.signature = B64.encode(
        k.maker
            .sign(&jingwu_core::event::canonical_bytes(&t.stamp).unwrap())
            .unwrap(),
    );
    assert_eq!(t.verify(&k.seal), Err(SealError::StampSignatureInvalid));

    // The seal itself tampered: the stamp no longer refers to it.
    let mut seal = k.seal.clone();
    seal.info.name = "雷山县公安局丹江派出所".into();
    assert_eq!(signed.verify(&seal), Err(SealError::SealMismatch));
}

#[test]
fn stamp_against_another_seal_fails() {
    let k = kit();
    let stamp = SealStamp::for_seal(&k.seal, IN_VALIDITY, decision_hash(), "户口变更审批").unwrap();
    let signed = SignedStamp::make(stamp.clone(), &k.holder, &k.seal).unwrap();
    // Same holder, same maker, another seal.
    let mut d = draft(&k.holder, &k.maker);
    d.id = "5226340000002".into();
    let other = Seal::make(d, small_png(PERSON), &k.maker).unwrap();
    assert_eq!(signed.verify(&other), Err(SealError::SealMismatch));
    assert_eq!(
        SignedStamp::make(stamp, &k.holder, &other).err(),
        Some(SealError::SealMismatch)
    );
}

#[test]
fn stamp_outside_seal_validity_refused() {
    let k = kit();
    let late = datetime!(2031-03-01 09:00 +08:00);
    let stamp = SealStamp::for_seal(&k.seal, late, decision_hash(), "户口变更审批").unwrap();
    assert!(matches!(
        SignedStamp::make(stamp, &k.holder, &k.seal),
        Err(SealError::Expired { .. })
    ));
    // verify_with_maker also checks the seal's maker signature.
    let stamp = SealStamp::for_seal(&k.seal, IN_VALIDITY, decision_hash(), "户口变更审批").unwrap();
    let signed = SignedStamp::make(stamp, &k.holder, &k.seal).unwrap();
    assert_eq!(
        signed.verify_with_maker(&k.seal, key().public_key()),
        Err(SealError::MakerKeyMismatch)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any text either renders inside the ring or is refused; nothing panics.
    #[test]
    fn any_text_renders_inside_the_ring_or_is_refused(name in "\\PC{0,26}", size in 128u32..=200) {
        match render_unit_seal(&name, None, font(), size) {
            Ok(img) => {
                let l = UnitSealLayout::for_size(size);
                for (x, y, _) in inked(&img) {
                    let d = ((x - l.centre).powi(2) + (y - l.centre).powi(2)).sqrt();
                    prop_assert!(d <= l.ring_outer + 1.0);
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn cjk_names_render(name in "[\\u{4e00}-\\u{9fa5}]{1,24}") {
        prop_assert!(render_unit_seal(&name, Some("专用章"), font(), 128).is_ok());
    }
}

// ---------------------------------------------------------------------------
// Uploaded pictures
// ---------------------------------------------------------------------------

mod uploads {
    use jingwu_slip::seal::{check_uploaded_picture, red_ink_permille, MAX_UPLOAD_BYTES};

    use super::*;

    fn png_of(w: u32, h: u32, rgba: [u8; 4]) -> Vec<u8> {
        png_bytes(&RgbaImage::from_pixel(w, h, image::Rgba(rgba))).unwrap()
    }

    #[test]
    fn a_drawn_seal_passes_and_stays_a_png() {
        let png = png_bytes(&render_unit_seal(UNIT_NAME, Some(UNIT_BOTTOM), font(), 480).unwrap())
            .unwrap();
        let out = check_uploaded_picture(&png).unwrap();
        assert_eq!(&out[..8], b"\x89PNG\r\n\x1a\n");
        let img = image::load_from_memory(&out).unwrap().to_rgba8();
        assert_eq!(img.dimensions(), (480, 480));
    }

    #[test]
    fn a_scanned_jpeg_on_white_paper_becomes_a_transparent_stamp() {
        // A red ring on white paper, as a scanner delivers it.
        let mut img = image::RgbImage::from_pixel(300, 300, image::Rgb([250, 250, 247]));
        for (x, y, p) in img.enumerate_pixels_mut() {
            let d = ((x as f32 - 150.0).powi(2) + (y as f32 - 150.0).powi(2)).sqrt();
            if (110.0..140.0).contains(&d) {
                *p = image::Rgb([205, 35, 40]);
            }
        }
        let mut jpeg = std::io::Cursor::new(Vec::new());
        img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
        let out = check_uploaded_picture(jpeg.get_ref()).unwrap();
        let back = image::load_from_memory(&out).unwrap().to_rgba8();
        assert_eq!(back.get_pixel(5, 5).0[3], 0, "paper is transparent");
        assert_eq!(back.get_pixel(150, 25).0[3], 255, "ink stays");
        assert!(red_ink_permille(&back) > 100);
    }

    #[test]
    fn bad_uploads_are_refused_with_reasons() {
        let red = [216, 30, 36, 255];
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"GIF89a not a seal".to_vec(), "PNG 或 JPEG"),
            (b"\x89PNG\r\n\x1a\ntruncated".to_vec(), "PNG 或 JPEG"),
            (png_of(64, 64, red), "128–1024"),
            (png_of(1100, 1100, red), "128–1024"),
            (png_of(400, 200, red), "长宽比"),
            (png_of(300, 300, [20, 40, 200, 255]), "红色印泥"),
            (png_of(300, 300, [255, 255, 255, 255]), "红色印泥"),
            (png_of(300, 300, [216, 30, 36, 0]), "红色印泥"),
        ];
        for (bytes, want) in cases {
            let e = check_uploaded_picture(&bytes).unwrap_err();
            assert!(e.to_string().contains(want), "{e} (want {want})");
        }
        let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
        big.resize(MAX_UPLOAD_BYTES + 1, 0);
        assert!(matches!(
            check_uploaded_picture(&big),
            Err(SealError::PictureTooLarge { .. })
        ));
    }
}
