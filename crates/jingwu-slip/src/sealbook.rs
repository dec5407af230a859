//! The registered seals a station holds (issued by a seal administrator,
//! stored by the hub, verified on arrival) and how a slip picks them.
//!
//! A seal stamps a decision only when it is bound to the very key that
//! signed the decision and was valid, and not yet revoked, at the
//! decision's time. See `docs/seals.md`.

use image::RgbaImage;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::seal::{Seal, SealError, SealKind};

/// A seal as registered at the hub, with its revocation (if any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredSeal {
    pub seal: Seal,
    /// RFC 3339: when the hub registered it.
    pub registered_at: String,
    /// RFC 3339: when it was revoked; it stamps nothing after.
    #[serde(default)]
    pub revoked_at: Option<String>,
    /// Person id of the administrator who revoked it.
    #[serde(default)]
    pub revoked_by: Option<String>,
}

impl RegisteredSeal {
    /// Whether the seal may stamp a decision signed with `fingerprint` at
    /// `at`: bound to that key, within validity, not revoked by then.
    pub fn usable(&self, fingerprint: &str, at: OffsetDateTime) -> bool {
        if self.seal.info.holder_key.fingerprint() != fingerprint {
            return false;
        }
        if self.seal.check_valid_at(at).is_err() {
            return false;
        }
        match &self.revoked_at {
            None => true,
            Some(r) => OffsetDateTime::parse(r, &Rfc3339).is_ok_and(|r| at < r),
        }
    }

    /// Whether the seal is revoked as of `now`.
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// Widest seal picture put on a slip, in pixels: personal and unit seals
/// print 9 mm and 36 mm wide, so more pixels only make the PDF bigger.
pub const SLIP_PERSONAL_PX: u32 = 240;
/// See [`SLIP_PERSONAL_PX`].
pub const SLIP_UNIT_PX: u32 = 480;

/// The registered seals known to a station.
#[derive(Debug, Clone, Default)]
pub struct SealBook {
    seals: Vec<RegisteredSeal>,
}

impl SealBook {
    /// An empty book: every slip falls back to rendered, unregistered
    /// seals.
    pub fn empty() -> SealBook {
        SealBook::default()
    }

    pub fn new(seals: Vec<RegisteredSeal>) -> SealBook {
        SealBook { seals }
    }

    pub fn seals(&self) -> &[RegisteredSeal] {
        &self.seals
    }

    fn find(
        &self,
        kind: SealKind,
        holder: &str,
        fingerprint: &str,
        at: OffsetDateTime,
    ) -> Option<&RegisteredSeal> {
        // The most recently registered usable seal wins.
        self.seals
            .iter()
            .filter(|s| s.seal.info.kind == kind && s.seal.info.holder == holder)
            .filter(|s| s.usable(fingerprint, at))
            .max_by(|a, b| a.registered_at.cmp(&b.registered_at))
    }

    /// The personal seal of `person` bound to `fingerprint`, valid at `at`.
    pub fn personal(
        &self,
        person: &str,
        fingerprint: &str,
        at: OffsetDateTime,
    ) -> Option<&RegisteredSeal> {
        self.find(SealKind::Personal, person, fingerprint, at)
    }

    /// The seal of `unit` bound to `fingerprint`, valid at `at`.
    pub fn unit(
        &self,
        unit: &str,
        fingerprint: &str,
        at: OffsetDateTime,
    ) -> Option<&RegisteredSeal> {
        self.find(SealKind::Unit, unit, fingerprint, at)
    }
}

/// The picture of a registered seal, decoded and scaled down to at most
/// `max_px` wide for the slip.
pub fn slip_picture(seal: &Seal, max_px: u32) -> Result<RgbaImage, SealError> {
    let png = seal.image()?;
    let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
        .map_err(|e| SealError::Image(e.to_string()))?
        .to_rgba8();
    if img.width() <= max_px {
        return Ok(img);
    }
    let h = (u64::from(img.height()) * u64::from(max_px) / u64::from(img.width())).max(1) as u32;
    Ok(image::imageops::resize(
        &img,
        max_px,
        h,
        image::imageops::FilterType::Triangle,
    ))
}
